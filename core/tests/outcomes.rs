//! Outcomes: callbacks, subscriptions, in-process events, endpoint health; against real receivers
//! on 127.0.0.1 and a manual clock.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Receiver, t0};
use timehook::signing::Secret;
use timehook::{
    Clock, Event, EventType, JobSpec, JobState, ListFilter, ManualClock, MissedRunPolicy,
    OutcomeStatus, RetryPolicy, Scheduler,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn setup(store: &common::TestStore, clock: &ManualClock) -> (Scheduler, Receiver) {
    let s = store
        .builder()
        .clock(clock.clone())
        .secret(Secret::parse(SECRET).unwrap())
        .environment("staging")
        .open()
        .await
        .unwrap();
    let c = clock.clone();
    let r = Receiver::start_with_clock(Arc::new(move || c.now().timestamp())).await;
    r.set_verifier(s.verifier().clone());
    (s, r)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

conformance! {
    #[tokio::test]
    async fn success_and_failure_callbacks_are_signed_durable_deliveries(store) {
        let clock = ManualClock::new(t0());
        let (s, r) = setup(&store, &clock).await;
        let ok = s
            .schedule(
                JobSpec::post(r.url("/ok"))
                    .name("welcome")
                    .on_success(r.url("/cb/success"))
                    .on_failure(r.url("/cb/failure")),
            )
            .await
            .unwrap();
        let flaky = s
            .schedule(
                JobSpec::post(r.url("/flaky/1"))
                    .retry(RetryPolicy::delays([Duration::from_secs(30)]))
                    .on_success(r.url("/cb/success"))
                    .on_failure(r.url("/cb/failure")),
            )
            .await
            .unwrap();
        assert_eq!(
            s.run_due().await.unwrap(),
            2 + 2,
            "two jobs, then their two callbacks"
        );

        let seen = r.seen();
        let success: Vec<_> = seen.iter().filter(|x| x.path == "/cb/success").collect();
        let failure: Vec<_> = seen.iter().filter(|x| x.path == "/cb/failure").collect();
        assert_eq!((success.len(), failure.len()), (1, 1));
        assert!(
            success[0].verified.is_ok() && failure[0].verified.is_ok(),
            "callbacks are signed"
        );

        let body = json(&success[0].body);
        let exec = s.get(&ok).await.unwrap().execution_id.unwrap();
        assert_eq!(body["job_id"], ok.as_str());
        assert_eq!(body["job_name"], "welcome");
        assert_eq!(body["execution_id"], exec.as_str());
        assert_eq!(body["status"], "success");
        assert_eq!(body["response_code"], 200);
        assert_eq!(body["response_body"], "ok");
        assert_eq!(body["retry_attempt"], 0);
        assert_eq!(body["next_retry_at"], serde_json::Value::Null);
        assert_eq!(body["error_message"], serde_json::Value::Null);
        assert_eq!(body["executed_at"], "2025-01-15T10:00:00.000Z");
        assert!(body["response_time_ms"].is_u64());

        let body = json(&failure[0].body);
        assert_eq!(body["job_id"], flaky.as_str());
        assert_eq!(body["status"], "failure");
        assert_eq!(body["response_code"], 500);
        assert_eq!(body["retry_attempt"], 0);
        assert_eq!(body["next_retry_at"], "2025-01-15T10:00:30.000Z");

        clock.advance(Duration::from_secs(30));
        assert_eq!(
            s.run_due().await.unwrap(),
            2,
            "the retry, then its success callback"
        );
        let last = r.seen().pop().unwrap();
        assert_eq!(last.path, "/cb/success");
        let body = json(&last.body);
        assert_eq!(body["job_id"], flaky.as_str());
        assert_eq!(body["retry_attempt"], 1);

        // Callback deliveries are jobs of their own, hidden from the default listing.
        assert_eq!(s.list(&ListFilter::default()).await.unwrap().len(), 2);
        let all = s
            .list(&ListFilter::default().include_internal())
            .await
            .unwrap();
        assert_eq!(
            all.iter()
                .filter(|j| j.name.as_deref() == Some("timehook.callback"))
                .count(),
            3
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_failing_callback_is_retried_but_never_reports_itself(store) {
        let clock = ManualClock::new(t0());
        let (s, r) = setup(&store, &clock).await;
        s.schedule(
            JobSpec::post(r.url("/ok"))
                .on_success(r.url("/status/503"))
                .on_failure(r.url("/cb/failure")),
        )
        .await
        .unwrap();
        assert_eq!(s.run_due().await.unwrap(), 2);
        let paths: Vec<String> = r.seen().into_iter().map(|x| x.path).collect();
        assert_eq!(
            paths,
            ["/ok", "/status/503"],
            "the callback's failure raises no callback"
        );
        let callback = s
            .list(
                &ListFilter::default()
                    .include_internal()
                    .name("timehook.callback"),
            )
            .await
            .unwrap();
        assert_eq!(
            callback[0].state,
            JobState::Retrying,
            "callbacks are retried"
        );
    }
}

conformance! {
    #[tokio::test]
    async fn subscriptions_receive_standard_webhooks_events_and_persist(store) {
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let sub = {
            let s = store.builder()
                .clock(clock.clone())
                .environment("production")
                .open()
                .await
                .unwrap();
            s.subscribe(
                &r.url("/events"),
                &[
                    EventType::JobCompleted,
                    EventType::JobFailed,
                    EventType::JobTimedOut,
                ],
            )
            .await
            .unwrap()
        };
        let s = store.builder()
            .clock(clock.clone())
            .environment("production")
            .open()
            .await
            .unwrap();
        assert_eq!(
            s.subscriptions().await.unwrap(),
            std::slice::from_ref(&sub),
            "subscriptions live in the file"
        );
        let done = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let failed = s
            .schedule(JobSpec::post(r.url("/status/404")))
            .await
            .unwrap();
        let timed_out = s
            .schedule(
                JobSpec::post(r.url("/slow/3000"))
                    .timeout(Duration::from_millis(100))
                    .retry(RetryPolicy::none()),
            )
            .await
            .unwrap();
        let retrying = s
            .schedule(JobSpec::post(r.url("/status/500")))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        s.run_due().await.unwrap();
        let events: Vec<serde_json::Value> = r
            .seen()
            .iter()
            .filter(|x| x.path == "/events")
            .map(|x| json(&x.body))
            .collect();
        let mut got: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_owned(),
                    e["data"]["job_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        got.sort();
        let mut want = vec![
            ("job.completed".to_owned(), done.to_string()),
            ("job.failed".to_owned(), failed.to_string()),
            ("job.timed_out".to_owned(), timed_out.to_string()),
        ];
        want.sort();
        assert_eq!(got, want, "job.retrying was not subscribed to ({retrying})");
        for e in &events {
            assert_eq!(e["data"]["environment"], "production");
            assert!(
                e["timestamp"]
                    .as_str()
                    .unwrap()
                    .starts_with("2025-01-15T10:00:00")
            );
        }
        let timed = events
            .iter()
            .find(|e| e["type"] == "job.timed_out")
            .unwrap();
        assert_eq!(timed["data"]["status"], "timeout");
        assert_eq!(timed["data"]["response_code"], serde_json::Value::Null);
        let verifier = s.verifier();
        for x in r.seen().iter().filter(|x| x.path == "/events") {
            verifier
                .verify(&x.body, &x.headers, clock.now().timestamp())
                .unwrap();
        }
        s.unsubscribe(&sub.id).await.unwrap();
        assert!(s.subscriptions().await.unwrap().is_empty());
        assert!(matches!(
            s.unsubscribe(&sub.id).await,
            Err(timehook::Error::SubscriptionNotFound(id)) if id == sub.id
        ));
    }
}

conformance! {
    #[tokio::test]
    async fn listeners_get_typed_events_in_process(store) {
        let clock = ManualClock::new(t0());
        let (s, r) = setup(&store, &clock).await;
        let mut rx = s.events();
        let id = s
            .schedule(
                JobSpec::post(r.url("/status/502"))
                    .retry(RetryPolicy::delays([Duration::from_secs(5)])),
            )
            .await
            .unwrap();
        s.run_due().await.unwrap();
        clock.advance(Duration::from_secs(5));
        s.run_due().await.unwrap();
        let mut kinds = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let Event::Job { event, outcome } = e {
                assert_eq!(outcome.job_id, id);
                assert_eq!(outcome.status, OutcomeStatus::Failure);
                kinds.push((event, outcome.retry_attempt));
            }
        }
        assert_eq!(
            kinds,
            [(EventType::JobRetrying, 0), (EventType::JobFailed, 1)]
        );
    }
}

conformance! {
    #[tokio::test]
    async fn an_endpoint_failing_for_five_days_is_disabled_its_jobs_held_then_resumed(store) {
        let clock = ManualClock::new(t0());
        let s = store.builder()
            .clock(clock.clone())
            .open()
            .await
            .unwrap();
        let r = Receiver::start().await;
        let events = Receiver::start().await;
        s.subscribe(&events.url("/events"), &[EventType::EndpointDisabled])
            .await
            .unwrap();
        let mut rx = s.events();
        let day = Duration::from_secs(86_400);
        // One failing job a day to the same endpoint; 10 failures needed and 5 days.
        let mut ids = Vec::new();
        for _ in 0..12 {
            ids.push(
                s.schedule(JobSpec::post(r.url("/status/503")).retry(RetryPolicy::none()))
                    .await
                    .unwrap(),
            );
            s.run_due().await.unwrap();
            clock.advance(day / 2);
        }
        let endpoints = s.endpoints().await.unwrap();
        assert_eq!(endpoints.len(), 1);
        let ep = &endpoints[0];
        assert_eq!(ep.origin, timehook::outcome::origin_of(&r.base));
        let disabled_at = ep.disabled_at.expect("disabled");
        // Failures at t0, t0+12h, ..., the 11th at t0+5d reaches both thresholds.
        assert_eq!(disabled_at, t0() + chrono::Duration::days(5));
        assert_eq!(ep.failures, 11);
        let disabled_event = std::iter::from_fn(|| rx.try_recv().ok())
            .find_map(|e| match e {
                Event::EndpointDisabled(ep) => Some(ep),
                _ => None,
            })
            .expect("endpoint.disabled event");
        assert_eq!(disabled_event.origin, ep.origin);
        let delivered = events.seen();
        assert_eq!(delivered.len(), 1);
        assert_eq!(json(&delivered[0].body)["type"], "endpoint.disabled");
        assert_eq!(
            json(&delivered[0].body)["data"]["origin"],
            ep.origin.as_str()
        );

        // The 12th job is held, not dropped, and other endpoints are unaffected.
        let held = ids.last().unwrap();
        assert_eq!(s.get(held).await.unwrap().state, JobState::Scheduled);
        let other = Receiver::start().await;
        s.schedule(JobSpec::post(other.url("/ok"))).await.unwrap();
        s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        assert_eq!(
            s.run_due().await.unwrap(),
            1,
            "only the healthy endpoint is delivered to"
        );
        assert_eq!(other.seen().len(), 1);

        s.enable_endpoint(&r.base).await.unwrap();
        assert_eq!(
            s.run_due().await.unwrap(),
            2,
            "held jobs go out once enabled"
        );
        // The held job's receiver still answers 503 and /ok answers 200: which is recorded last
        // decides whether a new failure streak shows, but nothing is disabled any more.
        assert!(
            s.endpoints()
                .await
                .unwrap()
                .iter()
                .all(|e| e.disabled_at.is_none())
        );
        assert!(
            matches!(
                s.enable_endpoint(&r.base).await,
                Err(e @ timehook::Error::EndpointNotDisabled(_)) if e.code() == "invalid_state"
            ),
            "not disabled any more"
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_410_can_disable_an_endpoint_at_once(store) {
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let s = store.builder()
            .clock(clock.clone())
            .disable_endpoint_on_gone(true)
            .open()
            .await
            .unwrap();
        s.schedule(JobSpec::post(r.url("/status/410")))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        assert!(s.endpoints().await.unwrap()[0].disabled_at.is_some());
        let other = store.another();
        let plain = other.builder().clock(clock).open().await.unwrap();
        plain
            .schedule(JobSpec::post(r.url("/status/410")))
            .await
            .unwrap();
        plain.run_due().await.unwrap();
        assert!(
            plain.endpoints().await.unwrap()[0].disabled_at.is_none(),
            "off by default"
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_success_resets_the_failure_streak(store) {
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let s = store.builder()
            .clock(clock.clone())
            .disable_endpoints_after(Duration::from_secs(60), 2)
            .open()
            .await
            .unwrap();
        s.schedule(JobSpec::post(r.url("/status/500")).retry(RetryPolicy::none()))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        s.run_due().await.unwrap();
        assert!(s.endpoints().await.unwrap().is_empty(), "healthy again");
        clock.advance(Duration::from_secs(120));
        s.schedule(JobSpec::post(r.url("/status/500")).retry(RetryPolicy::none()))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        let ep = &s.endpoints().await.unwrap()[0];
        assert_eq!(
            (ep.failures, ep.disabled_at),
            (1, None),
            "a new streak starts"
        );
    }
}

conformance! {
    /// While an endpoint is disabled its cron jobs make no occurrences and its backlog is held
    /// out of every claim; enabled again, the backlog is delivered and the cron job's missed-run
    /// policy decides what the time disabled still runs (here one run, not one per minute).
    #[tokio::test]
    async fn a_disabled_endpoint_holds_its_backlog_and_its_cron_jobs_follow_the_missed_run_policy(store) {
        let clock = ManualClock::new(t0());
        let r = Receiver::start().await;
        let other = Receiver::start().await;
        let s = store
            .builder()
            .clock(clock.clone())
            .disable_endpoint_on_gone(true)
            .missed_run_grace(Duration::from_secs(1))
            .open()
            .await
            .unwrap();
        s.schedule(JobSpec::post(r.url("/status/410"))).await.unwrap();
        assert_eq!(s.run_due().await.unwrap(), 1);
        assert!(s.endpoints().await.unwrap()[0].disabled_at.is_some());
        let cron = s
            .schedule(JobSpec::cron(r.url("/ok"), "* * * * *").missed(MissedRunPolicy::RunOnce))
            .await
            .unwrap();
        let held = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        // An hour with the scheduler ticking every minute: only the other endpoint is served.
        for _ in 0..60 {
            clock.advance(Duration::from_secs(60));
            s.schedule(JobSpec::post(other.url("/ok"))).await.unwrap();
            assert_eq!(s.run_due().await.unwrap(), 1);
        }
        assert_eq!(other.seen().len(), 60);
        assert!(r.seen().iter().all(|x| x.path != "/ok"));
        assert_eq!(s.get(&held).await.unwrap().state, JobState::Scheduled);
        assert!(s.attempts(&cron).await.unwrap().is_empty());

        s.enable_endpoint(&r.base).await.unwrap();
        clock.advance(Duration::from_secs(30));
        // The held job, and one run for the cron job's missed hour.
        let n = s.run_due().await.unwrap();
        let paths: Vec<_> = r.seen().into_iter().map(|x| x.path).collect();
        assert_eq!(n, 2, "{paths:?}");
        let delivered: Vec<_> = r.seen().into_iter().filter(|x| x.path == "/ok").collect();
        assert_eq!(delivered.len(), 2);
        assert_eq!(s.get(&held).await.unwrap().state, JobState::Succeeded);
        assert_eq!(s.attempts(&cron).await.unwrap().len(), 1);
        // And the cron job goes on as before.
        clock.advance(Duration::from_secs(60));
        assert_eq!(s.run_due().await.unwrap(), 1);
    }
}
