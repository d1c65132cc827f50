#!/usr/bin/env bash
# Runs a command with a PostgreSQL server for the tests, and stops the server afterwards.
#
#   bash tests/with-postgres.sh COMMAND [ARG...]
#
# With TIMEHOOK_TEST_POSTGRES_URL set, that server is used as it is. Otherwise a throwaway cluster
# is made in a temporary directory (initdb, as the `postgres` user when running as root, since
# initdb refuses root) and started on a free port on 127.0.0.1; the command sees
#   TIMEHOOK_TEST_POSTGRES_URL  postgresql://postgres@127.0.0.1:PORT/postgres
#   TIMEHOOK_TEST_PG_CTL        a pg_ctl command line for this cluster (tests restart it)
#   TIMEHOOK_TEST_PG_CA         the CA of the server's TLS certificate (for the name localhost
#                               only); the role `tls_only` may connect over TLS only
# If the server binaries are missing and this runs as root, Debian's postgresql-15 is installed;
# otherwise it fails and says how to provide a server. It never skips.
set -euo pipefail

if [ -n "${TIMEHOOK_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing Debian's postgresql-15 (server binaries for the tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql-15 >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql-15 >/dev/null; }
    bin=$(find_bin || true)
  fi
fi
if [ -z "$bin" ]; then
  cat >&2 <<'EOF'
with-postgres: no PostgreSQL server for the tests.
  Either install the server binaries (Debian: apt-get install postgresql-15, run as root and
  `make test` does it), or point the tests at a server you run:
    export TIMEHOOK_TEST_POSTGRES_URL=postgresql://USER:PASSWORD@127.0.0.1:5432/DB
EOF
  exit 1
fi

dir=$(mktemp -d /tmp/timehook-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_ctl=("${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data")

stop() {
  "${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
# TLS: a CA of the tests' own and a server certificate for localhost (not for 127.0.0.1, so that
# verify-full by IP fails where verify-ca passes).
tls="$dir/tls"
mkdir "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=timehook test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1
printf "subjectAltName=DNS:localhost\n" >"$tls/san.ext"
openssl x509 -req -days 2 -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
  -CAcreateserial -extfile "$tls/san.ext" -out "$tls/server.crt" >/dev/null 2>&1
chmod 0600 "$tls/server.key"
if [ "$(id -u)" = 0 ]; then chown -R postgres: "$tls"; fi
printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$tls/server.crt" "$tls/server.key" \
  >>"$dir/data/postgresql.conf"
# The role tls_only may connect over TLS only.
hba="$dir/data/pg_hba.conf"
{
  printf 'hostssl all tls_only 127.0.0.1/32 trust\nhostnossl all tls_only 127.0.0.1/32 reject\n'
  cat "$hba"
} >"$hba.new"
cat "$hba.new" >"$hba"
rm "$hba.new"

# fsync stays on: the tests measure nothing, but kill -9 tests rely on committed data surviving.
"${pg_ctl[@]}" -l "$dir/data/log" -w -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null ||
  { cat "$dir/data/log" >&2; exit 1; }
psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "CREATE ROLE tls_only LOGIN SUPERUSER" >/dev/null

export TIMEHOOK_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export TIMEHOOK_TEST_PG_CTL="${pg_ctl[*]} -l $dir/data/log -o '-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=300'"
export TIMEHOOK_TEST_PG_CA="$tls/ca.crt"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port" >&2
"$@"
