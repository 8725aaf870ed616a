#!/usr/bin/env bash
# Real crashes under load (docs/BENCHMARKS.md, "Crash soak"):
#   scripts/soak.sh [CYCLES] [SEED]          default 50 cycles, seed 1; BIN=.build/release for release
# Each cycle: a fresh data directory; ledgerd; ledger-load --ack-log with a random seed,
# killed when a random number of acknowledgement-log bytes have been written (a count, not
# a time); SIGKILL ledgerd under load; restart it (recovery must succeed); then
# `ledger-replay acks` (every acknowledged entry present with its command, every journaled
# command sent) and `ledger-replay audit` (re-execution equals the journal). A failing cycle
# keeps its directory and stops the soak with exit 1; its seed replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-50}"
seed="${2:-1}"
bin="${BIN:-.build/debug}"
RANDOM=$seed
work=$(mktemp -d /tmp/ledger-soak.XXXXXX)
daemon=""
load=""
# Whatever happens, no ledgerd or ledger-load of ours outlives the soak.
trap 'for pid in $daemon $load; do kill -KILL "$pid" 2>/dev/null || true; done' EXIT
port=$((21000 + RANDOM % 2000))
acknowledged_total=0
started=$(date +%s)

wait_listening() {
    for _ in $(seq 300); do
        if (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
    return 1
}

# One admin token for every cycle: its digest for ledgerd, its secret for ledger-load.
(umask 077 && "$bin/ledgerd" token add --file "$work/tokens.toml" --name soak --role admin >"$work/admin.token")

for cycle in $(seq "$cycles"); do
    dir="$work/cycle-$cycle"
    mkdir -p "$dir"
    tcp=$port
    http=$((port + 1))
    "$bin/ledgerd" --data-dir "$dir/data" --tcp-port "$tcp" --http-port "$http" --tokens-file "$work/tokens.toml" --no-projector >"$dir/ledgerd.log" 2>&1 &
    daemon=$!
    wait_listening "$tcp" "$daemon" || { echo "cycle $cycle: ledgerd did not start"; cat "$dir/ledgerd.log"; exit 1; }
    load_seed=$((RANDOM * 32768 + RANDOM))
    # Every step is bounded (timeout): a hang fails the soak instead of stalling CI.
    timeout 300 "$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts 64 --connections 2 --window 512 --commands 400000 --duration 0 \
        --seed "$load_seed" --ack-log "$dir/acks" >"$dir/load.log" 2>&1 &
    load=$!
    # Kill after a random amount of acknowledgement log (8 KiB … 512 KiB: up to ~7,000
    # commands), or when the load ends.
    threshold=$(((RANDOM % 64 + 1) * 8192))
    while kill -0 "$load" 2>/dev/null; do
        bytes=$( (cat "$dir"/acks.* 2>/dev/null || true) | wc -c)
        [ "$bytes" -ge "$threshold" ] && break
        sleep 0.01
    done
    kill -KILL "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    # ledger-load may fail (its daemon died under it); only a hang (timeout: 124) is a finding.
    load_status=0
    wait "$load" || load_status=$?
    if [ "$load_status" -eq 124 ]; then echo "cycle $cycle (seed $seed, load seed $load_seed): ledger-load hung"; exit 1; fi
    # Recovery after the crash, then a clean stop.
    "$bin/ledgerd" --data-dir "$dir/data" --tcp-port "$tcp" --http-port "$http" --tokens-file "$work/tokens.toml" --no-projector >"$dir/ledgerd2.log" 2>&1 &
    daemon=$!
    wait_listening "$tcp" "$daemon" || { echo "cycle $cycle (seed $seed, load seed $load_seed): no restart after SIGKILL"; cat "$dir/ledgerd2.log"; exit 1; }
    kill -TERM "$daemon"
    (sleep 60 && kill -KILL "$daemon" 2>/dev/null) &
    guard=$!
    wait "$daemon" || { echo "cycle $cycle: ledgerd exited non-zero at SIGTERM"; cat "$dir/ledgerd2.log"; exit 1; }
    kill "$guard" 2>/dev/null || true
    if ! timeout 300 "$bin/ledger-replay" acks --data-dir "$dir/data" --json "$dir"/acks.* >"$dir/acks.json"; then
        echo "cycle $cycle (seed $seed, load seed $load_seed): LOST ACKNOWLEDGED ENTRIES: $(cat "$dir/acks.json")"
        exit 1
    fi
    if ! timeout 300 "$bin/ledger-replay" audit --data-dir "$dir/data" --json >"$dir/audit.json"; then
        echo "cycle $cycle (seed $seed, load seed $load_seed): audit failed: $(cat "$dir/audit.json")"
        exit 1
    fi
    acknowledged=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["acknowledged"])' "$dir/acks.json")
    acknowledged_total=$((acknowledged_total + acknowledged))
    rm -rf "$dir"
    port=$((21000 + RANDOM % 2000))
done
rm -rf "$work"
echo "soak: $cycles cycles (seed $seed), $acknowledged_total acknowledged entries, all present after SIGKILL and restart, every audit OK, $(($(date +%s) - started)) s"
