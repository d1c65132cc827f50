//! Key helpers for tools: canonical forms and the public key of an ed25519 signing key.

use alloc::borrow::ToOwned;
use alloc::string::String;

use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::convert::{self, IntoJsError, argument_error};
use crate::signing::{RawSecret, Secret, SigningKey, VerifyingKey};

/// Parses `input` as a key of `kind` and returns its canonical form:
/// - `secret`: `whsec_<base64>` ([`Secret::expose_whsec`]);
/// - `signing_key`: `whsk_<base64 seed>` ([`SigningKey::expose_whsk`]);
/// - `verifying_key`: `whpk_<base64>` ([`VerifyingKey::to_whpk`]);
/// - `raw`: the input unchanged (a [`RawSecret`] is used verbatim).
///
/// # Errors
/// `SigningError` `invalid_secret` if the key does not parse; an `invalid_argument` `TypeError`
/// for an unknown kind.
#[wasm_bindgen(js_name = normalizeKey)]
pub fn normalize_key(kind: &str, input: &str) -> Result<String, JsValue> {
    match kind {
        "secret" => Secret::parse(input).map(|s| s.expose_whsec()),
        "signing_key" => SigningKey::parse(input).map(|k| k.expose_whsk()),
        "verifying_key" => VerifyingKey::parse(input).map(|k| k.to_whpk()),
        "raw" => input.parse::<RawSecret>().map(|_| input.to_owned()),
        other => {
            return Err(argument_error(
                &[
                    "unknown key kind ",
                    &convert::quoted(other),
                    ": expected secret, signing_key, verifying_key or raw",
                ]
                .concat(),
            ));
        }
    }
    .map_err(IntoJsError::into_js)
}

/// The `whpk_` public key of a `whsk_` ed25519 signing key ([`SigningKey::verifying_key`]).
///
/// # Errors
/// `SigningError` `invalid_secret` if the signing key does not parse.
#[wasm_bindgen(js_name = publicKey)]
pub fn public_key(signing_key: &str) -> Result<String, JsValue> {
    SigningKey::parse(signing_key)
        .map(|k| k.verifying_key().to_whpk())
        .map_err(IntoJsError::into_js)
}
