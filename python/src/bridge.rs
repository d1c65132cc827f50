//! Running a bindings future for Python: blocking (GIL released while waiting) or for asyncio
//! (the future runs on the bindings' runtime; its outcome is handed to the event loop).
//!
//! Asyncio outcomes go through one "completer" thread: it waits for finished operations without
//! the GIL, then takes the GIL once per batch and schedules `timehook._bridge.settle_many` on each
//! event loop with `call_soon_threadsafe`. Runtime threads never take the GIL, so deliveries never
//! wait for Python, and many completions cost one GIL hand-over instead of one each.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, channel};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyList, PyTuple};

use crate::errors::IntoPyErr;

/// Most outcomes settled under one GIL acquisition.
const MAX_BATCH: usize = 4096;
/// Name of the completer thread.
const COMPLETER_THREAD: &str = "timehook-asyncio";

/// An asyncio `(loop, future)` pair to complete.
pub type Waiter = (Py<PyAny>, Py<PyAny>);

type Settle = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

struct Completion {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    settle: Settle,
}

static COMPLETER: OnceLock<Option<Sender<Completion>>> = OnceLock::new();
static SETTLE_MANY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Runs `fut` and converts its value with `convert`. Without a waiter, blocks the calling thread
/// with the GIL released and returns the value. With one, returns `None` at once and completes
/// the asyncio future later.
pub fn run<T, F, C>(
    py: Python<'_>,
    waiter: Option<Waiter>,
    fut: F,
    convert: C,
) -> PyResult<Py<PyAny>>
where
    T: Send + 'static,
    F: Future<Output = timehook_bindings::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    match waiter {
        None => {
            let value = py
                .detach(move || timehook_bindings::block_on(fut))
                .map_err(IntoPyErr::into_py_err)?;
            convert(py, value)
        }
        Some((event_loop, future)) => {
            timehook_bindings::spawn_then(fut, move |outcome| {
                complete(Completion {
                    event_loop,
                    future,
                    settle: Box::new(move |py| match outcome {
                        Ok(value) => convert(py, value),
                        Err(e) => Err(e.into_py_err()),
                    }),
                });
            })
            .map_err(IntoPyErr::into_py_err)?;
            Ok(py.None())
        }
    }
}

fn complete(completion: Completion) {
    let sender = COMPLETER.get_or_init(|| {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name(COMPLETER_THREAD.into())
            .spawn(move || completer(&rx))
            .ok()
            .map(|_| tx)
    });
    let unsent = match sender {
        Some(tx) => tx.send(completion).err().map(|e| e.0),
        None => Some(completion),
    };
    // No completer thread could be started: settle here rather than never.
    if let Some(completion) = unsent {
        Python::attach(|py| settle_batch(py, vec![completion]));
    }
}

fn completer(rx: &Receiver<Completion>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        Python::attach(|py| settle_batch(py, batch));
    }
}

fn settle_batch(py: Python<'_>, batch: Vec<Completion>) {
    let settle_many = match SETTLE_MANY.import(py, "timehook._bridge", "settle_many") {
        Ok(f) => f.clone(),
        Err(e) => {
            e.write_unraisable(py, None);
            return;
        }
    };
    // One call_soon_threadsafe per event loop in the batch.
    let mut groups: Vec<(Py<PyAny>, Vec<Bound<'_, PyTuple>>)> = Vec::new();
    for c in batch {
        let (ok, value) = match (c.settle)(py) {
            Ok(v) => (true, v),
            Err(e) => (false, e.into_value(py).into_any()),
        };
        let item = match PyTuple::new(
            py,
            [
                c.future.into_bound(py),
                PyBool::new(py, ok).to_owned().into_any(),
                value.into_bound(py),
            ],
        ) {
            Ok(t) => t,
            Err(e) => {
                e.write_unraisable(py, None);
                continue;
            }
        };
        match groups.iter_mut().find(|(l, _)| l.is(&c.event_loop)) {
            Some((_, items)) => items.push(item),
            None => groups.push((c.event_loop, vec![item])),
        }
    }
    for (event_loop, items) in groups {
        let result = PyList::new(py, items).and_then(|list| {
            event_loop.call_method1(py, "call_soon_threadsafe", (&settle_many, list))
        });
        // A closed loop cannot take the outcome; nobody is waiting for it any more.
        drop(result);
    }
}
