#!/usr/bin/env bash
# libFuzzer over the decoders (docs/BENCHMARKS.md, "Fuzzing"):
#   scripts/fuzz.sh [SECONDS] [TARGET...]     each target for SECONDS (default 60)
#   FUZZ_RUNS=N scripts/fuzz.sh 0 TARGET      exactly N executions instead of a time
# Targets build with -sanitize=fuzzer in .build-fuzz (LEDGER_FUZZ=1 adds them to the
# package), start from the seed corpus in Fixtures/fuzz/TARGET, keep what they learn in
# .build-fuzz/corpus/TARGET, and write a crashing input to .build-fuzz/crashes/. A crash
# becomes a regression test (Tests/LedgerCoreTests/FuzzRegressionTests.swift) and its input
# goes to Fixtures/fuzz/regressions/. Exit 1 when any target crashed.
#   scripts/fuzz.sh --seeds [TARGET...]      rewrite Fixtures/fuzz/TARGET from the target's seeds
set -euo pipefail
# libFuzzer, not the Swift runtime, must see a crash: it writes the input to replay.
export SWIFT_BACKTRACE=enable=no
cd "$(dirname "$0")/.."
write_seeds=0
if [ "${1:-}" = "--seeds" ]; then write_seeds=1; shift; set -- 0 "$@"; fi
seconds="${1:-60}"
shift || true
all=(FuzzWireFrame FuzzCommand FuzzEntry FuzzJournalBlock FuzzSnapshot FuzzConfig FuzzHTTPRequest)
targets=("${@:-${all[@]}}")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")
flags=(-c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -use-ld=lld)
mkdir -p .build-fuzz
for target in "${targets[@]}"; do
    if ! LEDGER_FUZZ=1 swift build "${flags[@]}" --product "$target" >.build-fuzz/build-"$target".log 2>&1; then
        grep -E "error" .build-fuzz/build-"$target".log | head -20
        echo "$target: build failed (.build-fuzz/build-$target.log)"
        exit 2
    fi
done
if [ "$write_seeds" = 1 ]; then
    for target in "${targets[@]}"; do
        rm -rf "Fixtures/fuzz/$target" && mkdir -p "Fixtures/fuzz/$target"
        .build-fuzz/release/"$target" -write_seeds="Fixtures/fuzz/$target"
        echo "$target: $(ls "Fixtures/fuzz/$target" | wc -l) seeds"
    done
    exit 0
fi
mkdir -p .build-fuzz/crashes
failed=0
for target in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$target
    mkdir -p "$corpus"
    limit=(-max_total_time="$seconds")
    if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); fi
    log=.build-fuzz/$target.log
    # TOMLKit 0.6.0 never frees a parsed document (about 1 KiB a small one; no deinit on
    # TOMLTable, docs/DEPENDENCIES.md): FuzzConfig's memory grows with its runs, by
    # ~2 GiB in 11M runs, so it gets more room; every other target keeps 2 GiB.
    rss=2048
    [ "$target" = FuzzConfig ] && rss=16384
    if .build-fuzz/release/"$target" "${limit[@]}" -max_len=4096 -timeout=10 -rss_limit_mb="$rss" -print_final_stats=1 \
        -artifact_prefix=.build-fuzz/crashes/"$target"- "$corpus" "Fixtures/fuzz/$target" >"$log" 2>&1; then
        runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
        echo "$target: $runs executions, no crash"
    else
        echo "$target: CRASH — see $log and .build-fuzz/crashes/"
        grep -E "Fatal error|fuzz property|ERROR: libFuzzer|SUMMARY" "$log" | head -3 | cut -c1-600
        failed=1
    fi
done
exit $failed
