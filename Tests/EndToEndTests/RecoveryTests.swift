import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
import Testing

@Suite(.serialized) struct RecoveryTests {
    /// Fills a daemon with `count` commands through small segments — more, 1,000 at a time,
    /// until the journal has `segmentsMin` segments (how many bytes an entry takes after LZ4
    /// depends on how large the group-commit batches were, so on the machine's load) — then
    /// stops it cleanly.
    func filledDaemon(count: Int, segmentsMin: Int = 1) throws -> DaemonProcess {
        let daemon = DaemonProcess(extraArguments: ["--segment-bytes", "16384"])
        try daemon.start()
        let connection = try daemon.connect()
        try E2EExchange.run(E2EExchange.genesis, on: connection)
        var sent = 0
        while true {
            let segments = try FileManager.default.contentsOfDirectory(atPath: daemon.journalDirectory).count { $0.hasSuffix(".seg") }
            if sent >= count && segments >= segmentsMin { break }
            let chunk = (sent..<sent + 1_000).map {
                Command.deposit(Transfer(transferID: UInt64($0 + 1), account: UInt64($0 % 20 + 1), asset: 0, amountMinor: 1_000_000))
            }
            try E2EExchange.run(chunk, on: connection, firstID: UInt64(sent + 10))
            sent += chunk.count
            if sent >= 100 * count { break }
        }
        #expect(daemon.terminate() == 0)
        return daemon
    }

    @Test func aFlippedByteInASealedBlockStopsTheDaemonAndFailsVerify() throws {
        let daemon = try filledDaemon(count: 6_000, segmentsMin: 3)
        defer { daemon.cleanup() }
        let segments = try FileManager.default.contentsOfDirectory(atPath: daemon.journalDirectory).filter { $0.hasSuffix(".seg") }.sorted()
        #expect(segments.count >= 3)
        let target = segments[1]
        let path = daemon.journalDirectory + "/" + target
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[400] ^= 0x20
        try data.write(to: URL(fileURLWithPath: path))

        let failure = try daemon.startExpectingFailure()
        #expect(failure.status != 0)
        #expect(failure.log.contains(target), "log names the segment: \(failure.log)")
        #expect(failure.log.contains("at byte"), "log names the offset: \(failure.log)")
        #expect(failure.log.contains("ledger-replay verify"))

        let verify = try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory])
        #expect(verify.status == 1)
        #expect(verify.output.contains(target))
    }

    @Test func aJournalCutInsideItsLastBlockIsTrimmedAndTheDaemonStarts() throws {
        let daemon = try filledDaemon(count: 3_000)
        defer { daemon.cleanup() }
        let segments = try FileManager.default.contentsOfDirectory(atPath: daemon.journalDirectory).filter { $0.hasSuffix(".seg") }.sorted()
        let path = daemon.journalDirectory + "/" + segments.last!
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 7).write(to: URL(fileURLWithPath: path))
        let verify = try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory])
        #expect(verify.status == 1, "a torn tail is a finding until ledgerd trims it")

        try daemon.start()
        #expect(daemon.log_().contains("cut a torn journal tail"))
        let state = try daemon.stateHash()
        #expect(state.sequence > 0)
        #expect(daemon.terminate() == 0)
        let after = try runTool("ledger-replay", ["verify", "--data-dir", daemon.dataDirectory])
        #expect(after.status == 0, "\(after.output)")
    }

    @Test func theDaemonsStateHashEqualsTheAuditsAndSurvivesARestartFromASnapshot() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        let load = try runTool(
            "ledger-load",
            [
                "--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--setup", "--accounts", "100", "--commands",
                "20000", "--connections", "2", "--window", "1000",
            ])
        #expect(load.status == 0, "\(load.error)")
        let reported = try daemon.stateHash()
        #expect(daemon.terminate() == 0)
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 0, "\(audit.output)")
        #expect(audit.output.contains("\"stateHash\":\"\(reported.hash)\""))
        #expect(audit.output.contains("\"mismatches\":0"))

        // Snapshot offline, restart: same state, recovered from the snapshot.
        let created = try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory])
        #expect(created.status == 0, "\(created.error)")
        try daemon.start()
        #expect(daemon.log_().contains("snapshot=snap-"))
        // No projector here: the log says that nothing goes to PostgreSQL.
        #expect(daemon.log_().contains("projector off (projector.enabled = false)"), "\(daemon.log_().suffix(2_000))")
        #expect(try daemon.stateHash().hash == reported.hash)
        #expect(daemon.terminate() == 0)
    }

    @Test func sigtermAnswersEverythingItAcceptedAndExitsZero() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try daemon.connect()
        try E2EExchange.run(E2EExchange.genesis, on: connection)
        let count = 20_000
        let frames = (0..<count).map {
            WireFrame.command(
                requestID: UInt64($0 + 1), .deposit(Transfer(transferID: UInt64($0 + 1), account: 1, asset: 0, amountMinor: 1)))
        }
        try connection.send(frames)
        // Terminate once the daemon is busy with the flood (some requests answered).
        guard case .committed = try connection.receive() else {
            Issue.record("the first reply was not a commit")
            return
        }
        let terminator = Thread { daemon.terminate() }
        terminator.start()
        // Whatever the daemon read before SIGTERM is executed, journaled and answered;
        // what it read after gets UNAVAILABLE; what it never read gets nothing (the client
        // retries; transfers are idempotent). No request is answered twice.
        var replies = 1
        var committed = 1
        var seen: Set<UInt64> = [1]
        var lastError: Error? = nil
        while true {
            let frame: WireFrame
            do { frame = try connection.receive() } catch { lastError = error; break }
            replies += 1
            #expect(seen.insert(frame.requestID).inserted, "request \(frame.requestID) answered twice")
            switch frame {
            case .committed: committed += 1
            case .error(_, .unavailable, _): break
            default: Issue.record("unexpected reply \(frame)")
            }
        }
        // End of stream: a gateway closes its side (the daemon stops waiting for it).
        connection.shutdownBoth()
        #expect(replies <= count)
        #expect(daemon.terminate() == 0)
        // Every journaled entry's reply arrived before the connection closed.
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(
            // ledgerd's genesis entry, the three of E2EExchange.genesis, then the deposits.
            audit.output.contains("\"sequence\":\(4 + committed)"),
            "\(audit.output) committed \(committed) replies \(replies) maxID \(seen.max() ?? 0) lastError \(String(describing: lastError))")
    }
}
