#!/usr/bin/env bash
# Builds the npm package @timehook/verify in wasm/:
#   cargo build -p timehook-wasm (wasm32-unknown-unknown, profile wasm-release)
#   -> wasm-bindgen --target web -> wasm-opt (npm binaryen) -> wasm/pkg/
# Installs what it needs on first use (the wasm32 target, wasm-bindgen-cli under
# $HOME/.cache/timehook/tools, the npm dev dependencies) and does nothing when its inputs are
# unchanged. Also writes the workspace version from Cargo.toml into package.json.
#
# Environment: CARGO_TARGET_DIR (honoured), TIMEHOOK_CACHE (default $HOME/.cache/timehook).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cache="${TIMEHOOK_CACHE:-$HOME/.cache/timehook}"
tools="$cache/tools"
pkg="$here/pkg"
crate=timehook_wasm

log() { echo "wasm/build.sh: $*" >&2; }

# The exact wasm-bindgen pin of the root Cargo.toml: the CLI must match the crate.
wasm_bindgen_version="$(sed -n 's/^wasm-bindgen *= *"=\([0-9.]*\)".*/\1/p' "$root/Cargo.toml")"
[[ -n "$wasm_bindgen_version" ]] || { log "no exact wasm-bindgen pin (\"=x.y.z\") in Cargo.toml"; exit 1; }
# The one version of every package: [workspace.package] version.
version="$(sed -n '/^\[workspace\.package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")"
[[ -n "$version" ]] || { log "no [workspace.package] version in Cargo.toml"; exit 1; }

# Speed: WebAssembly SIMD (`simd128`) lets sha2 use its wasm32-simd128 backends for SHA-256
# (HMAC, `v1`) and SHA-512 (ed25519, `v1a`): verify is about 1.5x (1 KB bodies) to 2x (64 KB)
# faster for about 300 bytes. Every runtime the package targets has it (workerd, Node, Deno,
# Bun; Chrome/Edge 91+, Firefox 89+, Safari 16.4+). TIMEHOOK_WASM_SIMD=0 builds without it
# (then sha2's compact software backend is used, the smallest).
simd="${TIMEHOOK_WASM_SIMD:-1}"
# wasm-opt flags: the features the module uses, then size optimisation repeated until it stops
# shrinking (--converge). --low-memory-unused lets wasm-opt fold address arithmetic into
# load/store offsets: Rust's wasm32 layout keeps data above 1 MiB and the stack below it,
# growing down, so the lowest 1 KiB is never addressed. The producers and target-features
# sections are only read by tools (wasm-bindgen has run by then).
wasm_opt_flags=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
if [[ "$simd" == 1 ]]; then wasm_opt_flags+=(--enable-simd); fi
wasm_opt_flags+=(--converge -Oz --low-memory-unused --gufa-optimizing --strip-producers
  --strip-target-features -Oz)
# Size choices for this build only (see wasm/README.md): sha2's compact software backend
# (without SIMD), and short source paths in the panic locations that the module carries but
# never shows (a panic only traps): the cargo registry and workspace prefixes are cut off (rustc
# applies the last matching prefix).
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustflags="--cfg sha2_backend_soft=\"compact\" --remap-path-prefix=$root/="
rustflags+=" --remap-path-prefix=$cargo_home/registry/src/="
for registry in "$cargo_home"/registry/src/*/; do
  if [[ -d "$registry" ]]; then rustflags+=" --remap-path-prefix=$registry="; fi
done
if [[ "$simd" == 1 ]]; then rustflags+=" -C target-feature=+simd128"; fi
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} $rustflags"

hash_stdin() { sha256sum | cut -c1-64; }

# 1. The Rust target.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli, pinned, cached outside the repository.
wasm_bindgen="$tools/bin/wasm-bindgen"
if [[ "$("$wasm_bindgen" --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]]; then
  log "installing wasm-bindgen-cli $wasm_bindgen_version into $tools (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --root "$tools" --force
fi

# 3. npm dev dependencies (binaryen's wasm-opt; miniflare, svix, standardwebhooks for the tests).
lock_hash="$( (cat "$here/package-lock.json"; node --version) | hash_stdin)"
stamp_npm="$here/node_modules/.timehook-npm-ci"
if [[ ! -f "$stamp_npm" || "$(cat "$stamp_npm")" != "$lock_hash" ]]; then
  log "npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > "$stamp_npm"
fi

# 4. package.json carries the workspace version (read here, never typed by hand).
if [[ "$(node -p 'require(process.argv[1]).version' "$here/package.json")" != "$version" ]]; then
  log "package.json version -> $version"
  (cd "$here" && npm pkg set version="$version")
fi

# 5. The package, rebuilt only when an input changed.
inputs_hash="$(
  {
    cd "$root"
    find Cargo.toml Cargo.lock core/Cargo.toml core/src/lib.rs core/src/signing wasm/Cargo.toml wasm/src \
      -type f -print0 | sort -z | xargs -0 sha256sum
    rustc -vV
    echo "$CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS ${wasm_opt_flags[*]} $wasm_bindgen_version"
    cat "$here/node_modules/binaryen/package.json"
    cat "$here/build.sh"
  } | hash_stdin
)"
stamp_build="$pkg/.build-inputs"
if [[ -f "$stamp_build" && "$(cat "$stamp_build")" == "$inputs_hash" && -f "$pkg/$crate.js" && -f "$pkg/${crate}_bg.wasm" ]]; then
  log "pkg/ is up to date ($(stat -c %s "$pkg/${crate}_bg.wasm") bytes)"
  exit 0
fi

log "cargo build -p timehook-wasm --target wasm32-unknown-unknown --profile wasm-release"
(cd "$root" && cargo build -p timehook-wasm --target wasm32-unknown-unknown --profile wasm-release)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
wasm_in="$target_dir/wasm32-unknown-unknown/wasm-release/$crate.wasm"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$wasm_bindgen" --target web --no-typescript --out-dir "$tmp" --out-name "$crate" "$wasm_in"
(cd "$here" && node node_modules/binaryen/bin/wasm-opt "${wasm_opt_flags[@]}" \
  "$tmp/${crate}_bg.wasm" -o "$tmp/${crate}_bg.opt.wasm")
mkdir -p "$pkg"
mv "$tmp/$crate.js" "$pkg/$crate.js"
mv "$tmp/${crate}_bg.opt.wasm" "$pkg/${crate}_bg.wasm"
echo "$inputs_hash" > "$stamp_build"

raw="$(stat -c %s "$pkg/${crate}_bg.wasm")"
gz="$(gzip -9c "$pkg/${crate}_bg.wasm" | wc -c)"
log "built pkg/${crate}_bg.wasm: $raw bytes ($gz gzipped), version $version"
