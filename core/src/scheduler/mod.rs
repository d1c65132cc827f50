//! The public [`Scheduler`]: open a store, schedule and inspect jobs, and run the
//! claim → dispatch → record loop.

mod batch;
mod builder;
pub(crate) mod engine;
mod flow;
mod runner;
mod validate;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast, watch};

pub use crate::store::Durability;
pub use builder::SchedulerBuilder;
pub use flow::EndpointLimits;
pub use runner::{
    METRIC_ATTEMPT_SECONDS, METRIC_ATTEMPTS, METRIC_FAILED, METRIC_LATENESS_SECONDS,
    METRIC_PENDING, METRIC_UNREADABLE,
};

use crate::clock::Clock;
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result};
use crate::job::{Attempt, ExecutionId, Job, JobId, JobSpec, ListFilter};
use crate::outcome::{Endpoint, EventType, Subscription};
use crate::retry::RetryPolicy;
use crate::signing::{Secret, Verifier};
use crate::store::{EXPORT_COLUMNS, NewJob, Store, to_ms, transact};
use engine::ReportParams;

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound on deliveries in flight at once.
pub const DEFAULT_MAX_CONCURRENCY: usize = 256;
/// Default bound on deliveries in flight to one host (scheme, host and port).
pub const DEFAULT_PER_HOST_CONCURRENCY: usize = 64;
/// Default largest accepted request body.
pub const DEFAULT_MAX_PAYLOAD_SIZE: usize = 1024 * 1024;
/// How long a claim holds an execution before another worker may rescue it. The live worker renews it
/// every third of this.
pub const LEASE_DURATION: Duration = Duration::from_secs(30);
/// How long succeeded and cancelled jobs (and their attempts) are kept.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long failed jobs (dead letters) are kept.
pub const DEFAULT_FAILED_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the loop looks at the file even when nothing is due, to see jobs added by other
/// processes sharing it.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Executions claimed in one statement.
pub const CLAIM_BATCH: usize = 512;
/// How often finished jobs are pruned.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

pub use crate::outcome::Event;
pub use crate::store::{DeadLetterFilter, ExportFilter};

/// The format of `Scheduler::export_attempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

/// What [`Scheduler::submit`] did with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Submitted {
    /// The job's id: the new job's, or the existing one's.
    pub id: JobId,
    /// Whether the job's idempotency key matched a job stored before (or earlier in the same
    /// batch): nothing was created, and `id` is that job's.
    pub existing: bool,
}

/// How long an endpoint must fail continuously before it is disabled.
pub const DEFAULT_ENDPOINT_DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);
/// How many failed attempts, at least, before an endpoint is disabled.
pub const DEFAULT_ENDPOINT_DISABLE_MIN_FAILURES: u32 = 10;
/// How many times one execution may be interrupted (its worker died or reached its shutdown
/// deadline mid-request) before it is failed with the error kind `interrupted`.
pub const DEFAULT_MAX_INTERRUPTED_ATTEMPTS: u32 = 5;

/// The scheduler's settings, validated once by the builder.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub max_concurrency: usize,
    pub per_host_concurrency: usize,
    pub default_timeout: Duration,
    pub default_retry: RetryPolicy,
    pub default_cron_retry: RetryPolicy,
    pub max_payload_size: usize,
    pub lease_duration: Duration,
    pub retention: Duration,
    pub failed_retention: Duration,
    pub poll_interval: Duration,
    pub missed_run_grace: Duration,
    pub environment: Option<String>,
    pub endpoint_disable_after: Duration,
    pub endpoint_disable_min_failures: u32,
    pub disable_endpoint_on_gone: bool,
    pub max_interrupted_attempts: u32,
    /// What the SSRF guard lets deliveries reach.
    pub targets: std::sync::Arc<crate::guard::TargetPolicy>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    /// The config's default retry policies, serialised.
    pub(crate) default_retry: validate::DefaultRetry,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) verifier: Verifier,
    pub(crate) secrets: Vec<Secret>,
    /// Identifies this scheduler's leases in the store.
    pub(crate) owner: String,
    pub(crate) nudge: Notify,
    /// When the loop plans to wake next (ms); a job due earlier nudges it. `i64::MAX` while the loop
    /// is reading the store (every new job nudges), `i64::MIN` while no loop runs (none does).
    pub(crate) planned_wake: AtomicI64,
    pub(crate) flow: flow::Flow,
    /// Attempts to record, written in batches (one transaction each).
    pub(crate) recorder: batch::Batcher<runner::ToRecord, Result<crate::job::Attempt>>,
    /// Deliveries whose request has its answer and whose record is pending: no longer in flight
    /// for their endpoint's bound. With a count of answers since the loop's last claim, the
    /// count at which the loop wants to claim again (`usize::MAX`: it does not), and a nudge for
    /// it once that count is reached.
    pub(crate) answered: Mutex<std::collections::HashSet<ExecutionId>>,
    pub(crate) answers: std::sync::atomic::AtomicUsize,
    pub(crate) answers_wanted: std::sync::atomic::AtomicUsize,
    pub(crate) answer: Notify,
    /// The executions this worker is delivering: only their leases are renewed.
    pub(crate) in_flight: Mutex<std::collections::HashSet<ExecutionId>>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) report: ReportParams,
}

struct Running {
    stop: watch::Sender<Option<Duration>>,
    task: tokio::task::JoinHandle<()>,
}

/// A durable webhook scheduler over one SQLite file, or over a PostgreSQL database shared by many
/// processes.
///
/// Every method that changes a job returns only after the change is committed to the file. Call
/// [`Scheduler::start`] to begin delivering, or [`Scheduler::run_due`] to deliver what is due now and
/// return.
pub struct Scheduler {
    inner: Arc<Inner>,
    running: Mutex<Option<Running>>,
    closed: std::sync::atomic::AtomicBool,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("owner", &self.inner.owner)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Opens (creating if needed) the store at `path` with default options. Everything already in the
    /// file resumes once [`Scheduler::start`] is called.
    pub async fn open(path: impl Into<std::path::PathBuf>) -> Result<Scheduler> {
        SchedulerBuilder::new(path).open().await
    }

    /// A builder for a store at `path`.
    pub fn builder(path: impl Into<std::path::PathBuf>) -> SchedulerBuilder {
        SchedulerBuilder::new(path)
    }

    /// A builder for an in-memory store, for tests: nothing survives the scheduler.
    pub fn in_memory() -> SchedulerBuilder {
        SchedulerBuilder::memory()
    }

    pub(crate) fn from_parts(inner: Inner, runtime: Option<tokio::runtime::Runtime>) -> Self {
        Scheduler {
            inner: Arc::new(inner),
            running: Mutex::new(None),
            closed: false.into(),
            runtime,
        }
    }

    /// Schedules one job and returns its id once it is committed. With an idempotency key that exists
    /// already, returns the existing job's id and creates nothing ([`Scheduler::submit`] tells
    /// which happened). An `at` in the past means "due now".
    pub async fn schedule(&self, spec: JobSpec) -> Result<JobId> {
        let mut ids = self.schedule_many(std::iter::once(spec)).await?;
        Ok(ids.pop().expect("one id per job"))
    }

    /// As [`Scheduler::schedule`], and says whether the job was created or its idempotency key
    /// matched a job stored before (then nothing was created or changed).
    pub async fn submit(&self, spec: JobSpec) -> Result<Submitted> {
        let mut all = self.submit_many(std::iter::once(spec)).await?;
        Ok(all.pop().expect("one result per job"))
    }

    /// Schedules many jobs; the ids come back in the order of the input. Every job is checked
    /// before any is stored: one invalid job and none is. Up to 10,000 jobs are stored in one
    /// transaction. A larger batch is stored 10,000 at a time, in order, so that deliveries and
    /// lease renewals (which wait for the store) go on meanwhile; if the store fails partway (a
    /// full disk), the error says how many jobs were stored before it, and those stay. Give the
    /// jobs idempotency keys to make sending the same batch again safe.
    pub async fn schedule_many(
        &self,
        specs: impl IntoIterator<Item = JobSpec>,
    ) -> Result<Vec<JobId>> {
        let all = self.submit_many(specs).await?;
        Ok(all.into_iter().map(|s| s.id).collect())
    }

    /// As [`Scheduler::schedule_many`], and says for each job whether it was created or its
    /// idempotency key matched a job stored before (or earlier in the same batch).
    pub async fn submit_many(
        &self,
        specs: impl IntoIterator<Item = JobSpec>,
    ) -> Result<Vec<Submitted>> {
        let now = self.inner.clock.now();
        let mut seen_urls = validate::SeenUrls::default();
        let (config, retry) = (&self.inner.config, &self.inner.default_retry);
        let mut specs = specs.into_iter().peekable();
        // Streamed only when the batch is known to fit in one transaction: a larger one would
        // hold the store thread (and the file's write lock) while the rest of it is validated.
        let fits = specs.size_hint().1.is_some_and(|n| n <= INSERT_CHUNK);
        let mut index = 0;
        // Each part is allocated once at its size where the input says how many jobs are left,
        // rather than grown (and copied) as it fills.
        let mut validate_next = |n: usize| -> Result<Vec<NewJob>> {
            let mut part = Vec::with_capacity(n.min(specs.size_hint().0));
            while part.len() < n {
                let Some(spec) = specs.next() else { break };
                let job = validate::validate(spec, config, retry, now, &mut seen_urls);
                // A rejected job of several is named by its position.
                part.push(job.map_err(|e| {
                    if index > 0 || specs.peek().is_some() {
                        Error::InBatch {
                            index,
                            error: Box::new(e),
                        }
                    } else {
                        e
                    }
                })?);
                index += 1;
            }
            Ok(part)
        };
        let first = validate_next(STREAM_CHUNK)?;
        let now_ms = to_ms(now);
        // A SQLite file inserts a batch of one transaction while it is validated: each part goes
        // to the store thread once validated, and the transaction commits only once the whole
        // batch is (bad input still changes nothing).
        if let Store::Sqlite(db) = &self.inner.store
            && fits
            && first.len() == STREAM_CHUNK
        {
            return self.stream_batch(db, first, validate_next, now_ms).await;
        }
        // Every job is checked before the first transaction, in the transactions' parts.
        let mut chunks = vec![first];
        if chunks[0].len() == STREAM_CHUNK {
            let rest = validate_next(INSERT_CHUNK - STREAM_CHUNK)?;
            chunks[0].extend(rest);
            loop {
                let chunk = validate_next(INSERT_CHUNK)?;
                if chunk.is_empty() {
                    break;
                }
                chunks.push(chunk);
            }
        }
        let mut ids = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            if chunk.is_empty() {
                break;
            }
            let stored = ids.len();
            let fresh: Vec<JobId> = chunk.iter().map(|j| j.id.clone()).collect();
            let earliest = chunk.iter().map(|j| j.due_at).min();
            let soon =
                earliest.is_some_and(|due| due <= now_ms + millis(self.inner.config.poll_interval));
            // The jobs come back to be freed here rather than on the store thread, which every
            // caller waits for.
            let (chunk_ids, _chunk) = transact!(awake, &self.inner.store, |tx| async move {
                let ids = tx.insert_jobs(&chunk, now_ms).await?;
                if soon {
                    tx.notify().await?;
                }
                Ok((ids, chunk))
            })
            .map_err(|e| match e {
                Error::Store(e) if stored > 0 => Error::Store(
                    e.context(format!("the first {stored} jobs of the batch were stored")),
                ),
                e => e,
            })?;
            ids.extend(submitted(chunk_ids, fresh));
            if let Some(due) = earliest {
                self.inner.nudge_if_before(due);
            }
        }
        Ok(ids)
    }

    /// Inserts a batch of one transaction on the store thread while `validate_next` validates it
    /// here, in parts of `STREAM_CHUNK` (`first` is the first part); the transaction commits once
    /// every job is valid, and is rolled back if one is not.
    async fn stream_batch(
        &self,
        db: &crate::store::sqlite::Db,
        first: Vec<NewJob>,
        mut validate_next: impl FnMut(usize) -> Result<Vec<NewJob>>,
        now_ms: i64,
    ) -> Result<Vec<Submitted>> {
        enum Feed {
            Jobs(Vec<NewJob>),
            Commit,
        }
        // Room for every part of a batch of `INSERT_CHUNK` jobs and the commit: sending never
        // blocks this thread (the batch's size hint said it is no larger).
        let (feed, fed) = std::sync::mpsc::sync_channel::<Feed>(INSERT_CHUNK / STREAM_CHUNK + 2);
        let store_side = db.call(move |conn| {
            use crate::store::Tx as _;
            let mut tx = crate::store::sqlite::SqliteTx::new(conn);
            let mut stored = Vec::new();
            let mut parts = Vec::new();
            loop {
                match fed.recv() {
                    Ok(Feed::Jobs(part)) => {
                        let fresh = part.iter().map(|j| j.id.clone());
                        let ids = crate::store::sqlite::ready(tx.insert_jobs(&part, now_ms))?;
                        stored.extend(submitted(ids, fresh.collect()));
                        parts.push(part);
                    }
                    Ok(Feed::Commit) => break,
                    // The batch failed validation, or its caller went away: nothing is kept.
                    Err(_) => return Err(Error::Closed),
                }
            }
            // The jobs are freed by the caller, not on the store thread.
            Ok((stored, parts))
        });
        let feeding = async move {
            let mut earliest = first.iter().map(|j| j.due_at).min();
            let _ = feed.send(Feed::Jobs(first));
            loop {
                // Lets the store side run on a runtime with one thread.
                tokio::task::yield_now().await;
                let part = validate_next(STREAM_CHUNK)?;
                if part.is_empty() {
                    break;
                }
                earliest = earliest.min(part.iter().map(|j| j.due_at).min());
                let _ = feed.send(Feed::Jobs(part));
            }
            let _ = feed.send(Feed::Commit);
            Ok::<_, Error>(earliest)
        };
        let (stored, fed) = tokio::join!(store_side, feeding);
        // A validation error is the answer when there is one: it ended the transaction.
        let earliest = fed?;
        let (stored, _parts) = stored?;
        if let Some(due) = earliest {
            self.inner.nudge_if_before(due);
        }
        Ok(stored)
    }

    /// One job.
    pub async fn get(&self, id: &JobId) -> Result<Job> {
        let id = id.clone();
        transact!(&self.inner.store, |tx| async move {
            tx.get(&id).await?.ok_or(Error::NotFound(id))
        })
    }

    /// A page of jobs matching `filter`, in creation order. Pass the last id as `filter.after` for the
    /// next page.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        let filter = filter.clone();
        transact!(&self.inner.store, |tx| tx.list(&filter))
    }

    /// Every attempt of a job (of every occurrence, for a cron job), oldest first. A cron job
    /// that has run for long has many: read those a page at a time with
    /// [`Scheduler::attempts_page`].
    pub async fn attempts(&self, id: &JobId) -> Result<Vec<Attempt>> {
        self.attempts_in(id, None, u32::MAX).await
    }

    /// A page of a job's attempts, oldest first: at most `limit` (1 to 10,000), after the
    /// attempt whose [`Attempt::cursor`] is `after` (from the start when `None`).
    pub async fn attempts_page(
        &self,
        id: &JobId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Attempt>> {
        let after = after.map(crate::store::parse_attempt_cursor).transpose()?;
        let limit = limit.clamp(1, crate::store::MAX_PAGE);
        self.attempts_in(id, after, limit).await
    }

    async fn attempts_in(
        &self,
        id: &JobId,
        after: Option<crate::store::AttemptCursor>,
        limit: u32,
    ) -> Result<Vec<Attempt>> {
        let id = id.clone();
        transact!(&self.inner.store, |tx| async move {
            if tx.job_state(&id).await?.is_none() {
                return Err(Error::NotFound(id));
            }
            tx.attempts(&id, after.as_ref(), limit).await
        })
    }

    /// Cancels a job. A scheduled or retrying job never fires afterwards; a cron job stops. An attempt
    /// already in flight finishes but is not retried.
    pub async fn cancel(&self, id: &JobId) -> Result<()> {
        let (id, now) = (id.clone(), self.now_ms());
        transact!(&self.inner.store, |tx| engine::cancel(tx, &id, now))
    }

    /// Moves a scheduled or retrying one-time job to `at` (in the past means "due now").
    pub async fn reschedule(&self, id: &JobId, at: DateTime<Utc>) -> Result<()> {
        let (id, now) = (id.clone(), self.now_ms());
        let at = to_ms(at);
        transact!(&self.inner.store, |tx| engine::reschedule(tx, &id, at, now))?;
        self.inner.nudge_if_before(at);
        Ok(())
    }

    /// Pauses a cron job: no occurrence fires until [`Scheduler::resume`].
    pub async fn pause(&self, id: &JobId) -> Result<()> {
        let (id, now) = (id.clone(), self.now_ms());
        transact!(&self.inner.store, |tx| engine::pause(tx, &id, now))
    }

    /// Resumes a paused cron job from its next occurrence; those during the pause are skipped.
    pub async fn resume(&self, id: &JobId) -> Result<()> {
        let (id, now) = (id.clone(), self.now_ms());
        transact!(&self.inner.store, |tx| engine::resume(tx, &id, now))
    }

    /// Runs a job now: a new occurrence of a cron job (its schedule is unchanged), or the pending run
    /// of a one-time job. Returns the execution id that the delivery will carry as `webhook-id`.
    pub async fn trigger(&self, id: &JobId) -> Result<ExecutionId> {
        let (id, now) = (id.clone(), self.now_ms());
        let exec = transact!(&self.inner.store, |tx| engine::trigger(tx, &id, now))?;
        self.inner.nudge.notify_one();
        Ok(exec)
    }

    /// Re-queues a failed job (a dead letter) now, with a fresh retry budget and the same `webhook-id`.
    /// For a cron job, re-queues its failed occurrences.
    pub async fn retry(&self, id: &JobId) -> Result<()> {
        let (id, now) = (id.clone(), self.now_ms());
        transact!(&self.inner.store, |tx| engine::retry(tx, &id, now))?;
        self.inner.nudge.notify_one();
        Ok(())
    }

    fn now_ms(&self) -> i64 {
        to_ms(self.inner.clock.now())
    }

    /// Subscribes `url` to `events`: each event is delivered there as a signed Standard Webhooks
    /// message `{"type", "timestamp", "data"}`, durably and with retries. Returns the subscription's
    /// id. Subscriptions live in the store, shared by every process using it.
    pub async fn subscribe(&self, url: &str, events: &[EventType]) -> Result<Subscription> {
        validate::validate_url("url", url, &self.inner.config.targets)?;
        if events.is_empty() {
            return Err(Error::invalid(
                "events",
                "subscribe to at least one event type",
            ));
        }
        let subscription = Subscription {
            id: format!("sub_{}", ulid::Ulid::new()),
            url: url.to_owned(),
            events: events.to_vec(),
            created_at: self.inner.clock.now(),
        };
        let stored = subscription.clone();
        transact!(&self.inner.store, |tx| tx.subscribe(&stored))?;
        Ok(subscription)
    }

    /// Deletes a subscription.
    ///
    /// # Errors
    /// [`Error::SubscriptionNotFound`] for an unknown id.
    pub async fn unsubscribe(&self, id: &str) -> Result<()> {
        let owned = id.to_owned();
        let existed = transact!(&self.inner.store, |tx| tx.unsubscribe(&owned))?;
        if existed {
            Ok(())
        } else {
            Err(Error::SubscriptionNotFound(id.to_owned()))
        }
    }

    /// Every subscription.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>> {
        transact!(&self.inner.store, |tx| tx.subscriptions())
    }

    /// Endpoints that are failing or disabled.
    pub async fn endpoints(&self) -> Result<Vec<Endpoint>> {
        transact!(&self.inner.store, |tx| tx.endpoints())
    }

    /// Re-enables a disabled endpoint (`scheme://host:port`, or any URL on it): its held jobs are
    /// delivered again.
    ///
    /// # Errors
    /// [`Error::EndpointNotDisabled`] if it is not disabled.
    pub async fn enable_endpoint(&self, origin_or_url: &str) -> Result<()> {
        let origin = crate::outcome::origin_of(origin_or_url);
        let key = origin.clone();
        let was = transact!(&self.inner.store, |tx| async move {
            let was = tx.enable_endpoint(&key).await?;
            tx.notify().await?;
            Ok(was)
        })?;
        if !was {
            return Err(Error::EndpointNotDisabled(origin));
        }
        self.inner.nudge.notify_one();
        Ok(())
    }

    /// Re-queues every dead letter (failed job, or failed cron occurrence) matching `filter`, for
    /// instance everything that failed during an outage, due now with a fresh retry budget and the
    /// same `webhook-id`s. Returns how many were re-queued.
    pub async fn retry_failed(&self, filter: &DeadLetterFilter) -> Result<usize> {
        let (filter, now) = (filter.clone(), self.now_ms());
        let n = transact!(&self.inner.store, |tx| engine::retry_failed(
            tx, &filter, now
        ))?;
        self.inner.nudge.notify_one();
        Ok(n)
    }

    /// Deletes every dead letter matching `filter`, with its attempts. Returns how many were deleted.
    pub async fn purge(&self, filter: &DeadLetterFilter) -> Result<usize> {
        let filter = filter.clone();
        transact!(&self.inner.store, |tx| engine::purge(tx, &filter))
    }

    /// Delivers a signed sample event of type `event` to `url` now, and returns the attempt. The
    /// delivery is recorded like any other (as a job named `timehook.test`) but not retried.
    pub async fn send_test(&self, url: &str, event: EventType) -> Result<Attempt> {
        validate::validate_url("url", url, &self.inner.config.targets)?;
        let now = self.inner.clock.now();
        let data = match event {
            EventType::EndpointDisabled => Endpoint {
                origin: crate::outcome::origin_of(url),
                failing_since: Some(now - chrono::Duration::days(5)),
                failures: self.inner.report.disable_min_failures,
                disabled_at: Some(now),
            }
            .to_json(self.inner.report.environment.as_deref()),
            _ => crate::outcome::Outcome {
                job_id: "job_test".parse()?,
                job_name: Some("timehook.test".to_owned()),
                execution_id: "exec_test".parse()?,
                status: match event {
                    EventType::JobCompleted => crate::outcome::OutcomeStatus::Success,
                    EventType::JobTimedOut => crate::outcome::OutcomeStatus::Timeout,
                    _ => crate::outcome::OutcomeStatus::Failure,
                },
                executed_at: now,
                response_code: (event != EventType::JobTimedOut).then_some(
                    if event == EventType::JobCompleted {
                        200
                    } else {
                        500
                    },
                ),
                response_time_ms: 42,
                response_body: Some("sample".to_owned()),
                error_message: None,
                retry_attempt: 0,
                next_retry_at: None,
            }
            .to_json(self.inner.report.environment.as_deref()),
        };
        let body = engine::event_body(event, data, to_ms(now));
        let mut report = self.inner.report.clone();
        report.retry = serde_json::to_string(&RetryPolicy::none()).expect("policies serialise");
        let (url, owner) = (url.to_owned(), self.inner.owner.clone());
        let lease =
            i64::try_from(self.inner.config.lease_duration.as_millis()).unwrap_or(i64::MAX / 4);
        let now_ms = to_ms(now);
        let claimed = transact!(&self.inner.store, |tx| engine::insert_and_claim_test(
            tx, &report, &url, &body, &owner, now_ms, lease
        ))?;
        runner::attempt_now(&self.inner, claimed).await
    }

    /// Writes the attempt log matching `filter` to `out`, oldest first, as CSV (with a header row)
    /// or JSON Lines. Rows are read and written a page at a time, so memory stays flat however long
    /// the log is. Returns the number of rows written. On a multi-threaded tokio runtime the
    /// writes to `out` run where blocking is allowed (`block_in_place`), so a slow file or pipe
    /// does not hold up the runtime's other tasks; on a current-thread runtime they run in place.
    pub async fn export_attempts<W: std::io::Write + Send>(
        &self,
        filter: &ExportFilter,
        format: ExportFormat,
        out: W,
    ) -> Result<u64> {
        const PAGE: u32 = 1000;
        enum Sink<W: std::io::Write> {
            Csv(Box<csv::Writer<W>>),
            Json(W),
        }
        let failed = |e: &dyn std::fmt::Display| {
            Error::store(
                crate::error::StoreErrorKind::Io,
                format!("cannot write the export: {e}"),
            )
        };
        let mut sink = match format {
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                w.write_record(EXPORT_COLUMNS).map_err(|e| failed(&e))?;
                Sink::Csv(Box::new(w))
            }
            ExportFormat::JsonLines => Sink::Json(out),
        };
        let mut after: crate::store::ExportCursor = (i64::MIN, String::new(), 0u32);
        let mut written = 0u64;
        loop {
            let (f, from) = (filter.clone(), after.clone());
            let page = transact!(&self.inner.store, |tx| tx.export_page(&f, &from, PAGE))?;
            // `out` may block (a file, a pipe): writing happens where blocking is allowed.
            off_runtime(|| {
                for row in &page {
                    match &mut sink {
                        Sink::Csv(w) => w.serialize(row).map_err(|e| failed(&e))?,
                        Sink::Json(w) => {
                            serde_json::to_writer(&mut *w, row).map_err(|e| failed(&e))?;
                            w.write_all(b"\n").map_err(|e| failed(&e))?;
                        }
                    }
                }
                Ok::<_, Error>(())
            })?;
            written += page.len() as u64;
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.key.clone(),
                _ => break,
            }
        }
        off_runtime(|| match &mut sink {
            Sink::Csv(w) => w.flush().map_err(|e| failed(&e)),
            Sink::Json(w) => w.flush().map_err(|e| failed(&e)),
        })?;
        Ok(written)
    }

    /// Deletes finished jobs older than the retention periods now (the running loop also does this
    /// every few minutes). Returns how many jobs were deleted.
    pub async fn prune(&self) -> Result<usize> {
        self.inner.prune().await
    }

    /// Receives every [`Event`] from now on. A receiver that falls more than 1024 events behind
    /// skips the oldest.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Identifies this scheduler's leases in the store (`w_…`), unique to this open scheduler; the
    /// lease owner of the jobs it is delivering.
    pub fn worker_id(&self) -> &str {
        &self.inner.owner
    }

    /// A verifier for this scheduler's own signing secrets, as a receiver would build it.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The HMAC secrets requests are signed with (the first is the newest). When none was configured,
    /// this is the secret generated for the store on first open and kept in it.
    pub fn secrets(&self) -> &[Secret] {
        &self.inner.secrets
    }

    /// Begins delivering in the background: on the scheduler's own runtime if the builder asked for
    /// one, otherwise on the caller's tokio runtime. Jobs due while no scheduler ran fire at once,
    /// and leases of dead workers are rescued.
    pub fn start(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let mut running = self.running.lock().expect("lock poisoned");
        if running.is_some() {
            return Ok(());
        }
        let handle = match &self.runtime {
            Some(rt) => rt.handle().clone(),
            None => tokio::runtime::Handle::try_current().map_err(|_| {
                Error::Config(
                    "start() must be called inside a tokio runtime, or the builder must ask for its own runtime (own_runtime)".into(),
                )
            })?,
        };
        let (stop, stop_rx) = watch::channel(None);
        let task = handle.spawn(runner::run(self.inner.clone(), stop_rx));
        *running = Some(Running { stop, task });
        Ok(())
    }

    /// Stops claiming work, lets deliveries in flight finish for up to `grace`, then records any still
    /// unfinished as interrupted and makes them due again, so nothing is left half-done. Store calls
    /// keep working afterwards; `start` does not.
    pub async fn shutdown(&self, grace: Duration) -> Result<()> {
        self.closed.store(true, Ordering::SeqCst);
        let running = self.running.lock().expect("lock poisoned").take();
        if let Some(Running { stop, task }) = running {
            let _ = stop.send(Some(grace));
            task.await.map_err(|e| {
                Error::store(
                    crate::error::StoreErrorKind::Other,
                    format!("the delivery loop failed: {e}"),
                )
            })?;
        }
        Ok(())
    }

    /// Delivers every execution due now and waits for the outcomes; returns the number of attempts
    /// made. Useful without [`Scheduler::start`] (in tests with a manual clock, or from a cron-driven
    /// serverless function). Needs a tokio runtime.
    pub async fn run_due(&self) -> Result<usize> {
        runner::run_due(&self.inner).await
    }
}

/// Jobs stored in one transaction by `schedule_many`: about 50 ms of writing, short enough
/// for deliveries and lease renewals to go on beside a batch of millions.
const INSERT_CHUNK: usize = 10_000;
/// Jobs validated before they are handed to the store thread, when a batch is streamed to it.
const STREAM_CHUNK: usize = 1_000;

/// What a transaction stored, against the ids the batch's jobs were given: an id that differs is
/// an existing job's (its idempotency key matched).
fn submitted(ids: Vec<JobId>, fresh: Vec<JobId>) -> impl Iterator<Item = Submitted> {
    ids.into_iter().zip(fresh).map(|(id, fresh)| Submitted {
        existing: id != fresh,
        id,
    })
}
/// Jobs (and cron occurrences) deleted in one transaction by `prune`.
const PRUNE_CHUNK: usize = 1_000;

/// How long a dropped scheduler's own runtime is kept for the loop to release its deliveries.
const DROP_RELEASE_LIMIT: Duration = Duration::from_secs(10);

/// Dropping a scheduler never blocks. The delivery loop stops at once (no grace): deliveries in
/// flight are cut short, recorded as interrupted and made due again, in the background, on the
/// runtime they ran on (a scheduler's own runtime is kept alive on a thread of its own until that
/// is done, for at most 10 s). What [`Scheduler::shutdown`] adds: it lets deliveries in flight
/// finish for up to its `grace`, and returns only once everything unfinished is released, so
/// nothing is left for the lease to expire (say, before the process exits).
impl Drop for Scheduler {
    fn drop(&mut self) {
        let running = self.running.get_mut().ok().and_then(Option::take);
        if let Some(Running { stop, .. }) = &running {
            // The loop releases deliveries in flight as it ends.
            let _ = stop.send(Some(Duration::ZERO));
        }
        let Some(rt) = self.runtime.take() else {
            return;
        };
        let Some(Running { task, .. }) = running else {
            rt.shutdown_background();
            return;
        };
        // The loop needs its runtime to end; keep it on a thread of its own rather than block
        // whoever drops the scheduler (perhaps from inside another runtime).
        let spawned = std::thread::Builder::new()
            .name("timehook-release".into())
            .spawn(move || {
                let _ = rt.block_on(tokio::time::timeout(DROP_RELEASE_LIMIT, task));
                rt.shutdown_background();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot release deliveries on drop; their leases will expire");
        }
    }
}

/// Runs blocking `f` without holding up a multi-threaded runtime's other tasks.
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Inner {
    pub(crate) fn nudge_if_before(&self, due_ms: i64) {
        if due_ms <= self.planned_wake.load(Ordering::SeqCst) {
            self.nudge.notify_one();
        }
    }

    pub(crate) async fn prune(&self) -> Result<usize> {
        let now = self.clock.now();
        let cut = |d: Duration| to_ms(now) - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
        let (done, failed) = (
            cut(self.config.retention),
            cut(self.config.failed_retention),
        );
        // A transaction at a time, so the store keeps serving deliveries between them.
        let mut deleted = 0;
        loop {
            let step = transact!(&self.store, |tx| tx.prune(done, failed, PRUNE_CHUNK))?;
            deleted += step.jobs;
            if !step.more {
                return Ok(deleted);
            }
        }
    }
}
