//! JavaScript values to plain Rust values, with errors that name the field and say what was
//! given. Times: a `Date`, an ISO 8601 string with an offset, or epoch milliseconds. Durations:
//! milliseconds.

use chrono::DateTime;
use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::{Array, FromNapiValue, Function, Object, Uint8ArraySlice, Unknown};
use napi::{Env, JsValue, ValueType};
use timehook_bindings::{BindingError, EpochMs};

use crate::errors::IntoNapi;

/// A conversion failure: bad input (a bindings error, turned into a `TimehookError` at the
/// boundary, so a batch can prefix it with the position at fault) or a failed napi call.
#[derive(Debug)]
pub enum ConvError {
    /// The input is wrong.
    Input(BindingError),
    /// A napi call failed (or JavaScript threw).
    Napi(napi::Error),
}

impl From<napi::Error> for ConvError {
    fn from(e: napi::Error) -> Self {
        ConvError::Napi(e)
    }
}

impl From<BindingError> for ConvError {
    fn from(e: BindingError) -> Self {
        ConvError::Input(e)
    }
}

impl ConvError {
    /// The same error with `context` in front of an input error's message.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        match self {
            ConvError::Input(e) => ConvError::Input(e.context(context)),
            other => other,
        }
    }
}

impl IntoNapi for ConvError {
    fn into_napi(self, env: &Env) -> napi::Error {
        match self {
            ConvError::Input(e) => e.into_napi(env),
            ConvError::Napi(e) => e,
        }
    }
}

/// `Result` with [`ConvError`].
pub type ConvResult<T> = std::result::Result<T, ConvError>;

/// Where values come from, which decides the error code: job fields (`invalid_job`) or
/// scheduler options (`invalid_config`).
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The environment, to build errors.
    pub env: &'a Env,
    /// Whether the values are scheduler options.
    pub config: bool,
}

impl<'a> Ctx<'a> {
    /// Values of job fields.
    pub fn job(env: &'a Env) -> Self {
        Ctx { env, config: false }
    }

    /// Values of scheduler options.
    pub fn options(env: &'a Env) -> Self {
        Ctx { env, config: true }
    }

    /// The error for `field`.
    pub fn fail(&self, field: &str, reason: impl std::fmt::Display) -> ConvError {
        ConvError::Input(if self.config {
            BindingError::invalid_config(field, reason)
        } else {
            BindingError::invalid_job(field, reason)
        })
    }

    fn expected(&self, field: &str, what: &str, value: &Unknown<'_>) -> ConvError {
        self.fail(field, format!("expected {what}, got {}", describe(value)))
    }

    /// A string.
    pub fn text(&self, field: &str, value: Unknown<'_>) -> ConvResult<String> {
        if value.get_type()? != ValueType::String {
            return Err(self.expected(field, "a string", &value));
        }
        Ok(String::from_unknown(value)?)
    }

    /// A boolean.
    pub fn boolean(&self, field: &str, value: Unknown<'_>) -> ConvResult<bool> {
        if value.get_type()? != ValueType::Boolean {
            return Err(self.expected(field, "a boolean", &value));
        }
        Ok(bool::from_unknown(value)?)
    }

    /// A finite number.
    pub fn number(&self, field: &str, value: Unknown<'_>) -> ConvResult<f64> {
        if value.get_type()? != ValueType::Number {
            return Err(self.expected(field, "a number", &value));
        }
        let n = f64::from_unknown(value)?;
        if !n.is_finite() {
            return Err(self.fail(field, format!("expected a finite number, got {n}")));
        }
        Ok(n)
    }

    /// A non-negative integer.
    pub fn count(&self, field: &str, value: Unknown<'_>) -> ConvResult<u64> {
        let n = self.number(field, value)?;
        if n < 0.0 || n.fract() != 0.0 || n > MAX_SAFE_INTEGER {
            return Err(self.fail(field, format!("expected a non-negative integer, got {n}")));
        }
        Ok(n as u64)
    }

    /// A non-negative duration in milliseconds (fractions are rounded).
    pub fn millis(&self, field: &str, value: Unknown<'_>) -> ConvResult<u64> {
        let n = self.number(field, value)?;
        if !(0.0..=MAX_SAFE_INTEGER).contains(&n) {
            return Err(self.fail(
                field,
                format!("expected a non-negative number of milliseconds, got {n}"),
            ));
        }
        Ok(n.round() as u64)
    }

    /// An instant: a `Date`, an ISO 8601 string with a time zone offset, or epoch milliseconds.
    pub fn instant(&self, field: &str, value: Unknown<'_>) -> ConvResult<EpochMs> {
        match value.get_type()? {
            ValueType::Number => {
                let n = self.number(field, value)?;
                if n.abs() > MAX_SAFE_INTEGER {
                    return Err(self.fail(field, format!("{n} ms since the epoch is out of range")));
                }
                Ok(n.round() as EpochMs)
            }
            ValueType::String => {
                let s = String::from_unknown(value)?;
                DateTime::parse_from_rfc3339(s.trim())
                    .map(|t| t.timestamp_millis())
                    .map_err(|e| {
                        self.fail(
                            field,
                            format!(
                                "{s:?} is not an ISO 8601 date-time with an offset \
                                 (e.g. \"2030-01-01T09:00:00Z\"): {e}"
                            ),
                        )
                    })
            }
            ValueType::Object if value.is_date()? => match date_ms(&value)? {
                Some(ms) => Ok(ms),
                None => Err(self.fail(field, "is an invalid Date")),
            },
            _ => Err(self.expected(
                field,
                "a Date, an ISO 8601 string or epoch milliseconds",
                &value,
            )),
        }
    }

    /// One string or an array of strings.
    pub fn texts(&self, field: &str, value: Unknown<'_>) -> ConvResult<Vec<String>> {
        if value.get_type()? == ValueType::String {
            return Ok(vec![String::from_unknown(value)?]);
        }
        if !value.is_array()? {
            return Err(self.expected(field, "a string or an array of strings", &value));
        }
        let array = Array::from_unknown(value)?;
        (0..array.len())
            .map(|i| self.text(field, element(&array, i)?))
            .collect()
    }

    /// Header `(name, value)` pairs from a plain object, an array of `[name, value]` pairs, or a
    /// WHATWG `Headers` / `Map` (anything iterable with a `get` method).
    pub fn header_pairs(
        &self,
        field: &str,
        value: Unknown<'_>,
    ) -> ConvResult<Vec<(String, String)>> {
        if value.get_type()? != ValueType::Object {
            return Err(self.expected(field, "an object of header names to values", &value));
        }
        let array = if value.is_array()? {
            Array::from_unknown(value)?
        } else {
            let object = Object::from_unknown(value)?;
            if !is_function(&object.get_named_property::<Unknown>("get")?)? {
                let mut pairs = Vec::new();
                for name in Object::keys(&object)? {
                    let v = object.get_named_property::<Unknown>(&name)?;
                    match v.get_type()? {
                        ValueType::Undefined => {}
                        ValueType::String => pairs.push((name, String::from_unknown(v)?)),
                        _ => {
                            return Err(self.fail(
                                field,
                                format!(
                                    "the value of {name:?} must be a string, got {}",
                                    describe(&v)
                                ),
                            ));
                        }
                    }
                }
                return Ok(pairs);
            }
            // Headers and Map: their entries, as an array of pairs.
            array_from(self.env)?.call(object)?
        };
        let mut pairs = Vec::with_capacity(array.len() as usize);
        for i in 0..array.len() {
            let pair = element(&array, i)?;
            let bad = |pair: &Unknown<'_>| {
                self.fail(
                    field,
                    format!(
                        "expected [name, value] pairs of strings, got {}",
                        describe(pair)
                    ),
                )
            };
            if !pair.is_array()? {
                return Err(bad(&pair));
            }
            let items = Array::from_unknown(pair)?;
            if items.len() != 2 {
                return Err(bad(&pair));
            }
            let name = element(&items, 0)?;
            let v = element(&items, 1)?;
            if name.get_type()? != ValueType::String || v.get_type()? != ValueType::String {
                return Err(bad(&pair));
            }
            pairs.push((String::from_unknown(name)?, String::from_unknown(v)?));
        }
        Ok(pairs)
    }
}

/// JavaScript's `Array.from`.
pub fn array_from(env: &Env) -> napi::Result<Function<'_, Object<'_>, Array<'_>>> {
    // `Array` is a function: read it untyped, then as the object it also is.
    let array = env.get_global()?.get_named_property::<Unknown>("Array")?;
    Object::from_unknown(array)?.get_named_property("from")
}

/// The enumerable string keys of `object` with their values. The values are read with the key
/// values themselves, so no key is converted back to a JavaScript string.
pub fn entries<'e>(object: &Object<'e>) -> napi::Result<Vec<(String, Unknown<'e>)>> {
    let names = Array::from_unknown(object.get_property_names()?.to_unknown())?;
    let mut out = Vec::with_capacity(names.len() as usize);
    for i in 0..names.len() {
        let key = element(&names, i)?;
        let value = object.get_property::<Unknown<'_>, Unknown<'e>>(key)?;
        out.push((String::from_unknown(key)?, value));
    }
    Ok(out)
}

/// The fields of an options-like argument that are set (not `null` / `undefined`), in key order;
/// `None` when the argument itself is absent. Anything but a plain object is refused, naming
/// `field` and what was `expected`.
pub fn set_fields<'e>(
    c: &Ctx<'_>,
    value: Option<Unknown<'e>>,
    field: &str,
    expected: &str,
) -> ConvResult<Option<Vec<(String, Unknown<'e>)>>> {
    let Some(value) = value.filter(|v| !is_nullish(v).unwrap_or(true)) else {
        return Ok(None);
    };
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(c.fail(
            field,
            format!("expected {expected}, got {}", describe(&value)),
        ));
    }
    let object = Object::from_unknown(value)?;
    let mut out = Vec::new();
    for key in Object::keys(&object)? {
        let v = object.get_named_property::<Unknown>(&key)?;
        if !is_nullish(&v)? {
            out.push((key, v));
        }
    }
    Ok(Some(out))
}

/// Epoch milliseconds of a `Date` (`None` for an invalid one).
pub fn date_ms(value: &Unknown<'_>) -> napi::Result<Option<EpochMs>> {
    let ms = value.coerce_to_number()?.get_double()?;
    Ok((ms.is_finite() && ms.abs() <= MAX_SAFE_INTEGER).then_some(ms as EpochMs))
}

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The element at `i` (an `undefined` hole reads as `undefined`).
pub fn element<'e>(array: &Array<'e>, i: u32) -> napi::Result<Unknown<'e>> {
    array
        .get::<Unknown<'e>>(i)?
        .ok_or_else(|| napi::Error::from_reason(format!("array element {i} is missing")))
}

/// Whether a value is a function.
pub fn is_function(value: &Unknown<'_>) -> napi::Result<bool> {
    Ok(value.get_type()? == ValueType::Function)
}

/// Whether a value is `undefined` or `null` (an option that is not set).
pub fn is_nullish(value: &Unknown<'_>) -> napi::Result<bool> {
    Ok(matches!(
        value.get_type()?,
        ValueType::Undefined | ValueType::Null
    ))
}

/// Bytes of a `Buffer` or another `Uint8Array`, if the value is one.
pub fn bytes<'e>(value: &Unknown<'e>) -> napi::Result<Option<Uint8ArraySlice<'e>>> {
    if value.get_type()? != ValueType::Object || !value.is_typedarray()? {
        return Ok(None);
    }
    Ok(Uint8ArraySlice::from_unknown(*value).ok())
}

/// What a value is, for messages: `a number (5)`, `an array`, `null`...
pub fn describe(value: &Unknown<'_>) -> String {
    let kind = match value.get_type() {
        Ok(t) => t,
        Err(_) => return "an unknown value".to_owned(),
    };
    let shown = |v: &Unknown<'_>| -> Option<String> {
        let s = v.coerce_to_string().ok()?;
        let s = String::from_unknown(s.to_unknown()).ok()?;
        Some(if s.chars().count() > 40 {
            format!("{}…", s.chars().take(40).collect::<String>())
        } else {
            s
        })
    };
    match kind {
        ValueType::Undefined => "undefined".to_owned(),
        ValueType::Null => "null".to_owned(),
        ValueType::Boolean | ValueType::Number | ValueType::BigInt => {
            let name = match kind {
                ValueType::Boolean => "a boolean",
                ValueType::Number => "a number",
                _ => "a bigint",
            };
            match shown(value) {
                Some(s) => format!("{name} ({s})"),
                None => name.to_owned(),
            }
        }
        ValueType::String => match shown(value) {
            Some(s) => format!("the string {s:?}"),
            None => "a string".to_owned(),
        },
        ValueType::Symbol => "a symbol".to_owned(),
        ValueType::Function => "a function".to_owned(),
        ValueType::Object => {
            if value.is_array().unwrap_or(false) {
                "an array".to_owned()
            } else if value.is_date().unwrap_or(false) {
                "a Date".to_owned()
            } else if value.is_typedarray().unwrap_or(false) {
                "a typed array".to_owned()
            } else {
                "an object".to_owned()
            }
        }
        _ => "an unknown value".to_owned(),
    }
}
