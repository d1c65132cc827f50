//! The SQLite store: one connection owned by one thread, fed with closures over a channel.
//!
//! Every operation runs inside a transaction, and operations that arrive while one transaction is
//! being written share the next one (group commit): callers get their answer only after the commit
//! that contains their change, so an id returned by `schedule` is durable, while many concurrent
//! callers pay for one fsync between them.

mod migrations;
pub(crate) mod outcomes;
pub(crate) mod queries;

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Largest number of operations committed together.
const MAX_GROUP: usize = 4096;
/// Prepared statements kept per connection. rusqlite keeps 16 by default, fewer than the store's
/// statements, so a claim → record loop would keep preparing the same ones again.
const STATEMENT_CACHE: usize = 128;
/// SQLite's page cache, in KiB (its default is 2 MiB). A batch of 10,000 jobs dirties about 6 MiB:
/// with the default, the transaction spills pages to the WAL and reads them back while it runs.
const PAGE_CACHE_KIB: u32 = 16 * 1024;
/// How long a statement waits for another process holding the write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: a commit survives a crash of the process and of the machine (power loss).
    /// The default.
    #[default]
    Full,
    /// `synchronous = NORMAL`: a commit survives a crash or `kill -9` of the process, but the last
    /// commits before a power loss or kernel crash may be lost. Faster for single writes.
    Normal,
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    File(PathBuf),
    Memory,
}

trait Task: Send {
    fn run(&mut self, conn: &Connection);
    fn finish(self: Box<Self>, committed: std::result::Result<(), String>);
}

struct Call<T, F> {
    f: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Task for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) {
        let Some(f) = self.f.take() else { return };
        let result = savepoint(conn, f);
        self.result = Some(result);
    }

    fn finish(self: Box<Self>, committed: std::result::Result<(), String>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(Error::Store("operation was not run".into())),
            (Err(e), _) => Err(Error::Store(e)),
        };
        // The caller may have gone away; then nobody needs the answer.
        let _ = self.reply.send(answer);
    }
}

fn savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.prepare_cached("SAVEPOINT op")?.execute([])?;
    match f(conn) {
        Ok(v) => {
            conn.prepare_cached("RELEASE op")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            conn.prepare_cached("ROLLBACK TO op")?.execute([])?;
            conn.prepare_cached("RELEASE op")?.execute([])?;
            Err(e)
        }
    }
}

/// Handle to the store's thread. Cloning is cheap; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Db {
    tx: mpsc::Sender<Box<dyn Task>>,
    _thread: std::sync::Arc<ThreadGuard>,
}

struct ThreadGuard(Option<JoinHandle<()>>);

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        // The channel's sender is gone by now only if this is the last Db; the thread then drains and
        // exits. Joining from a thread that is itself the store thread would deadlock, which cannot
        // happen: tasks never hold a Db.
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

impl Db {
    /// Opens (creating if needed) and migrates the store, and starts its thread.
    pub(crate) fn open(location: Location, durability: Durability) -> Result<Db> {
        let conn = match &location {
            Location::File(path) => Connection::open(path),
            Location::Memory => Connection::open_in_memory(),
        }
        .map_err(|e| Error::Store(format!("cannot open {location:?}: {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if let Location::File(_) = location {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Store(format!("cannot enable WAL mode (got {mode})")));
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
        let (tx, rx) = mpsc::channel::<Box<dyn Task>>();
        let thread = std::thread::Builder::new()
            .name("timehook-store".into())
            .spawn(move || serve(conn, rx))
            .map_err(|e| Error::Store(format!("cannot start the store thread: {e}")))?;
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
        let (reply, rx) = oneshot::channel();
        let task = Box::new(Call {
            f: Some(f),
            result: None,
            reply,
        });
        self.tx.send(task).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

fn serve(conn: Connection, rx: mpsc::Receiver<Box<dyn Task>>) {
    let mut group: Vec<Box<dyn Task>> = Vec::new();
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(task) => group.push(task),
                Err(_) => break,
            }
        }
        let committed = run_group(&conn, &mut group);
        for task in group.drain(..) {
            task.finish(committed.clone());
        }
    }
    // All handles are gone: fold the WAL back into the main file so it is left tidy.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

fn run_group(conn: &Connection, group: &mut [Box<dyn Task>]) -> std::result::Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    for task in group.iter_mut() {
        task.run(conn);
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(format!("commit failed: {e}"))
        }
    }
}

pub(crate) fn to_ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
