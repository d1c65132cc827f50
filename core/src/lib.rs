//! # timehook
//!
//! An embeddable, durable webhook scheduler. Schedule HTTP webhooks to run once (at an instant or after a
//! delay) or on a cron schedule; timehook keeps them in one SQLite file (or in a PostgreSQL database
//! shared by many processes: pass a `postgresql://` URL instead of a path), delivers each as a signed
//! [Standard Webhooks](https://www.standardwebhooks.com/) request with a timeout and retries, and records
//! every attempt. Receivers verify the signatures with [`signing::Verifier`].
//!
//! ```no_run
//! use std::time::Duration;
//! use timehook::{JobSpec, Scheduler, signing::Secret};
//!
//! # async fn run() -> timehook::Result<()> {
//! let scheduler = Scheduler::builder("jobs.db")
//!     .secret(Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?)
//!     .open()
//!     .await?;
//! scheduler.start()?;
//! let id = scheduler
//!     .schedule(JobSpec::post("https://example.com/hook").json(&serde_json::json!({"plan": "free"}))?
//!         .after(Duration::from_secs(3600)))
//!     .await?;
//! println!("scheduled {id}");
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature     | default | what it adds |
//! |-------------|---------|--------------|
//! | `scheduler` | yes     | the durable [`Scheduler`]: the SQLite store (rusqlite, bundled), tokio runtime, hyper delivery (reqwest through a proxy), cron |
//! | `postgres`  | yes     | the PostgreSQL store, for `postgresql://` URLs: tokio-postgres, deadpool-postgres, rustls (`sslmode`) |
//! | `rand`      | yes (via `scheduler`) | generating new secrets and keys |
//! | `fuzzing`   | no      | hidden entry points for the fuzz targets (`fuzz/`); not a stable API |
//!
//! Both stores sit behind one seam (`store::Tx`): scheduling, retries, outcomes, flow control and
//! cron are the same code on either, and one conformance suite tests both.
//!
//! With `default-features = false` only [`signing`] remains: secrets, signing and verification, with no
//! tokio, rusqlite or an HTTP client, and it builds for `wasm32-unknown-unknown`.

// Without `scheduler` the crate is `no_std` (with `alloc`): what remains, `signing`, needs no
// operating system, and the WebAssembly verifier (`wasm/`) links no standard library. Unit tests
// keep std for the test harness and their helpers.
#![cfg_attr(not(any(feature = "scheduler", test)), no_std)]

extern crate alloc;

pub mod signing;

#[cfg(feature = "scheduler")]
pub mod clock;
#[cfg(feature = "scheduler")]
pub mod cron;
#[cfg(feature = "scheduler")]
mod dispatch;
#[cfg(feature = "scheduler")]
mod error;
#[cfg(feature = "scheduler")]
pub mod guard;
#[cfg(feature = "scheduler")]
pub mod job;
#[cfg(feature = "scheduler")]
pub mod json;
#[cfg(feature = "scheduler")]
pub mod outcome;
#[cfg(feature = "scheduler")]
pub mod profile;
#[cfg(feature = "scheduler")]
mod redact;
#[cfg(feature = "scheduler")]
pub mod retry;
#[cfg(feature = "scheduler")]
pub(crate) mod scheduler;
#[cfg(feature = "scheduler")]
mod store;

#[cfg(feature = "scheduler")]
pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "scheduler")]
pub use cron::MissedRunPolicy;
#[cfg(feature = "scheduler")]
pub use error::{Error, Result, StoreError, StoreErrorKind};
#[cfg(feature = "scheduler")]
pub use job::{
    Attempt, AttemptError, ExecutionId, Job, JobId, JobKind, JobSigning, JobSpec, JobState,
    ListFilter, Method,
};
#[cfg(feature = "scheduler")]
pub use outcome::{Endpoint, EventType, Outcome, OutcomeStatus, Subscription};
#[cfg(feature = "scheduler")]
pub use retry::RetryPolicy;
#[cfg(feature = "scheduler")]
pub use scheduler::{
    CLAIM_BATCH, DEFAULT_ENDPOINT_DISABLE_AFTER, DEFAULT_ENDPOINT_DISABLE_MIN_FAILURES,
    DEFAULT_FAILED_RETENTION, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_INTERRUPTED_ATTEMPTS,
    DEFAULT_MAX_PAYLOAD_SIZE, DEFAULT_PER_HOST_CONCURRENCY, DEFAULT_POLL_INTERVAL,
    DEFAULT_RETENTION, DEFAULT_TIMEOUT, DeadLetterFilter, Durability, EndpointLimits, Event,
    ExportFilter, ExportFormat, LEASE_DURATION, METRIC_ATTEMPT_SECONDS, METRIC_ATTEMPTS,
    METRIC_FAILED, METRIC_LATENESS_SECONDS, METRIC_PENDING, METRIC_UNREADABLE, PRUNE_INTERVAL,
    Scheduler, SchedulerBuilder, Submitted,
};
#[cfg(feature = "postgres")]
pub use store::postgres::DEFAULT_SCHEMA;

/// Crate-private parsers, reachable by the fuzz targets in `fuzz/` (feature `fuzzing`, off by
/// default). Not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use crate::job::JobSigning;

    /// A job's own signing settings as the store keeps them (a JSON text column).
    pub fn job_signing_to_db(signing: &JobSigning) -> String {
        signing.to_db()
    }

    /// Reads back what [`job_signing_to_db`] wrote, or any text found in that column.
    pub fn job_signing_from_db(json: &str) -> crate::Result<JobSigning> {
        JobSigning::from_db(json)
    }
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The version of this crate, as sent in the default `user-agent` (`timehook/<version>`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
