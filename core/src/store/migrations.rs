//! Numbered schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migration `i` moves the schema from version `i` to `i + 1`. Never edit a released entry: append.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, their executions (the dispatch queue) and every attempt.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE jobs (
        id              TEXT PRIMARY KEY NOT NULL,
        kind            TEXT NOT NULL,              -- 'once' | 'cron'
        state           TEXT NOT NULL,              -- JobState::as_str
        name            TEXT,
        labels          TEXT NOT NULL,              -- JSON array of strings
        url             TEXT NOT NULL,
        method          TEXT NOT NULL,
        headers         TEXT NOT NULL,              -- JSON array of [name, value]
        body            BLOB NOT NULL,
        timeout_ms      INTEGER NOT NULL,
        retry           TEXT NOT NULL,              -- JSON RetryPolicy
        idempotency_key TEXT,
        signing         TEXT,                       -- JSON JobSigning; NULL = the scheduler's
        origin          TEXT NOT NULL,              -- scheme://host:port of url
        on_success_url  TEXT,
        on_failure_url  TEXT,
        internal        INTEGER NOT NULL DEFAULT 0, -- 0 user job, 1 callback, 2 event, 3 test
        cron_expr       TEXT,
        cron_tz         TEXT,
        missed          TEXT,                       -- JSON MissedRunPolicy
        next_fire_at    INTEGER,                    -- cron: next occurrence (ms)
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        finished_at     INTEGER                     -- set when the job reaches a final state
    ) WITHOUT ROWID;
    CREATE INDEX jobs_cron_due ON jobs (next_fire_at) WHERE kind = 'cron' AND state = 'scheduled';
    CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX jobs_state ON jobs (state);
    CREATE INDEX jobs_name ON jobs (name) WHERE name IS NOT NULL;
    CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

    CREATE TABLE executions (
        id            TEXT PRIMARY KEY NOT NULL,    -- the webhook-id
        job_id        TEXT NOT NULL,
        origin        TEXT NOT NULL,                -- the job's origin, for endpoint health
        state         TEXT NOT NULL,                -- pending | running | succeeded | failed | cancelled
        due_at        INTEGER NOT NULL,             -- when the next attempt is due (ms)
        scheduled_for INTEGER NOT NULL,             -- the nominal time: run_at or the cron occurrence
        attempt       INTEGER NOT NULL DEFAULT 0,   -- attempts started
        budget_start  INTEGER NOT NULL DEFAULT 0,   -- attempts that do not count against the policy
        lease_owner   TEXT,
        lease_until   INTEGER,
        started_at    INTEGER,                      -- start of the attempt in flight
        updated_at    INTEGER NOT NULL,
        finished_at   INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX executions_due ON executions (due_at) WHERE state = 'pending';
    CREATE INDEX executions_lease ON executions (lease_until) WHERE state = 'running';
    CREATE INDEX executions_job ON executions (job_id);
    CREATE INDEX executions_finished ON executions (finished_at) WHERE finished_at IS NOT NULL;

    CREATE TABLE attempts (
        execution_id  TEXT NOT NULL,
        number        INTEGER NOT NULL,
        job_id        TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        duration_ms   INTEGER NOT NULL,
        status        INTEGER,
        response_body BLOB,
        error_kind    TEXT,
        message       TEXT,
        next_retry_at INTEGER,
        PRIMARY KEY (execution_id, number)
    ) WITHOUT ROWID;
    CREATE INDEX attempts_job ON attempts (job_id, started_at);
    CREATE INDEX attempts_started ON attempts (started_at);

    CREATE TABLE subscriptions (
        id         TEXT PRIMARY KEY NOT NULL,
        url        TEXT NOT NULL,
        events     TEXT NOT NULL,                   -- JSON array of event types
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE endpoints (
        origin        TEXT PRIMARY KEY NOT NULL,
        failing_since INTEGER,                      -- first failure of the current streak
        failures      INTEGER NOT NULL DEFAULT 0,   -- failures in the current streak
        disabled_at   INTEGER
    ) WITHOUT ROWID;
    "#,
    // 2: `jobs_state` no longer lists scheduled jobs, the bulk of a busy file: each scheduled job was
    // one more B-tree insert (and one more update when claimed). The rarer states, which a filter by
    // state needs an index to find, stay indexed; a query uses it by stating
    // `state <> 'scheduled'` (see `queries::list`).
    r#"
    DROP INDEX jobs_state;
    CREATE INDEX jobs_state ON jobs (state) WHERE state <> 'scheduled';
    "#,
];

/// Brings the schema up to date. Refuses a file written by a newer timehook.
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies the migrations up to schema version `target` (tests build files of older versions).
fn migrate_to(conn: &Connection, target: usize) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(Error::Store(format!(
            "the database has schema version {version}, newer than this timehook ({}); upgrade timehook",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).expect("few migrations"),
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version this build writes.
#[cfg(test)]
pub(crate) const LATEST: usize = MIGRATIONS.len();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_newer_files_are_refused() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST as i64);
        conn.pragma_update(None, "user_version", LATEST as i64 + 1)
            .unwrap();
        assert!(matches!(migrate(&conn), Err(Error::Store(_))));
    }

    /// A file written at schema version 1, with a job due, a dead letter and a cron job in it.
    fn version_1_file(path: &std::path::Path, due: i64) {
        let conn = Connection::open(path).unwrap();
        migrate_to(&conn, 1).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO jobs (id, kind, state, labels, url, method, headers, body, timeout_ms, retry,
                               origin, created_at, updated_at, finished_at, cron_expr, cron_tz, missed,
                               next_fire_at)
             VALUES ('job_01DUE', 'once', 'scheduled', '[]', 'http://127.0.0.1:9/due', 'POST', '[]',
                     x'', 1000, '{{\"max_attempts\":1,\"backoff\":{{\"kind\":\"delays\",\"delays\":[]}},\"max_delay\":3600000}}',
                     'http://127.0.0.1:9', {due}, {due}, NULL, NULL, NULL, NULL, NULL),
                    ('job_02DEAD', 'once', 'failed', '[]', 'http://127.0.0.1:9/dead', 'POST', '[]',
                     x'', 1000, '{{\"max_attempts\":1,\"backoff\":{{\"kind\":\"delays\",\"delays\":[]}},\"max_delay\":3600000}}',
                     'http://127.0.0.1:9', {due}, {due}, {due}, NULL, NULL, NULL, NULL),
                    ('job_03CRON', 'cron', 'scheduled', '[]', 'http://127.0.0.1:9/cron', 'POST', '[]',
                     x'', 1000, '{{\"max_attempts\":1,\"backoff\":{{\"kind\":\"delays\",\"delays\":[]}},\"max_delay\":3600000}}',
                     'http://127.0.0.1:9', {due}, {due}, NULL, '0 0 1 1 *', 'UTC', 'run_once', {far});
             INSERT INTO executions (id, job_id, origin, state, due_at, scheduled_for, attempt, updated_at, finished_at)
             VALUES ('exec_01DUE', 'job_01DUE', 'http://127.0.0.1:9', 'pending', {due}, {due}, 0, {due}, NULL),
                    ('exec_02DEAD', 'job_02DEAD', 'http://127.0.0.1:9', 'failed', {due}, {due}, 1, {due}, {due});",
            far = due + 365 * 24 * 3600 * 1000,
        ))
        .unwrap();
    }

    #[tokio::test]
    async fn version_1_files_upgrade_and_keep_their_jobs_deliverable() {
        use crate::job::{JobId, JobState, ListFilter};
        use crate::{Durability, Scheduler};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let now = chrono::Utc::now();
        version_1_file(&path, now.timestamp_millis() - 1000);

        let s = Scheduler::builder(&path)
            .durability(Durability::Normal)
            .open()
            .await
            .unwrap();
        let failed = s
            .list(&ListFilter::default().state(JobState::Failed))
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id.as_str(), "job_02DEAD");
        let scheduled = s
            .list(&ListFilter::default().state(JobState::Scheduled))
            .await
            .unwrap();
        let ids: Vec<&str> = scheduled.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["job_01DUE", "job_03CRON"]);
        // The job due in the old file is claimed and attempted (the port refuses: one attempt, no
        // retry left, so it becomes a dead letter next to the old one).
        assert_eq!(s.run_due().await.unwrap(), 1);
        let due: JobId = "job_01DUE".parse().unwrap();
        assert_eq!(s.attempts(&due).await.unwrap().len(), 1);
        assert_eq!(s.get(&due).await.unwrap().state, JobState::Failed);
        let failed = s
            .list(&ListFilter::default().state(JobState::Failed))
            .await
            .unwrap();
        assert_eq!(failed.len(), 2);
        s.retry(&due).await.unwrap();
        assert_eq!(s.get(&due).await.unwrap().state, JobState::Scheduled);
        drop(s);

        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST as i64);
        let index: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'jobs_state'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(index.contains("WHERE state <> 'scheduled'"), "{index}");
    }

    #[test]
    fn filters_by_state_use_the_partial_state_index() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        let filter = crate::job::ListFilter::default().state(crate::job::JobState::Failed);
        let sql = super::super::queries::list_sql(&filter).0;
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("jobs_state")),
            "{plan:?}"
        );
    }
}
