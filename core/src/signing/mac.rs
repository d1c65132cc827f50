//! HMAC-SHA256 (RFC 2104) on SHA-256's block function (`sha2::block_api::compress256`).
//!
//! This is the `hmac` crate's `Hmac<Sha256>` without the generic `digest` machinery, which is
//! several KB of the WebAssembly build; the tests below compare the two.

use sha2::block_api::compress256;

use super::HMAC_SHA256_LEN;

const BLOCK_LEN: usize = 64;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of data given in pieces.
struct Sha256 {
    state: [u32; 8],
    /// Bytes not yet compressed: `buffer[..buffered]`.
    buffer: [u8; BLOCK_LEN],
    buffered: usize,
    /// Message length in bytes so far.
    len: u64,
}

impl Sha256 {
    fn new() -> Self {
        Self {
            state: IV,
            buffer: [0; BLOCK_LEN],
            buffered: 0,
            len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = data.len().min(BLOCK_LEN - self.buffered);
            let (head, rest) = data.split_at(take);
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(head);
            self.buffered += take;
            data = rest;
            if self.buffered < BLOCK_LEN {
                return;
            }
            compress256(&mut self.state, &[self.buffer]);
            self.buffered = 0;
        }
        let blocks = data.chunks_exact(BLOCK_LEN);
        let rest = blocks.remainder();
        for block in blocks {
            if let Ok(block) = <&[u8; BLOCK_LEN]>::try_from(block) {
                compress256(&mut self.state, std::slice::from_ref(block));
            }
        }
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// Pads (FIPS 180-4, 5.1.1) and returns the digest.
    fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let mut tail = [0u8; 2 * BLOCK_LEN];
        tail[..self.buffered].copy_from_slice(&self.buffer[..self.buffered]);
        tail[self.buffered] = 0x80;
        // The 0x80 byte and the 8-byte length fit in this block or need one more.
        let end = if self.buffered < BLOCK_LEN - 8 {
            BLOCK_LEN
        } else {
            2 * BLOCK_LEN
        };
        tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        for block in tail[..end].chunks_exact(BLOCK_LEN) {
            if let Ok(block) = <&[u8; BLOCK_LEN]>::try_from(block) {
                compress256(&mut self.state, std::slice::from_ref(block));
            }
        }
        let mut out = [0u8; 32];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// HMAC-SHA256 of the concatenation of `parts`, without copying them together.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; HMAC_SHA256_LEN] {
    // Keys longer than a block are hashed first; shorter ones are padded with zeros.
    let mut pad = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        let mut hash = Sha256::new();
        hash.update(key);
        pad[..32].copy_from_slice(&hash.finish());
    } else {
        pad[..key.len()].copy_from_slice(key);
    }
    for b in &mut pad {
        *b ^= 0x36;
    }
    let mut inner = Sha256::new();
    inner.update(&pad);
    for part in parts {
        inner.update(part);
    }
    let inner = inner.finish();
    for b in &mut pad {
        *b ^= 0x36 ^ 0x5c;
    }
    let mut outer = Sha256::new();
    outer.update(&pad);
    outer.update(&inner);
    outer.finish()
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    use sha2::Digest as _;

    use super::*;

    fn reference_hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn bytes(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 + seed * 17 + 7) as u8).collect()
    }

    #[test]
    fn sha256_matches_reference_for_every_length_and_split() {
        for len in 0..=300 {
            let data = bytes(len, len);
            let expect = sha2::Sha256::digest(&data);
            let mut one = Sha256::new();
            one.update(&data);
            assert_eq!(one.finish()[..], expect[..], "len {len}");
            for split in [1, 3, 55, 56, 63, 64, 65, 127, 128] {
                let mut pieces = Sha256::new();
                for chunk in data.chunks(split) {
                    pieces.update(chunk);
                }
                pieces.update(&[]);
                assert_eq!(pieces.finish()[..], expect[..], "len {len} split {split}");
            }
        }
    }

    #[test]
    fn hmac_matches_reference() {
        for key_len in [0, 1, 20, 24, 32, 63, 64, 65, 100, 131, 200] {
            let key = bytes(key_len, 1000 + key_len);
            for len in [0, 1, 5, 55, 56, 64, 100, 119, 120, 128, 1000] {
                let data = bytes(len, len);
                let expect = reference_hmac(&key, &data);
                assert_eq!(hmac_sha256(&key, &[&data])[..], expect[..]);
                let (a, b) = data.split_at(len / 3);
                assert_eq!(hmac_sha256(&key, &[a, &[], b])[..], expect[..]);
            }
        }
    }

    /// RFC 4231 test cases 1, 2, 6 and 7 (SHA-256).
    #[test]
    fn rfc4231() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let cases: [(Vec<u8>, &[u8], &str); 4] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, expect) in cases {
            assert_eq!(hmac_sha256(&key, &[data]).to_vec(), hex(expect));
        }
    }
}
