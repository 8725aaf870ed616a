import ArgumentParser
import Foundation
import Journal
import LedgerCore
import Snapshots
import ToolSupport

/// Exit codes: 0 ok, 1 a finding (an invalid snapshot, damage, a mismatch), 2 bad usage or
/// a path that is not there.
@main
struct LedgerSnapshot: ParsableCommand {
    static func main() { mainWithProjectExitCodes() }

    static let configuration = CommandConfiguration(
        commandName: "ledger-snapshot",
        abstract:
            "Create, list, inspect, verify and prune ExchangeLedger state snapshots offline (the daemon never pauses); back up and restore a data directory.",
        subcommands: [
            Create.self, List.self, Inspect.self, VerifySnapshots.self, Prune.self, BackupCommand.self, RestoreCommand.self,
        ])
}

struct Directories: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "ledgerd's data directory (journal/ and snapshots/).") var dataDirectory: String?
    @Option(help: "The journal directory (default: DATA-DIR/journal).") var journal: String?
    @Option(help: "The snapshot directory (default: DATA-DIR/snapshots).") var snapshots: String?

    /// The journal directory; it must exist and hold a segment (exit 2 otherwise).
    func journalDirectory() throws -> String {
        let directory: String
        if let journal {
            directory = journal
        } else {
            guard let dataDirectory else { throw ValidationError("give --data-dir or --journal") }
            directory = dataDirectory + "/journal"
        }
        _ = try ToolIO.existingDirectory(directory, "journal directory")
        guard (try? JournalReader.segments(in: directory).isEmpty) == false else {
            throw ValidationError("journal directory \(directory) holds no journal segment (*.seg)")
        }
        return directory
    }

    /// The journal directory if one was given or the data directory has one.
    func optionalJournalDirectory() throws -> String? {
        if journal != nil || dataDirectory.map({ ToolIO.exists($0 + "/journal") }) == true { return try journalDirectory() }
        return nil
    }

    /// The snapshot directory, unchecked (create makes it).
    func snapshotDirectoryPath() throws -> String {
        if let snapshots { return snapshots }
        guard let dataDirectory else { throw ValidationError("give --data-dir or --snapshots") }
        return dataDirectory + "/snapshots"
    }

    /// The snapshot directory, which must exist and hold a snapshot (exit 2 otherwise).
    func snapshotDirectory() throws -> String {
        let directory = try snapshotDirectoryPath()
        if let dataDirectory { _ = try ToolIO.existingDirectory(dataDirectory, "data directory") }
        _ = try ToolIO.existingDirectory(directory, "snapshot directory")
        guard (try? SnapshotStore(directory: directory).names().isEmpty) == false else {
            throw ValidationError("snapshot directory \(directory) holds no snapshot (snap-*.zst)")
        }
        return directory
    }
}

func emit(_ object: [String: Any], json: Bool, text: String) {
    if json {
        ToolIO.printJSON(object)
    } else {
        print(text)
    }
}

func fail(_ message: String) -> ExitCode {
    ToolIO.warn("ledger-snapshot", message)
    return ExitCode(1)
}

/// A snapshot's validity, fully checked, and whether it belongs to the journal.
struct Examined {
    var name: String
    var loaded: (state: ExchangeState, info: SnapshotInfo)?
    var error: String?
    /// nil without a journal to compare with.
    var belongs: Bool?

    var isUsable: Bool { loaded != nil && belongs != false }

    static func examine(_ name: String, in directory: String, journal: String?) -> Examined {
        var result = Examined(name: name)
        do {
            let loaded = try SnapshotFile.load(path: directory + "/" + name)
            result.loaded = loaded
            if let journal {
                result.belongs = (try? Recovery.chain(journalDirectory: journal, through: loaded.info.sequence)) == loaded.info.journalChain
            }
        } catch {
            result.error = "\(error)"
        }
        return result
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Newest snapshot + journal tail → a new snapshot at the journal's last complete block (or --through).")
    @OptionGroup var directories: Directories
    @Option(help: "Snapshot the state after this sequence.") var through: UInt64?
    @Flag var json = false

    func run() throws {
        let journal = try directories.journalDirectory()
        let snapshots = try directories.snapshotDirectoryPath()
        do {
            let store = SnapshotStore(directory: snapshots)
            let lock = try store.lockForWriting(owner: "ledger-snapshot create")
            defer { withExtendedLifetime(lock) {} }
            var progress = ProgressLine(json: json)
            let result = try store.create(journalDirectory: journal, through: through ?? .max) { sequence in
                progress.show("replayed to sequence \(sequence)")
            }
            progress.clear()
            let info = result.info
            guard result.created else {
                emit(
                    ["created": false, "name": info.name, "sequence": Int(info.sequence)], json: json,
                    text: "\(info.name) is already the newest state (sequence \(info.sequence))")
                return
            }
            emit(
                [
                    "created": true, "name": info.name, "sequence": Int(info.sequence), "stateHash": hexString(info.stateHash),
                    "bytes": Int(info.compressedBytes) + SnapshotFile.headerBytes, "replayed": Int(result.entriesReplayed),
                ],
                json: json,
                text:
                    "created \(info.name): sequence \(info.sequence), state hash \(hexString(info.stateHash)), \(info.compressedBytes) bytes compressed (\(info.uncompressedBytes) raw), \(result.entriesReplayed) entries replayed"
            )
        } catch {
            throw fail("\(error)")
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List snapshots with their sequence, state hash and size (headers only).")
    @OptionGroup var directories: Directories
    @Flag var json = false

    func run() throws {
        let store = SnapshotStore(directory: try directories.snapshotDirectory())
        var rows: [[String: Any]] = []
        var unreadable = 0
        for name in try store.names() {
            do {
                let info = try SnapshotFile.readInfo(path: store.path(name))
                rows.append([
                    "name": name, "sequence": Int(info.sequence), "stateHash": hexString(info.stateHash),
                    "bytes": Int(info.compressedBytes), "timeNanos": Int(info.timeNanos),
                ])
                if !json {
                    print(
                        "\(name)  sequence \(info.sequence)  \(ToolIO.isoTime(nanos: info.timeNanos))  hash \(hexString(info.stateHash).prefix(16))…  \(info.compressedBytes) bytes"
                    )
                }
            } catch {
                unreadable += 1
                rows.append(["name": name, "error": "\(error)"])
                if !json { print("\(name)  UNREADABLE: \(error)") }
            }
        }
        if json { emit(["snapshots": rows, "ok": unreadable == 0], json: true, text: "") }
        if unreadable > 0 { throw ExitCode(1) }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "One snapshot in full: header, sequence, time, state hash, sizes, accounts, balances per asset, positions and orders per symbol."
    )
    @OptionGroup var directories: Directories
    @Argument(help: "A snapshot file name in the snapshot directory, or a path (default: the newest).") var snapshot: String?
    @Flag var json = false

    func run() throws {
        let path: String
        if let snapshot, snapshot.contains("/") {
            path = try ToolIO.existingFile(snapshot, "snapshot")
        } else {
            let directory = try directories.snapshotDirectory()
            let newest = try SnapshotStore(directory: directory).names().last!
            let name = snapshot ?? newest
            path = try ToolIO.existingFile(directory + "/" + name, "snapshot")
        }
        let fileBytes = Backup.fileSize(path) ?? 0
        let header: SnapshotInfo
        do {
            header = try SnapshotFile.readInfo(path: path)
        } catch {
            throw fail("\(error)")
        }
        var object: [String: Any] = [
            "file": path, "fileBytes": Int(fileBytes), "formatVersion": Int(SnapshotFile.version),
            "stateEncodingVersion": Int(header.stateEncodingVersion), "sequence": Int(header.sequence),
            "timeNanos": Int(header.timeNanos), "time": ToolIO.isoTime(nanos: header.timeNanos),
            "stateHash": hexString(header.stateHash), "journalChain": hexString(header.journalChain),
            "compressedBytes": Int(header.compressedBytes), "uncompressedBytes": Int(header.uncompressedBytes),
        ]
        var lines = [
            "file: \(path) (\(fileBytes) bytes)",
            "format: snapshot v\(SnapshotFile.version), state encoding v\(header.stateEncodingVersion)",
            "sequence: \(header.sequence)  time: \(ToolIO.isoTime(nanos: header.timeNanos))",
            "state hash: \(hexString(header.stateHash))", "journal chain: \(hexString(header.journalChain))",
            "body: \(header.compressedBytes) bytes zstd, \(header.uncompressedBytes) bytes raw",
        ]
        var failure: String?
        do {
            let summary = try SnapshotFile.load(path: path).state.summary()
            object["valid"] = true
            object["summary"] = summary.json
            lines += summary.lines
        } catch {
            failure = "\(error)"
            object["valid"] = false
            object["error"] = "\(error)"
            lines.append("FINDING: \(error)")
        }
        emit(object, json: json, text: lines.joined(separator: "\n"))
        if failure != nil { throw ExitCode(1) }
    }
}

struct VerifySnapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Load every snapshot fully (checksums, decoding, state hash, invariants); with --against-journal, replay the journal to each one's sequence and compare the states' hashes."
    )
    @OptionGroup var directories: Directories
    @Flag(name: .customLong("against-journal"), help: "Check each snapshot against a replay of the journal.") var againstJournal = false
    @Flag var json = false

    func run() throws {
        let directory = try directories.snapshotDirectory()
        let journal = againstJournal ? try directories.journalDirectory() : try directories.optionalJournalDirectory()
        var rows: [[String: Any]] = []
        var examined: [Examined] = []
        for name in try SnapshotStore(directory: directory).names() {
            let result = Examined.examine(name, in: directory, journal: journal)
            examined.append(result)
        }
        var replayed: [String: String] = [:]
        if againstJournal, let journal {
            replayed = try replayCheck(examined, journal: journal)
        }
        var bad = 0
        for result in examined {
            var row: [String: Any] = [
                "name": result.name, "ok": result.isUsable && replayed[result.name].map { $0.hasPrefix("OK") } != false,
            ]
            var text = result.name
            if let loaded = result.loaded {
                row["sequence"] = Int(loaded.info.sequence)
                text += "  sequence \(loaded.info.sequence)"
                if result.belongs == false {
                    row["error"] = "does not belong to the journal (its chain value differs)"
                    text += "  FINDING: does not belong to the journal (its chain value differs)"
                } else if let verdict = replayed[result.name] {
                    row["replay"] = verdict
                    text += verdict.hasPrefix("OK") ? "  OK, \(verdict.dropFirst(4))" : "  FINDING: \(verdict)"
                } else {
                    text += "  OK"
                }
            } else {
                row["error"] = result.error ?? ""
                text += "  INVALID: \(result.error ?? "")"
            }
            if !(row["ok"] as? Bool ?? false) { bad += 1 }
            rows.append(row)
            if !json { print(text) }
        }
        if json { emit(["snapshots": rows, "ok": bad == 0], json: true, text: "") }
        if bad > 0 { throw ExitCode(1) }
    }

    /// Replays the journal once, oldest snapshot first, and compares the state at each
    /// valid snapshot's sequence with the snapshot's. The journal's history starts at
    /// genesis, or (after retention) at the oldest valid snapshot, which is then the base.
    func replayCheck(_ examined: [Examined], journal: String) throws -> [String: String] {
        var verdicts: [String: String] = [:]
        let valid = examined.compactMap { $0.belongs == true ? $0.loaded : nil }.sorted { $0.info.sequence < $1.info.sequence }
        guard !valid.isEmpty else { return verdicts }
        let first = (try? JournalReader.segments(in: journal).first.flatMap(JournalFormat.firstSequence(ofSegmentNamed:))) ?? 1
        var state = ExchangeState()
        var pending = valid[...]
        if first > 1 {
            let firstSegment = first
            let base = pending.removeFirst()
            state = base.state
            verdicts[base.info.name] = "OK: the base of the retained journal (it starts at \(firstSegment)); checked by its own hash"
        }
        var progress = ProgressLine(json: json)
        for target in pending {
            do {
                try Recovery.applyJournal(to: &state, journalDirectory: journal, through: target.info.sequence) { sequence, _ in
                    progress.show("replayed to sequence \(sequence) of \(target.info.sequence)")
                }
            } catch {
                progress.clear()
                throw fail("replaying the journal toward \(target.info.name): \(error)")
            }
            let replayedHash = state.stateHash()
            let snapshotHash = target.state.stateHash()
            verdicts[target.info.name] =
                replayedHash == snapshotHash && state.lastSequence == target.info.sequence
                ? "OK: equals a replay of the journal to \(target.info.sequence)"
                : "a replay of the journal to \(target.info.sequence) gives state hash \(hexString(replayedHash)), the snapshot holds \(hexString(snapshotHash))"
        }
        progress.clear()
        return verdicts
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Delete valid snapshots beyond the newest N valid ones. Invalid snapshots are never deleted and never counted; they are reported (exit 1)."
    )
    @OptionGroup var directories: Directories
    @Option(help: "How many valid snapshots to keep (≥ 1).") var keep: Int
    @Flag var json = false

    func validate() throws {
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
    }

    func run() throws {
        let directory = try directories.snapshotDirectory()
        let journal = try directories.optionalJournalDirectory()
        let store = SnapshotStore(directory: directory)
        var removed: [String] = []
        var kept: [String] = []
        var invalid: [(name: String, reason: String)] = []
        do {
            let lock = try store.lockForWriting(owner: "ledger-snapshot prune")
            defer { withExtendedLifetime(lock) {} }
            // Newest first: the first `keep` usable ones stay. With a journal, usable means
            // it belongs to it too, so the snapshot that recovery of the retained journal
            // needs (the newest usable one) is always among those kept.
            for name in try store.names().reversed() {
                let result = Examined.examine(name, in: directory, journal: journal)
                if !result.isUsable {
                    invalid.append((name, result.error ?? "does not belong to the journal (its chain value differs)"))
                } else if kept.count < keep {
                    kept.append(name)
                } else {
                    removed.append(name)
                }
            }
            for name in removed { try PosixStorage().remove(store.path(name)) }
            if !removed.isEmpty { try PosixStorage().syncDirectory(directory) }
        } catch {
            throw fail("\(error)")
        }
        var lines = kept.map { "kept \($0)" } + removed.map { "removed \($0)" }
        lines += invalid.map { "FINDING: \($0.name) left in place: \($0.reason)" }
        if kept.isEmpty { lines.append("FINDING: no valid snapshot: nothing was removed") }
        emit(
            [
                "kept": kept, "removed": removed, "invalid": invalid.map { ["name": $0.name, "reason": $0.reason] },
                "ok": invalid.isEmpty && !kept.isEmpty,
            ], json: json, text: lines.joined(separator: "\n"))
        if !invalid.isEmpty || kept.isEmpty { throw ExitCode(1) }
    }
}
