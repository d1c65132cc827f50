//! `make demo`: timehook's main job on an embedded SQLite file.
//!
//! Opens a file, starts a local receiver that verifies every signature, schedules a job that
//! succeeds, one that fails once and then succeeds on retry, one that fails for good (and reports
//! it to a failure callback), and a cron job every 3 seconds; prints each attempt and outcome as
//! it happens, the callback as the receiver gets it, then a summary. Finishes by itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use timehook::signing::Verifier;
use timehook::{Event, JobSpec, ListFilter, RetryPolicy, Scheduler};
use tokio::sync::broadcast;

/// How long the demo lets the scheduler run.
const RUN_FOR: Duration = Duration::from_secs(12);

struct ReceiverState {
    verifier: Verifier,
    seen: Mutex<HashMap<String, u32>>,
}

/// The receiver: verifies the signature, then answers by path.
async fn receive(
    State(state): State<Arc<ReceiverState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = state.verifier.verify(&body, pairs, now) {
        println!("  receiver: rejected {} ({e})", uri.path());
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers["webhook-id"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    let count = {
        let mut seen = state.seen.lock().expect("lock");
        let c = seen.entry(id).or_default();
        *c += 1;
        *c
    };
    match uri.path() {
        "/callback" => {
            let outcome: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            println!(
                "  receiver: failure callback for {}: {}, HTTP {}",
                outcome["job_name"].as_str().unwrap_or_default(),
                outcome["status"].as_str().unwrap_or_default(),
                outcome["response_code"]
            );
            StatusCode::OK
        }
        "/flaky" if count == 1 => StatusCode::SERVICE_UNAVAILABLE,
        "/gone" => StatusCode::GONE,
        _ => StatusCode::OK,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("timehook-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("jobs.db");
    println!(
        "timehook {} demo: store {}",
        timehook::VERSION,
        path.display()
    );

    let scheduler = Scheduler::builder(&path)
        .allow_private_targets(true)
        .default_retry(RetryPolicy::delays([Duration::from_secs(2)]))
        .open()
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = Arc::new(ReceiverState {
        verifier: scheduler.verifier().clone(),
        seen: Mutex::new(HashMap::new()),
    });
    let app = Router::new().fallback(receive).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("receiver listening on {base}, verifying with the scheduler's secret\n");

    let mut events = scheduler.events();
    let names: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let printer_names = names.clone();
    let printer = tokio::spawn(async move {
        loop {
            let (attempt, state) = match events.recv().await {
                Ok(Event::Attempt { attempt, state }) => (attempt, state),
                Ok(Event::Job { event, outcome }) => {
                    println!(
                        "{} {:<10} event {event}",
                        outcome.executed_at.format("%H:%M:%S%.3f"),
                        outcome.job_name.as_deref().unwrap_or_default(),
                    );
                    continue;
                }
                // Other events, or some missed by a slow printer: go on with the next.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let name = printer_names
                .lock()
                .expect("lock")
                .get(attempt.job_id.as_str())
                .cloned()
                // The scheduler's own deliveries: here, the failure callback.
                .unwrap_or_else(|| "(callback)".to_owned());
            let outcome = match (attempt.status, attempt.error) {
                (Some(s), None) => format!("HTTP {s}"),
                (Some(s), Some(e)) => format!("HTTP {s} ({e})"),
                (None, Some(e)) => format!("{e}: {}", attempt.message.unwrap_or_default()),
                (None, None) => "?".into(),
            };
            let next = attempt
                .next_retry_at
                .map(|t| format!(", retry at {}", t.format("%H:%M:%S")))
                .unwrap_or_default();
            println!(
                "{} {:<10} attempt {} -> {:<24} job is {}{}",
                attempt.started_at.format("%H:%M:%S%.3f"),
                name,
                attempt.number,
                outcome,
                state,
                next
            );
        }
    });

    let jobs = [
        (
            "succeeds",
            JobSpec::post(format!("{base}/ok"))
                .json(&serde_json::json!({"event": "trial.ended"}))?,
        ),
        (
            "retried",
            JobSpec::post(format!("{base}/flaky")).after(Duration::from_secs(1)),
        ),
        (
            "fails",
            JobSpec::post(format!("{base}/gone"))
                .after(Duration::from_secs(2))
                .on_failure(format!("{base}/callback")),
        ),
        (
            "cron",
            JobSpec::cron(format!("{base}/tick"), "*/3 * * * * *"),
        ),
    ];
    for (name, spec) in jobs {
        let id = scheduler.schedule(spec.name(name)).await?;
        names
            .lock()
            .expect("lock")
            .insert(id.to_string(), name.to_owned());
        println!("scheduled {name:<8} {id}");
    }
    println!();

    scheduler.start()?;
    tokio::time::sleep(RUN_FOR).await;
    scheduler.shutdown(Duration::from_secs(5)).await?;
    printer.abort();

    println!("\nsummary");
    for job in scheduler.list(&ListFilter::default()).await? {
        let attempts = scheduler.attempts(&job.id).await?;
        let ok = attempts.iter().filter(|a| a.succeeded()).count();
        println!(
            "  {:<8} {:<5} {:<10} {} attempt(s), {} delivered",
            job.name.unwrap_or_default(),
            format!("{:?}", job.kind).to_lowercase(),
            job.state.to_string(),
            attempts.len(),
            ok
        );
    }
    drop(scheduler);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
