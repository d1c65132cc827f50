// The public API of @timehook/verify, shared by every entry point.
//
// Conversion only: the polymorphic JavaScript arguments are turned into the flat forms the
// WebAssembly binding takes (a list of key strings, the body as bytes, the headers as
// [name, value, name, value, ...]); every check and every error code comes from timehook's Rust
// core. No Node-only API is used here, so the same file runs in workerd, browsers, Deno and Node.
//
// One exception, for speed: `verifyAsync` first tries a Standard Webhooks fast path here, with
// WebCrypto's native HMAC, that accepts only what the core accepts (a strict subset of its rules);
// anything else, every failure included, goes to the core's `verify`, so the errors are its own.

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

const subtle = globalThis.crypto?.subtle;

/** Standard base64 to bytes (atob: no Node-only API). */
function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Base64 of a short byte array (a MAC). */
function bytesToBase64(bytes) {
  return btoa(String.fromCharCode.apply(null, bytes));
}

/** Equal strings of equal length, compared without an early exit. */
function sameText(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The HMAC secrets of a Standard Webhooks verifier as bytes, each as the core parses it
 * (`normalizeKey`); `null` when there is none. Public keys (`whpk_`) are left to the core. */
function hmacSecrets(keys) {
  const secrets = [];
  for (const key of keys) {
    if (key.trim().startsWith("whpk_")) continue;
    try {
      secrets.push(base64ToBytes(wasmNormalizeKey("secret", key).slice("whsec_".length)));
    } catch {
      return null;
    }
  }
  return secrets.length ? secrets : null;
}

/** The largest signed content `verifyAsync` keeps a scratch buffer for (larger ones get their own). */
const SCRATCH_MAX = 1 << 20;

const PRINTABLE = /^[\t\x20-\x7e]*$/;
/** An id the core takes as it is: visible ASCII but '.', not empty. */
const ID = /^[\x21-\x2d\x2f-\x7e]+$/;
const TIMESTAMP = /^[0-9]{1,15}$/;
const STANDARD_NAMES = ["webhook-id", "svix-id", "webhook-timestamp", "svix-timestamp", "webhook-signature", "svix-signature"];

/** A header value as the core reads it (trimmed of spaces and tabs), or `null` when the core
 * would refuse it (not printable ASCII). */
function headerText(value) {
  if (!PRINTABLE.test(value)) return null;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first === 32 || first === 9 || last === 32 || last === 9 ? value.replace(/^[ \t]+|[ \t]+$/g, "") : value;
}

/** The id, timestamp and signature headers as the core reads them (each webhook-* name, else its
 * svix-* alias), from a flat [name, value, ...] list; `null` whenever the core might read them
 * differently or refuse them (a value that is not printable ASCII, an id or timestamp repeated
 * with different values, a missing header): the core then decides. */
function standardHeaders(list) {
  const found = [[], [], [], [], [], []];
  for (let i = 0; i < list.length; i += 2) {
    const index = STANDARD_NAMES.indexOf(list[i].trim().toLowerCase());
    if (index < 0) continue;
    const value = headerText(list[i + 1]);
    if (value === null) return null;
    found[index].push(value);
  }
  const pick = (i) => (found[2 * i].length ? found[2 * i] : found[2 * i + 1]);
  const single = (values) => (values.length && values.every((v) => v === values[0]) ? values[0] : null);
  const id = single(pick(0));
  const ts = single(pick(1));
  const signatures = pick(2);
  if (id === null || ts === null || !signatures.length) return null;
  return { id, ts, signatures: signatures.join(" ") };
}

/** The same from a WHATWG `Headers`, whose `get` gives what its iteration gives (names
 * lower-cased, repeated headers joined), so the core would see the same values. Values are
 * returned untrimmed: `#candidates`' patterns refuse any surrounding whitespace (and anything
 * not printable), which leaves such headers to the core. */
function standardHeadersOf(headers) {
  const id = headers.get("webhook-id") ?? headers.get("svix-id");
  const ts = headers.get("webhook-timestamp") ?? headers.get("svix-timestamp");
  const signatures = headers.get("webhook-signature") ?? headers.get("svix-signature");
  return id === null || ts === null || signatures === null ? null : { id, ts, signatures };
}

/**
 * Verifies webhook deliveries signed with Standard Webhooks (`v1` HMAC secrets and `v1a` ed25519
 * public keys) or a compatibility scheme. Give every active secret during a rotation: any match
 * passes.
 */
export class Verifier {
  #inner;
  /** For `verifyAsync`'s fast path: the HMAC secrets' bytes (Standard Webhooks only), or null. */
  #secrets = null;
  /** The secrets imported into WebCrypto, once. */
  #cryptoKeys = null;
  /** The tolerance, read once (a call into WebAssembly). */
  #tolerance = 0;
  /** Where `verifyAsync` assembles the signed content. */
  #scratch = new Uint8Array(0);

  constructor(secretOrSecrets, opts) {
    assertReady();
    const { toleranceSeconds, scheme } = options(opts);
    const [kind, header, prefix, timestampHeader] = schemeParts(scheme);
    const keys = keyList(secretOrSecrets);
    this.#inner = new WasmVerifier(
      keys,
      toleranceSeconds === undefined || toleranceSeconds === null
        ? undefined
        : number(toleranceSeconds, "toleranceSeconds"),
      kind,
      header,
      prefix,
      timestampHeader,
    );
    this.#tolerance = this.#inner.toleranceSeconds;
    if (kind === "standard" && subtle) this.#secrets = hmacSecrets(keys);
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

  /**
   * `verify`, resolving or rejecting with the same errors, with the HMAC computed by WebCrypto
   * (`crypto.subtle`, native code) where the runtime has it: faster for large bodies. Where it
   * has not, or for other schemes and ed25519 keys, it is `verify`.
   */
  async verifyAsync(body, headers, nowSeconds) {
    const now = nowSeconds === undefined || nowSeconds === null ? Date.now() / 1000 : nowSeconds;
    const bytes = bodyBytes(body);
    if (this.#secrets && typeof now === "number" && Number.isFinite(now) && headers !== null && typeof headers === "object") {
      const h =
        typeof Headers === "function" && headers instanceof Headers
          ? standardHeadersOf(headers)
          : standardHeaders(headerList(headers));
      const candidates = h && this.#candidates(h, Math.floor(now));
      if (candidates) {
        const keys = this.#cryptoKeys ?? (await this.#importKeys());
        for (const key of keys ?? []) {
          // `sign` copies its input before it returns (WebCrypto copies the bytes of a
          // BufferSource argument synchronously), so the scratch buffer is free again at once,
          // even for calls that overlap.
          const mac = bytesToBase64(new Uint8Array(await subtle.sign("HMAC", key, this.#content(h, bytes))));
          let matched = false;
          for (const c of candidates) matched = sameText(c, mac) || matched;
          if (matched) return;
        }
      }
    }
    this.#inner.verify(bytes, headerList(headers), number(now, "nowSeconds"));
  }

  /** The header's `v1` signatures that could match, when the core would accept the headers as
   * read and the timestamp is within the tolerance; `null` means "let the core decide", never
   * "refused". */
  #candidates(h, now) {
    // The core's rules for ids (visible ASCII, no '.') and timestamps (digits; these fit a
    // double exactly), and a signature header the core reads (printable ASCII).
    if (!ID.test(h.id) || !TIMESTAMP.test(h.ts) || !PRINTABLE.test(h.signatures)) return null;
    const ts = Number(h.ts);
    if (ts < now - this.#tolerance || ts > now + this.#tolerance) return null;
    // A signature the core accepts decodes to the MAC: its canonical base64 is the entry.
    const candidates = [];
    const entries = /[ \t]/.test(h.signatures) ? h.signatures.split(/[ \t]+/) : [h.signatures];
    for (const entry of entries) {
      if (entry.length === 47 && entry.startsWith("v1,")) candidates.push(entry.slice(3));
    }
    return candidates.length ? candidates : null;
  }

  /** The signed content `id.timestamp.body`, written into a scratch buffer kept between calls
   * (no allocation and no zero-filling per call) unless it is larger than SCRATCH_MAX. */
  #content(h, bytes) {
    // id and timestamp are printable ASCII: one byte per character.
    const prefix = h.id.length + h.ts.length + 2;
    const length = prefix + bytes.length;
    let buffer = this.#scratch;
    if (buffer.length < length) {
      buffer = new Uint8Array(length);
      if (length <= SCRATCH_MAX) this.#scratch = buffer;
    }
    encoder.encodeInto(`${h.id}.${h.ts}.`, buffer);
    buffer.set(bytes, prefix);
    return buffer.subarray(0, length);
  }

  /** The secrets as WebCrypto keys, imported once; `null` (and no fast path from then on) when
   * this runtime's WebCrypto will not take them. */
  async #importKeys() {
    try {
      this.#cryptoKeys = await Promise.all(
        this.#secrets.map((raw) =>
          subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
        ),
      );
    } catch {
      this.#secrets = null;
    }
    return this.#cryptoKeys;
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
