//! Errors of the signing module: [`SigningError`] for building keys, signers and verifiers,
//! [`VerifyError`] for checking a delivery.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

/// An error while parsing a key or building a [`Signer`](super::Signer) or
/// [`Verifier`](super::Verifier).
///
/// Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningError {
    /// A secret or key could not be parsed or has the wrong length. The text says why; it never
    /// contains the secret.
    InvalidSecret(String),
    /// A signer or verifier was given no keys.
    NoKeys,
    /// A key cannot be used with the chosen scheme (for example an ed25519 key with an HMAC-only
    /// scheme, or a Standard Webhooks secret with a compatibility scheme).
    IncompatibleKey {
        /// The kind of key: `"hmac"`, `"ed25519"` or `"raw"`.
        key: &'static str,
        /// The scheme's name, as returned by [`Scheme::name`](super::Scheme::name).
        scheme: &'static str,
    },
    /// A [`Scheme`](super::Scheme) is not usable (for example an empty header name).
    InvalidScheme(String),
    /// A message id is not usable in the `webhook-id` header (empty, contains `.`, or has
    /// characters other than visible ASCII).
    InvalidMsgId(String),
    /// The operating system's random number generator failed.
    RandomUnavailable(String),
}

// `Display` is written out rather than derived (`thiserror`): plain `write_str` calls keep
// `core::fmt`'s argument machinery out of the WebAssembly build.
impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (label, detail) = match self {
            Self::InvalidSecret(why) => ("invalid secret: ", why),
            Self::InvalidScheme(why) => ("invalid scheme: ", why),
            Self::InvalidMsgId(why) => ("invalid message id: ", why),
            Self::RandomUnavailable(why) => ("random number generator unavailable: ", why),
            Self::NoKeys => {
                return f.write_str("no keys given: at least one secret or key is required");
            }
            Self::IncompatibleKey { key, scheme } => {
                f.write_str("a ")?;
                f.write_str(key)?;
                f.write_str(" key cannot be used with the ")?;
                f.write_str(scheme)?;
                return f.write_str(" scheme");
            }
        };
        f.write_str(label)?;
        f.write_str(detail)
    }
}

impl core::error::Error for SigningError {}

/// `s` in double quotes, escaped as `format!("{s:?}")` escapes it for ASCII (`\"`, `\\`, `\t`,
/// `\r`, `\n`, `\0`, other control characters as `\u{…}`). Other characters are kept as they are.
///
/// For error messages: unlike `{:?}`, it does not link the Unicode printability tables into the
/// WebAssembly build.
pub(crate) fn quoted(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c if c.is_ascii_control() => {
                let b = c as u8;
                out.push_str("\\u{");
                if b >= 0x10 {
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                }
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl SigningError {
    /// A stable, machine-readable code for this error (used by the language bindings).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSecret(_) => "invalid_secret",
            Self::NoKeys => "no_keys",
            Self::IncompatibleKey { .. } => "incompatible_key",
            Self::InvalidScheme(_) => "invalid_scheme",
            Self::InvalidMsgId(_) => "invalid_msg_id",
            Self::RandomUnavailable(_) => "random_unavailable",
        }
    }
}

/// Why a delivery failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent. Holds the header's name (for Standard Webhooks the
    /// canonical `webhook-*` name, even when `svix-*` names were also accepted).
    MissingHeader(Cow<'static, str>),
    /// A required header is present but unusable (not ASCII, not a number, …).
    InvalidHeader {
        /// The header's name.
        header: Cow<'static, str>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is older than the tolerance allows.
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    TimestampTooNew,
    /// No signature in the header matches any of the verifier's keys.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(header) => {
                f.write_str("missing header: ")?;
                f.write_str(header)
            }
            Self::InvalidHeader { header, reason } => {
                f.write_str("invalid header ")?;
                f.write_str(header)?;
                f.write_str(": ")?;
                f.write_str(reason)
            }
            Self::TimestampTooOld => f.write_str("timestamp too old: outside the tolerance"),
            Self::TimestampTooNew => f.write_str("timestamp too new: outside the tolerance"),
            Self::NoMatchingSignature => f.write_str("no matching signature"),
        }
    }
}

impl core::error::Error for VerifyError {}

impl VerifyError {
    /// A stable, machine-readable code for this error (used by the language bindings and the
    /// shared test vectors).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::TimestampTooOld => "timestamp_too_old",
            Self::TimestampTooNew => "timestamp_too_new",
            Self::NoMatchingSignature => "no_matching_signature",
        }
    }

    /// The header this error is about, for [`MissingHeader`](Self::MissingHeader) and
    /// [`InvalidHeader`](Self::InvalidHeader).
    #[must_use]
    pub fn header(&self) -> Option<&str> {
        match self {
            Self::MissingHeader(h) | Self::InvalidHeader { header: h, .. } => Some(h),
            _ => None,
        }
    }

    pub(crate) fn missing(name: impl Into<Cow<'static, str>>) -> Self {
        Self::MissingHeader(name.into())
    }

    pub(crate) fn invalid(name: impl Into<Cow<'static, str>>, reason: &'static str) -> Self {
        Self::InvalidHeader {
            header: name.into(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let cases: [(SigningError, &str); 6] = [
            (
                SigningError::InvalidSecret("secret is empty".into()),
                "invalid secret: secret is empty",
            ),
            (
                SigningError::NoKeys,
                "no keys given: at least one secret or key is required",
            ),
            (
                SigningError::IncompatibleKey {
                    key: "ed25519",
                    scheme: "hex_body",
                },
                "a ed25519 key cannot be used with the hex_body scheme",
            ),
            (SigningError::InvalidScheme("x".into()), "invalid scheme: x"),
            (
                SigningError::InvalidMsgId("message id is empty".into()),
                "invalid message id: message id is empty",
            ),
            (
                SigningError::RandomUnavailable("no".into()),
                "random number generator unavailable: no",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
        let cases: [(VerifyError, &str); 5] = [
            (
                VerifyError::missing("webhook-id"),
                "missing header: webhook-id",
            ),
            (
                VerifyError::invalid("X-Sig".to_owned(), "no t= timestamp"),
                "invalid header X-Sig: no t= timestamp",
            ),
            (
                VerifyError::TimestampTooOld,
                "timestamp too old: outside the tolerance",
            ),
            (
                VerifyError::TimestampTooNew,
                "timestamp too new: outside the tolerance",
            ),
            (VerifyError::NoMatchingSignature, "no matching signature"),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
        // Formatting flags apply to neither (as with the derived implementations before).
        assert_eq!(
            format!("{:>40}", VerifyError::NoMatchingSignature).len(),
            21
        );
    }

    #[test]
    fn quoted_matches_debug_for_ascii() {
        let all: String = (0u8..=0x7f).map(char::from).collect();
        for s in [all.as_str(), "", "X Sig", "a\"b\\c", "\u{1b}[31m\u{7f}"] {
            assert_eq!(quoted(s), format!("{s:?}"));
        }
        assert_eq!(quoted("é"), format!("{:?}", "é"));
    }
}
