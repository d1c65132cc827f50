// @timehook/verify in Node, through the package's `node` export condition (imported by name,
// as a user would): the whole shared corpus, then the API's input forms, defaults and errors.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import * as api from "@timehook/verify";
import { Signer, Verifier, normalizeKey, publicKey, sign, signHeaders, version } from "@timehook/verify";

import { runCase, runKeyCase } from "../harness/corpus.js";
import { loadCorpus, packageDir, workspaceVersion } from "../harness/node.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const OTHER_SECRET = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
const SIGNING_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
const PUBLIC_KEY = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const HEADERS = { "webhook-id": ID, "webhook-timestamp": String(TS), "webhook-signature": SIG };

/** Asserts that `fn` throws an error with this name and code (and header, if given). */
function throwsCode(fn, name, code, header) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Error, "an Error instance");
    assert.equal(err.name, name);
    assert.equal(err.code, code);
    assert.equal(typeof err.message, "string");
    assert.ok(err.message.length > 0);
    if (header !== undefined) assert.equal(err.header, header);
    return true;
  });
}

describe("shared corpus (tests/vectors/signatures.json) in Node", () => {
  const corpus = loadCorpus();
  test("has cases and key cases", () => {
    assert.ok(corpus.cases.length >= 50);
    assert.ok(corpus.key_cases.length > 0);
  });
  let ran = 0;
  for (const c of corpus.cases) {
    test(`case ${c.id}`, async () => {
      ran++;
      assert.deepEqual((await runCase(api, c)).failures, []);
    });
  }
  for (const k of corpus.key_cases) {
    test(`key case ${k.id}`, () => {
      ran++;
      assert.deepEqual(runKeyCase(api, k).failures, []);
    });
  }
  test("ran every case", () => {
    assert.equal(ran, corpus.cases.length + corpus.key_cases.length);
  });
});

describe("Verifier inputs", () => {
  const v = new Verifier(SECRET);
  const bytes = new TextEncoder().encode(BODY);

  test("body as string, Uint8Array, ArrayBuffer, DataView and a view into a larger buffer", () => {
    v.verify(BODY, HEADERS, TS);
    v.verify(bytes, HEADERS, TS);
    v.verify(bytes.slice().buffer, HEADERS, TS);
    v.verify(new DataView(bytes.slice().buffer), HEADERS, TS);
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 4);
    v.verify(padded.subarray(4, 4 + bytes.length), HEADERS, TS);
    throwsCode(() => v.verify(padded, HEADERS, TS), "WebhookVerificationError", "no_matching_signature");
  });

  test("headers as Headers, Map, pairs, and plain objects with any case and array values", () => {
    v.verify(BODY, new Headers(HEADERS), TS);
    v.verify(BODY, new Map(Object.entries(HEADERS)), TS);
    v.verify(BODY, Object.entries(HEADERS), TS);
    v.verify(BODY, { "Webhook-Id": ID, "WEBHOOK-TIMESTAMP": String(TS), "webhook-signature": [SIG] }, TS);
    // Node's IncomingMessage.headers may hold undefined values: they are skipped.
    v.verify(BODY, { ...HEADERS, "x-forwarded-for": undefined }, TS);
    // Several signature lines combine; unrelated headers are ignored.
    const decoy = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    v.verify(BODY, { ...HEADERS, "webhook-signature": [decoy, SIG], "content-type": "application/json" }, TS);
    // svix-* names are accepted.
    v.verify(BODY, { "svix-id": ID, "svix-timestamp": String(TS), "svix-signature": SIG }, TS);
  });

  test("nowSeconds defaults to the current time and may be fractional", () => {
    const now = Math.floor(Date.now() / 1000);
    const fresh = signHeaders(SECRET, "msg_now", now, BODY);
    v.verify(BODY, fresh, undefined);
    v.verify(BODY, fresh);
    v.verify(BODY, fresh, null);
    v.verify(BODY, fresh, now + 0.999);
    const stale = signHeaders(SECRET, "msg_stale", now - 301, BODY);
    throwsCode(() => v.verify(BODY, stale), "WebhookVerificationError", "timestamp_too_old");
    const ahead = signHeaders(SECRET, "msg_ahead", now + 600, BODY);
    throwsCode(() => v.verify(BODY, ahead), "WebhookVerificationError", "timestamp_too_new");
    v.verifyIgnoringTimestamp(BODY, stale);
  });

  test("toleranceSeconds", () => {
    assert.equal(v.toleranceSeconds, 300);
    assert.equal(v.scheme, "standard");
    const strict = new Verifier(SECRET, { toleranceSeconds: 10 });
    assert.equal(strict.toleranceSeconds, 10);
    strict.verify(BODY, HEADERS, TS + 10);
    throwsCode(() => strict.verify(BODY, HEADERS, TS + 11), "WebhookVerificationError", "timestamp_too_old");
    throwsCode(() => strict.verify(BODY, HEADERS, TS - 11), "WebhookVerificationError", "timestamp_too_new");
    new Verifier(SECRET, { toleranceSeconds: 0 }).verify(BODY, HEADERS, TS);
  });

  test("rotation: a verifier holding old and new secrets accepts either, not a third", () => {
    const both = new Verifier([OLD_SECRET, SECRET]);
    for (const key of [OLD_SECRET, SECRET, [OLD_SECRET, SECRET]]) {
      both.verify(BODY, signHeaders(key, ID, TS, BODY), TS);
    }
    throwsCode(
      () => both.verify(BODY, signHeaders(OTHER_SECRET, ID, TS, BODY), TS),
      "WebhookVerificationError",
      "no_matching_signature",
    );
    // A sender still signing with both keys passes a receiver that already dropped the old one.
    new Verifier(SECRET).verify(BODY, signHeaders([OLD_SECRET, SECRET], ID, TS, BODY), TS);
  });

  test("ed25519 (v1a): whpk_ verifies whsk_ signatures; a private key is refused", () => {
    assert.equal(publicKey(SIGNING_KEY), PUBLIC_KEY);
    const headers = signHeaders(SIGNING_KEY, ID, TS, BODY);
    assert.match(headers["webhook-signature"], /^v1a,/);
    new Verifier(PUBLIC_KEY).verify(BODY, headers, TS);
    new Verifier([SECRET, PUBLIC_KEY]).verify(BODY, headers, TS);
    throwsCode(() => new Verifier(SECRET).verify(BODY, headers, TS), "WebhookVerificationError", "no_matching_signature");
    throwsCode(() => new Verifier(SIGNING_KEY), "SigningError", "invalid_secret");
  });

  test("compatibility schemes sign and verify", () => {
    const schemes = [
      "github",
      "stripe",
      { kind: "hex_body", header: "X-Sig", prefix: false },
      { kind: "timestamped_hex", header: "X-Signature", timestampHeader: "X-Timestamp" },
    ];
    for (const scheme of schemes) {
      const headers = signHeaders("plain secret", "unused", TS, BODY, { scheme });
      const verifier = new Verifier("plain secret", { scheme });
      verifier.verify(BODY, headers, TS);
      throwsCode(() => verifier.verify(`${BODY} `, headers, TS), "WebhookVerificationError", "no_matching_signature");
    }
    assert.deepEqual(Object.keys(signHeaders("s", "unused", TS, BODY, { scheme: "github" })), ["X-Hub-Signature-256"]);
    assert.match(sign("s", "unused", TS, BODY, { scheme: "stripe" }), /^t=1614265330,v1=[0-9a-f]{64}$/);
    const stripe = new Verifier("s", { scheme: "stripe" });
    assert.equal(stripe.scheme, "timestamped_hex");
    throwsCode(
      () => stripe.verify(BODY, signHeaders("s", "unused", TS, BODY, { scheme: "stripe" }), TS + 301),
      "WebhookVerificationError",
      "timestamp_too_old",
    );
  });
});

describe("Signer", () => {
  test("reproduces the Standard Webhooks vector and lists headers in sending order", () => {
    assert.equal(sign(SECRET, ID, TS, BODY), SIG);
    const signer = new Signer([OLD_SECRET, SECRET, SIGNING_KEY]);
    const headers = signer.headers(ID, TS, new TextEncoder().encode(BODY));
    assert.deepEqual(Object.keys(headers), ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    const entries = headers["webhook-signature"].split(" ");
    assert.equal(entries.length, 3);
    assert.equal(entries[1], SIG);
    assert.match(entries[2], /^v1a,/);
    signer.free();
  });

  test("bad message ids and timestamps are refused", () => {
    throwsCode(() => sign(SECRET, "msg.1", TS, BODY), "SigningError", "invalid_msg_id");
    throwsCode(() => sign(SECRET, "", TS, BODY), "SigningError", "invalid_msg_id");
    throwsCode(() => sign(SECRET, ID, -1, BODY), "TypeError", "invalid_argument");
    throwsCode(() => sign(SECRET, ID, 1.5, BODY), "TypeError", "invalid_argument");
    throwsCode(() => sign(SECRET, ID, "1614265330", BODY), "TypeError", "invalid_argument");
  });
});

describe("errors", () => {
  const v = new Verifier(SECRET);

  test("each verification failure has its code, and header errors name the header", () => {
    throwsCode(() => v.verify(BODY, {}, TS), "WebhookVerificationError", "missing_header", "webhook-id");
    const noSig = { "webhook-id": ID, "webhook-timestamp": String(TS) };
    throwsCode(() => v.verify(BODY, noSig, TS), "WebhookVerificationError", "missing_header", "webhook-signature");
    const badTs = { ...HEADERS, "webhook-timestamp": "soon" };
    throwsCode(() => v.verify(BODY, badTs, TS), "WebhookVerificationError", "invalid_header", "webhook-timestamp");
    const badId = { ...HEADERS, "webhook-id": "msg.1" };
    throwsCode(() => v.verify(BODY, badId, TS), "WebhookVerificationError", "invalid_header", "webhook-id");
    throwsCode(() => v.verify(BODY, HEADERS, TS + 301), "WebhookVerificationError", "timestamp_too_old");
    throwsCode(() => v.verify(BODY, HEADERS, TS - 301), "WebhookVerificationError", "timestamp_too_new");
    throwsCode(() => v.verify("{}", HEADERS, TS), "WebhookVerificationError", "no_matching_signature");
    const partial = { ...HEADERS, "webhook-signature": "v1," };
    throwsCode(() => v.verify(BODY, partial, TS), "WebhookVerificationError", "no_matching_signature");
  });

  test("bad keys and schemes are SigningErrors", () => {
    throwsCode(() => new Verifier("whsec_"), "SigningError", "invalid_secret");
    throwsCode(() => new Verifier("whsec_c2hvcnQ="), "SigningError", "invalid_secret");
    throwsCode(() => new Verifier([]), "SigningError", "no_keys");
    throwsCode(() => new Verifier("s", { scheme: { kind: "hex_body", header: "X Sig" } }), "SigningError", "invalid_scheme");
    throwsCode(() => new Verifier("", { scheme: "github" }), "SigningError", "invalid_secret");
    throwsCode(() => normalizeKey("whpk_AAAA", "verifying_key"), "SigningError", "invalid_secret");
    // The message says why without repeating the secret.
    assert.throws(() => new Verifier("whsec_bm90IGEgcmVhbCBzZWNyZXQ="), (e) => !e.message.includes("bm90IGEgcmVhbCBzZWNyZXQ="));
  });

  test("arguments of the wrong type are TypeErrors with code invalid_argument", () => {
    const bad = [
      () => new Verifier(42),
      () => new Verifier([SECRET, 42]),
      () => new Verifier(SECRET, "fast"),
      () => new Verifier(SECRET, { toleranceSeconds: -1 }),
      () => new Verifier(SECRET, { toleranceSeconds: 1.5 }),
      () => new Verifier(SECRET, { toleranceSeconds: "300" }),
      () => new Verifier(SECRET, { scheme: "hookdeck" }),
      () => new Verifier(SECRET, { scheme: "toString" }),
      () => new Verifier(SECRET, { scheme: { kind: "hex_body" } }),
      () => new Verifier(SECRET, { scheme: { kind: "standard", header: "x" } }),
      () => new Verifier(SECRET, { scheme: { kind: "hex_body", header: "X", prefix: "yes" } }),
      () => v.verify(42, HEADERS, TS),
      () => v.verify(null, HEADERS, TS),
      () => v.verify(BODY, null, TS),
      () => v.verify(BODY, "webhook-id: x", TS),
      () => v.verify(BODY, { "webhook-id": 5 }, TS),
      () => v.verify(BODY, [["webhook-id"]], TS),
      () => v.verify(BODY, HEADERS, "now"),
      () => v.verify(BODY, HEADERS, Number.NaN),
      () => v.verify(BODY, HEADERS, Number.POSITIVE_INFINITY),
      () => normalizeKey(SECRET, "password"),
      () => publicKey(7),
    ];
    for (const fn of bad) throwsCode(fn, "TypeError", "invalid_argument");
  });
});

describe("package", () => {
  test("version() is the workspace version, and package.json carries it", () => {
    const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
    assert.equal(version(), workspaceVersion());
    assert.equal(pkg.version, workspaceVersion());
  });

  /** Runs an ES module script in a fresh Node process; returns its JSON output. */
  function runFresh(script) {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    return JSON.parse(out);
  }
  const browserEntry = JSON.stringify(new URL("../js/browser.js", import.meta.url).href);
  const wasmFile = JSON.stringify(join(packageDir, "pkg", "timehook_wasm_bg.wasm"));
  const useIt = `new m.Verifier(${JSON.stringify(SECRET)}).verify(${JSON.stringify(BODY)}, ${JSON.stringify(HEADERS)}, ${TS});`;

  test("the browser entry: not_initialized before init(), then init(url) fetches the module over HTTP", () => {
    const result = runFresh(`
      import { createServer } from "node:http";
      import { readFileSync } from "node:fs";
      const m = await import(${browserEntry});
      let before;
      try { new m.Verifier("whsec_x"); } catch (e) { before = e.code; }
      const wasm = readFileSync(${wasmFile});
      const server = createServer((req, res) => {
        res.writeHead(200, { "content-type": "application/wasm" }).end(wasm);
      });
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      await m.init(new URL("/timehook_wasm_bg.wasm", "http://127.0.0.1:" + server.address().port));
      server.close();
      await m.init();
      ${useIt}
      console.log(JSON.stringify({ before, version: m.version() }));
    `);
    assert.deepEqual(result, { before: "not_initialized", version: workspaceVersion() });
  });

  test("the browser entry: initSync(bytes)", () => {
    const result = runFresh(`
      import { readFileSync } from "node:fs";
      const m = await import(${browserEntry});
      m.initSync(readFileSync(${wasmFile}));
      ${useIt}
      console.log(JSON.stringify({ version: m.version() }));
    `);
    assert.deepEqual(result, { version: workspaceVersion() });
  });

  test("init() and initSync() are harmless no-ops in the node entry", async () => {
    await api.init();
    api.initSync();
    new Verifier(SECRET).verify(BODY, HEADERS, TS);
  });
});

describe("verifyAsync", () => {
  /** Counts WebCrypto HMAC computations while `fn` runs. */
  async function countingSubtle(fn) {
    const subtle = globalThis.crypto.subtle;
    const original = subtle.sign;
    let calls = 0;
    subtle.sign = function (...args) {
      calls++;
      return original.apply(this, args);
    };
    try {
      await fn();
    } finally {
      subtle.sign = original;
    }
    return calls;
  }

  test("a valid delivery is verified by WebCrypto's HMAC; a rotation's old secret too", async () => {
    const v = new Verifier([OLD_SECRET, SECRET]);
    const calls = await countingSubtle(() => v.verifyAsync(BODY, HEADERS, TS));
    assert.ok(calls >= 1, "the fast path ran");
    const big = "x".repeat(64 * 1024);
    await v.verifyAsync(new TextEncoder().encode(big), signHeaders(OLD_SECRET, "msg_big", TS, big), TS);
    await v.verifyAsync(BODY, new Headers(HEADERS), TS);
  });

  test("overlapping calls on one verifier each check their own body (the signed content's buffer is reused)", async () => {
    const v = new Verifier([OLD_SECRET, SECRET]);
    const cases = [];
    for (const size of [10, 3000, 100, 70_000, 1, 2_000_000, 500, 64 * 1024]) {
      const body = "b".repeat(size - 1) + String(size % 10);
      const headers = signHeaders(size % 2 ? OLD_SECRET : SECRET, `msg_${size}`, TS, body);
      cases.push([body, headers, null]);
      // The same headers on a body that differs in its last byte, and on a shorter one.
      cases.push([body.slice(0, -1) + "x", headers, "no_matching_signature"]);
      cases.push([body.slice(1), headers, "no_matching_signature"]);
    }
    let outcomes;
    const calls = await countingSubtle(async () => {
      outcomes = await Promise.allSettled(cases.map(([body, headers]) => v.verifyAsync(body, headers, TS)));
    });
    assert.ok(calls >= cases.length, `WebCrypto ran for each call (${calls})`);
    cases.forEach(([, , code], i) => {
      if (code === null) assert.equal(outcomes[i].status, "fulfilled", `case ${i}: ${outcomes[i].reason}`);
      else assert.equal(outcomes[i].reason?.code, code, `case ${i}`);
    });
  });

  test("every refusal is verify's own error", async () => {
    const v = new Verifier(SECRET);
    const cases = [
      [BODY.replace("2", "3"), HEADERS, TS, "no_matching_signature"],
      [BODY, HEADERS, TS + 301, "timestamp_too_old"],
      [BODY, HEADERS, TS - 301, "timestamp_too_new"],
      [BODY, { ...HEADERS, "webhook-id": undefined }, TS, "missing_header"],
      [BODY, [["webhook-id", ID], ["webhook-id", "msg_other"], ["webhook-timestamp", String(TS)], ["webhook-signature", SIG]], TS, "invalid_header"],
      [BODY, { ...HEADERS, "webhook-timestamp": "+1614265330" }, TS, "invalid_header"],
      [BODY, { ...HEADERS, "webhook-id": "msg.dotted" }, TS, "invalid_header"],
    ];
    for (const [body, headers, now, code] of cases) {
      let sync;
      try {
        v.verify(body, headers, now);
      } catch (e) {
        sync = e;
      }
      assert.equal(sync?.code, code, JSON.stringify(headers));
      await assert.rejects(v.verifyAsync(body, headers, now), (e) => e.code === code && e.name === sync.name && e.message === sync.message);
    }
    await assert.rejects(v.verifyAsync(42, HEADERS, TS), { code: "invalid_argument" });
  });

  test("ed25519 keys and the compatibility schemes are verified as verify does", async () => {
    const v1a = signHeaders(SIGNING_KEY, ID, TS, BODY);
    await new Verifier(PUBLIC_KEY).verifyAsync(BODY, v1a, TS);
    await new Verifier([SECRET, PUBLIC_KEY]).verifyAsync(BODY, v1a, TS);
    const github = signHeaders("gh-secret", "unused", TS, BODY, { scheme: "github" });
    await new Verifier("gh-secret", { scheme: "github" }).verifyAsync(BODY, github, TS);
    await assert.rejects(new Verifier("other", { scheme: "github" }).verifyAsync(BODY, github, TS), { code: "no_matching_signature" });
  });
});
