import ArgumentParser
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
        var out = JSONOut()
        let reader = JournalReader(directory: journal, from: from)
        let limit = through ?? .max
        do {
            dumping: while let block = try reader.nextBlock(upTo: limit) {
                for entry in block.entries where entry.sequence <= limit {
                    guard entry.timeNanos >= filter.fromTime else { continue }
                    guard entry.timeNanos <= filter.toTime else { break dumping }
                    let payload = try entry.decodePayload()
                    let command = EntryJSON.command(payload.command)
                    let events = payload.events.map(EntryJSON.event)
                    guard filter.matches(command: command, events: events) else { continue }
                    out.beginObject()
                    out.field("sequence", Int(entry.sequence))
                    out.field("timeNanos", Int(entry.timeNanos))
                    out.beginObject("command")
                    out.fieldsBody(command)
                    out.endObject()
                    out.beginArray("events")
                    for event in events { out.fields(event) }
                    out.endArray()
                    out.endObject()
                    out.endLine()
                    guard out.flush() else { return }  // the reader went away (`| head`)
                }
                if reader.nextSequence > limit { break }
            }
        } catch {
            _ = out.flush(force: true)
            throw fail("\(error)")
        }
        _ = out.flush(force: true)
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
struct EntryFilter {
    var accounts: Set<Int>
    var symbols: Set<Int>
    var kinds: Set<String>
    var fromTime: Int64
    var toTime: Int64

    static let accountKeys: [StaticString] = ["account", "makerAccount", "takerAccount", "counterparty"]

    func matches(command: JSONFields, events: [JSONFields]) -> Bool {
        if !kinds.isEmpty, !kinds.contains(command.type), !events.contains(where: { kinds.contains($0.type) }) { return false }
        if !accounts.isEmpty {
            guard
                command.contains(keys: Self.accountKeys, anyOf: accounts)
                    || events.contains(where: { $0.contains(keys: Self.accountKeys, anyOf: accounts) })
            else { return false }
        }
        if !symbols.isEmpty {
            guard
                command.contains(keys: ["symbolId"], anyOf: symbols)
                    || events.contains(where: { $0.contains(keys: ["symbolId"], anyOf: symbols) })
            else { return false }
        }
        return true
    }
}
