//! The scheduler's error type.

use std::fmt;

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
    /// A URL names an address the SSRF guard refuses (loopback, private, link-local, ...; see
    /// [`crate::guard`]); nothing was stored. `field` names the input.
    #[error("{field}: {blocked}")]
    Blocked {
        /// The input that was refused, e.g. `url`, `on_failure_url`.
        field: &'static str,
        /// What was refused, and why.
        blocked: crate::guard::Blocked,
    },
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
    /// The store (the SQLite file or the PostgreSQL database) failed: see [`StoreError::kind`]. The
    /// operation that reported it was not applied.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// The scheduler has been shut down.
    #[error("the scheduler is shut down")]
    Closed,
    /// A job of a batch (`schedule_many`, `submit_many`) was rejected: its position in the batch
    /// and why; nothing of the batch was stored. [`Error::code`] and [`Error::field`] are the
    /// job's own error's, which [`Error::root`] gives. A batch of one job reports that error alone.
    #[error("job {index}: {error}")]
    InBatch {
        /// The job's position in the batch, from 0.
        index: usize,
        /// Why it was rejected.
        error: Box<Error>,
    },
}

impl Error {
    /// A stable, machine-readable code for this error, shared with the Python and Node bindings.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidJob { .. } => "invalid_job",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::Blocked { .. } => "blocked",
            Error::Cron(e) => e.code(),
            Error::Signing(e) => e.code(),
            Error::NotFound(_) | Error::SubscriptionNotFound(_) => "not_found",
            Error::EndpointNotDisabled(_) => "invalid_state",
            Error::InvalidState { .. } => "invalid_state",
            Error::Config(_) => "invalid_config",
            Error::Store(_) => "store_error",
            Error::Closed => "closed",
            Error::InBatch { error, .. } => error.code(),
        }
    }

    /// The error itself: for [`Error::InBatch`], the job's own error, without its position.
    pub fn root(&self) -> &Error {
        match self {
            Error::InBatch { error, .. } => error.root(),
            other => other,
        }
    }

    /// The job input a rejected job is refused for, as the caller named it: `url`, `headers`,
    /// `payload`, `cron`, `tz` (an unknown time zone), `on_failure_url`, ... `None` for errors
    /// that are not about one input.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::InvalidJob { field, .. } | Error::Blocked { field, .. } => Some(field),
            Error::PayloadTooLarge { .. } => Some("payload"),
            Error::Cron(CronError::InvalidExpression { .. }) => Some("cron"),
            Error::Cron(CronError::InvalidTimezone(_)) => Some("tz"),
            Error::InBatch { error, .. } => error.field(),
            _ => None,
        }
    }

    /// For a store error, what kind it is.
    pub fn store_kind(&self) -> Option<StoreErrorKind> {
        match self {
            Error::Store(e) => Some(e.kind()),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidJob {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn store(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Error::Store(StoreError::new(kind, message))
    }

    /// The same error again, for each of several callers it failed (a store error keeps its kind
    /// and message, not its source).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Error::Store(e) => Error::Store(StoreError::new(e.kind(), e.message())),
            Error::Closed => Error::Closed,
            other => Error::store(StoreErrorKind::Other, other.to_string()),
        }
    }
}

/// What went wrong in the store, for callers that react differently to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Another process held a lock for too long (SQLite: the file's write lock past the busy
    /// timeout; PostgreSQL: a lock timeout, deadlock or serialization conflict). Trying again later
    /// usually works.
    Busy,
    /// The disk, or the database's space, is full.
    Full,
    /// The file or database is damaged, is not a timehook store, or holds a row this build cannot
    /// read.
    Corrupt,
    /// The connection to the database was lost or could not be made (PostgreSQL).
    ConnectionLost,
    /// The store was written by a newer timehook; upgrade timehook to open it.
    SchemaTooNew,
    /// Reading or writing failed for another reason (I/O error, permission denied, a writer given
    /// to an export failed).
    Io,
    /// Any other failure of the store.
    Other,
}

impl StoreErrorKind {
    /// The lowercase name, e.g. `busy`, `connection_lost`, exposed by the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Busy => "busy",
            StoreErrorKind::Full => "full",
            StoreErrorKind::Corrupt => "corrupt",
            StoreErrorKind::ConnectionLost => "connection_lost",
            StoreErrorKind::SchemaTooNew => "schema_too_new",
            StoreErrorKind::Io => "io",
            StoreErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of the store: a [`StoreErrorKind`] to match on, a message, and the driver's error as
/// the [`source`](std::error::Error::source) where there is one. Messages never carry a password.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// A store error of `kind`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A store error of `kind` caused by `source`.
    pub fn with_source(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// What failed, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` put in front of its message.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_errors_name_the_expression_or_the_time_zone() {
        let zone = Error::from(CronError::InvalidTimezone("Mars/Olympus_Mons".into()));
        assert_eq!(
            (zone.code(), zone.field()),
            ("invalid_timezone", Some("tz"))
        );
        let expr = Error::from(CronError::InvalidExpression {
            expr: "61 * * * *".into(),
            reason: "minute out of range".into(),
        });
        assert_eq!((expr.code(), expr.field()), ("invalid_cron", Some("cron")));
        let big = Error::PayloadTooLarge { size: 2, limit: 1 };
        assert_eq!(big.field(), Some("payload"));
        assert_eq!(Error::Closed.field(), None);
        assert_eq!(Error::Config("x".into()).field(), None);
    }
}
