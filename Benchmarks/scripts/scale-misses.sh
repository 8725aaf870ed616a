#!/usr/bin/env bash
# Last-level cache misses inside `ExchangeState.execute` at the size of a venue, counted
# by valgrind's cache simulator (callgrind, a 32 MiB 16-way last level as on this machine)
# over one mix round of `SCALE_ONLY=large ScaleProfile world` (10^6 accounts, 100
# symbols, 10^6 resting orders): the same figures on every run, on a busy machine too,
# where the timed rounds move by ±10%. Round 3 (the default) is the second warmed round:
# what `ExchangeState.warm` leaves to execute, past the first round's one-time moves.
#
#     Benchmarks/scripts/scale-misses.sh SCALEPROFILE OUT [ROUND]
#     callgrind_annotate --show=DLmr,D1mr,Ir --sort=DLmr OUT.1
#
# Add --dump-instr=yes to VALGRIND_EXTRA for per-instruction counts. About six minutes;
# the build of the world runs uninstrumented.
set -euo pipefail
binary=$1
out=$2
round=${3:-3}
log=$out.log
strip -g -o "$out.bin" "$binary"
# shellcheck disable=SC2086 # VALGRIND_EXTRA is a list of options
SCALE_ONLY=large valgrind --tool=callgrind --cache-sim=yes --LL=33554432,16,64 --instr-atstart=no \
    --callgrind-out-file="$out" '--toggle-collect=*ExchangeStateV7execute_8sequence*' ${VALGRIND_EXTRA:-} \
    "$out.bin" world >"$log" 2>&1 &
pid=$!
while [ "$(grep -c 'mix start' "$log" || true)" -lt "$round" ]; do sleep 2; done
callgrind_control -i on "$pid" >/dev/null
while [ "$(grep -c 'mix end' "$log" || true)" -lt "$round" ]; do sleep 5; done
callgrind_control -d "$pid" >/dev/null
sleep 5
kill "$pid"
wait "$pid" 2>/dev/null || true
grep -m1 '^summary:' "$out.1" | awk '{print "instructions", $2, "LL read misses", $9}'
