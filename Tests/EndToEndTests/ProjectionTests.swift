import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
import LedgerTestSupport
import Projection
import Snapshots
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

    /// One order of the scenario below (BTCUSDT unless `symbol`: price units of 0.1, lots of 0.001).
    static func order(
        _ account: AccountID, _ side: Side, _ type: OrderType, price: Int64 = 0, quantity: Int64, tif: TimeInForce = .gtc,
        stop: Int64 = 0, reduceOnly: Bool = false, closePosition: Bool = false, stp: SelfTradePrevention = .expireTaker,
        callback: Int64 = 0, client: ClientOrderID = 0, symbol: SymbolID = 0
    ) -> Command {
        .placeOrder(
            PlaceOrder(
                account: account, symbol: symbol, side: side, type: type, timeInForce: type == .market ? .ioc : tif, priceUnits: price,
                quantityUnits: quantity, clientOrderID: client, stopPriceUnits: stop,
                workingType: type.isConditional ? .markPrice : .contractPrice, reduceOnly: reduceOnly, closePosition: closePosition,
                selfTradePrevention: stp, callbackRateE8: callback))
    }

    /// Every order type and time in force, amendments up and down, self-trade prevention of
    /// each mode, reduce-only upkeep, stops, take-profits and a trailing stop that trigger
    /// (and one refused at its trigger), a close-position order, cancels and a cancel-all,
    /// on accounts 101-106 beside the load's.
    static let scenario: [Command] = {
        var commands: [Command] = (101...106 as ClosedRange<UInt64>).map {
            .deposit(Transfer(transferID: 9_000 + $0, account: $0, asset: 0, amountMinor: 100_000_000_000))
        }
        commands += [
            order(101, .sell, .limit, price: 501_000, quantity: 10, client: ClientOrderID(text: "s-1")!),
            order(102, .buy, .limit, price: 501_000, quantity: 4, tif: .ioc),
            order(102, .buy, .limit, price: 501_000, quantity: 100, tif: .fok),
            order(102, .buy, .limit, price: 501_000, quantity: 2, tif: .gtx),
            .amendOrder(AmendOrder(account: 101, clientOrderID: ClientOrderID(text: "s-1")!, priceUnits: 502_000, quantityUnits: 6)),
            .amendOrder(AmendOrder(account: 101, clientOrderID: ClientOrderID(text: "s-1")!, priceUnits: 502_000, quantityUnits: 3)),
            order(101, .buy, .limit, price: 502_000, quantity: 1, stp: .expireTaker),
            order(101, .buy, .limit, price: 502_000, quantity: 1, stp: .expireMaker),
            order(103, .sell, .limit, price: 503_000, quantity: 5),
            order(103, .buy, .limit, price: 503_000, quantity: 2, stp: .expireBoth),
            order(103, .sell, .market, quantity: 2),
            order(105, .sell, .limit, price: 500_000, quantity: 20),
            order(104, .buy, .market, quantity: 10),
            order(104, .sell, .limit, price: 550_000, quantity: 10, reduceOnly: true),
            order(106, .buy, .limit, price: 499_000, quantity: 30),
            order(104, .sell, .market, quantity: 6),
            order(104, .sell, .stopMarket, quantity: 2, stop: 490_000, reduceOnly: true),
            order(104, .sell, .stopLimit, price: 489_000, quantity: 1, stop: 490_000),
            order(104, .sell, .takeProfitMarket, quantity: 0, stop: 520_000, closePosition: true),
            order(104, .sell, .takeProfitLimit, price: 521_000, quantity: 1, stop: 520_000),
            order(104, .sell, .trailingStopMarket, quantity: 1, reduceOnly: true, callback: 1_000_000),
            order(104, .buy, .stopMarket, quantity: 1, stop: 530_000, client: ClientOrderID(text: "gone")!),
            .cancelOrder(CancelOrder(account: 104, clientOrderID: ClientOrderID(text: "gone")!)),
            .setMarkPrice(symbol: 0, priceUnits: 489_500),
            .setMarkPrice(symbol: 0, priceUnits: 521_000),
            .cancelAllOrders(account: 104, symbol: 0),
            .setMarkPrice(symbol: 0, priceUnits: 500_000),
            order(105, .sell, .limit, price: 300_000, quantity: 100, symbol: 1),
            order(106, .buy, .market, quantity: 50, symbol: 1),
        ]
        return commands
    }()

    static let symbols = [(name: "BTCUSDT", priceScale: 1, quantityScale: 3), (name: "ETHUSDT", priceScale: 2, quantityScale: 3)]

    /// What `ledger-load --setup --accounts 60` sends (the listings, the marks, a deposit
    /// for each account), run to the end.
    func setUp(_ daemon: DaemonProcess) throws {
        for reply in try E2EExchange.run(DemoExchange.setupCommands(accounts: 60), on: try daemon.connect()) {
            guard case .committed = reply else { throw LiquidationE2ETests.Failure(message: "setup: \(reply)") }
        }
    }

    /// Runs `ledger-load` for `commands` commands in the background.
    func startLoad(_ daemon: DaemonProcess, commands: Int) throws -> Process {
        let load = Process()
        load.executableURL = URL(fileURLWithPath: binDirectory + "/ledger-load")
        load.arguments = [
            "--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--accounts", "60", "--commands", String(commands),
            "--connections", "2", "--window", "200",
        ]
        load.standardOutput = FileHandle.nullDevice
        try processLock.withLock { try load.run() }
        return load
    }

    @Test func everyOrderKindProjectsAsTheDaemonReportsItAcrossAPostgresRestart() throws {
        let url = try freshDatabase()
        let pgDirectory = try #require(ProcessInfo.processInfo.environment["LEDGER_PG_DIR"], "LEDGER_PG_DIR is not set")
        let daemon = DaemonProcess(extraArguments: ["--projector-url", url])
        defer { daemon.cleanup() }
        try daemon.start()
        try setUp(daemon)
        let replies = try E2EExchange.run(Self.scenario, on: try daemon.connect())
        for (index, reply) in replies.enumerated() {
            guard case .committed = reply else {
                Issue.record("scenario command \(index) (\(Self.scenario[index])) answered \(reply)")
                continue
            }
        }
        let database = try PostgresConnection(url: url)
        let compare = ReadModelComparison(
            daemon: daemon, journalDirectory: daemon.journalDirectory, database: database, symbols: Self.symbols)
        let scenarioEnd = try daemon.stateHash().sequence

        // The load (sized by its count); PostgreSQL restarts once the projector has passed
        // the scenario by 2,000 entries, while the load goes on.
        let load = try startLoad(daemon, commands: 20_000)
        try compare.waitForCheckpoint(scenarioEnd + 2_000)
        #expect(system("'\(repository)/scripts/pg-throwaway.sh' restart '\(pgDirectory)'") == 0)
        load.waitUntilExit()
        #expect(load.terminationStatus == 0, "ledgerd's log ends: \(daemon.log_().suffix(2_000))")
        let durable = try daemon.stateHash().sequence
        let restarted = try PostgresConnection(url: url)
        let after = ReadModelComparison(
            daemon: daemon, journalDirectory: daemon.journalDirectory, database: restarted, symbols: Self.symbols)
        try after.waitForCheckpoint(durable)
        #expect(daemon.log_().contains("projector: "), "the restart should have been noticed and retried")

        // What the scenario must have produced, as the read models show it.
        func names(_ sql: String) throws -> Set<String> { Set(try restarted.execute(sql).compactMap { $0[0] ?? nil }) }
        #expect(try names("SELECT DISTINCT type FROM orders") == Set(OrderType.allCases.map(\.apiName)))
        #expect(try names("SELECT DISTINCT time_in_force FROM orders") == Set(TimeInForce.allCases.map(\.apiName)))
        #expect(try names("SELECT DISTINCT status FROM orders") == Set(OrderStatus.allCases.map(\.rawValue)))
        let kinds = try names("SELECT DISTINCT kind FROM order_events")
        #expect(kinds.isSuperset(of: ["NEW", "TRIGGERED", "REJECTED", "RESTED", "REDUCED", "AMENDED", "CANCELED", "EXPIRED"]), "\(kinds)")
        #expect(
            try names("SELECT DISTINCT reason FROM order_events WHERE kind = 'EXPIRED'").isSuperset(of: ["IOC", "FOK", "GTX", "SELF_TRADE"])
        )
        #expect(
            try after.value(
                "SELECT count(*) FILTER (WHERE triggered) > 0 AND count(*) FILTER (WHERE amended) > 0 AND count(*) FILTER (WHERE close_position) > 0 AND count(*) FILTER (WHERE reduce_only) > 0 FROM orders"
            ) == "t")

        // Every order as the daemon reports it, balances and positions, counts and sums.
        let accounts = Array(1...60 as ClosedRange<AccountID>) + Array(101...106 as ClosedRange<AccountID>)
        let compared = try after.compareOrders(accounts: accounts)
        #expect(compared == Int(try after.value("SELECT count(*) FROM orders")) ?? -1)
        try after.compareAccounts(accounts)
        try after.compareWithJournal(through: durable)

        // Partitions by day, the next made ahead; a day's range reads that day's only.
        let day = try after.value("SELECT (min(time) AT TIME ZONE 'UTC')::date FROM trades")
        let next = try after.value("SELECT to_char(DATE '\(day)' + 1, 'YYYYMMDD')")
        let name = day.replacingOccurrences(of: "-", with: "")
        #expect(try after.value("SELECT count(*) FROM pg_class WHERE relname IN ('trades_\(name)', 'trades_\(next)')") == "2")
        let plan = try restarted.execute(
            "EXPLAIN (COSTS OFF) SELECT count(*) FROM trades WHERE time >= '\(day) 00:00+00' AND time < timestamptz '\(day) 00:00+00' + interval '1 day'"
        ).compactMap { $0[0] }.joined(separator: "\n")
        #expect(plan.contains("trades_\(name)") && !plan.contains("trades_\(next)"), "\(plan)")

        // The live projection, restart and all, equals a rebuild from the journal.
        let rebuilt = try runTool(
            "ledger-replay", ["project", "--data-dir", daemon.dataDirectory, "--url", url, "--into", "fresh", "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.output)\(rebuilt.error)")
        #expect(rebuilt.output.contains("\"checkpoint\":\(durable)"), "\(rebuilt.output)")
        try after.compareSchemas("public", "fresh")
    }

    /// Every fixture journal (every command and event version, the rule book, bounded
    /// steps, ADL continued over ticks and ranked in steps, text client ids) projects with
    /// `ledger-replay project`: counts and sums equal the journal, balances and positions
    /// equal the state the journal leaves, and every liquidated quantity is in its order.
    @Test(arguments: [
        "journal-v1", "journal-v2", "journal-rulebook", "journal-bounded", "journal-deleveraging", "journal-adl-ranking",
        "journal-text-client-ids", "journal-excised",
    ])
    func everyFixtureJournalProjects(_ fixture: String) throws {
        let url = try freshDatabase()
        let directory = repository + "/Fixtures/" + fixture
        let projected = try runTool("ledger-replay", ["project", "--journal", directory, "--url", url, "--into", "fixture", "--json"])
        #expect(projected.status == 0, "\(projected.output)\(projected.error)")
        let state = try Recovery.restore(journalDirectory: directory, snapshotDirectory: nil).state
        #expect(projected.output.contains("\"checkpoint\":\(state.lastSequence)"), "\(projected.output)")
        let database = try PostgresConnection(url: url)
        try database.execute("SET search_path TO fixture")
        let compare = ReadModelComparison(
            journalDirectory: directory, database: database,
            symbols: state.symbols.map { ($0.name, Int($0.priceScale), Int($0.quantityScale)) })
        try compare.compareWithJournal(through: state.lastSequence)
        var differences: [String] = []
        for account in state.accounts {
            for asset in state.assets {
                let wallet = try compare.value("SELECT wallet FROM balances WHERE account_id = \(account.id) AND asset = '\(asset.name)'")
                let expected = account.balance(asset.id)
                if (wallet == "NULL" ? Int128(0) : ReadModelComparison.units(wallet, Int(asset.scale))) != Int128(expected) {
                    differences.append("account \(account.id) \(asset.name): \(wallet), state \(expected)")
                }
            }
            for spec in state.symbols {
                let size = try compare.value("SELECT size FROM positions WHERE account_id = \(account.id) AND symbol = '\(spec.name)'")
                let expected = account.position(spec.id).sizeQuantityUnits
                if (size == "NULL" ? Int128(0) : ReadModelComparison.units(size, Int(spec.quantityScale))) != Int128(expected) {
                    differences.append("account \(account.id) \(spec.name): size \(size), state \(expected)")
                }
            }
        }
        let agree = differences.isEmpty
        #expect(agree, "\(fixture): \(differences.count) differences, first: \(Array(differences.prefix(5)))")

        // One lane and batches of 7 entries give the same tables as two lanes and one batch.
        let serial = try runTool(
            "ledger-replay",
            ["project", "--journal", directory, "--url", url, "--into", "serial", "--lanes", "1", "--batch-entries", "7", "--json"])
        #expect(serial.status == 0, "\(serial.output)\(serial.error)")
        #expect(serial.output.contains("\"checkpoint\":\(state.lastSequence)"), "\(serial.output)")
        try compare.compareSchemas("fixture", "serial")
    }

    /// The fixture of read-model version 3 (`Fixtures/readmodels-v3/`: the journal the
    /// projector of schema 3 read and the tables it wrote) migrates to version 4 when
    /// today's ledgerd connects, and the projector goes on from its checkpoint: the moved
    /// ledger keeps every posting, each balance still equals its postings, the candles equal
    /// the trades, and every table a version 3 projector filled completely equals a fresh
    /// rebuild of the same journal.
    @Test func aVersion3ReadModelMigratesToVersion4() throws {
        let url = try freshDatabase()
        let fixture = repository + "/Fixtures/readmodels-v3"
        let database = try PostgresConnection(url: url)
        try database.execute(try String(contentsOfFile: fixture + "/dump.sql", encoding: .utf8))
        try database.execute("SET search_path TO public")
        let compare = ReadModelComparison(journalDirectory: fixture + "/journal", database: database, symbols: Self.symbols)
        #expect(try compare.value("SELECT max(version) FROM schema_migrations") == "3")
        let checkpoint = try compare.value("SELECT sequence FROM projector_checkpoint")
        let v3Rows = try compare.value("SELECT count(*) FROM ledger_entries")
        let v3Sums = try compare.value(
            "SELECT string_agg(account_id || ':' || total, ',' ORDER BY account_id) FROM (SELECT account_id, sum(amount) AS total FROM ledger_entries WHERE account_id IS NOT NULL GROUP BY 1) x"
        )
        #expect(checkpoint == "3026" && v3Rows != "0")

        // Today's ledgerd on that journal, projecting into that database, with more load.
        let daemon = DaemonProcess(extraArguments: ["--projector-url", url])
        defer { daemon.cleanup() }
        try FileManager.default.createDirectory(atPath: daemon.journalDirectory, withIntermediateDirectories: true)
        for segment in try FileManager.default.contentsOfDirectory(atPath: fixture + "/journal") {
            try FileManager.default.copyItem(atPath: fixture + "/journal/" + segment, toPath: daemon.journalDirectory + "/" + segment)
        }
        try daemon.start()
        let latest = String(Schema.migrations.map(\.version).max() ?? 0)
        let deadline = Date().addingTimeInterval(60)
        while try compare.value("SELECT max(version) FROM schema_migrations") != latest, Date() < deadline { usleep(50_000) }
        #expect(try compare.value("SELECT max(version) FROM schema_migrations") == latest)
        #expect(try compare.value("SELECT count(*) FROM ledger_entries WHERE sequence <= 3026") == v3Rows)
        #expect(
            try compare.value(
                "SELECT string_agg(account_id || ':' || total, ',' ORDER BY account_id) FROM (SELECT account_id, sum(amount) AS total FROM ledger_entries WHERE account_id IS NOT NULL AND sequence <= 3026 GROUP BY 1) x"
            )
                == v3Sums)
        let load = try startLoad(daemon, commands: 3_000)
        load.waitUntilExit()
        #expect(load.terminationStatus == 0, "ledgerd's log ends: \(daemon.log_().suffix(2_000))")
        let durable = try daemon.stateHash().sequence
        try compare.waitForCheckpoint(durable)
        let live = ReadModelComparison(daemon: daemon, journalDirectory: daemon.journalDirectory, database: database, symbols: Self.symbols)
        try live.compareAccounts(Array(1...20))
        // Version 3 kept no order events: those of the orders placed before the migration are not there.
        try live.compareWithJournal(through: durable, orderEventsAfter: 3_026)

        // Against a fresh rebuild: the tables version 3 filled completely are equal; orders
        // placed after the migration are equal in every column.
        let rebuilt = try runTool(
            "ledger-replay", ["project", "--data-dir", daemon.dataDirectory, "--url", url, "--into", "fresh", "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.output)\(rebuilt.error)")
        for (table, columns) in [
            ("trades", "*"), ("postings", "*"), ("mark_prices", "*"), ("candles_1m", "*"), ("accounts", "*"),
            ("balances", "account_id, asset, wallet"),
            ("positions", "account_id, symbol, size, entry_cost, entry_price, leverage, realized_pnl, fees_paid"),
            // Orders of version 3 keep its values (the issue: EXPIRED for EXPIRED_IN_MATCH, …):
            // the same orders, rebuilt right by `ledger-replay project`.
            ("orders", "order_id, account_id, symbol, side, created_sequence"),
        ] {
            for (a, b) in [("public", "fresh"), ("fresh", "public")] {
                let extra = try compare.value(
                    "SELECT count(*) FROM (SELECT \(columns) FROM \(a).\(table) EXCEPT ALL SELECT \(columns) FROM \(b).\(table)) x")
                if extra != "0" {
                    let sample = try database.execute(
                        "SELECT \(columns) FROM \(a).\(table) EXCEPT ALL SELECT \(columns) FROM \(b).\(table) LIMIT 3")
                    Issue.record("\(table): \(extra) rows in \(a) and not in \(b), e.g. \(sample)")
                }
            }
        }
        let placedAfter = "SELECT * FROM %@.orders WHERE created_sequence > 3026"
        for (a, b) in [("public", "fresh"), ("fresh", "public")] {
            let extra = try compare.value(
                "SELECT count(*) FROM (\(placedAfter.replacingOccurrences(of: "%@", with: a)) EXCEPT ALL \(placedAfter.replacingOccurrences(of: "%@", with: b))) x"
            )
            #expect(extra == "0", "orders placed after the migration: \(extra) rows in \(a) and not in \(b)")
        }
    }

    /// `ledger-replay project --swap` while a load runs: a reader that queries the live
    /// schema throughout never sees the trades go back (a half-built schema would show
    /// fewer), the live projector continues on the swapped-in schema from its checkpoint,
    /// and what it then holds equals a fresh projection of the same journal.
    @Test func aRebuildSwapsInWhileTheLoadAndTheLiveProjectorRun() throws {
        let url = try freshDatabase()
        let daemon = DaemonProcess(extraArguments: ["--projector-url", url])
        defer { daemon.cleanup() }
        try daemon.start()
        try setUp(daemon)
        let first = try startLoad(daemon, commands: 6_000)
        first.waitUntilExit()
        let compare = ReadModelComparison(
            daemon: daemon, journalDirectory: daemon.journalDirectory, database: try PostgresConnection(url: url), symbols: Self.symbols)
        try compare.waitForCheckpoint(try daemon.stateHash().sequence)

        // A reader on its own connection: one statement, one snapshot, each time.
        final class Reader: @unchecked Sendable {
            let lock = NSLock()
            var stop = false
            var reads = 0
            var problems: [String] = []
        }
        let reader = Reader()
        let thread = Thread {
            guard let readerConnection = try? PostgresConnection(url: url) else {
                reader.lock.withLock { reader.problems.append("the reader could not connect") }
                return
            }
            var last = (trades: 0, checkpoint: 0)
            while !reader.lock.withLock({ reader.stop }) {
                guard
                    let row = try? readerConnection.execute(
                        "SELECT (SELECT count(*) FROM trades), (SELECT sequence FROM projector_checkpoint), (SELECT count(*) FROM trades t WHERE t.sequence > (SELECT sequence FROM projector_checkpoint))"
                    ).first,
                    let trades = row[0].flatMap(Int.init), let checkpoint = row[1].flatMap(Int.init)
                else { continue }
                reader.lock.withLock {
                    reader.reads += 1
                    if trades < last.trades || checkpoint < last.checkpoint {
                        reader.problems.append("went back: \(last) to \((trades, checkpoint))")
                    }
                    if row[2] != "0" { reader.problems.append("trades past the checkpoint \(checkpoint): \(row[2] ?? "?")") }
                }
                last = (trades, checkpoint)
            }
        }
        thread.start()

        let load = try startLoad(daemon, commands: 12_000)
        let swapped = try runTool("ledger-replay", ["project", "--data-dir", daemon.dataDirectory, "--url", url, "--swap", "--json"])
        #expect(swapped.status == 0, "\(swapped.output)\(swapped.error)")
        #expect(
            swapped.output.contains("\"swapped\":true") && swapped.output.contains("\"retired\":\"public_retired_"), "\(swapped.output)")
        load.waitUntilExit()
        #expect(load.terminationStatus == 0)
        // More after the swap, whenever it happened: the live projector must continue on
        // the swapped-in schema.
        let after = try startLoad(daemon, commands: 2_000)
        after.waitUntilExit()
        let durable = try daemon.stateHash().sequence
        try compare.waitForCheckpoint(durable)
        reader.lock.withLock { reader.stop = true }
        while !thread.isFinished { usleep(10_000) }
        reader.lock.withLock {
            #expect(reader.reads > 0)
            let clean = reader.problems.isEmpty
            #expect(clean, "\(reader.problems.count) problems, first: \(Array(reader.problems.prefix(5)))")
        }

        // The swapped-in schema, continued by the live projector, equals a fresh projection.
        let fresh = try runTool(
            "ledger-replay", ["project", "--data-dir", daemon.dataDirectory, "--url", url, "--into", "fresh", "--json"])
        #expect(fresh.status == 0, "\(fresh.output)\(fresh.error)")
        try compare.compareSchemas("public", "fresh")
        try compare.compareWithJournal(through: durable)
        // The old schema stopped where the swap left it; the live projector went on in the new one.
        let retired = try compare.value("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'public_retired_%'")
        let retiredCheckpoint = SequenceNumber(try compare.value("SELECT sequence FROM \(retired).projector_checkpoint")) ?? .max
        #expect(retiredCheckpoint < durable, "retired schema \(retired) at \(retiredCheckpoint), durable \(durable)")
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

        var database = try PostgresConnection(url: url)
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

        // PostgreSQL restarts; then a second victim whose position the (now funded)
        // insurance fund takes over.
        let pgDirectory = try #require(ProcessInfo.processInfo.environment["LEDGER_PG_DIR"], "LEDGER_PG_DIR is not set")
        #expect(system("'\(repository)/scripts/pg-throwaway.sh' restart '\(pgDirectory)'") == 0)
        database = try PostgresConnection(url: url)
        let takeover = try E2EExchange.run(
            [
                .depositInsuranceFund(Transfer(transferID: 901, account: 0, asset: 0, amountMinor: 5_000_000_000)),
                LiquidationE2ETests.deposit(6, 1_000), .setLeverage(account: 6, symbol: 0, leverage: 50),
                LiquidationE2ETests.deposit(7, 100_000), LiquidationE2ETests.limit(7, .sell, 1_820_000, 1_000),
                LiquidationE2ETests.limit(6, .buy, 1_820_000, 1_000), .setMarkPrice(symbol: 0, priceUnits: 1_725_000),
            ], on: connection, firstID: 5_000_000)
        for reply in takeover {
            guard case .committed = reply else { throw LiquidationE2ETests.Failure(message: "\(takeover)") }
        }
        let taken = try daemon.stateHash().sequence
        let compare = ReadModelComparison(
            daemon: daemon, journalDirectory: daemon.journalDirectory, database: database, symbols: [("BTCUSDT", 2, 3)])
        try compare.waitForCheckpoint(taken)
        #expect(try number(database, "SELECT count(*) FROM liquidations") == "2")
        #expect(try number(database, "SELECT taken_over_quantity FROM liquidations WHERE account_id = 6") == "1.000")
        #expect(try number(database, "SELECT count(*) FROM order_events WHERE kind = 'TAKEOVER'") == "1")
        #expect(try number(database, "SELECT count(*) FROM order_events WHERE kind = 'ADL'") == "2")
        #expect(
            try number(
                database,
                "SELECT string_agg(status || ' ' || filled_quantity, ',' ORDER BY order_id) FROM orders WHERE auto_close = 'LIQUIDATION'")
                == "FILLED 1.000,FILLED 1.000")
        // Liquidation orders and every other order as the daemon reports them.
        #expect(try compare.compareOrders(accounts: [2, 3, 5, 6, 7]) == Int(try number(database, "SELECT count(*) FROM orders")))
        try compare.compareAccounts([2, 3, 5, 6, 7])
        #expect(daemon.log_().contains("projector: "), "the restart should have been noticed and retried")

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
