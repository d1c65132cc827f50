//! Reporting outcomes inside the transaction that records an attempt: callbacks and subscription
//! events become durable deliveries of their own, and endpoint health is tracked.

use rusqlite::{Connection, params};

use super::queries::{Claimed, Internal, NewJob, insert_jobs};
use super::{from_ms, to_ms};
use crate::error::{Error, Result};
use crate::job::{Attempt, AttemptError, JobId, JobKind, Method};
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
