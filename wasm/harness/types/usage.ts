// Type-checked by test/package.test.mjs: the public API as a user writes it, and misuse the
// types must reject (each `@ts-expect-error` fails the check if the line compiles).

import {
  init,
  normalizeKey,
  publicKey,
  sign,
  Signer,
  signHeaders,
  Verifier,
  version,
  type ErrorCode,
  type WebhookVerificationError,
} from "@timehook/verify";

export async function handle(request: Request): Promise<Response> {
  await init();
  const verifier = new Verifier(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whpk_x"], { toleranceSeconds: 60 });
  try {
    verifier.verify(await request.arrayBuffer(), request.headers);
    verifier.verify("{}", { "webhook-id": "msg_1", "webhook-signature": ["v1,a", "v1,b"], other: undefined });
    verifier.verify(new Uint8Array(2), [["webhook-id", "msg_1"]], Date.now() / 1000);
    verifier.verifyIgnoringTimestamp(new DataView(new ArrayBuffer(2)), new Map([["a", "b"]]));
  } catch (err) {
    const e = err as WebhookVerificationError;
    const code: ErrorCode = e.code;
    return Response.json({ code, header: e.header ?? null }, { status: 401 });
  }
  const tolerance: number = verifier.toleranceSeconds;
  const scheme: "standard" | "hex_body" | "timestamped_hex" = verifier.scheme;
  verifier.free();
  return Response.json({ tolerance, scheme, version: version() });
}

export function tools(): string[] {
  const github = new Verifier("secret", { scheme: "github" });
  const a1cron = new Verifier("secret", { scheme: "a1cron" });
  void a1cron.verifyAsync("{}", { "x-a1cron-signature": "00" }).catch(() => undefined);
  a1cron.verify("{}", { "x-a1cron-signature": "00" });
  const runlater = new Verifier("secret", {
    scheme: { kind: "timestamped_hex", header: "X-Signature", timestampHeader: "X-Timestamp" },
  });
  github.free();
  runlater.free();
  const signer = new Signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  const headers: Record<string, string> = signer.headers("msg_1", 1614265330, "{}");
  return [
    sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1614265330, "{}"),
    signHeaders("s", "unused", 1, new Uint8Array(), { scheme: "stripe" })["Stripe-Signature"] ?? "",
    normalizeKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    normalizeKey("whpk_x", "verifying_key"),
    publicKey("whsk_x"),
    headers["webhook-signature"] ?? "",
  ];
}

export function misuse(): void {
  const verifier = new Verifier("whsec_x");
  // @ts-expect-error: a number is not a body
  verifier.verify(42, {});
  // @ts-expect-error: header values are strings
  verifier.verify("{}", { "webhook-id": 5 });
  // @ts-expect-error: nowSeconds is a number
  verifier.verify("{}", {}, "now");
  // @ts-expect-error: unknown scheme
  new Verifier("s", { scheme: "hookdeck" });
  // @ts-expect-error: hex_body needs a header
  new Verifier("s", { scheme: { kind: "hex_body" } });
  // @ts-expect-error: unknown key kind
  normalizeKey("x", "password");
}
