#!/usr/bin/env bash
# Node tests, from a fresh clone: npm ci, the release addon (a no-op when unchanged), drift checks
# of the generated index.js / index.d.ts and of the version, the TypeScript check, then
# `node --test` on this machine's Node and on Node 18 (the oldest the package supports; the
# npm `node@18` package, installed once into the cache).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/build.sh --check
npx --no-install tsc --noEmit -p test/types
echo "tsc: the typed usage compiles"

node --test test/

NODE18_VERSION=18.20.8
node18_dir="${TIMEHOOK_CACHE:-$HOME/.cache/timehook}/node-$NODE18_VERSION"
node18="$node18_dir/node_modules/.bin/node"
if [[ "$("$node18" --version 2>/dev/null)" != "v$NODE18_VERSION" ]]; then
  mkdir -p "$node18_dir"
  npm install --prefix "$node18_dir" --no-audit --no-fund --no-save "node@$NODE18_VERSION" >&2
fi
echo "node --test on $("$node18" --version)"
"$node18" --test test/
