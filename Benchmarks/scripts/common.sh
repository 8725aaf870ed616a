# Shared by the benchmark scripts (sourced): free loopback ports for a ledgerd.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port)
http=$(free_port)
