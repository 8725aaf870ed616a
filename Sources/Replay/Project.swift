import ArgumentParser
import Foundation
import LedgerCore
import Projection
import ToolSupport

/// `ledger-replay project`: rebuilds the PostgreSQL read models from the journal (or a
/// snapshot and the journal) into a schema of their own at full speed, and with `--swap`
/// swaps them in for the live ones while ledgerd's projector keeps running
/// (docs/OPERATIONS.md, "Rebuilding the read models").
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the PostgreSQL read models from the journal into a fresh schema; --swap puts it in place of the live one.")
    @OptionGroup var location: Location
    @Option(help: "PostgreSQL connection URL (as ledgerd's projector.url).") var url: String
    @Option(help: "The live read models' schema (ledgerd's projector.schema).") var schema = "public"
    @Option(help: "The schema to build into (default: SCHEMA_rebuild); dropped first if it exists.") var into: String?
    @Flag(name: .customLong("from-snapshot"), help: "Start from the newest valid snapshot instead of genesis.")
    var fromSnapshot = false
    @Option(help: "Stop after this sequence (not with --swap).") var through: UInt64?
    @Option(name: .customLong("batch-entries"), help: "Entries per transaction (at least).") var batchEntries = 20_000
    @Flag(
        name: .customLong("keep-indexes"),
        help: "Keep the indexes up row by row, as the live projector does, instead of building them at the end (to measure it).")
    var keepIndexes = false
    @Option(
        help:
            "PostgreSQL connections to load over: 1, or 2 (the orders' tables on the second, each batch committed on both before the next)."
    )
    var lanes = 2
    @Flag(help: "Swap the rebuilt schema in for the live one, atomically; the live projector continues on it.") var swap = false
    @Flag(help: "Print a JSON summary.") var json = false

    var target: String { into ?? "\(schema)_rebuild" }

    func validate() throws {
        guard target != schema else { throw ValidationError("--into must differ from --schema (\(schema)): that is the live schema") }
        if swap && through != nil { throw ValidationError("--swap needs the whole journal: leave out --through") }
        guard (1...2).contains(lanes) else { throw ValidationError("--lanes must be 1 or 2") }
        guard (1...1_000_000).contains(batchEntries) else { throw ValidationError("--batch-entries must be 1…1000000") }
        for name in [schema, target]
        where name.isEmpty || name.utf8.count > 40
            || !name.utf8.allSatisfy({ $0 == 0x5F || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) })
        {
            throw ValidationError("schema name \"\(name)\" must be 1…40 characters of [a-z0-9_]")
        }
    }

    func run() throws {
        let journal = try location.journalDirectory
        let started = ToolIO.monotonicSeconds()
        do {
            try SchemaSwap.drop(target, url: url)
        } catch {
            throw fail("\(error)")
        }
        let projector = Projector(
            options: .init(
                url: url, journalDirectory: journal, snapshotDirectory: location.snapshotDirectory, batchEntries: batchEntries,
                schema: target), durableSequence: { .max }, log: { _, _ in })
        var progress = ProgressLine(json: json)
        var lastLog = started
        let report = { (sequence: SequenceNumber, entries: Int, rows: Int) in
            let elapsed = max(ToolIO.monotonicSeconds() - started, 0.001)
            let line = "projected through \(sequence): \(entries) entries, \(rows) rows (\(Int(Double(entries) / elapsed)) entries/s)"
            progress.show(line)
            if !progress.enabled && !json && ToolIO.monotonicSeconds() - lastLog >= 5 {
                lastLog = ToolIO.monotonicSeconds()
                ToolIO.warn("ledger-replay", line)
            }
        }
        var summary: Projector.CatchUp
        do {
            summary = try projector.catchUp(
                through: through ?? .max, fromSnapshot: fromSnapshot, deferIndexes: !keepIndexes, lanes: lanes,
                progress: report)
        } catch {
            progress.clear()
            throw fail("rebuilding into schema \(target): \(error)")
        }
        let built = ToolIO.monotonicSeconds()
        var swapped: SchemaSwap.Result?
        if swap {
            do {
                guard try SchemaSwap.exists(schema, url: url) else {
                    throw PostgresError(message: "schema \(schema) does not exist: nothing to swap (rename \(target) yourself)")
                }
                swapped = try SchemaSwap.swap(url: url, live: schema, rebuilt: target, suffix: String(Int(Date().timeIntervalSince1970))) {
                    let tail = try projector.catchUp(progress: report)
                    summary.entries += tail.entries
                    summary.rows += tail.rows
                    summary.checkpoint = tail.checkpoint
                }
            } catch {
                progress.clear()
                throw fail("swapping \(target) in for \(schema): \(error) (the live schema is unchanged)")
            }
        }
        progress.clear()
        let seconds = built - started
        let entriesPerSecond = Int(Double(summary.entries) / max(seconds, 0.001))
        let rowsPerSecond = Int(Double(summary.rows) / max(seconds, 0.001))
        if json {
            var object: [String: Any] = [
                "schema": swapped == nil ? target : schema, "checkpoint": Int(summary.checkpoint), "entries": summary.entries,
                "rows": summary.rows, "seconds": seconds, "entriesPerSecond": entriesPerSecond, "rowsPerSecond": rowsPerSecond,
                "swapped": swapped != nil,
            ]
            if let snapshot = summary.snapshot { object["snapshot"] = snapshot }
            if let swapped {
                object["retired"] = swapped.retired
                object["liveCheckpointAtSwap"] = Int(swapped.liveCheckpoint) ?? 0
            }
            printJSON(object)
        } else {
            print(
                "projected \(summary.entries) entries (\(summary.rows) rows) into schema \(target) in \(String(format: "%.2f", seconds)) s: \(entriesPerSecond) entries/s, \(rowsPerSecond) rows/s"
            )
            if let snapshot = summary.snapshot { print("started from snapshot \(snapshot)") }
            print("checkpoint: \(summary.checkpoint)")
            if let swapped {
                print(
                    "swapped in as schema \(schema) (the live projector was at \(swapped.liveCheckpoint)); the old one is now \(swapped.retired): drop it with DROP SCHEMA \(swapped.retired) CASCADE"
                )
            }
        }
    }
}
