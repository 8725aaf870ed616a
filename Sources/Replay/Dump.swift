import ArgumentParser
import Foundation
import Journal
import LedgerCore
import Snapshots
import ToolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `ledger-replay dump`: entries as JSON lines, filtered, at the speed of the disk
/// (docs/OPERATIONS.md, "Reading the journal"; docs/BENCHMARKS.md, "Dump").
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Print entries as JSON lines (amounts in integer units), filtered by sequence, journal time, account, symbol and kind.")
    @OptionGroup var location: Location
    @Option(help: "The first sequence.") var from: UInt64 = 1
    @Option(help: "The last sequence.") var through: UInt64?
    @Option(name: .customLong("from-time"), help: "Entries at or after this journal time (ISO 8601 UTC, or ms since 1970).")
    var fromTime: String?
    @Option(name: .customLong("to-time"), help: "Entries at or before this journal time (ISO 8601 UTC, or ms since 1970).")
    var toTime: String?
    @Option(help: "Only entries whose command or events name this account (repeat for several).") var account: [UInt64] = []
    @Option(help: "Only entries whose command or events name this symbol, by id or name (repeat for several).") var symbol: [String] = []
    @Option(help: "Only entries whose command or an event is of this type, e.g. TRADE, PLACE_ORDER (repeat for several).")
    var kind: [String] = []
    @Flag(help: "JSON lines (the only format).") var json = false

    func validate() throws {
        guard from >= 1 else { throw ValidationError("--from must be at least 1") }
        if let through, through < from { throw ValidationError("--through \(through) is before --from \(from)") }
        for text in [fromTime, toTime].compactMap({ $0 }) where ToolIO.parseTime(text) == nil {
            throw ValidationError("\(text) is not a time: give ISO 8601 UTC (2026-12-04T18:00:00Z) or ms since 1970")
        }
        for name in kind where !EntryJSON.kinds.contains(name.uppercased()) {
            throw ValidationError("unknown --kind \(name); kinds: \(EntryJSON.kinds.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        let journal = try location.journalDirectory
        signal(SIGPIPE, SIG_IGN)
        let symbols = try Set(symbol.map { try resolveSymbol($0, journal: journal) })
        let filter = EntryFilter(
            accounts: Set(account.map { Int($0) }), symbols: symbols, kinds: Set(kind.map { $0.uppercased() }),
            fromTime: fromTime.flatMap(ToolIO.parseTime) ?? .min, toTime: toTime.flatMap(ToolIO.parseTime) ?? .max)
        let output = Output(out: JSONOut())
        // Blocks are read in order and rendered on every core; while one batch renders,
        // the one before it is written out, in order.
        let workers = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
        let batchSize = workers * 2
        var current = Batch(pieces: (0..<batchSize).map { _ in JSONOut(descriptor: nil) })
        var previous = Batch(pieces: (0..<batchSize).map { _ in JSONOut(descriptor: nil) })
        let reader = JournalReader(directory: journal, from: from)
        let limit = through ?? .max
        var failure: String?
        while output.stop == nil {
            var blocks: [ReadBlock] = []
            do {
                while blocks.count < batchSize, reader.nextSequence <= limit, let block = try reader.nextBlock(upTo: limit) {
                    blocks.append(block)
                }
            } catch {
                failure = "\(error)"
            }
            current.outcomes = [Rendered](repeating: .whole, count: blocks.count)
            let writing = previous
            current.outcomes.withUnsafeMutableBufferPointer { results in
                // Iteration 0 writes the previous batch; each other renders one block into
                // its own piece and result slot.
                let slots = Slots(results: results, pieces: current.pieces, blocks: blocks)
                DispatchQueue.concurrentPerform(iterations: blocks.count + 1) { index in
                    if index == 0 {
                        output.write(writing)
                    } else {
                        slots.results[index - 1] = Self.render(
                            slots.blocks[index - 1], through: limit, filter: filter, into: slots.pieces[index - 1])
                    }
                }
            }
            swap(&current, &previous)
            if blocks.isEmpty || failure != nil { break }
        }
        if output.stop == nil { output.write(previous) }
        output.out.flush()
        if let failure { throw fail(failure) }
        if case .failed(let message) = output.stop { throw fail(message) }
    }

    /// A batch of rendered blocks and how each ended.
    struct Batch: @unchecked Sendable {
        var pieces: [JSONOut]
        var outcomes: [Rendered] = []
    }

    /// The writing side: pieces in order, until one ends the dump.
    final class Output: @unchecked Sendable {
        let out: JSONOut
        /// Why writing stopped, once it has.
        private(set) var stop: Rendered?

        init(out: JSONOut) { self.out = out }

        func write(_ batch: Batch) {
            for (piece, outcome) in zip(batch.pieces, batch.outcomes) where stop == nil {
                out.append(piece)
                if !out.isOpen {
                    stop = .pastTheEnd  // the reader went away (`| head`)
                } else if case .whole = outcome {
                    continue
                } else {
                    stop = outcome
                }
            }
        }
    }

    /// What the rendering threads share: each touches only its own index.
    struct Slots: @unchecked Sendable {
        let results: UnsafeMutableBufferPointer<Rendered>
        let pieces: [JSONOut]
        let blocks: [ReadBlock]
    }

    enum Rendered: Sendable {
        case whole
        /// An entry after --to-time was reached: nothing later is wanted.
        case pastTheEnd
        case failed(String)
    }

    /// Renders a block's entries that pass the filter into `out` (emptied first).
    static func render(_ block: ReadBlock, through limit: SequenceNumber, filter: EntryFilter, into out: JSONOut) -> Rendered {
        out.reset()
        for entry in block.entries where entry.sequence <= limit {
            guard entry.timeNanos >= filter.fromTime else { continue }
            guard entry.timeNanos <= filter.toTime else { return .pastTheEnd }
            let payload: EntryPayload
            do {
                payload = try entry.decodePayload()
            } catch {
                return .failed(
                    "entry \(entry.sequence) (block at byte \(block.offset) of segment \(block.segment)) does not decode: \(error)")
            }
            if filter.isActive {
                var probe = FilterProbe(filter: filter)
                EntryJSON.command(payload.command, into: &probe)
                for event in payload.events { probe.next(); EntryJSON.event(event, into: &probe) }
                guard probe.matches else { continue }
            }
            var sink = out
            out.beginObject()
            out.field("sequence", Int(entry.sequence))
            out.field("timeNanos", Int(entry.timeNanos))
            out.beginObject("command")
            EntryJSON.command(payload.command, into: &sink)
            out.endObject()
            out.beginArray("events")
            for event in payload.events {
                out.beginObject()
                EntryJSON.event(event, into: &sink)
                out.endObject()
            }
            out.endArray()
            out.endObject()
            _ = out.endLine()
        }
        return .whole
    }

    /// A symbol by id, or by name from the newest snapshot or the journal's listings.
    func resolveSymbol(_ text: String, journal: String) throws -> Int {
        if let id = Int(text), id >= 0 { return id }
        if let directory = location.snapshotDirectory,
            let newest = try? SnapshotStore(directory: directory).loadNewestValid().loaded,
            let spec = newest.state.symbols.first(where: { $0.name == text })
        {
            return Int(spec.id)
        }
        var found: Int?
        let reader = JournalReader(directory: journal)
        try? reader.forEach(upTo: 100_000) { entry in
            if found == nil, case .listSymbol(let spec) = try entry.decodePayload().command, spec.name == text { found = Int(spec.id) }
        }
        guard let found else { throw ValidationError("unknown --symbol \(text): give its id, or a name the journal lists") }
        return found
    }
}

/// Which entries `dump` prints: all of the filters given must match (each filter is
/// satisfied by any of its values).
struct EntryFilter: Sendable {
    var accounts: Set<Int>
    var symbols: Set<Int>
    var kinds: Set<String>
    var fromTime: Int64
    var toTime: Int64

    static let accountKeys: [StaticString] = ["account", "makerAccount", "takerAccount", "counterparty"]

    /// True when any filter besides the time range is given.
    var isActive: Bool { !accounts.isEmpty || !symbols.isEmpty || !kinds.isEmpty }
}

/// Looks at an entry's fields (its command's, then each event's) for what a filter wants.
struct FilterProbe: EntrySink {
    let filter: EntryFilter
    var kindSeen: Bool
    var accountSeen: Bool
    var symbolSeen: Bool
    /// The next string field is an object's "type".
    var atType = true

    init(filter: EntryFilter) {
        self.filter = filter
        kindSeen = filter.kinds.isEmpty
        accountSeen = filter.accounts.isEmpty
        symbolSeen = filter.symbols.isEmpty
    }

    var matches: Bool { kindSeen && accountSeen && symbolSeen }

    /// The next object begins.
    mutating func next() { atType = true }

    mutating func int(_ key: StaticString, _ value: Int) {
        if !accountSeen, filter.accounts.contains(value), EntryFilter.accountKeys.contains(where: { same($0, key) }) {
            accountSeen = true
        }
        if !symbolSeen, filter.symbols.contains(value), same(key, "symbolId") { symbolSeen = true }
    }

    mutating func string(_ key: StaticString, _ value: String) {
        if atType {
            atType = false
            if !kindSeen, filter.kinds.contains(value) { kindSeen = true }
        }
    }

    mutating func bool(_ key: StaticString, _ value: Bool) {}
}
