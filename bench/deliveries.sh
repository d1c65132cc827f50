#!/usr/bin/env bash
# Deliveries against one receiver that is not the bottleneck: the benchmarks' receiver
# (core/examples/bench_receiver.rs, axum answering 204) in a process of its own on 127.0.0.1.
# Its own ceiling is measured first with oha at the same concurrency (64, keep-alive); then the
# core delivers 20k jobs due at once to it (sign, send, record each attempt durably, 64 in flight).
# ROUNDS (default 3) interleaved rounds; prints each figure and the ratio to the ceiling.
#
#   bash bench/deliveries.sh       (make bench runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${TIMEHOOK_CACHE:-$HOME/.cache/timehook}
OHA_VERSION=1.16.0
ROUNDS=${ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

oha="$CACHE/tools/bin/oha"
if [ "$("$oha" --version 2>/dev/null)" != "oha $OHA_VERSION" ]; then
  echo "bench: installing oha $OHA_VERSION into $CACHE/tools" >&2
  CARGO_TARGET_DIR="$CACHE/oha-target" cargo install oha --version "$OHA_VERSION" --locked --root "$CACHE/tools" >&2
fi
cargo build -q --release -p timehook --example bench_receiver
cargo bench -q -p timehook --bench scheduler --no-run 2>/dev/null

work="$(mktemp -d)"
"$CARGO_TARGET_DIR/release/examples/bench_receiver" >"$work/port" &
receiver=$!
trap 'kill $receiver 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")"

ceilings=()
ours=()
for round in $(seq "$ROUNDS"); do
  "$oha" --no-tui --output-format json -z 10s -c 64 "$url/d" >"$work/oha.json"
  ceiling="$(python3 -c "import json; print(round(json.load(open('$work/oha.json'))['summary']['requestsPerSec']))")"
  line="$(TIMEHOOK_BENCH_RECEIVER="$url" cargo bench -q -p timehook --bench scheduler -- deliveries_external 2>/dev/null | grep 'deliveries to the receiver process')"
  rate="$(sed -E 's/.*: ([0-9]+)\/s$/\1/' <<<"$line")"
  echo "round $round: receiver ceiling (oha, c=64) ${ceiling}/s; timehook ${rate}/s"
  ceilings+=("$ceiling")
  ours+=("$rate")
done
python3 - "${ceilings[*]}" "${ours[*]}" <<'PY'
import statistics, sys
c = [int(x) for x in sys.argv[1].split()]
o = [int(x) for x in sys.argv[2].split()]
mc, mo = statistics.median(c), statistics.median(o)
print(f"receiver ceiling (oha, 64 keep-alive connections): median {mc:.0f}/s  (runs: {c})")
print(f"timehook deliveries, 20k jobs, 64 in flight:        median {mo:.0f}/s  (runs: {o})")
print(f"timehook / ceiling: {mo / mc:.0%} (goal >= 60%)")
PY
