//! The VFS against SQLite itself: what a commit writes, what other connections see, and what a
//! crash leaves on disk.

use std::cell::Cell;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

thread_local! {
    /// Writes this thread made to WAL files through the VFS.
    pub(crate) static WAL_WRITES: Cell<usize> = const { Cell::new(0) };
    /// The longest of them, in bytes.
    pub(crate) static WAL_LONGEST_WRITE: Cell<usize> = const { Cell::new(0) };
    /// Commits this thread published while frames were still gathered, not on the file.
    pub(crate) static PUBLISHED_WITH_GATHERED: Cell<usize> = const { Cell::new(0) };
}

/// Every commit so far was on the file when SQLite published it.
fn assert_each_commit_written_before_published() {
    assert_eq!(
        PUBLISHED_WITH_GATHERED.with(Cell::get),
        0,
        "commits published with frames not yet written"
    );
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
    set_up(ours(path), "", synchronous, pages)
}

/// As [`open_with_cache`], through SQLite's default VFS.
fn open_default(path: &Path, synchronous: &str, pages: u32) -> Connection {
    set_up(Connection::open(path).unwrap(), "", synchronous, pages)
}

/// A bare connection to `path` through the VFS.
fn ours(path: &Path) -> Connection {
    let vfs = super::register().unwrap();
    Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).unwrap()
}

/// Puts `conn` in WAL mode with `synchronous` set and a page cache of `pages` pages, after
/// `first` (what must come before the log exists, such as a page size), without automatic
/// checkpoints, and creates the table and its two indexes.
fn set_up(conn: Connection, first: &str, synchronous: &str, pages: u32) -> Connection {
    conn.execute_batch(&format!(
        "{first} PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
         PRAGMA cache_size = {pages}; PRAGMA wal_autocheckpoint = 0;
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
fn a_commit_reaches_the_wal_in_one_write() {
    for synchronous in ["NORMAL", "FULL"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = open(&path, synchronous);
        let log = count_frames(&mut conn);
        insert(&conn, 1, 100);
        for id in 2..20 {
            let (writes, before) = (wal_writes(), log.get());
            insert(&conn, id, 100 * id as usize);
            let frames = log.get() - before;
            assert!(
                frames >= 3,
                "the table and its two indexes: {frames} frames"
            );
            // The default VFS writes a frame's header and page apart: two writes a frame.
            assert_eq!(
                wal_writes() - writes,
                1,
                "{synchronous}: {frames} frames in one write"
            );
        }
    }
    assert_each_commit_written_before_published();
}

#[test]
fn a_large_transaction_with_spilled_pages_is_written_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut conn = open(&path, "FULL");
    let log = count_frames(&mut conn);
    let writes = wal_writes();
    WAL_LONGEST_WRITE.with(|n| n.set(0));
    let tx = conn.unchecked_transaction().unwrap();
    // About 3 MiB: more than the page cache holds, so SQLite spills frames before the commit.
    for id in 0..1500 {
        insert(&tx, id, 2000);
    }
    tx.commit().unwrap();
    // The default VFS makes two writes a frame. Gathered, as many frames as one write of the
    // default VFS's takes (under 128 KiB) go together; pages spilled and then changed again are
    // written over in place, and their headers rewritten, one write each.
    let frames = log.get();
    let writes = wal_writes() - writes;
    let longest = WAL_LONGEST_WRITE.with(Cell::get);
    assert!(
        frames > 700 && writes < frames as usize / 4,
        "{frames} frames in {writes} writes"
    );
    assert!(
        longest > 120_000 && longest <= 0x1_ffff,
        "the longest write: {longest} bytes"
    );
    drop(conn);
    let reopened = Connection::open(&path).unwrap();
    let stored = rows(&reopened);
    assert_eq!(stored.len(), 1500);
    for (id, _, v) in stored {
        assert_eq!(v, value(id, 2000), "row {id}");
    }
    assert_each_commit_written_before_published();
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
    assert_each_commit_written_before_published();
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
    assert_each_commit_written_before_published();
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
    work(&open_default(&theirs, "FULL", 2000));
    let (a, b) = (
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap(),
    );
    assert!(a.len() > 200 * 4096, "{} bytes", a.len());
    assert!(a == b, "the two database files differ");
    assert_each_commit_written_before_published();
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
    assert_each_commit_written_before_published();
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
    assert_each_commit_written_before_published();
}

/// With `synchronous = NORMAL` a commit is not synced, but it must survive the process: a large
/// transaction whose spilled pages were changed again (SQLite then rewrites their frames' headers
/// in place, the commit frame's last, with no page after it) is whole in the files a crash
/// leaves.
#[test]
fn an_unsynced_commit_with_rewritten_frames_is_whole_in_the_files() {
    // A small cache: spilled pages leave it, and are read back from the log before they change
    // again. A small spill threshold in a large cache: they stay, and change again at once.
    for (cache, spill) in [(20, 20), (2000, 20)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open_with_cache(&path, "NORMAL", cache);
        conn.execute_batch(&format!("PRAGMA cache_spill = {spill}"))
            .unwrap();
        insert(&conn, 0, 100);
        let tx = conn.unchecked_transaction().unwrap();
        for id in 1..400 {
            insert(&tx, id, 500);
            if id % 50 == 0 {
                tx.execute("UPDATE t SET k = k || 'x' WHERE id % 3 = 0", [])
                    .unwrap();
            }
        }
        tx.execute("UPDATE t SET k = k || 'y'", []).unwrap();
        tx.commit().unwrap();
        let (_copy, copied) = crash_copy(&path);
        let recovered = Connection::open(&copied).unwrap();
        let expected = rows(&conn);
        assert_eq!(expected.len(), 400);
        assert!(expected.iter().all(|(_, k, _)| k.ends_with('y')));
        assert_eq!(rows(&recovered), expected, "cache {cache}, spill {spill}");
    }
    assert_each_commit_written_before_published();
}

/// A transaction that spilled frames into the log and was rolled back leaves nothing behind to
/// be written later: another writer's commits in the same part of the log (after a truncation,
/// from the log's start) stay whole, in the database and in the files a crash leaves. The other
/// writer is the default VFS, or this one (gathering its own frames).
#[test]
fn a_rolled_back_transaction_never_writes_over_a_later_commit() {
    for (truncate, other_is_ours) in [(false, false), (true, false), (false, true), (true, true)] {
        let case = format!("truncate: {truncate}, other writer ours: {other_is_ours}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let a = open_with_cache(&path, "FULL", 20);
        insert(&a, 0, 100);
        if truncate {
            a.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        }
        let b = if other_is_ours {
            open(&path, "NORMAL")
        } else {
            Connection::open(&path).unwrap()
        };
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
        assert_eq!(integrity, "ok", "{case}");
        let stored = rows(&c);
        assert_eq!(stored.len(), 1001, "{case}");
        for (id, _, v) in &stored {
            assert_eq!(*v, value(*id, v.len()), "{case}, row {id}");
        }
        assert_eq!(rows(&Connection::open(&copied).unwrap()), stored, "{case}");
    }
    assert_each_commit_written_before_published();
}

/// Savepoints rolled back inside a transaction that spills: SQLite then writes new frames from
/// an earlier point of the log, over frames it had gathered (a few spilled after the savepoint)
/// or written (many). Each commit is read back as the transactions left it, by another
/// connection and from the files a crash leaves.
#[test]
fn savepoints_rolled_back_after_a_spill_leave_each_commit_whole() {
    // Rows before the savepoint (filling most of the small cache), rows undone after it (a
    // few: their frames are still gathered when SQLite writes over them).
    for (before, undone) in [(40, 150), (40, 5), (50, 8), (60, 2), (30, 3)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open_with_cache(&path, "NORMAL", 20);
        let reader = Connection::open(&path).unwrap();
        let mut expected = std::collections::BTreeMap::new();
        let mut next = 0;
        for round in 0..5 {
            let case = format!("{before} rows, {undone} undone, round {round}");
            conn.execute_batch("BEGIN").unwrap();
            for _ in 0..before {
                insert(&conn, next, 900);
                expected.insert(next, 900);
                next += 1;
            }
            conn.execute_batch("SAVEPOINT s").unwrap();
            for id in next..next + undone {
                insert(&conn, id, 1500);
            }
            if undone > 100 {
                conn.execute("UPDATE t SET k = k || 'z' WHERE id % 2 = 0", [])
                    .unwrap();
            }
            conn.execute_batch("ROLLBACK TO s; RELEASE s").unwrap();
            for _ in 0..(5 + round * 10) {
                insert(&conn, next, 300);
                expected.insert(next, 300);
                next += 1;
            }
            conn.execute_batch("COMMIT").unwrap();
            let stored = rows(&reader);
            let sizes: std::collections::BTreeMap<i64, usize> =
                stored.iter().map(|(id, _, v)| (*id, v.len())).collect();
            assert_eq!(sizes, expected, "{case}");
            for (id, k, v) in &stored {
                assert!(!k.ends_with('z'), "{case}: row {id}'s key {k}");
                assert_eq!(*v, value(*id, v.len()), "{case}: row {id}");
            }
            let (_copy, copied) = crash_copy(&path);
            assert_eq!(rows(&Connection::open(&copied).unwrap()), stored, "{case}");
        }
    }
    assert_each_commit_written_before_published();
}

/// With the largest pages (64 KiB, which a log's header records as a whole number), a frame is
/// still written in one write: one frame is as much as one write of the default VFS's takes.
#[test]
fn the_largest_pages_are_written_a_frame_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut conn = set_up(ours(&path), "PRAGMA page_size = 65536;", "FULL", 2000);
    let log = count_frames(&mut conn);
    insert(&conn, 0, 100);
    for id in 1..10 {
        let (writes, before) = (wal_writes(), log.get());
        insert(&conn, id, 1000);
        let frames = log.get() - before;
        assert!(
            frames >= 3,
            "the table and its two indexes: {frames} frames"
        );
        assert_eq!(wal_writes() - writes, frames as usize, "row {id}");
    }
    drop(conn);
    let stored = rows(&Connection::open(&path).unwrap());
    assert_eq!(stored.len(), 10);
    for (id, _, v) in stored {
        assert_eq!(v, value(id, v.len()), "row {id}");
    }
    assert_each_commit_written_before_published();
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
        // The table alone: with these row sizes, SQLite splits a page's last 24 bytes off
        // around a sync (no index pages change the frames' layout).
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
    assert_each_commit_written_before_published();
}

/// Pages spilled into the log, changed again and spilled again over their own frames (often
/// read back from the log in between): each row's last version wins, in the database and in the
/// files a crash leaves.
#[test]
fn a_page_spilled_twice_keeps_its_last_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open_with_cache(&path, "NORMAL", 200);
    let tx = conn.unchecked_transaction().unwrap();
    for id in 0..2000 {
        insert(&tx, id, 500);
    }
    tx.commit().unwrap();
    // Checkpointed: unchanged pages come from the database file, changed ones from the log.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    let mut hot = std::collections::BTreeMap::new();
    for i in 0..3000i64 {
        // Rows all over the table change once, and keep the small cache spilling; a row changes
        // every other time, ten times, then the next, and is left alone after its last change.
        let cold = (i * 13) % 2000;
        let id = if i % 2 == 0 { 7 + (i / 20) * 13 } else { cold };
        tx.execute(
            "UPDATE t SET v = ?2 WHERE id = ?1",
            params![id, value(i, 500)],
        )
        .unwrap();
        hot.insert(id, value(i, 500));
    }
    tx.commit().unwrap();
    let (_copy, copied) = crash_copy(&path);
    for conn in [
        Connection::open(&path).unwrap(),
        Connection::open(&copied).unwrap(),
    ] {
        let stored = rows(&conn);
        assert_eq!(stored.len(), 2000);
        for (id, _, v) in stored {
            let expected = hot.get(&id).cloned().unwrap_or_else(|| value(id, 500));
            assert_eq!(v, expected, "row {id}");
        }
    }
    assert_each_commit_written_before_published();
}

/// In exclusive locking mode (set before the log opens, SQLite keeps its index in memory and
/// takes no shared-memory locks at all; set after, it keeps them): transactions that spill and
/// roll back, savepoints undone, commits and a truncation leave every commit whole, in the files
/// a crash leaves and once the connection closes.
#[test]
fn exclusive_locking_mode_keeps_each_commit_whole() {
    for before_the_log in [true, false] {
        let case = format!("exclusive before the log opens: {before_the_log}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let exclusive = "PRAGMA locking_mode = EXCLUSIVE;";
        let conn = set_up(
            ours(&path),
            if before_the_log { exclusive } else { "" },
            "NORMAL",
            20,
        );
        conn.execute_batch(&format!("{exclusive} SELECT count(*) FROM t;"))
            .unwrap();
        let mut expected = std::collections::BTreeMap::new();
        let mut next = 0;
        for round in 0..6 {
            conn.execute_batch("BEGIN").unwrap();
            for id in 100_000 + next..100_000 + next + 120 {
                insert(&conn, id, 900);
            }
            conn.execute_batch("ROLLBACK; BEGIN").unwrap();
            for _ in 0..30 {
                insert(&conn, next, 700);
                expected.insert(next, 700);
                next += 1;
            }
            conn.execute_batch("SAVEPOINT s").unwrap();
            for id in 200_000 + next..200_000 + next + 4 {
                insert(&conn, id, 1500);
            }
            conn.execute_batch("ROLLBACK TO s; RELEASE s").unwrap();
            for _ in 0..(3 + round) {
                insert(&conn, next, 300);
                expected.insert(next, 300);
                next += 1;
            }
            conn.execute_batch("COMMIT").unwrap();
            if round == 3 {
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                    .unwrap();
            }
            let sizes = |conn: &Connection| -> std::collections::BTreeMap<i64, usize> {
                rows(conn)
                    .into_iter()
                    .map(|(id, _, v)| {
                        assert_eq!(v, value(id, v.len()), "{case}: row {id}");
                        (id, v.len())
                    })
                    .collect()
            };
            assert_eq!(sizes(&conn), expected, "{case}, round {round}");
            let (_copy, copied) = crash_copy(&path);
            let recovered = Connection::open(&copied).unwrap();
            assert_eq!(
                sizes(&recovered),
                expected,
                "{case}, round {round}: crash copy"
            );
        }
        drop(conn);
        assert_eq!(
            rows(&Connection::open(&path).unwrap()).len(),
            expected.len(),
            "{case}"
        );
    }
    assert_each_commit_written_before_published();
}

/// A connection leaving WAL mode closes its log; back in WAL mode it opens a new one, linked to
/// the database file again: a commit is one write once more, and every row is kept.
#[test]
fn a_log_opened_again_after_a_journal_mode_change_gathers_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open(&path, "FULL");
    for id in 0..50 {
        insert(&conn, id, 300);
    }
    for round in 0..3 {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        insert(&conn, 1000 + round, 300);
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        insert(&conn, 2000 + round, 300);
        let writes = wal_writes();
        insert(&conn, 3000 + round, 300);
        assert_eq!(wal_writes() - writes, 1, "round {round}");
    }
    drop(conn);
    let stored = rows(&Connection::open(&path).unwrap());
    assert_eq!(stored.len(), 59);
    for (id, _, v) in stored {
        assert_eq!(v, value(id, 300), "row {id}");
    }
    assert_each_commit_written_before_published();
}

/// A log's frames as (page number, database size if it ends a commit, page), read from its bytes
/// up to `len`; each frame's salts are checked against the log's header (they are random, so two
/// logs are compared without them, nor the checksums they seed).
fn decoded_frames(log: &[u8], len: usize) -> Vec<(u32, u32, Vec<u8>)> {
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    if len < 32 {
        return Vec::new();
    }
    let page = be(&log[8..12]) as usize;
    let salts = &log[16..24];
    let mut frames = Vec::new();
    let mut at = 32;
    while at + 24 + page <= len {
        let header = &log[at..at + 24];
        // A frame of an earlier generation of the log (before it restarted) ends what is current.
        if &header[8..16] != salts {
            break;
        }
        frames.push((
            be(&header[0..4]),
            be(&header[4..8]),
            log[at + 24..at + 24 + page].to_vec(),
        ));
        at += 24 + page;
    }
    frames
}

/// The same work, step by step, through this VFS and through the default one: after every step
/// the two logs hold the same frames (page numbers, commit marks, pages; salts and checksums are
/// random) as far as the default VFS's log reaches, what lies beyond it in ours is zeros or the
/// same stale bytes, and the two databases are the same bytes. The work mixes small and large
/// commits, spills, savepoints undone, transactions rolled back, and checkpoints that restart and
/// truncate the log.
#[test]
fn the_files_match_the_default_vfs_after_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let (ours_path, theirs_path) = (dir.path().join("ours.db"), dir.path().join("theirs.db"));
    let ours = open_with_cache(&ours_path, "FULL", 20);
    let theirs = open_default(&theirs_path, "FULL", 20);
    let step = |conn: &Connection, i: i64| match i % 9 {
        0..=3 => insert(conn, i, (i as usize * 37) % 3000),
        4 => {
            conn.execute("UPDATE t SET k = k || 'u' WHERE id % 7 = ?1", [i % 7])
                .unwrap();
        }
        5 => {
            // A large transaction, spilling, with a savepoint undone in the middle.
            conn.execute_batch("BEGIN").unwrap();
            for id in 0..40 {
                insert(conn, 100_000 + i * 100 + id, 900);
            }
            conn.execute_batch("SAVEPOINT s").unwrap();
            for id in 40..(40 + i % 50) {
                insert(conn, 100_000 + i * 100 + id, 1500);
            }
            conn.execute_batch("ROLLBACK TO s; RELEASE s; COMMIT")
                .unwrap();
        }
        6 => {
            // A spilling transaction rolled back.
            conn.execute_batch("BEGIN").unwrap();
            for id in 0..(10 + i % 60) {
                insert(conn, 200_000 + i * 100 + id, 1200);
            }
            conn.execute_batch("ROLLBACK").unwrap();
        }
        7 => {
            conn.execute("DELETE FROM t WHERE id % 11 = ?1", [i % 11])
                .unwrap();
        }
        _ => {
            let mode = if i % 4 == 0 { "TRUNCATE" } else { "PASSIVE" };
            conn.execute_batch(&format!("PRAGMA wal_checkpoint({mode})"))
                .unwrap();
        }
    };
    for i in 0..120 {
        step(&ours, i);
        step(&theirs, i);
        let read = |path: &Path| std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
        let (our_log, their_log) = (read(&ours_path), read(&theirs_path));
        let len = their_log.len();
        assert!(our_log.len() >= len, "step {i}: our log is shorter");
        assert_eq!(
            decoded_frames(&our_log, len),
            decoded_frames(&their_log, len),
            "step {i}: the logs' frames differ"
        );
        assert!(
            our_log[len..].iter().all(|&b| b == 0) || our_log.len() == len,
            "step {i}: past the default VFS's log, ours holds more than zeros"
        );
        assert!(
            std::fs::read(&ours_path).unwrap() == std::fs::read(&theirs_path).unwrap(),
            "step {i}: the databases differ"
        );
    }
    assert_each_commit_written_before_published();
}

/// The calling thread's writes to WAL files under one directory fail as on a full disk
/// (`ENOSPC`), through the default VFS's own `pwrite`, which SQLite lets a program replace
/// (`xSetSystemCall`): all of them, or the next few. Other threads (other tests' among them) and
/// other files are written as ever.
mod full_disk {
    use std::cell::{Cell, RefCell};
    use std::ffi::{c_int, c_void};
    use std::path::{Path, PathBuf};
    use std::sync::Once;

    use rusqlite::ffi;

    thread_local! {
        static FULL: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
        /// How many more writes fail; none: all of them.
        static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
        pub(super) static FAILED: Cell<usize> = const { Cell::new(0) };
    }

    unsafe extern "C" fn pwrite(
        fd: c_int,
        buf: *const c_void,
        len: libc::size_t,
        offset: libc::off_t,
    ) -> libc::ssize_t {
        if let Some(dir) = FULL.with_borrow(Clone::clone)
            && let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            && path.starts_with(&dir)
            && path.to_string_lossy().ends_with("-wal")
            && BUDGET.get() != Some(0)
        {
            BUDGET.set(BUDGET.get().map(|n| n - 1));
            FAILED.with(|n| n.set(n.get() + 1));
            // SAFETY: the calling thread's errno.
            unsafe { *libc::__errno_location() = libc::ENOSPC };
            return -1;
        }
        // SAFETY: SQLite's arguments, passed on.
        unsafe { libc::pwrite(fd, buf, len, offset) }
    }

    /// Makes the WAL files under `dir` full for this thread (or none, with `None`).
    pub(super) fn set(dir: Option<&Path>) {
        set_for(dir, None);
    }

    /// Makes the next `writes` writes of this thread to WAL files under `dir` fail.
    pub(super) fn fail_next(dir: &Path, writes: usize) {
        set_for(Some(dir), Some(writes));
    }

    fn set_for(dir: Option<&Path>, budget: Option<usize>) {
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            super::super::register().unwrap();
            // SAFETY: the default VFS lives as long as the process; `pwrite` has the signature
            // of the system call it replaces.
            unsafe {
                let unix = ffi::sqlite3_vfs_find(c"unix".as_ptr());
                let set = (*unix).xSetSystemCall.unwrap();
                let ours: unsafe extern "C" fn(
                    c_int,
                    *const c_void,
                    libc::size_t,
                    libc::off_t,
                ) -> libc::ssize_t = pwrite;
                let rc = set(
                    unix,
                    c"pwrite".as_ptr(),
                    Some(std::mem::transmute::<
                        unsafe extern "C" fn(
                            c_int,
                            *const c_void,
                            libc::size_t,
                            libc::off_t,
                        ) -> libc::ssize_t,
                        unsafe extern "C" fn(),
                    >(ours)),
                );
                assert_eq!(rc, ffi::SQLITE_OK);
            }
        });
        FULL.set(dir.map(Path::to_path_buf));
        BUDGET.set(budget);
    }

    /// `conn`'s open WAL, one of ours.
    pub(super) fn wal_file(conn: &rusqlite::Connection) -> *mut ffi::sqlite3_file {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: the connection's own handle; the journal pointer is its open WAL.
        unsafe {
            let rc = ffi::sqlite3_file_control(
                conn.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_JOURNAL_POINTER,
                (&raw mut file).cast(),
            );
            assert_eq!(rc, ffi::SQLITE_OK);
            assert!(std::ptr::eq((*file).pMethods, &super::super::WAL_METHODS));
        }
        file
    }

    /// Where the bytes `conn`'s WAL has gathered (not yet written) go, and how many there are.
    pub(super) fn gathered_range(conn: &rusqlite::Connection) -> (i64, usize) {
        // SAFETY: our WAL file, used from this thread only.
        let w = unsafe { &*wal_file(conn).cast::<super::super::WalFile>() };
        (w.gathered_at, w.gathered.len())
    }

    /// How many bytes `conn`'s WAL has gathered.
    pub(super) fn gathered(conn: &rusqlite::Connection) -> usize {
        gathered_range(conn).1
    }
}

/// A store with 300 rows checkpointed into the database and 100 more committed in the log, and a
/// transaction (through `conn`, in a small cache) that inserted rows 400..700: some of its
/// frames are gathered. `exclusive`: in exclusive locking mode.
fn mid_transaction(dir: &Path, exclusive: bool) -> Connection {
    let path = dir.join("t.db");
    let conn = open_with_cache(&path, "FULL", 20);
    if exclusive {
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE")
            .unwrap();
    }
    let tx = conn.unchecked_transaction().unwrap();
    for id in 0..300 {
        insert(&tx, id, 500);
    }
    tx.commit().unwrap();
    // Checkpointed: the transaction's pages come from the database file, or from the log if it
    // spilled them (gathered or not).
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for id in 300..400 {
        insert(&tx, id, 500);
    }
    tx.commit().unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for id in 400..700 {
        insert(&conn, id, 500);
    }
    assert!(full_disk::gathered(&conn) > 0, "nothing gathered");
    conn
}

/// Each row as it was inserted, `count` of them: in the files a crash would leave while `conn` is
/// open, then in the database once it is closed.
fn assert_rows(dir: &Path, conn: Connection, count: usize, case: &str) {
    let path = dir.join("t.db");
    let (_copy, copied) = crash_copy(&path);
    drop(conn);
    for (what, reader) in [
        (
            "the files a crash leaves",
            Connection::open(&copied).unwrap(),
        ),
        ("the database", Connection::open(&path).unwrap()),
    ] {
        let integrity: String = reader
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "{case}: {what}");
        let stored = rows(&reader);
        assert_eq!(stored.len(), count, "{case}: {what}");
        for (id, k, v) in stored {
            assert!(!k.ends_with('x'), "{case}: {what}, row {id}");
            assert_eq!(v, value(id, 500), "{case}: {what}, row {id}");
        }
    }
}

/// A transaction with frames gathered ends on a full disk, committing (its commit's write fails)
/// or rolling back (the gathered frames cannot be written when SQLite lets go of the log's write
/// lock): they are let go of, never written later over another writer's frames. In exclusive
/// locking mode (no other writer, no shared-memory locks) they may stay gathered, and reads of
/// committed frames go on working meanwhile.
#[test]
fn a_transaction_ending_on_a_full_disk_leaves_nothing_to_write_later() {
    for (end, exclusive) in [("COMMIT", false), ("ROLLBACK", false), ("ROLLBACK", true)] {
        let case = format!("{end}, exclusive: {exclusive}");
        let dir = tempfile::tempdir().unwrap();
        let conn = mid_transaction(dir.path(), exclusive);
        full_disk::set(Some(dir.path()));
        let ended = conn.execute_batch(end);
        assert_eq!(ended.is_ok(), end == "ROLLBACK", "{case}: {ended:?}");
        assert!(conn.is_autocommit(), "{case}");
        if exclusive {
            let committed: (i64, i64) = conn
                .query_row(
                    "SELECT count(*), sum(length(v)) FROM t WHERE id BETWEEN 300 AND 399",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(committed, (100, 50_000), "{case}");
        } else {
            // Another writer (on another thread, whose disk is not full) commits where the
            // ended transaction's frames would have gone.
            let path = dir.path().join("t.db");
            std::thread::spawn(move || {
                let other = Connection::open(&path).unwrap();
                for id in 1000..1050 {
                    insert(&other, id, 500);
                }
            })
            .join()
            .unwrap();
        }
        // This thread's disk frees up, and the connection is used again.
        full_disk::set(None);
        let expected = if exclusive { 400 } else { 450 };
        assert_eq!(rows(&conn).len(), expected, "{case}");
        insert(&conn, 2000, 500);
        assert_rows(dir.path(), conn, expected + 1, &case);
    }
    assert_each_commit_written_before_published();
}

/// A read of gathered frames (a page the transaction spilled, read back) that cannot write them
/// first fails, and they stay gathered: SQLite fails only that statement, and the transaction
/// may go on to commit. Reads of committed frames do not need them, and go on working. Once the
/// disk frees up, they are written, and the commit holds every row.
/// (Which pages SQLite reads back depends on its cache, so the read is made here directly, through
/// the log's own methods.)
#[test]
fn gathered_frames_a_failed_read_could_not_write_are_kept_for_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let conn = mid_transaction(dir.path(), false);
    let file = full_disk::wal_file(&conn);
    let (at, len) = full_disk::gathered_range(&conn);
    let read = |offset: i64, buf: &mut [u8]| {
        // SAFETY: the connection's open log, read into a buffer of the length given.
        unsafe {
            let read = (*(*file).pMethods).xRead.unwrap();
            read(file, buf.as_mut_ptr().cast(), buf.len() as i32, offset)
        }
    };
    let mut page = vec![0u8; 4096.min(len)];
    full_disk::set(Some(dir.path()));
    // A committed frame (the log's first, past its 32-byte header) reads as ever.
    assert_eq!(read(32, &mut page), rusqlite::ffi::SQLITE_OK);
    assert_eq!(read(at, &mut page), rusqlite::ffi::SQLITE_FULL);
    assert_eq!(full_disk::gathered_range(&conn), (at, len), "kept");
    full_disk::set(None);
    assert_eq!(read(at, &mut page), rusqlite::ffi::SQLITE_OK);
    assert_eq!(full_disk::gathered(&conn), 0, "written");
    conn.execute_batch("COMMIT").unwrap();
    assert_rows(dir.path(), conn, 700, "committed");
    assert_each_commit_written_before_published();
}

/// A commit whose write fails once (the disk full for a moment) is reported failed, and never
/// reaches the file later: nothing of it comes back, live or after a crash.
#[test]
fn a_commit_that_failed_once_stays_failed() {
    for (synchronous, exclusive) in [("FULL", false), ("NORMAL", false), ("NORMAL", true)] {
        let case = format!("{synchronous}, exclusive: {exclusive}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path, synchronous);
        if exclusive {
            conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE")
                .unwrap();
        }
        for id in 0..20 {
            insert(&conn, id, 500);
        }
        conn.execute_batch("BEGIN").unwrap();
        for id in 100..120 {
            insert(&conn, id, 500);
        }
        full_disk::fail_next(dir.path(), 1);
        let commit = conn.execute_batch("COMMIT");
        full_disk::set(None);
        assert!(commit.is_err(), "{case}");
        assert!(conn.is_autocommit(), "{case}: rolled back");
        // The connection goes on (reads, a sync of nothing new), then a crash.
        assert_eq!(rows(&conn).len(), 20, "{case}");
        conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
            .unwrap();
        let (_copy, copied) = crash_copy(&path);
        assert_eq!(
            rows(&Connection::open(&copied).unwrap()).len(),
            20,
            "{case}"
        );
        drop(conn);
        assert_eq!(rows(&Connection::open(&path).unwrap()).len(), 20, "{case}");
    }
    assert_each_commit_written_before_published();
}
