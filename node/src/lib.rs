//! The native addon of the `timehook` npm package (napi-rs).
//!
//! Each file holds one exposed type; the logic shared with Python lives in `timehook-bindings`.
//! Binding bodies only convert: JavaScript values in (`value`, `jobs`, `headers`), plain records
//! out (`records`), errors through `IntoNapi` (`errors`), and every operation that touches SQLite
//! or the network through `bridge`, which returns a promise and never blocks the event loop.

// napi registers exported items only outside `cfg(test)`, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod batch;
mod bridge;
mod clock;
mod errors;
mod events;
mod export;
mod headers;
mod jobs;
mod metrics;
mod outcomes;
mod records;
mod scheduler;
mod signer;
mod types;
mod value;
mod verifier;

use napi::Env;
use napi::bindgen_prelude::Object;
use napi_derive::napi;

/// The package's version (one version for every timehook package: the workspace's).
#[napi]
pub const VERSION: &str = timehook_bindings::VERSION;

/// The path that opens an in-memory store (nothing survives the scheduler).
#[napi]
pub const MEMORY_PATH: &str = timehook_bindings::MEMORY_PATH;

/// Adds `TimehookError`, `ErrorCode` and `ERROR_CODES` to the module's exports, and makes
/// `AttemptExport` async iterable.
#[napi(module_exports)]
pub fn module_exports(mut exports: Object<'_>, env: Env) -> napi::Result<()> {
    errors::register(&env, &mut exports)?;
    export::register(&env, &exports)
}
