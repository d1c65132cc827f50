# shellcheck shell=bash
# Sourced by the benches that run BullMQ beside timehook (bench/deliveries.sh, bench/peers.sh).
# Installs on first use what they need: Debian's redis-server (apt, as root), and bullmq and
# ioredis (npm) into $peers, where the BullMQ side's scripts are copied so they find them. Needs
# CACHE. `redis_start DIR` then starts redis-server in DIR, on a free loopback port, with AOF
# everysec and no snapshots; it sets $redis (its pid, for the caller's trap) and $redis_port.
BULLMQ_VERSION=6.7.6
IOREDIS_VERSION=5.8.2
peers="$CACHE/bench-peers"

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing Debian's redis-server" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
  else
    echo "bench: redis-server is missing (Debian's redis-server package)" >&2
    exit 1
  fi
fi
if ! grep -q "\"version\": \"$BULLMQ_VERSION\"" "$peers/node_modules/bullmq/package.json" 2>/dev/null; then
  echo "bench: installing bullmq $BULLMQ_VERSION and ioredis $IOREDIS_VERSION into $peers" >&2
  mkdir -p "$peers"
  [ -f "$peers/package.json" ] || echo '{"private": true}' >"$peers/package.json"
  npm install --prefix "$peers" --no-audit --no-fund "bullmq@$BULLMQ_VERSION" "ioredis@$IOREDIS_VERSION" >&2
fi

redis_start() {
  local dir=$1
  redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
    --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
  redis=$!
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "bench: redis-server did not answer on port $redis_port:" >&2
  cat "$dir/redis.log" >&2
  kill "$redis" 2>/dev/null
  return 1
}
