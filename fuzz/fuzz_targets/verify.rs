//! `Verifier::verify` on arbitrary headers and bodies, in every scheme.
//!
//! Input (see `seed.py`, which writes one per case of `tests/vectors/signatures.json`):
//!
//! ```text
//! scheme standard | hex_body <header> [prefix] | timestamped_hex <header> [<ts header>]
//! now <unix seconds>        (absent: only verify_ignoring_timestamp)
//! tolerance <seconds>
//! key <secret or key, as a verifier takes it>      (repeatable)
//!
//! <name>: <value>           (repeatable, raw bytes)
//!
//! <body>
//! ```
//!
//! Beyond "no panic", every run checks:
//! - `verify` gives the same answer as `verify_ignoring_timestamp` unless it fails for the
//!   timestamp alone (the checks come in a fixed order);
//! - header names are matched case-insensitively: upper-casing them changes nothing;
//! - whatever verifies stops verifying when one bit of the body changes;
//! - the keys, given to a `Signer`, sign the body so that their verifier accepts it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timehook::signing::{Key, Scheme, Signer, Verifier, VerifyError, VerifyKey, validate_msg_id};
use timehook_fuzz::{directives, header_lines, scheme, split_blank};

/// The verifier's key when the input gives none that parses: the vectors' SW-1 secret, or raw
/// bytes for the compatibility schemes.
const FALLBACK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FALLBACK_RAW: &str = "It's a Secret to Everybody";
/// Timestamp of the sign round trip when the input has no `now`: SW-1's.
const FALLBACK_NOW: i64 = 1_614_265_330;

fuzz_target!(|data: &[u8]| {
    let (head, rest) = split_blank(data);
    let (header_block, body) = split_blank(rest);
    let mut sch = Scheme::StandardWebhooks;
    let mut now: Option<i64> = None;
    let mut tolerance: Option<u64> = None;
    let mut key_texts = Vec::new();
    for (word, value) in directives(head) {
        match word.as_str() {
            "scheme" => sch = scheme(&value),
            "now" => now = value.trim().parse().ok(),
            "tolerance" => tolerance = value.trim().parse().ok(),
            "key" => key_texts.push(value),
            _ => {}
        }
    }
    let headers = header_lines(header_block);

    let mut keys: Vec<VerifyKey> = key_texts
        .iter()
        .filter_map(|k| VerifyKey::parse(&sch, k).ok())
        .collect();
    if keys.is_empty() {
        let fallback = if sch == Scheme::StandardWebhooks {
            FALLBACK_SECRET
        } else {
            FALLBACK_RAW
        };
        keys.push(VerifyKey::parse(&sch, fallback).expect("fallback key parses"));
    }
    let Ok(verifier) = Verifier::from_keys(keys).and_then(|v| v.with_scheme(sch.clone())) else {
        return;
    };
    let verifier = match tolerance {
        Some(t) => verifier.with_tolerance(t),
        None => verifier,
    };

    let ignoring = verifier.verify_ignoring_timestamp(body, &headers);
    assert!(
        !matches!(
            ignoring,
            Err(VerifyError::TimestampTooOld | VerifyError::TimestampTooNew)
        ),
        "the tolerance is not checked without `now`: {ignoring:?}"
    );
    let result = match now {
        Some(now) => {
            let at_now = verifier.verify(body, &headers, now);
            let timestamp_only = matches!(
                at_now,
                Err(VerifyError::TimestampTooOld | VerifyError::TimestampTooNew)
            );
            assert!(
                at_now == ignoring || (timestamp_only && sch.is_timestamped()),
                "verify {at_now:?} vs verify_ignoring_timestamp {ignoring:?}"
            );
            let upper: Vec<(String, Vec<u8>)> = headers
                .iter()
                .map(|(n, v)| (n.to_ascii_uppercase(), v.clone()))
                .collect();
            assert_eq!(verifier.verify(body, &upper, now), at_now, "header case");
            at_now
        }
        None => ignoring.clone(),
    };
    if ignoring.is_ok() {
        assert_eq!(
            verifier.verify_ignoring_timestamp(&tampered(body), &headers),
            Err(VerifyError::NoMatchingSignature),
            "a changed body still verified ({result:?})"
        );
    }

    sign_round_trip(&sch, &key_texts, &headers, body, now);
});

/// `body` with its first bit flipped (or one byte added to an empty body).
fn tampered(body: &[u8]) -> Vec<u8> {
    let mut changed = body.to_vec();
    match changed.first_mut() {
        Some(b) => *b ^= 1,
        None => changed.push(b'x'),
    }
    changed
}

/// Signs `body` with the input's keys (as signing keys) and checks that their verifier accepts
/// the headers the signer makes, and refuses them for a changed body.
fn sign_round_trip(
    sch: &Scheme,
    key_texts: &[String],
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    now: Option<i64>,
) {
    let keys: Vec<Key> = key_texts
        .iter()
        .filter_map(|k| Key::parse(sch, k).ok())
        .collect();
    let Ok(signer) = Signer::new(keys.clone()).and_then(|s| s.with_scheme(sch.clone())) else {
        return;
    };
    // A message id from the input when it is a valid one, so odd ids are signed too.
    let msg_id = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("webhook-id"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .filter(|id| validate_msg_id(id).is_ok())
        .unwrap_or("msg_fuzz");
    // Verifiers accept only decimal digits as a timestamp, so a signer's timestamp before 1970
    // cannot verify; the scheduler signs with the current time.
    let ts = now.unwrap_or(FALLBACK_NOW).max(0);
    let signed = signer.headers(msg_id, ts, body);
    let verifier = Verifier::from_keys(keys.iter().map(Key::verifying_key))
        .and_then(|v| v.with_scheme(sch.clone()))
        .expect("the signer's keys make a verifier");
    assert_eq!(
        verifier.verify(body, &signed, ts),
        Ok(()),
        "signed {signed:?} does not verify"
    );
    assert_eq!(
        verifier.verify(&tampered(body), &signed, ts),
        Err(VerifyError::NoMatchingSignature)
    );
}
