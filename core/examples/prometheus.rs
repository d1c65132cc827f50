//! Exposes timehook's metrics to Prometheus: `cargo run -p timehook --example prometheus`, then
//! scrape `http://127.0.0.1:9464/metrics`. Schedules a few jobs to a local receiver so there is
//! something to see; set `TIMEHOOK_EXAMPLE_ONCE=1` to print the metrics once and exit.
//!
//! timehook records through the `metrics` facade: `timehook_attempts_total{outcome}`,
//! `timehook_attempt_duration_seconds`, `timehook_lateness_seconds`, `timehook_pending_executions`
//! and `timehook_failed_jobs`. Any `metrics` recorder works; this one renders the Prometheus text
//! format.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
use timehook::{JobSpec, Scheduler};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new().install_recorder()?;

    // A receiver that accepts everything, and a few jobs for it.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", receiver.local_addr()?);
    let app = Router::new().fallback(|| async { StatusCode::OK });
    tokio::spawn(async move { axum::serve(receiver, app).await });

    let scheduler = Scheduler::in_memory()
        .allow_private_targets(true)
        .open()
        .await?;
    scheduler.start()?;
    scheduler
        .schedule_many((0..20).map(|_| JobSpec::post(format!("{base}/hook"))))
        .await?;

    if std::env::var_os("TIMEHOOK_EXAMPLE_ONCE").is_some() {
        let mut events = scheduler.events();
        let mut seen = 0;
        while seen < 20 {
            if let Ok(timehook::Event::Attempt { .. }) = events.recv().await {
                seen += 1;
            }
        }
        print!("{}", handle.render());
        scheduler.shutdown(Duration::from_secs(5)).await?;
        return Ok(());
    }

    let metrics = Router::new().route("/metrics", get(move || async move { handle.render() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
    println!("metrics on http://127.0.0.1:9464/metrics");
    axum::serve(listener, metrics).await?;
    Ok(())
}
