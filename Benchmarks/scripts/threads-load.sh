#!/usr/bin/env bash
# The durable path's threads: ledgerd builds alternating under one load, with the daemon's
# cores and each of its threads' CPU (issue 12; docs/BENCHMARKS.md, "The durable path's
# threads"):
#   Benchmarks/scripts/threads-load.sh RATE COMMANDS WINDOW ROUNDS BIN [BIN ...]
# Each run: a fresh data directory, ledger-load --setup (LOAD_ACCOUNTS accounts, 2,000 unless set), then COMMANDS
# commands over 4 connections × WINDOW in flight at RATE commands/s (0: as fast as the
# window allows). The client is the last BIN's ledger-load for all. Prints per run the
# daemon's cores and minor page faults over the load (/proc/PID/stat), ledger-load's
# summary, and each named thread's CPU ticks (1/100 s; setup included) from
# /proc/PID/task/*/stat: ledger-engine, ledger-writer, ledger-follower, NIO-SGLTN-… (the
# network). The machine's speed drifts, so compare runs of one round, and each thread
# against the engine thread of its run.
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=$1; commands=$2; window=$3; rounds=$4; shift 4
bins=("$@")
client=${bins[-1]}
source Benchmarks/scripts/common.sh
bench_work threads
make_tokens "$client"
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
faults() { awk '{print $10}' "/proc/$pid/stat"; }
for round in $(seq "$rounds"); do
    for bin in "${bins[@]}"; do
        start_fresh_ledgerd "$bin" "$client"
        before=$(cpu)
        faultsBefore=$(faults)
        started=$(date +%s.%N)
        summary=$("$client/ledger-load" --port "$tcp" --token-file "$work/admin.token" --accounts "${LOAD_ACCOUNTS:-2000}" --rate "$rate" \
            --commands "$commands" --connections 4 --window "$window" | grep -E 'commands/s|p99' | tr '\n' ' ' | cut -c1-200)
        cores=$(echo "($(cpu) - $before) / $hz / ($(date +%s.%N) - $started)" | bc -l)
        threads=$(thread_ticks)
        printf 'round %s %s: cores %.3f; %s; minor faults %s; ticks: %s\n' "$round" "$bin" "$cores" "$summary" \
            "$(($(faults) - faultsBefore))" "$threads"
        stop_ledgerd
    done
done
