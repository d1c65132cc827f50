#!/usr/bin/env bash
# Deliveries against one receiver that is not the bottleneck: the benchmarks' receiver
# (core/examples/bench_receiver.rs, axum answering 204) in a process of its own on 127.0.0.1.
# Its own ceiling is measured first with oha at the same concurrency (64, keep-alive); then 20k
# jobs due at once are delivered to it by the core from Rust and from Node (sign, send, record
# each attempt durably, 64 in flight), and by BullMQ (a Worker with concurrency 64 posting with a
# node:http keep-alive Agent; Redis from Debian with AOF everysec, on a free loopback port).
# ROUNDS (default 3) interleaved rounds; prints each figure, the ratio to the ceiling and to BullMQ.
# Also the CPU time per request of each side: oha and the receiver at the ceiling, timehook (from
# Rust) and the receiver while delivering. They share the machine's cores, so the CPU each
# delivery takes bounds the rate as much as the receiver does.
# The peers are installed on first use: redis-server (apt, as root), bullmq and ioredis (npm).
#
#   bash bench/deliveries.sh       (make bench runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${TIMEHOOK_CACHE:-$HOME/.cache/timehook}
ROUNDS=${ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

source bench/oha.sh
source bench/redis.sh
cp bench/peers/bullmq-deliver.mjs "$peers/"
bash node/scripts/build.sh >&2
# The Python package (the venv and wheel python/test.sh uses).
source python/env.sh
th_venv >&2
th_wheel >&2
cargo build -q --release -p timehook --example bench_receiver
cargo bench -q -p timehook --bench scheduler --no-run 2>/dev/null

work="$(mktemp -d)"
"$CARGO_TARGET_DIR/release/examples/bench_receiver" >"$work/port" &
receiver=$!
redis=
trap 'kill $receiver $redis 2>/dev/null; rm -rf "$work"' EXIT
redis_start "$work"
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")"

# CPU seconds (user and system) of the process $1 so far.
cpu_of() {
  awk '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / 100 }' "/proc/$1/stat"
}

ceilings=()
oha_cpu=()
receiver_ceiling_cpu=()
our_cpu=()
receiver_cpu=()
ours=()
nodes=()
pythons=()
bullmqs=()
for round in $(seq "$ROUNDS"); do
  before="$(cpu_of $receiver)"
  TIMEFORMAT='%U %S'
  { time "$oha" --no-tui --output-format json -z 10s -c 64 "$url/d" >"$work/oha.json"; } 2>"$work/oha.time"
  after="$(cpu_of $receiver)"
  read -r ceiling requests <<<"$(python3 -c "import json; s = json.load(open('$work/oha.json'))['summary']; print(round(s['requestsPerSec']), round(s['requestsPerSec'] * s['total']))")"
  oha_cpu+=("$(awk -v n="$requests" '{ printf "%.1f", ($1 + $2) / n * 1e6 }' "$work/oha.time")")
  receiver_ceiling_cpu+=("$(awk -v a="$after" -v b="$before" -v n="$requests" 'BEGIN { printf "%.1f", (a - b) / n * 1e6 }')")
  # The four deliverers run in an order that turns by one each round, so none always runs first
  # or last while the shared machine's load drifts.
  deliverers=(rust node python bullmq)
  for i in 0 1 2 3; do
    case "${deliverers[$(((round - 1 + i) % 4))]}" in
      rust)
        # The receiver only works while timehook delivers to it: its CPU over the whole run is
        # its CPU for the 20k deliveries.
        before="$(cpu_of $receiver)"
        out="$(TIMEHOOK_BENCH_RECEIVER="$url" cargo bench -q -p timehook --bench scheduler -- deliveries_external 2>/dev/null)"
        after="$(cpu_of $receiver)"
        line="$(grep 'deliveries to the receiver process' <<<"$out")"
        rate="$(sed -E 's/.*: ([0-9]+)\/s$/\1/' <<<"$line")"
        our_cpu+=("$(sed -nE 's/^CPU per delivery: timehook ([0-9.]+) us.*/\1/p' <<<"$out")")
        receiver_cpu+=("$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", (a - b) / 20000 * 1e6 }')")
        ;;
      node) node_rate="$(node bench/peers/timehook-deliver.mjs "$url" 20000 | sed -E 's/.* ([0-9]+)\/s$/\1/')" ;;
      python) python_rate="$("$TH_PYTHON" bench/peers/timehook_deliver.py "$url" 20000 | sed -E 's/.* ([0-9]+)\/s$/\1/')" ;;
      bullmq) bullmq_rate="$(node "$peers/bullmq-deliver.mjs" "$url" "$redis_port" 20000 | sed -E 's/.* ([0-9]+)\/s$/\1/')" ;;
    esac
  done
  echo "round $round: receiver ceiling (oha, c=64) ${ceiling}/s; timehook ${rate}/s (Rust), ${node_rate}/s (Node), ${python_rate}/s (Python); BullMQ ${bullmq_rate}/s"
  echo "  CPU per request: oha ${oha_cpu[-1]} us + receiver ${receiver_ceiling_cpu[-1]} us at the ceiling; timehook ${our_cpu[-1]} us + receiver ${receiver_cpu[-1]} us per delivery"
  ceilings+=("$ceiling")
  ours+=("$rate")
  nodes+=("$node_rate")
  pythons+=("$python_rate")
  bullmqs+=("$bullmq_rate")
done
python3 - "${ceilings[*]}" "${ours[*]}" "${nodes[*]}" "${bullmqs[*]}" "${pythons[*]}" \
  "${oha_cpu[*]}" "${receiver_ceiling_cpu[*]}" "${our_cpu[*]}" "${receiver_cpu[*]}" "$(nproc)" <<'PY'
import statistics, sys
c, o, n, b, p = ([int(x) for x in a.split()] for a in sys.argv[1:6])
mc, mo, mn, mb, mp = (statistics.median(x) for x in (c, o, n, b, p))

oha, rc, ours, rd = (statistics.median(float(x) for x in a.split()) for a in sys.argv[6:10])
cores = int(sys.argv[10])
print(f"receiver ceiling (oha, 64 keep-alive connections): median {mc:.0f}/s  (runs: {c})")
print(f"timehook from Rust, 20k jobs, 64 in flight:         median {mo:.0f}/s  (runs: {o})")
print(f"timehook from Node, 20k jobs, 64 in flight:         median {mn:.0f}/s  (runs: {n})")
print(f"timehook from Python, 20k jobs, 64 in flight:       median {mp:.0f}/s  (runs: {p})")
print(f"BullMQ Worker, concurrency 64, keep-alive Agent:    median {mb:.0f}/s  (runs: {b})")

# Each ratio is the median of the rounds' own ratios: the two runs of a round are minutes apart,
# the rounds' medians may not be.
def ratio(top, bottom):
    rounds = [t / u for t, u in zip(top, bottom)]
    return statistics.median(rounds), ", ".join(f"{r:.2f}" for r in rounds)


print(f"timehook (Rust) / ceiling: {ratio(o, c)[0]:.0%} (goal >= 60%; rounds {ratio(o, c)[1]})")
print(f"timehook (Node) / timehook (Rust): {ratio(n, o)[0]:.0%} (goal: within 10%; rounds {ratio(n, o)[1]})")
print(f"timehook (Python) / timehook (Rust): {ratio(p, o)[0]:.0%} (goal: within 10%; rounds {ratio(p, o)[1]})")
print(f"timehook (Node) / BullMQ: {ratio(n, b)[0]:.2f}x (goal >= 2x; rounds {ratio(n, b)[1]})")
# Both sides of each measurement share the cores: the CPU a request takes on the two sides
# bounds its rate at cores / that.
print(
    f"CPU per request, medians: oha {oha:.1f} us + receiver {rc:.1f} us at the ceiling "
    f"({cores} cores: at most {cores / (oha + rc) * 1e6:,.0f}/s); timehook {ours:.1f} us + "
    f"receiver {rd:.1f} us per delivery (at most {cores / (ours + rd) * 1e6:,.0f}/s; 60% of the "
    f"ceiling leaves timehook {cores / (0.6 * mc) * 1e6 - rd:.1f} us a delivery)"
)
PY
