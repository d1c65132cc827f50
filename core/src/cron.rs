//! Cron expressions, time zones, daylight saving time and missed-run rules.
//!
//! A [`CronSchedule`] is a cron expression bound to an IANA time zone. It
//! answers one question, [`CronSchedule::next_after`]: the first occurrence
//! strictly after an instant. [`due_occurrences`] decides, when the scheduler
//! wakes up, which occurrences to run now under a [`MissedRunPolicy`].
//!
//! # Expressions
//!
//! - five fields, `minute hour day-of-month month day-of-week` (minute
//!   resolution; the second is 0);
//! - six fields, with a leading seconds field;
//! - the nicknames `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//!   `@midnight` and `@hourly`.
//!
//! The syntax is that of Vixie cron with croner's extensions (`L`, `W`, `#`,
//! `+` in day-of-week for AND). Day-of-week 0 and 7 are Sunday; when both
//! day-of-month and day-of-week are restricted, either may match, as in Vixie
//! cron. A seven-field form with a year is not accepted, and neither is an
//! expression that can never match (such as `0 0 30 2 *`).
//!
//! # Daylight saving time
//!
//! The rules are those of Vixie cron and the Open Cron Pattern Specification.
//! A job is *fixed-time* when none of its second, minute and hour fields uses a
//! wildcard (`*`) or a step (`/`); lists and plain ranges count as fixed, so
//! `30 1,13 * * *` is fixed-time. Every other job is an *interval* job.
//!
//! | | fixed-time job | interval job |
//! |---|---|---|
//! | local time skipped (spring forward) | runs once, at the first instant after the gap | the skipped times do not run |
//! | local time repeated (fall back) | runs once, at the first (daylight) pass | runs on both passes |
//!
//! For example, in `America/New_York` on 2025-03-09 the clock jumps from
//! 02:00 to 03:00: `30 2 * * *` runs at 03:00 EDT (07:00Z). On 2025-11-02 the
//! hour from 01:00 repeats: `30 1 * * *` runs once, at 01:30 EDT (05:30Z),
//! while `0 * * * *` runs at 01:00 EDT (05:00Z) and again at 01:00 EST (06:00Z),
//! so that day has 25 hourly runs and the spring day has 23.
//!
//! Interval jobs use croner's own search, which already follows these rules.
//! Fixed-time jobs are computed here from croner's wall-clock matches, because
//! croner applies the fixed-time rule only to a single value in each of the
//! three fields: it treats `30 1,13 * * *` as an interval job, so that job
//! would run twice at 01:30 on the fall-back day and not at all at 02:30 on
//! the spring-forward day for `30 2,14 * * *`.

use std::collections::VecDeque;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The time zone a cron job uses when none is given.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// How late an occurrence may be run and still count as on time rather than
/// missed, when none is configured.
pub const DEFAULT_MISSED_RUN_GRACE: chrono::Duration = chrono::Duration::seconds(60);

/// The most occurrences [`due_occurrences`] returns to run in one wake-up; any
/// beyond it (the oldest first) are counted as missed.
pub const MAX_DUE_RUNS: usize = 10_000;

/// Nicknames and the expression each stands for, in the form croner parses.
const NICKNAMES: [(&str, &str); 7] = [
    ("@yearly", "@yearly"),
    ("@annually", "@annually"),
    ("@monthly", "@monthly"),
    ("@weekly", "@weekly"),
    ("@daily", "@daily"),
    ("@midnight", "@daily"),
    ("@hourly", "@hourly"),
];

const SECONDS_PER_HOUR: i64 = 3_600;
const SECONDS_PER_DAY: i64 = 86_400;

/// Occurrences [`CronSchedule::count`] walks one by one before it switches to
/// counting whole hours and days.
const COUNT_WALK_BUDGET: u32 = 512;

/// Searches a fixed-time lookup makes before it gives up. Each search moves
/// the wall clock forward; only a repeated hour needs a second one.
const MAX_FIXED_SEARCHES: u32 = 64;

/// Errors from parsing a cron expression or its time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// The cron expression is not valid.
    #[error("invalid cron expression {expr:?}: {reason}")]
    InvalidExpression {
        /// The expression as given.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The time zone is not an IANA time zone name.
    #[error("invalid time zone {0:?}: expected an IANA name such as \"UTC\" or \"Europe/Berlin\"")]
    InvalidTimezone(String),
}

impl CronError {
    /// A stable, machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            CronError::InvalidExpression { .. } => "invalid_cron",
            CronError::InvalidTimezone(_) => "invalid_timezone",
        }
    }
}

/// A cron expression bound to a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expr: String,
    tz: Tz,
    cron: Cron,
    /// Whether the fixed-time daylight saving rule applies (see the module docs).
    fixed_time: bool,
    /// Occurrences in one local hour whose date and hour match.
    per_hour: u64,
    /// Occurrences in one local day whose date matches.
    per_day: u64,
}

impl CronSchedule {
    /// Parses a cron expression (five fields, six fields with leading seconds,
    /// or a nickname) in the IANA time zone `tz`.
    pub fn parse(expr: &str, tz: &str) -> Result<CronSchedule, CronError> {
        let tz = Tz::from_str(tz).map_err(|_| CronError::InvalidTimezone(tz.to_owned()))?;
        let expr = expr.trim();
        let invalid = |reason: String| CronError::InvalidExpression {
            expr: expr.to_owned(),
            reason,
        };

        let pattern = if expr.starts_with('@') {
            NICKNAMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(expr))
                .map(|(_, pattern)| *pattern)
                .ok_or_else(|| {
                    invalid(
                        "unknown nickname; expected one of @yearly, @annually, @monthly, \
                         @weekly, @daily, @midnight, @hourly"
                            .to_owned(),
                    )
                })?
        } else {
            expr
        };
        let fields = pattern.split_whitespace().count();
        if !pattern.starts_with('@') && !(5..=6).contains(&fields) {
            return Err(invalid(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) \
                 or 6 with a leading seconds field, got {fields}"
            )));
        }

        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|err| invalid(err.to_string()))?;

        // croner reads a list of only empty items (`,`) as a field with no value. With the
        // second, minute or hour field empty, the search below would step through every minute
        // or hour to the year 5000 (seconds of CPU, found by fuzzing) to say it never matches.
        let fields = &cron.pattern;
        if [
            &fields.seconds,
            &fields.minutes,
            &fields.hours,
            &fields.months,
        ]
        .iter()
        .any(|field| field.values().is_empty())
        {
            return Err(invalid(
                "the second, minute, hour or month field has no value (an empty list such as `,`)"
                    .to_owned(),
            ));
        }

        // Without a year field every pattern repeats within 400 years, so one
        // search from 1970 tells whether it ever matches.
        if cron
            .find_next_occurrence(&NaiveDateTime::default(), true)
            .is_err()
        {
            return Err(invalid("the expression never matches any date".to_owned()));
        }

        let pattern = &cron.pattern;
        let fixed_time = [&pattern.seconds, &pattern.minutes, &pattern.hours]
            .iter()
            .all(|field| !field.from_wildcard && field.step == 1);
        let per_hour = (pattern.seconds.values().len() * pattern.minutes.values().len()) as u64;
        let per_day = per_hour * pattern.hours.values().len() as u64;

        Ok(CronSchedule {
            expr: expr.to_owned(),
            tz,
            cron,
            fixed_time,
            per_hour,
            per_day,
        })
    }

    /// The expression as given, without surrounding whitespace.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA name of the schedule's time zone.
    pub fn timezone(&self) -> &str {
        self.tz.name()
    }

    /// The first occurrence strictly after `after`, or `None` if the schedule
    /// has no further occurrence (croner searches up to the year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Occurrences fall on whole seconds, so "after the instant" is the
        // same as "after its whole second".
        self.next_secs(after.timestamp())
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
    }

    /// The first occurrence strictly after the Unix second `after`.
    fn next_secs(&self, after: i64) -> Option<i64> {
        if self.fixed_time {
            self.next_fixed(after)
        } else {
            self.next_interval(after)
        }
    }

    /// Interval jobs: croner's zoned search already applies the rules.
    fn next_interval(&self, after: i64) -> Option<i64> {
        let mut origin = self.tz.timestamp_opt(after, 0).single()?;
        let mut inclusive = false;
        // Croner never returns a time at or before an exclusive start; the
        // loop makes that a promise of this function rather than of croner.
        for _ in 0..4 {
            let secs = self
                .cron
                .find_next_occurrence(&origin, inclusive)
                .ok()?
                .timestamp();
            if secs > after {
                return Some(secs);
            }
            origin = self.tz.timestamp_opt(secs.max(after) + 1, 0).single()?;
            inclusive = true;
        }
        None
    }

    /// Fixed-time jobs: croner finds the wall-clock matches, which this maps
    /// to instants by the fixed-time rule.
    ///
    /// Every wall-clock time `w` maps to one instant `f(w)`: itself when it
    /// happens once, its first (daylight) pass when it happens twice, and the
    /// first instant after the gap when it never happens. `f` never decreases
    /// as `w` grows, so the answer is `f` of the first match whose instant is
    /// after `after`, and matches before `after`'s own wall-clock time never
    /// qualify. Only when `after` is on the repeated pass of a fall-back hour
    /// do later matches map behind it (to the first pass); the search then
    /// jumps to the end of the repeated hour.
    fn next_fixed(&self, after: i64) -> Option<i64> {
        let mut from = self.wall(after)?;
        for _ in 0..MAX_FIXED_SEARCHES {
            let matched = self.cron.find_next_occurrence(&from, false).ok()?;
            let instant = match self.tz.from_local_datetime(&matched) {
                LocalResult::Single(at) => at.timestamp(),
                LocalResult::Ambiguous(first, second) => {
                    let first = first.timestamp();
                    if first > after {
                        return Some(first);
                    }
                    // `after` is on the second pass, so every repeated time
                    // maps to the first pass, behind it: skip the rest of the
                    // repeated range.
                    let repeat_end =
                        self.transition(first, second.timestamp())? + (second.timestamp() - first);
                    from = self.wall(repeat_end - 1)?.max(matched);
                    continue;
                }
                LocalResult::None => self.gap_end(matched)?,
            };
            if instant > after {
                return Some(instant);
            }
            from = matched;
        }
        None
    }

    /// The local wall-clock time of a Unix second.
    fn wall(&self, secs: i64) -> Option<NaiveDateTime> {
        Some(
            DateTime::from_timestamp(secs, 0)?
                .with_timezone(&self.tz)
                .naive_local(),
        )
    }

    /// The UTC offset, in seconds, in force at a Unix second.
    fn offset(&self, secs: i64) -> Option<i32> {
        let utc = DateTime::from_timestamp(secs, 0)?.naive_utc();
        Some(
            self.tz
                .offset_from_utc_datetime(&utc)
                .fix()
                .local_minus_utc(),
        )
    }

    /// The first Unix second in `(lo, hi]` whose offset is that of `hi`, given
    /// that the offset changes once in between.
    fn transition(&self, mut lo: i64, mut hi: i64) -> Option<i64> {
        let target = self.offset(hi)?;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.offset(mid)? == target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    /// The first instant after the gap that contains the wall-clock time
    /// `skipped`: the moment the clock jumps forward.
    fn gap_end(&self, skipped: NaiveDateTime) -> Option<i64> {
        // Offsets lie within -12 h and +14 h, so the wall clock is before
        // `skipped` at `lo` and after it at `hi`; in between it passes
        // `skipped` once, by jumping over it.
        let as_utc = skipped.and_utc().timestamp();
        let (mut lo, mut hi) = (
            as_utc - 15 * SECONDS_PER_HOUR,
            as_utc + 13 * SECONDS_PER_HOUR,
        );
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.wall(mid)? > skipped {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    /// The number of occurrences in the Unix seconds `[from, to)`.
    ///
    /// Walks the first few occurrences one by one, which settles sparse
    /// schedules. A dense schedule is then counted by the local hour and day:
    /// an hour or day that the clock passes without any change of offset
    /// holds `per_hour` or `per_day` occurrences if it matches at all, and one
    /// croner search tells whether it does. Only the hours at either end and
    /// those around a change of offset are walked. The cost grows with the
    /// number of days in the range, not with the number of occurrences.
    fn count(&self, from: i64, to: i64) -> u64 {
        self.count_walking_first(from, to, COUNT_WALK_BUDGET)
    }

    /// [`Self::count`], walking at most `budget` occurrences one by one.
    fn count_walking_first(&self, from: i64, to: i64, budget: u32) -> u64 {
        let mut count = 0;
        let mut at = from;
        let mut walked = 0;
        let mut next = self.next_secs(from - 1);
        while let Some(occurrence) = next {
            if occurrence >= to {
                return count;
            }
            if walked == budget {
                break;
            }
            count += 1;
            walked += 1;
            at = occurrence + 1;
            next = self.next_secs(occurrence);
        }
        if next.is_none() {
            return count;
        }

        while at < to {
            let Some(wall) = self.wall(at) else {
                return count;
            };
            let on_the_hour = wall.minute() == 0 && wall.second() == 0;
            if on_the_hour && wall.hour() == 0 && self.is_steady(at, at + SECONDS_PER_DAY, to) {
                if self.matches_within(wall, SECONDS_PER_DAY) {
                    count += self.per_day;
                }
                at += SECONDS_PER_DAY;
            } else if on_the_hour && self.is_steady(at, at + SECONDS_PER_HOUR, to) {
                if self.matches_within(wall, SECONDS_PER_HOUR) {
                    count += self.per_hour;
                }
                at += SECONDS_PER_HOUR;
            } else {
                let seconds_into_hour = i64::from(wall.minute() * 60 + wall.second());
                let stop = (at + SECONDS_PER_HOUR - seconds_into_hour).min(to);
                let mut next = self.next_secs(at - 1);
                while let Some(occurrence) = next.filter(|&occurrence| occurrence < stop) {
                    count += 1;
                    next = self.next_secs(occurrence);
                }
                at = stop;
            }
        }
        count
    }

    /// Whether the Unix seconds `[start, end)` lie within `[.., to)` and the
    /// local clock runs through them one second per second: the offset is the
    /// same just before `start`, at `start` and at the last second, and the
    /// local times at both ends happen only once.
    ///
    /// This assumes that no zone changes its offset and back within one day.
    fn is_steady(&self, start: i64, end: i64, to: i64) -> bool {
        if end > to {
            return false;
        }
        let offsets = [
            self.offset(start - 1),
            self.offset(start),
            self.offset(end - 1),
        ];
        let same_offset = offsets[0].is_some() && offsets.iter().all(|o| *o == offsets[0]);
        let happens_once = |secs| {
            self.wall(secs).is_some_and(|wall| {
                matches!(self.tz.from_local_datetime(&wall), LocalResult::Single(_))
            })
        };
        same_offset && happens_once(start) && happens_once(end - 1)
    }

    /// Whether the expression matches any wall-clock time in
    /// `[start, start + seconds)`.
    fn matches_within(&self, start: NaiveDateTime, seconds: i64) -> bool {
        self.cron
            .find_next_occurrence(&start, true)
            .is_ok_and(|found| (found - start).num_seconds() < seconds)
    }

    /// The last `keep` occurrences in the Unix seconds `[from, to)`, oldest
    /// first.
    ///
    /// Widens a window back from `to` until it holds `keep` occurrences (or
    /// covers the range), then walks only that window.
    fn tail(&self, from: i64, to: i64, keep: usize) -> Vec<i64> {
        if keep == 0 || from >= to {
            return Vec::new();
        }
        let mut width: i64 = 64;
        let start = loop {
            let start = to.saturating_sub(width).max(from);
            if start == from || self.count(start, to) >= keep as u64 {
                break start;
            }
            width = width.saturating_mul(2);
        };

        let mut last = VecDeque::with_capacity(keep);
        let mut next = self.next_secs(start - 1);
        while let Some(occurrence) = next.filter(|&occurrence| occurrence < to) {
            if last.len() == keep {
                last.pop_front();
            }
            last.push_back(occurrence);
            next = self.next_secs(occurrence);
        }
        last.into()
    }
}

/// What to do with occurrences that passed while the scheduler was not
/// running (or was too busy), and are older than the grace period.
///
/// Occurrences within the grace period always run; the policy decides only
/// about the older, missed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MissedRunPolicy {
    /// Run none of the missed occurrences; wait for the next one.
    Skip,
    /// Run the most recent missed occurrence once, unless an occurrence within
    /// the grace period runs anyway.
    #[default]
    RunOnce,
    /// Run the most recent missed occurrences, at most this many, oldest
    /// first.
    CatchUp(u32),
}

/// `skip`, `run_once` or `catch_up:N`: the form the bindings and the store use.
impl std::fmt::Display for MissedRunPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MissedRunPolicy::Skip => f.write_str("skip"),
            MissedRunPolicy::RunOnce => f.write_str("run_once"),
            MissedRunPolicy::CatchUp(n) => write!(f, "catch_up:{n}"),
        }
    }
}

/// Which occurrences of a cron job to run on waking up, from
/// [`due_occurrences`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Due {
    /// The occurrences to run now, in ascending order (at most
    /// [`MAX_DUE_RUNS`]).
    pub run: Vec<DateTime<Utc>>,
    /// The first occurrence strictly after `now`, to store as the job's next
    /// fire time; `None` if the schedule has no further occurrence.
    pub next_fire: Option<DateTime<Utc>>,
    /// How many occurrences that were due are not run.
    pub missed: u64,
}

/// Decides which occurrences of `schedule` to run at `now`, given the stored
/// next fire time `next_fire`.
///
/// The occurrences due are `next_fire` itself and every later occurrence up to
/// and including `now`. One is on time when `now - t <= grace` and always runs;
/// an older one is missed, and `policy` says which missed ones run. If
/// `next_fire` is after `now`, nothing is due and `next_fire` is returned
/// unchanged. A negative `grace` counts as zero.
///
/// At most [`MAX_DUE_RUNS`] occurrences run; any more (the oldest) count as
/// missed.
///
/// The cost does not grow with the number of occurrences missed. The missed
/// ones are counted, not listed: a few are walked one by one, and the rest
/// are counted by the local hour and day (a matching day or hour without a
/// change of clock holds a known number of occurrences). The ones to run are
/// found by walking back from the end of the range in a window that doubles
/// until it holds enough of them. An every-second schedule down for a year
/// takes milliseconds.
pub fn due_occurrences(
    schedule: &CronSchedule,
    next_fire: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: MissedRunPolicy,
    grace: chrono::Duration,
) -> Due {
    if next_fire > now {
        return Due {
            run: Vec::new(),
            next_fire: Some(next_fire),
            missed: 0,
        };
    }
    let grace = grace.max(chrono::Duration::zero());
    let first_is_on_time = now - next_fire <= grace;

    // The occurrences after `next_fire` fall on whole seconds in
    // `[after_first, end)`; those from `on_time_from` on are on time.
    let after_first = next_fire.timestamp() + 1;
    let end = now.timestamp() + 1;
    let on_time_from = now
        .checked_sub_signed(grace)
        .map_or(i64::MIN, |cutoff| {
            // A whole second is on or after the cutoff when it is on or after
            // the cutoff rounded up.
            cutoff.timestamp() + i64::from(cutoff.timestamp_subsec_nanos() > 0)
        })
        .clamp(after_first, end);

    let mut on_time: Vec<DateTime<Utc>> = Vec::new();
    if first_is_on_time {
        on_time.push(next_fire);
    }
    let later_on_time = schedule.tail(on_time_from, end, MAX_DUE_RUNS);
    on_time.extend(
        later_on_time
            .iter()
            .filter_map(|&secs| DateTime::from_timestamp(secs, 0)),
    );
    if on_time.len() > MAX_DUE_RUNS {
        on_time.remove(0);
    }
    let due_on_time = u64::from(first_is_on_time)
        + if later_on_time.len() < MAX_DUE_RUNS {
            later_on_time.len() as u64
        } else {
            schedule.count(on_time_from, end)
        };

    let due_missed = u64::from(!first_is_on_time) + schedule.count(after_first, on_time_from);
    let keep = match policy {
        MissedRunPolicy::Skip => 0,
        MissedRunPolicy::RunOnce => usize::from(due_on_time == 0),
        MissedRunPolicy::CatchUp(most) => usize::try_from(most).unwrap_or(usize::MAX),
    }
    .min(MAX_DUE_RUNS - on_time.len());

    let mut run: Vec<DateTime<Utc>> = Vec::new();
    let later_missed = schedule.tail(after_first, on_time_from, keep);
    if !first_is_on_time && later_missed.len() < keep {
        run.push(next_fire);
    }
    run.extend(
        later_missed
            .iter()
            .filter_map(|&secs| DateTime::from_timestamp(secs, 0)),
    );
    run.extend(on_time);

    Due {
        missed: (due_on_time + due_missed).saturating_sub(run.len() as u64),
        run,
        next_fire: schedule.next_after(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn schedule(expr: &str, tz: &str) -> CronSchedule {
        CronSchedule::parse(expr, tz).unwrap()
    }

    #[test]
    fn parses_five_and_six_fields_and_nicknames() {
        let five = schedule("*/5 9-17 * * MON-FRI", DEFAULT_TIMEZONE);
        assert_eq!(five.expr(), "*/5 9-17 * * MON-FRI");
        assert_eq!(five.timezone(), "UTC");
        assert_eq!(
            five.next_after(utc(2025, 1, 4, 12, 0, 0)),
            Some(utc(2025, 1, 6, 9, 0, 0)),
            "Saturday noon to Monday 09:00"
        );

        let six = schedule("30 */2 * * * *", DEFAULT_TIMEZONE);
        assert_eq!(
            six.next_after(utc(2025, 1, 1, 0, 0, 0)),
            Some(utc(2025, 1, 1, 0, 0, 30))
        );
        assert_eq!(
            six.next_after(utc(2025, 1, 1, 0, 0, 30)),
            Some(utc(2025, 1, 1, 0, 2, 30))
        );

        let after = utc(2025, 5, 14, 10, 20, 0); // a Wednesday
        for (nickname, expected) in [
            ("@yearly", utc(2026, 1, 1, 0, 0, 0)),
            ("@annually", utc(2026, 1, 1, 0, 0, 0)),
            ("@monthly", utc(2025, 6, 1, 0, 0, 0)),
            ("@weekly", utc(2025, 5, 18, 0, 0, 0)),
            ("@daily", utc(2025, 5, 15, 0, 0, 0)),
            ("@midnight", utc(2025, 5, 15, 0, 0, 0)),
            ("@hourly", utc(2025, 5, 14, 11, 0, 0)),
            ("@HOURLY", utc(2025, 5, 14, 11, 0, 0)),
            ("  @Daily ", utc(2025, 5, 15, 0, 0, 0)),
        ] {
            let parsed = schedule(nickname, "UTC");
            assert_eq!(parsed.next_after(after), Some(expected), "{nickname}");
            assert_eq!(parsed.expr(), nickname.trim());
        }
    }

    #[test]
    fn rejects_bad_expressions_and_time_zones() {
        for expr in [
            "",
            "   ",
            "garbage",
            "* * * *",
            "* * * * * * *",
            "0 0 0 1 1 * 2030",
            "60 * * * *",
            "* 24 * * *",
            "* * 32 * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "60 * * * * *",
            "*/0 * * * *",
            "0/5 * * * *",
            "@reboot",
            "@every 5m",
            "0 0 30 2 *",
            "0 0 31 4 *",
        ] {
            let err = CronSchedule::parse(expr, "UTC").unwrap_err();
            assert_eq!(err.code(), "invalid_cron", "{expr:?}");
            match &err {
                CronError::InvalidExpression { expr: bad, reason } => {
                    assert_eq!(bad, expr.trim());
                    assert!(!reason.is_empty());
                }
                other => panic!("{expr:?}: {other:?}"),
            }
            assert!(
                err.to_string().contains(&format!("{:?}", expr.trim())),
                "{err}"
            );
        }

        for tz in ["", "Mars/Olympus", "utc ", "America/NewYork", "+05:30"] {
            let err = CronSchedule::parse("0 0 * * *", tz).unwrap_err();
            assert_eq!(err, CronError::InvalidTimezone(tz.to_owned()));
            assert_eq!(err.code(), "invalid_timezone");
            assert!(err.to_string().contains(&format!("{tz:?}")), "{err}");
        }
        // The time zone is checked first.
        assert_eq!(
            CronSchedule::parse("garbage", "nope").unwrap_err().code(),
            "invalid_timezone"
        );
    }

    #[test]
    fn classifies_fixed_time_and_interval_jobs() {
        for (expr, fixed) in [
            ("30 2 * * *", true),
            ("0 30 2 * * *", true),
            ("30 1,13 * * *", true),
            ("0 1-3 * * *", true),
            ("@daily", true),
            ("@weekly", true),
            ("@hourly", false),
            ("*/15 * * * *", false),
            ("0 */2 * * *", false),
            ("0 0-23/2 * * *", false),
            ("* 30 2 * * *", false),
            ("*/10 30 2 * * *", false),
        ] {
            assert_eq!(schedule(expr, "UTC").fixed_time, fixed, "{expr}");
        }
    }

    #[test]
    fn next_after_is_strictly_after_sub_second_instants() {
        let every_second = schedule("* * * * * *", "UTC");
        let at = utc(2025, 1, 1, 0, 0, 0);
        let half = at + chrono::Duration::milliseconds(500);
        assert_eq!(
            every_second.next_after(at),
            Some(at + chrono::Duration::seconds(1))
        );
        assert_eq!(
            every_second.next_after(half),
            Some(at + chrono::Duration::seconds(1))
        );
        let before = at - chrono::Duration::milliseconds(1);
        assert_eq!(schedule("0 0 * * *", "UTC").next_after(before), Some(at));
    }

    /// For a single value in each time field, croner applies the fixed-time
    /// rule itself; this module's own mapping must give the same answers.
    #[test]
    fn fixed_time_mapping_agrees_with_croner_for_single_values() {
        let cases = [
            ("America/New_York", utc(2025, 3, 8, 0, 0, 0)),
            ("America/New_York", utc(2025, 11, 1, 0, 0, 0)),
            ("Europe/Berlin", utc(2025, 3, 29, 0, 0, 0)),
            ("Europe/Berlin", utc(2025, 10, 25, 0, 0, 0)),
            ("Australia/Lord_Howe", utc(2025, 4, 4, 0, 0, 0)),
            ("Australia/Lord_Howe", utc(2025, 10, 3, 0, 0, 0)),
            // Chile changes clock at midnight: 2025-04-06 00:00 goes back to
            // 23:00, and 2025-09-07 00:00 jumps to 01:00.
            ("America/Santiago", utc(2025, 4, 4, 0, 0, 0)),
            ("America/Santiago", utc(2025, 9, 5, 0, 0, 0)),
            ("Antarctica/Troll", utc(2025, 3, 28, 0, 0, 0)),
            ("Antarctica/Troll", utc(2025, 10, 24, 0, 0, 0)),
        ];
        for (tz, start) in cases {
            for expr in [
                "0 0 0 * * *",
                "0 30 23 * * *",
                "0 30 1 * * *",
                "0 30 2 * * *",
                "0 0 2 * * *",
                "15 45 1 * * *",
                "0 15 3 * * *",
            ] {
                let ours = schedule(expr, tz);
                assert!(ours.fixed_time);
                let croner = &ours.cron;
                let mut at = start;
                // Step in 7-minute strides through three days, including
                // starts on both passes of a repeated hour.
                while at < start + chrono::Duration::days(3) {
                    let expected = croner
                        .find_next_occurrence(&at.with_timezone(&ours.tz), false)
                        .unwrap()
                        .with_timezone(&Utc);
                    assert_eq!(
                        ours.next_after(at),
                        Some(expected),
                        "{expr} in {tz} after {at}"
                    );
                    at += chrono::Duration::minutes(7);
                }
            }
        }
    }

    /// Counting by the hour and day must agree with walking one by one.
    #[test]
    fn count_agrees_with_walking() {
        let cases = [
            (
                "*/7 * * * * *",
                "America/New_York",
                utc(2025, 3, 8, 3, 17, 9),
                3,
            ),
            (
                "*/7 * * * * *",
                "America/New_York",
                utc(2025, 11, 1, 3, 17, 9),
                3,
            ),
            (
                "13 */5 * * * *",
                "Europe/Berlin",
                utc(2025, 3, 28, 22, 59, 59),
                4,
            ),
            (
                "13 */5 * * * *",
                "Europe/Berlin",
                utc(2025, 10, 24, 22, 0, 0),
                4,
            ),
            (
                "0-59 0-59 2 * * *",
                "America/New_York",
                utc(2025, 3, 8, 0, 0, 1),
                3,
            ),
            (
                "0-59 0-59 1 * * *",
                "America/New_York",
                utc(2025, 11, 1, 0, 0, 1),
                3,
            ),
            (
                "*/20 30 1,2,23 * * *",
                "Australia/Lord_Howe",
                utc(2025, 4, 4, 0, 0, 0),
                3,
            ),
            (
                "*/20 30 1,2,23 * * *",
                "Australia/Lord_Howe",
                utc(2025, 10, 3, 0, 0, 0),
                3,
            ),
            (
                "*/20 * 1,2,23 * * *",
                "Australia/Lord_Howe",
                utc(2025, 4, 4, 0, 0, 0),
                3,
            ),
            (
                "*/20 * 1,2,23 * * *",
                "Australia/Lord_Howe",
                utc(2025, 10, 3, 0, 0, 0),
                3,
            ),
            (
                "30 1,2 * * *",
                "America/New_York",
                utc(2025, 3, 7, 0, 0, 0),
                4,
            ),
            (
                "30 1,2 * * *",
                "America/New_York",
                utc(2025, 10, 31, 0, 0, 0),
                4,
            ),
            (
                "* * 1-3 * SUN",
                "Asia/Kolkata",
                utc(2025, 8, 30, 5, 5, 5),
                9,
            ),
            (
                "*/30 * * * * *",
                "Pacific/Apia",
                utc(2011, 12, 28, 0, 0, 0),
                4,
            ),
            (
                "0 */30 10 * * *",
                "Pacific/Apia",
                utc(2011, 12, 28, 0, 0, 0),
                5,
            ),
            ("* * L * *", "UTC", utc(2025, 2, 26, 7, 0, 0), 5),
            (
                "*/10 * * * * *",
                "America/Santiago",
                utc(2025, 4, 4, 0, 0, 0),
                3,
            ),
            (
                "0-59 0-59 0,23 * * *",
                "America/Santiago",
                utc(2025, 4, 4, 0, 0, 0),
                3,
            ),
            (
                "0-59 0-59 0,23 * * *",
                "America/Santiago",
                utc(2025, 9, 5, 0, 0, 0),
                3,
            ),
            // Troll moves its clock by two hours: 01:00-02:59 repeats on 2025-10-26.
            (
                "0-59 0-59 1,2 * * *",
                "Antarctica/Troll",
                utc(2025, 10, 24, 0, 0, 0),
                4,
            ),
            (
                "0-59 0-59 1,2 * * *",
                "Antarctica/Troll",
                utc(2025, 3, 28, 0, 0, 0),
                4,
            ),
            (
                "*/9 * 1,2 * * *",
                "Antarctica/Troll",
                utc(2025, 10, 24, 0, 0, 0),
                4,
            ),
        ];
        for (expr, tz, from, days) in cases {
            let schedule = schedule(expr, tz);
            let from = from.timestamp();
            let to = from + days * SECONDS_PER_DAY + 1234;
            let mut walked = Vec::new();
            let mut next = schedule.next_secs(from - 1);
            while let Some(at) = next.filter(|&at| at < to) {
                walked.push(at);
                next = schedule.next_secs(at);
            }
            // Several sub-ranges, so that each one starts and ends off the hour.
            for (lo, hi) in [
                (from, to),
                (from + 4321, to - 999),
                (from + SECONDS_PER_DAY, to),
            ] {
                let expected = walked.iter().filter(|&&at| lo <= at && at < hi).count() as u64;
                assert_eq!(
                    schedule.count(lo, hi),
                    expected,
                    "{expr} in {tz} over [{lo}, {hi})"
                );
                // Without the walk first, every case exercises the hours and days.
                let chunked = schedule.count_walking_first(lo, hi, 0);
                assert_eq!(
                    chunked, expected,
                    "{expr} in {tz} over [{lo}, {hi}), chunked"
                );
            }
            let keep = walked.len().min(25);
            let tail = schedule.tail(from, to, keep);
            assert_eq!(tail, walked[walked.len() - keep..], "{expr} in {tz}");
        }
    }

    #[test]
    fn tail_of_a_short_range_returns_everything() {
        let hourly = schedule("0 * * * *", "UTC");
        let from = utc(2025, 1, 1, 0, 30, 0).timestamp();
        let to = utc(2025, 1, 1, 3, 30, 0).timestamp();
        let expected: Vec<i64> = (1..=3)
            .map(|h| utc(2025, 1, 1, h, 0, 0).timestamp())
            .collect();
        assert_eq!(hourly.tail(from, to, 10), expected);
        assert_eq!(hourly.tail(from, to, 2), expected[1..]);
        assert_eq!(hourly.tail(from, to, 0), Vec::<i64>::new());
        assert_eq!(hourly.count(from, to), 3);
    }

    #[test]
    fn samoa_skipping_a_whole_day_runs_a_fixed_job_after_the_gap() {
        // Pacific/Apia skipped 2011-12-30 entirely: 2011-12-29 23:59:59 -10:00
        // was followed by 2011-12-31 00:00:00 +14:00 (10:00Z).
        let daily = schedule("0 10 * * *", "Pacific/Apia");
        let mut runs = Vec::new();
        let mut at = utc(2011, 12, 29, 0, 0, 0);
        while let Some(next) = daily
            .next_after(at)
            .filter(|&next| next < utc(2011, 12, 31, 12, 0, 0))
        {
            runs.push(next);
            at = next;
        }
        assert_eq!(
            runs,
            [
                utc(2011, 12, 29, 20, 0, 0), // 29th 10:00 -10:00
                utc(2011, 12, 30, 10, 0, 0), // the 30th's run, at 31st 00:00 +14:00
                utc(2011, 12, 30, 20, 0, 0), // 31st 10:00 +14:00
            ]
        );
    }

    fn secs(n: i64) -> chrono::Duration {
        chrono::Duration::seconds(n)
    }

    fn minutes(from: DateTime<Utc>, offsets: &[i64]) -> Vec<DateTime<Utc>> {
        offsets
            .iter()
            .map(|m| from + chrono::Duration::minutes(*m))
            .collect()
    }

    #[test]
    fn nothing_is_due_before_next_fire() {
        let every_minute = schedule("* * * * *", "UTC");
        let next_fire = utc(2025, 1, 1, 10, 0, 0);
        for policy in [
            MissedRunPolicy::Skip,
            MissedRunPolicy::RunOnce,
            MissedRunPolicy::CatchUp(5),
        ] {
            let due = due_occurrences(
                &every_minute,
                next_fire,
                next_fire - secs(1),
                policy,
                secs(60),
            );
            assert_eq!(
                due,
                Due {
                    run: vec![],
                    next_fire: Some(next_fire),
                    missed: 0
                }
            );
        }
    }

    #[test]
    fn no_downtime_runs_the_occurrence_that_is_due() {
        let every_minute = schedule("* * * * *", "UTC");
        let next_fire = utc(2025, 1, 1, 10, 0, 0);
        for now in [
            next_fire,
            next_fire + chrono::Duration::milliseconds(250),
            next_fire + secs(59),
        ] {
            for policy in [
                MissedRunPolicy::Skip,
                MissedRunPolicy::RunOnce,
                MissedRunPolicy::CatchUp(5),
            ] {
                let due = due_occurrences(
                    &every_minute,
                    next_fire,
                    now,
                    policy,
                    DEFAULT_MISSED_RUN_GRACE,
                );
                assert_eq!(due.run, [next_fire], "{policy:?} at {now}");
                assert_eq!(due.next_fire, Some(next_fire + secs(60)));
                assert_eq!(due.missed, 0);
            }
        }
    }

    #[test]
    fn small_downtime_applies_each_policy() {
        let every_minute = schedule("* * * * *", "UTC");
        let next_fire = utc(2025, 1, 1, 10, 0, 0);
        // 10:00 to 10:05 are due; with a minute of grace only 10:05 is on time.
        let now = utc(2025, 1, 1, 10, 5, 30);
        let due = |policy| due_occurrences(&every_minute, next_fire, now, policy, secs(60));
        let next = Some(utc(2025, 1, 1, 10, 6, 0));

        let skip = due(MissedRunPolicy::Skip);
        assert_eq!(
            (skip.run, skip.missed, skip.next_fire),
            (minutes(next_fire, &[5]), 5, next)
        );
        let once = due(MissedRunPolicy::RunOnce);
        assert_eq!(
            (once.run, once.missed),
            (minutes(next_fire, &[5]), 5),
            "on-time run exists"
        );
        let two = due(MissedRunPolicy::CatchUp(2));
        assert_eq!((two.run, two.missed), (minutes(next_fire, &[3, 4, 5]), 3));
        let all = due(MissedRunPolicy::CatchUp(10));
        assert_eq!(
            (all.run, all.missed),
            (minutes(next_fire, &[0, 1, 2, 3, 4, 5]), 0)
        );
        let exact = due(MissedRunPolicy::CatchUp(5));
        assert_eq!(
            (exact.run, exact.missed),
            (minutes(next_fire, &[0, 1, 2, 3, 4, 5]), 0)
        );
        let none = due(MissedRunPolicy::CatchUp(0));
        assert_eq!((none.run, none.missed), (minutes(next_fire, &[5]), 5));

        // With ten seconds of grace nothing is on time, so RunOnce runs 10:05.
        let due = |policy| due_occurrences(&every_minute, next_fire, now, policy, secs(10));
        let skip = due(MissedRunPolicy::Skip);
        assert_eq!((skip.run, skip.missed, skip.next_fire), (vec![], 6, next));
        let once = due(MissedRunPolicy::RunOnce);
        assert_eq!((once.run, once.missed), (minutes(next_fire, &[5]), 5));
        let two = due(MissedRunPolicy::CatchUp(2));
        assert_eq!((two.run, two.missed), (minutes(next_fire, &[4, 5]), 4));
        assert_eq!(MissedRunPolicy::default(), MissedRunPolicy::RunOnce);
    }

    #[test]
    fn grace_edges() {
        let every_minute = schedule("* * * * *", "UTC");
        let next_fire = utc(2025, 1, 1, 10, 0, 0);
        let skip = |now, grace| {
            due_occurrences(&every_minute, next_fire, now, MissedRunPolicy::Skip, grace)
        };

        // Exactly `grace` late is on time.
        let due = skip(utc(2025, 1, 1, 10, 1, 0), secs(60));
        assert_eq!((due.run, due.missed), (minutes(next_fire, &[0, 1]), 0));
        // A millisecond more is missed.
        let due = skip(
            utc(2025, 1, 1, 10, 1, 0) + chrono::Duration::milliseconds(1),
            secs(60),
        );
        assert_eq!((due.run, due.missed), (minutes(next_fire, &[1]), 1));
        // Sub-second grace: 10:00 is 60 s late, past 59.5 s.
        let due = skip(
            utc(2025, 1, 1, 10, 1, 0),
            chrono::Duration::milliseconds(59_500),
        );
        assert_eq!((due.run, due.missed), (minutes(next_fire, &[1]), 1));
        // Zero grace: only an occurrence at `now` itself is on time.
        let due = skip(utc(2025, 1, 1, 10, 1, 0), chrono::Duration::zero());
        assert_eq!((due.run, due.missed), (minutes(next_fire, &[1]), 1));
        let due = skip(
            utc(2025, 1, 1, 10, 1, 0) + chrono::Duration::milliseconds(1),
            chrono::Duration::zero(),
        );
        assert_eq!((due.run, due.missed), (vec![], 2));
        // A negative grace counts as zero.
        let due = skip(utc(2025, 1, 1, 10, 1, 0), secs(-30));
        assert_eq!((due.run, due.missed), (minutes(next_fire, &[1]), 1));
    }

    #[test]
    fn the_stored_next_fire_is_run_as_given() {
        // A stored time off the schedule's grid (here with milliseconds) is
        // still the first occurrence due.
        let every_minute = schedule("* * * * *", "UTC");
        let stored = utc(2025, 1, 1, 10, 0, 0) + chrono::Duration::milliseconds(250);
        let due = due_occurrences(
            &every_minute,
            stored,
            utc(2025, 1, 1, 10, 0, 30),
            MissedRunPolicy::Skip,
            secs(60),
        );
        assert_eq!((due.run, due.missed), (vec![stored], 0));
        assert_eq!(due.next_fire, Some(utc(2025, 1, 1, 10, 1, 0)));

        let due = due_occurrences(
            &every_minute,
            stored,
            utc(2025, 1, 1, 10, 3, 30),
            MissedRunPolicy::CatchUp(9),
            secs(0),
        );
        assert_eq!(
            due.run,
            [
                stored,
                utc(2025, 1, 1, 10, 1, 0),
                utc(2025, 1, 1, 10, 2, 0),
                utc(2025, 1, 1, 10, 3, 0)
            ]
        );
        let due = due_occurrences(
            &every_minute,
            stored,
            utc(2025, 1, 1, 10, 3, 30),
            MissedRunPolicy::CatchUp(3),
            secs(0),
        );
        assert_eq!((due.run.len(), due.missed), (3, 1));
        assert_eq!(due.run[0], utc(2025, 1, 1, 10, 1, 0));
    }

    /// An every-second job down for all of 2024 (366 days): 31 622 401
    /// occurrences are due, counted without listing them.
    #[test]
    fn huge_downtime_is_counted_not_listed() {
        let started = std::time::Instant::now();
        let next_fire = utc(2024, 1, 1, 0, 0, 0);
        let now = utc(2025, 1, 1, 0, 0, 0);
        let total = 366 * 86_400 + 1;
        // New York's year has both changes of clock; an interval job still
        // fires once per real second.
        for tz in ["UTC", "America/New_York"] {
            let every_second = schedule("* * * * * *", tz);
            let due = |policy| {
                due_occurrences(
                    &every_second,
                    next_fire,
                    now,
                    policy,
                    DEFAULT_MISSED_RUN_GRACE,
                )
            };
            // 23:59:00 to 00:00:00 are on time: 61 runs.
            let on_time: Vec<_> = (0..=60).map(|s| now - secs(60 - s)).collect();

            let skip = due(MissedRunPolicy::Skip);
            assert_eq!((&skip.run, skip.missed), (&on_time, total - 61), "{tz}");
            assert_eq!(skip.next_fire, Some(now + secs(1)));
            let once = due(MissedRunPolicy::RunOnce);
            assert_eq!((&once.run, once.missed), (&on_time, total - 61), "{tz}");
            let five = due(MissedRunPolicy::CatchUp(5));
            assert_eq!(five.run.len(), 66);
            assert_eq!(
                five.run[..5],
                (0..5).map(|s| now - secs(65 - s)).collect::<Vec<_>>()[..]
            );
            assert_eq!(five.missed, total - 66);
            let many = due(MissedRunPolicy::CatchUp(u32::MAX));
            assert_eq!(many.run.len(), MAX_DUE_RUNS);
            assert_eq!(many.run[MAX_DUE_RUNS - 1], now);
            assert_eq!(many.run[0], now - secs(MAX_DUE_RUNS as i64 - 1));
            assert_eq!(many.missed, total - MAX_DUE_RUNS as u64);

            // With no grace and `now` between seconds, nothing is on time and
            // RunOnce runs the latest second.
            let later = now + chrono::Duration::milliseconds(500);
            let once = due_occurrences(
                &every_second,
                next_fire,
                later,
                MissedRunPolicy::RunOnce,
                chrono::Duration::zero(),
            );
            assert_eq!((once.run, once.missed), (vec![now], total - 1), "{tz}");
        }

        // A fixed-time job runs each skipped spring second once, at 03:00
        // EDT, and each repeated fall second once: a year of New York seconds
        // less the skipped hour.
        let fixed_every_second = schedule("0-59 0-59 0-23 * * *", "America/New_York");
        assert!(fixed_every_second.fixed_time);
        let due = due_occurrences(
            &fixed_every_second,
            next_fire,
            now,
            MissedRunPolicy::Skip,
            DEFAULT_MISSED_RUN_GRACE,
        );
        assert_eq!((due.run.len() as u64, due.missed), (61, total - 3_600 - 61));

        // A daily job down for ten years.
        let daily = schedule("@daily", "Asia/Kolkata");
        let first = utc(2014, 12, 31, 18, 30, 0);
        let due = due_occurrences(
            &daily,
            first,
            utc(2025, 1, 1, 0, 0, 0),
            MissedRunPolicy::CatchUp(2),
            secs(3_600),
        );
        // 2015-01-01 to 2025-01-01 IST: 3 654 midnights, the last at 18:30Z,
        // five and a half hours before `now`.
        assert_eq!(
            due.run,
            [utc(2024, 12, 30, 18, 30, 0), utc(2024, 12, 31, 18, 30, 0)]
        );
        assert_eq!(due.missed, 3_654 - 2);
        assert_eq!(due.next_fire, Some(utc(2025, 1, 1, 18, 30, 0)));

        let elapsed = started.elapsed();
        assert!(
            elapsed < std::time::Duration::from_secs(10),
            "took {elapsed:?}"
        );
    }

    #[test]
    fn a_schedule_can_run_out() {
        // Croner searches up to the year 5000.
        let yearly = schedule("@yearly", "UTC");
        let last = utc(5000, 1, 1, 0, 0, 0);
        assert_eq!(yearly.next_after(last - secs(1)), Some(last));
        assert_eq!(yearly.next_after(last), None);
        let due = due_occurrences(
            &yearly,
            last,
            last + secs(1),
            MissedRunPolicy::RunOnce,
            secs(60),
        );
        assert_eq!(
            due,
            Due {
                run: vec![last],
                next_fire: None,
                missed: 0
            }
        );
    }

    #[test]
    fn a_dense_fixed_job_skips_the_rest_of_a_repeated_hour() {
        // 01:15 EST on 2025-11-02 (06:15Z) is on New York's second pass of
        // 01:00–01:59; every second of that hour already ran on the first.
        let after = utc(2025, 11, 2, 6, 15, 0);
        let one_am = schedule("0-59 0-59 1 * * *", "America/New_York");
        assert_eq!(one_am.next_after(after), Some(utc(2025, 11, 3, 6, 0, 0)));
        let one_and_two_am = schedule("0-59 0-59 1,2 * * *", "America/New_York");
        assert_eq!(
            one_and_two_am.next_after(after),
            Some(utc(2025, 11, 2, 7, 0, 0))
        );
        // On the first pass the next second is next.
        let first_pass = utc(2025, 11, 2, 5, 15, 0);
        assert_eq!(one_am.next_after(first_pass), Some(first_pass + secs(1)));
        // The last second of the first pass is followed by the next day.
        assert_eq!(
            one_am.next_after(utc(2025, 11, 2, 5, 59, 59)),
            Some(utc(2025, 11, 3, 6, 0, 0))
        );
    }
}
