//! `make bench`: the scheduler's figures, printed one per line. Not a test: nothing here asserts.
//!
//! Run with `cargo bench -p timehook --bench scheduler` (add `-- quick` for smaller sizes). Each figure
//! runs against a real SQLite file in a temporary directory and a real HTTP receiver on 127.0.0.1.

use std::sync::Arc;

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use timehook::{Event, JobSpec, Scheduler};
use tokio::sync::{Mutex, broadcast::error::RecvError};

struct Sizes {
    many: usize,
    single: usize,
    deliveries: usize,
    herd: usize,
    pending: usize,
    crons: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        return rss_child(&args[i + 1], args[i + 2].parse().unwrap());
    }
    if let Some(i) = args.iter().position(|a| a == "--export-child") {
        return export_child(&args[i + 1]);
    }
    let quick = args.iter().any(|a| a == "quick" || a == "--quick");
    let sizes = if quick {
        Sizes {
            many: 100_000,
            single: 5_000,
            deliveries: 10_000,
            herd: 10_000,
            pending: 200_000,
            crons: 20_000,
        }
    } else {
        Sizes {
            many: 300_000,
            single: 20_000,
            deliveries: 30_000,
            herd: 10_000,
            pending: 1_000_000,
            crons: 100_000,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "timehook {} benchmarks ({} mode)",
        timehook::VERSION,
        if quick { "quick" } else { "full" }
    );
    // Further arguments pick figures by name; none runs them all.
    let picked: Vec<&str> = args
        .iter()
        .skip(1)
        .map(String::as_str)
        .filter(|a| !a.starts_with('-') && *a != "quick")
        .collect();
    let run = |name: &str| picked.is_empty() || picked.contains(&name);
    rt.block_on(async {
        if run("schedule_many") {
            schedule_many(sizes.many).await;
        }
        if run("schedule") {
            schedule_single(sizes.single).await;
        }
        if run("deliveries") {
            deliveries(sizes.deliveries).await;
        }
        // Only with a receiver of its own process (bench/deliveries.sh starts one).
        if let Ok(url) = std::env::var("TIMEHOOK_BENCH_RECEIVER") {
            if picked.contains(&"deliveries_external") {
                deliveries_external(&url, 20_000).await;
            }
        }
        if run("backlog") {
            backlog(sizes.pending / 2).await;
        }
        if run("lateness") {
            lateness_idle().await;
            lateness_herd(sizes.herd).await;
        }
    });
    if run("pending") {
        pending_file(&rt, sizes.pending, sizes.crons);
    }
    if run("export") {
        export_rss(&rt, sizes.pending);
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A scheduler on a new file in `dir`, allowed to send to loopback, with every other default.
async fn open_in(dir: &tempfile::TempDir) -> Scheduler {
    Scheduler::builder(dir.path().join("jobs.db"))
        .allow_private_targets(true)
        .open()
        .await
        .unwrap()
}

fn spec(i: usize) -> JobSpec {
    JobSpec::post("http://127.0.0.1:9/hook")
        .json(&serde_json::json!({"n": i}))
        .unwrap()
        .after(Duration::from_secs(3600))
}

async fn schedule_many(n: usize) {
    let dir = tmp();
    let s = open_in(&dir).await;
    let batch = 10_000;
    let start = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(batch) {
        s.schedule_many(chunk.iter().map(|&i| spec(i)))
            .await
            .unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "schedule_many into a file ({n} jobs, batches of {batch}): {:.0} jobs/s",
        n as f64 / secs
    );
    // What the Python and Node benches do: the whole batch in one call, into a new file. Over
    // 10,000 jobs, a batch is checked in full before the first of its transactions; the specs
    // are built inside the timing, as the bindings convert theirs inside theirs.
    for one in [20_000, 100_000] {
        let dir = tmp();
        let s = open_in(&dir).await;
        let start = Instant::now();
        let specs: Vec<JobSpec> = (0..one).map(spec).collect();
        s.schedule_many(specs).await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "schedule_many into a file, one call of {one} jobs: {:.0} jobs/s",
            one as f64 / secs
        );
    }
}

async fn schedule_single(n: usize) {
    let dir = tmp();
    let s = Arc::new(open_in(&dir).await);
    let seq = n / 4;
    // The floors: one write and fdatasync after another on the same file system, in the same
    // run: 4 KB rewriting one block (the cheapest durable write), 4 KB appending (what a commit
    // to a growing WAL does: the file's size changes each time), and the bytes a commit of one
    // job writes to a reused WAL, rewritten (four frames of 4,120 bytes, 32 bytes into the file).
    let probes = seq.min(2000);
    let fsyncs = fsync_rate(dir.path(), probes, 4096, 0, false);
    let appends = fsync_rate(dir.path(), probes, 4096, 0, true);
    let frames = fsync_rate(dir.path(), probes, 4 * 4120, 32, false);
    // A new file's WAL grows with each commit until the log first restarts from its beginning
    // (after about 4,000 frames; a commit here writes four): each of those fdatasyncs also
    // changes the file's size. From then on a running store rewrites the same file. Both phases
    // are measured, one after the other.
    for phase in ["new file, the WAL growing", "the WAL reused"] {
        let start = Instant::now();
        for i in 0..seq {
            s.schedule(spec(i)).await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let rate = seq as f64 / secs;
        println!(
            "single schedule, one caller, durable commit each ({seq} jobs, {phase}): {rate:.0} jobs/s; fdatasync floor {fsyncs:.0}/s rewriting a block, {appends:.0}/s appending, {frames:.0}/s rewriting a commit's 4 frames: {:.0}% / {:.0}% / {:.0}% of them",
            100.0 * rate / fsyncs,
            100.0 * rate / appends,
            100.0 * rate / frames
        );
    }
    let callers = 64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..n / callers {
                s.schedule(spec(c * n + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "single schedule, {callers} concurrent callers, each call returns after its commit ({n} jobs): {:.0} jobs/s",
        n as f64 / secs
    );
}

/// Writes `bytes` bytes and `fdatasync`s them, `n` times, in a new file in `dir` (at `offset` each
/// time, or appending after it): the rate.
fn fsync_rate(dir: &std::path::Path, n: usize, bytes: usize, offset: u64, append: bool) -> f64 {
    use std::io::{Seek, Write};
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).unwrap();
    f.set_len(offset).unwrap();
    let data = vec![7u8; bytes];
    let start = Instant::now();
    for i in 0..n {
        if !append || i == 0 {
            f.seek(std::io::SeekFrom::Start(offset)).unwrap();
        }
        f.write_all(&data).unwrap();
        f.sync_data().unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(path).unwrap();
    rate
}

/// A receiver that answers 200 at once and records when each request arrived.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, Instant)>>>) {
    let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let s2 = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = s2.clone();
        async move {
            let now = Instant::now();
            let tag = headers
                .get("x-due")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if !tag.is_empty() {
                seen.lock().await.push((tag, now));
            }
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// Events per delivery of a user job: `Event::Attempt` and `Event::Job`.
const EVENTS_PER_DELIVERY: usize = 2;

/// Waits until `n` deliveries have been recorded (counted through the event channel, which may lag
/// but always reports how many events were skipped).
async fn wait_for_attempts(
    s: &Scheduler,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    n: usize,
) {
    let _ = s;
    let mut got = 0;
    while got < n * EVENTS_PER_DELIVERY {
        match events.recv().await {
            Ok(_) => got += 1,
            Err(RecvError::Lagged(k)) => got += usize::try_from(k).unwrap(),
            Err(RecvError::Closed) => break,
        }
    }
}

async fn deliveries(n: usize) {
    let (base, _) = receiver().await;
    // One receiver takes every delivery: give it every slot (the default bound per host is 64).
    let rate = deliver_all(&base, n, Some(256)).await;
    println!(
        "deliveries to a loopback receiver, signed, each attempt recorded ({n} jobs, receiver in the same process): {rate:.0}/s"
    );
}

/// `n` jobs due at once for the receiver at `url`, in a process of its own (not sharing this
/// one), with the default bounds (64 in flight per host), or `TIMEHOOK_BOUND` per host. Also the
/// CPU time each delivery cost this process (`bench/deliveries.sh` adds the receiver's: the two
/// share the machine's cores, as oha and the receiver do for its ceiling).
async fn deliveries_external(url: &str, n: usize) {
    let bound: Option<usize> = std::env::var("TIMEHOOK_BOUND")
        .ok()
        .and_then(|v| v.parse().ok());
    let d = deliver_all_timed(url, n, bound).await;
    println!(
        "deliveries to the receiver process, signed, each attempt recorded ({n} jobs, {} in flight): {:.0}/s",
        bound.unwrap_or(64),
        d.rate
    );
    println!(
        "CPU per delivery: timehook {:.1} us (CPU time over the {:.2} s from the start of delivering to the last attempt recorded)",
        d.cpu / n as f64 * 1e6,
        d.secs
    );
}

/// User and system CPU seconds of this process so far, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name (which may hold spaces), from the third on.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ, 100 on every Linux this runs on.
    ticks as f64 / 100.0
}

/// Schedules `n` jobs due at once for `url` into a new file, starts the scheduler, and returns
/// the attempts per second until the last one (signed, sent, each attempt recorded durably).
async fn deliver_all(url: &str, n: usize, per_host: Option<usize>) -> f64 {
    deliver_all_timed(url, n, per_host).await.rate
}

/// How a [`deliver_all_timed`] went.
struct Delivered {
    rate: f64,
    secs: f64,
    /// This process's CPU seconds while delivering.
    cpu: f64,
}

/// As [`deliver_all`], also timing the delivering and the CPU it took.
async fn deliver_all_timed(url: &str, n: usize, per_host: Option<usize>) -> Delivered {
    let dir = tmp();
    let mut builder = Scheduler::builder(dir.path().join("jobs.db")).allow_private_targets(true);
    if let Some(bound) = per_host {
        builder = builder.per_host_concurrency(bound);
    }
    let s = builder.open().await.unwrap();
    s.schedule_many(
        (0..n).map(|i| JobSpec::post(format!("{url}/d")).body(format!("{{\"n\":{i}}}"))),
    )
    .await
    .unwrap();
    let events = s.events();
    let before = cpu_seconds();
    let start = Instant::now();
    s.start().unwrap();
    wait_for_attempts(&s, events, n).await;
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - before;
    s.shutdown(Duration::from_secs(5)).await.unwrap();
    Delivered {
        rate: n as f64 / secs,
        secs,
        cpu,
    }
}

/// A backlog of `n` jobs all due now for one endpoint, delivered with the default bounds (64 in
/// flight per host), so that endpoint is at its bound most of the time: the rate at which the
/// backlog drains, and how long a job for another endpoint, due after the backlog, waits.
async fn backlog(n: usize) {
    let dir = tmp();
    let (base, _) = receiver().await;
    let (other, seen) = receiver().await;
    let s = open_in(&dir).await;
    for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
        s.schedule_many(
            chunk
                .iter()
                .map(|i| JobSpec::post(format!("{base}/b")).body(format!("{{\"n\":{i}}}"))),
        )
        .await
        .unwrap();
    }
    let events = s.events();
    let start = Instant::now();
    s.start().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let due = Instant::now();
    s.schedule(JobSpec::post(format!("{other}/o")).header("x-due", "other"))
        .await
        .unwrap();
    let waited = loop {
        if let Some((_, at)) = seen.lock().await.first() {
            break at.duration_since(due);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    wait_for_attempts(&s, events, n + 1).await;
    let secs = start.elapsed().as_secs_f64();
    s.shutdown(Duration::from_secs(5)).await.unwrap();
    println!(
        "backlog of {n} due jobs for one endpoint (64 in flight): drained at {:.0}/s; a job for another endpoint waited {:.1} ms",
        n as f64 / secs,
        waited.as_secs_f64() * 1000.0
    );
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (p(0.5), p(0.99), *ms.last().unwrap())
}

/// Schedules jobs at known instants and measures when the receiver gets them.
async fn lateness(jobs: usize, spread: Duration, label: &str) {
    let dir = tmp();
    let (base, seen) = receiver().await;
    let s = Scheduler::builder(dir.path().join("jobs.db"))
        .allow_private_targets(true)
        .per_host_concurrency(256)
        .open()
        .await
        .unwrap();
    s.start().unwrap();
    let events = s.events();
    let origin = Instant::now() + Duration::from_millis(500);
    let wall = chrono::Utc::now() + chrono::Duration::milliseconds(500);
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
    wait_for_attempts(&s, events, jobs).await;
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
    println!(
        "firing lateness (receive time - due time), {label}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
}

async fn lateness_idle() {
    lateness(200, Duration::from_secs(4), "idle (200 jobs 20 ms apart)").await;
}

async fn lateness_herd(n: usize) {
    lateness(
        n,
        Duration::from_secs(1),
        &format!("{n} jobs due within the same second"),
    )
    .await;
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Child process: opens the file, starts delivering, and reports reopen time and RSS.
fn rss_child(path: &str, due_url_count: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (base, seen) = receiver().await;
        let _ = (base, due_url_count);
        let before = rss_kb();
        let start = Instant::now();
        let s = Scheduler::builder(path)
            .allow_private_targets(true)
            .open()
            .await
            .unwrap();
        let events = s.events();
        s.start().unwrap();
        // One job in the file is due now; its delivery marks dispatch as resumed.
        wait_for_attempts(&s, events, 1).await;
        let resumed = start.elapsed();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = rss_kb();
        s.shutdown(Duration::from_secs(1)).await.unwrap();
        let _ = seen;
        println!("{} {} {}", resumed.as_secs_f64() * 1000.0, before, after);
    });
}

fn pending_file(rt: &tokio::runtime::Runtime, pending: usize, crons: usize) {
    let dir = tmp();
    let path = dir.path().join("jobs.db");
    let probe = |label: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--rss-child", path.to_str().unwrap(), "0"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default().to_owned();
        let v: Vec<f64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() == 3 {
            println!(
                "{label}: reopen until dispatch resumed {:.0} ms; RSS at open {:.1} MB, after 3 s delivering {:.1} MB",
                v[0],
                v[1] / 1024.0,
                v[2] / 1024.0
            );
        } else {
            println!(
                "{label}: probe failed: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    let fill = |from: usize, to: usize, cron_from: usize, cron_to: usize| {
        rt.block_on(async {
            let (base, _) = receiver().await;
            let s = Scheduler::builder(&path)
                .allow_private_targets(true)
                .open()
                .await
                .unwrap();
            for chunk in (from..to).collect::<Vec<_>>().chunks(20_000) {
                s.schedule_many(chunk.iter().map(|&i| {
                    JobSpec::post(format!("{base}/p"))
                        .body(format!("{{\"n\":{i}}}"))
                        .after(Duration::from_secs(86_400 + i as u64))
                }))
                .await
                .unwrap();
            }
            for chunk in (cron_from..cron_to).collect::<Vec<_>>().chunks(20_000) {
                s.schedule_many(chunk.iter().map(|&i| {
                    JobSpec::cron(format!("{base}/c"), format!("{} {} * * *", i % 60, i % 24))
                }))
                .await
                .unwrap();
            }
            // One job due now, for the probe to see dispatch resume.
            s.schedule(JobSpec::post(format!("{base}/now")))
                .await
                .unwrap();
        })
    };
    let small = pending / 100;
    fill(0, small, 0, crons / 100);
    probe(&format!(
        "file with {small} pending + {} cron jobs",
        crons / 100
    ));
    fill(small, pending, crons / 100, crons);
    probe(&format!("file with {pending} pending + {crons} cron jobs"));
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("  (file size {:.0} MB)", size as f64 / 1e6);
}

/// Child process: exports the whole attempt log of the file to a sink and reports rows, time and RSS.
fn export_child(path: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = Scheduler::builder(path)
            .allow_private_targets(true)
            .open()
            .await
            .unwrap();
        let before = rss_kb();
        let start = Instant::now();
        let rows = s
            .export_attempts(
                &timehook::ExportFilter::default(),
                timehook::ExportFormat::Csv,
                std::io::sink(),
            )
            .await
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!("{rows} {secs} {before} {}", rss_kb());
    });
}

/// Delivers `n` jobs so the file holds `n` attempt rows, then exports them in a fresh process.
fn export_rss(rt: &tokio::runtime::Runtime, n: usize) {
    let dir = tmp();
    let path = dir.path().join("jobs.db");
    rt.block_on(async {
        let (base, _) = receiver().await;
        let s = Scheduler::builder(&path)
            .allow_private_targets(true)
            .max_concurrency(512)
            .per_host_concurrency(256)
            .open()
            .await
            .unwrap();
        s.start().unwrap();
        // A chunk at a time: the log is what is measured here, not a backlog of due jobs.
        for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
            let events = s.events();
            s.schedule_many(
                chunk
                    .iter()
                    .map(|&i| JobSpec::post(format!("{base}/x")).body(format!("{{\"n\":{i}}}"))),
            )
            .await
            .unwrap();
            wait_for_attempts(&s, events, chunk.len()).await;
        }
        s.shutdown(Duration::from_secs(5)).await.unwrap();
    });
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--export-child", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() == 4 {
        println!(
            "export of {:.0} attempt rows as CSV: {:.0} rows/s; RSS {:.1} MB before, {:.1} MB after",
            v[0],
            v[0] / v[1],
            v[2] / 1024.0,
            v[3] / 1024.0
        );
    } else {
        println!(
            "export probe failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
