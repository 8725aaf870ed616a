#!/usr/bin/env bash
# The load generator's own cost: one ledgerd build, ledger-load builds alternating under the
# same load (issue 12; docs/BENCHMARKS.md, "The load generator's pacing"):
#   Benchmarks/scripts/client-load.sh SERVER_BIN RATE COMMANDS WINDOW ROUNDS CLIENT_BIN [CLIENT_BIN ...]
# Each run: a fresh data directory, the client's --setup (LOAD_ACCOUNTS accounts, 2,000
# unless set), then COMMANDS commands over 4 connections × WINDOW in flight at RATE
# commands/s (0: as fast as the window allows), with extra client arguments from
# LOAD_ARGS. Prints per run ledger-load's summary, its CPU (user + system, /usr/bin/time),
# the daemon's CPU ticks over the load (1/100 s) and each named thread's ticks (setup included).
set -euo pipefail
cd "$(dirname "$0")/../.."
server=$1; rate=$2; commands=$3; window=$4; rounds=$5; shift 5
clients=("$@")
source Benchmarks/scripts/common.sh
bench_work clients
make_tokens "$server"
for round in $(seq "$rounds"); do
    for client in "${clients[@]}"; do
        start_fresh_ledgerd "$server" "$client"
        before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        # shellcheck disable=SC2086
        summary=$({ /usr/bin/time -f "client CPU %U + %S s" "$client/ledger-load" --port "$tcp" --token-file "$work/admin.token" \
            --accounts "${LOAD_ACCOUNTS:-2000}" --rate "$rate" --commands "$commands" --connections 4 --window "$window" ${LOAD_ARGS:-}; } 2>&1 |
            grep -E 'commands/s|p99|client CPU' | tr '\n' ' ')
        after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        threads=$(thread_ticks)
        printf 'round %s %s: %s; daemon ticks %s; %s\n' "$round" "$client" "$summary" "$((after - before))" "$threads"
        stop_ledgerd
    done
done
