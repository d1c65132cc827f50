//! Crash recovery: a child process that is delivering is killed with SIGKILL; reopening the store
//! (the SQLite file, or the PostgreSQL schema) delivers every job at least once, duplicates
//! carrying the same `webhook-id`.

#[macro_use]
mod common;

use std::collections::{HashMap, HashSet};

use common::Receiver;
use timehook::{AttemptError, JobSpec, JobState, ManualClock, Scheduler, signing::Secret};

const CHILD_ENV: &str = "TIMEHOOK_CRASH_CHILD_DB";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Runs only as the child: opens the store and delivers until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return;
    };
    let s = Scheduler::builder(location)
        .allow_private_targets(true)
        .secret(Secret::parse(SECRET).unwrap())
        .open()
        .await
        .unwrap();
    s.start().unwrap();
    println!("child delivering");
    // Wait to be killed. This branch only runs in the child process.
    std::future::pending::<()>().await;
}

conformance! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_redelivers_with_the_same_webhook_id(store) {
    let receiver = Receiver::start().await;
    let (quick, hanging) = {
        let s = store.builder()
            .secret(Secret::parse(SECRET).unwrap())
            .open()
            .await
            .unwrap();
        receiver.set_verifier(s.verifier().clone());
        let quick = s
            .schedule_many(
                (0..10).map(|i| JobSpec::post(receiver.url("/ok")).name(format!("q{i}"))),
            )
            .await
            .unwrap();
        let hanging = s
            .schedule_many(
                (0..10).map(|i| JobSpec::post(receiver.url("/hang")).name(format!("h{i}"))),
            )
            .await
            .unwrap();
        (quick, hanging)
    };

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, store.location())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // All 20 reach the receiver: 10 answered, 10 held open while the child is killed.
    for _ in 0..20 {
        receiver.next().await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before: HashMap<String, usize> = receiver.seen().iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.webhook_id().to_owned()).or_default() += 1;
        m
    });
    assert_eq!(before.len(), 20);

    // Reopen after the dead worker's leases have run out.
    receiver.stop_hanging();
    let clock = ManualClock::new(chrono::Utc::now() + chrono::Duration::seconds(31));
    let s = store.builder()
        .secret(Secret::parse(SECRET).unwrap())
        .clock(clock)
        .open()
        .await
        .unwrap();
    let redelivered = s.run_due().await.unwrap();
    assert!(
        redelivered >= 10,
        "the 10 hanging jobs are delivered again ({redelivered})"
    );
    assert_eq!(s.run_due().await.unwrap(), 0);

    let seen = receiver.seen();
    assert!(seen.iter().all(|r| r.verified.is_ok()));
    let ids_after: HashSet<&str> = seen[20..].iter().map(|r| r.webhook_id()).collect();
    for id in quick.iter().chain(&hanging) {
        let job = s.get(id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded, "{id}");
        let exec = job.execution_id.unwrap();
        assert!(
            before.contains_key(exec.as_str()),
            "first delivery carried the execution id"
        );
    }
    for id in &hanging {
        let job = s.get(id).await.unwrap();
        let exec = job.execution_id.unwrap();
        assert!(
            ids_after.contains(exec.as_str()),
            "redelivered with the same webhook-id"
        );
        let attempts = s.attempts(id).await.unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].error, Some(AttemptError::Interrupted));
        assert!(attempts[1].succeeded());
    }
    // Every redelivery is of an execution delivered before the crash: nothing new was invented.
    assert!(ids_after.iter().all(|id| before.contains_key(*id)));
}
}
