//! [`Signer`]: produces the signature headers of a delivery.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::b64;
use super::compat::{decimal, hex_encode};
use super::error::SigningError;
use super::mac::hmac_sha256;
use super::{
    COMPAT_LIST_SEPARATOR, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEX_BODY_PREFIX,
    RawSecret, Result, SIGNATURE_LIST_SEPARATOR, SIGNATURE_VERSION, SIGNATURE_VERSION_ED25519,
    SIGNED_CONTENT_SEPARATOR, SIGNING_KEY_PREFIX, STRIPE_SIGNATURE_KEY, STRIPE_TIMESTAMP_KEY,
    Scheme, Secret, SigningKey, VERSION_SEPARATOR, VerifyKey,
};

/// The Standard Webhooks signed content, `msg_id.timestamp.body`, as parts.
pub(crate) fn signed_parts<'a>(
    msg_id: &'a str,
    timestamp: &'a str,
    body: &'a [u8],
) -> [&'a [u8]; 5] {
    let sep = core::slice::from_ref(&SIGNED_CONTENT_SEPARATOR);
    [msg_id.as_bytes(), sep, timestamp.as_bytes(), sep, body]
}

/// Why `msg_id` cannot be used as a `webhook-id`, if it cannot.
pub(crate) fn msg_id_problem(msg_id: &str) -> Option<&'static str> {
    if msg_id.is_empty() {
        Some("message id is empty")
    } else if msg_id.bytes().any(|b| b == SIGNED_CONTENT_SEPARATOR) {
        Some("message id contains '.', which makes the signed content ambiguous")
    } else if !msg_id.bytes().all(|b| b.is_ascii_graphic()) {
        Some("message id must be visible ASCII (no spaces or control characters)")
    } else {
        None
    }
}

/// Checks that `msg_id` can be signed and sent as `webhook-id`: non-empty, visible ASCII, no `.`.
///
/// The scheduler calls this when a job is created (the id is stable across retries), so
/// [`Signer::sign`] can stay infallible. [`Verifier`](super::Verifier) applies the same rule to
/// incoming `webhook-id` headers.
///
/// # Errors
/// [`SigningError::InvalidMsgId`] saying what is wrong.
pub fn validate_msg_id(msg_id: &str) -> Result<()> {
    match msg_id_problem(msg_id) {
        Some(reason) => Err(SigningError::InvalidMsgId(reason.to_owned())),
        None => Ok(()),
    }
}

/// A key a [`Signer`] signs with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Key {
    /// Standard Webhooks HMAC secret (`v1`).
    Hmac(Secret),
    /// Standard Webhooks ed25519 key (`v1a`).
    Ed25519(SigningKey),
    /// HMAC key used verbatim: required by the compatibility schemes; with
    /// [`Scheme::StandardWebhooks`] it signs `v1` with these exact bytes as the key.
    Raw(RawSecret),
}

impl Key {
    /// Parses a secret string the way `scheme` expects it:
    /// - [`Scheme::StandardWebhooks`]: `whsk_…` is an ed25519 [`SigningKey`]; anything else is a
    ///   [`Secret`] (`whsec_` prefix optional).
    /// - compatibility schemes: the string's UTF-8 bytes verbatim ([`RawSecret`]).
    ///
    /// # Errors
    /// [`SigningError::InvalidSecret`] if the string is not a valid key of that kind.
    pub fn parse(scheme: &Scheme, s: &str) -> Result<Self> {
        match scheme {
            Scheme::StandardWebhooks if s.trim_start().starts_with(SIGNING_KEY_PREFIX) => {
                SigningKey::parse(s).map(Self::Ed25519)
            }
            Scheme::StandardWebhooks => Secret::parse(s).map(Self::Hmac),
            Scheme::HexBody { .. } | Scheme::TimestampedHex { .. } => {
                RawSecret::new(s.as_bytes()).map(Self::Raw)
            }
        }
    }

    /// The matching key a receiver verifies with (the public key for ed25519).
    #[must_use]
    pub fn verifying_key(&self) -> VerifyKey {
        match self {
            Self::Hmac(s) => VerifyKey::Hmac(s.clone()),
            Self::Ed25519(k) => VerifyKey::Ed25519(k.verifying_key()),
            Self::Raw(r) => VerifyKey::Raw(r.clone()),
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

    /// HMAC key bytes, for the HMAC kinds.
    fn hmac_key(&self) -> Option<&[u8]> {
        match self {
            Self::Hmac(s) => Some(s.expose_bytes()),
            Self::Raw(r) => Some(r.expose_bytes()),
            Self::Ed25519(_) => None,
        }
    }
}

impl From<Secret> for Key {
    fn from(s: Secret) -> Self {
        Self::Hmac(s)
    }
}

impl From<SigningKey> for Key {
    fn from(k: SigningKey) -> Self {
        Self::Ed25519(k)
    }
}

impl From<RawSecret> for Key {
    fn from(r: RawSecret) -> Self {
        Self::Raw(r)
    }
}

/// Whether a key of `kind` can be used with `scheme`: Standard Webhooks takes every kind, the
/// compatibility schemes take raw secrets only.
pub(crate) fn check_key_for_scheme(kind: &'static str, scheme: &Scheme) -> Result<()> {
    match scheme {
        Scheme::StandardWebhooks => Ok(()),
        _ if kind == "raw" => Ok(()),
        _ => Err(SigningError::IncompatibleKey {
            key: kind,
            scheme: scheme.name(),
        }),
    }
}

/// Signs deliveries with an ordered list of keys (all active keys during a rotation).
#[derive(Clone, Debug)]
pub struct Signer {
    keys: Vec<Key>,
    scheme: Scheme,
}

impl Signer {
    /// A Standard Webhooks signer.
    ///
    /// # Errors
    /// [`SigningError::NoKeys`] if `keys` is empty.
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Result<Self> {
        let keys: Vec<Key> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(SigningError::NoKeys);
        }
        Ok(Self {
            keys,
            scheme: Scheme::StandardWebhooks,
        })
    }

    /// Switches to another scheme.
    ///
    /// # Errors
    /// [`SigningError::InvalidScheme`] if the scheme does not [validate](Scheme::validate);
    /// [`SigningError::IncompatibleKey`] if a key cannot be used with it (compatibility schemes
    /// take [`Key::Raw`] only).
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

    /// The keys, in signing order.
    #[must_use]
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The value of the scheme's signature header.
    ///
    /// For Standard Webhooks: space-separated `v1,<base64>` (HMAC keys) and `v1a,<base64>`
    /// (ed25519 keys) in key order, over `msg_id.timestamp.body` (raw bytes, any encoding).
    /// For the compatibility schemes see [`Scheme`]; `msg_id` is not signed there.
    ///
    /// `msg_id` is not checked here; see [`validate_msg_id`].
    #[must_use]
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let ts = decimal(timestamp);
        match &self.scheme {
            Scheme::StandardWebhooks => self.sign_standard(msg_id, &ts, body),
            Scheme::HexBody { prefix, .. } => {
                let prefix = if *prefix { HEX_BODY_PREFIX } else { "" };
                self.join_hex(|key| prefix.to_owned() + &hex_encode(&hmac_sha256(key, &[body])))
            }
            Scheme::TimestampedHex {
                timestamp_header, ..
            } => {
                let parts = [
                    ts.as_bytes(),
                    core::slice::from_ref(&SIGNED_CONTENT_SEPARATOR),
                    body,
                ];
                if timestamp_header.is_some() {
                    self.join_hex(|key| hex_encode(&hmac_sha256(key, &parts)))
                } else {
                    let mut out = [STRIPE_TIMESTAMP_KEY, "=", &ts].concat();
                    for key in self.keys.iter().filter_map(Key::hmac_key) {
                        out.push(COMPAT_LIST_SEPARATOR);
                        out.push_str(STRIPE_SIGNATURE_KEY);
                        out.push('=');
                        out.push_str(&hex_encode(&hmac_sha256(key, &parts)));
                    }
                    out
                }
            }
        }
    }

    /// Every header the scheme puts on a request, as `(name, value)`:
    /// - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`;
    /// - [`Scheme::HexBody`] and Stripe-style [`Scheme::TimestampedHex`]: the signature header;
    /// - RunLater-style [`Scheme::TimestampedHex`]: the signature and timestamp headers.
    #[must_use]
    pub fn headers(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
        let signature = self.sign(msg_id, timestamp, body);
        match &self.scheme {
            Scheme::StandardWebhooks => vec![
                (HEADER_ID.to_owned(), msg_id.to_owned()),
                (HEADER_TIMESTAMP.to_owned(), decimal(timestamp)),
                (HEADER_SIGNATURE.to_owned(), signature),
            ],
            Scheme::HexBody { header, .. }
            | Scheme::TimestampedHex {
                header,
                timestamp_header: None,
            } => vec![(header.clone(), signature)],
            Scheme::TimestampedHex {
                header,
                timestamp_header: Some(ts_header),
            } => vec![
                (header.clone(), signature),
                (ts_header.clone(), decimal(timestamp)),
            ],
        }
    }

    fn sign_standard(&self, msg_id: &str, ts: &str, body: &[u8]) -> String {
        let parts = signed_parts(msg_id, ts, body);
        // ed25519 needs the content in one piece; build it once, only if needed.
        let mut content: Option<Vec<u8>> = None;
        let mut out = String::new();
        for key in &self.keys {
            if !out.is_empty() {
                out.push(SIGNATURE_LIST_SEPARATOR);
            }
            let (version, sig) = match key {
                Key::Hmac(s) => (
                    SIGNATURE_VERSION,
                    b64::encode(&hmac_sha256(s.expose_bytes(), &parts)),
                ),
                Key::Raw(r) => (
                    SIGNATURE_VERSION,
                    b64::encode(&hmac_sha256(r.expose_bytes(), &parts)),
                ),
                Key::Ed25519(k) => {
                    let content = content.get_or_insert_with(|| parts.concat());
                    (SIGNATURE_VERSION_ED25519, b64::encode(&k.sign(content)))
                }
            };
            out.push_str(version);
            out.push(VERSION_SEPARATOR);
            out.push_str(&sig);
        }
        out
    }

    fn join_hex(&self, one: impl Fn(&[u8]) -> String) -> String {
        let mut out = String::new();
        for key in self.keys.iter().filter_map(Key::hmac_key) {
            if !out.is_empty() {
                out.push(COMPAT_LIST_SEPARATOR);
            }
            out.push_str(&one(key));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SW1_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW1_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW1_TS: i64 = 1_614_265_330;
    const SW1_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SW1_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const V1A_SEED: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const V1A_SIG: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    fn key(s: &str) -> Key {
        Key::parse(&Scheme::StandardWebhooks, s).unwrap()
    }

    #[test]
    fn sign_sw1_and_headers() {
        let signer = Signer::new(vec![key(SW1_SECRET)]).unwrap();
        assert_eq!(signer.sign(SW1_ID, SW1_TS, SW1_BODY), SW1_SIG);
        let h = signer.headers(SW1_ID, SW1_TS, SW1_BODY);
        assert_eq!(
            h,
            vec![
                ("webhook-id".to_owned(), SW1_ID.to_owned()),
                ("webhook-timestamp".to_owned(), "1614265330".to_owned()),
                ("webhook-signature".to_owned(), SW1_SIG.to_owned()),
            ]
        );
    }

    #[test]
    fn multi_key_in_order() {
        let signer = Signer::new(vec![key(V1A_SEED), key(SW1_SECRET)]).unwrap();
        assert_eq!(
            signer.sign(SW1_ID, SW1_TS, SW1_BODY),
            format!("{V1A_SIG} {SW1_SIG}")
        );
        // A raw key with the same bytes signs the same v1.
        let raw = Secret::parse(SW1_SECRET).unwrap().expose_bytes().to_vec();
        let signer = Signer::new(vec![Key::Raw(RawSecret::new(raw).unwrap())]).unwrap();
        assert_eq!(signer.sign(SW1_ID, SW1_TS, SW1_BODY), SW1_SIG);
    }

    #[test]
    fn empty_and_incompatible() {
        assert_eq!(Signer::new(vec![]).unwrap_err(), SigningError::NoKeys);
        let err = Signer::new(vec![key(SW1_SECRET)])
            .unwrap()
            .with_scheme(Scheme::github())
            .unwrap_err();
        assert_eq!(err.code(), "incompatible_key");
        let err = Signer::new(vec![key(V1A_SEED)])
            .unwrap()
            .with_scheme(Scheme::stripe())
            .unwrap_err();
        assert_eq!(err.code(), "incompatible_key");
        let bad = Scheme::HexBody {
            header: "bad header".into(),
            prefix: true,
        };
        let raw = Key::parse(&bad, "x").unwrap();
        assert_eq!(
            Signer::new(vec![raw])
                .unwrap()
                .with_scheme(bad)
                .unwrap_err()
                .code(),
            "invalid_scheme"
        );
    }

    #[test]
    fn key_parse_dispatch() {
        assert_eq!(key(SW1_SECRET).kind(), "hmac");
        assert_eq!(key(V1A_SEED).kind(), "ed25519");
        assert_eq!(
            Key::parse(&Scheme::stripe(), "whsec_x").unwrap().kind(),
            "raw"
        );
        assert!(Key::parse(&Scheme::stripe(), "").is_err());
        assert!(Key::parse(&Scheme::StandardWebhooks, "whsec_").is_err());
    }

    #[test]
    fn compat_schemes() {
        let gh = Scheme::github();
        let s = Signer::new(vec![Key::parse(&gh, "It's a Secret to Everybody").unwrap()])
            .unwrap()
            .with_scheme(gh)
            .unwrap();
        let expect = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(s.sign("ignored", 0, b"Hello, World!"), expect);
        assert_eq!(
            s.headers("ignored", 0, b"Hello, World!"),
            vec![("X-Hub-Signature-256".to_owned(), expect.to_owned())]
        );

        let st = Scheme::stripe();
        let s = Signer::new(vec![Key::parse(&st, "whsec_test_secret").unwrap()])
            .unwrap()
            .with_scheme(st)
            .unwrap();
        let body = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
        assert_eq!(
            s.sign("ignored", 1_614_265_330, body),
            "t=1614265330,v1=af4ead0627a34a8cca29808e8de9ada8e41a92e6237c63cef6eacf51d36cca34"
        );

        let rl = Scheme::TimestampedHex {
            header: "X-Signature".into(),
            timestamp_header: Some("X-Timestamp".into()),
        };
        let s = Signer::new(vec![
            Key::parse(&rl, "one").unwrap(),
            Key::parse(&rl, "two").unwrap(),
        ])
        .unwrap()
        .with_scheme(rl)
        .unwrap();
        let h = s.headers("ignored", 42, b"x");
        assert_eq!(h.len(), 2);
        assert_eq!(h[1], ("X-Timestamp".to_owned(), "42".to_owned()));
        let sigs: Vec<&str> = h[0].1.split(',').collect();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[0], hex_encode(&hmac_sha256(b"one", &[b"42.x"])));
        assert_eq!(sigs[1], hex_encode(&hmac_sha256(b"two", &[b"42.x"])));
    }

    #[test]
    fn msg_ids() {
        assert!(validate_msg_id(SW1_ID).is_ok());
        for bad in ["", "a.b", "a b", "é", "a\nb"] {
            assert_eq!(
                validate_msg_id(bad).unwrap_err().code(),
                "invalid_msg_id",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn non_utf8_body_signs() {
        let signer = Signer::new(vec![key(SW1_SECRET)]).unwrap();
        let sig = signer.sign(SW1_ID, SW1_TS, &[0xff, 0xfe, 0x00, 0x80]);
        assert!(sig.starts_with("v1,"));
        assert_eq!(sig.len(), 3 + 44);
    }
}
