//! Signing and verifying webhook deliveries.
//!
//! The default is [Standard Webhooks]: every request carries `webhook-id`, `webhook-timestamp`
//! (unix seconds) and `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256>`
//! and `v1a,<base64 ed25519>` entries over `id + "." + timestamp + "." + raw body`.
//! Compatibility [`Scheme`]s cover receivers that check GitHub-style (`X-Hub-Signature-256`),
//! Stripe-style (`t=…,v1=…`) or RunLater-style (hex plus a timestamp header) signatures.
//!
//! This module has no I/O, no clock and no async runtime: it builds for `wasm32-unknown-unknown`
//! and callers pass the current time to [`Verifier::verify`]. Only [`Secret::generate`] and
//! [`SigningKey::generate`] need the `rand` feature.
//!
//! It uses only `core` and `alloc`: without the `scheduler` feature the crate is `no_std`, which
//! keeps the WebAssembly package (`wasm/`, which must stay under 80 KB) free of the standard
//! library. Messages are built without `format!` and `{:?}`, whose formatting code would add
//! several KB to that module.
//!
//! Key types:
//!
//! | type | form | used by |
//! |---|---|---|
//! | [`Secret`] | `whsec_` + base64 of 24–64 bytes | Standard Webhooks `v1` |
//! | [`SigningKey`] / [`VerifyingKey`] | `whsk_` / `whpk_` + base64 | Standard Webhooks `v1a` |
//! | [`RawSecret`] | any non-empty bytes, used verbatim | the compatibility schemes |
//!
//! Message ids must not contain `.` (the signed content would be ambiguous). Ids are checked
//! with [`validate_msg_id`] when a job is created (the id is stable across retries, so
//! [`Signer::sign`] itself stays infallible), and [`Verifier`] rejects a `webhook-id` that fails
//! the same check.
//!
//! ```
//! use timehook::signing::{Key, Secret, Signer, Verifier};
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let signer = Signer::new(vec![Key::Hmac(secret.clone())])?;
//! let body = br#"{"test": 2432232314}"#;
//! let headers = signer.headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
//! assert_eq!(headers[2].1, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//!
//! let verifier = Verifier::new([secret])?;
//! verifier.verify(body, &headers, 1614265330 + 60)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

mod b64;
mod compat;
mod error;
mod mac;
mod scheme;
mod secret;
mod sign;
mod verify;

use core::time::Duration;

pub use error::{SigningError, VerifyError};
pub use scheme::Scheme;
pub use secret::{RawSecret, Secret, SigningKey, VerifyingKey};
pub use sign::{Key, Signer, validate_msg_id};
pub use verify::{HeaderPair, Verifier, VerifyKey};

/// Result type of the signing module; the error defaults to [`SigningError`].
pub type Result<T, E = SigningError> = core::result::Result<T, E>;

/// Prefix of a Standard Webhooks HMAC secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Prefix of a Standard Webhooks ed25519 signing (private) key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// Prefix of a Standard Webhooks ed25519 verifying (public) key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// Header carrying the message id (stable across retries).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the attempt's unix timestamp in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the space-separated signature list.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Svix alias of [`HEADER_ID`], accepted by the verifier.
pub const SVIX_HEADER_ID: &str = "svix-id";
/// Svix alias of [`HEADER_TIMESTAMP`], accepted by the verifier.
pub const SVIX_HEADER_TIMESTAMP: &str = "svix-timestamp";
/// Svix alias of [`HEADER_SIGNATURE`], accepted by the verifier.
pub const SVIX_HEADER_SIGNATURE: &str = "svix-signature";

/// Version tag of HMAC-SHA256 signatures (`v1,<base64>`).
pub const SIGNATURE_VERSION: &str = "v1";
/// Version tag of ed25519 signatures (`v1a,<base64>`).
pub const SIGNATURE_VERSION_ED25519: &str = "v1a";
/// Separator between a version tag and its signature.
pub const VERSION_SEPARATOR: char = ',';
/// Separator between the entries of the signature header.
pub const SIGNATURE_LIST_SEPARATOR: char = ' ';
/// Separator between id, timestamp and body in the signed content.
pub const SIGNED_CONTENT_SEPARATOR: u8 = b'.';

/// Smallest accepted HMAC secret, in bytes.
pub const MIN_SECRET_LEN: usize = 24;
/// Largest accepted HMAC secret, in bytes.
pub const MAX_SECRET_LEN: usize = 64;
/// Size of secrets made by [`Secret::generate`], in bytes.
pub const GENERATED_SECRET_LEN: usize = 32;
/// Length of an HMAC-SHA256 tag, in bytes.
pub const HMAC_SHA256_LEN: usize = 32;
/// Length of an ed25519 seed (the `whsk_` short form), in bytes.
pub const ED25519_SEED_LEN: usize = 32;
/// Length of an ed25519 `seed || public key` pair (the `whsk_` long form), in bytes.
pub const ED25519_KEYPAIR_LEN: usize = 64;
/// Length of an ed25519 public key, in bytes.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Length of an ed25519 signature, in bytes.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// Default timestamp tolerance, in seconds: `|now - timestamp| <= 300` passes.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// Default timestamp tolerance.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(DEFAULT_TOLERANCE_SECS);

/// GitHub's signature header, for [`Scheme::github`].
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// Prefix of GitHub-style hex signatures ([`Scheme::HexBody`] with `prefix: true`).
pub const HEX_BODY_PREFIX: &str = "sha256=";
/// Stripe's signature header, for [`Scheme::stripe`].
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";
/// Key of the timestamp item in a Stripe-style header (`t=<ts>`).
pub const STRIPE_TIMESTAMP_KEY: &str = "t";
/// Key of a signature item in a Stripe-style header (`v1=<hex>`).
pub const STRIPE_SIGNATURE_KEY: &str = "v1";
/// Separator between the items of a compatibility signature header.
pub const COMPAT_LIST_SEPARATOR: char = ',';
