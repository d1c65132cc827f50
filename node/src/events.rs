//! In-process events for JavaScript: `scheduler.on(type, listener)`.
//!
//! Each event type listened to gets one feed: a bindings [`Listener`] (a thread of its own that
//! receives the scheduler's events) that hands every event to a threadsafe function in
//! non-blocking mode, so delivery never waits for JavaScript. The threadsafe function is weak (it
//! never keeps the process alive) and its queue is bounded: a feed [`QUEUE_SIZE`] events behind
//! the JavaScript thread skips events rather than grow without end.
//!
//! Each event is a call of its own, even when the listener's thread takes several at once: Node
//! runs pending promise callbacks after each call, so code that awaits one event and then
//! listens again (`await new Promise((r) => s.once('attempt', r))` in a loop) sees every event.
//! Handing a batch in one call would be cheaper, and would make such loops miss events.
//!
//! On the JavaScript thread an event goes to the listeners of its type in the order they were
//! added (the list as it stood when the event arrived). A listener that throws, or returns a
//! promise that rejects, stops neither the others nor later events: the error goes to the
//! `'error'` listeners as `(error, event)`, or, when there are none, to `process.emitWarning`
//! (type [`WARNING_TYPE`]). The last listener of a type removed stops its feed; `close()` stops
//! them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::Unknown;
use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, FunctionRef, JsValue, Object};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsError, Status, ValueType};
use timehook_bindings::{EventRecord, Listener, SchedulerHandle};

use crate::records::{EventArgs, TimehookEvent, event_args};
use crate::value::ConvResult;

/// The event that receives the errors of other listeners.
pub const ERROR_EVENT: &str = "error";
/// The `type` of the warning emitted for a listener's error when no `'error'` listener exists.
pub const WARNING_TYPE: &str = "TimehookListenerError";
/// How many events a feed may queue for the JavaScript thread before it skips events.
pub const QUEUE_SIZE: usize = 1024;

/// A listener as stored: its arguments are re-typed at each call.
type Callback = FunctionRef<Unknown<'static>, Unknown<'static>>;
/// The handler of a listener's rejected promise, called with the event as `this`.
type Rejected = FunctionRef<Unknown<'static>, ()>;
/// A feed's threadsafe function: weak, not error-first, bounded.
type Feed = ThreadsafeFunction<EventRecord, (), EventArgs, Status, false, true, QUEUE_SIZE>;

struct Entry {
    event: String,
    callback: Callback,
    once: bool,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    feeds: HashMap<String, Listener>,
}

impl State {
    /// Stops the feed of `event` once no listener is left for it.
    fn prune(&mut self, event: &str) {
        if !self.entries.iter().any(|e| e.event == event) {
            self.feeds.remove(event);
        }
    }
}

/// The listeners of one scheduler.
#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
}

/// A JavaScript function with the arguments it is called with here.
fn retyped<'e, Args>(
    env: &'e Env,
    callback: &Callback,
) -> napi::Result<Function<'e, Args, Unknown<'e>>>
where
    Args: napi::bindgen_prelude::JsValuesTupleIntoVec,
{
    Function::from_unknown(callback.borrow_back(env)?.to_unknown())
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `listener` for `event` (an event type, `*` or `error`), starting the feed of `event`
    /// if it is the first.
    pub fn add(
        self: &Arc<Self>,
        env: &Env,
        handle: &SchedulerHandle,
        event: String,
        listener: Function<'_, Unknown<'static>, Unknown<'static>>,
        once: bool,
    ) -> ConvResult<()> {
        let callback = listener.create_ref()?;
        let mut state = self.state();
        if event != ERROR_EVENT && !state.feeds.contains_key(&event) {
            let feed = self.start_feed(env, handle, &event)?;
            state.feeds.insert(event.clone(), feed);
        }
        state.entries.push(Entry {
            event,
            callback,
            once,
        });
        Ok(())
    }

    /// Removes the listener of `event` added last that is `listener`; whether there was one.
    pub fn remove(&self, env: &Env, event: &str, listener: Unknown<'_>) -> napi::Result<bool> {
        let mut state = self.state();
        let mut found = None;
        for (i, entry) in state.entries.iter().enumerate().rev() {
            if entry.event == event
                && env.strict_equals(entry.callback.borrow_back(env)?, listener)?
            {
                found = Some(i);
                break;
            }
        }
        let Some(i) = found else { return Ok(false) };
        state.entries.remove(i);
        state.prune(event);
        Ok(true)
    }

    /// How many listeners `event` has.
    pub fn count(&self, event: &str) -> u32 {
        let n = self
            .state()
            .entries
            .iter()
            .filter(|e| e.event == event)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Removes every listener and stops every feed.
    pub fn clear(&self) {
        let mut state = self.state();
        state.feeds.clear();
        state.entries.clear();
    }

    /// A feed for `event`: the JavaScript function that dispatches its events, behind a
    /// threadsafe function called by a bindings listener.
    fn start_feed(
        self: &Arc<Self>,
        env: &Env,
        handle: &SchedulerHandle,
        event: &str,
    ) -> ConvResult<Listener> {
        let hub = Arc::clone(self);
        // Called with the event as `this` (bound per call) and the rejection reason.
        let rejected = env
            .create_function_from_closure::<Unknown<'static>, (), _>(
                "timehookListenerRejected",
                move |ctx| {
                    let error = ctx.get::<Unknown<'_>>(0)?;
                    let event = ctx.this::<Object<'_>>()?;
                    hub.report(ctx.env, error, event);
                    Ok(())
                },
            )?
            .create_ref()?;
        let hub = Arc::clone(self);
        let feed = event.to_owned();
        let dispatcher = env.create_function_from_closure::<TimehookEvent, (), _>(
            "timehookDispatch",
            move |ctx| {
                let event = ctx.get::<Object<'_>>(0)?;
                hub.dispatch(ctx.env, &feed, event, &rejected);
                Ok(())
            },
        )?;
        // The threadsafe function calls the dispatcher through a JavaScript function that builds
        // attempt events from their fields.
        let maker = crate::errors::event_from_args(env)?.borrow_back(env)?;
        let dispatcher = Function::from_unknown(dispatcher.to_unknown())?;
        let from_args: Function<'_, EventArgs, ()> =
            Function::from_unknown(maker.call(dispatcher)?)?;
        let tsfn: Feed = from_args
            .build_threadsafe_function::<EventRecord>()
            .weak::<true>()
            .callee_handled::<false>()
            .max_queue_size::<QUEUE_SIZE>()
            .build_callback(|ctx| Ok(event_args(ctx.value)))?;
        let listener = handle.listen(&[event.to_owned()], move |batch| {
            for record in batch {
                // `QueueFull` skips the event; `Closing` means the environment is going away.
                let _ = tsfn.call(record, ThreadsafeFunctionCallMode::NonBlocking);
            }
        })?;
        Ok(listener)
    }

    /// The listeners of `event`, as they stand; `once` listeners are removed on the way.
    fn take<'e>(
        &self,
        env: &'e Env,
        event: &str,
    ) -> napi::Result<Vec<Function<'e, Unknown<'e>, Unknown<'e>>>> {
        let mut state = self.state();
        let mut out = Vec::new();
        let mut removed = false;
        let mut i = 0;
        while i < state.entries.len() {
            let entry = &state.entries[i];
            if entry.event != event {
                i += 1;
                continue;
            }
            out.push(retyped(env, &entry.callback)?);
            if entry.once {
                state.entries.remove(i);
                removed = true;
            } else {
                i += 1;
            }
        }
        if removed {
            state.prune(event);
        }
        Ok(out)
    }

    /// Calls the listeners of `feed` with `event`. Never throws: a failure is reported.
    fn dispatch(&self, env: &Env, feed: &str, event: Object<'_>, rejected: &Rejected) {
        let run = || -> napi::Result<()> {
            for listener in self.take(env, feed)? {
                match listener.call(event.to_unknown()) {
                    Ok(value) if value.is_promise()? => {
                        let promise = Object::from_unknown(value)?;
                        let catch: Function<'_, Unknown<'_>, Unknown<'_>> =
                            promise.get_named_property("catch")?;
                        let rejected = rejected.borrow_back(env)?;
                        let handler = rejected.bind(event)?;
                        catch.apply(promise, handler.to_unknown())?;
                    }
                    Ok(_) => {}
                    Err(e) => self.report(env, JsError::from(e).into_unknown(*env), event),
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            warn(env, feed, JsError::from(e).into_unknown(*env));
        }
    }

    /// Hands a listener's `error` to the `'error'` listeners, or warns when there are none.
    fn report(&self, env: &Env, error: Unknown<'_>, event: Object<'_>) {
        let kind = event
            .get_named_property::<String>("type")
            .unwrap_or_default();
        let handlers = match self.take(env, ERROR_EVENT) {
            Ok(h) if !h.is_empty() => h,
            _ => return warn(env, &kind, error),
        };
        for handler in handlers {
            let called =
                Function::<'_, FnArgs<(Unknown<'_>, Unknown<'_>)>, Unknown<'_>>::from_unknown(
                    handler.to_unknown(),
                )
                .and_then(|h| h.call(FnArgs::from((error, event.to_unknown()))));
            if let Err(e) = called {
                warn(env, ERROR_EVENT, JsError::from(e).into_unknown(*env));
            }
        }
    }
}

/// `process.emitWarning` for the error of a listener of `kind`; best effort.
fn warn(env: &Env, kind: &str, error: Unknown<'_>) {
    let emit = || -> napi::Result<()> {
        let text = describe_error(&error)?;
        let process: Object<'_> = env.get_global()?.get_named_property("process")?;
        let emit: Function<'_, FnArgs<(String, &str)>, Unknown<'_>> =
            process.get_named_property("emitWarning")?;
        emit.apply(
            process,
            FnArgs::from((
                format!("a listener for {kind:?} threw: {text}"),
                WARNING_TYPE,
            )),
        )?;
        Ok(())
    };
    // Nothing is left to report to if even the warning fails.
    let _ = emit();
}

/// An error's stack when it has one, else the value as a string.
fn describe_error(error: &Unknown<'_>) -> napi::Result<String> {
    if error.is_error()? {
        let object = Object::from_unknown(*error)?;
        let stack = object.get_named_property::<Unknown<'_>>("stack")?;
        if stack.get_type()? == ValueType::String {
            return String::from_unknown(stack);
        }
    }
    let text = error.coerce_to_string()?;
    String::from_unknown(text.to_unknown())
}
