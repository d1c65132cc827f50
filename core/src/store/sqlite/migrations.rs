//! Numbered schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

use super::SqlResult;
use crate::error::{Error, StoreErrorKind};

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
    // `state <> 'scheduled'` (see `sql::list`).
    r#"
    DROP INDEX jobs_state;
    CREATE INDEX jobs_state ON jobs (state) WHERE state <> 'scheduled';
    "#,
    // 3: a one-time job's execution lives in the job's own row, so scheduling one is one insert (and
    // one partial-index entry) instead of two rows and four B-tree entries; cron occurrences keep
    // their `executions` rows. `jobs` becomes a rowid table with a unique index on `id`: its rows are
    // large and arrive in id order, which a rowid table appends cheaply. The executions of one-time
    // jobs move in with their state, attempt counts and leases, so nothing pending, running or
    // failed is lost; `all_executions` lists both kinds for the statements that read them together.
    r#"
    CREATE TABLE jobs_v3 (
        id              TEXT NOT NULL,
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
        finished_at     INTEGER,                    -- set when the job reaches a final state
        -- A one-time job's execution (NULL for cron jobs), as the columns of `executions`:
        exec_id         TEXT,                       -- the webhook-id
        exec_state      TEXT,                       -- pending | running | succeeded | failed | cancelled
        due_at          INTEGER,                    -- when the next attempt is due (ms)
        attempt         INTEGER NOT NULL DEFAULT 0, -- attempts started
        budget_start    INTEGER NOT NULL DEFAULT 0, -- attempts that do not count against the policy
        lease_owner     TEXT,
        lease_until     INTEGER,
        started_at      INTEGER                     -- start of the attempt in flight
    );
    -- One execution per one-time job (there is never more; should a file hold more, the unfinished
    -- one moves and the others stay in `executions`).
    INSERT INTO jobs_v3
    SELECT j.id, j.kind, j.state, j.name, j.labels, j.url, j.method, j.headers, j.body, j.timeout_ms,
           j.retry, j.idempotency_key, j.signing, j.origin, j.on_success_url, j.on_failure_url,
           j.internal, j.cron_expr, j.cron_tz, j.missed, j.next_fire_at, j.created_at, j.updated_at,
           j.finished_at, e.id, e.state, e.due_at, coalesce(e.attempt, 0), coalesce(e.budget_start, 0),
           e.lease_owner, e.lease_until, e.started_at
    FROM jobs j LEFT JOIN executions e ON e.id = (
        SELECT x.id FROM executions x WHERE j.kind = 'once' AND x.job_id = j.id
        ORDER BY x.state IN ('pending', 'running') DESC, x.id DESC LIMIT 1)
    ORDER BY j.id;
    DELETE FROM executions WHERE id IN (SELECT exec_id FROM jobs_v3 WHERE exec_id IS NOT NULL);
    DROP TABLE jobs;
    ALTER TABLE jobs_v3 RENAME TO jobs;
    CREATE UNIQUE INDEX jobs_id ON jobs (id);
    CREATE INDEX jobs_cron_due ON jobs (next_fire_at) WHERE kind = 'cron' AND state = 'scheduled';
    CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX jobs_state ON jobs (state) WHERE state <> 'scheduled';
    CREATE INDEX jobs_name ON jobs (name) WHERE name IS NOT NULL;
    CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX jobs_due ON jobs (due_at) WHERE exec_state = 'pending';
    CREATE INDEX jobs_lease ON jobs (lease_until) WHERE exec_state = 'running';

    CREATE VIEW all_executions AS
    SELECT id, job_id, origin, state, due_at, attempt, budget_start, lease_owner, lease_until,
           started_at, updated_at, finished_at, 0 AS in_job_row
    FROM executions
    UNION ALL
    SELECT exec_id, id, origin, exec_state, due_at, attempt, budget_start, lease_owner, lease_until,
           started_at, updated_at, finished_at, 1
    FROM jobs WHERE exec_id IS NOT NULL;
    "#,
    // 4: each origin's pending one-time jobs in due order, so a claim can take the earliest rows of
    // every origin that has room without walking past a blocked origin's whole backlog (see
    // `sql::claim`).
    r#"
    CREATE INDEX jobs_origin_due ON jobs (origin, due_at) WHERE exec_state = 'pending';
    "#,
    // 5: the token buckets of rate-limited endpoints, shared by every process using the file, so
    // that a rate holds for all of them together.
    r#"
    CREATE TABLE endpoint_rates (
        origin      TEXT PRIMARY KEY NOT NULL,
        tokens      REAL NOT NULL,                  -- tokens left at refilled_at
        refilled_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 6: the pending executions and cron schedules of a disabled endpoint are held (`held = 1`):
    // out of the indexes that claims, wake-ups and cron read, so its backlog is not walked past
    // on every tick, and its cron jobs make no occurrences until it is enabled again.
    r#"
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE executions ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    DROP INDEX jobs_due;
    CREATE INDEX jobs_due ON jobs (due_at) WHERE exec_state = 'pending' AND held = 0;
    DROP INDEX jobs_origin_due;
    CREATE INDEX jobs_origin_due ON jobs (origin, due_at) WHERE exec_state = 'pending' AND held = 0;
    DROP INDEX jobs_cron_due;
    CREATE INDEX jobs_cron_due ON jobs (next_fire_at) WHERE kind = 'cron' AND state = 'scheduled' AND held = 0;
    CREATE INDEX jobs_cron_origin ON jobs (origin) WHERE kind = 'cron' AND state = 'scheduled' AND held = 0;
    CREATE INDEX jobs_held ON jobs (origin) WHERE held = 1;
    DROP INDEX executions_due;
    CREATE INDEX executions_due ON executions (due_at) WHERE state = 'pending' AND held = 0;
    CREATE INDEX executions_origin_due ON executions (origin, due_at) WHERE state = 'pending' AND held = 0;
    CREATE INDEX executions_held ON executions (origin) WHERE held = 1;
    "#,
];

/// Brings the schema up to date. Refuses a file written by a newer timehook.
pub(crate) fn migrate(conn: &Connection) -> SqlResult<()> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies the migrations up to schema version `target` (tests build files of older versions).
///
/// The version is read inside the transaction that applies the migrations, holding the file's
/// write lock (`BEGIN IMMEDIATE`), so processes opening a new or older file at the same moment
/// take turns: the first migrates, the others find the file up to date.
fn migrate_to(conn: &Connection, target: usize) -> SqlResult<()> {
    let current = |conn: &Connection| -> SqlResult<usize> {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(usize::try_from(version).unwrap_or(usize::MAX))
    };
    // Most opens find the file up to date: no write lock for them.
    if target == MIGRATIONS.len() && current(conn)? == target {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version = current(conn)?;
        if version > MIGRATIONS.len() {
            return Err(Error::store(
                StoreErrorKind::SchemaTooNew,
                format!(
                    "the database has schema version {version}, newer than this timehook ({}); upgrade timehook",
                    MIGRATIONS.len()
                ),
            )
            .into());
        }
        refuse_foreign(version, &schema_summary(conn)?.1)?;
        if version == 0 {
            tracing::info!(version = target, "creating the store's schema");
        } else if version < target {
            tracing::info!(from = version, to = target, "upgrading the store's schema");
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
            conn.execute_batch(sql)?;
            conn.pragma_update(
                None,
                "user_version",
                i64::try_from(i + 1).expect("few migrations"),
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    result
}

/// Refuses another application's database before anything about it is changed (not even its
/// journal mode): read only, so it runs before the file is switched to WAL.
pub(crate) fn check_not_foreign(conn: &Connection) -> SqlResult<()> {
    let (version, names) = schema_summary(conn)?;
    refuse_foreign(version, &names)
}

/// The schema version and the names of the schema's objects, read in one statement (so from one
/// snapshot: another process may be migrating the file at the same moment).
fn schema_summary(conn: &Connection) -> SqlResult<(usize, Vec<String>)> {
    let (version, names): (i64, String) = conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version),
                (SELECT json_group_array(name) FROM
                    (SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let names: Vec<String> = serde_json::from_str(&names).map_err(crate::store::corrupt)?;
    Ok((usize::try_from(version).unwrap_or(usize::MAX), names))
}

/// Refuses a file that is not a timehook store (another application's SQLite database), before
/// anything is written to it: at version 0 it must hold nothing yet; at a later version (SQLite's
/// `user_version`, which other applications use too) it must hold timehook's own tables.
fn refuse_foreign(version: usize, names: &[String]) -> SqlResult<()> {
    let ours = ["meta", "jobs", "executions", "attempts"]
        .iter()
        .all(|t| names.iter().any(|n| n == t));
    let foreign = match version {
        0 => !names.is_empty(),
        // Newer than this build: its own tables may differ; the version check refuses it.
        v if v > MIGRATIONS.len() => false,
        _ => !ours,
    };
    if foreign {
        let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
        return Err(Error::store(
            StoreErrorKind::Corrupt,
            format!(
                "not a timehook store: it is a SQLite database of something else (it holds {}{}); \
                 nothing was changed",
                shown.join(", "),
                if names.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        )
        .into());
    }
    Ok(())
}

/// The schema version this build writes.
#[cfg(test)]
pub(crate) const LATEST: usize = MIGRATIONS.len();

#[cfg(test)]
mod tests {
    use super::*;

    /// Another application's SQLite file is refused and left as it was, whether its
    /// `user_version` is 0 or not.
    #[test]
    fn another_applications_database_is_refused_untouched() {
        for version in [0, 3] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("app.db");
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "CREATE TABLE users (id INTEGER PRIMARY KEY); PRAGMA user_version = {version};"
            ))
            .unwrap();
            let err = check_not_foreign(&conn).unwrap_err();
            assert!(migrate(&conn).is_err());
            let err = Error::from(err);
            assert_eq!(err.store_kind(), Some(StoreErrorKind::Corrupt), "{err}");
            assert!(err.to_string().contains("not a timehook store"), "{err}");
            assert!(err.to_string().contains("users"), "{err}");
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(tables, ["users"]);
            let kept: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(kept, version);
        }
    }

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
        assert_eq!(
            Error::from(migrate(&conn).unwrap_err()).store_kind(),
            Some(StoreErrorKind::SchemaTooNew)
        );
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

    const OPEN_RACE_CHILD: &str = "TIMEHOOK_OPEN_RACE_CHILD";

    /// A child process of the test below (from its environment: `file|barrier dir|n`): it says it
    /// is ready, waits for the go, opens the file with a full `Scheduler::open` (pragmas,
    /// migrations) and stores one job.
    #[tokio::test]
    async fn open_race_child() {
        let Ok(config) = std::env::var(OPEN_RACE_CHILD) else {
            return;
        };
        let parts: Vec<&str> = config.split('|').collect();
        let (path, barrier, n) = (parts[0], std::path::Path::new(parts[1]), parts[2]);
        std::fs::write(barrier.join(format!("ready-{n}")), b"").unwrap();
        while !barrier.join("go").exists() {
            std::thread::yield_now();
        }
        let s = crate::Scheduler::builder(path)
            .allow_private_targets(true)
            .open()
            .await
            .unwrap();
        s.schedule(crate::JobSpec::post("http://127.0.0.1:9/race").name(format!("child-{n}")))
            .await
            .unwrap();
        s.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
    }

    /// Several processes opening a new file, or a file of an older schema, at the same moment
    /// take turns on the migrations: every one opens, and the file ends up at the latest version
    /// with every job in it. Repeated, since a race shows up only now and then.
    #[test]
    fn processes_opening_a_new_or_older_file_at_once_all_succeed() {
        const CHILDREN: usize = 6;
        const ROUNDS: usize = 6;
        for round in 0..ROUNDS {
            for older in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("jobs.db");
                let barrier = dir.path().join("barrier");
                std::fs::create_dir(&barrier).unwrap();
                if older {
                    version_1_file(&path, chrono::Utc::now().timestamp_millis() + 3_600_000);
                }
                let children: Vec<_> = (0..CHILDREN)
                    .map(|n| {
                        std::process::Command::new(std::env::current_exe().unwrap())
                            .args([
                                "--exact",
                                "store::sqlite::migrations::tests::open_race_child",
                            ])
                            .args(["--test-threads=1", "--nocapture"])
                            .env(
                                OPEN_RACE_CHILD,
                                format!("{}|{}|{n}", path.display(), barrier.display()),
                            )
                            .stdout(std::process::Stdio::piped())
                            .stderr(std::process::Stdio::piped())
                            .spawn()
                            .unwrap()
                    })
                    .collect();
                // All are up and waiting: let them go together.
                while std::fs::read_dir(&barrier).unwrap().count() < CHILDREN {
                    std::thread::yield_now();
                }
                std::fs::write(barrier.join("go"), b"").unwrap();
                for child in children {
                    let out = child.wait_with_output().unwrap();
                    assert!(
                        out.status.success(),
                        "round {round}, older file {older}: a process failed to open:\n{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                let conn = Connection::open(&path).unwrap();
                let version: i64 = conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(version, LATEST as i64);
                let stored: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM jobs WHERE name LIKE 'child-%'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(stored, CHILDREN as i64, "round {round}, older file {older}");
            }
        }
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
            .allow_private_targets(true)
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

    /// A file written at schema version 2: a one-time job due, one delivering under an expired lease
    /// (its worker died), a dead letter with its attempt, one due later with an idempotency key, and
    /// a cron job with a due and a failed occurrence.
    fn version_2_file(path: &std::path::Path, now: i64) {
        let conn = Connection::open(path).unwrap();
        migrate_to(&conn, 2).unwrap();
        let retry =
            r#"{"max_attempts":1,"backoff":{"kind":"delays","delays":[]},"max_delay":3600000}"#;
        let job = |id: &str, kind: &str, state: &str, extra: &str| {
            format!(
                "INSERT INTO jobs (id, kind, state, labels, url, method, headers, body, timeout_ms,
                                   retry, origin, created_at, updated_at, finished_at, idempotency_key,
                                   cron_expr, cron_tz, missed, next_fire_at)
                 VALUES ('{id}', '{kind}', '{state}', '[]', 'http://127.0.0.1:9/{id}', 'POST', '[]',
                         x'', 1000, '{retry}', 'http://127.0.0.1:9', {now}, {now}, {extra});"
            )
        };
        let exec = |id: &str, job: &str, state: &str, due: i64, rest: &str| {
            format!(
                "INSERT INTO executions (id, job_id, origin, state, due_at, scheduled_for, attempt,
                                         lease_owner, lease_until, started_at, finished_at, updated_at)
                 VALUES ('{id}', '{job}', 'http://127.0.0.1:9', '{state}', {due}, {due}, {rest}, {now});"
            )
        };
        let (past, far) = (now - 1000, now + 3_600_000);
        let sql = [
            job("job_01DUE", "once", "scheduled", "NULL, NULL, NULL, NULL, NULL, NULL"),
            exec("exec_01DUE", "job_01DUE", "pending", past, "0, NULL, NULL, NULL, NULL"),
            job("job_02RUN", "once", "running", "NULL, NULL, NULL, NULL, NULL, NULL"),
            exec(
                "exec_02RUN",
                "job_02RUN",
                "running",
                past,
                &format!("1, 'dead-worker', {past}, {past}, NULL"),
            ),
            job(
                "job_03DEAD",
                "once",
                "failed",
                &format!("{past}, NULL, NULL, NULL, NULL, NULL"),
            ),
            exec(
                "exec_03DEAD",
                "job_03DEAD",
                "failed",
                past,
                &format!("1, NULL, NULL, NULL, {past}"),
            ),
            format!(
                "INSERT INTO attempts (execution_id, number, job_id, started_at, duration_ms, status)
                 VALUES ('exec_03DEAD', 1, 'job_03DEAD', {past}, 5, 500);"
            ),
            job("job_04LATER", "once", "scheduled", "NULL, 'key-4', NULL, NULL, NULL, NULL"),
            exec("exec_04LATER", "job_04LATER", "pending", far, "0, NULL, NULL, NULL, NULL"),
            job(
                "job_05CRON",
                "cron",
                "scheduled",
                &format!("NULL, NULL, '0 0 1 1 *', 'UTC', 'run_once', {}", far * 2),
            ),
            exec("exec_05DUE", "job_05CRON", "pending", past, "0, NULL, NULL, NULL, NULL"),
            exec(
                "exec_05FAIL",
                "job_05CRON",
                "failed",
                past,
                &format!("1, NULL, NULL, NULL, {past}"),
            ),
        ]
        .concat();
        conn.execute_batch(&sql).unwrap();
    }

    #[tokio::test]
    async fn version_2_files_move_one_time_executions_into_their_jobs_and_keep_them_deliverable() {
        use crate::job::{JobId, JobSpec, JobState, ListFilter};
        use crate::{DeadLetterFilter, Durability, Scheduler};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let now = chrono::Utc::now().timestamp_millis();
        version_2_file(&path, now);
        let id = |s: &str| -> JobId { s.parse().unwrap() };

        let s = Scheduler::builder(&path)
            .allow_private_targets(true)
            .durability(Durability::Normal)
            .open()
            .await
            .unwrap();
        let all = s.list(&ListFilter::default()).await.unwrap();
        let states: Vec<(&str, JobState)> = all.iter().map(|j| (j.id.as_str(), j.state)).collect();
        assert_eq!(
            states,
            [
                ("job_01DUE", JobState::Scheduled),
                ("job_02RUN", JobState::Running),
                ("job_03DEAD", JobState::Failed),
                ("job_04LATER", JobState::Scheduled),
                ("job_05CRON", JobState::Scheduled),
            ]
        );
        let later = s.get(&id("job_04LATER")).await.unwrap();
        assert_eq!(later.execution_id.unwrap().as_str(), "exec_04LATER");
        assert_eq!(
            later.next_run_at.unwrap().timestamp_millis(),
            now + 3_600_000
        );
        // Idempotency keys still find their jobs.
        let again = s
            .schedule(JobSpec::post("http://127.0.0.1:9/x").idempotency_key("key-4"))
            .await
            .unwrap();
        assert_eq!(again.as_str(), "job_04LATER");

        // The expired lease is rescued, and the due job and cron occurrence are claimed: three
        // attempts, all refused (one attempt allowed, so each becomes a dead letter).
        assert_eq!(s.run_due().await.unwrap(), 3);
        let running = s.attempts(&id("job_02RUN")).await.unwrap();
        assert_eq!(running.len(), 2, "{running:?}");
        assert!(
            running
                .iter()
                .all(|a| a.execution_id.as_str() == "exec_02RUN")
        );
        assert_eq!(
            running[0].error,
            Some(crate::job::AttemptError::Interrupted)
        );
        for job in ["job_01DUE", "job_02RUN", "job_03DEAD"] {
            assert_eq!(
                s.get(&id(job)).await.unwrap().state,
                JobState::Failed,
                "{job}"
            );
        }
        let cron = s.attempts(&id("job_05CRON")).await.unwrap();
        assert_eq!(cron.len(), 1);
        assert_eq!(cron[0].execution_id.as_str(), "exec_05DUE");
        assert_eq!(s.attempts(&id("job_03DEAD")).await.unwrap().len(), 1);

        // The old dead letter is retried with the same execution id.
        let only_dead = DeadLetterFilter {
            job: Some(id("job_03DEAD")),
            ..DeadLetterFilter::default()
        };
        assert_eq!(s.retry_failed(&only_dead).await.unwrap(), 1);
        assert_eq!(
            s.get(&id("job_03DEAD")).await.unwrap().state,
            JobState::Scheduled
        );
        // Both failed cron occurrences are re-queued.
        s.retry(&id("job_05CRON")).await.unwrap();
        assert_eq!(s.run_due().await.unwrap(), 3);
        let dead = s.attempts(&id("job_03DEAD")).await.unwrap();
        assert_eq!(dead.len(), 2);
        assert!(
            dead.iter()
                .all(|a| a.execution_id.as_str() == "exec_03DEAD")
        );
        assert_eq!(s.attempts(&id("job_05CRON")).await.unwrap().len(), 3);
        drop(s);

        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST as i64);
        let left: Vec<String> = conn
            .prepare("SELECT id FROM executions ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left, ["exec_05DUE", "exec_05FAIL"]);
    }

    #[test]
    fn filters_by_state_use_the_partial_state_index() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        let filter = crate::job::ListFilter::default().state(crate::job::JobState::Failed);
        let sql = super::super::sql::list_sql(&filter).0;
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
