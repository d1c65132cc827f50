// Entry point for Node (and Bun and Deno through their Node compatibility): reads and
// instantiates the WebAssembly file synchronously on import, so the package is ready on import:
//   import { Verifier } from "@timehook/verify";

import { readFileSync } from "node:fs";

import { initSync as wasmInitSync } from "../pkg/timehook_wasm.js";
import { markReady } from "./ready.js";

const wasmUrl = new URL("../pkg/timehook_wasm_bg.wasm", import.meta.url);
wasmInitSync({ module: new WebAssembly.Module(readFileSync(wasmUrl)) });
markReady();

export * from "./api.js";

/** Nothing to do here (the module is ready on import); kept so portable code can always call it. */
export async function init() {}

/** Nothing to do here (the module is ready on import); kept for portable code. */
export function initSync() {}
