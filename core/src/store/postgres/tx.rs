//! [`Tx`] on a PostgreSQL transaction. `{s}` in each statement is the schema's quoted name.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgError, PgResult, PgShared};
use crate::error::Result;
use crate::job::{Attempt, ExecutionId, Job, JobId, JobKind, JobState, ListFilter};
use crate::outcome::{Endpoint, EventType, Subscription};
use crate::store::{
    AttemptCursor, ClaimParams, Claimed, ClaimedColumns, DeadLetter, DeadLetterFilter, DueCron,
    EndpointStreak, ExecRef, ExportCursor, ExportFilter, ExportRow, Finish, FlowState, Internal,
    Interrupted, JobColumns, JobFacts, NewJob, PruneStep, RateState, Running, Tx,
    attempt_from_columns, events_to_db, from_ms, missed_from_db, missed_to_db,
    subscription_from_columns, to_ms,
};

type Param<'a> = &'a (dyn ToSql + Sync);

/// Jobs inserted per statement by `insert_jobs`.
const INSERT_CHUNK: usize = 2_000;
/// Due executions looked at per claim, as a multiple of the claim's limit.
const CLAIM_SCAN_FACTOR: i64 = 2;

/// A transaction on a pooled connection. Commit or roll back with [`PgTx::finish`].
pub(crate) struct PgTx<'c> {
    tx: deadpool_postgres::Transaction<'c>,
    shared: &'c PgShared,
    /// Whether to wake other processes when this transaction commits.
    notify: bool,
}

impl<'c> PgTx<'c> {
    pub(crate) fn new(tx: deadpool_postgres::Transaction<'c>, shared: &'c PgShared) -> Self {
        PgTx {
            tx,
            shared,
            notify: false,
        }
    }

    /// As [`PgTx::finish`], but a result that `needs_sync` says may be lost in a crash of the
    /// server commits without waiting for the WAL's flush (`synchronous_commit = off` for this
    /// transaction): the next commit that waits flushes it too.
    pub(crate) async fn finish_relaxed<T>(
        self,
        result: Result<T>,
        needs_sync: fn(&T) -> bool,
    ) -> Result<T> {
        if let Ok(v) = &result
            && !needs_sync(v)
        {
            self.tx
                .batch_execute("SET LOCAL synchronous_commit = off")
                .await
                .map_err(PgError::from)?;
        }
        self.finish(result).await
    }

    /// Commits if `result` is `Ok` (sending the `NOTIFY` it asked for), rolls back otherwise.
    pub(crate) async fn finish<T>(self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => {
                if self.notify {
                    self.tx
                        .execute("SELECT pg_notify($1, '')", &[&self.shared.channel])
                        .await
                        .map_err(PgError::from)?;
                }
                self.tx.commit().await.map_err(PgError::from)?;
                Ok(v)
            }
            Err(e) => {
                // A failed rollback leaves the connection broken; the pool drops it.
                let _ = self.tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn query(&self, sql: &'static str, params: &[Param<'_>]) -> PgResult<Vec<Row>> {
        let statement = self.tx.prepare_cached(&self.shared.statement(sql)).await?;
        Ok(self.tx.query(&statement, params).await?)
    }

    async fn query_opt(&self, sql: &'static str, params: &[Param<'_>]) -> PgResult<Option<Row>> {
        let statement = self.tx.prepare_cached(&self.shared.statement(sql)).await?;
        Ok(self.tx.query_opt(&statement, params).await?)
    }

    async fn execute(&self, sql: &'static str, params: &[Param<'_>]) -> PgResult<u64> {
        let statement = self.tx.prepare_cached(&self.shared.statement(sql)).await?;
        Ok(self.tx.execute(&statement, params).await?)
    }

    /// A statement built at run time (filters): `{s}` is replaced, and it is prepared each time.
    async fn query_dynamic(&self, sql: &str, params: &[Param<'_>]) -> PgResult<Vec<Row>> {
        let sql = sql.replace("{s}", &format!("\"{}\"", self.shared.schema));
        Ok(self.tx.query(&sql, params).await?)
    }
}

fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

const JOB_COLUMNS: &str = "j.id, j.kind, j.state, j.name, j.labels, j.url, j.method, j.headers, j.body,
    j.timeout_ms, j.retry, j.idempotency_key, j.cron_expr, j.cron_tz, j.missed, j.next_fire_at,
    j.created_at, j.updated_at, j.exec_id, j.due_at, j.exec_state,
    (SELECT count(*) FROM {s}.attempts a WHERE a.job_id = j.id), j.on_success_url, j.on_failure_url";

fn job_columns(r: &Row) -> PgResult<JobColumns> {
    Ok(JobColumns {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        state: r.try_get(2)?,
        name: r.try_get(3)?,
        labels: r.try_get(4)?,
        url: r.try_get(5)?,
        method: r.try_get(6)?,
        headers: r.try_get(7)?,
        body: r.try_get(8)?,
        timeout_ms: r.try_get(9)?,
        retry: r.try_get(10)?,
        idempotency_key: r.try_get(11)?,
        cron: r.try_get(12)?,
        tz: r.try_get(13)?,
        missed: r.try_get(14)?,
        next_fire_at: r.try_get(15)?,
        created_at: r.try_get(16)?,
        updated_at: r.try_get(17)?,
        exec_id: r.try_get(18)?,
        due_at: r.try_get(19)?,
        exec_state: r.try_get(20)?,
        attempts: u32::try_from(r.try_get::<_, i64>(21)?).unwrap_or(u32::MAX),
        on_success_url: r.try_get(22)?,
        on_failure_url: r.try_get(23)?,
    })
}

fn claimed_columns(r: &Row) -> PgResult<ClaimedColumns> {
    Ok(ClaimedColumns {
        execution_id: r.try_get(0)?,
        job_id: r.try_get(1)?,
        attempt: u32_of(r.try_get(2)?),
        due_at: r.try_get(3)?,
        budget_start: u32_of(r.try_get(4)?),
        in_job_row: r.try_get(5)?,
        url: r.try_get(6)?,
        method: r.try_get(7)?,
        headers: r.try_get(8)?,
        body: r.try_get(9)?,
        timeout_ms: r.try_get(10)?,
        signing: r.try_get(11)?,
        kind: r.try_get(12)?,
        retry: r.try_get(13)?,
        name: r.try_get(14)?,
        origin: r.try_get(15)?,
        on_success_url: r.try_get(16)?,
        on_failure_url: r.try_get(17)?,
        internal: i64::from(r.try_get::<_, i16>(18)?),
    })
}

fn claimed_rows(rows: Vec<Row>) -> Result<Vec<Claimed>> {
    let mut claimed = rows
        .iter()
        .map(|r| Ok(claimed_columns(r)?.into_claimed()))
        .collect::<std::result::Result<Vec<_>, PgError>>()?;
    claimed.sort_by_key(|c| c.due_at);
    Ok(claimed)
}

fn parse_state(s: &str) -> Result<JobState> {
    s.parse().map_err(|_| {
        crate::Error::store(
            crate::StoreErrorKind::Corrupt,
            format!("unknown job state {s:?} in the store"),
        )
    })
}

impl PgTx<'_> {
    /// Inserts a part of a batch; returns the ids of the jobs with an idempotency key that were
    /// inserted (the others' keys were taken). A part without keys cannot conflict: it is
    /// inserted without `ON CONFLICT` (a speculative insertion per row) and returns nothing.
    async fn insert_chunk(&self, jobs: &[&NewJob], now: i64) -> PgResult<HashSet<String>> {
        macro_rules! insert_jobs {
            ($tail:literal) => {
                concat!(
                    "INSERT INTO {s}.jobs (id, kind, state, name, labels, url, method, headers, body,
                     timeout_ms, retry, idempotency_key, cron_expr, cron_tz, missed, next_fire_at,
                     signing, origin, on_success_url, on_failure_url, internal, exec_id, exec_state,
                     due_at, created_at, updated_at)
                 SELECT u.id, u.kind, 'scheduled', u.name, u.labels, u.url, u.method, u.headers,
                        u.body, u.timeout_ms, u.retry, u.idempotency_key, u.cron_expr, u.cron_tz,
                        u.missed, u.next_fire_at, u.signing, u.origin, u.on_success_url,
                        u.on_failure_url, u.internal, u.exec_id, u.exec_state, u.due_at, $24, $24
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::bytea[], $9::int8[], $10::text[],
                             $11::text[], $12::text[], $13::text[], $14::text[], $15::int8[],
                             $16::text[], $17::text[], $18::text[], $19::text[], $20::int2[],
                             $21::text[], $22::text[], $23::int8[])
                      AS u(id, kind, name, labels, url, method, headers, body, timeout_ms, retry,
                           idempotency_key, cron_expr, cron_tz, missed, next_fire_at, signing,
                           origin, on_success_url, on_failure_url, internal, exec_id, exec_state,
                           due_at)",
                    $tail
                )
            };
        }
        let c = InsertColumns::of(jobs);
        let params: &[Param<'_>] = &[
            &c.id,
            &c.kind,
            &c.name,
            &c.labels,
            &c.url,
            &c.method,
            &c.headers,
            &c.body,
            &c.timeout_ms,
            &c.retry,
            &c.idempotency_key,
            &c.cron_expr,
            &c.cron_tz,
            &c.missed,
            &c.next_fire_at,
            &c.signing,
            &c.origin,
            &c.on_success_url,
            &c.on_failure_url,
            &c.internal,
            &c.exec_id,
            &c.exec_state,
            &c.due_at,
            &now,
        ];
        if jobs.iter().all(|j| j.idempotency_key.is_none()) {
            self.execute(insert_jobs!(""), params).await?;
            return Ok(HashSet::new());
        }
        let rows = self
            .query(
                insert_jobs!(
                    "
                 ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                 RETURNING id"
                ),
                params,
            )
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<_, String>(0)?))
            .collect()
    }
}

/// The columns of a batch of jobs, one array each, for `unnest`.
#[derive(Default)]
struct InsertColumns<'a> {
    id: Vec<&'a str>,
    kind: Vec<&'a str>,
    name: Vec<Option<&'a str>>,
    labels: Vec<&'a str>,
    url: Vec<&'a str>,
    method: Vec<&'a str>,
    headers: Vec<&'a str>,
    body: Vec<&'a [u8]>,
    timeout_ms: Vec<i64>,
    retry: Vec<&'a str>,
    idempotency_key: Vec<Option<&'a str>>,
    cron_expr: Vec<Option<&'a str>>,
    cron_tz: Vec<Option<&'a str>>,
    missed: Vec<Option<String>>,
    next_fire_at: Vec<Option<i64>>,
    signing: Vec<Option<&'a str>>,
    origin: Vec<&'a str>,
    on_success_url: Vec<Option<&'a str>>,
    on_failure_url: Vec<Option<&'a str>>,
    internal: Vec<i16>,
    exec_id: Vec<Option<&'a str>>,
    exec_state: Vec<Option<&'a str>>,
    due_at: Vec<Option<i64>>,
}

impl<'a> InsertColumns<'a> {
    fn of(jobs: &[&'a NewJob]) -> Self {
        let mut c = InsertColumns::default();
        for j in jobs {
            c.id.push(j.id.as_str());
            c.kind.push(j.kind.as_str());
            c.name.push(j.name.as_deref());
            c.labels.push(&j.labels);
            c.url.push(&j.url);
            c.method.push(j.method.as_str());
            c.headers.push(&j.headers);
            c.body.push(&j.body);
            c.timeout_ms.push(j.timeout_ms);
            c.retry.push(&j.retry);
            c.idempotency_key.push(j.idempotency_key.as_deref());
            c.cron_expr.push(j.cron_expr.as_deref());
            c.cron_tz.push(j.cron_tz.as_deref());
            c.missed.push(j.missed.map(missed_to_db));
            c.next_fire_at
                .push((j.kind == JobKind::Cron).then_some(j.due_at));
            c.signing.push(j.signing.as_deref());
            c.origin.push(&j.origin);
            c.on_success_url.push(j.on_success_url.as_deref());
            c.on_failure_url.push(j.on_failure_url.as_deref());
            c.internal.push(j.internal as i16);
            c.exec_id
                .push(j.execution_id.as_ref().map(ExecutionId::as_str));
            c.exec_state
                .push(j.execution_id.as_ref().map(|_| "pending"));
            c.due_at.push(j.execution_id.as_ref().map(|_| j.due_at));
        }
        c
    }
}

impl Tx for PgTx<'_> {
    async fn insert_jobs(&mut self, jobs: &[NewJob], now: i64) -> Result<Vec<JobId>> {
        // A key repeated within the batch goes to its first job.
        let mut first_with_key: HashMap<&str, usize> = HashMap::new();
        let mut alias: Vec<Option<usize>> = Vec::with_capacity(jobs.len());
        for (i, j) in jobs.iter().enumerate() {
            alias.push(match j.idempotency_key.as_deref() {
                Some(key) => match first_with_key.get(key) {
                    Some(first) => Some(*first),
                    None => {
                        first_with_key.insert(key, i);
                        None
                    }
                },
                None => None,
            });
        }
        let own: Vec<&NewJob> = jobs
            .iter()
            .zip(&alias)
            .filter(|(_, a)| a.is_none())
            .map(|(j, _)| j)
            .collect();
        let mut inserted = HashSet::new();
        for chunk in own.chunks(INSERT_CHUNK) {
            inserted.extend(self.insert_chunk(chunk, now).await?);
        }
        // Keys that existed already: the existing jobs' ids.
        let taken: Vec<&str> = own
            .iter()
            .filter(|j| !inserted.contains(j.id.as_str()))
            .filter_map(|j| j.idempotency_key.as_deref())
            .collect();
        let mut existing: HashMap<String, String> = HashMap::new();
        if !taken.is_empty() {
            for r in self
                .query(
                    "SELECT idempotency_key, id FROM {s}.jobs WHERE idempotency_key = ANY($1)",
                    &[&taken],
                )
                .await?
            {
                existing.insert(
                    r.try_get(0).map_err(PgError::from)?,
                    r.try_get(1).map_err(PgError::from)?,
                );
            }
        }
        // A job without a key cannot have met a conflict: it was inserted.
        let id_of = |j: &NewJob| -> JobId {
            if j.idempotency_key.is_none() || inserted.contains(j.id.as_str()) {
                return j.id.clone();
            }
            j.idempotency_key
                .as_ref()
                .and_then(|k| existing.get(k))
                .map(|id| JobId::from_db(id.clone()))
                .unwrap_or_else(|| j.id.clone())
        };
        Ok(jobs
            .iter()
            .zip(&alias)
            .map(|(j, a)| id_of(a.map_or(j, |first| &jobs[first])))
            .collect())
    }

    async fn get(&mut self, id: &JobId) -> Result<Option<Job>> {
        let row = self
            .query_opt(
                "SELECT j.id, j.kind, j.state, j.name, j.labels, j.url, j.method, j.headers, j.body,
                        j.timeout_ms, j.retry, j.idempotency_key, j.cron_expr, j.cron_tz, j.missed,
                        j.next_fire_at, j.created_at, j.updated_at, j.exec_id, j.due_at, j.exec_state,
                        (SELECT count(*) FROM {s}.attempts a WHERE a.job_id = j.id),
                        j.on_success_url, j.on_failure_url
                 FROM {s}.jobs j WHERE j.id = $1",
                &[&id.as_str()],
            )
            .await?;
        row.map(|r| job_columns(&r)?.into_job().map_err(PgError::from))
            .transpose()
            .map_err(Into::into)
    }

    async fn list(&mut self, f: &ListFilter) -> Result<Vec<Job>> {
        let columns = if f.bodies {
            JOB_COLUMNS.to_owned()
        } else {
            JOB_COLUMNS.replace("j.body,", "''::bytea AS body,")
        };
        let mut sql = format!("SELECT {columns} FROM {{s}}.jobs j WHERE true");
        if !f.include_internal {
            sql.push_str(" AND j.internal = 0");
        }
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: Box<dyn ToSql + Sync + Send>| {
            args.push(v);
            sql.push_str(&clause.replace("{}", &format!("${}", args.len())));
        };
        if !f.states.is_empty() {
            let states: Vec<String> = f.states.iter().map(|s| s.as_str().to_owned()).collect();
            arg(&mut sql, " AND j.state = ANY({})", Box::new(states));
        }
        if let Some(name) = &f.name {
            arg(&mut sql, " AND j.name = {}", Box::new(name.clone()));
        }
        if let Some(label) = &f.label {
            arg(
                &mut sql,
                " AND j.labels::jsonb ? {}",
                Box::new(label.clone()),
            );
        }
        if let Some(kind) = f.kind {
            arg(
                &mut sql,
                " AND j.kind = {}",
                Box::new(kind.as_str().to_owned()),
            );
        }
        if let Some(t) = f.created_after {
            arg(&mut sql, " AND j.created_at >= {}", Box::new(to_ms(t)));
        }
        if let Some(t) = f.created_before {
            arg(&mut sql, " AND j.created_at < {}", Box::new(to_ms(t)));
        }
        let due = "(CASE WHEN j.kind = 'once' THEN (CASE WHEN j.exec_state = 'pending' THEN j.due_at END) \
                   WHEN j.state = 'scheduled' THEN j.next_fire_at END)";
        if let Some(t) = f.due_after {
            arg(&mut sql, &format!(" AND {due} >= {{}}"), Box::new(to_ms(t)));
        }
        if let Some(t) = f.due_before {
            arg(&mut sql, &format!(" AND {due} < {{}}"), Box::new(to_ms(t)));
        }
        if let Some(after) = &f.after {
            arg(
                &mut sql,
                " AND j.id > {}",
                Box::new(after.as_str().to_owned()),
            );
        }
        let limit = crate::store::page_size(f);
        sql.push_str(&format!(" ORDER BY j.id LIMIT {limit}"));
        let params: Vec<Param<'_>> = args.iter().map(|a| a.as_ref() as Param<'_>).collect();
        let rows = self.query_dynamic(&sql, &params).await?;
        rows.iter()
            .map(|r| Ok(job_columns(r)?.into_job()?))
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn attempts(
        &mut self,
        id: &JobId,
        after: Option<&AttemptCursor>,
        limit: u32,
    ) -> Result<Vec<Attempt>> {
        let (ms, exec, number) = after.cloned().unwrap_or((i64::MIN, String::new(), 0));
        let (number, limit) = (i32::try_from(number).unwrap_or(i32::MAX), i64::from(limit));
        let rows = self
            .query(
                "SELECT job_id, execution_id, number, started_at, duration_ms, status, response_body,
                        error_kind, message, next_retry_at
                 FROM {s}.attempts
                 WHERE job_id = $1 AND (started_at, execution_id, number) > ($2, $3, $4)
                 ORDER BY started_at, execution_id, number LIMIT $5",
                &[&id.as_str(), &ms, &exec, &number, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(attempt_from_columns(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    u32_of(r.try_get(2)?),
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get::<_, Option<i32>>(5)?
                        .and_then(|s| u16::try_from(s).ok()),
                    r.try_get(6)?,
                    r.try_get(7)?,
                    r.try_get(8)?,
                    r.try_get(9)?,
                ))
            })
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn lock_job(&mut self, id: &JobId) -> Result<Option<(JobKind, JobState)>> {
        let row = self
            .query_opt(
                "SELECT kind, state FROM {s}.jobs WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await?;
        match row {
            Some(r) => {
                let kind: String = r.try_get(0).map_err(PgError::from)?;
                let state: String = r.try_get(1).map_err(PgError::from)?;
                Ok(Some((JobKind::parse(&kind), parse_state(&state)?)))
            }
            None => Ok(None),
        }
    }

    async fn job_state(&mut self, id: &JobId) -> Result<Option<JobState>> {
        let row = self
            .query_opt("SELECT state FROM {s}.jobs WHERE id = $1", &[&id.as_str()])
            .await?;
        match row {
            Some(r) => Ok(Some(parse_state(
                &r.try_get::<_, String>(0).map_err(PgError::from)?,
            )?)),
            None => Ok(None),
        }
    }

    async fn set_job_state(&mut self, id: &JobId, state: JobState, now: i64) -> Result<()> {
        let finished = state.is_final().then_some(now);
        self.execute(
            "UPDATE {s}.jobs SET state = $2, updated_at = $3, finished_at = $4 WHERE id = $1",
            &[&id.as_str(), &state.as_str(), &now, &finished],
        )
        .await?;
        Ok(())
    }

    async fn cancel_job(&mut self, id: &JobId, now: i64) -> Result<()> {
        self.execute(
            "UPDATE {s}.jobs SET state = 'cancelled', updated_at = $2, finished_at = $2,
                    next_fire_at = NULL,
                    exec_state = CASE WHEN exec_state IN ('pending', 'running') THEN 'cancelled'
                                      ELSE exec_state END
             WHERE id = $1",
            &[&id.as_str(), &now],
        )
        .await?;
        self.execute(
            "UPDATE {s}.executions SET state = 'cancelled', updated_at = $2, finished_at = $2
             WHERE job_id = $1 AND state IN ('pending', 'running')",
            &[&id.as_str(), &now],
        )
        .await?;
        Ok(())
    }

    async fn reschedule_job(&mut self, id: &JobId, at: i64, now: i64) -> Result<()> {
        self.execute(
            "UPDATE {s}.executions SET due_at = $2, scheduled_for = $2, updated_at = $3
             WHERE job_id = $1 AND state = 'pending'",
            &[&id.as_str(), &at, &now],
        )
        .await?;
        self.execute(
            "UPDATE {s}.jobs SET due_at = CASE WHEN exec_state = 'pending' THEN $2 ELSE due_at END,
                    updated_at = $3
             WHERE id = $1",
            &[&id.as_str(), &at, &now],
        )
        .await?;
        Ok(())
    }

    async fn cron_of(&mut self, id: &JobId) -> Result<Option<(String, String)>> {
        let row = self
            .query_opt(
                "SELECT coalesce(cron_expr, ''), coalesce(cron_tz, '') FROM {s}.jobs
                 WHERE id = $1 AND kind = 'cron'",
                &[&id.as_str()],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some((
            r.try_get(0).map_err(PgError::from)?,
            r.try_get(1).map_err(PgError::from)?,
        )))
    }

    async fn resume_cron(&mut self, id: &JobId, next: Option<i64>, now: i64) -> Result<()> {
        self.execute(
            "UPDATE {s}.jobs SET state = 'scheduled', next_fire_at = $2, updated_at = $3 WHERE id = $1",
            &[&id.as_str(), &next, &now],
        )
        .await?;
        Ok(())
    }

    async fn due_now(&mut self, id: &JobId, now: i64) -> Result<Option<ExecutionId>> {
        let row = self
            .query_opt(
                "UPDATE {s}.jobs SET due_at = $2, updated_at = $2
                 WHERE id = $1 AND exec_state = 'pending' RETURNING exec_id",
                &[&id.as_str(), &now],
            )
            .await?;
        Ok(row
            .map(|r| r.try_get::<_, String>(0))
            .transpose()
            .map_err(PgError::from)?
            .map(ExecutionId::from_db))
    }

    async fn insert_occurrences(
        &mut self,
        job: &JobId,
        origin: &str,
        occurrences: &[(ExecutionId, i64)],
        manual: bool,
        now: i64,
    ) -> Result<()> {
        if occurrences.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = occurrences.iter().map(|(e, _)| e.as_str()).collect();
        let at: Vec<i64> = occurrences.iter().map(|(_, t)| *t).collect();
        self.execute(
            "INSERT INTO {s}.executions (id, job_id, origin, state, due_at, scheduled_for, manual,
                                         updated_at)
             SELECT u.id, $3, $4, 'pending', u.at, u.at, $5, $6
             FROM unnest($1::text[], $2::int8[]) AS u(id, at)
             ON CONFLICT (job_id, scheduled_for) WHERE NOT manual DO NOTHING",
            &[&ids, &at, &job.as_str(), &origin, &manual, &now],
        )
        .await?;
        Ok(())
    }

    async fn requeue_failed(&mut self, id: &JobId, now: i64) -> Result<usize> {
        let in_job_row = self
            .execute(
                "UPDATE {s}.jobs SET exec_state = 'pending', due_at = $2, budget_start = attempt
                 WHERE id = $1 AND exec_state = 'failed'",
                &[&id.as_str(), &now],
            )
            .await?;
        let occurrences = self
            .execute(
                "UPDATE {s}.executions SET state = 'pending', due_at = $2, budget_start = attempt,
                        updated_at = $2, finished_at = NULL
                 WHERE job_id = $1 AND state = 'failed'",
                &[&id.as_str(), &now],
            )
            .await?;
        Ok(usize::try_from(in_job_row + occurrences).unwrap_or(usize::MAX))
    }

    async fn lock_claims(&mut self) -> Result<()> {
        let key = format!("timehook.claim.{}", self.shared.schema);
        self.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
            .await?;
        Ok(())
    }

    async fn due_cron(&mut self, now: i64, limit: usize) -> Result<Vec<DueCron>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT id, coalesce(cron_expr, ''), coalesce(cron_tz, ''), missed, next_fire_at, origin
                 FROM {s}.jobs
                 WHERE kind = 'cron' AND state = 'scheduled' AND NOT held AND next_fire_at <= $1
                 ORDER BY next_fire_at LIMIT $2
                 FOR UPDATE SKIP LOCKED",
                &[&now, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueCron {
                    id: JobId::from_db(r.try_get(0)?),
                    expr: r.try_get(1)?,
                    tz: r.try_get(2)?,
                    missed: r
                        .try_get::<_, Option<String>>(3)?
                        .as_deref()
                        .map(missed_from_db),
                    next_fire_at: r.try_get(4)?,
                    origin: r.try_get(5)?,
                })
            })
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn set_next_fire(&mut self, id: &JobId, next: Option<i64>, now: i64) -> Result<()> {
        self.execute(
            "UPDATE {s}.jobs SET next_fire_at = $2, updated_at = $3 WHERE id = $1",
            &[&id.as_str(), &next, &now],
        )
        .await?;
        Ok(())
    }

    async fn running(
        &mut self,
        owner: &str,
        now: i64,
        which: Interrupted<'_>,
    ) -> Result<Vec<Running>> {
        // One statement for both tables: the tick pays one round trip for it.
        let sql = match which {
            Interrupted::Expired { .. } => {
                "WITH a AS (
                     SELECT exec_id, id, kind, attempt, started_at, lease_owner, true, budget_start,
                            name, origin, on_success_url, on_failure_url, internal, signing
                     FROM {s}.jobs
                     WHERE exec_state = 'running' AND lease_until <= $2
                       AND NOT (exec_id = ANY($1::text[]))
                     FOR UPDATE SKIP LOCKED),
                 b AS (
                     SELECT e.id, e.job_id, coalesce(j.kind, 'cron'), e.attempt, e.started_at,
                            e.lease_owner, false, e.budget_start, j.name, e.origin,
                            j.on_success_url, j.on_failure_url, coalesce(j.internal, 0::int2),
                            j.signing
                     FROM {s}.executions e LEFT JOIN {s}.jobs j ON j.id = e.job_id
                     WHERE e.state = 'running' AND e.lease_until <= $2
                       AND NOT (e.id = ANY($1::text[]))
                     FOR UPDATE OF e SKIP LOCKED)
                 SELECT * FROM a UNION ALL SELECT * FROM b"
            }
            Interrupted::Owned => {
                "WITH a AS (
                     SELECT exec_id, id, kind, attempt, started_at, lease_owner, true, budget_start,
                            name, origin, on_success_url, on_failure_url, internal, signing
                     FROM {s}.jobs
                     WHERE exec_state = 'running' AND lease_owner = $1
                     FOR UPDATE),
                 b AS (
                     SELECT e.id, e.job_id, coalesce(j.kind, 'cron'), e.attempt, e.started_at,
                            e.lease_owner, false, e.budget_start, j.name, e.origin,
                            j.on_success_url, j.on_failure_url, coalesce(j.internal, 0::int2),
                            j.signing
                     FROM {s}.executions e LEFT JOIN {s}.jobs j ON j.id = e.job_id
                     WHERE e.state = 'running' AND e.lease_owner = $1
                     FOR UPDATE OF e)
                 SELECT * FROM a UNION ALL SELECT * FROM b"
            }
        };
        let in_flight: Vec<&str> = match which {
            Interrupted::Expired { in_flight } => {
                in_flight.iter().map(ExecutionId::as_str).collect()
            }
            Interrupted::Owned => Vec::new(),
        };
        let params: Vec<Param<'_>> = match which {
            Interrupted::Expired { .. } => vec![&in_flight, &now],
            Interrupted::Owned => vec![&owner],
        };
        let rows = self.query(sql, &params).await?;
        rows.iter()
            .map(|r| {
                Ok(Running {
                    exec: ExecRef {
                        execution_id: ExecutionId::from_db(r.try_get(0)?),
                        job_id: JobId::from_db(r.try_get(1)?),
                        in_job_row: r.try_get(6)?,
                    },
                    kind: JobKind::parse(&r.try_get::<_, String>(2)?),
                    attempt: u32_of(r.try_get(3)?),
                    started_at: r.try_get(4)?,
                    owner: r.try_get(5)?,
                    budget_start: u32_of(r.try_get(7)?),
                    job: JobFacts {
                        name: r.try_get(8)?,
                        origin: r.try_get(9)?,
                        on_success_url: r.try_get(10)?,
                        on_failure_url: r.try_get(11)?,
                        internal: Internal::from_db(i64::from(r.try_get::<_, i16>(12)?)),
                        signing: r.try_get(13)?,
                    },
                })
            })
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn flow_state(&mut self, answered: &[ExecutionId]) -> Result<FlowState> {
        let answered: Vec<&str> = answered.iter().map(ExecutionId::as_str).collect();
        let rows = self
            .query(
                "SELECT 0, origin, count(*)::float8, 0::int8 FROM {s}.jobs
                 WHERE exec_state = 'running' AND NOT (exec_id = ANY($1::text[])) GROUP BY origin
                 UNION ALL
                 SELECT 0, origin, count(*)::float8, 0 FROM {s}.executions
                 WHERE state = 'running' AND NOT (id = ANY($1::text[])) GROUP BY origin
                 UNION ALL
                 SELECT 1, origin, tokens, refilled_at FROM {s}.endpoint_rates
                 UNION ALL
                 SELECT 2, origin, 0, 0 FROM {s}.endpoints WHERE disabled_at IS NOT NULL",
                &[&answered],
            )
            .await?;
        let mut state = FlowState::default();
        for r in rows {
            let kind: i32 = r.try_get(0).map_err(PgError::from)?;
            let origin: String = r.try_get(1).map_err(PgError::from)?;
            let a: f64 = r.try_get(2).map_err(PgError::from)?;
            let b: i64 = r.try_get(3).map_err(PgError::from)?;
            match kind {
                0 => *state.running.entry(origin).or_default() += a as usize,
                1 => {
                    state.rates.insert(
                        origin,
                        RateState {
                            tokens: a,
                            refilled_at: b,
                        },
                    );
                }
                _ => {
                    state.disabled.insert(origin);
                }
            }
        }
        Ok(state)
    }

    async fn save_rates(&mut self, rates: &[(String, Option<RateState>)]) -> Result<()> {
        for (origin, rate) in rates {
            match rate {
                Some(r) => {
                    self.execute(
                        "INSERT INTO {s}.endpoint_rates (origin, tokens, refilled_at)
                         VALUES ($1, $2, $3)
                         ON CONFLICT (origin) DO UPDATE
                         SET tokens = excluded.tokens, refilled_at = excluded.refilled_at",
                        &[origin, &r.tokens, &r.refilled_at],
                    )
                    .await?
                }
                None => {
                    self.execute(
                        "DELETE FROM {s}.endpoint_rates WHERE origin = $1",
                        &[origin],
                    )
                    .await?
                }
            };
        }
        Ok(())
    }

    async fn claim(&mut self, p: &ClaimParams) -> Result<Vec<Claimed>> {
        let limit = i64::try_from(p.limit).unwrap_or(i64::MAX / 4);
        let scan = limit.saturating_mul(CLAIM_SCAN_FACTOR);
        let (room_origins, room_sizes): (Vec<&str>, Vec<i64>) = p
            .rooms
            .iter()
            .map(|(o, n)| (o.as_str(), i64::try_from(*n).unwrap_or(i64::MAX)))
            .unzip();
        let excluded: Vec<&str> = p.excluded.iter().map(String::as_str).collect();
        let default_room = i64::try_from(p.default_room).unwrap_or(i64::MAX);
        let lease_until = p.now + p.lease_ms;
        let rows = self
            .query(
                // Claims take turns (`lock_claims`), so the candidates are read without locks;
                // only the rows picked are locked, skipping any that another transaction holds
                // (a cancel, a rescue), and each is still checked to be pending as it is leased.
                //
                // One-time jobs: usually the earliest due rows, whatever their origin. When those
                // are taken up by origins that can take no more of them (a herd for an endpoint
                // at its bound, the held jobs of a disabled one) and fewer than the limit could be
                // claimed from them, the rows behind them are found per origin instead (a loose
                // scan of `jobs_origin_due`), so the cost follows the number of origins, not the
                // length of the backlog in front.
                "WITH RECURSIVE room(origin, n) AS (SELECT * FROM unnest($1::text[], $2::int8[])),
                 window_ AS (
                     SELECT id, origin, due_at FROM {s}.jobs
                     WHERE exec_state = 'pending' AND NOT held AND due_at <= $3
                     ORDER BY due_at LIMIT $5),
                 in_window AS (SELECT origin, count(*) AS n FROM window_ GROUP BY origin),
                 crowded AS (
                     SELECT (SELECT count(*) FROM window_) = $5
                        AND coalesce((SELECT sum(least(w.n, CASE WHEN w.origin = ANY($4::text[]) THEN 0
                                                              ELSE coalesce(r.n, $6) END))
                                      FROM in_window w LEFT JOIN room r ON r.origin = w.origin), 0)::int8 < $7
                        AS yes),
                 origins AS (
                     SELECT min(origin) AS origin FROM {s}.jobs
                     WHERE exec_state = 'pending' AND NOT held
                     UNION ALL
                     SELECT (SELECT min(j.origin) FROM {s}.jobs j
                             WHERE j.exec_state = 'pending' AND NOT j.held AND j.origin > o.origin)
                     FROM origins o WHERE o.origin IS NOT NULL AND (SELECT yes FROM crowded)),
                 once AS (
                     SELECT id AS key, origin, due_at, true AS in_job_row FROM window_
                     WHERE origin <> ALL($4::text[]) AND NOT (SELECT yes FROM crowded)
                     UNION ALL
                     SELECT j.id, j.origin, j.due_at, true
                     FROM origins o CROSS JOIN LATERAL (
                         SELECT id, origin, due_at FROM {s}.jobs
                         WHERE exec_state = 'pending' AND NOT held AND origin = o.origin
                           AND due_at <= $3
                         ORDER BY due_at LIMIT $5) j
                     WHERE (SELECT yes FROM crowded) AND o.origin IS NOT NULL
                       AND o.origin <> ALL($4::text[])),
                 occ AS (
                     SELECT id AS key, origin, due_at, false AS in_job_row FROM {s}.executions
                     WHERE state = 'pending' AND NOT held AND due_at <= $3
                       AND origin <> ALL($4::text[])
                     ORDER BY due_at LIMIT $5),
                 ranked AS (
                     SELECT c.*, row_number() OVER (PARTITION BY c.origin ORDER BY c.due_at, c.key) AS rn
                     FROM (SELECT * FROM once UNION ALL SELECT * FROM occ) c),
                 picked AS (
                     SELECT r.key, r.in_job_row FROM ranked r LEFT JOIN room ON room.origin = r.origin
                     WHERE r.rn <= coalesce(room.n, $6)
                     ORDER BY r.due_at LIMIT $7),
                 locked_once AS (
                     SELECT id FROM {s}.jobs
                     WHERE id IN (SELECT key FROM picked WHERE in_job_row)
                     FOR UPDATE SKIP LOCKED),
                 locked_occ AS (
                     SELECT id FROM {s}.executions
                     WHERE id IN (SELECT key FROM picked WHERE NOT in_job_row)
                     FOR UPDATE SKIP LOCKED),
                 claimed_once AS (
                     UPDATE {s}.jobs j
                     SET exec_state = 'running', state = 'running', attempt = j.attempt + 1,
                         lease_owner = $8, lease_until = $9, started_at = $3, updated_at = $3
                     FROM locked_once l WHERE j.id = l.id AND j.exec_state = 'pending' AND NOT j.held
                     RETURNING j.exec_id, j.id, j.attempt, j.due_at, j.budget_start, true,
                               j.url, j.method, j.headers, j.body, j.timeout_ms, j.signing, j.kind,
                               j.retry, j.name, j.origin, j.on_success_url, j.on_failure_url,
                               j.internal),
                 claimed_occ AS (
                     UPDATE {s}.executions e
                     SET state = 'running', attempt = e.attempt + 1, lease_owner = $8,
                         lease_until = $9, started_at = $3, updated_at = $3
                     FROM locked_occ l WHERE e.id = l.id AND e.state = 'pending' AND NOT e.held
                     RETURNING e.id, e.job_id, e.attempt, e.due_at, e.budget_start)
                 SELECT * FROM claimed_once
                 UNION ALL
                 SELECT o.id, o.job_id, o.attempt, o.due_at, o.budget_start, false,
                        j.url, j.method, j.headers, j.body, j.timeout_ms, j.signing, j.kind,
                        j.retry, j.name, j.origin, j.on_success_url, j.on_failure_url, j.internal
                 FROM claimed_occ o JOIN {s}.jobs j ON j.id = o.job_id",
                &[
                    &room_origins,
                    &room_sizes,
                    &p.now,
                    &excluded,
                    &scan,
                    &default_room,
                    &limit,
                    &p.owner,
                    &lease_until,
                ],
            )
            .await?;
        claimed_rows(rows)
    }

    async fn claim_job(
        &mut self,
        owner: &str,
        job: &JobId,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Claimed>> {
        let lease_until = now + lease_ms;
        let mut rows = self
            .query(
                "UPDATE {s}.jobs
                 SET exec_state = 'running', state = 'running', attempt = attempt + 1,
                     lease_owner = $1, lease_until = $2, started_at = $3, updated_at = $3
                 WHERE id = $4 AND exec_state = 'pending'
                 RETURNING exec_id, id, attempt, due_at, budget_start, true, url, method, headers,
                           body, timeout_ms, signing, kind, retry, name, origin, on_success_url,
                           on_failure_url, internal",
                &[&owner, &lease_until, &now, &job.as_str()],
            )
            .await?;
        if rows.is_empty() {
            rows = self
                .query(
                    "WITH e AS (
                         UPDATE {s}.executions
                         SET state = 'running', attempt = attempt + 1, lease_owner = $1,
                             lease_until = $2, started_at = $3, updated_at = $3
                         WHERE id = (SELECT id FROM {s}.executions
                                     WHERE job_id = $4 AND state = 'pending'
                                     ORDER BY due_at LIMIT 1 FOR UPDATE)
                         RETURNING id, job_id, attempt, due_at, budget_start)
                     SELECT e.id, e.job_id, e.attempt, e.due_at, e.budget_start, false, j.url,
                            j.method, j.headers, j.body, j.timeout_ms, j.signing, j.kind, j.retry,
                            j.name, j.origin, j.on_success_url, j.on_failure_url, j.internal
                     FROM e JOIN {s}.jobs j ON j.id = e.job_id",
                    &[&owner, &lease_until, &now, &job.as_str()],
                )
                .await?;
        }
        Ok(claimed_rows(rows)?.pop())
    }

    async fn hold(&mut self, origins: &HashSet<String>) -> Result<usize> {
        let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
        // Through the per-origin partial indexes; rows held before are not visited again.
        let mut held = self
            .execute(
                "UPDATE {s}.jobs SET held = true
                 WHERE origin = ANY($1) AND exec_state = 'pending' AND NOT held",
                &[&origins],
            )
            .await?;
        held += self
            .execute(
                "UPDATE {s}.jobs SET held = true
                 WHERE origin = ANY($1) AND kind = 'cron' AND state = 'scheduled' AND NOT held",
                &[&origins],
            )
            .await?;
        held += self
            .execute(
                "UPDATE {s}.executions SET held = true
                 WHERE origin = ANY($1) AND state = 'pending' AND NOT held",
                &[&origins],
            )
            .await?;
        Ok(usize::try_from(held).unwrap_or(usize::MAX))
    }

    async fn next_wake(&mut self, excluded: &HashSet<String>) -> Result<Option<i64>> {
        let excluded: Vec<&str> = excluded.iter().map(String::as_str).collect();
        // The last statement of the tick's transaction, so these settings apply to it alone. Its
        // scan reads the first rows of the queue in `due_at` order, and a queue's statistics are
        // always stale: right after a batch of 20k jobs PostgreSQL still estimated a few dozen
        // pending rows, and read all 17k through a bitmap scan to sort them and keep 32, on every
        // tick (8 ms each: the largest part of the server's time in a delivery run). The index
        // scan of `jobs_due` stops after the rows it needs, whatever the estimate.
        self.tx
            .batch_execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off")
            .await
            .map_err(PgError::from)?;
        let row = self
            .query_opt(
                // As in the claim, a backlog of excluded origins is stepped over per origin
                // (a loose scan of `jobs_origin_due`), not row by row.
                "WITH RECURSIVE window_ AS (
                     SELECT origin, due_at FROM {s}.jobs WHERE exec_state = 'pending' AND NOT held
                     ORDER BY due_at LIMIT 32),
                 origins AS (
                     SELECT min(origin) AS origin FROM {s}.jobs
                     WHERE exec_state = 'pending' AND NOT held
                     UNION ALL
                     SELECT (SELECT min(j.origin) FROM {s}.jobs j
                             WHERE j.exec_state = 'pending' AND NOT j.held AND j.origin > o.origin)
                     FROM origins o WHERE o.origin IS NOT NULL)
                 SELECT least(
                     (SELECT CASE
                         WHEN (SELECT min(due_at) FROM window_ WHERE origin <> ALL($1::text[])) IS NOT NULL
                             THEN (SELECT min(due_at) FROM window_ WHERE origin <> ALL($1::text[]))
                         WHEN (SELECT count(*) FROM window_) < 32 THEN NULL
                         ELSE (SELECT min((SELECT min(j.due_at) FROM {s}.jobs j
                                           WHERE j.exec_state = 'pending' AND NOT j.held
                                             AND j.origin = o.origin))
                               FROM origins o
                               WHERE o.origin IS NOT NULL AND o.origin <> ALL($1::text[]))
                      END),
                     (SELECT min(due_at) FROM {s}.executions
                      WHERE state = 'pending' AND NOT held AND origin <> ALL($1::text[])),
                     (SELECT min(lease_until) FROM {s}.jobs WHERE exec_state = 'running'),
                     (SELECT min(lease_until) FROM {s}.executions WHERE state = 'running'),
                     (SELECT min(next_fire_at) FROM {s}.jobs
                      WHERE kind = 'cron' AND state = 'scheduled' AND NOT held))",
                &[&excluded],
            )
            .await?;
        Ok(row
            .map(|r| r.try_get::<_, Option<i64>>(0))
            .transpose()
            .map_err(PgError::from)?
            .flatten())
    }

    async fn renew_leases(
        &mut self,
        owner: &str,
        executions: &[ExecutionId],
        until: i64,
    ) -> Result<usize> {
        let ids: Vec<&str> = executions.iter().map(ExecutionId::as_str).collect();
        let a = self
            .execute(
                "UPDATE {s}.jobs SET lease_until = $2
                 WHERE exec_id = ANY($3) AND exec_state = 'running' AND lease_owner = $1",
                &[&owner, &until, &ids],
            )
            .await?;
        let b = self
            .execute(
                "UPDATE {s}.executions SET lease_until = $2
                 WHERE id = ANY($3) AND state = 'running' AND lease_owner = $1",
                &[&owner, &until, &ids],
            )
            .await?;
        Ok(usize::try_from(a + b).unwrap_or(usize::MAX))
    }

    async fn finish_executions(&mut self, items: &[Finish<'_>], now: i64) -> Result<Vec<bool>> {
        // One statement for the executions in job rows, one for cron occurrences.
        let mut moved: HashSet<String> = HashSet::new();
        for in_job_row in [true, false] {
            let mine: Vec<&Finish<'_>> = items
                .iter()
                .filter(|f| f.exec.in_job_row == in_job_row)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let job: Vec<&str> = mine.iter().map(|f| f.exec.job_id.as_str()).collect();
            let exec: Vec<&str> = mine.iter().map(|f| f.exec.execution_id.as_str()).collect();
            let owner: Vec<Option<&str>> = mine.iter().map(|f| f.owner).collect();
            let state: Vec<&str> = mine.iter().map(|f| f.t.state.as_str()).collect();
            let due: Vec<Option<i64>> = mine.iter().map(|f| f.t.due_at).collect();
            let finished: Vec<Option<i64>> = mine.iter().map(|f| f.t.finished_at).collect();
            let job_state: Vec<Option<&str>> = mine
                .iter()
                .map(|f| f.t.job_state.map(JobState::as_str))
                .collect();
            let refund: Vec<i32> = mine.iter().map(|f| i32::from(f.t.refund_attempt)).collect();
            let params: [Param<'_>; 9] = [
                &now, &job, &exec, &owner, &state, &due, &finished, &job_state, &refund,
            ];
            let rows = if in_job_row {
                self.query(
                    "UPDATE {s}.jobs j SET exec_state = u.state, due_at = coalesce(u.due_at, j.due_at),
                            lease_owner = NULL, lease_until = NULL, started_at = NULL,
                            state = coalesce(u.job_state, j.state), updated_at = $1,
                            finished_at = u.finished_at, budget_start = j.budget_start + u.refund
                     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                                 $7::int8[], $8::text[], $9::int4[])
                          AS u(job_id, exec_id, owner, state, due_at, finished_at, job_state, refund)
                     WHERE j.id = u.job_id AND j.exec_id = u.exec_id AND j.exec_state = 'running'
                       AND j.lease_owner IS NOT DISTINCT FROM u.owner
                     RETURNING j.exec_id",
                    &params,
                )
                .await?
            } else {
                // A one-time job's execution is always in its row here; cron occurrences leave
                // their job's state alone, so `job_state` is not used.
                self.query(
                    "UPDATE {s}.executions e SET state = u.state, due_at = coalesce(u.due_at, e.due_at),
                            lease_owner = NULL, lease_until = NULL, started_at = NULL,
                            updated_at = $1, finished_at = u.finished_at,
                            budget_start = e.budget_start + u.refund
                     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                                 $7::int8[], $8::text[], $9::int4[])
                          AS u(job_id, exec_id, owner, state, due_at, finished_at, job_state, refund)
                     WHERE e.id = u.exec_id AND e.state = 'running'
                       AND e.lease_owner IS NOT DISTINCT FROM u.owner
                     RETURNING e.id",
                    &params,
                )
                .await?
            };
            for r in rows {
                moved.insert(r.try_get(0).map_err(PgError::from)?);
            }
        }
        Ok(items
            .iter()
            .map(|f| moved.contains(f.exec.execution_id.as_str()))
            .collect())
    }

    async fn insert_attempts(&mut self, attempts: &[Attempt]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let exec: Vec<&str> = attempts.iter().map(|a| a.execution_id.as_str()).collect();
        let number: Vec<i32> = attempts.iter().map(|a| i32_of(a.number)).collect();
        let job: Vec<&str> = attempts.iter().map(|a| a.job_id.as_str()).collect();
        let started: Vec<i64> = attempts.iter().map(|a| to_ms(a.started_at)).collect();
        let duration: Vec<i64> = attempts
            .iter()
            .map(|a| i64::try_from(a.duration.as_millis()).unwrap_or(i64::MAX))
            .collect();
        let status: Vec<Option<i32>> = attempts.iter().map(|a| a.status.map(i32::from)).collect();
        let body: Vec<Option<&[u8]>> = attempts
            .iter()
            .map(|a| a.response_body.as_deref())
            .collect();
        let error: Vec<Option<&str>> = attempts
            .iter()
            .map(|a| a.error.map(|e| e.as_str()))
            .collect();
        let message: Vec<Option<&str>> = attempts.iter().map(|a| a.message.as_deref()).collect();
        let next: Vec<Option<i64>> = attempts
            .iter()
            .map(|a| a.next_retry_at.map(to_ms))
            .collect();
        self.execute(
            "INSERT INTO {s}.attempts (execution_id, number, job_id, started_at, duration_ms,
                                       status, response_body, error_kind, message, next_retry_at)
             SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::int8[], $5::int8[],
                                  $6::int4[], $7::bytea[], $8::text[], $9::text[], $10::int8[])
             ON CONFLICT (execution_id, number) DO NOTHING",
            &[
                &exec, &number, &job, &started, &duration, &status, &body, &error, &message, &next,
            ],
        )
        .await?;
        Ok(())
    }

    async fn notify(&mut self) -> Result<()> {
        self.notify = true;
        Ok(())
    }

    async fn subscribers(&mut self, event: EventType) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT url FROM {s}.subscriptions WHERE events::jsonb ? $1",
                &[&event.as_str()],
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(PgError::from))
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn endpoint_succeeded(&mut self, origin: &str) -> Result<()> {
        self.execute(
            "UPDATE {s}.endpoints SET failing_since = NULL, failures = 0
             WHERE origin = $1 AND failures > 0",
            &[&origin],
        )
        .await?;
        Ok(())
    }

    async fn endpoint_failed(&mut self, origin: &str, now: i64) -> Result<EndpointStreak> {
        let row = self
            .query(
                "INSERT INTO {s}.endpoints (origin, failing_since, failures) VALUES ($1, $2, 1)
                 ON CONFLICT (origin) DO UPDATE SET
                    failing_since = coalesce({s}.endpoints.failing_since, excluded.failing_since),
                    failures = {s}.endpoints.failures + 1
                 RETURNING failing_since, failures, disabled_at",
                &[&origin, &now],
            )
            .await?;
        let r = row.first().ok_or_else(|| {
            crate::Error::store(
                crate::StoreErrorKind::Other,
                "the endpoint upsert returned nothing",
            )
        })?;
        Ok(EndpointStreak {
            failing_since: r.try_get(0).map_err(PgError::from)?,
            failures: u32_of(r.try_get(1).map_err(PgError::from)?),
            disabled_at: r.try_get(2).map_err(PgError::from)?,
        })
    }

    async fn disable_endpoint(&mut self, origin: &str, now: i64) -> Result<()> {
        self.execute(
            "UPDATE {s}.endpoints SET disabled_at = $2 WHERE origin = $1",
            &[&origin, &now],
        )
        .await?;
        Ok(())
    }

    async fn endpoints(&mut self) -> Result<Vec<Endpoint>> {
        let rows = self
            .query(
                "SELECT origin, failing_since, failures, disabled_at FROM {s}.endpoints
                 WHERE failures > 0 OR disabled_at IS NOT NULL ORDER BY origin",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Endpoint {
                    origin: r.try_get(0)?,
                    failing_since: r.try_get::<_, Option<i64>>(1)?.map(from_ms),
                    failures: u32_of(r.try_get(2)?),
                    disabled_at: r.try_get::<_, Option<i64>>(3)?.map(from_ms),
                })
            })
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn enable_endpoint(&mut self, origin: &str) -> Result<bool> {
        let enabled = self
            .execute(
                "UPDATE {s}.endpoints SET disabled_at = NULL, failing_since = NULL, failures = 0
                 WHERE origin = $1 AND disabled_at IS NOT NULL",
                &[&origin],
            )
            .await?
            == 1;
        // What was held for it goes on: pending executions as due, cron schedules from their
        // next fire time (their missed-run policy decides what the time disabled still runs).
        self.execute(
            "UPDATE {s}.jobs SET held = false WHERE origin = $1 AND held",
            &[&origin],
        )
        .await?;
        self.execute(
            "UPDATE {s}.executions SET held = false WHERE origin = $1 AND held",
            &[&origin],
        )
        .await?;
        Ok(enabled)
    }

    async fn subscribe(&mut self, s: &Subscription) -> Result<()> {
        self.execute(
            "INSERT INTO {s}.subscriptions (id, url, events, created_at) VALUES ($1, $2, $3, $4)",
            &[
                &s.id,
                &s.url,
                &events_to_db(&s.events),
                &to_ms(s.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn unsubscribe(&mut self, id: &str) -> Result<bool> {
        Ok(self
            .execute("DELETE FROM {s}.subscriptions WHERE id = $1", &[&id])
            .await?
            == 1)
    }

    async fn subscriptions(&mut self) -> Result<Vec<Subscription>> {
        let rows = self
            .query(
                "SELECT id, url, events, created_at FROM {s}.subscriptions ORDER BY created_at, id",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let events: String = r.try_get(2).map_err(PgError::from)?;
            out.push(subscription_from_columns(
                r.try_get(0).map_err(PgError::from)?,
                r.try_get(1).map_err(PgError::from)?,
                &events,
                r.try_get(3).map_err(PgError::from)?,
            )?);
        }
        Ok(out)
    }

    async fn dead_letters(&mut self, f: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        let mut sql = String::from(
            "SELECT e.id, j.id, j.kind, e.in_job_row
             FROM {s}.all_executions e JOIN {s}.jobs j ON j.id = e.job_id
             WHERE e.state = 'failed' AND j.internal = 0",
        );
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut push = |clause: &str, v: Box<dyn ToSql + Sync + Send>| {
            args.push(v);
            sql.push_str(&clause.replace("{}", &format!("${}", args.len())));
        };
        if let Some(t) = f.failed_after {
            push(" AND e.finished_at >= {}", Box::new(to_ms(t)));
        }
        if let Some(t) = f.failed_before {
            push(" AND e.finished_at < {}", Box::new(to_ms(t)));
        }
        if let Some(n) = &f.name {
            push(" AND j.name = {}", Box::new(n.clone()));
        }
        if let Some(l) = &f.label {
            push(" AND j.labels::jsonb ? {}", Box::new(l.clone()));
        }
        if let Some(id) = &f.job {
            push(" AND j.id = {}", Box::new(id.as_str().to_owned()));
        }
        let params: Vec<Param<'_>> = args.iter().map(|a| a.as_ref() as Param<'_>).collect();
        let rows = self.query_dynamic(&sql, &params).await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    exec: ExecRef {
                        execution_id: ExecutionId::from_db(r.try_get(0)?),
                        job_id: JobId::from_db(r.try_get(1)?),
                        in_job_row: r.try_get(3)?,
                    },
                    kind: JobKind::parse(&r.try_get::<_, String>(2)?),
                })
            })
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn requeue_dead_letter(&mut self, d: &DeadLetter, now: i64) -> Result<()> {
        let (exec, job) = (d.exec.execution_id.as_str(), d.exec.job_id.as_str());
        if d.exec.in_job_row {
            self.execute(
                "UPDATE {s}.jobs SET exec_state = 'pending', due_at = $2, budget_start = attempt,
                        state = 'scheduled', updated_at = $2, finished_at = NULL
                 WHERE id = $1 AND exec_state = 'failed'",
                &[&job, &now],
            )
            .await?;
        } else {
            self.execute(
                "UPDATE {s}.executions SET state = 'pending', due_at = $2, budget_start = attempt,
                        updated_at = $2, finished_at = NULL
                 WHERE id = $1 AND state = 'failed'",
                &[&exec, &now],
            )
            .await?;
            self.execute(
                "UPDATE {s}.jobs SET state = 'scheduled', updated_at = $2, finished_at = NULL
                 WHERE id = $1 AND kind = 'once' AND state = 'failed'",
                &[&job, &now],
            )
            .await?;
        }
        Ok(())
    }

    async fn delete_dead_letter(&mut self, d: &DeadLetter) -> Result<()> {
        let (exec, job) = (d.exec.execution_id.as_str(), d.exec.job_id.as_str());
        self.execute("DELETE FROM {s}.attempts WHERE execution_id = $1", &[&exec])
            .await?;
        self.execute("DELETE FROM {s}.executions WHERE id = $1", &[&exec])
            .await?;
        if d.kind == JobKind::Once {
            self.execute(
                "DELETE FROM {s}.jobs WHERE id = $1 AND kind = 'once'",
                &[&job],
            )
            .await?;
        }
        Ok(())
    }

    async fn export_page(
        &mut self,
        f: &ExportFilter,
        after: &ExportCursor,
        limit: u32,
    ) -> Result<Vec<ExportRow>> {
        let mut sql = String::from(
            "SELECT a.started_at, a.execution_id, a.number, a.job_id, j.name, j.state,
                    a.duration_ms, a.status, a.error_kind, a.message, a.next_retry_at
             FROM {s}.attempts a LEFT JOIN {s}.jobs j ON j.id = a.job_id
             WHERE (a.started_at, a.execution_id, a.number) > ($1, $2, $3)",
        );
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![
            Box::new(after.0),
            Box::new(after.1.clone()),
            Box::new(i32_of(after.2)),
        ];
        let mut push = |clause: &str, v: Box<dyn ToSql + Sync + Send>| {
            args.push(v);
            sql.push_str(&clause.replace("{}", &format!("${}", args.len())));
        };
        if let Some(t) = f.since {
            push(" AND a.started_at >= {}", Box::new(to_ms(t)));
        }
        if let Some(t) = f.until {
            push(" AND a.started_at < {}", Box::new(to_ms(t)));
        }
        if let Some(id) = &f.job {
            push(" AND a.job_id = {}", Box::new(id.as_str().to_owned()));
        }
        if let Some(state) = f.state {
            push(" AND j.state = {}", Box::new(state.as_str().to_owned()));
        }
        sql.push_str(&format!(
            " ORDER BY a.started_at, a.execution_id, a.number LIMIT {limit}"
        ));
        let params: Vec<Param<'_>> = args.iter().map(|a| a.as_ref() as Param<'_>).collect();
        let rows = self.query_dynamic(&sql, &params).await?;
        rows.iter()
            .map(|r| {
                Ok(ExportRow::new(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    u32_of(r.try_get(2)?),
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                    r.try_get(6)?,
                    r.try_get::<_, Option<i32>>(7)?
                        .and_then(|s| u16::try_from(s).ok()),
                    r.try_get(8)?,
                    r.try_get(9)?,
                    r.try_get(10)?,
                ))
            })
            .collect::<PgResult<_>>()
            .map_err(Into::into)
    }

    async fn counts(&mut self) -> Result<(i64, i64)> {
        let row = self
            .query(
                "SELECT (SELECT count(*) FROM {s}.jobs WHERE exec_state = 'pending' AND NOT held)
                      + (SELECT count(*) FROM {s}.jobs WHERE held AND exec_state = 'pending')
                      + (SELECT count(*) FROM {s}.executions WHERE state = 'pending' AND NOT held)
                      + (SELECT count(*) FROM {s}.executions WHERE held AND state = 'pending'),
                        (SELECT count(*) FROM {s}.jobs WHERE state = 'failed')",
                &[],
            )
            .await?;
        let r = &row[0];
        Ok((
            r.try_get(0).map_err(PgError::from)?,
            r.try_get(1).map_err(PgError::from)?,
        ))
    }

    async fn prune(
        &mut self,
        done_before: i64,
        failed_before: i64,
        limit: usize,
    ) -> Result<PruneStep> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Finished jobs, whole: their attempts, their occurrences, and them.
        let jobs: Vec<String> = self
            .query(
                "SELECT id FROM {s}.jobs WHERE finished_at IS NOT NULL AND
                   ((state IN ('succeeded', 'cancelled') AND finished_at < $1)
                    OR (state = 'failed' AND finished_at < $2))
                 LIMIT $3 FOR UPDATE SKIP LOCKED",
                &[&done_before, &failed_before, &limit],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(PgError::from)?;
        self.execute("DELETE FROM {s}.attempts WHERE job_id = ANY($1)", &[&jobs])
            .await?;
        self.execute(
            "DELETE FROM {s}.executions WHERE job_id = ANY($1) AND finished_at IS NOT NULL",
            &[&jobs],
        )
        .await?;
        self.execute("DELETE FROM {s}.jobs WHERE id = ANY($1)", &[&jobs])
            .await?;
        // Finished occurrences of cron jobs that live on.
        let occurrences: Vec<String> = self
            .query(
                "SELECT id FROM {s}.executions WHERE finished_at IS NOT NULL AND
                   ((state IN ('succeeded', 'cancelled') AND finished_at < $1)
                    OR (state = 'failed' AND finished_at < $2))
                 LIMIT $3 FOR UPDATE SKIP LOCKED",
                &[&done_before, &failed_before, &limit],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(PgError::from)?;
        self.execute(
            "DELETE FROM {s}.attempts WHERE execution_id = ANY($1)",
            &[&occurrences],
        )
        .await?;
        self.execute(
            "DELETE FROM {s}.executions WHERE id = ANY($1)",
            &[&occurrences],
        )
        .await?;
        let full = |n: usize| i64::try_from(n).unwrap_or(i64::MAX) >= limit;
        Ok(PruneStep {
            jobs: jobs.len(),
            more: full(jobs.len()) || full(occurrences.len()),
        })
    }

    async fn meta_init(&mut self, key: &str, value: &str) -> Result<String> {
        self.execute(
            "INSERT INTO {s}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .await?;
        let row = self
            .query_opt("SELECT value FROM {s}.meta WHERE key = $1", &[&key])
            .await?;
        Ok(row
            .map(|r| r.try_get::<_, String>(0))
            .transpose()
            .map_err(PgError::from)?
            .unwrap_or_else(|| value.to_owned()))
    }
}
