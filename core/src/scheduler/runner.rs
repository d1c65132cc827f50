//! The delivery loop: claim due executions, send them with bounded concurrency, record the outcomes,
//! renew leases, and sleep until the earliest due time (one wake-up, not a timer per job).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{CLAIM_BATCH, Event, Inner, PRUNE_INTERVAL};
use crate::error::Result;
use crate::store::queries::{self, Claimed, Tick, TickParams};
use crate::store::{from_ms, to_ms};

/// Pause after a store error before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

impl Inner {
    async fn tick(&self, limit: usize) -> Result<Tick> {
        let params = TickParams {
            owner: self.owner.clone(),
            now: to_ms(self.clock.now()),
            lease_ms: millis(self.config.lease_duration),
            limit,
            missed_grace: chrono::Duration::from_std(self.config.missed_run_grace)
                .unwrap_or(chrono::Duration::MAX),
        };
        self.db.call(move |conn| queries::tick(conn, &params)).await
    }

    async fn renew_leases(&self) {
        let (owner, until) = (
            self.owner.clone(),
            to_ms(self.clock.now()) + millis(self.config.lease_duration),
        );
        if let Err(e) = self
            .db
            .call(move |conn| queries::renew_leases(conn, &owner, until))
            .await
        {
            tracing::warn!(error = %e, "cannot renew leases");
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Ticks every third of the lease: the live worker renews its leases so they never run out under
/// it, while those of a dead worker expire soon.
fn lease_renewal(inner: &Inner) -> tokio::time::Interval {
    let period = inner.config.lease_duration / 3;
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renew
}

/// Sends one claimed execution and records the outcome.
async fn deliver(inner: Arc<Inner>, c: Claimed) {
    let host = inner.host_semaphore(&c.url);
    let _permit = host.acquire_owned().await;
    let result = inner.dispatcher.send(&c, &*inner.clock).await;
    let now = to_ms(inner.clock.now());
    let owner = inner.owner.clone();
    let report = inner.report.clone();
    let execution = c.execution_id.clone();
    let due_at = c.due_at;
    match inner
        .db
        .call(move |conn| queries::record(conn, &owner, &report, &c, &result, now))
        .await
    {
        Ok(queries::Recorded {
            attempt,
            state,
            events,
        }) => {
            tracing::debug!(job = %attempt.job_id, execution = %attempt.execution_id,
                number = attempt.number, status = ?attempt.status, error = ?attempt.error,
                lateness_ms = to_ms(attempt.started_at) - due_at, "attempt");
            // Nobody listening is fine.
            let _ = inner.events.send(Event::Attempt { attempt, state });
            for event in events {
                let _ = inner.events.send(event);
            }
        }
        // The lease runs out and another claim delivers it again, with the same webhook-id.
        Err(e) => tracing::warn!(execution = %execution, error = %e, "cannot record attempt"),
    }
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
        let mut tasks = JoinSet::new();
        for c in tick.claimed {
            tasks.spawn(deliver(inner.clone(), c));
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
    let refill = (inner.config.max_concurrency / 4).clamp(1, CLAIM_BATCH);
    'outer: loop {
        let stopping = stop.borrow().is_some();
        if stopping {
            break;
        }
        // While the loop looks at the store, any job committed meanwhile must nudge it: it may have
        // committed after the tick read the store.
        inner.planned_wake.store(i64::MAX, Ordering::SeqCst);
        let capacity = inner.config.max_concurrency.saturating_sub(tasks.len());
        let limit = capacity.min(CLAIM_BATCH);
        let now = inner.clock.now();
        let (claimed_full, wake_at) = match inner.tick(limit).await {
            Ok(tick) => {
                let full = limit > 0 && tick.claimed.len() == limit;
                let claimed_any = !tick.claimed.is_empty();
                for c in tick.claimed {
                    tasks.spawn(deliver(inner.clone(), c));
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
        let sleep = inner.clock.sleep_until(wake_at);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep, if !claimed_full => continue 'outer,
                () = inner.nudge.notified() => continue 'outer,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                    // Slots freed: worth a new claim if work was left waiting for them, and once
                    // enough are free that the claim's commit is shared by many deliveries.
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
    match inner
        .db
        .call(move |conn| queries::release_owned(conn, &owner, now))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(released = n, "shutdown: released unfinished deliveries"),
        Err(e) => {
            tracing::warn!(error = %e, "shutdown: cannot release deliveries; their leases will expire")
        }
    }
}
