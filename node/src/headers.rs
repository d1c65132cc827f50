//! Request bodies and headers for verification, from whatever a Node framework hands over.
//!
//! Headers may be a WHATWG `Headers` (fetch, Hono, undici), Node's `IncomingHttpHeaders`
//! (`req.headers` in `http`, Express, Fastify: lower-case names, repeated headers as arrays), a
//! plain object with names in any case, a `Map`, or an array of `[name, value]` pairs. Only the
//! headers the scheme reads are converted, so a large header map stays cheap.

use napi::bindgen_prelude::JsObjectValue as _;
use std::ffi::CStr;

use napi::bindgen_prelude::{Array, FromNapiValue, Object, Uint8ArraySlice, Unknown};
use napi::{Env, JsValue, ValueType};
use timehook::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Scheme, Verifier};
use timehook_bindings::HeaderPairs;
use timehook_bindings::signing as bsign;

use crate::errors::type_error;
use crate::value::{array_from, describe, element, is_function};

/// A request body, borrowed from a `Buffer`/`Uint8Array` or copied from a string.
pub enum Body<'e> {
    /// The bytes of a `Uint8Array` (not copied).
    Bytes(Uint8ArraySlice<'e>),
    /// The UTF-8 bytes of a string.
    Text(String),
}

impl AsRef<[u8]> for Body<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => b,
            Body::Text(s) => s.as_bytes(),
        }
    }
}

/// The raw request body: a `Buffer`, another `Uint8Array`, or a string (its UTF-8 bytes).
pub fn body<'e>(env: &Env, value: Unknown<'e>) -> napi::Result<Body<'e>> {
    if value.get_type()? == ValueType::String {
        return Ok(Body::Text(String::from_unknown(value)?));
    }
    match Uint8ArraySlice::from_unknown(value) {
        Ok(slice) => Ok(Body::Bytes(slice)),
        Err(_) => Err(type_error(
            env,
            format!(
                "body: expected the raw request body as a Buffer, Uint8Array or string, got {}",
                describe(&value)
            ),
        )),
    }
}

fn push_value(
    env: &Env,
    pairs: &mut HeaderPairs,
    name: &str,
    value: Unknown<'_>,
) -> napi::Result<()> {
    match value.get_type()? {
        ValueType::String => pairs.push(name, String::from_unknown(value)?),
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Object if value.is_array()? => {
            let array = Array::from_unknown(value)?;
            for i in 0..array.len() {
                push_value(env, pairs, name, element(&array, i)?)?;
            }
        }
        _ => {
            return Err(type_error(
                env,
                format!(
                    "headers: the value of {name:?} must be a string or an array of strings, got {}",
                    describe(&value)
                ),
            ));
        }
    }
    Ok(())
}

/// The Standard Webhooks headers by their canonical names.
type StandardPairs = Vec<(&'static str, Vec<u8>)>;

/// The headers a verifier reads: found by the fast path, or collected by a scan.
pub enum Collected {
    /// The three Standard Webhooks headers, read by their lower-case names.
    Standard(StandardPairs),
    /// Whatever a scan of the header map found.
    Scanned(HeaderPairs),
}

impl Collected {
    /// Verifies `body` against the collected headers, at `now` (Unix seconds) or without the
    /// timestamp check.
    pub fn verify(
        &self,
        verifier: &Verifier,
        body: &[u8],
        now: Option<i64>,
    ) -> timehook_bindings::Result<()> {
        match self {
            Collected::Standard(pairs) => bsign::verify(verifier, body, pairs, now),
            Collected::Scanned(pairs) => bsign::verify(verifier, body, pairs.pairs(), now),
        }
    }
}

/// The Standard Webhooks headers under their canonical (lower-case) names, as Node's
/// `IncomingHttpHeaders` has them.
const STANDARD: [(&CStr, &str); 3] = [
    (c"webhook-id", HEADER_ID),
    (c"webhook-timestamp", HEADER_TIMESTAMP),
    (c"webhook-signature", HEADER_SIGNATURE),
];

/// Reads the three Standard Webhooks headers by their lower-case names, without listing the
/// object's keys (the common case: `req.headers` of `http`, Express, Fastify). `None` when one
/// is not there under that name (other spellings, `svix-*` names or a missing header are then
/// found by the full scan).
fn standard_fast(object: &Object<'_>) -> napi::Result<Option<StandardPairs>> {
    let mut pairs = Vec::with_capacity(STANDARD.len());
    for (cname, name) in STANDARD {
        let v = object.get_c_named_property::<Unknown>(cname)?;
        if v.get_type()? != ValueType::String {
            return Ok(None);
        }
        pairs.push((name, String::from_unknown(v)?.into_bytes()));
    }
    Ok(Some(pairs))
}

/// Adds the `[name, value]` pairs of `array` that the verifier reads.
fn push_pairs(env: &Env, pairs: &mut HeaderPairs, array: &Array<'_>) -> napi::Result<()> {
    for i in 0..array.len() {
        let pair = element(array, i)?;
        let items = if pair.is_array()? {
            Some(Array::from_unknown(pair)?)
        } else {
            None
        };
        let Some(items) = items.filter(|a| a.len() == 2) else {
            return Err(type_error(
                env,
                format!(
                    "headers: expected [name, value] pairs, got {}",
                    describe(&pair)
                ),
            ));
        };
        let name = element(&items, 0)?;
        if name.get_type()? != ValueType::String {
            return Err(type_error(
                env,
                format!(
                    "headers: a header name must be a string, got {}",
                    describe(&name)
                ),
            ));
        }
        let name = String::from_unknown(name)?;
        if pairs.wants(&name) {
            push_value(env, pairs, &name, element(&items, 1)?)?;
        }
    }
    Ok(())
}

/// The headers `scheme` reads, collected from `value`.
pub fn collect(env: &Env, value: Unknown<'_>, scheme: &Scheme) -> napi::Result<Collected> {
    if value.get_type()? != ValueType::Object {
        return Err(type_error(
            env,
            format!(
                "headers: expected Headers, IncomingHttpHeaders, an object or [name, value] pairs, got {}",
                describe(&value)
            ),
        ));
    }
    let mut pairs = HeaderPairs::for_scheme(scheme);
    if value.is_array()? {
        push_pairs(env, &mut pairs, &Array::from_unknown(value)?)?;
        return Ok(Collected::Scanned(pairs));
    }
    let object = Object::from_unknown(value)?;
    if matches!(scheme, Scheme::StandardWebhooks) {
        if let Some(found) = standard_fast(&object)? {
            return Ok(Collected::Standard(found));
        }
    }
    if is_function(&object.get_named_property::<Unknown>("get")?)? {
        // Headers (case-insensitive itself) or Map: its entries, as [name, value] pairs.
        push_pairs(env, &mut pairs, &array_from(env)?.call(object)?)?;
        return Ok(Collected::Scanned(pairs));
    }
    for name in Object::keys(&object)? {
        if pairs.wants(&name) {
            let v = object.get_named_property::<Unknown>(&name)?;
            push_value(env, &mut pairs, &name, v)?;
        }
    }
    Ok(Collected::Scanned(pairs))
}
