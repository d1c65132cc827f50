// Hand-written types for @timehook/verify (the same API from every entry point).

/** A secret or key: `whsec_…` (HMAC, `v1`), `whpk_…` (ed25519 public key, `v1a`), or for the
 * compatibility schemes the secret string used verbatim. */
export type Secret = string;

/** A body exactly as received: bytes, or a string (encoded as UTF-8). */
export type Body = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Request headers: a WHATWG `Headers`, any iterable of `[name, value]` pairs, or a plain object
 * such as Node's `IncomingMessage.headers`. Names match case-insensitively. */
export type HeadersInput =
  | Headers
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Which signature format to check or produce. Default: `"standard"` (Standard Webhooks). */
export type Scheme =
  | "standard"
  /** `X-Hub-Signature-256: sha256=<hex of HMAC(body)>`. */
  | "github"
  /** `Stripe-Signature: t=<ts>,v1=<hex of HMAC(ts.body)>`. */
  | "stripe"
  /** A delivery profile's scheme, by the service's name: `runlater-eu`
   * (`X-Runlater-Signature: sha256=<hex>`), `runlater` (`X-RunLater-Signature` over
   * `timestamp.body`, with `X-RunLater-Timestamp`), `cronflow` (`X-CronFlow-Signature`),
   * `svix` (Standard Webhooks) and `a1cron` (`X-A1Cron-Signature`). */
  | "runlater-eu"
  | "runlater"
  | "cronflow"
  | "svix"
  | "a1cron"
  | { kind: "standard" }
  /** Hex HMAC-SHA256 of the raw body in `header`, with the `sha256=` prefix if `prefix`. */
  | { kind: "hex_body"; header: string; prefix?: boolean }
  /** Hex HMAC-SHA256 of `timestamp.body`: with `timestampHeader`, `header` holds the hex and
   * `timestampHeader` the timestamp; without it, `header` holds `t=<ts>,v1=<hex>`. */
  | { kind: "timestamped_hex"; header: string; timestampHeader?: string };

export interface VerifierOptions {
  /** Largest accepted |now − timestamp|, in whole seconds. Default 300. */
  toleranceSeconds?: number;
  scheme?: Scheme;
}

export interface SignerOptions {
  scheme?: Scheme;
}

/** `code` of a delivery that fails verification (thrown as `WebhookVerificationError`). */
export type VerifyErrorCode =
  | "missing_header"
  | "invalid_header"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "no_matching_signature";

/** `code` of a bad key or configuration (thrown as `SigningError`). */
export type SigningErrorCode =
  | "invalid_secret"
  | "no_keys"
  | "incompatible_key"
  | "invalid_scheme"
  | "invalid_msg_id";

/** `code` of an argument of the wrong type or range (`TypeError`), or of use before `init()`. */
export type UsageErrorCode = "invalid_argument" | "not_initialized";

export type ErrorCode = VerifyErrorCode | SigningErrorCode | UsageErrorCode;

/** What `verify` throws for a delivery that fails: an `Error` with a stable `code`. */
export interface WebhookVerificationError extends Error {
  name: "WebhookVerificationError";
  code: VerifyErrorCode;
  /** The header a `missing_header` or `invalid_header` error is about. */
  header?: string;
}

/** What constructors and `sign` throw for a bad key or configuration. */
export interface SigningError extends Error {
  name: "SigningError";
  code: SigningErrorCode;
}

/** Verifies webhook deliveries. Give every active secret during a rotation: any match passes. */
export class Verifier {
  /** @throws {SigningError} for a key that does not parse (`invalid_secret`), no keys, or an
   * unusable scheme. */
  constructor(secretOrSecrets: Secret | readonly Secret[], options?: VerifierOptions);
  /**
   * Returns if `body` carries a valid signature in `headers` and its timestamp is within the
   * tolerance of `nowSeconds` (unix seconds; default `Date.now() / 1000`).
   * @throws {WebhookVerificationError} otherwise.
   */
  verify(body: Body, headers: HeadersInput, nowSeconds?: number): void;
  /**
   * `verify` with the HMAC computed by WebCrypto (`crypto.subtle`) where the runtime has it:
   * resolves, or rejects with the same errors. Faster than `verify` for all but tiny bodies.
   */
  verifyAsync(body: Body, headers: HeadersInput, nowSeconds?: number): Promise<void>;
  /** Like `verify`, without the timestamp check.
   * @throws {WebhookVerificationError} */
  verifyIgnoringTimestamp(body: Body, headers: HeadersInput): void;
  readonly toleranceSeconds: number;
  readonly scheme: "standard" | "hex_body" | "timestamped_hex";
  /** Releases the WebAssembly memory now instead of at garbage collection (also bound to
   * `Symbol.dispose` where the runtime has it). */
  free(): void;
}

/** Signs deliveries with every key given, in order (for tests and tools). Standard Webhooks
 * keys: `whsec_…` (HMAC, `v1`) or `whsk_…` (ed25519, `v1a`). */
export class Signer {
  /** @throws {SigningError} */
  constructor(secretOrSecrets: Secret | readonly Secret[], options?: SignerOptions);
  /** The value of the scheme's signature header, e.g. `v1,<base64> v1a,<base64>`.
   * @throws {SigningError} `invalid_msg_id` for a Standard Webhooks id that is empty, contains
   * `.` or is not visible ASCII. */
  sign(msgId: string, timestampSeconds: number, body: Body): string;
  /** Every header the scheme puts on a request, in sending order, e.g. `webhook-id`,
   * `webhook-timestamp`, `webhook-signature`. */
  headers(msgId: string, timestampSeconds: number, body: Body): Record<string, string>;
  /** Releases the WebAssembly memory now instead of at garbage collection. */
  free(): void;
}

/** The signature header value for one delivery (a one-shot `Signer.sign`). */
export function sign(
  secretOrSecrets: Secret | readonly Secret[],
  msgId: string,
  timestampSeconds: number,
  body: Body,
  options?: SignerOptions,
): string;

/** Every signature header for one delivery (a one-shot `Signer.headers`). */
export function signHeaders(
  secretOrSecrets: Secret | readonly Secret[],
  msgId: string,
  timestampSeconds: number,
  body: Body,
  options?: SignerOptions,
): Record<string, string>;

export type KeyKind = "secret" | "signing_key" | "verifying_key" | "raw";

/** Parses a key and returns its canonical form (`whsec_…`, `whsk_…`, `whpk_…`, or a raw secret
 * unchanged). @throws {SigningError} `invalid_secret`. */
export function normalizeKey(input: string, kind?: KeyKind): string;

/** The `whpk_…` public key of a `whsk_…` ed25519 signing key. @throws {SigningError} */
export function publicKey(signingKey: string): string;

/** timehook's version, compiled into the WebAssembly module. */
export function version(): string;

/** Source of the WebAssembly module for `init` in browsers: a URL, a fetch Response, the bytes,
 * or a compiled module. */
export type WasmSource =
  | string
  | URL
  | Request
  | Response
  | Promise<Response>
  | BufferSource
  | WebAssembly.Module;

/**
 * Loads the WebAssembly module. Needed once in browsers (the `browser`/`default` entry); the
 * `workerd` and `node` entries are ready on import, where this resolves at once.
 */
export function init(source?: WasmSource): Promise<void>;

/** Instantiates the WebAssembly module synchronously from its bytes or a compiled module
 * (browser entry); a no-op in the `workerd` and `node` entries. */
export function initSync(moduleOrBytes?: BufferSource | WebAssembly.Module): void;
