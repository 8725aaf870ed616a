import ArgumentParser
import Foundation
import Journal
import LedgerCore
import LedgerDigest
import Snapshots
import ToolSupport

/// Exit codes: 0 ok, 1 a finding (mismatch, corruption), 2 bad usage.
@main
struct LedgerReplay: ParsableCommand {
    static func main() { mainWithProjectExitCodes() }

    static let configuration = CommandConfiguration(
        commandName: "ledger-replay",
        abstract:
            "Verify, audit, dump, rebuild to a point in time, project into PostgreSQL and drill the recovery of an ExchangeLedger journal; excise entries as an operator's last resort.",
        subcommands: [Verify.self, Audit.self, Dump.self, Rebuild.self, Project.self, Drill.self, Excise.self, Acks.self])
}

struct Location: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "ledgerd's data directory (journal/ and snapshots/).") var dataDirectory: String?
    @Option(help: "The journal directory (default: DATA-DIR/journal).") var journal: String?
    @Option(help: "The snapshot directory (default: DATA-DIR/snapshots).") var snapshots: String?

    /// The journal directory, which must exist and hold at least one segment (else bad
    /// usage, exit 2: a wrong path is never "OK").
    var journalDirectory: String {
        get throws {
            let directory: String
            if let journal {
                directory = journal
            } else {
                guard let dataDirectory else { throw ValidationError("give --data-dir or --journal") }
                _ = try ToolIO.existingDirectory(dataDirectory, "data directory")
                directory = dataDirectory + "/journal"
            }
            _ = try ToolIO.existingDirectory(directory, "journal directory")
            guard (try? JournalReader.segments(in: directory).isEmpty) == false else {
                throw ValidationError("journal directory \(directory) holds no journal segment (*.seg)")
            }
            return directory
        }
    }

    func validate() throws {
        guard journal != nil || dataDirectory != nil else { throw ValidationError("give --data-dir or --journal") }
    }

    var snapshotDirectory: String? {
        snapshots ?? dataDirectory.map { $0 + "/snapshots" }
    }

    /// A snapshot named on the command line: a path, or a file name in the snapshot
    /// directory. Missing: bad usage (exit 2).
    func snapshotPath(_ named: String) throws -> String {
        if named.contains("/") { return try ToolIO.existingFile(named, "snapshot") }
        if let directory = snapshotDirectory, ToolIO.exists(directory + "/" + named) {
            return try ToolIO.existingFile(directory + "/" + named, "snapshot")
        }
        return try ToolIO.existingFile(named, "snapshot")
    }
}

func printJSON(_ object: [String: Any]) { ToolIO.printJSON(object) }

func fail(_ message: String) -> ExitCode {
    ToolIO.warn("ledger-replay", message)
    return ExitCode(1)
}

extension JournalVerifier.Finding {
    var json: [String: Any] { ["kind": kind.rawValue, "segment": segment, "offset": Int(offset), "reason": reason] }
}

extension JournalVerifier.Report {
    var json: [String: Any] {
        var object: [String: Any] = [
            "ok": findings.isEmpty, "segments": segments, "blocks": blocks, "entries": Int(entries), "bytes": Int(bytes),
            "firstSequence": Int(firstSequence ?? 0), "lastSequence": Int(lastSequence), "lastTimeNanos": Int(lastTimeNanos),
            "chain": hexString(lastChain), "findings": findings.map(\.json), "findingsNotListed": findingsNotListed,
            "tornTailOnly": findingIsTornTail,
        ]
        if let ledgerID { object["ledgerId"] = Int(ledgerID) }
        if let epoch { object["epoch"] = Int(epoch) }
        if let historyCoveredBy { object["historyCoveredBy"] = historyCoveredBy }
        return object
    }

    /// The text report's lines.
    var lines: [String] {
        var lines = [
            "segments: \(segments)  blocks: \(blocks)  entries: \(entries) (\(firstSequence ?? 0)…\(lastSequence))  bytes: \(bytes)"
                + (ledgerID.map { "  ledger: \($0)" } ?? "") + (epoch.map { "  epoch: \($0)" } ?? "")
        ]
        if let historyCoveredBy {
            lines.append("history before sequence \(firstSequence ?? 0): covered by \(historyCoveredBy) (its chain value matches)")
        }
        lines.append("chain head: \(hexString(lastChain)) at sequence \(lastSequence), \(ToolIO.isoTime(nanos: lastTimeNanos))")
        for finding in findings { lines.append("FINDING (\(finding.kind.rawValue)) \(finding)") }
        if findingsNotListed > 0 { lines.append("… and \(findingsNotListed) more findings") }
        if findingIsTornTail { lines.append("(only a torn tail: ledgerd cuts it on start; it was never acknowledged)") }
        lines.append(findings.isEmpty ? "OK" : "\(findings.count + findingsNotListed) finding(s)")
        return lines
    }
}

/// The snapshot a verb is told to start from: fully loaded and checked.
func loadNamedSnapshot(_ path: String) throws -> (state: ExchangeState, info: SnapshotInfo) {
    do {
        return try SnapshotFile.load(path: path)
    } catch {
        throw fail("snapshot \(path) is not valid: \(error)")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check every segment header, block CRC, sequence continuity, the hash chain, ledger id and epoch; list every finding.")
    @OptionGroup var location: Location
    @Option(
        help:
            "A snapshot (path, or name in the snapshot directory) that covers the entries before the journal's first; its chain value must match."
    ) var snapshot: String?
    @Option(name: .customLong("ledger-id"), help: "The ledger every segment must belong to (default: the first segment's).")
    var ledgerID: UInt64?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let directory = try location.journalDirectory
        var base: JournalVerifier.HistoryBase?
        if let snapshot {
            let info = try loadNamedSnapshot(try location.snapshotPath(snapshot)).info
            base = JournalVerifier.HistoryBase(sequence: info.sequence, chain: info.journalChain, source: "snapshot \(info.name)")
        }
        var progress = ProgressLine(json: json)
        let report: JournalVerifier.Report
        do {
            report = try JournalVerifier.verify(directory: directory, ledgerID: ledgerID, base: base) { partial in
                progress.show("verified \(partial.entries) entries, \(partial.segments) segments")
            }
        } catch {
            progress.clear()
            throw fail("\(error)")
        }
        progress.clear()
        if json {
            printJSON(report.json)
        } else {
            for line in report.lines { print(line) }
        }
        if !report.findings.isEmpty { throw ExitCode(1) }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Re-execute every command, compare the events with the journal's byte for byte, check the invariants, print the state hash.")
    @OptionGroup var location: Location
    @Flag(name: .customLong("from-snapshot"), help: "Start from the newest valid snapshot that belongs to the journal.")
    var fromSnapshot = false
    @Option(help: "Start from this snapshot (path, or name in the snapshot directory).") var snapshot: String?
    @Option(help: "Stop after this sequence.") var through: UInt64?
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        if fromSnapshot && snapshot != nil { throw ValidationError("give --from-snapshot or --snapshot, not both") }
    }

    func run() throws {
        let journalDirectory = try location.journalDirectory
        if fromSnapshot, let directory = location.snapshotDirectory {
            _ = try ToolIO.existingDirectory(directory, "snapshot directory")
        } else if fromSnapshot {
            throw ValidationError("--from-snapshot needs --data-dir or --snapshots")
        }
        var findings: [String] = []
        var notes: [String] = []
        var state = ExchangeState()
        var startedFrom = "genesis"
        var base: JournalVerifier.HistoryBase?
        if let snapshot {
            let loaded = try loadNamedSnapshot(try location.snapshotPath(snapshot))
            if let ceiling = through, loaded.info.sequence > ceiling {
                throw ValidationError("snapshot \(loaded.info.name) is at sequence \(loaded.info.sequence), after --through \(ceiling)")
            }
            state = loaded.state
            startedFrom = loaded.info.name
            base = .init(sequence: loaded.info.sequence, chain: loaded.info.journalChain, source: "snapshot \(loaded.info.name)")
        } else if fromSnapshot, let directory = location.snapshotDirectory {
            do {
                // Every snapshot passed over is a finding (never skipped silently).
                let found = try Recovery.newestSnapshot(
                    journalDirectory: journalDirectory, snapshotDirectory: directory, atOrBefore: through ?? .max)
                for skipped in found.skipped {
                    findings.append(
                        skipped.error.map { "snapshot \(skipped.name) is not valid: \($0)" }
                            ?? "snapshot \(skipped.name) does not belong to this journal (chain values differ)")
                }
                if let loaded = found.loaded {
                    state = loaded.state
                    startedFrom = loaded.info.name
                    base = .init(sequence: loaded.info.sequence, chain: loaded.info.journalChain, source: "snapshot \(loaded.info.name)")
                }
            } catch {
                throw fail("\(error)")
            }
            if startedFrom == "genesis" { notes.append("no valid snapshot of this journal: audited from genesis") }
        }
        var progress = ProgressLine(json: json)
        // The verify pass (CRCs, the hash chain) runs beside the replay, on the core the
        // replay's decoding leaves (`DecodingReader`); its findings come first, as before.
        let verification = BackgroundResult { [base] in
            try JournalVerifier.verify(directory: journalDirectory, base: base) { _ in }
        }
        let started = ToolIO.monotonicSeconds()
        // Reading and decoding run a few blocks ahead on a second thread (`DecodingReader`).
        let reader = DecodingReader(directory: journalDirectory, from: state.lastSequence + 1, upTo: through ?? .max)
        var replayFindings: [String] = []
        var entries: UInt64 = 0
        // Each entry's events are compared with the journal's on the decoding thread.
        let outcome = reader.audit(describing: 10) { sequence, timeNanos, command, executed in
            state.execute(command, sequence: sequence, timeNanos: timeNanos, into: &executed)
            entries += 1
            if entries % 65_536 == 0 { progress.show("audited \(entries) entries, sequence \(sequence)") }
        }
        for mismatch in outcome.first {
            replayFindings.append("entry \(mismatch.sequence): re-execution gives \(mismatch.executed), journal has \(mismatch.journaled)")
        }
        if let failure = outcome.failure { replayFindings.append("reading the journal: \(failure)") }
        let mismatches = outcome.mismatches
        progress.clear()
        switch verification.wait() {
        case .success(let verified): findings += verified.damage.map { "journal: \($0)" }
        case .failure(let error): throw fail("\(error)")
        }
        findings += replayFindings
        if let through, state.lastSequence < through {
            findings.append("--through \(through) is past the journal's end (\(state.lastSequence))")
        }
        if mismatches > 10 { findings.append("… \(mismatches) mismatching entries in all") }
        if let violation = state.invariantViolation() { findings.append("invariant: \(violation)") }
        let seconds = ToolIO.monotonicSeconds() - started
        let hash = hexString(state.stateHash())
        if json {
            printJSON([
                "ok": findings.isEmpty, "from": startedFrom, "entries": Int(entries), "sequence": Int(state.lastSequence),
                "stateHash": hash, "mismatches": mismatches, "findings": findings, "notes": notes, "seconds": seconds,
            ])
        } else {
            print("audited \(entries) entries from \(startedFrom) in \(String(format: "%.2f", seconds)) s")
            for note in notes { print("note: \(note)") }
            print("sequence: \(state.lastSequence)")
            print("state hash: \(hash)")
            for finding in findings { print("FINDING: \(finding)") }
            print(findings.isEmpty ? "OK: events match the journal, balances sum to zero, books uncrossed" : "FAILED")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}

/// Runs `work` on a thread of its own; `wait` returns its result.
final class BackgroundResult<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<Value, any Error>?

    init(_ work: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let outcome = Result { try work() }
            condition.withLock {
                result = outcome
                condition.broadcast()
            }
        }
        thread.start()
    }

    func wait() -> Result<Value, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }
}
