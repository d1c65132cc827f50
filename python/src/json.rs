//! A `dict`/`list` payload as compact UTF-8 JSON, written without calling back into Python's
//! `json` module: `None`, `bool`, `int` (any size), finite `float`, `str`, and `dict` (with `str`
//! or `int` keys), `list` and `tuple` of those.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::convert::type_name;
use crate::errors::invalid_job;

/// Deepest nesting accepted (deeper is almost surely a cycle).
pub const MAX_DEPTH: usize = 128;

/// The JSON text of `value`.
///
/// # Errors
/// `InvalidJobError` (field `payload`) naming the value that JSON cannot represent.
pub fn to_json(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    write(value, &mut out, 0)?;
    Ok(out)
}

fn string(out: &mut Vec<u8>, s: &str) -> PyResult<()> {
    serde_json::to_writer(&mut *out, s).map_err(|e| invalid_job("payload", e))
}

fn write(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(invalid_job(
            "payload",
            format!("nests deeper than {MAX_DEPTH} levels (does it contain itself?)"),
        ));
    }
    if value.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = value.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(s) = value.cast::<PyString>() {
        string(out, &s.to_cow()?)?;
    } else if value.is_instance_of::<PyInt>() {
        match value.extract::<i64>() {
            Ok(n) => serde_json::to_writer(&mut *out, &n).map_err(|e| invalid_job("payload", e))?,
            // Larger than 64 bits: Python's own decimal digits.
            Err(_) => out.extend_from_slice(value.str()?.to_cow()?.as_bytes()),
        }
    } else if let Ok(f) = value.cast::<PyFloat>() {
        let f = f.value();
        if !f.is_finite() {
            return Err(invalid_job(
                "payload",
                format!("{f} is not a valid JSON number"),
            ));
        }
        // JavaScript's notation (`1e+21`, `5` for 5.0), so a receiver that re-serialises the
        // parsed body with JSON.stringify gets the signed bytes.
        out.extend_from_slice(timehook::json::number(f).as_bytes());
    } else if let Ok(d) = value.cast::<PyDict>() {
        out.push(b'{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if let Ok(s) = k.cast::<PyString>() {
                string(out, &s.to_cow()?)?;
            } else if k.is_instance_of::<PyInt>() && !k.is_instance_of::<PyBool>() {
                string(out, &k.str()?.to_cow()?)?;
            } else {
                return Err(invalid_job(
                    "payload",
                    format!(
                        "dict keys must be str or int, got {} {}",
                        type_name(&k),
                        k.repr()?
                    ),
                ));
            }
            out.push(b':');
            write(&v, out, depth + 1)?;
        }
        out.push(b'}');
    } else if let Ok(l) = value.cast::<PyList>() {
        items(l.iter(), out, depth)?;
    } else if let Ok(t) = value.cast::<PyTuple>() {
        items(t.iter(), out, depth)?;
    } else {
        return Err(invalid_job(
            "payload",
            format!(
                "a value of type {} is not JSON serializable (use dict, list, str, int, float, bool or None)",
                type_name(value)
            ),
        ));
    }
    Ok(())
}

fn items<'py>(
    iter: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<()> {
    out.push(b'[');
    for (i, item) in iter.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(&item, out, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}
