//! `timehook.Verifier`, `timehook.Scheme`, `timehook.signing.Signer` and the key helpers.
//!
//! Verification is pure CPU work and stays synchronous (no GIL release: it takes about a
//! microsecond). Headers may be any mapping (dict, Flask/Werkzeug `EnvironHeaders`, Starlette
//! `Headers`, Django `HttpHeaders`, a WSGI environ or Django `request.META`) or a list of
//! `(name, value)` pairs; names match in any case; values may be `str` or `bytes`, or a list of
//! them for a repeated header.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};
use timehook_bindings::ErrorCode;
use timehook_bindings::signing::{self as bsign, HeaderFilter, SchemeInput};

use crate::convert::{as_argument_error, epoch_ms, millis, type_name};
use crate::errors::{IntoPyErr, argument_type_error};

/// A signature scheme: Standard Webhooks (the default) or a compatibility scheme.
#[pyclass(module = "timehook", name = "Scheme", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Scheme {
    inner: timehook::signing::Scheme,
}

fn scheme(input: SchemeInput) -> PyResult<Scheme> {
    Ok(Scheme {
        inner: input.into_scheme().map_err(IntoPyErr::into_py_err)?,
    })
}

#[pymethods]
impl Scheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    #[staticmethod]
    fn standard() -> PyResult<Scheme> {
        scheme(SchemeInput::default())
    }

    /// GitHub style: `X-Hub-Signature-256: sha256=<hex of HMAC(body)>` (no timestamp).
    #[staticmethod]
    fn github() -> PyResult<Scheme> {
        scheme(SchemeInput {
            kind: "github".into(),
            ..SchemeInput::default()
        })
    }

    /// Stripe style: `Stripe-Signature: t=<ts>,v1=<hex of HMAC(ts.body)>`.
    #[staticmethod]
    fn stripe() -> PyResult<Scheme> {
        scheme(SchemeInput {
            kind: "stripe".into(),
            ..SchemeInput::default()
        })
    }

    /// Hex HMAC of the raw body in `header` (with `sha256=` when `prefix`).
    #[staticmethod]
    #[pyo3(signature = (header, *, prefix=None))]
    fn hex_body(header: &Bound<'_, PyAny>, prefix: Option<&Bound<'_, PyAny>>) -> PyResult<Scheme> {
        scheme(SchemeInput {
            kind: "hex_body".into(),
            header: Some(str_arg(ErrorCode::InvalidScheme, "header", header)?),
            prefix: Some(match prefix {
                Some(p) => bool_arg(ErrorCode::InvalidScheme, "prefix", p)?,
                None => true,
            }),
            ..SchemeInput::default()
        })
    }

    /// Hex HMAC of `timestamp.body` in `header`; the timestamp in `timestamp_header`, or inside
    /// `header` as `t=<ts>,v1=<hex>` when it is None.
    #[staticmethod]
    #[pyo3(signature = (header, *, timestamp_header=None))]
    fn timestamped_hex(
        header: &Bound<'_, PyAny>,
        timestamp_header: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Scheme> {
        let code = ErrorCode::InvalidScheme;
        scheme(SchemeInput {
            kind: "timestamped_hex".into(),
            header: Some(str_arg(code, "header", header)?),
            timestamp_header: timestamp_header
                .map(|h| str_arg(code, "timestamp_header", h))
                .transpose()?,
            ..SchemeInput::default()
        })
    }

    /// `"standard"`, `"hex_body"` or `"timestamped_hex"`.
    #[getter]
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn __repr__(&self) -> String {
        use timehook::signing::Scheme as S;
        match &self.inner {
            S::StandardWebhooks => "Scheme.standard()".to_owned(),
            S::HexBody { header, prefix } => {
                format!("Scheme.hex_body({header:?}, prefix={})", py_bool(*prefix))
            }
            S::TimestampedHex {
                header,
                timestamp_header,
            } => match timestamp_header {
                Some(t) => format!("Scheme.timestamped_hex({header:?}, timestamp_header={t:?})"),
                None => format!("Scheme.timestamped_hex({header:?})"),
            },
            other => format!("Scheme({:?})", other.name()),
        }
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A scheme from `None` (standard), a name (`"standard"`, `"github"`, `"stripe"`) or a `Scheme`.
pub(crate) fn scheme_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<timehook::signing::Scheme> {
    match value {
        None => Ok(timehook::signing::Scheme::StandardWebhooks),
        Some(v) if v.is_none() => Ok(timehook::signing::Scheme::StandardWebhooks),
        Some(v) => {
            if let Ok(s) = v.cast::<Scheme>() {
                Ok(s.get().inner.clone())
            } else if let Ok(name) = v.cast::<PyString>() {
                Ok(scheme(SchemeInput {
                    kind: name.to_cow()?.into_owned(),
                    ..SchemeInput::default()
                })?
                .inner)
            } else {
                Err(argument_type_error(
                    ErrorCode::InvalidScheme,
                    "scheme",
                    format!("expected a timehook.Scheme or a name, got {}", type_name(v)),
                ))
            }
        }
    }
}

/// One secret string or an iterable of them, given as `argument`; `what` names one of them in
/// messages (`secret`, `key`).
fn secret_list(value: &Bound<'_, PyAny>, argument: &str, what: &str) -> PyResult<Vec<String>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    let iter = value.try_iter().map_err(|_| {
        argument_type_error(
            ErrorCode::InvalidConfig,
            argument,
            format!(
                "expected a {what} string or a list of them, got {}",
                type_name(value)
            ),
        )
    })?;
    iter.map(|item| {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => Ok(s.to_cow()?.into_owned()),
            Err(_) => Err(argument_type_error(
                ErrorCode::InvalidConfig,
                argument,
                format!("expected {what} strings, got {}", type_name(&item)),
            )),
        }
    })
    .collect()
}

/// Request body bytes from `bytes`, `bytearray`, `memoryview` or `str` (UTF-8).
fn body_bytes<'a>(body: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = body.cast::<PyBytes>() {
        Ok(Cow::Borrowed(b.as_bytes()))
    } else if let Ok(s) = body.cast::<PyString>() {
        Ok(Cow::Owned(s.to_cow()?.into_owned().into_bytes()))
    } else if let Ok(b) = body.cast::<PyByteArray>() {
        Ok(Cow::Owned(b.to_vec()))
    } else if body.hasattr("tobytes")? {
        Ok(Cow::Owned(body.call_method0("tobytes")?.extract()?))
    } else {
        Err(argument_type_error(
            ErrorCode::InvalidConfig,
            "body",
            format!(
                "expected the raw request body as bytes or str, got {}",
                type_name(body)
            ),
        ))
    }
}

/// A header name or value as UTF-8 bytes (str is encoded; bytes, as in ASGI raw headers, are
/// kept), or `None` for anything else.
fn header_bytes<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    if let Ok(s) = value.cast::<PyString>() {
        Ok(Some(s.encode_utf8()?))
    } else if let Ok(b) = value.cast::<PyBytes>() {
        Ok(Some(b.clone()))
    } else {
        Ok(None)
    }
}

/// The signature headers found in a header map: the name as the verifier expects it, and the
/// value's bytes (kept as Python bytes, borrowed when verifying).
struct Found<'f, 'py> {
    filter: &'f HeaderFilter,
    pairs: Vec<(&'f str, Bound<'py, PyBytes>)>,
}

impl<'f, 'py> Found<'f, 'py> {
    fn add(&mut self, name: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> PyResult<()> {
        // Most headers (host, content-type, ...) are ruled out by length, without converting.
        if let Ok(n) = name.len() {
            if !self.filter.may_match_len(n) {
                return Ok(());
            }
        }
        // Names that are not text (WSGI environ entries such as wsgi.input are str) are skipped.
        let Some(name_bytes) = header_bytes(name)? else {
            return Ok(());
        };
        let Some(wanted) = self.filter.matching(name_bytes.as_bytes()) else {
            return Ok(());
        };
        self.add_value(wanted, value)
    }

    fn add_value(&mut self, wanted: &'f str, value: &Bound<'py, PyAny>) -> PyResult<()> {
        if let Some(v) = header_bytes(value)? {
            self.pairs.push((wanted, v));
        } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
            for item in value.try_iter()? {
                self.add_value(wanted, &item?)?;
            }
        } else {
            return Err(argument_type_error(
                ErrorCode::InvalidConfig,
                "headers",
                format!(
                    "the value of {wanted:?} must be str or bytes, got {}",
                    type_name(value)
                ),
            ));
        }
        Ok(())
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.pairs.iter().map(|(n, v)| (*n, v.as_bytes()))
    }
}

/// The headers the verifier reads, from any mapping or list of pairs.
fn collect_headers<'f, 'py>(
    headers: &Bound<'py, PyAny>,
    filter: &'f HeaderFilter,
) -> PyResult<Found<'f, 'py>> {
    let mut found = Found {
        filter,
        pairs: Vec::with_capacity(3),
    };
    if let Ok(d) = headers.cast::<PyDict>() {
        for (k, v) in d.iter() {
            found.add(&k, &v)?;
        }
        return Ok(found);
    }
    let items = if headers.hasattr("items")? {
        headers.call_method0("items")?
    } else {
        headers.clone()
    };
    let iter = items.try_iter().map_err(|_| {
        argument_type_error(
            ErrorCode::InvalidConfig,
            "headers",
            format!(
                "expected a mapping or a list of (name, value) pairs, got {}",
                type_name(headers)
            ),
        )
    })?;
    for item in iter {
        let item = item?;
        let (k, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract().map_err(|_| {
            argument_type_error(
                ErrorCode::InvalidConfig,
                "headers",
                format!("expected (name, value) pairs, got {}", type_name(&item)),
            )
        })?;
        found.add(&k, &v)?;
    }
    Ok(found)
}

/// Unix seconds from `None` (now), a number, or an aware datetime.
fn now_arg(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match now {
        None => Ok(bsign::now_unix()),
        Some(v) if v.is_none() => Ok(bsign::now_unix()),
        Some(v) => {
            if let Ok(n) = v.extract::<i64>() {
                Ok(n)
            } else if let Ok(f) = v.extract::<f64>() {
                Ok(f.floor() as i64)
            } else {
                Ok(epoch_ms("now", v)
                    .map_err(as_argument_error)?
                    .div_euclid(1000))
            }
        }
    }
}

/// Checks signed webhook deliveries against one or more secrets (any match passes, for key
/// rotation).
#[pyclass(module = "timehook", name = "Verifier", frozen)]
pub struct Verifier {
    inner: timehook::signing::Verifier,
    filter: HeaderFilter,
}

impl Verifier {
    /// Wraps a core verifier (the scheduler's own).
    pub fn from_core(inner: timehook::signing::Verifier) -> Self {
        let filter = HeaderFilter::for_scheme(inner.scheme());
        Verifier { inner, filter }
    }
}

#[pymethods]
impl Verifier {
    #[new]
    #[pyo3(signature = (secret_or_secrets, *, tolerance=None, scheme=None))]
    fn new(
        secret_or_secrets: &Bound<'_, PyAny>,
        tolerance: Option<&Bound<'_, PyAny>>,
        scheme: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let secrets = secret_list(secret_or_secrets, "secret", "secret")?;
        let tolerance = tolerance
            .filter(|t| !t.is_none())
            .map(|t| {
                millis("tolerance", t)
                    .map(|ms| ms / 1000)
                    .map_err(as_argument_error)
            })
            .transpose()?;
        let inner = bsign::build_verifier(&secrets, scheme_arg(scheme)?, tolerance)
            .map_err(IntoPyErr::into_py_err)?;
        Ok(Verifier::from_core(inner))
    }

    /// Verifies `body` (the raw request body, bytes or str) against `headers`; `now` is Unix
    /// seconds or an aware datetime (default: the current time). Raises `VerificationError`.
    #[pyo3(signature = (body, headers, *, now=None))]
    fn verify(
        &self,
        body: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let now = now_arg(now)?;
        let found = collect_headers(headers, &self.filter)?;
        bsign::verify(&self.inner, &body_bytes(body)?, found.pairs(), Some(now))
            .map_err(IntoPyErr::into_py_err)
    }

    /// Like `verify` without the timestamp tolerance check, for replaying stored deliveries.
    fn verify_ignoring_timestamp(
        &self,
        body: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let found = collect_headers(headers, &self.filter)?;
        bsign::verify(&self.inner, &body_bytes(body)?, found.pairs(), None)
            .map_err(IntoPyErr::into_py_err)
    }

    /// The timestamp tolerance in seconds.
    #[getter]
    fn tolerance(&self) -> u64 {
        self.inner.tolerance_secs()
    }

    /// The signature scheme.
    #[getter]
    fn scheme(&self) -> Scheme {
        Scheme {
            inner: self.inner.scheme().clone(),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Verifier(<secrets hidden>, tolerance={}, scheme={})",
            self.inner.tolerance_secs(),
            self.scheme().__repr__()
        )
    }
}

/// Signs messages the way the scheduler signs its deliveries (useful to test a receiver).
#[pyclass(module = "timehook.signing", name = "Signer", frozen)]
pub struct Signer {
    inner: timehook::signing::Signer,
}

#[pymethods]
impl Signer {
    #[new]
    #[pyo3(signature = (keys, *, scheme=None))]
    fn new(keys: &Bound<'_, PyAny>, scheme: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let keys = secret_list(keys, "keys", "key")?;
        let inner =
            bsign::build_signer(&keys, scheme_arg(scheme)?).map_err(IntoPyErr::into_py_err)?;
        Ok(Signer { inner })
    }

    /// The signature header's value for `(msg_id, timestamp, body)`.
    fn sign(
        &self,
        msg_id: &Bound<'_, PyAny>,
        timestamp: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let (msg_id, timestamp) = message_args(msg_id, timestamp)?;
        Ok(self.inner.sign(&msg_id, timestamp, &body_bytes(body)?))
    }

    /// Every header the scheme sends, as `(name, value)` pairs.
    fn headers(
        &self,
        msg_id: &Bound<'_, PyAny>,
        timestamp: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<(String, String)>> {
        let (msg_id, timestamp) = message_args(msg_id, timestamp)?;
        Ok(self.inner.headers(&msg_id, timestamp, &body_bytes(body)?))
    }

    fn __repr__(&self) -> String {
        "Signer(<keys hidden>)".to_owned()
    }
}

/// A `str` argument, or an `ArgumentTypeError` naming it.
fn str_arg(code: ErrorCode, argument: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(argument_type_error(
            code,
            argument,
            format!("expected str, got {}", type_name(value)),
        )),
    }
}

/// A `bool` argument, or an `ArgumentTypeError` naming it.
fn bool_arg(code: ErrorCode, argument: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    match value.cast::<pyo3::types::PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(argument_type_error(
            code,
            argument,
            format!("expected bool, got {}", type_name(value)),
        )),
    }
}

/// The message id (`str`) and timestamp (whole seconds, an `int`) of `sign` and `headers`.
fn message_args(
    msg_id: &Bound<'_, PyAny>,
    timestamp: &Bound<'_, PyAny>,
) -> PyResult<(String, i64)> {
    let code = ErrorCode::InvalidConfig;
    let msg_id = str_arg(code, "msg_id", msg_id)?;
    let seconds = if timestamp.is_instance_of::<pyo3::types::PyBool>() {
        None
    } else {
        timestamp.extract::<i64>().ok()
    };
    let timestamp = seconds.ok_or_else(|| {
        argument_type_error(
            code,
            "timestamp",
            format!(
                "expected whole seconds since the epoch (int), got {}",
                type_name(timestamp)
            ),
        )
    })?;
    Ok((msg_id, timestamp))
}

fn key_result(r: timehook_bindings::Result<String>) -> PyResult<String> {
    r.map_err(IntoPyErr::into_py_err)
}

/// A new random HMAC secret, `whsec_...`.
#[pyfunction]
pub fn generate_secret() -> PyResult<String> {
    key_result(bsign::generate_secret())
}

/// A new random ed25519 signing key, `whsk_...`.
#[pyfunction]
pub fn generate_signing_key() -> PyResult<String> {
    key_result(bsign::generate_signing_key())
}

/// The `whpk_...` public key of a `whsk_...` signing key.
#[pyfunction]
pub fn public_key(signing_key: &Bound<'_, PyAny>) -> PyResult<String> {
    let key = str_arg(ErrorCode::InvalidConfig, "signing_key", signing_key)?;
    key_result(bsign::public_key(&key))
}

/// The canonical `whsec_...` form of a secret (the prefix is optional on input).
#[pyfunction]
pub fn normalize_secret(secret: &Bound<'_, PyAny>) -> PyResult<String> {
    let secret = str_arg(ErrorCode::InvalidConfig, "secret", secret)?;
    key_result(bsign::normalize_secret(&secret))
}

/// The canonical `whpk_...` form of a public key.
#[pyfunction]
pub fn normalize_public_key(key: &Bound<'_, PyAny>) -> PyResult<String> {
    let key = str_arg(ErrorCode::InvalidConfig, "key", key)?;
    key_result(bsign::normalize_public_key(&key))
}
