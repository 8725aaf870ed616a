#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster on a free loopback port and prints the
# environment line that points the tests (and the demo) at it:
#   LEDGER_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres LEDGER_PG_DIR=DIR
# Stop it with: scripts/pg-throwaway.sh stop DIR (restart DIR: a fast restart, for tests)
# initdb refuses to run as root, so the cluster belongs to the postgres user.
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

if [ "${1:-}" = restart ]; then
    # Fast shutdown (drops connections) and start with the same options: for tests.
    dir=$2
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$dir/data' -l '$dir/server.log' -m fast -w restart" >/dev/null
    else
        "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w restart >/dev/null
    fi
    exit 0
fi

if [ "${1:-}" = stop ]; then
    dir=$2
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$dir/data' -m fast -w stop" >/dev/null 2>&1 || true
    else
        "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit 0
fi

free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

dir=$(mktemp -d /tmp/ledger-pg.XXXXXX)
chmod 755 "$dir"
port=$(free_port)
run() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
run "$PG_BIN/initdb -D '$dir/data' -U postgres --auth=trust -E UTF8 --no-locale" >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
run "$PG_BIN/pg_ctl -D '$dir/data' -l '$dir/server.log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c max_connections=50\" start" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
echo "LEDGER_PG_URL=postgresql://postgres@127.0.0.1:$port/postgres LEDGER_PG_DIR=$dir"
