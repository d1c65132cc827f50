// Starts a worker in real workerd (miniflare from npm) with @timehook/verify resolved the way
// wrangler resolves a package for Workers: through package.json "exports" with the conditions
// workerd, worker, browser; JavaScript as ES modules and the `.wasm` file as a compiled
// WebAssembly module. Only 127.0.0.1 is used.

import { readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";

/** The npm package's directory (wasm/). */
export const packageDir = fileURLToPath(new URL("..", import.meta.url));
const packageJson = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));

/** The export conditions wrangler uses when it bundles a Worker. */
export const WORKER_CONDITIONS = ["workerd", "worker", "browser"];
/** Compatibility date of the test workers (supported by the pinned workerd). */
export const COMPATIBILITY_DATE = "2026-04-01";

/** Node's "exports" resolution for one target, for the given conditions. */
export function resolveExport(target, conditions) {
  if (typeof target === "string" || target === null) return target;
  for (const [key, value] of Object.entries(target)) {
    if (key === "default" || conditions.includes(key)) {
      const resolved = resolveExport(value, conditions);
      if (resolved) return resolved;
    }
  }
  return undefined;
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+)["']/g;

/** The static import specifiers of an ES module's source. */
export function importSpecifiers(source) {
  return [...source.matchAll(IMPORT_RE)].map((m) => m[1]);
}

/** Adds `file` and every module it imports (relative specifiers) to `modules`. */
function collect(file, modules, seen) {
  if (seen.has(file)) return;
  seen.add(file);
  if (file.endsWith(".wasm")) {
    modules.push({ type: "CompiledWasm", path: file, contents: readFileSync(file) });
    return;
  }
  const source = readFileSync(file, "utf8");
  modules.push({ type: "ESModule", path: file, contents: source });
  for (const spec of importSpecifiers(source)) {
    if (spec.startsWith("./") || spec.startsWith("../")) {
      collect(join(dirname(file), spec), modules, seen);
    } else if (spec !== packageJson.name) {
      throw new Error(`${file}: cannot load ${spec} in the test worker`);
    }
  }
}

/**
 * The modules of a worker whose source imports this package by name. workerd resolves a bare
 * specifier like a relative path, so the package name is mapped to a module that re-exports the
 * entry chosen by the worker conditions (what a bundler does when it resolves the name).
 */
export function workerModules(workerFile) {
  const modules = [];
  const seen = new Set();
  collect(workerFile, modules, seen);
  const entry = resolveExport(packageJson.exports["."], WORKER_CONDITIONS);
  if (!entry) throw new Error("package.json has no export for the worker conditions");
  const entryFile = join(packageDir, entry);
  const alias = join(dirname(workerFile), packageJson.name);
  const target = relative(dirname(alias), entryFile).split(/[\\/]/).join(posix.sep);
  modules.push({ type: "ESModule", path: alias, contents: `export * from "${target}";\n` });
  collect(entryFile, modules, seen);
  return { entry, modules };
}

/**
 * Starts `workerFile` in workerd on 127.0.0.1 with string `bindings`; returns its URL and a
 * `dispose` function.
 */
export async function startWorker(workerFile, { bindings = {} } = {}) {
  const { entry, modules } = workerModules(workerFile);
  const mf = new Miniflare({
    modules,
    modulesRoot: packageDir,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    host: "127.0.0.1",
    port: 0,
  });
  const url = await mf.ready;
  return { url, entry, modules, dispose: () => mf.dispose() };
}
