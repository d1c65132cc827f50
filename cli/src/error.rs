//! One error type for the CLI and the API: a stable code (the library's where it has one), the
//! field at fault, a message for people, and how the CLI exits on it.

use std::fmt;

/// Exit codes, as `timehook --help` documents them.
pub mod exit {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// A check failed (`verify`), or the store refused the operation in the job's state.
    pub const FAILED: u8 = 1;
    /// Bad usage: unknown flags, bad values, a job spec the library refuses.
    pub const USAGE: u8 = 2;
    /// No such job, subscription, endpoint or store file.
    pub const NOT_FOUND: u8 = 3;
    /// The store failed: locked, full, corrupt, unreachable, or not a timehook store.
    pub const STORE: u8 = 4;
}

/// What went wrong, for a person (`message`) and for a program (`code`, `field`).
#[derive(Debug)]
pub struct CliError {
    /// `invalid_job`, `not_found`, `invalid_state`, `store_error`, `verification_failed`, ...
    pub code: &'static str,
    /// The option or field at fault.
    pub field: Option<String>,
    pub message: String,
}

impl CliError {
    /// Bad input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        CliError {
            code: "invalid_job",
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// Something that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        CliError {
            code: "not_found",
            field: None,
            message: message.into(),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self.code {
            "not_found" => exit::NOT_FOUND,
            "store_error" | "closed" => exit::STORE,
            "invalid_state" | "verification_failed" => exit::FAILED,
            _ => exit::USAGE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<timehook::Error> for CliError {
    fn from(e: timehook::Error) -> Self {
        CliError {
            code: e.code(),
            field: e.field().map(str::to_owned),
            message: e.to_string(),
        }
    }
}

pub type CliResult<T> = Result<T, CliError>;
