//! HMAC-SHA256 (RFC 2104) of data given in pieces, with the `hmac` and `sha2` crates.

use hmac::{KeyInit as _, Mac as _};

use super::HMAC_SHA256_LEN;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// HMAC-SHA256 of the concatenation of `parts`, without copying them together.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; HMAC_SHA256_LEN] {
    // HMAC takes keys of any length (longer ones are hashed), so this never fails.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_concatenated() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 131 + 7) as u8).collect();
        for key_len in [0, 1, 32, 64, 65, 131] {
            let key = vec![0x5a; key_len];
            let whole = hmac_sha256(&key, &[&data]);
            for split in [0, 1, 55, 64, 65, 299, 300] {
                let (a, b) = data.split_at(split);
                assert_eq!(
                    hmac_sha256(&key, &[a, &[], b]),
                    whole,
                    "key {key_len} split {split}"
                );
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
