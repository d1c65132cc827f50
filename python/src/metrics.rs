//! `timehook.metrics`: the scheduler's metrics in the Prometheus text format.

use pyo3::prelude::*;

use crate::errors::IntoPyErr;

/// Installs the Prometheus recorder for the scheduler's metrics. Idempotent.
#[pyfunction]
pub fn enable_metrics() -> PyResult<()> {
    timehook_bindings::metrics::enable().map_err(IntoPyErr::into_py_err)
}

/// Every metric recorded since `enable_metrics`, in the Prometheus text format.
#[pyfunction]
pub fn metrics_text(py: Python<'_>) -> String {
    py.detach(timehook_bindings::metrics::render)
}
