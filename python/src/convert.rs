//! Python values to the bindings' plain inputs: the primitives every binding body uses.
//!
//! Times: aware `datetime` (a naive one is refused). Durations: `timedelta` or seconds (`int` or
//! `float`). Every error names the field and the value at fault.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use timehook_bindings::{EpochMs, Payload, RetryInput, RetrySpec};

use crate::errors::{invalid_argument, invalid_job};
use crate::json;

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The Python type name of a value, for messages.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

fn repr(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map_or_else(|_| type_name(value), |r| r.to_string())
}

/// The same error as a `ConfigError` (code `invalid_config`, same field), for arguments that
/// are not job fields, such as a verifier's `now`: the message loses its "invalid job: " prefix.
/// Errors other than `invalid_job` pass through.
pub fn as_argument_error(e: PyErr) -> PyErr {
    Python::attach(|py| {
        let value = e.value(py);
        let is_job_error = value
            .getattr("code")
            .is_ok_and(|c| c.eq("invalid_job").unwrap_or(false));
        if !is_job_error {
            return e;
        }
        let Some(field) = value
            .getattr("detail")
            .ok()
            .and_then(|d| d.extract::<String>().ok())
        else {
            return e;
        };
        let msg = value.str().map(|s| s.to_string()).unwrap_or_default();
        let msg = msg.strip_prefix("invalid job: ").unwrap_or(&msg);
        let reason = msg
            .strip_prefix(field.as_str())
            .and_then(|r| r.strip_prefix(": "))
            .unwrap_or(msg);
        invalid_argument(&field, reason)
    })
}

/// Calls `set` with the name and value of each keyword filter that is not None (`list`,
/// `retry_failed`, `purge`, `export_attempts` take their filters as keyword arguments).
pub fn set_fields<'py>(
    kwargs: &Bound<'py, PyDict>,
    mut set: impl FnMut(&str, &Bound<'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    for (key, value) in kwargs.iter() {
        if !value.is_none() {
            set(&text("filter", &key)?, &value)?;
        }
    }
    Ok(())
}

/// A `str` field.
pub fn text(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(invalid_job(
            field,
            format!("expected str, got {} {}", type_name(value), repr(value)),
        )),
    }
}

/// A list of `str` (a single `str` is refused, not split into characters).
pub fn texts(field: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if value.is_instance_of::<PyString>() {
        return Err(invalid_job(
            field,
            format!("expected a list of str, got the str {}", repr(value)),
        ));
    }
    value
        .try_iter()
        .map_err(|_| {
            invalid_job(
                field,
                format!("expected a list of str, got {}", type_name(value)),
            )
        })?
        .map(|item| text(field, &item?))
        .collect()
}

/// Epoch milliseconds of an aware `datetime`.
pub fn epoch_ms(field: &str, value: &Bound<'_, PyAny>) -> PyResult<EpochMs> {
    let py = value.py();
    if !value.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        return Err(invalid_job(
            field,
            format!(
                "expected an aware datetime, got {} {}",
                type_name(value),
                repr(value)
            ),
        ));
    }
    if value.call_method0("utcoffset")?.is_none() {
        return Err(invalid_job(
            field,
            format!(
                "{} is a naive datetime; give it a time zone, e.g. tzinfo=timezone.utc",
                repr(value)
            ),
        ));
    }
    let seconds: f64 = value.call_method0("timestamp")?.extract()?;
    Ok((seconds * 1000.0).round() as EpochMs)
}

/// Seconds in a `timedelta` or a number (not a `bool`).
fn seconds(field: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let py = value.py();
    let secs: f64 = if value.is_instance(TIMEDELTA.import(py, "datetime", "timedelta")?)? {
        value.call_method0("total_seconds")?.extract()?
    } else if (value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
        && !value.is_instance_of::<PyBool>()
    {
        value.extract()?
    } else {
        return Err(invalid_job(
            field,
            format!(
                "expected a timedelta or a number of seconds, got {} {}",
                type_name(value),
                repr(value)
            ),
        ));
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid_job(
            field,
            format!(
                "must be a finite, non-negative duration, got {}",
                repr(value)
            ),
        ));
    }
    Ok(secs)
}

/// Milliseconds in a `timedelta` or a number of seconds.
pub fn millis(field: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    Ok((seconds(field, value)? * 1000.0).round() as u64)
}

/// A finite number (`int` or `float`, not a `bool`).
pub fn number(field: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let n: Option<f64> = if value.is_instance_of::<PyBool>() {
        None
    } else {
        value.extract::<f64>().ok().filter(|n| n.is_finite())
    };
    n.ok_or_else(|| {
        invalid_job(
            field,
            format!(
                "expected a finite number, got {} {}",
                type_name(value),
                repr(value)
            ),
        )
    })
}

/// A non-negative integer.
pub fn count(field: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if value.is_instance_of::<PyBool>() {
        return Err(invalid_job(
            field,
            format!("expected an int, got {}", repr(value)),
        ));
    }
    value.extract::<u64>().map_err(|_| {
        invalid_job(
            field,
            format!(
                "expected a non-negative int, got {} {}",
                type_name(value),
                repr(value)
            ),
        )
    })
}

/// A request body: bytes-like (sent as-is), `str` (UTF-8) or `dict`/`list`/`tuple` (JSON).
pub fn payload(value: &Bound<'_, PyAny>) -> PyResult<Payload> {
    if let Ok(b) = value.cast::<PyBytes>() {
        Ok(Payload::Bytes(b.as_bytes().to_vec()))
    } else if let Ok(b) = value.cast::<PyByteArray>() {
        Ok(Payload::Bytes(b.to_vec()))
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(Payload::Text(s.to_cow()?.into_owned()))
    } else if value.is_instance_of::<PyDict>()
        || value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
    {
        json::to_json(value).map(Payload::Json)
    } else if value.hasattr("tobytes")? {
        // memoryview and other buffers.
        Ok(Payload::Bytes(value.call_method0("tobytes")?.extract()?))
    } else {
        Err(invalid_job(
            "payload",
            format!(
                "expected a dict or list (sent as JSON), str or bytes; got {}",
                type_name(value)
            ),
        ))
    }
}

/// `(name, value)` pairs from a mapping or an iterable of pairs.
pub fn headers(value: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let pair = |name: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> PyResult<(String, String)> {
        let name = text("headers", name)?;
        let v = text("headers", v).map_err(|_| {
            invalid_job(
                "headers",
                format!("the value of {name:?} must be a str, got {}", type_name(v)),
            )
        })?;
        Ok((name, v))
    };
    if let Ok(d) = value.cast::<PyDict>() {
        return d.iter().map(|(k, v)| pair(&k, &v)).collect();
    }
    let items = if value.hasattr("items")? {
        value.call_method0("items")?
    } else {
        value.clone()
    };
    let iter = items.try_iter().map_err(|_| {
        invalid_job(
            "headers",
            format!(
                "expected a mapping or a list of (name, value) pairs, got {}",
                type_name(value)
            ),
        )
    })?;
    iter.map(|item| {
        let item = item?;
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
            invalid_job(
                "headers",
                format!("expected a (name, value) pair, got {}", repr(&item)),
            )
        })?;
        pair(&k, &v)
    })
    .collect()
}

fn optional_attr<'py>(
    value: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match value.getattr_opt(name)? {
        Some(v) if !v.is_none() => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// A retry policy: a preset name, or an object with the fields of `timehook.RetryPolicy`.
pub fn retry(field: &str, value: &Bound<'_, PyAny>) -> PyResult<RetryInput> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(RetryInput::Preset(s.to_cow()?.into_owned()));
    }
    if !value.hasattr("max_attempts")? || !value.hasattr("delays")? {
        return Err(invalid_job(
            field,
            format!(
                "expected a preset name (e.g. \"svix\") or a timehook.RetryPolicy, got {}",
                type_name(value)
            ),
        ));
    }
    let number = |name: &str| -> PyResult<Option<f64>> {
        optional_attr(value, name)?
            .map(|v| {
                v.extract::<f64>().map_err(|_| {
                    invalid_job(field, format!("{name} must be a number, got {}", repr(&v)))
                })
            })
            .transpose()
    };
    let duration = |name: &str| -> PyResult<Option<u64>> {
        optional_attr(value, name)?
            .map(|v| millis(field, &v))
            .transpose()
    };
    let delays_ms = optional_attr(value, "delays")?
        .map(|d| {
            d.try_iter()
                .map_err(|_| {
                    invalid_job(
                        field,
                        format!(
                            "delays must be a list of durations, got {} {}",
                            type_name(&d),
                            repr(&d)
                        ),
                    )
                })?
                .map(|item| millis(field, &item?))
                .collect::<PyResult<Vec<u64>>>()
        })
        .transpose()?;
    let max_attempts = optional_attr(value, "max_attempts")?
        .map(|v| {
            count(field, &v).and_then(|n| {
                u32::try_from(n)
                    .map_err(|_| invalid_job(field, format!("max_attempts {n} is too large")))
            })
        })
        .transpose()?;
    Ok(RetryInput::Policy(RetrySpec {
        max_attempts,
        delays_ms,
        initial_ms: duration("initial")?,
        factor: number("factor")?,
        jitter: number("jitter")?,
        max_delay_ms: duration("max_delay")?,
    }))
}
