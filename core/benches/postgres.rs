//! timehook's figures on PostgreSQL, for `bench/postgres.sh` (which runs the peers beside them and
//! prints the ratios). Not a test: nothing here asserts.
//!
//! `cargo bench -p timehook --bench postgres -- FIGURE [ARGS]` with TIMEHOOK_TEST_POSTGRES_URL set
//! (tests/with-postgres.sh sets it). Each figure prints one `result NAME VALUE UNIT` line for the
//! script and one line for people. Figures:
//! - `enqueue N BATCH`: N one-time jobs scheduled with `schedule_many` in batches of BATCH;
//! - `deliver N RECEIVER PROCESSES`: N jobs due now, delivered to RECEIVER (a URL) by PROCESSES
//!   processes sharing the database (claim, signed request, attempt recorded);
//! - `lateness`: firing lateness, idle and with 10k jobs due in the same second (receiver in the
//!   process, as in the SQLite figures);
//! - `cron SECONDS PROCESSES`: an every-second cron job run by PROCESSES processes for SECONDS:
//!   how many slots fired once, twice, or not at all.
//!
//! The schedulers keep the default per-host bound (64 in flight), unless `TIMEHOOK_BOUND` says
//! otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use timehook::{JobSpec, Scheduler, signing::Secret};
use tokio::sync::Mutex;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn server_url() -> String {
    std::env::var("TIMEHOOK_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("TIMEHOOK_TEST_POSTGRES_URL"))
        .expect("TIMEHOOK_TEST_POSTGRES_URL (run under tests/with-postgres.sh)")
}

/// A store on a fresh schema.
fn fresh() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let url = server_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema=bench_{}_{nanos}", std::process::id())
}

async fn open(location: &str) -> Scheduler {
    let bound: usize = std::env::var("TIMEHOOK_BOUND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    Scheduler::builder(location)
        .allow_private_targets(true)
        .per_host_concurrency(bound)
        .secret(Secret::parse(SECRET).unwrap())
        .open()
        .await
        .unwrap()
}

async fn sql() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn schema_of(location: &str) -> String {
    location.rsplit("schema=").next().unwrap().to_owned()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    rt.block_on(async {
        match arg(0) {
            "--deliver-child" => deliver_child(arg(1)).await,
            "enqueue" => enqueue(arg(1).parse().unwrap(), arg(2).parse().unwrap()).await,
            "deliver" => {
                deliver(arg(1).parse().unwrap(), arg(2), arg(3).parse().unwrap()).await;
            }
            "lateness" => {
                lateness(
                    200,
                    Duration::from_secs(4),
                    "idle (200 jobs 20 ms apart)",
                    "idle",
                )
                .await;
                lateness(
                    10_000,
                    Duration::from_secs(1),
                    "10000 jobs due within the same second",
                    "herd",
                )
                .await;
            }
            "cron" => cron(arg(1).parse().unwrap(), arg(2).parse().unwrap()).await,
            other => panic!("unknown figure {other:?}"),
        }
    });
}

/// A child process: delivers from `location` until killed.
async fn deliver_child(location: &str) {
    let s = open(location).await;
    s.start().unwrap();
    println!("ready");
    std::future::pending::<()>().await;
}

/// Child processes delivering from `location`; killed when dropped.
struct Children(Vec<std::process::Child>);

impl Children {
    fn spawn(location: &str, n: usize) -> Children {
        use std::io::BufRead;
        let mut children = Vec::new();
        for _ in 0..n {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--deliver-child", location])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "ready");
            children.push(child);
        }
        Children(children)
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn enqueue(n: usize, batch: usize) {
    let location = fresh();
    let s = open(&location).await;
    let start = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(batch) {
        s.schedule_many(chunk.iter().map(|&i| {
            JobSpec::post("http://127.0.0.1:9/hook")
                .json(&serde_json::json!({ "n": i }))
                .unwrap()
                .after(Duration::from_secs(86_400))
        }))
        .await
        .unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("result enqueue {rate:.0} jobs/s");
    println!("enqueue {n} one-time jobs in batches of {batch} (schedule_many): {rate:.0} jobs/s");
}

async fn deliver(n: usize, receiver: &str, processes: usize) {
    let location = fresh();
    let s = open(&location).await;
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        s.schedule_many(chunk.iter().map(|&i| {
            JobSpec::post(format!("{receiver}/d"))
                .json(&serde_json::json!({ "n": i }))
                .unwrap()
        }))
        .await
        .unwrap();
    }
    let schema = schema_of(&location);
    let client = sql().await;
    let count = format!("SELECT count(*) FROM \"{schema}\".jobs WHERE state = 'succeeded'");
    let start = Instant::now();
    let _children = Children::spawn(&location, processes.saturating_sub(1));
    s.start().unwrap();
    loop {
        let done: i64 = client.query_one(&count, &[]).await.unwrap().get(0);
        if done as usize >= n {
            break;
        }
        // The count costs the server too: look rarely (at most 1 % of a 20k run).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    s.shutdown(Duration::from_secs(5)).await.unwrap();
    println!("result deliver{processes} {rate:.0} deliveries/s");
    println!(
        "claim -> signed delivery -> record, {n} jobs, {processes} process(es), receiver in its own process: {rate:.0}/s"
    );
}

/// A receiver that answers 200 at once and records when each request arrived.
async fn timing_receiver() -> (String, Arc<Mutex<Vec<(String, Instant)>>>) {
    let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let s2 = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = s2.clone();
        async move {
            let now = Instant::now();
            if let Some(tag) = headers.get("x-due").and_then(|v| v.to_str().ok()) {
                seen.lock().await.push((tag.to_owned(), now));
            }
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (p(0.5), p(0.99), *ms.last().unwrap())
}

async fn lateness(jobs: usize, spread: Duration, label: &str, name: &str) {
    let location = fresh();
    let (base, seen) = timing_receiver().await;
    let s = Scheduler::builder(location.as_str())
        .allow_private_targets(true)
        .secret(Secret::parse(SECRET).unwrap())
        .per_host_concurrency(256)
        .open()
        .await
        .unwrap();
    s.start().unwrap();
    let origin = Instant::now() + Duration::from_millis(800);
    let wall = chrono::Utc::now() + chrono::Duration::milliseconds(800);
    let step = spread.as_nanos() / jobs as u128;
    let specs: Vec<JobSpec> = (0..jobs)
        .map(|i| {
            let offset = Duration::from_nanos(u64::try_from(step * i as u128).unwrap());
            JobSpec::post(format!("{base}/l"))
                .header("x-due", offset.as_nanos().to_string())
                .at(wall + chrono::Duration::from_std(offset).unwrap())
        })
        .collect();
    for chunk in specs.chunks(5_000) {
        s.schedule_many(chunk.to_vec()).await.unwrap();
    }
    while seen.lock().await.len() < jobs {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.shutdown(Duration::from_secs(5)).await.unwrap();
    let late: Vec<f64> = seen
        .lock()
        .await
        .iter()
        .map(|(tag, at)| {
            let due = origin + Duration::from_nanos(tag.parse().unwrap());
            at.saturating_duration_since(due).as_secs_f64() * 1000.0
        })
        .collect();
    let (p50, p99, max) = percentiles(late);
    println!("result lateness_{name}_p99 {p99:.2} ms");
    println!(
        "firing lateness on PostgreSQL (receive time - due time), {label}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
}

async fn cron(seconds: u64, processes: usize) {
    let location = fresh();
    let (base, seen) = timing_receiver().await;
    let s = open(&location).await;
    let id = s
        .schedule(JobSpec::cron(format!("{base}/c"), "* * * * * *").header("x-due", "cron"))
        .await
        .unwrap();
    let children = Children::spawn(&location, processes);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    s.pause(&id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(children);
    let client = sql().await;
    let schema = schema_of(&location);
    let rows = client
        .query(
            &format!(
                "SELECT scheduled_for, count(*) FROM \"{schema}\".executions
                 WHERE job_id = $1 GROUP BY scheduled_for ORDER BY scheduled_for"
            ),
            &[&id.as_str()],
        )
        .await
        .unwrap();
    let slots: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let twice = slots.iter().filter(|(_, n)| *n > 1).count();
    let span = slots.last().map_or(0, |l| (l.0 - slots[0].0) / 1000 + 1);
    let missed = usize::try_from(span).unwrap() - slots.len();
    let requests = seen.lock().await.len();
    println!("result cron_slots {} slots", slots.len());
    println!("result cron_twice {twice} slots");
    println!("result cron_missed {missed} slots");
    println!(
        "every-second cron, {processes} processes, {seconds} s: {} slots fired, {twice} twice, {missed} missed; {requests} requests received",
        slots.len()
    );
}
