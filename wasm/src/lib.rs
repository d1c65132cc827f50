//! WebAssembly build of `timehook::signing` for JavaScript runtimes (Cloudflare Workers /
//! workerd, browsers, Node, Deno), published on npm as `@timehook/verify`.
//!
//! Every function here only converts: JavaScript values in, one call into [`signing`],
//! JavaScript values or errors out. The npm package's hand-written glue (`js/api.js`) turns the
//! polymorphic JavaScript arguments (a secret or an array of secrets, a `Headers` object or a
//! plain object, a `Uint8Array`, `ArrayBuffer` or string body) into the flat forms taken here:
//! a list of key strings, the raw body bytes, and the headers as `[name, value, name, value, …]`.
//!
//! Errors are thrown as JavaScript `Error`s carrying the core's stable `code`
//! ([`VerifyError::code`](signing::VerifyError::code),
//! [`SigningError::code`](signing::SigningError::code)); see [`convert`].
//!
//! # Size: no standard library on `wasm32-unknown-unknown`
//!
//! The module must stay under 80 KB. With the standard library linked, every possible panic
//! (an index or slice bound, an `unwrap` inside a dependency) brings in std's panic hook and
//! `core::fmt`, about 14 KB that never run: a panic in WebAssembly only traps. So this crate is
//! `no_std` (outside its unit tests), and so is `timehook` without its `scheduler` feature, which
//! is how it is used here; on `wasm32-unknown-unknown` the crate supplies a panic handler that
//! traps and a small allocator. On the host, wasm-bindgen links std, which supplies both.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub use timehook::signing;

pub mod convert;
mod keys;
mod signer;
mod verifier;

use alloc::string::String;

use wasm_bindgen::prelude::wasm_bindgen;

/// A panic traps, as it does with std on this target (`panic = "abort"`), but without
/// formatting a message that nothing would show.
#[cfg(all(target_arch = "wasm32", target_os = "unknown", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The allocator: talc, smaller (about 7 KB less) than dlmalloc, std's allocator on
/// this target. JavaScript runs WebAssembly single-threaded here (no `atomics`), which
/// `new_wasm_dynamic_allocator` requires.
#[cfg(all(
    target_arch = "wasm32",
    target_os = "unknown",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use keys::{normalize_key, public_key};
pub use signer::WasmSigner;
pub use verifier::WasmVerifier;

/// The package version: the workspace version from `Cargo.toml`, fixed at build time.
#[wasm_bindgen]
#[must_use]
pub fn version() -> String {
    String::from(env!("CARGO_PKG_VERSION"))
}
