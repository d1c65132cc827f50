//! Cron schedules across time zones and daylight saving time, through the
//! public API only. Every expected instant is worked out by hand in UTC.
#![cfg(feature = "scheduler")]

use chrono::{DateTime, Duration, TimeZone, Utc};
use timehook::cron::{
    CronError, CronSchedule, DEFAULT_MISSED_RUN_GRACE, DEFAULT_TIMEZONE, MissedRunPolicy,
    due_occurrences,
};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn schedule(expr: &str, tz: &str) -> CronSchedule {
    CronSchedule::parse(expr, tz).unwrap_or_else(|err| panic!("{expr} in {tz}: {err}"))
}

/// Every occurrence in `[start, end)`, walking with `next_after`. Fails on a
/// time that does not move forward, and stops after 10 000 steps, so a
/// schedule that loops cannot hang the test.
fn runs_between(
    schedule: &CronSchedule,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut runs = Vec::new();
    let mut at = start - Duration::seconds(1);
    for _ in 0..10_000 {
        match schedule.next_after(at) {
            Some(next) if next < end => {
                assert!(next > at, "{}: {next} is not after {at}", schedule.expr());
                runs.push(next);
                at = next;
            }
            _ => return runs,
        }
    }
    panic!(
        "{}: more than 10 000 runs in [{start}, {end})",
        schedule.expr()
    );
}

/// One local day: its name, its time zone, and the UTC instants of its local
/// midnight and the next one.
struct Day {
    name: &'static str,
    tz: &'static str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Day {
    fn runs(&self, expr: &str) -> Vec<DateTime<Utc>> {
        runs_between(&schedule(expr, self.tz), self.start, self.end)
    }

    fn assert_runs(&self, expr: &str, expected: &[DateTime<Utc>]) {
        assert_eq!(self.runs(expr), expected, "{expr} on {}", self.name);
    }
}

// New York, 2025-03-09: 02:00 EST becomes 03:00 EDT at 07:00Z; 02:00–02:59 never happens.
const NY_SPRING: Day = Day {
    name: "New York spring forward",
    tz: "America/New_York",
    start: DateTime::from_timestamp(1_741_496_400, 0).unwrap(), // 2025-03-09 05:00Z = 00:00 EST
    end: DateTime::from_timestamp(1_741_579_200, 0).unwrap(),   // 2025-03-10 04:00Z = 00:00 EDT
};
// New York, 2025-11-02: 02:00 EDT becomes 01:00 EST at 06:00Z; 01:00–01:59 happens twice.
const NY_FALL: Day = Day {
    name: "New York fall back",
    tz: "America/New_York",
    start: DateTime::from_timestamp(1_762_056_000, 0).unwrap(), // 2025-11-02 04:00Z = 00:00 EDT
    end: DateTime::from_timestamp(1_762_146_000, 0).unwrap(),   // 2025-11-03 05:00Z = 00:00 EST
};
// Berlin, 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00Z; 02:00–02:59 never happens.
const BERLIN_SPRING: Day = Day {
    name: "Berlin spring forward",
    tz: "Europe/Berlin",
    start: DateTime::from_timestamp(1_743_289_200, 0).unwrap(), // 2025-03-29 23:00Z = 00:00 CET
    end: DateTime::from_timestamp(1_743_372_000, 0).unwrap(),   // 2025-03-30 22:00Z = 00:00 CEST
};
// Berlin, 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:00–02:59 happens twice.
const BERLIN_FALL: Day = Day {
    name: "Berlin fall back",
    tz: "Europe/Berlin",
    start: DateTime::from_timestamp(1_761_429_600, 0).unwrap(), // 2025-10-25 22:00Z = 00:00 CEST
    end: DateTime::from_timestamp(1_761_519_600, 0).unwrap(),   // 2025-10-26 23:00Z = 00:00 CET
};

#[test]
fn the_day_bounds_are_the_local_midnights() {
    assert_eq!(NY_SPRING.start, utc(2025, 3, 9, 5, 0));
    assert_eq!(NY_SPRING.end, utc(2025, 3, 10, 4, 0));
    assert_eq!(NY_FALL.start, utc(2025, 11, 2, 4, 0));
    assert_eq!(NY_FALL.end, utc(2025, 11, 3, 5, 0));
    assert_eq!(BERLIN_SPRING.start, utc(2025, 3, 29, 23, 0));
    assert_eq!(BERLIN_SPRING.end, utc(2025, 3, 30, 22, 0));
    assert_eq!(BERLIN_FALL.start, utc(2025, 10, 25, 22, 0));
    assert_eq!(BERLIN_FALL.end, utc(2025, 10, 26, 23, 0));
    // The local days last 23 and 25 hours.
    for day in [&NY_SPRING, &BERLIN_SPRING] {
        assert_eq!(day.end - day.start, Duration::hours(23), "{}", day.name);
    }
    for day in [&NY_FALL, &BERLIN_FALL] {
        assert_eq!(day.end - day.start, Duration::hours(25), "{}", day.name);
    }
}

#[test]
fn a_fixed_time_in_the_spring_gap_runs_once_right_after_it() {
    let ny_jump = utc(2025, 3, 9, 7, 0); // 03:00 EDT
    for expr in [
        "30 2 * * *",
        "0 2 * * *",
        "59 2 * * *",
        "0 30 2 * * *",
        "15 30 2 * * *",
    ] {
        NY_SPRING.assert_runs(expr, &[ny_jump]);
    }
    let berlin_jump = utc(2025, 3, 30, 1, 0); // 03:00 CEST
    for expr in ["30 2 * * *", "0 2 * * *", "59 2 * * *", "0 30 2 * * *"] {
        BERLIN_SPRING.assert_runs(expr, &[berlin_jump]);
    }
    // A list of fixed times is fixed-time too: the 02:30 run is not lost.
    NY_SPRING.assert_runs("30 2,14 * * *", &[ny_jump, utc(2025, 3, 9, 18, 30)]);
    // Several fixed times in the gap still give one run.
    NY_SPRING.assert_runs("0,30 2 * * *", &[ny_jump]);
    // The next day is back to normal: 02:30 EDT.
    let daily = schedule("30 2 * * *", "America/New_York");
    assert_eq!(daily.next_after(ny_jump), Some(utc(2025, 3, 10, 6, 30)));
    // A weekly job on the day of the gap.
    NY_SPRING.assert_runs("30 2 * * SUN", &[ny_jump]);
    NY_SPRING.assert_runs("30 2 * * MON", &[]);
}

#[test]
fn a_fixed_time_in_the_fall_overlap_runs_once_on_the_first_pass() {
    NY_FALL.assert_runs("30 1 * * *", &[utc(2025, 11, 2, 5, 30)]); // 01:30 EDT
    NY_FALL.assert_runs("0 1 * * *", &[utc(2025, 11, 2, 5, 0)]); // 01:00 EDT
    NY_FALL.assert_runs("59 1 * * *", &[utc(2025, 11, 2, 5, 59)]); // 01:59 EDT
    NY_FALL.assert_runs("0 30 1 * * *", &[utc(2025, 11, 2, 5, 30)]);
    NY_FALL.assert_runs(
        "30 1,13 * * *",
        &[utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 18, 30)],
    );
    BERLIN_FALL.assert_runs("30 2 * * *", &[utc(2025, 10, 26, 0, 30)]); // 02:30 CEST
    BERLIN_FALL.assert_runs("0 2 * * *", &[utc(2025, 10, 26, 0, 0)]); // 02:00 CEST
    BERLIN_FALL.assert_runs(
        "30 2,3 * * *",
        &[utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 2, 30)],
    );

    // From anywhere on the second pass, the next run is the next day's.
    let daily = schedule("30 1 * * *", "America/New_York");
    let next_day = utc(2025, 11, 3, 6, 30); // 01:30 EST
    for after in [
        utc(2025, 11, 2, 5, 30),
        utc(2025, 11, 2, 6, 0),
        utc(2025, 11, 2, 6, 15),
        utc(2025, 11, 2, 6, 45),
    ] {
        assert_eq!(daily.next_after(after), Some(next_day), "after {after}");
    }
}

#[test]
fn fixed_times_away_from_the_change_are_unaffected() {
    NY_SPRING.assert_runs("30 1 * * *", &[utc(2025, 3, 9, 6, 30)]); // 01:30 EST
    NY_SPRING.assert_runs("30 3 * * *", &[utc(2025, 3, 9, 7, 30)]); // 03:30 EDT
    NY_SPRING.assert_runs("0 12 * * *", &[utc(2025, 3, 9, 16, 0)]); // 12:00 EDT
    NY_FALL.assert_runs("30 0 * * *", &[utc(2025, 11, 2, 4, 30)]); // 00:30 EDT
    NY_FALL.assert_runs("30 2 * * *", &[utc(2025, 11, 2, 7, 30)]); // 02:30 EST
    NY_FALL.assert_runs("0 12 * * *", &[utc(2025, 11, 2, 17, 0)]); // 12:00 EST
    BERLIN_SPRING.assert_runs("30 1 * * *", &[utc(2025, 3, 30, 0, 30)]); // 01:30 CET
    BERLIN_SPRING.assert_runs("30 3 * * *", &[utc(2025, 3, 30, 1, 30)]); // 03:30 CEST
    BERLIN_FALL.assert_runs("30 1 * * *", &[utc(2025, 10, 25, 23, 30)]); // 01:30 CEST
    BERLIN_FALL.assert_runs("30 3 * * *", &[utc(2025, 10, 26, 2, 30)]); // 03:30 CET
}

/// Interval jobs follow the wall clock: skipped local times do not run and
/// repeated ones run on both passes. A quarter-hourly job therefore runs
/// 23 × 4 = 92 times on a spring-forward day and 25 × 4 = 100 times on a
/// fall-back day, always 15 real minutes apart; an hourly job runs 23 and 25
/// times.
#[test]
fn interval_jobs_follow_the_wall_clock_across_both_changes() {
    for day in [&NY_SPRING, &BERLIN_SPRING, &NY_FALL, &BERLIN_FALL] {
        let hours = (day.end - day.start).num_hours() as usize;
        let quarters = day.runs("*/15 * * * *");
        assert_eq!(quarters.len(), hours * 4, "{}", day.name);
        assert_eq!(quarters[0], day.start);
        for pair in quarters.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                Duration::minutes(15),
                "{}: {pair:?}",
                day.name
            );
        }
        let hourly = day.runs("0 * * * *");
        assert_eq!(hourly.len(), hours, "{}", day.name);
        assert_eq!(day.runs("@hourly"), hourly, "{}", day.name);
    }
    // New York's 01:00 hourly run happens at 01:00 EDT and again at 01:00 EST.
    let hourly = NY_FALL.runs("0 * * * *");
    assert!(hourly.contains(&utc(2025, 11, 2, 5, 0)) && hourly.contains(&utc(2025, 11, 2, 6, 0)));
    // In spring the gap has no run: 01:45 EST is followed by 03:00 EDT.
    let quarters = NY_SPRING.runs("*/15 * * * *");
    let jump = quarters
        .iter()
        .position(|&at| at == utc(2025, 3, 9, 7, 0))
        .unwrap();
    assert_eq!(quarters[jump - 1], utc(2025, 3, 9, 6, 45));
    // An interval job inside the repeated hour runs on both passes, and one
    // inside the skipped hour does not run at all.
    assert_eq!(NY_FALL.runs("*/30 1 * * *").len(), 4);
    assert_eq!(NY_SPRING.runs("*/30 2 * * *"), Vec::<DateTime<Utc>>::new());
}

#[test]
fn next_after_never_goes_back_from_any_point_of_a_change_day() {
    for day in [&NY_SPRING, &NY_FALL, &BERLIN_SPRING, &BERLIN_FALL] {
        for expr in [
            "30 2 * * *",
            "30 1 * * *",
            "*/15 * * * *",
            "0 * * * *",
            "7 * * * * *",
            "30 1,2 * * *",
        ] {
            let schedule = schedule(expr, day.tz);
            let mut after = day.start - Duration::hours(1);
            while after < day.end + Duration::hours(1) {
                let next = schedule.next_after(after).unwrap();
                assert!(next > after, "{expr} on {}: {next} after {after}", day.name);
                assert!(
                    next - after <= Duration::days(1) + Duration::hours(1),
                    "{expr}: {next} after {after}"
                );
                after += Duration::seconds(413);
            }
        }
    }
}

#[test]
fn next_fire_times_in_other_time_zones() {
    let cases = [
        // India, +05:30 all year: 09:30 IST is 04:00Z.
        (
            "30 9 * * *",
            "Asia/Kolkata",
            utc(2025, 6, 1, 0, 0),
            utc(2025, 6, 1, 4, 0),
        ),
        // Local midnight of June 2 is 18:30Z on June 1.
        (
            "@daily",
            "Asia/Kolkata",
            utc(2025, 6, 1, 0, 0),
            utc(2025, 6, 1, 18, 30),
        ),
        // Nepal, +05:45: noon is 06:15Z.
        (
            "0 12 * * *",
            "Asia/Kathmandu",
            utc(2025, 1, 1, 0, 0),
            utc(2025, 1, 1, 6, 15),
        ),
        // Sydney in summer is +11 (AEDT): 00:00Z is 11:00, so the next 09:00 is tomorrow's, 22:00Z.
        (
            "0 9 * * *",
            "Australia/Sydney",
            utc(2025, 1, 1, 0, 0),
            utc(2025, 1, 1, 22, 0),
        ),
        // Sydney in winter is +10 (AEST): 09:00 is 23:00Z the day before.
        (
            "0 9 * * *",
            "Australia/Sydney",
            utc(2025, 7, 1, 0, 0),
            utc(2025, 7, 1, 23, 0),
        ),
        // Sydney springs forward on 2025-10-05 at 02:00 AEST (16:00Z): 02:30 runs at 03:00 AEDT.
        (
            "30 2 * * *",
            "Australia/Sydney",
            utc(2025, 10, 4, 12, 0),
            utc(2025, 10, 4, 16, 0),
        ),
        // ... and falls back on 2025-04-06 at 03:00 AEDT (16:00Z): 02:30 runs once, at 02:30 AEDT.
        (
            "30 2 * * *",
            "Australia/Sydney",
            utc(2025, 4, 5, 12, 0),
            utc(2025, 4, 5, 15, 30),
        ),
        // New York on a plain winter day, -05:00; weekdays only.
        (
            "0 9 * * MON-FRI",
            "America/New_York",
            utc(2025, 1, 4, 12, 0),
            utc(2025, 1, 6, 14, 0),
        ),
        // The last day of February 2024 (leap year), in UTC.
        (
            "0 12 L 2 *",
            DEFAULT_TIMEZONE,
            utc(2024, 1, 1, 0, 0),
            utc(2024, 2, 29, 12, 0),
        ),
    ];
    for (expr, tz, after, expected) in cases {
        let schedule = schedule(expr, tz);
        assert_eq!(schedule.timezone(), tz);
        assert_eq!(
            schedule.next_after(after),
            Some(expected),
            "{expr} in {tz} after {after}"
        );
    }
    // Sydney's fall-back day has the 02:30 run once.
    let sydney = schedule("30 2 * * *", "Australia/Sydney");
    let runs = runs_between(&sydney, utc(2025, 4, 5, 13, 0), utc(2025, 4, 6, 14, 0));
    assert_eq!(runs, [utc(2025, 4, 5, 15, 30)]);
}

#[test]
fn parse_accepts_the_documented_forms_and_names_bad_input() {
    for expr in [
        "0 9 * * 1-5",
        "*/10 * * * * *",
        "0 0 12 * * SUN",
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ] {
        let schedule = schedule(expr, DEFAULT_TIMEZONE);
        assert_eq!(schedule.expr(), expr);
        assert_eq!(schedule.timezone(), "UTC");
    }
    for expr in [
        "not a cron",
        "61 * * * *",
        "* * * * * * * *",
        "@fortnightly",
    ] {
        let err = CronSchedule::parse(expr, "UTC").unwrap_err();
        assert!(
            matches!(&err, CronError::InvalidExpression { expr: bad, .. } if bad == expr),
            "{err:?}"
        );
        assert_eq!(err.code(), "invalid_cron");
        assert!(err.to_string().contains(expr), "{err}");
    }
    let err = CronSchedule::parse("0 * * * *", "Europe/Atlantis").unwrap_err();
    assert_eq!(
        err,
        CronError::InvalidTimezone("Europe/Atlantis".to_owned())
    );
    assert_eq!(err.code(), "invalid_timezone");
    assert!(err.to_string().contains("Europe/Atlantis"), "{err}");
}

#[test]
fn due_occurrences_across_a_change_counts_real_runs() {
    // Down through New York's whole fall-back day: the quarter-hourly job had
    // 100 occurrences that day (from 00:00 EDT to 23:45 EST).
    let quarters = schedule("*/15 * * * *", "America/New_York");
    let now = NY_FALL.end - Duration::minutes(15) + Duration::seconds(30);
    let due = due_occurrences(
        &quarters,
        NY_FALL.start,
        now,
        MissedRunPolicy::CatchUp(3),
        DEFAULT_MISSED_RUN_GRACE,
    );
    assert_eq!(now, utc(2025, 11, 3, 4, 45) + Duration::seconds(30)); // 23:45:30 EST
    // 23:45 EST is on time; the three most recent missed ones are caught up.
    let expected = [
        utc(2025, 11, 3, 4, 0),
        utc(2025, 11, 3, 4, 15),
        utc(2025, 11, 3, 4, 30),
        utc(2025, 11, 3, 4, 45),
    ];
    assert_eq!(due.run, expected);
    assert_eq!(due.missed, 100 - 4);
    assert_eq!(due.next_fire, Some(NY_FALL.end));

    // A daily job in the gap, down through the spring-forward day: one occurrence, at 03:00 EDT.
    let daily = schedule("30 2 * * *", "America/New_York");
    let due = due_occurrences(
        &daily,
        utc(2025, 3, 9, 7, 0),
        NY_SPRING.end,
        MissedRunPolicy::Skip,
        DEFAULT_MISSED_RUN_GRACE,
    );
    assert_eq!((due.run.len(), due.missed), (0, 1));
    assert_eq!(due.next_fire, Some(utc(2025, 3, 10, 6, 30)));
}
