//! The delivery loop: claim due executions, send them with bounded concurrency, record the outcomes,
//! renew leases, and sleep until the earliest due time (one wake-up, not a timer per job).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::engine::{self, Recorded, Tick, TickParams};
use super::{CLAIM_BATCH, Event, Inner, PRUNE_INTERVAL, millis};
use crate::error::Result;
use crate::job::Attempt;
use crate::job::ExecutionId;
use crate::retry::Verdict;
use crate::store::{Claimed, Interrupted, from_ms, to_ms, transact};

/// Counter of attempts, labelled `outcome` = `success`, `retry` or `failure`.
pub const METRIC_ATTEMPTS: &str = "timehook_attempts_total";
/// Histogram of attempt durations, in seconds.
pub const METRIC_ATTEMPT_SECONDS: &str = "timehook_attempt_duration_seconds";
/// Histogram of firing lateness (send time minus due time), in seconds.
pub const METRIC_LATENESS_SECONDS: &str = "timehook_lateness_seconds";
/// Gauge of pending executions.
pub const METRIC_PENDING: &str = "timehook_pending_executions";
/// Gauge of failed jobs (dead letters).
pub const METRIC_FAILED: &str = "timehook_failed_jobs";
/// Counter of jobs failed because what is stored of them no longer reads (error kind
/// `unreadable`: a cron time zone removed from the tz database, a damaged row).
pub const METRIC_UNREADABLE: &str = "timehook_unreadable_jobs_total";
/// How often the gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(15);

/// Pause after a store error before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Pause before the first retry of recording an attempt the store refused; doubled each time.
const RECORD_RETRY: Duration = Duration::from_millis(250);

/// An execution this worker is delivering, from its claim until its task ends (or is dropped):
/// its lease is renewed only while this lives.
pub(super) struct InFlight {
    inner: Arc<Inner>,
    execution: ExecutionId,
}

impl InFlight {
    pub(super) fn new(inner: &Arc<Inner>, execution: &ExecutionId) -> Self {
        inner.in_flight().insert(execution.clone());
        InFlight {
            inner: inner.clone(),
            execution: execution.clone(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.inner.in_flight().remove(&self.execution);
    }
}

/// A delivery whose request has its answer, until its attempt is recorded (or given up).
struct Answered<'a> {
    inner: &'a Inner,
    execution: ExecutionId,
}

impl<'a> Answered<'a> {
    fn new(inner: &'a Inner, execution: &ExecutionId) -> Self {
        inner.answered().insert(execution.clone());
        // The loop is nudged only when it wants to claim again, not once per answer.
        let answers = inner.answers.fetch_add(1, Ordering::SeqCst) + 1;
        if answers >= inner.answers_wanted.load(Ordering::SeqCst) {
            inner.answer.notify_one();
        }
        Answered {
            inner,
            execution: execution.clone(),
        }
    }
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.inner.answered().remove(&self.execution);
    }
}

impl Inner {
    fn answered(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<ExecutionId>> {
        self.answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<ExecutionId>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn in_flight_ids(&self) -> Vec<ExecutionId> {
        self.in_flight().iter().cloned().collect()
    }

    async fn tick(self: &Arc<Self>, limit: usize) -> Result<Tick> {
        let params = TickParams {
            owner: self.owner.clone(),
            // Taken before the store reads what is in flight: each of these has its answer.
            answered: self.answered().iter().cloned().collect(),
            in_flight: self.in_flight_ids(),
            now: to_ms(self.clock.now()),
            lease_ms: millis(self.config.lease_duration),
            limit,
            missed_grace: chrono::Duration::from_std(self.config.missed_run_grace)
                .unwrap_or(chrono::Duration::MAX),
        };
        let inner = self.clone();
        let mut tick = transact!(relaxed |t: &Tick| t.durable, &self.store, |tx| engine::tick(
            tx,
            &params,
            &inner.flow,
            &inner.report
        ))?;
        if tick.unreadable > 0 {
            metrics::counter!(METRIC_UNREADABLE).increment(tick.unreadable as u64);
        }
        for event in tick.events.drain(..) {
            let _ = self.events.send(event);
        }
        Ok(tick)
    }

    async fn renew_leases(&self) {
        let (owner, until) = (
            self.owner.clone(),
            to_ms(self.clock.now()) + millis(self.config.lease_duration),
        );
        let executions = self.in_flight_ids();
        if executions.is_empty() {
            return;
        }
        if let Err(e) = transact!(&self.store, |tx| tx.renew_leases(
            &owner,
            &executions,
            until
        )) {
            tracing::warn!(error = %e, "cannot renew leases");
        }
    }
}

/// Ticks every third of the lease: the live worker renews its leases so they never run out under
/// it, while those of a dead worker expire soon.
fn lease_renewal(inner: &Inner) -> tokio::time::Interval {
    let period = inner.config.lease_duration / 3;
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renew
}

/// Starts delivering a claimed execution (the claim kept it within its endpoint's limits), in
/// flight until its task ends.
fn spawn_delivery(tasks: &mut JoinSet<()>, inner: &Arc<Inner>, c: Claimed) {
    let in_flight = InFlight::new(inner, &c.execution_id);
    tasks.spawn(Box::pin(deliver(inner.clone(), c, Some(in_flight))));
}

/// Sends one claimed execution and records the outcome. Its future holds the HTTP client's
/// (about 8 KB): spawned boxed, so that the task's cell and its stages move a pointer, not that.
async fn deliver(inner: Arc<Inner>, c: Claimed, in_flight: Option<InFlight>) {
    let execution = c.execution_id.clone();
    match attempt_and_record(&inner, c).await {
        Ok(_) => {}
        // No longer in flight: the lease runs out and the next claim of any worker delivers it
        // again, with the same webhook-id.
        Err(e) => tracing::warn!(execution = %execution, error = %e, "cannot record attempt"),
    }
    drop(in_flight);
}

/// Sends one attempt in a tracing span, records it, and counts it in the metrics.
async fn attempt_and_record(inner: &Arc<Inner>, c: Claimed) -> Result<Attempt> {
    let span = tracing::info_span!("timehook.attempt", job = %c.job_id, execution = %c.execution_id,
        attempt = c.attempt, url = %crate::redact::Url(&c.url));
    let result = inner
        .dispatcher
        .send(&c, &*inner.clock)
        .instrument(span)
        .await;
    // The endpoint's slot is free again: the request has its answer, only the record is left.
    let _answered = Answered::new(inner, &c.execution_id);
    let lateness = (result.started_at - c.due_at).max(0) as f64 / 1000.0;
    let outcome = match (result.error, result.verdict) {
        (None, _) => "success",
        (Some(_), Verdict::Retry) if result.next_delay.is_some() => "retry",
        _ => "failure",
    };
    metrics::counter!(METRIC_ATTEMPTS, "outcome" => outcome).increment(1);
    if result.error == Some(crate::job::AttemptError::Unreadable) {
        metrics::counter!(METRIC_UNREADABLE).increment(1);
    }
    metrics::histogram!(METRIC_ATTEMPT_SECONDS).record(result.duration_ms as f64 / 1000.0);
    metrics::histogram!(METRIC_LATENESS_SECONDS).record(lateness);
    // The store may refuse for a moment (a lock held elsewhere, a restarting server): try again
    // while the lease lasts, rather than deliver the request a second time.
    let give_up = tokio::time::Instant::now() + inner.config.lease_duration / 2;
    let mut pause = RECORD_RETRY;
    let request: ToRecord = (Arc::new(c), Arc::new(result));
    loop {
        let recorded = inner
            .recorder
            .submit(request.clone(), |batch| write_records(inner, batch))
            .await;
        match recorded {
            Some(Ok(recorded)) => return Ok(recorded),
            Some(Err(e)) if !matches!(e, crate::Error::Store(_)) => return Err(e),
            retry => {
                let e = retry.map_or_else(
                    || "the batch it was written in was dropped".to_owned(),
                    |e| e.map_or_else(|e| e.to_string(), |_| String::new()),
                );
                if tokio::time::Instant::now() + pause >= give_up {
                    return Err(crate::Error::store(crate::StoreErrorKind::Other, e));
                }
                tracing::warn!(execution = %request.0.execution_id, error = %e, "cannot record attempt yet; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}

/// An attempt to record: the execution as claimed, and how the attempt went.
pub(crate) type ToRecord = (Arc<Claimed>, Arc<engine::AttemptResult>);

/// Records a batch of attempts in one transaction; a failed transaction fails each of them.
async fn write_records(inner: &Arc<Inner>, batch: Vec<ToRecord>) -> Vec<Result<Attempt>> {
    let now = to_ms(inner.clock.now());
    let (owner, report) = (inner.owner.clone(), inner.report.clone());
    let n = batch.len();
    let written = transact!(&inner.store, |tx| async move {
        let items: Vec<_> = batch.iter().map(|(c, r)| (&**c, &**r)).collect();
        engine::record_many(tx, &owner, &report, &items, now).await
    });
    match written {
        // Published here, all of the batch's events one after another, rather than by each
        // waiting delivery once it is woken: a listener waiting for events is woken once for the
        // batch, not once per attempt. Each caller gets its attempt back.
        Ok(recorded) => recorded
            .into_iter()
            .map(|r| r.map(|recorded| publish(inner, recorded)))
            .collect(),
        Err(e) => (0..n).map(|_| Err(e.duplicate())).collect(),
    }
}

/// Tells listeners about a recorded attempt and the events it raised; returns the attempt.
fn publish(inner: &Inner, recorded: Recorded) -> Attempt {
    let Recorded {
        attempt,
        state,
        events,
    } = recorded;
    tracing::debug!(job = %attempt.job_id, execution = %attempt.execution_id,
        number = attempt.number, status = ?attempt.status, error = ?attempt.error, "attempt");
    // Nobody listening is fine.
    let _ = inner.events.send(Event::Attempt {
        attempt: attempt.clone(),
        state,
    });
    for event in events {
        let _ = inner.events.send(event);
    }
    attempt
}

/// Sends a claimed execution at once, outside the loop, and returns its attempt (`send_test`).
pub(super) async fn attempt_now(inner: &Arc<Inner>, c: Claimed) -> Result<Attempt> {
    let _in_flight = InFlight::new(inner, &c.execution_id);
    attempt_and_record(inner, c).await
}

/// Everything due now, delivered and recorded; returns the number of attempts.
pub(super) async fn run_due(inner: &Arc<Inner>) -> Result<usize> {
    let mut total = 0;
    loop {
        let tick = inner
            .tick(inner.config.max_concurrency.min(CLAIM_BATCH))
            .await?;
        if tick.claimed.is_empty() {
            return Ok(total);
        }
        total += tick.claimed.len();
        // In flight while this future lives: if the caller drops it (a timeout), they are no
        // longer in flight at once, whenever the runtime gets to drop their aborted tasks.
        let _in_flight: Vec<InFlight> = tick
            .claimed
            .iter()
            .map(|c| InFlight::new(inner, &c.execution_id))
            .collect();
        let mut tasks = JoinSet::new();
        for c in tick.claimed {
            tasks.spawn(Box::pin(deliver(inner.clone(), c, None)));
        }
        let mut renew = lease_renewal(inner);
        loop {
            tokio::select! {
                done = tasks.join_next() => if done.is_none() { break },
                _ = renew.tick() => inner.renew_leases().await,
            }
        }
    }
}

/// The background loop started by `Scheduler::start`; ends when `stop` carries a grace period.
pub(super) async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<Option<Duration>>) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut renew = lease_renewal(&inner);
    let mut next_prune = inner.clock.now();
    let mut next_gauges = inner.clock.now();
    let refill = (inner.config.max_concurrency / 4).clamp(1, CLAIM_BATCH);
    // Other processes announce work due soon (PostgreSQL); polling covers the rest.
    let listener = inner.store.wakeups({
        let inner = Arc::downgrade(&inner);
        move || {
            if let Some(inner) = inner.upgrade() {
                inner.nudge.notify_one();
            }
        }
    });
    'outer: loop {
        let stopping = stop.borrow().is_some();
        if stopping {
            break;
        }
        // While the loop looks at the store, any job committed meanwhile must nudge it: it may have
        // committed after the tick read the store.
        inner.planned_wake.store(i64::MAX, Ordering::SeqCst);
        // Answers from now on free slots the tick below does not know about.
        inner.answers_wanted.store(usize::MAX, Ordering::SeqCst);
        inner.answers.store(0, Ordering::SeqCst);
        let capacity = inner.config.max_concurrency.saturating_sub(tasks.len());
        let limit = capacity.min(CLAIM_BATCH);
        let now = inner.clock.now();
        let mut origins_blocked = false;
        // An endpoint at its in-flight bound is claimed for again once a part of its slots are
        // free (`Store::refill_divisor`), so one claim's commit serves several deliveries.
        let mut refill_blocked = 1;
        let (claimed_full, wake_at) = match inner.tick(limit).await {
            Ok(tick) => {
                origins_blocked = tick.blocked;
                refill_blocked = tick.refill;
                let full = limit > 0 && tick.claimed.len() == limit;
                let claimed_any = !tick.claimed.is_empty();
                for c in tick.claimed {
                    spawn_delivery(&mut tasks, &inner, c);
                }
                let poll = now
                    + chrono::Duration::from_std(inner.config.poll_interval).unwrap_or_default();
                let mut wake = tick.next_wake.map(from_ms).map_or(poll, |w| w.min(poll));
                if wake <= now && !full && !claimed_any {
                    // Due work that could not be claimed (all slots busy): wait for a slot, not a spin.
                    wake = now + chrono::Duration::milliseconds(50);
                }
                (full || capacity == 0, wake)
            }
            Err(e) => {
                tracing::warn!(error = %e, "dispatch tick failed; retrying");
                (
                    false,
                    now + chrono::Duration::from_std(ERROR_BACKOFF).unwrap_or_default(),
                )
            }
        };
        if now >= next_gauges {
            next_gauges = now + chrono::Duration::from_std(GAUGE_INTERVAL).unwrap_or_default();
            match transact!(&inner.store, |tx| tx.counts()) {
                Ok((pending, failed)) => {
                    metrics::gauge!(METRIC_PENDING).set(pending as f64);
                    metrics::gauge!(METRIC_FAILED).set(failed as f64);
                }
                Err(e) => tracing::warn!(error = %e, "cannot count jobs for the gauges"),
            }
        }
        if now >= next_prune {
            next_prune = now + chrono::Duration::from_std(PRUNE_INTERVAL).unwrap_or_default();
            if let Err(e) = inner.prune().await {
                tracing::warn!(error = %e, "pruning failed");
            }
        }
        if claimed_full && tasks.len() < inner.config.max_concurrency {
            // More is due and there is room: claim again at once.
            tokio::task::yield_now().await;
            continue;
        }
        inner.planned_wake.store(to_ms(wake_at), Ordering::SeqCst);
        // Requests answered since the tick: an endpoint held back by its in-flight bound may have
        // room again, once enough are free that the claim is shared by several.
        let wanted = if origins_blocked {
            refill_blocked
        } else {
            usize::MAX
        };
        inner.answers_wanted.store(wanted, Ordering::SeqCst);
        if inner.answers.load(Ordering::SeqCst) >= wanted {
            continue;
        }
        let sleep = inner.clock.sleep_until(wake_at);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep, if !claimed_full => continue 'outer,
                () = inner.nudge.notified() => continue 'outer,
                () = inner.answer.notified() => {
                    if inner.answers.load(Ordering::SeqCst) >= wanted {
                        continue 'outer;
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                    // Delivery slots freed (recorded): worth a new claim if work was left waiting
                    // for them, and once enough are free that the claim's commit is shared by many
                    // deliveries.
                    if claimed_full && inner.config.max_concurrency - tasks.len() >= refill {
                        continue 'outer;
                    }
                }
                _ = renew.tick() => {
                    if !tasks.is_empty() { inner.renew_leases().await; }
                }
                _ = stop.changed() => continue 'outer,
            }
        }
    }
    inner.planned_wake.store(i64::MIN, Ordering::SeqCst);
    if let Some(listener) = listener {
        listener.abort();
    }
    let grace = stop.borrow().unwrap_or_default();
    drain(&inner, tasks, &mut renew, grace).await;
}

/// Lets deliveries in flight finish for up to `grace`, then releases the rest.
async fn drain(
    inner: &Arc<Inner>,
    mut tasks: JoinSet<()>,
    renew: &mut tokio::time::Interval,
    grace: Duration,
) {
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    while !tasks.is_empty() {
        tokio::select! {
            _ = tasks.join_next() => {}
            _ = renew.tick() => inner.renew_leases().await,
            () = &mut deadline => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let (owner, now) = (inner.owner.clone(), to_ms(inner.clock.now()));
    let report = inner.report.clone();
    match transact!(&inner.store, |tx| engine::requeue_interrupted(
        tx,
        &owner,
        now,
        Interrupted::Owned,
        &report
    )) {
        Ok(done) => {
            if done.requeued + done.failed > 0 {
                tracing::info!(
                    released = done.requeued,
                    failed = done.failed,
                    "shutdown: released unfinished deliveries"
                );
            }
            for event in done.events {
                let _ = inner.events.send(event);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "shutdown: cannot release deliveries; their leases will expire")
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{JobSpec, ManualClock, Scheduler};

    /// A scheduler on a file in `dir`, on `clock`, not started: the tests tick it themselves.
    async fn open(dir: &tempfile::TempDir, clock: &ManualClock) -> Scheduler {
        Scheduler::builder(dir.path().join("jobs.db"))
            .allow_private_targets(true)
            .clock(clock.clone())
            .open()
            .await
            .unwrap()
    }

    /// A tick that only claims may commit without its own fsync; one that made cron occurrences
    /// (new ids: the webhook-ids a retry after a power cut must keep) may not.
    #[tokio::test]
    async fn only_ticks_that_made_cron_occurrences_or_rescued_work_need_their_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00.500Z")
            .unwrap()
            .to_utc();
        let clock = ManualClock::new(start);
        let s = open(&dir, &clock).await;
        s.schedule(JobSpec::post("http://127.0.0.1:9/once"))
            .await
            .unwrap();
        let tick = s.inner.tick(8).await.unwrap();
        assert_eq!(tick.claimed.len(), 1);
        assert!(!tick.durable, "a tick that only claimed");

        let cron = s
            .schedule(JobSpec::cron("http://127.0.0.1:9/cron", "* * * * * *"))
            .await
            .unwrap();
        clock.advance(std::time::Duration::from_secs(1));
        let tick = s.inner.tick(8).await.unwrap();
        assert_eq!(tick.claimed.len(), 1);
        assert!(tick.durable, "a tick that made a cron occurrence");

        // No cron job is left; the one-time job's lease runs out while nobody delivers it.
        s.cancel(&cron).await.unwrap();
        clock.advance(std::time::Duration::from_secs(3600));
        let tick = s.inner.tick(0).await.unwrap();
        assert!(tick.durable, "a tick that rescued an expired lease");
        let tick = s.inner.tick(0).await.unwrap();
        assert!(!tick.durable, "a tick with nothing to do");
    }

    /// An expired lease is taken back, unless its delivery is still under way in this worker
    /// (its lease renewal may lag behind a stalled clock or store); then once it no longer is.
    #[tokio::test]
    async fn an_expired_lease_is_taken_back_only_when_its_delivery_is_no_longer_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(chrono::Utc::now());
        let s = open(&dir, &clock).await;
        let id = s
            .schedule(JobSpec::post("http://127.0.0.1:9/once"))
            .await
            .unwrap();
        let tick = s.inner.tick(8).await.unwrap();
        let in_flight = super::InFlight::new(&s.inner, &tick.claimed[0].execution_id);
        let state = async || s.get(&id).await.unwrap().state;
        assert_eq!(state().await, crate::JobState::Running);

        clock.advance(std::time::Duration::from_secs(3600));
        let tick = s.inner.tick(0).await.unwrap();
        assert!(!tick.durable, "nothing taken back while it is in flight");
        assert_eq!(state().await, crate::JobState::Running);

        drop(in_flight);
        let tick = s.inner.tick(0).await.unwrap();
        assert!(tick.durable, "taken back once it is not");
        assert_eq!(state().await, crate::JobState::Scheduled);
    }
}
