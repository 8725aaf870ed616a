import Foundation
import LedgerClient
import LedgerCore
import LedgerDigest
import Testing

/// Bad input over the real protocols: a clear answer, and the state hash unchanged.
@Suite(.serialized) struct ProtocolTests {
    @Test func badInputOverTCPChangesNothing() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let admin = try daemon.connect()
        try E2EExchange.run(
            E2EExchange.genesis + [.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 1_000_000_000))], on: admin)
        try E2EExchange.run(
            [
                .placeOrder(
                    PlaceOrder(
                        account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 490_000, quantityUnits: 10,
                        clientOrderID: 5))
            ],
            on: admin, firstID: 50)
        let before = try daemon.stateHash()

        let cases: [(Command, RejectReason)] = [
            (
                .placeOrder(
                    PlaceOrder(account: 1, symbol: 9, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 10)),
                .unknownSymbol
            ),
            (.deposit(Transfer(transferID: 7, account: 1, asset: 0, amountMinor: -5)), .invalidAmount),
            (.deposit(Transfer(transferID: 8, account: 1, asset: 0, amountMinor: Int64.max)), .invalidAmount),
            (
                .placeOrder(
                    PlaceOrder(
                        account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 10_000)),
                .insufficientMargin
            ),
            (
                .placeOrder(
                    PlaceOrder(
                        account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 480_000, quantityUnits: 10,
                        clientOrderID: 5)), .duplicateClientOrderID
            ),
            (.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 2)), .duplicateTransferID),
        ]
        for (index, (command, reason)) in cases.enumerated() {
            let reply = try admin.call(.command(requestID: UInt64(100 + index), command))
            guard case .committed(_, _, let events) = reply, case .rejected(let got, _)? = events.first else {
                Issue.record("\(command): \(reply)")
                continue
            }
            #expect(got == reason)
        }
        // Rejections are journaled (the sequence moves) but the books are unchanged.
        let after = try daemon.stateHash()
        #expect(after.hash == before.hash)
        #expect(after.sequence == before.sequence + UInt64(cases.count))

        // An undecodable body: MALFORMED with the request id; the connection stays usable.
        var bad = ByteWriter()
        bad.fixed32(13)
        bad.u8(0x02)
        bad.fixed64(777)
        bad.raw([0x63, 0x01, 0x02, 0x03])  // unknown command tag
        try admin.sendRaw(bad.bytes)
        guard case .error(777, .malformed, _) = try admin.receive() else { Issue.record("no MALFORMED reply"); return }
        #expect(try daemon.stateHash().hash == before.hash)

        // A trader may not deposit; a stranger may not even say hello.
        let trader = try daemon.connect(token: DaemonProcess.traderToken)
        guard
            case .error(_, .forbidden, _) = try trader.call(
                .command(requestID: 1, .deposit(Transfer(transferID: 99, account: 1, asset: 0, amountMinor: 1))))
        else {
            Issue.record("trader deposit was not forbidden")
            return
        }
        let stranger = try LedgerConnection(host: "127.0.0.1", port: daemon.tcpPort)
        #expect(throws: LedgerConnection.Failure.self) { try stranger.hello(token: "nope") }

        // A frame length out of range cannot be resynchronised: an error, then the close.
        let broken = try daemon.connect()
        var huge = ByteWriter()
        huge.fixed32(1_000_000)
        try broken.sendRaw(huge.bytes)
        guard case .error(0, .malformed, _) = try broken.receive() else { Issue.record("no MALFORMED for a huge frame"); return }
        #expect(throws: LedgerConnection.Failure.self) { _ = try broken.receive() }
        #expect(try daemon.stateHash().hash == before.hash)
    }

    /// The connection splits the byte stream into frames itself: a frame that arrives in
    /// pieces (its length prefix cut in two), and several frames in one write with the
    /// next one cut, are each answered once, in order.
    @Test func framesInPiecesAndTogetherAreEachAnsweredInOrder() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let admin = try daemon.connect()
        var bytes = ByteWriter()
        for (index, command) in E2EExchange.genesis.enumerated() {
            WireFrame.command(requestID: UInt64(index + 1), command).encode(to: &bytes)
        }
        let stream = bytes.bytes
        // Cuts: inside the first length prefix, inside the first body, then the rest of
        // the first frame with the second whole and the third's first 3 bytes, then the
        // rest. Each piece is its own write, apart in time, so the daemon reads them apart.
        func frameEnd(at start: Int) -> Int {
            start + 4 + (Int(stream[start]) | Int(stream[start + 1]) << 8 | Int(stream[start + 2]) << 16)
        }
        let secondEnd = frameEnd(at: frameEnd(at: 0))
        #expect(frameEnd(at: secondEnd) == stream.count)
        let cuts = [0, 2, 7, secondEnd + 3, stream.count]
        for (from, to) in zip(cuts, cuts.dropFirst()) {
            try admin.sendRaw(Array(stream[from..<to]))
            usleep(50_000)
        }
        var sequences: [SequenceNumber] = []
        for expected in 1...UInt64(E2EExchange.genesis.count) {
            guard case .committed(let id, let sequence, _) = try admin.receive(), id == expected else {
                Issue.record("reply \(expected) is not a commit of request \(expected)")
                return
            }
            sequences.append(sequence)
        }
        #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count)
        #expect(try daemon.stateHash().sequence == sequences.last)
    }

    @Test func httpAPIUsesDecimalStringsAndBinanceNames() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        let deposit = try daemon.http("POST", "/v1/deposit", body: #"{"account":1,"asset":"USDT","amount":"1000.5","transferId":1}"#)
        #expect(deposit.status == 200, "\(deposit.body)")
        let before = try daemon.stateHash()
        let precise = try daemon.http("POST", "/v1/deposit", body: #"{"account":1,"asset":"USDT","amount":"1.0000001","transferId":2}"#)
        #expect(precise.status == 400)
        #expect(precise.body.contains("TOO_MUCH_PRECISION"))
        let unknown = try daemon.http(
            "POST", "/v1/order", body: #"{"account":1,"symbol":"NOPE","side":"BUY","type":"LIMIT","price":"1","quantity":"1"}"#,
            token: DaemonProcess.traderToken)
        #expect(unknown.status == 404)
        let margin = try daemon.http(
            "POST", "/v1/order", body: #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"50000.0","quantity":"10"}"#,
            token: DaemonProcess.traderToken)
        #expect(margin.status == 400)
        #expect(margin.body.contains("\"reason\":\"INSUFFICIENT_MARGIN\""))
        #expect(margin.body.contains("\"code\":31"))
        #expect(
            try daemon.http("POST", "/v1/deposit", body: #"{"account":1,"asset":"USDT","amount":"1","transferId":3}"#, token: nil).status
                == 401)
        #expect(try daemon.stateHash().hash == before.hash)

        let placed = try daemon.http(
            "POST", "/v1/order",
            body:
                #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"49000.0","quantity":"0.010","newClientOrderId":"gw-42:a/b"}"#,
            token: DaemonProcess.traderToken)
        #expect(placed.status == 200, "\(placed.body)")
        #expect(placed.body.contains("\"status\":\"NEW\""))
        let account = try daemon.http("GET", "/v1/account?account=1", token: DaemonProcess.traderToken)
        #expect(account.body.contains("\"walletBalance\":\"1000.500000\""), "\(account.body)")
        let depth = try daemon.http("GET", "/v1/depth?symbol=BTCUSDT", token: DaemonProcess.traderToken)
        #expect(depth.body.contains("[\"49000.0\",\"0.010\"]"), "\(depth.body)")
        #expect(try daemon.http("GET", "/health/ready", token: nil).status == 200)
        #expect(try daemon.http("GET", "/metrics", token: nil).body.contains("ledger_durable_sequence"))
    }
}

/// The rule book over HTTP: a listing with brackets, its leverage brackets, margin type,
/// isolated margin, the oracle's prices and rates, the insurance fund.
@Suite struct RuleBookHTTPTests {
    @Test func ruleBookEndpointsAnswerInBinanceTerms() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        func post(_ path: String, _ body: String, token: String = DaemonProcess.adminToken) throws -> (
            status: Int, body: String, headers: String
        ) {
            try daemon.http("POST", path, body: body, token: token)
        }
        let brackets = "50000:0.004:125,250000:0.005:100,1000000:0.01:50,10000000:0.025:20"
        let listing =
            #"{"name":"BTCPERP","settleAsset":"USDT","priceScale":"1","quantityScale":"3","tickSize":"0.1","stepSize":"0.001","#
            + #""minNotional":"5","maxPrice":"1000000","maxQty":"1000","maxPosition":"10000","maxLeverage":"125","#
            + #""defaultLeverage":"20","makerFeeRate":"0.0002","takerFeeRate":"0.0005","brackets":"\#(brackets)","#
            + #""priceBand":"0.05","fundingIntervalSeconds":"28800","fundingInterestRate":"0.0001","fundingClamp":"0.0005","#
            + #""fundingCap":"0.0075"}"#
        let listed = try post("/v1/symbol", listing)
        #expect(listed.status == 200, "\(listed.body)")
        let table = try daemon.http("GET", "/v1/leverageBracket?symbol=BTCPERP")
        for cum in [#""cum":"0.000000""#, #""cum":"50.000000""#, #""cum":"1300.000000""#, #""cum":"16300.000000""#] {
            #expect(table.body.contains(cum), "\(table.body)")
        }
        #expect(try post("/v1/markPrice", #"{"symbol":"BTCPERP","price":"20000.0"}"#).status == 200)
        #expect(try post("/v1/indexPrice", #"{"symbol":"BTCPERP","price":"19990.5"}"#).status == 200)
        // The reply names the settlement the rate applies to: the next 8-hour boundary.
        let rate = try post("/v1/fundingRate", #"{"symbol":"BTCPERP","fundingRate":"0.0001"}"#)
        let rateReply = try #require(try JSONSerialization.jsonObject(with: Data(rate.body.utf8)) as? [String: Any], "\(rate.body)")
        let transactTime = try #require(rateReply["transactTime"] as? Int)
        #expect(rateReply["fundingTime"] as? Int == (transactTime / 28_800_000 + 1) * 28_800_000, "\(rate.body)")
        // An invalid listing names its field, and changes nothing.
        let unchanged = try daemon.stateHash()
        for (change, field) in [
            (#""tickSize":"0.1""#, #""tickSize":"0""#), (#""defaultLeverage":"20""#, #""defaultLeverage":"200""#),
            (#""fundingCap":"0.0075""#, #""fundingCap":"0""#), (#""name":"BTCPERP""#, #""name":"BTCPERP""#),
        ] {
            // A new name but for the last case, so that the field is the listing's one fault.
            let renamed = change == field ? listing : listing.replacingOccurrences(of: #""name":"BTCPERP""#, with: #""name":"ETHPERP""#)
            let body = renamed.replacingOccurrences(of: change, with: field)
            let refused = try post("/v1/symbol", body)
            let expected = [
                #""tickSize":"0""#: "invalid listing: tickSize must be above 0",
                #""defaultLeverage":"200""#: "invalid listing: defaultLeverage must be 1 ... maxLeverage (125)",
                #""fundingCap":"0""#: "invalid listing: fundingCap must be above 0 when fundingIntervalSeconds is set",
                #""name":"BTCPERP""#: "invalid listing: name BTCPERP is listed already",
            ][field]!
            #expect(refused.status == 400 && refused.body.contains("INVALID_LISTING") && refused.body.contains(expected), "\(refused.body)")
        }
        #expect(try daemon.stateHash().sequence > unchanged.sequence, "rejections are journaled")
        let premium = try daemon.http("GET", "/v1/premiumIndex?symbol=BTCPERP")
        #expect(premium.body.contains(#""indexPrice":"19990.5""#), "\(premium.body)")
        #expect(premium.body.contains(#""estimatedFundingRate":"0.00010000""#), "\(premium.body)")

        // Isolated long 1 BTC at 20,000 with 50x: initial margin 400 plus the fee.
        for account in [1, 2] {
            let body = #"{"account":\#(account),"asset":"USDT","amount":"100000","transferId":\#(account)}"#
            #expect(try post("/v1/deposit", body).status == 200)
        }
        let trader = DaemonProcess.traderToken
        #expect(try post("/v1/marginType", #"{"account":1,"symbol":"BTCPERP","marginType":"ISOLATED"}"#, token: trader).status == 200)
        #expect(try post("/v1/leverage", #"{"account":1,"symbol":"BTCPERP","leverage":"50"}"#, token: trader).status == 200)
        let sell = #"{"account":2,"symbol":"BTCPERP","side":"SELL","type":"LIMIT","price":"20000.0","quantity":"1.000"}"#
        #expect(try post("/v1/order", sell, token: trader).status == 200)
        let buy = #"{"account":1,"symbol":"BTCPERP","side":"BUY","type":"LIMIT","price":"20000.0","quantity":"1.000"}"#
        #expect(try post("/v1/order", buy, token: trader).status == 200)
        #expect(try post("/v1/positionMargin", #"{"account":1,"symbol":"BTCPERP","amount":"10","type":"1"}"#, token: trader).status == 200)
        let account = try daemon.http("GET", "/v1/account?account=1", token: trader)
        #expect(account.body.contains(#""marginType":"isolated""#), "\(account.body)")
        // 400 + 10 added − 10 taker fee (0.05% of 20,000) = 400.
        #expect(account.body.contains(#""isolatedMargin":"400.000000""#), "\(account.body)")
        // Bracket 1 (MMR 0.4%) at the price: (400 − 20,000) / (0.004 − 1) = 19,678.7148…, rounded up.
        #expect(account.body.contains(#""liquidationPrice":"19678.8""#), "\(account.body)")
        // The cross margin ratio is rounded up (never understating risk): account 2's short.
        let other = try daemon.http("GET", "/v1/account?account=2", token: trader)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(other.body.utf8)) as? [String: Any])
        let usdt = try #require((parsed["assets"] as? [[String: Any]])?.first { $0["asset"] as? String == "USDT" })
        let units = { (text: Any?) -> Int128 in Int128((text as? String ?? "").replacingOccurrences(of: ".", with: "")) ?? -1 }
        let maintenance = units(usdt["crossMaintMargin"])  // 6 places
        let balance = units(usdt["crossMarginBalance"])
        #expect(maintenance > 0 && balance > 0, "\(other.body)")
        let ratio = (maintenance * 10_000 + balance - 1) / balance
        #expect(ratio * balance != maintenance * 10_000, "an exact ratio cannot tell the rounding")
        #expect(units(usdt["crossMarginRatio"]) == ratio, "\(usdt)")

        #expect(try post("/v1/insuranceFund", #"{"transferId":99,"asset":"USDT","amount":"5000"}"#).status == 200)
        #expect(try daemon.http("GET", "/v1/insuranceFund").body.contains(#""balance":"5000.000000""#))

        // Rejections of the rule book, each with its reason and nothing changed.
        let before = try daemon.stateHash()
        let capped = try post("/v1/fundingRate", #"{"symbol":"BTCPERP","fundingRate":"0.0076"}"#)
        #expect(capped.status == 400 && capped.body.contains("INVALID_RATE"), "\(capped.body)")
        let banded = #"{"account":2,"symbol":"BTCPERP","side":"BUY","type":"LIMIT","price":"18000.0","quantity":"0.010"}"#
        #expect(try post("/v1/order", banded, token: trader).body.contains("PRICE_OUTSIDE_BAND"))
        let locked = try post("/v1/marginType", #"{"account":1,"symbol":"BTCPERP","marginType":"CROSSED"}"#, token: trader)
        #expect(locked.body.contains("MARGIN_MODE_LOCKED"), "\(locked.body)")
        let wrongSide = try post(
            "/v1/order", #"{"account":1,"symbol":"BTCPERP","side":"SELL","type":"STOP_MARKET","stopPrice":"21000.0","quantity":"1.000"}"#,
            token: trader)
        #expect(wrongSide.body.contains("WOULD_TRIGGER_IMMEDIATELY"), "\(wrongSide.body)")
        let increasing = try post(
            "/v1/order",
            #"{"account":1,"symbol":"BTCPERP","side":"BUY","type":"LIMIT","price":"19990.0","quantity":"0.100","reduceOnly":"true"}"#,
            token: trader)
        #expect(increasing.body.contains("REDUCE_ONLY_REJECTED"), "\(increasing.body)")
        #expect(try daemon.stateHash().hash == before.hash)

        // Conditional orders, amend and cancel-all.
        let stop = try post(
            "/v1/order",
            #"{"account":1,"symbol":"BTCPERP","side":"SELL","type":"STOP_MARKET","stopPrice":"19800.0","closePosition":"true","workingType":"MARK_PRICE"}"#,
            token: trader)
        #expect(stop.status == 200 && stop.body.contains("CONDITIONAL_ORDER_PLACED"), "\(stop.body)")
        #expect(try daemon.http("GET", "/v1/openOrders?account=1").body.contains(#""type":"STOP_MARKET""#))
        let bid = try post(
            "/v1/order",
            #"{"account":2,"symbol":"BTCPERP","side":"BUY","type":"LIMIT","price":"19900.0","quantity":"0.010","newClientOrderId":"7"}"#,
            token: trader)
        #expect(bid.status == 200)
        let amended = try daemon.http(
            "PUT", "/v1/order", body: #"{"account":2,"symbol":"BTCPERP","origClientOrderId":"7","price":"19950.0","quantity":"0.010"}"#,
            token: trader)
        #expect(amended.status == 200 && amended.body.contains("ORDER_AMENDED"), "\(amended.body)")
        let cancelled = try daemon.http("DELETE", "/v1/allOpenOrders?account=1&symbol=BTCPERP", token: trader)
        #expect(cancelled.body.contains(#""count":1"#), "\(cancelled.body)")
    }
}

/// The tools' exit codes: 0 ok, 1 a finding (tested with corruption), 2 bad usage.
@Suite struct ToolExitCodeTests {
    @Test(arguments: [
        ("ledger-replay", ["verify"]),
        ("ledger-replay", ["audit", "--no-such-flag"]),
        ("ledger-replay", ["frobnicate"]),
        ("ledger-snapshot", ["prune", "--data-dir", "/nonexistent", "--keep", "0"]),
        ("ledger-snapshot", ["list"]),
        ("ledger-load", ["--token-file", "/nonexistent", "--accounts", "1", "--connections", "2"]),
        ("ledger-load", ["--accounts", "1"]),
        ("ledger-load", ["--rate", "-5", "--accounts", "4"]),
        ("ledger-load", ["--rate", "1000", "--tick-us", "1000001", "--accounts", "4"]),
        ("ledgerd", ["token", "add", "--file", "/tmp/x.toml", "--name", "a b", "--role", "admin"]),
        ("ledgerd", ["token", "add", "--file", "/tmp/x.toml", "--name", "t", "--role", "trader"]),
        ("ledgerd", ["--frobnicate"]),
        ("ledgerd", ["--tcp-port", "not-a-port"]),
    ])
    func badUsageExitsTwo(tool: String, arguments: [String]) throws {
        let result = try runTool(tool, arguments)
        #expect(result.status == 2, "\(tool) \(arguments): \(result.status) \(result.error)")
        #expect(!result.error.isEmpty)
    }

    /// Every verb of every tool: a path that is not there, or an empty one, is bad usage
    /// (exit 2) with a message naming it, never "OK". `EMPTY` stands for an empty directory.
    @Test(arguments: [
        ("ledger-replay", ["verify", "--data-dir", "/nonexistent/ledger"], "/nonexistent/ledger does not exist"),
        ("ledger-replay", ["verify", "--journal", "EMPTY"], "holds no journal segment"),
        ("ledger-replay", ["verify", "--data-dir", "EMPTY"], "EMPTY/journal does not exist"),
        ("ledger-replay", ["audit", "--journal", "/nonexistent/journal"], "/nonexistent/journal does not exist"),
        ("ledger-replay", ["dump", "--journal", "EMPTY"], "holds no journal segment"),
        ("ledger-replay", ["dump", "--journal", "EMPTY", "--kind", "TRAED"], "unknown --kind TRAED"),
        ("ledger-replay", ["dump", "--journal", "EMPTY", "--from-time", "yesterday"], "yesterday is not a time"),
        ("ledger-replay", ["rebuild", "--journal", "EMPTY", "--to", "soon", "--out", "EMPTY"], "--to soon is neither"),
        ("ledger-replay", ["rebuild", "--journal", "/nonexistent/j", "--to", "5", "--out", "EMPTY"], "/nonexistent/j does not exist"),
        ("ledger-replay", ["drill", "--backup", "/nonexistent/backup"], "/nonexistent/backup does not exist"),
        ("ledger-replay", ["drill", "--backup", "EMPTY"], "holds no manifest.json"),
        ("ledger-replay", ["excise", "--journal", "/nonexistent/j", "--sequence", "3"], "/nonexistent/j does not exist"),
        (
            "ledger-replay", ["acks", "--journal", "EMPTY", "/nonexistent/acks.log"],
            "acknowledgement log /nonexistent/acks.log does not exist"
        ),
        ("ledger-snapshot", ["list", "--snapshots", "/nonexistent/s"], "/nonexistent/s does not exist"),
        ("ledger-snapshot", ["list", "--snapshots", "EMPTY"], "holds no snapshot"),
        ("ledger-snapshot", ["verify", "--data-dir", "/nonexistent/d"], "/nonexistent/d does not exist"),
        ("ledger-snapshot", ["verify", "--snapshots", "EMPTY"], "holds no snapshot"),
        ("ledger-snapshot", ["prune", "--snapshots", "EMPTY", "--keep", "1"], "holds no snapshot"),
        ("ledger-snapshot", ["inspect", "/nonexistent/snap-1.zst"], "/nonexistent/snap-1.zst does not exist"),
        ("ledger-snapshot", ["create", "--data-dir", "/nonexistent/d"], "/nonexistent/d/journal does not exist"),
        ("ledger-snapshot", ["backup", "--data-dir", "EMPTY", "--to", "/tmp/x"], "EMPTY/journal does not exist"),
        ("ledger-snapshot", ["restore", "--from", "/nonexistent/b", "--data-dir", "EMPTY"], "/nonexistent/b does not exist"),
        ("ledger-snapshot", ["restore", "--from", "EMPTY", "--data-dir", "EMPTY"], "holds no manifest.json"),
    ])
    func aMissingOrEmptyPathExitsTwoNamingIt(tool: String, arguments: [String], message: String) throws {
        let empty = NSTemporaryDirectory() + "ledger-empty-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let result = try runTool(tool, arguments.map { $0.replacingOccurrences(of: "EMPTY", with: empty) })
        #expect(result.status == 2, "\(tool) \(arguments): \(result.status) \(result.output) \(result.error)")
        #expect(result.error.contains(message.replacingOccurrences(of: "EMPTY", with: empty)), "\(tool) \(arguments): \(result.error)")
    }

    @Test func helpExitsZero() throws {
        #expect(try runTool("ledger-replay", ["--help"]).status == 0)
        #expect(try runTool("ledger-snapshot", ["--help"]).status == 0)
    }
}

/// `ledger-load --rate` (issue 11 measures lag at a steady rate with it): open loop, each
/// command at its time, so a run cannot be faster than commands / rate; a busy machine only
/// makes it slower, which this does not check.
@Suite struct LoadRateTests {
    /// 3,000 commands at 2,000 a second over 2 connections against a fresh daemon, with
    /// `extra` arguments: the JSON report, after checking that every command committed and
    /// that the run took its schedule (the last command is due 1.5 s after the first).
    static func rateRun(_ extra: [String] = []) throws -> [String: Any] {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let common = ["--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--accounts", "100"]
        let result = try runTool(
            "ledger-load", common + ["--setup", "--commands", "3000", "--rate", "2000", "--connections", "2", "--json"] + extra)
        #expect(result.status == 0, "\(result.error)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data((result.output.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        #expect(report["committed"] as? Int == 3_000, "\(report)")
        #expect((report["elapsedSeconds"] as? Double ?? 0) >= 1.45, "\(report)")
        return report
    }

    @Test func aRateRunTakesAtLeastItsSchedule() throws {
        _ = try Self.rateRun()
    }

    /// `--tick-us`: a connection writes what is due once a tick, and each command's latency
    /// still counts from its own due time. With 50 ms ticks at 1,000 commands a second a
    /// connection, the commands of a write waited 0 … 50 ms in the client, 25 ms on average:
    /// the median latency carries that wait (it would be a few ms counted from the write).
    @Test func aTickBatchesWritesAndChargesTheWaitToTheLatency() throws {
        let report = try Self.rateRun(["--tick-us", "50000"])
        let latency = try #require(report["latencyMicros"] as? [String: Double], "\(report)")
        #expect((latency["p50"] ?? 0) >= 20_000, "\(latency)")
    }
}
