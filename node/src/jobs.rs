//! JavaScript job objects, list filters and scheduler options to the bindings' plain inputs.
//! Every field is read once; unknown fields are refused (a typo must not pass silently);
//! `undefined` and `null` mean "not set".

use std::cell::OnceCell;

use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::{ArrayBuffer, ClassInstance, FromNapiValue, Function, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use timehook_bindings::{
    EndpointLimitInput, JobInput, ListQuery, Payload, RetryInput, RetrySpec, SchedulerOptions,
};

use crate::clock::ManualClock;
use crate::value::{ConvResult, Ctx, bytes, describe, element, entries, is_nullish, set_fields};

/// The fields a job object may carry.
pub const JOB_FIELDS: &str = "url, at, after, cron, tz, missed, payload, headers, method, \
     contentType, timeout, retry, idempotencyKey, name, labels, onSuccessUrl, onFailureUrl, scheme, \
     secret, profile";

/// The options of `Scheduler.open`.
pub const OPEN_OPTIONS: &str = "secret, signingKey, autostart, maxConcurrency, \
     perHostConcurrency, defaultTimeout, defaultRetry, defaultCronRetry, userAgent, \
     maxPayloadSize, retention, failedRetention, leaseDuration, pollInterval, missedRunGrace, \
     durability, clock, environment, disableEndpointsAfter, disableEndpointsMinFailures, \
     disableEndpointOnGone, maxInterruptedAttempts, perHostRate, endpointLimits, schema, allowTargets, \
     allowPrivateTargets, proxy, scheme, profile";

/// The filters of `Scheduler.list`.
pub const LIST_FILTERS: &str = "state, name, label, kind, createdAfter, createdBefore, \
     dueAfter, dueBefore, limit, after, withBodies";

/// Converts many job objects, with `JSON.stringify` looked up once for all of them.
pub struct JobReader<'e> {
    ctx: Ctx<'e>,
    stringify: OnceCell<Function<'e, Unknown<'e>, Unknown<'e>>>,
}

impl<'e> JobReader<'e> {
    /// A reader for job objects.
    pub fn new(env: &'e Env) -> Self {
        JobReader {
            ctx: Ctx::job(env),
            stringify: OnceCell::new(),
        }
    }

    fn json(&self, value: Unknown<'e>) -> ConvResult<Vec<u8>> {
        let stringify = match self.stringify.get() {
            Some(f) => *f,
            None => {
                let f: Function<'e, Unknown<'e>, Unknown<'e>> = self
                    .ctx
                    .env
                    .get_global()?
                    .get_named_property::<Object>("JSON")?
                    .get_named_property("stringify")?;
                *self.stringify.get_or_init(|| f)
            }
        };
        let text = stringify.call(value).map_err(|e| {
            self.ctx.fail(
                "payload",
                format!("cannot be serialised as JSON: {}", e.reason),
            )
        })?;
        if text.get_type()? != ValueType::String {
            return Err(self.ctx.fail(
                "payload",
                format!("{} cannot be serialised as JSON", describe(&value)),
            ));
        }
        Ok(String::from_unknown(text)?.into_bytes())
    }

    /// The payload: a string (sent as text), a `Buffer`, `Uint8Array` or `ArrayBuffer` (sent as
    /// bytes), anything else is sent as JSON (`JSON.stringify`).
    fn payload(&self, value: Unknown<'e>) -> ConvResult<Payload> {
        match value.get_type()? {
            ValueType::String => Ok(Payload::Text(String::from_unknown(value)?)),
            ValueType::Object => {
                if let Some(b) = bytes(&value)? {
                    return Ok(Payload::Bytes(b.to_vec()));
                }
                if value.is_arraybuffer()? {
                    return Ok(Payload::Bytes(ArrayBuffer::from_unknown(value)?.to_vec()));
                }
                if value.is_typedarray()? {
                    return Err(self.ctx.fail(
                        "payload",
                        "typed arrays other than Uint8Array are not accepted; pass a Buffer or Uint8Array",
                    ));
                }
                Ok(Payload::Json(self.json(value)?))
            }
            _ => Ok(Payload::Json(self.json(value)?)),
        }
    }

    /// One job object. With `cron_call`, the job comes from `cron(url, expr, options)`, whose
    /// arguments give `url` and `cron`.
    pub fn job(&self, value: Unknown<'e>, cron_call: bool) -> ConvResult<JobInput> {
        let c = &self.ctx;
        if value.get_type()? != ValueType::Object || value.is_array()? {
            return Err(c.fail(
                "job",
                format!("expected a job object, got {}", describe(&value)),
            ));
        }
        let object = Object::from_unknown(value)?;
        let mut job = JobInput::default();
        let mut has_url = false;
        for (key, v) in entries(&object)? {
            if is_nullish(&v)? {
                continue;
            }
            match key.as_str() {
                "url" | "cron" if cron_call => {
                    return Err(c.fail(
                        &key,
                        "is given by the arguments of cron(url, expr, options)",
                    ));
                }
                "url" => {
                    job.url = c.text("url", v)?;
                    has_url = true;
                }
                "at" => job.at_ms = Some(c.instant("at", v)?),
                "after" => job.after_ms = Some(c.millis("after", v)?),
                "cron" => job.cron = Some(c.text("cron", v)?),
                "tz" => job.tz = Some(c.text("tz", v)?),
                "missed" => job.missed = Some(c.text("missed", v)?),
                "payload" => job.payload = Some(self.payload(v)?),
                "headers" => job.headers = c.header_pairs("headers", v)?,
                "method" => job.method = Some(c.text("method", v)?),
                "contentType" => job.content_type = Some(c.text("contentType", v)?),
                "timeout" => job.timeout_ms = Some(c.millis("timeout", v)?),
                "retry" => job.retry = Some(retry(c, "retry", v)?),
                "idempotencyKey" => job.idempotency_key = Some(c.text("idempotencyKey", v)?),
                "name" => job.name = Some(c.text("name", v)?),
                "labels" => job.labels = c.texts("labels", v)?,
                "onSuccessUrl" => job.on_success_url = Some(c.text("onSuccessUrl", v)?),
                "onFailureUrl" => job.on_failure_url = Some(c.text("onFailureUrl", v)?),
                "scheme" => job.scheme = Some(crate::verifier::scheme_arg(c.env, Some(v))?),
                "secret" => job.secrets = c.texts("secret", v)?,
                "profile" => job.profile = Some(c.text("profile", v)?),
                other => {
                    return Err(c.fail(
                        "job",
                        format!("unknown field {other:?}; expected one of {JOB_FIELDS}"),
                    ));
                }
            }
        }
        if !has_url && !cron_call {
            return Err(c.fail("url", "is required"));
        }
        Ok(job)
    }

    /// An array of job objects, read the fast way when every job holds only plain values
    /// (`batch`), else object by object.
    pub fn batch(&self, value: Unknown<'e>) -> ConvResult<crate::batch::Batch> {
        let env = self.ctx.env;
        // The check declining, or failing (a getter that throws), leaves the slow way, which
        // reads the same values and gives the precise error.
        if let Ok(Some(batch)) =
            crate::errors::plain_batch(env).and_then(|check| crate::batch::read(env, check, value))
        {
            return Ok(batch);
        }
        self.jobs(value).map(crate::batch::Batch::Jobs)
    }

    /// An array of job objects; an error names the position of the job at fault.
    pub fn jobs(&self, value: Unknown<'e>) -> ConvResult<Vec<JobInput>> {
        if !value.is_array()? {
            return Err(self.ctx.fail(
                "jobs",
                format!("expected an array of job objects, got {}", describe(&value)),
            ));
        }
        let array = napi::bindgen_prelude::Array::from_unknown(value)?;
        let mut jobs = Vec::with_capacity(array.len() as usize);
        for i in 0..array.len() {
            let job = self
                .job(element(&array, i)?, false)
                .map_err(|e| e.context(format!("job {i}")))?;
            jobs.push(job);
        }
        Ok(jobs)
    }
}

/// A retry policy: a preset name (`"svix"`, `"none"`, ...) or an object with `maxAttempts`,
/// `delays` (ms), `initial` (ms), `factor`, `jitter` and `maxDelay` (ms).
pub fn retry(c: &Ctx<'_>, field: &str, value: Unknown<'_>) -> ConvResult<RetryInput> {
    match value.get_type()? {
        ValueType::String => return Ok(RetryInput::Preset(String::from_unknown(value)?)),
        ValueType::Object if !value.is_array()? => {}
        _ => {
            return Err(c.fail(
                field,
                format!(
                    "expected a preset name (e.g. \"svix\") or a retry policy object, got {}",
                    describe(&value)
                ),
            ));
        }
    }
    let object = Object::from_unknown(value)?;
    let mut spec = RetrySpec::default();
    for key in Object::keys(&object)? {
        let v = object.get_named_property::<Unknown>(&key)?;
        if is_nullish(&v)? {
            continue;
        }
        let at = |name: &str| format!("{field}.{name}");
        match key.as_str() {
            "maxAttempts" => {
                let n = c.count(&at("maxAttempts"), v)?;
                let n = u32::try_from(n)
                    .map_err(|_| c.fail(field, format!("maxAttempts {n} is too large")))?;
                spec.max_attempts = Some(n);
            }
            "delays" => {
                if !v.is_array()? {
                    return Err(c.fail(
                        field,
                        format!(
                            "delays must be an array of milliseconds, got {}",
                            describe(&v)
                        ),
                    ));
                }
                let array = napi::bindgen_prelude::Array::from_unknown(v)?;
                let delays = (0..array.len())
                    .map(|i| c.millis(&at("delays"), element(&array, i)?))
                    .collect::<ConvResult<Vec<u64>>>()?;
                spec.delays_ms = Some(delays);
            }
            "initial" => spec.initial_ms = Some(c.millis(&at("initial"), v)?),
            "factor" => spec.factor = Some(c.number(&at("factor"), v)?),
            "jitter" => spec.jitter = Some(c.number(&at("jitter"), v)?),
            "maxDelay" => spec.max_delay_ms = Some(c.millis(&at("maxDelay"), v)?),
            other => {
                return Err(c.fail(
                    field,
                    format!(
                        "unknown field {other:?}; expected maxAttempts, delays, initial, factor, jitter or maxDelay"
                    ),
                ));
            }
        }
    }
    Ok(RetryInput::Policy(spec))
}

/// Scheduler options from the options object of `Scheduler.open`.
pub fn scheduler_options(
    env: &Env,
    path: String,
    options: Option<Unknown<'_>>,
) -> ConvResult<SchedulerOptions> {
    let c = Ctx::options(env);
    let mut o = SchedulerOptions::new(path);
    let Some(fields) = set_fields(&c, options, "options", "an options object")? else {
        return Ok(o);
    };
    for (key, v) in fields {
        let k = key.as_str();
        match k {
            "secret" => o.secrets = c.texts(k, v)?,
            "signingKey" => o.signing_keys = c.texts(k, v)?,
            "scheme" => o.scheme = Some(crate::verifier::scheme_arg(c.env, Some(v))?),
            "profile" => o.profile = Some(c.text(k, v)?),
            "autostart" => o.autostart = c.boolean(k, v)?,
            "maxConcurrency" => o.max_concurrency = Some(c.count(k, v)?),
            "perHostConcurrency" => o.per_host_concurrency = Some(c.count(k, v)?),
            "maxPayloadSize" => o.max_payload_size = Some(c.count(k, v)?),
            "defaultTimeout" => o.default_timeout_ms = Some(c.millis(k, v)?),
            "defaultRetry" => o.default_retry = Some(retry(&c, k, v)?),
            "defaultCronRetry" => o.default_cron_retry = Some(retry(&c, k, v)?),
            "userAgent" => o.user_agent = Some(c.text(k, v)?),
            "retention" => o.retention_ms = Some(c.millis(k, v)?),
            "failedRetention" => o.failed_retention_ms = Some(c.millis(k, v)?),
            "leaseDuration" => o.lease_duration_ms = Some(c.millis(k, v)?),
            "pollInterval" => o.poll_interval_ms = Some(c.millis(k, v)?),
            "missedRunGrace" => o.missed_run_grace_ms = Some(c.millis(k, v)?),
            "durability" => o.durability = Some(c.text(k, v)?),
            "clock" => {
                let clock = ClassInstance::<ManualClock>::from_unknown(v).map_err(|_| {
                    c.fail(k, format!("expected a ManualClock, got {}", describe(&v)))
                })?;
                o.clock = Some(clock.inner.clone());
            }
            "environment" => o.environment = Some(c.text(k, v)?),
            "schema" => o.schema = Some(c.text(k, v)?),
            "allowTargets" => o.allow_targets = c.texts(k, v)?,
            "allowPrivateTargets" => o.allow_private_targets = Some(c.boolean(k, v)?),
            "proxy" => o.proxy = Some(c.text(k, v)?),
            "disableEndpointsAfter" => o.disable_endpoints_after_ms = Some(c.millis(k, v)?),
            "disableEndpointsMinFailures" => {
                let n = c.count(k, v)?;
                let n = u32::try_from(n).map_err(|_| c.fail(k, format!("{n} is too large")))?;
                o.disable_endpoints_min_failures = Some(n);
            }
            "disableEndpointOnGone" => o.disable_endpoint_on_gone = Some(c.boolean(k, v)?),
            "maxInterruptedAttempts" => {
                let n = c.count(k, v)?;
                let n = u32::try_from(n).map_err(|_| c.fail(k, format!("{n} is too large")))?;
                o.max_interrupted_attempts = Some(n);
            }
            "perHostRate" => o.per_host_rate = Some(c.number(k, v)?),
            "endpointLimits" => o.endpoint_limits = endpoint_limits(&c, k, v)?,
            other => {
                return Err(c.fail(
                    other,
                    format!("is not an option of Scheduler.open; expected one of {OPEN_OPTIONS}"),
                ));
            }
        }
    }
    Ok(o)
}

/// Per-endpoint limits: an object of endpoints (`scheme://host:port`, or any URL on it) to
/// `{ maxInFlight, perSecond? }`.
fn endpoint_limits(
    c: &Ctx<'_>,
    field: &str,
    value: Unknown<'_>,
) -> ConvResult<Vec<EndpointLimitInput>> {
    let expected = "an object of endpoints to { maxInFlight, perSecond? }";
    let Some(endpoints) = set_fields(c, Some(value), field, expected)? else {
        return Ok(Vec::new());
    };
    let mut limits = Vec::with_capacity(endpoints.len());
    for (endpoint, v) in endpoints {
        let at = format!("{field}[{endpoint:?}]");
        let fields =
            set_fields(c, Some(v), &at, "{ maxInFlight, perSecond? }")?.unwrap_or_default();
        let mut max_in_flight = None;
        let mut per_second = None;
        for (key, v) in fields {
            match key.as_str() {
                "maxInFlight" => max_in_flight = Some(c.count(&format!("{at}.maxInFlight"), v)?),
                "perSecond" => per_second = Some(c.number(&format!("{at}.perSecond"), v)?),
                other => {
                    return Err(c.fail(
                        &at,
                        format!("unknown field {other:?}; expected maxInFlight or perSecond"),
                    ));
                }
            }
        }
        let max_in_flight = max_in_flight.ok_or_else(|| c.fail(&at, "maxInFlight is required"))?;
        limits.push(EndpointLimitInput {
            endpoint,
            max_in_flight,
            per_second,
        });
    }
    Ok(limits)
}

/// List filters from the filter object of `Scheduler.list`.
pub fn list_query(env: &Env, filter: Option<Unknown<'_>>) -> ConvResult<ListQuery> {
    let c = Ctx::job(env);
    let mut q = ListQuery::default();
    let Some(fields) = set_fields(&c, filter, "filter", "a filter object")? else {
        return Ok(q);
    };
    for (key, v) in fields {
        let k = key.as_str();
        match k {
            "state" => q.states = c.texts(k, v)?,
            "name" => q.name = Some(c.text(k, v)?),
            "label" => q.label = Some(c.text(k, v)?),
            "kind" => q.kind = Some(c.text(k, v)?),
            "createdAfter" => q.created_after_ms = Some(c.instant(k, v)?),
            "createdBefore" => q.created_before_ms = Some(c.instant(k, v)?),
            "dueAfter" => q.due_after_ms = Some(c.instant(k, v)?),
            "dueBefore" => q.due_before_ms = Some(c.instant(k, v)?),
            "limit" => {
                let n = c.count(k, v)?;
                q.limit = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
            "after" => q.after = Some(c.text(k, v)?),
            "withBodies" => q.bodies = c.boolean(k, v)?,
            other => {
                return Err(c.fail(
                    other,
                    format!("is not a filter of Scheduler.list; expected one of {LIST_FILTERS}"),
                ));
            }
        }
    }
    Ok(q)
}
