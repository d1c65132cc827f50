//! Prints deliveries signed by timehook's own [`Signer`], as JSON, for the tests of the WASM
//! package (`wasm/test/`): a worker running in workerd verifies them with `@timehook/verify`, and
//! the npm `standardwebhooks` and `svix` verifiers check them too.
//!
//! ```text
//! cargo run -p timehook --no-default-features --example sign_fixtures -- <now-unix-seconds>
//! ```
//!
//! Prints `{"now", "keys": {name: key}, "requests": [{"name", "body_base64", "headers"}]}`, where
//! `headers` is the list of `[name, value]` pairs to send. Each request's name says what was done
//! to it; the tests hold what a verifier should answer. Time is a parameter, so the tests decide
//! which timestamps are fresh.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use timehook::signing::{Key, Scheme, Signer, SigningKey};

/// The secret a receiver used before the rotation (Standard Webhooks test vector SW-2).
const OLD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// The secret after the rotation (Standard Webhooks test vector SW-1).
const NEW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A secret the receiver never held (32 bytes of 0x2a).
const RETIRED_SECRET: &str = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
/// An ed25519 signing key (the `v1a` vectors' seed).
const ED25519_SIGNING_KEY: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
/// The raw secret of the services' profiles (their receivers HMAC with the string as given).
const SERVICE_SECRET: &str = "svc-secret";
/// The delivery profiles, each verified by name in `@timehook/verify`.
const PROFILES: [&str; 5] = ["runlater-eu", "runlater", "cronflow", "svix", "a1cron"];
/// How far from `now` the stale and future deliveries are signed, in seconds.
const SKEW_SECS: i64 = 3600;

fn signer(keys: &[&str]) -> Signer {
    let scheme = Scheme::StandardWebhooks;
    let keys = keys
        .iter()
        .map(|k| Key::parse(&scheme, k).expect("fixture keys are valid"));
    Signer::new(keys).expect("at least one key")
}

/// One signed request; `sent_body` is what goes on the wire (differs from `signed_body` only for
/// the tampered fixture).
fn request(name: &str, signer: &Signer, ts: i64, signed_body: &[u8], sent_body: &[u8]) -> Value {
    let msg_id = format!("msg_fixture_{name}");
    let headers: Vec<[String; 2]> = signer
        .headers(&msg_id, ts, signed_body)
        .into_iter()
        .map(|(name, value)| [name, value])
        .collect();
    json!({
        "name": name,
        "body_base64": STANDARD.encode(sent_body),
        "headers": headers,
    })
}

fn main() {
    let now: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: sign_fixtures <now-unix-seconds>");
            std::process::exit(2);
        });
    let body = br#"{"type":"invoice.paid","data":{"id":"inv_123","amount":4200}}"#;
    let tampered = br#"{"type":"invoice.paid","data":{"id":"inv_123","amount":9900}}"#;
    let binary: &[u8] = &[0xff, 0xfe, b'.', 0x00, 0x80, b'\n'];

    let new = signer(&[NEW_SECRET]);
    let requests = vec![
        request("valid", &new, now, body, body),
        request("tampered-body", &new, now, body, tampered),
        request("expired", &new, now - SKEW_SECS, body, body),
        request("future", &new, now + SKEW_SECS, body, body),
        request(
            "rotation-old-secret",
            &signer(&[OLD_SECRET]),
            now,
            body,
            body,
        ),
        request(
            "rotation-both-secrets",
            &signer(&[OLD_SECRET, NEW_SECRET]),
            now,
            body,
            body,
        ),
        request(
            "retired-secret",
            &signer(&[RETIRED_SECRET]),
            now,
            body,
            body,
        ),
        request("ed25519", &signer(&[ED25519_SIGNING_KEY]), now, body, body),
        request("binary-body", &new, now, binary, binary),
    ];
    let mut requests = requests;
    for name in PROFILES {
        let scheme = Scheme::for_profile(name).expect("a profile name");
        let secret = if name == "svix" {
            NEW_SECRET
        } else {
            SERVICE_SECRET
        };
        let key = Key::parse(&scheme, secret).expect("fixture keys are valid");
        let signer = Signer::new([key])
            .and_then(|s| s.with_scheme(scheme))
            .expect("a profile's scheme takes its key");
        let profile = format!("profile-{name}");
        requests.push(request(&profile, &signer, now, body, body));
        requests.push(request(
            &format!("{profile}-tampered"),
            &signer,
            now,
            body,
            tampered,
        ));
    }
    let public = SigningKey::parse(ED25519_SIGNING_KEY)
        .expect("fixture key is valid")
        .verifying_key()
        .to_whpk();
    let out = json!({
        "now": now,
        "keys": {
            "old": OLD_SECRET,
            "new": NEW_SECRET,
            "retired": RETIRED_SECRET,
            "service": SERVICE_SECRET,
            "ed25519_public": public,
        },
        "profiles": PROFILES,
        "requests": requests,
    });
    println!("{out}");
}
