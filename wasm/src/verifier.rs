//! `WasmVerifier`: the class behind the npm package's `Verifier`.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::convert::{self, IntoJsError};
use crate::signing::{Verifier, VerifyKey};

/// Verifies deliveries with [`timehook::signing::Verifier`].
#[wasm_bindgen]
pub struct WasmVerifier(Verifier);

#[wasm_bindgen]
impl WasmVerifier {
    /// A verifier for `keys` (each parsed with [`VerifyKey::parse`] for the scheme), with the
    /// scheme given as in [`convert::scheme`] and an optional tolerance in whole seconds.
    ///
    /// # Errors
    /// `SigningError` (`invalid_secret`, `no_keys`, `incompatible_key`, `invalid_scheme`) or an
    /// `invalid_argument` `TypeError`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        keys: Vec<String>,
        tolerance_seconds: Option<f64>,
        scheme: &str,
        header: Option<String>,
        prefix: Option<bool>,
        timestamp_header: Option<String>,
    ) -> Result<WasmVerifier, JsValue> {
        let scheme = convert::scheme(scheme, header, prefix, timestamp_header)?;
        let mut parsed = Vec::with_capacity(keys.len());
        for key in &keys {
            parsed.push(VerifyKey::parse(&scheme, key).map_err(IntoJsError::into_js)?);
        }
        let mut verifier = Verifier::from_keys(parsed)
            .and_then(|v| v.with_scheme(scheme))
            .map_err(IntoJsError::into_js)?;
        if let Some(seconds) = tolerance_seconds {
            verifier =
                verifier.with_tolerance(convert::whole_seconds("toleranceSeconds", seconds)?);
        }
        Ok(Self(verifier))
    }

    /// [`Verifier::verify`] of `body` with the flat header list at `now_seconds`.
    ///
    /// # Errors
    /// `WebhookVerificationError` with the core's code, or an `invalid_argument` `TypeError`.
    pub fn verify(
        &self,
        body: &[u8],
        headers: Vec<String>,
        now_seconds: f64,
    ) -> Result<(), JsValue> {
        let now = convert::now_seconds(now_seconds)?;
        self.0
            .verify(body, convert::header_pairs(&headers), now)
            .map_err(IntoJsError::into_js)
    }

    /// [`Verifier::verify_ignoring_timestamp`] of `body` with the flat header list.
    ///
    /// # Errors
    /// `WebhookVerificationError` with the core's code.
    #[wasm_bindgen(js_name = verifyIgnoringTimestamp)]
    pub fn verify_ignoring_timestamp(
        &self,
        body: &[u8],
        headers: Vec<String>,
    ) -> Result<(), JsValue> {
        self.0
            .verify_ignoring_timestamp(body, convert::header_pairs(&headers))
            .map_err(IntoJsError::into_js)
    }

    /// The timestamp tolerance in seconds.
    #[wasm_bindgen(getter, js_name = toleranceSeconds)]
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // tolerances come from JavaScript numbers
    pub fn tolerance_seconds(&self) -> f64 {
        self.0.tolerance_secs() as f64
    }

    /// The scheme's name (`standard`, `hex_body` or `timestamped_hex`).
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn scheme(&self) -> String {
        self.0.scheme().name().to_owned()
    }
}
