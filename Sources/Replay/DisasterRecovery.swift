import ArgumentParser
import Foundation
import Journal
import LedgerCore
import Snapshots
import ToolSupport

/// A point in the journal: a sequence, or a journal time.
enum JournalPoint: Equatable {
    case sequence(SequenceNumber)
    case time(nanos: Int64)

    /// `12345` is a sequence; `2026-12-04T18:00:00Z` (ISO 8601 UTC, optionally with .mmm)
    /// or `1796409015275ms` (ms since 1970) is a journal time.
    init?(_ text: String) {
        if let sequence = UInt64(text), sequence >= 1, sequence <= Limits.idMax {
            self = .sequence(sequence)
        } else if text.hasSuffix("ms"), let nanos = ToolIO.parseTime(String(text.dropLast(2))), Int64(text.dropLast(2)) != nil {
            self = .time(nanos: nanos)
        } else if text.contains("T"), let nanos = ToolIO.parseTime(text) {
            self = .time(nanos: nanos)
        } else {
            return nil
        }
    }
}

/// `ledger-replay rebuild --to`: the state at a point in time, as a snapshot.
struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Rebuild the state at a sequence or journal time from the newest snapshot before it and the journal; write it as a snapshot into --out and print its hash and a summary."
    )
    @OptionGroup var location: Location
    @Option(
        help:
            "A sequence (12345), or a journal time: ISO 8601 UTC (2026-12-04T18:00:00Z) or ms since 1970 with the suffix ms (1796409015275ms). A time rebuilds through the last entry at or before it."
    ) var to: String
    @Option(help: "Directory to write the snapshot into (created if missing).") var out: String
    @Flag(name: .customLong("from-genesis"), help: "Replay from sequence 1, not from a snapshot.") var fromGenesis = false
    @Flag var json = false

    func validate() throws {
        guard JournalPoint(to) != nil else {
            throw ValidationError(
                "--to \(to) is neither a sequence nor a time (ISO 8601 UTC such as 2026-12-04T18:00:00Z, or ms since 1970 as 1796409015275ms)"
            )
        }
    }

    func run() throws {
        let journal = try location.journalDirectory
        let point = JournalPoint(to)!
        var progress = ProgressLine(json: json)
        let started = ToolIO.monotonicSeconds()
        // Where to start: the newest snapshot at or before the point that belongs to the
        // journal (its sequence decides for a sequence, its time for a time).
        var state = ExchangeState()
        var startedFrom = "genesis"
        if !fromGenesis, let directory = location.snapshotDirectory, ToolIO.exists(directory) {
            let store = SnapshotStore(directory: directory)
            for name in ((try? store.names()) ?? []).reversed() {
                guard let info = try? SnapshotFile.readInfo(path: store.path(name)) else { continue }
                switch point {
                case .sequence(let sequence): if info.sequence > sequence { continue }
                case .time(let nanos): if info.timeNanos > nanos { continue }
                }
                guard let loaded = try? SnapshotFile.load(path: store.path(name)),
                    (try? Recovery.chain(journalDirectory: journal, through: loaded.info.sequence)) == loaded.info.journalChain
                else { continue }
                state = loaded.state
                startedFrom = name
                break
            }
        }
        // The last sequence to apply.
        let target: SequenceNumber
        switch point {
        case .sequence(let sequence):
            target = sequence
        case .time(let nanos):
            var last = state.lastSequence
            let reader = JournalReader(directory: journal, from: state.lastSequence + 1)
            do {
                scanning: while let block = try reader.nextBlock() {
                    for entry in block.entries {
                        guard entry.timeNanos <= nanos else { break scanning }
                        last = entry.sequence
                    }
                    progress.show("finding the last entry at or before \(ToolIO.isoTime(nanos: nanos)): sequence \(last)")
                }
            } catch {
                progress.clear()
                throw fail("\(error)")
            }
            target = last
        }
        do {
            try Recovery.applyJournal(to: &state, journalDirectory: journal, through: target) { sequence, _ in
                if sequence % 65_536 == 0 { progress.show("rebuilt to sequence \(sequence) of \(target)") }
            }
        } catch {
            progress.clear()
            throw fail("\(error)")
        }
        progress.clear()
        guard state.lastSequence == target else {
            throw fail("the journal ends at sequence \(state.lastSequence), before \(target): nothing was written")
        }
        let info: SnapshotInfo
        do {
            guard let chain = try Recovery.chain(journalDirectory: journal, through: target) else {
                throw fail("the journal has no entry \(target)")
            }
            info = try SnapshotFile.write(state, journalChain: chain, directory: out)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail("\(error)")
        }
        let seconds = ToolIO.monotonicSeconds() - started
        let summary = state.summary()
        if json {
            ToolIO.printJSON([
                "ok": true, "from": startedFrom, "sequence": Int(state.lastSequence), "timeNanos": Int(state.lastTimeNanos),
                "time": ToolIO.isoTime(nanos: state.lastTimeNanos), "stateHash": hexString(info.stateHash),
                "snapshot": out + "/" + info.name, "summary": summary.json, "seconds": seconds,
            ])
        } else {
            print(
                "rebuilt from \(startedFrom) to sequence \(state.lastSequence) (\(ToolIO.isoTime(nanos: state.lastTimeNanos))) in \(String(format: "%.2f", seconds)) s"
            )
            print("state hash: \(hexString(info.stateHash))")
            print("snapshot: \(out)/\(info.name)")
            for line in summary.lines { print(line) }
        }
    }
}

/// `ledger-replay drill`: the disaster-recovery drill.
struct Drill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Restore a backup into a scratch directory, recover it as ledgerd would, compare the state hash with the manifest's, and print the RTO and RPO."
    )
    @Option(help: "The backup directory (ledger-snapshot backup --to).") var backup: String
    @Option(help: "The live data directory, for the RPO (default: the manifest's source, if it is there).") var live: String?
    @Option(help: "Scratch directory to restore into (default: a new one beside the backup); removed afterwards.") var scratch: String?
    @Flag(help: "Keep the scratch directory.") var keep = false
    @Flag var json = false

    func run() throws {
        _ = try ToolIO.existingDirectory(backup, "backup directory")
        if let live { _ = try ToolIO.existingDirectory(live, "live data directory") }
        let scratchDirectory = scratch ?? (backup.hasSuffix("/") ? String(backup.dropLast()) : backup) + ".drill-\(getpid())"
        if let scratch, ((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []).isEmpty == false {
            throw ValidationError("scratch directory \(scratch) is not empty")
        }
        defer { if !keep { try? FileManager.default.removeItem(atPath: scratchDirectory) } }
        var progress = ProgressLine(json: json)
        let started = ToolIO.monotonicSeconds()
        var findings: [String] = []
        let check: Backup.Check
        do {
            check = try Backup.stage(backup, into: scratchDirectory, recover: false) { step in progress.show(step) }
        } catch {
            progress.clear()
            if case Backup.Failure.usage(let message) = error { throw ValidationError(message) }
            throw fail("\(error)")
        }
        findings += check.findings
        let manifest = check.manifest
        let restoredSeconds = ToolIO.monotonicSeconds() - started
        var recoveredSequence: SequenceNumber = 0
        var recoveredHash = ""
        var readySeconds = 0.0
        if findings.isEmpty {
            progress.show("recovering")
            do {
                let startup = try Recovery.start(
                    journal: .init(directory: scratchDirectory + "/journal", ledgerID: manifest.ledgerId, epoch: manifest.epoch),
                    snapshotDirectory: scratchDirectory + "/snapshots"
                ) { sequence in progress.show("recovering: sequence \(sequence)") }
                recoveredSequence = startup.state.lastSequence
                readySeconds = ToolIO.monotonicSeconds() - started
                recoveredHash =
                    Backup.stateHash(of: startup.state, for: manifest)
                    ?? "(state encoding \(manifest.stateEncodingVersion) is unknown to this binary)"
                if recoveredSequence != manifest.head.sequence {
                    findings.append("recovered to sequence \(recoveredSequence), the manifest's head is \(manifest.head.sequence)")
                }
                if recoveredHash != manifest.stateHash {
                    findings.append("recovered state hash \(recoveredHash) differs from the manifest's \(manifest.stateHash)")
                }
            } catch {
                findings.append("recovery failed: \(error)")
            }
        }
        progress.clear()
        // RPO: what the live journal holds beyond the backup's head.
        let liveDirectory = live ?? (ToolIO.exists(manifest.source + "/journal") ? manifest.source : nil)
        var rpo: (entries: Int64, seconds: Double)?
        if let liveDirectory, let head = try? JournalReader.head(in: liveDirectory + "/journal") {
            rpo = (Int64(head.sequence) - Int64(manifest.head.sequence), Double(head.timeNanos - manifest.head.timeNanos) / 1e9)
        }
        let ok = findings.isEmpty
        if json {
            var object: [String: Any] = [
                "ok": ok, "backup": backup, "findings": findings, "headSequence": Int(manifest.head.sequence),
                "manifestStateHash": manifest.stateHash, "recoveredSequence": Int(recoveredSequence), "recoveredStateHash": recoveredHash,
                "restoreSeconds": restoredSeconds, "bytesRestored": Int(check.bytes),
                "snapshot": manifest.snapshot?.name ?? NSNull(),
            ]
            if ok { object["rtoSeconds"] = readySeconds }
            if let rpo {
                object["rpoEntries"] = Int(rpo.entries)
                object["rpoSeconds"] = rpo.seconds
                object["live"] = liveDirectory
            }
            ToolIO.printJSON(object)
        } else {
            print(
                "backup: \(backup) (snapshot \(manifest.snapshot?.name ?? "none"), \(manifest.segments.count) segments, head \(manifest.head.sequence) at \(ToolIO.isoTime(nanos: manifest.head.timeNanos)))"
            )
            print("restored and checked \(check.bytes) bytes in \(String(format: "%.2f", restoredSeconds)) s")
            for finding in findings { print("FINDING: \(finding)") }
            if ok {
                print("recovered to sequence \(recoveredSequence); state hash \(recoveredHash) equals the manifest's")
                print("RTO: \(String(format: "%.2f", readySeconds)) s (start of the drill to a state ready to serve)")
            }
            if let rpo {
                print(
                    "RPO: \(rpo.entries) entries, \(String(format: "%.3f", rpo.seconds)) s of journal time behind \(liveDirectory ?? "")")
            } else {
                print("RPO: unknown (the live data directory is not visible here; give --live)")
            }
            print(ok ? "OK" : "FAILED: this backup would not restore as it claims")
        }
        if !ok { throw ExitCode(1) }
    }
}
