// Entry point for Cloudflare Workers (workerd) and other runtimes that import `.wasm` files as
// compiled WebAssembly.Module objects and refuse to compile bytes at run time. Ready on import:
//   import { Verifier } from "@timehook/verify";

import wasmModule from "../pkg/timehook_wasm_bg.wasm";
import { initSync as wasmInitSync } from "../pkg/timehook_wasm.js";
import { markReady } from "./ready.js";

wasmInitSync({ module: wasmModule });
markReady();

export * from "./api.js";

/** Nothing to do here (the module is ready on import); kept so portable code can always call it. */
export async function init() {}

/** Nothing to do here (the module is ready on import); kept for portable code. */
export function initSync() {}
