#!/usr/bin/env bash
# schemathesis (PyPI, pinned in python/requirements-dev.txt) against the /openapi.json of a real
# `timehook serve` on 127.0.0.1: generated requests to every operation, with a write key, must
# never get a 5xx, and every answer must match the document (status, content type, headers, body
# schema). Requests the API refuses are fine as long as the refusal is documented.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/python/env.sh"
th_venv
(cd "$root" && cargo build --quiet -p timehook-cli)
bin="${CARGO_TARGET_DIR:-$root/target}/debug/timehook"

work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

key="$("$bin" keys create --scope write --name schemathesis --db "$work/jobs.db" 2>/dev/null)"
TIMEHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
  "$bin" serve --db "$work/jobs.db" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$work/serve.out")"
[ -n "$url" ] || { cat "$work/serve.err" >&2; echo "api-schema: the server did not start" >&2; exit 1; }

# From the temporary directory: schemathesis keeps a .schemathesis/ state directory where it runs.
cd "$work"
"$TH_VENV/bin/schemathesis" run "$url/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${TIMEHOOK_SCHEMATHESIS_EXAMPLES:-50}" \
  --seed 1 \
  --no-color
