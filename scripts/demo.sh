#!/usr/bin/env bash
# The quick start's main job: packages, release build, throwaway PostgreSQL, ledgerd, a
# demo load, a query over the read models, the audit's verdict; then it stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-60}

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need=""
for pkg in liblz4-dev libzstd-dev libpq-dev pkg-config postgresql-15 python3 python3-venv curl systemd; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "== installing:$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

echo "== building (release)"
swift build -c release 2>&1 | tail -n 1
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/ledger-demo.XXXXXX)
eval "export $(scripts/pg-throwaway.sh)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    scripts/pg-throwaway.sh stop "$LEDGER_PG_DIR"
    rm -rf "$work"
}
trap cleanup EXIT
echo "== PostgreSQL at $LEDGER_PG_URL"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Tokens: the daemon keeps only their SHA-256 (docs/OPERATIONS.md, "Tokens and roles");
# each secret is printed once, into a file of its own that only the load and curl read.
umask 077
"$bin/ledgerd" token add --file "$work/tokens.toml" --name demo-admin --role admin >"$work/admin.token"
"$bin/ledgerd" token add --file "$work/tokens.toml" --name demo-reader --role read-only >"$work/reader.token"
# A free port can be taken by another process between the probe and the daemon's bind: a
# daemon that exits before it is ready is started again on new ports (three tries); one
# that is neither ready within 60 s nor gone stops the demo, with its log.
ready=""
for attempt in 1 2 3; do
    tcp=$(free_port)
    http=$(free_port)
    "$bin/ledgerd" --data-dir "$work/data" --tcp-port "$tcp" --http-port "$http" \
        --tokens-file "$work/tokens.toml" --projector-url "$LEDGER_PG_URL" >"$work/ledgerd.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        if curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null; then
            ready=yes
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$ready" ] && break
    if kill -0 "$pid" 2>/dev/null; then
        echo "ledgerd is not ready after 60 s; its log:" >&2
        cat "$work/ledgerd.log" >&2
        exit 1
    fi
    wait "$pid" 2>/dev/null || true
    pid=""
    echo "== ledgerd exited before it was ready (try $attempt); its log:" >&2
    cat "$work/ledgerd.log" >&2
done
[ -n "$ready" ] || { echo "ledgerd did not start" >&2; exit 1; }
echo "== ledgerd ready (tcp $tcp, http $http); demo load for ${seconds}s"

"$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts 2000 --duration "$seconds" --connections 4 --window 4096

echo "== waiting for the projector to catch up"
# Gauges are Prometheus floats ("1517641.0"); the comparison below wants an integer.
durable=$(curl -s "http://127.0.0.1:$http/metrics" | awk '/^ledger_durable_sequence / {printf "%d", $2}')
projected=0
start=$(date +%s)
while :; do
    projected=$(psql -qtA "$LEDGER_PG_URL" -c "select coalesce(max(sequence),0) from projector_checkpoint" 2>/dev/null || echo 0)
    elapsed=$(($(date +%s) - start))
    printf '\rprojected %d of %d durable entries (%d%%)   ' "$projected" "$durable" "$((durable > 0 ? projected * 100 / durable : 100))"
    [ "$projected" -ge "$durable" ] && break
    if [ "$elapsed" -ge "${DEMO_PROJECTOR_WAIT:-600}" ]; then
        echo
        echo "the read models are $((durable - projected)) entries behind the journal after ${elapsed}s: the query below shows them as of sequence $projected"
        break
    fi
    sleep 1
done
echo
echo "projected through sequence $projected of $durable"

echo "== top accounts by realized PnL (PostgreSQL read models)"
psql -q "$LEDGER_PG_URL" -c "
  select account_id, sum(realized_pnl) as realized_pnl, sum(fees_paid) as fees_paid, count(*) as symbols
  from positions group by account_id order by realized_pnl desc limit 5;"
psql -q "$LEDGER_PG_URL" -c "select count(*) as trades, sum(quantity * price) as notional_usdt from trades;"

kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "== journal: $(du -sh "$work/data/journal" | cut -f1)"
echo "== ledger-replay audit"
"$bin/ledger-replay" audit --data-dir "$work/data"
