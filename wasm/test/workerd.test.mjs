// @timehook/verify inside real workerd (miniflare from npm): a worker that imports the package
// by name, resolved through its `workerd` export condition, verifies real HTTP requests signed by
// timehook's Rust signer and by the npm `standardwebhooks` and `svix` packages, and runs the whole
// shared corpus.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";

import { startWorker } from "../harness/miniflare.js";
import { loadCorpus, packageDir, rustSignedFixtures, workspaceVersion } from "../harness/node.js";

/** What the worker must answer for each delivery signed by the Rust example. */
const EXPECTED = {
  valid: "ok",
  "tampered-body": "no_matching_signature",
  expired: "timestamp_too_old",
  future: "timestamp_too_new",
  "rotation-old-secret": "ok",
  "rotation-both-secrets": "ok",
  "retired-secret": "no_matching_signature",
  ed25519: "ok",
  "binary-body": "ok",
};

let worker;
let fixtures;

before(async () => {
  fixtures = rustSignedFixtures(Math.floor(Date.now() / 1000));
  const { old, new: current, ed25519_public, service } = fixtures.keys;
  const profileKeys = Object.fromEntries(fixtures.profiles.map((p) => [p, p === "svix" ? current : service]));
  worker = await startWorker(join(packageDir, "harness", "worker.js"), {
    bindings: {
      VERIFY_KEYS: JSON.stringify([old, current, ed25519_public]),
      PROFILE_KEYS: JSON.stringify(profileKeys),
    },
  });
});

after(async () => {
  await worker?.dispose();
});

/** Posts a delivery to the worker; returns the status and the JSON answer. */
async function deliver(body, headers, path = "/webhook") {
  const res = await fetch(new URL(path, worker.url), { method: "POST", body, headers });
  return { status: res.status, answer: await res.json() };
}

function assertAnswer({ status, answer }, expect) {
  if (expect === "ok") {
    assert.equal(status, 200, JSON.stringify(answer));
    assert.equal(answer.ok, true);
  } else {
    assert.equal(status, 401, JSON.stringify(answer));
    assert.equal(answer.error, expect, answer.message);
  }
}

test("the worker loads the package through its workerd condition", async () => {
  assert.equal(worker.entry, "./js/workerd.js");
  assert.ok(worker.modules.some((m) => m.type === "CompiledWasm" && m.path.endsWith("_bg.wasm")));
  const res = await fetch(new URL("/version", worker.url));
  assert.deepEqual(await res.json(), { version: workspaceVersion() });
});

describe("requests signed by the Rust signer", () => {
  test("every fixture has an expectation", () => {
    const general = [...fixtures.requests.keys()].filter((name) => !name.startsWith("profile-"));
    assert.deepEqual(general.sort(), Object.keys(EXPECTED).sort());
  });
  test("each delivery profile's signature verifies by the service's name; tampered ones do not", async () => {
    assert.equal(fixtures.profiles.length, 5);
    for (const profile of fixtures.profiles) {
      const { body, headers } = fixtures.requests.get(`profile-${profile}`);
      assertAnswer(await deliver(body, headers, `/webhook/${profile}`), "ok");
      const tampered = fixtures.requests.get(`profile-${profile}-tampered`);
      assertAnswer(await deliver(tampered.body, tampered.headers, `/webhook/${profile}`), "no_matching_signature");
    }
  });
  for (const [name, expect] of Object.entries(EXPECTED)) {
    test(`${name} -> ${expect}`, async () => {
      const { body, headers } = fixtures.requests.get(name);
      assertAnswer(await deliver(body, headers), expect);
    });
  }
  test("a request without signature headers names the missing header", async () => {
    const { status, answer } = await deliver("{}", { "content-type": "application/json" });
    assert.equal(status, 401);
    assert.equal(answer.error, "missing_header");
    assert.equal(answer.header, "webhook-id");
  });
});

describe("requests signed by the npm standardwebhooks and svix packages", () => {
  const payload = JSON.stringify({ type: "user.created", data: { id: "u_1", name: "Zoë" } });

  test("standardwebhooks (webhook-* headers)", async () => {
    const wh = new StandardWebhook(fixtures.keys.new);
    const now = new Date();
    const headers = {
      "webhook-id": "msg_standardwebhooks_1",
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": wh.sign("msg_standardwebhooks_1", now, payload),
    };
    assertAnswer(await deliver(payload, headers), "ok");
    assertAnswer(await deliver(`${payload} `, headers), "no_matching_signature");
  });

  test("svix (svix-* headers), with the old secret during a rotation", async () => {
    const wh = new SvixWebhook(fixtures.keys.old);
    const now = new Date();
    const headers = {
      "svix-id": "msg_svix_1",
      "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
      "svix-signature": wh.sign("msg_svix_1", now, payload),
    };
    const ok = await deliver(payload, headers);
    assertAnswer(ok, "ok");
    assert.equal(ok.answer.id, "msg_svix_1");
    const stale = new Date(now.getTime() - 3600_000);
    const staleHeaders = {
      ...headers,
      "svix-timestamp": String(Math.floor(stale.getTime() / 1000)),
      "svix-signature": wh.sign("msg_svix_1", stale, payload),
    };
    assertAnswer(await deliver(payload, staleHeaders), "timestamp_too_old");
  });
});

describe("the shared corpus inside workerd", () => {
  const corpus = loadCorpus();
  let results;

  before(async () => {
    const res = await fetch(new URL("/corpus", worker.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(corpus),
    });
    assert.equal(res.status, 200);
    results = await res.json();
  });

  test("every case and key case ran", () => {
    assert.equal(results.cases.length, corpus.cases.length);
    assert.equal(results.keyCases.length, corpus.key_cases.length);
    assert.deepEqual(results.cases.map((r) => r.id), corpus.cases.map((c) => c.id));
    assert.deepEqual(results.keyCases.map((r) => r.id), corpus.key_cases.map((k) => k.id));
  });

  for (const c of corpus.cases) {
    test(`case ${c.id}`, () => {
      assert.deepEqual(results.cases.find((r) => r.id === c.id).failures, []);
    });
  }
  for (const k of corpus.key_cases) {
    test(`key case ${k.id}`, () => {
      assert.deepEqual(results.keyCases.find((r) => r.id === k.id).failures, []);
    });
  }
});
