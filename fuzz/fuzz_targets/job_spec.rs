//! Job validation: URLs, headers and every other field of a `JobSpec`, built with its builders
//! and scheduled on an in-memory scheduler (validation is what `schedule` runs before it stores
//! anything; the SSRF guard is on, as by default).
//!
//! Input: one directive per line (see `seed.py`). The first line's `url` (or the first line
//! itself) is the target; the others, in any order and repeatable where a builder is:
//!
//! ```text
//! url <url>                 method <name>             header <name>: <value>
//! content_type <text>       body <text>               cron <expr>        tz <zone>
//! at <unix seconds>         after <ms>                name <text>        label <text>
//! timeout <ms>              idempotency_key <text>    on_success <url>   on_failure <url>
//! signing <scheme, as in the verify target>           secret <text>      (repeatable)
//! missed skip|once|catchup <n>                        retry <preset>     attempts <n>
//! ```
//!
//! Beyond "no panic", every run checks that a refusal is an input error that names its field
//! (never a store error: what validation passes, the store must take), and that an accepted job
//! reads back as it was given: URL in its normal form, header names lower-cased, the body,
//! name, labels and kind unchanged.
#![no_main]

use std::cell::RefCell;
use std::time::Duration;

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use timehook::signing::Scheme;
use timehook::{
    Error, JobKind, JobSpec, ManualClock, Method, MissedRunPolicy, RetryPolicy, Scheduler,
};
use timehook_fuzz::{directives, scheme};

/// The scheduler's clock: 2026-12-06T00:00:00Z.
const NOW_SECS: i64 = 1_796_515_200;
/// Jobs stored before the in-memory scheduler is replaced by an empty one.
const JOBS_PER_SCHEDULER: usize = 2_000;
/// Fields an `InvalidJob` or `Blocked` error may name.
const FIELDS: &[&str] = &[
    "url",
    "method",
    "headers",
    "body",
    "name",
    "labels",
    "timeout",
    "tz",
    "cron",
    "at",
    "after",
    "retry",
    "idempotency_key",
    "on_success_url",
    "on_failure_url",
    "signing",
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    scheduler: Option<Scheduler>,
    stored: usize,
}

thread_local! {
    static HARNESS: RefCell<Harness> = RefCell::new(Harness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime"),
        scheduler: None,
        stored: 0,
    });
}

/// What the input asked for, beside the spec, to compare with what is stored.
#[derive(Default)]
struct Asked {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    name: Option<String>,
    labels: Vec<String>,
    cron: bool,
    idempotent: bool,
}

fuzz_target!(|data: &[u8]| {
    let (spec, asked) = build(data);
    HARNESS.with_borrow_mut(|h| {
        if h.scheduler.is_none() || h.stored >= JOBS_PER_SCHEDULER {
            h.scheduler = None;
            let clock = ManualClock::new(DateTime::from_timestamp(NOW_SECS, 0).expect("in range"));
            let opened = h
                .runtime
                .block_on(Scheduler::in_memory().clock(clock).open());
            h.scheduler = Some(opened.expect("an in-memory scheduler opens"));
            h.stored = 0;
        }
        let scheduler = h.scheduler.as_ref().expect("opened above");
        let url = spec.url().to_owned();
        match h.runtime.block_on(scheduler.schedule(spec)) {
            Ok(id) => {
                h.stored += 1;
                let job = h
                    .runtime
                    .block_on(scheduler.get(&id))
                    .expect("stored job reads");
                if asked.idempotent {
                    return;
                }
                check_stored(&job, &url, &asked);
            }
            Err(e) => check_refusal(&e),
        }
    });
});

fn check_refusal(e: &Error) {
    match e {
        Error::InvalidJob { field, .. } | Error::Blocked { field, .. } => {
            assert!(FIELDS.contains(field), "unknown field {field:?}: {e}");
        }
        Error::PayloadTooLarge { .. } | Error::Cron(_) | Error::Signing(_) => {}
        other => panic!("validation let through a job the scheduler then failed on: {other:?}"),
    }
}

fn check_stored(job: &timehook::Job, url: &str, asked: &Asked) {
    let normal = url::Url::parse(url).expect("an accepted URL parses");
    assert_eq!(job.url, normal.as_str());
    for (name, value) in &asked.headers {
        let lower = name.to_ascii_lowercase();
        assert!(
            job.headers.iter().any(|(n, v)| *n == lower && v == value),
            "header {name:?} not stored as given: {:?}",
            job.headers
        );
    }
    assert!(
        job.headers
            .iter()
            .all(|(n, _)| *n == n.to_ascii_lowercase())
    );
    assert_eq!(job.body, asked.body);
    assert_eq!(job.name, asked.name);
    assert_eq!(job.labels, asked.labels);
    assert_eq!(job.kind == JobKind::Cron, asked.cron);
}

fn build(data: &[u8]) -> (JobSpec, Asked) {
    let lines = directives(data);
    let url = match lines.first() {
        Some((word, rest)) if word == "url" => rest.clone(),
        Some((word, rest)) if rest.is_empty() => word.clone(),
        Some((word, rest)) => format!("{word} {rest}"),
        None => String::new(),
    };
    let mut asked = Asked::default();
    // The kind is chosen at construction: the last `cron` line makes a cron job.
    let cron = lines.iter().skip(1).rev().find(|(word, _)| word == "cron");
    let mut spec = match cron {
        Some((_, expr)) => {
            asked.cron = true;
            JobSpec::cron(url, expr.clone())
        }
        None => JobSpec::post(url),
    };
    let mut signing: Option<Scheme> = None;
    let mut secrets: Vec<String> = Vec::new();
    let mut retry: Option<RetryPolicy> = None;
    for (word, value) in lines.iter().skip(1) {
        let number = || value.trim().parse::<i64>().ok();
        spec = match word.as_str() {
            "method" => match value.parse::<Method>() {
                Ok(m) => spec.method(m),
                Err(_) => spec,
            },
            "header" => {
                let (name, v) = value.split_once(':').unwrap_or((value, ""));
                let v = v.strip_prefix(' ').unwrap_or(v);
                asked.headers.push((name.to_owned(), v.to_owned()));
                spec.header(name, v)
            }
            "content_type" => spec.content_type(value.clone()),
            "body" => {
                asked.body = value.clone().into_bytes();
                spec.body(value.clone())
            }
            "tz" => spec.tz(value.clone()),
            // `at` and `after` replace a cron schedule: the job becomes a one-time job.
            "at" => match number().and_then(|s| DateTime::from_timestamp(s, 0)) {
                Some(at) => {
                    asked.cron = false;
                    spec.at(at)
                }
                None => spec,
            },
            "after" => match number().and_then(|ms| u64::try_from(ms).ok()) {
                Some(ms) => {
                    asked.cron = false;
                    spec.after(Duration::from_millis(ms))
                }
                None => spec,
            },
            "name" => {
                asked.name = Some(value.clone());
                spec.name(value.clone())
            }
            "label" => {
                asked.labels.push(value.clone());
                spec.label(value.clone())
            }
            "timeout" => match number().and_then(|ms| u64::try_from(ms).ok()) {
                Some(ms) => spec.timeout(Duration::from_millis(ms)),
                None => spec,
            },
            "idempotency_key" => {
                asked.idempotent = true;
                spec.idempotency_key(value.clone())
            }
            "on_success" => spec.on_success(value.clone()),
            "on_failure" => spec.on_failure(value.clone()),
            "signing" => {
                signing = Some(scheme(value));
                spec
            }
            "secret" => {
                secrets.push(value.clone());
                spec
            }
            "missed" => spec.missed(match value.trim() {
                "skip" => MissedRunPolicy::Skip,
                v if v.starts_with("catchup") => {
                    MissedRunPolicy::CatchUp(v["catchup".len()..].trim().parse().unwrap_or(3))
                }
                _ => MissedRunPolicy::RunOnce,
            }),
            "retry" => {
                retry = RetryPolicy::preset(value.trim()).ok();
                spec
            }
            "attempts" => {
                let n = number().and_then(|n| u32::try_from(n).ok()).unwrap_or(1);
                retry = Some(retry.take().unwrap_or_default().with_max_attempts(n));
                spec
            }
            _ => spec,
        };
    }
    if let Some(sch) = signing {
        spec = spec.signing(sch, secrets);
    }
    if let Some(policy) = retry {
        spec = spec.retry(policy);
    }
    (spec, asked)
}
