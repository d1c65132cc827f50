#!/usr/bin/env bash
# Builds the native addon in release mode, with napi's generated index.js and index.d.ts.
#   scripts/build.sh          install npm dependencies if needed, sync the version from Cargo,
#                             build, and update the generated files
#   scripts/build.sh --check  the same, but fail if the committed index.js / index.d.ts or the
#                             package version differ from what the build generates (drift)
# Cargo's incremental build makes an unchanged addon a no-op; the .node file is copied only when
# it changed. Set CARGO_TARGET_DIR to share a target directory.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[[ "${1:-}" == "--check" ]] && check=1

# npm dependencies: `npm ci` (exactly the locked tree, never a change to the lock) on a fresh
# clone, and again only when the lock file changed.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  if ! npm ci --no-audit --no-fund; then
    cat >&2 <<'EOF'
npm ci failed: node/package-lock.json does not install as locked (out of sync with package.json,
or a locked package is missing from the registry). Regenerate it on purpose and review the change:
  cd node && npm install --package-lock-only && git diff package-lock.json
EOF
    exit 1
  fi
fi

if [[ $check == 1 ]]; then
  node scripts/sync-version.mjs --check
else
  node scripts/sync-version.mjs
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx --no-install napi build --platform --release --no-const-enum \
  --output-dir "$out" --js index.js --dts index.d.ts

drift=0
for f in index.js index.d.ts; do
  if ! cmp -s "$out/$f" "$f"; then
    if [[ $check == 1 ]]; then
      echo "drift: the committed node/$f differs from the generated one:" >&2
      diff -u "$f" "$out/$f" | head -60 >&2 || true
      drift=1
    else
      cp "$out/$f" "$f"
      echo "updated $f"
    fi
  fi
done
if [[ $drift == 1 ]]; then
  echo "run 'bash node/scripts/build.sh' (or 'npm run build' in node/) and commit the result" >&2
  exit 1
fi

for built in "$out"/*.node; do
  name="$(basename "$built")"
  if ! cmp -s "$built" "$name"; then
    cp "$built" "$name"
    echo "updated $name"
  fi
done
