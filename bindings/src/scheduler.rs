//! [`SchedulerHandle`]: a core [`Scheduler`] behind plain inputs and outputs, that can be closed
//! from any thread.
//!
//! Every operation returns a `'static` future, so a binding can either wait for it
//! ([`crate::block_on`]) or run it in the background ([`crate::spawn_then`]). Input conversion
//! happens inside the future, off the language's thread.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use timehook::Scheduler;
use timehook::signing::Verifier;

use crate::data::{AttemptRecord, EpochMs, JobRecord};
use crate::error::{BindingError, ErrorCode, Result};
use crate::jobs::{JobInput, ListQuery, into_specs, parse_job_id};
use crate::options::SchedulerOptions;
use crate::outcomes::{
    DeadLetterQuery, EndpointRecord, EventBatch, ExportQuery, ExportStream, Listener,
    SubscriptionRecord, parse_event_type, parse_event_types, parse_export_format,
    parse_listener_kinds,
};
use crate::runtime;

/// An open scheduler. Cheap to share behind an `Arc`; every method may be called from any thread.
pub struct SchedulerHandle {
    inner: RwLock<Option<Arc<Scheduler>>>,
}

impl std::fmt::Debug for SchedulerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn closed() -> BindingError {
    BindingError::new(
        ErrorCode::Closed,
        "the scheduler is closed; open it again to use it",
    )
}

impl SchedulerHandle {
    /// Opens the store (creating and migrating it if needed) and, with `autostart`, starts
    /// delivering on the bindings' runtime.
    ///
    /// # Errors
    /// `invalid_secret`, `invalid_config` or `store_error`.
    pub async fn open(options: SchedulerOptions) -> Result<SchedulerHandle> {
        let autostart = options.autostart;
        let scheduler = options.into_builder()?.open().await?;
        if autostart {
            runtime::within(|| scheduler.start())??;
        }
        Ok(SchedulerHandle {
            inner: RwLock::new(Some(Arc::new(scheduler))),
        })
    }

    fn current(&self) -> Result<Arc<Scheduler>> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(closed)
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none()
    }

    /// Begins delivering in the background (a no-op if already delivering).
    ///
    /// # Errors
    /// `closed`.
    pub fn start(&self) -> Result<()> {
        let s = self.current()?;
        Ok(runtime::within(|| s.start())??)
    }

    /// Schedules jobs in one transaction (all or none) and returns their ids in input order.
    pub fn schedule_many(
        &self,
        jobs: Vec<JobInput>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        let s = self.current();
        async move {
            let s = s?;
            let specs = into_specs(jobs)?;
            let ids = s.schedule_many(specs).await?;
            Ok(ids.into_iter().map(|id| id.to_string()).collect())
        }
    }

    /// As `schedule_many`, with whether each job's idempotency key matched a job stored before
    /// (then nothing was created): `(id, existing)` in input order.
    pub fn submit_many(
        &self,
        jobs: Vec<JobInput>,
    ) -> impl Future<Output = Result<Vec<(String, bool)>>> + Send + 'static {
        let s = self.current();
        async move {
            let s = s?;
            let specs = into_specs(jobs)?;
            let all = s.submit_many(specs).await?;
            Ok(all
                .into_iter()
                .map(|s| (s.id.to_string(), s.existing))
                .collect())
        }
    }

    /// One job.
    pub fn get(&self, id: String) -> impl Future<Output = Result<JobRecord>> + Send + 'static {
        let s = self.current();
        async move {
            let id = parse_job_id(&id)?;
            Ok(s?.get(&id).await?.into())
        }
    }

    /// A page of jobs.
    pub fn list(
        &self,
        query: ListQuery,
    ) -> impl Future<Output = Result<Vec<JobRecord>>> + Send + 'static {
        let s = self.current();
        async move {
            let filter = query.into_filter()?;
            let jobs = s?.list(&filter).await?;
            Ok(jobs.into_iter().map(JobRecord::from).collect())
        }
    }

    /// Every attempt of a job, oldest first.
    pub fn attempts(
        &self,
        id: String,
    ) -> impl Future<Output = Result<Vec<AttemptRecord>>> + Send + 'static {
        let s = self.current();
        async move {
            let id = parse_job_id(&id)?;
            let attempts = s?.attempts(&id).await?;
            Ok(attempts.into_iter().map(AttemptRecord::from).collect())
        }
    }

    /// A page of a job's attempts, oldest first: at most `limit`, after the attempt whose cursor
    /// is `after`.
    pub fn attempts_page(
        &self,
        id: String,
        after: Option<String>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AttemptRecord>>> + Send + 'static {
        let s = self.current();
        async move {
            let id = parse_job_id(&id)?;
            let attempts = s?.attempts_page(&id, after.as_deref(), limit).await?;
            Ok(attempts.into_iter().map(AttemptRecord::from).collect())
        }
    }

    /// Cancels a job.
    pub fn cancel(&self, id: String) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.cancel(&parse_job_id(&id)?).await?) }
    }

    /// Moves a pending one-time job to `at_ms`.
    pub fn reschedule(
        &self,
        id: String,
        at_ms: EpochMs,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move {
            let id = parse_job_id(&id)?;
            let at = chrono::DateTime::from_timestamp_millis(at_ms).ok_or_else(|| {
                BindingError::invalid_job(
                    "at",
                    format!("{at_ms} ms since the epoch is out of range"),
                )
            })?;
            Ok(s?.reschedule(&id, at).await?)
        }
    }

    /// Pauses a cron job.
    pub fn pause(&self, id: String) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.pause(&parse_job_id(&id)?).await?) }
    }

    /// Resumes a paused cron job.
    pub fn resume(&self, id: String) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.resume(&parse_job_id(&id)?).await?) }
    }

    /// Runs a job now; returns the execution id the delivery will carry.
    pub fn trigger(&self, id: String) -> impl Future<Output = Result<String>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.trigger(&parse_job_id(&id)?).await?.to_string()) }
    }

    /// Re-queues a failed job.
    pub fn retry(&self, id: String) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.retry(&parse_job_id(&id)?).await?) }
    }

    /// Deletes finished jobs past their retention; returns how many.
    pub fn prune(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        let s = self.current();
        async move { Ok(u64::try_from(s?.prune().await?).unwrap_or(u64::MAX)) }
    }

    /// Delivers everything due now and waits for the outcomes; returns the number of attempts.
    /// Runs on the bindings' runtime, so it works from a blocking call too.
    pub fn run_due(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        let s = self.current();
        async move {
            let s = s?;
            let n = runtime::on_runtime("run_due", async move { s.run_due().await }).await?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        }
    }

    /// Subscribes `url` to events (`job.completed`, ...), persistently.
    pub fn subscribe(
        &self,
        url: String,
        events: Vec<String>,
    ) -> impl Future<Output = Result<SubscriptionRecord>> + Send + 'static {
        let s = self.current();
        async move {
            let events = parse_event_types(&events)?;
            Ok(s?.subscribe(&url, &events).await?.into())
        }
    }

    /// Deletes a subscription.
    ///
    /// # Errors
    /// `not_found` for an unknown id.
    pub fn unsubscribe(&self, id: String) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.unsubscribe(&id).await?) }
    }

    /// Every subscription, oldest first.
    pub fn subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<SubscriptionRecord>>> + Send + 'static {
        let s = self.current();
        async move {
            let subs = s?.subscriptions().await?;
            Ok(subs.into_iter().map(SubscriptionRecord::from).collect())
        }
    }

    /// Endpoints that are failing or disabled.
    pub fn endpoints(&self) -> impl Future<Output = Result<Vec<EndpointRecord>>> + Send + 'static {
        let s = self.current();
        async move {
            let endpoints = s?.endpoints().await?;
            Ok(endpoints.into_iter().map(EndpointRecord::from).collect())
        }
    }

    /// Re-enables a disabled endpoint (`scheme://host:port` or any URL on it).
    ///
    /// # Errors
    /// `invalid_state` if it is not disabled.
    pub fn enable_endpoint(
        &self,
        endpoint: String,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let s = self.current();
        async move { Ok(s?.enable_endpoint(&endpoint).await?) }
    }

    /// Re-queues the dead letters matching `query`, due now with a fresh retry budget; returns how
    /// many.
    pub fn retry_failed(
        &self,
        query: DeadLetterQuery,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let s = self.current();
        async move {
            let filter = query.into_filter()?;
            Ok(u64::try_from(s?.retry_failed(&filter).await?).unwrap_or(u64::MAX))
        }
    }

    /// Deletes the dead letters matching `query`; returns how many.
    pub fn purge(
        &self,
        query: DeadLetterQuery,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let s = self.current();
        async move {
            let filter = query.into_filter()?;
            Ok(u64::try_from(s?.purge(&filter).await?).unwrap_or(u64::MAX))
        }
    }

    /// Delivers a signed sample event of type `event` to `url` now; returns the attempt.
    pub fn send_test(
        &self,
        url: String,
        event: String,
    ) -> impl Future<Output = Result<AttemptRecord>> + Send + 'static {
        let s = self.current();
        async move {
            let event = parse_event_type(&event)?;
            let s = s?;
            let attempt =
                runtime::on_runtime("send_test", async move { s.send_test(&url, event).await })
                    .await?;
            Ok(attempt.into())
        }
    }

    /// Writes the attempt log matching `query` to the file at `path` (created or truncated) as
    /// `csv` or `jsonl`, streaming; returns the number of rows. A failed export removes the file.
    pub fn export_to_path(
        &self,
        path: String,
        format: String,
        query: ExportQuery,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let s = self.current();
        async move {
            let (s, format, filter) = (s?, parse_export_format(&format)?, query.into_filter()?);
            let rt = runtime::runtime()?;
            rt.spawn_blocking(move || {
                let file = std::fs::File::create(&path).map_err(|e| {
                    BindingError::new(
                        ErrorCode::StoreError,
                        format!("cannot create the export file {path:?}: {e}"),
                    )
                })?;
                let out = std::io::BufWriter::with_capacity(64 * 1024, file);
                let written = rt.block_on(s.export_attempts(&filter, format, out));
                if written.is_err() {
                    // Best effort: a partial export is worse than none.
                    let _ = std::fs::remove_file(&path);
                }
                Ok(written?)
            })
            .await
            .map_err(|e| BindingError::internal(format!("export failed: {e}")))?
        }
    }

    /// Starts exporting the attempt log matching `query` as `csv` or `jsonl`, read back in chunks.
    ///
    /// # Errors
    /// `closed`, or `invalid_config` / `invalid_job` for a bad format or query.
    pub fn export_stream(&self, format: String, query: ExportQuery) -> Result<ExportStream> {
        let s = self.current()?;
        let (format, filter) = (parse_export_format(&format)?, query.into_filter()?);
        ExportStream::start(
            move |out| async move { Ok(s.export_attempts(&filter, format, out).await?) },
        )
    }

    /// Calls `call` with every event of the given kinds (see
    /// [`LISTENER_EVENTS`](crate::outcomes::LISTENER_EVENTS); empty means all), in batches of the
    /// events waiting at once, on a thread of its own, until the listener is stopped or dropped or
    /// the scheduler closes.
    ///
    /// # Errors
    /// `closed`, or `invalid_config` for an unknown kind.
    pub fn listen<F>(&self, kinds: &[String], call: F) -> Result<Listener>
    where
        F: FnMut(EventBatch<'_>) + Send + 'static,
    {
        let kinds = parse_listener_kinds(kinds)?;
        let rx = self.current()?.events();
        Listener::spawn(rx, kinds, call)
    }

    /// A verifier for this scheduler's own signing keys.
    ///
    /// # Errors
    /// `closed`.
    pub fn verifier(&self) -> Result<Verifier> {
        Ok(self.current()?.verifier().clone())
    }

    /// Stops delivering: deliveries in flight get up to `grace` to finish, the rest are recorded as
    /// interrupted and made due again. Every later call fails with `closed`; closing again is a
    /// no-op. The file is released once calls already in flight have finished.
    pub fn close(&self, grace: Duration) -> impl Future<Output = Result<()>> + Send + 'static {
        let taken = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        async move {
            if let Some(s) = taken {
                s.shutdown(grace).await?;
            }
            Ok(())
        }
    }
}

impl Drop for SchedulerHandle {
    /// A handle dropped without `close` (a garbage-collected Python or JavaScript object) lets go
    /// of the scheduler on a runtime thread: the last reference waits for the store thread to
    /// finish, which must not happen on the language's thread (it may hold the GIL or be the
    /// event loop).
    fn drop(&mut self) {
        let taken = self
            .inner
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let (Some(s), Ok(rt)) = (taken, runtime::runtime()) {
            rt.spawn_blocking(move || drop(s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::RetryInput;
    use crate::jobs::Payload;
    use crate::options::MEMORY_PATH;
    use crate::runtime::block_on;

    fn open_memory() -> SchedulerHandle {
        let mut o = SchedulerOptions::new(MEMORY_PATH);
        o.autostart = false;
        block_on(SchedulerHandle::open(o)).expect("open")
    }

    fn job(url: &str) -> JobInput {
        JobInput {
            url: url.into(),
            after_ms: Some(3_600_000),
            ..JobInput::default()
        }
    }

    fn header<'a>(r: &'a JobRecord, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn schedule_get_list_cancel_and_close() {
        let s = open_memory();
        let ids = block_on(s.schedule_many(vec![
            JobInput {
                payload: Some(Payload::Json(br#"{"a":1}"#.to_vec())),
                name: Some("trial".into()),
                retry: Some(RetryInput::Preset("svix".into())),
                ..job("https://example.com/a")
            },
            JobInput {
                payload: Some(Payload::Text("hi".into())),
                ..job("https://example.com/b")
            },
            JobInput {
                payload: Some(Payload::Json(b"[]".to_vec())),
                headers: vec![("Content-Type".into(), "application/cloudevents+json".into())],
                ..job("https://example.com/c")
            },
        ]))
        .expect("schedule");
        assert_eq!(ids.len(), 3);

        let a = block_on(s.get(ids[0].clone())).expect("get");
        assert_eq!((a.state, a.kind, a.method), ("scheduled", "once", "POST"));
        assert_eq!(header(&a, "content-type"), Some("application/json"));
        assert_eq!(a.body, br#"{"a":1}"#);
        assert_eq!(a.retry.delays_ms.as_ref().map(Vec::len), Some(8));
        assert!(a.next_run_at_ms.expect("due") > a.created_at_ms);
        let b = block_on(s.get(ids[1].clone())).expect("get");
        assert_eq!(
            header(&b, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        let c = block_on(s.get(ids[2].clone())).expect("get");
        assert_eq!(
            header(&c, "content-type"),
            Some("application/cloudevents+json")
        );

        let named = block_on(s.list(ListQuery {
            name: Some("trial".into()),
            ..ListQuery::default()
        }))
        .expect("list");
        assert_eq!(named.len(), 1);

        block_on(s.cancel(ids[0].clone())).expect("cancel");
        assert_eq!(
            block_on(s.get(ids[0].clone())).expect("get").state,
            "cancelled"
        );
        let missing = block_on(s.get("job_01ARZ3NDEKTSV4RRFFQ69G5FAV".into()));
        assert_eq!(missing.map_err(|e| e.code).err(), Some(ErrorCode::NotFound));

        block_on(s.close(Duration::from_secs(1))).expect("close");
        assert!(s.is_closed());
        let after = block_on(s.get(ids[1].clone()));
        assert_eq!(after.map_err(|e| e.code).err(), Some(ErrorCode::Closed));
        block_on(s.close(Duration::from_secs(1))).expect("closing twice is a no-op");
    }

    #[test]
    fn a_bad_job_stores_nothing() {
        let s = open_memory();
        let err = block_on(s.schedule_many(vec![
            job("https://example.com/ok"),
            job("ftp://example.com/nope"),
        ]))
        .expect_err("bad url");
        assert_eq!(err.code, ErrorCode::InvalidJob);
        assert!(err.message.contains("ftp://example.com/nope"), "{err}");
        let all = block_on(s.list(ListQuery::default())).expect("list");
        assert!(all.is_empty());
    }

    #[test]
    fn files_persist_across_handles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.db").to_string_lossy().into_owned();
        let mut o = SchedulerOptions::new(path.clone());
        o.autostart = false;
        let s = block_on(SchedulerHandle::open(o.clone())).expect("open");
        let id = block_on(s.schedule_many(vec![job("https://example.com/")])).expect("schedule");
        block_on(s.close(Duration::ZERO)).expect("close");
        let s = block_on(SchedulerHandle::open(o)).expect("reopen");
        let got = block_on(s.get(id[0].clone())).expect("get after reopen");
        assert_eq!(got.url, "https://example.com/");
    }

    #[test]
    fn async_operations_report_through_the_callback() {
        let s = open_memory();
        let (tx, rx) = std::sync::mpsc::channel();
        crate::spawn_then(
            s.schedule_many(vec![job("https://example.com/")]),
            move |r| {
                tx.send(r).expect("send");
            },
        )
        .expect("spawn");
        let ids = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("callback")
            .expect("scheduled");
        assert_eq!(ids.len(), 1);
        assert!(ids[0].starts_with("job_"));
    }
}
