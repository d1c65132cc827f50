//! Numbered schema migrations for PostgreSQL, recorded in `{schema}.schema_migrations` and
//! applied under an advisory lock, so processes starting together migrate exactly once.
//!
//! Times are `bigint` milliseconds since the epoch, as in the SQLite store, so both backends share
//! the engine's arithmetic; bodies are `bytea`; JSON columns are `text` holding the same JSON.

use deadpool_postgres::Object;

use super::PgResult;
use crate::error::{Error, StoreErrorKind};

/// Migration `i` moves the schema from version `i` to `i + 1`. Never edit a released entry:
/// append. `{s}` is the quoted schema name.
const MIGRATIONS: &[&str] = &[
    // 1: jobs (a one-time job's execution in its own row), cron occurrences, attempts, and what
    // outcomes and flow control keep.
    r#"
    CREATE TABLE {s}.meta (
        key   text PRIMARY KEY,
        value text NOT NULL
    );

    CREATE TABLE {s}.jobs (
        id              text PRIMARY KEY,
        kind            text NOT NULL,              -- 'once' | 'cron'
        state           text NOT NULL,              -- JobState::as_str
        name            text,
        labels          text NOT NULL,              -- JSON array of strings
        url             text NOT NULL,
        method          text NOT NULL,
        headers         text NOT NULL,              -- JSON array of [name, value]
        body            bytea NOT NULL,
        timeout_ms      bigint NOT NULL,
        retry           text NOT NULL,              -- JSON RetryPolicy
        idempotency_key text,
        signing         text,                       -- JSON JobSigning; NULL = the scheduler's
        origin          text NOT NULL,              -- scheme://host:port of url
        on_success_url  text,
        on_failure_url  text,
        internal        smallint NOT NULL DEFAULT 0, -- 0 user job, 1 callback, 2 event, 3 test
        cron_expr       text,
        cron_tz         text,
        missed          text,
        next_fire_at    bigint,                     -- cron: next occurrence (ms)
        created_at      bigint NOT NULL,
        updated_at      bigint NOT NULL,
        finished_at     bigint,
        -- A one-time job's execution (NULL for cron jobs):
        exec_id         text,                       -- the webhook-id
        exec_state      text,                       -- pending | running | succeeded | failed | cancelled
        due_at          bigint,
        attempt         integer NOT NULL DEFAULT 0,
        budget_start    integer NOT NULL DEFAULT 0,
        lease_owner     text,
        lease_until     bigint,
        started_at      bigint
    );
    CREATE UNIQUE INDEX jobs_idempotency ON {s}.jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX jobs_due ON {s}.jobs (due_at) WHERE exec_state = 'pending';
    CREATE INDEX jobs_origin_due ON {s}.jobs (origin, due_at) WHERE exec_state = 'pending';
    CREATE INDEX jobs_running ON {s}.jobs (origin, lease_until) WHERE exec_state = 'running';
    CREATE INDEX jobs_cron_due ON {s}.jobs (next_fire_at) WHERE kind = 'cron' AND state = 'scheduled';
    CREATE INDEX jobs_state ON {s}.jobs (state) WHERE state <> 'scheduled';
    CREATE INDEX jobs_name ON {s}.jobs (name) WHERE name IS NOT NULL;
    CREATE INDEX jobs_finished ON {s}.jobs (finished_at) WHERE finished_at IS NOT NULL;

    -- Cron occurrences. One per (job, instant): a second process materialising the same
    -- occurrence inserts nothing. Occurrences made by `trigger` are `manual` and exempt.
    CREATE TABLE {s}.executions (
        id            text PRIMARY KEY,             -- the webhook-id
        job_id        text NOT NULL,
        origin        text NOT NULL,
        state         text NOT NULL,                -- pending | running | succeeded | failed | cancelled
        due_at        bigint NOT NULL,
        scheduled_for bigint NOT NULL,              -- the occurrence's instant
        manual        boolean NOT NULL DEFAULT false,
        attempt       integer NOT NULL DEFAULT 0,
        budget_start  integer NOT NULL DEFAULT 0,
        lease_owner   text,
        lease_until   bigint,
        started_at    bigint,
        updated_at    bigint NOT NULL,
        finished_at   bigint
    );
    CREATE UNIQUE INDEX executions_occurrence ON {s}.executions (job_id, scheduled_for) WHERE NOT manual;
    CREATE INDEX executions_due ON {s}.executions (due_at) WHERE state = 'pending';
    CREATE INDEX executions_running ON {s}.executions (origin, lease_until) WHERE state = 'running';
    CREATE INDEX executions_job ON {s}.executions (job_id);
    CREATE INDEX executions_finished ON {s}.executions (finished_at) WHERE finished_at IS NOT NULL;

    CREATE TABLE {s}.attempts (
        execution_id  text NOT NULL,
        number        integer NOT NULL,
        job_id        text NOT NULL,
        started_at    bigint NOT NULL,
        duration_ms   bigint NOT NULL,
        status        integer,
        response_body bytea,
        error_kind    text,
        message       text,
        next_retry_at bigint,
        PRIMARY KEY (execution_id, number)
    );
    CREATE INDEX attempts_job ON {s}.attempts (job_id, started_at);
    CREATE INDEX attempts_started ON {s}.attempts (started_at, execution_id, number);

    CREATE TABLE {s}.subscriptions (
        id         text PRIMARY KEY,
        url        text NOT NULL,
        events     text NOT NULL,                   -- JSON array of event types
        created_at bigint NOT NULL
    );

    CREATE TABLE {s}.endpoints (
        origin        text PRIMARY KEY,
        failing_since bigint,
        failures      integer NOT NULL DEFAULT 0,
        disabled_at   bigint
    );

    CREATE TABLE {s}.endpoint_rates (
        origin      text PRIMARY KEY,
        tokens      double precision NOT NULL,
        refilled_at bigint NOT NULL
    );

    CREATE VIEW {s}.all_executions AS
    SELECT id, job_id, origin, state, due_at, attempt, budget_start, lease_owner, lease_until,
           started_at, updated_at, finished_at, false AS in_job_row
    FROM {s}.executions
    UNION ALL
    SELECT exec_id, id, origin, exec_state, due_at, attempt, budget_start, lease_owner, lease_until,
           started_at, updated_at, finished_at, true
    FROM {s}.jobs WHERE exec_id IS NOT NULL;
    "#,
    // 2: leases by expiry, so the rescue and the next wake-up read the earliest with an index scan
    // (which skips, and marks, the entries of rows that stopped running) rather than a bitmap
    // scan over every entry left since the last vacuum; and vacuum the queue tables sooner than
    // PostgreSQL's default (a fifth of the table), since every delivery leaves dead rows behind.
    r#"
    CREATE INDEX jobs_lease ON {s}.jobs (lease_until) WHERE exec_state = 'running';
    DROP INDEX {s}.jobs_running;
    CREATE INDEX executions_lease ON {s}.executions (lease_until) WHERE state = 'running';
    ALTER TABLE {s}.jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
    ALTER TABLE {s}.executions SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
    "#,
    // 3: the pending executions and cron schedules of a disabled endpoint are held (`held`): out
    // of the indexes that claims, wake-ups and cron read, so its backlog is not walked past on
    // every tick, and its cron jobs make no occurrences until it is enabled again.
    r#"
    ALTER TABLE {s}.jobs ADD COLUMN held boolean NOT NULL DEFAULT false;
    ALTER TABLE {s}.executions ADD COLUMN held boolean NOT NULL DEFAULT false;
    DROP INDEX {s}.jobs_due;
    CREATE INDEX jobs_due ON {s}.jobs (due_at) WHERE exec_state = 'pending' AND NOT held;
    DROP INDEX {s}.jobs_origin_due;
    CREATE INDEX jobs_origin_due ON {s}.jobs (origin, due_at) WHERE exec_state = 'pending' AND NOT held;
    DROP INDEX {s}.jobs_cron_due;
    CREATE INDEX jobs_cron_due ON {s}.jobs (next_fire_at) WHERE kind = 'cron' AND state = 'scheduled' AND NOT held;
    CREATE INDEX jobs_cron_origin ON {s}.jobs (origin) WHERE kind = 'cron' AND state = 'scheduled' AND NOT held;
    CREATE INDEX jobs_held ON {s}.jobs (origin) WHERE held;
    DROP INDEX {s}.executions_due;
    CREATE INDEX executions_due ON {s}.executions (due_at) WHERE state = 'pending' AND NOT held;
    CREATE INDEX executions_origin_due ON {s}.executions (origin, due_at) WHERE state = 'pending' AND NOT held;
    CREATE INDEX executions_held ON {s}.executions (origin) WHERE held;
    "#,
];

/// The schema version this build writes.
pub(crate) const LATEST: usize = MIGRATIONS.len();

/// Creates the schema if needed and brings it up to date, holding an advisory lock (per schema)
/// for the whole time. Refuses a schema written by a newer timehook.
pub(crate) async fn migrate(client: &mut Object, schema: &str) -> PgResult<()> {
    migrate_to(client, schema, LATEST).await
}

/// Applies the migrations up to `target` (tests build older schemas).
pub(crate) async fn migrate_to(client: &mut Object, schema: &str, target: usize) -> PgResult<()> {
    let s = format!("\"{schema}\"");
    let key = format!("timehook.migrate.{schema}");
    client
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&key])
        .await?;
    let result = apply(client, &s, target).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key])
        .await;
    result?;
    unlocked?;
    Ok(())
}

async fn apply(client: &mut Object, s: &str, target: usize) -> PgResult<()> {
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );"
        ))
        .await?;
    let row = client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {s}.schema_migrations"),
            &[],
        )
        .await?;
    let version = usize::try_from(row.try_get::<_, i32>(0)?).unwrap_or(usize::MAX);
    if version > LATEST {
        return Err(Error::store(
            StoreErrorKind::SchemaTooNew,
            format!(
                "the database schema {s} has version {version}, newer than this timehook ({LATEST}); upgrade timehook"
            ),
        )
        .into());
    }
    if version == 0 {
        tracing::info!(schema = s, version = target, "creating the store's schema");
    } else if version < target {
        tracing::info!(
            schema = s,
            from = version,
            to = target,
            "upgrading the store's schema"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        let tx = client.transaction().await?;
        tx.batch_execute(&sql.replace("{s}", s)).await?;
        tx.execute(
            &format!("INSERT INTO {s}.schema_migrations (version) VALUES ($1)"),
            &[&i32::try_from(i + 1).expect("few migrations")],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}
