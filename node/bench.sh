#!/usr/bin/env bash
# Node benchmarks (not tests): Verifier.verify against standardwebhooks and node:crypto, and
# scheduleMany of 100k jobs. Builds the release addon first if needed.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/build.sh >&2
node bench/verify.mjs
node bench/schedule-many.mjs
