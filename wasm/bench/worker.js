// Benchmark worker (run by bench/run.mjs inside workerd): verifies the same signed request over
// and over with @timehook/verify (WebAssembly `verify`, and `verifyAsync` with WebCrypto's HMAC)
// and with a plain WebCrypto implementation of the same Standard Webhooks v1 check, and reports
// operations per second for each. The three alternate in slices, so that a noisy moment of the
// machine does not fall on one of them.
//
//   GET /bench?size=<body bytes>&ms=<time per implementation>

import { signHeaders, Verifier } from "@timehook/verify";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOLERANCE_SECS = 300;
const encoder = new TextEncoder();

function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Compares two equal-length byte arrays without an early exit. */
function timingSafeEqual(a, b) {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Standard Webhooks v1 verification with WebCrypto: the key is imported once, then each call
 * computes HMAC-SHA256 over `id.timestamp.body` and compares it in constant time with every
 * `v1,` entry of the signature header. */
class WebCryptoVerifier {
  static async create(secret) {
    const raw = base64ToBytes(secret.replace(/^whsec_/, ""));
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new WebCryptoVerifier(key);
  }

  constructor(key) {
    this.key = key;
  }

  async verify(body, headers, now) {
    const id = headers.get("webhook-id");
    const ts = headers.get("webhook-timestamp");
    const signatures = headers.get("webhook-signature");
    if (!id || !ts || !signatures) throw new Error("missing_header");
    if (!/^[0-9]+$/.test(ts)) throw new Error("invalid_header");
    const timestamp = Number(ts);
    if (timestamp < now - TOLERANCE_SECS) throw new Error("timestamp_too_old");
    if (timestamp > now + TOLERANCE_SECS) throw new Error("timestamp_too_new");
    const prefix = encoder.encode(`${id}.${ts}.`);
    const content = new Uint8Array(prefix.length + body.length);
    content.set(prefix);
    content.set(body, prefix.length);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.key, content));
    for (const entry of signatures.split(" ")) {
      const [version, b64] = entry.split(",");
      if (version !== "v1" || !b64) continue;
      let given;
      try {
        given = base64ToBytes(b64);
      } catch {
        continue;
      }
      if (given.length === mac.length && timingSafeEqual(given, mac)) return;
    }
    throw new Error("no_matching_signature");
  }
}

/** A JSON-like body of `size` bytes. */
function body(size) {
  const unit = encoder.encode('{"event":"invoice.paid","amount":4200},');
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = unit[i % unit.length];
  return out;
}

/** Runs `op` (sync or async) for about `ms` milliseconds; returns operations per second. */
async function measure(op, ms) {
  for (let i = 0; i < 200; i++) await op(); // warm-up
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 50; i++) await op();
    ops += 50;
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/bench") return new Response("not found", { status: 404 });
    const size = Number(url.searchParams.get("size") ?? 1024);
    const ms = Number(url.searchParams.get("ms") ?? 1000);
    const now = Math.floor(Date.now() / 1000);
    const payload = body(size);
    const headers = new Headers(signHeaders(SECRET, "msg_bench", now, payload));
    headers.set("content-type", "application/json");

    const wasm = new Verifier(SECRET);
    const webcrypto = await WebCryptoVerifier.create(SECRET);
    // Both accept the delivery and reject a tampered one before anything is timed.
    wasm.verify(payload, headers, now);
    await wasm.verifyAsync(payload, headers, now);
    await webcrypto.verify(payload, headers, now);
    const tampered = payload.slice();
    tampered[0] ^= 1;
    let rejected = 0;
    try { wasm.verify(tampered, headers, now); } catch { rejected++; }
    try { await wasm.verifyAsync(tampered, headers, now); } catch { rejected++; }
    try { await webcrypto.verify(tampered, headers, now); } catch { rejected++; }
    if (rejected !== 3) return new Response("a tampered body passed", { status: 500 });

    const ops = { wasm: 0, async: 0, webcrypto: 0 };
    const slice = ms / 4;
    for (let round = 0; round < 4; round++) {
      ops.wasm += await measure(() => wasm.verify(payload, headers, now), slice);
      ops.async += await measure(() => wasm.verifyAsync(payload, headers, now), slice);
      ops.webcrypto += await measure(() => webcrypto.verify(payload, headers, now), slice);
    }
    wasm.free();
    return Response.json({ size, wasm: ops.wasm / 4, verifyAsync: ops.async / 4, webcrypto: ops.webcrypto / 4 });
  },
};
