//! Dead letters and recovery, test sends, export of attempt logs, and flow control per endpoint.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Receiver, t0};
use timehook::{
    Clock, DeadLetterFilter, EventType, ExportFilter, ExportFormat, JobSpec, JobState, ManualClock,
    RetryPolicy, Scheduler,
};

async fn scheduler(store: &common::TestStore, clock: &ManualClock) -> Scheduler {
    store.builder().clock(clock.clone()).open().await.unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

conformance! {
    #[tokio::test]
    async fn everything_that_failed_in_a_window_is_recovered_with_the_same_webhook_ids(store) {
        let clock = ManualClock::new(t0());
        let s = scheduler(&store, &clock).await;
        let r = Receiver::start().await;
        // Failures at t0 (before the outage window), t0+1h and t0+2h (inside), t0+3h (after).
        let mut ids = Vec::new();
        for hour in 0..4 {
            let id = s
                .schedule(
                    JobSpec::post(r.url("/flaky/1"))
                        .retry(RetryPolicy::none())
                        .label("billing"),
                )
                .await
                .unwrap();
            s.run_due().await.unwrap();
            ids.push(id);
            if hour < 3 {
                clock.advance(secs(3600));
            }
        }
        let window = DeadLetterFilter::default()
            .failed_after(t0() + chrono::Duration::minutes(30))
            .failed_before(t0() + chrono::Duration::minutes(150));
        assert_eq!(s.retry_failed(&window).await.unwrap(), 2);
        let states: Vec<JobState> = futures_states(&s, &ids).await;
        assert_eq!(
            states,
            [
                JobState::Failed,
                JobState::Scheduled,
                JobState::Scheduled,
                JobState::Failed
            ]
        );
        assert_eq!(s.run_due().await.unwrap(), 2);
        for id in &ids[1..3] {
            assert_eq!(s.get(id).await.unwrap().state, JobState::Succeeded);
            let attempts = s.attempts(id).await.unwrap();
            assert_eq!(attempts.len(), 2);
            assert_eq!(
                attempts[0].execution_id, attempts[1].execution_id,
                "same webhook-id"
            );
        }
        // By label, the rest.
        let rest = DeadLetterFilter::default().label("billing");
        assert_eq!(s.retry_failed(&rest).await.unwrap(), 2);
        assert_eq!(
            s.retry_failed(&rest).await.unwrap(),
            0,
            "nothing failed any more"
        );
    }
}

async fn futures_states(s: &Scheduler, ids: &[timehook::JobId]) -> Vec<JobState> {
    let mut out = Vec::new();
    for id in ids {
        out.push(s.get(id).await.unwrap().state);
    }
    out
}

conformance! {
    #[tokio::test]
    async fn purge_deletes_dead_letters_and_nothing_else(store) {
        let clock = ManualClock::new(t0());
        let s = scheduler(&store, &clock).await;
        let r = Receiver::start().await;
        let dead = s
            .schedule(JobSpec::post(r.url("/status/400")).name("a"))
            .await
            .unwrap();
        let other_dead = s
            .schedule(JobSpec::post(r.url("/status/400")).name("b"))
            .await
            .unwrap();
        let fine = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let later = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(60)))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        let only_a = DeadLetterFilter::default().name("a");
        assert_eq!(s.purge(&only_a).await.unwrap(), 1);
        assert!(s.get(&dead).await.is_err());
        assert!(s.attempts(&dead).await.is_err());
        assert_eq!(s.get(&other_dead).await.unwrap().state, JobState::Failed);
        assert_eq!(s.purge(&DeadLetterFilter::default()).await.unwrap(), 1);
        assert_eq!(s.get(&fine).await.unwrap().state, JobState::Succeeded);
        assert_eq!(s.get(&later).await.unwrap().state, JobState::Scheduled);
    }
}

conformance! {
    #[tokio::test]
    async fn send_test_delivers_a_signed_sample_event_now(store) {
        let clock = ManualClock::new(t0());
        let s = store.builder()
            .clock(clock.clone())
            .environment("staging")
            .open()
            .await
            .unwrap();
        let c = clock.clone();
        let r = Receiver::start_with_clock(Arc::new(move || c.now().timestamp())).await;
        r.set_verifier(s.verifier().clone());
        let attempt = s
            .send_test(&r.url("/events"), EventType::JobFailed)
            .await
            .unwrap();
        assert_eq!(attempt.status, Some(200));
        assert!(attempt.succeeded());
        let got = r.seen().pop().unwrap();
        assert_eq!(got.verified, Ok(()));
        let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(body["type"], "job.failed");
        assert_eq!(body["data"]["environment"], "staging");
        assert_eq!(body["data"]["status"], "failure");
        // A failing test send is reported, not retried.
        let failed = s
            .send_test(&r.url("/status/500"), EventType::JobCompleted)
            .await
            .unwrap();
        assert_eq!(failed.status, Some(500));
        assert_eq!(failed.next_retry_at, None);
        assert_eq!(
            s.send_test("ftp://x", EventType::JobCompleted)
                .await
                .unwrap_err()
                .code(),
            "invalid_job"
        );
    }
}

conformance! {
    #[tokio::test]
    async fn the_attempt_log_exports_as_csv_and_json_lines_with_filters(store) {
        let clock = ManualClock::new(t0());
        let s = scheduler(&store, &clock).await;
        let r = Receiver::start().await;
        let a = s
            .schedule(
                JobSpec::post(r.url("/status/500"))
                    .name("a, \"quoted\"")
                    .retry(RetryPolicy::delays([secs(10)])),
            )
            .await
            .unwrap();
        s.run_due().await.unwrap();
        clock.advance(secs(10));
        let b = s
            .schedule(JobSpec::post(r.url("/ok")).name("b"))
            .await
            .unwrap();
        s.run_due().await.unwrap();

        let mut csv = Vec::new();
        let n = s
            .export_attempts(&ExportFilter::default(), ExportFormat::Csv, &mut csv)
            .await
            .unwrap();
        assert_eq!(n, 3);
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "started_at,job_id,job_name,job_state,execution_id,attempt,duration_ms,status,error,message,next_retry_at"
        );
        assert_eq!(lines.len(), 4);
        assert!(
            lines[1].starts_with(&format!(
                "2025-01-15T10:00:00.000Z,{a},\"a, \"\"quoted\"\"\",failed,"
            )),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].ends_with(",500,status,HTTP 500,2025-01-15T10:00:10.000Z"),
            "{}",
            lines[1]
        );

        let mut jsonl = Vec::new();
        let filter = ExportFilter::default().job(b.clone());
        assert_eq!(
            s.export_attempts(&filter, ExportFormat::JsonLines, &mut jsonl)
                .await
                .unwrap(),
            1
        );
        let row: serde_json::Value =
            serde_json::from_slice(jsonl.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(row["job_id"], b.as_str());
        assert_eq!(row["status"], 200);
        assert_eq!(row["job_state"], "succeeded");

        let window = ExportFilter::default().since(t0() + chrono::Duration::seconds(5));
        let mut out = Vec::new();
        assert_eq!(
            s.export_attempts(&window, ExportFormat::JsonLines, &mut out)
                .await
                .unwrap(),
            2
        );
        let failed = ExportFilter::default().state(JobState::Failed);
        let mut out = Vec::new();
        assert_eq!(
            s.export_attempts(&failed, ExportFormat::Csv, &mut out)
                .await
                .unwrap(),
            2
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_large_export_pages_through_the_log(store) {
        let clock = ManualClock::new(t0());
        let s = scheduler(&store, &clock).await;
        let r = Receiver::start().await;
        s.schedule_many((0..2500).map(|_| JobSpec::post(r.url("/ok"))))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        let mut out = Vec::new();
        let n = s
            .export_attempts(&ExportFilter::default(), ExportFormat::JsonLines, &mut out)
            .await
            .unwrap();
        assert_eq!(n, 2500);
        let mut execs: Vec<String> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice::<serde_json::Value>(l).unwrap()["execution_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        execs.sort();
        execs.dedup();
        assert_eq!(execs.len(), 2500, "every attempt exactly once across pages");
    }
}

conformance! {
    /// A burst to one receiver respects its in-flight bound and rate, while another endpoint is served
    /// at once. Time for the rate comes from the manual clock.
    #[tokio::test]
    async fn a_burst_to_one_endpoint_respects_its_limits_and_does_not_slow_others(store) {
        let clock = ManualClock::new(t0());
        let busy = Receiver::start().await;
        let other = Receiver::start().await;
        let s = store.builder()
            .clock(clock.clone())
            .max_concurrency(16)
            .endpoint_limits(&busy.base, 2, Some(5.0))
            .open()
            .await
            .unwrap();
        s.schedule_many((0..200).map(|_| JobSpec::post(busy.url("/slow/50"))))
            .await
            .unwrap();
        s.schedule_many((0..20).map(|_| JobSpec::post(other.url("/ok"))))
            .await
            .unwrap();
        s.start().unwrap();
        for _ in 0..20 {
            other.next().await;
        }
        // Without the clock moving, the busy endpoint has had at most its one-second burst of 5.
        for _ in 0..5 {
            busy.next().await;
        }
        assert!(busy.seen().len() <= 5, "rate: {}", busy.seen().len());
        for second in 1..=3u64 {
            clock.advance(secs(1));
            while busy.seen().len() < 5 + 5 * second as usize {
                busy.next().await;
            }
            assert!(busy.seen().len() <= 5 + 5 * second as usize);
        }
        assert!(
            busy.max_in_flight() <= 2,
            "in flight: {}",
            busy.max_in_flight()
        );
        s.shutdown(secs(5)).await.unwrap();
    }
}

conformance! {
    /// The size: 10k jobs due in the same second to one receiver. Its bounds (8 in flight,
    /// 2000 per second) hold throughout, each second of the manual clock releases at most one second's
    /// worth, and another endpoint's jobs are all served before the herd's first second is through.
    #[tokio::test]
    async fn a_herd_of_10k_due_together_keeps_its_endpoint_limits(store) {
        const HERD: usize = 10_000;
        const RATE: usize = 2_000;
        let clock = ManualClock::new(t0());
        let busy = Receiver::start().await;
        let other = Receiver::start().await;
        let s = store.builder()
            .clock(clock.clone())
            .max_concurrency(64)
            .endpoint_limits(&busy.base, 8, Some(RATE as f64))
            .open()
            .await
            .unwrap();
        s.schedule_many((0..HERD).map(|_| JobSpec::post(busy.url("/ok"))))
            .await
            .unwrap();
        s.schedule_many((0..20).map(|_| JobSpec::post(other.url("/ok"))))
            .await
            .unwrap();
        s.start().unwrap();
        for _ in 0..20 {
            other.next().await;
        }
        let mut got = 0;
        for second in 0..HERD / RATE {
            if second > 0 {
                clock.advance(secs(1));
            }
            let allowed = RATE * (second + 1);
            while got < allowed {
                busy.next().await;
                got += 1;
            }
            let seen = busy.seen().len();
            assert!(seen <= allowed, "second {second}: {seen} > {allowed}");
        }
        let ids: std::collections::HashSet<String> = busy
            .seen()
            .iter()
            .map(|r| r.webhook_id().to_owned())
            .collect();
        assert_eq!(ids.len(), HERD, "every job delivered once");
        assert!(
            busy.max_in_flight() <= 8,
            "in flight: {}",
            busy.max_in_flight()
        );
        s.shutdown(secs(5)).await.unwrap();
    }
}
