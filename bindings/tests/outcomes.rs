//! The outcome operations through the bindings' plain types, against a real receiver on 127.0.0.1
//! and a manual clock.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chrono::TimeZone;
use timehook_bindings::{
    DeadLetterQuery, ErrorCode, EventRecord, ExportQuery, JobInput, ListQuery, MEMORY_PATH,
    ManualClock, RetryInput, SchedulerHandle, SchedulerOptions, block_on,
};

/// A request the receiver got: path and body.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A receiver that answers `/status/{code}` with that status and anything else with 200.
fn receiver() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                    let mut length = 0usize;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).expect("header");
                        if h.trim().is_empty() {
                            break;
                        }
                        let (name, value) = h.split_once(':').expect("header line");
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().expect("length");
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).expect("body");
                    let status = path
                        .strip_prefix("/status/")
                        .map_or(200, |c| c.parse::<u16>().expect("status"));
                    log.lock().expect("log").push((path, body));
                    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
                    stream.write_all(reply.as_bytes()).expect("reply");
                }
            });
        }
    });
    (base, seen)
}

fn open(clock: &ManualClock) -> SchedulerHandle {
    let mut o = SchedulerOptions::new(MEMORY_PATH);
    // The receivers are on 127.0.0.1.
    o.allow_private_targets = Some(true);
    o.autostart = false;
    o.clock = Some(clock.clone());
    o.environment = Some("staging".into());
    block_on(SchedulerHandle::open(o)).expect("open")
}

fn clock() -> ManualClock {
    ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap())
}

fn bodies(seen: &Seen, path: &str) -> Vec<serde_json::Value> {
    seen.lock()
        .expect("log")
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, b)| serde_json::from_slice(b).expect("json body"))
        .collect()
}

#[test]
fn callbacks_subscriptions_and_listeners_report_outcomes() {
    let (base, seen) = receiver();
    let clock = clock();
    let s = open(&clock);
    let sub = block_on(s.subscribe(format!("{base}/events"), vec!["job.completed".into()]))
        .expect("subscribe");
    assert_eq!(sub.events, vec!["job.completed"]);
    let events: Arc<Mutex<Vec<EventRecord>>> = Arc::default();
    let (tx, rx) = mpsc::channel();
    let got = events.clone();
    let listener = s
        .listen(&["job.completed".into()], move |batch| {
            got.lock().expect("events").extend(batch);
            let _ = tx.send(());
        })
        .expect("listen");
    // A listener that never returns until released holds up nothing but itself.
    let (release, stuck) = mpsc::channel::<()>();
    let stuck = Mutex::new(stuck);
    let blocked = s
        .listen(&[], move |_| {
            let _ = stuck.lock().expect("stuck").recv();
        })
        .expect("listen");

    let ids = block_on(s.schedule_many(vec![JobInput {
        url: format!("{base}/hook"),
        name: Some("trial-end".into()),
        on_success_url: Some(format!("{base}/cb")),
        ..JobInput::default()
    }]))
    .expect("schedule");
    // The job, then its callback and the event: durable deliveries of their own, due at once.
    assert_eq!(block_on(s.run_due()).expect("run"), 3);
    rx.recv_timeout(Duration::from_secs(10)).expect("event");
    let e = events.lock().expect("events")[0].clone();
    assert_eq!(e.kind, "job.completed");
    let outcome = e.outcome.expect("outcome");
    assert_eq!(
        (outcome.job_id.as_str(), outcome.status),
        (ids[0].as_str(), "success")
    );
    assert_eq!(outcome.response_code, Some(200));

    let cb = bodies(&seen, "/cb");
    assert_eq!(cb.len(), 1);
    assert_eq!(cb[0]["job_name"], "trial-end");
    assert_eq!(cb[0]["status"], "success");
    let ev = bodies(&seen, "/events");
    assert_eq!(ev[0]["type"], "job.completed");
    assert_eq!(ev[0]["data"]["environment"], "staging");
    // Only job.completed reached the listener: no event for the callback's own attempts.
    assert_eq!(events.lock().expect("events").len(), 1);
    listener.stop();
    assert!(listener.is_stopped());
    drop(release);
    drop(blocked);

    let job = block_on(s.get(ids[0].clone())).expect("get");
    assert_eq!(job.on_success_url, Some(format!("{base}/cb")));
    assert_eq!(job.on_failure_url, None);

    block_on(s.unsubscribe(sub.id.clone())).expect("unsubscribe");
    assert!(block_on(s.subscriptions()).expect("list").is_empty());
    let e = block_on(s.unsubscribe(sub.id)).expect_err("gone");
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = block_on(s.subscribe(format!("{base}/e"), vec!["job.done".into()])).expect_err("bad");
    assert_eq!(e.code, ErrorCode::InvalidJob);
    assert!(e.message.contains("job.done"), "{e}");
    assert!(block_on(s.subscriptions()).expect("list").is_empty());
    let e = s
        .listen(&["job.finished".into()], |_| {})
        .expect_err("kind");
    assert_eq!(e.code, ErrorCode::InvalidConfig);
}

#[test]
fn dead_letters_are_listed_retried_in_a_window_and_purged() {
    let (base, _seen) = receiver();
    let clock = clock();
    let s = open(&clock);
    let job = |name: &str| JobInput {
        url: format!("{base}/status/500"),
        name: Some(name.into()),
        retry: Some(RetryInput::Preset("none".into())),
        ..JobInput::default()
    };
    let early = block_on(s.schedule_many(vec![job("early")])).expect("schedule");
    block_on(s.run_due()).expect("run");
    clock.advance(Duration::from_secs(3600));
    let late = block_on(s.schedule_many(vec![job("late")])).expect("schedule");
    block_on(s.run_due()).expect("run");
    let failed = block_on(s.list(ListQuery {
        states: vec!["failed".into()],
        ..ListQuery::default()
    }))
    .expect("list");
    assert_eq!(failed.len(), 2);

    // Only the one that failed in the last half hour.
    let now = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 13, 0, 0).unwrap();
    let window = DeadLetterQuery {
        failed_after_ms: Some((now - chrono::Duration::minutes(30)).timestamp_millis()),
        ..DeadLetterQuery::default()
    };
    assert_eq!(block_on(s.retry_failed(window)).expect("retry"), 1);
    assert_eq!(
        block_on(s.get(late[0].clone())).expect("get").state,
        "scheduled"
    );
    assert_eq!(
        block_on(s.get(early[0].clone())).expect("get").state,
        "failed"
    );

    let bad = DeadLetterQuery {
        failed_after_ms: Some(2_000),
        failed_before_ms: Some(1_000),
        ..DeadLetterQuery::default()
    };
    assert_eq!(
        block_on(s.purge(bad)).expect_err("window").code,
        ErrorCode::InvalidJob
    );
    let by_name = DeadLetterQuery {
        name: Some("early".into()),
        ..DeadLetterQuery::default()
    };
    assert_eq!(block_on(s.purge(by_name)).expect("purge"), 1);
    let e = block_on(s.get(early[0].clone())).expect_err("purged");
    assert_eq!(e.code, ErrorCode::NotFound);
}

#[test]
fn send_test_and_exports() {
    let (base, seen) = receiver();
    let clock = clock();
    let s = open(&clock);
    let attempt =
        block_on(s.send_test(format!("{base}/probe"), "job.failed".into())).expect("test");
    assert_eq!(attempt.status, Some(200));
    let probe = bodies(&seen, "/probe");
    assert_eq!(probe[0]["type"], "job.failed");
    assert_eq!(probe[0]["data"]["environment"], "staging");
    let e = block_on(s.send_test(format!("{base}/probe"), "job.later".into())).expect_err("type");
    assert_eq!(e.code, ErrorCode::InvalidJob);

    let jobs = (0..5)
        .map(|i| JobInput {
            url: format!("{base}/status/{}", if i % 2 == 0 { 200 } else { 404 }),
            ..JobInput::default()
        })
        .collect();
    block_on(s.schedule_many(jobs)).expect("schedule");
    block_on(s.run_due()).expect("run");

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("attempts.csv");
    let path_text = path.to_string_lossy().into_owned();
    let n = block_on(s.export_to_path(path_text.clone(), "csv".into(), ExportQuery::default()))
        .expect("export");
    let csv = std::fs::read_to_string(&path).expect("read");
    assert_eq!(csv.lines().count() as u64, n + 1);
    assert!(csv.starts_with("started_at,job_id,"), "{csv}");
    let failed = ExportQuery {
        state: Some("failed".into()),
        ..ExportQuery::default()
    };
    let n = block_on(s.export_to_path(path_text, "csv".into(), failed)).expect("export");
    assert_eq!(n, 2);

    let stream = s
        .export_stream("jsonl".into(), ExportQuery::default())
        .expect("stream");
    let mut out = Vec::new();
    while let Some(chunk) = block_on(stream.next_chunk()).expect("chunk") {
        out.extend(chunk);
    }
    let lines: Vec<serde_json::Value> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json line"))
        .collect();
    // The sample event's attempt is recorded too.
    assert_eq!(lines.len(), 6);
    assert_eq!(stream.rows(), 6);
    assert!(lines.iter().all(|l| l["job_id"].is_string()));

    let e = s
        .export_stream("xml".into(), ExportQuery::default())
        .expect_err("format");
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    let e = s
        .export_stream(
            "csv".into(),
            ExportQuery {
                state: Some("lost".into()),
                ..ExportQuery::default()
            },
        )
        .expect_err("state");
    assert_eq!(e.code, ErrorCode::InvalidJob);
}

#[test]
fn flow_and_health_options_are_checked() {
    let refused = |f: &dyn Fn(&mut SchedulerOptions)| {
        let mut o = SchedulerOptions::new(MEMORY_PATH);
        o.allow_private_targets = Some(true);
        // The receivers are on 127.0.0.1.
        o.allow_private_targets = Some(true);
        o.autostart = false;
        f(&mut o);
        block_on(SchedulerHandle::open(o)).expect_err("refused")
    };
    let e = refused(&|o| o.per_host_rate = Some(-1.0));
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    let e = refused(&|o| {
        o.endpoint_limits = vec![timehook_bindings::EndpointLimitInput {
            endpoint: "not a url".into(),
            max_in_flight: 4,
            per_second: None,
        }];
    });
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.contains("not a url"), "{e}");

    // A 410 disables the endpoint at once when configured; enabling it again works once.
    let (base, _seen) = receiver();
    let clock = clock();
    let mut o = SchedulerOptions::new(MEMORY_PATH);
    // The receivers are on 127.0.0.1.
    o.allow_private_targets = Some(true);
    o.autostart = false;
    o.clock = Some(clock.clone());
    o.disable_endpoint_on_gone = Some(true);
    o.endpoint_limits = vec![timehook_bindings::EndpointLimitInput {
        endpoint: base.clone(),
        max_in_flight: 2,
        per_second: Some(50.0),
    }];
    let s = block_on(SchedulerHandle::open(o)).expect("open");
    block_on(s.schedule_many(vec![JobInput {
        url: format!("{base}/status/410"),
        ..JobInput::default()
    }]))
    .expect("schedule");
    block_on(s.run_due()).expect("run");
    let endpoints = block_on(s.endpoints()).expect("endpoints");
    assert_eq!(endpoints.len(), 1);
    assert!(endpoints[0].disabled_at_ms.is_some());
    block_on(s.enable_endpoint(base.clone())).expect("enable");
    let e = block_on(s.enable_endpoint(base)).expect_err("not disabled");
    assert_eq!(e.code, ErrorCode::InvalidState);
}
