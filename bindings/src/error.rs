//! Error codes shared by every binding, and the one error type the bindings return.
//!
//! Each code is a stable string that Python (`TimehookError.code`) and Node (`err.code`) expose
//! unchanged. [`ErrorKind`] groups the codes into the families a language maps onto its own
//! exception classes.

use std::fmt;

use timehook::signing::{SigningError, VerifyError};

/// Every error code a binding can report. The string forms are part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A job specification was rejected; nothing was stored.
    InvalidJob,
    /// The payload is over the scheduler's `max_payload_size`; nothing was stored.
    PayloadTooLarge,
    /// A URL names an address the SSRF guard refuses (loopback, private, link-local, ...);
    /// nothing was stored.
    Blocked,
    /// The cron expression was rejected; nothing was stored.
    InvalidCron,
    /// The cron time zone is not an IANA zone; nothing was stored.
    InvalidTimezone,
    /// A secret or key could not be parsed.
    InvalidSecret,
    /// A signer or verifier was given no keys.
    NoKeys,
    /// A key cannot be used with the chosen signature scheme.
    IncompatibleKey,
    /// A signature scheme is not usable.
    InvalidScheme,
    /// A message id is not usable as `webhook-id`.
    InvalidMsgId,
    /// The operating system's random number generator failed.
    RandomUnavailable,
    /// No job has this id.
    NotFound,
    /// The job exists but the action does not apply in its current state.
    InvalidState,
    /// The scheduler's options are inconsistent.
    InvalidConfig,
    /// The SQLite store failed; the operation was not applied.
    StoreError,
    /// The scheduler has been closed.
    Closed,
    /// A signature header is absent.
    MissingHeader,
    /// A signature header is present but unusable.
    InvalidHeader,
    /// The delivery's timestamp is older than the tolerance allows.
    TimestampTooOld,
    /// The delivery's timestamp is further in the future than the tolerance allows.
    TimestampTooNew,
    /// No signature matched any key.
    NoMatchingSignature,
    /// A failure inside the bindings themselves (the runtime could not start, a task panicked).
    Internal,
}

/// The family of an [`ErrorCode`]: what kind of exception a language raises for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad job input (Python: `InvalidJobError`, also a `ValueError`).
    InvalidJob,
    /// Bad options, secrets, keys or schemes (Python: `ConfigError`, also a `ValueError`).
    Config,
    /// An unknown job (Python: `NotFoundError`, also a `LookupError`).
    NotFound,
    /// An action that does not apply to the job's state (Python: `InvalidStateError`).
    InvalidState,
    /// The store failed (Python: `StoreError`).
    Store,
    /// The scheduler is closed (Python: `ClosedError`).
    Closed,
    /// A delivery failed verification (Python: `VerificationError`).
    Verification,
    /// Anything else (Python: `TimehookError`).
    Other,
}

impl ErrorCode {
    /// Every code, in a stable order.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::InvalidJob,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Blocked,
        ErrorCode::InvalidCron,
        ErrorCode::InvalidTimezone,
        ErrorCode::InvalidSecret,
        ErrorCode::NoKeys,
        ErrorCode::IncompatibleKey,
        ErrorCode::InvalidScheme,
        ErrorCode::InvalidMsgId,
        ErrorCode::RandomUnavailable,
        ErrorCode::NotFound,
        ErrorCode::InvalidState,
        ErrorCode::InvalidConfig,
        ErrorCode::StoreError,
        ErrorCode::Closed,
        ErrorCode::MissingHeader,
        ErrorCode::InvalidHeader,
        ErrorCode::TimestampTooOld,
        ErrorCode::TimestampTooNew,
        ErrorCode::NoMatchingSignature,
        ErrorCode::Internal,
    ];

    /// The code's stable string form, e.g. `"invalid_job"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJob => "invalid_job",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Blocked => "blocked",
            ErrorCode::InvalidCron => "invalid_cron",
            ErrorCode::InvalidTimezone => "invalid_timezone",
            ErrorCode::InvalidSecret => "invalid_secret",
            ErrorCode::NoKeys => "no_keys",
            ErrorCode::IncompatibleKey => "incompatible_key",
            ErrorCode::InvalidScheme => "invalid_scheme",
            ErrorCode::InvalidMsgId => "invalid_msg_id",
            ErrorCode::RandomUnavailable => "random_unavailable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::StoreError => "store_error",
            ErrorCode::Closed => "closed",
            ErrorCode::MissingHeader => "missing_header",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::TimestampTooOld => "timestamp_too_old",
            ErrorCode::TimestampTooNew => "timestamp_too_new",
            ErrorCode::NoMatchingSignature => "no_matching_signature",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code with this string form.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The code's family.
    pub fn kind(self) -> ErrorKind {
        match self {
            ErrorCode::InvalidJob
            | ErrorCode::PayloadTooLarge
            | ErrorCode::Blocked
            | ErrorCode::InvalidCron
            | ErrorCode::InvalidTimezone => ErrorKind::InvalidJob,
            ErrorCode::InvalidSecret
            | ErrorCode::NoKeys
            | ErrorCode::IncompatibleKey
            | ErrorCode::InvalidScheme
            | ErrorCode::InvalidMsgId
            | ErrorCode::InvalidConfig => ErrorKind::Config,
            ErrorCode::NotFound => ErrorKind::NotFound,
            ErrorCode::InvalidState => ErrorKind::InvalidState,
            ErrorCode::StoreError => ErrorKind::Store,
            ErrorCode::Closed => ErrorKind::Closed,
            ErrorCode::MissingHeader
            | ErrorCode::InvalidHeader
            | ErrorCode::TimestampTooOld
            | ErrorCode::TimestampTooNew
            | ErrorCode::NoMatchingSignature => ErrorKind::Verification,
            ErrorCode::RandomUnavailable | ErrorCode::Internal => ErrorKind::Other,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from the bindings: a stable [`ErrorCode`] and a message that says what was wrong with
/// which value (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BindingError {
    /// The stable code.
    pub code: ErrorCode,
    /// The human-readable message.
    pub message: String,
    /// The input at fault (`url`, `at`, `retry`, ...) for job errors, or the header for
    /// verification errors, when known.
    pub detail: Option<String>,
}

/// `Result` with [`BindingError`] as the error type.
pub type Result<T, E = BindingError> = std::result::Result<T, E>;

impl BindingError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        BindingError {
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// An `invalid_job` error about `field`; the message is prefixed with the field's name.
    pub fn invalid_job(field: &str, reason: impl fmt::Display) -> Self {
        BindingError {
            code: ErrorCode::InvalidJob,
            message: format!("invalid job: {field}: {reason}"),
            detail: Some(field.to_owned()),
        }
    }

    /// An `invalid_config` error about the option `option`.
    pub fn invalid_config(option: &str, reason: impl fmt::Display) -> Self {
        BindingError {
            code: ErrorCode::InvalidConfig,
            message: format!("invalid configuration: {option}: {reason}"),
            detail: Some(option.to_owned()),
        }
    }

    /// An `internal` error.
    pub fn internal(message: impl Into<String>) -> Self {
        BindingError::new(ErrorCode::Internal, message)
    }

    /// The same error with `context` in front of its message (e.g. `job 3: `).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The code's family.
    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }
}

fn code_of(code: &str) -> ErrorCode {
    ErrorCode::parse(code).unwrap_or(ErrorCode::Internal)
}

impl From<timehook::Error> for BindingError {
    fn from(e: timehook::Error) -> Self {
        let detail = match &e {
            timehook::Error::Store(s) => Some(s.kind().as_str().to_owned()),
            // The job field at fault (`tz` for an unknown time zone, `cron` for an expression).
            other => other.field().map(str::to_owned),
        };
        BindingError {
            code: code_of(e.code()),
            message: e.to_string(),
            detail,
        }
    }
}

impl From<SigningError> for BindingError {
    fn from(e: SigningError) -> Self {
        BindingError::new(code_of(e.code()), e.to_string())
    }
}

impl From<VerifyError> for BindingError {
    fn from(e: VerifyError) -> Self {
        BindingError {
            code: code_of(e.code()),
            detail: e.header().map(str::to_owned),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use timehook::cron::CronError;

    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn the_issue_codes_exist_with_their_families() {
        for (code, kind) in [
            ("invalid_job", ErrorKind::InvalidJob),
            ("payload_too_large", ErrorKind::InvalidJob),
            ("blocked", ErrorKind::InvalidJob),
            ("invalid_cron", ErrorKind::InvalidJob),
            ("invalid_timezone", ErrorKind::InvalidJob),
            ("invalid_secret", ErrorKind::Config),
            ("not_found", ErrorKind::NotFound),
            ("invalid_state", ErrorKind::InvalidState),
            ("invalid_config", ErrorKind::Config),
            ("store_error", ErrorKind::Store),
            ("closed", ErrorKind::Closed),
            ("missing_header", ErrorKind::Verification),
            ("invalid_header", ErrorKind::Verification),
            ("timestamp_too_old", ErrorKind::Verification),
            ("timestamp_too_new", ErrorKind::Verification),
            ("no_matching_signature", ErrorKind::Verification),
        ] {
            let parsed = ErrorCode::parse(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(parsed.kind(), kind, "{code}");
        }
    }

    #[test]
    fn core_errors_keep_their_code_and_field() {
        let e: BindingError = timehook::Error::InvalidJob {
            field: "url",
            reason: "\"ftp://x\" is not http(s)".into(),
        }
        .into();
        assert_eq!(e.code, ErrorCode::InvalidJob);
        assert_eq!(e.detail.as_deref(), Some("url"));
        assert!(e.message.contains("ftp://x"), "{}", e.message);

        let e: BindingError =
            timehook::Error::from(CronError::InvalidTimezone("Mars/Olympus".into())).into();
        assert_eq!(e.code, ErrorCode::InvalidTimezone);
        assert_eq!(e.detail.as_deref(), Some("tz"));
        let e: BindingError = timehook::Error::from(CronError::InvalidExpression {
            expr: "61 * * * *".into(),
            reason: "minute".into(),
        })
        .into();
        assert_eq!(
            (e.code, e.detail.as_deref()),
            (ErrorCode::InvalidCron, Some("cron"))
        );

        let e: BindingError = VerifyError::MissingHeader("webhook-id".into()).into();
        assert_eq!(e.code, ErrorCode::MissingHeader);
        assert_eq!(e.detail.as_deref(), Some("webhook-id"));

        let e: BindingError = SigningError::NoKeys.into();
        assert_eq!((e.code, e.kind()), (ErrorCode::NoKeys, ErrorKind::Config));
    }
}
