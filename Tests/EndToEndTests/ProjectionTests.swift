import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
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
            "--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--setup", "--accounts", "60", "--commands",
            "30000", "--connections", "2", "--window", "200",
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

    /// The rule book's read models: a liquidation that ends in ADL, a funding settlement
    /// (1-second interval), mark prices and the insurance fund's history, against the
    /// daemon's own views.
    @Test func ruleBookReadModelsFollowTheJournal() throws {
        let url = try freshDatabase()
        let daemon = DaemonProcess(extraArguments: ["--projector-url", url])
        defer { daemon.cleanup() }
        try daemon.start()
        guard case .listSymbol(var spec) = LiquidationE2ETests.genesis[1] else { return }
        (spec.fundingIntervalSeconds, spec.fundingCapRateE8) = (1, 750_000)
        var commands = LiquidationE2ETests.victim(sellers: [(2, 100_000, 600), (5, 2_000, 400)])
        commands[1] = .listSymbol(spec)
        commands += [
            .depositInsuranceFund(Transfer(transferID: 900, account: 0, asset: 0, amountMinor: 1_000_000)),
            .setMarkPrice(symbol: 0, priceUnits: 1_800_000),  // account 3 deleveraged against 5, then 2
            .setFundingRate(symbol: 0, rateE8: 10_000),
        ]
        let connection = try daemon.connect()
        try E2EExchange.run(commands, on: connection)
        usleep(1_100_000)  // past the next funding time
        let replies = try E2EExchange.run([.setMarkPrice(symbol: 0, priceUnits: 1_810_000)], on: connection, firstID: 2_000_000)
        guard case .committed(_, _, let events) = replies[0] else { throw LiquidationE2ETests.Failure(message: "\(replies)") }
        // Funding settles in ledgerd's own ticks: never in an oracle's (a stranger's) reply.
        #expect(!events.contains { if case .fundingPaid = $0 { true } else { false } }, "\(events)")

        // Open a position so that the next settlement pays, then wait for it.
        try E2EExchange.run(
            [
                LiquidationE2ETests.limit(2, .sell, 1_810_000, 100), LiquidationE2ETests.limit(5, .buy, 1_810_000, 100),
                .setFundingRate(symbol: 0, rateE8: 10_000),
            ], on: connection, firstID: 3_000_000)
        usleep(1_100_000)
        let settled = try E2EExchange.run([.setMarkPrice(symbol: 0, priceUnits: 1_820_000)], on: connection, firstID: 4_000_000)
        guard case .committed(_, let last, let fundingEvents) = settled[0] else { throw LiquidationE2ETests.Failure(message: "\(settled)") }
        #expect(!fundingEvents.contains { if case .fundingPaid = $0 { true } else { false } }, "\(fundingEvents)")

        let database = try PostgresConnection(url: url)
        let deadline = Date().addingTimeInterval(60)
        // ledgerd's own funding ticks journal entries after `last`: wait until it is passed.
        while try SequenceNumber(number(database, "SELECT sequence FROM projector_checkpoint")) ?? 0 < last, Date() < deadline {
            usleep(50_000)
        }
        #expect(try SequenceNumber(number(database, "SELECT sequence FROM projector_checkpoint")) ?? 0 >= last)
        #expect(try number(database, "SELECT count(*) FROM liquidations") == "1")
        #expect(try number(database, "SELECT deleveraged_quantity FROM liquidations") == "1.000")
        #expect(try number(database, "SELECT string_agg(counterparty_account_id::text, ',' ORDER BY line) FROM adl_fills") == "5,2")
        #expect(try number(database, "SELECT count(*) FROM mark_prices") == "4")
        let fund = try daemon.http("GET", "/v1/insuranceFund").body
        let history = try number(database, "SELECT balance FROM insurance_fund_history ORDER BY sequence DESC, line DESC LIMIT 1")
        #expect(fund.contains("\"balance\":\"\(history)\""), "fund \(fund) vs history \(history)")

        // A settlement a second, each in ticks of ledgerd's own (the timer journals them
        // without traffic). Stopped, the read model holds every payment the journal holds
        // up to its checkpoint: the first at 0.01% on 0.1 BTC at 18,100, 0.181 USDT each
        // way, the later ones at the interest rate.
        #expect(daemon.terminate() == 0)
        let checkpoint = try number(database, "SELECT sequence FROM projector_checkpoint")
        let dump = try runTool("ledger-replay", ["dump", "--data-dir", daemon.dataDirectory, "--through", checkpoint])
        let journaled = dump.output.components(separatedBy: "\"type\":\"FUNDING_PAID\"").count - 1
        #expect(journaled >= 2 && journaled % 2 == 0, "\(journaled) payments journaled")
        #expect(try number(database, "SELECT count(*) FROM funding_payments") == String(journaled))
        #expect(try number(database, "SELECT sum(amount) FROM funding_payments") == "0.000000")
        #expect(try number(database, "SELECT count(*) FROM funding_payments WHERE abs(amount) = 0.181") == "2")
        #expect(try number(database, "SELECT count(*) FROM funding_payments WHERE funding_rate = 0 OR mark_price = 0") == "0")
    }
}
