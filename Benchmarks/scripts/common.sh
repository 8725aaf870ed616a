# Shared by the benchmark scripts (sourced): free loopback ports for a ledgerd.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port)
http=$(free_port)
# An admin token for the run: its digest in $work/tokens.toml for ledgerd, its secret in
# $work/admin.token for ledger-load (never on a command line).
make_tokens() {
    (umask 077 && "$1/ledgerd" token add --file "$work/tokens.toml" --name bench-admin --role admin >"$work/admin.token")
}
# A fresh ledgerd of build $1 on an empty $work/data (no projector), ready, with the 2,000
# accounts of ledger-load --setup (client build $2); its pid in $pid.
start_fresh_ledgerd() {
    rm -rf "$work/data"
    "$1/ledgerd" --data-dir "$work/data" --tcp-port "$tcp" --http-port "$http" --tokens-file "$work/tokens.toml" \
        --no-projector --log-level error >"$work/ledgerd.log" 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null; do sleep 0.05; done
    "$2/ledger-load" --port "$tcp" --token-file "$work/admin.token" --setup --accounts "${LOAD_ACCOUNTS:-2000}" --duration 0 >/dev/null
}
# Each named thread of the ledgerd in $pid with its CPU ticks (1/100 s), on one line.
thread_ticks() {
    for task in /proc/"$pid"/task/*; do
        name=$(cat "$task/comm")
        case $name in ledger-* | NIO-*) echo "$name $(awk '{print $14 + $15}' "$task/stat")" ;; esac
    done | sort | tr '\n' ' '
}
# Stops the ledgerd in $pid.
stop_ledgerd() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}
# The run's directory in $work, removed at exit with the ledgerd in $pid stopped (for the
# scripts that need no other cleanup): bench_work NAME.
bench_work() {
    work=$(mktemp -d "/tmp/ledger-$1.XXXXXX")
    pid=""
    trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
}
