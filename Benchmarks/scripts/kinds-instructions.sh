#!/usr/bin/env bash
# Instructions a message of each kind of `MatcherBench kinds` takes, counted by valgrind
# (callgrind, collecting only inside the kind's own function): the same figure on every
# run, on a busy machine too, so that one change can be compared with the next without
# the noise of timing. Instructions are not time (a cache miss or a stalled load costs
# none here): the timed `kinds` stays the yardstick; this one shows where work was added
# or removed.
#
#     Benchmarks/scripts/kinds-instructions.sh [MATCHERBENCH ...]   (default: this build's)
#
# Needs valgrind (apt-get install valgrind). The binary is copied without its debug
# information, which this valgrind cannot read for Swift; symbols stay.
set -euo pipefail
cd "$(dirname "$0")/.."
binaries=("$@")
if [ ${#binaries[@]} -eq 0 ]; then binaries=(.build/release/MatcherBench); fi
count=${COUNT:-4000}
work=$(mktemp -d /tmp/ledger-kinds.XXXXXX)
trap 'rm -rf "$work"' EXIT
for binary in "${binaries[@]}"; do
    strip -g -o "$work/bench" "$binary"
    line="$binary:"
    for kind in "kindUnknownCancels:cancel, unknown" "kindRests:order that rests" "kindRestingCancels:cancel of a resting" \
        "kindFills:order filled"; do
        function=${kind%%:*}
        prefix=${kind#*:}
        KIND=$prefix valgrind --tool=callgrind --callgrind-out-file="$work/out" --toggle-collect="*${function}*" \
            "$work/bench" kinds 1 "$count" >/dev/null 2>"$work/log"
        total=$(grep -m1 '^summary:' "$work/out" | awk '{print $2}')
        line+=" $prefix $((total / count)),"
    done
    echo "${line%,} (instructions a message, $count messages each)"
done
