//! One unreadable row never stops delivery: a stored cron time zone removed from the tz database,
//! or a method, headers, retry policy or signing settings that no longer parse, fail that job
//! (error kind `unreadable`, a message saying what did not read) and every other job goes on.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Receiver, t0};
use timehook::{AttemptError, JobSpec, JobState, ManualClock, Scheduler};

async fn scheduler(store: &common::TestStore, clock: &ManualClock) -> Scheduler {
    store.builder().clock(clock.clone()).open().await.unwrap()
}

conformance! {
    #[tokio::test]
    async fn unreadable_rows_are_failed_and_the_rest_is_delivered(store) {
        let clock = ManualClock::new(t0());
        let s = scheduler(&store, &clock).await;
        let r = Receiver::start().await;
        let cron = s
            .schedule(JobSpec::cron(r.url("/ok"), "*/5 * * * *").tz("America/Los_Angeles"))
            .await
            .unwrap();
        let bad_method = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let bad_headers = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let bad_retry = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let bad_signing = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let good = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        // What a tz database update (US/Pacific-New went in 2020b) or a hand-written row leaves.
        store
            .execute(&format!(
                "UPDATE jobs SET cron_tz = 'US/Pacific-New' WHERE id = '{cron}';
                 UPDATE jobs SET method = 'FETCH' WHERE id = '{bad_method}';
                 UPDATE jobs SET headers = '{{not json' WHERE id = '{bad_headers}';
                 UPDATE jobs SET retry = '{{\"kind\":\"sometimes\"}}' WHERE id = '{bad_retry}';
                 UPDATE jobs SET signing = '{{\"style\":\"carrier-pigeon\"}}' WHERE id = '{bad_signing}';"
            ))
            .await;

        // Every job can still be read, and listed.
        assert_eq!(s.list(&Default::default()).await.unwrap().len(), 6);
        clock.advance(Duration::from_secs(300));
        assert_eq!(s.run_due().await.unwrap(), 5, "the cron job has no occurrence to deliver");
        assert_eq!(r.seen().len(), 1, "only the good job reached the receiver");
        assert_eq!(s.get(&good).await.unwrap().state, JobState::Succeeded);

        for (id, what) in [
            (&cron, "US/Pacific-New"),
            (&bad_method, "method \"FETCH\""),
            (&bad_headers, "headers"),
            (&bad_retry, "retry policy"),
            (&bad_signing, "signing settings"),
        ] {
            let job = s.get(id).await.unwrap();
            assert_eq!(job.state, JobState::Failed, "{what}");
            assert_eq!(job.next_run_at, None, "{what}");
            let attempts = s.attempts(id).await.unwrap();
            assert_eq!(attempts.len(), 1, "{what}");
            assert_eq!(attempts[0].error, Some(AttemptError::Unreadable), "{what}");
            assert_eq!(attempts[0].status, None, "{what}: no request was sent");
            let message = attempts[0].message.as_deref().unwrap();
            assert!(message.contains(what), "{what}: {message}");
        }

        // The loop goes on: later jobs are delivered, and the failed ones stay failed.
        let later = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        clock.advance(Duration::from_secs(300));
        assert_eq!(s.run_due().await.unwrap(), 1);
        assert_eq!(s.get(&later).await.unwrap().state, JobState::Succeeded);
        assert_eq!(r.seen().len(), 2);
        assert_eq!(s.get(&cron).await.unwrap().state, JobState::Failed);
        s.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}
