//! The VFS against SQLite itself: what a commit writes, what other connections see, and what a
//! crash leaves on disk.

use std::cell::Cell;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

thread_local! {
    /// Writes this thread made to WAL files through the VFS.
    pub(crate) static WAL_WRITES: Cell<usize> = const { Cell::new(0) };
}

fn wal_writes() -> usize {
    WAL_WRITES.with(Cell::get)
}

/// A connection to `path` through the VFS, in WAL mode with `synchronous` set.
fn open(path: &Path, synchronous: &str) -> Connection {
    open_with_cache(path, synchronous, 2000)
}

/// As [`open`], with a page cache of `pages` pages: a small one makes SQLite spill a large
/// transaction's pages into the log before its commit, and write some of them again.
fn open_with_cache(path: &Path, synchronous: &str, pages: u32) -> Connection {
    let vfs = super::register().unwrap();
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA cache_size = {pages};
         PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
         CREATE INDEX IF NOT EXISTS t_k ON t (k);
         CREATE INDEX IF NOT EXISTS t_v ON t (length(v), k);"
    ))
    .unwrap();
    conn
}

/// A row's value: `size` bytes that depend on `id`.
fn value(id: i64, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (id as usize * 31 + i * 7) as u8)
        .collect()
}

fn insert(conn: &Connection, id: i64, size: usize) {
    conn.execute(
        "INSERT INTO t (id, k, v) VALUES (?1, ?2, ?3)",
        params![
            id,
            format!("key-{:08}", id * 7919 % 100_003),
            value(id, size)
        ],
    )
    .unwrap();
}

/// Every row, in id order, as (id, key, value).
fn rows(conn: &Connection) -> Vec<(i64, String, Vec<u8>)> {
    let mut stmt = conn.prepare("SELECT id, k, v FROM t ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The database and its WAL copied to a new directory, as a crash would leave them (no shared
/// index: opening the copy recovers the log): the directory, and the copy's database path.
fn crash_copy(path: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("t.db");
    std::fs::copy(path, &copied).unwrap();
    std::fs::copy(
        path.with_extension("db-wal"),
        copied.with_extension("db-wal"),
    )
    .unwrap();
    (copy, copied)
}

fn wal_len(path: &Path) -> u64 {
    std::fs::metadata(path.with_extension("db-wal"))
        .unwrap()
        .len()
}

/// Counts the WAL's frames after each commit of `conn` (SQLite's WAL hook); the last count.
fn count_frames(conn: &mut Connection) -> Frames {
    let frames = Frames::default();
    let seen = frames.clone();
    conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
        seen.0.store(pages, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }))
    .unwrap();
    frames
}

/// The WAL's length in frames after the last commit.
#[derive(Clone, Default)]
struct Frames(std::sync::Arc<std::sync::atomic::AtomicI32>);

impl Frames {
    fn get(&self) -> i32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[test]
fn each_frame_of_a_commit_reaches_the_wal_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut conn = open(&path, "FULL");
    let log = count_frames(&mut conn);
    insert(&conn, 1, 100);
    let (writes, before) = (wal_writes(), log.get());
    insert(&conn, 2, 100);
    let frames = log.get() - before;
    assert!(
        frames >= 3,
        "the table and its two indexes: {frames} frames"
    );
    // The default VFS writes a frame's header and page apart: two writes a frame.
    assert_eq!(
        wal_writes() - writes,
        frames as usize,
        "{frames} frames, one write each"
    );
}

#[test]
fn a_large_transaction_with_spilled_pages_is_written_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut conn = open(&path, "FULL");
    let log = count_frames(&mut conn);
    let writes = wal_writes();
    let tx = conn.unchecked_transaction().unwrap();
    // About 3 MiB: more than the page cache holds, so SQLite spills frames before the commit.
    for id in 0..1500 {
        insert(&tx, id, 2000);
    }
    tx.commit().unwrap();
    // The default VFS makes two writes a frame; pages spilled and then changed again are written
    // over in place, and their headers rewritten, one write each.
    let frames = log.get();
    let writes = wal_writes() - writes;
    assert!(
        frames > 700 && writes < 2 * frames as usize,
        "{frames} frames in {writes} writes"
    );
    drop(conn);
    let reopened = Connection::open(&path).unwrap();
    let stored = rows(&reopened);
    assert_eq!(stored.len(), 1500);
    for (id, _, v) in stored {
        assert_eq!(v, value(id, 2000), "row {id}");
    }
}

/// Another connection (the default VFS, as another process would read the file) sees each commit
/// as soon as it returns, whole: the VFS has written it before SQLite publishes it in the WAL's
/// shared index, even without a sync.
#[test]
fn each_commit_is_readable_by_another_connection_as_soon_as_it_returns() {
    for synchronous in ["NORMAL", "FULL"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open(&path, synchronous);
        let reader = Connection::open(&path).unwrap();
        let mut expected = 0;
        for id in 0..300 {
            // Now and then a commit larger than one write, and one that changes earlier rows.
            let size = if id % 50 == 0 { 150_000 } else { 200 };
            insert(&writer, id, size);
            expected += 1;
            if id % 7 == 0 {
                writer
                    .execute("UPDATE t SET k = k || 'x' WHERE id % 5 = ?1", [id % 5])
                    .unwrap();
            }
            let (n, v): (i64, Vec<u8>) = reader
                .query_row(
                    "SELECT (SELECT count(*) FROM t), v FROM t WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((n, v.len()), (expected, size), "{synchronous}: row {id}");
            assert_eq!(v, value(id, size), "{synchronous}: row {id}");
        }
        assert_eq!(rows(&reader), rows(&writer), "{synchronous}");
    }
}

/// What is on disk after each commit, the database and its WAL copied away as a crash would
/// leave them (no checkpoint, no shared index), is a log that SQLite recovers every commit from.
#[test]
fn the_files_a_crash_leaves_hold_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open(&path, "FULL");
    for id in 0..200 {
        insert(&conn, id, if id % 40 == 0 { 100_000 } else { 300 });
        if id % 25 == 24 {
            conn.execute("DELETE FROM t WHERE id % 3 = 0", []).unwrap();
            let (_copy, copied) = crash_copy(&path);
            let recovered = Connection::open(&copied).unwrap();
            let integrity: String = recovered
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(integrity, "ok", "after row {id}");
            assert_eq!(rows(&recovered), rows(&conn), "after row {id}");
        }
    }
}

/// The same work through the VFS and through the default VFS leaves the same database file,
/// byte for byte, once the WAL is checkpointed into it.
#[test]
fn the_database_is_the_same_as_the_default_vfs_makes() {
    let work = |conn: &Connection| {
        for id in 0..400 {
            insert(conn, id, (id as usize * 37) % 9000);
            if id % 9 == 0 {
                conn.execute("DELETE FROM t WHERE id = ?1 - 5", [id])
                    .unwrap();
            }
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.db");
    let theirs = dir.path().join("theirs.db");
    work(&open(&ours, "FULL"));
    let conn = Connection::open(&theirs).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
         CREATE INDEX IF NOT EXISTS t_k ON t (k);
         CREATE INDEX IF NOT EXISTS t_v ON t (length(v), k);",
    )
    .unwrap();
    work(&conn);
    let (a, b) = (
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap(),
    );
    assert!(a.len() > 200 * 4096, "{} bytes", a.len());
    assert!(a == b, "the two database files differ");
}

#[test]
fn registering_again_returns_the_same_name() {
    assert_eq!(super::register(), super::register());
    assert_eq!(super::register().unwrap(), super::VFS_NAME);
}

/// The WAL grows ahead in steps of zeros, so most commits write over bytes the file has; a log
/// restarted from its beginning and truncated keeps working, and a crash's copy of the files
/// (the zeros after the last frame included) recovers every commit.
#[test]
fn the_wal_grows_ahead_in_steps_and_recovers_with_its_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open(&path, "FULL");
    let step = super::GROW_BY as u64;
    insert(&conn, 0, 100);
    assert_eq!(wal_len(&path), step, "one step after the first commit");
    for id in 1..300 {
        insert(&conn, id, 1000);
    }
    let len = wal_len(&path);
    assert!(len % step == 0 && len >= 2 * step, "{len} bytes");
    let (_copy, copied) = crash_copy(&path);
    assert_eq!(rows(&Connection::open(&copied).unwrap()), rows(&conn));
    // Checkpointed and truncated, the log starts again from nothing, and grows again.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    assert_eq!(wal_len(&path), 0);
    insert(&conn, 300, 100);
    assert_eq!(wal_len(&path), step);
    drop(conn);
    let reopened = Connection::open(&path).unwrap();
    assert_eq!(rows(&reopened).len(), 301);
}

/// Two writers through the VFS, each with its own idea of the log's size, take turns (as two
/// processes would), one of them restarting and truncating the log under the other: every commit
/// of both is read back whole, and the files recover them all.
#[test]
fn writers_taking_turns_never_write_over_each_others_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let a = open(&path, "NORMAL");
    let b = open(&path, "FULL");
    let reader = Connection::open(&path).unwrap();
    for id in 0..400 {
        let (writer, size) = if id % 3 == 0 { (&a, 300) } else { (&b, 5000) };
        insert(writer, id, size);
        if id % 97 == 96 {
            b.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        }
        let v: Vec<u8> = reader
            .query_row("SELECT v FROM t WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(v, value(id, size), "row {id}");
    }
    let (_copy, copied) = crash_copy(&path);
    let recovered = rows(&Connection::open(&copied).unwrap());
    assert_eq!(recovered.len(), 400);
    assert_eq!(recovered, rows(&reader));
}

/// With `synchronous = NORMAL` a commit is not synced, but it must survive the process: a large
/// transaction whose spilled pages were changed again (SQLite then rewrites their frames' headers
/// in place, the commit frame's last, with no page after it) is whole in the files a crash
/// leaves.
#[test]
fn an_unsynced_commit_with_rewritten_frames_is_whole_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open_with_cache(&path, "NORMAL", 20);
    insert(&conn, 0, 100);
    let tx = conn.unchecked_transaction().unwrap();
    for id in 1..400 {
        insert(&tx, id, 500);
    }
    tx.execute("UPDATE t SET k = k || 'y'", []).unwrap();
    tx.commit().unwrap();
    let (_copy, copied) = crash_copy(&path);
    let recovered = Connection::open(&copied).unwrap();
    assert_eq!(rows(&recovered), rows(&conn));
}

/// A transaction that spilled frames into the log and was rolled back leaves nothing behind to
/// be written later: another writer's commits in the same part of the log (after a truncation,
/// from the log's start) stay whole, in the database and in the files a crash leaves.
#[test]
fn a_rolled_back_transaction_never_writes_over_a_later_commit() {
    for truncate in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let a = open_with_cache(&path, "FULL", 20);
        insert(&a, 0, 100);
        if truncate {
            a.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        }
        let b = Connection::open(&path).unwrap();
        let tx = a.unchecked_transaction().unwrap();
        for id in 1..300 {
            insert(&tx, id, 700);
        }
        tx.rollback().unwrap();
        for id in 1000..2000 {
            insert(&b, id, 700);
        }
        // Whatever `a` could still hold would be written by now.
        let _: i64 = a
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        drop(a);
        let (_copy, copied) = crash_copy(&path);
        let c = Connection::open(&path).unwrap();
        let integrity: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "truncate: {truncate}");
        let stored = rows(&c);
        assert_eq!(stored.len(), 1001, "truncate: {truncate}");
        for (id, _, v) in &stored {
            assert_eq!(*v, value(*id, v.len()), "truncate: {truncate}, row {id}");
        }
        assert_eq!(rows(&Connection::open(&copied).unwrap()), stored);
    }
}

/// Where the device may not overwrite a sector safely (`psow=0`), SQLite pads a synced commit
/// with copies of its last frame up to a sector boundary, syncing in the middle of one (whose rest
/// may be 24 bytes, as long as a header, with pages smaller than a sector): every commit is still
/// read back whole by another connection.
#[test]
fn padded_commits_are_read_back_whole() {
    for page_size in [4096, 1024] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let vfs = super::register().unwrap();
        let uri = format!("file:{}?psow=0", path.display());
        let flags = OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI;
        let writer = Connection::open_with_flags_and_vfs(&uri, flags, vfs).unwrap();
        writer
            .execute_batch(&format!(
                "PRAGMA page_size = {page_size}; PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);"
            ))
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        for id in 0..200 {
            let size = if page_size == 1024 {
                40 + (id as usize * 7) % 120
            } else {
                300 + (id as usize * 13) % 900
            };
            insert(&writer, id, size);
            let stored = rows(&reader);
            assert_eq!(stored.len() as i64, id + 1, "{page_size}: after row {id}");
            for (i, _, v) in stored {
                assert_eq!(v, value(i, v.len()), "{page_size}: row {i}, after row {id}");
            }
        }
    }
}
