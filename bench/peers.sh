#!/usr/bin/env bash
# timehook against the peers users pick instead, storing one-time jobs due in an hour (nothing
# fires) with a small JSON payload: from Python beside APScheduler (`add_job` into a
# SQLAlchemyJobStore on a SQLite file, the scheduler started paused), from Node beside BullMQ (a
# Queue without a Worker; Redis from Debian with AOF everysec, on a free loopback port). timehook
# writes into a fresh SQLite file with its default durability (full; one more Node row with
# `normal`, the durability of AOF everysec) and does not deliver (autostart off). Every figure runs in a process of its own, which counts the jobs stored
# afterwards and fails on a wrong count. ROUNDS (default 3) interleaved rounds; prints each round,
# then each row's median with the ratio timehook ÷ peer (jobs/s over jobs/s; above 1, timehook is
# faster), and the fdatasync rate of the disk beside them (the floor of single durable commits).
# Python's and Node's one-call batches are also measured against the same call from Rust
# (core/examples/bench_enqueue.rs; ratio language ÷ Rust, the bindings' own cost).
# The peers are installed on first use: APScheduler and SQLAlchemy (pip) into a venv under
# ~/.cache/timehook, redis-server (apt, as root), bullmq and ioredis (npm).
#
#   bash bench/peers.sh       (make bench runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${TIMEHOOK_CACHE:-$HOME/.cache/timehook}
APSCHEDULER_VERSION=3.11.3
SQLALCHEMY_VERSION=2.1.9
ROUNDS=${ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
# Jobs a run. Calls that commit one job each (timehook's single calls, every APScheduler add_job)
# take fewer: each costs at least one fsync, so the syncs set their rate rather than the count,
# and 20k of them would take minutes.
PYTHON_MANY_JOBS=20000
PYTHON_SINGLE_JOBS=5000
APSCHEDULER_JOBS=2000
NODE_MANY_JOBS=100000
NODE_CONCURRENT_JOBS=20000
NODE_SEQUENTIAL_JOBS=5000
FSYNC_CALLS=500

source bench/redis.sh
cp bench/peers/bullmq-enqueue.mjs "$peers/"
aps="$CACHE/bench-apscheduler"
if ! "$aps/bin/python" -c "import importlib.metadata as m; assert (m.version('apscheduler'), m.version('sqlalchemy')) == ('$APSCHEDULER_VERSION', '$SQLALCHEMY_VERSION')" 2>/dev/null; then
  echo "bench: installing APScheduler $APSCHEDULER_VERSION and SQLAlchemy $SQLALCHEMY_VERSION into $aps" >&2
  python3 -m venv "$aps"
  "$aps/bin/pip" install -q --disable-pip-version-check "apscheduler==$APSCHEDULER_VERSION" "sqlalchemy==$SQLALCHEMY_VERSION" >&2
fi
bash node/scripts/build.sh >&2
# The same schedule_many from Rust, the yardstick of the Python and Node calls.
cargo build -q --release -p timehook --example bench_enqueue
enqueue="$CARGO_TARGET_DIR/release/examples/bench_enqueue"
# The Python package (the venv and wheel python/test.sh uses).
source python/env.sh
th_venv >&2
th_wheel >&2

work="$(mktemp -d)"
redis=
trap 'kill $redis 2>/dev/null; rm -rf "$work"' EXIT
redis_start "$work"
results="$work/results"
touch "$results"

# Runs one figure and keeps its `result` line, tagged with the round and who ran it.
run() {
  local who=$1 line
  shift
  line="$("$@" | grep '^result ')"
  echo "$round $who ${line#result }" >>"$results"
}
# Rewrites one 4 KB block with fdatasync after each write, in the temporary directory the stores
# are made in too.
fsync_floor() {
  python3 - "$work" "$FSYNC_CALLS" <<'PY'
import os, sys, tempfile, time
n = int(sys.argv[2])
with tempfile.NamedTemporaryFile(dir=sys.argv[1]) as f:
    start = time.perf_counter()
    for _ in range(n):
        os.pwrite(f.fileno(), b"\0" * 4096, 0)
        os.fdatasync(f.fileno())
    print(f"result fdatasync {n} {round(n / (time.perf_counter() - start))}")
PY
}

echo "timehook $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2); APScheduler $APSCHEDULER_VERSION (SQLAlchemy $SQLALCHEMY_VERSION, $("$aps/bin/python" --version)); BullMQ $BULLMQ_VERSION (ioredis $IOREDIS_VERSION, Redis $(redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/'), Node $(node --version)); $(nproc) cores; $ROUNDS rounds, interleaved"
for round in $(seq "$ROUNDS"); do
  run disk fsync_floor
  run timehook "$TH_PYTHON" bench/peers/timehook_enqueue.py many "$PYTHON_MANY_JOBS"
  run Rust "$enqueue" "$PYTHON_MANY_JOBS"
  run APScheduler "$aps/bin/python" bench/peers/apscheduler_enqueue.py "$APSCHEDULER_JOBS"
  run timehook "$TH_PYTHON" bench/peers/timehook_enqueue.py single "$PYTHON_SINGLE_JOBS"
  run timehook node bench/peers/timehook-enqueue.mjs many "$NODE_MANY_JOBS"
  run Rust "$enqueue" "$NODE_MANY_JOBS"
  run BullMQ node "$peers/bullmq-enqueue.mjs" bulk "$redis_port" "$NODE_MANY_JOBS"
  run timehook node bench/peers/timehook-enqueue.mjs concurrent "$NODE_CONCURRENT_JOBS"
  run BullMQ node "$peers/bullmq-enqueue.mjs" concurrent "$redis_port" "$NODE_CONCURRENT_JOBS"
  run timehook node bench/peers/timehook-enqueue.mjs sequential "$NODE_SEQUENTIAL_JOBS"
  run timehook node bench/peers/timehook-enqueue.mjs sequential-normal "$NODE_SEQUENTIAL_JOBS"
  run BullMQ node "$peers/bullmq-enqueue.mjs" sequential "$redis_port" "$NODE_SEQUENTIAL_JOBS"
  python3 bench/peers/peers_table.py "$results" "$round"
done
echo
python3 bench/peers/peers_table.py "$results"
