//! Delivery profiles: a job (or a whole scheduler) delivered as a hosted scheduler would deliver
//! it, so that service's receivers keep working: its signature header (checked here with a
//! plain HMAC, as those receivers compute it), its extra headers, its retries and timeout.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Received, Receiver, t0};
use hmac::{KeyInit, Mac};
use timehook::profile::{Filled, PROFILES, Profile};
use timehook::{JobSpec, ManualClock};

fn hex_hmac(secret: &str, message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The secret each service gives its users, in its own form.
fn secret_for(profile: &str) -> &'static str {
    match profile {
        "svix" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        _ => "the-service-secret",
    }
}

/// What the service's own receiver code checks, for each profile.
fn check_as_the_service_does(profile: &str, req: &Received, job: &str, secret: &str) {
    let header = |n: &str| {
        req.header(n)
            .unwrap_or_else(|| panic!("{profile}: no {n} header in {:?}", req.headers))
    };
    match profile {
        "runlater-eu" => {
            assert_eq!(
                header("x-runlater-signature"),
                format!("sha256={}", hex_hmac(secret, &req.body))
            );
            assert_eq!(header("x-runlater-job-id"), job);
            assert_eq!(header("x-runlater-execution-id"), req.webhook_id());
        }
        "runlater" => {
            let ts = header("x-runlater-timestamp");
            let signed = [ts.as_bytes(), b".", &req.body].concat();
            assert_eq!(header("x-runlater-signature"), hex_hmac(secret, &signed));
            assert_eq!(header("x-runlater-job-id"), job);
        }
        "cronflow" => {
            assert_eq!(header("x-cronflow-signature"), hex_hmac(secret, &req.body));
            assert_eq!(header("x-cronflow-idempotency-key"), req.webhook_id());
        }
        "svix" => {
            for (svix, standard) in [
                ("svix-id", "webhook-id"),
                ("svix-timestamp", "webhook-timestamp"),
                ("svix-signature", "webhook-signature"),
            ] {
                assert_eq!(header(svix), header(standard));
            }
            assert!(header("svix-signature").starts_with("v1,"));
        }
        "a1cron" => {
            assert_eq!(header("x-a1cron-signature"), hex_hmac(secret, &req.body));
        }
        other => panic!("no check for {other}"),
    }
}

conformance! {
    /// Each profile, on one job: the service's receiver checks pass, the profile's verifier
    /// accepts the request and refuses it once the body changes.
    #[tokio::test]
    async fn each_profile_delivers_what_its_services_receivers_check(store) {
        let r = Receiver::start().await;
        let s = store.builder().open().await.unwrap();
        for name in PROFILES {
            let profile = Profile::named(name).unwrap();
            let secret = secret_for(name);
            let job = s
                .schedule(
                    JobSpec::post(r.url(&format!("/{name}")))
                        .json(&serde_json::json!({"action": "sync", "n": 0.5}))
                        .unwrap()
                        .profile(&profile, secret),
                )
                .await
                .unwrap();
            s.run_due().await.unwrap();
            let req = r.next().await;
            assert_eq!(req.path, format!("/{name}"));
            check_as_the_service_does(name, &req, job.as_str(), secret);
            let headers: Vec<(&str, &[u8])> = req
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            let now = chrono::Utc::now().timestamp();
            let verifier = profile.verifier(secret).unwrap();
            verifier.verify(&req.body, headers.iter().copied(), now).unwrap();
            let mut tampered = req.body.clone();
            tampered.push(b' ');
            assert!(verifier.verify(&tampered, headers.iter().copied(), now).is_err(), "{name}");
            // The profile's own retry schedule and timeout.
            let stored = s.get(&job).await.unwrap();
            assert_eq!(stored.timeout, profile.timeout, "{name}");
            if let Some(retry) = &profile.retry {
                assert_eq!(&stored.retry, retry, "{name}");
            }
        }
    }
}

conformance! {
    /// A profile on the whole scheduler: every job is signed and headed as the service would,
    /// with its retry schedule (the first retry of a Runlater.eu job comes 20 s later) and
    /// timeout; a job of its own still overrides it.
    #[tokio::test]
    async fn a_scheduler_profile_applies_to_every_job(store) {
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let profile = Profile::named("runlater-eu").unwrap();
        let s = store
            .builder()
            .clock(clock.clone())
            .profile(&profile, "org-secret")
            .open()
            .await
            .unwrap();
        let job = s.schedule(JobSpec::post(r.url("/status/503"))).await.unwrap();
        s.run_due().await.unwrap();
        let first = r.next().await;
        check_as_the_service_does("runlater-eu", &first, job.as_str(), "org-secret");
        let after = s.get(&job).await.unwrap();
        assert_eq!(after.timeout, Duration::from_secs(30));
        assert_eq!(after.next_run_at, Some(t0() + chrono::Duration::seconds(20)));
        clock.advance(Duration::from_secs(20));
        s.run_due().await.unwrap();
        let retry = r.next().await;
        assert_eq!(retry.webhook_id(), first.webhook_id());
        assert_eq!(retry.header("x-runlater-execution-id"), Some(first.webhook_id()));
        // A job with a header of its own beside the profile's.
        let own = s
            .schedule(JobSpec::post(r.url("/ok")).delivery_header("X-Attempt", Filled::Attempt))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        let req = r.next().await;
        check_as_the_service_does("runlater-eu", &req, own.as_str(), "org-secret");
        assert_eq!(req.header("x-attempt"), Some("1"));
    }
}

#[tokio::test]
async fn bad_profile_input_gets_a_typed_error_naming_the_option() {
    let err = Profile::named("hookdeck").unwrap_err();
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("runlater-eu"), "{err}");

    // Svix signs with a whsec_ secret only.
    let svix = Profile::named("svix").unwrap();
    let opened = timehook::Scheduler::in_memory()
        .profile(&svix, "not-a-whsec-secret")
        .open()
        .await;
    let Err(err) = opened else {
        panic!("a raw secret for the svix profile was accepted")
    };
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("svix profile"), "{err}");

    let s = timehook::Scheduler::in_memory().open().await.unwrap();
    let runlater_eu = Profile::named("runlater-eu").unwrap();
    for (header, clash) in [
        ("X-Runlater-Signature", "the signature header"),
        ("webhook-id", "a header timehook sets"),
        ("X-Runlater-Job-Id", "another extra header"),
    ] {
        let err = s
            .schedule(
                JobSpec::post("https://example.com/hook")
                    .profile(&runlater_eu, "secret")
                    .delivery_header(header, Filled::Attempt),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), err.field()),
            ("invalid_job", Some("delivery_headers")),
            "{clash}: {err}"
        );
    }
    assert!(
        s.list(&timehook::ListFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

conformance! {
    /// A1Cron's callbacks: the outcome with `cron_job_id` and `cron_job_name`, signed as A1Cron
    /// signs them, so its docs' handlers (`data['cron_job_name']`) work unchanged.
    #[tokio::test]
    async fn a1cron_callbacks_have_its_fields_and_signature(store) {
        let r = Receiver::start().await;
        let s = store.builder().open().await.unwrap();
        let a1cron = Profile::named("a1cron").unwrap();
        let job = s
            .schedule(
                JobSpec::post(r.url("/status/500"))
                    .name("Daily Sales Report")
                    .profile(&a1cron, "a1-secret")
                    .retry(timehook::RetryPolicy::none())
                    .on_failure(r.url("/cb/failure")),
            )
            .await
            .unwrap();
        s.run_due().await.unwrap();
        s.run_due().await.unwrap();
        let seen = r.seen();
        let callback = seen.iter().find(|x| x.path == "/cb/failure").expect("a callback");
        assert_eq!(
            callback.header("x-a1cron-signature"),
            Some(hex_hmac("a1-secret", &callback.body).as_str())
        );
        let data: serde_json::Value = serde_json::from_slice(&callback.body).unwrap();
        assert_eq!(data["cron_job_id"], job.as_str());
        assert_eq!(data["cron_job_name"], "Daily Sales Report");
        assert_eq!(data["status"], "failure");
        assert_eq!(data["response_code"], 500);
        assert_eq!(data["retry_attempt"], 0);
        assert!(data.get("job_id").is_none() && data.get("job_name").is_none(), "{data}");
        for field in ["execution_id", "executed_at", "response_time_ms", "response_body", "error_message", "next_retry_at"] {
            assert!(data.get(field).is_some(), "{field} in {data}");
        }
    }
}

conformance! {
    /// A scheduler with the cronflow profile sends its subscription events in CronFlow's shape
    /// (`{event, timestamp, job_id, environment, data}`), signed and keyed as CronFlow's are.
    #[tokio::test]
    async fn cronflow_events_have_its_shape_and_signature(store) {
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let cronflow = Profile::named("cronflow").unwrap();
        let s = store
            .builder()
            .clock(clock.clone())
            .environment("production")
            .profile(&cronflow, "cf-secret")
            .open()
            .await
            .unwrap();
        s.subscribe(
            &r.url("/events"),
            &[timehook::EventType::JobFailed, timehook::EventType::JobCompleted],
        )
        .await
        .unwrap();
        let failed = s
            .schedule(JobSpec::post(r.url("/status/500")).retry(timehook::RetryPolicy::none()))
            .await
            .unwrap();
        let cron = s
            .schedule(JobSpec::cron(r.url("/ok"), "*/5 * * * *"))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(300));
        s.run_due().await.unwrap();
        s.run_due().await.unwrap();
        let events: Vec<_> = r.seen().into_iter().filter(|x| x.path == "/events").collect();
        assert_eq!(events.len(), 2, "{events:?}");
        for e in &events {
            assert_eq!(e.header("x-cronflow-signature"), Some(hex_hmac("cf-secret", &e.body).as_str()));
            assert_eq!(e.header("x-cronflow-idempotency-key"), Some(e.webhook_id()));
        }
        let bodies: Vec<serde_json::Value> =
            events.iter().map(|e| serde_json::from_slice(&e.body).unwrap()).collect();
        let of = |name: &str| bodies.iter().find(|b| b["event"] == name).unwrap().clone();
        let failure = of("job.failed");
        assert_eq!(failure["job_id"], failed.as_str());
        assert_eq!(failure["environment"], "production");
        assert_eq!(failure["data"]["error_code"], 500);
        assert_eq!(failure["data"]["retries"], 0);
        assert!(failure["data"]["message"].as_str().unwrap().contains("500"), "{failure}");
        assert!(failure["timestamp"].is_string() && failure.get("type").is_none(), "{failure}");
        let done = of("job.completed");
        assert_eq!(done["job_id"], cron.as_str());
        assert!(done["data"]["duration_ms"].is_u64(), "{done}");
        assert_eq!(done["data"]["output"], "ok");
        // The cron job's next run, five minutes on.
        assert_eq!(done["data"]["next_run_at"], "2025-01-15T10:10:00.000Z");
    }
}
