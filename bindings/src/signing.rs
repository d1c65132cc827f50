//! Verification and signing as the bindings expose them: schemes from plain fields, verifiers and
//! signers from secret strings (errors name which one, never its text), and header collection
//! from any language's header map.

use std::borrow::Cow;

use timehook::signing::{
    Key, Scheme, Secret, Signer, SigningKey, Verifier, VerifyKey, VerifyingKey,
};

use crate::error::{BindingError, ErrorCode, Result};

/// The scheme names accepted by [`SchemeInput::kind`].
pub const SCHEME_NAMES: &str =
    "\"standard\", \"github\", \"stripe\", \"hex_body\" or \"timestamped_hex\"";
/// Prefix of the CGI/WSGI form of a request header (`HTTP_WEBHOOK_ID` for `webhook-id`).
pub const CGI_HEADER_PREFIX: &str = "HTTP_";

/// A signature scheme as plain fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemeInput {
    /// `standard` (default), `github`, `stripe`, `hex_body` or `timestamped_hex`.
    pub kind: String,
    /// Signature header, for `hex_body` and `timestamped_hex`.
    pub header: Option<String>,
    /// Whether the signer writes `sha256=`, for `hex_body` (default true).
    pub prefix: Option<bool>,
    /// Timestamp header, for `timestamped_hex` (none: the timestamp is inside `header`).
    pub timestamp_header: Option<String>,
}

fn scheme_error(message: impl Into<String>) -> BindingError {
    BindingError::new(ErrorCode::InvalidScheme, message)
}

impl SchemeInput {
    /// The core scheme, validated.
    ///
    /// # Errors
    /// `invalid_scheme` naming the problem.
    pub fn into_scheme(self) -> Result<Scheme> {
        let kind = self.kind.trim();
        let needs_header = |header: Option<String>| {
            header.ok_or_else(|| scheme_error(format!("the {kind} scheme needs a header name")))
        };
        let scheme = match kind {
            "" | "standard" => Scheme::StandardWebhooks,
            "github" => Scheme::github(),
            "stripe" => Scheme::stripe(),
            "hex_body" => Scheme::HexBody {
                header: needs_header(self.header)?,
                prefix: self.prefix.unwrap_or(true),
            },
            "timestamped_hex" => Scheme::TimestampedHex {
                header: needs_header(self.header)?,
                timestamp_header: self.timestamp_header,
            },
            // A delivery profile's name: its signature style.
            other => match Scheme::for_profile(other) {
                Some(scheme) if self.header.is_none() && self.timestamp_header.is_none() => scheme,
                Some(_) => {
                    return Err(scheme_error(format!(
                        "the {other} profile's scheme takes no header names"
                    )));
                }
                None => {
                    return Err(scheme_error(format!(
                        "{other:?} is not a scheme; expected {SCHEME_NAMES}, or a profile: \
                         runlater-eu, runlater, cronflow, svix, a1cron"
                    )));
                }
            },
        };
        scheme.validate()?;
        Ok(scheme)
    }
}

fn numbered(what: &str, i: usize, n: usize) -> String {
    if n > 1 {
        format!("{what} {} of {n}", i + 1)
    } else {
        what.to_owned()
    }
}

/// A verifier for `secrets` under `scheme`. For Standard Webhooks a secret is `whsec_...` (prefix
/// optional) or an ed25519 public key `whpk_...`; for the other schemes it is used verbatim.
///
/// # Errors
/// `no_keys` for an empty list, `invalid_secret` naming which secret is bad, `incompatible_key`.
pub fn build_verifier(
    secrets: &[String],
    scheme: Scheme,
    tolerance_secs: Option<u64>,
) -> Result<Verifier> {
    let n = secrets.len();
    let keys = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            VerifyKey::parse(&scheme, s)
                .map_err(|e| BindingError::from(e).context(numbered("secret", i, n)))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut verifier = Verifier::from_keys(keys)?.with_scheme(scheme)?;
    if let Some(t) = tolerance_secs {
        verifier = verifier.with_tolerance(t);
    }
    Ok(verifier)
}

/// A signer for `keys` under `scheme` (for Standard Webhooks `whsec_...` HMAC secrets and
/// `whsk_...` ed25519 keys, in the order given).
///
/// # Errors
/// As [`build_verifier`].
pub fn build_signer(keys: &[String], scheme: Scheme) -> Result<Signer> {
    let n = keys.len();
    let keys = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Key::parse(&scheme, k).map_err(|e| BindingError::from(e).context(numbered("key", i, n)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Signer::new(keys)?.with_scheme(scheme)?)
}

/// The name of a header as given by a language's header map: the CGI/WSGI form
/// (`HTTP_WEBHOOK_ID`, as in Django's `request.META` or a WSGI environ) becomes `webhook-id`;
/// anything else is kept (matching is case-insensitive anyway).
pub fn header_name(name: &str) -> Cow<'_, str> {
    match name.strip_prefix(CGI_HEADER_PREFIX) {
        Some(rest) if !rest.is_empty() && !rest.contains('-') => {
            Cow::Owned(rest.replace('_', "-").to_ascii_lowercase())
        }
        _ => Cow::Borrowed(name),
    }
}

/// Whether `given` names the header `wanted`: case-insensitively, ignoring surrounding
/// whitespace, and also in CGI form (`HTTP_` + upper case with `_` for `-`).
fn same_header(given: &[u8], wanted: &str) -> bool {
    let given = given.trim_ascii();
    let wanted = wanted.as_bytes();
    if given.eq_ignore_ascii_case(wanted) {
        return true;
    }
    match given.strip_prefix(CGI_HEADER_PREFIX.as_bytes()) {
        Some(rest) if !rest.contains(&b'-') => {
            rest.len() == wanted.len()
                && rest.iter().zip(wanted).all(|(&g, &w)| {
                    let g = if g == b'_' { b'-' } else { g };
                    g.eq_ignore_ascii_case(&w)
                })
        }
        _ => false,
    }
}

/// The headers a scheme reads. A binding asks it about each header of a language's header map
/// and converts only the values it wants, so verifying with a large map stays cheap.
#[derive(Debug, Clone)]
pub struct HeaderFilter {
    wanted: Vec<String>,
}

impl HeaderFilter {
    /// The headers `scheme` reads (for Standard Webhooks also the `svix-*` aliases).
    pub fn for_scheme(scheme: &Scheme) -> Self {
        use timehook::signing::{
            HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SVIX_HEADER_ID, SVIX_HEADER_SIGNATURE,
            SVIX_HEADER_TIMESTAMP,
        };
        let wanted = match scheme {
            Scheme::StandardWebhooks => [
                HEADER_ID,
                HEADER_TIMESTAMP,
                HEADER_SIGNATURE,
                SVIX_HEADER_ID,
                SVIX_HEADER_TIMESTAMP,
                SVIX_HEADER_SIGNATURE,
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            other => other
                .header_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        HeaderFilter { wanted }
    }

    /// Whether a header name of `chars` characters can be one of the wanted headers (a cheap
    /// test before converting the name; surrounding whitespace is allowed for).
    pub fn may_match_len(&self, chars: usize) -> bool {
        self.wanted.iter().any(|w| {
            let n = w.len();
            chars >= n && (chars - n <= 4 || chars == n + CGI_HEADER_PREFIX.len())
        })
    }

    /// The wanted header that `name` names (in any case, or in CGI form), as the verifier
    /// expects it.
    pub fn matching(&self, name: &[u8]) -> Option<&str> {
        self.wanted
            .iter()
            .find(|w| same_header(name, w))
            .map(String::as_str)
    }

    /// Whether the verifier reads the header `name`.
    pub fn wants(&self, name: &str) -> bool {
        self.matching(name.as_bytes()).is_some()
    }
}

/// The headers a verifier reads, collected (owned) from a language's header map. Headers the
/// scheme does not read are dropped.
#[derive(Debug, Clone)]
pub struct HeaderPairs {
    filter: HeaderFilter,
    pairs: Vec<(usize, Vec<u8>)>,
}

impl HeaderPairs {
    /// An empty collection for the headers `scheme` reads.
    pub fn for_scheme(scheme: &Scheme) -> Self {
        HeaderPairs::with_filter(HeaderFilter::for_scheme(scheme))
    }

    /// An empty collection for the headers of `filter`.
    pub fn with_filter(filter: HeaderFilter) -> Self {
        HeaderPairs {
            filter,
            pairs: Vec::with_capacity(3),
        }
    }

    /// Whether the verifier reads the header `name` (in any case, or in CGI form).
    pub fn wants(&self, name: &str) -> bool {
        self.filter.wants(name)
    }

    /// Adds one value of a header (a repeated header is pushed once per value).
    pub fn push(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let found = self
            .filter
            .wanted
            .iter()
            .position(|w| same_header(name.as_bytes(), w));
        if let Some(i) = found {
            self.pairs.push((i, value.into()));
        }
    }

    /// The collected `(name, value)` pairs, names as the verifier expects them.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &[u8])> + Clone {
        self.pairs
            .iter()
            .map(|(i, v)| (self.filter.wanted[*i].as_str(), v.as_slice()))
    }
}

/// The current time in Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Verifies `body` against `headers` (any `(name, value)` pairs, e.g. [`HeaderPairs::pairs`]) at
/// `now` (Unix seconds), or without the timestamp check when `now` is `None`.
///
/// # Errors
/// `missing_header`, `invalid_header`, `timestamp_too_old`, `timestamp_too_new` or
/// `no_matching_signature`, with the header at fault as the detail.
pub fn verify<I>(verifier: &Verifier, body: &[u8], headers: I, now: Option<i64>) -> Result<()>
where
    I: IntoIterator,
    I::Item: timehook::signing::HeaderPair,
{
    Ok(match now {
        Some(now) => verifier.verify(body, headers, now),
        None => verifier.verify_ignoring_timestamp(body, headers),
    }?)
}

/// The canonical `whsec_...` form of an HMAC secret.
///
/// # Errors
/// `invalid_secret`.
pub fn normalize_secret(secret: &str) -> Result<String> {
    Ok(Secret::parse(secret)?.expose_whsec())
}

/// The `whpk_...` public key of an ed25519 signing key `whsk_...`.
///
/// # Errors
/// `invalid_secret`.
pub fn public_key(signing_key: &str) -> Result<String> {
    Ok(SigningKey::parse(signing_key)?.verifying_key().to_whpk())
}

/// The canonical `whpk_...` form of an ed25519 public key.
///
/// # Errors
/// `invalid_secret`.
pub fn normalize_public_key(key: &str) -> Result<String> {
    Ok(VerifyingKey::parse(key)?.to_whpk())
}

/// A new random HMAC secret, `whsec_...`.
///
/// # Errors
/// `random_unavailable`.
pub fn generate_secret() -> Result<String> {
    Ok(Secret::try_generate()?.expose_whsec())
}

/// A new random ed25519 signing key, `whsk_...`.
///
/// # Errors
/// `random_unavailable`.
pub fn generate_signing_key() -> Result<String> {
    Ok(SigningKey::try_generate()?.expose_whsk())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn schemes_by_name_and_fields() {
        let s = |kind: &str| SchemeInput {
            kind: kind.into(),
            ..SchemeInput::default()
        };
        assert_eq!(s("").into_scheme(), Ok(Scheme::StandardWebhooks));
        assert_eq!(s("github").into_scheme(), Ok(Scheme::github()));
        assert_eq!(s("stripe").into_scheme(), Ok(Scheme::stripe()));
        let e = s("hex_body").into_scheme().expect_err("needs a header");
        assert_eq!(e.code, ErrorCode::InvalidScheme);
        let e = s("gitlab").into_scheme().expect_err("unknown");
        assert!(e.message.contains("gitlab"));
        let custom = SchemeInput {
            kind: "timestamped_hex".into(),
            header: Some("X-Signature".into()),
            timestamp_header: Some("X-Timestamp".into()),
            ..SchemeInput::default()
        };
        assert!(custom.into_scheme().is_ok());
    }

    #[test]
    fn header_pairs_keep_only_what_the_scheme_reads() {
        let mut h = HeaderPairs::for_scheme(&Scheme::StandardWebhooks);
        h.push("Host", "x");
        h.push("HTTP_WEBHOOK_ID", "msg_1");
        h.push("Webhook-Timestamp", "1");
        h.push("svix-signature", "v1,x");
        let names: Vec<&str> = h.pairs().map(|(n, _)| n).collect();
        assert_eq!(names, ["webhook-id", "webhook-timestamp", "svix-signature"]);
        assert!(!HeaderPairs::for_scheme(&Scheme::github()).wants("webhook-id"));
        let f = HeaderFilter::for_scheme(&Scheme::StandardWebhooks);
        assert_eq!(
            f.matching(b" WEBHOOK-Signature "),
            Some("webhook-signature")
        );
        assert_eq!(f.matching(b"HTTP_SVIX_ID"), Some("svix-id"));
        assert_eq!(f.matching(b"HTTP_SVIX-ID"), None);
        assert_eq!(f.matching(b"webhook-ids"), None);
        assert!(f.may_match_len("webhook-id".len()) && f.may_match_len("HTTP_WEBHOOK_ID".len()));
        assert!(!f.may_match_len("host".len()) && !f.may_match_len(40));
        assert_eq!(
            header_name("HTTP_X_HUB_SIGNATURE_256"),
            "x-hub-signature-256"
        );
        assert_eq!(header_name("HTTP_"), "HTTP_");
    }

    #[test]
    fn signed_headers_verify_and_tampering_is_caught() {
        let signer = build_signer(&[SECRET.into()], Scheme::StandardWebhooks).expect("signer");
        let verifier =
            build_verifier(&[SECRET.into()], Scheme::StandardWebhooks, None).expect("verifier");
        let ts = 1_700_000_000;
        let mut h = HeaderPairs::for_scheme(verifier.scheme());
        for (n, v) in signer.headers("msg_1", ts, b"{}") {
            h.push(&n, v);
        }
        assert_eq!(verify(&verifier, b"{}", h.pairs(), Some(ts + 10)), Ok(()));
        let e = verify(&verifier, b"{ }", h.pairs(), Some(ts)).expect_err("tampered");
        assert_eq!(e.code, ErrorCode::NoMatchingSignature);
        let e = verify(&verifier, b"{}", h.pairs(), Some(ts + 301)).expect_err("old");
        assert_eq!(e.code, ErrorCode::TimestampTooOld);
        assert_eq!(verify(&verifier, b"{}", h.pairs(), None), Ok(()));
        let none = HeaderPairs::for_scheme(verifier.scheme());
        let e = verify(&verifier, b"{}", none.pairs(), None).expect_err("no headers");
        assert_eq!(
            (e.code, e.detail.as_deref()),
            (ErrorCode::MissingHeader, Some("webhook-id"))
        );
    }

    #[test]
    fn bad_secrets_are_numbered() {
        let e = build_verifier(
            &[SECRET.into(), "whsec_short".into()],
            Scheme::StandardWebhooks,
            None,
        )
        .expect_err("bad");
        assert_eq!(e.code, ErrorCode::InvalidSecret);
        assert!(e.message.starts_with("secret 2 of 2: "), "{}", e.message);
        let e = build_verifier(&[], Scheme::StandardWebhooks, None).expect_err("none");
        assert_eq!(e.code, ErrorCode::NoKeys);
    }

    #[test]
    fn keys_normalise_and_generate() {
        assert_eq!(
            normalize_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").as_deref(),
            Ok(SECRET)
        );
        let sk = generate_signing_key().expect("key");
        let pk = public_key(&sk).expect("public");
        assert_eq!(normalize_public_key(&pk), Ok(pk.clone()));
        assert!(generate_secret().expect("secret").starts_with("whsec_"));
    }
}
