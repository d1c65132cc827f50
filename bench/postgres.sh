#!/usr/bin/env bash
# timehook on PostgreSQL beside its peers, pg-boss (npm, on Node 22) and procrastinate (PyPI), on
# one throwaway cluster and one receiver in a process of its own; runs interleaved, ROUNDS times
# (default 3), and prints each figure's median with the ratio timehook / peer.
#
#   bash bench/postgres.sh            (make bench runs it)
#
# The peers are installed under ~/.cache/timehook on first use (pinned versions).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TIMEHOOK_TEST_POSTGRES_URL:-}" ]; then
  exec bash tests/with-postgres.sh bash "$0" "$@"
fi

ROUNDS=${ROUNDS:-3}
CACHE=${TIMEHOOK_CACHE:-$HOME/.cache/timehook}
PGBOSS_VERSION=12.38.1
NODE22_VERSION=22.23.3
PROCRASTINATE_VERSION=3.10.0
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

node_dir="$CACHE/bench-node"
node22="$node_dir/node_modules/.bin/node"
if [ "$("$node22" --version 2>/dev/null)" != "v$NODE22_VERSION" ] ||
  ! grep -q "\"version\": \"$PGBOSS_VERSION\"" "$node_dir/node_modules/pg-boss/package.json" 2>/dev/null; then
  echo "bench: installing pg-boss $PGBOSS_VERSION and Node $NODE22_VERSION into $node_dir" >&2
  mkdir -p "$node_dir"
  [ -f "$node_dir/package.json" ] || echo '{"private": true}' >"$node_dir/package.json"
  npm install --prefix "$node_dir" --no-audit --no-fund "node@$NODE22_VERSION" "pg-boss@$PGBOSS_VERSION" >&2
fi
venv="$CACHE/bench-venv"
if ! "$venv/bin/python" -c "import procrastinate, httpx, psycopg, importlib.metadata as m; assert m.version('procrastinate') == '$PROCRASTINATE_VERSION'" 2>/dev/null; then
  echo "bench: installing procrastinate $PROCRASTINATE_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "procrastinate==$PROCRASTINATE_VERSION" "psycopg[binary,pool]" httpx >&2
fi

# pgboss.mjs imports pg-boss from beside it.
ln -sfn "$node_dir/node_modules" bench/node_modules
cargo build -q --release -p timehook --example bench_receiver
cargo bench -q -p timehook --bench postgres --no-run 2>/dev/null
"$CARGO_TARGET_DIR/release/examples/bench_receiver" >"$CACHE/bench-receiver.port" &
receiver_pid=$!
trap 'kill $receiver_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$CACHE/bench-receiver.port" ] && break; sleep 0.05; done
receiver="http://127.0.0.1:$(cat "$CACHE/bench-receiver.port")"
url=$TIMEHOOK_TEST_POSTGRES_URL

results=$(mktemp)
# Runs one figure and keeps its `result` lines, tagged with who ran it.
run() {
  local who=$1
  shift
  "$@" 2>&1 | tee -a /dev/stderr | sed -n "s/^result /$who /p" >>"$results"
}
timehook() { run timehook cargo bench -q -p timehook --bench postgres -- "$@"; }
pgboss() { run pg-boss "$node22" bench/pgboss.mjs "$@"; }
procrastinate() { run procrastinate "$venv/bin/python" bench/procrastinate_bench.py "$@"; }

echo "timehook $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2), pg-boss $PGBOSS_VERSION (Node $NODE22_VERSION), procrastinate $PROCRASTINATE_VERSION; $ROUNDS rounds, interleaved" >&2
for round in $(seq "$ROUNDS"); do
  echo "--- round $round" >&2
  timehook enqueue 100000 1000
  pgboss enqueue "$url" 100000 1000
  timehook deliver 20000 "$receiver" 1
  pgboss deliver "$url" 20000 "$receiver"
  procrastinate deliver "$url" 20000 "$receiver"
  timehook deliver 20000 "$receiver" 2
  timehook deliver 20000 "$receiver" 3
done
timehook lateness
timehook cron 30 3

python3 - "$results" <<'PY'
import collections, statistics, sys
values = collections.defaultdict(list)
units = {}
for line in open(sys.argv[1]):
    who, name, value, unit = line.split(maxsplit=3)
    values[(who, name)].append(float(value))
    units[name] = unit.strip()
def med(who, name):
    v = values.get((who, name))
    return statistics.median(v) if v else None
rows = [
    ("enqueue 100k one-time jobs in batches of 1000", "enqueue", "pg-boss"),
    ("claim -> signed HTTP delivery -> record, 20k jobs, 1 process", "deliver1", "pg-boss"),
    ("claim -> signed HTTP delivery -> record, 20k jobs, 1 process", "deliver1", "procrastinate"),
    ("the same, 2 processes", "deliver2", None),
    ("the same, 3 processes", "deliver3", None),
    ("firing lateness p99, idle", "lateness_idle_p99", None),
    ("firing lateness p99, 10k due at once", "lateness_herd_p99", None),
    ("every-second cron over 30 s, 3 processes: slots fired", "cron_slots", None),
    ("  slots fired twice", "cron_twice", None),
    ("  slots missed", "cron_missed", None),
]
print()
print("| figure | timehook | peer | ratio |")
print("|---|---|---|---|")
for label, name, peer in rows:
    mine = med("timehook", name)
    unit = units.get(name, "")
    theirs = med(peer, name) if peer else None
    ratio = f"{mine / theirs:.2f}x" if mine is not None and theirs else ""
    peer_text = f"{peer} {theirs:.0f} {unit}" if theirs is not None else ""
    mine_text = f"{mine:.2f} {unit}" if mine is not None and mine < 100 else (f"{mine:.0f} {unit}" if mine is not None else "n/a")
    print(f"| {label} | {mine_text} | {peer_text} | {ratio} |")
PY
