//! Standard base64 (RFC 4648 section 4: the `+/` alphabet with `=` padding), strict.
//!
//! [`decode`] accepts exactly the canonical encodings: a length that is a multiple of 4, padding
//! only to complete the last quantum, and zero bits where the padding leaves some over. That is
//! what the `base64` crate's `STANDARD` engine accepts (the tests below compare the two). It is
//! written out here for the size of the WebAssembly build (`wasm/`, at most 80 KB): that crate's
//! generic engine is about 6 KB of it, and RustCrypto's `base64ct` about 2.9 KB more than this
//! file, which would take the module over the limit (see wasm/README.md).

use alloc::string::String;
use alloc::vec::Vec;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD: u8 = b'=';

/// Padded standard base64 of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut quantum = [0u8; 3];
        quantum[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from(quantum[0]) << 16 | u32::from(quantum[1]) << 8 | u32::from(quantum[2]);
        // `chunk.len() + 1` characters carry the bits; `=` fills the quantum up to 4.
        for i in 0..4 {
            let c = if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 0x3f]
            } else {
                PAD
            };
            out.push(char::from(c));
        }
    }
    out
}

/// The 6-bit value of an alphabet character.
fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes canonical padded standard base64; anything else is `None`.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quanta = text.chunks_exact(4).peekable();
    while let Some(quantum) = quanta.next() {
        // Only the last quantum may be padded: `xx==` holds one byte, `xxx=` two.
        let pad = match quantum {
            _ if quanta.peek().is_some() => 0,
            [.., PAD, PAD] => 2,
            [.., PAD] => 1,
            _ => 0,
        };
        let mut n = 0u32;
        for &c in &quantum[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad;
        // Canonical: the bits left over next to the padding are zero.
        if n & ((1 << (8 * pad)) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// Decodes like the `base64` crate's `STANDARD` engine.
    fn reference(text: &str) -> Option<Vec<u8>> {
        STANDARD.decode(text).ok()
    }

    #[test]
    fn rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn encode_matches_reference_and_roundtrips() {
        let mut bytes = Vec::new();
        for len in 0..=70usize {
            bytes.clear();
            bytes.extend((0..len).map(|i| (i * 151 + len * 7) as u8));
            let text = encode(&bytes);
            assert_eq!(text, STANDARD.encode(&bytes));
            assert_eq!(decode(&text), Some(bytes.clone()));
        }
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let text = encode(&[a, b]);
                assert_eq!(decode(&text).as_deref(), Some(&[a, b][..]));
            }
        }
    }

    /// Every string up to 8 characters over characters that cover each case: values with the
    /// low bits clear (`A`, `Q`) and set (`B`, `/`), so that non-canonical endings appear,
    /// padding, and a byte outside the alphabet.
    #[test]
    fn decode_agrees_with_reference_exhaustively() {
        let chars = ['A', 'B', 'Q', '/', '=', '-'];
        let mut checked = 0usize;
        for len in 0..=8u32 {
            let count = chars.len().pow(len);
            for mut index in 0..count {
                let mut text = String::with_capacity(len as usize);
                for _ in 0..len {
                    text.push(chars[index % chars.len()]);
                    index /= chars.len();
                }
                assert_eq!(decode(&text), reference(&text), "{text:?}");
                checked += 1;
            }
        }
        assert!(checked > 2_000_000);
    }

    #[test]
    fn decode_agrees_with_reference_on_edge_cases() {
        let cases = "= == === ==== A AA AAA AA= AA== AAA= AB== AAB= AQ== AAE= A=== AA==AA== \
                     AAAA==== AAAAAA== AAAAAAA= AA=A A=AA =AAA Zm9vYmFy Zm9vYmE= Zm9vYmF= \
                     Zm9vYg== Zm9vYh== _-_- //// ++++ AA\u{e9}A";
        let whitespace = ["", "AAAA\n", " AAAA", "AAAA AAAA", "AA\tA"];
        for text in cases.split(' ').chain(whitespace) {
            assert_eq!(decode(text), reference(text), "{text:?}");
        }
    }
}
