//! [`Scheme`]: which signature style a delivery carries.

use alloc::borrow::ToOwned;
use alloc::string::String;

use super::error::{SigningError, quoted};
use super::{GITHUB_SIGNATURE_HEADER, Result, STRIPE_SIGNATURE_HEADER};

/// The signature style put on a request (chosen per scheduler or per job) and expected by a
/// [`Verifier`](super::Verifier).
///
/// Compatibility schemes (everything but [`StandardWebhooks`](Self::StandardWebhooks)) use
/// HMAC-SHA256 in lowercase hex and take [`RawSecret`](super::RawSecret) keys only: the secret
/// string exactly as the other party knows it (see [`Key::parse`](super::Key::parse)).
/// With several keys they emit one signature per key, comma-separated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`
    /// (`v1,<base64>` per HMAC key, `v1a,<base64>` per ed25519 key).
    #[default]
    StandardWebhooks,
    /// Hex HMAC-SHA256 of the raw body in `header`, e.g. GitHub's
    /// `X-Hub-Signature-256: sha256=<hex>`. The verifier accepts the value with or without the
    /// `sha256=` prefix.
    HexBody {
        /// Header that carries the signature.
        header: String,
        /// Whether the signer writes the `sha256=` prefix.
        prefix: bool,
    },
    /// Hex HMAC-SHA256 of `timestamp + "." + raw body`.
    ///
    /// Without `timestamp_header` (Stripe style) `header` holds `t=<ts>,v1=<hex>[,v1=<hex>…]`;
    /// with it (RunLater style) `header` holds the hex and `timestamp_header` the timestamp.
    TimestampedHex {
        /// Header that carries the signature.
        header: String,
        /// Header that carries the timestamp, or `None` to put it inside `header`.
        timestamp_header: Option<String>,
    },
}

impl Scheme {
    /// GitHub style: `X-Hub-Signature-256: sha256=<hex of HMAC(body)>`.
    #[must_use]
    pub fn github() -> Self {
        Self::HexBody {
            header: GITHUB_SIGNATURE_HEADER.to_owned(),
            prefix: true,
        }
    }

    /// Stripe style: `Stripe-Signature: t=<ts>,v1=<hex of HMAC(ts.body)>`.
    #[must_use]
    pub fn stripe() -> Self {
        Self::TimestampedHex {
            header: STRIPE_SIGNATURE_HEADER.to_owned(),
            timestamp_header: None,
        }
    }

    /// The signature style of a delivery profile: `runlater-eu`, `runlater`, `cronflow`,
    /// `svix` (Standard Webhooks) or `a1cron`; `None` for another name. A verifier with it
    /// accepts that service's own requests and timehook's made with the profile.
    #[must_use]
    pub fn for_profile(name: &str) -> Option<Self> {
        let hex_body = |header: &str, prefix: bool| Self::HexBody {
            header: header.to_owned(),
            prefix,
        };
        Some(match name.trim() {
            "runlater-eu" => hex_body("X-Runlater-Signature", true),
            "runlater" => Self::TimestampedHex {
                header: "X-RunLater-Signature".to_owned(),
                timestamp_header: Some("X-RunLater-Timestamp".to_owned()),
            },
            "cronflow" => hex_body("X-CronFlow-Signature", false),
            "svix" => Self::StandardWebhooks,
            "a1cron" => hex_body("X-A1Cron-Signature", false),
            _ => return None,
        })
    }

    /// A stable name: `"standard"`, `"hex_body"` or `"timestamped_hex"` (the `scheme` values of
    /// the shared test vectors).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard",
            Self::HexBody { .. } => "hex_body",
            Self::TimestampedHex { .. } => "timestamped_hex",
        }
    }

    /// The header that carries the signature.
    #[must_use]
    pub fn signature_header(&self) -> &str {
        match self {
            Self::StandardWebhooks => super::HEADER_SIGNATURE,
            Self::HexBody { header, .. } | Self::TimestampedHex { header, .. } => header,
        }
    }

    /// Every header the scheme's signature puts on a request, in sending order (Standard
    /// Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`).
    #[must_use]
    pub fn header_names(&self) -> alloc::vec::Vec<&str> {
        match self {
            Self::StandardWebhooks => alloc::vec![
                super::HEADER_ID,
                super::HEADER_TIMESTAMP,
                super::HEADER_SIGNATURE
            ],
            Self::HexBody { header, .. } => alloc::vec![header.as_str()],
            Self::TimestampedHex {
                header,
                timestamp_header,
            } => core::iter::once(header.as_str())
                .chain(timestamp_header.as_deref())
                .collect(),
        }
    }

    /// Whether the scheme signs a timestamp (and so whether a verifier checks its tolerance).
    #[must_use]
    pub fn is_timestamped(&self) -> bool {
        !matches!(self, Self::HexBody { .. })
    }

    /// Checks that header names are non-empty HTTP tokens and distinct.
    ///
    /// # Errors
    /// [`SigningError::InvalidScheme`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::StandardWebhooks => Ok(()),
            Self::HexBody { header, .. } => check_header_name(header),
            Self::TimestampedHex {
                header,
                timestamp_header,
            } => {
                check_header_name(header)?;
                if let Some(ts) = timestamp_header {
                    check_header_name(ts)?;
                    if ts.eq_ignore_ascii_case(header) {
                        return Err(SigningError::InvalidScheme(
                            "timestamp header and signature header are both ".to_owned()
                                + &quoted(header),
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// RFC 9110 `token` characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_header_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(SigningError::InvalidScheme(
            quoted(name) + " is not a valid header name",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate() {
        assert!(Scheme::default().validate().is_ok());
        assert!(Scheme::github().validate().is_ok());
        assert!(Scheme::stripe().validate().is_ok());
        let bad = Scheme::HexBody {
            header: String::new(),
            prefix: false,
        };
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_scheme");
        let bad = Scheme::HexBody {
            header: "X Sig".into(),
            prefix: false,
        };
        assert!(bad.validate().is_err());
        let bad = Scheme::TimestampedHex {
            header: "X-Sig".into(),
            timestamp_header: Some("x-sig".into()),
        };
        assert!(bad.validate().is_err());
        let ok = Scheme::TimestampedHex {
            header: "X-Sig".into(),
            timestamp_header: Some("X-Ts".into()),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(ok.name(), "timestamped_hex");
        assert!(!Scheme::github().is_timestamped());
    }
}
