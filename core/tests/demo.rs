//! `make demo` shows what the README says it shows: every attempt, retry and final failure as it
//! happens, an outcome arriving at the receiver, then the summary. Runs the example binary that
//! `cargo test` builds beside the tests (`target/<profile>/examples/demo`), in real time (about
//! 12 s: the demo runs a cron job every 3 seconds).

use std::path::PathBuf;
use std::process::Command;

fn demo_binary() -> PathBuf {
    // This test is target/<profile>/deps/demo-<hash>; the example is target/<profile>/examples/demo.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let demo = profile_dir
        .join("examples")
        .join(format!("demo{}", std::env::consts::EXE_SUFFIX));
    assert!(
        demo.exists(),
        "{} is missing: `cargo test -p timehook` builds it",
        demo.display()
    );
    demo
}

#[test]
fn the_demo_prints_every_attempt_an_outcome_and_the_summary() {
    let out = Command::new(demo_binary()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let has = |pattern: &[&str]| {
        stdout
            .lines()
            .any(|line| pattern.iter().all(|part| line.contains(part)))
    };
    for expected in [
        &["succeeds", "attempt 1 -> HTTP 200", "job is succeeded"][..],
        &[
            "retried",
            "attempt 1 -> HTTP 503",
            "job is retrying, retry at",
        ],
        &["retried", "event job.retrying"],
        &["retried", "attempt 2 -> HTTP 200", "job is succeeded"],
        &["fails", "attempt 1 -> HTTP 410", "job is failed"],
        &["fails", "event job.failed"],
        &["receiver: failure callback for fails: failure, HTTP 410"],
        &["(callback)", "attempt 1 -> HTTP 200"],
        &["cron", "attempt 1 -> HTTP 200", "job is scheduled"],
        &["summary"],
        &["succeeds", "succeeded", "1 attempt(s), 1 delivered"],
        &["retried", "succeeded", "2 attempt(s), 1 delivered"],
        &["fails", "failed", "1 attempt(s), 0 delivered"],
    ] {
        assert!(has(expected), "no line with {expected:?} in:\n{stdout}");
    }
    // The cron job every 3 seconds fires several times during the demo, each printed.
    let cron_attempts = stdout
        .lines()
        .filter(|l| l.contains(" cron ") && l.contains("attempt 1 -> HTTP 200"))
        .count();
    assert!(cron_attempts >= 3, "{stdout}");
    assert!(!stdout.contains("rejected"), "{stdout}");
}
