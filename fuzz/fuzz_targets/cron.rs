//! Cron parsing and next-fire computation in arbitrary IANA zones: `CronSchedule::parse`,
//! `next_after` and `due_occurrences`.
//!
//! Input, one item per line (see `seed.py`):
//!
//! ```text
//! <time zone>
//! <expression>
//! <start, unix seconds>            (optional)
//! <seconds from next fire to now>  (optional, at most two days)
//! <skip | once | catchup <n>>      (optional missed-run policy)
//! <grace seconds>                  (optional, at most a day)
//! ```
//!
//! Beyond "no panic", every run checks that each next fire is strictly after its input and is
//! itself an occurrence (the next fire after the second before it), that it falls on a wall-clock
//! time the expression matches or on the first instant after a daylight-saving gap, and that
//! `due_occurrences` runs exactly the occurrences its policy names, as found by walking them one
//! by one, and counts the rest as missed. A call slower than any before it is reported on
//! stderr with its duration; `-timeout` turns a hang into a failure.
#![no_main]

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Duration, Offset, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use libfuzzer_sys::fuzz_target;
use timehook::MissedRunPolicy;
use timehook::cron::{CronSchedule, MAX_DUE_RUNS, due_occurrences};

/// Start when the input gives none: 2025-03-08T12:00:00Z, the day before New York springs
/// forward.
const DEFAULT_START: i64 = 1_741_435_200;
/// Longest stretch between the stored next fire and "now" that a run asks about.
const MAX_BEHIND_SECS: i64 = 2 * 86_400;
/// Occurrences walked one by one as the reference for `due_occurrences`; beyond this the run
/// checks only the invariants.
const MAX_WALK: usize = 4_096;
/// Successive next fires followed from the start.
const CHAIN: usize = 8;

/// The slowest `next_after` or `due_occurrences` call so far, in microseconds.
static SLOWEST_MICROS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let tz = lines.next().unwrap_or_default();
    let expr = lines.next().unwrap_or_default();
    let mut number = || lines.next().and_then(|l| l.trim().parse::<i64>().ok());
    let start = number()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or_else(|| DateTime::from_timestamp(DEFAULT_START, 0).expect("in range"));
    let behind = number().unwrap_or(0).clamp(0, MAX_BEHIND_SECS);
    let policy = match lines.next().map(str::trim) {
        Some("skip") => MissedRunPolicy::Skip,
        Some(p) if p.starts_with("catchup") => {
            MissedRunPolicy::CatchUp(p["catchup".len()..].trim().parse().unwrap_or(3))
        }
        _ => MissedRunPolicy::RunOnce,
    };
    let grace = Duration::seconds(
        lines
            .next()
            .and_then(|l| l.trim().parse::<i64>().ok())
            .unwrap_or(60)
            .clamp(0, 86_400),
    );

    let Ok(schedule) = CronSchedule::parse(expr, tz) else {
        return;
    };
    let reference = Reference::new(expr, tz);

    // A chain of next fires from the start.
    let mut at = start;
    let mut first = None;
    for _ in 0..CHAIN {
        let Some(next) = timed(|| schedule.next_after(at), &text) else {
            break;
        };
        assert!(next > at, "next_after({at}) = {next} is not after it");
        assert_eq!(
            schedule.next_after(next - Duration::seconds(1)),
            Some(next),
            "{next} is not an occurrence"
        );
        assert!(
            reference.accepts(next),
            "{next} matches no wall-clock time of {expr:?}"
        );
        first.get_or_insert(next);
        at = next;
    }

    let Some(next_fire) = first else {
        return;
    };
    let now = next_fire + Duration::seconds(behind);
    let due = timed(
        || due_occurrences(&schedule, next_fire, now, policy, grace),
        &text,
    );
    assert!(due.run.len() <= MAX_DUE_RUNS);
    assert!(due.run.windows(2).all(|w| w[0] < w[1]), "runs out of order");
    assert!(due.run.iter().all(|&t| next_fire <= t && t <= now));
    assert_eq!(due.next_fire, schedule.next_after(now));

    // The reference: every occurrence in [next_fire, now], walked one by one.
    let mut all = vec![next_fire];
    while all.len() <= MAX_WALK {
        match schedule.next_after(*all.last().expect("not empty")) {
            Some(t) if t <= now => all.push(t),
            _ => break,
        }
    }
    if all.len() > MAX_WALK {
        return;
    }
    let (missed, on_time): (Vec<_>, Vec<_>) = all.iter().partition(|&&t| now - t > grace);
    let on_time = &on_time[on_time.len().saturating_sub(MAX_DUE_RUNS)..];
    let keep = match policy {
        MissedRunPolicy::Skip => 0,
        MissedRunPolicy::RunOnce => usize::from(on_time.is_empty()),
        MissedRunPolicy::CatchUp(n) => n as usize,
        // The harness builds only the three above.
        other => unreachable!("{other:?}"),
    }
    .min(MAX_DUE_RUNS - on_time.len())
    .min(missed.len());
    let expected: Vec<_> = missed[missed.len() - keep..]
        .iter()
        .chain(on_time)
        .copied()
        .collect();
    assert_eq!(due.run, expected, "runs for {policy:?}, grace {grace}");
    assert_eq!(
        due.missed,
        (all.len() - due.run.len()) as u64,
        "missed count"
    );
});

/// Runs `f`, and reports on stderr when it is the slowest call so far.
fn timed<T>(f: impl FnOnce() -> T, input: &str) -> T {
    let started = Instant::now();
    let out = f();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if micros > SLOWEST_MICROS.fetch_max(micros, Ordering::Relaxed) {
        eprintln!("slowest cron call so far: {micros} us for {input:?}");
    }
    out
}

/// The expression parsed as the schedule parses it, to check occurrences against the wall clock.
struct Reference {
    cron: Cron,
    tz: chrono_tz::Tz,
}

impl Reference {
    fn new(expr: &str, tz: &str) -> Self {
        let expr = expr.trim();
        let pattern = if expr.eq_ignore_ascii_case("@midnight") {
            "@daily".to_owned()
        } else {
            expr.to_ascii_lowercase()
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(if expr.starts_with('@') {
                &pattern
            } else {
                expr
            })
            .expect("parses as the schedule parsed it");
        Reference {
            cron,
            tz: chrono_tz::Tz::from_str(tz).expect("a zone the schedule took"),
        }
    }

    /// Whether `at` is on a wall-clock time the expression matches, or is the first instant
    /// after a gap (a fixed-time job skipped by a spring-forward runs then).
    fn accepts(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        if self.cron.is_time_matching(&local).unwrap_or(false) {
            return true;
        }
        let offset = |t: DateTime<Utc>| t.with_timezone(&self.tz).offset().fix();
        offset(at) != offset(at - Duration::seconds(1))
    }
}
