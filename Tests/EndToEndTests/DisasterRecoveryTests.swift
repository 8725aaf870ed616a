import Foundation
import LedgerCore
import Testing

/// The disaster-recovery tools against the real binaries and a journal the real ledgerd
/// wrote under `ledger-load` (docs/OPERATIONS.md, "Backups, restore and the DR drill").
@Suite struct DisasterRecoveryTests {
    /// A running ledgerd with small segments, after `commands` load commands.
    func loadedDaemon(commands: Int, segmentBytes: Int = 32_768) throws -> DaemonProcess {
        let daemon = DaemonProcess(extraArguments: ["--segment-bytes", String(segmentBytes)])
        try daemon.start()
        let load = try runTool("ledger-load", loadArguments(daemon, commands: commands, setup: true))
        #expect(load.status == 0, "\(load.error)")
        return daemon
    }

    func loadArguments(_ daemon: DaemonProcess, commands: Int, setup: Bool) -> [String] {
        ["--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--accounts", "100", "--commands", String(commands)]
            + ["--connections", "2", "--window", "500"] + (setup ? ["--setup"] : [])
    }

    func json(_ text: String) throws -> [String: Any] {
        let line = try #require(text.split(separator: "\n").last.map(String.init), "no output")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    func segments(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
    }

    func temporary(_ label: String) -> String {
        NSTemporaryDirectory() + "ledger-dr-\(label)-" + UUID().uuidString
    }

    @Test func aBackupTakenUnderLoadRestoresToTheAuditedStateAndTheNextCopiesOnlyNewSegments() throws {
        let daemon = try loadedDaemon(commands: 10_000)
        let backup = temporary("backup")
        let restored = temporary("restored")
        defer {
            daemon.cleanup()
            for path in [backup, restored] { try? FileManager.default.removeItem(atPath: path) }
        }
        let created = try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(created.status == 0, "\(created.error)")

        // The backup runs while ledger-load keeps the daemon writing.
        let load = Process()
        load.executableURL = URL(fileURLWithPath: binDirectory + "/ledger-load")
        load.arguments = loadArguments(daemon, commands: 30_000, setup: false)
        load.standardOutput = FileHandle.nullDevice
        load.standardError = FileHandle.nullDevice
        let atSnapshot = segments(daemon.journalDirectory).count
        try processLock.withLock { try load.run() }
        // Once the load has written two segments past the snapshot's (or ended).
        while segments(daemon.journalDirectory).count < atSnapshot + 2 && load.isRunning { usleep(10_000) }
        let first = try runTool("ledger-snapshot", ["backup", "--data-dir", daemon.dataDirectory, "--to", backup, "--json"])
        load.waitUntilExit()
        #expect(load.terminationStatus == 0)
        #expect(first.status == 0, "\(first.output) \(first.error)")
        let firstReport = try json(first.output)
        let head = try #require(firstReport["headSequence"] as? Int)
        let stateHash = try #require(firstReport["stateHash"] as? String)
        #expect((firstReport["snapshot"] as? String)?.hasPrefix("snap-") == true)

        // audit of the live journal through the backup's head gives the manifest's hash.
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--through", String(head), "--json"])
        #expect(audit.status == 0, "\(audit.output)")
        #expect(try json(audit.output)["stateHash"] as? String == stateHash)

        // The drill sees the live journal ahead of the backup: the RPO in entries.
        let live = try daemon.stateHash()
        let drill = try runTool("ledger-replay", ["drill", "--backup", backup, "--json"])
        #expect(drill.status == 0, "\(drill.output) \(drill.error)")
        let drilled = try json(drill.output)
        #expect(drilled["recoveredStateHash"] as? String == stateHash)
        #expect((drilled["rtoSeconds"] as? Double ?? -1) > 0)
        // (At least: ledgerd may journal a tick of its own meanwhile.)
        #expect((drilled["rpoEntries"] as? Int ?? -1) >= Int(live.sequence) - head, "\(drilled)")
        #expect(Int(live.sequence) > head)

        // Restored, ledgerd starts on it with exactly that state.
        let restore = try runTool("ledger-snapshot", ["restore", "--from", backup, "--data-dir", restored])
        #expect(restore.status == 0, "\(restore.output) \(restore.error)")
        #expect(restore.output.contains("head sequence \(head)"))
        let again = try runTool("ledger-snapshot", ["restore", "--from", backup, "--data-dir", restored])
        #expect(again.status == 2 && again.error.contains("not empty"), "\(again.error)")
        let forced = try runTool("ledger-snapshot", ["restore", "--from", backup, "--data-dir", restored, "--force"])
        #expect(
            forced.status == 0
                && forced.output.contains("moved the data directory's journal and snapshots aside into \(restored)/replaced-"),
            "\(forced.output)")
        let standby = DaemonProcess(dataDirectory: restored)
        defer { standby.cleanup() }
        try standby.start()
        let recovered = try standby.stateHash()
        #expect(recovered.sequence == SequenceNumber(head) && recovered.hash == stateHash)
        #expect(standby.terminate() == 0)

        // The second backup copies only what changed: every sealed segment of the first
        // backup and its snapshot are kept, and only segments from its last one on copied.
        let firstSegments = segments(backup + "/journal")
        let second = try runTool("ledger-snapshot", ["backup", "--data-dir", daemon.dataDirectory, "--to", backup, "--json"])
        #expect(second.status == 0, "\(second.output) \(second.error)")
        let secondReport = try json(second.output)
        let copied = try #require(secondReport["copied"] as? [String])
        let kept = try #require(secondReport["kept"] as? [String])
        #expect(firstSegments.count >= 2, "\(firstSegments)")
        #expect(Set(firstSegments.dropLast().map { "journal/" + $0 }).isSubset(of: Set(kept)), "kept \(kept)")
        #expect(kept.contains { $0.hasPrefix("snapshots/") })
        #expect(
            !copied.isEmpty && copied.allSatisfy { $0.hasPrefix("journal/") && String($0.dropFirst(8)) >= firstSegments.last! }, "\(copied)"
        )
        #expect((secondReport["headSequence"] as? Int ?? 0) >= Int(live.sequence))
    }

    /// A good backup of a stopped daemon's data directory (two snapshots' worth of journal).
    func backupOfAStoppedDaemon() throws -> (daemon: DaemonProcess, backup: String) {
        let daemon = try loadedDaemon(commands: 8_000)
        #expect(daemon.terminate() == 0)
        let backup = temporary("backup")
        #expect(try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory]).status == 0)
        let made = try runTool("ledger-snapshot", ["backup", "--data-dir", daemon.dataDirectory, "--to", backup])
        #expect(made.status == 0, "\(made.output) \(made.error)")
        return (daemon, backup)
    }

    enum Damage: String, CaseIterable {
        case flippedByte, missingSegment, manifestMismatch
    }

    @Test func theDrillPassesAGoodBackupAndFailsEachKindOfDamage() throws {
        let (daemon, backup) = try backupOfAStoppedDaemon()
        defer {
            daemon.cleanup()
            try? FileManager.default.removeItem(atPath: backup)
        }
        let good = try runTool("ledger-replay", ["drill", "--backup", backup])
        #expect(good.status == 0, "\(good.output) \(good.error)")
        #expect(good.output.contains("RTO: ") && good.output.contains("RPO: 0 entries"), "\(good.output)")
        let copied = segments(backup + "/journal")
        for damage in Damage.allCases {
            let broken = temporary(damage.rawValue)
            defer { try? FileManager.default.removeItem(atPath: broken) }
            try FileManager.default.copyItem(atPath: backup, toPath: broken)
            let expected: String
            switch damage {
            case .flippedByte:
                let path = broken + "/journal/" + copied.last!
                var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                bytes[bytes.count / 2] ^= 0x01
                try bytes.write(to: URL(fileURLWithPath: path))
                expected = "\(path): SHA-256"
            case .missingSegment:
                let path = broken + "/journal/" + copied.first!
                try FileManager.default.removeItem(atPath: path)
                expected = "\(path) is missing"
            case .manifestMismatch:
                let path = broken + "/manifest.json"
                var manifest = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
                manifest["stateHash"] = String(repeating: "0", count: 64)
                try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: path))
                expected = "differs from the manifest's \(String(repeating: "0", count: 64))"
            }
            let drill = try runTool("ledger-replay", ["drill", "--backup", broken])
            #expect(drill.status == 1, "\(damage): \(drill.output) \(drill.error)")
            #expect(drill.output.contains("FINDING") && drill.output.contains(expected), "\(damage): \(drill.output)")
            #expect(!drill.output.contains("RTO: "), "\(damage)")
            // restore refuses it too, and places nothing.
            let target = temporary("target")
            defer { try? FileManager.default.removeItem(atPath: target) }
            let restore = try runTool("ledger-snapshot", ["restore", "--from", broken, "--data-dir", target])
            #expect(restore.status == 1 && restore.output.contains("nothing was placed"), "\(damage): \(restore.output)")
            #expect(!FileManager.default.fileExists(atPath: target + "/journal"))
        }
    }

    @Test func verifyOfAJournalWithoutItsFirstSegmentExitsOneAndNamesTheGap() throws {
        let daemon = try loadedDaemon(commands: 8_000)
        defer { daemon.cleanup() }
        #expect(daemon.terminate() == 0)
        let created = try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory, "--json"])
        let snapshot = try #require(try json(created.output)["name"] as? String)
        let names = segments(daemon.journalDirectory)
        #expect(names.count >= 3, "\(names)")
        try FileManager.default.removeItem(atPath: daemon.journalDirectory + "/" + names[0])
        let second = try #require(JournalFormatNames.firstSequence(names[1]))

        let verify = try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory])
        #expect(verify.status == 1, "\(verify.output)")
        #expect(verify.output.contains("FINDING (missingHistory) segment \(names[1]) at byte 0"), "\(verify.output)")
        #expect(verify.output.contains("entries 1…\(second - 1) are not in this journal"), "\(verify.output)")
        // Naming the snapshot that covers them: OK, and it says so.
        let covered = try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory, "--snapshot", snapshot])
        #expect(covered.status == 0, "\(covered.output)")
        #expect(covered.output.contains("covered by snapshot \(snapshot)"), "\(covered.output)")
        // ledgerd starts from the snapshot and says where the history before the journal is.
        try daemon.start()
        #expect(daemon.log_().contains("the journal starts after sequence 1"), "\(daemon.log_())")
        #expect(daemon.terminate() == 0)
        // Without the snapshot, ledgerd refuses and names the missing entries.
        try FileManager.default.removeItem(atPath: daemon.dataDirectory + "/snapshots/" + snapshot)
        let refused = try daemon.startExpectingFailure()
        #expect(refused.log.contains("entries 1…\(second - 1) are missing"), "\(refused.log)")
    }

    @Test func pruneNeverDeletesTheLastValidSnapshotWhateverIsCorruptAroundIt() throws {
        let daemon = try loadedDaemon(commands: 6_000)
        defer { daemon.cleanup() }
        #expect(daemon.terminate() == 0)
        let head = try #require(
            try json(try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory, "--json"]).output)["lastSequence"] as? Int)
        var names: [String] = []
        for through in [head / 4, head / 2, head] {
            let created = try runTool(
                "ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory, "--through", String(through), "--json"])
            names.append(try #require(try json(created.output)["name"] as? String))
        }
        let directory = daemon.dataDirectory + "/snapshots/"
        // The newest and the oldest damaged: the middle one is the only valid snapshot.
        for name in [names[0], names[2]] {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: directory + name))
            bytes[bytes.count - 10] ^= 0x20
            try bytes.write(to: URL(fileURLWithPath: directory + name))
        }
        let prune = try runTool("ledger-snapshot", ["prune", "--data-dir", daemon.dataDirectory, "--keep", "1"])
        #expect(prune.status == 1, "\(prune.output)")
        #expect(prune.output.contains("kept \(names[1])"))
        #expect(prune.output.contains("FINDING: \(names[2]) left in place") && prune.output.contains("FINDING: \(names[0]) left in place"))
        for name in names { #expect(FileManager.default.fileExists(atPath: directory + name), "\(name) was deleted") }
        // audit --from-snapshot says which snapshot it passed over, and starts from the valid one.
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--from-snapshot"])
        #expect(audit.status == 1 && audit.output.contains("FINDING: snapshot \(names[2]) is not valid"), "\(audit.output)")
        #expect(audit.output.contains("from \(names[1])"), "\(audit.output)")
        // With every snapshot valid again, prune removes the older ones and keeps the newest.
        for name in [names[0], names[2]] { try FileManager.default.removeItem(atPath: directory + name) }
        _ = try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory])
        let clean = try runTool("ledger-snapshot", ["prune", "--data-dir", daemon.dataDirectory, "--keep", "1", "--json"])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(try json(clean.output)["removed"] as? [String] == [names[1]])
        #expect(try json(clean.output)["kept"] as? [String] == [names[2]])
    }

    @Test func trimmingTheJournalKeepsWhatRecoveryFromTheOldestSnapshotNeeds() throws {
        let daemon = try loadedDaemon(commands: 8_000)
        let backup = temporary("backup")
        defer {
            daemon.cleanup()
            try? FileManager.default.removeItem(atPath: backup)
        }
        let head = try daemon.stateHash()
        #expect(daemon.terminate() == 0)
        let middle = Int(head.sequence) / 2
        let oldest = try #require(
            try json(
                try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory, "--through", String(middle), "--json"])
                    .output)["name"] as? String)
        #expect(try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory]).status == 0)
        let before = segments(daemon.journalDirectory)
        let trimmed = try runTool(
            "ledger-snapshot", ["backup", "--data-dir", daemon.dataDirectory, "--to", backup, "--trim-journal", "--json"])
        #expect(trimmed.status == 0, "\(trimmed.output) \(trimmed.error)")
        let removed = try #require(try json(trimmed.output)["trimmedSegments"] as? [String])
        let after = segments(daemon.journalDirectory)
        #expect(!removed.isEmpty && removed == Array(before.prefix(removed.count)), "\(removed) of \(before)")
        #expect(after == Array(before.dropFirst(removed.count)))
        // The first segment left holds the oldest snapshot's sequence (or starts right after it).
        #expect(try #require(JournalFormatNames.firstSequence(after[0])) <= middle + 1)
        let covered = try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory, "--snapshot", oldest])
        #expect(covered.status == 0 && covered.output.contains("covered by snapshot \(oldest)"), "\(covered.output)")
        // Every snapshot still checks against what is left, and ledgerd recovers the same state.
        let checked = try runTool("ledger-snapshot", ["verify", "--data-dir", daemon.dataDirectory, "--against-journal"])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(
            checked.output.contains("the base of the retained journal") && checked.output.contains("equals a replay"), "\(checked.output)")
        try daemon.start()
        #expect(try daemon.stateHash() == head)
        #expect(daemon.terminate() == 0)
    }

    @Test func inspectSummarizesASnapshotAndVerifyComparesEachWithTheJournal() throws {
        let daemon = try loadedDaemon(commands: 4_000)
        let other = try loadedDaemon(commands: 4_500)
        defer {
            daemon.cleanup()
            other.cleanup()
        }
        #expect(daemon.terminate() == 0 && other.terminate() == 0)
        let created = try json(try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory, "--json"]).output)
        let name = try #require(created["name"] as? String)
        let inspected = try runTool("ledger-snapshot", ["inspect", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(inspected.status == 0, "\(inspected.error)")
        let report = try json(inspected.output)
        #expect(
            report["sequence"] as? Int == created["sequence"] as? Int && report["stateHash"] as? String == created["stateHash"] as? String)
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["accounts"] as? Int == 100)
        let symbols = try #require(summary["symbols"] as? [[String: Any]])
        #expect(symbols.map { $0["symbol"] as? String } == ["BTCUSDT", "ETHUSDT"])
        #expect(symbols.allSatisfy { ($0["openInterestUnits"] as? Int ?? 0) > 0 && ($0["restingOrders"] as? Int ?? 0) > 0 })
        let text = try runTool("ledger-snapshot", ["inspect", daemon.dataDirectory + "/snapshots/" + name])
        #expect(text.status == 0 && text.output.contains("accounts: 100 ") && text.output.contains("symbol BTCUSDT: open interest"))

        let verified = try runTool("ledger-snapshot", ["verify", "--data-dir", daemon.dataDirectory, "--against-journal"])
        #expect(verified.status == 0 && verified.output.contains("\(name)  sequence"), "\(verified.output)")
        #expect(verified.output.contains("equals a replay of the journal to"), "\(verified.output)")
        // A snapshot of another ledger's journal at the same sequence does not belong here.
        let foreign = try json(
            try runTool(
                "ledger-snapshot",
                ["create", "--data-dir", other.dataDirectory, "--through", String(created["sequence"] as! Int), "--json"]
            ).output)
        #expect(foreign["name"] as? String == name)
        try FileManager.default.removeItem(atPath: daemon.dataDirectory + "/snapshots/" + name)
        try FileManager.default.copyItem(
            atPath: other.dataDirectory + "/snapshots/" + name, toPath: daemon.dataDirectory + "/snapshots/" + name)
        let mismatch = try runTool("ledger-snapshot", ["verify", "--data-dir", daemon.dataDirectory, "--against-journal"])
        #expect(mismatch.status == 1 && mismatch.output.contains("FINDING: does not belong to the journal"), "\(mismatch.output)")
        // A damaged one: inspect says so with the bytes, exit 1.
        let path = daemon.dataDirectory + "/snapshots/" + name
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: path))
        let damaged = try runTool("ledger-snapshot", ["inspect", path])
        #expect(
            damaged.status == 1 && damaged.output.contains("FINDING: snapshot \(path) is invalid: body checksum mismatch (bytes 116…"),
            "\(damaged.output)")
    }

    @Test func rebuildToASequenceAndToATimeGivesTheHashAuditPrintsThroughIt() throws {
        let daemon = try loadedDaemon(commands: 6_000)
        defer { daemon.cleanup() }
        #expect(daemon.terminate() == 0)
        // An entry followed by none within the next whole millisecond: the state at that
        // millisecond's end is the state after it.
        let dump = try runTool("ledger-replay", ["dump", "--data-dir", daemon.dataDirectory, "--from", "3000", "--through", "5000"])
        let times = try dump.output.split(separator: "\n").map { line -> (Int, Int) in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return (try #require(object["sequence"] as? Int), try #require(object["timeNanos"] as? Int))
        }
        let index = try #require(times.indices.dropLast().first { times[$0 + 1].1 > (times[$0].1 / 1_000_000 + 1) * 1_000_000 })
        let (sequence, nanos) = times[index]
        let audit = try json(
            try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--through", String(sequence), "--json"]).output)
        let expected = try #require(audit["stateHash"] as? String)
        let milliseconds = nanos / 1_000_000 + 1
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let isoTime = iso.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        for point in [String(sequence), "\(milliseconds)ms", isoTime] {
            let out = temporary("rebuild")
            defer { try? FileManager.default.removeItem(atPath: out) }
            let rebuilt = try runTool(
                "ledger-replay", ["rebuild", "--data-dir", daemon.dataDirectory, "--to", point, "--out", out, "--json"])
            #expect(rebuilt.status == 0, "\(point): \(rebuilt.output) \(rebuilt.error)")
            let report = try json(rebuilt.output)
            #expect(report["sequence"] as? Int == sequence, "\(point): \(report)")
            #expect(report["stateHash"] as? String == expected, "\(point)")
            #expect(FileManager.default.fileExists(atPath: try #require(report["snapshot"] as? String)))
        }
    }

    @Test func dumpFiltersByAccountSymbolKindAndTime() throws {
        let daemon = try loadedDaemon(commands: 3_000)
        defer { daemon.cleanup() }
        #expect(daemon.terminate() == 0)
        func lines(_ extra: [String]) throws -> [[String: Any]] {
            let dump = try runTool("ledger-replay", ["dump", "--data-dir", daemon.dataDirectory] + extra)
            #expect(dump.status == 0, "\(dump.error)")
            return try dump.output.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        let all = try lines([])
        func names(_ entry: [String: Any], _ keys: Set<String>, _ value: Int) -> Bool {
            let objects = [entry["command"] as! [String: Any]] + (entry["events"] as! [[String: Any]])
            return objects.contains { object in keys.contains { object[$0] as? Int == value } }
        }
        func kinds(_ entry: [String: Any]) -> Set<String> {
            Set(([entry["command"] as! [String: Any]] + (entry["events"] as! [[String: Any]])).compactMap { $0["type"] as? String })
        }
        let accountKeys: Set<String> = ["account", "makerAccount", "takerAccount", "counterparty"]
        let byAccount = try lines(["--account", "7"])
        #expect(!byAccount.isEmpty && byAccount.count == all.filter { names($0, accountKeys, 7) }.count)
        let listing = try #require(all.first { ($0["command"] as! [String: Any])["name"] as? String == "BTCUSDT" })
        let btc = try #require((listing["command"] as! [String: Any])["symbolId"] as? Int)
        let trades = try lines(["--kind", "trade", "--symbol", "BTCUSDT"])
        #expect(!trades.isEmpty && trades.count == all.filter { kinds($0).contains("TRADE") && names($0, ["symbolId"], btc) }.count)
        let middle = all[all.count / 2]["timeNanos"] as! Int
        let late = try lines(["--from-time", "\(middle / 1_000_000)"])
        #expect(late.count == all.filter { ($0["timeNanos"] as! Int) >= middle / 1_000_000 * 1_000_000 }.count)
        #expect(try lines(["--from", "10", "--through", "19"]).map { $0["sequence"] as! Int } == Array(10...19))
    }
}

/// Segment names (docs/FORMATS.md): twenty digits of the first sequence and `.seg`.
enum JournalFormatNames {
    static func firstSequence(_ name: String) -> Int? { Int(name.prefix(20)) }
}
