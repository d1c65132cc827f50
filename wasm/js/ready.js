// Whether the WebAssembly module is instantiated. The entry points (workerd.js, node.js,
// browser.js) mark it; api.js checks it so that a forgotten `await init()` gets a clear error.

let ready = false;

/** Records that the module is instantiated. */
export function markReady() {
  ready = true;
}

/** Throws a `not_initialized` error unless the module is instantiated. */
export function assertReady() {
  if (!ready) {
    const err = new Error(
      "@timehook/verify is not initialized: call `await init()` once before using it in this runtime",
    );
    err.code = "not_initialized";
    throw err;
  }
}
