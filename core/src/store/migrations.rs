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
];

/// Brings the schema up to date. Refuses a file written by a newer timehook.
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(Error::Store(format!(
            "the database has schema version {version}, newer than this timehook ({}); upgrade timehook",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
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
}
