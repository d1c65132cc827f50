// Node-side helpers of the tests and the benchmark: paths, the shared corpus, and deliveries
// signed by timehook's Rust signer (core/examples/sign_fixtures.rs).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { base64ToBytes } from "./corpus.js";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** The package's directory (wasm/). */
export const packageDir = join(repoRoot, "wasm");
/** The shared signing corpus. */
export const corpusPath = join(repoRoot, "tests", "vectors", "signatures.json");

export function loadCorpus() {
  return JSON.parse(readFileSync(corpusPath, "utf8"));
}

/** [workspace.package] version of the root Cargo.toml. */
export function workspaceVersion() {
  const toml = readFileSync(join(repoRoot, "Cargo.toml"), "utf8");
  const section = toml.split(/^\[workspace\.package\]$/m)[1]?.split(/^\[/m)[0] ?? "";
  const version = section.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
  if (!version) throw new Error("no [workspace.package] version in Cargo.toml");
  return version;
}

/**
 * Deliveries signed by the Rust core's Signer at `now` (unix seconds), from
 * `cargo run -p timehook --no-default-features --example sign_fixtures -- <now>`.
 * Returns `{ now, keys, requests: Map<name, { body: Uint8Array, headers: [name, value][] }> }`.
 */
export function rustSignedFixtures(now) {
  const out = execFileSync(
    "cargo",
    [
      "run", "--quiet", "--manifest-path", join(repoRoot, "Cargo.toml"),
      "-p", "timehook", "--no-default-features", "--example", "sign_fixtures", "--", String(now),
    ],
    { encoding: "utf8", maxBuffer: 16 << 20, stdio: ["ignore", "pipe", "inherit"] },
  );
  const parsed = JSON.parse(out);
  const requests = new Map(
    parsed.requests.map((r) => [
      r.name,
      { body: base64ToBytes(r.body_base64), headers: r.headers },
    ]),
  );
  return { now: parsed.now, keys: parsed.keys, profiles: parsed.profiles, requests };
}
