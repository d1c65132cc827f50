//! Property tests over the entry points that `fuzz/` fuzzes (see FUZZING.md): signing and
//! verification, secret and key parsing, cron next-fire times, `Retry-After`, job validation and
//! a job's own signing settings as stored. Case counts are kept small so that this runs in a few
//! seconds under `make test`; the fuzz targets explore further.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Datelike, Offset, Timelike, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use timehook::cron::{CronSchedule, due_occurrences};
use timehook::retry::parse_retry_after;
use timehook::signing::{
    Key, RawSecret, Scheme, Secret, Signer, SigningKey, Verifier, VerifyError, VerifyKey,
    VerifyingKey,
};
use timehook::{Error, JobSpec, ManualClock, MissedRunPolicy, Scheduler};

/// Cases for the pure functions: enough to find a wrong branch, cheap enough for `make test`.
const CASES: u32 = 256;
/// Cases that schedule a job on an in-memory scheduler.
const SCHEDULE_CASES: u32 = 128;
/// Cases that deliver a request over loopback.
const DELIVERY_CASES: u32 = 24;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Shrunk failures are reported in the test output; no file is written into the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// A valid `webhook-id`: visible ASCII without `.`.
fn msg_id() -> impl Strategy<Value = String> {
    "[!-\\-/-~]{1,40}"
}

/// A Standard Webhooks key as text: a `whsec_` secret or a `whsk_` ed25519 seed.
fn standard_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 24..=64)
            .prop_map(|b| Secret::from_bytes(&b).unwrap().expose_whsec()),
        any::<[u8; 32]>().prop_map(|seed| SigningKey::from_bytes(&seed).unwrap().expose_whsk()),
    ]
}

/// A scheme and 1–3 secrets of the kind it takes.
fn scheme_and_secrets() -> impl Strategy<Value = (Scheme, Vec<String>)> {
    let raw = prop::collection::vec("\\PC{1,24}", 1..=3);
    prop_oneof![
        prop::collection::vec(standard_key(), 1..=3)
            .prop_map(|keys| (Scheme::StandardWebhooks, keys)),
        raw.clone().prop_map(|s| (Scheme::github(), s)),
        raw.clone().prop_map(|s| (
            Scheme::HexBody {
                header: "X-Sig".into(),
                prefix: false
            },
            s
        )),
        raw.clone().prop_map(|s| (Scheme::stripe(), s)),
        raw.prop_map(|s| (
            Scheme::TimestampedHex {
                header: "X-Signature".into(),
                timestamp_header: Some("X-Timestamp".into()),
            },
            s
        )),
    ]
}

/// The key a receiver verifies with for a secret given to a signer: the public key for `whsk_`.
fn receiver_key(scheme: &Scheme, secret: &str) -> VerifyKey {
    match Key::parse(scheme, secret).unwrap() {
        Key::Ed25519(k) => VerifyKey::from(&k),
        other => other.verifying_key(),
    }
}

#[test]
fn signed_bodies_verify_and_any_changed_byte_fails() {
    let strategy = (
        scheme_and_secrets(),
        msg_id(),
        0i64..=4_102_444_800,
        prop::collection::vec(any::<u8>(), 0..256),
        any::<prop::sample::Index>(),
        1u8..=255,
    );
    TestRunner::new(config(CASES))
        .run(&strategy, |((scheme, secrets), id, ts, body, at, flip)| {
            let keys: Vec<Key> = secrets
                .iter()
                .map(|s| Key::parse(&scheme, s).unwrap())
                .collect();
            let signer = Signer::new(keys)
                .unwrap()
                .with_scheme(scheme.clone())
                .unwrap();
            let headers = signer.headers(&id, ts, &body);
            for secret in &secrets {
                // Every key of a rotation verifies on its own.
                let verifier = Verifier::from_keys([receiver_key(&scheme, secret)])
                    .unwrap()
                    .with_scheme(scheme.clone())
                    .unwrap();
                prop_assert_eq!(verifier.verify(&body, &headers, ts), Ok(()));
                let mut changed = body.clone();
                if changed.is_empty() {
                    changed.push(flip);
                } else {
                    changed[at.index(body.len())] ^= flip;
                }
                prop_assert_eq!(
                    verifier.verify(&changed, &headers, ts),
                    Err(VerifyError::NoMatchingSignature)
                );
                if scheme.is_timestamped() {
                    let late = ts + 301;
                    prop_assert_eq!(
                        verifier.verify(&body, &headers, late),
                        Err(VerifyError::TimestampTooOld)
                    );
                    prop_assert_eq!(
                        verifier.verify(&body, &headers, ts - 301),
                        Err(VerifyError::TimestampTooNew)
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn keys_round_trip_and_arbitrary_text_parses_or_fails_cleanly() {
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..80),
        any::<[u8; 32]>(),
        "\\PC{0,100}",
        "[ \t\n]{0,3}",
    );
    TestRunner::new(config(CASES))
        .run(&strategy, |(bytes, seed, text, pad)| {
            // Secrets: exactly 24–64 bytes, through `whsec_` and back, whitespace ignored.
            let secret = Secret::from_bytes(&bytes);
            prop_assert_eq!(secret.is_ok(), (24..=64).contains(&bytes.len()));
            if let Ok(s) = &secret {
                let text = format!("{pad}{}{pad}", s.expose_whsec());
                prop_assert_eq!(&Secret::parse(&text).unwrap(), s);
            }
            // ed25519: both `whsk_` forms give the key back, its `whpk_` its public key.
            let key = SigningKey::from_bytes(&seed).unwrap();
            prop_assert_eq!(&SigningKey::parse(&key.expose_whsk()).unwrap(), &key);
            prop_assert_eq!(
                &SigningKey::parse(&key.expose_whsk_keypair()).unwrap(),
                &key
            );
            let public = key.verifying_key();
            prop_assert_eq!(VerifyingKey::parse(&public.to_whpk()).unwrap(), public);
            // Any text: a key that re-encodes to itself, or an `invalid_secret` error.
            match Secret::parse(&text) {
                Ok(s) => prop_assert_eq!(Secret::parse(&s.expose_whsec()).unwrap(), s),
                Err(e) => prop_assert_eq!(e.code(), "invalid_secret"),
            }
            match SigningKey::parse(&text) {
                Ok(k) => prop_assert_eq!(SigningKey::parse(&k.expose_whsk()).unwrap(), k),
                Err(e) => prop_assert_eq!(e.code(), "invalid_secret"),
            }
            prop_assert_eq!(RawSecret::new(text.as_bytes()).is_ok(), !text.is_empty());
            Ok(())
        })
        .unwrap();
}

/// A cron expression made of second, minute, hour and day-of-week lists, with the values it
/// matches.
#[derive(Debug, Clone)]
struct Fields {
    /// `None`: the five-field form (second 0).
    seconds: Option<Vec<u32>>,
    minutes: Vec<u32>,
    hours: Option<Vec<u32>>,
    weekdays: Option<Vec<u32>>,
}

impl Fields {
    fn expr(&self) -> String {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let seconds = self.seconds.as_deref().map(|s| list(s) + " ");
        format!(
            "{}{} {} * * {}",
            seconds.unwrap_or_default(),
            list(&self.minutes),
            self.hours.as_deref().map_or("*".into(), list),
            self.weekdays.as_deref().map_or("*".into(), list),
        )
    }

    /// Whether a wall-clock time matches (listed second, minute, hour and weekday).
    fn matches(&self, t: &impl Timelike, weekday: u32) -> bool {
        self.seconds
            .as_ref()
            .map_or(t.second() == 0, |s| s.contains(&t.second()))
            && self.minutes.contains(&t.minute())
            && self.hours.as_ref().is_none_or(|h| h.contains(&t.hour()))
            && self.weekdays.as_ref().is_none_or(|d| d.contains(&weekday))
    }
}

fn fields() -> impl Strategy<Value = Fields> {
    let set = |range: std::ops::Range<u32>, most| {
        prop::collection::btree_set(range, 1..=most).prop_map(|s| s.into_iter().collect())
    };
    (
        prop::option::weighted(0.25, set(0..60, 30)),
        set(0..60, 3),
        prop::option::of(set(0..24, 3)),
        prop::option::of(set(0..7, 2)),
    )
        .prop_map(|(seconds, minutes, hours, weekdays)| Fields {
            seconds,
            minutes,
            hours,
            weekdays,
        })
}

/// Zones with daylight-saving time of several kinds, and two without.
const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/Dublin",
    "Asia/Kolkata",
];

#[test]
fn cron_next_fire_is_strictly_later_and_is_an_occurrence() {
    let strategy = (
        fields(),
        prop::sample::select(ZONES),
        // 1970 to 2100, in seconds.
        0i64..4_102_444_800,
    );
    TestRunner::new(config(CASES))
        .run(&strategy, |(fields, zone, start)| {
            let schedule = CronSchedule::parse(&fields.expr(), zone).unwrap();
            let tz: chrono_tz::Tz = zone.parse().unwrap();
            let mut at = DateTime::from_timestamp(start, 0).unwrap();
            for _ in 0..4 {
                let next = schedule.next_after(at).unwrap();
                prop_assert!(next > at, "{} after {}", next, at);
                prop_assert_eq!(
                    schedule.next_after(next - chrono::Duration::seconds(1)),
                    Some(next)
                );
                // On a matching wall-clock time, or (a fixed-time job skipped by a spring-forward)
                // on the first instant after the gap.
                let local = next.with_timezone(&tz);
                let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
                let after_gap = offset(next) != offset(next - chrono::Duration::seconds(1));
                prop_assert!(
                    fields.matches(&local, local.weekday().num_days_from_sunday()) || after_gap,
                    "{} ({}) for {:?} in {}",
                    next,
                    local,
                    fields.expr(),
                    zone
                );
                // Nothing in between matches: the next fire is the first.
                if zone == "UTC" && fields.seconds.is_none() {
                    let mut t = at + chrono::Duration::seconds(60 - at.second() as i64);
                    while t < next {
                        prop_assert!(!fields.matches(&t, t.weekday().num_days_from_sunday()));
                        t += chrono::Duration::minutes(1);
                    }
                }
                at = next;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn due_occurrences_runs_or_counts_every_occurrence_once() {
    let strategy = (
        fields(),
        prop::sample::select(ZONES),
        0i64..4_102_444_800,
        0i64..(6 * 3600),
        prop_oneof![
            Just(MissedRunPolicy::Skip),
            Just(MissedRunPolicy::RunOnce),
            (0u32..5).prop_map(MissedRunPolicy::CatchUp),
        ],
        0i64..7200,
    );
    TestRunner::new(config(CASES))
        .run(&strategy, |(fields, zone, start, behind, policy, grace)| {
            let schedule = CronSchedule::parse(&fields.expr(), zone).unwrap();
            let first = schedule
                .next_after(DateTime::from_timestamp(start, 0).unwrap())
                .unwrap();
            let now = first + chrono::Duration::seconds(behind);
            let grace = chrono::Duration::seconds(grace);
            let due = due_occurrences(&schedule, first, now, policy, grace);
            let mut all = vec![first];
            while let Some(t) = schedule
                .next_after(*all.last().unwrap())
                .filter(|t| *t <= now)
            {
                all.push(t);
            }
            let on_time = all.iter().filter(|&&t| now - t <= grace).count();
            let missed = all.len() - on_time;
            let keep = match policy {
                MissedRunPolicy::Skip => 0,
                MissedRunPolicy::RunOnce => usize::from(on_time == 0),
                MissedRunPolicy::CatchUp(n) => n as usize,
                other => panic!("a policy this property does not know: {other:?}"),
            }
            .min(missed);
            prop_assert_eq!(&due.run[..], &all[missed - keep..]);
            prop_assert_eq!(due.missed, (all.len() - due.run.len()) as u64);
            prop_assert_eq!(due.next_fire, schedule.next_after(now));
            prop_assert!(due.next_fire.is_none_or(|t| t > now));
            Ok(())
        })
        .unwrap();
}

#[test]
fn retry_after_reads_back_numbers_and_dates() {
    let now = UNIX_EPOCH + Duration::from_secs(1_796_515_200);
    let strategy = (
        any::<u64>(),
        0u64..(100 * 365 * 86_400),
        "[ \t]{0,2}",
        "\\PC{0,40}",
    );
    TestRunner::new(config(CASES))
        .run(&strategy, |(n, offset, pad, text)| {
            let secs = Duration::from_secs(n);
            prop_assert_eq!(
                parse_retry_after(&format!("{pad}{n}{pad}"), now),
                Some(secs)
            );
            let later = httpdate::fmt_http_date(now + Duration::from_secs(offset));
            prop_assert_eq!(
                parse_retry_after(&later, now),
                Some(Duration::from_secs(offset))
            );
            // HTTP dates start in 1970: at most 50 years back from 2026.
            let back = Duration::from_secs(offset % (50 * 365 * 86_400));
            let earlier = httpdate::fmt_http_date(now - back);
            prop_assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
            // Anything else is a number, a date, or nothing.
            if let Some(d) = parse_retry_after(&text, now) {
                let t = text.trim();
                let expected = t.parse::<u64>().map(Duration::from_secs).or_else(|_| {
                    httpdate::parse_http_date(t)
                        .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
                });
                prop_assert_eq!(Ok(d), expected.map_err(|_| ()));
            }
            Ok(())
        })
        .unwrap();
}

/// The field an error from `schedule` blames, if it is an input error.
fn field_of(e: &Error) -> Option<&'static str> {
    match e {
        Error::InvalidJob { field, .. } | Error::Blocked { field, .. } => Some(*field),
        Error::PayloadTooLarge { .. } => Some("body"),
        Error::Cron(_) => Some("cron"),
        Error::Signing(_) => Some("signing"),
        _ => None,
    }
}

/// One part of a job spec, good or bad, with the field a bad one must be blamed on.
#[derive(Debug, Clone)]
struct Part<T> {
    value: T,
    /// `Some(field)` when the value is invalid for sure.
    bad: Option<&'static str>,
}

fn part<T: std::fmt::Debug + Clone + 'static>(
    good: impl Strategy<Value = T> + 'static,
    bad: impl Strategy<Value = T> + 'static,
    field: &'static str,
) -> BoxedStrategy<Part<T>> {
    prop_oneof![
        3 => good.prop_map(|value| Part { value, bad: None }),
        1 => bad.prop_map(move |value| Part { value, bad: Some(field) }),
    ]
    .boxed()
}

/// A header name of HTTP token characters (RFC 9110), none of them reserved by timehook.
const HEADER_NAME: &str = "x-[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,12}";

#[test]
fn validation_accepts_good_specs_as_given_and_blames_a_bad_field() {
    let url = part(
        "https://[a-z]{1,12}\\.(com|org|net)(/[a-z0-9]{0,8}){0,3}",
        prop_oneof![
            Just("http://127.0.0.1/hook".to_owned()),
            Just("http://10.1.2.3/".to_owned()),
            Just("ftp://example.com/".to_owned()),
            "[a-z]{0,10}",
        ],
        "url",
    );
    let header = part(
        (HEADER_NAME, "[ -~]{0,20}"),
        prop_oneof![
            (Just("bad name".to_owned()), "[a-z]{0,5}"),
            (Just("webhook-id".to_owned()), "[a-z]{0,5}"),
            (Just("x-ok".to_owned()), "[a-z]{0,3}\r?\n[a-z]{0,3}"),
        ],
        "headers",
    );
    let name = part(
        "[ -~]{1,256}",
        prop_oneof![Just(String::new()), "[a-z]{257,300}"],
        "name",
    );
    let labels = part(
        prop::collection::vec("\\PC{1,20}", 0..=32),
        prop::collection::vec("[a-z]{1,3}", 33..40),
        "labels",
    );
    let body = prop::collection::vec(any::<u8>(), 0..200);
    let strategy = (url, prop::collection::vec(header, 0..4), name, labels, body);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scheduler = runtime
        .block_on(
            Scheduler::in_memory()
                .clock(ManualClock::new(common::t0()))
                .open(),
        )
        .unwrap();
    TestRunner::new(config(SCHEDULE_CASES))
        .run(&strategy, |(url, headers, name, labels, body)| {
            let mut spec = JobSpec::post(url.value.clone())
                .body(body.clone())
                .name(name.value.clone());
            for h in &headers {
                spec = spec.header(h.value.0.clone(), h.value.1.clone());
            }
            for label in &labels.value {
                spec = spec.label(label.clone());
            }
            let bad: Vec<&str> = [url.bad, name.bad, labels.bad]
                .into_iter()
                .chain(headers.iter().map(|h| h.bad))
                .flatten()
                .collect();
            match runtime.block_on(scheduler.schedule(spec)) {
                Ok(id) => {
                    prop_assert!(bad.is_empty(), "accepted despite bad {:?}", bad);
                    let job = runtime.block_on(scheduler.get(&id)).unwrap();
                    prop_assert_eq!(job.url, url::Url::parse(&url.value).unwrap().to_string());
                    prop_assert_eq!(job.body, body);
                    prop_assert_eq!(job.name, Some(name.value));
                    prop_assert_eq!(job.labels, labels.value);
                    for (n, v) in headers.iter().map(|h| &h.value) {
                        let n = n.to_ascii_lowercase();
                        prop_assert!(job.headers.iter().any(|(jn, jv)| *jn == n && jv == v));
                    }
                }
                Err(e) => {
                    let field = field_of(&e);
                    prop_assert!(field.is_some(), "not an input error: {:?}", e);
                    prop_assert!(
                        bad.contains(&field.unwrap()),
                        "{} blamed, bad: {:?}",
                        e,
                        bad
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_jobs_own_signing_survives_the_store() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(common::t0());
    let (scheduler, receiver) = runtime.block_on(async {
        let scheduler = Scheduler::in_memory()
            .allow_private_targets(true)
            .clock(clock.clone())
            .open()
            .await
            .unwrap();
        (scheduler, common::Receiver::start().await)
    });
    let now = common::t0().timestamp();
    let strategy = (
        scheme_and_secrets(),
        prop::collection::vec(any::<u8>(), 0..64),
    );
    TestRunner::new(config(DELIVERY_CASES))
        .run(&strategy, |((scheme, secrets), body)| {
            let spec = JobSpec::post(receiver.url("/ok"))
                .body(body.clone())
                .signing(scheme.clone(), secrets.clone());
            let got = runtime.block_on(async {
                scheduler.schedule(spec).await.unwrap();
                assert_eq!(scheduler.run_due().await.unwrap(), 1);
                receiver.next().await
            });
            prop_assert_eq!(&got.body, &body);
            for secret in &secrets {
                let verifier = Verifier::from_keys([receiver_key(&scheme, secret)])
                    .unwrap()
                    .with_scheme(scheme.clone())
                    .unwrap();
                prop_assert_eq!(verifier.verify(&got.body, &got.headers, now), Ok(()));
            }
            Ok(())
        })
        .unwrap();
}
