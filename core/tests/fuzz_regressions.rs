//! Inputs that the fuzz targets in `fuzz/` found to misbehave, kept as plain tests (see
//! FUZZING.md for how each was found).

use chrono::DateTime;
use timehook::cron::CronSchedule;
use timehook::{Error, JobSpec, ManualClock, Scheduler};

/// Cron target, 2026-12-06: `, * * * *` in `Australia/Lord_Howe` ran past the 10 s timeout.
/// croner reads a list of only empty items as a field with no value; with the second, minute or
/// hour field empty, `CronSchedule::parse`'s check that the expression ever matches stepped
/// through every hour (or minute) to the year 5000: 5.6 s for `, * * * *` and 11.8 s for
/// `, * * * * *` in a release build, on the thread that called `schedule`.
#[test]
fn cron_field_without_values_is_refused_at_once() {
    for expr in [
        ", * * * *",
        ",,, * * * *",
        ", * * * * *",
        "0 , * * * *",
        "* , * * *",
        "0 0 * , *",
    ] {
        for tz in ["Australia/Lord_Howe", "UTC"] {
            // Refused by the check on the fields, before any search for an occurrence (the
            // search, which used to run, refuses with "never matches" after seconds).
            let err = CronSchedule::parse(expr, tz).unwrap_err();
            assert_eq!(err.code(), "invalid_cron", "{expr:?}");
            assert!(err.to_string().contains("has no value"), "{expr:?}: {err}");
        }
    }
    // Empty items beside real ones are ignored, as before, and an empty day-of-month list
    // still leaves the day-of-week one (either may match).
    for expr in ["1,,2 * * * *", "0 0 , * 1"] {
        assert!(CronSchedule::parse(expr, "UTC").is_ok(), "{expr:?}");
    }
}

/// The same input through the public API: `schedule` refuses it with that cron error.
#[tokio::test]
async fn schedule_refuses_a_cron_field_without_values_at_once() {
    let clock = ManualClock::new(DateTime::from_timestamp(1_796_515_200, 0).unwrap());
    let scheduler = Scheduler::in_memory().clock(clock).open().await.unwrap();
    let result = scheduler
        .schedule(JobSpec::cron("https://example.com/hook", ", * * * *").tz("Australia/Lord_Howe"))
        .await;
    assert!(
        matches!(&result, Err(Error::Cron(e)) if e.to_string().contains("has no value")),
        "{result:?}"
    );
}
