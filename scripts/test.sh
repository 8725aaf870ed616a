#!/usr/bin/env bash
# The test command (README "Quick start", step 2; CI runs exactly this).
# Builds and runs every test target. Tests that need PostgreSQL use $LEDGER_PG_URL; when it
# is not set, a throwaway cluster is started for the run and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LEDGER_PG_URL:-}" ]; then
    eval "export $(scripts/pg-throwaway.sh)"
    trap 'scripts/pg-throwaway.sh stop "$LEDGER_PG_DIR"' EXIT
fi
# Python tools from PyPI (prometheus_client's parser for the /metrics test), in .venv-tools.
LEDGER_PYTHON=$(scripts/python-tools.sh)
export LEDGER_PYTHON
# Formatting is part of the check (.swift-format; fix with `swift format -i -r Sources Tests`).
swift format lint --strict -r Sources Tests Package.swift
# The end-to-end tests start the real executables, so build them first.
swift build --build-tests
swift test --skip-build --parallel --num-workers 2 "$@"
# Skipped when only some tests were asked for: 50 real crashes under load (SIGKILL,
# restart, every acknowledged entry present, audit; docs/BENCHMARKS.md, "Crash soak"), and
# a short libFuzzer pass over every decoder (docs/BENCHMARKS.md, "Fuzzing").
if [ "$#" -eq 0 ]; then
    scripts/soak.sh "${SOAK_CYCLES:-50}"
    scripts/fuzz.sh "${FUZZ_SECONDS:-8}"
fi
