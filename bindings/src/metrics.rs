//! The scheduler's metrics for Python and Node, in the Prometheus text format.
//!
//! The core records through the `metrics` facade (`timehook_attempts_total{outcome}`,
//! `timehook_attempt_duration_seconds`, `timehook_lateness_seconds`,
//! `timehook_pending_executions`, `timehook_failed_jobs`). A Rust program installs its own
//! recorder; a Python or Node program calls [`enable`] once (before opening schedulers, so nothing
//! is missed) and [`render`] from its `/metrics` handler.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::{BindingError, ErrorCode, Result};

static HANDLE: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs a Prometheus recorder as the process's `metrics` recorder. Idempotent.
///
/// # Errors
/// `invalid_config` if another `metrics` recorder was installed first (by another library).
pub fn enable() -> Result<()> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map(|_| ())
        .map_err(|e| {
            BindingError::new(
                ErrorCode::InvalidConfig,
                format!("cannot enable timehook metrics: {e}"),
            )
        })
}

/// Whether [`enable`] has succeeded.
pub fn enabled() -> bool {
    matches!(HANDLE.get(), Some(Ok(_)))
}

/// Every metric recorded since [`enable`], in the Prometheus text exposition format. Empty
/// before [`enable`].
pub fn render() -> String {
    match HANDLE.get() {
        Some(Ok(handle)) => {
            handle.run_upkeep();
            handle.render()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_render_as_prometheus_text() {
        enable().expect("enable");
        enable().expect("enabling twice is a no-op");
        assert!(enabled());
        metrics::counter!("timehook_test_total", "outcome" => "success").increment(3);
        let text = render();
        assert!(
            text.contains("timehook_test_total{outcome=\"success\"} 3"),
            "{text}"
        );
    }
}
