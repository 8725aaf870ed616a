import ArgumentParser
import Foundation
import Journal
import LedgerCore
import ToolSupport

/// The durability check of a crash soak (scripts/soak.sh), usable on any gateway's log of
/// the same form: every acknowledged entry is in the journal with exactly the command that
/// was acknowledged, and every journaled command is one that was sent.
struct Acks: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check acknowledgement logs (ledger-load --ack-log) against the journal: every acknowledged sequence holds the acknowledged command, every journaled command was sent."
    )
    @OptionGroup var location: Location
    @Argument(help: "Log files: lines `S <command hex>` (sent) and `A <sequence> <command hex>` (acknowledged).") var logs: [String]
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        var sent: Set<String> = []
        var acknowledged: [SequenceNumber: String] = [:]
        var findings: [String] = []
        for path in logs { _ = try ToolIO.existingFile(path, "acknowledgement log") }
        for path in logs {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("cannot read \(path)") }
            for (number, line) in text.split(separator: "\n").enumerated() {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[0] == "S" {
                    sent.insert(String(parts[1]))
                } else if parts.count == 3, parts[0] == "A", let sequence = SequenceNumber(parts[1]) {
                    if let earlier = acknowledged[sequence], earlier != String(parts[2]) {
                        findings.append("sequence \(sequence) acknowledged twice with different commands (\(path) line \(number + 1))")
                    }
                    acknowledged[sequence] = String(parts[2])
                } else {
                    throw fail("\(path) line \(number + 1): not `S hex` or `A sequence hex`")
                }
            }
        }
        var journaled = 0
        var present = 0
        var unsent = 0
        var system = 0
        do {
            try JournalReader(directory: try location.journalDirectory).forEach { entry in
                journaled += 1
                let command = try entry.decodePayload().command
                // ledgerd's own entries (genesis, ticks, settleFunding) are sent by nobody.
                if command.isSystemOnly {
                    system += 1
                    return
                }
                var writer = ByteWriter()
                command.encode(to: &writer)
                let hex = hexString(writer.bytes)
                if let expected = acknowledged[entry.sequence] {
                    if expected == hex {
                        present += 1
                    } else if findings.count < 10 {
                        findings.append("sequence \(entry.sequence) was acknowledged for \(expected) but holds \(hex)")
                    }
                }
                if !sent.contains(hex) {
                    unsent += 1
                    if findings.count < 10 { findings.append("sequence \(entry.sequence) holds \(hex), which no log sent") }
                }
            }
        } catch {
            throw fail("\(error)")
        }
        let missing = acknowledged.count - present
        if missing > 0 {
            let last = acknowledged.keys.max() ?? 0
            findings.append(
                "\(missing) acknowledged entries are not in the journal as acknowledged (highest acknowledged sequence \(last))")
        }
        if json {
            printJSON([
                "ok": findings.isEmpty, "acknowledged": acknowledged.count, "present": present, "journaled": journaled, "unsent": unsent,
                "system": system, "findings": findings,
            ])
        } else {
            print(
                "acknowledged \(acknowledged.count), present \(present); journaled \(journaled) (\(system) of ledgerd's own), not sent \(unsent)"
            )
            for finding in findings { print("FINDING: \(finding)") }
            print(findings.isEmpty ? "OK: every acknowledged entry is in the journal, every journaled command was sent" : "FAILED")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
