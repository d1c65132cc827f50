//! Big operations are cut into transactions of bounded size, so the store keeps serving other
//! calls (claims, records, lease renewals) while they run: a batch of many jobs, and a prune of
//! many rows.

#[macro_use]
mod common;

use std::time::Duration;

use common::t0;
use timehook::{JobSpec, ListFilter, ManualClock};

conformance! {
    /// While a batch of 200,000 jobs is written, its first jobs are visible to (and other calls
    /// are answered for) everyone before the batch is done: it does not hold the store (on
    /// SQLite, its one writer) for the whole batch. Every job is stored, once, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_calls_are_served_while_a_huge_batch_is_written(store) {
        const JOBS: usize = 200_000;
        let s = std::sync::Arc::new(store.builder().open().await.unwrap());
        let batch = tokio::spawn({
            let s = s.clone();
            async move {
                let specs = (0..JOBS).map(|i| {
                    JobSpec::post("https://example.com/hook").name(format!("job-{i}"))
                });
                s.schedule_many(specs).await
            }
        });
        // Wait for the first jobs to show, then look for the last one: written in one
        // transaction, it would show with the first.
        loop {
            let page = s.list(&ListFilter::default().limit(1)).await.unwrap();
            if !page.is_empty() {
                break;
            }
            assert!(!batch.is_finished(), "the batch ended before a call was answered");
        }
        let last_name = format!("job-{}", JOBS - 1);
        let last_meanwhile = s
            .list(&ListFilter::default().name(last_name.as_str()))
            .await
            .unwrap();
        assert!(
            last_meanwhile.is_empty(),
            "the batch's first jobs showed only with its last: written in one transaction"
        );
        let ids = batch.await.unwrap().unwrap();
        assert_eq!(ids.len(), JOBS);
        let first = s.get(&ids[0]).await.unwrap();
        let last = s.get(&ids[JOBS - 1]).await.unwrap();
        assert_eq!(first.name.as_deref(), Some("job-0"));
        assert_eq!(last.name.as_deref(), Some(last_name.as_str()));
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), JOBS);
    }
}

conformance! {
    /// A prune with more to delete than one transaction takes goes on until all is deleted, and
    /// counts every job.
    #[tokio::test]
    async fn a_prune_of_many_jobs_deletes_them_all(store) {
        const JOBS: usize = 2_500;
        let clock = ManualClock::new(t0());
        let s = store
            .builder()
            .clock(clock.clone())
            .retention(Duration::from_secs(60))
            .open()
            .await
            .unwrap();
        let ids = s
            .schedule_many((0..JOBS).map(|_| JobSpec::post("https://example.com/hook").at(t0() + chrono::Duration::hours(1))))
            .await
            .unwrap();
        for id in &ids {
            s.cancel(id).await.unwrap();
        }
        let kept = s
            .schedule(JobSpec::post("https://example.com/hook").at(t0() + chrono::Duration::hours(1)))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(120));
        assert_eq!(s.prune().await.unwrap(), JOBS);
        let left = s.list(&ListFilter::default().limit(10)).await.unwrap();
        assert_eq!(left.iter().map(|j| &j.id).collect::<Vec<_>>(), vec![&kept]);
        assert_eq!(s.prune().await.unwrap(), 0);
    }
}
