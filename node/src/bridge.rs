//! Running a bindings future for JavaScript: the future runs on the bindings' tokio runtime
//! ([`timehook_bindings::spawn_then`]), or, for a one-job call, is polled on the JavaScript thread
//! itself ([`promise_eager`]), and settles a promise on the JavaScript thread.
//!
//! The event loop never waits: the calling function returns the promise at once; the thread that
//! finishes the operation only queues its outcome (napi's threadsafe function), and the value or
//! the `TimehookError` is built on the JavaScript thread. A future polled there never blocks it:
//! it hands its work to the store thread and is polled again when woken. A pending promise keeps
//! the event loop alive, so a process exits only after its operations have settled.

use std::future::Future;
use std::sync::Arc;

use napi::bindgen_prelude::{Function, PromiseRaw, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, Status};
use timehook_bindings::{Pollable, Poller};

use crate::errors::IntoNapi;
use crate::value::ConvResult;

type Resolver<V> = Box<dyn FnOnce(Env) -> napi::Result<V> + Send>;

/// Returns a promise for `fut`'s outcome, converted to JavaScript by `convert` on the JavaScript
/// thread. `input` is the outcome of converting the arguments: when it is an error, the promise
/// rejects with it and nothing runs.
pub fn promise<'env, T, V, F, C>(
    env: &'env Env,
    input: ConvResult<F>,
    convert: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: Future<Output = timehook_bindings::Result<T>> + Send + 'static,
    C: FnOnce(T) -> V + Send + 'static,
{
    settle(env, input, convert, false)
}

/// As [`promise`], for a call whose steps are short (one job): it is polled on the JavaScript
/// thread, at once and again whenever it is woken ([`timehook_bindings::start_polled_by`]), so
/// the job goes to the store thread, and the store's answer back, without a runtime thread woken
/// in between.
pub fn promise_eager<'env, T, V, F, C>(
    env: &'env Env,
    input: ConvResult<F>,
    convert: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: Future<Output = timehook_bindings::Result<T>> + Send + 'static,
    C: FnOnce(T) -> V + Send + 'static,
{
    settle(env, input, convert, true)
}

fn settle<'env, T, V, F, C>(
    env: &'env Env,
    input: ConvResult<F>,
    convert: C,
    eager: bool,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: Future<Output = timehook_bindings::Result<T>> + Send + 'static,
    C: FnOnce(T) -> V + Send + 'static,
{
    // Checked first: once the deferred exists, it must be settled.
    timehook_bindings::runtime().map_err(|e| e.into_napi(env))?;
    let poller = if eager {
        Some(crate::errors::poller(env)?)
    } else {
        None
    };
    let (deferred, promise) = env.create_deferred::<V, Resolver<V>>()?;
    let promise = PromiseRaw::new(env.raw(), promise.raw());
    let fut = match input {
        Ok(fut) => fut,
        Err(e) => {
            deferred.reject(e.into_napi(env));
            return Ok(promise);
        }
    };
    let done = move |outcome: timehook_bindings::Result<T>| {
        deferred.resolve(Box::new(move |env| match outcome {
            Ok(value) => Ok(convert(value)),
            Err(e) => Err(e.into_napi(&env)),
        }));
    };
    let spawned = match poller {
        Some(poller) => timehook_bindings::start_polled_by(fut, done, poller),
        None => timehook_bindings::spawn_then(fut, done),
    };
    // Cannot fail: the runtime was checked above.
    spawned.map_err(|e| e.into_napi(env))?;
    Ok(promise)
}

/// Polls tasks on the JavaScript thread: the callback of a threadsafe function of a function
/// that does nothing. Weak: a pending promise keeps the event loop alive, not this.
type PollQueue = ThreadsafeFunction<Arc<dyn Pollable>, (), (), Status, false, true>;

/// This environment's [`Poller`], made once (kept in the instance data).
pub fn make_poller(env: &Env) -> napi::Result<Poller> {
    let nothing: Function<'_, (), ()> = env.run_script("(function () {})")?;
    let queue: PollQueue = nothing
        .build_threadsafe_function::<Arc<dyn Pollable>>()
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(|ctx| {
            ctx.value.poll();
            Ok(())
        })?;
    Ok(Arc::new(move |task| {
        // `Closing`: the environment is going away, and nobody is left to tell.
        let _ = queue.call(task, ThreadsafeFunctionCallMode::NonBlocking);
    }))
}
