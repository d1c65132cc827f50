//! The keyword options of `Scheduler.open`, to the bindings' `SchedulerOptions`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use timehook_bindings::{EndpointLimitInput, SchedulerOptions};

use crate::clock::ManualClock;
use crate::convert::{count, millis, number, retry, text, texts, type_name};
use crate::errors::{invalid_config, invalid_job};

/// Per-endpoint limits from a mapping of endpoint (`scheme://host:port` or a URL on it) to an
/// object with `max_in_flight` and `per_second` (a `timehook.EndpointLimit`).
fn endpoint_limits(option: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<EndpointLimitInput>> {
    let items = if value.hasattr("items")? {
        value.call_method0("items")?
    } else {
        return Err(invalid_job(
            option,
            format!(
                "expected a mapping of endpoint to timehook.EndpointLimit, got {}",
                type_name(value)
            ),
        ));
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (endpoint, limit): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let endpoint = text(option, &endpoint)?;
        let attr = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            Ok(limit.getattr_opt(name)?.filter(|v| !v.is_none()))
        };
        if !limit.hasattr("max_in_flight")? {
            return Err(invalid_job(
                option,
                format!(
                    "the limit of {endpoint:?} must be a timehook.EndpointLimit, got {}",
                    type_name(&limit)
                ),
            ));
        }
        let max_in_flight = match attr("max_in_flight")? {
            Some(v) => count(option, &v)?,
            None => {
                return Err(invalid_job(
                    option,
                    format!("the limit of {endpoint:?} needs max_in_flight"),
                ));
            }
        };
        let per_second = attr("per_second")?
            .map(|v| number(option, &v))
            .transpose()?;
        out.push(EndpointLimitInput {
            endpoint,
            max_in_flight,
            per_second,
        });
    }
    Ok(out)
}

/// Scheduler options from the keyword arguments of `Scheduler.open`.
pub fn scheduler_options(path: String, options: &Bound<'_, PyDict>) -> PyResult<SchedulerOptions> {
    let mut o = SchedulerOptions::new(path);
    // The helpers report bad values as job errors; for options they are configuration errors.
    let as_config = |option: &str, e: PyErr| -> PyErr {
        let py = options.py();
        let is_job_error = e
            .value(py)
            .getattr("code")
            .is_ok_and(|c| c.eq("invalid_job").unwrap_or(false));
        if !is_job_error {
            return e;
        }
        let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
        let reason = msg.strip_prefix("invalid job: ").unwrap_or(&msg);
        let reason = reason
            .strip_prefix(option)
            .and_then(|r| r.strip_prefix(": "))
            .unwrap_or(reason);
        invalid_config(option, reason)
    };
    let strings = |option: &str, v: &Bound<'_, PyAny>| -> PyResult<Vec<String>> {
        if v.is_instance_of::<PyString>() {
            Ok(vec![text(option, v)?])
        } else {
            texts(option, v)
        }
    };
    for (key, v) in options.iter() {
        if v.is_none() {
            continue;
        }
        let key = text("options", &key)?;
        let k = key.as_str();
        let converted: PyResult<()> = (|| {
            match k {
                "secret" => o.secrets = strings(k, &v)?,
                "signing_key" => o.signing_keys = strings(k, &v)?,
                "scheme" => o.scheme = Some(crate::signing::scheme_arg(Some(&v))?),
                "profile" => o.profile = Some(text(k, &v)?),
                "autostart" => o.autostart = v.is_truthy()?,
                "max_concurrency" => o.max_concurrency = Some(count(k, &v)?),
                "per_host_concurrency" => o.per_host_concurrency = Some(count(k, &v)?),
                "max_payload_size" => o.max_payload_size = Some(count(k, &v)?),
                "default_timeout" => o.default_timeout_ms = Some(millis(k, &v)?),
                "default_retry" => o.default_retry = Some(retry(k, &v)?),
                "default_cron_retry" => o.default_cron_retry = Some(retry(k, &v)?),
                "user_agent" => o.user_agent = Some(text(k, &v)?),
                "retention" => o.retention_ms = Some(millis(k, &v)?),
                "failed_retention" => o.failed_retention_ms = Some(millis(k, &v)?),
                "lease_duration" => o.lease_duration_ms = Some(millis(k, &v)?),
                "poll_interval" => o.poll_interval_ms = Some(millis(k, &v)?),
                "missed_run_grace" => o.missed_run_grace_ms = Some(millis(k, &v)?),
                "durability" => o.durability = Some(text(k, &v)?),
                "environment" => o.environment = Some(text(k, &v)?),
                "schema" => o.schema = Some(text(k, &v)?),
                "allow_targets" => o.allow_targets = strings(k, &v)?,
                "allow_private_targets" => o.allow_private_targets = Some(v.is_truthy()?),
                "proxy" => o.proxy = Some(text(k, &v)?),
                "disable_endpoints_after" => o.disable_endpoints_after_ms = Some(millis(k, &v)?),
                "disable_endpoints_min_failures" => {
                    let n = count(k, &v)?;
                    o.disable_endpoints_min_failures = Some(
                        u32::try_from(n)
                            .map_err(|_| invalid_job(k, format!("{n} is too large")))?,
                    );
                }
                "disable_endpoint_on_gone" => o.disable_endpoint_on_gone = Some(v.is_truthy()?),
                "max_interrupted_attempts" => {
                    let n = count(k, &v)?;
                    o.max_interrupted_attempts = Some(
                        u32::try_from(n)
                            .map_err(|_| invalid_job(k, format!("{n} is too large")))?,
                    );
                }
                "per_host_rate" => o.per_host_rate = Some(number(k, &v)?),
                "endpoint_limits" => o.endpoint_limits = endpoint_limits(k, &v)?,
                "clock" => {
                    let clock = v.cast::<ManualClock>().map_err(|_| {
                        invalid_job(
                            k,
                            format!(
                                "expected a timehook.testing.ManualClock, got {}",
                                type_name(&v)
                            ),
                        )
                    })?;
                    o.clock = Some(clock.get().inner.clone());
                }
                other => {
                    return Err(invalid_job(other, "is not an option of Scheduler.open"));
                }
            }
            Ok(())
        })();
        converted.map_err(|e| as_config(k, e))?;
    }
    Ok(o)
}
