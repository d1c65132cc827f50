//! Secret and key parsing: `Secret::parse` (`whsec_`), `SigningKey::parse` (`whsk_`),
//! `VerifyingKey::parse` (`whpk_`), `RawSecret`, and `Key::parse` / `VerifyKey::parse`, which
//! choose among them by prefix.
//!
//! Input: the text to parse (lossy UTF-8). Beyond "no panic", every run checks that what parses
//! re-encodes to a text that parses to the same key, that surrounding whitespace changes nothing,
//! that the prefix-dispatching parsers agree with the parser of the kind they pick, and that an
//! error message never quotes the key material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timehook::signing::{
    ED25519_SEED_LEN, Key, MAX_SECRET_LEN, MIN_SECRET_LEN, PUBLIC_KEY_PREFIX, RawSecret,
    SECRET_PREFIX, SIGNING_KEY_PREFIX, Scheme, Secret, SigningError, SigningKey, VerifyKey,
    VerifyingKey,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let padded = format!(" \t{text}\n ");

    let secret = Secret::parse(text);
    assert_eq!(Secret::parse(&padded), secret, "whitespace around a secret");
    match &secret {
        Ok(s) => {
            let len = s.expose_bytes().len();
            assert!((MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&len));
            let whsec = s.expose_whsec();
            assert!(whsec.starts_with(SECRET_PREFIX));
            assert_eq!(Secret::parse(&whsec).as_ref(), Ok(s));
            assert_eq!(Secret::from_bytes(s.expose_bytes()).as_ref(), Ok(s));
        }
        Err(e) => no_key_material(e, text, SECRET_PREFIX),
    }

    let signing = SigningKey::parse(text);
    assert_eq!(
        SigningKey::parse(&padded),
        signing,
        "whitespace around a signing key"
    );
    match &signing {
        Ok(k) => {
            assert_eq!(SigningKey::parse(&k.expose_whsk()).as_ref(), Ok(k));
            assert_eq!(SigningKey::parse(&k.expose_whsk_keypair()).as_ref(), Ok(k));
            let public = k.verifying_key();
            assert_eq!(VerifyingKey::parse(&public.to_whpk()), Ok(public));
        }
        Err(e) => no_key_material(e, text, SIGNING_KEY_PREFIX),
    }

    let verifying = VerifyingKey::parse(text);
    assert_eq!(
        VerifyingKey::parse(&padded),
        verifying,
        "whitespace around a public key"
    );
    if let Ok(k) = &verifying {
        assert_eq!(VerifyingKey::parse(&k.to_whpk()).as_ref(), Ok(k));
        assert_eq!(VerifyingKey::from_bytes(&k.to_bytes()).as_ref(), Ok(k));
    }

    // Raw secrets are the bytes verbatim: any non-empty text.
    let raw = RawSecret::new(text.as_bytes());
    assert_eq!(raw.is_ok(), !text.is_empty());
    if let Ok(r) = &raw {
        assert_eq!(r.expose_bytes(), text.as_bytes());
    }

    // The dispatching parsers pick the kind by prefix and then agree with that kind's parser.
    let standard = Scheme::StandardWebhooks;
    let trimmed = text.trim_start();
    match Key::parse(&standard, text) {
        Ok(Key::Ed25519(k)) => assert_eq!(signing.as_ref(), Ok(&k)),
        Ok(Key::Hmac(s)) => {
            assert!(!trimmed.starts_with(SIGNING_KEY_PREFIX));
            assert_eq!(secret.as_ref(), Ok(&s));
        }
        Ok(Key::Raw(_)) => panic!("a Standard Webhooks key parsed as raw"),
        Ok(other) => panic!("a kind of key this target does not know: {other:?}"),
        Err(_) if trimmed.starts_with(SIGNING_KEY_PREFIX) => assert!(signing.is_err()),
        Err(_) => assert!(secret.is_err()),
    }
    match VerifyKey::parse(&standard, text) {
        Ok(VerifyKey::Ed25519(k)) => assert_eq!(verifying.as_ref(), Ok(&k)),
        Ok(VerifyKey::Hmac(s)) => {
            assert!(!trimmed.starts_with(PUBLIC_KEY_PREFIX));
            assert_eq!(secret.as_ref(), Ok(&s));
        }
        Ok(VerifyKey::Raw(_)) => panic!("a Standard Webhooks key parsed as raw"),
        Ok(other) => panic!("a kind of key this target does not know: {other:?}"),
        Err(_) if trimmed.starts_with(PUBLIC_KEY_PREFIX) => assert!(verifying.is_err()),
        Err(_) => assert!(
            trimmed.starts_with(SIGNING_KEY_PREFIX) || secret.is_err(),
            "a private key is refused, anything else fails only as a secret"
        ),
    }
    for compat in [Scheme::github(), Scheme::stripe()] {
        assert_eq!(
            Key::parse(&compat, text).is_ok(),
            raw.is_ok(),
            "compatibility keys are raw"
        );
    }

    // A 32-byte seed always makes a signing key.
    if let Some(seed) = data.get(..ED25519_SEED_LEN) {
        assert!(SigningKey::from_bytes(seed).is_ok());
    }
});

/// Checks that the message of a key error does not quote the key: its payload (after the prefix
/// and whitespace), when long enough not to appear in a fixed message by chance.
fn no_key_material(err: &SigningError, text: &str, prefix: &str) {
    assert_eq!(err.code(), "invalid_secret");
    let trimmed = text.trim();
    let payload = trimmed.strip_prefix(prefix).unwrap_or(trimmed);
    if payload.len() >= 12 && !payload.contains(char::is_whitespace) {
        let message = err.to_string();
        assert!(!message.contains(payload), "{message:?} quotes the key");
    }
}
