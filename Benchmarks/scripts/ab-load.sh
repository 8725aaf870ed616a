#!/usr/bin/env bash
# Durable end-to-end throughput of two ledgerd builds, alternating, in one run:
#   Benchmarks/scripts/ab-load.sh BIN_A BIN_B [rounds] [commands]
# Each round: a fresh data directory, a token file, ledger-load --setup (2,000 accounts),
# then COMMANDS commands over 4 connections × 4,096 in flight (fsync batch). The client is
# BIN_B's ledger-load for both, so only the daemon differs. Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
a=$1; b=$2; rounds=${3:-3}; commands=${4:-400000}
source Benchmarks/scripts/common.sh
bench_work ab
make_tokens "$b"
for round in $(seq "$rounds"); do
    for side in A B; do
        bin=$a; [ "$side" = B ] && bin=$b
        start_fresh_ledgerd "$bin" "$b"
        result=$("$b/ledger-load" --port "$tcp" --token-file "$work/admin.token" --accounts 2000 --commands "$commands" \
            --connections 4 --window 4096 --json)
        summary=$(echo "$result" | python3 -c '
import json, sys
r = json.load(sys.stdin)
l = r["latencyMicros"]
print("%.0f commands/s p50 %.0f us p99 %.0f us committed %d errors %s" % (r["commandsPerSecond"], l.get("p50", 0), l.get("p99", 0), r["committed"], r["errors"]))')
        echo "round $round $side $summary"
        kill -TERM "$pid"; wait "$pid" || true; pid=""
    done
done
