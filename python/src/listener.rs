//! The two outcome streams that outlive a call: an in-process listener (`NativeListener`) and an
//! export read back in chunks (`NativeExport`).

use std::sync::{Mutex, PoisonError};

use pyo3::IntoPyObjectExt as _;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use timehook_bindings::{ExportStream, Listener, SchedulerHandle};

use crate::bridge::{self, Waiter};
use crate::errors::IntoPyErr;
use crate::records;

/// A function called with every event of some kinds, on a thread of its own (see
/// `Scheduler.add_listener`).
#[pyclass(module = "timehook._native", name = "NativeListener", frozen)]
pub struct NativeListener {
    inner: Listener,
}

/// Starts a listener that calls `callback` with each event's dict. The GIL is taken on the
/// listener's thread only for the calls, once for each batch of events waiting together, never by
/// delivery; an exception is reported through `sys.unraisablehook` and the listener goes on.
pub fn listen(
    handle: &SchedulerHandle,
    kinds: &[String],
    callback: Py<PyAny>,
) -> PyResult<NativeListener> {
    let inner = handle
        .listen(kinds, move |batch| {
            keep_thread_state();
            // While the interpreter shuts down there is nobody left to tell.
            Python::try_attach(|py| {
                // The batch ends early if a call stops the listener.
                for record in batch {
                    let called =
                        records::event_record(py, record).and_then(|e| callback.call1(py, (e,)));
                    if let Err(e) = called {
                        e.write_unraisable(py, Some(callback.bind(py)));
                    }
                }
            });
        })
        .map_err(IntoPyErr::into_py_err)?;
    Ok(NativeListener { inner })
}

thread_local! {
    /// Whether this listener thread holds a Python thread state of its own.
    static THREAD_STATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Gives the listener's thread a Python thread state that lasts as long as the thread, without
/// holding the GIL. Otherwise every event's `Python::try_attach` creates a thread state and
/// destroys it again, and CPython 3.11+ maps and unmaps its frame stack each time: an `munmap` per
/// event, whose TLB shootdowns interrupted the delivery threads too (a fifth of the listener's
/// samples, and Python delivered at 79 % of Rust's rate). Each event then only takes the GIL.
fn keep_thread_state() {
    if THREAD_STATE.get() {
        return;
    }
    // Not while the interpreter is missing or stopping (where `try_attach` below gives up too).
    if Python::try_attach(|_| ()).is_none() {
        return;
    }
    // SAFETY: the interpreter is initialized and this thread holds no GIL and no PyO3 attach
    // (the call above has returned): `PyGILState_Ensure` creates the thread's state and takes the
    // GIL, and `PyEval_SaveThread` releases the GIL while keeping the state, which the thread's
    // later `PyGILState_Ensure` calls (PyO3's attach) find and reuse. The state is never
    // released: the interpreter frees it when it finalizes.
    #[allow(unsafe_code)]
    unsafe {
        pyo3::ffi::PyGILState_Ensure();
        pyo3::ffi::PyEval_SaveThread();
    }
    THREAD_STATE.set(true);
}

#[pymethods]
impl NativeListener {
    /// Stops calling the function (after the call in progress, if any).
    fn stop(&self) {
        self.inner.stop();
    }

    /// Whether the listener has stopped (told to, or its scheduler closed).
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// Events skipped because the function fell more than 1024 events behind.
    #[getter]
    fn skipped(&self) -> u64 {
        self.inner.skipped()
    }
}

/// An export in progress, read chunk by chunk (see `Scheduler.export_attempts`).
#[pyclass(module = "timehook._native", name = "NativeExport", frozen)]
pub struct NativeExport {
    stream: Mutex<Option<ExportStream>>,
}

impl NativeExport {
    /// Wraps a started export.
    pub fn new(stream: ExportStream) -> Self {
        NativeExport {
            stream: Mutex::new(Some(stream)),
        }
    }
}

fn chunk(py: Python<'_>, chunk: Option<Vec<u8>>) -> PyResult<Py<PyAny>> {
    chunk.map(|c| PyBytes::new(py, &c)).into_py_any(py)
}

#[pymethods]
impl NativeExport {
    /// The next chunk of bytes, or `None` once the export is complete (or closed).
    #[pyo3(signature = (waiter=None))]
    fn next_chunk(&self, py: Python<'_>, waiter: Option<Waiter>) -> PyResult<Py<PyAny>> {
        let next = self
            .stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(ExportStream::next_chunk);
        match next {
            Some(fut) => bridge::run(py, waiter, fut, chunk),
            None => bridge::run(py, waiter, async { Ok(None) }, chunk),
        }
    }

    /// Rows exported; final once `next_chunk` has returned None (0 after `close`).
    #[getter]
    fn rows(&self) -> u64 {
        self.stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, ExportStream::rows)
    }

    /// Stops the export (a reader that gives up early frees it at once).
    fn close(&self) {
        drop(
            self.stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}
