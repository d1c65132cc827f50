//! Key material: [`Secret`] (Standard Webhooks HMAC), [`SigningKey`] / [`VerifyingKey`]
//! (Standard Webhooks `v1a`, ed25519) and [`RawSecret`] (compatibility schemes).
//!
//! Secret types have a redacted `Debug`, no `Display`, and compare in constant time.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use ed25519_dalek as ed;
use subtle::ConstantTimeEq;

#[cfg(feature = "rand")]
use super::GENERATED_SECRET_LEN;
use super::b64;
use super::compat::decimal;
use super::error::SigningError;
use super::{
    ED25519_KEYPAIR_LEN, ED25519_PUBLIC_KEY_LEN, ED25519_SEED_LEN, MAX_SECRET_LEN, MIN_SECRET_LEN,
    PUBLIC_KEY_PREFIX, Result, SECRET_PREFIX, SIGNING_KEY_PREFIX,
};

const REDACTED: &str = "<redacted>";

// The length messages below spell these out (no `format!`, which would pull `core::fmt` into the
// WebAssembly build); keep them in step.
const _: () = assert!(MIN_SECRET_LEN == 24 && MAX_SECRET_LEN == 64);
const _: () = assert!(ED25519_SEED_LEN == 32 && ED25519_KEYPAIR_LEN == 64);
const _: () = assert!(ED25519_PUBLIC_KEY_LEN == 32);

fn invalid(reason: impl Into<String>) -> SigningError {
    SigningError::InvalidSecret(reason.into())
}

/// Strips surrounding whitespace and an optional prefix, then decodes strict, padded, standard
/// base64. `what` names the kind of key in error messages; the input never appears in them.
fn decode_prefixed(input: &str, prefix: &str, what: &str) -> Result<Vec<u8>> {
    let trimmed = input.trim();
    let payload = trimmed.strip_prefix(prefix).unwrap_or(trimmed);
    if payload.is_empty() {
        return Err(invalid([what, " is empty"].concat()));
    }
    b64::decode(payload)
        .ok_or_else(|| invalid([what, " is not valid standard base64 (with padding)"].concat()))
}

#[cfg(feature = "rand")]
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    use alloc::string::ToString as _;
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| SigningError::RandomUnavailable(e.to_string()))?;
    Ok(buf)
}

// ---------------------------------------------------------------------------------------------

/// A Standard Webhooks HMAC-SHA256 secret: `whsec_` followed by base64 of 24–64 bytes.
///
/// The key is the decoded bytes. `Debug` is redacted and there is no `Display`; use
/// [`expose_whsec`](Self::expose_whsec) when the secret must be shown or stored.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Parses `whsec_<base64>` or bare base64 (strict, padded, standard alphabet). Surrounding
    /// whitespace is ignored.
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] if the text is empty, not base64, or does not decode to
    /// [`MIN_SECRET_LEN`]..=[`MAX_SECRET_LEN`] bytes.
    pub fn parse(s: &str) -> Result<Self> {
        let bytes = decode_prefixed(s, SECRET_PREFIX, "secret")?;
        Self::from_bytes(&bytes)
    }

    /// Wraps raw key bytes.
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] unless the length is
    /// [`MIN_SECRET_LEN`]..=[`MAX_SECRET_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&bytes.len()) {
            return Err(invalid(
                "secret decodes to ".to_owned()
                    + &decimal(bytes.len() as i64)
                    + " bytes; it must be 24 to 64 bytes",
            ));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// Generates a new secret of [`GENERATED_SECRET_LEN`] random bytes from the system's
    /// random source.
    ///
    /// # Panics
    /// If the system's random source fails (see [`try_generate`](Self::try_generate)).
    #[cfg(feature = "rand")]
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("system random source unavailable")
    }

    /// Like [`generate`](Self::generate), returning an error instead of panicking.
    ///
    /// # Errors
    /// [`SigningError::RandomUnavailable`] if the system's random source fails.
    #[cfg(feature = "rand")]
    pub fn try_generate() -> Result<Self> {
        Ok(Self(random_bytes::<GENERATED_SECRET_LEN>()?.to_vec()))
    }

    /// The secret as `whsec_<base64>`, the form to give to receivers. Handle with care.
    #[must_use]
    pub fn expose_whsec(&self) -> String {
        SECRET_PREFIX.to_owned() + &b64::encode(&self.0)
    }

    /// The raw key bytes. Handle with care.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

impl FromStr for Secret {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------

/// A Standard Webhooks `v1a` (ed25519) signing key: `whsk_` followed by base64 of either the
/// 32-byte seed or the 64-byte `seed || public key` form.
///
/// `Debug` is redacted and there is no `Display`.
// Boxed: ed25519-dalek's key (secret, expanded scalar and public point) is over 200 bytes, and
// `Key` and `Signer` hold this type next to small ones.
#[derive(Clone)]
pub struct SigningKey(Box<ed::SigningKey>);

impl SigningKey {
    /// Parses `whsk_<base64>` or bare base64 of a 32-byte seed or a 64-byte
    /// `seed || public key`. In the 64-byte form the public half must belong to the seed.
    /// Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] on bad base64, a wrong length, or a public half that does
    /// not match the seed.
    pub fn parse(s: &str) -> Result<Self> {
        let bytes = decode_prefixed(s, SIGNING_KEY_PREFIX, "signing key")?;
        Self::from_bytes(&bytes)
    }

    /// Builds a key from a 32-byte seed or a 64-byte `seed || public key`.
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] on a wrong length or a mismatched public half.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if let Ok(seed) = <&[u8; ED25519_SEED_LEN]>::try_from(bytes) {
            return Ok(Self(Box::new(ed::SigningKey::from_bytes(seed))));
        }
        if let Ok(pair) = <&[u8; ED25519_KEYPAIR_LEN]>::try_from(bytes) {
            return ed::SigningKey::from_keypair_bytes(pair)
                .map(|key| Self(Box::new(key)))
                .map_err(|_| {
                    invalid(
                        "signing key: the public half does not match the seed (seed || public key)",
                    )
                });
        }
        Err(invalid(
            "signing key decodes to ".to_owned()
                + &decimal(bytes.len() as i64)
                + " bytes; it must be 32 (seed) or 64 (seed || public key) bytes",
        ))
    }

    /// Generates a new random key from the system's random source.
    ///
    /// # Panics
    /// If the system's random source fails (see [`try_generate`](Self::try_generate)).
    #[cfg(feature = "rand")]
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("system random source unavailable")
    }

    /// Like [`generate`](Self::generate), returning an error instead of panicking.
    ///
    /// # Errors
    /// [`SigningError::RandomUnavailable`] if the system's random source fails.
    #[cfg(feature = "rand")]
    pub fn try_generate() -> Result<Self> {
        let seed = random_bytes::<ED25519_SEED_LEN>()?;
        Ok(Self(Box::new(ed::SigningKey::from_bytes(&seed))))
    }

    /// The public key that receivers use to verify `v1a` signatures.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// The key as `whsk_<base64 of the 32-byte seed>`. Handle with care.
    ///
    /// Implementations disagree on the `whsk_` payload (seed or `seed || public key`);
    /// [`parse`](Self::parse) accepts both, see also
    /// [`expose_whsk_keypair`](Self::expose_whsk_keypair).
    #[must_use]
    pub fn expose_whsk(&self) -> String {
        SIGNING_KEY_PREFIX.to_owned() + &b64::encode(self.0.as_bytes())
    }

    /// The key as `whsk_<base64 of seed || public key>` (64 bytes, the form the Svix server
    /// uses). Handle with care.
    #[must_use]
    pub fn expose_whsk_keypair(&self) -> String {
        SIGNING_KEY_PREFIX.to_owned() + &b64::encode(&self.0.to_keypair_bytes())
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; ed::SIGNATURE_LENGTH] {
        use ed::Signer as _;
        // `try_sign` never fails for ed25519-dalek keys; `sign` would `expect` it, which links
        // the error's `Debug` formatting into the WebAssembly build.
        match self.0.try_sign(msg) {
            Ok(sig) => sig.to_bytes(),
            Err(_) => unreachable!("ed25519 signing is infallible"),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({REDACTED})")
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        // ed25519-dalek compares signing keys in constant time.
        self.0 == other.0
    }
}

impl Eq for SigningKey {}

impl FromStr for SigningKey {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------

/// A Standard Webhooks `v1a` (ed25519) public key: `whpk_` followed by base64 of 32 bytes.
///
/// Public, so `Debug` and `Display` show it (as `whpk_…`).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey(ed::VerifyingKey);

impl VerifyingKey {
    /// Parses `whpk_<base64>` or bare base64 of a 32-byte ed25519 public key.
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] on bad base64, a wrong length, a value that is not a
    /// curve point, or a weak (small-order) key.
    pub fn parse(s: &str) -> Result<Self> {
        let bytes = decode_prefixed(s, PUBLIC_KEY_PREFIX, "public key")?;
        Self::from_bytes(&bytes)
    }

    /// Builds a key from its 32 bytes.
    ///
    /// # Errors
    /// As for [`parse`](Self::parse).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr = <&[u8; ED25519_PUBLIC_KEY_LEN]>::try_from(bytes).map_err(|_| {
            invalid(
                "public key decodes to ".to_owned()
                    + &decimal(bytes.len() as i64)
                    + " bytes; it must be 32 bytes",
            )
        })?;
        let key = ed::VerifyingKey::from_bytes(arr)
            .map_err(|_| invalid("public key is not a valid ed25519 point"))?;
        if key.is_weak() {
            return Err(invalid("public key is a weak (small-order) ed25519 point"));
        }
        Ok(Self(key))
    }

    /// The key as `whpk_<base64>`.
    #[must_use]
    pub fn to_whpk(&self) -> String {
        PUBLIC_KEY_PREFIX.to_owned() + &b64::encode(self.0.as_bytes())
    }

    /// The key's 32 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; ED25519_PUBLIC_KEY_LEN] {
        self.0.to_bytes()
    }

    /// Strict ed25519 verification (rejects non-canonical and small-order signatures).
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8; ed::SIGNATURE_LENGTH]) -> bool {
        let sig = ed::Signature::from_bytes(sig);
        self.0.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.to_whpk())
    }
}

impl fmt::Display for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_whpk())
    }
}

impl FromStr for VerifyingKey {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------

/// An HMAC key used verbatim: the bytes of a secret exactly as the other party knows it.
///
/// This is the key type of the compatibility schemes ([`Scheme::HexBody`](super::Scheme::HexBody),
/// [`Scheme::TimestampedHex`](super::Scheme::TimestampedHex)): GitHub and Stripe both key the
/// HMAC with the UTF-8 bytes of the whole secret string (Stripe including its `whsec_`). No
/// decoding, no length rule beyond "not empty". `Debug` is redacted and there is no `Display`.
#[derive(Clone)]
pub struct RawSecret(Vec<u8>);

impl RawSecret {
    /// Wraps key bytes as given.
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] if `bytes` is empty.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(invalid("raw secret is empty"));
        }
        Ok(Self(bytes))
    }

    /// The key bytes. Handle with care.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RawSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawSecret({REDACTED})")
    }
}

impl PartialEq for RawSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for RawSecret {}

impl FromStr for RawSecret {
    type Err = SigningError;
    /// Uses the string's UTF-8 bytes verbatim (no trimming, no decoding).
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(n: usize) -> String {
        b64::encode(&[7u8; 100][..n])
    }

    #[test]
    fn secret_lengths() {
        assert!(Secret::parse(&b64(23)).is_err());
        assert!(Secret::parse(&b64(24)).is_ok());
        assert!(Secret::parse(&b64(64)).is_ok());
        assert!(Secret::parse(&b64(65)).is_err());
        assert!(Secret::from_bytes(&[1; 23]).is_err());
        assert!(Secret::from_bytes(&[1; 24]).is_ok());
        assert!(Secret::from_bytes(&[1; 64]).is_ok());
        assert!(Secret::from_bytes(&[1; 65]).is_err());
    }

    #[test]
    fn secret_prefix_optional_and_equal() {
        let a = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose_whsec(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(a.expose_bytes().len(), 24);
        let c: Secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".parse().unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn secret_rejects_bad_input_without_leaking() {
        for bad in [
            "whsec_",
            "",
            "   ",
            "whsec_!!!!not-base64!!!!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            "whsec_c2hvcnQ=",
        ] {
            let err = Secret::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_secret");
            let msg = err.to_string();
            let payload = bad.trim_start_matches("whsec_");
            if payload.len() > 3 {
                assert!(!msg.contains(payload), "{msg} leaks {payload}");
            }
        }
        assert_eq!(
            Secret::parse("whsec_").unwrap_err(),
            SigningError::InvalidSecret("secret is empty".into())
        );
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let k = SigningKey::parse("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
        assert_eq!(format!("{k:?}"), "SigningKey(<redacted>)");
        let r: RawSecret = "It's a Secret to Everybody".parse().unwrap();
        assert_eq!(format!("{r:?}"), "RawSecret(<redacted>)");
        assert!(RawSecret::new(Vec::new()).is_err());
    }

    #[test]
    fn ed25519_seed_and_keypair_forms() {
        let seed = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
        let pk = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
        let a = SigningKey::parse(&format!("whsk_{seed}")).unwrap();
        let b = SigningKey::parse(seed).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.verifying_key().to_whpk(), pk);
        assert_eq!(a.expose_whsk(), format!("whsk_{seed}"));

        let pair = a.expose_whsk_keypair();
        let c = SigningKey::parse(&pair).unwrap();
        assert_eq!(a, c);
        assert_eq!(c.verifying_key(), VerifyingKey::parse(pk).unwrap());
        assert_eq!(
            VerifyingKey::parse(pk.trim_start_matches("whpk_")).unwrap(),
            a.verifying_key()
        );

        // 64-byte form whose public half belongs to another seed.
        let mut bytes = b64::decode(pair.trim_start_matches("whsk_")).unwrap();
        bytes[40] ^= 1;
        let err = SigningKey::from_bytes(&bytes).unwrap_err();
        assert_eq!(err.code(), "invalid_secret");
        assert!(SigningKey::from_bytes(&[1; 31]).is_err());
        assert!(SigningKey::from_bytes(&[1; 33]).is_err());
        assert!(SigningKey::parse("whsk_").is_err());
    }

    #[test]
    fn verifying_key_rejects_bad_keys() {
        assert!(VerifyingKey::from_bytes(&[0; 31]).is_err());
        // The identity point is small-order (weak).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(VerifyingKey::from_bytes(&identity).is_err());
        let k = VerifyingKey::parse("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=").unwrap();
        assert_eq!(
            k.to_string(),
            "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="
        );
        assert_eq!(VerifyingKey::from_bytes(&k.to_bytes()).unwrap(), k);
    }

    #[cfg(feature = "rand")]
    #[test]
    fn generate() {
        let a = Secret::generate();
        let b = Secret::try_generate().unwrap();
        assert_eq!(a.expose_bytes().len(), GENERATED_SECRET_LEN);
        assert_ne!(a, b);
        assert_eq!(Secret::parse(&a.expose_whsec()).unwrap(), a);
        let k = SigningKey::generate();
        assert_ne!(k, SigningKey::try_generate().unwrap());
        assert_eq!(SigningKey::parse(&k.expose_whsk()).unwrap(), k);
    }
}
