//! The native module `timehook._native`, built by maturin into the `timehook` Python package.
//!
//! Each file holds one exposed type; the logic they share with Node lives in `timehook-bindings`.
//! Binding bodies only convert: Python values in (`convert`, `jobs`, `options`), plain records out (`records`), errors through
//! `IntoPyErr`, and every blocking call through `bridge` (GIL released, or asyncio).

mod bridge;
mod clock;
mod convert;
mod errors;
mod jobs;
mod json;
mod listener;
mod metrics;
mod options;
mod outcomes;
mod records;
mod scheduler;
mod signing;

use pyo3::prelude::*;

/// The native part of the `timehook` package. Use the `timehook` package instead.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", timehook_bindings::VERSION)?;
    m.add("ERROR_CODES", errors::all_codes())?;
    m.add("MEMORY_PATH", timehook_bindings::MEMORY_PATH)?;
    m.add_class::<scheduler::NativeScheduler>()?;
    m.add_class::<listener::NativeListener>()?;
    m.add_class::<listener::NativeExport>()?;
    m.add(
        "LISTENER_EVENTS",
        timehook_bindings::LISTENER_EVENTS.to_vec(),
    )?;
    m.add_class::<signing::Verifier>()?;
    m.add_class::<signing::Signer>()?;
    m.add_class::<signing::Scheme>()?;
    m.add_class::<clock::ManualClock>()?;
    m.add_function(wrap_pyfunction!(signing::generate_secret, m)?)?;
    m.add_function(wrap_pyfunction!(signing::generate_signing_key, m)?)?;
    m.add_function(wrap_pyfunction!(signing::public_key, m)?)?;
    m.add_function(wrap_pyfunction!(signing::normalize_secret, m)?)?;
    m.add_function(wrap_pyfunction!(signing::normalize_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::enable_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::metrics_text, m)?)?;
    Ok(())
}
