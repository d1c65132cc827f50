#!/usr/bin/env bash
# The dashboard in headless Chromium, from a fresh clone: Debian's chromium (installed when
# missing and running as root), playwright-core from the lock file, the debug `timehook` binary,
# then `node --test`. Screenshots land in cli/tests/dashboard/output/ (ignored by git).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "dashboard: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "dashboard: chromium is missing; install Debian's chromium package" >&2
    exit 1
  fi
fi
(cd "$here" && npm ci --no-audit --no-fund --silent)
(cd "$root" && cargo build --quiet -p timehook-cli)
export TIMEHOOK_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/timehook"
export TIMEHOOK_CHROMIUM="$(command -v chromium)"
cd "$here" && node --test
