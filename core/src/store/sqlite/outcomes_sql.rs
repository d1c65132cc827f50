//! The SQLite statements for outcomes: subscriptions, endpoint health, dead letters, the export of
//! the attempt log and the gauges' counts.

use rusqlite::{Connection, params};

use super::SqlResult;
use crate::job::{ExecutionId, JobId, JobKind};
use crate::outcome::{Endpoint, EventType, Subscription};
use crate::store::{
    DeadLetter, DeadLetterFilter, EndpointStreak, ExecRef, ExportCursor, ExportFilter, ExportRow,
    events_to_db, from_ms, subscription_from_columns, to_ms,
};

/// The URLs subscribed to `event`.
pub(crate) fn subscribers(conn: &Connection, event: EventType) -> SqlResult<Vec<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT url FROM subscriptions
             WHERE EXISTS (SELECT 1 FROM json_each(subscriptions.events) WHERE value = ?1)",
        )?
        .query_map([event.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Ends an endpoint's failure streak.
pub(crate) fn endpoint_succeeded(conn: &Connection, origin: &str) -> SqlResult<()> {
    conn.prepare_cached(
        "UPDATE endpoints SET failing_since = NULL, failures = 0
         WHERE origin = ?1 AND failures > 0",
    )?
    .execute([origin])?;
    Ok(())
}

/// Counts a failure in an endpoint's streak.
pub(crate) fn endpoint_failed(
    conn: &Connection,
    origin: &str,
    now: i64,
) -> SqlResult<EndpointStreak> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO endpoints (origin, failing_since, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (origin) DO UPDATE SET
                failing_since = coalesce(failing_since, excluded.failing_since), failures = failures + 1
             RETURNING failing_since, failures, disabled_at",
        )?
        .query_row(params![origin, now], |r| {
            Ok(EndpointStreak {
                failing_since: r.get(0)?,
                failures: r.get(1)?,
                disabled_at: r.get(2)?,
            })
        })?)
}

/// Disables an endpoint.
pub(crate) fn disable_endpoint(conn: &Connection, origin: &str, now: i64) -> SqlResult<()> {
    conn.prepare_cached("UPDATE endpoints SET disabled_at = ?2 WHERE origin = ?1")?
        .execute(params![origin, now])?;
    Ok(())
}

/// Every endpoint with a failure streak or disabled.
pub(crate) fn endpoints(conn: &Connection) -> SqlResult<Vec<Endpoint>> {
    Ok(conn
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
        .collect::<rusqlite::Result<_>>()?)
}

/// Re-enables an endpoint. Returns whether it was disabled.
pub(crate) fn enable_endpoint(conn: &Connection, origin: &str) -> SqlResult<bool> {
    let enabled = conn
        .prepare_cached(
            "UPDATE endpoints SET disabled_at = NULL, failing_since = NULL, failures = 0
             WHERE origin = ?1 AND disabled_at IS NOT NULL",
        )?
        .execute([origin])?
        == 1;
    super::sql::unhold(conn, origin)?;
    Ok(enabled)
}

/// Stores a subscription.
pub(crate) fn subscribe(conn: &Connection, s: &Subscription) -> SqlResult<()> {
    conn.prepare_cached(
        "INSERT INTO subscriptions (id, url, events, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        s.id,
        s.url,
        events_to_db(&s.events),
        to_ms(s.created_at)
    ])?;
    Ok(())
}

/// Deletes a subscription; returns whether it existed.
pub(crate) fn unsubscribe(conn: &Connection, id: &str) -> SqlResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
        .execute([id])?
        == 1)
}

/// Every subscription, oldest first.
pub(crate) fn subscriptions(conn: &Connection) -> SqlResult<Vec<Subscription>> {
    let rows: Vec<(String, String, String, i64)> = conn
        .prepare_cached(
            "SELECT id, url, events, created_at FROM subscriptions ORDER BY created_at, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .into_iter()
        .map(|(id, url, events, created)| subscription_from_columns(id, url, &events, created))
        .collect::<crate::Result<_>>()?)
}

fn dead_letter_sql(f: &DeadLetterFilter, args: &mut Vec<rusqlite::types::Value>) -> String {
    let mut sql = String::from("e.state = 'failed' AND j.internal = 0");
    let mut push = |clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(t) = f.failed_after {
        push(" AND e.finished_at >= ?", to_ms(t).into());
    }
    if let Some(t) = f.failed_before {
        push(" AND e.finished_at < ?", to_ms(t).into());
    }
    if let Some(n) = &f.name {
        push(" AND j.name = ?", n.clone().into());
    }
    if let Some(l) = &f.label {
        push(
            " AND EXISTS (SELECT 1 FROM json_each(j.labels) WHERE value = ?)",
            l.clone().into(),
        );
    }
    if let Some(id) = &f.job {
        push(" AND j.id = ?", id.as_str().to_owned().into());
    }
    sql
}

/// The dead letters matching `f`.
pub(crate) fn dead_letters(conn: &Connection, f: &DeadLetterFilter) -> SqlResult<Vec<DeadLetter>> {
    let mut args = Vec::new();
    let filter = dead_letter_sql(f, &mut args);
    let rows = conn
        .prepare(&format!(
            "SELECT e.id, j.id, j.kind, e.in_job_row
             FROM all_executions e JOIN jobs j ON j.id = e.job_id WHERE {filter}"
        ))?
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok(DeadLetter {
                exec: ExecRef {
                    execution_id: ExecutionId::from_db(r.get(0)?),
                    job_id: JobId::from_db(r.get(1)?),
                    in_job_row: r.get(3)?,
                },
                kind: JobKind::parse(&r.get::<_, String>(2)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Re-queues a dead letter, due now, with a fresh retry budget.
pub(crate) fn requeue_dead_letter(conn: &Connection, d: &DeadLetter, now: i64) -> SqlResult<()> {
    let (exec, job) = (d.exec.execution_id.as_str(), d.exec.job_id.as_str());
    if d.exec.in_job_row {
        conn.prepare_cached(
            "UPDATE jobs SET exec_state = 'pending', due_at = ?2, budget_start = attempt,
                    state = 'scheduled', updated_at = ?2, finished_at = NULL
             WHERE id = ?1 AND exec_state = 'failed'",
        )?
        .execute(params![job, now])?;
    } else {
        conn.prepare_cached(
            "UPDATE executions SET state = 'pending', due_at = ?2, budget_start = attempt,
                    updated_at = ?2, finished_at = NULL
             WHERE id = ?1 AND state = 'failed'",
        )?
        .execute(params![exec, now])?;
        conn.prepare_cached(
            "UPDATE jobs SET state = 'scheduled', updated_at = ?2, finished_at = NULL
             WHERE id = ?1 AND kind = 'once' AND state = 'failed'",
        )?
        .execute(params![job, now])?;
    }
    Ok(())
}

/// Deletes a dead letter with its attempts.
pub(crate) fn delete_dead_letter(conn: &Connection, d: &DeadLetter) -> SqlResult<()> {
    let (exec, job) = (d.exec.execution_id.as_str(), d.exec.job_id.as_str());
    conn.prepare_cached("DELETE FROM attempts WHERE execution_id = ?1")?
        .execute([exec])?;
    conn.prepare_cached("DELETE FROM executions WHERE id = ?1")?
        .execute([exec])?;
    if d.kind == JobKind::Once {
        conn.prepare_cached("DELETE FROM jobs WHERE id = ?1 AND kind = 'once'")?
            .execute([job])?;
    }
    Ok(())
}

/// The page of attempts after `after` (in start order), at most `limit`.
pub(crate) fn export_page(
    conn: &Connection,
    f: &ExportFilter,
    after: &ExportCursor,
    limit: u32,
) -> SqlResult<Vec<ExportRow>> {
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
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok(ExportRow::new(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Counts for the gauges: pending executions and failed jobs.
pub(crate) fn counts(conn: &Connection) -> SqlResult<(i64, i64)> {
    let pending: i64 = conn
        .prepare_cached(
            // Each count through a partial index: the due ones, and the held ones.
            "SELECT (SELECT count(*) FROM jobs WHERE exec_state = 'pending' AND held = 0)
                  + (SELECT count(*) FROM jobs WHERE held = 1 AND exec_state = 'pending')
                  + (SELECT count(*) FROM executions WHERE state = 'pending' AND held = 0)
                  + (SELECT count(*) FROM executions WHERE held = 1 AND state = 'pending')",
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
