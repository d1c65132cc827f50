//! The Rust side of `bench/peers.sh`'s `schedule_many` rows: stores `n` one-time jobs (a URL, due
//! in an hour, a small JSON payload) into a fresh SQLite file with the default durability (full),
//! the scheduler not delivering, in one `schedule_many` call, as `bench/peers/timehook_enqueue.py`
//! and `timehook-enqueue.mjs` do from Python and Node. The clock covers building the jobs (the
//! bindings convert theirs inside their timing), checking and storing them. Afterwards the stored
//! jobs are counted; a wrong count panics.
//!
//! `cargo run --release -p timehook --example bench_enqueue -- <jobs>` prints
//! `result rust_many_<jobs> <jobs> <jobs/s>`.

use std::time::{Duration, Instant};

use timehook::{JobSpec, ListFilter, Scheduler};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("usage: bench_enqueue <jobs>");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let s = Scheduler::builder(dir.path().join("jobs.db"))
            .open()
            .await
            .expect("a store");
        let start = Instant::now();
        let specs: Vec<JobSpec> = (0..n)
            .map(|i| {
                JobSpec::post(format!("https://example.com/hooks/{}", i % 100))
                    .after(Duration::from_secs(3600))
                    .json(&serde_json::json!({"account": i, "plan": "free"}))
                    .expect("a JSON payload")
            })
            .collect();
        s.schedule_many(specs).await.expect("stored");
        let secs = start.elapsed().as_secs_f64();
        let (mut stored, mut after) = (0, None);
        loop {
            let mut filter = ListFilter::default();
            filter.limit = Some(10_000);
            filter.after = after;
            let page = s.list(&filter).await.expect("a page of jobs");
            stored += page.len();
            match page.last() {
                Some(last) => after = Some(last.id.clone()),
                None => break,
            }
        }
        assert_eq!(stored, n, "jobs stored");
        println!("result rust_many_{n} {n} {}", (n as f64 / secs).round());
    });
}
