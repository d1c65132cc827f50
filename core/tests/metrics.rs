//! The metrics facade: attempts by outcome, latency and lateness histograms, gauges. Its own test
//! binary, since a `metrics` recorder is global to the process.

#[macro_use]
mod common;

use common::{Receiver, t0};
use timehook::{JobSpec, ManualClock, RetryPolicy};

#[tokio::test]
async fn attempts_latency_lateness_and_gauges_are_recorded() {
    {
        let store = common::TestStore::new(common::Backend::Sqlite);
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .unwrap();
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let s = store.builder().clock(clock.clone()).open().await.unwrap();
        s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        s.schedule(
            JobSpec::post(r.url("/status/500"))
                .retry(RetryPolicy::delays([std::time::Duration::from_secs(9)])),
        )
        .await
        .unwrap();
        s.schedule(JobSpec::post(r.url("/status/400")))
            .await
            .unwrap();
        s.schedule(JobSpec::post(r.url("/ok")).after(std::time::Duration::from_secs(3600)))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        // The gauges are refreshed by the running loop as it starts: wait (bounded) until they appear.
        s.start().unwrap();
        let mut text = handle.render();
        for _ in 0..500 {
            if text.contains("timehook_failed_jobs") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            text = handle.render();
        }
        s.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
        let value = |name: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
        };
        assert_eq!(value("timehook_attempts_total{outcome=\"success\"}"), 1.0);
        assert_eq!(value("timehook_attempts_total{outcome=\"retry\"}"), 1.0);
        assert_eq!(value("timehook_attempts_total{outcome=\"failure\"}"), 1.0);
        assert_eq!(value("timehook_attempt_duration_seconds_count"), 3.0);
        assert_eq!(value("timehook_lateness_seconds_count"), 3.0);
        // Gauges taken when the loop started: the retrying job and the far one are pending, one failed.
        assert_eq!(value("timehook_pending_executions"), 2.0);
        assert_eq!(value("timehook_failed_jobs"), 1.0);

        // Jobs whose stored definition no longer reads are failed and counted.
        let store = common::TestStore::new(common::Backend::Sqlite);
        let s = store.builder().clock(clock.clone()).open().await.unwrap();
        let cron = s
            .schedule(JobSpec::cron(r.url("/ok"), "* * * * *"))
            .await
            .unwrap();
        let once = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        store
            .execute(&format!(
                "UPDATE jobs SET cron_tz = 'Mars/Olympus_Mons' WHERE id = '{cron}';
                 UPDATE jobs SET headers = 'x' WHERE id = '{once}';"
            ))
            .await;
        clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(s.run_due().await.unwrap(), 1);
        s.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
        let text = handle.render();
        let unreadable = text
            .lines()
            .find(|l| l.starts_with("timehook_unreadable_jobs_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        assert_eq!(unreadable, Some(2.0), "{text}");
    }
}
