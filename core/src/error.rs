//! The scheduler's error type.

use crate::cron::CronError;
use crate::job::{JobId, JobState};
use crate::signing::SigningError;

/// `Result` with timehook's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the scheduler can refuse or fail at. Each variant has a stable [`Error::code`] that the
/// Python and Node bindings expose unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A job specification was rejected; nothing was stored. `field` names the offending input.
    #[error("invalid job: {field}: {reason}")]
    InvalidJob {
        /// The input that was wrong, e.g. `url`, `headers`, `at`.
        field: &'static str,
        /// What was wrong with it, quoting the value where that is safe.
        reason: String,
    },
    /// The payload is larger than the scheduler's `max_payload_size`; nothing was stored.
    #[error("invalid job: payload is {size} bytes, over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The cron expression or its time zone was rejected; nothing was stored.
    #[error(transparent)]
    Cron(#[from] CronError),
    /// A secret or signing key could not be parsed.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// No job has this id.
    #[error("no job with id {0}")]
    NotFound(JobId),
    /// No event subscription has this id.
    #[error("no subscription with id {0:?}")]
    SubscriptionNotFound(String),
    /// `enable_endpoint` was asked for an endpoint that is not disabled.
    #[error("endpoint {0:?} is not disabled")]
    EndpointNotDisabled(String),
    /// The job exists but the action does not apply in its current state.
    #[error("cannot {action} job {id}: it is {state}")]
    InvalidState {
        /// The job.
        id: JobId,
        /// Its state when the action was attempted.
        state: JobState,
        /// The action, e.g. `reschedule`, `pause`.
        action: &'static str,
    },
    /// The builder's options are inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The SQLite store failed (I/O error, full disk, corrupt file, locked database...). The operation
    /// that reported it was not applied.
    #[error("store error: {0}")]
    Store(String),
    /// The scheduler has been shut down.
    #[error("the scheduler is shut down")]
    Closed,
}

impl Error {
    /// A stable, machine-readable code for this error, shared with the Python and Node bindings.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidJob { .. } => "invalid_job",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::Cron(e) => e.code(),
            Error::Signing(e) => e.code(),
            Error::NotFound(_) | Error::SubscriptionNotFound(_) => "not_found",
            Error::EndpointNotDisabled(_) => "invalid_state",
            Error::InvalidState { .. } => "invalid_state",
            Error::Config(_) => "invalid_config",
            Error::Store(_) => "store_error",
            Error::Closed => "closed",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidJob {
            field,
            reason: reason.into(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.to_string())
    }
}
