//! Delivery against a real receiver on 127.0.0.1, under a manual clock: outcomes, retries, and the
//! classification of every kind of answer.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Receiver, refused_url, t0};
use timehook::{
    AttemptError, Event, JobSpec, JobState, ManualClock, Method, RetryPolicy, Scheduler,
    signing::Secret,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Fixture {
    clock: ManualClock,
    scheduler: Scheduler,
    receiver: Receiver,
}

async fn fixture(store: &common::TestStore) -> Fixture {
    let clock = ManualClock::new(t0());
    let scheduler = store
        .builder()
        .clock(clock.clone())
        .secret(Secret::parse(SECRET).unwrap())
        .open()
        .await
        .unwrap();
    let c = clock.clone();
    let receiver = Receiver::start_with_clock(Arc::new(move || {
        use timehook::Clock;
        c.now().timestamp()
    }))
    .await;
    receiver.set_verifier(scheduler.verifier().clone());
    Fixture {
        clock,
        scheduler,
        receiver,
    }
}

conformance! {
    #[tokio::test]
    async fn a_job_is_delivered_signed_with_its_headers_and_body(store) {
        let f = fixture(&store).await;
        let mut events = f.scheduler.events();
        let id = f
            .scheduler
            .schedule(
                JobSpec::post(f.receiver.url("/ok"))
                    .json(&serde_json::json!({"plan": "free"}))
                    .unwrap()
                    .header("x-tenant", "acme")
                    .name("downgrade"),
            )
            .await
            .unwrap();
        assert_eq!(f.scheduler.run_due().await.unwrap(), 1);

        let seen = f.receiver.seen();
        assert_eq!(seen.len(), 1);
        let req = &seen[0];
        assert_eq!(req.verified, Ok(()), "signature verifies");
        assert_eq!(req.method, "POST");
        assert_eq!(req.body, br#"{"plan":"free"}"#);
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("x-tenant"), Some("acme"));
        assert_eq!(
            req.header("user-agent"),
            Some(format!("timehook/{}", timehook::VERSION).as_str())
        );
        assert_eq!(
            req.header("webhook-timestamp"),
            Some(t0().timestamp().to_string().as_str())
        );

        let job = f.scheduler.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.name.as_deref(), Some("downgrade"));
        assert_eq!(req.webhook_id(), job.execution_id.unwrap().as_str());

        let attempts = f.scheduler.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].number, 1);
        assert_eq!(attempts[0].status, Some(200));
        assert_eq!(attempts[0].response_body.as_deref(), Some(&b"ok"[..]));
        assert_eq!(attempts[0].started_at, t0());
        assert!(attempts[0].succeeded());

        match events.try_recv().unwrap() {
            Event::Attempt { attempt, state } => {
                assert_eq!(attempt, attempts[0]);
                assert_eq!(state, JobState::Succeeded);
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
}

conformance! {
    #[tokio::test]
    async fn other_methods_and_raw_bodies_are_sent_as_given(store) {
        let f = fixture(&store).await;
        f.scheduler
            .schedule(
                JobSpec::new(f.receiver.url("/ok"))
                    .method(Method::Put)
                    .body(vec![0xff, 0x00, 0xfe])
                    .content_type("application/x-custom"),
            )
            .await
            .unwrap();
        f.scheduler
            .schedule(JobSpec::new(f.receiver.url("/ok")).method(Method::Delete))
            .await
            .unwrap();
        assert_eq!(f.scheduler.run_due().await.unwrap(), 2);
        let mut seen = f.receiver.seen();
        seen.sort_by(|a, b| a.method.cmp(&b.method));
        assert_eq!(seen[0].method, "DELETE");
        assert!(seen[0].body.is_empty());
        assert_eq!(seen[1].method, "PUT");
        assert_eq!(seen[1].body, [0xff, 0x00, 0xfe]);
        assert_eq!(seen[1].header("content-type"), Some("application/x-custom"));
        assert!(seen.iter().all(|r| r.verified.is_ok()));
    }
}

conformance! {
    #[tokio::test]
    async fn a_4xx_is_a_final_failure_and_stays_queryable(store) {
        let f = fixture(&store).await;
        for code in [400, 404, 410, 422] {
            let id = f
                .scheduler
                .schedule(JobSpec::post(f.receiver.url(&format!("/status/{code}"))))
                .await
                .unwrap();
            f.scheduler.run_due().await.unwrap();
            f.clock.advance(Duration::from_secs(3600));
            assert_eq!(
                f.scheduler.run_due().await.unwrap(),
                0,
                "{code} is not retried"
            );
            let job = f.scheduler.get(&id).await.unwrap();
            assert_eq!(job.state, JobState::Failed, "{code}");
            assert_eq!(job.next_run_at, None);
            let attempts = f.scheduler.attempts(&id).await.unwrap();
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].status, Some(code));
            assert_eq!(attempts[0].error, Some(AttemptError::Status));
            assert_eq!(attempts[0].next_retry_at, None);
        }
        let failed = f
            .scheduler
            .list(&timehook::ListFilter::default().state(JobState::Failed))
            .await
            .unwrap();
        assert_eq!(failed.len(), 4);
    }
}

conformance! {
    #[tokio::test]
    async fn a_5xx_is_retried_with_the_same_webhook_id_until_success(store) {
        let f = fixture(&store).await;
        let id = f
            .scheduler
            .schedule(
                JobSpec::post(f.receiver.url("/flaky/2")).retry(RetryPolicy::delays([
                    Duration::from_secs(10),
                    Duration::from_secs(30),
                ])),
            )
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        let job = f.scheduler.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Retrying);
        assert_eq!(job.next_run_at, Some(t0() + chrono::Duration::seconds(10)));

        f.clock.advance(Duration::from_secs(9));
        assert_eq!(
            f.scheduler.run_due().await.unwrap(),
            0,
            "not due before its delay"
        );
        f.clock.advance(Duration::from_secs(1));
        assert_eq!(f.scheduler.run_due().await.unwrap(), 1);
        f.clock.advance(Duration::from_secs(30));
        assert_eq!(f.scheduler.run_due().await.unwrap(), 1);

        let job = f.scheduler.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        let seen = f.receiver.seen();
        assert_eq!(seen.len(), 3);
        let ids: Vec<&str> = seen.iter().map(|r| r.webhook_id()).collect();
        assert!(
            ids.iter().all(|i| *i == ids[0]),
            "same webhook-id on every retry"
        );
        let stamps: Vec<&str> = seen
            .iter()
            .map(|r| r.header("webhook-timestamp").unwrap())
            .collect();
        assert_eq!(
            stamps,
            [0, 10, 40].map(|s| (t0().timestamp() + s).to_string())
        );
        assert!(seen.iter().all(|r| r.verified.is_ok()));
        let attempts = f.scheduler.attempts(&id).await.unwrap();
        let numbers: Vec<u32> = attempts.iter().map(|a| a.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert_eq!(attempts[0].status, Some(500));
        assert_eq!(
            attempts[0].next_retry_at,
            Some(t0() + chrono::Duration::seconds(10))
        );
        assert_eq!(attempts[2].status, Some(200));
    }
}

conformance! {
    #[tokio::test]
    async fn the_retry_schedule_is_followed_then_the_job_fails(store) {
        let f = fixture(&store).await;
        let id = f
            .scheduler
            .schedule(
                JobSpec::post(f.receiver.url("/status/503"))
                    .retry(RetryPolicy::preset("runlater").unwrap()),
            )
            .await
            .unwrap();
        // 20 s, 45 s, 90 s, 120 s, 180 s between attempts.
        let mut expected = vec![t0()];
        for delay in [20, 45, 90, 120, 180] {
            f.scheduler.run_due().await.unwrap();
            f.clock.advance(Duration::from_secs(delay - 1));
            assert_eq!(f.scheduler.run_due().await.unwrap(), 0);
            f.clock.advance(Duration::from_secs(1));
            expected.push(*expected.last().unwrap() + chrono::Duration::seconds(delay as i64));
        }
        assert_eq!(f.scheduler.run_due().await.unwrap(), 1);
        let attempts = f.scheduler.attempts(&id).await.unwrap();
        let starts: Vec<_> = attempts.iter().map(|a| a.started_at).collect();
        assert_eq!(starts, expected);
        assert_eq!(attempts.last().unwrap().next_retry_at, None);
        assert_eq!(f.scheduler.get(&id).await.unwrap().state, JobState::Failed);
        f.clock.advance(Duration::from_secs(86_400));
        assert_eq!(f.scheduler.run_due().await.unwrap(), 0);
    }
}

conformance! {
    #[tokio::test]
    async fn a_timeout_is_recorded_and_retried(store) {
        let f = fixture(&store).await;
        let id = f
            .scheduler
            .schedule(
                JobSpec::post(f.receiver.url("/slow/5000"))
                    .timeout(Duration::from_millis(200))
                    .retry(RetryPolicy::preset("single").unwrap()),
            )
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        let attempts = f.scheduler.attempts(&id).await.unwrap();
        assert_eq!(attempts[0].error, Some(AttemptError::Timeout));
        assert_eq!(attempts[0].status, None);
        assert!(attempts[0].duration >= Duration::from_millis(200));
        assert_eq!(
            attempts[0].next_retry_at,
            Some(t0() + chrono::Duration::seconds(60))
        );
        assert_eq!(
            f.scheduler.get(&id).await.unwrap().state,
            JobState::Retrying
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_429_honours_retry_after_up_to_the_policy_maximum(store) {
        let f = fixture(&store).await;
        let short = f
            .scheduler
            .schedule(
                JobSpec::post(f.receiver.url("/retry-after/120"))
                    .retry(RetryPolicy::delays([Duration::from_secs(5)])),
            )
            .await
            .unwrap();
        let capped = f
            .scheduler
            .schedule(JobSpec::post(f.receiver.url("/retry-after/99999")).retry(
                RetryPolicy::delays([Duration::from_secs(5)]).with_max_delay(Duration::from_secs(600)),
            ))
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        let a = f.scheduler.attempts(&short).await.unwrap();
        assert_eq!(a[0].status, Some(429));
        assert_eq!(
            a[0].next_retry_at,
            Some(t0() + chrono::Duration::seconds(120))
        );
        let b = f.scheduler.attempts(&capped).await.unwrap();
        assert_eq!(
            b[0].next_retry_at,
            Some(t0() + chrono::Duration::seconds(600))
        );
        f.clock.advance(Duration::from_secs(120));
        assert_eq!(f.scheduler.run_due().await.unwrap(), 1);
        assert_eq!(
            f.scheduler.get(&short).await.unwrap().state,
            JobState::Succeeded
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_redirect_is_a_failure_and_is_not_followed(store) {
        let f = fixture(&store).await;
        let id = f
            .scheduler
            .schedule(JobSpec::post(f.receiver.url("/redirect")))
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        let attempts = f.scheduler.attempts(&id).await.unwrap();
        assert_eq!(attempts[0].status, Some(302));
        assert_eq!(attempts[0].error, Some(AttemptError::Redirect));
        assert_eq!(f.scheduler.get(&id).await.unwrap().state, JobState::Failed);
        let paths: Vec<String> = f.receiver.seen().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            ["/redirect"],
            "the redirect target was never requested"
        );
    }
}

conformance! {
    #[tokio::test]
    async fn a_refused_connection_is_retried(store) {
        let f = fixture(&store).await;
        let id = f
            .scheduler
            .schedule(JobSpec::post(refused_url()).retry(RetryPolicy::preset("single").unwrap()))
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        let attempts = f.scheduler.attempts(&id).await.unwrap();
        assert_eq!(attempts[0].error, Some(AttemptError::Connect));
        assert!(attempts[0].message.as_deref().unwrap().len() > 5);
        assert_eq!(
            f.scheduler.get(&id).await.unwrap().state,
            JobState::Retrying
        );
        f.clock.advance(Duration::from_secs(60));
        f.scheduler.run_due().await.unwrap();
        assert_eq!(f.scheduler.get(&id).await.unwrap().state, JobState::Failed);
        assert_eq!(f.scheduler.attempts(&id).await.unwrap().len(), 2);
    }
}

conformance! {
    #[tokio::test]
    async fn a_failed_job_can_be_retried_with_the_same_webhook_id(store) {
        let f = fixture(&store).await;
        let id = f
            .scheduler
            .schedule(JobSpec::post(f.receiver.url("/flaky/1")).retry(RetryPolicy::none()))
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        assert_eq!(f.scheduler.get(&id).await.unwrap().state, JobState::Failed);
        f.scheduler.retry(&id).await.unwrap();
        assert_eq!(
            f.scheduler.get(&id).await.unwrap().state,
            JobState::Scheduled
        );
        f.scheduler.run_due().await.unwrap();
        assert_eq!(
            f.scheduler.get(&id).await.unwrap().state,
            JobState::Succeeded
        );
        let seen = f.receiver.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].webhook_id(), seen[1].webhook_id());
        let err = f.scheduler.retry(&id).await.unwrap_err();
        assert_eq!(err.code(), "invalid_state");
    }
}

conformance! {
    #[tokio::test]
    async fn response_bodies_are_truncated_to_1_kb(store) {
        let f = fixture(&store).await;
        let big = f
            .scheduler
            .schedule(JobSpec::post(f.receiver.url("/big/100000")))
            .await
            .unwrap();
        let small = f
            .scheduler
            .schedule(JobSpec::post(f.receiver.url("/big/10")))
            .await
            .unwrap();
        f.scheduler.run_due().await.unwrap();
        let a = f.scheduler.attempts(&big).await.unwrap();
        assert_eq!(a[0].response_body.as_deref(), Some(&[b'x'; 1024][..]));
        assert!(a[0].succeeded());
        let a = f.scheduler.attempts(&small).await.unwrap();
        assert_eq!(a[0].response_body.as_deref(), Some(&[b'x'; 10][..]));
    }
}

conformance! {
    /// An endpoint at its in-flight bound with a backlog longer than the wake-up's window (the
    /// backlog fills the first rows in due order) does not hide another endpoint's job due
    /// later: the loop wakes for it at its due time, not at the next poll (an hour away here).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_endpoints_backlog_does_not_hide_another_endpoints_next_job(store) {
        let blocked = Receiver::start().await;
        let other = Receiver::start().await;
        let s = store
            .builder()
            .allow_private_targets(true)
            .per_host_concurrency(1)
            .poll_interval(Duration::from_secs(3600))
            .open()
            .await
            .unwrap();
        s.schedule_many((0..300).map(|i| JobSpec::post(blocked.url("/hang")).name(format!("b{i}"))))
            .await
            .unwrap();
        s.start().unwrap();
        // The first of the backlog is in flight (and hangs); the rest wait for its slot.
        blocked.next().await;
        s.schedule(JobSpec::post(other.url("/later")).after(Duration::from_millis(300)))
            .await
            .unwrap();
        let got = other.next().await;
        assert_eq!(got.path, "/later");
        assert_eq!(blocked.seen().len(), 1, "the blocked endpoint stayed at its bound");
        blocked.stop_hanging();
        s.shutdown(Duration::from_secs(1)).await.unwrap();
    }
}

/// A receiver that answers 200 with the start of a longer body and then sends nothing more,
/// keeping the connection open: the status decides the outcome; only the body's excerpt is cut.
#[tokio::test]
async fn an_answer_whose_body_stalls_is_decided_by_its_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stall", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 8192];
        let _ = socket.read(&mut buf).await.unwrap();
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart")
            .await
            .unwrap();
        // Held open, silent, until the test ends.
        std::future::pending::<()>().await;
    });
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .open()
        .await
        .unwrap();
    let id = s
        .schedule(JobSpec::post(url).timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(s.run_due().await.unwrap(), 1);
    let attempts = s.attempts(&id).await.unwrap();
    assert_eq!(attempts[0].status, Some(200));
    assert_eq!(attempts[0].error, None, "{:?}", attempts[0].message);
    assert_eq!(attempts[0].response_body.as_deref(), Some(&b"part"[..]));
    assert!(attempts[0].duration >= Duration::from_millis(300));
    assert_eq!(s.get(&id).await.unwrap().state, JobState::Succeeded);
    held.abort();
}
