//! Conversions between JavaScript values and `timehook::signing` types, and of core errors into
//! JavaScript errors.
//!
//! | thrown for | `name` | `code` |
//! |---|---|---|
//! | a delivery that fails verification ([`VerifyError`]) | `WebhookVerificationError` | `missing_header`, `invalid_header`, `timestamp_too_old`, `timestamp_too_new`, `no_matching_signature` |
//! | a bad key or configuration ([`SigningError`]) | `SigningError` | `invalid_secret`, `no_keys`, `incompatible_key`, `invalid_scheme`, `invalid_msg_id` |
//! | an argument of the wrong type or range | `TypeError` | [`INVALID_ARGUMENT`] |
//!
//! `missing_header` and `invalid_header` errors also carry a `header` property naming the header.

use alloc::string::{String, ToString};

use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::signing::{Scheme, SigningError, VerifyError};

// The few JavaScript APIs used here, imported directly: `js-sys` would also link its futures
// runtime and closure glue into the module.
#[wasm_bindgen]
extern "C" {
    /// A JavaScript `Error` (or a subclass), to throw.
    #[wasm_bindgen(js_name = Error)]
    type JsError;

    #[wasm_bindgen(constructor, js_class = Error)]
    fn new(message: &str) -> JsError;

    /// A JavaScript `TypeError`.
    #[wasm_bindgen(js_name = TypeError, extends = JsError)]
    type JsTypeError;

    #[wasm_bindgen(constructor, js_class = TypeError)]
    fn new(message: &str) -> JsTypeError;

    #[wasm_bindgen(method, setter = name)]
    fn set_name(this: &JsError, name: &str);

    #[wasm_bindgen(method, setter = code)]
    fn set_code(this: &JsError, code: &str);

    #[wasm_bindgen(method, setter = header)]
    fn set_header(this: &JsError, header: &str);

    /// `JSON.stringify` of a string: the string quoted and escaped, for messages.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify)]
    pub fn quoted(value: &str) -> String;
}

/// `code` of errors about an argument's type or range (raised by the binding, not by core).
pub const INVALID_ARGUMENT: &str = "invalid_argument";
/// `name` of errors thrown for a delivery that fails verification.
pub const VERIFY_ERROR_NAME: &str = "WebhookVerificationError";
/// `name` of errors thrown for a bad key or configuration.
pub const SIGNING_ERROR_NAME: &str = "SigningError";

/// Name of the Standard Webhooks scheme in the `scheme` option (also [`Scheme::name`]).
pub const SCHEME_STANDARD: &str = "standard";
/// Shorthand for [`Scheme::github`].
pub const SCHEME_GITHUB: &str = "github";
/// Shorthand for [`Scheme::stripe`].
pub const SCHEME_STRIPE: &str = "stripe";
/// Name of [`Scheme::HexBody`] (also [`Scheme::name`]).
pub const SCHEME_HEX_BODY: &str = "hex_body";
/// Name of [`Scheme::TimestampedHex`] (also [`Scheme::name`]).
pub const SCHEME_TIMESTAMPED_HEX: &str = "timestamped_hex";

/// Largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Converts a core error into the JavaScript error thrown for it.
pub trait IntoJsError {
    /// The JavaScript `Error` to throw.
    fn into_js(self) -> JsValue;
}

// Not inlined: every fallible export converts errors, and one copy of each is enough.
impl IntoJsError for VerifyError {
    #[inline(never)]
    fn into_js(self) -> JsValue {
        js_error(
            JsError::new(&self.to_string()),
            VERIFY_ERROR_NAME,
            self.code(),
            self.header(),
        )
    }
}

impl IntoJsError for SigningError {
    #[inline(never)]
    fn into_js(self) -> JsValue {
        js_error(
            JsError::new(&self.to_string()),
            SIGNING_ERROR_NAME,
            self.code(),
            None,
        )
    }
}

/// A `TypeError` with `code` [`INVALID_ARGUMENT`].
#[must_use]
#[inline(never)]
pub fn argument_error(message: &str) -> JsValue {
    js_error(
        JsTypeError::new(message).into(),
        "TypeError",
        INVALID_ARGUMENT,
        None,
    )
}

fn js_error(err: JsError, name: &str, code: &str, header: Option<&str>) -> JsValue {
    // Plain property assignments on a fresh, extensible Error: they cannot fail.
    err.set_name(name);
    err.set_code(code);
    if let Some(header) = header {
        err.set_header(header);
    }
    err.into()
}

/// Builds a [`Scheme`] from the `scheme` option's parts: `"standard"`, `"github"`, `"stripe"`,
/// `"hex_body"` (needs `header`; `prefix` defaults to `false`) or `"timestamped_hex"` (needs
/// `header`; `timestamp_header` is optional).
///
/// # Errors
/// An [`argument_error`] for an unknown name, a missing `header`, or options the scheme does
/// not take.
pub fn scheme(
    kind: &str,
    header: Option<String>,
    prefix: Option<bool>,
    timestamp_header: Option<String>,
) -> Result<Scheme, JsValue> {
    let needs_header = |header: Option<String>| {
        header
            .ok_or_else(|| argument_error(&["the ", kind, " scheme needs a header name"].concat()))
    };
    let unused = |name: &str| {
        argument_error(&["the ", kind, " scheme does not take the ", name, " option"].concat())
    };
    match kind {
        SCHEME_STANDARD | SCHEME_GITHUB | SCHEME_STRIPE if header.is_some() => {
            Err(unused("header"))
        }
        SCHEME_STANDARD | SCHEME_GITHUB | SCHEME_STRIPE | SCHEME_TIMESTAMPED_HEX
            if prefix.is_some() =>
        {
            Err(unused("prefix"))
        }
        SCHEME_STANDARD | SCHEME_GITHUB | SCHEME_STRIPE | SCHEME_HEX_BODY
            if timestamp_header.is_some() =>
        {
            Err(unused("timestampHeader"))
        }
        SCHEME_STANDARD => Ok(Scheme::StandardWebhooks),
        SCHEME_GITHUB => Ok(Scheme::github()),
        SCHEME_STRIPE => Ok(Scheme::stripe()),
        SCHEME_HEX_BODY => Ok(Scheme::HexBody {
            header: needs_header(header)?,
            prefix: prefix.unwrap_or(false),
        }),
        SCHEME_TIMESTAMPED_HEX => Ok(Scheme::TimestampedHex {
            header: needs_header(header)?,
            timestamp_header,
        }),
        other => Err(argument_error(
            &[
                "unknown scheme ",
                &quoted(other),
                ": expected ",
                SCHEME_STANDARD,
                ", ",
                SCHEME_GITHUB,
                ", ",
                SCHEME_STRIPE,
                ", ",
                SCHEME_HEX_BODY,
                " or ",
                SCHEME_TIMESTAMPED_HEX,
            ]
            .concat(),
        )),
    }
}

/// The current time for a verification: any finite number of unix seconds, rounded down.
///
/// # Errors
/// An [`argument_error`] if `seconds` is not finite (for example `NaN` from a non-number).
pub fn now_seconds(seconds: f64) -> Result<i64, JsValue> {
    if seconds.is_finite() {
        Ok(floor(seconds))
    } else {
        Err(argument_error(
            "nowSeconds must be a finite number of unix seconds",
        ))
    }
}

/// `seconds.floor() as i64` (`f64::floor` needs std): truncates towards zero, then steps down
/// below zero. The casts saturate outside the i64 range, where every timestamp is out of
/// tolerance anyway.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn floor(seconds: f64) -> i64 {
    let truncated = seconds as i64;
    if truncated as f64 > seconds {
        truncated.saturating_sub(1)
    } else {
        truncated
    }
}

/// A non-negative whole number of seconds (a tolerance or a signing timestamp).
///
/// # Errors
/// An [`argument_error`] naming `what` unless `seconds` is an integer in
/// `0..=Number.MAX_SAFE_INTEGER`.
pub fn whole_seconds(what: &str, seconds: f64) -> Result<u64, JsValue> {
    whole(seconds).ok_or_else(|| {
        argument_error(&[what, " must be a whole, non-negative number of seconds"].concat())
    })
}

/// `seconds` if it is an integer in `0..=Number.MAX_SAFE_INTEGER`. In that range the cast to
/// u64 is exact for integers, so comparing it back tells whether `seconds` is one
/// (`f64::fract` needs std).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::float_cmp
)]
fn whole(seconds: f64) -> Option<u64> {
    let whole = seconds as u64;
    ((0.0..=MAX_SAFE_INTEGER).contains(&seconds) && whole as f64 == seconds).then_some(whole)
}

/// Pairs up a flat `[name, value, name, value, …]` header list.
pub fn header_pairs(flat: &[String]) -> impl Iterator<Item = (&str, &str)> {
    flat.chunks_exact(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_matches_f64_floor() {
        for s in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            1.999,
            -1.001,
            1e9 + 0.25,
            -1e9 - 0.25,
            4.5e15,
            9.2e18,
            -9.2e18,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ] {
            #[allow(clippy::cast_possible_truncation)]
            let expect = s.floor() as i64;
            assert_eq!(floor(s), expect, "{s}");
        }
    }

    #[test]
    fn whole_accepts_safe_whole_numbers_only() {
        for s in [0.0, -0.0, 1.0, 300.0, 1_614_265_330.0, MAX_SAFE_INTEGER] {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let expect = s as u64;
            assert_eq!(whole(s), Some(expect), "{s}");
        }
        for s in [
            0.5,
            -1.0,
            1e-300,
            MAX_SAFE_INTEGER + 1.0,
            1e300,
            299.999_999,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(whole(s), None, "{s}");
        }
    }
}
