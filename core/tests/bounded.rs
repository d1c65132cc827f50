//! Big operations are cut into transactions of bounded size, so the store keeps serving other
//! calls (claims, records, lease renewals) while they run: a batch of many jobs, and a prune of
//! many rows.

#[macro_use]
mod common;

use std::time::Duration;

use common::t0;
use timehook::{JobSpec, ListFilter, ManualClock, RetryPolicy};

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

conformance! {
    /// A page of `list` leaves bodies out unless the filter asks for them, and a page with
    /// bodies is capped lower than one without.
    #[tokio::test]
    async fn list_pages_carry_bodies_only_when_asked(store) {
        let s = store.builder().open().await.unwrap();
        let specs = (0..1_200).map(|i| {
            JobSpec::post("https://example.com/hook")
                .at(t0() + chrono::Duration::hours(1))
                .body(format!("payload {i}"))
        });
        s.schedule_many(specs).await.unwrap();
        let page = s.list(&ListFilter::default().limit(5)).await.unwrap();
        assert_eq!(page.len(), 5);
        assert!(page.iter().all(|j| j.body.is_empty()), "{page:?}");
        // `get` has the body; `list` has it when asked.
        assert_eq!(s.get(&page[0].id).await.unwrap().body, b"payload 0");
        let page = s
            .list(&ListFilter::default().limit(5).with_bodies())
            .await
            .unwrap();
        assert_eq!(page[1].body, b"payload 1");
        let big = ListFilter::default().limit(5_000);
        assert_eq!(s.list(&big).await.unwrap().len(), 1_200);
        assert_eq!(s.list(&big.with_bodies()).await.unwrap().len(), 1_000);
    }
}

conformance! {
    /// A job's attempts read a page at a time come in order, each once, and end; a cursor that
    /// is not one is refused, naming `after`.
    #[tokio::test]
    async fn attempts_page_through_every_attempt_once(store) {
        let clock = ManualClock::new(t0());
        let s = store.builder().clock(clock.clone()).open().await.unwrap();
        let retry = RetryPolicy::delays(vec![Duration::from_secs(1); 6]);
        let id = s
            .schedule(JobSpec::post(common::refused_url()).retry(retry))
            .await
            .unwrap();
        for _ in 0..7 {
            assert_eq!(s.run_due().await.unwrap(), 1);
            clock.advance(Duration::from_secs(2));
        }
        let all = s.attempts(&id).await.unwrap();
        assert_eq!(all.len(), 7);
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = s.attempts_page(&id, after.as_deref(), 3).await.unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            paged.extend(page);
        }
        let numbers = |a: &[timehook::Attempt]| a.iter().map(|a| a.number).collect::<Vec<_>>();
        assert_eq!(numbers(&paged), numbers(&all));
        assert_eq!(numbers(&paged), (1..=7).collect::<Vec<_>>());
        let err = s.attempts_page(&id, Some("page-2"), 3).await.unwrap_err();
        assert_eq!((err.code(), err.field()), ("invalid_job", Some("after")));
    }
}

/// A writer that, on its first write, starts a task on the runtime and waits until it has run:
/// on a runtime with one worker thread, an export that wrote on that thread would never let the
/// task run.
#[derive(Default)]
struct WaitsForAnotherTask(Vec<u8>);

impl std::io::Write for WaitsForAnotherTask {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            let (ran, runs) = std::sync::mpsc::channel();
            tokio::runtime::Handle::current().spawn(async move { ran.send(()) });
            // A bound so that a regression fails rather than hangs.
            runs.recv_timeout(Duration::from_secs(30))
                .map_err(|_| std::io::Error::other("the runtime's other task never ran"))?;
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Export writes where blocking is allowed: the runtime's other tasks go on meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn export_writes_off_the_runtime_threads() {
    let store = common::TestStore::new(common::Backend::Sqlite);
    let s = store.builder().open().await.unwrap();
    // On the runtime's one worker thread, as an app's export would be.
    let out = tokio::spawn(async move {
        let mut out = WaitsForAnotherTask::default();
        let n = s
            .export_attempts(
                &timehook::ExportFilter::default(),
                timehook::ExportFormat::Csv,
                &mut out,
            )
            .await
            .unwrap();
        assert_eq!(n, 0);
        out
    })
    .await
    .unwrap();
    assert!(
        String::from_utf8(out.0)
            .unwrap()
            .starts_with("started_at,job_id")
    );
}

conformance! {
    /// `submit` tells a new job from an idempotency-key hit, in one call and in a batch
    /// (where a key repeated within the batch also counts as a hit).
    #[tokio::test]
    async fn submit_tells_an_idempotency_hit_from_a_new_job(store) {
        let s = store.builder().open().await.unwrap();
        let spec = |key: &str| {
            JobSpec::post("https://example.com/hook")
                .at(t0() + chrono::Duration::hours(1))
                .idempotency_key(key)
        };
        let first = s.submit(spec("order-1")).await.unwrap();
        assert!(!first.existing);
        let again = s.submit(spec("order-1")).await.unwrap();
        assert!(again.existing);
        assert_eq!(again.id, first.id);
        // A job without a key among them is always new.
        let keyless = || JobSpec::post("https://example.com/hook").at(t0() + chrono::Duration::hours(1));
        let batch = s
            .submit_many([spec("order-1"), keyless(), spec("order-2"), spec("order-2")])
            .await
            .unwrap();
        let flags: Vec<bool> = batch.iter().map(|b| b.existing).collect();
        assert_eq!(flags, [true, false, false, true]);
        assert_eq!(batch[0].id, first.id);
        assert_eq!(batch[2].id, batch[3].id);
        assert_ne!(batch[1].id, batch[2].id);
        assert_eq!(s.get(&batch[1].id).await.unwrap().id, batch[1].id);
        // A batch without keys (stored without looking for conflicts).
        let plain = s.submit_many([keyless(), keyless()]).await.unwrap();
        assert!(plain.iter().all(|b| !b.existing));
        assert_ne!(plain[0].id, plain[1].id);
        for b in &plain {
            assert_eq!(s.get(&b.id).await.unwrap().id, b.id);
        }
        assert_eq!(s.list(&ListFilter::default()).await.unwrap().len(), 5);
    }
}
