#!/usr/bin/env bash
# Durable end-to-end throughput with and without live stream clients, alternating in one
# run (docs/BENCHMARKS.md, "The live stream"):
#   Benchmarks/scripts/stream-load.sh BIN [rounds] [commands]
# Each round runs the same load three times on a fresh data directory: with no stream
# client; with one that subscribes to every public channel of both symbols and never reads
# (its socket's receive buffer 4 KiB); with one that subscribes to the same and reads
# everything. Prints commands/s per run, and for the stalled client whether it was cut.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1; rounds=${2:-3}; commands=${3:-400000}
work=$(mktemp -d /tmp/ledger-stream.XXXXXX)
pid=""
client=""
trap '[ -n "$client" ] && kill "$client" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
source Benchmarks/scripts/common.sh
stream=$(free_port)
make_tokens "$bin"
streams="BTCUSDT@trade,BTCUSDT@depth,BTCUSDT@markPrice,BTCUSDT@funding,BTCUSDT@forceOrder"
streams="$streams,ETHUSDT@trade,ETHUSDT@depth,ETHUSDT@markPrice,ETHUSDT@funding,ETHUSDT@forceOrder"
# A WebSocket client on a plain socket: the upgrade, then read all (reader) or nothing.
cat >"$work/client.py" <<'EOF'
import socket, sys, time
mode, port, token, streams = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read().strip(), sys.argv[4]
s = socket.socket()
if mode == "stalled":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall((f"GET /v1/stream?streams={streams} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
assert head.startswith(b"HTTP/1.1 101"), head
if mode == "stalled":
    time.sleep(3600)
while s.recv(1 << 20):
    pass
EOF
for round in $(seq "$rounds"); do
    for side in none stalled reader; do
        rm -rf "$work/data"
        "$bin/ledgerd" --data-dir "$work/data" --tcp-port "$tcp" --http-port "$http" --stream-port "$stream" \
            --tokens-file "$work/tokens.toml" --no-projector --log-level error >"$work/ledgerd.log" 2>&1 &
        pid=$!
        until curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null; do sleep 0.05; done
        "$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts 2000 --duration 0 >/dev/null
        if [ "$side" != none ]; then
            python3 "$work/client.py" "$side" "$stream" "$work/admin.token" "$streams" &
            client=$!
            sleep 0.5
        fi
        result=$("$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --accounts 2000 --commands "$commands" \
            --connections 4 --window 4096 --json)
        rate=$(echo "$result" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("%.0f commands/s, errors %s" % (r["commandsPerSecond"], r["errors"]))')
        # The follower renders after the journal: wait for it before asking for the cut.
        lag=$(curl -sf "http://127.0.0.1:$http/metrics" | awk '/^ledger_durable_sequence / {d=$2} /^ledger_follower_sequence / {f=$2} END {printf "%d", d-f}')
        waited=$(date +%s.%N)
        until curl -sf "http://127.0.0.1:$http/metrics" | awk '/^ledger_durable_sequence / {d=$2} /^ledger_follower_sequence / {f=$2} END {exit !(f>=d)}'; do sleep 0.1; done
        waited=$(python3 -c "import time; print('%.1f' % (time.time() - $waited))")
        cut=$(curl -sf "http://127.0.0.1:$http/metrics" | awk '/^ledger_stream_clients_cut_total/ {printf "%d", $2}')
        echo "round $round $side $rate, follower behind by $lag entries at the end (caught up in $waited s), stream clients cut ${cut:-0}"
        [ -n "$client" ] && { kill "$client" 2>/dev/null || true; wait "$client" 2>/dev/null || true; client=""; }
        kill -TERM "$pid"; wait "$pid" || true; pid=""
    done
done
