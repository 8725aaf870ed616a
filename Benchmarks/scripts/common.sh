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
