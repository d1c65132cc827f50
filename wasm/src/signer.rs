//! `WasmSigner`: the class behind the npm package's `Signer` and `sign`.

use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::convert::{self, IntoJsError};
use crate::signing::{Key, Scheme, Signer, validate_msg_id};

/// Signs deliveries with [`timehook::signing::Signer`] (for tests and tools: a receiver only
/// needs [`WasmVerifier`](crate::WasmVerifier)).
#[wasm_bindgen]
pub struct WasmSigner(Signer);

#[wasm_bindgen]
impl WasmSigner {
    /// A signer for `keys` in order (each parsed with [`Key::parse`] for the scheme), with the
    /// scheme given as in [`convert::scheme`].
    ///
    /// # Errors
    /// `SigningError` (`invalid_secret`, `no_keys`, `incompatible_key`, `invalid_scheme`) or an
    /// `invalid_argument` `TypeError`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        keys: Vec<String>,
        scheme: &str,
        header: Option<String>,
        prefix: Option<bool>,
        timestamp_header: Option<String>,
    ) -> Result<WasmSigner, JsValue> {
        let scheme = convert::scheme(scheme, header, prefix, timestamp_header)?;
        let mut parsed = Vec::with_capacity(keys.len());
        for key in &keys {
            parsed.push(Key::parse(&scheme, key).map_err(IntoJsError::into_js)?);
        }
        Signer::new(parsed)
            .and_then(|s| s.with_scheme(scheme))
            .map(Self)
            .map_err(IntoJsError::into_js)
    }

    /// [`Signer::sign`]: the value of the scheme's signature header.
    ///
    /// # Errors
    /// As for [`headers`](Self::headers).
    pub fn sign(
        &self,
        msg_id: &str,
        timestamp_seconds: f64,
        body: &[u8],
    ) -> Result<String, JsValue> {
        let timestamp = self.checked(msg_id, timestamp_seconds)?;
        Ok(self.0.sign(msg_id, timestamp, body))
    }

    /// [`Signer::headers`], flattened to `[name, value, name, value, …]`.
    ///
    /// # Errors
    /// `SigningError` `invalid_msg_id` for a Standard Webhooks id that [`validate_msg_id`]
    /// refuses; an `invalid_argument` `TypeError` unless the timestamp is whole, non-negative
    /// seconds.
    pub fn headers(
        &self,
        msg_id: &str,
        timestamp_seconds: f64,
        body: &[u8],
    ) -> Result<Vec<String>, JsValue> {
        let timestamp = self.checked(msg_id, timestamp_seconds)?;
        let headers = self.0.headers(msg_id, timestamp, body);
        let mut flat = Vec::with_capacity(2 * headers.len());
        for (name, value) in headers {
            flat.push(name);
            flat.push(value);
        }
        Ok(flat)
    }

    /// The timestamp as core takes it, after checking the id where the scheme signs it.
    fn checked(&self, msg_id: &str, timestamp_seconds: f64) -> Result<i64, JsValue> {
        if *self.0.scheme() == Scheme::StandardWebhooks {
            validate_msg_id(msg_id).map_err(IntoJsError::into_js)?;
        }
        let seconds = convert::whole_seconds("timestampSeconds", timestamp_seconds)?;
        i64::try_from(seconds).map_err(|_| convert::argument_error("timestampSeconds is too large"))
    }
}
