//! `Verifier`: checks signed webhook deliveries. Verification is pure CPU work (about a
//! microsecond for a 1 KB body), so it is synchronous and throws a `TimehookError` with a
//! verification code (`missing_header`, `invalid_header`, `timestamp_too_old`,
//! `timestamp_too_new`, `no_matching_signature`).

use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::{FromNapiValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use timehook::signing::Scheme;
use timehook_bindings::SchemeInput;
use timehook_bindings::signing as bsign;

use crate::errors::{IntoNapi, type_error};
use crate::headers::{body, collect};
use crate::value::{date_ms, describe, element, is_nullish};

/// Secret strings from one string or an array of them.
pub fn secret_list(env: &Env, value: Unknown<'_>, what: &str) -> napi::Result<Vec<String>> {
    if value.get_type()? == ValueType::String {
        return Ok(vec![String::from_unknown(value)?]);
    }
    let bad = |v: &Unknown<'_>| {
        type_error(
            env,
            format!(
                "expected a {what} string or an array of them, got {}",
                describe(v)
            ),
        )
    };
    if !value.is_array()? {
        return Err(bad(&value));
    }
    let array = napi::bindgen_prelude::Array::from_unknown(value)?;
    (0..array.len())
        .map(|i| {
            let item = element(&array, i)?;
            if item.get_type()? != ValueType::String {
                return Err(bad(&item));
            }
            String::from_unknown(item)
        })
        .collect()
}

fn optional_text(env: &Env, object: &Object<'_>, key: &str) -> napi::Result<Option<String>> {
    let v = object.get_named_property::<Unknown>(key)?;
    if is_nullish(&v)? {
        return Ok(None);
    }
    if v.get_type()? != ValueType::String {
        return Err(type_error(
            env,
            format!("scheme.{key}: expected a string, got {}", describe(&v)),
        ));
    }
    Ok(Some(String::from_unknown(v)?))
}

/// A scheme from `undefined` (Standard Webhooks), a name (`"standard"`, `"github"`, `"stripe"`)
/// or an object `{ kind, header, prefix, timestampHeader }`.
pub fn scheme_arg(env: &Env, value: Option<Unknown<'_>>) -> napi::Result<Scheme> {
    let input = match value {
        None => SchemeInput::default(),
        Some(v) if is_nullish(&v)? => SchemeInput::default(),
        Some(v) if v.get_type()? == ValueType::String => SchemeInput {
            kind: String::from_unknown(v)?,
            ..SchemeInput::default()
        },
        Some(v) if v.get_type()? == ValueType::Object && !v.is_array()? => {
            let object = Object::from_unknown(v)?;
            let prefix = object.get_named_property::<Unknown>("prefix")?;
            let prefix = match prefix.get_type()? {
                ValueType::Undefined | ValueType::Null => None,
                ValueType::Boolean => Some(bool::from_unknown(prefix)?),
                _ => {
                    return Err(type_error(
                        env,
                        format!(
                            "scheme.prefix: expected a boolean, got {}",
                            describe(&prefix)
                        ),
                    ));
                }
            };
            SchemeInput {
                kind: optional_text(env, &object, "kind")?.unwrap_or_default(),
                header: optional_text(env, &object, "header")?,
                prefix,
                timestamp_header: optional_text(env, &object, "timestampHeader")?,
            }
        }
        Some(v) => {
            return Err(type_error(
                env,
                format!(
                    "scheme: expected a scheme name or object, got {}",
                    describe(&v)
                ),
            ));
        }
    };
    input.into_scheme().map_err(|e| e.into_napi(env))
}

/// The `scheme` of an options object (`undefined` when there is none).
pub fn scheme_option<'e>(
    env: &Env,
    options: Option<Unknown<'e>>,
) -> napi::Result<Option<Unknown<'e>>> {
    let Some(options) = options.filter(|o| !is_nullish(o).unwrap_or(true)) else {
        return Ok(None);
    };
    if options.get_type()? != ValueType::Object {
        return Err(type_error(
            env,
            format!("options: expected an object, got {}", describe(&options)),
        ));
    }
    Ok(Some(
        Object::from_unknown(options)?.get_named_property::<Unknown>("scheme")?,
    ))
}

/// Unix seconds from `{ now }`: a `Date` or a number of seconds (default: the current time).
fn now_arg(env: &Env, options: Option<Unknown<'_>>) -> napi::Result<i64> {
    let Some(options) = options.filter(|o| !is_nullish(o).unwrap_or(true)) else {
        return Ok(bsign::now_unix());
    };
    if options.get_type()? != ValueType::Object {
        return Err(type_error(
            env,
            format!("options: expected an object, got {}", describe(&options)),
        ));
    }
    let now = Object::from_unknown(options)?.get_named_property::<Unknown>("now")?;
    match now.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(bsign::now_unix()),
        ValueType::Number => {
            let n = f64::from_unknown(now)?;
            if !n.is_finite() {
                return Err(type_error(
                    env,
                    format!("now: expected finite Unix seconds, got {n}"),
                ));
            }
            Ok(n.floor() as i64)
        }
        ValueType::Object if now.is_date()? => match date_ms(&now)? {
            Some(ms) => Ok(ms.div_euclid(1000)),
            None => Err(type_error(env, "now: is an invalid Date")),
        },
        _ => Err(type_error(
            env,
            format!(
                "now: expected a Date or Unix seconds, got {}",
                describe(&now)
            ),
        )),
    }
}

/// Checks signed webhook deliveries against one or more secrets (any match passes, for key
/// rotation). Standard Webhooks by default: secrets are `whsec_...` (prefix optional) or ed25519
/// public keys `whpk_...`.
#[napi]
pub struct Verifier {
    inner: timehook::signing::Verifier,
}

impl Verifier {
    /// Wraps a core verifier (the scheduler's own).
    pub fn from_core(inner: timehook::signing::Verifier) -> Self {
        Verifier { inner }
    }

    fn check(
        &self,
        env: &Env,
        b: Unknown<'_>,
        h: Unknown<'_>,
        now: Option<i64>,
    ) -> napi::Result<()> {
        let pairs = collect(env, h, self.inner.scheme())?;
        let body = body(env, b)?;
        pairs
            .verify(&self.inner, body.as_ref(), now)
            .map_err(|e| e.into_napi(env))
    }
}

#[napi]
impl Verifier {
    /// A verifier for one secret or several (`toleranceSeconds` defaults to 300).
    #[napi(
        constructor,
        ts_args_type = "secretOrSecrets: string | string[], options?: VerifierOptions"
    )]
    pub fn new(
        env: &Env,
        secrets: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<Self> {
        let secrets = secret_list(env, secrets, "secret")?;
        let scheme = scheme_arg(env, scheme_option(env, options)?)?;
        let tolerance = match options.filter(|o| !is_nullish(o).unwrap_or(true)) {
            None => None,
            Some(o) => {
                let t =
                    Object::from_unknown(o)?.get_named_property::<Unknown>("toleranceSeconds")?;
                match t.get_type()? {
                    ValueType::Undefined | ValueType::Null => None,
                    ValueType::Number => {
                        let n = f64::from_unknown(t)?;
                        if !n.is_finite() || n < 0.0 {
                            return Err(type_error(
                                env,
                                format!(
                                    "toleranceSeconds: expected a non-negative number, got {n}"
                                ),
                            ));
                        }
                        Some(n.floor() as u64)
                    }
                    _ => {
                        return Err(type_error(
                            env,
                            format!("toleranceSeconds: expected a number, got {}", describe(&t)),
                        ));
                    }
                }
            }
        };
        let inner =
            bsign::build_verifier(&secrets, scheme, tolerance).map_err(|e| e.into_napi(env))?;
        Ok(Verifier { inner })
    }

    /// Verifies the raw `body` against `headers`; `now` is a `Date` or Unix seconds (default:
    /// now). Throws a `TimehookError` if the delivery is not authentic or not timely.
    #[napi(
        ts_args_type = "body: Uint8Array | string, headers: HeadersLike, options?: VerifyOptions"
    )]
    pub fn verify(
        &self,
        env: &Env,
        body: Unknown<'_>,
        headers: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<()> {
        let now = now_arg(env, options)?;
        self.check(env, body, headers, Some(now))
    }

    /// Like `verify` without the timestamp check, for replaying stored deliveries.
    #[napi(ts_args_type = "body: Uint8Array | string, headers: HeadersLike")]
    pub fn verify_ignoring_timestamp(
        &self,
        env: &Env,
        body: Unknown<'_>,
        headers: Unknown<'_>,
    ) -> napi::Result<()> {
        self.check(env, body, headers, None)
    }

    /// The timestamp tolerance in seconds.
    #[napi(getter)]
    pub fn tolerance_seconds(&self) -> f64 {
        self.inner.tolerance_secs() as f64
    }

    /// The scheme's name: `standard`, `hex_body` or `timestamped_hex`.
    #[napi(getter)]
    pub fn scheme(&self) -> String {
        self.inner.scheme().name().to_owned()
    }
}
