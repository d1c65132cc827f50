//! Every SQL statement the scheduler runs. Each function runs inside the transaction of its `Db::call`.
//! Time is always a bound parameter (milliseconds since the epoch), never SQLite's own clock.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::outcomes::{ReportParams, report as report_outcome};
use super::{from_ms, to_ms};
use crate::cron::{CronSchedule, MissedRunPolicy, due_occurrences};
use crate::error::{Error, Result};
use crate::job::{
    Attempt, AttemptError, ExecutionId, Job, JobId, JobKind, JobState, ListFilter, Method,
};
use crate::outcome::Event;
use crate::retry::{RetryPolicy, Verdict};

/// Largest page `list` returns.
pub(crate) const MAX_PAGE: u32 = 10_000;
/// Page size when the filter gives none.
pub(crate) const DEFAULT_PAGE: u32 = 100;
/// Cron jobs materialised per tick; the rest follow on the next tick.
const CRON_BATCH: usize = 1_000;
/// Largest slice of the response body that is kept.
pub(crate) const RESPONSE_BODY_LIMIT: usize = 1024;

/// A validated job, ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewJob {
    pub id: JobId,
    /// The execution of a one-time job, made with it; `None` for a cron job, whose executions are
    /// made per occurrence.
    pub execution_id: Option<ExecutionId>,
    pub kind: JobKind,
    pub name: Option<String>,
    pub labels: String,
    pub url: String,
    pub method: Method,
    pub headers: String,
    pub body: Vec<u8>,
    pub timeout_ms: i64,
    pub retry: String,
    pub signing: Option<String>,
    pub idempotency_key: Option<String>,
    pub cron_expr: Option<String>,
    pub cron_tz: Option<String>,
    pub missed: Option<MissedRunPolicy>,
    /// One-time: when it is due. Cron: its first occurrence.
    pub due_at: i64,
    pub origin: String,
    pub on_success_url: Option<String>,
    pub on_failure_url: Option<String>,
    pub internal: Internal,
}

/// Why a job exists: scheduled by the user, or made by the scheduler to report an outcome. Jobs made
/// by the scheduler never report their own outcomes, so a callback cannot trigger another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Internal {
    User = 0,
    Callback = 1,
    Event = 2,
    Test = 3,
}

impl Internal {
    fn from_db(v: i64) -> Self {
        match v {
            1 => Internal::Callback,
            2 => Internal::Event,
            3 => Internal::Test,
            _ => Internal::User,
        }
    }
}

/// Inserts jobs, each one-time job with its execution in the same row. A job whose idempotency key
/// exists already is not inserted; the existing job's id is returned in its place.
pub(crate) fn insert_jobs(conn: &Connection, jobs: &[NewJob], now: i64) -> Result<Vec<JobId>> {
    let mut find_key = conn.prepare_cached("SELECT id FROM jobs WHERE idempotency_key = ?1")?;
    let mut insert_job = conn.prepare_cached(
        "INSERT INTO jobs (id, kind, state, name, labels, url, method, headers, body, timeout_ms, retry,
                           idempotency_key, cron_expr, cron_tz, missed, next_fire_at, created_at, updated_at,
                           signing, origin, on_success_url, on_failure_url, internal, exec_id, exec_state, due_at)
         VALUES (?1, ?2, 'scheduled', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16,
                 ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
    )?;
    let mut ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Some(key) = &job.idempotency_key
            && let Some(existing) = find_key
                .query_row([key], |r| r.get::<_, String>(0))
                .optional()?
        {
            ids.push(JobId::from_db(existing));
            continue;
        }
        let cron = job.kind == JobKind::Cron;
        insert_job.execute(params![
            job.id.as_str(),
            job.kind.as_str(),
            job.name,
            job.labels,
            job.url,
            job.method.as_str(),
            job.headers,
            job.body,
            job.timeout_ms,
            job.retry,
            job.idempotency_key,
            job.cron_expr,
            job.cron_tz,
            job.missed.map(missed_to_db),
            cron.then_some(job.due_at),
            now,
            job.signing,
            job.origin,
            job.on_success_url,
            job.on_failure_url,
            job.internal as i64,
            job.execution_id.as_ref().map(ExecutionId::as_str),
            job.execution_id.as_ref().map(|_| "pending"),
            job.execution_id.as_ref().map(|_| job.due_at),
        ])?;
        ids.push(job.id.clone());
    }
    Ok(ids)
}

/// An execution claimed by this worker, with everything needed to send it.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub execution_id: ExecutionId,
    /// Where the execution lives: in its one-time job's row, or in `executions` (cron occurrences).
    pub in_job_row: bool,
    pub job_id: JobId,
    pub attempt: u32,
    pub due_at: i64,
    pub url: String,
    pub method: Method,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// The job's own signing settings (JSON), if any.
    pub signing: Option<String>,
    /// One-time or cron.
    pub kind: JobKind,
    /// The job's retry policy (JSON).
    pub retry: String,
    /// Attempts that do not count against the policy.
    pub budget_start: u32,
    /// The job's name.
    pub name: Option<String>,
    /// The job's origin.
    pub origin: String,
    /// Callback URLs.
    pub on_success_url: Option<String>,
    /// Callback URLs.
    pub on_failure_url: Option<String>,
    /// Why the job exists.
    pub internal: Internal,
}

struct ClaimedJobRow {
    url: String,
    method: String,
    headers: String,
    body: Vec<u8>,
    timeout_ms: i64,
    signing: Option<String>,
    kind: String,
    retry: String,
    name: Option<String>,
    origin: String,
    on_success_url: Option<String>,
    on_failure_url: Option<String>,
    internal: i64,
}

impl Claimed {
    /// How long to wait before the next attempt after one that ended with `verdict`, or `None`
    /// when the execution is finished (delivered, failed for good, or out of attempts).
    pub(crate) fn next_delay(
        &self,
        verdict: Verdict,
        retry_after: Option<Duration>,
    ) -> Result<Option<Duration>> {
        if verdict != Verdict::Retry {
            return Ok(None);
        }
        let policy: RetryPolicy = serde_json::from_str(&self.retry).map_err(corrupt)?;
        Ok(policy.next_delay(self.attempt.saturating_sub(self.budget_start), retry_after))
    }
}

/// What one pass of the dispatch loop found.
#[derive(Debug, Default)]
pub(crate) struct Tick {
    pub claimed: Vec<Claimed>,
    /// The earliest instant at which more work may become due: a pending execution, an expired lease
    /// of another worker, or a cron occurrence.
    pub next_wake: Option<i64>,
}

/// Parameters of a tick.
#[derive(Debug, Clone)]
pub(crate) struct TickParams {
    pub owner: String,
    pub now: i64,
    pub lease_ms: i64,
    pub limit: usize,
    pub missed_grace: chrono::Duration,
    /// Origins not to claim for now: at their in-flight or rate limit.
    pub blocked: Vec<String>,
    /// How many executions of each known origin may be claimed.
    pub rooms: HashMap<String, usize>,
    /// How many executions of any other origin may be claimed.
    pub default_room: usize,
}

/// One pass: rescue executions whose worker died, turn due cron occurrences into executions, then
/// claim up to `limit` due executions with a lease.
pub(crate) fn tick(conn: &Connection, p: &TickParams) -> Result<Tick> {
    rescue_expired(conn, &p.owner, p.now)?;
    materialize_cron(conn, p.now, p.missed_grace)?;
    let excluded = Excluded::load(conn, &p.blocked)?;
    let claimed = if p.limit > 0 {
        claim(conn, p, &excluded)?
    } else {
        Vec::new()
    };
    let next_wake = next_wake(conn, &p.owner, &excluded)?;
    Ok(Tick { claimed, next_wake })
}

/// Which in-flight executions [`requeue_interrupted`] takes back.
#[derive(Debug, Clone, Copy)]
enum Interrupted {
    /// Another worker's, whose lease has expired: that worker died or lost the file.
    Expired,
    /// This worker's own (shutdown deadline passed).
    Owned,
}

/// Executions whose lease expired belong to a worker that died (or lost contact with the file): each
/// in-flight attempt is recorded as interrupted, and the execution becomes due again at once, keeping
/// its id. An interrupted attempt does not count against the retry policy.
fn rescue_expired(conn: &Connection, owner: &str, now: i64) -> Result<usize> {
    requeue_interrupted(conn, owner, now, Interrupted::Expired)
}

/// Releases every execution this worker still holds (shutdown deadline passed): each is recorded as
/// interrupted and due again at once.
pub(crate) fn release_owned(conn: &Connection, owner: &str, now: i64) -> Result<usize> {
    requeue_interrupted(conn, owner, now, Interrupted::Owned)
}

fn requeue_interrupted(
    conn: &Connection,
    owner: &str,
    now: i64,
    which: Interrupted,
) -> Result<usize> {
    let (filter, message) = match which {
        Interrupted::Expired => (
            "lease_until <= ?2 AND lease_owner IS NOT ?1",
            "the worker delivering it stopped before recording an outcome (lease expired)",
        ),
        Interrupted::Owned => (
            "lease_owner = ?1",
            "shutdown deadline reached before the attempt finished",
        ),
    };
    let row = |r: &Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u32>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    };
    // One-time jobs: the job's state follows its execution in the same statement.
    let in_jobs = conn
        .prepare_cached(&format!(
            "UPDATE jobs SET exec_state = 'pending', due_at = ?2, budget_start = budget_start + 1,
                    lease_owner = NULL, lease_until = NULL, updated_at = ?2,
                    state = CASE WHEN attempt > 1 THEN 'retrying' ELSE 'scheduled' END
             WHERE exec_state = 'running' AND {filter}
             RETURNING exec_id, id, attempt, started_at"
        ))?
        .query_map(params![owner, now], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let in_executions = conn
        .prepare_cached(&format!(
            "UPDATE executions SET state = 'pending', due_at = ?2, budget_start = budget_start + 1,
                    lease_owner = NULL, lease_until = NULL, updated_at = ?2
             WHERE state = 'running' AND {filter}
             RETURNING id, job_id, attempt, started_at"
        ))?
        .query_map(params![owner, now], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut attempt_row = conn.prepare_cached(
        "INSERT OR IGNORE INTO attempts (execution_id, number, job_id, started_at, duration_ms, error_kind, message, next_retry_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'interrupted', ?6, ?7)",
    )?;
    let mut job_state = conn.prepare_cached(
        "UPDATE jobs SET state = CASE WHEN ?3 > 1 THEN 'retrying' ELSE 'scheduled' END, updated_at = ?2
         WHERE id = ?1 AND kind = 'once' AND state = 'running'",
    )?;
    let rows = in_jobs.len() + in_executions.len();
    for ((exec, job, attempt, started), in_job_row) in in_jobs
        .iter()
        .map(|r| (r, true))
        .chain(in_executions.iter().map(|r| (r, false)))
    {
        let started = started.unwrap_or(now);
        attempt_row.execute(params![
            exec,
            attempt,
            job,
            started,
            (now - started).max(0),
            message,
            now
        ])?;
        if !in_job_row {
            job_state.execute(params![job, now, attempt])?;
        }
    }
    Ok(rows)
}

/// Extends the leases of everything this worker is delivering.
pub(crate) fn renew_leases(conn: &Connection, owner: &str, until: i64) -> Result<usize> {
    let in_jobs = conn
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?2 WHERE exec_state = 'running' AND lease_owner = ?1",
        )?
        .execute(params![owner, until])?;
    let in_executions = conn
        .prepare_cached(
            "UPDATE executions SET lease_until = ?2 WHERE state = 'running' AND lease_owner = ?1",
        )?
        .execute(params![owner, until])?;
    Ok(in_jobs + in_executions)
}

fn materialize_cron(conn: &Connection, now: i64, grace: chrono::Duration) -> Result<()> {
    #[allow(clippy::type_complexity)]
    let due: Vec<(String, String, String, Option<String>, i64, String)> = conn
        .prepare_cached(
            "SELECT id, cron_expr, cron_tz, missed, next_fire_at, origin FROM jobs
             WHERE kind = 'cron' AND state = 'scheduled' AND next_fire_at <= ?1
             ORDER BY next_fire_at LIMIT ?2",
        )?
        .query_map(params![now, CRON_BATCH as i64], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert_exec = conn.prepare_cached(
        "INSERT INTO executions (id, job_id, origin, state, due_at, scheduled_for, updated_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?5)",
    )?;
    let mut advance =
        conn.prepare_cached("UPDATE jobs SET next_fire_at = ?2, updated_at = ?3 WHERE id = ?1")?;
    for (id, expr, tz, missed, next_fire, origin) in due {
        let policy = missed.as_deref().map(missed_from_db).unwrap_or_default();
        let schedule = CronSchedule::parse(&expr, &tz)?;
        let due = due_occurrences(&schedule, from_ms(next_fire), from_ms(now), policy, grace);
        for t in &due.run {
            let exec = ExecutionId::generate();
            insert_exec.execute(params![exec.as_str(), id, origin, to_ms(*t), now])?;
        }
        advance.execute(params![id, due.next_fire.map(to_ms), now])?;
    }
    Ok(())
}

/// Due executions looked at per claim, as a multiple of the claim's limit, before the per-origin
/// cap is applied.
const CLAIM_SCAN_FACTOR: i64 = 2;

/// A claimable execution: whether it lives in its job's row, its key (job id or execution id),
/// origin and due time.
type Candidate = (bool, String, String, i64);

/// Origins not to claim for now, read once per tick: those at their limits and disabled endpoints.
struct Excluded {
    origins: HashSet<String>,
    /// The same, as a JSON array for the statements over `executions` (`json_each`).
    json: String,
}

impl Excluded {
    fn load(conn: &Connection, blocked: &[String]) -> Result<Excluded> {
        let mut origins: HashSet<String> = blocked.iter().cloned().collect();
        let mut stmt =
            conn.prepare_cached("SELECT origin FROM endpoints WHERE disabled_at IS NOT NULL")?;
        for origin in stmt.query_map([], |r| r.get::<_, String>(0))? {
            origins.insert(origin?);
        }
        let json = serde_json::to_string(&origins).expect("strings serialise");
        Ok(Excluded { origins, json })
    }

    fn contains(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }
}

/// Every origin with a pending one-time job, in order, one index seek each (a loose index scan of
/// `jobs_origin_due`).
fn pending_origins(conn: &Connection) -> Result<Vec<String>> {
    let mut next = conn.prepare_cached(
        "SELECT min(origin) FROM jobs WHERE exec_state = 'pending' AND origin > ?1",
    )?;
    let mut origins = Vec::new();
    let mut after = String::new();
    while let Some(origin) = next.query_row([&after], |r| r.get::<_, Option<String>>(0))? {
        origins.push(origin.clone());
        after = origin;
    }
    Ok(origins)
}

/// Due one-time jobs to claim from. Usually the `scan` earliest due rows, whatever their origin
/// (a bounded walk of `jobs_due`). When those are all taken up to the last by excluded origins (a
/// herd for an endpoint at its limit, or the held jobs of a disabled one), the rows behind them are
/// found per origin instead: each other origin's earliest due rows, so the cost follows the number
/// of origins, not the length of the blocked backlog.
fn job_candidates(
    conn: &Connection,
    now: i64,
    scan: i64,
    excluded: &Excluded,
) -> Result<Vec<Candidate>> {
    let window: Vec<(String, String, i64)> = conn
        .prepare_cached(
            "SELECT id, origin, due_at FROM jobs WHERE exec_state = 'pending' AND due_at <= ?1
             ORDER BY due_at LIMIT ?2",
        )?
        .query_map(params![now, scan], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let full = i64::try_from(window.len()).unwrap_or(i64::MAX) >= scan;
    let crowded = full && window.iter().any(|(_, o, _)| excluded.contains(o));
    if !crowded {
        return Ok(window
            .into_iter()
            .filter(|(_, o, _)| !excluded.contains(o))
            .map(|(id, o, due)| (true, id, o, due))
            .collect());
    }
    let mut rows_of = conn.prepare_cached(
        "SELECT id, due_at FROM jobs WHERE exec_state = 'pending' AND origin = ?1 AND due_at <= ?2
         ORDER BY due_at LIMIT ?3",
    )?;
    let mut candidates = Vec::new();
    for origin in pending_origins(conn)? {
        if excluded.contains(&origin) {
            continue;
        }
        for row in rows_of.query_map(params![origin, now, scan], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })? {
            let (id, due) = row?;
            candidates.push((true, id, origin.clone(), due));
        }
    }
    Ok(candidates)
}

/// The earliest due executions of both kinds (one-time jobs' in their rows, cron occurrences in
/// `executions`), at most `limit`, each origin capped at its room (`p.rooms`, else
/// `p.default_room`).
fn pick(
    conn: &Connection,
    p: &TickParams,
    limit: i64,
    excluded: &Excluded,
) -> Result<Vec<(bool, String)>> {
    let scan = limit.saturating_mul(CLAIM_SCAN_FACTOR);
    let mut candidates = job_candidates(conn, p.now, scan, excluded)?;
    let mut occurrences = conn.prepare_cached(
        "SELECT id, origin, due_at FROM executions
         WHERE state = 'pending' AND due_at <= ?1
           AND origin NOT IN (SELECT value FROM json_each(?2))
         ORDER BY due_at LIMIT ?3",
    )?;
    for row in occurrences.query_map(params![p.now, excluded.json, scan], |r| {
        Ok((false, r.get(0)?, r.get(1)?, r.get(2)?))
    })? {
        candidates.push(row?);
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

fn claim(conn: &Connection, p: &TickParams, excluded: &Excluded) -> Result<Vec<Claimed>> {
    let limit = i64::try_from(p.limit).unwrap_or(i64::MAX / 4);
    let picked = pick(conn, p, limit, excluded)?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let (jobs, executions): (Vec<_>, Vec<_>) = picked.into_iter().partition(|(j, _)| *j);
    let keys = |v: Vec<(bool, String)>| {
        serde_json::to_string(&v.into_iter().map(|(_, k)| k).collect::<Vec<_>>())
            .expect("strings serialize")
    };
    let lease_until = p.now + p.lease_ms;
    let mut rows = Vec::new();
    if !jobs.is_empty() {
        rows.extend(
            conn.prepare_cached(
                "UPDATE jobs
                 SET exec_state = 'running', state = 'running', attempt = attempt + 1,
                     lease_owner = ?1, lease_until = ?2, started_at = ?3, updated_at = ?3
                 WHERE id IN (SELECT value FROM json_each(?4)) AND exec_state = 'pending'
                 RETURNING exec_id, id, attempt, due_at, budget_start, 1",
            )?
            .query_map(params![p.owner, lease_until, p.now, keys(jobs)], claim_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    if !executions.is_empty() {
        rows.extend(
            conn.prepare_cached(
                "UPDATE executions
                 SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_until = ?2,
                     started_at = ?3, updated_at = ?3
                 WHERE id IN (SELECT value FROM json_each(?4)) AND state = 'pending'
                 RETURNING id, job_id, attempt, due_at, budget_start, 0",
            )?
            .query_map(
                params![p.owner, lease_until, p.now, keys(executions)],
                claim_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    load_claimed(conn, rows, p.now)
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
) -> Result<Claimed> {
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
    load_claimed(conn, rows, now)?
        .pop()
        .ok_or_else(|| Error::NotFound(job.clone()))
}

/// Marks the jobs of freshly claimed executions running and loads what sending them needs.
fn load_claimed(conn: &Connection, mut rows: Vec<ClaimRow>, now: i64) -> Result<Vec<Claimed>> {
    rows.sort_by_key(|r| r.3);
    let mut job_stmt = conn.prepare_cached(
        "UPDATE jobs SET state = CASE kind WHEN 'once' THEN 'running' ELSE state END, updated_at = ?2
         WHERE id = ?1
         RETURNING url, method, headers, body, timeout_ms, signing, kind, retry, name, origin,
                   on_success_url, on_failure_url, internal",
    )?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (exec, job, attempt, due_at, budget_start, in_job_row) in rows {
        let row = job_stmt.query_row(params![job, now], |r| {
            Ok(ClaimedJobRow {
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
        claimed.push(Claimed {
            execution_id: ExecutionId::from_db(exec),
            in_job_row,
            job_id: JobId::from_db(job),
            attempt,
            budget_start,
            due_at,
            url: row.url,
            method: row.method.parse()?,
            headers: serde_json::from_str(&row.headers).map_err(corrupt)?,
            body: row.body,
            timeout: Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(0)),
            signing: row.signing,
            kind: JobKind::parse(&row.kind),
            retry: row.retry,
            name: row.name,
            origin: row.origin,
            on_success_url: row.on_success_url,
            on_failure_url: row.on_failure_url,
            internal: Internal::from_db(row.internal),
        });
    }
    Ok(claimed)
}

/// Pending rows looked at, in due order, for the next due one-time job of an origin that is not
/// excluded, before looking per origin instead.
const WAKE_SCAN: i64 = 256;

/// When the next one-time job of an origin that is not excluded falls due. As in
/// [`job_candidates`], a backlog of excluded origins is stepped over per origin, not row by row.
fn next_job_due(conn: &Connection, excluded: &Excluded) -> Result<Option<i64>> {
    let window: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT origin, due_at FROM jobs WHERE exec_state = 'pending' ORDER BY due_at LIMIT ?1",
        )?
        .query_map([WAKE_SCAN], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some((_, due)) = window.iter().find(|(o, _)| !excluded.contains(o)) {
        return Ok(Some(*due));
    }
    if i64::try_from(window.len()).unwrap_or(i64::MAX) < WAKE_SCAN {
        return Ok(None);
    }
    let mut first_of = conn.prepare_cached(
        "SELECT min(due_at) FROM jobs WHERE exec_state = 'pending' AND origin = ?1",
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

fn next_wake(conn: &Connection, owner: &str, excluded: &Excluded) -> Result<Option<i64>> {
    let jobs = next_job_due(conn, excluded)?;
    let occurrences: Option<i64> = conn
        .prepare_cached(
            "SELECT min(due_at) FROM executions WHERE state = 'pending'
               AND origin NOT IN (SELECT value FROM json_each(?1))",
        )?
        .query_row([&excluded.json], |r| r.get(0))?;
    let pending = jobs.into_iter().chain(occurrences).min();
    let lease: Option<i64> = conn
        .prepare_cached(
            "SELECT min(t) FROM (
                 SELECT min(lease_until) AS t FROM jobs
                 WHERE exec_state = 'running' AND lease_owner IS NOT ?1
                 UNION ALL
                 SELECT min(lease_until) FROM executions
                 WHERE state = 'running' AND lease_owner IS NOT ?1)",
        )?
        .query_row([owner], |r| r.get(0))?;
    let cron: Option<i64> = conn
        .prepare_cached(
            "SELECT min(next_fire_at) FROM jobs WHERE kind = 'cron' AND state = 'scheduled'",
        )?
        .query_row([], |r| r.get(0))?;
    Ok([pending, lease, cron].into_iter().flatten().min())
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

/// Records an attempt and moves its execution (and one-time job) on: succeeded, due again later, or
/// failed, and reports the outcome (callbacks, subscription events, endpoint health). If the lease
/// was lost meanwhile (another worker took over, or the job was cancelled), only the attempt is
/// recorded.
pub(crate) fn record(
    conn: &Connection,
    owner: &str,
    report: &ReportParams,
    c: &Claimed,
    r: &AttemptResult,
    now: i64,
) -> Result<Recorded> {
    let (exec_next, due_at, next_retry_at) = match r.next_delay {
        None if r.verdict == Verdict::Success => ("succeeded", None, None),
        None => ("failed", None, None),
        Some(delay) => {
            let at = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            ("pending", Some(at), Some(at))
        }
    };
    let finished = (exec_next != "pending").then_some(now);
    // What a one-time job becomes with its execution.
    let once_state = match exec_next {
        "succeeded" => JobState::Succeeded,
        "pending" => JobState::Retrying,
        _ => JobState::Failed,
    };
    let owned = if c.in_job_row {
        conn.prepare_cached(
            "UPDATE jobs SET exec_state = ?2, due_at = coalesce(?3, due_at), lease_owner = NULL,
                    lease_until = NULL, started_at = NULL, state = ?7, updated_at = ?4, finished_at = ?5
             WHERE id = ?8 AND exec_id = ?1 AND exec_state = 'running' AND lease_owner = ?6",
        )?
        .execute(params![
            r.execution_id.as_str(),
            exec_next,
            due_at,
            now,
            finished,
            owner,
            once_state.as_str(),
            r.job_id.as_str(),
        ])?
    } else {
        conn.prepare_cached(
            "UPDATE executions SET state = ?2, due_at = coalesce(?3, due_at), lease_owner = NULL,
                    lease_until = NULL, started_at = NULL, updated_at = ?4, finished_at = ?5
             WHERE id = ?1 AND state = 'running' AND lease_owner = ?6",
        )?
        .execute(params![
            r.execution_id.as_str(),
            exec_next,
            due_at,
            now,
            finished,
            owner
        ])?
    } == 1;
    let (job_state, next_retry_at) = if owned && c.kind == JobKind::Once {
        if !c.in_job_row {
            conn.prepare_cached(
                "UPDATE jobs SET state = ?2, updated_at = ?3, finished_at = ?4 WHERE id = ?1",
            )?
            .execute(params![
                r.job_id.as_str(),
                once_state.as_str(),
                now,
                finished
            ])?;
        }
        (once_state, next_retry_at)
    } else {
        // A cron job's state does not follow its occurrences; and if the lease was lost (another
        // worker took over, or the job was cancelled), only the attempt is recorded.
        let state: Option<String> = conn
            .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
            .query_row([r.job_id.as_str()], |row| row.get(0))
            .optional()?;
        let state = state.ok_or_else(|| Error::NotFound(r.job_id.clone()))?;
        (state.parse()?, if owned { next_retry_at } else { None })
    };
    let body = r
        .response_body
        .as_ref()
        .map(|b| &b[..b.len().min(RESPONSE_BODY_LIMIT)]);
    conn.prepare_cached(
        "INSERT OR IGNORE INTO attempts (execution_id, number, job_id, started_at, duration_ms, status,
                                         response_body, error_kind, message, next_retry_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        r.execution_id.as_str(),
        r.attempt,
        r.job_id.as_str(),
        r.started_at,
        r.duration_ms,
        r.status,
        body,
        r.error.map(AttemptError::as_str),
        r.message,
        next_retry_at,
    ])?;
    let attempt = Attempt {
        job_id: r.job_id.clone(),
        execution_id: r.execution_id.clone(),
        number: r.attempt,
        started_at: from_ms(r.started_at),
        duration: Duration::from_millis(u64::try_from(r.duration_ms).unwrap_or(0)),
        status: r.status,
        response_body: body.map(<[u8]>::to_vec),
        error: r.error,
        message: r.message.clone(),
        next_retry_at: next_retry_at.map(from_ms),
    };
    let events = if owned {
        report_outcome(conn, report, c, &attempt, now)?
    } else {
        Vec::new()
    };
    Ok(Recorded {
        attempt,
        state: job_state,
        events,
    })
}

const JOB_COLUMNS: &str =
    "j.id, j.kind, j.state, j.name, j.labels, j.url, j.method, j.headers, j.body,
    j.timeout_ms, j.retry, j.idempotency_key, j.cron_expr, j.cron_tz, j.missed, j.next_fire_at,
    j.created_at, j.updated_at, j.exec_id, j.due_at, j.exec_state,
    (SELECT count(*) FROM attempts a WHERE a.job_id = j.id), j.on_success_url, j.on_failure_url";
const JOB_FROM: &str = "FROM jobs j";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let json_err = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let kind = JobKind::parse(&text(1)?);
    let state: JobState = text(2)?.parse().unwrap_or(JobState::Failed);
    let exec_state: Option<String> = r.get(20)?;
    let next_run_at = match kind {
        JobKind::Once if exec_state.as_deref() == Some("pending") => r.get::<_, Option<i64>>(19)?,
        JobKind::Cron if state == JobState::Scheduled => r.get::<_, Option<i64>>(15)?,
        _ => None,
    };
    Ok(Job {
        id: JobId::from_db(text(0)?),
        kind,
        state,
        name: r.get(3)?,
        labels: serde_json::from_str(&text(4)?).map_err(|e| json_err(4, e))?,
        url: text(5)?,
        method: text(6)?.parse().unwrap_or_default(),
        headers: serde_json::from_str(&text(7)?).map_err(|e| json_err(7, e))?,
        body: r.get(8)?,
        timeout: Duration::from_millis(u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0)),
        retry: serde_json::from_str(&text(10)?).map_err(|e| json_err(10, e))?,
        idempotency_key: r.get(11)?,
        cron: r.get(12)?,
        tz: r.get(13)?,
        missed: r
            .get::<_, Option<String>>(14)?
            .as_deref()
            .map(missed_from_db),
        next_run_at: next_run_at.map(from_ms),
        execution_id: r.get::<_, Option<String>>(18)?.map(ExecutionId::from_db),
        attempts: r.get(21)?,
        on_success_url: r.get(22)?,
        on_failure_url: r.get(23)?,
        created_at: from_ms(r.get(16)?),
        updated_at: from_ms(r.get(17)?),
    })
}

/// One job.
pub(crate) fn get(conn: &Connection, id: &JobId) -> Result<Job> {
    conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.id = ?1"))?
        .query_row([id.as_str()], job_from_row)
        .optional()?
        .ok_or_else(|| Error::NotFound(id.clone()))
}

/// A page of jobs matching the filter, in id (creation) order.
pub(crate) fn list(conn: &Connection, f: &ListFilter) -> Result<Vec<Job>> {
    let (sql, args) = list_sql(f);
    let mut stmt = conn.prepare(&sql)?;
    let jobs = stmt
        .query_map(rusqlite::params_from_iter(args), job_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(jobs)
}

/// The statement of `list` and its arguments.
pub(crate) fn list_sql(f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE 1 = 1");
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
    let limit = f.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    sql.push_str(&format!(" ORDER BY j.id LIMIT {limit}"));
    (sql, args)
}

/// Every attempt of a job, oldest first.
pub(crate) fn attempts(conn: &Connection, id: &JobId) -> Result<Vec<Attempt>> {
    job_kind_state(conn, id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT job_id, execution_id, number, started_at, duration_ms, status, response_body,
                error_kind, message, next_retry_at
         FROM attempts WHERE job_id = ?1 ORDER BY started_at, execution_id, number",
    )?;
    let rows = stmt
        .query_map([id.as_str()], |r| {
            Ok(Attempt {
                job_id: JobId::from_db(r.get(0)?),
                execution_id: ExecutionId::from_db(r.get(1)?),
                number: r.get(2)?,
                started_at: from_ms(r.get(3)?),
                duration: Duration::from_millis(u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0)),
                status: r.get(5)?,
                response_body: r.get(6)?,
                error: r
                    .get::<_, Option<String>>(7)?
                    .as_deref()
                    .map(AttemptError::parse),
                message: r.get(8)?,
                next_retry_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn job_kind_state(conn: &Connection, id: &JobId) -> Result<(JobKind, JobState)> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT kind, state FROM jobs WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (kind, state) = row.ok_or_else(|| Error::NotFound(id.clone()))?;
    Ok((JobKind::parse(&kind), state.parse()?))
}

fn set_job_state(conn: &Connection, id: &JobId, state: JobState, now: i64) -> Result<()> {
    let finished = state.is_final().then_some(now);
    conn.prepare_cached(
        "UPDATE jobs SET state = ?2, updated_at = ?3, finished_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id.as_str(), state.as_str(), now, finished])?;
    Ok(())
}

/// Cancels a job: a pending or retrying execution never fires, and a cron job stops producing
/// occurrences. Cancelling a cancelled job is a no-op; a finished one cannot be cancelled.
pub(crate) fn cancel(conn: &Connection, id: &JobId, now: i64) -> Result<()> {
    let (_, state) = job_kind_state(conn, id)?;
    match state {
        JobState::Cancelled => return Ok(()),
        JobState::Succeeded | JobState::Failed => {
            return Err(Error::InvalidState {
                id: id.clone(),
                state,
                action: "cancel",
            });
        }
        _ => {}
    }
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

/// Moves a scheduled or retrying one-time job to `at`.
pub(crate) fn reschedule(conn: &Connection, id: &JobId, at: i64, now: i64) -> Result<()> {
    let (kind, state) = job_kind_state(conn, id)?;
    if kind != JobKind::Once || !matches!(state, JobState::Scheduled | JobState::Retrying) {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "reschedule",
        });
    }
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

/// Pauses a scheduled cron job: no new occurrences until `resume`.
pub(crate) fn pause(conn: &Connection, id: &JobId, now: i64) -> Result<()> {
    let (kind, state) = job_kind_state(conn, id)?;
    if kind != JobKind::Cron || !matches!(state, JobState::Scheduled | JobState::Paused) {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "pause",
        });
    }
    set_job_state(conn, id, JobState::Paused, now)
}

/// Resumes a paused cron job from its next occurrence after `now`; occurrences during the pause are
/// skipped.
pub(crate) fn resume(conn: &Connection, id: &JobId, now: i64) -> Result<()> {
    let (kind, state) = job_kind_state(conn, id)?;
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
    let (expr, tz): (String, String) = conn
        .prepare_cached("SELECT cron_expr, cron_tz FROM jobs WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let next = CronSchedule::parse(&expr, &tz)?
        .next_after(from_ms(now))
        .map(to_ms);
    conn.prepare_cached(
        "UPDATE jobs SET state = 'scheduled', next_fire_at = ?2, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id.as_str(), next, now])?;
    Ok(())
}

/// Runs a job now: a new occurrence of a cron job (its schedule is unchanged), or the pending
/// execution of a one-time job. Returns the execution id.
pub(crate) fn trigger(conn: &Connection, id: &JobId, now: i64) -> Result<ExecutionId> {
    let (kind, state) = job_kind_state(conn, id)?;
    match (kind, state) {
        (JobKind::Cron, JobState::Scheduled | JobState::Paused) => {
            let exec = ExecutionId::generate();
            conn.prepare_cached(
                "INSERT INTO executions (id, job_id, origin, state, due_at, scheduled_for, updated_at)
                 SELECT ?1, id, origin, 'pending', ?3, ?3, ?3 FROM jobs WHERE id = ?2",
            )?
            .execute(params![exec.as_str(), id.as_str(), now])?;
            Ok(exec)
        }
        (JobKind::Once, JobState::Scheduled | JobState::Retrying) => {
            let in_job_row: Option<String> = conn
                .prepare_cached(
                    "UPDATE jobs SET due_at = ?2, updated_at = ?2
                     WHERE id = ?1 AND exec_state = 'pending' RETURNING exec_id",
                )?
                .query_row(params![id.as_str(), now], |r| r.get(0))
                .optional()?;
            let exec = match in_job_row {
                Some(exec) => exec,
                None => conn
                    .prepare_cached(
                        "UPDATE executions SET due_at = ?2, updated_at = ?2
                         WHERE job_id = ?1 AND state = 'pending' RETURNING id",
                    )?
                    .query_row(params![id.as_str(), now], |r| r.get(0))?,
            };
            Ok(ExecutionId::from_db(exec))
        }
        _ => Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "trigger",
        }),
    }
}

/// Re-queues a failed job (a dead letter) with a fresh retry budget and the same execution id. For a
/// cron job, every failed occurrence is re-queued. Returns how many executions were re-queued.
pub(crate) fn retry(conn: &Connection, id: &JobId, now: i64) -> Result<usize> {
    let (kind, state) = job_kind_state(conn, id)?;
    if kind == JobKind::Once && state != JobState::Failed {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "retry",
        });
    }
    let in_job_row = conn
        .prepare_cached(
            "UPDATE jobs SET exec_state = 'pending', due_at = ?2, budget_start = attempt
             WHERE id = ?1 AND exec_state = 'failed'",
        )?
        .execute(params![id.as_str(), now])?;
    let n = in_job_row
        + conn
            .prepare_cached(
                "UPDATE executions SET state = 'pending', due_at = ?2, budget_start = attempt,
                        updated_at = ?2, finished_at = NULL
                 WHERE job_id = ?1 AND state = 'failed'",
            )?
            .execute(params![id.as_str(), now])?;
    if n == 0 {
        return Err(Error::InvalidState {
            id: id.clone(),
            state,
            action: "retry",
        });
    }
    if kind == JobKind::Once {
        set_job_state(conn, id, JobState::Scheduled, now)?;
    }
    Ok(n)
}

/// Deletes finished jobs, executions and attempts older than the retention periods. Returns the
/// number of jobs deleted.
pub(crate) fn prune(conn: &Connection, done_before: i64, failed_before: i64) -> Result<usize> {
    conn.prepare_cached(
        "DELETE FROM attempts WHERE execution_id IN (
             SELECT id FROM all_executions WHERE finished_at IS NOT NULL AND
               ((state IN ('succeeded', 'cancelled') AND finished_at < ?1) OR (state = 'failed' AND finished_at < ?2)))",
    )?
    .execute(params![done_before, failed_before])?;
    conn.prepare_cached(
        "DELETE FROM executions WHERE finished_at IS NOT NULL AND
           ((state IN ('succeeded', 'cancelled') AND finished_at < ?1) OR (state = 'failed' AND finished_at < ?2))",
    )?
    .execute(params![done_before, failed_before])?;
    let jobs = conn
        .prepare_cached(
            "DELETE FROM jobs WHERE finished_at IS NOT NULL AND
               ((state IN ('succeeded', 'cancelled') AND finished_at < ?1) OR (state = 'failed' AND finished_at < ?2))",
        )?
        .execute(params![done_before, failed_before])?;
    conn.prepare_cached(
        "DELETE FROM executions WHERE job_id NOT IN (SELECT id FROM jobs) AND finished_at IS NOT NULL",
    )?
    .execute([])?;
    Ok(jobs)
}

/// Reads a value from the `meta` table.
pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Writes a value to the `meta` table unless one exists; returns the value stored.
pub(crate) fn meta_init(conn: &Connection, key: &str, value: &str) -> Result<String> {
    conn.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute([key, value])?;
    Ok(meta_get(conn, key)?.unwrap_or_else(|| value.to_owned()))
}

pub(crate) fn missed_to_db(p: MissedRunPolicy) -> String {
    match p {
        MissedRunPolicy::Skip => "skip".to_owned(),
        MissedRunPolicy::RunOnce => "run_once".to_owned(),
        MissedRunPolicy::CatchUp(n) => format!("catch_up:{n}"),
    }
}

pub(crate) fn missed_from_db(s: &str) -> MissedRunPolicy {
    match s {
        "skip" => MissedRunPolicy::Skip,
        "run_once" => MissedRunPolicy::RunOnce,
        other => other
            .strip_prefix("catch_up:")
            .and_then(|n| n.parse().ok())
            .map_or(MissedRunPolicy::RunOnce, MissedRunPolicy::CatchUp),
    }
}

fn corrupt(e: serde_json::Error) -> Error {
    Error::Store(format!("corrupt row: {e}"))
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

    fn params_for(blocked: &[&str]) -> TickParams {
        TickParams {
            owner: "w".into(),
            now: 1_000,
            lease_ms: 30_000,
            limit: 4,
            missed_grace: chrono::Duration::seconds(60),
            blocked: blocked.iter().map(|o| (*o).to_owned()).collect(),
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
        let excluded = Excluded::load(&conn, &p.blocked).unwrap();
        let picked = pick(&conn, &p, 4, &excluded).unwrap();
        assert_eq!(origins(&conn, &picked), vec!["http://a:80"; 4]);

        // a at its limit: b is found behind a's backlog, c is not due.
        let p = params_for(&["http://a:80"]);
        let excluded = Excluded::load(&conn, &p.blocked).unwrap();
        let picked = pick(&conn, &p, 4, &excluded).unwrap();
        assert_eq!(origins(&conn, &picked), vec!["http://b:80"]);
        assert_eq!(next_job_due(&conn, &excluded).unwrap(), Some(600));

        // a disabled as well as b blocked: the next wake is c's due time.
        conn.execute(
            "INSERT INTO endpoints (origin, failures, disabled_at) VALUES ('http://a:80', 10, 1)",
            [],
        )
        .unwrap();
        let p = params_for(&["http://b:80"]);
        let excluded = Excluded::load(&conn, &p.blocked).unwrap();
        assert!(pick(&conn, &p, 4, &excluded).unwrap().is_empty());
        assert_eq!(next_job_due(&conn, &excluded).unwrap(), Some(5_000));
    }
}
