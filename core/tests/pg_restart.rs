//! The PostgreSQL server goes away mid-run (stopped, then started again): calls made meanwhile
//! fail with a typed error and change nothing, deliveries resume by themselves, and nothing
//! accepted is lost. A binary of its own: stopping the server cuts every test's connections.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Backend, Receiver, TestStore};
use timehook::{AttemptError, JobSpec, JobState, ListFilter, StoreErrorKind};

fn pg_ctl(args: &str) {
    let ctl = std::env::var("TIMEHOOK_TEST_PG_CTL").unwrap();
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("{ctl} {args} >/dev/null")])
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctl {args}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_nothing_and_delivery_resumes() {
    if std::env::var("TIMEHOOK_TEST_PG_CTL").is_err() {
        eprintln!(
            "a_server_restart_loses_nothing_and_delivery_resumes: TIMEHOOK_TEST_PG_CTL is not set \
             (an external server, which this test cannot restart); not run"
        );
        return;
    }
    let store = TestStore::new(Backend::Postgres);
    let receiver = Receiver::start().await;
    let s = store
        .builder()
        .lease_duration(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(200))
        .open()
        .await
        .unwrap();
    receiver.set_verifier(s.verifier().clone());
    let ids = s
        .schedule_many(
            (0..300).map(|i| JobSpec::post(receiver.url("/slow/20")).name(format!("j{i}"))),
        )
        .await
        .unwrap();
    s.start().unwrap();
    let started = Instant::now();
    while receiver.seen().len() < 50 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deliveries began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    pg_ctl("-m fast stop");
    // While the server is away, calls fail with a typed error, and nothing is half-done.
    let err = s
        .schedule(JobSpec::post(receiver.url("/ok")).name("during the outage"))
        .await
        .unwrap_err();
    assert_eq!(
        err.store_kind(),
        Some(StoreErrorKind::ConnectionLost),
        "{err}"
    );
    assert_eq!(err.code(), "store_error");
    // Longer than half the lease: attempts that finished meanwhile give up being recorded.
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg_ctl("-w start");

    let done = async || {
        s.list(&ListFilter::default().state(JobState::Succeeded).limit(1000))
            .await
            .map(|jobs| jobs.len())
            .unwrap_or(0)
    };
    let resumed = Instant::now();
    while done().await < 300 {
        assert!(
            resumed.elapsed() < Duration::from_secs(90),
            "all 300 delivered after the restart ({} so far)",
            done().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.shutdown(Duration::from_secs(5)).await.unwrap();

    let all = s.list(&ListFilter::default().limit(1000)).await.unwrap();
    assert_eq!(
        all.len(),
        300,
        "nothing from the outage was stored, nothing lost"
    );
    let seen: HashMap<String, usize> = receiver.seen().iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.webhook_id().to_owned()).or_default() += 1;
        m
    });
    for id in &ids {
        let job = s.get(id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        let exec = job.execution_id.unwrap();
        let times = seen.get(exec.as_str()).copied().unwrap_or(0);
        assert!(times >= 1, "{id} delivered");
        let attempts = s.attempts(id).await.unwrap();
        assert!(attempts.last().unwrap().succeeded());
        if times > 1 {
            // A duplicate follows an attempt whose outcome could not be recorded.
            assert!(
                attempts
                    .iter()
                    .any(|a| a.error == Some(AttemptError::Interrupted)),
                "{id}: {attempts:?}"
            );
        }
    }
    assert!(receiver.seen().iter().all(|r| r.verified.is_ok()));
}
