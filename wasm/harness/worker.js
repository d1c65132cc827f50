// The worker the workerd tests run (harness/miniflare.js loads it with the package resolved
// through its `workerd` export condition, as wrangler would). It imports @timehook/verify the
// way a user does.
//
//   POST /webhook   verifies the request with the keys in the VERIFY_KEYS binding (a JSON array)
//                   at the current time: 200 {ok, id}, or 401 {error: <code>, header, message}
//   POST /corpus    runs the posted signing corpus (tests/vectors/signatures.json) in the worker
//   GET  /version   the package version compiled into the WebAssembly module

import * as api from "@timehook/verify";
import { runCorpus } from "./corpus.js";

let verifier;

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && pathname === "/webhook") {
      verifier ??= new api.Verifier(JSON.parse(env.VERIFY_KEYS));
      try {
        verifier.verify(await request.arrayBuffer(), request.headers);
      } catch (err) {
        if (err.name !== "WebhookVerificationError") throw err;
        return Response.json(
          { error: err.code, header: err.header ?? null, message: err.message },
          { status: 401 },
        );
      }
      return Response.json({ ok: true, id: request.headers.get("webhook-id") ?? request.headers.get("svix-id") });
    }
    if (request.method === "POST" && pathname === "/corpus") {
      return Response.json(runCorpus(api, await request.json()));
    }
    if (pathname === "/version") {
      return Response.json({ version: api.version() });
    }
    return new Response("not found", { status: 404 });
  },
};
