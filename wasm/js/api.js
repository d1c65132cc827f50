// The public API of @timehook/verify, shared by every entry point.
//
// Conversion only: the polymorphic JavaScript arguments are turned into the flat forms the
// WebAssembly binding takes (a list of key strings, the body as bytes, the headers as
// [name, value, name, value, ...]); every check and every error code comes from timehook's Rust
// core. No Node-only API is used here, so the same file runs in workerd, browsers, Deno and Node.

import {
  WasmSigner,
  WasmVerifier,
  normalizeKey as wasmNormalizeKey,
  publicKey as wasmPublicKey,
  version as wasmVersion,
} from "../pkg/timehook_wasm.js";
import { assertReady } from "./ready.js";

/** `code` of errors about an argument's type (the same code the binding uses). */
const INVALID_ARGUMENT = "invalid_argument";

const encoder = new TextEncoder();
const toStringTag = Object.prototype.toString;

function argumentError(message) {
  const err = new TypeError(message);
  err.code = INVALID_ARGUMENT;
  return err;
}

/** A secret or an array of secrets, as an array of strings. */
function keyList(secretOrSecrets) {
  if (typeof secretOrSecrets === "string") return [secretOrSecrets];
  if (Array.isArray(secretOrSecrets) && secretOrSecrets.every((s) => typeof s === "string")) {
    return secretOrSecrets;
  }
  throw argumentError("secrets must be a string or an array of strings");
}

/** A body as bytes: a Uint8Array as is, other views and ArrayBuffers wrapped, strings as UTF-8. */
function bodyBytes(body) {
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return encoder.encode(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const tag = toStringTag.call(body);
  if (tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]") {
    return new Uint8Array(body);
  }
  throw argumentError("body must be a Uint8Array, an ArrayBuffer (or a view of one) or a string");
}

function pushHeader(out, name, value) {
  if (value === undefined || value === null) return;
  if (typeof name !== "string") throw argumentError("header names must be strings");
  if (typeof value === "string") {
    out.push(name, value);
  } else if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item !== "string") {
        throw argumentError(`header ${name}: values must be strings or arrays of strings`);
      }
      out.push(name, item);
    }
  } else {
    throw argumentError(`header ${name}: values must be strings or arrays of strings`);
  }
}

/**
 * Headers as a flat [name, value, ...] list. Accepts a WHATWG `Headers` (or any iterable of
 * [name, value] pairs, such as a Map or an array) and plain objects such as Node's
 * `IncomingMessage.headers`; values are strings or arrays of strings, and `undefined` values are
 * skipped. Names keep their case: the core matches them case-insensitively.
 */
function headerList(headers) {
  if (headers === null || typeof headers !== "object") {
    throw argumentError(
      "headers must be a Headers object, a plain object, or an iterable of [name, value] pairs",
    );
  }
  const out = [];
  if (typeof headers[Symbol.iterator] === "function") {
    for (const pair of headers) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw argumentError("an iterable of headers must yield [name, value] pairs");
      }
      pushHeader(out, pair[0], pair[1]);
    }
  } else {
    for (const name of Object.keys(headers)) pushHeader(out, name, headers[name]);
  }
  return out;
}

/**
 * The delivery profiles' schemes (timehook's `Scheme::for_profile`), so that a receiver moving
 * off one of these services verifies its signatures by the service's name. Kept in JavaScript,
 * which costs the module nothing; the tests verify a delivery the Rust core signed under each name.
 */
const PROFILES = {
  "runlater-eu": ["hex_body", "X-Runlater-Signature", true],
  runlater: ["timestamped_hex", "X-RunLater-Signature", undefined, "X-RunLater-Timestamp"],
  cronflow: ["hex_body", "X-CronFlow-Signature", false],
  svix: ["standard"],
  a1cron: ["hex_body", "X-A1Cron-Signature", false],
};

/**
 * The `scheme` option as the binding's parts. A string names a scheme without options
 * ("standard", "github", "stripe") or a profile ("runlater-eu", "runlater", "cronflow", "svix",
 * "a1cron"); an object gives `kind` plus its options.
 */
function schemeParts(scheme) {
  if (scheme === undefined || scheme === null) return ["standard"];
  if (typeof scheme === "string") return Object.hasOwn(PROFILES, scheme) ? PROFILES[scheme] : [scheme];
  if (typeof scheme === "object" && typeof scheme.kind === "string") {
    return [
      scheme.kind,
      optionalString(scheme.header, "scheme.header"),
      optionalBoolean(scheme.prefix, "scheme.prefix"),
      optionalString(scheme.timestampHeader, "scheme.timestampHeader"),
    ];
  }
  throw argumentError('scheme must be a name such as "standard" or an object with a kind');
}

function optionalString(value, what) {
  if (value === undefined || value === null || typeof value === "string") return value ?? undefined;
  throw argumentError(`${what} must be a string`);
}

function optionalBoolean(value, what) {
  if (value === undefined || value === null || typeof value === "boolean") return value ?? undefined;
  throw argumentError(`${what} must be a boolean`);
}

function number(value, what) {
  if (typeof value === "number") return value;
  throw argumentError(`${what} must be a number of seconds`);
}

function string(value, what) {
  if (typeof value === "string") return value;
  throw argumentError(`${what} must be a string`);
}

function options(value) {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object") throw argumentError("options must be an object");
  return value;
}

/**
 * Verifies webhook deliveries signed with Standard Webhooks (`v1` HMAC secrets and `v1a` ed25519
 * public keys) or a compatibility scheme. Give every active secret during a rotation: any match
 * passes.
 */
export class Verifier {
  #inner;

  constructor(secretOrSecrets, opts) {
    assertReady();
    const { toleranceSeconds, scheme } = options(opts);
    const [kind, header, prefix, timestampHeader] = schemeParts(scheme);
    this.#inner = new WasmVerifier(
      keyList(secretOrSecrets),
      toleranceSeconds === undefined || toleranceSeconds === null
        ? undefined
        : number(toleranceSeconds, "toleranceSeconds"),
      kind,
      header,
      prefix,
      timestampHeader,
    );
  }

  /**
   * Throws unless `body` (the raw bytes as received) carries a valid signature in `headers` and
   * its timestamp is within the tolerance of `nowSeconds` (unix seconds; default: the current
   * time).
   */
  verify(body, headers, nowSeconds) {
    const now = nowSeconds === undefined || nowSeconds === null ? Date.now() / 1000 : nowSeconds;
    this.#inner.verify(bodyBytes(body), headerList(headers), number(now, "nowSeconds"));
  }

  /** Like `verify`, without the timestamp check (for replaying stored deliveries). */
  verifyIgnoringTimestamp(body, headers) {
    this.#inner.verifyIgnoringTimestamp(bodyBytes(body), headerList(headers));
  }

  /** The timestamp tolerance in seconds. */
  get toleranceSeconds() {
    return this.#inner.toleranceSeconds;
  }

  /** The scheme's name: "standard", "hex_body" or "timestamped_hex". */
  get scheme() {
    return this.#inner.scheme;
  }

  /** Releases the WebAssembly memory now instead of at garbage collection. */
  free() {
    this.#inner.free();
  }
}

/** Signs deliveries with every key given, in order (for tests and tools). */
export class Signer {
  #inner;

  constructor(secretOrSecrets, opts) {
    assertReady();
    const [kind, header, prefix, timestampHeader] = schemeParts(options(opts).scheme);
    this.#inner = new WasmSigner(keyList(secretOrSecrets), kind, header, prefix, timestampHeader);
  }

  /** The value of the scheme's signature header (`webhook-signature` for Standard Webhooks). */
  sign(msgId, timestampSeconds, body) {
    return this.#inner.sign(
      string(msgId, "msgId"),
      number(timestampSeconds, "timestampSeconds"),
      bodyBytes(body),
    );
  }

  /** Every header the scheme puts on a request, as a plain object in sending order. */
  headers(msgId, timestampSeconds, body) {
    const flat = this.#inner.headers(
      string(msgId, "msgId"),
      number(timestampSeconds, "timestampSeconds"),
      bodyBytes(body),
    );
    const out = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }

  /** Releases the WebAssembly memory now instead of at garbage collection. */
  free() {
    this.#inner.free();
  }
}

if (typeof Symbol.dispose === "symbol") {
  Verifier.prototype[Symbol.dispose] = Verifier.prototype.free;
  Signer.prototype[Symbol.dispose] = Signer.prototype.free;
}

function withSigner(secretOrSecrets, opts, use) {
  const signer = new Signer(secretOrSecrets, opts);
  try {
    return use(signer);
  } finally {
    signer.free();
  }
}

/** The signature header value for one delivery (see `Signer.sign`). */
export function sign(secretOrSecrets, msgId, timestampSeconds, body, opts) {
  return withSigner(secretOrSecrets, opts, (s) => s.sign(msgId, timestampSeconds, body));
}

/** Every signature header for one delivery, as a plain object (see `Signer.headers`). */
export function signHeaders(secretOrSecrets, msgId, timestampSeconds, body, opts) {
  return withSigner(secretOrSecrets, opts, (s) => s.headers(msgId, timestampSeconds, body));
}

/**
 * Parses a key and returns its canonical form: "secret" → `whsec_…`, "signing_key" → `whsk_…`
 * (seed form), "verifying_key" → `whpk_…`, "raw" → the input.
 */
export function normalizeKey(input, kind = "secret") {
  assertReady();
  return wasmNormalizeKey(string(kind, "kind"), string(input, "input"));
}

/** The `whpk_` public key of a `whsk_` ed25519 signing key. */
export function publicKey(signingKey) {
  assertReady();
  return wasmPublicKey(string(signingKey, "signingKey"));
}

/** The package version (timehook's workspace version, compiled into the WebAssembly module). */
export function version() {
  assertReady();
  return wasmVersion();
}
