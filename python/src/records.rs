//! The bindings' plain records, to the dicts from which `timehook.Job`, `timehook.Attempt`,
//! `timehook.Event`, `timehook.Subscription` and `timehook.Endpoint` are built.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use timehook_bindings::{
    AttemptRecord, EndpointRecord, EventRecord, JobRecord, OutcomeRecord, RetrySpec,
    SubscriptionRecord,
};

fn retry_dict<'py>(py: Python<'py>, r: &RetrySpec) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("max_attempts", r.max_attempts)?;
    d.set_item("delays_ms", r.delays_ms.clone())?;
    d.set_item("initial_ms", r.initial_ms)?;
    d.set_item("factor", r.factor)?;
    d.set_item("jitter", r.jitter)?;
    d.set_item("max_delay_ms", r.max_delay_ms)?;
    Ok(d)
}

/// A job record as a dict of primitive values (the Python layer builds `timehook.Job`).
pub fn job_record(py: Python<'_>, r: JobRecord) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("id", r.id)?;
    d.set_item("kind", r.kind)?;
    d.set_item("state", r.state)?;
    d.set_item("name", r.name)?;
    d.set_item("labels", r.labels)?;
    d.set_item("url", r.url)?;
    d.set_item("method", r.method)?;
    d.set_item("headers", r.headers)?;
    d.set_item("body", PyBytes::new(py, &r.body))?;
    d.set_item("timeout_ms", r.timeout_ms)?;
    d.set_item("retry", retry_dict(py, &r.retry)?)?;
    d.set_item("idempotency_key", r.idempotency_key)?;
    d.set_item("cron", r.cron)?;
    d.set_item("tz", r.tz)?;
    d.set_item("missed", r.missed)?;
    d.set_item("next_run_at_ms", r.next_run_at_ms)?;
    d.set_item("execution_id", r.execution_id)?;
    d.set_item("attempts", r.attempts)?;
    d.set_item("on_success_url", r.on_success_url)?;
    d.set_item("on_failure_url", r.on_failure_url)?;
    d.set_item("created_at_ms", r.created_at_ms)?;
    d.set_item("updated_at_ms", r.updated_at_ms)?;
    Ok(d.into_any().unbind())
}

/// Job records as a list of dicts.
pub fn job_records(py: Python<'_>, records: Vec<JobRecord>) -> PyResult<Py<PyAny>> {
    let items = records
        .into_iter()
        .map(|r| job_record(py, r))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

fn attempt_dict(py: Python<'_>, a: AttemptRecord) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("job_id", a.job_id)?;
    d.set_item("execution_id", a.execution_id)?;
    d.set_item("number", a.number)?;
    d.set_item("started_at_ms", a.started_at_ms)?;
    d.set_item("duration_ms", a.duration_ms)?;
    d.set_item("status", a.status)?;
    d.set_item(
        "response_body",
        a.response_body.map(|b| PyBytes::new(py, &b)),
    )?;
    d.set_item("error", a.error)?;
    d.set_item("message", a.message)?;
    d.set_item("next_retry_at_ms", a.next_retry_at_ms)?;
    d.set_item("cursor", a.cursor)?;
    Ok(d)
}

/// One attempt record as a dict.
pub fn attempt_record(py: Python<'_>, a: AttemptRecord) -> PyResult<Py<PyAny>> {
    Ok(attempt_dict(py, a)?.into_any().unbind())
}

/// Attempt records as a list of dicts.
pub fn attempt_records(py: Python<'_>, records: Vec<AttemptRecord>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for a in records {
        list.append(attempt_dict(py, a)?)?;
    }
    Ok(list.into_any().unbind())
}

fn outcome_dict(py: Python<'_>, o: OutcomeRecord) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("job_id", o.job_id)?;
    d.set_item("job_name", o.job_name)?;
    d.set_item("execution_id", o.execution_id)?;
    d.set_item("status", o.status)?;
    d.set_item("executed_at_ms", o.executed_at_ms)?;
    d.set_item("response_code", o.response_code)?;
    d.set_item("response_time_ms", o.response_time_ms)?;
    d.set_item("response_body", o.response_body)?;
    d.set_item("error_message", o.error_message)?;
    d.set_item("retry_attempt", o.retry_attempt)?;
    d.set_item("next_retry_at_ms", o.next_retry_at_ms)?;
    Ok(d)
}

fn endpoint_dict(py: Python<'_>, e: EndpointRecord) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("origin", e.origin)?;
    d.set_item("failing_since_ms", e.failing_since_ms)?;
    d.set_item("failures", e.failures)?;
    d.set_item("disabled_at_ms", e.disabled_at_ms)?;
    Ok(d)
}

/// Endpoint records as a list of dicts.
pub fn endpoint_records(py: Python<'_>, records: Vec<EndpointRecord>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for e in records {
        list.append(endpoint_dict(py, e)?)?;
    }
    Ok(list.into_any().unbind())
}

/// A subscription record as a dict.
pub fn subscription_record(py: Python<'_>, s: SubscriptionRecord) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("id", s.id)?;
    d.set_item("url", s.url)?;
    d.set_item("events", s.events)?;
    d.set_item("created_at_ms", s.created_at_ms)?;
    Ok(d.into_any().unbind())
}

/// Subscription records as a list of dicts.
pub fn subscription_records(
    py: Python<'_>,
    records: Vec<SubscriptionRecord>,
) -> PyResult<Py<PyAny>> {
    let items = records
        .into_iter()
        .map(|s| subscription_record(py, s))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

/// An in-process event as a dict (the fields its kind does not carry are `None`).
pub fn event_record(py: Python<'_>, e: EventRecord) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", e.kind)?;
    d.set_item(
        "attempt",
        e.attempt.map(|a| attempt_dict(py, a)).transpose()?,
    )?;
    d.set_item("job_state", e.job_state)?;
    d.set_item(
        "outcome",
        e.outcome.map(|o| outcome_dict(py, o)).transpose()?,
    )?;
    d.set_item(
        "endpoint",
        e.endpoint.map(|x| endpoint_dict(py, x)).transpose()?,
    )?;
    Ok(d)
}

/// Any value convertible to Python, as an owned object.
pub fn object<T>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>>
where
    T: for<'py> IntoPyObject<'py>,
{
    use pyo3::IntoPyObjectExt as _;
    value.into_py_any(py)
}
