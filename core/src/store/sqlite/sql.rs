//! The SQLite statements for jobs, claims and attempts. Each function runs inside the transaction
//! of its `Db::call`. Time is always a bound parameter (milliseconds since the epoch), never
//! SQLite's own clock.
//!
//! A bound `LIMIT` is written `LIMIT CAST(?n AS INTEGER)`: SQLite plans with the value of a bare
//! `LIMIT ?n`, so every new binding of it prepares the statement again (a prepared statement
//! cache then saves nothing; it was about a sixth of every claim). The claim's hot statements
//! were checked with `sqlite3_stmt_status(SQLITE_STMTSTATUS_REPREPARE)`.

use std::collections::{HashMap, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqlResult;
use crate::error::{Error, StoreErrorKind};
use crate::job::{Attempt, ExecutionId, Job, JobId, JobKind, JobState, ListFilter};
use crate::store::{
    AttemptCursor, ClaimParams, Claimed, ClaimedColumns, DueCron, ExecRef, FlowState, Internal,
    Interrupted, JobColumns, JobFacts, NewJob, PruneStep, RateState, Running, Transition,
    attempt_from_columns, missed_from_db, missed_to_db, to_ms,
};

/// Inserts jobs, each one-time job with its execution in the same row. A job whose idempotency key
/// exists already is not inserted; the existing job's id is returned in its place.
pub(crate) fn insert_jobs(conn: &Connection, jobs: &[NewJob], now: i64) -> SqlResult<Vec<JobId>> {
    let mut find_key = conn.prepare_cached("SELECT id FROM jobs WHERE idempotency_key = ?1")?;
    // Taken from the statement cache once per batch, not once per statement run.
    let mut insert_many = None;
    let mut insert_one = None;
    let mut ids = Vec::with_capacity(jobs.len());
    let mut rest = jobs;
    while !rest.is_empty() {
        // Jobs without an idempotency key go in statements of `INSERT_ROWS` rows: SQLite opens
        // the table's and its ten indexes' cursors once per statement, not once per job.
        let keyless = rest
            .iter()
            .take(INSERT_ROWS)
            .take_while(|j| j.idempotency_key.is_none())
            .count();
        if keyless == INSERT_ROWS {
            let insert = match &mut insert_many {
                Some(statement) => statement,
                None => insert_many.insert(conn.prepare_cached(&INSERT_MANY)?),
            };
            let (these, after) = rest.split_at(INSERT_ROWS);
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(INSERT_ROWS * 24);
            let columns: Vec<_> = these.iter().map(|job| job_columns(job, now)).collect();
            for c in &columns {
                values.extend(c.as_params());
            }
            insert.execute(values.as_slice())?;
            ids.extend(these.iter().map(|j| j.id.clone()));
            rest = after;
            continue;
        }
        let (job, after) = rest.split_first().expect("not empty");
        rest = after;
        if let Some(key) = &job.idempotency_key
            && let Some(existing) = find_key
                .query_row([key], |r| r.get::<_, String>(0))
                .optional()?
        {
            ids.push(JobId::from_db(existing));
            continue;
        }
        let columns = job_columns(job, now);
        let insert = match &mut insert_one {
            Some(statement) => statement,
            None => insert_one.insert(conn.prepare_cached(&INSERT_ONE)?),
        };
        insert.execute(columns.as_params().as_slice())?;
        ids.push(job.id.clone());
    }
    Ok(ids)
}

/// Rows per multi-row `INSERT` of jobs (24 values each, well under SQLite's limit of bound
/// values).
const INSERT_ROWS: usize = 64;

/// The columns an inserted job sets; [`job_row`] gives their values.
const INSERTED_COLUMNS: &str =
    "id, kind, state, name, labels, url, method, headers, body, timeout_ms,
    retry, idempotency_key, cron_expr, cron_tz, missed, next_fire_at, created_at, updated_at,
    signing, origin, on_success_url, on_failure_url, internal, exec_id, exec_state, due_at";

/// One job's row, its values bound from `?first` on in the order of [`JobValues::as_params`]:
/// `state` is 'scheduled', and `now` is both `created_at` and `updated_at`.
fn job_row(first: usize) -> String {
    let p: Vec<String> = (first..first + 24).map(|i| format!("?{i}")).collect();
    format!(
        "({}, {}, 'scheduled', {}, {}, {})",
        p[0],
        p[1],
        p[2..=15].join(", "),
        p[15],
        p[16..].join(", ")
    )
}

static INSERT_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO jobs ({INSERTED_COLUMNS}) VALUES {}",
        job_row(1)
    )
});

static INSERT_MANY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rows: Vec<String> = (0..INSERT_ROWS).map(|r| job_row(1 + r * 24)).collect();
    format!(
        "INSERT INTO jobs ({INSERTED_COLUMNS}) VALUES {}",
        rows.join(", ")
    )
});

/// The values of a job's row, borrowed from it.
struct JobValues<'a> {
    job: &'a NewJob,
    id: &'a str,
    kind: &'static str,
    method: &'static str,
    execution_id: Option<&'a str>,
    missed: Option<String>,
    next_fire_at: Option<i64>,
    now: i64,
    internal: i64,
    exec_state: Option<&'static str>,
    due_at: Option<i64>,
}

fn job_columns(job: &NewJob, now: i64) -> JobValues<'_> {
    let once = job.execution_id.is_some();
    JobValues {
        job,
        id: job.id.as_str(),
        kind: job.kind.as_str(),
        method: job.method.as_str(),
        execution_id: job.execution_id.as_ref().map(ExecutionId::as_str),
        missed: job.missed.map(missed_to_db),
        next_fire_at: (job.kind == JobKind::Cron).then_some(job.due_at),
        now,
        internal: job.internal as i64,
        exec_state: once.then_some("pending"),
        due_at: once.then_some(job.due_at),
    }
}

impl JobValues<'_> {
    fn as_params(&self) -> [&dyn rusqlite::ToSql; 24] {
        let job = self.job;
        [
            &self.id,
            &self.kind,
            &job.name,
            &job.labels,
            &job.url,
            &self.method,
            &job.headers,
            &job.body,
            &job.timeout_ms,
            &job.retry,
            &job.idempotency_key,
            &job.cron_expr,
            &job.cron_tz,
            &self.missed,
            &self.next_fire_at,
            &self.now,
            &job.signing,
            &job.origin,
            &job.on_success_url,
            &job.on_failure_url,
            &self.internal,
            &self.execution_id,
            &self.exec_state,
            &self.due_at,
        ]
    }
}

/// Executions in flight that `which` selects: another worker's whose lease has expired, or this
/// worker's own.
pub(crate) fn running(
    conn: &Connection,
    owner: &str,
    now: i64,
    which: Interrupted<'_>,
) -> SqlResult<Vec<Running>> {
    // Expired leases are found through the lease indexes (there are rarely any), and this
    // worker's deliveries still under way are left out below rather than by an `IN` list, which
    // SQLite would build into a temporary table on every tick.
    let (in_jobs, in_executions, arg): (_, _, rusqlite::types::Value) = match which {
        Interrupted::Expired { .. } => ("lease_until <= ?1", "e.lease_until <= ?1", now.into()),
        Interrupted::Owned => (
            "lease_owner = ?1",
            "e.lease_owner = ?1",
            owner.to_owned().into(),
        ),
    };
    let row = |in_job_row: bool| {
        move |r: &Row<'_>| {
            Ok(Running {
                exec: ExecRef {
                    execution_id: ExecutionId::from_db(r.get(0)?),
                    job_id: JobId::from_db(r.get(1)?),
                    in_job_row,
                },
                kind: JobKind::parse(&r.get::<_, String>(2)?),
                attempt: r.get(3)?,
                started_at: r.get(4)?,
                owner: r.get(5)?,
                budget_start: r.get(6)?,
                job: JobFacts {
                    name: r.get(7)?,
                    origin: r.get(8)?,
                    on_success_url: r.get(9)?,
                    on_failure_url: r.get(10)?,
                    internal: Internal::from_db(r.get(11)?),
                    signing: r.get(12)?,
                },
            })
        }
    };
    let mut rows = conn
        .prepare_cached(&format!(
            "SELECT exec_id, id, kind, attempt, started_at, lease_owner, budget_start, name, origin,
                    on_success_url, on_failure_url, internal, signing
             FROM jobs WHERE exec_state = 'running' AND {in_jobs}"
        ))?
        .query_map([&arg], row(true))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.extend(
        conn.prepare_cached(&format!(
            "SELECT e.id, e.job_id, coalesce(j.kind, 'cron'), e.attempt, e.started_at, e.lease_owner,
                    e.budget_start, j.name, e.origin, j.on_success_url, j.on_failure_url,
                    coalesce(j.internal, 0), j.signing
             FROM executions e LEFT JOIN jobs j ON j.id = e.job_id
             WHERE e.state = 'running' AND {in_executions}"
        ))?
        .query_map([&arg], row(false))?
        .collect::<rusqlite::Result<Vec<_>>>()?,
    );
    if let Interrupted::Expired { in_flight } = which
        && !rows.is_empty()
    {
        let in_flight: HashSet<&str> = in_flight.iter().map(ExecutionId::as_str).collect();
        rows.retain(|r| !in_flight.contains(r.exec.execution_id.as_str()));
    }
    Ok(rows)
}

/// Moves an execution (and a one-time job with it) if it is still running under `owner`'s lease.
pub(crate) fn finish_execution(
    conn: &Connection,
    exec: &ExecRef,
    owner: Option<&str>,
    t: &Transition,
    now: i64,
) -> SqlResult<bool> {
    let refund = i64::from(t.refund_attempt);
    let owned = if exec.in_job_row {
        conn.prepare_cached(
            "UPDATE jobs SET exec_state = ?2, due_at = coalesce(?3, due_at), lease_owner = NULL,
                    lease_until = NULL, started_at = NULL, state = coalesce(?7, state), updated_at = ?4,
                    finished_at = ?5, budget_start = budget_start + ?9
             WHERE id = ?8 AND exec_id = ?1 AND exec_state = 'running' AND lease_owner IS ?6",
        )?
        .execute(params![
            exec.execution_id.as_str(),
            t.state.as_str(),
            t.due_at,
            now,
            t.finished_at,
            owner,
            t.job_state.map(JobState::as_str),
            exec.job_id.as_str(),
            refund,
        ])?
    } else {
        conn.prepare_cached(
            "UPDATE executions SET state = ?2, due_at = coalesce(?3, due_at), lease_owner = NULL,
                    lease_until = NULL, started_at = NULL, updated_at = ?4, finished_at = ?5,
                    budget_start = budget_start + ?7
             WHERE id = ?1 AND state = 'running' AND lease_owner IS ?6",
        )?
        .execute(params![
            exec.execution_id.as_str(),
            t.state.as_str(),
            t.due_at,
            now,
            t.finished_at,
            owner,
            refund
        ])?
    } == 1;
    if owned
        && !exec.in_job_row
        && let Some(state) = t.job_state
    {
        // A one-time job whose execution lives in `executions` (a file from before migration 3).
        conn.prepare_cached(
            "UPDATE jobs SET state = ?2, updated_at = ?3, finished_at = ?4
             WHERE id = ?1 AND kind = 'once'",
        )?
        .execute(params![
            exec.job_id.as_str(),
            state.as_str(),
            now,
            state.is_final().then_some(now)
        ])?;
    }
    Ok(owned)
}

/// Records an attempt; a second record of the same attempt number is ignored.
pub(crate) fn insert_attempt(conn: &Connection, a: &Attempt) -> SqlResult<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO attempts (execution_id, number, job_id, started_at, duration_ms, status,
                                         response_body, error_kind, message, next_retry_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        a.execution_id.as_str(),
        a.number,
        a.job_id.as_str(),
        to_ms(a.started_at),
        i64::try_from(a.duration.as_millis()).unwrap_or(i64::MAX),
        a.status,
        a.response_body,
        a.error.map(|e| e.as_str()),
        a.message,
        a.next_retry_at.map(to_ms),
    ])?;
    Ok(())
}

/// Execution ids as a JSON array, for `json_each`.
fn ids_json(ids: &[ExecutionId]) -> String {
    serde_json::to_string(&ids.iter().map(ExecutionId::as_str).collect::<Vec<_>>())
        .expect("strings serialise")
}

/// Extends the leases this worker holds on the executions it is delivering.
pub(crate) fn renew_leases(
    conn: &Connection,
    owner: &str,
    executions: &[ExecutionId],
    until: i64,
) -> SqlResult<usize> {
    let ids = ids_json(executions);
    let in_jobs = conn
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?2
             WHERE exec_id IN (SELECT value FROM json_each(?3))
               AND exec_state = 'running' AND lease_owner = ?1",
        )?
        .execute(params![owner, until, ids])?;
    let in_executions = conn
        .prepare_cached(
            "UPDATE executions SET lease_until = ?2
             WHERE id IN (SELECT value FROM json_each(?3))
               AND state = 'running' AND lease_owner = ?1",
        )?
        .execute(params![owner, until, ids])?;
    Ok(in_jobs + in_executions)
}

/// Cron jobs whose next occurrence is due.
pub(crate) fn due_cron(conn: &Connection, now: i64, limit: usize) -> SqlResult<Vec<DueCron>> {
    let rows = conn
        .prepare_cached(
            "SELECT id, cron_expr, cron_tz, missed, next_fire_at, origin FROM jobs
             WHERE kind = 'cron' AND state = 'scheduled' AND held = 0 AND next_fire_at <= ?1
             ORDER BY next_fire_at LIMIT CAST(?2 AS INTEGER)",
        )?
        .query_map(
            params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(DueCron {
                    id: JobId::from_db(r.get(0)?),
                    expr: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    tz: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    missed: r
                        .get::<_, Option<String>>(3)?
                        .as_deref()
                        .map(missed_from_db),
                    next_fire_at: r.get(4)?,
                    origin: r.get(5)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Inserts cron occurrences, due at their instants.
pub(crate) fn insert_occurrences(
    conn: &Connection,
    job: &JobId,
    origin: &str,
    occurrences: &[(ExecutionId, i64)],
    now: i64,
) -> SqlResult<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO executions (id, job_id, origin, state, due_at, scheduled_for, updated_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?5)",
    )?;
    for (exec, at) in occurrences {
        insert.execute(params![exec.as_str(), job.as_str(), origin, at, now])?;
    }
    Ok(())
}

/// Stores a cron job's next fire time.
pub(crate) fn set_next_fire(
    conn: &Connection,
    id: &JobId,
    next: Option<i64>,
    now: i64,
) -> SqlResult<()> {
    conn.prepare_cached("UPDATE jobs SET next_fire_at = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id.as_str(), next, now])?;
    Ok(())
}

/// In-flight executions per origin (but `answered`), stored rate states and disabled endpoints.
pub(crate) fn flow_state(conn: &Connection, answered: &[ExecutionId]) -> SqlResult<FlowState> {
    let mut state = FlowState::default();
    // Counted here, leaving out `answered` (not by an `IN` list, which SQLite would build into a
    // temporary table on every tick): the rows are read through the lease indexes either way.
    let answered: HashSet<&[u8]> = answered.iter().map(|e| e.as_str().as_bytes()).collect();
    for sql in [
        "SELECT origin, exec_id FROM jobs WHERE exec_state = 'running'",
        "SELECT origin, id FROM executions WHERE state = 'running'",
    ] {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let ValueRef::Text(exec) = r.get_ref(1)?
                && answered.contains(exec)
            {
                continue;
            }
            let origin = match r.get_ref(0)? {
                ValueRef::Text(t) => String::from_utf8_lossy(t),
                _ => continue,
            };
            match state.running.get_mut(origin.as_ref()) {
                Some(n) => *n += 1,
                None => {
                    state.running.insert(origin.into_owned(), 1);
                }
            }
        }
    }
    let mut stmt = conn.prepare_cached("SELECT origin, tokens, refilled_at FROM endpoint_rates")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.rates.insert(
            r.get(0)?,
            RateState {
                tokens: r.get(1)?,
                refilled_at: r.get(2)?,
            },
        );
    }
    let mut stmt =
        conn.prepare_cached("SELECT origin FROM endpoints WHERE disabled_at IS NOT NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.disabled.insert(r.get(0)?);
    }
    Ok(state)
}

/// Stores (or forgets) rate states.
pub(crate) fn save_rates(
    conn: &Connection,
    rates: &[(String, Option<RateState>)],
) -> SqlResult<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO endpoint_rates (origin, tokens, refilled_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (origin) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at",
    )?;
    let mut forget = conn.prepare_cached("DELETE FROM endpoint_rates WHERE origin = ?1")?;
    for (origin, rate) in rates {
        match rate {
            Some(r) => upsert.execute(params![origin, r.tokens, r.refilled_at])?,
            None => forget.execute([origin])?,
        };
    }
    Ok(())
}

/// Due executions looked at per claim, as a multiple of the claim's limit, before the per-origin
/// cap is applied.
const CLAIM_SCAN_FACTOR: i64 = 2;

/// Rows of origins that can take no more, met while walking the earliest due jobs, after which
/// a claim looks per origin instead (when they are also more than the usable rows met).
const CROWDED_AFTER: usize = 32;

/// A claimable execution: whether it lives in its job's row, its key (job id or execution id),
/// origin and due time.
type Candidate = (bool, String, String, i64);

/// Every origin with a pending one-time job, in order, one index seek each (a loose index scan of
/// `jobs_origin_due`).
fn pending_origins(conn: &Connection) -> SqlResult<Vec<String>> {
    let mut next = conn.prepare_cached(
        "SELECT min(origin) FROM jobs WHERE exec_state = 'pending' AND held = 0 AND origin > ?1",
    )?;
    let mut origins = Vec::new();
    let mut after = String::new();
    while let Some(origin) = next.query_row([&after], |r| r.get::<_, Option<String>>(0))? {
        origins.push(origin.clone());
        after = origin;
    }
    Ok(origins)
}

/// Due one-time jobs to claim from. Usually the earliest due rows, whatever their origin (a
/// bounded walk of `jobs_due`, at most `scan` rows, stopped once `limit` rows are usable). When
/// the walk meets more rows of origins that can take no more of them (a herd for an endpoint at
/// its bound, the held jobs of a disabled one) than it found usable, and at least
/// [`CROWDED_AFTER`], or reaches `scan` rows with some of them unusable and fewer than `limit`
/// usable, the rows behind them are found per origin instead: each other origin's earliest due
/// rows, so the cost follows the number of origins, not the length of the backlog in front.
fn job_candidates(
    conn: &Connection,
    p: &ClaimParams,
    limit: i64,
    scan: i64,
) -> SqlResult<Vec<Candidate>> {
    let room = |origin: &str| {
        if p.excluded.contains(origin) {
            0
        } else {
            p.rooms.get(origin).copied().unwrap_or(p.default_room)
        }
    };
    let limit_rows = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut window = Vec::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut blocked = 0;
    let mut crowded = false;
    {
        let mut walk = conn.prepare_cached(
            "SELECT id, origin, due_at FROM jobs
             WHERE exec_state = 'pending' AND held = 0 AND due_at <= ?1
             ORDER BY due_at LIMIT CAST(?2 AS INTEGER)",
        )?;
        let mut rows = walk.query(params![p.now, scan])?;
        let mut read: i64 = 0;
        while window.len() < limit_rows {
            let Some(r) = rows.next()? else {
                // The whole window was read: rows behind it may be usable if some of it was not.
                crowded = blocked > 0 && read >= scan;
                break;
            };
            read += 1;
            let origin = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            let n = taken.get(origin).copied().unwrap_or(0);
            if n < room(origin) {
                taken.insert(origin.to_owned(), n + 1);
                window.push((true, r.get(0)?, origin.to_owned(), r.get(2)?));
            } else {
                blocked += 1;
                if blocked >= CROWDED_AFTER && blocked > window.len() {
                    crowded = true;
                    break;
                }
            }
        }
    }
    if !crowded {
        return Ok(window);
    }
    // The origin is cast for the reason `LIMIT` is (see the top): SQLite looks at a bare `?1`
    // compared with a column when it checks which partial indexes apply.
    let mut rows_of = conn.prepare_cached(
        "SELECT id, due_at FROM jobs
         WHERE exec_state = 'pending' AND held = 0 AND origin = CAST(?1 AS TEXT) AND due_at <= ?2
         ORDER BY due_at LIMIT CAST(?3 AS INTEGER)",
    )?;
    let mut candidates = Vec::new();
    for origin in pending_origins(conn)? {
        let take = i64::try_from(room(&origin)).unwrap_or(i64::MAX).min(scan);
        if take == 0 {
            continue;
        }
        for row in rows_of.query_map(params![origin, p.now, take], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })? {
            let (id, due) = row?;
            candidates.push((true, id, origin.clone(), due));
        }
    }
    Ok(candidates)
}

/// The excluded origins as a JSON array, for the statements over `executions` (`json_each`).
fn excluded_json(excluded: &HashSet<String>) -> String {
    serde_json::to_string(excluded).expect("strings serialise")
}

/// The earliest due executions of both kinds (one-time jobs' in their rows, cron occurrences in
/// `executions`), at most `limit`, each origin capped at its room (`p.rooms`, else
/// `p.default_room`).
pub(crate) fn pick(
    conn: &Connection,
    p: &ClaimParams,
    limit: i64,
) -> SqlResult<Vec<(bool, String)>> {
    let scan = limit.saturating_mul(CLAIM_SCAN_FACTOR);
    let mut candidates = job_candidates(conn, p, limit, scan)?;
    let occurrence = |r: &Row<'_>| Ok((false, r.get(0)?, r.get(1)?, r.get(2)?));
    if p.excluded.is_empty() {
        // Most ticks: no `IN` list to build into a temporary table.
        let mut occurrences = conn.prepare_cached(
            "SELECT id, origin, due_at FROM executions
             WHERE state = 'pending' AND held = 0 AND due_at <= ?1
             ORDER BY due_at LIMIT CAST(?2 AS INTEGER)",
        )?;
        for row in occurrences.query_map(params![p.now, scan], occurrence)? {
            candidates.push(row?);
        }
    } else {
        let mut occurrences = conn.prepare_cached(
            "SELECT id, origin, due_at FROM executions
             WHERE state = 'pending' AND held = 0 AND due_at <= ?1
               AND origin NOT IN (SELECT value FROM json_each(?2))
             ORDER BY due_at LIMIT CAST(?3 AS INTEGER)",
        )?;
        for row in
            occurrences.query_map(params![p.now, excluded_json(&p.excluded), scan], occurrence)?
        {
            candidates.push(row?);
        }
    }
    candidates.sort_by_key(|c| c.3);
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut picked = Vec::new();
    for (in_job_row, key, origin, _) in candidates {
        if i64::try_from(picked.len()).unwrap_or(i64::MAX) >= limit {
            break;
        }
        let room = p.rooms.get(&origin).copied().unwrap_or(p.default_room);
        let n = taken.entry(origin).or_default();
        if *n < room {
            *n += 1;
            picked.push((in_job_row, key));
        }
    }
    Ok(picked)
}

/// Holds the pending executions (and cron schedules) of disabled endpoints: they leave the
/// indexes that claims, wake-ups and cron read, so a disabled endpoint's backlog costs nothing
/// per tick however long it grows. Each row is held once (`held = 0` rows only, found through
/// the per-origin indexes). Returns how many rows were held.
pub(crate) fn hold(conn: &Connection, origins: &HashSet<String>) -> SqlResult<usize> {
    let mut held = 0;
    for origin in origins {
        // One statement per index: `jobs_origin_due`, `jobs_cron_origin`,
        // `executions_origin_due`.
        held += conn
            .prepare_cached(
                "UPDATE jobs SET held = 1 WHERE origin = ?1 AND exec_state = 'pending' AND held = 0",
            )?
            .execute([origin])?;
        held += conn
            .prepare_cached(
                "UPDATE jobs SET held = 1
                 WHERE origin = ?1 AND kind = 'cron' AND state = 'scheduled' AND held = 0",
            )?
            .execute([origin])?;
        held += conn
            .prepare_cached(
                "UPDATE executions SET held = 1 WHERE origin = ?1 AND state = 'pending' AND held = 0",
            )?
            .execute([origin])?;
    }
    Ok(held)
}

/// Releases what [`hold`] held for `origin` (its endpoint is enabled again): pending executions
/// are due as they were, and cron schedules go on from their next fire time, whose missed-run
/// policy decides what the time disabled still runs.
pub(crate) fn unhold(conn: &Connection, origin: &str) -> SqlResult<usize> {
    Ok(conn
        .prepare_cached("UPDATE jobs SET held = 0 WHERE origin = ?1 AND held = 1")?
        .execute([origin])?
        + conn
            .prepare_cached("UPDATE executions SET held = 0 WHERE origin = ?1 AND held = 1")?
            .execute([origin])?)
}

/// Claims due executions with a lease.
pub(crate) fn claim(conn: &Connection, p: &ClaimParams) -> SqlResult<Vec<Claimed>> {
    let limit = i64::try_from(p.limit).unwrap_or(i64::MAX / 4);
    let picked = pick(conn, p, limit)?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let (jobs, executions): (Vec<_>, Vec<_>) = picked.into_iter().partition(|(j, _)| *j);
    let keys = |v: Vec<(bool, String)>| {
        serde_json::to_string(&v.into_iter().map(|(_, k)| k).collect::<Vec<_>>())
            .expect("strings serialize")
    };
    let lease_until = p.now + p.lease_ms;
    let mut claimed = Vec::with_capacity(jobs.len() + executions.len());
    if !jobs.is_empty() {
        // A one-time job's execution lives in its row: one statement claims it and returns what
        // sending it needs. (One statement for all: per row, each execution would pay for its
        // own statement journal and the temporary table that holds `RETURNING`'s rows.)
        let mut stmt = conn.prepare_cached(
            "UPDATE jobs
             SET exec_state = 'running', state = 'running', attempt = attempt + 1,
                 lease_owner = ?1, lease_until = ?2, started_at = ?3, updated_at = ?3
             WHERE id IN (SELECT value FROM json_each(?4)) AND exec_state = 'pending'
               AND held = 0
             RETURNING exec_id, id, attempt, due_at, budget_start, url, method, headers, body,
                       timeout_ms, signing, kind, retry, name, origin, on_success_url,
                       on_failure_url, internal",
        )?;
        let mut rows = stmt.query(params![p.owner, lease_until, p.now, keys(jobs)])?;
        while let Some(r) = rows.next()? {
            claimed.push(
                ClaimedColumns {
                    execution_id: r.get(0)?,
                    job_id: r.get(1)?,
                    attempt: r.get(2)?,
                    due_at: r.get(3)?,
                    budget_start: r.get(4)?,
                    in_job_row: true,
                    url: r.get(5)?,
                    method: r.get(6)?,
                    headers: r.get(7)?,
                    body: r.get(8)?,
                    timeout_ms: r.get(9)?,
                    signing: r.get(10)?,
                    kind: r.get(11)?,
                    retry: r.get(12)?,
                    name: r.get(13)?,
                    origin: r.get(14)?,
                    on_success_url: r.get(15)?,
                    on_failure_url: r.get(16)?,
                    internal: r.get(17)?,
                }
                .into_claimed(),
            );
        }
    }
    if !executions.is_empty() {
        let rows = conn
            .prepare_cached(
                "UPDATE executions
                 SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_until = ?2,
                     started_at = ?3, updated_at = ?3
                 WHERE id IN (SELECT value FROM json_each(?4)) AND state = 'pending' AND held = 0
                 RETURNING id, job_id, attempt, due_at, budget_start, 0",
            )?
            .query_map(
                params![p.owner, lease_until, p.now, keys(executions)],
                claim_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        claimed.extend(load_claimed(conn, rows, p.now)?);
    }
    // In due order, as they were picked.
    claimed.sort_by_key(|c| c.due_at);
    Ok(claimed)
}

/// A claimed execution: its id, job id, attempt, due time, budget start and whether it lives in
/// its job's row.
type ClaimRow = (String, String, u32, i64, u32, bool);

fn claim_row(r: &Row<'_>) -> rusqlite::Result<ClaimRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

/// Claims the pending execution of one job whatever its due time (for `send_test`).
pub(crate) fn claim_job(
    conn: &Connection,
    owner: &str,
    job: &JobId,
    now: i64,
    lease_ms: i64,
) -> SqlResult<Option<Claimed>> {
    let args = params![owner, now + lease_ms, now, job.as_str()];
    let mut rows: Vec<ClaimRow> = conn
        .prepare_cached(
            "UPDATE jobs
             SET exec_state = 'running', state = 'running', attempt = attempt + 1,
                 lease_owner = ?1, lease_until = ?2, started_at = ?3, updated_at = ?3
             WHERE id = ?4 AND exec_state = 'pending'
             RETURNING exec_id, id, attempt, due_at, budget_start, 1",
        )?
        .query_map(args, claim_row)?
        .collect::<rusqlite::Result<_>>()?;
    if rows.is_empty() {
        rows = conn
            .prepare_cached(
                "UPDATE executions
                 SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_until = ?2,
                     started_at = ?3, updated_at = ?3
                 WHERE job_id = ?4 AND state = 'pending'
                 RETURNING id, job_id, attempt, due_at, budget_start, 0",
            )?
            .query_map(args, claim_row)?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(load_claimed(conn, rows, now)?.pop())
}

/// Marks the jobs of freshly claimed executions running and loads what sending them needs.
fn load_claimed(conn: &Connection, mut rows: Vec<ClaimRow>, now: i64) -> SqlResult<Vec<Claimed>> {
    rows.sort_by_key(|r| r.3);
    let mut job_stmt = conn.prepare_cached(
        "UPDATE jobs SET state = CASE kind WHEN 'once' THEN 'running' ELSE state END, updated_at = ?2
         WHERE id = ?1
         RETURNING url, method, headers, body, timeout_ms, signing, kind, retry, name, origin,
                   on_success_url, on_failure_url, internal",
    )?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (execution_id, job_id, attempt, due_at, budget_start, in_job_row) in rows {
        let columns = job_stmt.query_row(params![job_id, now], |r| {
            Ok(ClaimedColumns {
                execution_id,
                job_id: job_id.clone(),
                attempt,
                due_at,
                budget_start,
                in_job_row,
                url: r.get(0)?,
                method: r.get(1)?,
                headers: r.get(2)?,
                body: r.get(3)?,
                timeout_ms: r.get(4)?,
                signing: r.get(5)?,
                kind: r.get(6)?,
                retry: r.get(7)?,
                name: r.get(8)?,
                origin: r.get(9)?,
                on_success_url: r.get(10)?,
                on_failure_url: r.get(11)?,
                internal: r.get(12)?,
            })
        })?;
        claimed.push(columns.into_claimed());
    }
    Ok(claimed)
}

/// Pending rows looked at, in due order, for the next due one-time job of an origin that is not
/// excluded, before looking per origin instead. Each costs a lookup of its row (the due index
/// does not hold the origin), on every tick while an endpoint at its bound has a backlog.
const WAKE_SCAN: i64 = 64;

/// When the next one-time job of an origin that is not excluded falls due. As in
/// [`job_candidates`], a backlog of excluded origins is stepped over per origin, not row by row.
pub(crate) fn next_job_due(
    conn: &Connection,
    excluded: &HashSet<String>,
) -> SqlResult<Option<i64>> {
    let mut window = conn.prepare_cached(
        "SELECT origin, due_at FROM jobs WHERE exec_state = 'pending' AND held = 0
         ORDER BY due_at LIMIT CAST(?1 AS INTEGER)",
    )?;
    let mut rows = window.query([WAKE_SCAN])?;
    let mut seen = 0;
    // Row by row, each origin read in place: the first row of an origin that is not excluded
    // ends the scan.
    while let Some(r) = rows.next()? {
        seen += 1;
        let origin = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if !excluded.contains(origin) {
            return Ok(Some(r.get(1)?));
        }
    }
    drop(rows);
    if seen < WAKE_SCAN {
        return Ok(None);
    }
    let mut first_of = conn.prepare_cached(
        "SELECT min(due_at) FROM jobs WHERE exec_state = 'pending' AND held = 0 AND origin = ?1",
    )?;
    let mut next = None;
    for origin in pending_origins(conn)? {
        if !excluded.contains(&origin) {
            let due: Option<i64> = first_of.query_row([&origin], |r| r.get(0))?;
            next = next.into_iter().chain(due).min();
        }
    }
    Ok(next)
}

/// The earliest instant at which more work may become due.
pub(crate) fn next_wake(conn: &Connection, excluded: &HashSet<String>) -> SqlResult<Option<i64>> {
    let jobs = next_job_due(conn, excluded)?;
    let occurrences: Option<i64> = conn
        .prepare_cached(
            "SELECT min(due_at) FROM executions WHERE state = 'pending' AND held = 0
               AND origin NOT IN (SELECT value FROM json_each(?1))",
        )?
        .query_row([excluded_json(excluded)], |r| r.get(0))?;
    let pending = jobs.into_iter().chain(occurrences).min();
    let lease: Option<i64> = conn
        .prepare_cached(
            "SELECT min(t) FROM (
                 SELECT min(lease_until) AS t FROM jobs WHERE exec_state = 'running'
                 UNION ALL
                 SELECT min(lease_until) FROM executions WHERE state = 'running')",
        )?
        .query_row([], |r| r.get(0))?;
    let cron: Option<i64> = conn
        .prepare_cached(
            "SELECT min(next_fire_at) FROM jobs
             WHERE kind = 'cron' AND state = 'scheduled' AND held = 0",
        )?
        .query_row([], |r| r.get(0))?;
    Ok([pending, lease, cron].into_iter().flatten().min())
}

const JOB_COLUMNS: &str =
    "j.id, j.kind, j.state, j.name, j.labels, j.url, j.method, j.headers, j.body,
    j.timeout_ms, j.retry, j.idempotency_key, j.cron_expr, j.cron_tz, j.missed, j.next_fire_at,
    j.created_at, j.updated_at, j.exec_id, j.due_at, j.exec_state,
    (SELECT count(*) FROM attempts a WHERE a.job_id = j.id), j.on_success_url, j.on_failure_url";
const JOB_FROM: &str = "FROM jobs j";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<JobColumns> {
    Ok(JobColumns {
        id: r.get(0)?,
        kind: r.get(1)?,
        state: r.get(2)?,
        name: r.get(3)?,
        labels: r.get(4)?,
        url: r.get(5)?,
        method: r.get(6)?,
        headers: r.get(7)?,
        body: r.get(8)?,
        timeout_ms: r.get(9)?,
        retry: r.get(10)?,
        idempotency_key: r.get(11)?,
        cron: r.get(12)?,
        tz: r.get(13)?,
        missed: r.get(14)?,
        next_fire_at: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
        exec_id: r.get(18)?,
        due_at: r.get(19)?,
        exec_state: r.get(20)?,
        attempts: r.get(21)?,
        on_success_url: r.get(22)?,
        on_failure_url: r.get(23)?,
    })
}

/// One job.
pub(crate) fn get(conn: &Connection, id: &JobId) -> SqlResult<Option<Job>> {
    let columns = conn
        .prepare_cached(&format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.id = ?1"))?
        .query_row([id.as_str()], job_from_row)
        .optional()?;
    Ok(columns.map(JobColumns::into_job).transpose()?)
}

/// A page of jobs matching the filter, in id (creation) order.
pub(crate) fn list(conn: &Connection, f: &ListFilter) -> SqlResult<Vec<Job>> {
    let (sql, args) = list_sql(f);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), job_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .map(JobColumns::into_job)
        .collect::<crate::Result<_>>()?)
}

/// The statement of `list` and its arguments.
pub(crate) fn list_sql(f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    let columns = if f.bodies {
        JOB_COLUMNS.to_owned()
    } else {
        JOB_COLUMNS.replace("j.body,", "x'' AS body,")
    };
    let mut sql = format!("SELECT {columns} {JOB_FROM} WHERE 1 = 1");
    if !f.include_internal {
        sql.push_str(" AND j.internal = 0");
    }
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if !f.states.is_empty() {
        let list: Vec<String> = f
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        sql.push_str(&format!(" AND j.state IN ({})", list.join(",")));
        if !f.states.contains(&JobState::Scheduled) {
            // The condition of the partial index `jobs_state`, which SQLite uses only when the
            // query states it.
            sql.push_str(" AND j.state <> 'scheduled'");
        }
    }
    if let Some(name) = &f.name {
        arg(&mut sql, " AND j.name = ?", name.clone().into());
    }
    if let Some(label) = &f.label {
        arg(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM json_each(j.labels) WHERE value = ?)",
            label.clone().into(),
        );
    }
    if let Some(kind) = f.kind {
        arg(&mut sql, " AND j.kind = ?", kind.as_str().to_owned().into());
    }
    if let Some(t) = f.created_after {
        arg(&mut sql, " AND j.created_at >= ?", to_ms(t).into());
    }
    if let Some(t) = f.created_before {
        arg(&mut sql, " AND j.created_at < ?", to_ms(t).into());
    }
    let due = "CASE WHEN j.kind = 'once' THEN (CASE WHEN j.exec_state = 'pending' THEN j.due_at END) \
               WHEN j.state = 'scheduled' THEN j.next_fire_at END";
    if let Some(t) = f.due_after {
        arg(&mut sql, &format!(" AND {due} >= ?"), to_ms(t).into());
    }
    if let Some(t) = f.due_before {
        arg(&mut sql, &format!(" AND {due} < ?"), to_ms(t).into());
    }
    if let Some(after) = &f.after {
        arg(&mut sql, " AND j.id > ?", after.as_str().to_owned().into());
    }
    let limit = crate::store::page_size(f);
    sql.push_str(&format!(" ORDER BY j.id LIMIT {limit}"));
    (sql, args)
}

/// Every attempt of a job, oldest first.
pub(crate) fn attempts(
    conn: &Connection,
    id: &JobId,
    after: Option<&AttemptCursor>,
    limit: u32,
) -> SqlResult<Vec<Attempt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT job_id, execution_id, number, started_at, duration_ms, status, response_body,
                error_kind, message, next_retry_at
         FROM attempts WHERE job_id = ?1 AND (started_at, execution_id, number) > (?2, ?3, ?4)
         ORDER BY started_at, execution_id, number LIMIT CAST(?5 AS INTEGER)",
    )?;
    let (ms, exec, number) = after.cloned().unwrap_or((i64::MIN, String::new(), 0));
    let rows = stmt
        .query_map(params![id.as_str(), ms, exec, number, limit], |r| {
            Ok(attempt_from_columns(
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
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A job's kind and state.
pub(crate) fn lock_job(conn: &Connection, id: &JobId) -> SqlResult<Option<(JobKind, JobState)>> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT kind, state FROM jobs WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(kind, state)| Ok((JobKind::parse(&kind), parse_state(&state)?)))
        .transpose()
}

/// A job's state.
pub(crate) fn job_state(conn: &Connection, id: &JobId) -> SqlResult<Option<JobState>> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
        .query_row([id.as_str()], |row| row.get(0))
        .optional()?;
    state.as_deref().map(parse_state).transpose()
}

fn parse_state(s: &str) -> SqlResult<JobState> {
    s.parse().map_err(|_| {
        Error::store(
            StoreErrorKind::Corrupt,
            format!("unknown job state {s:?} in the store"),
        )
        .into()
    })
}

pub(crate) fn set_job_state(
    conn: &Connection,
    id: &JobId,
    state: JobState,
    now: i64,
) -> SqlResult<()> {
    let finished = state.is_final().then_some(now);
    conn.prepare_cached(
        "UPDATE jobs SET state = ?2, updated_at = ?3, finished_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id.as_str(), state.as_str(), now, finished])?;
    Ok(())
}

/// Cancels a job and its unfinished executions.
pub(crate) fn cancel_job(conn: &Connection, id: &JobId, now: i64) -> SqlResult<()> {
    set_job_state(conn, id, JobState::Cancelled, now)?;
    conn.prepare_cached(
        "UPDATE jobs SET next_fire_at = NULL,
                exec_state = CASE WHEN exec_state IN ('pending', 'running') THEN 'cancelled' ELSE exec_state END
         WHERE id = ?1",
    )?
    .execute([id.as_str()])?;
    conn.prepare_cached(
        "UPDATE executions SET state = 'cancelled', updated_at = ?2, finished_at = ?2
         WHERE job_id = ?1 AND state IN ('pending', 'running')",
    )?
    .execute(params![id.as_str(), now])?;
    Ok(())
}

/// Moves the pending execution of a one-time job to `at`.
pub(crate) fn reschedule_job(conn: &Connection, id: &JobId, at: i64, now: i64) -> SqlResult<()> {
    conn.prepare_cached(
        "UPDATE executions SET due_at = ?2, scheduled_for = ?2, updated_at = ?3
         WHERE job_id = ?1 AND state = 'pending'",
    )?
    .execute(params![id.as_str(), at, now])?;
    conn.prepare_cached(
        "UPDATE jobs SET due_at = CASE WHEN exec_state = 'pending' THEN ?2 ELSE due_at END,
                updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(params![id.as_str(), at, now])?;
    Ok(())
}

/// A cron job's expression and time zone.
pub(crate) fn cron_of(conn: &Connection, id: &JobId) -> SqlResult<Option<(String, String)>> {
    Ok(conn
        .prepare_cached("SELECT cron_expr, cron_tz FROM jobs WHERE id = ?1 AND kind = 'cron'")?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })
        .optional()?)
}

/// Puts a paused cron job back to `scheduled`.
pub(crate) fn resume_cron(
    conn: &Connection,
    id: &JobId,
    next: Option<i64>,
    now: i64,
) -> SqlResult<()> {
    conn.prepare_cached(
        "UPDATE jobs SET state = 'scheduled', next_fire_at = ?2, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id.as_str(), next, now])?;
    Ok(())
}

/// Makes the pending execution of a one-time job due now.
pub(crate) fn due_now(conn: &Connection, id: &JobId, now: i64) -> SqlResult<Option<ExecutionId>> {
    let in_job_row: Option<String> = conn
        .prepare_cached(
            "UPDATE jobs SET due_at = ?2, updated_at = ?2
             WHERE id = ?1 AND exec_state = 'pending' RETURNING exec_id",
        )?
        .query_row(params![id.as_str(), now], |r| r.get(0))
        .optional()?;
    let exec = match in_job_row {
        Some(exec) => Some(exec),
        None => conn
            .prepare_cached(
                "UPDATE executions SET due_at = ?2, updated_at = ?2
                 WHERE job_id = ?1 AND state = 'pending' RETURNING id",
            )?
            .query_row(params![id.as_str(), now], |r| r.get(0))
            .optional()?,
    };
    Ok(exec.map(ExecutionId::from_db))
}

/// Re-queues every failed execution of a job.
pub(crate) fn requeue_failed(conn: &Connection, id: &JobId, now: i64) -> SqlResult<usize> {
    let in_job_row = conn
        .prepare_cached(
            "UPDATE jobs SET exec_state = 'pending', due_at = ?2, budget_start = attempt
             WHERE id = ?1 AND exec_state = 'failed'",
        )?
        .execute(params![id.as_str(), now])?;
    Ok(in_job_row
        + conn
            .prepare_cached(
                "UPDATE executions SET state = 'pending', due_at = ?2, budget_start = attempt,
                        updated_at = ?2, finished_at = NULL
                 WHERE job_id = ?1 AND state = 'failed'",
            )?
            .execute(params![id.as_str(), now])?)
}

/// Deletes finished jobs, executions and attempts older than the retention periods. Returns the
/// number of jobs deleted.
pub(crate) fn prune(
    conn: &Connection,
    done_before: i64,
    failed_before: i64,
    limit: usize,
) -> SqlResult<PruneStep> {
    const PRUNABLE: &str = "finished_at IS NOT NULL AND
        ((state IN ('succeeded', 'cancelled') AND finished_at < ?1) OR (state = 'failed' AND finished_at < ?2))";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let ids = |sql: &str| -> SqlResult<Vec<String>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![done_before, failed_before, limit], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    // Finished jobs, whole: their attempts, their occurrences, and them.
    let jobs = ids(&format!(
        "SELECT id FROM jobs WHERE {PRUNABLE} LIMIT CAST(?3 AS INTEGER)"
    ))?;
    for id in &jobs {
        conn.prepare_cached("DELETE FROM attempts WHERE job_id = ?1")?
            .execute([id])?;
        conn.prepare_cached(
            "DELETE FROM executions WHERE job_id = ?1 AND finished_at IS NOT NULL",
        )?
        .execute([id])?;
        conn.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
            .execute([id])?;
    }
    // Finished occurrences of cron jobs that live on.
    let occurrences = ids(&format!(
        "SELECT id FROM executions WHERE {PRUNABLE} LIMIT CAST(?3 AS INTEGER)"
    ))?;
    for id in &occurrences {
        conn.prepare_cached("DELETE FROM attempts WHERE execution_id = ?1")?
            .execute([id])?;
        conn.prepare_cached("DELETE FROM executions WHERE id = ?1")?
            .execute([id])?;
    }
    let full = |n: usize| i64::try_from(n).unwrap_or(i64::MAX) >= limit;
    Ok(PruneStep {
        jobs: jobs.len(),
        more: full(jobs.len()) || full(occurrences.len()),
    })
}

/// Writes a value to the `meta` table unless one exists; returns the value stored.
pub(crate) fn meta_init(conn: &Connection, key: &str, value: &str) -> SqlResult<String> {
    conn.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute([key, value])?;
    let stored: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(stored.unwrap_or_else(|| value.to_owned()))
}

#[cfg(test)]
mod claim_tests {
    use super::*;

    /// A file with `n` pending one-time jobs for `origin`, due at `due`.
    fn pending(conn: &Connection, origin: &str, n: usize, due: i64) {
        let mut insert = conn
            .prepare(
                "INSERT INTO jobs (id, kind, state, labels, url, method, headers, body, timeout_ms,
                                   retry, origin, created_at, updated_at, exec_id, exec_state, due_at)
                 VALUES (?1, 'once', 'scheduled', '[]', ?2, 'POST', '[]', x'', 1000, '{}', ?2, 0, 0,
                         ?3, 'pending', ?4)",
            )
            .unwrap();
        for _ in 0..n {
            let (job, exec) = (JobId::generate(), ExecutionId::generate());
            insert
                .execute(params![job.as_str(), origin, exec.as_str(), due])
                .unwrap();
        }
    }

    fn params_for(excluded: &[&str]) -> ClaimParams {
        ClaimParams {
            owner: "w".into(),
            now: 1_000,
            lease_ms: 30_000,
            limit: 4,
            excluded: excluded.iter().map(|o| (*o).to_owned()).collect(),
            rooms: HashMap::new(),
            default_room: 4,
        }
    }

    fn origins(conn: &Connection, picked: &[(bool, String)]) -> Vec<String> {
        picked
            .iter()
            .map(|(_, id)| {
                conn.query_row("SELECT origin FROM jobs WHERE id = ?1", [id], |r| r.get(0))
                    .unwrap()
            })
            .collect()
    }

    /// A disabled endpoint's backlog is held once and then out of the claim's way: the first
    /// rows due are the other origins', with no per-origin walk behind a crowded window.
    #[test]
    fn a_held_backlog_leaves_the_due_index() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&conn).unwrap();
        pending(&conn, "http://a:80", 1000, 500);
        pending(&conn, "http://b:80", 1, 600);
        let disabled: HashSet<String> = ["http://a:80".to_owned()].into();
        assert_eq!(hold(&conn, &disabled).unwrap(), 1000);
        assert_eq!(hold(&conn, &disabled).unwrap(), 0, "each row is held once");
        // The window of the earliest due rows holds b's, not a's.
        let p = params_for(&["http://a:80"]);
        let window = job_candidates(&conn, &p, 4, 8).unwrap();
        assert_eq!(window.len(), 1);
        assert_eq!(window[0].2, "http://b:80");
        assert_eq!(next_job_due(&conn, &p.excluded).unwrap(), Some(600));
        assert_eq!(
            crate::store::sqlite::outcomes_sql::counts(&conn).unwrap().0,
            1001
        );
        // Enabled again: all of a's jobs are due as before, earliest first.
        assert_eq!(unhold(&conn, "http://a:80").unwrap(), 1000);
        let picked = pick(&conn, &params_for(&[]), 4).unwrap();
        assert_eq!(origins(&conn, &picked), vec!["http://a:80"; 4]);
    }

    #[test]
    fn a_blocked_backlog_longer_than_the_window_hides_no_other_origin() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&conn).unwrap();
        // 1000 due jobs for a, far more than the window of 8, then one for b due just after them
        // and one for c not due yet.
        pending(&conn, "http://a:80", 1000, 500);
        pending(&conn, "http://b:80", 1, 600);
        pending(&conn, "http://c:80", 1, 5_000);

        let p = params_for(&[]);
        let picked = pick(&conn, &p, 4).unwrap();
        assert_eq!(origins(&conn, &picked), vec!["http://a:80"; 4]);

        // a with room for 2 only: the rest of the claim goes to b, found behind a's backlog.
        let mut p = params_for(&[]);
        p.rooms.insert("http://a:80".into(), 2);
        let picked = pick(&conn, &p, 4).unwrap();
        assert_eq!(
            origins(&conn, &picked),
            vec!["http://a:80", "http://a:80", "http://b:80"]
        );

        // a at its limit: b is found behind a's backlog, c is not due.
        let p = params_for(&["http://a:80"]);
        let picked = pick(&conn, &p, 4).unwrap();
        assert_eq!(origins(&conn, &picked), vec!["http://b:80"]);
        assert_eq!(next_job_due(&conn, &p.excluded).unwrap(), Some(600));

        // A claim whose window is longer than a's blocked rows ahead of b: the walk stops
        // after `CROWDED_AFTER` of them, and b is still found.
        let mut p = params_for(&[]);
        p.rooms.insert("http://a:80".into(), 2);
        let picked = pick(&conn, &p, 100).unwrap();
        assert_eq!(
            origins(&conn, &picked),
            vec!["http://a:80", "http://a:80", "http://b:80"]
        );

        // a and b both excluded: the next wake is c's due time.
        let p = params_for(&["http://a:80", "http://b:80"]);
        assert!(pick(&conn, &p, 4).unwrap().is_empty());
        assert_eq!(next_job_due(&conn, &p.excluded).unwrap(), Some(5_000));
    }
}
