#!/usr/bin/env bash
# Benchmark (not part of the tests): @timehook/verify's WebAssembly verify against WebCrypto,
# inside real workerd, on 1 KB and 64 KB bodies. Builds the package first if needed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/build.sh"
node "$here/bench/run.mjs"
