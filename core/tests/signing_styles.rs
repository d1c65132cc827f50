//! What the scheduler puts on the wire: Standard Webhooks v1 and v1a, rotation, compatible styles per
//! scheduler and per job; plus concurrency bounds, TLS failures and the user agent.

mod common;

use common::{Receiver, t0};
use timehook::signing::{Key, Scheme, Secret, Signer, SigningKey, Verifier, VerifyKey};
use timehook::{AttemptError, Clock, JobSpec, JobState, ManualClock, Scheduler};

const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WHSK: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
const WHPK: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";

fn verify_with(v: &Verifier, r: &common::Received, now: i64) -> Result<(), String> {
    v.verify(&r.body, &r.headers, now)
        .map_err(|e| e.code().to_owned())
}

async fn deliver_one(s: &Scheduler, spec: JobSpec, receiver: &Receiver) -> common::Received {
    s.schedule(spec).await.unwrap();
    assert_eq!(s.run_due().await.unwrap(), 1);
    receiver.seen().pop().unwrap()
}

#[tokio::test]
async fn every_active_secret_and_ed25519_key_signs_in_one_header() {
    let clock = ManualClock::new(t0());
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .clock(clock.clone())
        .secret(Secret::parse(NEW).unwrap())
        .secret(Secret::parse(OLD).unwrap())
        .signing_key(SigningKey::parse(WHSK).unwrap())
        .open()
        .await
        .unwrap();
    let r = Receiver::start().await;
    let got = deliver_one(&s, JobSpec::post(r.url("/ok")).body("hi"), &r).await;
    let sig = got.header("webhook-signature").unwrap();
    let versions: Vec<&str> = sig
        .split(' ')
        .map(|e| e.split(',').next().unwrap())
        .collect();
    assert_eq!(versions, ["v1", "v1", "v1a"]);
    let now = clock.now().timestamp();
    // A receiver still on the old secret, one already on the new, and one with only the public key
    // all accept it.
    for verifier in [
        Verifier::new([Secret::parse(OLD).unwrap()]).unwrap(),
        Verifier::new([Secret::parse(NEW).unwrap()]).unwrap(),
        Verifier::from_keys([VerifyKey::parse(&Scheme::StandardWebhooks, WHPK).unwrap()]).unwrap(),
    ] {
        assert_eq!(verify_with(&verifier, &got, now), Ok(()));
    }
    let stranger = Verifier::new([Secret::generate()]).unwrap();
    assert_eq!(
        verify_with(&stranger, &got, now),
        Err("no_matching_signature".into())
    );
}

#[tokio::test]
async fn a_job_can_be_signed_github_or_stripe_style_with_its_own_secret() {
    let clock = ManualClock::new(t0());
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .clock(clock.clone())
        .open()
        .await
        .unwrap();
    let r = Receiver::start().await;
    let now = clock.now().timestamp();

    let got = deliver_one(
        &s,
        JobSpec::post(r.url("/ok"))
            .body("Hello, World!")
            .signing(Scheme::github(), ["It's a Secret to Everybody"]),
        &r,
    )
    .await;
    // The documented GitHub vector: same secret and body, same signature.
    assert_eq!(
        got.header("x-hub-signature-256"),
        Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    );
    assert!(
        got.header("webhook-id").unwrap().starts_with("exec_"),
        "webhook-id in every style"
    );
    assert_eq!(got.header("webhook-signature"), None);

    let stripe_secret = "whsec_test_secret";
    let got = deliver_one(
        &s,
        JobSpec::post(r.url("/ok"))
            .body("{}")
            .signing(Scheme::stripe(), [stripe_secret]),
        &r,
    )
    .await;
    let header = got.header("stripe-signature").unwrap();
    assert!(header.starts_with(&format!("t={now},v1=")), "{header}");
    let verifier =
        Verifier::from_keys([VerifyKey::parse(&Scheme::stripe(), stripe_secret).unwrap()])
            .unwrap()
            .with_scheme(Scheme::stripe())
            .unwrap();
    assert_eq!(verify_with(&verifier, &got, now), Ok(()));
    assert_eq!(
        verify_with(&verifier, &got, now + 301),
        Err("timestamp_too_old".into())
    );

    // A bad per-job setting is refused when scheduling.
    let err = s
        .schedule(JobSpec::post(r.url("/ok")).signing(Scheme::github(), [""]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_secret");
}

#[tokio::test]
async fn a_scheduler_can_sign_every_job_in_another_style() {
    let clock = ManualClock::new(t0());
    let scheme = Scheme::TimestampedHex {
        header: "X-Signature".into(),
        timestamp_header: Some("X-Timestamp".into()),
    };
    let signer = Signer::new([Key::parse(&scheme, "runlater-key").unwrap()])
        .unwrap()
        .with_scheme(scheme.clone())
        .unwrap();
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .clock(clock.clone())
        .signer(signer)
        .open()
        .await
        .unwrap();
    let r = Receiver::start().await;
    let got = deliver_one(&s, JobSpec::post(r.url("/ok")).body("x"), &r).await;
    let now = clock.now().timestamp();
    assert_eq!(got.header("x-timestamp"), Some(now.to_string().as_str()));
    assert_eq!(
        got.header("x-signature").map(str::len),
        Some(64),
        "hex HMAC-SHA256"
    );
    assert_eq!(verify_with(s.verifier(), &got, now), Ok(()));
}

#[tokio::test]
async fn deliveries_respect_the_per_host_and_global_bounds() {
    let r = Receiver::start().await;
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .per_host_concurrency(2)
        .open()
        .await
        .unwrap();
    s.schedule_many((0..6).map(|_| JobSpec::post(r.url("/slow/200"))))
        .await
        .unwrap();
    assert_eq!(s.run_due().await.unwrap(), 6);
    assert_eq!(
        r.max_in_flight(),
        2,
        "never more than 2 at once to one host"
    );

    // Two origins (127.0.0.1 and localhost) served by one receiver, which sees the global total.
    let r = Receiver::start().await;
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .max_concurrency(3)
        .open()
        .await
        .unwrap();
    let other_host = r.url("/slow/200").replacen("127.0.0.1", "localhost", 1);
    s.schedule_many((0..4).flat_map(|_| {
        [
            JobSpec::post(r.url("/slow/200")),
            JobSpec::post(other_host.clone()),
        ]
    }))
    .await
    .unwrap();
    assert_eq!(s.run_due().await.unwrap(), 8);
    assert_eq!(r.max_in_flight(), 3, "never more than 3 at once in all");
}

#[tokio::test]
async fn a_failed_tls_handshake_is_classified_as_tls() {
    let r = Receiver::start().await; // plain HTTP: a TLS client cannot complete a handshake with it
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .open()
        .await
        .unwrap();
    let url = r.url("/ok").replacen("http://", "https://", 1);
    let id = s.schedule(JobSpec::post(url)).await.unwrap();
    s.run_due().await.unwrap();
    let attempts = s.attempts(&id).await.unwrap();
    assert_eq!(
        attempts[0].error,
        Some(AttemptError::Tls),
        "{:?}",
        attempts[0].message
    );
    assert_eq!(s.get(&id).await.unwrap().state, JobState::Retrying);
}

#[tokio::test]
async fn the_user_agent_is_configurable() {
    let r = Receiver::start().await;
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .user_agent("acme-billing/2.0")
        .open()
        .await
        .unwrap();
    let got = deliver_one(&s, JobSpec::post(r.url("/ok")), &r).await;
    assert_eq!(got.header("user-agent"), Some("acme-billing/2.0"));
    assert_eq!(got.header("accept"), Some("*/*"));
    // A job's own headers win over the defaults.
    let spec = JobSpec::post(r.url("/ok"))
        .header("User-Agent", "job/1")
        .header("Accept", "application/json");
    let got = deliver_one(&s, spec, &r).await;
    assert_eq!(got.header("user-agent"), Some("job/1"));
    assert_eq!(got.header("accept"), Some("application/json"));
}
