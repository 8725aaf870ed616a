import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerTestSupport
import Projection
import Testing

/// The PostgreSQL read models against the daemon and the journal. Needs a real server:
/// scripts/test.sh (and CI) start one and set LEDGER_PG_URL and LEDGER_PG_DIR.
@Suite(.serialized) struct ProjectionTests {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path

    /// A fresh database on the test server; returns its URL.
    func freshDatabase() throws -> String {
        TestProcess.prepared
        guard let url = ProcessInfo.processInfo.environment["LEDGER_PG_URL"] else {
            throw PostgresError(message: "LEDGER_PG_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL")
        }
        let name = "ledger_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try PostgresConnection(url: url).execute("CREATE DATABASE \(name)")
        return String(url[..<url.lastIndex(of: "/")!]) + "/" + name
    }

    func number(_ connection: PostgresConnection, _ sql: String) throws -> String {
        try connection.execute(sql).first?.first.flatMap { $0 } ?? "NULL"
    }

    @Test func readModelsEqualTheDaemonAcrossAPostgresRestart() throws {
        let url = try freshDatabase()
        let pgDirectory = try #require(ProcessInfo.processInfo.environment["LEDGER_PG_DIR"], "LEDGER_PG_DIR is not set")
        let daemon = DaemonProcess(extraArguments: ["--projector-url", url])
        defer { daemon.cleanup() }
        try daemon.start()

        // Load in the background; restart PostgreSQL while it runs. (One Foundation
        // Process at a time: the restart goes through system(3).)
        let load = Process()
        load.executableURL = URL(fileURLWithPath: binDirectory + "/ledger-load")
        load.arguments = [
            "--port", String(daemon.tcpPort), "--token", DaemonProcess.adminToken, "--setup", "--accounts", "60", "--duration",
            "2", "--connections", "2", "--window", "200",
        ]
        load.standardOutput = FileHandle.nullDevice
        try processLock.withLock { try load.run() }
        usleep(700_000)
        #expect(system("'\(repository)/scripts/pg-throwaway.sh' restart '\(pgDirectory)'") == 0)
        load.waitUntilExit()
        #expect(load.terminationStatus == 0)

        // Wait for the projector to reach the durable end.
        let durable = try daemon.stateHash().sequence
        let connection = try PostgresConnection(url: url)
        let deadline = Date().addingTimeInterval(180)
        while try number(connection, "SELECT sequence FROM projector_checkpoint") != String(durable), Date() < deadline {
            usleep(100_000)
        }
        #expect(try number(connection, "SELECT sequence FROM projector_checkpoint") == String(durable))
        #expect(daemon.log_().contains("projector: "), "the restart should have been noticed and retried")

        // Counts and sums against the journal: nothing lost, nothing twice.
        var trades = 0
        var tradedUnits: Int64 = 0
        var postingRows = 0
        try JournalReader(directory: daemon.journalDirectory).forEach(upTo: durable) { entry in
            var reader = ByteReader(Array(entry.payload))
            for event in try EntryPayload.decode(from: &reader).events {
                if case .trade(let trade) = event {
                    trades += 1
                    tradedUnits += trade.quantityUnits
                }
                event.forEachPosting(settleAsset: { _ in 0 }) { _ in postingRows += 2 }
            }
        }
        #expect(trades > 1_000)
        #expect(try number(connection, "SELECT count(*) FROM trades") == String(trades))
        #expect(try number(connection, "SELECT count(DISTINCT trade_id) FROM trades") == String(trades))
        #expect(try number(connection, "SELECT sum(quantity) FROM trades") == DecimalText.format(tradedUnits, scale: 3))
        #expect(try number(connection, "SELECT count(*) FROM ledger_entries") == String(postingRows))
        #expect(try number(connection, "SELECT sum(amount) FROM ledger_entries") == "0.000000")

        // Balances and positions equal what the daemon holds in memory.
        for account in 1...60 {
            let view = try daemon.http("GET", "/v1/account?account=\(account)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(view.body.utf8)) as? [String: Any])
            let wallet = ((object["assets"] as? [[String: Any]])?.first?["walletBalance"] as? String) ?? "?"
            #expect(
                try number(connection, "SELECT wallet FROM balances WHERE account_id = \(account) AND asset = 'USDT'") == wallet,
                "account \(account)")
            for position in object["positions"] as? [[String: Any]] ?? [] {
                let symbol = position["symbol"] as? String ?? "?"
                let size = try number(connection, "SELECT size FROM positions WHERE account_id = \(account) AND symbol = '\(symbol)'")
                #expect(size == position["positionAmt"] as? String, "account \(account) \(symbol)")
            }
        }
        // Each account's ledger entries add up to its balance.
        let mismatched = try number(
            connection,
            "SELECT count(*) FROM balances b WHERE wallet <> (SELECT coalesce(sum(amount), 0) FROM ledger_entries e WHERE e.account_id = b.account_id AND e.asset = b.asset)"
        )
        #expect(mismatched == "0")
    }
}
