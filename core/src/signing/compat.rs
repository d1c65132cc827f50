//! Helpers for the compatibility schemes: hex encoding and the Stripe-style header format.

use alloc::string::String;
use alloc::vec::Vec;

use super::{COMPAT_LIST_SEPARATOR, HMAC_SHA256_LEN, STRIPE_SIGNATURE_KEY, STRIPE_TIMESTAMP_KEY};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// `n` in decimal, as `n.to_string()` writes it (without going through `core::fmt`, which is
/// kept out of the WebAssembly build).
pub(crate) fn decimal(n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(21 - start);
    if n < 0 {
        out.push('-');
    }
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
    out
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `2 * HMAC_SHA256_LEN` hex digits (either case). Anything else is `None`, so
/// a short or partial signature never reaches the comparison.
pub(crate) fn hex_decode_tag(s: &str) -> Option<[u8; HMAC_SHA256_LEN]> {
    let s = s.as_bytes();
    if s.len() != HMAC_SHA256_LEN * 2 {
        return None;
    }
    let mut out = [0u8; HMAC_SHA256_LEN];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (hex_nibble(pair[0])? << 4) | hex_nibble(pair[1])?;
    }
    Some(out)
}

/// Splits a comma-separated list into trimmed, non-empty items.
pub(crate) fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(COMPAT_LIST_SEPARATOR)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The parts of a Stripe-style `t=<ts>,v1=<hex>,…` header. Unknown items (e.g. `v0=`) are
/// ignored.
#[derive(Debug, Default)]
pub(crate) struct StripeHeader<'a> {
    pub(crate) timestamps: Vec<&'a str>,
    pub(crate) signatures: Vec<&'a str>,
}

impl<'a> StripeHeader<'a> {
    pub(crate) fn add(&mut self, value: &'a str) {
        for item in list_items(value) {
            match item.split_once('=') {
                Some((k, v)) if k.trim() == STRIPE_TIMESTAMP_KEY => self.timestamps.push(v.trim()),
                Some((k, v)) if k.trim() == STRIPE_SIGNATURE_KEY => self.signatures.push(v.trim()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip_and_length() {
        let bytes: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();
        let h = hex_encode(&bytes);
        assert_eq!(h.len(), 64);
        assert_eq!(hex_decode_tag(&h).unwrap().to_vec(), bytes);
        assert_eq!(hex_decode_tag(&h.to_uppercase()).unwrap().to_vec(), bytes);
        assert!(hex_decode_tag(&h[..62]).is_none());
        assert!(hex_decode_tag(&format!("{h}00")).is_none());
        assert!(hex_decode_tag("").is_none());
        assert!(hex_decode_tag(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn decimal_matches_to_string() {
        for n in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            42,
            1_614_265_330,
            -1_614_265_330,
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
        ] {
            assert_eq!(decimal(n), n.to_string());
        }
        for shift in 0..63 {
            let n = 1i64 << shift;
            assert_eq!(decimal(n), n.to_string());
            assert_eq!(decimal(n - 1), (n - 1).to_string());
            assert_eq!(decimal(-n), (-n).to_string());
        }
    }

    #[test]
    fn stripe_header() {
        let mut h = StripeHeader::default();
        h.add("t=12, v1=aa ,v0=bb,v1=cc,junk,=");
        assert_eq!(h.timestamps, ["12"]);
        assert_eq!(h.signatures, ["aa", "cc"]);
    }
}
