//! The storage seam: the operations the engine needs from a store, and nothing SQL-specific.
//!
//! [`Tx`] lists every operation the engine performs inside one transaction. Each backend implements
//! it with its own SQL and connection handling: [`sqlite`] (one file, one connection on a thread of
//! its own, group commit) and `postgres` (a pool of connections to a shared database, row locks and
//! `SKIP LOCKED`). Everything that decides (scheduling, retries, outcomes, flow control, cron) is
//! written once, above this seam, as functions generic over [`Tx`] (see `scheduler::engine`).
//!
//! [`Store`] is an enum over the backends rather than a trait object: the set of backends is closed
//! and chosen by URL at run time, every call is dispatched without boxing or a generic parameter
//! on the public `Scheduler`, and the SQLite path costs exactly what it cost before the seam. The
//! [`transact!`] macro runs a piece of engine logic in one transaction of whichever backend is open.

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::cron::MissedRunPolicy;
use crate::error::{Error, Result, StoreErrorKind};
use crate::job::{
    Attempt, AttemptError, ExecutionId, Job, JobId, JobKind, JobSigning, JobState, ListFilter,
    Method,
};
use crate::outcome::{Endpoint, EventType, Subscription};
use crate::retry::{RetryPolicy, Verdict};

/// Largest page `list` returns.
pub(crate) const MAX_PAGE: u32 = 10_000;
/// Page size when the filter gives none.
pub(crate) const DEFAULT_PAGE: u32 = 100;
/// Largest page `list` returns with bodies (each up to the payload limit).
pub(crate) const MAX_PAGE_WITH_BODIES: u32 = 1_000;

/// Where a page of attempts starts: after this attempt (start time, execution id, number), in
/// the order attempts are listed.
pub(crate) type AttemptCursor = (i64, String, u32);

/// Reads an [`Attempt::cursor`].
pub(crate) fn parse_attempt_cursor(text: &str) -> Result<AttemptCursor> {
    let bad = || Error::InvalidJob {
        field: "after",
        reason: format!("{text:?} is not an attempt cursor (take it from Attempt::cursor)"),
    };
    let mut parts = text.splitn(3, '.');
    let (Some(ms), Some(exec), Some(number)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    Ok((
        ms.parse().map_err(|_| bad())?,
        exec.to_owned(),
        number.parse().map_err(|_| bad())?,
    ))
}

/// The page size of a `list` call: as asked, within the caps.
pub(crate) fn page_size(f: &ListFilter) -> u32 {
    let cap = if f.bodies {
        MAX_PAGE_WITH_BODIES
    } else {
        MAX_PAGE
    };
    f.limit.unwrap_or(DEFAULT_PAGE).clamp(1, cap)
}
/// Largest slice of the response body that is kept.
pub(crate) const RESPONSE_BODY_LIMIT: usize = 1024;

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// A commit survives a crash of the process and of the machine (power loss). The default.
    /// SQLite: `synchronous = FULL`; PostgreSQL: `synchronous_commit` as the server sets it. On
    /// SQLite the delivery loop's own claims do not wait for their fsync (a claim lost with the
    /// power is made again, and its delivery keeps its `webhook-id`); everything a call stores,
    /// every attempt and every cron occurrence does.
    #[default]
    Full,
    /// A commit survives a crash or `kill -9` of the process, but the last commits before a power
    /// loss or kernel crash may be lost. Faster for single writes. SQLite: `synchronous = NORMAL`;
    /// PostgreSQL: `synchronous_commit = off` on the scheduler's connections.
    Normal,
}

/// Where the store lives.
#[derive(Clone)]
pub(crate) enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A private in-memory SQLite database.
    Memory,
    /// A PostgreSQL database, by URL, with the schema that holds timehook's tables.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PgLocation>),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Memory => f.write_str(":memory:"),
            #[cfg(feature = "postgres")]
            Location::Postgres(pg) => write!(f, "{pg:?}"),
        }
    }
}

impl Location {
    /// A file path, or a `postgres://` / `postgresql://` URL.
    pub(crate) fn parse(path: PathBuf) -> Result<Location> {
        let text = path.to_str().unwrap_or_default();
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(Location::Postgres(Box::new(postgres::PgLocation::parse(
                text,
            )?)));
            #[cfg(not(feature = "postgres"))]
            return Err(Error::Config(
                "a PostgreSQL URL needs timehook's `postgres` feature".into(),
            ));
        }
        if text == ":memory:" {
            return Ok(Location::Memory);
        }
        Ok(Location::File(path))
    }
}

/// An open store.
#[derive(Clone)]
pub(crate) enum Store {
    /// One SQLite file (or memory), served by its own thread.
    Sqlite(sqlite::Db),
    /// A PostgreSQL database shared by every process that opens it.
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `location`. Blocking work (opening
    /// and migrating a SQLite file) runs off the async runtime's threads.
    pub(crate) async fn open(location: Location, durability: Durability) -> Result<Store> {
        match location {
            Location::File(_) | Location::Memory => {
                let db =
                    tokio::task::spawn_blocking(move || sqlite::Db::open(location, durability))
                        .await
                        .map_err(|e| {
                            Error::store(StoreErrorKind::Other, format!("opening failed: {e}"))
                        })??;
                Ok(Store::Sqlite(db))
            }
            #[cfg(feature = "postgres")]
            Location::Postgres(pg) => Ok(Store::Postgres(
                postgres::PgStore::open(*pg, durability).await?,
            )),
        }
    }

    /// What part of an endpoint's in-flight bound must be free again before a claim for it is
    /// worth making: `1 / refill_divisor` of it. A SQLite claim shares the one store thread with
    /// every record, so fewer, larger claims deliver more (a quarter); a PostgreSQL claim is a
    /// round trip of its own beside the records, and a slot waiting for the next claim is the cost
    /// (an eighth delivered a fifth more than a quarter at the default bound of 64).
    pub(crate) fn refill_divisor(&self) -> usize {
        match self {
            Store::Sqlite(_) => 4,
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => 8,
        }
    }

    /// Starts a task that calls `wake` whenever another process commits work that is due soon
    /// (PostgreSQL's LISTEN/NOTIFY). `None` for SQLite, whose processes poll the file.
    pub(crate) fn wakeups(
        &self,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        match self {
            Store::Sqlite(_) => {
                let _ = wake;
                None
            }
            #[cfg(feature = "postgres")]
            Store::Postgres(pg) => pg.listen(wake),
        }
    }
}

/// Runs `$body`, an engine future over `$tx: &mut impl Tx`, in one transaction of `$store`, and
/// evaluates to its result once committed. On SQLite the body runs on the store thread (its
/// operations never wait, so it completes in one poll) and shares a group commit; on PostgreSQL it
/// runs on a pooled connection in a transaction of its own. If the body fails, nothing it did is
/// kept. Variables the body uses are moved into it.
macro_rules! transact {
    // As below, for work that may be lost in a power cut unless `$needs_sync` (a `fn(&T) -> bool`
    // of its result) says otherwise: on SQLite it need not wait for its own fsync
    // (`Db::call_relaxed`); on PostgreSQL its commit need not wait for the WAL's flush
    // (`PgTx::finish_relaxed`).
    (relaxed $needs_sync:expr, $store:expr, |$tx:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::store::Tx as _;
        match $store {
            $crate::store::Store::Sqlite(db) => {
                db.call_relaxed(
                    move |conn| {
                        let mut tx = $crate::store::sqlite::SqliteTx::new(conn);
                        let $tx = &mut tx;
                        $crate::store::sqlite::ready($body)
                    },
                    $needs_sync,
                )
                .await
            }
            #[cfg(feature = "postgres")]
            $crate::store::Store::Postgres(pg) => {
                $crate::store::transact_pg!(pg, |$tx| $body, |tx, result| tx
                    .finish_relaxed(result, $needs_sync))
            }
        }
    }};
    // As the plain form (the last rule), for an application's own call (storing its jobs): on
    // SQLite the store thread stays awake a moment afterwards for its next one (`Db::call_awake`).
    (awake, $store:expr, |$tx:ident| $body:expr) => {
        $crate::store::transact!(@with call_awake, $store, |$tx| $body)
    };
    // The plain form and `awake`, `$call` being the `Db` method that runs the body.
    (@with $call:ident, $store:expr, |$tx:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::store::Tx as _;
        match $store {
            $crate::store::Store::Sqlite(db) => {
                db.$call(move |conn| {
                    let mut tx = $crate::store::sqlite::SqliteTx::new(conn);
                    let $tx = &mut tx;
                    $crate::store::sqlite::ready($body)
                })
                .await
            }
            #[cfg(feature = "postgres")]
            $crate::store::Store::Postgres(pg) => $crate::store::transact_pg!(pg, |$tx| $body),
        }
    }};
    ($store:expr, |$tx:ident| $body:expr) => {
        $crate::store::transact!(@with call, $store, |$tx| $body)
    };
}
pub(crate) use transact;

/// [`transact!`] on PostgreSQL: the body runs on a pooled connection in a transaction of its own,
/// which `|tx, result| …` ends (by default `PgTx::finish`).
#[cfg(feature = "postgres")]
macro_rules! transact_pg {
    ($pg:expr, |$tx:ident| $body:expr) => {
        $crate::store::transact_pg!($pg, |$tx| $body, |tx, result| tx.finish(result))
    };
    ($pg:expr, |$tx:ident| $body:expr, |$t:ident, $r:ident| $finish:expr) => {
        async {
            let mut client = $pg.client().await?;
            let mut $t = $pg.begin(&mut client).await?;
            let $r = {
                let $tx = &mut $t;
                $body.await
            };
            $finish.await
        }
        .await
    };
}
#[cfg(feature = "postgres")]
pub(crate) use transact_pg;

/// The operations the engine performs inside one transaction. Every method either does all of its
/// work or fails; a failure aborts the whole transaction. Time is always a parameter (milliseconds
/// since the epoch), never the database's own clock.
///
/// Methods that read a row the caller will change lock it where the backend needs that (PostgreSQL
/// `FOR UPDATE`); SQLite holds the file's write lock for the whole transaction.
#[allow(async_fn_in_trait)]
pub(crate) trait Tx {
    // --- jobs ---

    /// Inserts jobs. A job whose idempotency key exists already (in this batch or before) is not
    /// inserted; the existing job's id is returned in its place.
    async fn insert_jobs(&mut self, jobs: &[NewJob], now: i64) -> Result<Vec<JobId>>;
    /// One job.
    async fn get(&mut self, id: &JobId) -> Result<Option<Job>>;
    /// A page of jobs matching `f`, in id order.
    async fn list(&mut self, f: &ListFilter) -> Result<Vec<Job>>;
    /// A job's attempts after `after`, oldest first, at most `limit`.
    async fn attempts(
        &mut self,
        id: &JobId,
        after: Option<&AttemptCursor>,
        limit: u32,
    ) -> Result<Vec<Attempt>>;
    /// A job's kind and state, locking it for the rest of the transaction.
    async fn lock_job(&mut self, id: &JobId) -> Result<Option<(JobKind, JobState)>>;
    /// A job's state.
    async fn job_state(&mut self, id: &JobId) -> Result<Option<JobState>>;
    /// Sets a job's state (and `finished_at` when the state is final).
    async fn set_job_state(&mut self, id: &JobId, state: JobState, now: i64) -> Result<()>;
    /// Cancels a job and its unfinished executions; a cron job stops producing occurrences.
    async fn cancel_job(&mut self, id: &JobId, now: i64) -> Result<()>;
    /// Moves the pending execution of a one-time job to `at`.
    async fn reschedule_job(&mut self, id: &JobId, at: i64, now: i64) -> Result<()>;
    /// A cron job's expression and time zone.
    async fn cron_of(&mut self, id: &JobId) -> Result<Option<(String, String)>>;
    /// Puts a paused cron job back to `scheduled`, next firing at `next`.
    async fn resume_cron(&mut self, id: &JobId, next: Option<i64>, now: i64) -> Result<()>;
    /// Makes the pending execution of a one-time job due at `now`; returns its id.
    async fn due_now(&mut self, id: &JobId, now: i64) -> Result<Option<ExecutionId>>;
    /// Inserts occurrences of a cron job, due at their instants. An occurrence that exists already
    /// (same job, same instant) is not inserted again. `manual` occurrences (`trigger`) are exempt
    /// from that rule.
    async fn insert_occurrences(
        &mut self,
        job: &JobId,
        origin: &str,
        occurrences: &[(ExecutionId, i64)],
        manual: bool,
        now: i64,
    ) -> Result<()>;
    /// Re-queues every failed execution of a job, due at `now`, with a fresh retry budget.
    /// Returns how many.
    async fn requeue_failed(&mut self, id: &JobId, now: i64) -> Result<usize>;

    // --- the claim tick ---

    /// Serialises claims across every process sharing the store, until the transaction ends, so
    /// that flow-control counts read by one claim include what the previous claim took.
    async fn lock_claims(&mut self) -> Result<()>;
    /// Cron jobs whose next occurrence is due at `now`, at most `limit`, locked.
    async fn due_cron(&mut self, now: i64, limit: usize) -> Result<Vec<DueCron>>;
    /// Stores a cron job's next fire time.
    async fn set_next_fire(&mut self, id: &JobId, next: Option<i64>, now: i64) -> Result<()>;
    /// Executions in flight that `which` selects (expired leases, or this worker's own), locked.
    async fn running(
        &mut self,
        owner: &str,
        now: i64,
        which: Interrupted<'_>,
    ) -> Result<Vec<Running>>;
    /// What flow control needs: executions in flight per origin (across every process, except
    /// `answered`: requests of this worker that have their answer and wait to be recorded), the
    /// stored rate state of each rate-limited origin, and the disabled endpoints.
    async fn flow_state(&mut self, answered: &[ExecutionId]) -> Result<FlowState>;
    /// Holds the pending executions and cron schedules of these (disabled) endpoints until they
    /// are enabled again: claims, wake-ups and cron no longer read them. Returns how many rows
    /// were held now (rows held before are not visited again).
    async fn hold(&mut self, origins: &HashSet<String>) -> Result<usize>;
    /// Stores rate states (`None` forgets an origin's state: it is rested).
    async fn save_rates(&mut self, rates: &[(String, Option<RateState>)]) -> Result<()>;
    /// Claims due executions with a lease, earliest first, each origin capped at its room, and
    /// loads what sending them needs.
    async fn claim(&mut self, p: &ClaimParams) -> Result<Vec<Claimed>>;
    /// Claims the pending execution of one job, whatever its due time (`send_test`).
    async fn claim_job(
        &mut self,
        owner: &str,
        job: &JobId,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Claimed>>;
    /// The earliest instant at which more work may become due: a pending execution of an origin
    /// not in `excluded`, a lease running out, or a cron occurrence.
    async fn next_wake(&mut self, excluded: &HashSet<String>) -> Result<Option<i64>>;
    /// Extends to `until` the leases `owner` holds on `executions` (those it is delivering).
    async fn renew_leases(
        &mut self,
        owner: &str,
        executions: &[ExecutionId],
        until: i64,
    ) -> Result<usize>;

    // --- recording ---

    /// Moves executions (and one-time jobs with them) as their transitions say, each if it is
    /// still running under its expected owner's lease. Returns, in order, whether each was.
    async fn finish_executions(&mut self, items: &[Finish<'_>], now: i64) -> Result<Vec<bool>>;
    /// Records attempts (a second record of the same attempt number is ignored).
    async fn insert_attempts(&mut self, attempts: &[Attempt]) -> Result<()>;
    /// Wakes other processes: work due soon was committed (PostgreSQL NOTIFY, sent on commit).
    async fn notify(&mut self) -> Result<()>;

    // --- outcomes ---

    /// The URLs subscribed to `event`.
    async fn subscribers(&mut self, event: EventType) -> Result<Vec<String>>;
    /// Ends an endpoint's failure streak.
    async fn endpoint_succeeded(&mut self, origin: &str) -> Result<()>;
    /// Counts a failure in an endpoint's streak and returns the streak.
    async fn endpoint_failed(&mut self, origin: &str, now: i64) -> Result<EndpointStreak>;
    /// Disables an endpoint: its jobs are held.
    async fn disable_endpoint(&mut self, origin: &str, now: i64) -> Result<()>;
    /// Every endpoint with a failure streak or disabled.
    async fn endpoints(&mut self) -> Result<Vec<Endpoint>>;
    /// Re-enables an endpoint; returns whether it was disabled.
    async fn enable_endpoint(&mut self, origin: &str) -> Result<bool>;
    /// Stores a subscription.
    async fn subscribe(&mut self, s: &Subscription) -> Result<()>;
    /// Deletes a subscription; returns whether it existed.
    async fn unsubscribe(&mut self, id: &str) -> Result<bool>;
    /// Every subscription, oldest first.
    async fn subscriptions(&mut self) -> Result<Vec<Subscription>>;
    /// The dead letters (failed executions of user jobs) matching `f`, locked.
    async fn dead_letters(&mut self, f: &DeadLetterFilter) -> Result<Vec<DeadLetter>>;
    /// Re-queues a dead letter, due at `now`, with a fresh retry budget and the same execution id.
    async fn requeue_dead_letter(&mut self, d: &DeadLetter, now: i64) -> Result<()>;
    /// Deletes a dead letter with its attempts (a one-time job whole).
    async fn delete_dead_letter(&mut self, d: &DeadLetter) -> Result<()>;

    // --- maintenance ---

    /// The page of attempts after `after` (in start order), at most `limit`.
    async fn export_page(
        &mut self,
        f: &ExportFilter,
        after: &ExportCursor,
        limit: u32,
    ) -> Result<Vec<ExportRow>>;
    /// Pending executions and failed jobs, for the gauges.
    async fn counts(&mut self) -> Result<(i64, i64)>;
    /// Deletes finished jobs, executions and attempts that finished before the cut-offs: at most
    /// `limit` jobs and `limit` cron occurrences (with their attempts), so that one transaction
    /// stays short however much is due for deletion.
    async fn prune(
        &mut self,
        done_before: i64,
        failed_before: i64,
        limit: usize,
    ) -> Result<PruneStep>;
    /// Stores `value` under `key` unless a value is there; returns the value stored.
    async fn meta_init(&mut self, key: &str, value: &str) -> Result<String>;
}

/// What one [`Tx::prune`] call deleted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneStep {
    /// Jobs deleted.
    pub jobs: usize,
    /// Whether it stopped at its limit: more may be due for deletion.
    pub more: bool,
}

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
    pub(crate) fn from_db(v: i64) -> Self {
        match v {
            1 => Internal::Callback,
            2 => Internal::Event,
            3 => Internal::Test,
            _ => Internal::User,
        }
    }
}

/// Where an execution lives: in its one-time job's row, or in `executions` (cron occurrences).
#[derive(Debug, Clone)]
pub(crate) struct ExecRef {
    pub execution_id: ExecutionId,
    pub job_id: JobId,
    pub in_job_row: bool,
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
    /// Shared, not copied, by each request made with it (and its retries within a delivery).
    pub body: bytes::Bytes,
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
    /// What in the stored job no longer reads (a method, headers, a retry policy or signing
    /// settings from an older or damaged row): the execution is failed as `unreadable` without a
    /// request, and the loop goes on.
    pub defect: Option<String>,
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

    pub(crate) fn exec_ref(&self) -> ExecRef {
        ExecRef {
            execution_id: self.execution_id.clone(),
            job_id: self.job_id.clone(),
            in_job_row: self.in_job_row,
        }
    }
}

/// What a claim may take.
#[derive(Debug, Clone)]
pub(crate) struct ClaimParams {
    pub owner: String,
    pub now: i64,
    pub lease_ms: i64,
    pub limit: usize,
    /// How many executions of each listed origin may be claimed.
    pub rooms: HashMap<String, usize>,
    /// How many executions of any other origin may be claimed.
    pub default_room: usize,
    /// Origins not to claim at all: disabled, or with no room.
    pub excluded: HashSet<String>,
}

/// A cron job whose next occurrence is due.
#[derive(Debug, Clone)]
pub(crate) struct DueCron {
    pub id: JobId,
    pub expr: String,
    pub tz: String,
    pub missed: Option<MissedRunPolicy>,
    pub next_fire_at: i64,
    pub origin: String,
}

/// Which in-flight executions are taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupted<'a> {
    /// Those whose lease has expired: their worker died or lost the store, or it is this worker
    /// and nothing delivers them any more (their outcome could not be recorded, or their task was
    /// dropped). Except `in_flight`, this worker's deliveries still under way.
    Expired { in_flight: &'a [ExecutionId] },
    /// This worker's own (shutdown deadline passed).
    Owned,
}

/// An execution in flight.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub exec: ExecRef,
    pub kind: JobKind,
    pub attempt: u32,
    /// Attempts interrupted before this one (they do not count against the retry policy).
    pub budget_start: u32,
    pub started_at: Option<i64>,
    pub owner: Option<String>,
    /// What reporting a failure needs.
    pub job: JobFacts,
}

/// What reporting an outcome needs to know about a job.
#[derive(Debug, Clone)]
pub(crate) struct JobFacts {
    pub name: Option<String>,
    pub origin: String,
    pub on_success_url: Option<String>,
    pub on_failure_url: Option<String>,
    pub internal: Internal,
    /// The job's own signing (JSON `JobSigning`), which its callbacks take.
    pub signing: Option<String>,
}

/// Where an execution goes after an attempt (or an interruption).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecState {
    Pending,
    Succeeded,
    Failed,
}

impl ExecState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExecState::Pending => "pending",
            ExecState::Succeeded => "succeeded",
            ExecState::Failed => "failed",
        }
    }
}

/// One execution for [`Tx::finish_executions`]: moved as `t` says if it is still running under
/// `owner`'s lease.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finish<'a> {
    pub exec: &'a ExecRef,
    pub owner: Option<&'a str>,
    pub t: &'a Transition,
}

/// How [`Tx::finish_executions`] moves an execution.
#[derive(Debug, Clone)]
pub(crate) struct Transition {
    pub state: ExecState,
    /// When it is due again (pending), else unchanged.
    pub due_at: Option<i64>,
    /// Set when the execution is finished.
    pub finished_at: Option<i64>,
    /// The state a one-time job takes with its execution; `None` for cron occurrences.
    pub job_state: Option<JobState>,
    /// Whether the attempt just ended does not count against the retry policy (interrupted).
    pub refund_attempt: bool,
}

/// In-flight executions per origin, rate states and disabled endpoints, read at the start of a
/// claim.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowState {
    pub running: HashMap<String, usize>,
    pub rates: HashMap<String, RateState>,
    pub disabled: HashSet<String>,
}

/// An endpoint's token bucket: tokens left when last refilled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateState {
    pub tokens: f64,
    pub refilled_at: i64,
}

/// An endpoint's failure streak.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndpointStreak {
    pub failing_since: i64,
    pub failures: u32,
    pub disabled_at: Option<i64>,
}

/// A failed execution of a user job.
#[derive(Debug, Clone)]
pub(crate) struct DeadLetter {
    pub exec: ExecRef,
    pub kind: JobKind,
}

/// Which dead letters (failed jobs and failed cron occurrences) `retry_failed` and `purge` touch.
/// All conditions must hold.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
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
    /// Failed at or after `t`.
    pub fn failed_after(mut self, t: chrono::DateTime<chrono::Utc>) -> Self {
        self.failed_after = Some(t);
        self
    }

    /// Failed before `t`.
    pub fn failed_before(mut self, t: chrono::DateTime<chrono::Utc>) -> Self {
        self.failed_before = Some(t);
        self
    }

    /// Only jobs named `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only jobs carrying `label`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Only job `id`.
    pub fn job(mut self, id: JobId) -> Self {
        self.job = Some(id);
        self
    }
}

/// Which attempts `export_attempts` writes. All conditions must hold.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExportFilter {
    /// Attempts started at or after this instant.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Attempts started before this instant.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this job's attempts.
    pub job: Option<JobId>,
    /// Only attempts of jobs now in this state.
    pub state: Option<JobState>,
}

impl ExportFilter {
    /// Attempts started at or after `t`.
    pub fn since(mut self, t: chrono::DateTime<chrono::Utc>) -> Self {
        self.since = Some(t);
        self
    }

    /// Attempts started before `t`.
    pub fn until(mut self, t: chrono::DateTime<chrono::Utc>) -> Self {
        self.until = Some(t);
        self
    }

    /// Only job `id`'s attempts.
    pub fn job(mut self, id: JobId) -> Self {
        self.job = Some(id);
        self
    }

    /// Only attempts of jobs now in `state`.
    pub fn state(mut self, state: JobState) -> Self {
        self.state = Some(state);
        self
    }
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

/// Where an export page starts: after this attempt (start time, execution id, number).
pub(crate) type ExportCursor = (i64, String, u32);

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
    pub key: ExportCursor,
}

impl ExportRow {
    /// A row from the stored columns.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        started: i64,
        execution_id: String,
        number: u32,
        job_id: String,
        job_name: Option<String>,
        job_state: Option<String>,
        duration_ms: i64,
        status: Option<u16>,
        error: Option<String>,
        message: Option<String>,
        next_retry_at: Option<i64>,
    ) -> Self {
        let iso = |ms: i64| from_ms(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        ExportRow {
            started_at: iso(started),
            job_id,
            job_name,
            job_state,
            execution_id: execution_id.clone(),
            attempt: number,
            duration_ms,
            status,
            error,
            message,
            next_retry_at: next_retry_at.map(iso),
            key: (started, execution_id, number),
        }
    }
}

/// The stored columns of a job, as both backends read them, turned into a [`Job`].
pub(crate) struct JobColumns {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub name: Option<String>,
    pub labels: String,
    pub url: String,
    pub method: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub timeout_ms: i64,
    pub retry: String,
    pub idempotency_key: Option<String>,
    pub cron: Option<String>,
    pub tz: Option<String>,
    pub missed: Option<String>,
    pub next_fire_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub exec_id: Option<String>,
    pub due_at: Option<i64>,
    pub exec_state: Option<String>,
    pub attempts: u32,
    pub on_success_url: Option<String>,
    pub on_failure_url: Option<String>,
}

impl JobColumns {
    pub(crate) fn into_job(self) -> Result<Job> {
        let kind = JobKind::parse(&self.kind);
        let state: JobState = self.state.parse().map_err(|_| {
            Error::store(
                StoreErrorKind::Corrupt,
                format!("job {} has an unknown state {:?}", self.id, self.state),
            )
        })?;
        let next_run_at = match kind {
            JobKind::Once if self.exec_state.as_deref() == Some("pending") => self.due_at,
            JobKind::Cron if state == JobState::Scheduled => self.next_fire_at,
            _ => None,
        };
        Ok(Job {
            kind,
            state,
            name: self.name,
            // A value that no longer reads shows as its default rather than hide the job (or a
            // whole list) behind an error; its next attempt fails as `unreadable`, saying why.
            labels: readable(&self.id, "labels", serde_json::from_str(&self.labels)),
            url: self.url,
            method: readable(&self.id, "method", self.method.parse()),
            headers: readable(&self.id, "headers", serde_json::from_str(&self.headers)),
            body: self.body,
            timeout: Duration::from_millis(u64::try_from(self.timeout_ms).unwrap_or(0)),
            retry: readable(&self.id, "retry", serde_json::from_str(&self.retry)),
            idempotency_key: self.idempotency_key,
            cron: self.cron,
            tz: self.tz,
            missed: self.missed.as_deref().map(missed_from_db),
            next_run_at: next_run_at.map(from_ms),
            execution_id: self.exec_id.map(ExecutionId::from_db),
            attempts: self.attempts,
            on_success_url: self.on_success_url,
            on_failure_url: self.on_failure_url,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
            id: JobId::from_db(self.id),
        })
    }
}

/// A stored value of job `id`, or its default (with a warning) if it no longer reads.
fn readable<T: Default, E: std::fmt::Display>(id: &str, field: &str, value: Result<T, E>) -> T {
    value.unwrap_or_else(|e| {
        tracing::warn!(job = id, field, error = %e, "stored value no longer reads; shown as its default");
        T::default()
    })
}

/// The stored columns of a claimed execution and its job, turned into a [`Claimed`].
pub(crate) struct ClaimedColumns {
    pub execution_id: String,
    pub job_id: String,
    pub attempt: u32,
    pub due_at: i64,
    pub budget_start: u32,
    pub in_job_row: bool,
    pub url: String,
    pub method: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub timeout_ms: i64,
    pub signing: Option<String>,
    pub kind: String,
    pub retry: String,
    pub name: Option<String>,
    pub origin: String,
    pub on_success_url: Option<String>,
    pub on_failure_url: Option<String>,
    pub internal: i64,
}

impl ClaimedColumns {
    /// The claimed execution. A stored value that no longer parses does not fail the claim (one
    /// bad row would stop every tick): it becomes the execution's `defect`.
    pub(crate) fn into_claimed(self) -> Claimed {
        let mut defects = Vec::new();
        let method = self.method.parse().unwrap_or_else(|_| {
            defects.push(format!("method {:?}", self.method));
            Method::default()
        });
        let headers = serde_json::from_str(&self.headers).unwrap_or_else(|e| {
            defects.push(format!("headers ({e})"));
            Vec::new()
        });
        if let Err(e) = serde_json::from_str::<RetryPolicy>(&self.retry) {
            defects.push(format!("retry policy ({e})"));
        }
        if let Some(json) = &self.signing
            && let Err(e) = JobSigning::from_db(json).and_then(|s| {
                // Without keys of its own the job signs with the scheduler's.
                if s.has_keys() {
                    s.signer().map(drop)
                } else {
                    Ok(())
                }
            })
        {
            defects.push(format!("signing settings ({e})"));
        }
        let defect = (!defects.is_empty()).then(|| {
            format!(
                "the stored job no longer reads: {}; it is failed without a request",
                defects.join(", ")
            )
        });
        Claimed {
            execution_id: ExecutionId::from_db(self.execution_id),
            in_job_row: self.in_job_row,
            job_id: JobId::from_db(self.job_id),
            attempt: self.attempt,
            budget_start: self.budget_start,
            due_at: self.due_at,
            url: self.url,
            method,
            headers,
            body: self.body.into(),
            timeout: Duration::from_millis(u64::try_from(self.timeout_ms).unwrap_or(0)),
            signing: self.signing,
            kind: JobKind::parse(&self.kind),
            retry: self.retry,
            name: self.name,
            origin: self.origin,
            on_success_url: self.on_success_url,
            on_failure_url: self.on_failure_url,
            internal: Internal::from_db(self.internal),
            defect,
        }
    }
}

/// The stored columns of an attempt, turned into an [`Attempt`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn attempt_from_columns(
    job_id: String,
    execution_id: String,
    number: u32,
    started_at: i64,
    duration_ms: i64,
    status: Option<u16>,
    response_body: Option<Vec<u8>>,
    error: Option<String>,
    message: Option<String>,
    next_retry_at: Option<i64>,
) -> Attempt {
    Attempt {
        job_id: JobId::from_db(job_id),
        execution_id: ExecutionId::from_db(execution_id),
        number,
        started_at: from_ms(started_at),
        duration: Duration::from_millis(u64::try_from(duration_ms).unwrap_or(0)),
        status,
        response_body,
        error: error.as_deref().map(AttemptError::parse),
        message,
        next_retry_at: next_retry_at.map(from_ms),
    }
}

/// A subscription's stored event names, parsed.
pub(crate) fn subscription_from_columns(
    id: String,
    url: String,
    events: &str,
    created_at: i64,
) -> Result<Subscription> {
    let names: Vec<String> = serde_json::from_str(events).map_err(corrupt)?;
    Ok(Subscription {
        id,
        url,
        events: names.iter().map(|n| n.parse()).collect::<Result<_>>()?,
        created_at: from_ms(created_at),
    })
}

/// A subscription's event names as stored (a JSON array).
pub(crate) fn events_to_db(events: &[EventType]) -> String {
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    serde_json::to_string(&names).expect("strings serialise")
}

pub(crate) fn to_ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn missed_to_db(p: MissedRunPolicy) -> String {
    p.to_string()
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

/// A stored JSON column that does not parse.
pub(crate) fn corrupt(e: serde_json::Error) -> Error {
    Error::store(StoreErrorKind::Corrupt, format!("corrupt row: {e}"))
}
