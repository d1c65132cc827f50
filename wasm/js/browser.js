// Entry point for browsers, Deno and other runtimes with `fetch`: call `await init()` once.
//   import { init, Verifier } from "@timehook/verify";
//   await init();
// `init()` fetches the `.wasm` file next to this package (bundlers such as Vite and webpack
// detect the `new URL(..., import.meta.url)` below and emit it); pass a URL, a Response, the
// bytes or a compiled WebAssembly.Module to load it from elsewhere, or call `initSync` with
// bytes or a module.

import wasmInit, { initSync as wasmInitSync } from "../pkg/timehook_wasm.js";
import { markReady } from "./ready.js";

export * from "./api.js";

/**
 * Loads and instantiates the WebAssembly module; safe to call more than once (later calls
 * return at once).
 */
export async function init(source) {
  const moduleOrPath = source ?? new URL("../pkg/timehook_wasm_bg.wasm", import.meta.url);
  await wasmInit({ module_or_path: moduleOrPath });
  markReady();
}

/** Instantiates the WebAssembly module from its bytes or a compiled WebAssembly.Module. */
export function initSync(moduleOrBytes) {
  wasmInitSync({ module: moduleOrBytes });
  markReady();
}
