#!/usr/bin/env bash
# Disaster recovery at scale, against the real binaries (docs/BENCHMARKS.md, "Disaster
# recovery"; docs/OPERATIONS.md, "Backups, restore and the DR drill"): ACCOUNTS accounts and
# COMMANDS commands of the usual mix through ledgerd, then
#   - ledger-replay verify of the whole journal (entries/s),
#   - ledger-replay dump into a pipe, whole and filtered by one account (entries/s),
#   - a first backup with no snapshot yet (MB/s), taken while ledger-load keeps writing,
#   - the drill of that backup: RTO (a replay of every entry) and RPO against the live journal,
#   - ledger-snapshot create, a second (incremental) backup and its drill (RTO from the snapshot).
#   Benchmarks/scripts/dr-drill.sh [ACCOUNTS] [COMMANDS] [WORK-DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
accounts=${1:-100000}
commands=${2:-10000000}
bin=$(swift build -c release --show-bin-path)
work=${3:-$(mktemp -d /tmp/ledger-drill.XXXXXX)}
mkdir -p "$work"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    [ -z "${KEEP:-}" ] && rm -rf "$work"
}
trap cleanup EXIT
source Benchmarks/scripts/common.sh
make_tokens "${here:-$bin}"
now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 2))"; }
rate() { python3 -c "print(f'{$1 / ($(now) - $2):,.0f}')"; }
"$bin/ledgerd" --data-dir "$work/data" --tcp-port "$tcp" --http-port "$http" --tokens-file "$work/tokens.toml" >>"$work/ledgerd.log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null; do sleep 0.05; done
echo "== load: $accounts accounts, $commands commands"
"$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts "$accounts" --commands "$commands" \
    --connections 4 --window 4096 | grep -E "^commands:"
entries=$("$bin/ledger-replay" verify --data-dir "$work/data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["lastSequence"])')
echo "journal: $entries entries, $(du -sm "$work/data/journal" | cut -f1) MB"

echo "== verify"
t0=$(now)
"$bin/ledger-replay" verify --data-dir "$work/data" | tail -1
echo "verify: $(since "$t0") s, $(rate "$entries" "$t0") entries/s"

echo "== dump into a pipe"
t0=$(now)
lines=$("$bin/ledger-replay" dump --data-dir "$work/data" | wc -l)
echo "dump (all): $lines lines in $(since "$t0") s, $(rate "$lines" "$t0") entries/s"
t0=$(now)
lines=$("$bin/ledger-replay" dump --data-dir "$work/data" --account 7 | wc -l)
echo "dump --account 7: $lines lines in $(since "$t0") s, $(rate "$entries" "$t0") entries/s read"

echo "== backup 1 (no snapshot: the whole journal), while ledger-load writes"
"$bin/ledger-load" --port "$tcp" --token-file "$work/admin.token" --accounts "$accounts" --commands 300000 --connections 2 \
    --window 1024 >/dev/null &
load=$!
"$bin/ledger-snapshot" backup --data-dir "$work/data" --to "$work/backup" | grep -E "copied|recovered|head|state hash"
wait "$load"
echo "== drill 1"
"$bin/ledger-replay" drill --backup "$work/backup" | grep -E "RTO|RPO|OK|FINDING"

echo "== snapshot, backup 2 (incremental), drill 2"
t0=$(now)
"$bin/ledger-snapshot" create --data-dir "$work/data" | cut -c1-160
echo "snapshot: $(since "$t0") s"
"$bin/ledger-snapshot" backup --data-dir "$work/data" --to "$work/backup" | grep -E "copied|recovered|head"
"$bin/ledger-replay" drill --backup "$work/backup" | grep -E "RTO|RPO|OK|FINDING"
