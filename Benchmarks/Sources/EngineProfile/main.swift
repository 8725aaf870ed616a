import AllocCount
import Foundation
import Journal
import LedgerCore
import Workloads

// A plain executable over the benchmarks' workload, for profilers that want a process of
// their own (docs/BENCHMARKS.md, "Profiling"):
//
//     swift build -c release --product EngineProfile
//     perf record -e cpu-clock .build/release/EngineProfile plain 20
//
// Arguments: `plain` or `rulebook`, then the number of passes over the 200,000 commands.
// Prints the mean wall time per command over all passes (each from the genesis state), and
// the heap allocations `execute` made per 1,000 commands: over each whole pass, and over
// its second half, once the world has grown.
//
// `EngineProfile audit JOURNAL_DIR [ENTRIES]`: the loop of `ledger-replay audit` from
// genesis (decode on a second thread, re-execute, compare every event) over a real journal,
// without the verify pass that runs beside it in the tool (a third thread reading the whole
// journal whatever --through says), so that valgrind counts the loop's instructions alone:
//
//     valgrind --tool=callgrind --separate-threads=yes \
//         .build/release/EngineProfile audit /tmp/j/journal 300000
//
// `EngineProfile apply JOURNAL_DIR [ENTRIES]`: the loop of a rebuild, a recovery and the
// state follower: the journal's events applied to the state (`ExchangeState.apply`).

let arguments = CommandLine.arguments
if arguments.count > 2 && (arguments[1] == "audit" || arguments[1] == "apply") {
    let through = arguments.count > 3 ? UInt64(arguments[3]) ?? .max : .max
    if arguments[1] == "audit" {
        profileAudit(directory: arguments[2], through: through)
    } else {
        profileApply(directory: arguments[2], through: through)
    }
    exit(0)
}
let ruleBook = arguments.count > 1 && arguments[1] == "rulebook"
guard arguments.count <= 1 || ["plain", "rulebook", "codec"].contains(arguments[1]),
    arguments.count <= 2 || Int(arguments[2]).map({ $0 > 0 }) == true
else {
    print("usage: EngineProfile [plain|rulebook|codec] [passes]")
    exit(2)
}
let passes = arguments.count > 2 ? Int(arguments[2])! : 10
let workload = Workload.make(count: 200_000, ruleBook: ruleBook)

/// The journal's side of the durable path over the plain mix's recorded entries: encoding
/// each entry into group-commit batches (what the engine thread does), the writer's check
/// that each batch reads back as the engine's values (`journal.verify_entries`,
/// `verifyReadsBack`) and, for comparison, the check of bytes alone (decode and encode
/// again, `verifyRoundTrip`), and decoding every entry (recovery, audit, the projector).
/// ns an entry, fastest pass; heap allocations per 1,000 entries.
func profileCodec() {
    var batch = JournalBatch()
    var best = (encode: Double.infinity, verify: Double.infinity, roundTrip: Double.infinity, decode: Double.infinity)
    var allocations = (encode: 0.0, verify: 0.0, roundTrip: 0.0, decode: 0.0)
    // The values beside each batch, as the sequencer keeps them.
    var commands: [Command] = []
    var times: [Int64] = []
    var events: [Event] = []
    var eventEnds: [Int] = []
    var blocks: [JournalBatch] = []
    for pass in 0..<passes {
        var encodeNanos: UInt64 = 0
        var verifyNanos: UInt64 = 0
        var encodeAllocations: UInt64 = 0
        var verifyAllocations: UInt64 = 0
        var roundTripNanos: UInt64 = 0
        var roundTripAllocations: UInt64 = 0
        var index = 0
        while index < workload.commands.count {
            batch.reset()
            commands.removeAll(keepingCapacity: true)
            times.removeAll(keepingCapacity: true)
            events.removeAll(keepingCapacity: true)
            eventEnds.removeAll(keepingCapacity: true)
            var first = index
            let allocationsBefore = ac_allocations()
            let start = DispatchTime.now().uptimeNanoseconds
            while index < workload.commands.count, !batch.isFull, batch.count < 1_000 {
                let fits = workload.events[index].withUnsafeBufferPointer { events in
                    batch.tryAppend(sequence: SequenceNumber(index + 1), timeNanos: Workload.time(SequenceNumber(index + 1))) { writer in
                        EntryPayload.encode(command: workload.commands[index], events: events, to: &writer)
                    }
                }
                precondition(fits, "entry \(index + 1) did not fit")
                index += 1
            }
            let encoded = DispatchTime.now().uptimeNanoseconds
            let allocationsEncoded = ac_allocations()
            encodeAllocations += allocationsEncoded - allocationsBefore
            encodeNanos += encoded - start
            // (Outside the timings: the sequencer appends these as it executes.)
            while first < index {
                commands.append(workload.commands[first])
                times.append(Workload.time(SequenceNumber(first + 1)))
                events.append(contentsOf: workload.events[first])
                eventEnds.append(events.count)
                first += 1
            }
            let allocationsVerify = ac_allocations()
            let verifyStart = DispatchTime.now().uptimeNanoseconds
            try! batch.verifyReadsBack(commands: commands, times: times, events: events, eventEnds: eventEnds)
            let verified = DispatchTime.now().uptimeNanoseconds
            verifyNanos += verified - verifyStart
            let allocationsVerified = ac_allocations()
            verifyAllocations += allocationsVerified - allocationsVerify
            try! batch.verifyRoundTrip()
            roundTripNanos += DispatchTime.now().uptimeNanoseconds - verified
            roundTripAllocations += ac_allocations() - allocationsVerified
            if pass == 0 { blocks.append(batch) }
        }
        let entries = Double(workload.commands.count)
        best.encode = min(best.encode, Double(encodeNanos) / entries)
        best.verify = min(best.verify, Double(verifyNanos) / entries)
        best.roundTrip = min(best.roundTrip, Double(roundTripNanos) / entries)
        allocations.encode = Double(encodeAllocations) * 1_000 / entries
        allocations.verify = Double(verifyAllocations) * 1_000 / entries
        allocations.roundTrip = Double(roundTripAllocations) * 1_000 / entries
        let allocationsBefore = ac_allocations()
        let start = DispatchTime.now().uptimeNanoseconds
        var decodedCount = 0
        var decoded: [Event] = []
        for block in blocks {
            for entry in try! block.entries() {
                _ = try! entry.decodePayload(events: &decoded)
                decodedCount += decoded.count
            }
        }
        best.decode = min(best.decode, Double(DispatchTime.now().uptimeNanoseconds - start) / entries)
        allocations.decode = Double(ac_allocations() - allocationsBefore) * 1_000 / entries
        precondition(decodedCount == workload.events.reduce(0) { $0 + $1.count })
    }
    func line(_ name: String, _ nanos: Double, _ allocations: Double) -> String {
        "\(name) \(String(format: "%.0f", nanos)) ns an entry, \(String(format: "%.0f", allocations)) allocations per 1,000"
    }
    print(
        "codec over the plain mix (\(workload.commands.count) entries, fastest of \(passes) passes): "
            + [
                line("encode", best.encode, allocations.encode), line("verify (reads back)", best.verify, allocations.verify),
                line("round trip", best.roundTrip, allocations.roundTrip), line("decode", best.decode, allocations.decode),
            ].joined(separator: "; "))
}

if arguments.count > 1 && arguments[1] == "codec" {
    profileCodec()
    exit(0)
}
var events: [Event] = []
events.reserveCapacity(512)
var elapsedNanos: UInt64 = 0
var allocations: UInt64 = 0
/// Allocations in the second half of each pass: by then the world has grown (accounts'
/// first positions in a symbol, the books' pages, the tables) and what is left is per command.
var lateAllocations: UInt64 = 0
var lateAllocationsBefore: UInt64 = 0
for _ in 0..<passes {
    var state = workload.genesis
    let allocationsBefore = ac_allocations()
    let start = DispatchTime.now().uptimeNanoseconds
    for (index, command) in workload.commands.enumerated() {
        if index == workload.commands.count / 2 { lateAllocationsBefore = ac_allocations() }
        // Emptied once a batch, as the sequencer and the audit empty theirs (MatcherBench's
        // `EngineRun.eventsKept`), not once a command.
        if events.count >= 256 { events.removeAll(keepingCapacity: true) }
        state.execute(command, sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1), into: &events)
    }
    elapsedNanos += DispatchTime.now().uptimeNanoseconds - start
    allocations += ac_allocations() - allocationsBefore
    lateAllocations += ac_allocations() - lateAllocationsBefore
}
let perCommand = Double(elapsedNanos) / Double(passes * workload.commands.count)
let allocationsPerThousand = Double(allocations) * 1_000 / Double(passes * workload.commands.count)
let lateAllocationsPerThousand = Double(lateAllocations) * 1_000 / Double(passes * (workload.commands.count - workload.commands.count / 2))
print(
    "\(ruleBook ? "rule book" : "plain") mix: \(passes) passes, \(Int(perCommand.rounded())) ns a command, "
        + "\(String(format: "%.1f", allocationsPerThousand)) heap allocations per 1,000 commands "
        + "(\(String(format: "%.2f", lateAllocationsPerThousand)) in the second half of each pass)")

/// Times `loop` (which returns how many entries it handled, or nil after printing why it
/// stopped) and prints `name`'s count, time and rate, then `summary()`.
func timeLoop(_ name: String, summary: () -> String, _ loop: () -> Int?) {
    let start = DispatchTime.now().uptimeNanoseconds
    guard let entries = loop() else { exit(1) }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(
        "\(name): \(entries) entries in \(String(format: "%.2f", seconds)) s (\(Int((Double(entries) / seconds).rounded())) a second), "
            + summary())
}

/// `ledger-replay audit`'s loop (Sources/Replay/LedgerReplay.swift) without the verify pass:
/// `DecodingReader.audit`, which compares the events on its decoding thread.
func profileAudit(directory: String, through: UInt64) {
    var state = ExchangeState()
    var mismatches = 0
    timeLoop("audit loop", summary: { "\(mismatches) mismatching" }) {
        var entries = 0
        let outcome = DecodingReader(directory: directory, from: 1, upTo: through).audit(describing: 1) {
            sequence, timeNanos, command, executed in
            state.execute(command, sequence: sequence, timeNanos: timeNanos, into: &executed)
            entries += 1
        }
        if let failure = outcome.failure {
            print("reading the journal: \(failure)")
            return nil
        }
        mismatches = outcome.mismatches
        return entries
    }
    if mismatches > 0 { exit(1) }
}

/// The loop of a rebuild, a recovery and the state follower: each entry's journaled events
/// applied (Sources/Snapshots/Recovery.swift).
func profileApply(directory: String, through: UInt64) {
    var state = ExchangeState()
    timeLoop(
        "apply loop", summary: { "state hash \(state.stateHash().prefix(8).map { String(format: "%02x", $0) }.joined())" }
    ) {
        var entries = 0
        do {
            try DecodingReader(directory: directory, from: 1, upTo: through).forEach { sequence, timeNanos, command, events in
                state.apply(events, of: command, sequence: sequence, timeNanos: timeNanos)
                entries += 1
            }
        } catch {
            print("reading the journal: \(error)")
            return nil
        }
        return entries
    }
}
