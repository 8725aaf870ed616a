import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
import Testing

/// Issue 7's black-box findings, each against the real ledgerd: refused before the
/// journal, the daemon restarts, audit passes; one owner per data directory.
@Suite(.serialized) struct RobustnessTests {
    static let longName = String(repeating: "A", count: 65)
    static let idTooLarge = "9223372036854775808"  // 2^63

    @Test func poisonNamesAndIdsFromTwoTo63AreRefusedBeforeTheJournal() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let admin = try daemon.connect()
        try E2EExchange.run(E2EExchange.genesis, on: admin)
        let before = try daemon.stateHash()

        // HTTP: a 65-byte name, an empty bracket list, an account, a transfer id and a
        // client order id of 2^63. Each is a 400 naming the field; nothing is journaled.
        let http: [(String, String, String?, String)] = [
            ("POST", "/v1/asset", #"{"name":"\#(Self.longName)","scale":6}"#, "asset name"),
            (
                "POST", "/v1/symbol",
                #"{"name":"\#(Self.longName)","settleAsset":"USDT","priceScale":1,"quantityScale":3,"tickSize":"0.1","stepSize":"0.001","minNotional":"5","maxPrice":"1000000","maxQty":"1000","maxPosition":"10000","maxLeverage":20,"defaultLeverage":10,"makerFeeRate":"0.0002","takerFeeRate":"0.0005"}"#,
                "symbol name"
            ),
            (
                "POST", "/v1/symbol",
                #"{"name":"ETHUSDT","settleAsset":"USDT","priceScale":1,"quantityScale":3,"tickSize":"0.1","stepSize":"0.001","minNotional":"5","maxPrice":"1000000","maxQty":"1000","maxPosition":"10000","maxLeverage":20,"defaultLeverage":10,"makerFeeRate":"0.0002","takerFeeRate":"0.0005","brackets":""}"#,
                "bracket count"
            ),
            ("POST", "/v1/deposit", #"{"account":\#(Self.idTooLarge),"asset":"USDT","amount":"1","transferId":1}"#, "account"),
            ("POST", "/v1/deposit", #"{"account":1,"asset":"USDT","amount":"1","transferId":\#(Self.idTooLarge)}"#, "transferId"),
            (
                "POST", "/v1/order",
                #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"49000.0","quantity":"0.010","newClientOrderId":"has space"}"#,
                #"newClientOrderId \"has\\x20space\" (9 bytes) is outside its domain 1 ... 36 characters"#
            ),
            (
                "POST", "/v1/order",
                #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"49000.0","quantity":"0.010","newClientOrderId":"\#(String(repeating: "x", count: 37))"}"#,
                "(37 bytes) is outside its domain 1 ... 36 characters"
            ),
            ("GET", "/v1/account?account=\(Self.idTooLarge)", nil, "account"),
        ]
        for (method, path, body, field) in http {
            let answer = try daemon.http(method, path, body: body)
            #expect(answer.status == 400, "\(method) \(path): \(answer.status) \(answer.body)")
            #expect(answer.body.contains("\"reason\":\"OUT_OF_RANGE\""), "\(path): \(answer.body)")
            #expect(answer.body.contains(field), "\(path): \(answer.body)")
        }
        #expect(try daemon.http("POST", "/v1/asset", body: #"{"name":"\#(Self.longName)","scale":6}"#).body.contains("65 bytes"))

        // TCP: the same, encoded by our own client (the encoder writes what it is given).
        let tcp: [(Command, String)] = [
            // The decoder stops at the length: it never reads the 65 bytes (byte 11 of the frame).
            (
                .listAsset(Asset(id: 1, name: Self.longName, scale: 6)),
                "asset name of 65 bytes is outside its domain 1 ... 16 bytes of printable ASCII at byte 11"
            ),
            (.deposit(Transfer(transferID: 5, account: 1 << 63, asset: 0, amountMinor: 1)), "account 9223372036854775808"),
            (.cancelOrder(CancelOrder(account: 1, orderID: 1 << 63)), "order id 9223372036854775808"),
        ]
        for (index, (command, message)) in tcp.enumerated() {
            let reply = try admin.call(.command(requestID: UInt64(500 + index), command))
            guard case .error(let id, .outOfRange, let text) = reply else {
                Issue.record("\(command): \(reply)")
                continue
            }
            #expect(id == UInt64(500 + index))
            #expect(text.contains(message), "\(text)")
        }
        let after = try daemon.stateHash()
        #expect(after.sequence == before.sequence && after.hash == before.hash)

        // The edge itself is inside: account 2^63 − 1 deposits and shows over HTTP.
        let edge = try daemon.http(
            "POST", "/v1/deposit", body: #"{"account":9223372036854775807,"asset":"USDT","amount":"5","transferId":9}"#)
        #expect(edge.status == 200, "\(edge.body)")
        let view = try daemon.http("GET", "/v1/account?account=9223372036854775807", token: DaemonProcess.traderToken)
        #expect(view.status == 200 && view.body.contains("9223372036854775807"), "\(view.body)")

        // SIGKILL, restart: the journal reads back, the state is the same, audit agrees.
        let reported = try daemon.stateHash()
        daemon.kill()
        try daemon.start()
        #expect(try daemon.stateHash() == reported)
        #expect(try daemon.http("GET", "/v1/account?account=9223372036854775807").status == 200)
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 0, "\(audit.output) \(audit.error)")
        #expect(audit.output.contains("\"stateHash\":\"\(reported.hash)\""), "\(audit.output)")
        let dump = try runTool("ledger-replay", ["dump", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(dump.status == 0 && dump.output.contains("9223372036854775807"), "\(dump.error)")
    }

    @Test func aSecondDaemonOnOneDirectoryIsRefusedAndTheFirstKeepsServing() throws {
        let first = DaemonProcess()
        defer { first.cleanup() }
        try first.start()
        let admin = try first.connect()
        try E2EExchange.run(
            E2EExchange.genesis + [.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 1_000_000))], on: admin)
        let before = try first.stateHash()

        let second = DaemonProcess(dataDirectory: first.dataDirectory)
        // (Its own logs too: the first's cleanup counts only the first's starts.)
        defer { second.cleanup() }
        let refused = try second.startExpectingFailure()
        #expect(refused.status == 1)
        #expect(refused.log.contains("LOCK is locked by pid \(first.pid!) ledgerd"), "\(refused.log)")

        // The first is unaffected: it still acknowledges writes, and they survive.
        let replies = try E2EExchange.run(
            [.deposit(Transfer(transferID: 2, account: 2, asset: 0, amountMinor: 7))], on: admin, firstID: 90)
        guard case .committed(_, let sequence, _) = replies[0] else { Issue.record("\(replies)"); return }
        #expect(sequence == before.sequence + 1)
        // Readers work beside it.
        let verify = try runTool("ledger-replay", ["verify", "--data-dir", first.dataDirectory])
        #expect(verify.status == 0, "\(verify.output) \(verify.error)")
        let reported = try first.stateHash()

        // Once the first is gone (even by SIGKILL) the lock is free: the kernel drops it.
        first.kill()
        try second.start()
        #expect(try second.stateHash() == reported)
    }

    @Test func snapshotWritersTakeTheirDirectorysLockAndClearStaleTemporaryFiles() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        daemon.kill()
        let snapshots = daemon.dataDirectory + "/snapshots"
        try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
        // What a crash in the middle of an atomic write leaves.
        let stale = snapshots + "/snap-00000000000000000002.zst.tmp"
        FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3]))

        // While another writer holds the lock, create and prune refuse and name it.
        do {
            let held = try DirectoryLock.acquire(directory: snapshots, owner: "test")
            for verb in [["create"]] {
                let run = try runTool("ledger-snapshot", verb + ["--data-dir", daemon.dataDirectory])
                #expect(run.status == 1, "\(verb): \(run.output)")
                #expect(run.error.contains("is locked by pid \(getpid()) test"), "\(verb): \(run.error)")
            }
            withExtendedLifetime(held) {}
        }
        #expect(FileManager.default.fileExists(atPath: stale))

        let created = try runTool("ledger-snapshot", ["create", "--data-dir", daemon.dataDirectory])
        #expect(created.status == 0, "\(created.error)")
        #expect(!FileManager.default.fileExists(atPath: stale))
        let names = try FileManager.default.contentsOfDirectory(atPath: snapshots).sorted()
        // Entry 1 is ledgerd's genesis (setWorldLimits), then the test's three.
        #expect(names == ["LOCK", "snap-00000000000000000004.zst"], "\(names)")
        // prune (which needs a snapshot to look at) refuses a held lock the same way.
        do {
            let held = try DirectoryLock.acquire(directory: snapshots, owner: "test")
            let run = try runTool("ledger-snapshot", ["prune", "--keep", "1", "--data-dir", daemon.dataDirectory])
            #expect(run.status == 1 && run.error.contains("is locked by pid \(getpid()) test"), "\(run.error)")
            withExtendedLifetime(held) {}
        }
    }
}

/// A field given twice is ambiguous: refused, never silently the last one.
@Suite struct AmbiguousFieldTests {
    @Test func duplicateJSONKeysAndAFieldInQueryAndBodyAreRefused() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        let before = try daemon.stateHash()
        let cases: [(String, String, String)] = [
            ("/v1/deposit", #"{"account":1,"asset":"USDT","amount":"1","amount":"2","transferId":1}"#, "amount is given twice"),
            ("/v1/deposit", #"{"account":1,"asset":"USDT","amount":"1","\u0061mount":"2","transferId":1}"#, "amount is given twice"),
            (
                "/v1/deposit?amount=2", #"{"account":1,"asset":"USDT","amount":"1","transferId":1}"#,
                "amount is given in both the query and the body"
            ),
        ]
        for (path, body, message) in cases {
            let answer = try daemon.http("POST", path, body: body)
            #expect(answer.status == 400, "\(path) \(body): \(answer.body)")
            #expect(answer.body.contains(message), "\(answer.body)")
        }
        // A nested object is refused (no endpoint takes one, and an unknown name is never
        // ignored); a string value equal to a key's name is fine.
        let nested = try daemon.http(
            "POST", "/v1/deposit", body: #"{"account":1,"asset":"USDT","amount":"1","transferId":1,"note":{"amount":"x"}}"#)
        #expect(nested.status == 400 && nested.body.contains("note must be a string, a number or a boolean"), "\(nested.body)")
        let fine = try daemon.http("POST", "/v1/deposit", body: #"{"account":1,"asset":"USDT","amount":"1","transferId":1}"#)
        #expect(fine.status == 200, "\(fine.body)")
        #expect(try daemon.stateHash().sequence == before.sequence + 1)
        // A query parameter without a name trapped the daemon before authentication
        // (FuzzHTTPRequest): now a 401 without a token, a 400 with one. One given twice is
        // as ambiguous as a JSON key given twice.
        #expect(try daemon.http("GET", "/v1/depth?=", token: nil).status == 401)
        for path in ["/v1/depth?=", "/v1/depth?symbol=BTCUSDT&=1"] {
            let answer = try daemon.http("GET", path, token: DaemonProcess.traderToken)
            #expect(answer.status == 400 && answer.body.contains("a query parameter has no name"), "\(path): \(answer.body)")
        }
        let twice = try daemon.http("GET", "/v1/depth?symbol=BTCUSDT&symbol=ETHUSDT", token: DaemonProcess.traderToken)
        #expect(twice.status == 400 && twice.body.contains("symbol is given twice in the query"), "\(twice.body)")
        // Depth outside 1 ... 1000 is refused, not clamped.
        for limit in ["-1", "0", "1001", "100000"] {
            let depth = try daemon.http("GET", "/v1/depth?symbol=BTCUSDT&limit=\(limit)", token: DaemonProcess.traderToken)
            #expect(depth.status == 400, "limit \(limit): \(depth.body)")
        }
        #expect(try daemon.http("GET", "/v1/depth?symbol=BTCUSDT&limit=1000", token: DaemonProcess.traderToken).status == 200)
    }
}

/// A journal written before the field domains can hold an entry that never reads back:
/// recovery names it and points to `ledger-replay excise`, which replaces it only if
/// nothing after it depended on it.
@Suite(.serialized) struct ExciseTests {
    /// Executes `commands` and journals each entry; `corrupt` may rewrite an entry's bytes
    /// (as an older ledgerd's encoder would have written them). Small blocks, several per
    /// segment, so the rewrite spans blocks and segments.
    static func writeJournal(_ directory: String, _ commands: [Command], corrupt: (SequenceNumber, [UInt8]) -> [UInt8] = { $1 }) throws {
        let writer = try JournalWriter.open(.init(directory: directory, segmentBytesTarget: 4_096, fsync: .none))
        var state = ExchangeState()
        var events: [Event] = []
        var batch = JournalBatch()
        for (index, command) in commands.enumerated() {
            let sequence = SequenceNumber(index + 1)
            let time = 1_700_000_000_000_000_000 + Int64(index) * 1_000_000
            events.removeAll()
            state.execute(command, sequence: sequence, timeNanos: time, into: &events)
            var payload = ByteWriter()
            EntryPayload.encode(command: command, events: events, to: &payload)
            batch.append(sequence: sequence, timeNanos: time, payload: corrupt(sequence, payload.bytes))
            if batch.count == 5 {
                try writer.append(batch)
                batch.reset()
            }
        }
        if !batch.isEmpty { try writer.append(batch) }
        try writer.sync()
    }

    static func deposits(_ range: ClosedRange<UInt64>) -> [Command] {
        range.map { .deposit(Transfer(transferID: $0, account: $0 % 7 + 1, asset: 0, amountMinor: Int64($0) * 1_000)) }
    }

    @Test func aPoisonListingStopsRecoveryAndExciseReplacesIt() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        let poison = Command.listAsset(Asset(id: 1, name: String(repeating: "A", count: 65), scale: 6))
        let commands = E2EExchange.genesis + Self.deposits(1...20) + [poison] + Self.deposits(21...60)
        let poisonSequence = SequenceNumber(E2EExchange.genesis.count + 21)
        try Self.writeJournal(daemon.journalDirectory, commands)

        // Recovery refuses with the sequence, the field and the verb; verify sees blocks only.
        let refused = try daemon.startExpectingFailure()
        #expect(refused.status == 1)
        #expect(refused.log.contains("journal entry \(poisonSequence) does not decode: asset name of 65 bytes"), "\(refused.log)")
        #expect(refused.log.contains("ledger-replay excise --data-dir DIR --sequence \(poisonSequence)"), "\(refused.log)")

        // Excise refuses an entry that decodes, and anything while ledgerd holds the lock.
        let decodable = try runTool("ledger-replay", ["excise", "--data-dir", daemon.dataDirectory, "--sequence", "2"])
        #expect(decodable.status == 1 && decodable.error.contains("entry 2 decodes"), "\(decodable.error)")
        do {
            let held = try DirectoryLock.acquire(directory: daemon.journalDirectory, owner: "ledgerd")
            let locked = try runTool("ledger-replay", ["excise", "--data-dir", daemon.dataDirectory, "--sequence", "\(poisonSequence)"])
            #expect(locked.status == 1 && locked.error.contains("is locked by pid \(getpid()) ledgerd"), "\(locked.error)")
            withExtendedLifetime(held) {}
        }

        let excised = try runTool(
            "ledger-replay", ["excise", "--data-dir", daemon.dataDirectory, "--sequence", "\(poisonSequence)", "--json"])
        #expect(excised.status == 0, "\(excised.output) \(excised.error)")
        #expect(excised.output.contains("\"sequence\":\(poisonSequence)"), "\(excised.output)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory).filter {
            $0.hasPrefix("journal.before-excise-")
        }
        #expect(kept.count == 1, "\(kept)")

        // The daemon starts; the state is every deposit; audit agrees; dump shows the record.
        try daemon.start()
        let reported = try daemon.stateHash()
        // The journal was written before the bounded rules: the first start adds the
        // genesis entry (setWorldLimits) after the last one.
        #expect(reported.sequence == SequenceNumber(commands.count) + 1)
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 0 && audit.output.contains("\"stateHash\":\"\(reported.hash)\""), "\(audit.output)")
        let dump = try runTool(
            "ledger-replay", ["dump", "--data-dir", daemon.dataDirectory, "--from", "\(poisonSequence)", "--through", "\(poisonSequence)"])
        #expect(dump.output.contains("\"type\":\"ENTRY_EXCISED\"") && dump.output.contains("ENTRY_EXCISED"), "\(dump.output)")
        // Ingress never takes one.
        let forged = try daemon.connect().call(.command(requestID: 3, .entryExcised(originalPayloadSHA256: Array(repeating: 0, count: 32))))
        guard case .error(3, .forbidden, _) = forged else {
            Issue.record("\(forged)")
            return
        }
    }

    @Test func exciseRefusesWhenALaterEntryDependsOnTheEntry() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        // A deposit to account 9 whose bytes were damaged (an unknown command tag), then a
        // withdrawal that only that deposit made possible.
        let commands =
            E2EExchange.genesis + [.deposit(Transfer(transferID: 900, account: 9, asset: 0, amountMinor: 5_000))] + Self.deposits(1...8)
            + [.withdraw(Transfer(transferID: 901, account: 9, asset: 0, amountMinor: 5_000))]
        let damaged = SequenceNumber(E2EExchange.genesis.count + 1)
        try Self.writeJournal(daemon.journalDirectory, commands) { sequence, bytes in
            sequence == damaged ? [99] + bytes.dropFirst() : bytes
        }
        let before = try FileManager.default.contentsOfDirectory(atPath: daemon.journalDirectory).sorted()
        let refused = try runTool("ledger-replay", ["excise", "--data-dir", daemon.dataDirectory, "--sequence", "\(damaged)"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("nothing changed: entry \(commands.count) re-executes to other events"), "\(refused.error)")
        // Untouched (but for the lock file the tool took).
        #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.journalDirectory).sorted().filter { $0 != "LOCK" } == before)
        #expect(!FileManager.default.fileExists(atPath: daemon.journalDirectory + ".excise-new"))
    }

    /// Journaled events that re-execution does not give (the chain and the CRCs are
    /// intact: the journal was written so): `ledger-replay audit` names each entry, lowest
    /// first, with both lists, counts them all, and exits 1. The entries lie in the first
    /// block, in the middle, and in the last one (compared on the decoding thread, and by
    /// the caller after it, `DecodingReader.audit`).
    @Test func theAuditNamesEveryEntryWhoseEventsDiffer() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        let commands = E2EExchange.genesis + Self.deposits(1...60)
        let first = SequenceNumber(E2EExchange.genesis.count + 1)
        let tampered: [SequenceNumber] = [first, first + 29, SequenceNumber(commands.count)]
        try Self.writeJournal(daemon.journalDirectory, commands) { sequence, bytes in
            guard tampered.contains(sequence) else { return bytes }
            // The deposit's command, with a rejection as its only event.
            var payload = ByteWriter()
            EntryPayload.encode(command: commands[Int(sequence) - 1], events: [.rejected(.duplicateTransferID, detail: 7)], to: &payload)
            return payload.bytes
        }
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 1, "\(audit.output) \(audit.error)")
        #expect(audit.output.contains("\"mismatches\":3"), "\(audit.output)")
        for sequence in tampered {
            #expect(audit.output.contains("entry \(sequence): re-execution gives"), "\(sequence): \(audit.output)")
        }
        #expect(
            audit.output.contains("journal has [LedgerCore.Event.rejected(LedgerCore.RejectReason.duplicateTransferID, detail: 7)]"),
            "\(audit.output)")
        // In order: the lowest entry first.
        let places = tampered.compactMap { audit.output.range(of: "entry \($0): ")?.lowerBound }
        #expect(places.count == 3 && places == places.sorted(), "\(audit.output)")
    }
}
