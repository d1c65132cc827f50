#!/usr/bin/env bash
# `timehook serve` under load, on a SQLite file: POST /v1/jobs over HTTP/1.1 keep-alive from 64
# concurrent clients (oha, installed from crates into ~/.cache/timehook/tools on first use), the
# p99 latency of that request at half the measured rate, and the dashboard's jobs page with 1M
# jobs in the store. Loopback only.
#
#   bash bench/serve.sh          (make bench runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${TIMEHOOK_CACHE:-$HOME/.cache/timehook}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
JOBS_1M=${JOBS_1M:-1000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

source bench/oha.sh
cargo build --quiet --release -p timehook-cli --example fill
bin="$CARGO_TARGET_DIR/release/timehook"
cargo build --quiet --release -p timehook-cli

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `timehook serve` on a file; prints its URL.
serve() {
  local db="$1" out="$work/serve-$RANDOM.out"
  "$bin" serve --db "$db" --listen 127.0.0.1:0 --no-deliver >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 200); do
    grep -q '^listening on ' "$out" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/^listening on //p' "$out"
}

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "== timehook serve: POST /v1/jobs, 64 keep-alive clients, ${SECONDS_PER_RUN}s, durability full (fsync), file on $(df -T "$work" | awk 'NR==2{print $2}')"
url="$(serve "$work/post.db")"
body='{"url":"https://example.com/hook","after_seconds":3600,"payload":{"user":42}}'
"$oha" --no-tui --output-format json -z "${SECONDS_PER_RUN}s" -c 64 -m POST \
  -H 'content-type: application/json' -d "$body" "$url/v1/jobs" >"$work/full.json"
rps="$(json_field "d['summary']['requestsPerSec']" <"$work/full.json")"
ok="$(json_field "d['statusCodeDistribution'].get('201', 0)" <"$work/full.json")"
p99="$(json_field "round(d['latencyPercentiles']['p99']*1000, 2)" <"$work/full.json")"
printf '  %.0f jobs/s (%s created), p99 %s ms at full load\n' "$rps" "$ok" "$p99"

half="$(python3 -c "print(int($rps / 2))")"
echo "== the same at half that rate ($half/s)"
"$oha" --no-tui --output-format json -z "${SECONDS_PER_RUN}s" -c 64 -q "$half" -m POST \
  -H 'content-type: application/json' -d "$body" "$url/v1/jobs" >"$work/half.json"
p50="$(json_field "round(d['latencyPercentiles']['p50']*1000, 2)" <"$work/half.json")"
p99="$(json_field "round(d['latencyPercentiles']['p99']*1000, 2)" <"$work/half.json")"
echo "  p50 $p50 ms, p99 $p99 ms"

echo "== the dashboard's jobs page with $JOBS_1M jobs in the store (1 client, 200 requests)"
"$CARGO_TARGET_DIR/release/examples/fill" "$work/big.db" "$JOBS_1M"
url="$(serve "$work/big.db")"
for page in "/ui/jobs" "/ui/jobs?name=report" "/ui/jobs?state=scheduled" "/v1/jobs?limit=50"; do
  "$oha" --no-tui --output-format json -n 200 -c 1 "$url$page" >"$work/page.json"
  p50="$(json_field "round(d['latencyPercentiles']['p50']*1000, 2)" <"$work/page.json")"
  p99="$(json_field "round(d['latencyPercentiles']['p99']*1000, 2)" <"$work/page.json")"
  printf '  %-28s p50 %s ms, p99 %s ms\n' "$page" "$p50" "$p99"
done
