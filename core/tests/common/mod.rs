//! A real HTTP receiver on 127.0.0.1 for the scheduler's tests. It verifies every signature it gets
//! and answers according to the path:
//!
//! | path | answer |
//! |---|---|
//! | `/ok`, `/events`, `/cb/...` | 200 |
//! | `/status/{code}` | that status |
//! | `/flaky/{n}` | 500 for the first `n` requests of each `webhook-id`, then 200 |
//! | `/slow/{ms}` | 200 after `ms` milliseconds |
//! | `/retry-after/{secs}` | 429 with `Retry-After: secs` the first time per `webhook-id`, then 200 |
//! | `/redirect` | 302 to `/ok` |
//! | `/big/{n}` | 200 with an `n`-byte body |
//! | `/hang` | never answers while the receiver's `hang` flag is set; 200 once it is cleared |
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use timehook::signing::Verifier;
use tokio::sync::mpsc;

/// A request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `Ok` if the signature verified, else the error code.
    pub verified: Result<(), String>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id").expect("webhook-id header")
    }
}

type NowFn = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Shared {
    verifier: Mutex<Option<Verifier>>,
    now: NowFn,
    seen: Mutex<Vec<Received>>,
    per_id: Mutex<HashMap<String, u32>>,
    hang: AtomicBool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    tx: mpsc::UnboundedSender<Received>,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver that verifies with the system clock.
    pub async fn start() -> Receiver {
        Self::start_with_clock(Arc::new(|| chrono::Utc::now().timestamp())).await
    }

    /// Starts a receiver whose `now` for verification comes from `now`.
    pub async fn start_with_clock(now: NowFn) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            verifier: Mutex::new(None),
            now,
            seen: Mutex::new(Vec::new()),
            per_id: Mutex::new(HashMap::new()),
            hang: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            tx,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            base,
            shared,
            rx: tokio::sync::Mutex::new(rx),
            _server: server,
        }
    }

    /// Verify incoming signatures with `verifier` from now on.
    pub fn set_verifier(&self, verifier: Verifier) {
        *self.shared.verifier.lock().unwrap() = Some(verifier);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Received> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The most requests this receiver was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Clears the hang flag: `/hang` answers 200 from now on.
    pub fn stop_hanging(&self) {
        self.shared.hang.store(false, Ordering::SeqCst);
    }

    /// Waits (up to 20 s) for the next request.
    pub async fn next(&self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.rx.lock().await.recv())
            .await
            .expect("a request arrives within 20 s")
            .expect("receiver running")
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().to_string();
    let headers: HeaderMap = request.headers().clone();
    let body: Bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let header_list: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let verified = match &*shared.verifier.lock().unwrap() {
        Some(v) => v
            .verify(&body, &header_list, (shared.now)())
            .map_err(|e| e.code().to_owned()),
        None => Err("no_verifier".to_owned()),
    };
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let count = {
        let mut per_id = shared.per_id.lock().unwrap();
        let c = per_id.entry(format!("{path} {id}")).or_default();
        *c += 1;
        *c
    };
    let received = Received {
        path: path.clone(),
        method,
        headers: header_list,
        body: body.to_vec(),
        verified,
    };
    shared.seen.lock().unwrap().push(received.clone());
    let _ = shared.tx.send(received);
    let now_in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared
        .max_in_flight
        .fetch_max(now_in_flight, Ordering::SeqCst);
    let response = answer(&shared, &path, count).await;
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn answer(shared: &Shared, path: &str, count: u32) -> Response {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["ok"] | ["events"] | ["cb", ..] => (StatusCode::OK, "ok").into_response(),
        ["status", code] => {
            let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
            (code, format!("status {code}")).into_response()
        }
        ["flaky", n] if count <= n.parse::<u32>().unwrap() => {
            (StatusCode::INTERNAL_SERVER_ERROR, "flaky").into_response()
        }
        ["flaky", _] => (StatusCode::OK, "recovered").into_response(),
        ["slow", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            (StatusCode::OK, "slow").into_response()
        }
        ["retry-after", secs] if count == 1 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
            "slow down",
        )
            .into_response(),
        ["retry-after", _] => (StatusCode::OK, "ok").into_response(),
        ["big", n] => (StatusCode::OK, "x".repeat(n.parse().unwrap())).into_response(),
        ["redirect"] => (StatusCode::FOUND, [("location", "/ok")], "moved").into_response(),
        ["hang"] => {
            while shared.hang.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (StatusCode::OK, "done hanging").into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no such path").into_response(),
    }
}

/// Which store a conformance test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty store for one test: a SQLite file in a temporary directory, or a schema of its
/// own in the test PostgreSQL server (`TIMEHOOK_TEST_POSTGRES_URL`, which `make test` provides),
/// dropped afterwards. [`TestStore::builder`] opens the same store every time, so reopening it is a
/// restart.
pub struct TestStore {
    pub backend: Backend,
    dir: tempfile::TempDir,
    schema: String,
}

/// The test PostgreSQL server's URL. Without one the PostgreSQL half of the suite fails: it is
/// never skipped.
pub fn postgres_url() -> String {
    std::env::var("TIMEHOOK_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "TIMEHOOK_TEST_POSTGRES_URL is not set: run `make test`, or `bash tests/with-postgres.sh \
             cargo test`, or point it at a PostgreSQL server (postgresql://user:pass@host:port/db)"
        )
    })
}

/// A schema name no other test uses.
pub fn unique_schema() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

impl TestStore {
    pub fn new(backend: Backend) -> TestStore {
        if backend == Backend::Postgres {
            postgres_url();
        }
        TestStore {
            backend,
            dir: tempfile::tempdir().unwrap(),
            schema: unique_schema(),
        }
    }

    /// Where the store is: a file path or a URL.
    pub fn location(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.dir.path().join("jobs.db").display().to_string(),
            Backend::Postgres => {
                let url = postgres_url();
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}schema={}", self.schema)
            }
        }
    }

    /// A builder for this store. The tests deliver to receivers on 127.0.0.1, so they let the
    /// SSRF guard through to private addresses (the guard's own tests use
    /// [`TestStore::guarded_builder`]).
    pub fn builder(&self) -> timehook::SchedulerBuilder {
        self.guarded_builder().allow_private_targets(true)
    }

    /// A builder for this store with the SSRF guard as it is by default.
    pub fn guarded_builder(&self) -> timehook::SchedulerBuilder {
        timehook::Scheduler::builder(self.location())
    }

    /// Runs SQL on the store directly, outside timehook (tests that damage a row on purpose).
    /// Tables are named without a schema.
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => rusqlite::Connection::open(self.location())
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Backend::Postgres => {
                let (client, conn) =
                    tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("SET search_path TO \"{}\"; {sql}", self.schema))
                    .await
                    .unwrap();
            }
        }
    }

    /// Another fresh store of the same backend.
    pub fn another(&self) -> TestStore {
        TestStore::new(self.backend)
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let (url, schema) = (postgres_url(), self.schema.clone());
        // A runtime of its own on a thread of its own: Drop may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Runs one async test against both stores: `name::sqlite` and `name::postgres`. The test's
/// body gets `$store: TestStore`; its attributes (`#[tokio::test(...)]`) apply to both.
#[macro_export]
macro_rules! conformance {
    ($(#[$attr:meta])* async fn $name:ident($store:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($store: $crate::common::TestStore) $body

            $(#[$attr])*
            async fn sqlite() {
                run($crate::common::TestStore::new($crate::common::Backend::Sqlite)).await
            }

            $(#[$attr])*
            async fn postgres() {
                run($crate::common::TestStore::new($crate::common::Backend::Postgres)).await
            }
        }
    };
}

/// A fixed instant for manual clocks: 2025-01-15 10:00:00 UTC.
pub fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_736_935_200, 0).unwrap()
}

/// A URL on 127.0.0.1 where nothing listens.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/nothing")
}
