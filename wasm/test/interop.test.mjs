// Interoperability in Node with the npm Standard Webhooks verifiers: messages signed by the
// `standardwebhooks` and `svix` packages verify with @timehook/verify, and deliveries signed by
// timehook (the Rust core's signer, and this package's `sign`) verify with those packages.

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { signHeaders, Verifier } from "@timehook/verify";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";

import { rustSignedFixtures } from "../harness/node.js";

const decoder = new TextDecoder();
const payload = JSON.stringify({ type: "invoice.paid", data: { id: "inv_9", note: "naïve ✓" } });

let fixtures;
before(() => {
  fixtures = rustSignedFixtures(Math.floor(Date.now() / 1000));
});

/** A fixture's body as the string these packages take, and its headers as an object. */
function fixture(name) {
  const { body, headers } = fixtures.requests.get(name);
  return { body: decoder.decode(body), headers: Object.fromEntries(headers) };
}

/** The same headers under svix-* names. */
function asSvix(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.replace(/^webhook-/, "svix-"), v]));
}

describe("signed by the npm packages, verified by @timehook/verify", () => {
  test("standardwebhooks", () => {
    const secret = fixtures.keys.new;
    const now = new Date();
    const ts = Math.floor(now.getTime() / 1000);
    const headers = {
      "webhook-id": "msg_sw",
      "webhook-timestamp": String(ts),
      "webhook-signature": new StandardWebhook(secret).sign("msg_sw", now, payload),
    };
    new Verifier(secret).verify(payload, headers);
    new Verifier([fixtures.keys.old, secret]).verify(new TextEncoder().encode(payload), new Headers(headers), ts);
    assert.throws(() => new Verifier(fixtures.keys.old).verify(payload, headers), { code: "no_matching_signature" });
  });

  test("svix", () => {
    const secret = fixtures.keys.old;
    const now = new Date();
    const headers = {
      "svix-id": "msg_svix",
      "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
      "svix-signature": new SvixWebhook(secret).sign("msg_svix", now, payload),
    };
    new Verifier(secret).verify(payload, headers);
    assert.throws(() => new Verifier(secret).verify(`${payload}\n`, headers), { code: "no_matching_signature" });
  });
});

describe("signed by timehook, verified by the npm packages", () => {
  test("the Rust signer's delivery verifies with standardwebhooks and svix", () => {
    const { body, headers } = fixture("valid");
    assert.deepEqual(new StandardWebhook(fixtures.keys.new).verify(body, headers), JSON.parse(body));
    assert.deepEqual(new SvixWebhook(fixtures.keys.new).verify(body, headers), JSON.parse(body));
    assert.deepEqual(new SvixWebhook(fixtures.keys.new).verify(body, asSvix(headers)), JSON.parse(body));
  });

  test("a rotation header (old and new signatures) verifies with either secret", () => {
    const { body, headers } = fixture("rotation-both-secrets");
    assert.equal(headers["webhook-signature"].split(" ").length, 2);
    for (const secret of [fixtures.keys.old, fixtures.keys.new]) {
      new StandardWebhook(secret).verify(body, headers);
      new SvixWebhook(secret).verify(body, headers);
    }
  });

  test("tampered, stale and foreign deliveries are rejected by them too", () => {
    for (const name of ["tampered-body", "expired", "retired-secret"]) {
      const { body, headers } = fixture(name);
      assert.throws(() => new StandardWebhook(fixtures.keys.new).verify(body, headers), /WebhookVerificationError|signature|timestamp/i, name);
      assert.throws(() => new SvixWebhook(fixtures.keys.new).verify(body, headers), undefined, name);
    }
  });

  test("this package's sign() verifies with standardwebhooks and svix", () => {
    const ts = Math.floor(Date.now() / 1000);
    const headers = signHeaders([fixtures.keys.old, fixtures.keys.new], "msg_wasm", ts, payload);
    assert.deepEqual(new StandardWebhook(fixtures.keys.new).verify(payload, headers), JSON.parse(payload));
    assert.deepEqual(new SvixWebhook(fixtures.keys.old).verify(payload, asSvix(headers)), JSON.parse(payload));
  });
});

describe("delivery profiles, verified by the service's name", () => {
  test("a delivery the Rust core signed under each profile verifies; tampered ones do not", () => {
    assert.deepEqual(fixtures.profiles, ["runlater-eu", "runlater", "cronflow", "svix", "a1cron"]);
    for (const name of fixtures.profiles) {
      const secret = name === "svix" ? fixtures.keys.new : fixtures.keys.service;
      const verifier = new Verifier(secret, { scheme: name });
      const { body, headers } = fixture(`profile-${name}`);
      verifier.verify(body, headers, fixtures.now);
      const tampered = fixture(`profile-${name}-tampered`);
      assert.throws(() => verifier.verify(tampered.body, tampered.headers, fixtures.now), { code: "no_matching_signature" }, name);
      // Signing under the name makes the same headers as the Rust core.
      const ts = Number(headers["webhook-timestamp"] ?? headers["X-RunLater-Timestamp"] ?? fixtures.now);
      const id = headers["webhook-id"] ?? "unused";
      assert.deepEqual(signHeaders(secret, id, ts, body, { scheme: name }), headers, name);
    }
  });
});
