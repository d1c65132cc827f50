//! Binding errors as Python exceptions: each [`ErrorKind`] maps to a class of `timehook.errors`,
//! raised with the message, the stable code and the detail (field or header).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use timehook_bindings::{BindingError, ErrorCode, ErrorKind};

/// The Python module that defines the exception classes.
const ERRORS_MODULE: &str = "timehook.errors";

/// The exception classes, in the order of [`class_slot`].
static CLASSES: [PyOnceLock<Py<PyType>>; 8] = [
    PyOnceLock::new(),
    PyOnceLock::new(),
    PyOnceLock::new(),
    PyOnceLock::new(),
    PyOnceLock::new(),
    PyOnceLock::new(),
    PyOnceLock::new(),
    PyOnceLock::new(),
];

fn class_slot(kind: ErrorKind) -> (usize, &'static str) {
    match kind {
        ErrorKind::InvalidJob => (0, "InvalidJobError"),
        ErrorKind::Config => (1, "ConfigError"),
        ErrorKind::NotFound => (2, "NotFoundError"),
        ErrorKind::InvalidState => (3, "InvalidStateError"),
        ErrorKind::Store => (4, "StoreError"),
        ErrorKind::Closed => (5, "ClosedError"),
        ErrorKind::Verification => (6, "VerificationError"),
        ErrorKind::Other => (7, "TimehookError"),
    }
}

/// `timehook.errors.ArgumentTypeError`: a `ConfigError` that is also a `TypeError`.
static ARGUMENT_TYPE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Converts an error into the matching Python exception.
pub trait IntoPyErr {
    /// The Python exception.
    fn into_py_err(self) -> PyErr;
}

impl IntoPyErr for BindingError {
    fn into_py_err(self) -> PyErr {
        Python::attach(|py| {
            let (slot, name) = class_slot(self.kind());
            raise(py, self, CLASSES[slot].import(py, ERRORS_MODULE, name))
        })
    }
}

/// `e` as an instance of `class`, or, if `timehook.errors` cannot be imported (only when the
/// package is broken), a `RuntimeError` that keeps the message and code.
fn raise(py: Python<'_>, e: BindingError, class: PyResult<&Bound<'_, PyType>>) -> PyErr {
    match class {
        Ok(class) => PyErr::from_type(class.clone(), (e.message, e.code.as_str(), e.detail)),
        Err(import_error) => {
            let err = pyo3::exceptions::PyRuntimeError::new_err(format!(
                "{} ({}); and timehook.errors could not be imported",
                e.message, e.code
            ));
            err.set_cause(py, Some(import_error));
            err
        }
    }
}

/// An `ArgumentTypeError` (a `ConfigError` that is also a `TypeError`) about the argument
/// `argument`, with `code` (`invalid_config`, or a more precise configuration code such as
/// `invalid_scheme`). The message is `"{argument}: {reason}"`.
pub fn argument_type_error(
    code: ErrorCode,
    argument: &str,
    reason: impl std::fmt::Display,
) -> PyErr {
    debug_assert_eq!(code.kind(), ErrorKind::Config);
    let e = BindingError {
        code,
        message: format!("{argument}: {reason}"),
        detail: Some(argument.to_owned()),
    };
    Python::attach(|py| {
        raise(
            py,
            e,
            ARGUMENT_TYPE_ERROR.import(py, ERRORS_MODULE, "ArgumentTypeError"),
        )
    })
}

/// An `invalid_config` `ConfigError` about `argument` with the message `"{argument}: {reason}"`
/// (no "invalid configuration" prefix): for arguments that are not scheduler options, such as a
/// verifier's `tolerance`.
pub fn invalid_argument(argument: &str, reason: impl std::fmt::Display) -> PyErr {
    BindingError {
        code: ErrorCode::InvalidConfig,
        message: format!("{argument}: {reason}"),
        detail: Some(argument.to_owned()),
    }
    .into_py_err()
}

/// An `invalid_job` exception about `field`.
pub fn invalid_job(field: &str, reason: impl std::fmt::Display) -> PyErr {
    BindingError::invalid_job(field, reason).into_py_err()
}

/// An `invalid_config` exception about `option`.
pub fn invalid_config(option: &str, reason: impl std::fmt::Display) -> PyErr {
    BindingError::invalid_config(option, reason).into_py_err()
}

/// Every error code, for `timehook.errors.CODES`.
pub fn all_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}
