//! Errors of the signing module: [`SigningError`] for building keys, signers and verifiers,
//! [`VerifyError`] for checking a delivery.

use std::borrow::Cow;

/// An error while parsing a key or building a [`Signer`](super::Signer) or
/// [`Verifier`](super::Verifier).
///
/// Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// A secret or key could not be parsed or has the wrong length. The text says why; it never
    /// contains the secret.
    #[error("invalid secret: {0}")]
    InvalidSecret(String),
    /// A signer or verifier was given no keys.
    #[error("no keys given: at least one secret or key is required")]
    NoKeys,
    /// A key cannot be used with the chosen scheme (for example an ed25519 key with an HMAC-only
    /// scheme, or a Standard Webhooks secret with a compatibility scheme).
    #[error("a {key} key cannot be used with the {scheme} scheme")]
    IncompatibleKey {
        /// The kind of key: `"hmac"`, `"ed25519"` or `"raw"`.
        key: &'static str,
        /// The scheme's name, as returned by [`Scheme::name`](super::Scheme::name).
        scheme: &'static str,
    },
    /// A [`Scheme`](super::Scheme) is not usable (for example an empty header name).
    #[error("invalid scheme: {0}")]
    InvalidScheme(String),
    /// A message id is not usable in the `webhook-id` header (empty, contains `.`, or has
    /// characters other than visible ASCII).
    #[error("invalid message id: {0}")]
    InvalidMsgId(String),
    /// The operating system's random number generator failed.
    #[error("random number generator unavailable: {0}")]
    RandomUnavailable(String),
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent. Holds the header's name (for Standard Webhooks the
    /// canonical `webhook-*` name, even when `svix-*` names were also accepted).
    #[error("missing header: {0}")]
    MissingHeader(Cow<'static, str>),
    /// A required header is present but unusable (not ASCII, not a number, …).
    #[error("invalid header {header}: {reason}")]
    InvalidHeader {
        /// The header's name.
        header: Cow<'static, str>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is older than the tolerance allows.
    #[error("timestamp too old: outside the tolerance")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("timestamp too new: outside the tolerance")]
    TimestampTooNew,
    /// No signature in the header matches any of the verifier's keys.
    #[error("no matching signature")]
    NoMatchingSignature,
}

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
