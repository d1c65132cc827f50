//! `timehook serve`, the real binary on 127.0.0.1, called over HTTP: every route with and
//! without a key, delivery signed as Standard Webhooks, the RunLater-compatible route with the
//! bodies from its docs, bad input (never a 500), and the committed OpenAPI document.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Dir, Receiver, bin, run};
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A running `timehook serve`; killed when dropped.
struct Server {
    child: Child,
    url: String,
    client: Client,
}

impl Server {
    fn start(db: &str, extra: &[&str]) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut child = bin()
            .args([
                "serve",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                "--allow-private-targets",
            ])
            .args(extra)
            .env("TIMEHOOK_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .to_owned();
        Server {
            child,
            url,
            client: Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> Response {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().unwrap()
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let res = self.call(method, path, key, body);
        let status = res.status().as_u16();
        let text = res.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(db: &str, scope: &str) -> String {
    let (code, out, err) = run(&[
        "keys", "create", "--scope", scope, "--name", scope, "--db", db,
    ]);
    assert_eq!(code, 0, "{err}");
    out.trim().to_owned()
}

/// Waits (polling the API, never sleeping a fixed time) until `f` holds.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_route_needs_a_key_of_the_right_scope() {
    let d = Dir::new();
    let db = d.db();
    let write = key(&db, "write");
    let read = key(&db, "read");
    let server = Server::start(&db, &["--no-deliver"]);
    let (_, created) = server.json(
        "POST",
        "/v1/jobs",
        Some(&write),
        Some(&json!({ "url": "https://example.com/a", "after_seconds": 3600 })),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let job = |p: &str| format!("/v1/jobs/{id}{p}");
    let reads = [
        ("GET", "/v1/jobs".to_owned(), None),
        ("GET", job(""), None),
        ("GET", job("/attempts"), None),
        ("GET", "/v1/subscriptions".to_owned(), None),
        ("GET", "/v1/endpoints".to_owned(), None),
        ("GET", "/v1/attempts/export".to_owned(), None),
        ("GET", "/metrics".to_owned(), None),
    ];
    let writes = [
        (
            "POST",
            "/v1/jobs".to_owned(),
            Some(json!({ "url": "https://example.com/b" })),
        ),
        ("POST", job("/pause"), None),
        ("POST", job("/resume"), None),
        (
            "POST",
            job("/reschedule"),
            Some(json!({ "at": "2030-01-01T00:00:00Z" })),
        ),
        ("POST", job("/trigger"), None),
        ("POST", job("/retry"), None),
        ("DELETE", job(""), None),
        (
            "POST",
            "/v1/subscriptions".to_owned(),
            Some(json!({ "url": "https://example.com/events", "events": ["job.failed"] })),
        ),
        ("DELETE", "/v1/subscriptions/sub_nope".to_owned(), None),
        (
            "POST",
            "/v1/endpoints/enable".to_owned(),
            Some(json!({ "origin": "https://example.com" })),
        ),
        ("POST", "/v1/recover".to_owned(), Some(json!({}))),
        ("POST", "/v1/purge".to_owned(), Some(json!({}))),
        (
            "POST",
            "/v1/send-test".to_owned(),
            Some(json!({ "url": "https://example.com/x" })),
        ),
    ];
    for (method, path, body) in reads.iter().chain(&writes) {
        let res = server.call(method, path, None, body.as_ref());
        assert_eq!(res.status().as_u16(), 401, "{method} {path} without a key");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(
            server
                .call(method, path, Some("thk_0000_forged"), body.as_ref())
                .status()
                .as_u16(),
            401
        );
    }
    for (method, path, body) in &reads {
        let res = server.call(method, path, Some(&read), body.as_ref());
        assert_eq!(
            res.status().as_u16(),
            200,
            "{method} {path} with a read key"
        );
    }
    for (method, path, body) in &writes {
        let (status, problem) = server.json(method, path, Some(&read), body.as_ref());
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path} with a read key"
        );
        let status = server
            .call(method, path, Some(&write), body.as_ref())
            .status()
            .as_u16();
        assert!(
            ![401, 403].contains(&status) && status < 500,
            "{method} {path} with a write key: {status}"
        );
    }
    // The health checks and the document are open.
    assert_eq!(
        server.call("GET", "/healthz", None, None).status().as_u16(),
        200
    );
    assert_eq!(
        server.call("GET", "/readyz", None, None).status().as_u16(),
        200
    );
    assert_eq!(
        server
            .call("GET", "/openapi.json", None, None)
            .status()
            .as_u16(),
        200
    );
    // A revoked key stops working without a restart.
    let list: Value =
        serde_json::from_str(&run(&["keys", "list", "--db", &db, "--json"]).1).unwrap();
    let read_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(run(&["keys", "revoke", &read_id, "--db", &db]).0, 0);
    assert_eq!(
        server
            .call("GET", "/v1/jobs", Some(&read), None)
            .status()
            .as_u16(),
        401
    );
}

#[test]
fn a_job_made_over_http_is_delivered_signed_and_its_attempts_are_served() {
    let d = Dir::new();
    let db = d.db();
    let receiver = Receiver::start(204);
    let server = Server::start(&db, &[]);
    let (status, created) = server.json(
        "POST",
        "/v1/jobs",
        None,
        Some(&json!({ "url": format!("{}/hook", receiver.url), "payload": { "user": 42, "note": "naïve" }, "name": "welcome", "labels": ["a"] })),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    until("the delivery", || !receiver.seen().is_empty());
    let got = receiver.seen().remove(0);
    assert_eq!(got.body, r#"{"user":42,"note":"naïve"}"#.as_bytes());
    let verifier =
        timehook::signing::Verifier::new([timehook::signing::Secret::parse(SECRET).unwrap()])
            .unwrap();
    verifier
        .verify(&got.body, &got.headers, chrono::Utc::now().timestamp())
        .expect("signed with Standard Webhooks");
    until("the job to succeed", || {
        server.json("GET", &format!("/v1/jobs/{id}"), None, None).1["state"] == "succeeded"
    });
    let (_, job) = server.json("GET", &format!("/v1/jobs/{id}"), None, None);
    assert_eq!(job["payload"], json!({ "user": 42, "note": "naïve" }));
    // The CLI works on the file the server has open (SQLite WAL), and sees the same job.
    let (code, out, err) = run(&["jobs", "show", &id, "--db", &db, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["job"]["state"],
        "succeeded"
    );
    let (code, _, err) = run(&["jobs", "cancel", &id, "--db", &db]);
    assert_eq!(
        code, 1,
        "a finished job cannot be cancelled, from either side: {err}"
    );
    let (_, attempts) = server.json("GET", &format!("/v1/jobs/{id}/attempts"), None, None);
    assert_eq!(attempts["attempts"][0]["status"], 204);
    assert_eq!(attempts["attempts"][0]["execution_id"], job["execution_id"]);
    // Listing with filters and a cursor (a Link header points at the next page).
    server.json(
        "POST",
        "/v1/jobs",
        None,
        Some(&json!({ "url": format!("{}/later", receiver.url), "after_seconds": 3600 })),
    );
    let res = server.call("GET", "/v1/jobs?limit=1", None, None);
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = res.json().unwrap();
    assert!(
        link.contains(page["next_cursor"].as_str().unwrap()) && link.ends_with("rel=\"next\""),
        "{link}"
    );
    let (_, named) = server.json("GET", "/v1/jobs?name=welcome&state=succeeded", None, None);
    assert_eq!(named["jobs"].as_array().unwrap().len(), 1);
    // The export streams every attempt.
    let csv = server.call("GET", "/v1/attempts/export?format=csv", None, None);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let jsonl = server
        .call(
            "GET",
            &format!("/v1/attempts/export?format=jsonl&job={id}"),
            None,
            None,
        )
        .text()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(jsonl.trim()).unwrap()["job_id"],
        id.as_str()
    );
    // A subscription, and a test delivery to it.
    let (status, sub) = server.json(
        "POST",
        "/v1/subscriptions",
        None,
        Some(&json!({ "url": format!("{}/events", receiver.url), "events": ["job.failed"] })),
    );
    assert_eq!(status, 201);
    let (_, subs) = server.json("GET", "/v1/subscriptions", None, None);
    assert_eq!(subs[0]["id"], sub["id"]);
    let (status, attempt) = server.json(
        "POST",
        "/v1/send-test",
        None,
        Some(&json!({ "url": format!("{}/test", receiver.url), "event": "job.failed" })),
    );
    assert_eq!((status, attempt["status"].as_u64()), (200, Some(204)));
    assert_eq!(
        server
            .call(
                "DELETE",
                &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
                None,
                None
            )
            .status()
            .as_u16(),
        204
    );
    // Metrics count the attempts.
    let metrics = server.call("GET", "/metrics", None, None).text().unwrap();
    assert!(metrics.contains("timehook_attempts_total"), "{metrics}");
    // Open on loopback while no key exists; the first key created closes it, without a restart.
    let write = key(&db, "write");
    assert_eq!(
        server.call("GET", "/v1/jobs", None, None).status().as_u16(),
        401
    );
    assert_eq!(
        server
            .call("GET", "/v1/jobs", Some(&write), None)
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn the_runlater_route_answers_as_its_docs_show() {
    let d = Dir::new();
    let db = d.db();
    let write = key(&db, "write");
    let receiver = Receiver::start(200);
    let server = Server::start(&db, &["--runlater-secret", "rl-secret"]);
    let execute_at = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // The body from RunLater's docs, to a loopback target.
    let body = json!({
        "target_url": format!("{}/api/downgrade", receiver.url),
        "execute_at": execute_at,
        "payload": { "user_id": "u_123", "plan": "free" },
    });
    let (status, answer) = server.json("POST", "/api/schedule", Some(&write), Some(&body));
    assert_eq!(status, 201);
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(answer, json!({ "id": id }));
    assert_eq!(
        server.json("POST", "/api/schedule", None, Some(&body)),
        (401, json!({ "error": "Unauthorized" }))
    );
    assert_eq!(
        server.json("POST", "/api/schedule", Some("rl_live_xxx"), Some(&body)),
        (401, json!({ "error": "Unauthorized" }))
    );
    for bad in [
        json!({ "target_url": "https://example.com" }),
        json!({ "target_url": 5, "execute_at": execute_at }),
        json!({ "target_url": "https://example.com", "execute_at": "soon" }),
    ] {
        assert_eq!(
            server.json("POST", "/api/schedule", Some(&write), Some(&bad)),
            (400, json!({ "error": "Invalid request" })),
            "{bad}"
        );
    }
    // Delivered signed as RunLater signs: its docs' verifier would accept it.
    until("the delivery", || !receiver.seen().is_empty());
    let got = receiver.seen().remove(0);
    let header = |n: &str| {
        got.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(header("x-runlater-job-id"), id);
    let verifier = timehook::profile::Profile::named("runlater")
        .unwrap()
        .verifier("rl-secret")
        .unwrap();
    verifier
        .verify(&got.body, &got.headers, chrono::Utc::now().timestamp())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&got.body).unwrap(),
        json!({ "user_id": "u_123", "plan": "free" })
    );
    // Runlater.eu's job creation, as its curl example sends it.
    let (status, made) = server.json(
        "POST",
        "/api/v1/jobs",
        Some(&write),
        Some(&json!({ "name": "My job", "url": "https://myapp.com/webhook", "cron": "0 * * * *", "headers": { "Authorization": "Bearer my-app-token", "X-Custom-Header": "custom-value" } })),
    );
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["name"], "My job");
    let (_, job) = server.json(
        "GET",
        &format!("/v1/jobs/{}", made["id"].as_str().unwrap()),
        Some(&write),
        None,
    );
    assert_eq!(
        (job["kind"].as_str(), job["cron"].as_str()),
        (Some("cron"), Some("0 * * * *"))
    );
}

#[test]
fn bad_input_never_yields_a_500() {
    let d = Dir::new();
    let db = d.db();
    let server = Server::start(&db, &["--no-deliver", "--body-limit", "65536"]);
    let problem = |status: u16, v: &Value| {
        assert_eq!(v["status"], status, "{v}");
        assert!(
            v["code"].is_string() && v["detail"].is_string() && v["title"].is_string(),
            "{v}"
        );
    };
    // Oversized.
    // Oversized, announced by Content-Length and not (chunked): refused once the body has been
    // read, so the client sees the answer and its pooled connection stays usable.
    let big = json!({ "url": "https://example.com/a", "body": "x".repeat(100_000) });
    for _ in 0..3 {
        let res = server.call("POST", "/v1/jobs", None, Some(&big));
        assert_eq!(res.status().as_u16(), 413);
        assert!(res.headers().get("connection").is_none());
        problem(413, &res.json().unwrap());
        assert_eq!(server.json("GET", "/v1/nothing", None, None).0, 404);
        let chunked = std::io::Cursor::new(big.to_string().into_bytes());
        let res = server
            .client
            .post(format!("{}/v1/jobs", server.url))
            .header("content-type", "application/json")
            .body(reqwest::blocking::Body::new(chunked))
            .send()
            .unwrap();
        assert_eq!(res.status().as_u16(), 413);
        problem(413, &res.json().unwrap());
        assert_eq!(server.json("GET", "/v1/nothing", None, None).0, 404);
    }
    // Far past the limit (more than 8 times it), the server stops reading and closes the
    // connection: the client sees a 413 that says so, or a reset; its next request is answered.
    let huge = json!({ "url": "https://example.com/a", "body": "x".repeat(1_000_000) });
    let res = server
        .client
        .post(format!("{}/v1/jobs", server.url))
        .json(&huge)
        .send();
    if let Ok(res) = res {
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(res.headers()["connection"], "close");
    }
    assert_eq!(server.json("GET", "/v1/nothing", None, None).0, 404);
    assert_eq!(
        server.json("GET", "/v1/jobs?limit=1", None, None).1["jobs"],
        json!([]),
        "nothing refused was stored"
    );
    // Malformed JSON.
    let res = server
        .client
        .post(format!("{}/v1/jobs", server.url))
        .header("content-type", "application/json")
        .body("{\"url\": ")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    problem(400, &res.json().unwrap());
    // An unknown field, named.
    let (status, v) = server.json(
        "POST",
        "/v1/jobs",
        None,
        Some(&json!({ "url": "https://example.com/a", "colour": "red" })),
    );
    assert_eq!((status, v["field"].as_str()), (400, Some("colour")), "{v}");
    // Library refusals name their field and code.
    let (status, v) = server.json(
        "POST",
        "/v1/jobs",
        None,
        Some(&json!({ "url": "https://example.com/a", "cron": "0 99 * * *" })),
    );
    assert_eq!(status, 400, "{v}");
    problem(400, &v);
    let (status, v) = server.json(
        "POST",
        "/v1/jobs",
        None,
        Some(&json!({ "url": "ftp://example.com/a" })),
    );
    assert_eq!(
        (status, v["code"].as_str(), v["field"].as_str()),
        (400, Some("invalid_job"), Some("url")),
        "{v}"
    );
    // Ids that do not exist, and routes that do not.
    for path in [
        "/v1/jobs/job_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "/v1/jobs/not-an-id",
        "/v1/jobs/job_01HZZZZZZZZZZZZZZZZZZZZZZZ/attempts",
        "/v1/nothing",
    ] {
        let (status, v) = server.json("GET", path, None, None);
        assert_eq!(status, 404, "{path}: {v}");
        problem(404, &v);
    }
    for path in [
        "/v1/jobs/job_01HZZZZZZZZZZZZZZZZZZZZZZZ/pause",
        "/v1/jobs/nope/retry",
    ] {
        assert_eq!(server.json("POST", path, None, None).0, 404, "{path}");
    }
    let (status, v) = server.json("GET", "/v1/jobs?state=sleeping", None, None);
    assert_eq!((status, v["field"].as_str()), (400, Some("state")), "{v}");
    let (status, v) = server.json("GET", "/v1/jobs?limit=lots", None, None);
    assert_eq!(status, 400, "{v}");
    let (status, _) = server.json(
        "POST",
        "/v1/subscriptions",
        None,
        Some(&json!({ "url": "https://example.com/e", "events": ["job.exploded"] })),
    );
    assert_eq!(status, 400);
}

#[test]
fn the_body_limit_is_the_one_configured() {
    // axum's extractors cap bodies at 2 MB of their own accord; --body-limit must win, up and
    // down.
    let d = Dir::new();
    let server = Server::start(&d.db(), &["--no-deliver", "--body-limit", "4000000"]);
    let padded = |n: usize| {
        format!(
            "{{\"url\": \"https://example.com/a\",{}\"body\": \"x\"}}",
            " ".repeat(n)
        )
    };
    let post = |body: String| {
        server
            .client
            .post(format!("{}/v1/jobs", server.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(padded(3_000_000)), 201);
    assert_eq!(post(padded(4_000_000)), 413);
}

#[test]
fn the_committed_openapi_document_is_what_the_server_serves() {
    let d = Dir::new();
    let server = Server::start(&d.db(), &["--no-deliver"]);
    let served: Value = server
        .call("GET", "/openapi.json", None, None)
        .json()
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let pretty = format!("{}\n", serde_json::to_string_pretty(&served).unwrap());
    if std::env::var_os("TIMEHOOK_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == pretty,
        "cli/openapi.json differs from what the server serves: regenerate it with TIMEHOOK_WRITE_OPENAPI=1 cargo test -p timehook-cli --test serve"
    );
    for path in [
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/attempts",
        "/v1/subscriptions",
        "/v1/endpoints",
        "/v1/recover",
        "/v1/purge",
        "/v1/attempts/export",
        "/v1/send-test",
        "/metrics",
        "/healthz",
        "/readyz",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path} is documented");
    }
}

#[test]
fn serve_refuses_a_public_address_without_keys_and_stops_on_sigterm() {
    let d = Dir::new();
    let db = d.db();
    let (code, _, err) = run(&[
        "serve",
        "--db",
        &db,
        "--listen",
        "0.0.0.0:0",
        "--no-deliver",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("without API keys"), "{err}");
    let (code, _, err) = run(&["serve", "--db", &db, "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "delivering needs a secret: {err}");
    let mut server = Server::start(&db, &[]);
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a graceful stop");
}
