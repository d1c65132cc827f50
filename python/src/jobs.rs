//! Job dicts (the keyword arguments of `Scheduler.schedule` and `cron`) and list filters, to
//! the bindings' `JobInput` and `ListQuery`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use timehook_bindings::{JobInput, ListQuery};

use crate::convert::{
    count, epoch_ms, headers, millis, payload, retry, set_fields, text, texts, type_name,
};
use crate::errors::invalid_job;

/// The fields a job dict may carry (the keyword arguments of `Scheduler.schedule` and `cron`).
pub const JOB_FIELDS: &str = "url, at, after, cron, tz, missed, payload, headers, method, \
     content_type, timeout, retry, idempotency_key, name, labels, on_success_url, \
     on_failure_url";

/// The job fields, each as Python interns it: dict keys written as literals are these very
/// objects, so most keys are recognised by identity, without converting them.
const JOB_FIELD_NAMES: [&str; 17] = [
    "url",
    "at",
    "after",
    "cron",
    "tz",
    "missed",
    "payload",
    "headers",
    "method",
    "content_type",
    "timeout",
    "retry",
    "idempotency_key",
    "name",
    "labels",
    "on_success_url",
    "on_failure_url",
];

static INTERNED_FIELDS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();

/// The name of a job field: by identity with an interned name, else by value.
fn field_name(key: &Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'static, str>> {
    let py = key.py();
    let interned = INTERNED_FIELDS.get_or_init(py, || {
        JOB_FIELD_NAMES
            .iter()
            .map(|n| PyString::intern(py, n).unbind())
            .collect()
    });
    if let Some(i) = interned.iter().position(|n| n.bind(py).is(key)) {
        return Ok(std::borrow::Cow::Borrowed(JOB_FIELD_NAMES[i]));
    }
    Ok(std::borrow::Cow::Owned(text("job", key)?))
}

/// One job from a dict of job fields (`None` values are ignored).
pub fn job_input(value: &Bound<'_, PyAny>) -> PyResult<JobInput> {
    let dict = value.cast::<PyDict>().map_err(|_| {
        invalid_job(
            "job",
            format!("expected a dict of job fields, got {}", type_name(value)),
        )
    })?;
    let mut job = JobInput::default();
    let mut has_url = false;
    for (key, v) in dict.iter() {
        if v.is_none() {
            continue;
        }
        let key = field_name(&key)?;
        match key.as_ref() {
            "url" => {
                job.url = text("url", &v)?;
                has_url = true;
            }
            "at" => job.at_ms = Some(epoch_ms("at", &v)?),
            "after" => job.after_ms = Some(millis("after", &v)?),
            "cron" => job.cron = Some(text("cron", &v)?),
            "tz" => job.tz = Some(text("tz", &v)?),
            "missed" => job.missed = Some(text("missed", &v)?),
            "payload" => job.payload = Some(payload(&v)?),
            "headers" => job.headers = headers(&v)?,
            "method" => job.method = Some(text("method", &v)?),
            "content_type" => job.content_type = Some(text("content_type", &v)?),
            "timeout" => job.timeout_ms = Some(millis("timeout", &v)?),
            "retry" => job.retry = Some(retry("retry", &v)?),
            "idempotency_key" => job.idempotency_key = Some(text("idempotency_key", &v)?),
            "name" => job.name = Some(text("name", &v)?),
            "labels" => job.labels = texts("labels", &v)?,
            "on_success_url" => job.on_success_url = Some(text("on_success_url", &v)?),
            "on_failure_url" => job.on_failure_url = Some(text("on_failure_url", &v)?),
            "scheme" => job.scheme = Some(crate::signing::scheme_arg(Some(&v))?),
            "profile" => job.profile = Some(text("profile", &v)?),
            "secret" => {
                job.secrets = if v.is_instance_of::<PyString>() {
                    vec![text("secret", &v)?]
                } else {
                    texts("secret", &v)?
                }
            }
            other => {
                return Err(invalid_job(
                    other,
                    format!("is not a job field; expected one of {JOB_FIELDS}"),
                ));
            }
        }
    }
    if !has_url {
        return Err(invalid_job("url", "is required"));
    }
    Ok(job)
}

/// Many jobs from an iterable of dicts; an error names the position of the job at fault.
pub fn job_inputs(value: &Bound<'_, PyAny>) -> PyResult<Vec<JobInput>> {
    let py = value.py();
    let prefix = |i: usize, e: PyErr| -> PyErr {
        // Re-raise with the position in front of the message, same class and code.
        let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
        let code = e.value(py).getattr("code").ok();
        let detail = e.value(py).getattr("detail").ok();
        match (code, detail) {
            (Some(code), Some(detail)) => PyErr::from_type(
                e.get_type(py),
                (format!("job {i}: {msg}"), code.unbind(), detail.unbind()),
            ),
            _ => e,
        }
    };
    let convert_all = |items: &mut dyn ExactSizeIterator<Item = Bound<'_, PyAny>>| {
        // With one job the position adds nothing to the message.
        let many = items.len() > 1;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.enumerate() {
            out.push(job_input(&item).map_err(|e| if many { prefix(i, e) } else { e })?);
        }
        Ok(out)
    };
    if let Ok(list) = value.cast::<PyList>() {
        return convert_all(&mut list.iter());
    }
    let items: Vec<Bound<'_, PyAny>> = value
        .try_iter()
        .map_err(|_| {
            invalid_job(
                "jobs",
                format!(
                    "expected an iterable of job dicts, got {}",
                    type_name(value)
                ),
            )
        })?
        .collect::<PyResult<_>>()?;
    convert_all(&mut items.into_iter())
}

/// List filters from the keyword arguments of `Scheduler.list`.
pub fn list_query(query: &Bound<'_, PyDict>) -> PyResult<ListQuery> {
    let mut q = ListQuery::default();
    set_fields(query, |k, v| {
        match k {
            "state" => {
                q.states = if v.is_instance_of::<PyString>() {
                    vec![text(k, v)?]
                } else {
                    texts(k, v)?
                }
            }
            "name" => q.name = Some(text(k, v)?),
            "label" => q.label = Some(text(k, v)?),
            "kind" => q.kind = Some(text(k, v)?),
            "created_after" => q.created_after_ms = Some(epoch_ms(k, v)?),
            "created_before" => q.created_before_ms = Some(epoch_ms(k, v)?),
            "due_after" => q.due_after_ms = Some(epoch_ms(k, v)?),
            "due_before" => q.due_before_ms = Some(epoch_ms(k, v)?),
            "limit" => {
                let n = count(k, v)?;
                q.limit = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
            "after" => q.after = Some(text(k, v)?),
            "with_bodies" => q.bodies = v.is_truthy()?,
            other => return Err(invalid_job(other, "is not a filter of Scheduler.list")),
        }
        Ok(())
    })?;
    Ok(q)
}
