//! `enableMetrics` and `metricsText`: the scheduler's metrics in the Prometheus text format.

use napi::Env;
use napi_derive::napi;

use crate::errors::IntoNapi;

/// Installs the Prometheus recorder for the scheduler's metrics (idempotent). Call it before
/// opening schedulers, so nothing is missed. Throws `invalid_config` if another `metrics`
/// recorder is installed in the process.
#[napi]
pub fn enable_metrics(env: &Env) -> napi::Result<()> {
    timehook_bindings::metrics::enable().map_err(|e| e.into_napi(env))
}

/// Every metric recorded since `enableMetrics()`, in the Prometheus text exposition format
/// (`timehook_attempts_total{outcome}`, `timehook_attempt_duration_seconds`,
/// `timehook_lateness_seconds`, `timehook_pending_executions`, `timehook_failed_jobs`); empty
/// before it.
#[napi]
pub fn metrics_text() -> String {
    timehook_bindings::metrics::render()
}
