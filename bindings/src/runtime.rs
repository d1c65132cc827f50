//! The one tokio runtime of the process, and the bridges from a foreign caller to it.
//!
//! The runtime is created on first use and lives until the process exits. Deliveries run on it in
//! the background; a blocking call ([`block_on`]) waits on the caller's thread, which the language
//! binding must first detach from its interpreter (Python: `py.detach`); an asynchronous call
//! ([`spawn_then`]) runs on the runtime and hands its outcome to a callback that must not block (it
//! queues the outcome for the language's event loop).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::runtime::{Builder, Runtime};

use crate::error::{BindingError, Result};

/// Most worker threads the runtime uses, whatever the number of cores.
pub const MAX_WORKER_THREADS: usize = 4;
/// Name of the runtime's threads (visible in `top -H`, debuggers and panics).
pub const THREAD_NAME: &str = "timehook-rt";

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The process's runtime, created on first use.
///
/// # Errors
/// `internal` if the runtime cannot be created (the operating system refused threads).
pub fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            let workers = std::thread::available_parallelism()
                .map_or(2, usize::from)
                .clamp(2, MAX_WORKER_THREADS);
            Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name(THREAD_NAME)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| BindingError::internal(format!("cannot start the timehook runtime: {e}")))
}

/// Runs `fut` to completion on the calling thread, within the runtime. Call it only from a
/// thread that is not a runtime thread and, in Python, with the GIL released.
///
/// # Errors
/// The future's own error, or `internal` if the runtime is unavailable or the caller is already
/// inside a runtime (blocking there would deadlock it).
pub fn block_on<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(BindingError::internal(
            "a blocking timehook call was made from inside an async runtime; use the async API there",
        ));
    }
    runtime()?.block_on(fut)
}

/// Runs `fut` on the runtime and passes its outcome to `done`, which runs on a runtime thread and
/// must return quickly without blocking (it should only queue the outcome for the caller's event
/// loop). A panic in `fut` reaches `done` as an `internal` error, so `done` is always called.
///
/// # Errors
/// `internal` if the runtime is unavailable; `done` is then not called.
pub fn spawn_then<T, F, D>(fut: F, done: D) -> Result<()>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    spawn_task_then(runtime()?, fut, done);
    Ok(())
}

/// A task started by [`start_polled_by`], polled by whoever its [`Poller`] hands it to.
pub trait Pollable: Send + Sync {
    /// Polls the task once (on the thread that runs it); a finished task ignores the call.
    fn poll(self: Arc<Self>);
}

/// Hands a task to the thread that polls it (Node: queues it for the JavaScript thread). It
/// must not poll the task itself: it may be called while the task is being polled.
pub type Poller = Arc<dyn Fn(Arc<dyn Pollable>) + Send + Sync>;

/// Runs `fut` with every poll on the thread `poller` hands it to, the first one at once on the
/// calling thread, within the runtime; `done` receives the outcome on the thread of the last
/// poll. For calls whose steps are short (one job): a Node `schedule` is polled on the
/// JavaScript thread, which hands the job to the store thread, and is polled again there when the
/// store answers, instead of through a runtime thread woken in between (waking a thread costs
/// tens of microseconds on a small VM). A panic reaches `done` as an `internal` error. If the
/// poller drops the task (its environment is going away), `done` is never called.
///
/// # Errors
/// `internal` if the runtime is unavailable; `done` is then not called.
pub fn start_polled_by<T, F, D>(fut: F, done: D, poller: Poller) -> Result<()>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    let task = Arc::new(Polled {
        slot: Mutex::new(Some((Box::pin(fut), done))),
        poller,
        runtime: runtime()?.handle().clone(),
    });
    task.poll();
    Ok(())
}

/// A future polled by its poller's thread, with what to do with its outcome.
struct Polled<F, D> {
    slot: Mutex<Option<(Pin<Box<F>>, D)>>,
    poller: Poller,
    runtime: tokio::runtime::Handle,
}

impl<T, F, D> Pollable for Polled<F, D>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    fn poll(self: Arc<Self>) {
        use std::task::{Context, Poll, Waker};
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((fut, _)) = slot.as_mut() else {
            return;
        };
        let waker = Waker::from(self.clone());
        let polled = {
            let _entered = self.runtime.enter();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                fut.as_mut().poll(&mut Context::from_waker(&waker))
            }))
        };
        let outcome = match polled {
            Ok(Poll::Pending) => return,
            Ok(Poll::Ready(outcome)) => outcome,
            Err(_) => Err(task_failed(true)),
        };
        let Some((_, done)) = slot.take() else {
            return;
        };
        drop(slot);
        done(outcome);
    }
}

impl<T, F, D> std::task::Wake for Polled<F, D>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    fn wake(self: Arc<Self>) {
        let poller = self.poller.clone();
        poller(self);
    }
}

fn task_failed(panicked: bool) -> BindingError {
    BindingError::internal(format!(
        "a timehook task failed: {}",
        if panicked {
            "it panicked"
        } else {
            "it was cancelled"
        }
    ))
}

fn spawn_task_then<T, F, D>(rt: &Runtime, fut: F, done: D)
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    let task = rt.spawn(fut);
    rt.spawn(async move {
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(e) => Err(task_failed(e.is_panic())),
        };
        done(outcome);
    });
}

/// Runs `fut` as a task of the runtime and waits for it, so that work which must run on the
/// runtime (deliveries started by `run_due` or `send_test`) does so whoever polls the caller's
/// future (a blocking call polls it from the language's thread). `what` names the operation in
/// the `internal` error of a task that panicked.
///
/// # Errors
/// The task's own error, or `internal` if the runtime is unavailable or the task failed.
pub async fn on_runtime<T: Send + 'static>(
    what: &str,
    fut: impl Future<Output = timehook::Result<T>> + Send + 'static,
) -> Result<T> {
    runtime()?
        .spawn(fut)
        .await
        .map_err(|e| BindingError::internal(format!("{what} failed: {e}")))?
        .map_err(BindingError::from)
}

/// Runs `f` with the runtime as the current one, so that code which spawns onto "the current
/// runtime" (such as `Scheduler::start`) uses it.
///
/// # Errors
/// `internal` if the runtime is unavailable.
pub fn within<T>(f: impl FnOnce() -> T) -> Result<T> {
    let _guard = runtime()?.enter();
    Ok(f())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn block_on_runs_and_reports_errors() {
        assert_eq!(block_on(async { Ok(41 + 1) }), Ok(42));
        let err = block_on(async { Err::<(), _>(BindingError::new(ErrorCode::NotFound, "x")) });
        assert_eq!(err.map_err(|e| e.code), Err(ErrorCode::NotFound));
    }

    #[test]
    fn block_on_refuses_to_run_inside_the_runtime() {
        let inner = runtime()
            .expect("runtime")
            .block_on(async { block_on(async { Ok(()) }) });
        assert_eq!(inner.map_err(|e| e.code), Err(ErrorCode::Internal));
    }

    #[test]
    fn spawn_then_always_calls_done_even_on_panic() {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx2 = tx.clone();
        spawn_then(async { Ok(7) }, move |r| tx.send(r).expect("send")).expect("spawn");
        spawn_then(
            async {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
                Ok(0)
            },
            move |r| tx2.send(r).expect("send"),
        )
        .expect("spawn");
        let mut got: Vec<_> = (0..2)
            .map(|_| {
                rx.recv_timeout(std::time::Duration::from_secs(5))
                    .expect("done called")
            })
            .collect();
        got.sort_by_key(|r| r.is_ok());
        assert_eq!(
            got[0].as_ref().map_err(|e| e.code),
            Err(ErrorCode::Internal)
        );
        assert_eq!(got[1], Ok(7));
    }

    /// A poller that queues tasks for the test's thread, as Node's queues them for its
    /// JavaScript thread, and the loop that runs them there.
    fn queue() -> (Poller, std::sync::mpsc::Receiver<Arc<dyn Pollable>>) {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<dyn Pollable>>();
        let tx = Mutex::new(tx);
        let poller: Poller = Arc::new(move |task| {
            let _ = tx.lock().expect("lock").send(task);
        });
        (poller, rx)
    }

    #[test]
    fn start_polled_by_polls_on_the_caller_then_on_the_pollers_thread() {
        let caller = std::thread::current().id();
        // Ready at its first poll: done runs at once, on the calling thread, within the runtime.
        let (poller, tasks) = queue();
        let (tx, rx) = std::sync::mpsc::channel();
        start_polled_by(
            async { Ok(tokio::runtime::Handle::try_current().is_ok()) },
            move |r| tx.send((r, std::thread::current().id())).expect("send"),
            poller,
        )
        .expect("start");
        let (in_runtime, done_on) = rx.try_recv().expect("done before start returned");
        assert_eq!((in_runtime, done_on), (Ok(true), caller));
        assert!(
            tasks.try_recv().is_err(),
            "a finished task is not polled again"
        );

        // Pending at its first poll: the value sent from another thread wakes it, the poller
        // queues it, and the next poll, on this thread, finishes it; no runtime thread polls it.
        for late in [false, true] {
            let (poller, tasks) = queue();
            let (first_tx, first_rx) = std::sync::mpsc::channel();
            let (value_tx, value_rx) = tokio::sync::oneshot::channel::<i32>();
            let (tx, rx) = std::sync::mpsc::channel();
            let sender = std::thread::spawn(move || {
                first_rx.recv().expect("first poll");
                if late {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                value_tx.send(5).expect("receiver alive");
            });
            start_polled_by(
                async move {
                    first_tx.send(()).expect("send");
                    let v = value_rx.await.expect("sent");
                    Ok((v + 1, std::thread::current().id()))
                },
                move |r| tx.send((r, std::thread::current().id())).expect("send"),
                poller,
            )
            .expect("start");
            let mut polls = 0;
            let got = loop {
                if let Ok(got) = rx.try_recv() {
                    break got;
                }
                let task = tasks
                    .recv_timeout(std::time::Duration::from_secs(5))
                    .expect("woken");
                polls += 1;
                task.poll();
            };
            assert_eq!(got, (Ok((6, caller)), caller), "late = {late}");
            assert!(polls >= 1, "late = {late}");
            sender.join().expect("sender");
            // Wakes after the end (here: none pending) find nothing to poll.
            while let Ok(task) = tasks.try_recv() {
                task.poll();
            }
            assert!(rx.try_recv().is_err(), "done called once");
        }

        // A panic in a poll reaches done as an internal error.
        let (poller, _tasks) = queue();
        let (tx, rx) = std::sync::mpsc::channel();
        start_polled_by(
            async {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
                Ok(0)
            },
            move |r| tx.send(r).expect("send"),
            poller,
        )
        .expect("start");
        assert_eq!(
            rx.try_recv().expect("done called").map_err(|e| e.code),
            Err(ErrorCode::Internal)
        );
    }

    #[test]
    fn within_makes_the_runtime_current() {
        let found = within(|| tokio::runtime::Handle::try_current().is_ok()).expect("runtime");
        assert!(found);
    }
}
