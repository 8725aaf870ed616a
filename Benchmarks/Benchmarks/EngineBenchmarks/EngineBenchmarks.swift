import Benchmark
import Foundation
import Journal
import LedgerClient
import LedgerCore
import Workloads

/// Engine, journal and replay baselines (docs/BENCHMARKS.md). Each iteration does a whole
/// batch of work; throughput is reported per entry through `scalingFactor`.
let commandsPerIteration = 10_000

nonisolated(unsafe) let workload = Workload.make(count: 200_000)
nonisolated(unsafe) let ruleBookWorkload = Workload.make(count: 200_000, ruleBook: true)

/// Runs `body` once per scaled iteration over the workload's entries, starting again from
/// the genesis state (outside the measurement) when the workload runs out.
func cycleWorkload(
    _ benchmark: Benchmark, _ body: (inout ExchangeState, Int) throws -> Void
) rethrows {
    try cycle(benchmark, workload, body)
}

func cycle(_ benchmark: Benchmark, _ workload: Workload, _ body: (inout ExchangeState, Int) throws -> Void) rethrows {
    var state = workload.genesis
    var index = 0
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        if index == workload.commands.count {
            benchmark.stopMeasurement()
            state = workload.genesis
            index = 0
            benchmark.startMeasurement()
        }
        try body(&state, index)
        index += 1
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 1_000)

    // Engine only: execute the place/cancel/match/mark mix from the state it was recorded on.
    Benchmark("engine execute (mix), per 1k commands", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var events: [Event] = []
        events.reserveCapacity(64)
        cycleWorkload(benchmark) { state, index in
            events.removeAll(keepingCapacity: true)
            state.execute(
                workload.commands[index], sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1), into: &events)
        }
    }

    // The same, with the whole rule book at work: brackets, bands, funding, stops,
    // liquidations (docs/BENCHMARKS.md compares the two).
    Benchmark("engine execute (rule book mix), per 1k commands", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var events: [Event] = []
        events.reserveCapacity(64)
        cycle(benchmark, ruleBookWorkload) { state, index in
            events.removeAll(keepingCapacity: true)
            state.execute(
                ruleBookWorkload.commands[index], sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1),
                into: &events)
        }
    }

    // Rebuild: apply the journaled events.
    Benchmark("replay apply events, per 1k entries", configuration: .init(scalingFactor: .kilo)) { benchmark in
        cycleWorkload(benchmark) { state, index in
            state.apply(
                workload.events[index], of: workload.commands[index], sequence: state.lastSequence + 1,
                timeNanos: Workload.time(state.lastSequence + 1))
        }
    }

    // Audit: decode each entry from its bytes, re-execute, compare.
    let encoded: [[UInt8]] = zip(workload.commands, workload.events).map { command, events in
        var writer = ByteWriter()
        EntryPayload.encode(command: command, events: events, to: &writer)
        return writer.bytes
    }
    Benchmark("replay audit (decode + execute + compare), per 1k entries", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var events: [Event] = []
        try cycleWorkload(benchmark) { state, index in
            var reader = ByteReader(encoded[index])
            let payload = try EntryPayload.decode(from: &reader)
            events.removeAll(keepingCapacity: true)
            state.execute(
                payload.command, sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1), into: &events)
            precondition(events == payload.events)
        }
    }

    // Journal: one block of N entries (32-byte payloads) appended and fdatasync'ed.
    for entries in [1, 64, 1_024, 8_192] {
        Benchmark(
            "journal append + fdatasync, \(entries) entries a block",
            configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .one, maxDuration: .seconds(3))
        ) { benchmark in
            let directory = NSTemporaryDirectory() + "ledger-bench-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let writer = try JournalWriter.open(.init(directory: directory, segmentBytesTarget: 1 << 30, fsync: .batch))
            var batch = JournalBatch()
            let payload = encoded[0].count >= 32 ? Array(encoded[0].prefix(32)) : [UInt8](repeating: 7, count: 32)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                batch.reset()
                for _ in 0..<entries {
                    let sequence = writer.lastSequence + SequenceNumber(batch.count) + 1
                    batch.append(sequence: sequence, timeNanos: Int64(sequence), payload: payload)
                }
                try writer.append(batch)
            }
        }
    }
}
