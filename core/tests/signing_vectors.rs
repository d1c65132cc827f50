//! Runs the shared signature corpus `tests/vectors/signatures.json` (also read by the Python,
//! Node and WASM tests) against `timehook::signing`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use timehook::signing::{
    Key, RawSecret, Scheme, Secret, Signer, SigningKey, Verifier, VerifyKey, VerifyingKey,
};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/signatures.json"
);

fn corpus() -> Value {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("read {VECTORS}: {e}"));
    serde_json::from_str(&text).expect("signatures.json is valid JSON")
}

fn str_field<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{}: missing string field {field}", case["id"]))
}

fn scheme(case: &Value) -> Scheme {
    match str_field(case, "scheme") {
        "standard" => Scheme::StandardWebhooks,
        "hex_body" => Scheme::HexBody {
            header: str_field(case, "header").to_owned(),
            prefix: case["prefix"].as_bool().expect("hex_body needs prefix"),
        },
        "timestamped_hex" => Scheme::TimestampedHex {
            header: str_field(case, "header").to_owned(),
            timestamp_header: case["timestamp_header"].as_str().map(str::to_owned),
        },
        other => panic!("{}: unknown scheme {other}", case["id"]),
    }
}

fn body(case: &Value) -> Vec<u8> {
    if let Some(s) = case["body"].as_str() {
        s.as_bytes().to_vec()
    } else if let Some(b) = case["body_base64"].as_str() {
        STANDARD.decode(b).expect("body_base64 is base64")
    } else if let Some(recipe) = case["body_recipe"].as_object() {
        let unit = recipe["repeat"].as_str().expect("recipe.repeat");
        let count = recipe["count"].as_u64().expect("recipe.count");
        unit.repeat(usize::try_from(count).expect("count fits usize"))
            .into_bytes()
    } else {
        panic!("{}: no body, body_base64 or body_recipe", case["id"])
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("array of strings")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("array of [name, value]")
        .iter()
        .map(|p| {
            let p = strings(p);
            assert_eq!(p.len(), 2, "header pair must have 2 elements");
            (p[0].to_owned(), p[1].to_owned())
        })
        .collect()
}

fn signer(case: &Value, scheme: &Scheme) -> Signer {
    let keys = strings(&case["sign"]["keys"])
        .into_iter()
        .map(|k| Key::parse(scheme, k).unwrap_or_else(|e| panic!("{}: sign key: {e}", case["id"])))
        .collect::<Vec<_>>();
    Signer::new(keys)
        .and_then(|s| s.with_scheme(scheme.clone()))
        .unwrap_or_else(|e| panic!("{}: signer: {e}", case["id"]))
}

/// Runs one case; returns a description of the failure, if any.
fn run_case(case: &Value) -> Result<(), String> {
    let id = str_field(case, "id");
    let scheme = scheme(case);
    let body = body(case);
    let expect = str_field(case, "expect");

    let keys = strings(&case["secrets"])
        .into_iter()
        .map(|s| VerifyKey::parse(&scheme, s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{id}: parsing secrets: {e}"))?;
    let mut verifier = Verifier::from_keys(keys)
        .and_then(|v| v.with_scheme(scheme.clone()))
        .map_err(|e| format!("{id}: verifier: {e}"))?;
    if let Some(t) = case["tolerance"].as_u64() {
        verifier = verifier.with_tolerance(t);
    }
    let headers = pairs(&case["headers"]);
    let result = match &case["now"] {
        Value::Null => verifier.verify_ignoring_timestamp(&body, &headers),
        now => verifier.verify(&body, &headers, now.as_i64().expect("now is an integer")),
    };
    match (&result, expect) {
        (Ok(()), "ok") => {}
        (Ok(()), _) => return Err(format!("{id}: verified, expected {expect}")),
        (Err(e), _) if e.code() != expect => {
            return Err(format!("{id}: got {} ({e}), expected {expect}", e.code()));
        }
        (Err(e), _) => {
            if let Some(h) = case["error_header"].as_str() {
                if e.header() != Some(h) {
                    return Err(format!("{id}: error names {:?}, expected {h}", e.header()));
                }
            }
        }
    }

    if case["sign"].is_object() {
        let signer = signer(case, &scheme);
        let msg_id = str_field(&case["sign"], "msg_id");
        let ts = case["sign"]["timestamp"].as_i64().expect("sign.timestamp");
        let got = signer.sign(msg_id, ts, &body);
        let want = str_field(&case["sign"], "expect_signature");
        if got != want {
            return Err(format!("{id}: signed {got:?}, expected {want:?}"));
        }
        if !case["sign"]["expect_headers"].is_null() {
            let want = pairs(&case["sign"]["expect_headers"]);
            let got = signer.headers(msg_id, ts, &body);
            if got != want {
                return Err(format!("{id}: headers {got:?}, expected {want:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_case() {
    let corpus = corpus();
    assert_eq!(corpus["version"], 1);
    let cases = corpus["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "corpus unexpectedly small");
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_key_case() {
    let corpus = corpus();
    let cases = corpus["key_cases"].as_array().expect("key_cases");
    let mut failures = Vec::new();
    for case in cases {
        let id = str_field(case, "id");
        let input = str_field(case, "input");
        let expect = str_field(case, "expect");
        // (error code or "ok", canonical form, public key)
        let (code, canonical, public) = match str_field(case, "kind") {
            "secret" => match Secret::parse(input) {
                Ok(s) => ("ok", Some(s.expose_whsec()), None),
                Err(e) => (e.code(), None, None),
            },
            "signing_key" => match SigningKey::parse(input) {
                Ok(k) => ("ok", None, Some(k.verifying_key().to_whpk())),
                Err(e) => (e.code(), None, None),
            },
            "verifying_key" => match VerifyingKey::parse(input) {
                Ok(k) => ("ok", None, Some(k.to_whpk())),
                Err(e) => (e.code(), None, None),
            },
            "raw" => match input.parse::<RawSecret>() {
                Ok(_) => ("ok", None, None),
                Err(e) => (e.code(), None, None),
            },
            other => panic!("{id}: unknown kind {other}"),
        };
        if code != expect {
            failures.push(format!("{id}: got {code}, expected {expect}"));
        }
        if let Some(want) = case["expect_canonical"].as_str() {
            if canonical.as_deref() != Some(want) {
                failures.push(format!("{id}: canonical {canonical:?}, expected {want}"));
            }
        }
        if let Some(want) = case["expect_public"].as_str() {
            if public.as_deref() != Some(want) {
                failures.push(format!("{id}: public key {public:?}, expected {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn case_by_id<'a>(corpus: &'a Value, id: &str) -> &'a Value {
    corpus["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("case {id} not in corpus"))
}

/// The published Standard Webhooks sign vectors are reproduced byte for byte.
#[test]
fn sw1_and_sw2_reproduced_by_signer() {
    let corpus = corpus();
    for id in ["SW-1", "SW-2"] {
        let case = case_by_id(&corpus, id);
        let secret = Secret::parse(strings(&case["secrets"])[0]).expect("secret");
        let signer = Signer::new(vec![Key::Hmac(secret)]).expect("signer");
        let headers = pairs(&case["headers"]);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .expect("header present")
        };
        let ts: i64 = get("webhook-timestamp").parse().expect("timestamp");
        let sig = signer.sign(get("webhook-id"), ts, &body(case));
        assert_eq!(sig, get("webhook-signature"), "{id}");
    }
}

/// Generator for the `computed: true` values (run with `--nocapture` to print them): recomputes
/// each with timehook's own `Signer` and checks that the file carries exactly these values. They
/// were also computed independently with Python's `hmac` module.
#[test]
fn computed_values_match_signer() {
    const SW1: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW2: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const RUNLATER: &str = "runlater_test_secret";
    const STRIPE: &str = "whsec_test_secret";
    // (case id, signing keys in order, header holding the signature)
    let recipes: &[(&str, &[&str], &str)] = &[
        ("OWN-non-utf8-body", &[SW1], "webhook-signature"),
        (
            "OWN-rotation-both-entries-new",
            &[SW2, SW1],
            "webhook-signature",
        ),
        (
            "OWN-rotation-both-entries-old",
            &[SW2, SW1],
            "webhook-signature",
        ),
        ("OWN-rotation-retired", &[SW2], "webhook-signature"),
        ("OWN-msg-id-dot", &[SW1], "webhook-signature"),
        ("OWN-msg-id-non-ascii", &[SW1], "webhook-signature"),
        ("OWN-runlater", &[RUNLATER], "X-Signature"),
        ("OWN-runlater-too-new", &[RUNLATER], "X-Signature"),
        ("OWN-runlater-missing-timestamp", &[RUNLATER], "X-Signature"),
        (
            "STRIPE-1-multi-v1",
            &["some other secret", STRIPE],
            "stripe-signature",
        ),
    ];
    let corpus = corpus();
    let header = |case: &Value, name: &str| -> Option<String> {
        pairs(&case["headers"])
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let mut covered = Vec::new();
    for (id, keys, sig_header) in recipes {
        let case = case_by_id(&corpus, id);
        let scheme = scheme(case);
        let signer = Signer::new(keys.iter().map(|k| Key::parse(&scheme, k).expect("key")))
            .and_then(|s| s.with_scheme(scheme.clone()))
            .expect("signer");
        let msg_id = header(case, "webhook-id").unwrap_or_default();
        let ts = header(case, "webhook-timestamp")
            .or_else(|| header(case, "X-Timestamp"))
            .or_else(|| {
                let v = header(case, "stripe-signature")?;
                v.split(',')
                    .find_map(|i| i.strip_prefix("t="))
                    .map(str::to_owned)
            })
            // OWN-runlater-missing-timestamp omits its timestamp header; it was signed at this time.
            .unwrap_or_else(|| "1614265330".to_owned());
        let ts: i64 = ts.parse().expect("integer timestamp");
        let computed = signer.sign(&msg_id, ts, &body(case));
        println!("{id}: {sig_header}: {computed}");
        let sent = header(case, sig_header).expect("signature header");
        // Every computed entry is in the header (decoys such as v0= may surround them).
        let sent_items: Vec<&str> = sent.split([' ', ',']).collect();
        for entry in computed.split([' ', ',']) {
            assert!(sent_items.contains(&entry), "{id}: {entry} not in {sent}");
        }
        covered.push(*id);
    }

    // A timestamp that is not an integer cannot go through `Signer::sign`; compute the HMAC
    // directly over the exact header text.
    let case = case_by_id(&corpus, "OWN-timestamp-not-integer");
    let (msg_id, ts) = (
        header(case, "webhook-id").expect("id"),
        header(case, "webhook-timestamp").expect("ts"),
    );
    let computed = {
        use hmac::{KeyInit as _, Mac as _};
        let key = Secret::parse(SW1).expect("secret");
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(key.expose_bytes()).expect("any key");
        mac.update(format!("{msg_id}.{ts}.").as_bytes());
        mac.update(&body(case));
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    };
    println!("OWN-timestamp-not-integer: webhook-signature: {computed}");
    assert_eq!(
        header(case, "webhook-signature").as_deref(),
        Some(computed.as_str())
    );
    covered.push("OWN-timestamp-not-integer");

    // Every computed case has a recipe here.
    for case in corpus["cases"].as_array().expect("cases") {
        if case["computed"] == true {
            let id = str_field(case, "id");
            assert!(covered.contains(&id), "computed case {id} has no recipe");
        }
    }
}
