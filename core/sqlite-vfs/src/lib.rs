//! A SQLite VFS that writes each WAL frame with one system call, over bytes the log file
//! already has.
//!
//! SQLite appends a commit to its write-ahead log one frame at a time, and each frame with two
//! writes: its 24-byte header, then the page. This VFS is SQLite's default one (`unix` on Linux)
//! with two changes to WAL files:
//!
//! - A new frame's header is held until its page comes (SQLite writes the page next, in the same
//!   call that wrote the header), and the two are written together: one `pwrite` a frame instead
//!   of two. Only a 24-byte write where the next frame starts (after the last byte this handle
//!   wrote, on a frame boundary of the log's page size) is held. Anything else (a header written
//!   over an earlier one: SQLite rewrites checksums in place; a page written over its frame; the
//!   rest of a page split around a sync) goes straight through, and any other operation on the
//!   file writes the held header first. So nothing is held between two frames, past a commit, or
//!   past a rolled-back transaction.
//! - The file grows ahead of the frames, in steps of zeros, so most commits write over bytes it
//!   has already and their `fdatasync` has no new file size to record (PostgreSQL zero-fills its
//!   WAL segments ahead for the same reason). SQLite reads a log only up to its first invalid
//!   frame; zeros never make one, just as the stale frames of a log restarted from its beginning
//!   (SQLite's own steady state) do not. The zeros start where the frame just written ends: the
//!   writer's own frames are the end of the log, so nothing any connection may read is written
//!   over, even when another process has grown the file since this handle last saw its size.
//!
//! Database files, journals and the shared-memory index go straight to the default VFS, untouched.
//! What SQLite writes reaches the disk byte for byte, in the same order relative to every sync. A
//! failed write is reported by the call that made it (for a held header, by its page's write);
//! growing ahead is only a saving, and a failure there is not an error.
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

/// The most zeros written with one call when the file grows (the default VFS writes at most
/// 128 KiB - 1 bytes a call: it takes the low 17 bits of a write's length).
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
    /// A new frame's header and its offset, until its page comes.
    held: Option<([u8; FRAME_HEADER], i64)>,
    /// Where the next new frame starts, as far as this handle knows: the end of what it wrote
    /// since the log last (re)started. A header written there is a new frame's.
    next_frame: i64,
    /// The file's size as far as this handle knows: grown ahead by [`GROW_BY`], set by its
    /// truncations.
    size: i64,
    /// The database's page size, from the log's header (written or read by this handle), once
    /// known: frames start every `page_size + 24` bytes after the header.
    page_size: Option<i64>,
    /// A header and its page, put together for one write.
    frame: Vec<u8>,
}

/// Where the default VFS's file starts within ours (aligned for any C struct).
const INNER_OFFSET: usize = std::mem::size_of::<WalFile>().next_multiple_of(16);

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
    // other than a WAL is the default VFS's own, at the same address, and never seen by us again.
    unsafe {
        let real = real(vfs);
        let Some(real_open) = (*real).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
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
        let mut size = 0;
        if let Some(file_size) = (*(*inner).pMethods).xFileSize {
            // Unknown, it is taken as empty: the file then grows from its real end, written over.
            if file_size(inner, &mut size) != ffi::SQLITE_OK {
                size = 0;
            }
        }
        file.cast::<WalFile>().write(WalFile {
            base: ffi::sqlite3_file {
                pMethods: &WAL_METHODS,
            },
            inner,
            held: None,
            next_frame: 0,
            size,
            page_size: None,
            frame: Vec::new(),
        });
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
/// one thread at a time.
unsafe fn wal<'a>(file: *mut ffi::sqlite3_file) -> (&'a mut WalFile, &'a ffi::sqlite3_io_methods) {
    // SAFETY: as the function's contract says; the default VFS's methods live as long as it.
    unsafe {
        let w = &mut *file.cast::<WalFile>();
        let methods = &*(*w.inner).pMethods;
        (w, methods)
    }
}

/// Writes the held header, if any.
///
/// # Safety
/// As [`wal`].
unsafe fn flush(w: &mut WalFile, methods: &ffi::sqlite3_io_methods) -> c_int {
    let Some((header, offset)) = w.held.take() else {
        return ffi::SQLITE_OK;
    };
    // SAFETY: as this function's.
    unsafe { write_through(w, methods, &header, offset) }
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
    tests::WAL_WRITES.with(|n| n.set(n.get() + 1));
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

/// The page size a WAL header records (bytes 8..12, big-endian; 65,536 is recorded as 1).
fn page_size(header: &[u8]) -> Option<i64> {
    let field = u32::from_be_bytes(header.get(8..12)?.try_into().ok()?);
    match field {
        1 => Some(65_536),
        512..=32_768 if field.is_power_of_two() => Some(i64::from(field)),
        _ => None,
    }
}

/// Whether a frame starts at `offset`: only there may a 24-byte write be a frame's header (the
/// rest of a page that SQLite split around a sync may be 24 bytes too). The page size comes from
/// the log's header, read once if this handle did not write it; unknown, nothing is held.
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
        if let Some((header, at)) = w.held.take() {
            if offset == at + FRAME_HEADER as i64 && len > 0 {
                // The held header's page: the frame in one write.
                let mut frame = std::mem::take(&mut w.frame);
                frame.clear();
                frame.extend_from_slice(&header);
                frame.extend_from_slice(bytes);
                let rc = write_through(w, methods, &frame, at);
                w.frame = frame;
                return rc;
            }
            let rc = write_through(w, methods, &header, at);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if len == FRAME_HEADER && offset == w.next_frame && frame_starts_at(w, methods, offset) {
            // A new frame's header, at the end of the log: held for its page.
            let mut header = [0; FRAME_HEADER];
            header.copy_from_slice(bytes);
            w.held = Some((header, offset));
            return ffi::SQLITE_OK;
        }
        write_through(w, methods, bytes, offset)
    }
}

/// Forwards a method to the default VFS's file, after writing the held header.
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

after_flush!(wal_read, xRead, (buf: *mut c_void, amount: c_int, offset: i64));
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
    // SAFETY: SQLite passes our file, and never uses it again after this.
    unsafe {
        let (w, methods) = wal(file);
        let flushed = flush(w, methods);
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
