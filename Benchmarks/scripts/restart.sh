#!/usr/bin/env bash
# Restart, snapshot and audit at exchange scale, against the real ledgerd (docs/BENCHMARKS.md,
# "Exchange scale ... restart and audit"): ACCOUNTS funded accounts, RESTING orders resting
# 1–5% away from the touch (ledger-load --setup --resting) and COMMANDS commands of the
# usual mix, then SIGTERM and:
#   - restart to ready from the journal alone (no snapshot),
#   - `ledger-snapshot create` (time, size),
#   - restart to ready from the snapshot (plus an empty tail),
#   - `ledger-replay audit` over the whole journal (entries/s).
#   Benchmarks/scripts/restart.sh [ACCOUNTS] [COMMANDS] [RESTING]
set -euo pipefail
cd "$(dirname "$0")/../.."
accounts=${1:-1000000}
commands=${2:-2000000}
resting=${3:-0}
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/ledger-restart.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
source Benchmarks/scripts/common.sh
make_tokens "${here:-$bin}"
now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 2))"; }
start_daemon() {
    local t0
    t0=$(now)
    "$bin/ledgerd" --data-dir "$work/data" --tcp-port "$tcp" --http-port "$http" --tokens-file "$work/tokens.toml" >>"$work/ledgerd.log" 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null; do sleep 0.05; done
    echo "ready after $(since "$t0") s; RSS $(ps -o rss= -p "$pid" | awk '{printf "%.0f MiB", $1/1024}')"
}
stop_daemon() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
echo "== first start"
start_daemon
"$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts "$accounts" --resting "$resting" --duration 0 >/dev/null
metric() { curl -s "http://127.0.0.1:$http/metrics" | awk -v name="$1" '$1 == name {printf "%d", $2}'; }
echo "after setup: $(metric ledger_accounts) accounts, $(metric ledger_resting_orders) resting orders, RSS $(ps -o rss= -p "$pid" | awk '{printf "%.0f MiB", $1/1024}')"
"$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --accounts "$accounts" --commands "$commands" --duration 0 \
    --connections 4 --window 4096 >/dev/null
echo "journal: $(du -sh "$work/data/journal" | cut -f1), durable sequence $(metric ledger_durable_sequence), $(metric ledger_resting_orders) resting orders, RSS $(ps -o rss= -p "$pid" | awk '{printf "%.0f MiB", $1/1024}')"
stop_daemon
echo "== restart from the journal alone"
start_daemon
stop_daemon
echo "== ledger-snapshot create"
t0=$(now)
"$bin/ledger-snapshot" create --data-dir "$work/data" >/dev/null
echo "created in $(since "$t0") s: $(ls -la "$work/data/snapshots" | awk '/snap-/ {printf "%.1f MiB", $5/1048576}')"
echo "== restart from the snapshot"
start_daemon
stop_daemon
echo "== ledger-replay audit (from genesis)"
t0=$(now)
"$bin/ledger-replay" audit --data-dir "$work/data" --json | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print({k: d[k] for k in d if k in ("entries","mismatches","sequence","seconds","ok")})'
echo "audit took $(since "$t0") s"
