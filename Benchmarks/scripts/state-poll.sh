#!/usr/bin/env bash
# GET /v1/state polled during load, against the real ledgerd (docs/BENCHMARKS.md, "State
# queries under load"): a world of ACCOUNTS funded accounts, then the same ledger-load run
# (COMMANDS commands of the usual mix over every account) three times — without polling,
# with POLLERS clients polling GET /v1/state back to back, and without again — and the
# ratio of throughput and p99 between them.
#   Benchmarks/scripts/state-poll.sh [ACCOUNTS] [COMMANDS] [POLLERS]
# READ=PATH polls another read instead (e.g. READ='/v1/account?account=1').
# BIN=path runs another build's ledgerd (default: this checkout's release build);
# ledger-load always comes from this checkout (its setup sends in windows).
set -euo pipefail
cd "$(dirname "$0")/../.."
accounts=${1:-1000000}
commands=${2:-2000000}
pollers=${3:-2}
here=$(swift build -c release --show-bin-path)
bin=${BIN:-$here}
work=$(mktemp -d /tmp/ledger-poll.XXXXXX)
pid=""
poll_pids=()
cleanup() {
    for p in "${poll_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
source Benchmarks/scripts/common.sh
make_tokens "${here:-$bin}"
# The bearer header for curl, from a file (a secret on curl's command line shows in ps).
printf 'Authorization: Bearer %s\n' "$(cat "$work/admin.token")" >"$work/auth.header"
"$bin/ledgerd" --data-dir "$work/data" --tcp-port "$tcp" --http-port "$http" --tokens-file "$work/tokens.toml" >"$work/ledgerd.log" 2>&1 &
pid=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null && break; sleep 0.1; done
echo "== setup: $accounts accounts"
start=$(date +%s.%N)
"$here/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts "$accounts" --duration 0 >/dev/null
echo "setup took $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s; RSS $(ps -o rss= -p "$pid" | awk '{printf "%.0f MiB", $1/1024}')"
run() {
    "$here/ledger-load" --port "$tcp" --token-file "$work/admin.token" --accounts "$accounts" --commands "$commands" --duration 0 \
        --connections 4 --window 4096 --seed "$1" --json
}
summary() {
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); l=d["latencyMicros"]
print("%d commands in %.2f s = %.0f commands/s; latency µs p50 %.0f p99 %.0f p99.9 %.0f max %.0f" % (d["commands"], d["elapsedSeconds"], d["commandsPerSecond"], l["p50"], l["p99"], l["p99.9"], l["max"]))'
}
echo "== without polling"
run 1 | summary
echo "== with $pollers pollers of GET ${READ:-/v1/state}"
for i in $(seq "$pollers"); do
    (n=0; while curl -s -o /dev/null -H @"$work/auth.header" "http://127.0.0.1:$http${READ:-/v1/state}"; do n=$((n+1)); echo $n >"$work/polls.$i"; done) &
    poll_pids+=($!)
done
sleep 0.5
run 2 | summary
for p in "${poll_pids[@]}"; do kill "$p" 2>/dev/null || true; done
poll_pids=()
polls=0
for i in $(seq "$pollers"); do polls=$((polls + $(cat "$work/polls.$i" 2>/dev/null || echo 0))); done
echo "polls answered: $polls; state hashes computed: $(curl -s "http://127.0.0.1:$http/metrics" | awk '/^ledger_state_hashes_total / {printf "%d", $2}')"
echo "one GET /v1/state alone: $(curl -s -o /dev/null -w '%{time_total}' -H @"$work/auth.header" "http://127.0.0.1:$http/v1/state") s"
for i in 1 2 3; do
    sleep 1
    echo "idle GET /v1/state: $(curl -s -o /dev/null -w '%{time_total}' -H @"$work/auth.header" "http://127.0.0.1:$http/v1/state") s; $(curl -s "http://127.0.0.1:$http/metrics" | grep -E '^ledger_(follower|durable)_sequence' | tr '\n' ' ')"
done
echo "== without polling, again"
run 3 | summary
echo "RSS $(ps -o rss= -p "$pid" | awk '{printf "%.0f MiB", $1/1024}'); durable sequence $(curl -s "http://127.0.0.1:$http/metrics" | awk '/^ledger_durable_sequence / {printf "%d", $2}')"
