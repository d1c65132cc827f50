#!/usr/bin/env bash
# Tests @timehook/verify from a fresh clone: builds the package (installing the wasm32 target,
# wasm-bindgen-cli and the npm dev dependencies when missing; see build.sh), builds the Rust
# signer example the tests use, then runs `node --test wasm/test/`: the shared corpus in Node and
# in real workerd (miniflare), workerd requests signed by the Rust signer, interop with the npm
# standardwebhooks and svix packages, and the published package's contents and types.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

bash "$here/build.sh"
echo "wasm/test.sh: cargo build --example sign_fixtures" >&2
(cd "$root" && cargo build --quiet -p timehook --no-default-features --example sign_fixtures)
cd "$root"
node --test wasm/test/
