import ArgumentParser
import Foundation
import Journal
import LedgerCore
import Snapshots
import ToolSupport

/// `ledger-snapshot backup`: docs/OPERATIONS.md, "Backups, restore and the DR drill".
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract:
            "Copy the newest valid snapshot and every segment after it, with a manifest (sizes, SHA-256, chain head, state hash), into DIR. Incremental; safe while ledgerd writes."
    )
    @OptionGroup var directories: Directories
    @Option(name: .customLong("to"), help: "The backup directory (created if missing).") var target: String
    @Flag(
        name: .customLong("trim-journal"),
        help:
            "Afterwards, remove live journal segments whose entries all precede the oldest valid snapshot kept (never one recovery needs)."
    ) var trimJournal = false
    @Flag var json = false

    func run() throws {
        let journal = try directories.journalDirectory()
        let snapshots = try directories.snapshotDirectoryPath()
        let source = directories.dataDirectory.map { absolute($0) } ?? absolute(journal + "/..")
        var progress = ProgressLine(json: json)
        let started = ToolIO.monotonicSeconds()
        let outcome: Backup.Outcome
        var trimmed: [String] = []
        do {
            outcome = try Backup.create(
                journalDirectory: journal, snapshotDirectory: snapshots, source: source, to: target
            ) { step in progress.show(step) }
            if trimJournal { trimmed = try Backup.trimJournal(journalDirectory: journal, snapshotDirectory: snapshots) }
        } catch {
            progress.clear()
            throw backupExit(error, tool: "ledger-snapshot")
        }
        progress.clear()
        let seconds = ToolIO.monotonicSeconds() - started
        let manifest = outcome.manifest
        let megabytesPerSecond = outcome.copySeconds > 0 ? Double(outcome.bytesCopied) / 1e6 / outcome.copySeconds : 0
        if json {
            ToolIO.printJSON([
                "ok": true, "target": target, "copied": outcome.copied, "kept": outcome.kept, "removed": outcome.removed,
                "bytesCopied": Int(outcome.bytesCopied), "seconds": seconds, "megabytesPerSecond": megabytesPerSecond,
                "copySeconds": outcome.copySeconds, "recoverySeconds": outcome.recoverySeconds,
                "snapshot": manifest.snapshot?.name ?? NSNull(), "headSequence": Int(manifest.head.sequence),
                "headChain": manifest.head.chain, "stateHash": manifest.stateHash, "trimmedSegments": trimmed,
                "skippedSnapshots": outcome.skippedSnapshots.map { ["name": $0.name, "reason": $0.reason] },
            ])
        } else {
            for skipped in outcome.skippedSnapshots { print("passed over snapshot \(skipped.name): \(skipped.reason)") }
            print(
                "backup in \(target): snapshot \(manifest.snapshot?.name ?? "none (journal from sequence 1)"), \(manifest.segments.count) segments, head sequence \(manifest.head.sequence)"
            )
            print(
                "copied \(outcome.copied.count) files (\(outcome.bytesCopied) bytes in \(String(format: "%.2f", outcome.copySeconds)) s, \(String(format: "%.1f", megabytesPerSecond)) MB/s, checked as read), kept \(outcome.kept.count), removed \(outcome.removed.count)"
            )
            print(
                "recovered the copy to its head in \(String(format: "%.2f", outcome.recoverySeconds)) s; \(String(format: "%.2f", seconds)) s in all"
            )
            print("chain head: \(manifest.head.chain)")
            print("state hash at \(manifest.head.sequence): \(manifest.stateHash)")
            if trimJournal {
                print(trimmed.isEmpty ? "journal: no segment to trim" : "journal: removed \(trimmed.joined(separator: ", "))")
            }
            print("OK")
        }
    }
}

/// `ledger-snapshot restore`.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract:
            "Check a backup completely (sizes, SHA-256, snapshot, journal, head) and only then place it into --data-dir. Refuses a data directory with a journal or snapshots unless --force (which moves them aside)."
    )
    @Option(name: .customLong("from"), help: "The backup directory.") var backup: String
    @Option(name: .customLong("data-dir"), help: "The data directory to restore into (created if missing).") var dataDirectory: String
    @Flag(help: "Restore over an existing journal and snapshots, moving them into replaced-<ms>/.") var force = false
    @Flag var json = false

    func run() throws {
        _ = try ToolIO.existingDirectory(backup, "backup directory")
        var progress = ProgressLine(json: json)
        let started = ToolIO.monotonicSeconds()
        let result: (check: Backup.Check, movedAside: String?)
        do {
            result = try Backup.restore(backup, into: dataDirectory, force: force) { step in progress.show(step) }
        } catch {
            progress.clear()
            throw backupExit(error, tool: "ledger-snapshot")
        }
        progress.clear()
        let seconds = ToolIO.monotonicSeconds() - started
        let ok = result.check.findings.isEmpty
        if json {
            ToolIO.printJSON([
                "ok": ok, "dataDir": dataDirectory, "findings": result.check.findings, "bytes": Int(result.check.bytes),
                "headSequence": Int(result.check.manifest.head.sequence), "stateHash": result.check.manifest.stateHash,
                "movedAside": result.movedAside ?? NSNull(), "seconds": seconds,
            ])
        } else {
            for finding in result.check.findings { print("FINDING: \(finding)") }
            if ok {
                if let aside = result.movedAside { print("moved the data directory's journal and snapshots aside into \(aside)") }
                print(
                    "restored \(result.check.bytes) bytes into \(dataDirectory) in \(String(format: "%.2f", seconds)) s: head sequence \(result.check.manifest.head.sequence), state hash \(result.check.manifest.stateHash)"
                )
                print("OK")
            } else {
                print("nothing was placed in \(dataDirectory)")
            }
        }
        if !ok { throw ExitCode(1) }
    }
}

/// The exit for a backup failure: bad usage (2) or a finding (1), with the message.
func backupExit(_ error: Error, tool: String) -> Error {
    if case Backup.Failure.usage(let message) = error { return ValidationError(message) }
    ToolIO.warn(tool, "\(error)")
    return ExitCode(1)
}

func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
