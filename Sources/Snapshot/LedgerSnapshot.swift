import ArgumentParser
import Foundation
import Journal
import LedgerCore
import Snapshots
import ToolSupport

/// Exit codes: 0 ok, 1 a finding (an invalid snapshot), 2 bad usage.
@main
struct LedgerSnapshot: ParsableCommand {
    static func main() { mainWithProjectExitCodes() }

    static let configuration = CommandConfiguration(
        commandName: "ledger-snapshot",
        abstract: "Create, list, verify and prune ExchangeLedger state snapshots, offline (the daemon never pauses).",
        subcommands: [Create.self, List.self, VerifySnapshots.self, Prune.self])
}

struct Directories: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "ledgerd's data directory (journal/ and snapshots/).") var dataDirectory: String?
    @Option(help: "The journal directory (default: DATA-DIR/journal).") var journal: String?
    @Option(help: "The snapshot directory (default: DATA-DIR/snapshots).") var snapshots: String?

    func validate() throws {
        guard dataDirectory != nil || (journal != nil && snapshots != nil) || snapshots != nil else {
            throw ValidationError("give --data-dir, or --snapshots (and --journal for create)")
        }
    }

    func journalDirectory() throws -> String {
        if let journal { return journal }
        guard let dataDirectory else { throw ValidationError("give --data-dir or --journal") }
        return dataDirectory + "/journal"
    }

    func snapshotDirectory() throws -> String {
        if let snapshots { return snapshots }
        guard let dataDirectory else { throw ValidationError("give --data-dir or --snapshots") }
        return dataDirectory + "/snapshots"
    }
}

func emit(_ object: [String: Any], json: Bool, text: String) {
    if json {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(text)
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
        let snapshots = try directories.snapshotDirectory()
        do {
            let store = SnapshotStore(directory: snapshots)
            let lock = try store.lockForWriting(owner: "ledger-snapshot create")
            defer { withExtendedLifetime(lock) {} }
            let result = try store.create(journalDirectory: journal, through: through ?? .max)
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
            FileHandle.standardError.write(Data("ledger-snapshot: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List snapshots with their sequence, state hash and size.")
    @OptionGroup var directories: Directories
    @Flag var json = false

    func run() throws {
        let store = SnapshotStore(directory: try directories.snapshotDirectory())
        var rows: [[String: Any]] = []
        for name in try store.names() {
            do {
                let info = try SnapshotFile.readInfo(path: store.path(name))
                rows.append([
                    "name": name, "sequence": Int(info.sequence), "stateHash": hexString(info.stateHash),
                    "bytes": Int(info.compressedBytes), "timeNanos": Int(info.timeNanos),
                ])
                if !json {
                    print(
                        "\(name)  sequence \(info.sequence)  hash \(hexString(info.stateHash).prefix(16))…  \(info.compressedBytes) bytes")
                }
            } catch {
                rows.append(["name": name, "error": "\(error)"])
                if !json { print("\(name)  UNREADABLE: \(error)") }
            }
        }
        if json { emit(["snapshots": rows], json: true, text: "") }
    }
}

struct VerifySnapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Load every snapshot fully: checksums, decoding, state hash, invariants.")
    @OptionGroup var directories: Directories
    @Flag var json = false

    func run() throws {
        let store = SnapshotStore(directory: try directories.snapshotDirectory())
        var bad = 0
        var rows: [[String: Any]] = []
        for name in try store.names() {
            do {
                let loaded = try SnapshotFile.load(path: store.path(name))
                rows.append(["name": name, "ok": true, "sequence": Int(loaded.info.sequence)])
                if !json { print("\(name)  OK  sequence \(loaded.info.sequence)") }
            } catch {
                bad += 1
                rows.append(["name": name, "ok": false, "error": "\(error)"])
                if !json { print("\(name)  INVALID: \(error)") }
            }
        }
        if json { emit(["snapshots": rows, "ok": bad == 0], json: true, text: "") }
        if bad > 0 { throw ExitCode(1) }
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete all but the newest N snapshots.")
    @OptionGroup var directories: Directories
    @Option(help: "How many to keep (≥ 1).") var keep: Int
    @Flag var json = false

    func validate() throws {
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
    }

    func run() throws {
        let store = SnapshotStore(directory: try directories.snapshotDirectory())
        let removed: [String]
        do {
            let lock = try store.lockForWriting(owner: "ledger-snapshot prune")
            defer { withExtendedLifetime(lock) {} }
            removed = try store.prune(keep: keep)
        } catch {
            FileHandle.standardError.write(Data("ledger-snapshot: \(error)\n".utf8))
            throw ExitCode(1)
        }
        emit(["removed": removed], json: json, text: removed.isEmpty ? "nothing to remove" : "removed " + removed.joined(separator: ", "))
    }
}
