//! The `timehook` binary on real store files: every operating command in table and JSON form,
//! exit codes, and bad input (one clear line on stderr, the file unchanged).

mod common;

use std::time::Duration;

use common::{Dir, Receiver, json, run, snapshot};
use timehook::{JobSpec, ManualClock, RetryPolicy, Scheduler};

/// A store with a failed job (its receiver answered 500 once, no retries), a scheduled one and
/// a cron job; returns their ids.
fn store_with_history(d: &Dir, receiver: &Receiver) -> (String, String, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = ManualClock::new(chrono::Utc::now());
        let s = Scheduler::builder(d.db())
            .allow_private_targets(true)
            .clock(clock.clone())
            .open()
            .await
            .unwrap();
        let failed = s
            .schedule(
                JobSpec::post(format!("{}/billing", receiver.url))
                    .name("billing")
                    .label("team-a")
                    .retry(RetryPolicy::none())
                    .json(&serde_json::json!({ "invoice": 7 }))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(s.run_due().await.unwrap(), 1);
        let later = s
            .schedule(
                JobSpec::post(format!("{}/later", receiver.url))
                    .name("later")
                    .after(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
        let cron = s
            .schedule(
                JobSpec::cron(format!("{}/nightly", receiver.url), "0 3 * * *").name("nightly"),
            )
            .await
            .unwrap();
        s.shutdown(Duration::from_secs(5)).await.unwrap();
        (failed.to_string(), later.to_string(), cron.to_string())
    })
}

#[test]
fn schedule_list_and_show_in_table_and_json() {
    let d = Dir::new();
    let db = d.db();
    let (code, out, err) = run(&[
        "schedule",
        "https://example.com/hook",
        "--db",
        &db,
        "--after",
        "10m",
        "--payload",
        r#"{"user": 42}"#,
        "--name",
        "welcome",
        "--label",
        "onboarding",
        "--header",
        "Authorization: Bearer s3cret",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("creating the store's schema"),
        "a new store is announced: {err}"
    );
    let id = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("job_"), "{out}");
    assert!(out.contains("scheduled") && out.contains("in 10m"), "{out}");

    let created = json(&[
        "schedule",
        "https://example.com/cron",
        "--db",
        &db,
        "--cron",
        "0 9 * * MON-FRI",
        "--tz",
        "Europe/Berlin",
        "--json",
    ]);
    let cron_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["existing"], false);

    // A table for people: aligned columns, relative times.
    let (code, out, _) = run(&["jobs", "list", "--db", &db]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NEXT RUN"),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    let column = lines[0].find("STATE").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| &l[column..column + 9] == "scheduled"),
        "aligned: {out}"
    );
    // JSON for programs: one document, no colour, secrets left out.
    let page = json(&["jobs", "list", "--db", &db, "--json"]);
    let jobs = page["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(page["next_cursor"], serde_json::Value::Null);
    let welcome = jobs.iter().find(|j| j["id"] == id.as_str()).unwrap();
    assert_eq!(welcome["labels"], serde_json::json!(["onboarding"]));
    assert!(
        !page.to_string().contains("s3cret"),
        "header values are not shown"
    );
    assert!(!page.to_string().contains('\u{1b}'), "no colour");
    // Filters and paging.
    let named = json(&["jobs", "list", "--db", &db, "--name", "welcome", "--json"]);
    assert_eq!(named["jobs"].as_array().unwrap().len(), 1);
    let first = json(&["jobs", "list", "--db", &db, "--limit", "1", "--json"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = json(&[
        "jobs", "list", "--db", &db, "--limit", "1", "--cursor", &cursor, "--json",
    ]);
    assert_ne!(first["jobs"][0]["id"], second["jobs"][0]["id"]);

    let shown = json(&["jobs", "show", &id, "--db", &db, "--json"]);
    assert_eq!(shown["job"]["payload"], serde_json::json!({ "user": 42 }));
    assert_eq!(shown["attempts"], serde_json::json!([]));
    let (code, out, _) = run(&["jobs", "show", &cron_id, "--db", &db]);
    assert_eq!(code, 0);
    assert!(out.contains("0 9 * * MON-FRI (Europe/Berlin)"), "{out}");
}

#[test]
fn job_changes_through_the_cli() {
    let d = Dir::new();
    let db = d.db();
    let receiver = Receiver::start(500);
    let (failed, later, cron) = store_with_history(&d, &receiver);

    let paused = json(&["jobs", "pause", &cron, "--db", &db, "--json"]);
    assert_eq!(paused["state"], "paused");
    assert_eq!(
        json(&["jobs", "resume", &cron, "--db", &db, "--json"])["state"],
        "scheduled"
    );
    let moved = json(&[
        "jobs",
        "reschedule",
        &later,
        "--db",
        &db,
        "--at",
        "2030-01-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(moved["next_run_at"], "2030-01-01T00:00:00Z");
    assert_eq!(
        json(&["jobs", "retry", &failed, "--db", &db, "--json"])["state"],
        "scheduled"
    );
    assert_eq!(
        json(&["jobs", "cancel", &later, "--db", &db, "--json"])["state"],
        "cancelled"
    );
    // A change the job's state does not allow: exit 1, one line.
    let before = snapshot(&db);
    let (code, out, err) = run(&["jobs", "pause", &later, "--db", &db]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cancelled"), "{err}");
    assert!(
        snapshot(&db) == before,
        "the refused change changed the store"
    );
    let (code, out, _) = run(&["jobs", "trigger", &cron, "--db", &db]);
    assert_eq!(code, 0);
    assert!(out.contains(&cron), "{out}");
}

#[test]
fn attempts_endpoints_recover_purge_and_export() {
    let d = Dir::new();
    let db = d.db();
    let receiver = Receiver::start(500);
    let (failed, _, _) = store_with_history(&d, &receiver);

    let attempts = json(&["attempts", &failed, "--db", &db, "--json"]);
    let a = &attempts["attempts"][0];
    assert_eq!(a["status"], 500);
    assert_eq!(a["error"], "status");
    assert_eq!(a["response_excerpt"], "answer from the receiver");
    let (code, out, _) = run(&["attempts", &failed, "--db", &db]);
    assert_eq!(code, 0);
    assert!(
        out.lines().next().unwrap().starts_with('#') && out.contains("500"),
        "{out}"
    );

    let (code, out, _) = run(&["endpoints", "--db", &db]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ORIGIN") && out.contains(&receiver.url) && out.contains("failing"),
        "{out}"
    );
    let endpoints = json(&["endpoints", "--db", &db, "--json"]);
    assert_eq!(endpoints[0]["origin"], receiver.url.as_str());
    assert_eq!(endpoints[0]["health"], "failing");
    let (code, _, err) = run(&["endpoints", "enable", &receiver.url, "--db", &db]);
    assert_eq!(
        code, 1,
        "a healthy-but-failing endpoint is not disabled: {err}"
    );

    // CSV with a header row, and JSON Lines: the same one attempt.
    let (code, csv, _) = run(&["export", "--db", &db, "--format", "csv"]);
    assert_eq!(code, 0);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(&failed));
    let (_, jsonl, _) = run(&["export", "--db", &db, "--format", "jsonl", "--since", "1h"]);
    let row: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(row["job_id"], failed.as_str());
    let (_, none, _) = run(&["export", "--db", &db, "--format", "jsonl", "--until", "1h"]);
    assert_eq!(none, "", "nothing before an hour ago");

    assert_eq!(
        json(&[
            "recover", "--db", &db, "--since", "1h", "--name", "other", "--json"
        ])["count"],
        0
    );
    let (code, out, _) = run(&["recover", "--db", &db, "--since", "1h", "--label", "team-b"]);
    assert_eq!((code, out.as_str()), (0, "RECOVERED\n0\n"));
    assert_eq!(
        json(&["recover", "--db", &db, "--since", "1h", "--json"])["count"],
        1
    );
    assert_eq!(
        json(&["jobs", "show", &failed, "--db", &db, "--json"])["job"]["state"],
        "scheduled"
    );
    // Purge asks for --yes when it cannot ask.
    let (code, _, err) = run(&["purge", "--db", &db]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        json(&["purge", "--db", &db, "--yes", "--json"])["count"],
        0,
        "nothing failed now"
    );
}

#[test]
fn bad_input_gets_one_line_and_changes_nothing() {
    let d = Dir::new();
    let db = d.db();
    json(&["schedule", "https://example.com/a", "--db", &db, "--json"]);
    let before = snapshot(&db);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["jobs", "show", "job_01HZZZZZZZZZZZZZZZZZZZZZZZ"],
            3,
            "no job",
        ),
        (&["jobs", "show", "not-an-id"], 3, "no job"),
        (&["attempts", "job_01HZZZZZZZZZZZZZZZZZZZZZZZ"], 3, "no job"),
        (
            &["schedule", "https://example.com/a", "--cron", "0 99 * * *"],
            2,
            "cron",
        ),
        (
            &["schedule", "https://example.com/a", "--at", "tomorrow"],
            2,
            "RFC 3339",
        ),
        (
            &["schedule", "https://example.com/a", "--payload", "{nope"],
            2,
            "not JSON",
        ),
        (&["schedule", "ftp://example.com/a"], 2, "url"),
        (
            &["schedule", "https://example.com/a", "--retry", "forever"],
            2,
            "retry",
        ),
        (&["jobs", "list", "--state", "sleeping"], 2, "sleeping"),
    ];
    for (args, code, says) in cases {
        let mut all = args.to_vec();
        all.extend(["--db", db.as_str()]);
        let (got, out, err) = run(&all);
        assert_eq!(got, *code, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(snapshot(&db) == before, "{args:?} changed the store");
    }
    // A missing file: not found, and not created.
    let missing = d.path("missing.db");
    let (code, _, err) = run(&["jobs", "list", "--db", missing.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(!missing.exists());
    // A file that is not a store: a store error, and untouched.
    let foreign = d.path("notes.txt");
    std::fs::write(&foreign, "shopping list\n").unwrap();
    for args in [
        &["jobs", "list"][..],
        &["schedule", "https://example.com/a"][..],
    ] {
        let mut all = args.to_vec();
        all.extend(["--db", foreign.to_str().unwrap()]);
        let (code, _, err) = run(&all);
        assert_eq!(code, 4, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(
            std::fs::read_to_string(&foreign).unwrap(),
            "shopping list\n"
        );
    }
    // No store at all, and an unknown flag: usage errors.
    assert_eq!(run(&["jobs", "list"]).0, 2);
    assert_eq!(run(&["jobs", "list", "--colour"]).0, 2);
}

#[test]
fn secrets_and_verify() {
    let d = Dir::new();
    let (code, secret, _) = run(&["secret", "new"]);
    assert_eq!(code, 0);
    let secret = secret.trim();
    timehook::signing::Secret::parse(secret).unwrap();
    assert_ne!(
        secret,
        run(&["secret", "new"]).1.trim(),
        "each secret is new"
    );

    let body = br#"{"type":"invoice.paid"}"#;
    let now = chrono::Utc::now().timestamp();
    let signer = timehook::signing::Signer::new([timehook::signing::Key::parse(
        &timehook::signing::Scheme::StandardWebhooks,
        secret,
    )
    .unwrap()])
    .unwrap();
    let headers: String = signer
        .headers("msg_cli_1", now, body)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect();
    std::fs::write(d.path("headers.txt"), format!("HTTP/1.1 200 OK\n{headers}")).unwrap();
    std::fs::write(d.path("body.json"), body).unwrap();
    std::fs::write(d.path("tampered.json"), br#"{"type":"invoice.void"}"#).unwrap();
    let h = d.path("headers.txt");
    let args = |body: &str| {
        vec![
            "verify".to_owned(),
            "--secret".into(),
            secret.to_owned(),
            "--headers".into(),
            h.to_string_lossy().into_owned(),
            "--body".into(),
            d.path(body).to_string_lossy().into_owned(),
        ]
    };
    let (code, out, err) = run(&args("body.json")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, _, err) = run(&args("tampered.json")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert!(err.contains("no_matching_signature"), "the reason: {err}");
    // Stale: checked against a time an hour later, unless the timestamp is ignored.
    let mut stale = args("body.json");
    stale.extend(["--now".into(), (now + 3600).to_string()]);
    let (code, _, err) = run(&stale.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert!(err.contains("timestamp_too_old"), "{err}");
    stale.push("--ignore-timestamp".into());
    assert_eq!(
        run(&stale.iter().map(String::as_str).collect::<Vec<_>>()).0,
        0
    );
    // A profile's scheme by name, with headers as JSON.
    let a1 = timehook::profile::Profile::named("a1cron")
        .unwrap()
        .signer("svc-secret")
        .unwrap();
    let headers: serde_json::Map<String, serde_json::Value> = a1
        .headers("msg_x", now, body)
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    std::fs::write(d.path("a1.json"), serde_json::to_string(&headers).unwrap()).unwrap();
    let (code, _, err) = run(&[
        "verify",
        "--secret",
        "svc-secret",
        "--scheme",
        "a1cron",
        "--headers",
        d.path("a1.json").to_str().unwrap(),
        "--body",
        d.path("body.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn keys_are_created_once_listed_and_revoked() {
    let d = Dir::new();
    let db = d.db();
    let (code, key, err) = run(&[
        "keys", "create", "--scope", "write", "--name", "ci", "--db", &db,
    ]);
    assert_eq!(code, 0, "{err}");
    let key = key.trim().to_owned();
    assert!(key.starts_with("thk_"), "{key}");
    assert!(err.contains("shown only this once"), "{err}");
    let stored = std::fs::read_to_string(format!("{db}.keys.json")).unwrap();
    assert!(!stored.contains(&key), "only a hash is stored");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(format!("{db}.keys.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let list = json(&["keys", "list", "--db", &db, "--json"]);
    assert_eq!(list[0]["name"], "ci");
    assert_eq!(list[0]["scope"], "write");
    assert!(list[0].get("sha256").is_none() || !list.to_string().contains(&key));
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        run(&[
            "keys", "create", "--scope", "admin", "--name", "x", "--db", &db
        ])
        .0,
        2
    );
    assert_eq!(run(&["keys", "revoke", &id, "--db", &db]).0, 0);
    assert_eq!(
        json(&["keys", "list", "--db", &db, "--json"]),
        serde_json::json!([])
    );
    assert_eq!(run(&["keys", "revoke", &id, "--db", &db]).0, 3);
}
