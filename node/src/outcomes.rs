//! The outcome operations of `Scheduler`: subscriptions, endpoint health, dead letters,
//! `sendTest`, exports of the attempt log, and in-process listeners (`on` / `once` / `off`, see
//! `events`). Arguments are converted on the calling thread; every operation that touches SQLite
//! or the network returns a promise (see `bridge`).

use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::{FromNapiValue, Function, Object, PromiseRaw, Unknown};
use napi::{Env, JsValue as _, ValueType};
use napi_derive::napi;
use timehook_bindings::{DeadLetterQuery, ExportQuery};

use crate::bridge::promise;
use crate::errors::{IntoNapi, type_error};
use crate::events::Hub;
use crate::export::AttemptExport;
use crate::records::{Attempt, Endpoint, Subscription};
use crate::scheduler::Scheduler;
use crate::value::{ConvResult, Ctx, describe, is_nullish, set_fields};

/// The filters of `retryFailed` and `purge`.
const DEAD_LETTER_FILTERS: &str = "since, until, name, label, job";
/// The options of `exportAttempts` and `exportAttemptsStream`.
const EXPORT_OPTIONS: &str = "format, since, until, job, state";
/// The export format when none is given.
const DEFAULT_EXPORT_FORMAT: &str = "csv";
/// The sample event `sendTest` delivers when no type is given.
const DEFAULT_TEST_EVENT: &str = "job.completed";

/// A dead-letter filter from the filter object of `retryFailed` / `purge`.
fn dead_letter_query(env: &Env, filter: Option<Unknown<'_>>) -> ConvResult<DeadLetterQuery> {
    let c = Ctx::job(env);
    let mut q = DeadLetterQuery::default();
    let Some(fields) = set_fields(&c, filter, "filter", "a filter object")? else {
        return Ok(q);
    };
    for (key, v) in fields {
        let k = key.as_str();
        match k {
            "since" => q.failed_after_ms = Some(c.instant(k, v)?),
            "until" => q.failed_before_ms = Some(c.instant(k, v)?),
            "name" => q.name = Some(c.text(k, v)?),
            "label" => q.label = Some(c.text(k, v)?),
            "job" => q.job = Some(c.text(k, v)?),
            other => {
                return Err(c.fail(
                    other,
                    format!("is not a dead-letter filter; expected one of {DEAD_LETTER_FILTERS}"),
                ));
            }
        }
    }
    Ok(q)
}

/// The format and filters of an export.
fn export_query(env: &Env, options: Option<Unknown<'_>>) -> ConvResult<(String, ExportQuery)> {
    let c = Ctx::job(env);
    let mut format = DEFAULT_EXPORT_FORMAT.to_owned();
    let mut q = ExportQuery::default();
    let Some(fields) = set_fields(&c, options, "options", "an options object")? else {
        return Ok((format, q));
    };
    for (key, v) in fields {
        let k = key.as_str();
        match k {
            "format" => format = Ctx::options(env).text(k, v)?,
            "since" => q.since_ms = Some(c.instant(k, v)?),
            "until" => q.until_ms = Some(c.instant(k, v)?),
            "job" => q.job = Some(c.text(k, v)?),
            "state" => q.state = Some(c.text(k, v)?),
            other => {
                return Err(c.fail(
                    other,
                    format!("is not an export option; expected one of {EXPORT_OPTIONS}"),
                ));
            }
        }
    }
    Ok((format, q))
}

/// An endpoint given as its origin (or any URL on it) or as an `Endpoint` record.
fn endpoint_arg(env: &Env, value: Unknown<'_>) -> ConvResult<String> {
    let c = Ctx::job(env);
    if value.get_type()? == ValueType::Object && !value.is_array()? {
        let origin = Object::from_unknown(value)?.get_named_property::<Unknown<'_>>("origin")?;
        return c.text("endpoint.origin", origin);
    }
    c.text("endpoint", value)
}

/// A listener function, or Node's `ERR_INVALID_ARG_TYPE`.
fn listener_arg<'e>(
    env: &'e Env,
    value: Unknown<'e>,
) -> napi::Result<Function<'e, Unknown<'static>, Unknown<'static>>> {
    if value.get_type()? != ValueType::Function {
        return Err(type_error(
            env,
            format!(
                "The \"listener\" argument must be of type function. Received {}",
                describe(&value)
            ),
        ));
    }
    Function::from_unknown(value)
}

#[napi]
impl Scheduler {
    /// Subscribes `url` to events (`job.completed`, `job.failed`, `job.timed_out`,
    /// `job.retrying`, `endpoint.disabled`), persistently: each event is a signed Standard
    /// Webhooks delivery `{ type, timestamp, data }`. Rejects with `invalid_job` for an unknown
    /// type, and stores nothing.
    #[napi(
        ts_args_type = "url: string, events: SubscriptionEvent | SubscriptionEvent[]",
        ts_return_type = "Promise<Subscription>"
    )]
    pub fn subscribe<'env>(
        &self,
        env: &'env Env,
        url: Unknown<'_>,
        events: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Subscription>> {
        let input = (|| {
            let c = Ctx::job(env);
            let url = c.text("url", url)?;
            let events = c.texts("events", events)?;
            Ok(self.handle.subscribe(url, events))
        })();
        promise(env, input, Subscription::from)
    }

    /// Deletes a subscription; rejects with `not_found` for an unknown id.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<void>")]
    pub fn unsubscribe<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = Ctx::job(env)
            .text("id", id)
            .map(|id| self.handle.unsubscribe(id));
        promise(env, input, |()| ())
    }

    /// Every subscription, oldest first.
    #[napi]
    pub fn subscriptions<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Vec<Subscription>>> {
        promise(env, Ok(self.handle.subscriptions()), |subs| {
            subs.into_iter().map(Subscription::from).collect()
        })
    }

    /// The endpoints that are failing or disabled.
    #[napi]
    pub fn endpoints<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<Endpoint>>> {
        promise(env, Ok(self.handle.endpoints()), |endpoints| {
            endpoints.into_iter().map(Endpoint::from).collect()
        })
    }

    /// Enables a disabled endpoint again (its origin, any URL on it, or its `Endpoint`): its held
    /// jobs are due again. Rejects with `invalid_state` if it is not disabled.
    #[napi(
        ts_args_type = "endpoint: string | Endpoint",
        ts_return_type = "Promise<void>"
    )]
    pub fn enable_endpoint<'env>(
        &self,
        env: &'env Env,
        endpoint: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = endpoint_arg(env, endpoint).map(|e| self.handle.enable_endpoint(e));
        promise(env, input, |()| ())
    }

    /// Re-queues every dead letter matching `filter` (those that failed in `[since, until)`, ...),
    /// due now with a fresh retry budget and the same `webhook-id`; resolves to how many.
    #[napi(ts_args_type = "filter?: DeadLetterFilter")]
    pub fn retry_failed<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, f64>> {
        let input = dead_letter_query(env, filter).map(|q| self.handle.retry_failed(q));
        promise(env, input, |n| n as f64)
    }

    /// Deletes every dead letter matching `filter`; resolves to how many.
    #[napi(ts_args_type = "filter?: DeadLetterFilter")]
    pub fn purge<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, f64>> {
        let input = dead_letter_query(env, filter).map(|q| self.handle.purge(q));
        promise(env, input, |n| n as f64)
    }

    /// Delivers a signed sample event of `type` (default `job.completed`) to `url` now; resolves
    /// to the attempt (recorded, never retried).
    #[napi(ts_args_type = "url: string, type?: SubscriptionEvent")]
    pub fn send_test<'env>(
        &self,
        env: &'env Env,
        url: Unknown<'_>,
        event: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Attempt>> {
        let input = (|| {
            let c = Ctx::job(env);
            let url = c.text("url", url)?;
            let event = match event {
                Some(e) if !is_nullish(&e)? => c.text("type", e)?,
                _ => DEFAULT_TEST_EVENT.to_owned(),
            };
            Ok(self.handle.send_test(url, event))
        })();
        promise(env, input, Attempt::from)
    }

    /// Writes the attempt log matching `options` to the file at `path` (created or truncated;
    /// removed if the export fails) as CSV with a header line (default) or JSON Lines, streaming;
    /// resolves to the number of rows.
    #[napi(ts_args_type = "path: string, options?: ExportOptions")]
    pub fn export_attempts<'env>(
        &self,
        env: &'env Env,
        path: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, f64>> {
        let input = (|| {
            let path = Ctx::options(env).text("path", path)?;
            let (format, q) = export_query(env, options)?;
            Ok(self.handle.export_to_path(path, format, q))
        })();
        promise(env, input, |n| n as f64)
    }

    /// Starts exporting the attempt log matching `options`, read back as an async iterable of
    /// `Buffer` chunks (`stream.pipeline(scheduler.exportAttemptsStream(), file)`). Throws
    /// `closed`, or `invalid_config` / `invalid_job` for a bad format or filter.
    #[napi(ts_args_type = "options?: ExportOptions")]
    pub fn export_attempts_stream(
        &self,
        env: &Env,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<AttemptExport> {
        let (format, q) = export_query(env, options).map_err(|e| e.into_napi(env))?;
        let stream = self
            .handle
            .export_stream(format, q)
            .map_err(|e| e.into_napi(env))?;
        Ok(AttemptExport::new(stream))
    }

    /// Calls `listener(event)` with every event of `type` (`attempt`, `job.completed`,
    /// `job.failed`, `job.timed_out`, `job.retrying`, `endpoint.disabled`, or `*` for all) on the
    /// JavaScript thread, until `off` or `close()`. Events never wait for listeners. A listener
    /// that throws or rejects stops neither the others nor later events: its error goes to the
    /// `'error'` listeners as `(error, event)`, or to `process.emitWarning` when there are none.
    /// Listeners do not keep the process alive. Throws `invalid_config` for an unknown type.
    #[napi(
        ts_generic_types = "E extends ListenerEventType",
        ts_args_type = "type: E, listener: ListenerFor<E>"
    )]
    pub fn on(&self, env: &Env, event: Unknown<'_>, listener: Unknown<'_>) -> napi::Result<()> {
        self.listen(env, event, listener, false)
    }

    /// As `on`, for the next event of `type` only.
    #[napi(
        ts_generic_types = "E extends ListenerEventType",
        ts_args_type = "type: E, listener: ListenerFor<E>"
    )]
    pub fn once(&self, env: &Env, event: Unknown<'_>, listener: Unknown<'_>) -> napi::Result<()> {
        self.listen(env, event, listener, true)
    }

    /// Removes `listener` from `type` (the one added last, if added more than once); whether it
    /// was there. The last listener of a type removed stops its feed.
    #[napi(
        ts_generic_types = "E extends ListenerEventType",
        ts_args_type = "type: E, listener: ListenerFor<E>"
    )]
    pub fn off(&self, env: &Env, event: Unknown<'_>, listener: Unknown<'_>) -> napi::Result<bool> {
        let event = Ctx::options(env)
            .text("event", event)
            .map_err(|e| e.into_napi(env))?;
        self.listeners.remove(env, event.trim(), listener)
    }

    /// How many listeners `type` has.
    #[napi(ts_args_type = "type: ListenerEventType")]
    pub fn listener_count(&self, env: &Env, event: Unknown<'_>) -> napi::Result<u32> {
        let event = Ctx::options(env)
            .text("event", event)
            .map_err(|e| e.into_napi(env))?;
        Ok(self.listeners.count(event.trim()))
    }
}

impl Scheduler {
    fn listen(
        &self,
        env: &Env,
        event: Unknown<'_>,
        listener: Unknown<'_>,
        once: bool,
    ) -> napi::Result<()> {
        let event = Ctx::options(env)
            .text("event", event)
            .map_err(|e| e.into_napi(env))?;
        let listener = listener_arg(env, listener)?;
        let event = event.trim().to_owned();
        Hub::add(&self.listeners, env, &self.handle, event, listener, once)
            .map_err(|e| e.into_napi(env))?;
        Ok(())
    }
}
