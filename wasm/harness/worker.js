// The worker the workerd tests run (harness/miniflare.js loads it with the package resolved
// through its `workerd` export condition, as wrangler would). It imports @timehook/verify the
// way a user does.
//
//   POST /webhook   verifies the request with the keys in the VERIFY_KEYS binding (a JSON array)
//                   at the current time: 200 {ok, id}, or 401 {error: <code>, header, message}
//   POST /webhook/<profile>
//                   the same with a delivery profile's scheme (`runlater-eu`, `a1cron`, ...) and
//                   its key in the PROFILE_KEYS binding (a JSON object by profile name)
//   POST /corpus    runs the posted signing corpus (tests/vectors/signatures.json) in the worker
//   GET  /version   the package version compiled into the WebAssembly module

import * as api from "@timehook/verify";
import { runCorpus } from "./corpus.js";

let verifier;
const profileVerifiers = new Map();

/** 401 with the verification error's code, or null when `verify()` passes. */
function refusal(verify) {
  try {
    verify();
  } catch (err) {
    if (err.name !== "WebhookVerificationError") throw err;
    return Response.json(
      { error: err.code, header: err.header ?? null, message: err.message },
      { status: 401 },
    );
  }
  return null;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && pathname === "/webhook") {
      verifier ??= new api.Verifier(JSON.parse(env.VERIFY_KEYS));
      const body = await request.arrayBuffer();
      const refused = refusal(() => verifier.verify(body, request.headers));
      if (refused) return refused;
      return Response.json({ ok: true, id: request.headers.get("webhook-id") ?? request.headers.get("svix-id") });
    }
    if (request.method === "POST" && pathname.startsWith("/webhook/")) {
      const profile = pathname.slice("/webhook/".length);
      if (!profileVerifiers.has(profile)) {
        const key = JSON.parse(env.PROFILE_KEYS)[profile];
        profileVerifiers.set(profile, new api.Verifier(key, { scheme: profile }));
      }
      const body = await request.arrayBuffer();
      const refused = refusal(() => profileVerifiers.get(profile).verify(body, request.headers));
      return refused ?? Response.json({ ok: true, profile });
    }
    if (request.method === "POST" && pathname === "/corpus") {
      return Response.json(await runCorpus(api, await request.json()));
    }
    if (pathname === "/version") {
      return Response.json({ version: api.version() });
    }
    return new Response("not found", { status: 404 });
  },
};
