//! `Signer` (signs messages the way the scheduler signs deliveries, to test a receiver) and the
//! key helpers: `generateSecret`, `generateSigningKey`, `publicKey`, `normalizeSecret`,
//! `normalizePublicKey`.

use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use timehook_bindings::signing as bsign;

use crate::errors::{IntoNapi, type_error};
use crate::headers::body;
use crate::verifier::{scheme_arg, scheme_option, secret_list};

/// Signs messages as the scheduler does. Standard Webhooks by default: keys are `whsec_...` HMAC
/// secrets and `whsk_...` ed25519 keys, used in the order given.
#[napi]
pub struct Signer {
    inner: timehook::signing::Signer,
}

fn timestamp(env: &Env, ts: f64) -> napi::Result<i64> {
    if !ts.is_finite() || ts.fract() != 0.0 {
        return Err(type_error(
            env,
            format!("timestamp: expected whole Unix seconds, got {ts}"),
        ));
    }
    Ok(ts as i64)
}

#[napi]
impl Signer {
    /// A signer for one key or several.
    #[napi(
        constructor,
        ts_args_type = "keys: string | string[], options?: SignerOptions"
    )]
    pub fn new(env: &Env, keys: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<Self> {
        let keys = secret_list(env, keys, "key")?;
        let scheme = scheme_arg(env, scheme_option(env, options)?)?;
        let inner = bsign::build_signer(&keys, scheme).map_err(|e| e.into_napi(env))?;
        Ok(Signer { inner })
    }

    /// The signature header's value for `(msgId, timestamp, body)`; `timestamp` in Unix seconds.
    #[napi(ts_args_type = "msgId: string, timestamp: number, body: Uint8Array | string")]
    pub fn sign(
        &self,
        env: &Env,
        msg_id: String,
        timestamp_secs: f64,
        body_value: Unknown<'_>,
    ) -> napi::Result<String> {
        let ts = timestamp(env, timestamp_secs)?;
        let body = body(env, body_value)?;
        Ok(self.inner.sign(&msg_id, ts, body.as_ref()))
    }

    /// Every header the scheme sends, as `[name, value]` pairs.
    #[napi(
        ts_args_type = "msgId: string, timestamp: number, body: Uint8Array | string",
        ts_return_type = "Array<[string, string]>"
    )]
    pub fn headers(
        &self,
        env: &Env,
        msg_id: String,
        timestamp_secs: f64,
        body_value: Unknown<'_>,
    ) -> napi::Result<Vec<Vec<String>>> {
        let ts = timestamp(env, timestamp_secs)?;
        let body = body(env, body_value)?;
        Ok(self
            .inner
            .headers(&msg_id, ts, body.as_ref())
            .into_iter()
            .map(|(n, v)| vec![n, v])
            .collect())
    }
}

fn key_result(env: &Env, r: timehook_bindings::Result<String>) -> napi::Result<String> {
    r.map_err(|e| e.into_napi(env))
}

/// A new random HMAC secret, `whsec_...`.
#[napi]
pub fn generate_secret(env: &Env) -> napi::Result<String> {
    key_result(env, bsign::generate_secret())
}

/// A new random ed25519 signing key, `whsk_...`.
#[napi]
pub fn generate_signing_key(env: &Env) -> napi::Result<String> {
    key_result(env, bsign::generate_signing_key())
}

/// The `whpk_...` public key of a `whsk_...` signing key.
#[napi]
pub fn public_key(env: &Env, signing_key: String) -> napi::Result<String> {
    key_result(env, bsign::public_key(&signing_key))
}

/// The canonical `whsec_...` form of a secret (the prefix is optional on input).
#[napi]
pub fn normalize_secret(env: &Env, secret: String) -> napi::Result<String> {
    key_result(env, bsign::normalize_secret(&secret))
}

/// The canonical `whpk_...` form of an ed25519 public key.
#[napi]
pub fn normalize_public_key(env: &Env, key: String) -> napi::Result<String> {
    key_result(env, bsign::normalize_public_key(&key))
}
