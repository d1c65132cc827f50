//! # timehook-bindings
//!
//! The layer that timehook's Python (`python/`, pyo3) and Node (`node/`, napi-rs) packages share,
//! so that neither repeats logic. A language binding only converts its values to and from the
//! plain types here and maps [`ErrorCode`]s onto its own errors.
//!
//! | module | what |
//! |---|---|
//! | [`runtime`] | the process's one tokio runtime; [`block_on`] for blocking calls, [`spawn_then`] (and [`start_polled_by`], which polls on the caller's thread) for asynchronous ones |
//! | [`data`] | plain records ([`JobRecord`], [`AttemptRecord`]): epoch milliseconds, strings, bytes; [`RetrySpec`] / [`RetryInput`]; missed-run policies as `skip` / `run_once` / `catch_up:N` |
//! | [`jobs`] | [`JobInput`] → `JobSpec` (payload kinds choose the `content-type`), [`ListQuery`] → `ListFilter` |
//! | [`metrics`] | a Prometheus recorder for the core's `metrics` ([`metrics::enable`], [`metrics::render`]) |
//! | [`options`] | [`SchedulerOptions`] → `SchedulerBuilder` (`":memory:"` opens an in-memory store) |
//! | [`scheduler`] | [`SchedulerHandle`]: every operation as a `'static` future over plain types; `close` from any thread |
//! | [`outcomes`] | subscriptions, endpoint health, dead-letter and export queries; [`Listener`] (a thread per listener, so a slow language function never holds up delivery) and [`ExportStream`] (an export read back in bounded chunks) |
//! | [`signing`] | schemes, verifiers and signers from strings; [`HeaderFilter`] / [`HeaderPairs`] pick the signature headers out of any map |
//! | [`error`] | [`ErrorCode`] (the stable codes both languages expose), [`ErrorKind`], [`BindingError`] |
//!
//! Threading rules for a binding:
//! - wrap [`block_on`] in the interpreter's "detach" (Python: `py.detach`), so no lock is held
//!   while waiting on SQLite or the network;
//! - in [`spawn_then`]'s callback only queue the outcome for the language's own thread or event
//!   loop; deliveries run on the runtime and never call into the language.

pub mod data;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod options;
pub mod outcomes;
pub mod runtime;
pub mod scheduler;
pub mod signing;

pub use data::{AttemptRecord, EpochMs, JobRecord, RetryInput, RetrySpec, parse_missed};
pub use error::{BindingError, ErrorCode, ErrorKind, Result};
pub use jobs::{JobInput, ListQuery, Payload};
pub use options::{DEFAULT_CLOSE_GRACE, MEMORY_PATH, SchedulerOptions};
pub use outcomes::{
    DeadLetterQuery, EndpointLimitInput, EndpointRecord, EventBatch, EventRecord, ExportQuery,
    ExportStream, LISTENER_EVENTS, Listener, OutcomeRecord, SubscriptionRecord,
};
pub use runtime::{Pollable, Poller, block_on, runtime, spawn_then, start_polled_by};
pub use scheduler::SchedulerHandle;
pub use signing::{HeaderFilter, HeaderPairs, SchemeInput};

/// The version of the bindings (and of every timehook package: one version for the workspace).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Re-exported so a binding can offer a manual clock for tests without depending on the core.
pub use timehook::ManualClock;
