#!/usr/bin/env bash
# The Python tools the tests use, from PyPI, in a virtual environment of their own
# (.venv-tools, ignored by git): prometheus_client's parser (the /metrics test) and
# schemathesis (docs/openapi.yaml against the live daemon). Prints the environment's
# python; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-tools
stamp=$venv/.installed-2
if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "prometheus-client==0.21.1" "schemathesis==4.32.5" >&2
    touch "$stamp"
fi
echo "$(pwd)/$venv/bin/python"
