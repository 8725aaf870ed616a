# Shared by the benchmark scripts (sourced): free loopback ports for a ledgerd.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port)
http=$(free_port)
# An admin token for the run: its digest in $work/tokens.toml for ledgerd, its secret in
# $work/admin.token for ledger-load (never on a command line).
make_tokens() {
    (umask 077 && "$1/ledgerd" token add --file "$work/tokens.toml" --name bench-admin --role admin >"$work/admin.token")
}
