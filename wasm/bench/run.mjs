// Benchmark of @timehook/verify inside real workerd (not part of the tests): WebAssembly
// `verify` against a WebCrypto HMAC-SHA256 implementation written in the same worker, on 1 KB
// and 64 KB bodies. Prints operations per second and their ratio.
//
//   node wasm/bench/run.mjs        (BENCH_MS=<ms per implementation and size>, default 2000)

import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";

import { startWorker } from "../harness/miniflare.js";
import { packageDir } from "../harness/node.js";

const SIZES = [1024, 64 * 1024];
const ms = Number(process.env.BENCH_MS ?? 2000);

const worker = await startWorker(join(packageDir, "bench", "worker.js"));
try {
  const rows = [];
  for (const size of SIZES) {
    const res = await fetch(new URL(`/bench?size=${size}&ms=${ms}`, worker.url));
    if (!res.ok) throw new Error(`bench ${size}: ${res.status} ${await res.text()}`);
    rows.push(await res.json());
  }
  const fmt = (n) => Math.round(n).toLocaleString("en-US").padStart(12);
  console.log(`verify inside workerd (miniflare), ${ms} ms per measurement, ` +
    `${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}`);
  console.log("body      verify ops/s   verifyAsync ops/s   webcrypto ops/s   verify / webcrypto   verifyAsync / webcrypto");
  for (const r of rows) {
    const label = `${r.size / 1024} KB`.padEnd(6);
    const ratio = (x) => `${(x / r.webcrypto).toFixed(2)}x`.padStart(10);
    console.log(`${label} ${fmt(r.wasm)}   ${fmt(r.verifyAsync)}        ${fmt(r.webcrypto)}   ${ratio(r.wasm)}           ${ratio(r.verifyAsync)}`);
  }
} finally {
  await worker.dispose();
}
