//! What the CLI and server tests share: the real binary, real store files, and a real receiver
//! on 127.0.0.1.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

/// The `timehook` binary cargo built for these tests.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_timehook"));
    // Nothing from the developer's environment leaks in.
    for var in [
        "TIMEHOOK_DB",
        "TIMEHOOK_KEYS",
        "TIMEHOOK_SECRET",
        "TIMEHOOK_LOG",
        "TIMEHOOK_LISTEN",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs the binary with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = bin().args(args).output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary and parses its stdout as JSON, checking it exited 0.
pub fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

/// A temporary directory with a store path in it.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn db(&self) -> String {
        self.path("jobs.db").to_string_lossy().into_owned()
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A receiver on 127.0.0.1 answering `status` to everything, on a runtime of its own.
pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    pub fn start(status: u16) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let record = seen.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(Received {
                        path: uri.path().to_owned(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body: body.to_vec(),
                    });
                    (
                        StatusCode::from_u16(status).unwrap(),
                        "answer from the receiver",
                    )
                }
            },
        );
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url,
            seen,
            _runtime: runtime,
        }
    }

    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }
}

/// What a store holds, as the CLI reads it (every job, with bodies, and every attempt), to show
/// that a command changed nothing. (The file's bytes are no measure: SQLite moves pages from the
/// WAL into the file when a connection closes.)
pub fn snapshot(db: &str) -> String {
    let (code, jobs, err) = run(&["jobs", "list", "--db", db, "--limit", "1000", "--json"]);
    assert_eq!(code, 0, "{err}");
    let (code, attempts, err) = run(&["export", "--db", db, "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    format!("{jobs}\n{attempts}")
}
