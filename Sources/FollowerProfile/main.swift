import Foundation
import Journal
import LedgerCore
import LedgerServer

// The state follower's loop (`StateFollower.follow`: each entry's journaled events applied to
// the state, then recorded in the recent history) over a real journal from genesis, in a
// process of its own: valgrind cannot run ledgerd, where the follower is one thread of many
// (docs/BENCHMARKS.md, "Profiling").
//
//     swift build -c release --product FollowerProfile
//     valgrind --tool=callgrind --toggle-collect='*StateFollowerC6follow*' \
//         .build/release/FollowerProfile /tmp/j/journal 1000000
//
// Arguments: the journal's directory, the last entry to follow (default: all), and
// `--apply-only` to apply the events without the history (the state's share of the step).
// The history keeps the daemon's default limits (`HistoryLimits()`), so a long enough
// journal runs its rings full, evicting a record for each one added, as a daemon does
// after its first few hundred thousand entries. Prints the wall time per entry and what the
// history keeps at the end, then the time of the first read by id's catch-up (nothing
// indexes the closed orders while nobody reads them).

let arguments = CommandLine.arguments.filter { $0 != "--apply-only" }
let applyOnly = CommandLine.arguments.contains("--apply-only")
guard arguments.count == 2 || arguments.count == 3, arguments.count == 2 || UInt64(arguments[2]) != nil else {
    print("usage: FollowerProfile JOURNAL_DIR [LAST_ENTRY] [--apply-only]")
    exit(2)
}
let through = arguments.count == 3 ? UInt64(arguments[2])! : .max

var state = ExchangeState()
var history = RecentHistory(limits: HistoryLimits(), startingAfter: 0)
var entries = 0
let start = DispatchTime.now().uptimeNanoseconds
do {
    try DecodingReader(directory: arguments[1], from: 1, upTo: through).forEach { sequence, timeNanos, command, events in
        if applyOnly {
            state.apply(events, of: command, sequence: sequence, timeNanos: timeNanos)
        } else {
            events.withUnsafeBufferPointer {
                StateFollower.follow(command, $0, sequence: sequence, timeNanos: timeNanos, state: &state, history: &history)
            }
        }
        entries += 1
    }
} catch {
    print("reading the journal: \(error)")
    exit(1)
}
let nanos = DispatchTime.now().uptimeNanoseconds - start
let kept = history.keptCounts
print(
    "\(applyOnly ? "apply only" : "follow"): \(entries) entries through sequence \(state.lastSequence), "
        + "\(entries > 0 ? nanos / UInt64(entries) : 0) ns an entry (decoding on a second thread); history keeps "
        + "\(kept.closed) closed orders, \(kept.trades) trades, \(kept.income) income records, \(kept.force) force orders "
        + "of \(kept.accounts) accounts")
// What the first read by id after the run pays: the closed orders' index built whole.
let indexStart = DispatchTime.now().uptimeNanoseconds
history.indexClosedOrders()
print("closed orders indexed by id at the first read: \(kept.closed) in \((DispatchTime.now().uptimeNanoseconds - indexStart) / 1_000) µs")
