//! Group commit above the store: requests that arrive while one batch is being written are written
//! together as the next batch, by one of their own callers. No task of its own is needed, so it
//! works on whatever runtime the callers run on.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// What a caller waiting in a batch is told.
enum Reply<I, O> {
    /// Its request was written; here is its result.
    Done(O),
    /// The batch before it is written: it writes the next one, starting with its own request
    /// (given back).
    Lead(I),
}

struct State<I, O> {
    queue: Vec<(I, oneshot::Sender<Reply<I, O>>)>,
    /// Whether a caller is writing a batch now. One at a time: on PostgreSQL, writing two
    /// batches at once (each on a connection of its own) delivered less, not more, than writing
    /// one while the next gathers.
    writing: bool,
}

/// Batches requests of type `I` into writes that return one `O` per request.
pub(crate) struct Batcher<I, O> {
    state: Mutex<State<I, O>>,
}

impl<I, O> Default for Batcher<I, O> {
    fn default() -> Self {
        Batcher {
            state: Mutex::new(State {
                queue: Vec::new(),
                writing: false,
            }),
        }
    }
}

impl<I, O> Batcher<I, O> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<I, O>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `item` with whatever else is waiting, through `write` (which gets the batch's items
    /// in order and returns their results in the same order). `None` if the caller writing the
    /// batch that held `item` went away before it was written (dropped); then nothing of it was
    /// written, as far as this batcher knows, and the caller may submit it again.
    pub(crate) async fn submit<F, Fut>(&self, item: I, write: F) -> Option<O>
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let (reply, mut answer) = oneshot::channel();
        let lead = {
            let mut state = self.state();
            state.queue.push((item, reply));
            !std::mem::replace(&mut state.writing, true)
        };
        if !lead {
            match answer.await {
                Ok(Reply::Done(out)) => return Some(out),
                Ok(Reply::Lead(item)) => {
                    let (reply, again) = oneshot::channel();
                    self.state().queue.insert(0, (item, reply));
                    answer = again;
                }
                Err(_) => return None,
            }
        }
        // Leading: write one batch (it holds this caller's item), then hand over to the first
        // caller still waiting, if any (when `leading` is dropped, also if this future is).
        let leading = Leading(self);
        let batch = std::mem::take(&mut self.state().queue);
        let (items, replies): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
        let outs = write(items).await;
        for (reply, out) in replies.into_iter().zip(outs) {
            let _ = reply.send(Reply::Done(out));
        }
        drop(leading);
        match answer.await {
            Ok(Reply::Done(out)) => Some(out),
            _ => None,
        }
    }
}

/// The batch writer's turn: handed over to the next waiting caller when it ends, also when the
/// writer is dropped halfway (its batch's callers then get `None`).
struct Leading<'a, I, O>(&'a Batcher<I, O>);

impl<I, O> Drop for Leading<'_, I, O> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        while !state.queue.is_empty() {
            let (item, reply) = state.queue.remove(0);
            // The first caller still waiting writes the next batch; one that went away takes its
            // request with it.
            if reply.send(Reply::Lead(item)).is_ok() {
                return;
            }
        }
        state.writing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_writes_and_each_gets_its_own_result() {
        let batcher: Arc<Batcher<usize, usize>> = Arc::default();
        let writes = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (batcher, writes) = (batcher.clone(), writes.clone());
            tasks.push(tokio::spawn(async move {
                batcher
                    .submit(i, |items| {
                        let writes = writes.clone();
                        async move {
                            writes.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            items.into_iter().map(|i| i * 10).collect()
                        }
                    })
                    .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Some(i * 10));
        }
        let writes = writes.load(Ordering::SeqCst);
        assert!(
            (1..200).contains(&writes),
            "{writes} writes for 200 requests"
        );
        assert!(!batcher.state().writing);
    }

    #[tokio::test]
    async fn a_writer_dropped_halfway_hands_over_and_its_batch_may_retry() {
        let batcher: Arc<Batcher<usize, usize>> = Arc::default();
        let (started, wait) = oneshot::channel::<()>();
        let started = std::sync::Mutex::new(Some(started));
        let b = batcher.clone();
        let stuck = tokio::spawn(async move {
            b.submit(1, |_| {
                if let Some(s) = started.lock().unwrap().take() {
                    let _ = s.send(());
                }
                std::future::pending::<Vec<usize>>()
            })
            .await
        });
        wait.await.unwrap();
        let b = batcher.clone();
        let waiting = tokio::spawn(async move { b.submit(2, |items| async move { items }).await });
        tokio::task::yield_now().await;
        stuck.abort();
        assert!(stuck.await.is_err());
        assert_eq!(
            waiting.await.unwrap(),
            Some(2),
            "the waiting caller took over"
        );
        assert!(!batcher.state().writing);
    }
}
