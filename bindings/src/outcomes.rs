//! Outcomes as plain types: subscriptions, endpoint health, dead-letter filters, export queries
//! and formats, in-process events, and the two bridges a language needs to consume them without
//! blocking delivery: a [`Listener`] thread and an [`ExportStream`] of chunks.

use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use timehook::{
    DeadLetterFilter, Endpoint, Event, EventType, ExportFilter, ExportFormat, JobState, Outcome,
    Subscription,
};
use tokio::sync::{Notify, broadcast};

use crate::data::{AttemptRecord, EpochMs, ms};
use crate::error::{BindingError, ErrorCode, Result};
use crate::jobs::{instant, parse_job_id};
use crate::runtime;

/// The name of [`EventRecord::kind`] for an attempt (every attempt, callbacks' included).
pub const ATTEMPT_EVENT: &str = "attempt";

/// Every kind a listener can ask for: [`ATTEMPT_EVENT`] and the event types.
pub const LISTENER_EVENTS: [&str; 6] = [
    ATTEMPT_EVENT,
    "job.completed",
    "job.failed",
    "job.timed_out",
    "job.retrying",
    "endpoint.disabled",
];

/// The outcome of one attempt, as callbacks and subscription events report it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRecord {
    /// The job.
    pub job_id: String,
    /// The job's name.
    pub job_name: Option<String>,
    /// The execution (`webhook-id`).
    pub execution_id: String,
    /// `success`, `failure`, `error` or `timeout`.
    pub status: &'static str,
    /// When the attempt was sent.
    pub executed_at_ms: EpochMs,
    /// The response status; `None` when no answer came.
    pub response_code: Option<u16>,
    /// How long the attempt took.
    pub response_time_ms: u64,
    /// The first 1 KB of the response body.
    pub response_body: Option<String>,
    /// What went wrong.
    pub error_message: Option<String>,
    /// 0 for the first attempt of the execution.
    pub retry_attempt: u32,
    /// When the next attempt is due; `None` when no retry follows.
    pub next_retry_at_ms: Option<EpochMs>,
}

impl From<Outcome> for OutcomeRecord {
    fn from(o: Outcome) -> Self {
        OutcomeRecord {
            job_id: o.job_id.to_string(),
            job_name: o.job_name,
            execution_id: o.execution_id.to_string(),
            status: o.status.as_str(),
            executed_at_ms: ms(o.executed_at),
            response_code: o.response_code,
            response_time_ms: o.response_time_ms,
            response_body: o.response_body,
            error_message: o.error_message,
            retry_attempt: o.retry_attempt,
            next_retry_at_ms: o.next_retry_at.map(ms),
        }
    }
}

/// A persistent event subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    /// `sub_...`.
    pub id: String,
    /// Where events go.
    pub url: String,
    /// Which events, by wire name (`job.completed`, ...).
    pub events: Vec<&'static str>,
    /// When it was created.
    pub created_at_ms: EpochMs,
}

impl From<Subscription> for SubscriptionRecord {
    fn from(s: Subscription) -> Self {
        SubscriptionRecord {
            id: s.id,
            url: s.url,
            events: s.events.iter().map(|e| e.as_str()).collect(),
            created_at_ms: ms(s.created_at),
        }
    }
}

/// The health of one endpoint (`scheme://host:port`).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRecord {
    /// `scheme://host:port`.
    pub origin: String,
    /// Since when every attempt has failed; `None` while healthy.
    pub failing_since_ms: Option<EpochMs>,
    /// Failed attempts since then.
    pub failures: u32,
    /// When it was disabled; its jobs are held until it is enabled again.
    pub disabled_at_ms: Option<EpochMs>,
}

impl From<Endpoint> for EndpointRecord {
    fn from(e: Endpoint) -> Self {
        EndpointRecord {
            origin: e.origin,
            failing_since_ms: e.failing_since.map(ms),
            failures: e.failures,
            disabled_at_ms: e.disabled_at.map(ms),
        }
    }
}

/// An in-process event. `kind` says which of the other fields is set: [`ATTEMPT_EVENT`] sets
/// `attempt` and `job_state`; `endpoint.disabled` sets `endpoint`; the `job.*` kinds set `outcome`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// One of [`LISTENER_EVENTS`].
    pub kind: &'static str,
    /// The attempt, for [`ATTEMPT_EVENT`].
    pub attempt: Option<AttemptRecord>,
    /// The job's state after the attempt, for [`ATTEMPT_EVENT`].
    pub job_state: Option<&'static str>,
    /// What happened, for `job.*` events.
    pub outcome: Option<OutcomeRecord>,
    /// The endpoint, for `endpoint.disabled`.
    pub endpoint: Option<EndpointRecord>,
}

impl EventRecord {
    fn empty(kind: &'static str) -> Self {
        EventRecord {
            kind,
            attempt: None,
            job_state: None,
            outcome: None,
            endpoint: None,
        }
    }

    /// The record of a core event, or `None` for a kind this version does not know.
    pub fn from_event(event: Event) -> Option<Self> {
        Some(match event {
            Event::Attempt { attempt, state } => EventRecord {
                attempt: Some(attempt.into()),
                job_state: Some(state.as_str()),
                ..EventRecord::empty(ATTEMPT_EVENT)
            },
            Event::Job { event, outcome } => EventRecord {
                outcome: Some(outcome.into()),
                ..EventRecord::empty(event.as_str())
            },
            Event::EndpointDisabled(endpoint) => EventRecord {
                endpoint: Some(endpoint.into()),
                ..EventRecord::empty(EventType::EndpointDisabled.as_str())
            },
            _ => return None,
        })
    }
}

/// Parses subscription event types (`job.completed`, ...).
///
/// # Errors
/// `invalid_job` (field `events`) naming the unknown type and listing the known ones.
pub fn parse_event_types(names: &[String]) -> Result<Vec<EventType>> {
    names
        .iter()
        .map(|n| Ok(EventType::from_str(n.trim())?))
        .collect()
}

/// Parses one event type for `send_test`.
///
/// # Errors
/// `invalid_job` (field `events`) for an unknown type.
pub fn parse_event_type(name: &str) -> Result<EventType> {
    Ok(EventType::from_str(name.trim())?)
}

/// Checks listener kinds: [`LISTENER_EVENTS`], or `*` for all. Returns them deduplicated; an
/// empty list means all.
///
/// # Errors
/// `invalid_config` (detail `event`) naming the unknown kind.
pub fn parse_listener_kinds(names: &[String]) -> Result<Vec<&'static str>> {
    let mut kinds = Vec::new();
    for name in names {
        let name = name.trim();
        if name == "*" {
            return Ok(Vec::new());
        }
        let kind = LISTENER_EVENTS
            .iter()
            .find(|k| **k == name)
            .ok_or_else(|| BindingError {
                code: ErrorCode::InvalidConfig,
                message: format!(
                    "unknown event {name:?}; expected one of {} or \"*\"",
                    LISTENER_EVENTS.join(", ")
                ),
                detail: Some("event".to_owned()),
            })?;
        if !kinds.contains(kind) {
            kinds.push(*kind);
        }
    }
    Ok(kinds)
}

/// Which dead letters (failed jobs, failed cron occurrences) to retry or purge. All conditions
/// must hold; none at all means every dead letter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeadLetterQuery {
    /// Failed at or after this instant.
    pub failed_after_ms: Option<EpochMs>,
    /// Failed before this instant.
    pub failed_before_ms: Option<EpochMs>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying this label.
    pub label: Option<String>,
    /// Only this job.
    pub job: Option<String>,
}

impl DeadLetterQuery {
    /// The core filter.
    ///
    /// # Errors
    /// `invalid_job` naming the field, for a bad time or id, or a window that ends before it starts.
    pub fn into_filter(self) -> Result<DeadLetterFilter> {
        let time = |field: &str, ms: Option<EpochMs>| ms.map(|ms| instant(field, ms)).transpose();
        let mut filter = DeadLetterFilter::default();
        filter.failed_after = time("since", self.failed_after_ms)?;
        filter.failed_before = time("until", self.failed_before_ms)?;
        filter.name = self.name;
        filter.label = self.label;
        filter.job = self.job.as_deref().map(parse_job_id).transpose()?;
        if let (Some(a), Some(b)) = (filter.failed_after, filter.failed_before)
            && b < a
        {
            return Err(BindingError::invalid_job(
                "until",
                format!("{b} is before since ({a}); the window would be empty"),
            ));
        }
        Ok(filter)
    }
}

/// Which attempts to export. All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportQuery {
    /// Attempts started at or after this instant.
    pub since_ms: Option<EpochMs>,
    /// Attempts started before this instant.
    pub until_ms: Option<EpochMs>,
    /// Only this job's attempts.
    pub job: Option<String>,
    /// Only attempts of jobs now in this state.
    pub state: Option<String>,
}

impl ExportQuery {
    /// The core filter.
    ///
    /// # Errors
    /// `invalid_job` naming the field, for a bad time, id or state.
    pub fn into_filter(self) -> Result<ExportFilter> {
        let time = |field: &str, ms: Option<EpochMs>| ms.map(|ms| instant(field, ms)).transpose();
        let mut filter = ExportFilter::default();
        filter.since = time("since", self.since_ms)?;
        filter.until = time("until", self.until_ms)?;
        filter.job = self.job.as_deref().map(parse_job_id).transpose()?;
        filter.state = self
            .state
            .as_deref()
            .map(|s| JobState::from_str(s.trim()))
            .transpose()?;
        Ok(filter)
    }
}

/// Parses an export format: `csv`, or `jsonl` (also `jsonlines`, `ndjson`).
///
/// # Errors
/// `invalid_config` (detail `format`) naming the value.
pub fn parse_export_format(text: &str) -> Result<ExportFormat> {
    match text.trim().to_ascii_lowercase().as_str() {
        "csv" => Ok(ExportFormat::Csv),
        "jsonl" | "jsonlines" | "ndjson" => Ok(ExportFormat::JsonLines),
        _ => Err(BindingError {
            code: ErrorCode::InvalidConfig,
            message: format!("{text:?} is not an export format; expected \"csv\" or \"jsonl\""),
            detail: Some("format".to_owned()),
        }),
    }
}

/// Limits for one endpoint, in place of the per-host defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointLimitInput {
    /// `scheme://host:port`, or any URL on it.
    pub endpoint: String,
    /// Most requests in flight at once.
    pub max_in_flight: u64,
    /// Most requests started per second.
    pub per_second: Option<f64>,
}

/// The most events a listener's thread takes from the channel at once: the events already
/// waiting when it wakes, handed to the language's function together, so a language pays its own
/// per-call cost (Python's taking the GIL) once per batch rather than once per event.
pub const LISTENER_BATCH: usize = 256;

/// The events a listener's thread took at once, in the order they happened. As an iterator it
/// ends early once the listener is stopped, so a function that stops its own listener is not
/// called with the rest.
#[derive(Debug)]
pub struct EventBatch<'a> {
    records: std::vec::Drain<'a, EventRecord>,
    stopped: &'a AtomicBool,
}

impl Iterator for EventBatch<'_> {
    type Item = EventRecord;

    fn next(&mut self) -> Option<EventRecord> {
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        self.records.next()
    }

    /// At most the events left; none, once the listener is stopped (which may happen at any time).
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.records.len()))
    }
}

/// A running listener: a thread of its own that receives the scheduler's events and calls the
/// language's function with each batch of them (the events waiting when it wakes, at most
/// [`LISTENER_BATCH`]), so a slow function only delays later events for itself and never holds up
/// delivery. A listener that falls more than 1024 events behind skips the oldest
/// ([`skipped`](Self::skipped) counts them). It ends at [`stop`](Self::stop), when dropped, or when
/// the scheduler closes.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<Notify>,
    stopped: Arc<AtomicBool>,
    skipped: Arc<AtomicU64>,
}

impl Listener {
    pub(crate) fn spawn<F>(
        rx: broadcast::Receiver<Event>,
        kinds: Vec<&'static str>,
        call: F,
    ) -> Result<Listener>
    where
        F: FnMut(EventBatch<'_>) + Send + 'static,
    {
        let wanted = move |event: Event| {
            EventRecord::from_event(event)
                .filter(|record| kinds.is_empty() || kinds.contains(&record.kind))
        };
        Listener::spawn_with(rx, wanted, call)
    }

    /// [`spawn`](Self::spawn) for a channel of any message, `wanted` turning each into the record
    /// the function gets (or `None` to pass it over).
    fn spawn_with<T, W, F>(
        mut rx: broadcast::Receiver<T>,
        wanted: W,
        mut call: F,
    ) -> Result<Listener>
    where
        T: Clone + Send + 'static,
        W: Fn(T) -> Option<EventRecord> + Send + 'static,
        F: FnMut(EventBatch<'_>) + Send + 'static,
    {
        let rt = runtime::runtime()?;
        let stop = Arc::new(Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        let skipped = Arc::new(AtomicU64::new(0));
        let (stop2, stopped2, skipped2) = (stop.clone(), stopped.clone(), skipped.clone());
        std::thread::Builder::new()
            .name("timehook-listener".to_owned())
            .spawn(move || {
                let mut batch = Vec::with_capacity(LISTENER_BATCH);
                let mut open = true;
                while open {
                    let next = rt.block_on(async {
                        tokio::select! {
                            biased;
                            () = stop2.notified() => None,
                            r = rx.recv() => Some(r),
                        }
                    });
                    match next {
                        None | Some(Err(broadcast::error::RecvError::Closed)) => break,
                        Some(Err(broadcast::error::RecvError::Lagged(n))) => {
                            skipped2.fetch_add(n, Ordering::Relaxed);
                        }
                        Some(Ok(event)) => batch.extend(wanted(event)),
                    }
                    // Whatever else is waiting already joins the batch. Events of other kinds
                    // count too, so a wanted one never waits behind a flood of them.
                    let mut taken = 1;
                    while taken < LISTENER_BATCH {
                        match rx.try_recv() {
                            Ok(event) => {
                                taken += 1;
                                batch.extend(wanted(event));
                            }
                            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                skipped2.fetch_add(n, Ordering::Relaxed);
                            }
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(broadcast::error::TryRecvError::Closed) => {
                                open = false;
                                break;
                            }
                        }
                    }
                    if !batch.is_empty() && !stopped2.load(Ordering::Acquire) {
                        call(EventBatch {
                            records: batch.drain(..),
                            stopped: &stopped2,
                        });
                    }
                    batch.clear();
                    if stopped2.load(Ordering::Acquire) {
                        break;
                    }
                }
                stopped2.store(true, Ordering::Release);
            })
            .map_err(|e| BindingError::internal(format!("cannot start a listener thread: {e}")))?;
        Ok(Listener {
            stop,
            stopped,
            skipped,
        })
    }

    /// Stops the listener: its function is not called again once the call in progress (if any)
    /// returns. Safe to call from the listener's own function, and more than once.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.stop.notify_one();
    }

    /// Whether the listener has stopped (or was told to).
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Events skipped because the listener fell too far behind.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Chunks of an export in progress, read one at a time by the language (which writes them to a
/// file object or a stream at its own pace). The export runs on a runtime blocking thread and waits
/// while the reader is [`CHUNKS_AHEAD`] chunks behind, so memory stays bounded. Dropping the stream
/// stops the export.
#[derive(Debug)]
pub struct ExportStream {
    rx: Arc<Mutex<mpsc::Receiver<Result<Vec<u8>>>>>,
    rows: Arc<AtomicU64>,
}

/// Size of an export chunk, in bytes (about).
pub const CHUNK_SIZE: usize = 64 * 1024;
/// How many chunks an export may run ahead of its reader.
pub const CHUNKS_AHEAD: usize = 4;

struct ChunkWriter(mpsc::SyncSender<Result<Vec<u8>>>);

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(Ok(buf.to_vec()))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "export abandoned"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ExportStream {
    pub(crate) fn start<F, Fut>(export: F) -> Result<ExportStream>
    where
        F: FnOnce(Box<dyn Write + Send>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<u64>>,
    {
        let rt = runtime::runtime()?;
        let (tx, rx) = mpsc::sync_channel(CHUNKS_AHEAD);
        let errors = tx.clone();
        let rows = Arc::new(AtomicU64::new(0));
        let counted = rows.clone();
        rt.spawn_blocking(move || {
            let out = std::io::BufWriter::with_capacity(CHUNK_SIZE, ChunkWriter(tx));
            match rt.block_on(export(Box::new(out))) {
                // Stored before `errors` (the last sender) is dropped, so a reader that has seen
                // the end sees the count.
                Ok(n) => counted.store(n, Ordering::Release),
                // The reader may be gone already; then nobody needs the error.
                Err(e) => drop(errors.send(Err(e))),
            }
        });
        Ok(ExportStream {
            rx: Arc::new(Mutex::new(rx)),
            rows,
        })
    }

    /// Rows exported; final once [`next_chunk`](Self::next_chunk) has returned `None`.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Acquire)
    }

    /// The next chunk, or `None` once the export is complete. Waits on a runtime blocking thread.
    ///
    /// # Errors
    /// The export's error (`store_error`, ...), after which the stream is finished.
    pub fn next_chunk(
        &self,
    ) -> impl std::future::Future<Output = Result<Option<Vec<u8>>>> + Send + 'static {
        let rx = self.rx.clone();
        async move {
            let rt = runtime::runtime()?;
            rt.spawn_blocking(move || {
                let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                rx.recv().ok().transpose()
            })
            .await
            .map_err(|e| BindingError::internal(format!("export reader failed: {e}")))?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(10);

    fn disabled(i: usize) -> EventRecord {
        EventRecord {
            endpoint: Some(EndpointRecord {
                origin: format!("http://h{i}:80"),
                failing_since_ms: None,
                failures: 1,
                disabled_at_ms: None,
            }),
            ..EventRecord::empty("endpoint.disabled")
        }
    }

    /// A channel holding events `0..n`, sent before anyone listens, and its receiver.
    fn waiting(
        capacity: usize,
        n: usize,
    ) -> (
        broadcast::Sender<EventRecord>,
        broadcast::Receiver<EventRecord>,
    ) {
        let (tx, rx) = broadcast::channel(capacity);
        for i in 0..n {
            tx.send(disabled(i)).unwrap();
        }
        (tx, rx)
    }

    /// A listener that reports each batch as the origins' numbers.
    fn batches(rx: broadcast::Receiver<EventRecord>) -> (Listener, Receiver<Vec<usize>>) {
        let (out, got) = mpsc::channel();
        let listener = Listener::spawn_with(rx, Some, move |batch| {
            let numbers = batch
                .map(|r| {
                    let origin = r.endpoint.unwrap().origin;
                    origin["http://h".len()..origin.len() - ":80".len()]
                        .parse()
                        .unwrap()
                })
                .collect();
            out.send(numbers).unwrap();
        })
        .unwrap();
        (listener, got)
    }

    #[test]
    fn events_waiting_together_come_in_one_batch_in_order() {
        let (tx, rx) = waiting(1024, 600);
        let (listener, got) = batches(rx);
        let sizes: Vec<Vec<usize>> = (0..3).map(|_| got.recv_timeout(WAIT).unwrap()).collect();
        assert_eq!(
            sizes.iter().map(Vec::len).collect::<Vec<_>>(),
            [LISTENER_BATCH, LISTENER_BATCH, 600 - 2 * LISTENER_BATCH]
        );
        assert_eq!(sizes.concat(), (0..600).collect::<Vec<_>>());
        // One sent while it waits comes alone.
        tx.send(disabled(600)).unwrap();
        assert_eq!(got.recv_timeout(WAIT).unwrap(), [600]);
        assert_eq!(listener.skipped(), 0);
    }

    #[test]
    fn events_of_other_kinds_count_toward_a_batch() {
        // Only every 100th event is wanted: a batch still ends after LISTENER_BATCH events taken,
        // so a wanted event never waits for the channel to run dry.
        let (_tx, rx) = waiting(1024, 600);
        let (out, got) = mpsc::channel();
        let wanted = |r: EventRecord| {
            let origin = &r.endpoint.as_ref().unwrap().origin;
            let i: usize = origin["http://h".len()..origin.len() - ":80".len()]
                .parse()
                .unwrap();
            (i % 100 == 0).then_some(r)
        };
        let _listener = Listener::spawn_with(rx, wanted, move |batch| {
            let origins: Vec<String> = batch.map(|r| r.endpoint.unwrap().origin).collect();
            out.send(origins).unwrap();
        })
        .unwrap();
        let first = got.recv_timeout(WAIT).unwrap();
        let second = got.recv_timeout(WAIT).unwrap();
        assert_eq!(first, ["http://h0:80", "http://h100:80", "http://h200:80"]);
        assert_eq!(
            second,
            ["http://h300:80", "http://h400:80", "http://h500:80"]
        );
    }

    #[test]
    fn a_listener_behind_the_channel_skips_the_oldest_and_counts_them() {
        let (_tx, rx) = waiting(16, 40);
        let (listener, got) = batches(rx);
        assert_eq!(
            got.recv_timeout(WAIT).unwrap(),
            (24..40).collect::<Vec<_>>()
        );
        assert_eq!(listener.skipped(), 24);
    }

    #[test]
    fn a_function_that_stops_its_listener_mid_batch_is_not_called_again() {
        let (tx, rx) = waiting(1024, 50);
        let slot: Arc<Mutex<Option<Listener>>> = Arc::default();
        let (entered, wait_entered) = mpsc::channel::<()>();
        let (ready, wait_ready) = mpsc::channel::<()>();
        let (out, got) = mpsc::channel();
        let me = slot.clone();
        let mut calls = 0;
        let listener = Listener::spawn_with(rx, Some, move |batch| {
            entered.send(()).unwrap();
            wait_ready.recv_timeout(WAIT).unwrap();
            assert_eq!(batch.size_hint().1, Some(50), "all 50 were waiting");
            for record in batch {
                out.send(record.endpoint.unwrap().origin).unwrap();
                calls += 1;
                if calls == 10 {
                    me.lock().unwrap().as_ref().unwrap().stop();
                }
            }
        })
        .unwrap();
        *slot.lock().unwrap() = Some(listener);
        // The first batch is taken (the function has it) before anything else is sent.
        wait_entered.recv_timeout(WAIT).unwrap();
        ready.send(()).unwrap();
        // One more, which must not reach the function either (unless the listener has already
        // ended and dropped its receiver, when sending fails).
        let _ = tx.send(disabled(50));
        // The function (and its sender) is dropped when the listener's thread ends.
        let mut seen = Vec::new();
        loop {
            match got.recv_timeout(WAIT) {
                Ok(origin) => seen.push(origin),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the listener never ended"),
            }
        }
        let first_ten: Vec<String> = (0..10).map(|i| format!("http://h{i}:80")).collect();
        assert_eq!(seen, first_ten);
        assert!(slot.lock().unwrap().as_ref().unwrap().is_stopped());
    }
}
