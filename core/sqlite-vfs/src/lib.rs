//! A SQLite VFS that writes a commit's WAL frames with one system call, over bytes the log file
//! already has.
//!
//! SQLite appends a transaction to its write-ahead log one frame at a time, and each frame with
//! two writes: its 24-byte header, then the page. This VFS is SQLite's default one (`unix` on
//! Linux) with two changes to WAL files:
//!
//! - New frames are gathered and written together, up to the commit: a one-job commit of four
//!   frames is one `pwrite` instead of eight. Only writes that append to the log are gathered: a
//!   24-byte write where the next frame starts (on a frame boundary of the log's page size), then
//!   its page. The gathered bytes are written
//!   - with the page of a commit frame (its header says so), before SQLite publishes the commit
//!     in the shared index, so another connection never reads a frame that is not on the file;
//!   - before any other write (SQLite rewriting a frame in place, a header or a page split around
//!     a sync), so the file sees every write in SQLite's order;
//!   - before any other operation on the log (a read of them, a sync, a truncation, a lock,
//!     closing);
//!   - before any lock or unlock of the database file or of its shared index: a transaction that
//!     spilled frames and rolled back releases the log's write lock that way, and its frames are
//!     written before another writer may append over them;
//!   - and whenever they reach the most the default VFS writes in one call.
//!
//!   The log is linked to its database's file for this (`sqlite3_database_file_object`). Where it
//!   cannot be, a frame is written as soon as its page comes, still one write a frame.
//! - The file grows ahead of the frames, in steps of zeros, so most commits write over bytes it
//!   has already and their `fdatasync` has no new file size to record (PostgreSQL zero-fills its
//!   WAL segments ahead for the same reason). SQLite reads a log only up to its first invalid
//!   frame; zeros never make one, just as the stale frames of a log restarted from its beginning
//!   (SQLite's own steady state) do not. The zeros start where the bytes just written end: the
//!   writer's own frames are the end of the log, so nothing any connection may read is written
//!   over, even when another process has grown the file since this handle last saw its size.
//!
//! Journals and the shared-memory index go straight to the default VFS, untouched; database files
//! are forwarded method for method. What SQLite writes reaches the file byte for byte, in the same
//! order, and before every sync. A failed write is reported by the call that wrote it (for
//! gathered frames, by the commit frame's page, or by the operation that wrote them first). If
//! that call was a write to the log, SQLite's transaction is over and what was gathered is let
//! go of (a commit that failed never reaches the file later); otherwise it stays gathered, and
//! every later operation that needs it fails until it is written, the commit among them. Growing
//! ahead is only a saving, and a failure there is not an error.
//!
//! [`register`] installs the VFS once per process and returns its name, for
//! `rusqlite::Connection::open_with_flags_and_vfs`.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name the VFS is registered under.
pub const VFS_NAME: &str = "timehook-wal";
const VFS_CNAME: &CStr = c"timehook-wal";

/// The size of a WAL frame's header; SQLite writes each one on its own, before the frame's page.
const FRAME_HEADER: usize = 24;

/// The size of the header at the start of a WAL file, written when the log (re)starts.
const WAL_HEADER: usize = 32;

/// The most bytes written with one call. The default VFS writes at most 128 KiB - 1 bytes a call
/// (it takes the low 17 bits of a write's length, and reports a disk full when that leaves
/// nothing), so gathered frames are written before they would pass this.
const MAX_WRITE: usize = 0x1_ffff;

/// The most zeros written with one call when the file grows.
const ZERO_RUN: usize = 64 * 1024;

/// A WAL file grows in steps of this size, written with zeros ahead of the frames (see the crate's
/// documentation). On the machine the benchmarks ran on, an `fdatasync` that also records a new
/// file size took 1.5-2x as long as one over bytes the file had (~190 against ~130 µs); a step
/// makes one sync in about 250 single-job commits write 1 MiB more (~650 µs for that sync).
pub const GROW_BY: i64 = 1 << 20;

/// Zeros to grow a WAL file with, one write's worth.
static ZEROS: [u8; ZERO_RUN] = [0; ZERO_RUN];

/// An open WAL file: SQLite's handle, then the default VFS's own file, which this forwards to.
#[repr(C)]
struct WalFile {
    /// What SQLite sees (its `pMethods` point to [`WAL_METHODS`]). First, so that a pointer to the
    /// `sqlite3_file` is a pointer to this.
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the same allocation, after this struct.
    inner: *mut ffi::sqlite3_file,
    /// The database's file, which writes what this gathered before each of its locks; null if
    /// the log could not be linked to it (then a frame is written as soon as its page comes).
    db: *mut DbFile,
    /// New frames gathered for one write, starting at `gathered_at`: whole frames, then perhaps
    /// one more frame's header.
    gathered: Vec<u8>,
    /// Where the gathered bytes go in the file.
    gathered_at: i64,
    /// The last gathered header's page, to come next: its offset, and whether the frame is a
    /// commit's last (then the gathered bytes are written with the page).
    page_due: Option<(i64, bool)>,
    /// Where the next new frame starts, as far as this handle knows: the end of what it wrote or
    /// gathered since the log last (re)started. A header written there is a new frame's.
    next_frame: i64,
    /// The file's size as far as this handle knows: grown ahead by [`GROW_BY`], set by its
    /// truncations.
    size: i64,
    /// The database's page size, from the log's header (written or read by this handle), once
    /// known: frames start every `page_size + 24` bytes after the header.
    page_size: Option<i64>,
    /// Whether a commit frame's header is among the gathered bytes (tests check that none is when
    /// SQLite publishes a commit).
    #[cfg(test)]
    commit_gathered: bool,
}

impl WalFile {
    /// Where the gathered bytes end in the file.
    fn gathered_end(&self) -> i64 {
        self.gathered_at + self.gathered.len() as i64
    }
}

/// An open main database file: SQLite's handle, then the default VFS's own file, which this
/// forwards to.
#[repr(C)]
struct DbFile {
    /// What SQLite sees (its `pMethods` point into [`DB_METHODS`]). First, as in [`WalFile`].
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the same allocation, after this struct.
    inner: *mut ffi::sqlite3_file,
    /// The database's WAL while it is open (linked by its open, unlinked by its close).
    wal: *mut WalFile,
}

/// Where the default VFS's file starts within ours (aligned for any C struct).
const INNER_OFFSET: usize = if std::mem::size_of::<WalFile>() > std::mem::size_of::<DbFile>() {
    std::mem::size_of::<WalFile>()
} else {
    std::mem::size_of::<DbFile>()
}
.next_multiple_of(16);

/// Installs the VFS (once per process) and returns its name. The default VFS stays the default.
pub fn register() -> Result<&'static str, String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_initialize` and `sqlite3_vfs_find` are safe to call at any time;
            // the pointer they return is the default VFS, which lives as long as the process.
            let real = unsafe {
                let rc = ffi::sqlite3_initialize();
                if rc != ffi::SQLITE_OK {
                    return Err(format!("SQLite failed to initialise ({rc})"));
                }
                ffi::sqlite3_vfs_find(std::ptr::null())
            };
            if real.is_null() {
                return Err("SQLite has no default VFS".to_owned());
            }
            // SAFETY: `real` points to a registered VFS, valid for the process's lifetime.
            let (version, size, path_max) =
                unsafe { ((*real).iVersion, (*real).szOsFile, (*real).mxPathname) };
            let size = c_int::try_from(INNER_OFFSET)
                .ok()
                .and_then(|offset| offset.checked_add(size))
                .ok_or("the default VFS's files are too large")?;
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                iVersion: version.min(2),
                szOsFile: size,
                mxPathname: path_max,
                pNext: std::ptr::null_mut(),
                zName: VFS_CNAME.as_ptr(),
                pAppData: real.cast(),
                xOpen: Some(open),
                xDelete: Some(delete),
                xAccess: Some(access),
                xFullPathname: Some(full_pathname),
                xDlOpen: Some(dl_open),
                xDlError: Some(dl_error),
                xDlSym: Some(dl_sym),
                xDlClose: Some(dl_close),
                xRandomness: Some(randomness),
                xSleep: Some(sleep),
                xCurrentTime: Some(current_time),
                xGetLastError: Some(get_last_error),
                xCurrentTimeInt64: Some(current_time_int64),
                xSetSystemCall: None,
                xGetSystemCall: None,
                xNextSystemCall: None,
            }));
            // SAFETY: `vfs` is leaked, so it outlives every connection; its methods forward to
            // the default VFS with the default VFS's own pointer.
            let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(format!("SQLite refused the VFS ({rc})"))
            }
        })
        .clone()
        .map(|()| VFS_NAME)
}

/// The default VFS, which ours wraps.
///
/// # Safety
/// `vfs` is ours (registered by [`register`]).
unsafe fn real(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: our VFS keeps the default VFS in its `pAppData`.
    unsafe { (*vfs).pAppData.cast() }
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives us `szOsFile` bytes at `file`, at least the default VFS's; a file
    // other than a database or a WAL is the default VFS's own, at the same address, and never
    // seen by us again.
    unsafe {
        let real = real(vfs);
        let Some(real_open) = (*real).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let wal = flags & ffi::SQLITE_OPEN_WAL != 0;
        if !wal && flags & ffi::SQLITE_OPEN_MAIN_DB == 0 {
            return real_open(real, name, file, flags, out_flags);
        }
        let inner = file
            .cast::<u8>()
            .add(INNER_OFFSET)
            .cast::<ffi::sqlite3_file>();
        let rc = real_open(real, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // SQLite closes a file only if its methods are set.
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        if !wal {
            // The same methods as the default VFS's file has (version 3, with shared memory and
            // memory maps, on Linux).
            let version = (*(*inner).pMethods).iVersion.clamp(1, 3);
            file.cast::<DbFile>().write(DbFile {
                base: ffi::sqlite3_file {
                    pMethods: &DB_METHODS[version as usize - 1],
                },
                inner,
                wal: std::ptr::null_mut(),
            });
            return ffi::SQLITE_OK;
        }
        let mut size = 0;
        if let Some(file_size) = (*(*inner).pMethods).xFileSize {
            // Unknown, it is taken as empty: the file then grows from its real end, written over.
            if file_size(inner, &mut size) != ffi::SQLITE_OK {
                size = 0;
            }
        }
        // The database's file, if it is ours: SQLite opens a log only for a database it has open,
        // and closes the log first. `name` must be the one SQLite passed (the pager's, which
        // `sqlite3_database_file_object` reads back from): a VFS stacked over this one has to
        // pass it on unchanged.
        let mut db = ffi::sqlite3_database_file_object(name).cast::<DbFile>();
        if db.is_null() || !is_ours((*db).base.pMethods) || !(*db).wal.is_null() {
            db = std::ptr::null_mut();
        }
        let w = file.cast::<WalFile>();
        w.write(WalFile {
            base: ffi::sqlite3_file {
                pMethods: &WAL_METHODS,
            },
            inner,
            db,
            gathered: Vec::new(),
            gathered_at: 0,
            page_due: None,
            next_frame: 0,
            size,
            page_size: None,
            #[cfg(test)]
            commit_gathered: false,
        });
        if !db.is_null() {
            (*db).wal = w;
        }
        ffi::SQLITE_OK
    }
}

/// The methods of a WAL file.
static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(wal_close),
    xRead: Some(wal_read),
    xWrite: Some(wal_write),
    xTruncate: Some(wal_truncate),
    xSync: Some(wal_sync),
    xFileSize: Some(wal_file_size),
    xLock: Some(wal_lock),
    xUnlock: Some(wal_unlock),
    xCheckReservedLock: Some(wal_check_reserved_lock),
    xFileControl: Some(wal_file_control),
    xSectorSize: Some(wal_sector_size),
    xDeviceCharacteristics: Some(wal_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// Our WAL file behind SQLite's handle, and the default VFS's methods for its own.
///
/// # Safety
/// `file` was opened by [`open`] as a WAL file and not closed; SQLite calls a file's methods from
/// one thread at a time (a log's and its database's from the same one).
unsafe fn wal<'a>(file: *mut ffi::sqlite3_file) -> (&'a mut WalFile, &'a ffi::sqlite3_io_methods) {
    // SAFETY: as the function's contract says; the default VFS's methods live as long as it.
    unsafe {
        let w = &mut *file.cast::<WalFile>();
        let methods = &*(*w.inner).pMethods;
        (w, methods)
    }
}

/// Writes the gathered frames, if any, in writes of at most [`MAX_WRITE`] bytes. Whatever a
/// failed write leaves unwritten stays gathered: SQLite was told it was written (a frame its
/// transaction may still commit, if the operation that failed was not a write: a read fails only
/// its statement), so it is written before anything that depends on it, or each such operation
/// fails too, the commit among them. It is let go of when a write to the log fails (see
/// [`let_go`]), and when SQLite lets go of the log's write lock (see [`db_shm_lock`]).
///
/// # Safety
/// As [`wal`].
unsafe fn flush(w: &mut WalFile, methods: &ffi::sqlite3_io_methods) -> c_int {
    w.page_due = None;
    if w.gathered.is_empty() {
        return ffi::SQLITE_OK;
    }
    let gathered = std::mem::take(&mut w.gathered);
    let mut written = 0;
    let mut rc = ffi::SQLITE_OK;
    for chunk in gathered.chunks(MAX_WRITE) {
        // SAFETY: as this function's.
        rc = unsafe { write_through(w, methods, chunk, w.gathered_at + written as i64) };
        if rc != ffi::SQLITE_OK {
            break;
        }
        written += chunk.len();
    }
    w.gathered = gathered;
    w.gathered.drain(..written);
    w.gathered_at += written as i64;
    #[cfg(test)]
    if w.gathered.is_empty() {
        w.commit_gathered = false;
    }
    rc
}

/// Lets go of the gathered frames. SQLite writes a log only while it appends a transaction's frames
/// (`walFrames`), and a failed write there ends the transaction: a spill puts the pager in its
/// error state, a commit rolls back. So when a write to the log fails, nothing gathered is needed
/// any more, and a commit frame among it must never reach the file later: a crash would recover
/// the transaction SQLite said had failed. (One path relies on SQLite's documented rules instead:
/// a backup into a database whose commit fails leaves the transaction open until
/// `sqlite3_backup_finish` rolls it back, and the destination must not be used in between.)
fn let_go(w: &mut WalFile) {
    w.gathered.clear();
    w.page_due = None;
    #[cfg(test)]
    {
        w.commit_gathered = false;
    }
}

/// Writes `bytes` at `offset` with the default VFS, then notes where the log's frames end and
/// grows the file ahead if they reach past its end.
///
/// # Safety
/// As [`wal`].
unsafe fn write_through(
    w: &mut WalFile,
    methods: &ffi::sqlite3_io_methods,
    bytes: &[u8],
    offset: i64,
) -> c_int {
    let Some(write) = methods.xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let Ok(amount) = c_int::try_from(bytes.len()) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    #[cfg(test)]
    {
        tests::WAL_WRITES.with(|n| n.set(n.get() + 1));
        tests::WAL_LONGEST_WRITE.with(|n| n.set(n.get().max(bytes.len())));
    }
    // SAFETY: the default VFS's own file and method; `bytes` is readable.
    let rc = unsafe { write(w.inner, bytes.as_ptr().cast(), amount, offset) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let end = offset + bytes.len() as i64;
    if offset == 0 && bytes.len() == WAL_HEADER {
        // The log starts again from its beginning.
        w.next_frame = end;
        w.page_size = page_size(bytes);
    } else {
        w.next_frame = w.next_frame.max(end);
    }
    if end > w.size {
        // SAFETY: as this function's.
        unsafe { grow(w, write, end) };
    }
    ffi::SQLITE_OK
}

/// Grows the file with zeros from `end`, where the bytes just written end, to the next multiple
/// of [`GROW_BY`]. SQLite writes a WAL only while it holds the log's write lock, and only at or
/// before the end of the log, so nothing any connection may read lies past `end` (another
/// process may have written frames since this handle last saw the file's size, never past the
/// writer's own). Only a saving: if it fails (a full disk), the file grows by the frames' own
/// writes, which report their errors.
///
/// # Safety
/// As [`wal`]; `write` is the default VFS's method for `w.inner`.
unsafe fn grow(w: &mut WalFile, write: Write, end: i64) {
    let target = (end / GROW_BY + 1) * GROW_BY;
    let mut at = end;
    w.size = end;
    while at < target {
        let len = (target - at).min(ZERO_RUN as i64);
        // SAFETY: the default VFS's own file and method; `ZEROS` holds at least `len` bytes.
        if unsafe { write(w.inner, ZEROS.as_ptr().cast(), len as c_int, at) } != ffi::SQLITE_OK {
            return;
        }
        at += len;
        w.size = at;
    }
}

/// The page size a WAL header records (bytes 8..12, big-endian, as a whole number: unlike the
/// database's header, which records 65,536 as 1).
fn page_size(header: &[u8]) -> Option<i64> {
    let field = u32::from_be_bytes(header.get(8..12)?.try_into().ok()?);
    (field.is_power_of_two() && (512..=65_536).contains(&field)).then_some(i64::from(field))
}

/// Whether a frame's header marks the last frame of a commit (bytes 4..8, the database's size in
/// pages after the commit, are not zero).
fn ends_commit(header: &[u8]) -> bool {
    header.get(4..8).is_some_and(|size| size != [0; 4])
}

/// Whether a frame starts at `offset`: only there may a 24-byte write be a frame's header (the
/// rest of a page that SQLite split around a sync may be 24 bytes too). The page size comes from
/// the log's header, read once if this handle did not write it; unknown, nothing is gathered.
///
/// # Safety
/// As [`wal`].
unsafe fn frame_starts_at(w: &mut WalFile, methods: &ffi::sqlite3_io_methods, offset: i64) -> bool {
    if w.page_size.is_none()
        && w.size >= WAL_HEADER as i64
        && let Some(read) = methods.xRead
    {
        let mut header = [0u8; WAL_HEADER];
        // SAFETY: the default VFS's own file and method, into a buffer of the length given.
        let rc = unsafe { read(w.inner, header.as_mut_ptr().cast(), WAL_HEADER as c_int, 0) };
        if rc == ffi::SQLITE_OK {
            w.page_size = page_size(&header);
        }
    }
    let header = WAL_HEADER as i64;
    w.page_size.is_some_and(|page| {
        offset >= header && (offset - header) % (page + FRAME_HEADER as i64) == 0
    })
}

/// The default VFS's `xWrite`.
type Write = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, i64) -> c_int;

unsafe extern "C" fn wal_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes our file and `amount` readable bytes at `buf`.
    unsafe {
        let (w, methods) = wal(file);
        let Ok(len) = usize::try_from(amount) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let bytes = if len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(buf.cast::<u8>(), len)
        };
        if let Some((page_at, commit)) = w.page_due.take()
            && offset == page_at
            && w.page_size == Some(len as i64)
        {
            // The last gathered header's page. The frames go to the file with a commit's last
            // page, or now if the log is not linked to its database, or if one more frame would
            // make them more than one write.
            w.gathered.extend_from_slice(bytes);
            w.next_frame = offset + len as i64;
            if commit || w.db.is_null() || w.gathered.len() + FRAME_HEADER + len > MAX_WRITE {
                let rc = flush(w, methods);
                if rc != ffi::SQLITE_OK {
                    let_go(w);
                }
                return rc;
            }
            return ffi::SQLITE_OK;
        }
        if len == FRAME_HEADER
            && offset == w.next_frame
            && (w.gathered.is_empty() || offset == w.gathered_end())
            && frame_starts_at(w, methods, offset)
        {
            // A new frame's header, at the end of the log: gathered, its page due next.
            if w.gathered.is_empty() {
                w.gathered_at = offset;
            }
            w.gathered.extend_from_slice(bytes);
            w.page_due = Some((offset + FRAME_HEADER as i64, ends_commit(bytes)));
            #[cfg(test)]
            {
                w.commit_gathered |= ends_commit(bytes);
            }
            w.next_frame = offset + FRAME_HEADER as i64;
            return ffi::SQLITE_OK;
        }
        // Any other write: what was gathered goes first, in SQLite's order.
        let rc = flush(w, methods);
        if rc != ffi::SQLITE_OK {
            let_go(w);
            return rc;
        }
        let rc = write_through(w, methods, bytes, offset);
        if rc != ffi::SQLITE_OK {
            let_go(w);
        }
        rc
    }
}

/// Forwards a method to the default VFS's file, after writing the gathered frames.
macro_rules! after_flush {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite passes our file; the arguments go on unchanged.
            unsafe {
                let (w, methods) = wal(file);
                let rc = flush(w, methods);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                match methods.$method {
                    Some(f) => f(w.inner, $($arg),*),
                    None => ffi::SQLITE_MISUSE,
                }
            }
        }
    };
}

/// A read of the log. Only a read of gathered bytes (a page spilled earlier in the transaction)
/// needs them written first; a read of committed frames never waits for them, nor fails because
/// they cannot be written.
unsafe extern "C" fn wal_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes our file and `amount` writable bytes at `buf`.
    unsafe {
        let (w, methods) = wal(file);
        if !w.gathered.is_empty()
            && offset < w.gathered_end()
            && offset + i64::from(amount) > w.gathered_at
        {
            let rc = flush(w, methods);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        match methods.xRead {
            Some(read) => read(w.inner, buf, amount, offset),
            None => ffi::SQLITE_MISUSE,
        }
    }
}

after_flush!(wal_sync, xSync, (flags: c_int));
after_flush!(wal_file_size, xFileSize, (size: *mut i64));
after_flush!(wal_lock, xLock, (level: c_int));
after_flush!(wal_unlock, xUnlock, (level: c_int));
after_flush!(wal_check_reserved_lock, xCheckReservedLock, (out: *mut c_int));
after_flush!(wal_file_control, xFileControl, (op: c_int, arg: *mut c_void));

unsafe extern "C" fn wal_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    // SAFETY: SQLite passes our file.
    unsafe {
        let (w, methods) = wal(file);
        let rc = flush(w, methods);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let Some(truncate) = methods.xTruncate else {
            return ffi::SQLITE_MISUSE;
        };
        let rc = truncate(w.inner, size);
        if rc == ffi::SQLITE_OK {
            w.size = size;
        }
        rc
    }
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes our file, and never uses it again after this; its database's file,
    // if linked, is still open (SQLite closes a log before its database).
    unsafe {
        let (w, methods) = wal(file);
        let flushed = flush(w, methods);
        if !w.db.is_null() {
            (*w.db).wal = std::ptr::null_mut();
        }
        let closed = match methods.xClose {
            Some(close) => close(w.inner),
            None => ffi::SQLITE_OK,
        };
        std::ptr::drop_in_place(file.cast::<WalFile>());
        (*file).pMethods = std::ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

unsafe extern "C" fn wal_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes our file.
    unsafe {
        let (w, methods) = wal(file);
        methods.xSectorSize.map_or(4096, |f| f(w.inner))
    }
}

unsafe extern "C" fn wal_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes our file.
    unsafe {
        let (w, methods) = wal(file);
        methods.xDeviceCharacteristics.map_or(0, |f| f(w.inner))
    }
}

/// The methods of a database file, by the version of the default VFS's (1, 2 with shared memory,
/// 3 with memory maps).
static DB_METHODS: [ffi::sqlite3_io_methods; 3] = [db_methods(1), db_methods(2), db_methods(3)];

/// Whether `methods` are a database file's of ours.
fn is_ours(methods: *const ffi::sqlite3_io_methods) -> bool {
    DB_METHODS.iter().any(|ours| std::ptr::eq(ours, methods))
}

const fn db_methods(version: c_int) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: version,
        xClose: Some(db_close),
        xRead: Some(db_read),
        xWrite: Some(db_write),
        xTruncate: Some(db_truncate),
        xSync: Some(db_sync),
        xFileSize: Some(db_file_size),
        xLock: Some(db_lock),
        xUnlock: Some(db_unlock),
        xCheckReservedLock: Some(db_check_reserved_lock),
        xFileControl: Some(db_file_control),
        xSectorSize: Some(db_sector_size),
        xDeviceCharacteristics: Some(db_device_characteristics),
        xShmMap: if version >= 2 { Some(db_shm_map) } else { None },
        xShmLock: if version >= 2 {
            Some(db_shm_lock)
        } else {
            None
        },
        xShmBarrier: if version >= 2 {
            Some(db_shm_barrier)
        } else {
            None
        },
        xShmUnmap: if version >= 2 {
            Some(db_shm_unmap)
        } else {
            None
        },
        xFetch: if version >= 3 { Some(db_fetch) } else { None },
        xUnfetch: if version >= 3 { Some(db_unfetch) } else { None },
    }
}

/// Our database file behind SQLite's handle, and the default VFS's methods for its own.
///
/// # Safety
/// `file` was opened by [`open`] as a main database file and not closed; SQLite calls a file's
/// methods from one thread at a time.
unsafe fn db<'a>(file: *mut ffi::sqlite3_file) -> (&'a mut DbFile, &'a ffi::sqlite3_io_methods) {
    // SAFETY: as the function's contract says; the default VFS's methods live as long as it.
    unsafe {
        let d = &mut *file.cast::<DbFile>();
        let methods = &*(*d.inner).pMethods;
        (d, methods)
    }
}

/// Writes the frames the database's log gathered, if it is open.
///
/// # Safety
/// As [`db`].
unsafe fn flush_wal(d: &mut DbFile) -> c_int {
    if d.wal.is_null() {
        return ffi::SQLITE_OK;
    }
    // SAFETY: a linked log is open (its close unlinks it), and used from this thread.
    unsafe {
        let (w, methods) = wal(d.wal.cast());
        flush(w, methods)
    }
}

/// Forwards a method to the default VFS's file; `flush` first writes the frames the log gathered
/// (a lock taken or let go may let another connection write where they go).
macro_rules! db_forward {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            // SAFETY: SQLite passes our file; the arguments go on unchanged.
            unsafe {
                let (d, methods) = db(file);
                match methods.$method {
                    Some(f) => f(d.inner, $($arg),*),
                    None => $missing,
                }
            }
        }
    };
    ($name:ident, $method:ident, flush, $unlock:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite passes our file; the arguments go on unchanged.
            unsafe {
                let (d, methods) = db(file);
                let flushed = flush_wal(d);
                let Some(f) = methods.$method else {
                    return ffi::SQLITE_MISUSE;
                };
                // A lock is not taken after a failed write; a lock is let go whatever happened.
                if flushed != ffi::SQLITE_OK && !$unlock {
                    return flushed;
                }
                let rc = f(d.inner, $($arg),*);
                if rc != ffi::SQLITE_OK { rc } else { flushed }
            }
        }
    };
}

db_forward!(db_read, xRead, (buf: *mut c_void, amount: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_READ);
db_forward!(db_write, xWrite, (buf: *const c_void, amount: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_WRITE);
db_forward!(db_truncate, xTruncate, (size: i64) -> c_int, ffi::SQLITE_IOERR_TRUNCATE);
db_forward!(db_sync, xSync, (flags: c_int) -> c_int, ffi::SQLITE_IOERR_FSYNC);
db_forward!(db_file_size, xFileSize, (size: *mut i64) -> c_int, ffi::SQLITE_IOERR_FSTAT);
db_forward!(db_check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
db_forward!(db_file_control, xFileControl, (op: c_int, arg: *mut c_void) -> c_int, ffi::SQLITE_NOTFOUND);
db_forward!(db_sector_size, xSectorSize, () -> c_int, 4096);
db_forward!(db_device_characteristics, xDeviceCharacteristics, () -> c_int, 0);
db_forward!(db_shm_map, xShmMap, (region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP);
db_forward!(db_fetch, xFetch, (offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_OK);
db_forward!(db_unfetch, xUnfetch, (offset: i64, page: *mut c_void) -> c_int, ffi::SQLITE_OK);
db_forward!(db_lock, xLock, flush, false, (level: c_int));
db_forward!(db_unlock, xUnlock, flush, true, (level: c_int));
db_forward!(db_shm_unmap, xShmUnmap, flush, true, (delete: c_int));

/// The shared index's locks. The log's gathered frames are written first: a lock taken or let go
/// may let another connection write where they go. If they cannot be written when SQLite lets go
/// of the log's write lock (lock 0), they are let go of: a commit's frames were all written with
/// its last page, so these are a rolled-back transaction's, which nothing reads.
unsafe extern "C" fn db_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: SQLite passes our file; a linked log is open.
    unsafe {
        let (d, methods) = db(file);
        let Some(lock) = methods.xShmLock else {
            return ffi::SQLITE_MISUSE;
        };
        let flushed = flush_wal(d);
        if flushed != ffi::SQLITE_OK {
            if flags & ffi::SQLITE_SHM_UNLOCK == 0 {
                return flushed;
            }
            if offset == 0 {
                let_go(&mut *d.wal);
            }
        }
        let rc = lock(d.inner, offset, n, flags);
        if rc != ffi::SQLITE_OK { rc } else { flushed }
    }
}

/// SQLite's memory barrier on the shared index, between the two copies of its header: a writer
/// publishes a commit here, a reader starts a transaction. A commit's frames were written with
/// its last page, so none is gathered (tests count any that is); what may be (a rolled-back
/// transaction's frames, with no lock let go in exclusive locking mode) is written now too. A
/// barrier reports no error: what a failed write leaves stays gathered for the next operation.
unsafe extern "C" fn db_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite passes our file; a linked log is open.
    unsafe {
        let (d, methods) = db(file);
        #[cfg(test)]
        if !d.wal.is_null() && (*d.wal).commit_gathered {
            tests::PUBLISHED_WITH_GATHERED.with(|n| n.set(n.get() + 1));
        }
        let _ = flush_wal(d);
        if let Some(barrier) = methods.xShmBarrier {
            barrier(d.inner);
        }
    }
}

unsafe extern "C" fn db_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes our file, and never uses it again after this.
    unsafe {
        let (d, methods) = db(file);
        let flushed = flush_wal(d);
        if !d.wal.is_null() {
            (*d.wal).db = std::ptr::null_mut();
        }
        let closed = match methods.xClose {
            Some(close) => close(d.inner),
            None => ffi::SQLITE_OK,
        };
        (*file).pMethods = std::ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Forwards a method of the VFS itself to the default VFS.
macro_rules! forward {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs, $($arg: $ty),*) -> $ret {
            // SAFETY: SQLite passes our VFS; the arguments go on unchanged.
            unsafe {
                let real = real(vfs);
                match (*real).$method {
                    Some(f) => f(real, $($arg),*),
                    None => $missing,
                }
            }
        }
    };
}

forward!(delete, xDelete, (name: *const c_char, sync_dir: c_int) -> c_int, ffi::SQLITE_IOERR_DELETE);
forward!(access, xAccess, (name: *const c_char, flags: c_int, out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_ACCESS);
forward!(full_pathname, xFullPathname, (name: *const c_char, size: c_int, out: *mut c_char) -> c_int, ffi::SQLITE_CANTOPEN);
forward!(dl_open, xDlOpen, (name: *const c_char) -> *mut c_void, std::ptr::null_mut());
forward!(dl_error, xDlError, (size: c_int, out: *mut c_char) -> (), ());
forward!(dl_close, xDlClose, (handle: *mut c_void) -> (), ());
forward!(randomness, xRandomness, (size: c_int, out: *mut c_char) -> c_int, 0);
forward!(sleep, xSleep, (micros: c_int) -> c_int, 0);
forward!(current_time, xCurrentTime, (out: *mut f64) -> c_int, ffi::SQLITE_ERROR);
forward!(get_last_error, xGetLastError, (size: c_int, out: *mut c_char) -> c_int, 0);
forward!(current_time_int64, xCurrentTimeInt64, (out: *mut i64) -> c_int, ffi::SQLITE_ERROR);

/// A symbol of a loaded extension (the default VFS's answer).
type Symbol = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

unsafe extern "C" fn dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Symbol {
    // SAFETY: SQLite passes our VFS; the arguments go on unchanged.
    unsafe {
        let real = real(vfs);
        match (*real).xDlSym {
            Some(f) => f(real, handle, symbol),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests;
