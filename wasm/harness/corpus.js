// Runs the shared signing corpus, tests/vectors/signatures.json (read by every runtime's tests),
// against @timehook/verify's public API. It uses no Node API: the Node tests call it directly
// and the workerd tests call it inside a worker (harness/worker.js).
//
// The corpus's own `format` block describes the fields; each case is run the way it says.

/** Standard base64 to bytes, without Buffer. */
export function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The `scheme` option for a case. */
export function caseScheme(c) {
  switch (c.scheme) {
    case "standard":
      return "standard";
    case "hex_body":
      return { kind: "hex_body", header: c.header, prefix: c.prefix };
    case "timestamped_hex":
      return { kind: "timestamped_hex", header: c.header, timestampHeader: c.timestamp_header ?? undefined };
    default:
      throw new Error(`${c.id}: unknown scheme ${c.scheme}`);
  }
}

/** The body of a case: a string (`body`), bytes (`body_base64`) or a string built at run time
 * (`body_recipe`), so both the string and the byte paths of the API are exercised. */
export function caseBody(c) {
  if (typeof c.body === "string") return c.body;
  if (typeof c.body_base64 === "string") return base64ToBytes(c.body_base64);
  if (c.body_recipe) return c.body_recipe.repeat.repeat(c.body_recipe.count);
  throw new Error(`${c.id}: no body, body_base64 or body_recipe`);
}

/** Runs `fn`; returns "ok" or the thrown error's code (errors without a code are rethrown). */
function outcome(fn) {
  try {
    fn();
    return { code: "ok" };
  } catch (err) {
    if (typeof err?.code !== "string") throw err;
    return { code: err.code, header: err.header, message: err.message };
  }
}

function describe(result) {
  return result.message ? `${result.code} (${result.message})` : result.code;
}

/** `outcome` of an async `fn`. */
async function outcomeAsync(fn) {
  try {
    await fn();
    return { code: "ok" };
  } catch (err) {
    if (typeof err?.code !== "string") throw err;
    return { code: err.code, header: err.header, message: err.message };
  }
}

/** Runs one verification case with `verify`, and with `verifyAsync` where the case has a time
 * (its fast path, WebCrypto's HMAC, must give the same answer), and its `sign` block; resolves
 * with `{ id, failures }`. */
export async function runCase(api, c) {
  const failures = [];
  const scheme = caseScheme(c);
  const body = caseBody(c);
  let verifier;
  const built = outcome(() => {
    verifier = new api.Verifier(c.secrets, { scheme, toleranceSeconds: c.tolerance ?? undefined });
  });
  if (built.code !== "ok") return { id: c.id, failures: [`verifier: ${describe(built)}`] };

  const result = outcome(() =>
    c.now === null || c.now === undefined
      ? verifier.verifyIgnoringTimestamp(body, c.headers)
      : verifier.verify(body, c.headers, c.now),
  );
  const results = [["verify", result]];
  if (c.now !== null && c.now !== undefined) {
    results.push(["verifyAsync", await outcomeAsync(() => verifier.verifyAsync(body, c.headers, c.now))]);
  }
  verifier.free();
  for (const [how, got] of results) {
    if (got.code !== c.expect) {
      failures.push(`${how}: got ${describe(got)}, expected ${c.expect}`);
    } else if (c.error_header !== undefined && got.header !== c.error_header) {
      failures.push(`${how}: error names header ${got.header}, expected ${c.error_header}`);
    }
  }

  if (c.sign) {
    const s = c.sign;
    const signed = outcome(() => {
      const signer = new api.Signer(s.keys, { scheme });
      try {
        const got = signer.sign(s.msg_id, s.timestamp, body);
        if (got !== s.expect_signature) {
          failures.push(`sign: got ${JSON.stringify(got)}, expected ${JSON.stringify(s.expect_signature)}`);
        }
        if (s.expect_headers) {
          const headers = JSON.stringify(Object.entries(signer.headers(s.msg_id, s.timestamp, body)));
          if (headers !== JSON.stringify(s.expect_headers)) {
            failures.push(`sign: headers ${headers}, expected ${JSON.stringify(s.expect_headers)}`);
          }
        }
      } finally {
        signer.free();
      }
    });
    if (signed.code !== "ok") failures.push(`sign: ${describe(signed)}`);
  }
  return { id: c.id, failures };
}

/** Runs one key case; returns `{ id, failures }`. */
export function runKeyCase(api, k) {
  const failures = [];
  let canonical;
  let publicKey;
  const parsed = outcome(() => {
    switch (k.kind) {
      case "secret":
        canonical = api.normalizeKey(k.input, "secret");
        break;
      case "signing_key":
        api.normalizeKey(k.input, "signing_key");
        publicKey = api.publicKey(k.input);
        break;
      case "verifying_key":
        publicKey = api.normalizeKey(k.input, "verifying_key");
        break;
      case "raw":
        api.normalizeKey(k.input, "raw");
        break;
      default:
        throw new Error(`${k.id}: unknown kind ${k.kind}`);
    }
  });
  if (parsed.code !== k.expect) failures.push(`got ${describe(parsed)}, expected ${k.expect}`);
  if (k.expect_canonical !== undefined && canonical !== k.expect_canonical) {
    failures.push(`canonical ${canonical}, expected ${k.expect_canonical}`);
  }
  if (k.expect_public !== undefined && publicKey !== k.expect_public) {
    failures.push(`public key ${publicKey}, expected ${k.expect_public}`);
  }
  return { id: k.id, failures };
}

/** Runs every case and key case of the corpus. */
export async function runCorpus(api, corpus) {
  const cases = [];
  for (const c of corpus.cases) cases.push(await runCase(api, c));
  return { cases, keyCases: corpus.key_cases.map((k) => runKeyCase(api, k)) };
}
