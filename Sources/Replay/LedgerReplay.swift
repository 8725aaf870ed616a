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
        abstract: "Verify, audit, dump and (as an operator's last resort) excise entries of an ExchangeLedger journal.",
        subcommands: [Verify.self, Audit.self, Dump.self, Excise.self, Acks.self])
}

struct Location: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "ledgerd's data directory (journal/ and snapshots/).") var dataDirectory: String?
    @Option(help: "The journal directory (default: DATA-DIR/journal).") var journal: String?
    @Option(help: "The snapshot directory (default: DATA-DIR/snapshots).") var snapshots: String?

    var journalDirectory: String {
        get throws {
            if let journal { return journal }
            guard let dataDirectory else { throw ValidationError("give --data-dir or --journal") }
            return dataDirectory + "/journal"
        }
    }

    func validate() throws {
        guard journal != nil || dataDirectory != nil else { throw ValidationError("give --data-dir or --journal") }
    }

    var snapshotDirectory: String? {
        snapshots ?? dataDirectory.map { $0 + "/snapshots" }
    }
}

func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("ledger-replay: \(message)\n".utf8))
    return ExitCode(1)
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every segment header, block CRC, sequence continuity and the hash chain.")
    @OptionGroup var location: Location
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let report: JournalVerifier.Report
        do {
            report = try JournalVerifier.verify(directory: try location.journalDirectory)
        } catch {
            throw fail("\(error)")
        }
        if json {
            var object: [String: Any] = [
                "ok": report.finding == nil, "segments": report.segments, "blocks": report.blocks,
                "entries": Int(report.entries), "lastSequence": Int(report.lastSequence), "chain": hexString(report.lastChain),
            ]
            if let finding = report.finding {
                object["finding"] = [
                    "segment": finding.segment, "offset": Int(finding.offset), "reason": finding.reason,
                    "tornTail": report.findingIsTornTail,
                ]
            }
            printJSON(object)
        } else {
            print(
                "segments: \(report.segments)  blocks: \(report.blocks)  entries: \(report.entries)  last sequence: \(report.lastSequence)")
            if let finding = report.finding {
                print("FINDING in segment \(finding.segment) at byte \(finding.offset): \(finding.reason)")
                if report.findingIsTornTail { print("(a torn tail: ledgerd cuts it on start; it was never acknowledged)") }
            } else {
                print("chain: \(hexString(report.lastChain))")
                print("OK")
            }
        }
        if report.finding != nil { throw ExitCode(1) }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Re-execute every command, compare the events with the journal's byte for byte, check the invariants, print the state hash.")
    @OptionGroup var location: Location
    @Flag(name: .customLong("from-snapshot"), help: "Start from the newest valid snapshot instead of genesis.") var fromSnapshot = false
    @Option(help: "Stop after this sequence.") var through: UInt64?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let journalDirectory = try location.journalDirectory
        let verified: JournalVerifier.Report
        do { verified = try JournalVerifier.verify(directory: journalDirectory) } catch { throw fail("\(error)") }
        var findings: [String] = []
        if let finding = verified.finding, !verified.findingIsTornTail {
            findings.append("journal: segment \(finding.segment) byte \(finding.offset): \(finding.reason)")
        }
        var state = ExchangeState()
        var startedFrom = "genesis"
        if fromSnapshot, let directory = location.snapshotDirectory {
            do {
                // The newest snapshot that checks and belongs to this journal.
                var ceiling = through ?? .max
                while let found = try SnapshotStore(directory: directory).loadNewestValid(atOrBefore: ceiling).loaded {
                    if try Recovery.chain(journalDirectory: journalDirectory, through: found.info.sequence) == found.info.journalChain {
                        state = found.state
                        startedFrom = found.info.name
                        break
                    }
                    guard found.info.sequence > 0 else { break }
                    ceiling = found.info.sequence - 1
                }
            } catch {
                throw fail("\(error)")
            }
        }
        let started = Date()
        let reader = JournalReader(directory: journalDirectory, from: state.lastSequence + 1)
        let limit = through ?? .max
        var events: [Event] = []
        var entries: UInt64 = 0
        var mismatches = 0
        do {
            try reader.forEach(upTo: limit) { entry in
                let payload = try entry.decodePayload()
                events.removeAll(keepingCapacity: true)
                state.execute(payload.command, sequence: entry.sequence, timeNanos: entry.timeNanos, into: &events)
                if events != payload.events {
                    mismatches += 1
                    if mismatches <= 10 {
                        findings.append("entry \(entry.sequence): re-execution gives \(events), journal has \(payload.events)")
                    }
                }
                entries += 1
                if entries % 1_000_000 == 0, isatty(STDERR_FILENO) != 0 {
                    FileHandle.standardError.write(Data("\r audited \(entries) entries".utf8))
                }
            }
        } catch {
            findings.append("reading the journal: \(error)")
        }
        if mismatches > 10 { findings.append("… \(mismatches) mismatching entries in all") }
        if let violation = state.invariantViolation() { findings.append("invariant: \(violation)") }
        let seconds = Date().timeIntervalSince(started)
        let hash = hexString(state.stateHash())
        if json {
            printJSON([
                "ok": findings.isEmpty, "from": startedFrom, "entries": Int(entries), "sequence": Int(state.lastSequence),
                "stateHash": hash, "mismatches": mismatches, "findings": findings, "seconds": seconds,
            ])
        } else {
            print("audited \(entries) entries from \(startedFrom) in \(String(format: "%.2f", seconds)) s")
            print("sequence: \(state.lastSequence)")
            print("state hash: \(hash)")
            for finding in findings { print("FINDING: \(finding)") }
            print(findings.isEmpty ? "OK: events match the journal, balances sum to zero, books uncrossed" : "FAILED")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print entries as JSON lines (amounts in integer units).")
    @OptionGroup var location: Location
    @Option var from: UInt64 = 1
    @Option var through: UInt64?
    @Flag(help: "JSON lines (the only format so far).") var json = false

    func run() throws {
        let reader = JournalReader(directory: try location.journalDirectory, from: from)
        do {
            try reader.forEach(upTo: through ?? .max) { entry in
                let payload = try entry.decodePayload()
                printJSON([
                    "sequence": Int(entry.sequence), "timeNanos": Int(entry.timeNanos),
                    "command": EntryJSON.command(payload.command), "events": payload.events.map(EntryJSON.event),
                ])
            }
        } catch {
            throw fail("\(error)")
        }
    }
}
