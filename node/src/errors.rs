//! Binding errors as JavaScript `TimehookError`s: an `Error` subclass with the stable `code` of
//! [`timehook_bindings::ErrorCode`] and the `detail` (job field, option or header) at fault.
//!
//! The class is defined once per environment (main thread or worker) when the module loads, and
//! kept in the environment's instance data so errors can be built on the JavaScript thread, both
//! for synchronous throws and when a promise settles.

use napi::JsValue as _;
use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, FunctionRef, Object, Unknown};
use napi::{Env, Status};
use napi_derive::napi;
use timehook_bindings::{BindingError, ErrorCode as Code};

/// The JavaScript source of `TimehookError` (evaluated once per environment).
const ERROR_CLASS: &str = r#"(() => {
  class TimehookError extends Error {
    constructor(message, code, detail) {
      super(message);
      this.code = code;
      if (detail !== undefined && detail !== null) this.detail = detail;
    }
  }
  Object.defineProperty(TimehookError.prototype, "name", {
    value: "TimehookError", writable: true, configurable: true,
  });
  return TimehookError;
})()"#;

/// Every stable error code (the codes of the Rust bindings crate, shared with Python).
#[napi(string_enum = "snake_case")]
#[derive(Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A job specification was rejected; nothing was stored.
    InvalidJob,
    /// The payload is larger than `maxPayloadSize`; nothing was stored.
    PayloadTooLarge,
    /// A URL names an address the SSRF guard refuses (loopback, private, link-local, ...);
    /// nothing was stored.
    Blocked,
    /// The cron expression was rejected; nothing was stored.
    InvalidCron,
    /// The cron time zone is not an IANA zone; nothing was stored.
    InvalidTimezone,
    /// A secret or key could not be parsed.
    InvalidSecret,
    /// A signer or verifier was given no keys.
    NoKeys,
    /// A key cannot be used with the chosen signature scheme.
    IncompatibleKey,
    /// A signature scheme is not usable.
    InvalidScheme,
    /// A message id is not usable as `webhook-id`.
    InvalidMsgId,
    /// The operating system's random number generator failed.
    RandomUnavailable,
    /// No job has this id.
    NotFound,
    /// The job exists but the action does not apply in its current state.
    InvalidState,
    /// The scheduler's options are inconsistent.
    InvalidConfig,
    /// The SQLite store failed; the operation was not applied.
    StoreError,
    /// The scheduler has been closed.
    Closed,
    /// A signature header is absent.
    MissingHeader,
    /// A signature header is present but unusable.
    InvalidHeader,
    /// The delivery's timestamp is older than the tolerance allows.
    TimestampTooOld,
    /// The delivery's timestamp is further in the future than the tolerance allows.
    TimestampTooNew,
    /// No signature matched any key.
    NoMatchingSignature,
    /// A failure inside timehook itself.
    Internal,
}

impl From<Code> for ErrorCode {
    /// Exhaustive, so a code added to the bindings must be added here (and so to `index.d.ts`).
    fn from(code: Code) -> Self {
        match code {
            Code::InvalidJob => ErrorCode::InvalidJob,
            Code::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Code::Blocked => ErrorCode::Blocked,
            Code::InvalidCron => ErrorCode::InvalidCron,
            Code::InvalidTimezone => ErrorCode::InvalidTimezone,
            Code::InvalidSecret => ErrorCode::InvalidSecret,
            Code::NoKeys => ErrorCode::NoKeys,
            Code::IncompatibleKey => ErrorCode::IncompatibleKey,
            Code::InvalidScheme => ErrorCode::InvalidScheme,
            Code::InvalidMsgId => ErrorCode::InvalidMsgId,
            Code::RandomUnavailable => ErrorCode::RandomUnavailable,
            Code::NotFound => ErrorCode::NotFound,
            Code::InvalidState => ErrorCode::InvalidState,
            Code::InvalidConfig => ErrorCode::InvalidConfig,
            Code::StoreError => ErrorCode::StoreError,
            Code::Closed => ErrorCode::Closed,
            Code::MissingHeader => ErrorCode::MissingHeader,
            Code::InvalidHeader => ErrorCode::InvalidHeader,
            Code::TimestampTooOld => ErrorCode::TimestampTooOld,
            Code::TimestampTooNew => ErrorCode::TimestampTooNew,
            Code::NoMatchingSignature => ErrorCode::NoMatchingSignature,
            Code::Internal => ErrorCode::Internal,
        }
    }
}

/// The arguments of the `TimehookError` constructor: message, code, detail.
type ErrorArgs = FnArgs<(String, &'static str, Option<String>)>;
type ErrorClass = FunctionRef<ErrorArgs, Unknown<'static>>;

/// What the module keeps per environment.
struct Instance {
    error_class: ErrorClass,
    plain_batch: crate::batch::PlainBatch,
    poller: timehook_bindings::Poller,
    event_from_args: crate::records::EventFromArgs,
}

/// Defines `TimehookError`, keeps it for later, and adds it with the code tables to `exports`.
pub fn register(env: &Env, exports: &mut Object<'_>) -> napi::Result<()> {
    let class: Function<'_, ErrorArgs, Unknown<'static>> = env.run_script(ERROR_CLASS)?;
    env.set_instance_data(
        Instance {
            error_class: class.create_ref()?,
            plain_batch: crate::batch::compile(env)?,
            poller: crate::bridge::make_poller(env)?,
            event_from_args: crate::records::compile_event_from_args(env)?,
        },
        (),
        |_| {},
    )?;
    exports.set_named_property("TimehookError", class)?;
    let mut constants = Object::new(env)?;
    for code in Code::ALL {
        constants.set_named_property(&code.as_str().to_ascii_uppercase(), code.as_str())?;
    }
    constants.freeze()?;
    exports.set_named_property("ErrorCode", constants)?;
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    exports.set_named_property("ERROR_CODES", codes)?;
    Ok(())
}

/// Converts a bindings error into a JavaScript error.
pub trait IntoNapi {
    /// A `napi::Error` that throws (or rejects with) a `TimehookError`.
    fn into_napi(self, env: &Env) -> napi::Error;
}

impl IntoNapi for BindingError {
    fn into_napi(self, env: &Env) -> napi::Error {
        match timehook_error(env, &self) {
            Ok(value) => value,
            // Only if the class could not be built: keep the message and code anyway.
            Err(_) => napi::Error::new(
                Status::GenericFailure,
                format!("{} ({})", self.message, self.code),
            ),
        }
    }
}

fn instance(env: &Env) -> napi::Result<&'static Instance> {
    let instance = env.get_instance_data::<Instance>()?.ok_or_else(|| {
        napi::Error::from_reason("timehook is not initialised in this environment")
    })?;
    Ok(instance)
}

/// The check of plain job batches (`batch`), as evaluated in this environment.
pub fn plain_batch(env: &Env) -> napi::Result<&'static crate::batch::PlainBatch> {
    Ok(&instance(env)?.plain_batch)
}

/// The function that builds attempt events from their fields (`records::EVENT_FROM_ARGS`), as
/// compiled when the module loaded.
pub fn event_from_args(env: &Env) -> napi::Result<&'static crate::records::EventFromArgs> {
    Ok(&instance(env)?.event_from_args)
}

/// The poller of this environment's JavaScript thread (`bridge`).
pub fn poller(env: &Env) -> napi::Result<timehook_bindings::Poller> {
    Ok(instance(env)?.poller.clone())
}

fn timehook_error(env: &Env, e: &BindingError) -> napi::Result<napi::Error> {
    let instance = instance(env)?;
    let class = instance.error_class.borrow_back(env)?;
    let value = class.new_instance(FnArgs::from((
        e.message.clone(),
        e.code.as_str(),
        e.detail.as_deref().map(js_field),
    )))?;
    Ok(napi::Error::from(value))
}

/// The name a JavaScript caller wrote for a field or option the engine names in snake_case
/// (`on_failure_url` is `onFailureUrl`). Other details (header names such as
/// `webhook-signature`) pass through.
fn js_field(detail: &str) -> String {
    let snake = detail.contains('_')
        && detail
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !snake {
        return detail.to_owned();
    }
    let mut out = String::with_capacity(detail.len());
    let mut upper = false;
    for c in detail.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A JavaScript `TypeError` with Node's `ERR_INVALID_ARG_TYPE` code, for arguments of the wrong
/// type outside job input (such as a verifier's body).
pub fn type_error(env: &Env, message: impl Into<String>) -> napi::Error {
    let message = message.into();
    let build = || -> napi::Result<napi::Error> {
        let class: Function<'_, String, Unknown<'_>> =
            env.get_global()?.get_named_property("TypeError")?;
        let error = class.new_instance(message.clone())?;
        let mut object = Object::from_unknown(error)?;
        object.set_named_property("code", TYPE_ERROR_CODE)?;
        Ok(napi::Error::from(object.to_unknown()))
    };
    build().unwrap_or_else(|_| napi::Error::new(Status::InvalidArg, message))
}

/// The `code` of the `TypeError`s thrown for arguments of the wrong type (as Node's own).
pub const TYPE_ERROR_CODE: &str = "ERR_INVALID_ARG_TYPE";
