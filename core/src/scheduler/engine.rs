//! The engine's decisions, written once above the storage seam: each function runs inside one
//! transaction of whichever store is open (see [`crate::store::Tx`] and [`crate::store::transact!`]).
//!
//! Here live the claim tick (rescue of expired leases, cron materialisation, flow control, the
//! claim), recording an attempt and moving its execution on, reporting outcomes (callbacks,
//! subscription events, endpoint health), and the state changes users ask for.

use std::time::Duration;

use super::flow::Flow;
use crate::cron::{CronSchedule, due_occurrences};
use crate::error::{Error, Result};
use crate::job::{Attempt, AttemptError, ExecutionId, JobId, JobKind, JobState, Method};
use crate::outcome::{Endpoint, Event, EventType, Outcome, OutcomeStatus};
use crate::retry::Verdict;
use crate::store::{
    ClaimParams, Claimed, DeadLetterFilter, ExecRef, ExecState, Finish, Internal, Interrupted,
    NewJob, RESPONSE_BODY_LIMIT, Running, Transition, Tx, from_ms,
};

/// Cron jobs materialised per tick; the rest follow on the next tick.
const CRON_BATCH: usize = 1_000;
/// Cron occurrences materialised per tick, give or take one job's: once a tick has made this
/// many, the jobs still due wait for the next tick (at once), so that a catch-up across many
/// jobs is written in short transactions and claims and lease renewals go on between them.
const OCCURRENCE_BUDGET: usize = 10_000;

/// What recording needs to know about the scheduler's settings.
#[derive(Debug, Clone)]
pub(crate) struct ReportParams {
    pub environment: Option<String>,
    /// The retry policy (JSON) and timeout of callback and event deliveries.
    pub retry: String,
    pub timeout_ms: i64,
    /// An endpoint failing continuously for this long...
    pub disable_after_ms: i64,
    /// ...and at least this many times is disabled.
    pub disable_min_failures: u32,
    /// A 410 disables an endpoint at once.
    pub disable_on_gone: bool,
    /// An execution interrupted this many times is failed.
    pub max_interrupted: u32,
    /// The shape of callbacks of jobs without a profile of their own (the scheduler's profile).
    pub shape: crate::profile::Shape,
}

/// Parameters of a tick.
#[derive(Debug, Clone)]
pub(crate) struct TickParams {
    pub owner: String,
    /// The executions this worker is delivering now: their leases are renewed, never rescued.
    pub in_flight: Vec<ExecutionId>,
    /// Those of them whose request has its answer (only the record is left): no longer in flight
    /// for their endpoint's bound.
    pub answered: Vec<ExecutionId>,
    pub now: i64,
    pub lease_ms: i64,
    pub limit: usize,
    pub missed_grace: chrono::Duration,
}

/// What one pass of the dispatch loop found.
#[derive(Debug, Default)]
pub(crate) struct Tick {
    pub claimed: Vec<Claimed>,
    /// The earliest instant at which more work may become due: a pending execution, an expired lease
    /// of another worker, a cron occurrence, or a rate-limited endpoint's next token.
    pub next_wake: Option<i64>,
    /// Whether an endpoint was held back by its limits.
    pub blocked: bool,
    /// How many deliveries should finish before a held-back endpoint is worth a new claim.
    pub refill: usize,
    /// Cron jobs failed because their stored schedule no longer reads.
    pub unreadable: usize,
    /// Events raised by executions failed for being interrupted too often.
    pub events: Vec<Event>,
    /// Whether the tick wrote what must survive a power cut before its claims are sent: cron
    /// occurrences (each has a new id, its webhook-id) or rescued executions. A tick that only
    /// claimed need not wait for its own fsync: a claim lost with the power is claimed again, with
    /// the same webhook-id, and the first record after it makes it durable anyway.
    pub durable: bool,
}

/// One pass: rescue executions whose worker died, turn due cron occurrences into executions, then
/// claim up to `p.limit` due executions with a lease, within every endpoint's limits.
pub(crate) async fn tick<T: Tx>(
    tx: &mut T,
    p: &TickParams,
    flow: &Flow,
    report: &ReportParams,
) -> Result<Tick> {
    tx.lock_claims().await?;
    let expired = Interrupted::Expired {
        in_flight: &p.in_flight,
    };
    let interrupted = requeue_interrupted(tx, &p.owner, p.now, expired, report).await?;
    let state = tx.flow_state(&p.answered).await?;
    if !state.disabled.is_empty() {
        // Each held row once; after that, a disabled endpoint's backlog costs nothing per tick.
        // Before cron, whose held jobs then make no occurrences.
        tx.hold(&state.disabled).await?;
    }
    let (cron_changed, unreadable) = materialize_cron(tx, p.now, p.missed_grace).await?;
    let plan = flow.plan(&state, p.now);
    // No more than the endpoints' rooms can take: the claim then reads no more candidates than
    // it may use (one more endpoint's room for those it has not seen yet).
    let room: usize = plan.rooms.values().sum::<usize>() + plan.default_room;
    let params = ClaimParams {
        owner: p.owner.clone(),
        now: p.now,
        lease_ms: p.lease_ms,
        limit: p.limit.min(room),
        rooms: plan.rooms,
        default_room: plan.default_room,
        excluded: plan.excluded,
    };
    let mut claimed = Vec::new();
    let mut after = state;
    if p.limit > 0 {
        claimed = tx.claim(&params).await?;
        let spent = flow.spend(&after, &claimed, p.now);
        if !spent.is_empty() {
            tx.save_rates(&spent).await?;
        }
        // What the next claim will find: these deliveries in flight, these tokens spent.
        for c in &claimed {
            *after.running.entry(c.origin.clone()).or_default() += 1;
        }
        for (origin, rate) in spent {
            match rate {
                Some(r) => after.rates.insert(origin, r),
                None => after.rates.remove(&origin),
            };
        }
    }
    let next = flow.plan(&after, p.now);
    // The tick's last statement: on PostgreSQL it turns planner settings off for the rest of
    // the transaction.
    let next_wake = tx.next_wake(&next.excluded).await?;
    Ok(Tick {
        claimed,
        next_wake: next_wake.into_iter().chain(next.until).min(),
        blocked: next.blocked,
        refill: next.refill,
        unreadable,
        durable: cron_changed || interrupted.requeued + interrupted.failed > 0,
        events: interrupted.events,
    })
}

/// What [`requeue_interrupted`] did.
#[derive(Debug, Default)]
pub(crate) struct Interruptions {
    /// Executions due again at once.
    pub requeued: usize,
    /// Executions failed: interrupted too often.
    pub failed: usize,
    /// The events those failures raised, for in-process listeners.
    pub events: Vec<Event>,
}

/// Takes back executions in flight whose lease expired (their worker died or lost the store, or
/// this worker no longer delivers them: their outcome could not be recorded, or their task was
/// dropped), or this worker's own (the shutdown deadline passed). Each in-flight attempt is
/// recorded as interrupted, and the execution becomes due again at once, keeping its id. An
/// interrupted attempt does not count against the retry policy; but an execution interrupted
/// `report.max_interrupted` times is failed (error kind `interrupted`), with its outcome
/// reported as for any failure, so a job that itself kills its worker is not retried forever.
pub(crate) async fn requeue_interrupted<T: Tx>(
    tx: &mut T,
    owner: &str,
    now: i64,
    which: Interrupted<'_>,
    report: &ReportParams,
) -> Result<Interruptions> {
    let why = match which {
        Interrupted::Expired { .. } => {
            "no worker recorded an outcome before the lease expired (it stopped, or lost the store)"
        }
        Interrupted::Owned => "shutdown deadline reached before the attempt finished",
    };
    let rows = tx.running(owner, now, which).await?;
    // This interruption is the execution's `budget_start + 1`th.
    let gives_up = |r: &Running| r.budget_start.saturating_add(1) >= report.max_interrupted;
    let transitions: Vec<Transition> = rows
        .iter()
        .map(|r| {
            if gives_up(r) {
                return Transition {
                    state: ExecState::Failed,
                    due_at: None,
                    finished_at: Some(now),
                    job_state: (r.kind == JobKind::Once).then_some(JobState::Failed),
                    refund_attempt: true,
                };
            }
            Transition {
                state: ExecState::Pending,
                due_at: Some(now),
                finished_at: None,
                job_state: (r.kind == JobKind::Once).then_some(if r.attempt > 1 {
                    JobState::Retrying
                } else {
                    JobState::Scheduled
                }),
                refund_attempt: true,
            }
        })
        .collect();
    let finishes: Vec<Finish<'_>> = rows
        .iter()
        .zip(&transitions)
        .map(|(r, t)| Finish {
            exec: &r.exec,
            owner: r.owner.as_deref(),
            t,
        })
        .collect();
    let owned = tx.finish_executions(&finishes, now).await?;
    let taken: Vec<(&Running, Attempt)> = rows
        .iter()
        .zip(&owned)
        .filter(|(_, owned)| **owned)
        .map(|(r, _)| {
            let started = r.started_at.unwrap_or(now);
            let (message, next_retry_at) = if gives_up(r) {
                let n = r.budget_start.saturating_add(1);
                let message = format!(
                    "{why}; interrupted {n} times, the most allowed (max_interrupted_attempts): failed"
                );
                (message, None)
            } else {
                (why.to_owned(), Some(from_ms(now)))
            };
            let attempt = Attempt {
                job_id: r.exec.job_id.clone(),
                execution_id: r.exec.execution_id.clone(),
                number: r.attempt,
                started_at: from_ms(started),
                duration: Duration::from_millis(u64::try_from(now - started).unwrap_or(0)),
                status: None,
                response_body: None,
                error: Some(AttemptError::Interrupted),
                message: Some(message),
                next_retry_at,
            };
            (r, attempt)
        })
        .collect();
    let attempts: Vec<Attempt> = taken.iter().map(|(_, a)| a.clone()).collect();
    tx.insert_attempts(&attempts).await?;
    let mut done = Interruptions::default();
    let mut batch = BatchCache::default();
    for (r, attempt) in &taken {
        if attempt.next_retry_at.is_some() {
            done.requeued += 1;
            continue;
        }
        done.failed += 1;
        let job = Reported::running(r);
        let events = report_outcome(tx, report, &job, attempt, now, &mut batch).await?;
        done.events.extend(events);
    }
    if done.requeued > 0 {
        tx.notify().await?;
    }
    Ok(done)
}

/// Turns the due occurrences of cron jobs into executions, as each job's missed-run policy says,
/// and moves each job's next fire time on in the same transaction. A job whose stored expression
/// or time zone no longer parses (a zone removed from the tz database) is failed, with an
/// `unreadable` attempt saying why, rather than failing every tick. Returns whether any cron job
/// was due, and how many were failed so.
async fn materialize_cron<T: Tx>(
    tx: &mut T,
    now: i64,
    grace: chrono::Duration,
) -> Result<(bool, usize)> {
    let mut unreadable = 0;
    let mut made = 0;
    let due = tx.due_cron(now, CRON_BATCH).await?;
    let changed = !due.is_empty();
    for job in due {
        if made >= OCCURRENCE_BUDGET {
            // Its next fire time is unchanged: still due, it comes first in the next tick.
            break;
        }
        let schedule = match CronSchedule::parse(&job.expr, &job.tz) {
            Ok(schedule) => schedule,
            Err(e) => {
                fail_unreadable_cron(tx, &job.id, &e.to_string(), now).await?;
                unreadable += 1;
                continue;
            }
        };
        let due = due_occurrences(
            &schedule,
            from_ms(job.next_fire_at),
            from_ms(now),
            job.missed.unwrap_or_default(),
            grace,
        );
        let occurrences: Vec<(ExecutionId, i64)> = due
            .run
            .iter()
            .map(|t| (ExecutionId::generate(), t.timestamp_millis()))
            .collect();
        made += occurrences.len();
        tx.insert_occurrences(&job.id, &job.origin, &occurrences, false, now)
            .await?;
        tx.set_next_fire(&job.id, due.next_fire.map(|t| t.timestamp_millis()), now)
            .await?;
    }
    Ok((changed, unreadable))
}

/// Fails a cron job whose schedule cannot be read, recording why as an attempt of the
/// occurrence that could not be computed.
async fn fail_unreadable_cron<T: Tx>(tx: &mut T, id: &JobId, why: &str, now: i64) -> Result<()> {
    tracing::warn!(job = %id, error = %why, "cron job failed: its stored schedule no longer reads");
    tx.set_next_fire(id, None, now).await?;
    tx.set_job_state(id, JobState::Failed, now).await?;
    tx.insert_attempts(&[Attempt {
        job_id: id.clone(),
        execution_id: ExecutionId::generate(),
        number: 1,
        started_at: from_ms(now),
        duration: Duration::ZERO,
        status: None,
        response_body: None,
        error: Some(AttemptError::Unreadable),
        message: Some(format!(
            "the stored schedule no longer reads: {why}; the job is failed without a request"
        )),
        next_retry_at: None,
    }])
    .await
}

/// The result of one attempt, as measured by the dispatcher.
#[derive(Debug, Clone)]
pub(crate) struct AttemptResult {
    pub execution_id: ExecutionId,
    pub job_id: JobId,
    pub attempt: u32,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status: Option<u16>,
    pub response_body: Option<Vec<u8>>,
    pub error: Option<AttemptError>,
    pub message: Option<String>,
    pub verdict: Verdict,
    pub retry_after: Option<Duration>,
    /// When the execution is retried, decided by the dispatcher from the verdict and the job's
    /// policy; `None` means it is finished.
    pub next_delay: Option<Duration>,
}

/// An attempt as recorded, with what it raised.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub attempt: Attempt,
    pub state: JobState,
    pub events: Vec<Event>,
}

/// Records attempts, each moving its execution (and one-time job) on: succeeded, due again later,
/// or failed, and reports each outcome (callbacks, subscription events, endpoint health), all in
/// one transaction. If an execution's lease was lost meanwhile (another worker took over, or the
/// job was cancelled), only its attempt is recorded. The outer `Result` fails the whole batch (a
/// store error); an inner one is about its attempt alone (its job is gone).
pub(crate) async fn record_many<T: Tx>(
    tx: &mut T,
    owner: &str,
    report: &ReportParams,
    items: &[(&Claimed, &AttemptResult)],
    now: i64,
) -> Result<Vec<Result<Recorded>>> {
    let plans: Vec<(Transition, JobState)> = items
        .iter()
        .map(|(c, r)| {
            let (state, due_at) = match r.next_delay {
                None if r.verdict == Verdict::Success => (ExecState::Succeeded, None),
                None => (ExecState::Failed, None),
                Some(delay) => (
                    ExecState::Pending,
                    Some(now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2)),
                ),
            };
            // What a one-time job becomes with its execution.
            let once_state = match state {
                ExecState::Succeeded => JobState::Succeeded,
                ExecState::Pending => JobState::Retrying,
                ExecState::Failed => JobState::Failed,
            };
            let t = Transition {
                state,
                due_at,
                finished_at: (state != ExecState::Pending).then_some(now),
                job_state: (c.kind == JobKind::Once).then_some(once_state),
                refund_attempt: false,
            };
            (t, once_state)
        })
        .collect();
    let exec_refs: Vec<ExecRef> = items.iter().map(|(c, _)| c.exec_ref()).collect();
    let finishes: Vec<Finish<'_>> = exec_refs
        .iter()
        .zip(&plans)
        .map(|(exec, (t, _))| Finish {
            exec,
            owner: Some(owner),
            t,
        })
        .collect();
    let owned = tx.finish_executions(&finishes, now).await?;
    let mut outcomes: Vec<Result<(Attempt, JobState)>> = Vec::with_capacity(items.len());
    for (((c, r), (t, once_state)), owned) in items.iter().zip(&plans).zip(&owned) {
        let state = if *owned && c.kind == JobKind::Once {
            Some(*once_state)
        } else {
            // A cron job's state does not follow its occurrences; and if the lease was lost
            // (another worker took over, or the job was cancelled), only the attempt is recorded.
            tx.job_state(&r.job_id).await?
        };
        let Some(state) = state else {
            outcomes.push(Err(Error::NotFound(r.job_id.clone())));
            continue;
        };
        let next_retry_at = if *owned { t.due_at } else { None };
        outcomes.push(Ok((
            Attempt {
                job_id: r.job_id.clone(),
                execution_id: r.execution_id.clone(),
                number: r.attempt,
                started_at: from_ms(r.started_at),
                duration: Duration::from_millis(u64::try_from(r.duration_ms).unwrap_or(0)),
                status: r.status,
                response_body: r
                    .response_body
                    .as_ref()
                    .map(|b| b[..b.len().min(RESPONSE_BODY_LIMIT)].to_vec()),
                error: r.error,
                message: r.message.clone(),
                next_retry_at: next_retry_at.map(from_ms),
            },
            state,
        )));
    }
    let attempts: Vec<Attempt> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|(a, _)| a.clone()))
        .collect();
    tx.insert_attempts(&attempts).await?;
    let mut batch = BatchCache::default();
    let mut recorded = Vec::with_capacity(items.len());
    for (((c, _), owned), outcome) in items.iter().zip(owned).zip(outcomes) {
        recorded.push(match outcome {
            Ok((attempt, state)) => {
                let events = if owned {
                    let job = Reported::claimed(c);
                    report_outcome(tx, report, &job, &attempt, now, &mut batch).await?
                } else {
                    Vec::new()
                };
                Ok(Recorded {
                    attempt,
                    state,
                    events,
                })
            }
            Err(e) => Err(e),
        });
    }
    Ok(recorded)
}

/// What reporting the outcomes of one batch of attempts looks up once for all of them.
#[derive(Default)]
struct BatchCache {
    /// The subscribers of each event type.
    subscribers: std::collections::HashMap<EventType, Vec<String>>,
    /// Endpoints whose failure streak this batch has already ended (and not restarted since).
    reset: std::collections::HashSet<String>,
}

/// The event a finished or failed attempt raises.
pub(crate) fn event_type(attempt: &Attempt, retry_follows: bool) -> EventType {
    match (attempt.error, retry_follows) {
        (None, _) => EventType::JobCompleted,
        (Some(_), true) => EventType::JobRetrying,
        (Some(AttemptError::Timeout), false) => EventType::JobTimedOut,
        (Some(_), false) => EventType::JobFailed,
    }
}

/// What reporting an outcome needs to know about the execution's job.
struct Reported<'a> {
    name: Option<&'a str>,
    origin: &'a str,
    on_success_url: Option<&'a str>,
    on_failure_url: Option<&'a str>,
    internal: Internal,
    /// Attempts that do not count against the policy.
    budget_start: u32,
    /// The job's own signing settings (JSON), if any: its callbacks are signed and shaped alike.
    signing: Option<&'a str>,
}

impl<'a> Reported<'a> {
    fn claimed(c: &'a Claimed) -> Self {
        Reported {
            name: c.name.as_deref(),
            origin: &c.origin,
            on_success_url: c.on_success_url.as_deref(),
            on_failure_url: c.on_failure_url.as_deref(),
            internal: c.internal,
            budget_start: c.budget_start,
            signing: c.signing.as_deref(),
        }
    }

    fn running(r: &'a Running) -> Self {
        Reported {
            name: r.job.name.as_deref(),
            origin: &r.job.origin,
            on_success_url: r.job.on_success_url.as_deref(),
            on_failure_url: r.job.on_failure_url.as_deref(),
            internal: r.job.internal,
            budget_start: r.budget_start,
            signing: r.job.signing.as_deref(),
        }
    }
}

fn outcome(c: &Reported<'_>, attempt: &Attempt) -> Outcome {
    let status = match attempt.error {
        None => OutcomeStatus::Success,
        Some(AttemptError::Status | AttemptError::Redirect) => OutcomeStatus::Failure,
        Some(AttemptError::Timeout) => OutcomeStatus::Timeout,
        Some(_) => OutcomeStatus::Error,
    };
    Outcome {
        job_id: attempt.job_id.clone(),
        job_name: c.name.map(str::to_owned),
        execution_id: attempt.execution_id.clone(),
        status,
        executed_at: attempt.started_at,
        response_code: attempt.status,
        response_time_ms: u64::try_from(attempt.duration.as_millis()).unwrap_or(u64::MAX),
        response_body: attempt
            .response_body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        error_message: attempt.message.clone(),
        retry_attempt: attempt.number.saturating_sub(c.budget_start + 1),
        next_retry_at: attempt.next_retry_at,
    }
}

/// Reports one recorded attempt of an execution this worker owned: callbacks, subscription events,
/// endpoint health. Returns the events for in-process listeners.
async fn report_outcome<T: Tx>(
    tx: &mut T,
    p: &ReportParams,
    c: &Reported<'_>,
    attempt: &Attempt,
    now: i64,
    batch: &mut BatchCache,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    if c.internal == Internal::User {
        let event = event_type(attempt, attempt.next_retry_at.is_some());
        let outcome = outcome(c, attempt);
        let callback = if attempt.error.is_none() {
            c.on_success_url
        } else {
            c.on_failure_url
        };
        if let Some(url) = callback {
            // A job with a profile of its own gets callbacks signed and shaped as that service
            // sends them; others as the scheduler's.
            let own = c
                .signing
                .and_then(|json| crate::job::JobSigning::from_db(json).ok())
                .filter(|s| s.has_keys());
            let shape = own.as_ref().map_or(p.shape, |s| s.shape);
            let body = outcome.to_json_shaped(shape);
            let signing = own.map(|s| s.to_db());
            insert_internal(tx, p, url, &body, Internal::Callback, signing, now).await?;
        }
        // The event's payload is built only when some subscription wants it.
        let urls = subscribers(tx, event, batch).await?;
        if !urls.is_empty() {
            let body = if p.shape == crate::profile::Shape::CronFlow {
                // A completion says when a cron job runs next.
                let next_run_at = match outcome.status {
                    OutcomeStatus::Success => tx
                        .cron_of(&outcome.job_id)
                        .await?
                        .and_then(|(expr, tz)| CronSchedule::parse(&expr, &tz).ok())
                        .and_then(|schedule| schedule.next_after(from_ms(now))),
                    _ => None,
                };
                serde_json::json!({
                    "event": event.as_str(),
                    "timestamp": from_ms(now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "job_id": outcome.job_id.as_str(),
                    "environment": p.environment,
                    "data": outcome.cronflow_data(next_run_at),
                })
            } else {
                event_body(event, outcome.to_json(p.environment.as_deref()), now)
            };
            for url in urls {
                insert_internal(tx, p, &url, &body, Internal::Event, None, now).await?;
            }
        }
        events.push(Event::Job { event, outcome });
    }
    // An interrupted or unreadable job says nothing about its endpoint's health.
    if matches!(
        attempt.error,
        Some(AttemptError::Interrupted | AttemptError::Unreadable)
    ) {
        return Ok(events);
    }
    if let Some(endpoint) = track_endpoint(tx, p, c.origin, attempt, now, batch).await? {
        let data = endpoint.to_json(p.environment.as_deref());
        let body = event_body(EventType::EndpointDisabled, data, now);
        publish(tx, p, EventType::EndpointDisabled, body, now, batch).await?;
        events.push(Event::EndpointDisabled(endpoint));
    }
    Ok(events)
}

/// Queues a delivery of `body`, an `event`, to every subscription that wants it.
async fn publish<T: Tx>(
    tx: &mut T,
    p: &ReportParams,
    event: EventType,
    body: serde_json::Value,
    now: i64,
    batch: &mut BatchCache,
) -> Result<()> {
    for url in subscribers(tx, event, batch).await? {
        insert_internal(tx, p, &url, &body, Internal::Event, None, now).await?;
    }
    Ok(())
}

/// The URLs of the subscriptions that want `event`, read once per batch.
async fn subscribers<T: Tx>(
    tx: &mut T,
    event: EventType,
    batch: &mut BatchCache,
) -> Result<Vec<String>> {
    if let Some(urls) = batch.subscribers.get(&event) {
        return Ok(urls.clone());
    }
    let urls = tx.subscribers(event).await?;
    batch.subscribers.insert(event, urls.clone());
    Ok(urls)
}

/// A Standard Webhooks event payload: `{"type", "timestamp", "data"}`.
pub(crate) fn event_body(event: EventType, data: serde_json::Value, now: i64) -> serde_json::Value {
    serde_json::json!({
        "type": event.as_str(),
        "timestamp": from_ms(now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
}

/// Inserts a delivery made by the scheduler itself (a callback, an event, a test message), due now.
pub(crate) async fn insert_internal<T: Tx>(
    tx: &mut T,
    p: &ReportParams,
    url: &str,
    body: &serde_json::Value,
    internal: Internal,
    signing: Option<String>,
    now: i64,
) -> Result<JobId> {
    let job = NewJob {
        id: JobId::generate(),
        execution_id: Some(ExecutionId::generate()),
        kind: JobKind::Once,
        name: Some(
            match internal {
                Internal::Callback => "timehook.callback",
                Internal::Event => "timehook.event",
                Internal::Test => "timehook.test",
                Internal::User => "timehook",
            }
            .to_owned(),
        ),
        labels: "[]".to_owned(),
        url: url.to_owned(),
        method: Method::Post,
        headers: r#"[["content-type","application/json"]]"#.to_owned(),
        body: crate::json::to_vec(body).expect("JSON values serialise"),
        timeout_ms: p.timeout_ms,
        retry: p.retry.clone(),
        signing,
        idempotency_key: None,
        cron_expr: None,
        cron_tz: None,
        missed: None,
        due_at: now,
        origin: crate::outcome::origin_of(url),
        on_success_url: None,
        on_failure_url: None,
        internal,
    };
    let mut ids = tx.insert_jobs(std::slice::from_ref(&job), now).await?;
    tx.notify().await?;
    Ok(ids.pop().expect("one id"))
}

/// Updates the endpoint's failure streak; returns it if this attempt disabled it.
async fn track_endpoint<T: Tx>(
    tx: &mut T,
    p: &ReportParams,
    origin: &str,
    attempt: &Attempt,
    now: i64,
    batch: &mut BatchCache,
) -> Result<Option<Endpoint>> {
    if attempt.error.is_none() {
        // A second success in the batch, with no failure between, changes nothing.
        if batch.reset.insert(origin.to_owned()) {
            tx.endpoint_succeeded(origin).await?;
        }
        return Ok(None);
    }
    batch.reset.remove(origin);
    let streak = tx.endpoint_failed(origin, now).await?;
    let gone = p.disable_on_gone && attempt.status == Some(410);
    let too_long = now - streak.failing_since >= p.disable_after_ms
        && streak.failures >= p.disable_min_failures;
    if streak.disabled_at.is_some() || !(gone || too_long) {
        return Ok(None);
    }
    tx.disable_endpoint(origin, now).await?;
    Ok(Some(Endpoint {
        origin: origin.to_owned(),
        failing_since: Some(from_ms(streak.failing_since)),
        failures: streak.failures,
        disabled_at: Some(from_ms(now)),
    }))
}

/// A job's kind and state, locked, or `NotFound`.
async fn existing<T: Tx>(tx: &mut T, id: &JobId) -> Result<(JobKind, JobState)> {
    tx.lock_job(id)
        .await?
        .ok_or_else(|| Error::NotFound(id.clone()))
}

/// Cancels a job: a pending or retrying execution never fires, and a cron job stops producing
/// occurrences. Cancelling a cancelled job is a no-op; a finished one cannot be cancelled.
pub(crate) async fn cancel<T: Tx>(tx: &mut T, id: &JobId, now: i64) -> Result<()> {
    let (_, state) = existing(tx, id).await?;
    match state {
        JobState::Cancelled => Ok(()),
        JobState::Succeeded | JobState::Failed => Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "cancel",
        }),
        _ => tx.cancel_job(id, now).await,
    }
}

/// Moves a scheduled or retrying one-time job to `at`.
pub(crate) async fn reschedule<T: Tx>(tx: &mut T, id: &JobId, at: i64, now: i64) -> Result<()> {
    let (kind, state) = existing(tx, id).await?;
    if kind != JobKind::Once || !matches!(state, JobState::Scheduled | JobState::Retrying) {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "reschedule",
        });
    }
    tx.reschedule_job(id, at, now).await?;
    if at <= now {
        tx.notify().await?;
    }
    Ok(())
}

/// Pauses a scheduled cron job: no new occurrences until `resume`.
pub(crate) async fn pause<T: Tx>(tx: &mut T, id: &JobId, now: i64) -> Result<()> {
    let (kind, state) = existing(tx, id).await?;
    if kind != JobKind::Cron || !matches!(state, JobState::Scheduled | JobState::Paused) {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "pause",
        });
    }
    tx.set_job_state(id, JobState::Paused, now).await
}

/// Resumes a paused cron job from its next occurrence after `now`; occurrences during the pause are
/// skipped.
pub(crate) async fn resume<T: Tx>(tx: &mut T, id: &JobId, now: i64) -> Result<()> {
    let (kind, state) = existing(tx, id).await?;
    if kind != JobKind::Cron || !matches!(state, JobState::Paused | JobState::Scheduled) {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "resume",
        });
    }
    if state == JobState::Scheduled {
        return Ok(());
    }
    let (expr, tz) = tx
        .cron_of(id)
        .await?
        .ok_or_else(|| Error::NotFound(id.clone()))?;
    let next = CronSchedule::parse(&expr, &tz)?
        .next_after(from_ms(now))
        .map(|t| t.timestamp_millis());
    tx.resume_cron(id, next, now).await
}

/// Runs a job now: a new occurrence of a cron job (its schedule is unchanged), or the pending
/// execution of a one-time job. Returns the execution id.
pub(crate) async fn trigger<T: Tx>(tx: &mut T, id: &JobId, now: i64) -> Result<ExecutionId> {
    let (kind, state) = existing(tx, id).await?;
    let exec = match (kind, state) {
        (JobKind::Cron, JobState::Scheduled | JobState::Paused) => {
            let origin = tx
                .get(id)
                .await?
                .map(|j| crate::outcome::origin_of(&j.url))
                .ok_or_else(|| Error::NotFound(id.clone()))?;
            let exec = ExecutionId::generate();
            tx.insert_occurrences(id, &origin, &[(exec.clone(), now)], true, now)
                .await?;
            exec
        }
        (JobKind::Once, JobState::Scheduled | JobState::Retrying) => {
            tx.due_now(id, now).await?.ok_or(Error::InvalidState {
                id: id.clone(),
                state,
                action: "trigger",
            })?
        }
        _ => {
            return Err(Error::InvalidState {
                id: id.clone(),
                state,
                action: "trigger",
            });
        }
    };
    tx.notify().await?;
    Ok(exec)
}

/// Re-queues a failed job (a dead letter) with a fresh retry budget and the same execution id. For a
/// cron job, every failed occurrence is re-queued. Returns how many executions were re-queued.
pub(crate) async fn retry<T: Tx>(tx: &mut T, id: &JobId, now: i64) -> Result<usize> {
    let (kind, state) = existing(tx, id).await?;
    if kind == JobKind::Once && state != JobState::Failed {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "retry",
        });
    }
    let n = tx.requeue_failed(id, now).await?;
    if n == 0 {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "retry",
        });
    }
    if kind == JobKind::Once {
        tx.set_job_state(id, JobState::Scheduled, now).await?;
    }
    tx.notify().await?;
    Ok(n)
}

/// Re-queues every dead letter matching `f`, due now, with a fresh retry budget and the same
/// execution ids. Returns how many executions were re-queued.
pub(crate) async fn retry_failed<T: Tx>(
    tx: &mut T,
    f: &DeadLetterFilter,
    now: i64,
) -> Result<usize> {
    let victims = tx.dead_letters(f).await?;
    for d in &victims {
        tx.requeue_dead_letter(d, now).await?;
    }
    if !victims.is_empty() {
        tx.notify().await?;
    }
    Ok(victims.len())
}

/// Deletes every dead letter matching `f`, with its attempts: failed one-time jobs whole, and the
/// failed occurrences of cron jobs. Returns how many executions were deleted.
pub(crate) async fn purge<T: Tx>(tx: &mut T, f: &DeadLetterFilter) -> Result<usize> {
    let victims = tx.dead_letters(f).await?;
    for d in &victims {
        tx.delete_dead_letter(d).await?;
    }
    Ok(victims.len())
}

/// Inserts a test delivery to `url` and claims it at once (`send_test`).
pub(crate) async fn insert_and_claim_test<T: Tx>(
    tx: &mut T,
    report: &ReportParams,
    url: &str,
    body: &serde_json::Value,
    owner: &str,
    now: i64,
    lease_ms: i64,
) -> Result<Claimed> {
    let id = insert_internal(tx, report, url, body, Internal::Test, None, now).await?;
    tx.claim_job(owner, &id, now, lease_ms)
        .await?
        .ok_or(Error::NotFound(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::MissedRunPolicy;
    use crate::store::transact;
    use crate::{JobSpec, ManualClock, Scheduler};

    /// A catch-up across 1000 cron jobs (50 each, 50,000 occurrences) is materialised over
    /// several ticks of at most the budget (give or take one job's), and every job gets exactly
    /// what its policy says.
    #[tokio::test]
    async fn a_catch_up_across_many_cron_jobs_is_written_in_bounded_ticks() {
        let start = chrono::DateTime::from_timestamp(1_796_515_200, 0).unwrap();
        let clock = ManualClock::new(start);
        let s = Scheduler::in_memory()
            .clock(clock.clone())
            .open()
            .await
            .unwrap();
        let specs = (0..1000).map(|i| {
            JobSpec::cron(format!("https://example.com/{i}"), "* * * * *")
                .missed(MissedRunPolicy::CatchUp(50))
        });
        s.schedule_many(specs).await.unwrap();
        // Three hours later: 180 occurrences each, all but the last missed.
        clock.advance(Duration::from_secs(3 * 3600));
        let now = (start + chrono::Duration::hours(3)).timestamp_millis();
        let grace = chrono::Duration::seconds(30);
        let mut ticks = Vec::new();
        loop {
            let made = transact!(&s.inner.store, |tx| async move {
                let (before, _) = tx.counts().await?;
                materialize_cron(tx, now, grace).await?;
                let (after, _) = tx.counts().await?;
                Ok(after - before)
            })
            .unwrap();
            if made == 0 {
                break;
            }
            ticks.push(made);
        }
        // The 50 newest missed ones and the one on time, for each job.
        assert_eq!(ticks.iter().sum::<i64>(), 1000 * 51, "{ticks:?}");
        assert!(ticks.len() >= 5, "{ticks:?}");
        for made in &ticks {
            assert!(*made <= (OCCURRENCE_BUDGET + 51) as i64, "{ticks:?}");
        }
    }
}
