//! [`Verifier`]: checks the signature headers of a delivery.

use alloc::borrow::ToOwned;
use alloc::vec::Vec;

use subtle::ConstantTimeEq;

use super::b64;
use super::compat::{StripeHeader, hex_decode_tag, list_items};
use super::error::{SigningError, VerifyError};
use super::mac::hmac_sha256;
use super::sign::{check_key_for_scheme, msg_id_problem, signed_parts};
use super::{
    DEFAULT_TOLERANCE_SECS, ED25519_SIGNATURE_LEN, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    HEX_BODY_PREFIX, HMAC_SHA256_LEN, PUBLIC_KEY_PREFIX, RawSecret, Result, SIGNATURE_VERSION,
    SIGNATURE_VERSION_ED25519, SIGNED_CONTENT_SEPARATOR, SIGNING_KEY_PREFIX, SVIX_HEADER_ID,
    SVIX_HEADER_SIGNATURE, SVIX_HEADER_TIMESTAMP, Scheme, Secret, SigningKey, VERSION_SEPARATOR,
    VerifyingKey,
};

type VResult<T> = core::result::Result<T, VerifyError>;

/// One `(name, value)` header, as yielded by any header collection.
///
/// Implemented for `(K, V)` and `&(K, V)` with `K: AsRef<str>`, `V: AsRef<[u8]>`, so
/// `&[(&str, &str)]`, `Vec<(String, String)>`, `&Vec<(String, String)>`,
/// `&HashMap<String, String>` and `&http::HeaderMap` can all be passed to
/// [`Verifier::verify`].
pub trait HeaderPair {
    /// The header name (matched case-insensitively).
    fn header_name(&self) -> &str;
    /// The raw header value.
    fn header_value(&self) -> &[u8];
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderPair for (K, V) {
    fn header_name(&self) -> &str {
        self.0.as_ref()
    }
    fn header_value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderPair for &(K, V) {
    fn header_name(&self) -> &str {
        self.0.as_ref()
    }
    fn header_value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

/// A key a [`Verifier`] accepts signatures from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyKey {
    /// Standard Webhooks HMAC secret (matches `v1` entries).
    Hmac(Secret),
    /// Standard Webhooks ed25519 public key (matches `v1a` entries).
    Ed25519(VerifyingKey),
    /// HMAC key used verbatim: required by the compatibility schemes; with
    /// [`Scheme::StandardWebhooks`] it matches `v1` entries keyed with these exact bytes.
    Raw(RawSecret),
}

impl VerifyKey {
    /// Parses a secret string the way `scheme` expects it:
    /// - [`Scheme::StandardWebhooks`]: `whpk_…` is an ed25519 [`VerifyingKey`]; anything else is
    ///   a [`Secret`] (`whsec_` prefix optional). A `whsk_` private key is refused.
    /// - compatibility schemes: the string's UTF-8 bytes verbatim ([`RawSecret`]).
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] if the string is not a valid key of that kind.
    pub fn parse(scheme: &Scheme, s: &str) -> Result<Self> {
        match scheme {
            Scheme::StandardWebhooks => {
                let t = s.trim_start();
                if t.starts_with(PUBLIC_KEY_PREFIX) {
                    VerifyingKey::parse(s).map(Self::Ed25519)
                } else if t.starts_with(SIGNING_KEY_PREFIX) {
                    Err(SigningError::InvalidSecret(
                        [
                            "a ",
                            SIGNING_KEY_PREFIX,
                            " key is private: give the verifier its ",
                            PUBLIC_KEY_PREFIX,
                            " public key",
                        ]
                        .concat(),
                    ))
                } else {
                    Secret::parse(s).map(Self::Hmac)
                }
            }
            Scheme::HexBody { .. } | Scheme::TimestampedHex { .. } => {
                RawSecret::new(s.as_bytes()).map(Self::Raw)
            }
        }
    }

    /// `"hmac"`, `"ed25519"` or `"raw"`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hmac(_) => "hmac",
            Self::Ed25519(_) => "ed25519",
            Self::Raw(_) => "raw",
        }
    }

    fn hmac_key(&self) -> Option<&[u8]> {
        match self {
            Self::Hmac(s) => Some(s.expose_bytes()),
            Self::Raw(r) => Some(r.expose_bytes()),
            Self::Ed25519(_) => None,
        }
    }
}

impl From<Secret> for VerifyKey {
    fn from(s: Secret) -> Self {
        Self::Hmac(s)
    }
}

impl From<VerifyingKey> for VerifyKey {
    fn from(k: VerifyingKey) -> Self {
        Self::Ed25519(k)
    }
}

impl From<&SigningKey> for VerifyKey {
    fn from(k: &SigningKey) -> Self {
        Self::Ed25519(k.verifying_key())
    }
}

impl From<RawSecret> for VerifyKey {
    fn from(r: RawSecret) -> Self {
        Self::Raw(r)
    }
}

/// Verifies deliveries against one or more keys (during a rotation any match passes).
///
/// Header names are matched case-insensitively; for Standard Webhooks `svix-*` names are
/// accepted when the `webhook-*` one is absent. Only the headers the scheme needs are read;
/// their values must be ASCII.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Vec<VerifyKey>,
    scheme: Scheme,
    tolerance_secs: u64,
}

impl Verifier {
    /// A Standard Webhooks verifier for HMAC secrets.
    ///
    /// # Errors
    /// [`SigningError::NoKeys`] if `secrets` is empty.
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Result<Self> {
        Self::from_keys(secrets.into_iter().map(VerifyKey::Hmac))
    }

    /// A Standard Webhooks verifier for any mix of keys.
    ///
    /// # Errors
    /// [`SigningError::NoKeys`] if `keys` is empty.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyKey>) -> Result<Self> {
        let keys: Vec<VerifyKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(SigningError::NoKeys);
        }
        Ok(Self {
            keys,
            scheme: Scheme::StandardWebhooks,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        })
    }

    /// Sets the timestamp tolerance in seconds (default [`DEFAULT_TOLERANCE_SECS`]).
    #[must_use]
    pub fn with_tolerance(mut self, seconds: u64) -> Self {
        self.tolerance_secs = seconds;
        self
    }

    /// Switches to another scheme.
    ///
    /// # Errors
    /// [`SigningError::InvalidScheme`] if the scheme does not [validate](Scheme::validate);
    /// [`SigningError::IncompatibleKey`] if a key cannot be used with it (compatibility schemes
    /// take [`VerifyKey::Raw`] only).
    pub fn with_scheme(mut self, scheme: Scheme) -> Result<Self> {
        scheme.validate()?;
        for key in &self.keys {
            check_key_for_scheme(key.kind(), &scheme)?;
        }
        self.scheme = scheme;
        Ok(self)
    }

    /// The scheme in use.
    #[must_use]
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The timestamp tolerance in seconds.
    #[must_use]
    pub fn tolerance_secs(&self) -> u64 {
        self.tolerance_secs
    }

    /// Verifies `body` (the raw bytes as received) against `headers`, with `now` in unix
    /// seconds: the timestamp passes when `|now - timestamp| <= tolerance`.
    ///
    /// Checks, in order: required headers present, header values valid, timestamp within the
    /// tolerance, then signatures. Unknown signature versions and malformed entries are
    /// skipped; an entry only counts if it decodes to the exact tag length and matches in
    /// constant time. [`Scheme::HexBody`] signs no timestamp, so `now` is unused there.
    ///
    /// # Errors
    /// The first [`VerifyError`] met, in the order above.
    pub fn verify<I>(&self, body: &[u8], headers: I, now: i64) -> VResult<()>
    where
        I: IntoIterator,
        I::Item: HeaderPair,
    {
        self.verify_inner(body, headers, Some(now))
    }

    /// Like [`verify`](Self::verify) but without the tolerance check (the timestamp must still
    /// be present and well formed, as it is signed). For replaying stored deliveries.
    ///
    /// # Errors
    /// As for [`verify`](Self::verify), minus the timestamp errors.
    pub fn verify_ignoring_timestamp<I>(&self, body: &[u8], headers: I) -> VResult<()>
    where
        I: IntoIterator,
        I::Item: HeaderPair,
    {
        self.verify_inner(body, headers, None)
    }

    fn verify_inner<I>(&self, body: &[u8], headers: I, now: Option<i64>) -> VResult<()>
    where
        I: IntoIterator,
        I::Item: HeaderPair,
    {
        let standard = [
            HEADER_ID,
            SVIX_HEADER_ID,
            HEADER_TIMESTAMP,
            SVIX_HEADER_TIMESTAMP,
            HEADER_SIGNATURE,
            SVIX_HEADER_SIGNATURE,
        ];
        let compat;
        let names: &[&str] = match &self.scheme {
            Scheme::StandardWebhooks => &standard,
            Scheme::HexBody { header, .. }
            | Scheme::TimestampedHex {
                header,
                timestamp_header: None,
            } => {
                compat = [header.as_str(), ""];
                &compat[..1]
            }
            Scheme::TimestampedHex {
                header,
                timestamp_header: Some(ts_header),
            } => {
                compat = [header.as_str(), ts_header.as_str()];
                &compat
            }
        };
        // Only the wanted headers are kept (names compared case-insensitively), in the order
        // received; the rest of the check does not depend on the header collection's type.
        let pairs: Vec<(usize, I::Item)> = headers
            .into_iter()
            .filter_map(|pair| {
                let name = pair.header_name().trim();
                let index = names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
                Some((index, pair))
            })
            .collect();
        let found: Vec<Found<'_>> = pairs
            .iter()
            .map(|(index, pair)| Found {
                index: *index,
                value: pair.header_value(),
            })
            .collect();
        self.check(body, &found, now)
    }

    /// [`verify_inner`](Self::verify_inner) on the wanted headers: `found[..].index` is the
    /// position of the header's name in the list `verify_inner` gives for the scheme.
    fn check(&self, body: &[u8], found: &[Found<'_>], now: Option<i64>) -> VResult<()> {
        match &self.scheme {
            Scheme::StandardWebhooks => self.check_standard(body, found, now),
            Scheme::HexBody { header, .. } => {
                present(header, found, 0)?;
                let mut tags = Vec::new();
                for value in values(header, found, 0) {
                    for item in list_items(value?) {
                        let hex = item.strip_prefix(HEX_BODY_PREFIX).unwrap_or(item);
                        tags.extend(hex_decode_tag(hex));
                    }
                }
                self.match_hmac(&tags, &[body])
            }
            Scheme::TimestampedHex {
                header,
                timestamp_header: None,
            } => {
                present(header, found, 0)?;
                let mut parsed = StripeHeader::default();
                for value in values(header, found, 0) {
                    parsed.add(value?);
                }
                let ts = match one_of(&parsed.timestamps) {
                    None => return Err(VerifyError::invalid(header.clone(), "no t= timestamp")),
                    Some(Ok(ts)) => ts,
                    Some(Err(())) => {
                        return Err(VerifyError::invalid(
                            header.clone(),
                            "conflicting t= timestamps",
                        ));
                    }
                };
                check_timestamp(header, ts, now, self.tolerance_secs)?;
                let tags: Vec<_> = parsed
                    .signatures
                    .iter()
                    .filter_map(|s| hex_decode_tag(s))
                    .collect();
                self.match_hmac(&tags, &timestamped_parts(ts, body))
            }
            Scheme::TimestampedHex {
                header,
                timestamp_header: Some(ts_header),
            } => {
                present(ts_header, found, 1)?;
                present(header, found, 0)?;
                let ts = single(ts_header, found, 1)?;
                check_timestamp(ts_header, ts, now, self.tolerance_secs)?;
                let mut tags = Vec::new();
                for value in values(header, found, 0) {
                    tags.extend(list_items(value?).filter_map(hex_decode_tag));
                }
                self.match_hmac(&tags, &timestamped_parts(ts, body))
            }
        }
    }

    fn check_standard(&self, body: &[u8], found: &[Found<'_>], now: Option<i64>) -> VResult<()> {
        // Each header independently: the webhook-* name (index 2i) if present, else its svix-*
        // alias (index 2i + 1).
        let pick = |i: usize, canonical: &'static str, alias: &'static str| {
            if found.iter().any(|f| f.index == 2 * i) {
                Ok((canonical, 2 * i))
            } else if found.iter().any(|f| f.index == 2 * i + 1) {
                Ok((alias, 2 * i + 1))
            } else {
                Err(VerifyError::missing(canonical))
            }
        };
        let (id_name, id_index) = pick(0, HEADER_ID, SVIX_HEADER_ID)?;
        let (ts_name, ts_index) = pick(1, HEADER_TIMESTAMP, SVIX_HEADER_TIMESTAMP)?;
        let (sig_name, sig_index) = pick(2, HEADER_SIGNATURE, SVIX_HEADER_SIGNATURE)?;

        let id = single(id_name, found, id_index)?;
        if let Some(reason) = msg_id_problem(id) {
            return Err(VerifyError::invalid(id_name, reason));
        }
        let ts = single(ts_name, found, ts_index)?;
        check_timestamp(ts_name, ts, now, self.tolerance_secs)?;

        let mut v1: Vec<[u8; HMAC_SHA256_LEN]> = Vec::new();
        let mut v1a: Vec<[u8; ED25519_SIGNATURE_LEN]> = Vec::new();
        for value in values(sig_name, found, sig_index) {
            for token in value?.split_ascii_whitespace() {
                let Some((version, sig)) = token.split_once(VERSION_SEPARATOR) else {
                    continue;
                };
                match version {
                    SIGNATURE_VERSION => v1.extend(decode_fixed(sig)),
                    SIGNATURE_VERSION_ED25519 => v1a.extend(decode_fixed(sig)),
                    _ => {}
                }
            }
        }

        let parts = signed_parts(id, ts, body);
        if self.match_hmac(&v1, &parts).is_ok() {
            return Ok(());
        }
        if !v1a.is_empty() {
            let mut content: Option<Vec<u8>> = None;
            for key in &self.keys {
                if let VerifyKey::Ed25519(pk) = key {
                    let content = content.get_or_insert_with(|| parts.concat());
                    if v1a.iter().any(|sig| pk.verify(content, sig)) {
                        return Ok(());
                    }
                }
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }

    /// Whether any HMAC key's tag over `parts` equals one of `tags` (constant-time compare of
    /// full-length tags).
    fn match_hmac(&self, tags: &[[u8; HMAC_SHA256_LEN]], parts: &[&[u8]]) -> VResult<()> {
        if !tags.is_empty() {
            for key in self.keys.iter().filter_map(VerifyKey::hmac_key) {
                let expected = hmac_sha256(key, parts);
                if tags.iter().any(|t| bool::from(expected.ct_eq(t))) {
                    return Ok(());
                }
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

fn timestamped_parts<'a>(ts: &'a str, body: &'a [u8]) -> [&'a [u8]; 3] {
    [
        ts.as_bytes(),
        core::slice::from_ref(&SIGNED_CONTENT_SEPARATOR),
        body,
    ]
}

/// Decodes strict, padded base64 and keeps it only if it is exactly `N` bytes.
fn decode_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Cheap upper bound before decoding: padded base64 of N bytes is 4 * ceil(N / 3) chars.
    if text.len() != N.div_ceil(3) * 4 {
        return None;
    }
    b64::decode(text)?.try_into().ok()
}

/// A value of one of the headers a scheme reads: `index` says which (see
/// [`Verifier::check`]).
struct Found<'a> {
    index: usize,
    value: &'a [u8],
}

/// Fails with [`VerifyError::MissingHeader`] unless header `index` is present.
fn present(name: &str, found: &[Found<'_>], index: usize) -> VResult<()> {
    if found.iter().any(|f| f.index == index) {
        Ok(())
    } else {
        Err(VerifyError::missing(name.to_owned()))
    }
}

/// The values of header `index` as text, in the order received (see [`as_text`]).
fn values<'a, 'f>(
    name: &'f str,
    found: &'f [Found<'a>],
    index: usize,
) -> impl Iterator<Item = VResult<&'a str>> + 'f {
    found
        .iter()
        .filter(move |f| f.index == index)
        .map(move |f| as_text(name, f.value))
}

/// A header value as trimmed text: visible ASCII, spaces and tabs only.
fn as_text<'a>(name: &str, raw: &'a [u8]) -> VResult<&'a str> {
    match core::str::from_utf8(raw) {
        Ok(text)
            if text
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) =>
        {
            Ok(text.trim_matches([' ', '\t']))
        }
        _ => Err(VerifyError::invalid(
            name.to_owned(),
            "value must be printable ASCII",
        )),
    }
}

/// The one distinct value of `values`: `None` if there is none, `Some(Err(()))` if there are
/// several.
fn one_of<'a>(values: &[&'a str]) -> Option<Result<&'a str, ()>> {
    let (first, rest) = values.split_first()?;
    Some(if rest.iter().all(|v| v == first) {
        Ok(*first)
    } else {
        Err(())
    })
}

/// The one value of a header that must not repeat with different values. Every value is
/// checked as text first.
fn single<'a>(name: &str, found: &[Found<'a>], index: usize) -> VResult<&'a str> {
    let mut one = None;
    let mut repeated = false;
    for value in values(name, found, index) {
        let value = value?;
        match one {
            None => one = Some(value),
            Some(first) => repeated |= first != value,
        }
    }
    match one {
        None => Err(VerifyError::missing(name.to_owned())),
        Some(_) if repeated => Err(VerifyError::invalid(
            name.to_owned(),
            "header repeated with different values",
        )),
        Some(value) => Ok(value),
    }
}

/// Parses a unix-seconds timestamp (decimal digits only) and, when `now` is given, checks it
/// against the tolerance.
fn check_timestamp(name: &str, ts: &str, now: Option<i64>, tolerance: u64) -> VResult<()> {
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::invalid(
            name.to_owned(),
            "timestamp must be unix seconds (decimal digits)",
        ));
    }
    // Digits only, so this is `ts.parse::<i64>()` (`None` on overflow), in less code.
    let ts = ts
        .bytes()
        .try_fold(0i64, |n, d| {
            n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
        .ok_or_else(|| VerifyError::invalid(name.to_owned(), "timestamp is out of range"))?;
    if let Some(now) = now {
        let (ts, now, tol) = (i128::from(ts), i128::from(now), i128::from(tolerance));
        if ts < now - tol {
            return Err(VerifyError::TimestampTooOld);
        }
        if ts > now + tol {
            return Err(VerifyError::TimestampTooNew);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::signing::{Key, Signer};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const V1A_PK: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    const V1A_SIG: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    fn verifier() -> Verifier {
        Verifier::new([Secret::parse(SECRET).unwrap()]).unwrap()
    }

    fn headers(sig: &str) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), ID.into()),
            ("webhook-timestamp".into(), TS.to_string()),
            ("webhook-signature".into(), sig.into()),
        ]
    }

    fn code(r: VResult<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn header_collections() {
        let v = verifier();
        let vec = headers(SIG);
        v.verify(BODY, &vec, TS).unwrap();
        v.verify(BODY, vec.clone(), TS).unwrap();
        let map: HashMap<String, String> = vec.iter().cloned().collect();
        v.verify(BODY, &map, TS).unwrap();
        let ts = TS.to_string();
        let slice: &[(&str, &str)] = &[
            ("Webhook-Id", ID),
            ("WEBHOOK-TIMESTAMP", &ts),
            ("webhook-Signature", SIG),
        ];
        v.verify(BODY, slice, TS).unwrap();
        let bytes: Vec<(&str, &[u8])> = vec![
            ("webhook-id", ID.as_bytes()),
            ("webhook-timestamp", ts.as_bytes()),
            ("webhook-signature", SIG.as_bytes()),
            ("x-unrelated", &[0xff, 0x00]),
        ];
        v.verify(BODY, &bytes, TS).unwrap();
        v.verify_ignoring_timestamp(BODY, &bytes).unwrap();
    }

    #[test]
    fn svix_headers() {
        let ts = TS.to_string();
        let h = [
            ("svix-id", ID),
            ("svix-timestamp", &ts),
            ("Svix-Signature", SIG),
        ];
        verifier().verify(BODY, h, TS).unwrap();
        // webhook-* wins over svix-* when both are present.
        let h = [
            ("svix-id", "msg_other"),
            ("webhook-id", ID),
            ("svix-timestamp", &ts),
            ("svix-signature", SIG),
        ];
        verifier().verify(BODY, h, TS).unwrap();
    }

    #[test]
    fn non_ascii_values_are_invalid_headers() {
        let ts = TS.to_string();
        let h: [(&str, &[u8]); 3] = [
            ("webhook-id", b"msg_\xff"),
            ("webhook-timestamp", ts.as_bytes()),
            ("webhook-signature", SIG.as_bytes()),
        ];
        let err = verifier().verify(BODY, h, TS).unwrap_err();
        assert_eq!(err.code(), "invalid_header");
        assert_eq!(err.header(), Some("webhook-id"));
    }

    #[test]
    fn missing_headers() {
        for (i, name) in ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .into_iter()
            .enumerate()
        {
            let mut h = headers(SIG);
            h.remove(i);
            let err = verifier().verify(BODY, &h, TS).unwrap_err();
            assert_eq!(err, VerifyError::MissingHeader(name.into()));
            assert_eq!(err.to_string(), format!("missing header: {name}"));
        }
    }

    #[test]
    fn multi_sig_and_unknown_versions() {
        let decoy = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let v2 = "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let v = verifier();
        assert_eq!(
            code(v.verify(BODY, headers(&format!("{decoy} {v2} {SIG} {decoy}")), TS)),
            "ok"
        );
        assert_eq!(
            code(v.verify(BODY, headers(&format!("{decoy} {v2}")), TS)),
            "no_matching_signature"
        );
        // An unknown version carrying a valid tag does not count.
        let as_v2 = SIG.replacen("v1,", "v2,", 1);
        assert_eq!(
            code(v.verify(BODY, headers(&as_v2), TS)),
            "no_matching_signature"
        );
        // Malformed tokens are skipped, not fatal.
        let messy = format!("garbage v1 v1,!!! ,, v1a,xyz  {SIG}");
        assert_eq!(code(v.verify(BODY, headers(&messy), TS)), "ok");
    }

    #[test]
    fn partial_signatures_never_pass() {
        let v = verifier();
        for partial in [
            "",
            "v1,",
            "v1,g0hM9",
            &SIG[..SIG.len() - 1],
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        ] {
            assert_eq!(
                code(v.verify(BODY, headers(partial), TS)),
                "no_matching_signature",
                "{partial:?}"
            );
        }
    }

    #[test]
    fn length_checked_before_compare() {
        // A 31-byte and a 33-byte prefix/extension of the real tag are rejected by length.
        let tag = b64::decode(&SIG[3..]).unwrap();
        assert_eq!(
            decode_fixed::<32>(&SIG[3..]).map(|t| t.to_vec()),
            Some(tag.clone())
        );
        assert_eq!(decode_fixed::<32>(&b64::encode(&tag[..31])), None);
        let mut longer = tag.clone();
        longer.push(0);
        assert_eq!(decode_fixed::<32>(&b64::encode(&longer)), None);
        assert_eq!(decode_fixed::<64>(&SIG[3..]), None);
    }

    #[test]
    fn tolerance_edges() {
        let v = verifier();
        let h = headers(SIG);
        assert_eq!(code(v.verify(BODY, &h, TS + 300)), "ok");
        assert_eq!(code(v.verify(BODY, &h, TS - 300)), "ok");
        assert_eq!(code(v.verify(BODY, &h, TS + 301)), "timestamp_too_old");
        assert_eq!(code(v.verify(BODY, &h, TS - 301)), "timestamp_too_new");
        assert_eq!(code(v.verify_ignoring_timestamp(BODY, &h)), "ok");
        let v = v.with_tolerance(10);
        assert_eq!(code(v.verify(BODY, &h, TS + 11)), "timestamp_too_old");
        assert_eq!(code(v.verify(BODY, &h, i64::MIN)), "timestamp_too_new");
        assert_eq!(code(v.verify(BODY, &h, i64::MAX)), "timestamp_too_old");
    }

    #[test]
    fn bad_timestamps_and_ids() {
        let v = verifier();
        for ts in [
            "",
            "abc",
            "-5",
            "+1614265330",
            "1.5",
            "99999999999999999999",
        ] {
            let mut h = headers(SIG);
            h[1].1 = ts.into();
            let err = v.verify(BODY, &h, TS).unwrap_err();
            assert_eq!(err.code(), "invalid_header", "{ts:?}");
            assert_eq!(err.header(), Some("webhook-timestamp"));
        }
        let mut h = headers(SIG);
        h[0].1 = "msg.1".into();
        assert_eq!(
            v.verify(BODY, &h, TS).unwrap_err().header(),
            Some("webhook-id")
        );
        let mut h = headers(SIG);
        h.push(("WEBHOOK-ID".into(), "msg_other".into()));
        assert_eq!(v.verify(BODY, &h, TS).unwrap_err().code(), "invalid_header");
        // The same value repeated is fine.
        let mut h = headers(SIG);
        h.push(("WEBHOOK-ID".into(), ID.into()));
        v.verify(BODY, &h, TS).unwrap();
    }

    #[test]
    fn signature_header_lines_combine() {
        let mut h = headers("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=");
        h.push(("webhook-signature".into(), SIG.into()));
        verifier().verify(BODY, &h, TS).unwrap();
    }

    #[test]
    fn rotation() {
        let old = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let new = Secret::parse(SECRET).unwrap();
        let both = Verifier::new([old.clone(), new.clone()]).unwrap();
        both.verify(BODY, headers(SIG), TS).unwrap();
        let signer = Signer::new(vec![Key::Hmac(old.clone()), Key::Hmac(new)]).unwrap();
        let h = signer.headers(ID, TS, BODY);
        Verifier::new([old]).unwrap().verify(BODY, &h, TS).unwrap();
        verifier().verify(BODY, &h, TS).unwrap();
        assert!(Verifier::new([]).is_err());
    }

    #[test]
    fn ed25519() {
        let pk = VerifyKey::parse(&Scheme::StandardWebhooks, V1A_PK).unwrap();
        let v = Verifier::from_keys(vec![pk]).unwrap();
        assert_eq!(code(v.verify(BODY, headers(V1A_SIG), TS)), "ok");
        // v1 entries do not match ed25519 keys, and HMAC keys ignore v1a.
        assert_eq!(
            code(v.verify(BODY, headers(SIG), TS)),
            "no_matching_signature"
        );
        assert_eq!(
            code(verifier().verify(BODY, headers(V1A_SIG), TS)),
            "no_matching_signature"
        );
        let mut tampered = BODY.to_vec();
        tampered[0] = b'[';
        assert_eq!(
            code(v.verify(&tampered, headers(V1A_SIG), TS)),
            "no_matching_signature"
        );
        let both = format!("{SIG} {V1A_SIG}");
        assert_eq!(code(v.verify(BODY, headers(&both), TS)), "ok");
        assert_eq!(code(verifier().verify(BODY, headers(&both), TS)), "ok");
        assert_eq!(
            VerifyKey::parse(
                &Scheme::StandardWebhooks,
                "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
            )
            .unwrap_err()
            .code(),
            "invalid_secret"
        );
    }

    #[test]
    fn sign_verify_roundtrip_all_schemes() {
        let body: &[u8] = &[0xff, 0xfe, b'.', 0x00, 0x80];
        let schemes = [
            Scheme::StandardWebhooks,
            Scheme::github(),
            Scheme::HexBody {
                header: "X-Sig".into(),
                prefix: false,
            },
            Scheme::stripe(),
            Scheme::TimestampedHex {
                header: "X-Sig".into(),
                timestamp_header: Some("X-Ts".into()),
            },
        ];
        for scheme in schemes {
            let keys = if scheme == Scheme::StandardWebhooks {
                vec![
                    Key::parse(&scheme, SECRET).unwrap(),
                    Key::parse(&scheme, "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
                        .unwrap(),
                ]
            } else {
                vec![
                    Key::parse(&scheme, "first").unwrap(),
                    Key::parse(&scheme, "second").unwrap(),
                ]
            };
            let signer = Signer::new(keys.clone())
                .unwrap()
                .with_scheme(scheme.clone())
                .unwrap();
            let h = signer.headers(ID, TS, body);
            for key in &keys {
                let v = Verifier::from_keys([key.verifying_key()])
                    .unwrap()
                    .with_scheme(scheme.clone())
                    .unwrap();
                assert_eq!(
                    code(v.verify(body, &h, TS)),
                    "ok",
                    "{scheme:?} {}",
                    key.kind()
                );
                assert_eq!(code(v.verify(b"other", &h, TS)), "no_matching_signature");
                let expect_ts = if scheme.is_timestamped() {
                    "timestamp_too_old"
                } else {
                    "ok"
                };
                assert_eq!(code(v.verify(body, &h, TS + 301)), expect_ts, "{scheme:?}");
                assert_eq!(
                    code(v.verify(body, Vec::<(String, String)>::new(), TS)),
                    "missing_header"
                );
            }
        }
    }

    #[test]
    fn compat_verify_details() {
        let gh = Scheme::github();
        let v = Verifier::from_keys([VerifyKey::parse(&gh, "mysecret").unwrap()])
            .unwrap()
            .with_scheme(gh)
            .unwrap();
        let hex = "4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3";
        let body = br#"{"foo":"bar"}"#;
        for value in [format!("sha256={hex}"), hex.to_owned(), hex.to_uppercase()] {
            assert_eq!(
                code(v.verify(body, [("x-hub-signature-256", &value)], 0)),
                "ok"
            );
        }
        for value in ["sha256=", "sha256=4864d275", &hex[..63], "sha1=abc"] {
            assert_eq!(
                code(v.verify(body, [("X-Hub-Signature-256", value)], 0)),
                "no_matching_signature"
            );
        }
        let err = v.verify(body, [("X-Other", hex)], 0).unwrap_err();
        assert_eq!(
            err,
            VerifyError::MissingHeader("X-Hub-Signature-256".into())
        );

        let st = Scheme::stripe();
        let v = Verifier::from_keys([VerifyKey::parse(&st, "whsec_test_secret").unwrap()])
            .unwrap()
            .with_scheme(st)
            .unwrap();
        let body = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
        let good = "af4ead0627a34a8cca29808e8de9ada8e41a92e6237c63cef6eacf51d36cca34";
        let bad = "0".repeat(64);
        let h = format!("t=1614265330,v1={bad},v0={good},v1={good}");
        assert_eq!(code(v.verify(body, [("stripe-signature", &h)], TS)), "ok");
        let h = format!("v1={good}");
        assert_eq!(
            code(v.verify(body, [("stripe-signature", &h)], TS)),
            "invalid_header"
        );
        let h = format!("t=1,t=2,v1={good}");
        assert_eq!(
            code(v.verify(body, [("stripe-signature", &h)], TS)),
            "invalid_header"
        );
        let h = format!("t=1614265330,v0={good}");
        assert_eq!(
            code(v.verify(body, [("stripe-signature", &h)], TS)),
            "no_matching_signature"
        );
        // A Standard Webhooks secret cannot be used with a compatibility scheme.
        assert_eq!(
            verifier().with_scheme(Scheme::stripe()).unwrap_err().code(),
            "incompatible_key"
        );
    }
}
