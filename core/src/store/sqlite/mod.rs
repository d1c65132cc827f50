//! The SQLite backend: one connection owned by one thread, fed with closures over a channel.
//!
//! Every operation runs inside a transaction, and operations that arrive while one transaction is
//! being written share the next one (group commit): callers get their answer only after the commit
//! that contains their change, so an id returned by `schedule` is durable, while many concurrent
//! callers pay for one fsync between them. Processes sharing the file take turns through SQLite's
//! write lock (`BEGIN IMMEDIATE`).

mod migrations;
mod outcomes_sql;
mod sql;
mod tx;

use std::sync::mpsc;

use std::thread::JoinHandle;
use tokio::sync::mpsc as queue;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;
use tokio::sync::oneshot;

use super::{Durability, Location};
use crate::error::{Error, Result, StoreError, StoreErrorKind};

pub(crate) use tx::{SqliteTx, ready};

/// Largest number of operations committed together.
const MAX_GROUP: usize = 4096;
/// Operations that may wait for the store thread. Past that, callers wait to hand theirs in
/// (back-pressure) rather than queue without bound: two full groups keep the thread busy.
const QUEUE: usize = 2 * MAX_GROUP;
/// Prepared statements kept per connection. rusqlite keeps 16 by default, fewer than the store's
/// statements, so a claim → record loop would keep preparing the same ones again.
const STATEMENT_CACHE: usize = 128;
/// SQLite's page cache, in KiB (about its default). A larger one made deliveries slower: when a
/// B-tree page splits, SQLite renumbers pages through a temporary number (the lock-byte page's,
/// 1 GiB into the file), and the commit after that walks every page in the cache to drop those
/// past the end of the file. At 16 MiB (~4,000 pages) the walk cost ~90 µs after most delivery
/// commits, 7 % of the store thread; here it holds an eighth as many pages. Batches of 10,000
/// jobs (about 6 MiB of pages) measured the same with either size.
const PAGE_CACHE_KIB: u32 = 2 * 1024;
/// WAL frames (pages) after which the checkpointer copies the log back into the database file;
/// SQLite's own automatic checkpoint uses the same threshold.
const CHECKPOINT_PAGES: i32 = 1000;
/// WAL frames after which the store thread checkpoints itself, as SQLite would, if the log is still
/// this long after the next commit: under writes that follow each other without pause, the
/// checkpointer may never catch up with the last commit, and the log is only restarted from its
/// beginning once a checkpoint has copied all of it. (One large commit alone crosses the limit;
/// the checkpointer gets its chance first.)
const WAL_LIMIT_PAGES: i32 = 4 * CHECKPOINT_PAGES;
/// How long a statement waits for another process holding the write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the store thread stays awake for the next task after storing an application's jobs
/// ([`Db::call_awake`]) that came [`SOON`] after the previous task, before it sleeps.
const STAY_AWAKE: std::time::Duration = std::time::Duration::from_micros(250);
/// The longest wait for a task that still counts as the next call coming soon (a thread woken
/// from sleep adds its own wake-up to the gap, so this is longer than [`STAY_AWAKE`]).
const SOON: std::time::Duration = std::time::Duration::from_micros(500);

trait Task: Send {
    /// Runs the task in the group's transaction; returns its error, if it failed.
    fn run(&mut self, conn: &Connection) -> Option<Failure>;
    /// Whether the task may commit without waiting for its fsync (until it has run and said
    /// otherwise: [`Task::needs_sync`]).
    fn relaxed(&self) -> bool;
    /// Whether what the task did (it has run) must be on disk before it is answered.
    fn needs_sync(&self) -> bool;
    fn finish(self: Box<Self>, committed: std::result::Result<(), Failure>);
    /// Whether the thread should stay awake a moment for the next task after this one.
    fn stay_awake(&self) -> bool;
}

struct Call<T, F> {
    f: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
    /// For a relaxed call, which of its results need their fsync; `None`: every result does.
    needs_sync: Option<fn(&T) -> bool>,
    stay_awake: bool,
}

impl<T, F> Task for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> Option<Failure> {
        let f = self.f.take()?;
        let result = savepoint(conn, f);
        let failure = result.as_ref().err().map(|e| Failure {
            kind: e.store_kind().unwrap_or(StoreErrorKind::Other),
            message: e.to_string(),
        });
        self.result = Some(result);
        failure
    }

    fn relaxed(&self) -> bool {
        self.needs_sync.is_some()
    }

    fn needs_sync(&self) -> bool {
        match (self.needs_sync, &self.result) {
            (None, _) => true,
            (Some(needs), Some(Ok(result))) => needs(result),
            // It failed: nothing of it was kept.
            (Some(_), _) => false,
        }
    }

    fn finish(self: Box<Self>, committed: std::result::Result<(), Failure>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(Error::store(StoreErrorKind::Other, "operation was not run")),
            (Err(e), _) => Err(Error::Store(StoreError::new(e.kind, e.message))),
        };
        // The caller may have gone away; then nobody needs the answer.
        let _ = self.reply.send(answer);
    }

    fn stay_awake(&self) -> bool {
        self.stay_awake
    }
}

fn savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let run = |sql: &str| -> Result<()> {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map_err(|e| Error::from(SqlError::from(e)))?;
        Ok(())
    };
    run("SAVEPOINT op")?;
    match f(conn) {
        Ok(v) => {
            run("RELEASE op")?;
            Ok(v)
        }
        // SQLite rolled back the whole transaction (a full disk, an I/O error): no savepoint is
        // left to go back to, and the group fails with this error.
        Err(e) if conn.is_autocommit() => Err(e),
        Err(e) => {
            run("ROLLBACK TO op")?;
            run("RELEASE op")?;
            Err(e)
        }
    }
}

/// Why a group's transaction failed, told to every task in it.
#[derive(Debug, Clone)]
struct Failure {
    kind: StoreErrorKind,
    message: String,
}

impl Failure {
    fn new(context: &str, e: rusqlite::Error) -> Self {
        Failure {
            kind: kind_of(&e),
            message: format!("{context}: {e}"),
        }
    }
}

/// A failure inside the SQLite backend: SQLite's own, or the engine's.
#[derive(Debug)]
pub(crate) enum SqlError {
    Sqlite(rusqlite::Error),
    Engine(Error),
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError::Sqlite(e)
    }
}

impl From<Error> for SqlError {
    fn from(e: Error) -> Self {
        SqlError::Engine(e)
    }
}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Engine(e) => e,
            SqlError::Sqlite(e) => {
                let kind = kind_of(&e);
                Error::Store(StoreError::with_source(kind, e.to_string(), e))
            }
        }
    }
}

pub(crate) type SqlResult<T> = std::result::Result<T, SqlError>;

/// What kind of store failure a SQLite error is.
fn kind_of(e: &rusqlite::Error) -> StoreErrorKind {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DatabaseBusy | C::DatabaseLocked => StoreErrorKind::Busy,
            C::DiskFull => StoreErrorKind::Full,
            C::DatabaseCorrupt | C::NotADatabase => StoreErrorKind::Corrupt,
            C::SystemIoFailure | C::CannotOpen | C::PermissionDenied | C::ReadOnly => {
                StoreErrorKind::Io
            }
            _ => StoreErrorKind::Other,
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Other,
    }
}

/// Creates a new store file readable by its owner only (mode 0600): it will hold the generated
/// signing secret, and SQLite gives its WAL and shared-memory files the same mode. An existing
/// file keeps its mode; a file another process creates first is left to it. Names that SQLite
/// does not take as a file path (`:memory:`, a `file:` URI) are left to SQLite.
fn create_private(path: &std::path::Path) {
    let text = path.to_string_lossy();
    if text == ":memory:" || text.starts_with("file:") {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Handle to the store's thread. Cloning is cheap; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Db {
    tx: queue::Sender<Box<dyn Task>>,
    _thread: std::sync::Arc<ThreadGuard>,
}

struct ThreadGuard(Option<JoinHandle<()>>);

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        // The channel's sender is gone by now only if this is the last Db; the thread then drains,
        // checkpoints the WAL into the file and exits. Outside an async runtime, wait for that,
        // so the file is closed when the scheduler is gone. On a runtime's thread, do not block
        // it: the store thread finishes by itself (and if the process exits first, the WAL is
        // still complete; the next open reads it). Joining from the store thread itself would
        // deadlock, which cannot happen: tasks never hold a Db.
        if let Some(handle) = self.0.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            let _ = handle.join();
        }
    }
}

impl Db {
    /// Opens (creating if needed) and migrates the store, and starts its thread. Blocks: call it
    /// off the async runtime.
    pub(crate) fn open(location: Location, durability: Durability) -> Result<Db> {
        let name = format!("{location:?}");
        // Switching a file from a rollback journal to WAL needs it to itself, and SQLite answers
        // SQLITE_BUSY at once, without its busy handler, while another process is opening the
        // same file. So opening is tried again, with a growing jittered pause, for as long as
        // the busy timeout.
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            match Self::open_at(location.clone(), durability).map_err(Error::from) {
                Err(e)
                    if e.store_kind() == Some(StoreErrorKind::Busy)
                        && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(pause.mul_f64(0.5 + fastrand::f64()));
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(Error::Store(e)) => {
                    return Err(Error::Store(e.context(format!("cannot open {name}"))));
                }
                other => return other,
            }
        }
    }

    fn open_at(location: Location, durability: Durability) -> SqlResult<Db> {
        let conn = match &location {
            Location::File(path) => {
                create_private(path);
                open_file(path)?
            }
            _ => Connection::open_in_memory()?,
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if let Location::File(_) = location {
            migrations::check_not_foreign(&conn)?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::store(
                    StoreErrorKind::Other,
                    format!("cannot enable WAL mode (got {mode})"),
                )
                .into());
            }
        }
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -{PAGE_CACHE_KIB};"
        ))?;
        migrations::migrate(&conn)?;
        let mut conn = conn;
        let checkpointer = match &location {
            Location::File(path) => Some(Checkpointer::start(&mut conn, path, sync)?),
            _ => None,
        };
        let (tx, rx) = queue::channel::<Box<dyn Task>>(QUEUE);
        // Relaxed groups matter only where commits are synced and the store is a file.
        let full = durability == Durability::Full && checkpointer.is_some();
        let thread = std::thread::Builder::new()
            .name("timehook-store".into())
            .spawn(move || serve(conn, rx, checkpointer, full))
            .map_err(|e| {
                Error::Store(StoreError::with_source(
                    StoreErrorKind::Other,
                    "cannot start the store thread",
                    e,
                ))
            })?;
        Ok(Db {
            tx,
            _thread: std::sync::Arc::new(ThreadGuard(Some(thread))),
        })
    }

    /// Runs `f` in the next transaction and returns its result once that transaction has committed.
    /// If `f` fails, its changes are rolled back and the others in the group are unaffected.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(f, None, false).await
    }

    /// As [`Db::call`], for an application's own call (storing its jobs), after which the store
    /// thread stays awake a moment ([`STAY_AWAKE`]): an application often makes its next call as
    /// soon as it has the answer (one `schedule` after another), and then finds the thread
    /// awake. Waking a sleeping thread costs tens of microseconds on a small VM, as much as the
    /// rest of an in-memory call. The engine's own work (claims, records) never keeps it awake, so
    /// it never competes with deliveries for a core.
    pub(crate) async fn call_awake<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(f, None, true).await
    }

    /// As [`Db::call`], for work that may be lost in a power cut without harm unless
    /// `needs_sync` says otherwise of its result: a group of such calls alone commits without
    /// waiting for its fsync (`synchronous = NORMAL`; the next synced commit makes it durable),
    /// and is synced before its answer only if one of them needs it.
    pub(crate) async fn call_relaxed<T, F>(&self, f: F, needs_sync: fn(&T) -> bool) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(f, Some(needs_sync), false).await
    }

    async fn submit<T, F>(
        &self,
        f: F,
        needs_sync: Option<fn(&T) -> bool>,
        stay_awake: bool,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let task = Box::new(Call {
            f: Some(f),
            result: None,
            reply,
            needs_sync,
            stay_awake,
        });
        self.tx.send(task).await.map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

/// What the store thread does about the WAL after a commit.
#[derive(Debug, PartialEq, Eq)]
enum CheckpointStep {
    None,
    /// Wake the checkpointer.
    Nudge,
    /// Copy the rest of the log itself, now: most of it has been copied by now, and with no
    /// commit in between the next transaction starts the log from its beginning.
    Finish,
}

/// When to checkpoint, from the log's length (in frames) after each commit.
#[derive(Default)]
struct CheckpointPolicy {
    /// The log's length when the checkpointer was last nudged (0 once the log restarted).
    nudged_at: std::ffi::c_int,
    /// The log's length after the previous commit.
    last_len: std::ffi::c_int,
    over_limit: bool,
}

impl CheckpointPolicy {
    fn after_commit(&mut self, pages: std::ffi::c_int) -> CheckpointStep {
        if pages < self.last_len {
            self.nudged_at = 0;
        }
        self.last_len = pages;
        let was_over_limit = std::mem::replace(&mut self.over_limit, pages >= WAL_LIMIT_PAGES);
        if self.over_limit && was_over_limit {
            CheckpointStep::Finish
        } else if pages >= self.nudged_at + CHECKPOINT_PAGES {
            // Once per CHECKPOINT_PAGES new frames, not after every commit past that length: a
            // checkpoint that runs while the next commit is written cannot restart the log, so a
            // lone caller's commits each set off one more checkpoint (two more fsyncs) until the
            // log reached the limit.
            self.nudged_at = pages;
            CheckpointStep::Nudge
        } else {
            CheckpointStep::None
        }
    }
}

/// Copies the WAL back into the database file on a thread of its own, with its own connection, so
/// the store thread (which every caller waits for) does not: SQLite would otherwise run that
/// checkpoint inside the commit that crosses the threshold. A passive checkpoint never blocks the
/// writer, and commits stay durable in the WAL whether or not it has run.
struct Checkpointer {
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the thread and replaces the store connection's automatic checkpoint with a nudge to it.
    fn start(conn: &mut Connection, path: &std::path::Path, sync: &str) -> SqlResult<Checkpointer> {
        let own = open_file(path)?;
        own.busy_timeout(BUSY_TIMEOUT)?;
        own.execute_batch(&format!("PRAGMA synchronous = {sync};"))?;
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        // Held by whichever thread checkpoints, so that the store thread's checkpoint at the limit
        // waits for the checkpointer's to end instead of finding the log busy.
        let turn = std::sync::Arc::new(std::sync::Mutex::new(()));
        let store_turn = turn.clone();
        let thread = std::thread::Builder::new()
            .name("timehook-checkpoint".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    let _turn = turn
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Err(e) = own.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
                        tracing::warn!("checkpoint failed: {e}");
                    }
                }
            })
            .map_err(|e| {
                Error::Store(StoreError::with_source(
                    StoreErrorKind::Other,
                    "cannot start the checkpoint thread",
                    e,
                ))
            })?;
        let mut policy = CheckpointPolicy::default();
        conn.wal_hook(Some(
            move |wal: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                match policy.after_commit(pages) {
                    CheckpointStep::None => {}
                    CheckpointStep::Nudge => {
                        // Full means a nudge is waiting already.
                        let _ = nudge.try_send(());
                    }
                    CheckpointStep::Finish => {
                        let _turn = store_turn
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                            tracing::warn!("checkpoint failed: {e}");
                        }
                    }
                }
                Ok(())
            },
        ))?;
        Ok(Checkpointer { thread })
    }

    /// Stops the thread (removing the hook drops its nudge) and waits for it.
    fn stop(self, conn: &mut Connection) {
        let _ = conn.wal_hook(
            None::<fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>>,
        );
        let _ = self.thread.join();
    }
}

/// Opens a store file through the VFS that writes each commit's WAL frames at once.
fn open_file(path: &std::path::Path) -> SqlResult<Connection> {
    let vfs = timehook_sqlite_vfs::register()
        .map_err(|e| Error::store(StoreErrorKind::Other, format!("cannot set up SQLite: {e}")))?;
    Ok(Connection::open_with_flags_and_vfs(
        path,
        rusqlite::OpenFlags::default(),
        vfs,
    )?)
}

fn serve(
    mut conn: Connection,
    mut rx: queue::Receiver<Box<dyn Task>>,
    checkpointer: Option<Checkpointer>,
    full: bool,
) {
    let mut group: Vec<Box<dyn Task>> = Vec::new();
    let mut synced = Synchronous::new(full);
    let mut awake = false;
    while let Some((first, soon)) = next_task(&mut rx, awake) {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(task) => group.push(task),
                Err(_) => break,
            }
        }
        // A group of relaxed tasks alone commits without its fsync; if one of them then turns out
        // to need it, an empty synced commit right after makes the group durable before anyone
        // is answered.
        let relaxed = full && group.iter().all(|t| t.relaxed());
        let mut committed = synced
            .set(&conn, !relaxed)
            .and_then(|()| run_group(&conn, &mut group));
        if relaxed && committed.is_ok() && group.iter().any(|t| t.needs_sync()) {
            committed = synced.set(&conn, true).and_then(|()| sync_log(&conn));
        }
        awake = soon && group.iter().any(|t| t.stay_awake());
        for task in group.drain(..) {
            task.finish(committed.clone());
        }
    }
    if let Some(checkpointer) = checkpointer {
        checkpointer.stop(&mut conn);
    }
    // All handles are gone: fold the WAL back into the main file so it is left tidy.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

/// The next task, waiting for it asleep; with `awake` (see [`Db::call_awake`]), first awake for
/// [`STAY_AWAKE`], yielding the core to any other thread that wants it. Also says whether it came
/// [`SOON`]: the thread stays awake after a caller's group only while calls come that close
/// together (one after another), not for a caller that calls every millisecond or so, for which it
/// would only burn a quarter of a core.
fn next_task(
    rx: &mut queue::Receiver<Box<dyn Task>>,
    awake: bool,
) -> Option<(Box<dyn Task>, bool)> {
    let start = std::time::Instant::now();
    if awake {
        loop {
            match rx.try_recv() {
                Ok(task) => return Some((task, true)),
                Err(queue::error::TryRecvError::Disconnected) => return None,
                Err(queue::error::TryRecvError::Empty) if start.elapsed() < STAY_AWAKE => {
                    std::thread::yield_now();
                }
                Err(queue::error::TryRecvError::Empty) => break,
            }
        }
    }
    let task = rx.blocking_recv()?;
    Some((task, start.elapsed() < SOON))
}

/// The store connection's `synchronous` setting when its durability is full: `FULL` (each commit
/// waits for its fsync) except for groups of relaxed tasks (`NORMAL`).
struct Synchronous {
    /// Whether the store's durability is full (else this never changes anything).
    durable: bool,
    /// Whether the setting is `FULL` now.
    full: bool,
}

impl Synchronous {
    fn new(durable: bool) -> Self {
        Synchronous {
            durable,
            full: durable,
        }
    }

    /// Sets `FULL` (`full`) or `NORMAL`, if not set already. SQLite refuses the change inside a
    /// transaction: called between groups.
    fn set(&mut self, conn: &Connection, full: bool) -> std::result::Result<(), Failure> {
        if !self.durable || self.full == full {
            return Ok(());
        }
        conn.execute_batch(if full {
            "PRAGMA synchronous = FULL"
        } else {
            "PRAGMA synchronous = NORMAL"
        })
        .map_err(|e| Failure::new("cannot set synchronous", e))?;
        self.full = full;
        Ok(())
    }
}

/// Commits a change that is undone in the same transaction, with `synchronous = FULL`: the
/// commit waits for the fsync of the WAL, and so of every commit before it.
fn sync_log(conn: &Connection) -> std::result::Result<(), Failure> {
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT OR REPLACE INTO meta (key, value) VALUES ('timehook.sync', '');
         DELETE FROM meta WHERE key = 'timehook.sync';
         COMMIT;",
    )
    .map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        Failure::new("cannot sync the log", e)
    })
}

/// Runs a group of tasks in one transaction, each in a savepoint of its own, so one that fails
/// leaves the others' work in. But some failures (a full disk, an I/O error) make SQLite roll back
/// the whole transaction: then the group stops there and every task in it fails, since nothing of
/// theirs was kept, and none may run on outside a transaction.
fn run_group(conn: &Connection, group: &mut [Box<dyn Task>]) -> std::result::Result<(), Failure> {
    // Both statements come from the statement cache: a lone caller's commit is short enough for
    // parsing them each time to show.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    run("BEGIN IMMEDIATE").map_err(|e| Failure::new("cannot begin a transaction", e))?;
    for task in group.iter_mut() {
        let failure = task.run(conn);
        if conn.is_autocommit() {
            let (kind, why) = failure.map_or_else(
                || (StoreErrorKind::Other, "an operation ended it".to_owned()),
                |f| (f.kind, f.message),
            );
            return Err(Failure {
                kind,
                message: format!("the transaction was rolled back ({why}); nothing in it was kept"),
            });
        }
    }
    match run("COMMIT") {
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(Failure::new("commit failed", e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small tmpfs mounted on a fresh directory (root only: `make test` runs as root), unmounted
    /// when dropped: a disk that really fills up.
    struct Tmpfs(tempfile::TempDir);

    impl Tmpfs {
        fn mount(size: &str) -> Tmpfs {
            let dir = tempfile::tempdir().unwrap();
            let status = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status();
            assert!(
                matches!(status, Ok(s) if s.success()),
                "cannot mount a tmpfs at {} ({status:?}): the full-disk tests need root",
                dir.path().display()
            );
            Tmpfs(dir)
        }

        /// Fills what is left of it with `name`.
        fn fill(&self, name: &str) -> std::path::PathBuf {
            use std::io::Write;
            let path = self.0.path().join(name);
            let mut file = std::fs::File::create(&path).unwrap();
            let chunk = vec![0u8; 64 * 1024];
            loop {
                match file.write(&chunk) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                    Err(e) => panic!("filling the tmpfs: {e}"),
                }
            }
            let _ = file.sync_all();
            path
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.0.path())
                .status();
        }
    }

    fn rows(db_path: &std::path::Path) -> Vec<String> {
        let conn = Connection::open(db_path).unwrap();
        let mut stmt = conn
            .prepare("SELECT key FROM meta WHERE key LIKE 'task-%' ORDER BY key")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// The disk fills up in the middle of a group: SQLite rolls the whole transaction back. Every
    /// task of the group then fails and none of their work is kept, not even that of the tasks
    /// after the one that hit the full disk (which, run outside any transaction, would have been
    /// committed while reported as failed). Space comes back at once; the next group commits.
    #[tokio::test]
    async fn a_group_rolled_back_by_a_full_disk_fails_every_task_and_keeps_nothing() {
        let disk = Tmpfs::mount("4m");
        let path = disk.0.path().join("jobs.db");
        let db = Db::open(Location::File(path.clone()), Durability::Normal).unwrap();
        let insert = |key: &'static str, bytes: usize| {
            move |conn: &Connection| -> Result<()> {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    rusqlite::params![key, "x".repeat(bytes)],
                )
                .map_err(SqlError::from)?;
                Ok(())
            }
        };
        type Op = Box<dyn FnOnce(&Connection) -> Result<()> + Send>;
        let spawn = |f: Op| {
            let db = db.clone();
            tokio::spawn(async move { db.call(f).await })
        };
        // Hold the store thread so the next tasks queue up and run as one group.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (holding, started) = std::sync::mpsc::channel::<()>();
        let hold = spawn(Box::new(move |_| {
            holding.send(()).unwrap();
            held.recv().unwrap();
            Ok(())
        }));
        // The store thread runs it (in a group of its own) before the others are sent.
        while started.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        let filler = disk.fill("filler");
        let first = spawn(Box::new(insert("task-1", 100)));
        let full = spawn(Box::new(move |conn: &Connection| -> Result<()> {
            // A page cache this small spills the big row to the WAL, on a full disk.
            conn.execute_batch("PRAGMA cache_size = 4")
                .map_err(SqlError::from)?;
            let result = insert("task-2", 3_000_000)(conn);
            // The space is back for what follows, as when a disk is full for a moment.
            std::fs::remove_file(&filler).unwrap();
            result
        }));
        let third = spawn(Box::new(insert("task-3", 100)));
        // On this single-threaded runtime each spawned task sends its operation the first time
        // it runs, which these yields let happen, in order.
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        let results = [
            first.await.unwrap(),
            full.await.unwrap(),
            third.await.unwrap(),
        ];
        for (i, r) in results.iter().enumerate() {
            let e = r.as_ref().expect_err("every task of the group fails");
            assert_eq!(
                e.store_kind(),
                Some(StoreErrorKind::Full),
                "task {}: {e}",
                i + 1
            );
        }
        assert_eq!(
            rows(&path),
            Vec::<String>::new(),
            "nothing of the group was kept"
        );
        // The store goes on.
        db.call(insert("task-4", 100)).await.unwrap();
        assert_eq!(rows(&path), ["task-4"]);
        drop(db);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_store_file_and_its_wal_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let db = Db::open(Location::File(path.clone()), Durability::Normal).unwrap();
        db.call(|conn| {
            conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')", [])
                .map_err(SqlError::from)?;
            Ok(())
        })
        .await
        .unwrap();
        for file in ["jobs.db", "jobs.db-wal", "jobs.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
        }
        drop(db);
        // An existing file keeps the mode its owner gave it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        drop(Db::open(Location::File(path.clone()), Durability::Normal).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    /// After an application's call the store thread stays awake a moment: the next call is
    /// answered whether it comes then or after, and dropping the store then still stops the
    /// thread (the drop joins it: a thread that kept waiting would hang this test).
    #[tokio::test]
    async fn a_store_kept_awake_answers_every_call_and_still_stops() {
        let db = Db::open(Location::Memory, Durability::Full).unwrap();
        let put = |i: usize| {
            move |conn: &Connection| {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, 'v')",
                    [format!("k{i}")],
                )
                .map_err(SqlError::from)?;
                Ok(i)
            }
        };
        let count = |conn: &Connection| {
            conn.query_row("SELECT count(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| Error::from(SqlError::from(e)))
        };
        for i in 0..200 {
            assert_eq!(db.call_awake(put(i)).await.unwrap(), i);
            // Right away (the thread is awake), and after other work on this thread.
            assert_eq!(db.call(count).await.unwrap(), i as i64 + 1);
            if i % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
        db.call_awake(put(1000)).await.unwrap();
        drop(db);
    }

    /// A task already queued comes at once and counts as soon, whether the thread was awake or
    /// not; a queue closed while the thread is awake ends it.
    #[test]
    fn next_task_takes_what_is_queued_and_ends_with_the_queue() {
        let task = || -> Box<dyn Task> {
            let (reply, _) = oneshot::channel();
            Box::new(Call {
                f: Some(|_: &Connection| Ok(())),
                result: None,
                reply,
                needs_sync: None,
                stay_awake: true,
            })
        };
        let (tx, mut rx) = queue::channel::<Box<dyn Task>>(4);
        for awake in [false, true] {
            tx.try_send(task()).unwrap();
            let (got, soon) = next_task(&mut rx, awake).expect("a task");
            assert!(soon && got.stay_awake(), "awake = {awake}");
        }
        drop(tx);
        assert!(next_task(&mut rx, true).is_none());
        assert!(next_task(&mut rx, false).is_none());
    }

    /// `:memory:` is a store in memory, not a file by that name (creating store files private
    /// once left an empty `:memory:` file in the working directory).
    #[test]
    fn memory_is_no_file() {
        let location = Location::parse(":memory:".into()).unwrap();
        assert!(matches!(location, Location::Memory), "{location:?}");
    }

    /// A relaxed call commits with `synchronous = NORMAL` (no fsync of its own), a plain one with
    /// `FULL`; a relaxed call whose result needs its fsync is followed by a synced commit (one more
    /// WAL frame) before it is answered.
    #[tokio::test]
    async fn relaxed_calls_skip_their_fsync_unless_their_result_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let db = Db::open(Location::File(path.clone()), Durability::Full).unwrap();
        // The log's length in frames, as its shared index says (the header's `mxFrame`, 16 bytes
        // in: SQLite's file format). The file's own size grows ahead in steps.
        let wal_frames = || {
            let shm = std::fs::read(dir.path().join("jobs.db-shm")).unwrap_or_default();
            shm.get(16..20)
                .map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap()))
        };
        let write = |key: &'static str| {
            move |conn: &Connection| -> Result<(i64, bool)> {
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, 'v')",
                    [key],
                )
                .map_err(SqlError::from)?;
                let level = conn
                    .query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .map_err(SqlError::from)?;
                Ok((level, key == "needs"))
            }
        };
        let needs = |r: &(i64, bool)| r.1;
        // Warm up: the first commits write the pages the next ones rewrite.
        db.call(write("plain")).await.unwrap();
        db.call_relaxed(write("relaxed"), needs).await.unwrap();
        db.call_relaxed(write("needs"), needs).await.unwrap();

        let before = wal_frames();
        let (level, _) = db.call_relaxed(write("relaxed"), needs).await.unwrap();
        let relaxed_growth = wal_frames() - before;
        assert_eq!(level, 1, "a relaxed group runs with synchronous = NORMAL");

        let before = wal_frames();
        let (level, _) = db.call_relaxed(write("needs"), needs).await.unwrap();
        let synced_growth = wal_frames() - before;
        assert_eq!(level, 1);
        assert!(
            synced_growth > relaxed_growth,
            "the synced commit after it wrote nothing: {synced_growth} vs {relaxed_growth} frames"
        );

        let (level, _) = db.call(write("plain")).await.unwrap();
        assert_eq!(level, 2, "a plain call runs with synchronous = FULL");
        // The sync's marker row is gone.
        let markers: i64 = db
            .call(|conn| {
                conn.query_row(
                    "SELECT count(*) FROM meta WHERE key = 'timehook.sync'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| SqlError::from(e).into())
            })
            .await
            .unwrap();
        assert_eq!(markers, 0);

        // With durability normal, nothing changes.
        drop(db);
        let db = Db::open(Location::File(path), Durability::Normal).unwrap();
        let (level, _) = db.call(write("plain")).await.unwrap();
        assert_eq!(level, 1);
        let (level, _) = db.call_relaxed(write("needs"), needs).await.unwrap();
        assert_eq!(level, 1);
    }

    #[test]
    fn the_checkpointer_is_nudged_once_per_thousand_new_frames_and_the_store_finishes_at_the_limit()
    {
        let mut policy = CheckpointPolicy::default();
        let mut steps = Vec::new();
        // A lone caller's commits of four frames each, until the log restarts, then again.
        for round in 0..2 {
            let mut pages = 0;
            loop {
                pages += 4;
                let step = policy.after_commit(pages);
                let finished = step == CheckpointStep::Finish;
                if step != CheckpointStep::None {
                    steps.push((round, pages, step));
                }
                if finished {
                    break;
                }
            }
        }
        use CheckpointStep::*;
        assert_eq!(
            steps,
            [
                (0, 1000, Nudge),
                (0, 2000, Nudge),
                (0, 3000, Nudge),
                (0, 4000, Nudge),
                (0, 4004, Finish),
                (1, 1000, Nudge),
                (1, 2000, Nudge),
                (1, 3000, Nudge),
                (1, 4000, Nudge),
                (1, 4004, Finish),
            ]
        );
        // If the log did not restart (a reader held it), the store tries again after each commit.
        assert_eq!(policy.after_commit(4008), Finish);
        assert_eq!(policy.after_commit(4012), Finish);
        // One large commit alone crosses the limit: the checkpointer gets its chance first.
        let mut policy = CheckpointPolicy::default();
        assert_eq!(policy.after_commit(5000), Nudge);
        assert_eq!(policy.after_commit(5010), Finish);
    }

    #[tokio::test]
    async fn the_wal_is_checkpointed_off_the_store_thread_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let db = Db::open(Location::File(path.clone()), Durability::Normal).unwrap();
        let wal = dir.path().join("jobs.db-wal");
        let page = 4096_u64;
        let chunk = "x".repeat(100_000);
        // 40 commits of about 1 MB each, one after another: 10,000 pages in all.
        for i in 0..40 {
            let chunk = chunk.clone();
            db.call(move |conn| {
                for j in 0..10 {
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                        rusqlite::params![format!("k{i}-{j}"), chunk],
                    )
                    .map_err(SqlError::from)?;
                }
                Ok(())
            })
            .await
            .unwrap();
            let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
            // The limit plus two commits of about 260 pages, and the step the file grows ahead.
            assert!(
                len <= (WAL_LIMIT_PAGES as u64 + 550) * (page + 24)
                    + 32
                    + timehook_sqlite_vfs::GROW_BY as u64,
                "the WAL grew to {len} bytes"
            );
        }
        // The log was copied into the database file while it was being written.
        let main = std::fs::metadata(&path).unwrap().len();
        assert!(main > 20_000_000, "database file is {main} bytes");
        drop(db);
    }
}
