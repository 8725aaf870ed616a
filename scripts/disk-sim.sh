#!/usr/bin/env bash
# The simulated disk over many seeds (docs/DURABILITY.md), in release, split across jobs.
#   scripts/disk-sim.sh [SEEDS] [FIRST_SEED] [JOBS]     defaults: 100000 1 (number of cores)
# Prints each job's totals and the sum; exits 1 at the first failing seed, with its report.
# A failing seed reproduces alone: .build/release/DiskSim SEED 1
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-100000}
first=${2:-1}
jobs=${3:-$(nproc)}
if ! built=$(swift build -c release --product DiskSim 2>&1); then echo "$built"; exit 1; fi
binary=.build/release/DiskSim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
per=$(( (seeds + jobs - 1) / jobs ))
started=$(date +%s)
pids=()
for ((job = 0; job < jobs; job++)); do
    start=$(( first + job * per ))
    count=$(( seeds - job * per < per ? seeds - job * per : per ))
    (( count > 0 )) || break
    "$binary" "$start" "$count" > "$work/$job.out" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$work"/*.out
passed=$(grep -ho '^seeds [0-9.<]*: [0-9]* passed' "$work"/*.out | awk '{sum += $3} END {print sum + 0}')
echo "disk simulation: $passed of $seeds seeds passed with no loss in $(( $(date +%s) - started )) s ($jobs jobs)"
exit $status
