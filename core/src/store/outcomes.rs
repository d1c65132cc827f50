//! Reporting outcomes inside the transaction that records an attempt: callbacks and subscription
//! events become durable deliveries of their own, and endpoint health is tracked.

use rusqlite::{Connection, params};

use super::queries::{Claimed, Internal, NewJob, insert_jobs};
use super::{from_ms, to_ms};
use crate::error::{Error, Result};
use crate::job::{Attempt, AttemptError, ExecutionId, JobId, JobKind, Method};
use crate::outcome::{Endpoint, Event, EventType, Outcome, OutcomeStatus, Subscription};

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
}

/// The event a finished or failed attempt raises, if any.
pub(crate) fn event_type(attempt: &Attempt, retry_follows: bool) -> EventType {
    match (attempt.error, retry_follows) {
        (None, _) => EventType::JobCompleted,
        (Some(_), true) => EventType::JobRetrying,
        (Some(AttemptError::Timeout), false) => EventType::JobTimedOut,
        (Some(_), false) => EventType::JobFailed,
    }
}

fn outcome(c: &Claimed, attempt: &Attempt) -> Outcome {
    let status = match attempt.error {
        None => OutcomeStatus::Success,
        Some(AttemptError::Status | AttemptError::Redirect) => OutcomeStatus::Failure,
        Some(AttemptError::Timeout) => OutcomeStatus::Timeout,
        Some(_) => OutcomeStatus::Error,
    };
    Outcome {
        job_id: attempt.job_id.clone(),
        job_name: c.name.clone(),
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
pub(crate) fn report(
    conn: &Connection,
    p: &ReportParams,
    c: &Claimed,
    attempt: &Attempt,
    now: i64,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    if c.internal == Internal::User {
        let event = event_type(attempt, attempt.next_retry_at.is_some());
        let outcome = outcome(c, attempt);
        let callback = if attempt.error.is_none() {
            &c.on_success_url
        } else {
            &c.on_failure_url
        };
        if let Some(url) = callback {
            let body = outcome.to_json(None);
            insert_internal(conn, p, url, &body, Internal::Callback, now)?;
        }
        let data = outcome.to_json(p.environment.as_deref());
        publish(conn, p, event, data, now)?;
        events.push(Event::Job { event, outcome });
    }
    if let Some(endpoint) = track_endpoint(conn, p, &c.origin, attempt, now)? {
        let data = endpoint.to_json(p.environment.as_deref());
        publish(conn, p, EventType::EndpointDisabled, data, now)?;
        events.push(Event::EndpointDisabled(endpoint));
    }
    Ok(events)
}

/// Queues a delivery of `event` to every subscription that wants it.
fn publish(
    conn: &Connection,
    p: &ReportParams,
    event: EventType,
    data: serde_json::Value,
    now: i64,
) -> Result<()> {
    let urls: Vec<String> = conn
        .prepare_cached(
            "SELECT url FROM subscriptions
             WHERE EXISTS (SELECT 1 FROM json_each(subscriptions.events) WHERE value = ?1)",
        )?
        .query_map([event.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if urls.is_empty() {
        return Ok(());
    }
    let body = event_body(event, data, now);
    for url in urls {
        insert_internal(conn, p, &url, &body, Internal::Event, now)?;
    }
    Ok(())
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
pub(crate) fn insert_internal(
    conn: &Connection,
    p: &ReportParams,
    url: &str,
    body: &serde_json::Value,
    internal: Internal,
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
        body: serde_json::to_vec(body).map_err(|e| Error::Store(e.to_string()))?,
        timeout_ms: p.timeout_ms,
        retry: p.retry.clone(),
        signing: None,
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
    let mut ids = insert_jobs(conn, std::slice::from_ref(&job), now)?;
    Ok(ids.pop().expect("one id"))
}

/// Updates the endpoint's failure streak; returns it if this attempt disabled it.
fn track_endpoint(
    conn: &Connection,
    p: &ReportParams,
    origin: &str,
    attempt: &Attempt,
    now: i64,
) -> Result<Option<Endpoint>> {
    if attempt.error.is_none() {
        conn.prepare_cached(
            "UPDATE endpoints SET failing_since = NULL, failures = 0
             WHERE origin = ?1 AND failures > 0",
        )?
        .execute([origin])?;
        return Ok(None);
    }
    let (since, failures, disabled): (i64, u32, Option<i64>) = conn
        .prepare_cached(
            "INSERT INTO endpoints (origin, failing_since, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (origin) DO UPDATE SET
                failing_since = coalesce(failing_since, excluded.failing_since), failures = failures + 1
             RETURNING failing_since, failures, disabled_at",
        )?
        .query_row(params![origin, now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let gone = p.disable_on_gone && attempt.status == Some(410);
    let too_long = now - since >= p.disable_after_ms && failures >= p.disable_min_failures;
    if disabled.is_some() || !(gone || too_long) {
        return Ok(None);
    }
    conn.prepare_cached("UPDATE endpoints SET disabled_at = ?2 WHERE origin = ?1")?
        .execute(params![origin, now])?;
    Ok(Some(Endpoint {
        origin: origin.to_owned(),
        failing_since: Some(from_ms(since)),
        failures,
        disabled_at: Some(from_ms(now)),
    }))
}

/// Every endpoint with a failure streak or disabled.
pub(crate) fn endpoints(conn: &Connection) -> Result<Vec<Endpoint>> {
    let rows = conn
        .prepare_cached(
            "SELECT origin, failing_since, failures, disabled_at FROM endpoints
             WHERE failures > 0 OR disabled_at IS NOT NULL ORDER BY origin",
        )?
        .query_map([], |r| {
            Ok(Endpoint {
                origin: r.get(0)?,
                failing_since: r.get::<_, Option<i64>>(1)?.map(from_ms),
                failures: r.get(2)?,
                disabled_at: r.get::<_, Option<i64>>(3)?.map(from_ms),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Re-enables an endpoint: its held jobs become deliverable again. Returns whether it was disabled.
pub(crate) fn enable_endpoint(conn: &Connection, origin: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE endpoints SET disabled_at = NULL, failing_since = NULL, failures = 0
             WHERE origin = ?1 AND disabled_at IS NOT NULL",
        )?
        .execute([origin])?
        == 1)
}

/// Stores a subscription.
pub(crate) fn subscribe(conn: &Connection, s: &Subscription) -> Result<()> {
    let events: Vec<&str> = s.events.iter().map(|e| e.as_str()).collect();
    conn.prepare_cached(
        "INSERT INTO subscriptions (id, url, events, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        s.id,
        s.url,
        serde_json::to_string(&events).expect("strings serialise"),
        to_ms(s.created_at)
    ])?;
    Ok(())
}

/// Deletes a subscription; returns whether it existed.
pub(crate) fn unsubscribe(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
        .execute([id])?
        == 1)
}

/// Every subscription, oldest first.
pub(crate) fn subscriptions(conn: &Connection) -> Result<Vec<Subscription>> {
    let rows: Vec<(String, String, String, i64)> = conn
        .prepare_cached(
            "SELECT id, url, events, created_at FROM subscriptions ORDER BY created_at, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(id, url, events, created)| {
            let names: Vec<String> = serde_json::from_str(&events)
                .map_err(|e| Error::Store(format!("corrupt subscription: {e}")))?;
            Ok(Subscription {
                id,
                url,
                events: names.iter().map(|n| n.parse()).collect::<Result<_>>()?,
                created_at: from_ms(created),
            })
        })
        .collect()
}

/// Which dead letters (failed jobs and failed cron occurrences) `retry_failed` and `purge` touch.
/// All conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    /// Failed at or after this instant.
    pub failed_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Failed before this instant.
    pub failed_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying this label.
    pub label: Option<String>,
    /// Only this job.
    pub job: Option<JobId>,
}

impl DeadLetterFilter {
    fn sql(&self, args: &mut Vec<rusqlite::types::Value>) -> String {
        let mut sql = String::from("e.state = 'failed' AND j.internal = 0");
        let mut push = |clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(t) = self.failed_after {
            push(" AND e.finished_at >= ?", to_ms(t).into());
        }
        if let Some(t) = self.failed_before {
            push(" AND e.finished_at < ?", to_ms(t).into());
        }
        if let Some(n) = &self.name {
            push(" AND j.name = ?", n.clone().into());
        }
        if let Some(l) = &self.label {
            push(
                " AND EXISTS (SELECT 1 FROM json_each(j.labels) WHERE value = ?)",
                l.clone().into(),
            );
        }
        if let Some(id) = &self.job {
            push(" AND j.id = ?", id.as_str().to_owned().into());
        }
        sql
    }
}

/// Re-queues every dead letter matching `f`, due now, with a fresh retry budget and the same
/// execution ids. Returns how many executions were re-queued.
pub(crate) fn retry_failed(conn: &Connection, f: &DeadLetterFilter, now: i64) -> Result<usize> {
    let mut requeue_exec = conn.prepare_cached(
        "UPDATE executions SET state = 'pending', due_at = ?2, budget_start = attempt,
                updated_at = ?2, finished_at = NULL
         WHERE id = ?1 AND state = 'failed'",
    )?;
    let mut requeue_job = conn.prepare_cached(
        "UPDATE jobs SET state = 'scheduled', updated_at = ?2, finished_at = NULL
         WHERE id = ?1 AND kind = 'once' AND state = 'failed'",
    )?;
    let mut requeue_in_job_row = conn.prepare_cached(
        "UPDATE jobs SET exec_state = 'pending', due_at = ?2, budget_start = attempt,
                state = 'scheduled', updated_at = ?2, finished_at = NULL
         WHERE id = ?1 AND exec_state = 'failed'",
    )?;
    let victims = dead_letters(conn, f)?;
    for (exec, job, _, in_job_row) in &victims {
        if *in_job_row {
            requeue_in_job_row.execute(params![job, now])?;
        } else {
            requeue_exec.execute(params![exec, now])?;
            requeue_job.execute(params![job, now])?;
        }
    }
    Ok(victims.len())
}

/// The dead letters matching `f`: execution id, job id, job kind, and whether the execution lives
/// in its job's row.
fn dead_letters(
    conn: &Connection,
    f: &DeadLetterFilter,
) -> Result<Vec<(String, String, String, bool)>> {
    let mut args = Vec::new();
    let filter = f.sql(&mut args);
    let rows = conn
        .prepare(&format!(
            "SELECT e.id, j.id, j.kind, e.in_job_row
             FROM all_executions e JOIN jobs j ON j.id = e.job_id WHERE {filter}"
        ))?
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Deletes every dead letter matching `f`, with its attempts: failed one-time jobs whole, and the
/// failed occurrences of cron jobs. Returns how many executions were deleted.
pub(crate) fn purge(conn: &Connection, f: &DeadLetterFilter) -> Result<usize> {
    let victims = dead_letters(conn, f)?;
    let mut del_attempts = conn.prepare_cached("DELETE FROM attempts WHERE execution_id = ?1")?;
    let mut del_exec = conn.prepare_cached("DELETE FROM executions WHERE id = ?1")?;
    let mut del_job = conn.prepare_cached("DELETE FROM jobs WHERE id = ?1 AND kind = 'once'")?;
    for (exec, job, kind, _) in &victims {
        del_attempts.execute([exec])?;
        del_exec.execute([exec])?;
        if kind == "once" {
            del_job.execute([job])?;
        }
    }
    Ok(victims.len())
}

/// Which attempts `export_attempts` writes. All conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Attempts started at or after this instant.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Attempts started before this instant.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this job's attempts.
    pub job: Option<JobId>,
    /// Only attempts of jobs now in this state.
    pub state: Option<crate::job::JobState>,
}

/// The columns of an export, in order.
pub(crate) const EXPORT_COLUMNS: [&str; 11] = [
    "started_at",
    "job_id",
    "job_name",
    "job_state",
    "execution_id",
    "attempt",
    "duration_ms",
    "status",
    "error",
    "message",
    "next_retry_at",
];

/// One exported attempt.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ExportRow {
    pub started_at: String,
    pub job_id: String,
    pub job_name: Option<String>,
    pub job_state: Option<String>,
    pub execution_id: String,
    pub attempt: u32,
    pub duration_ms: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub next_retry_at: Option<String>,
    #[serde(skip)]
    pub key: (i64, String, u32),
}

/// The page of attempts after `after` (in start order), at most `limit`.
pub(crate) fn export_page(
    conn: &Connection,
    f: &ExportFilter,
    after: &(i64, String, u32),
    limit: u32,
) -> Result<Vec<ExportRow>> {
    let mut sql = String::from(
        "SELECT a.started_at, a.execution_id, a.number, a.job_id, j.name, j.state, a.duration_ms,
                a.status, a.error_kind, a.message, a.next_retry_at
         FROM attempts a LEFT JOIN jobs j ON j.id = a.job_id
         WHERE (a.started_at, a.execution_id, a.number) > (?1, ?2, ?3)",
    );
    let mut args: Vec<rusqlite::types::Value> =
        vec![after.0.into(), after.1.clone().into(), after.2.into()];
    let mut push = |clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(t) = f.since {
        push(" AND a.started_at >= ?", to_ms(t).into());
    }
    if let Some(t) = f.until {
        push(" AND a.started_at < ?", to_ms(t).into());
    }
    if let Some(id) = &f.job {
        push(" AND a.job_id = ?", id.as_str().to_owned().into());
    }
    if let Some(state) = f.state {
        push(" AND j.state = ?", state.as_str().to_owned().into());
    }
    sql.push_str(&format!(
        " ORDER BY a.started_at, a.execution_id, a.number LIMIT {limit}"
    ));
    let iso = |ms: i64| from_ms(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), |r| {
            let started: i64 = r.get(0)?;
            let exec: String = r.get(1)?;
            let number: u32 = r.get(2)?;
            Ok(ExportRow {
                started_at: iso(started),
                job_id: r.get(3)?,
                job_name: r.get(4)?,
                job_state: r.get(5)?,
                execution_id: exec.clone(),
                attempt: number,
                duration_ms: r.get(6)?,
                status: r.get(7)?,
                error: r.get(8)?,
                message: r.get(9)?,
                next_retry_at: r.get::<_, Option<i64>>(10)?.map(iso),
                key: (started, exec, number),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Counts for the gauges: pending executions and failed jobs.
pub(crate) fn counts(conn: &Connection) -> Result<(i64, i64)> {
    let pending: i64 = conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM jobs WHERE exec_state = 'pending')
                  + (SELECT count(*) FROM executions WHERE state = 'pending')",
        )?
        .query_row([], |r| r.get(0))?;
    // `state <> 'scheduled'` lets SQLite use the partial index `jobs_state`.
    let failed: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM jobs WHERE state = 'failed' AND state <> 'scheduled'",
        )?
        .query_row([], |r| r.get(0))?;
    Ok((pending, failed))
}
