import Foundation
import LedgerClient
import LedgerCore
import Testing

/// Tokens and roles against the real daemon (docs/OPERATIONS.md, "Tokens and roles"):
/// every role × every command on TCP and every endpoint on HTTP, allowed or FORBIDDEN;
/// no token and a wrong token; a trader on another's account; SIGHUP reloads while a load
/// runs; BUSY with a retry hint under a flood.
@Suite struct AuthTests {
    typealias Token = TestTokens.Token
    static let admin = TestTokens.admin.name
    static let gateway = TestTokens.trader.name
    static let alice = TestTokens.alice.name
    static let oracle = TestTokens.oracle.name
    static let reader = TestTokens.reader.name
    static let roleTokens = [TestTokens.admin, TestTokens.trader, TestTokens.alice, TestTokens.oracle, TestTokens.reader]

    /// Each command kind a gateway can frame, and the tokens that may send it. Alice holds
    /// accounts 1, 2 and 100 ... 199; account 50 is not hers.
    static let commandMatrix: [(String, Command, Set<String>)] = [
        ("listAsset", .listAsset(Asset(id: 9, name: "XYZ", scale: 2)), [admin]),
        ("listSymbol", DemoExchange.listings[1], [admin]),
        ("deposit", .deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 1)), [admin]),
        ("withdraw", .withdraw(Transfer(transferID: 2, account: 1, asset: 0, amountMinor: 1)), [admin]),
        ("depositInsuranceFund", .depositInsuranceFund(Transfer(transferID: 3, account: 0, asset: 0, amountMinor: 1)), [admin]),
        ("setIdempotencyWindow", .setIdempotencyWindow(.standard), [admin]),
        ("setMarkPrice", .setMarkPrice(symbol: 0, priceUnits: 500_000), [admin, oracle]),
        ("setIndexPrice", .setIndexPrice(symbol: 0, priceUnits: 500_000), [admin, oracle]),
        ("setFundingRate", .setFundingRate(symbol: 0, rateE8: 1_000), [admin, oracle]),
        ("addPremiumSample", .addPremiumSample(symbol: 0, premiumE8: 10), [admin, oracle]),
        ("placeOrder own", .placeOrder(order(account: 1)), [admin, gateway, alice]),
        ("placeOrder other", .placeOrder(order(account: 50)), [admin, gateway]),
        ("placeOrder own range", .placeOrder(order(account: 150)), [admin, gateway, alice]),
        ("cancelOrder own", .cancelOrder(CancelOrder(account: 2, orderID: 77)), [admin, gateway, alice]),
        ("cancelOrder other", .cancelOrder(CancelOrder(account: 50, orderID: 77)), [admin, gateway]),
        (
            "amendOrder other", .amendOrder(AmendOrder(account: 200, orderID: 77, priceUnits: 500_000, quantityUnits: 1)),
            [admin, gateway]
        ),
        (
            "amendOrder own", .amendOrder(AmendOrder(account: 199, orderID: 77, priceUnits: 500_000, quantityUnits: 1)),
            [admin, gateway, alice]
        ),
        ("cancelAllOrders other", .cancelAllOrders(account: 3, symbol: 0), [admin, gateway]),
        ("setLeverage own", .setLeverage(account: 1, symbol: 0, leverage: 10), [admin, gateway, alice]),
        ("setLeverage other", .setLeverage(account: 99, symbol: 0, leverage: 10), [admin, gateway]),
        ("setMarginMode other", .setMarginMode(account: 200, symbol: 0, isolated: true), [admin, gateway]),
        ("adjustIsolatedMargin own", .adjustIsolatedMargin(account: 100, symbol: 0, amountMinor: 1), [admin, gateway, alice]),
        // System commands: no token, not even admin.
        ("tick", .tick, []),
        ("settleFunding", .settleFunding(account: 1), []),
        ("setWorldLimits", .setWorldLimits(.standard), []),
        ("entryExcised", .entryExcised(originalPayloadSHA256: Array(repeating: 0, count: 32)), []),
    ]

    static func order(account: AccountID) -> PlaceOrder {
        PlaceOrder(account: account, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 400_000, quantityUnits: 1)
    }

    @Test func everyRoleTimesEveryTCPCommand() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        var connections: [String: LedgerConnection] = [:]
        for token in Self.roleTokens {
            let connection = try LedgerConnection(host: "127.0.0.1", port: daemon.tcpPort)
            #expect(try connection.hello(token: token.secret) == Role(name: token.role))
            connections[token.name] = connection
        }
        var requestID: UInt64 = 100
        for (label, command, allowed) in Self.commandMatrix {
            for token in Self.roleTokens {
                requestID += 1
                let reply = try connections[token.name]!.call(.command(requestID: requestID, command))
                if allowed.contains(token.name) {
                    guard case .committed = reply else {
                        Issue.record("\(token.name) \(label): expected it journaled, got \(reply)")
                        continue
                    }
                } else {
                    guard case .error(_, .forbidden, let message) = reply else {
                        Issue.record("\(token.name) \(label): expected FORBIDDEN, got \(reply)")
                        continue
                    }
                    // The refusal names the token and why.
                    let why =
                        command.isSystemOnly
                        ? "no token may send this command"
                        : token.role == "trader" && command.role == .trader
                            ? "token alice may not act for account \(command.actingAccount!)" : "token \(token.name)"
                    #expect(message.contains(why), "\(token.name) \(label): \(message)")
                }
            }
        }
        // Every role may ask for the state.
        for token in Self.roleTokens {
            requestID += 1
            guard case .state = try connections[token.name]!.call(.stateQuery(requestID: requestID)) else {
                Issue.record("\(token.name): no state reply")
                continue
            }
        }
        // A read-only token needs protocol version 2 (version 1 cannot name its role).
        let old = try LedgerConnection(host: "127.0.0.1", port: daemon.tcpPort)
        guard case .error(_, .forbidden, let message) = try old.call(.hello(requestID: 1, token: TestTokens.reader.secret, version: 1))
        else {
            Issue.record("a version-1 hello with a read-only token was welcomed")
            return
        }
        #expect(message == "a read-only token needs protocol version 2")
        // No hello, or an unknown token: UNAUTHORIZED, nothing journaled.
        let before = try daemon.stateHash()
        let stranger = try LedgerConnection(host: "127.0.0.1", port: daemon.tcpPort)
        guard case .error(_, .unauthorized, let noHello) = try stranger.call(.command(requestID: 5, Self.commandMatrix[2].1)) else {
            Issue.record("a command without hello was not refused")
            return
        }
        #expect(noHello == "send hello first")
        guard case .error(_, .unauthorized, let unknown) = try stranger.call(.hello(requestID: 6, token: "test-admin ")) else {
            Issue.record("an unknown token was welcomed")
            return
        }
        #expect(unknown == "unknown token")
        #expect(try daemon.stateHash() == before)
    }

    /// Each endpoint, the tokens allowed, and a request body that decodes.
    static let endpointMatrix: [(String, String, String?, Set<String>)] = {
        let everyone: Set<String> = [admin, gateway, alice, oracle, reader]
        let readers: Set<String> = [admin, gateway, alice, reader]
        return [
            ("GET", "/v1/state", nil, everyone),
            ("GET", "/v1/exchangeInfo", nil, everyone),
            ("GET", "/v1/depth?symbol=BTCUSDT", nil, everyone),
            ("GET", "/v1/premiumIndex?symbol=BTCUSDT", nil, everyone),
            ("GET", "/v1/leverageBracket?symbol=BTCUSDT", nil, everyone),
            ("GET", "/v1/insuranceFund", nil, everyone),
            ("GET", "/v1/account?account=1", nil, readers),
            ("GET", "/v1/account?account=50", nil, [admin, gateway, reader]),
            ("GET", "/v1/openOrders?account=101", nil, readers),
            ("GET", "/v1/openOrders?account=50", nil, [admin, gateway, reader]),
            ("GET", "/v1/ticker/price", nil, everyone),
            ("GET", "/v1/trades?symbol=BTCUSDT", nil, everyone),
            ("GET", "/v1/order?account=1&orderId=1", nil, readers),
            ("GET", "/v1/order?account=50&origClientOrderId=x", nil, [admin, gateway, reader]),
            ("GET", "/v1/allOrders?account=1&symbol=BTCUSDT", nil, readers),
            ("GET", "/v1/allOrders?account=50&symbol=BTCUSDT", nil, [admin, gateway, reader]),
            ("GET", "/v1/userTrades?account=2&symbol=BTCUSDT", nil, readers),
            ("GET", "/v1/userTrades?account=50&symbol=BTCUSDT", nil, [admin, gateway, reader]),
            ("GET", "/v1/income?account=150", nil, readers),
            ("GET", "/v1/income?account=50", nil, [admin, gateway, reader]),
            ("GET", "/v1/forceOrders?account=1", nil, readers),
            ("GET", "/v1/forceOrders?account=50", nil, [admin, gateway, reader]),
            ("GET", "/v1/positionRisk?account=1", nil, readers),
            ("GET", "/v1/positionRisk?account=50", nil, [admin, gateway, reader]),
            (
                "POST", "/v1/order", #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"40000","quantity":"0.001"}"#,
                [admin, gateway, alice]
            ),
            (
                "POST", "/v1/order", #"{"account":50,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"40000","quantity":"0.001"}"#,
                [admin, gateway]
            ),
            (
                "PUT", "/v1/order", #"{"account":2,"symbol":"BTCUSDT","orderId":5,"price":"40000","quantity":"0.001"}"#,
                [admin, gateway, alice]
            ),
            ("DELETE", "/v1/order?account=50&orderId=5", nil, [admin, gateway]),
            ("DELETE", "/v1/order?account=1&orderId=5", nil, [admin, gateway, alice]),
            ("DELETE", "/v1/allOpenOrders?account=1&symbol=BTCUSDT", nil, [admin, gateway, alice]),
            ("POST", "/v1/leverage", #"{"account":50,"symbol":"BTCUSDT","leverage":5}"#, [admin, gateway]),
            ("POST", "/v1/marginType", #"{"account":1,"symbol":"BTCUSDT","marginType":"CROSSED"}"#, [admin, gateway, alice]),
            ("POST", "/v1/positionMargin", #"{"account":50,"symbol":"BTCUSDT","amount":"1","type":"1"}"#, [admin, gateway]),
            ("POST", "/v1/markPrice", #"{"symbol":"BTCUSDT","price":"50000"}"#, [admin, oracle]),
            ("POST", "/v1/indexPrice", #"{"symbol":"BTCUSDT","price":"50000"}"#, [admin, oracle]),
            ("POST", "/v1/fundingRate", #"{"symbol":"BTCUSDT","fundingRate":"0.0001"}"#, [admin, oracle]),
            ("POST", "/v1/premiumSample", #"{"symbol":"BTCUSDT","premium":"0.0001"}"#, [admin, oracle]),
            ("POST", "/v1/deposit", #"{"account":1,"asset":"USDT","amount":"1","transferId":500}"#, [admin]),
            ("POST", "/v1/withdraw", #"{"account":1,"asset":"USDT","amount":"1","transferId":501}"#, [admin]),
            ("POST", "/v1/insuranceFund", #"{"asset":"USDT","amount":"1","transferId":502}"#, [admin]),
            ("POST", "/v1/asset", #"{"name":"ABC","scale":2}"#, [admin]),
        ]
    }()

    @Test func everyRoleTimesEveryHTTPEndpoint() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        for (method, path, body, allowed) in Self.endpointMatrix {
            for token in Self.roleTokens {
                let answer = try daemon.http(method, path, body: body, token: token.secret)
                if allowed.contains(token.name) {
                    #expect(
                        answer.status != 403 && answer.status != 401, "\(token.name) \(method) \(path): \(answer.status) \(answer.body)")
                } else {
                    #expect(answer.status == 403, "\(token.name) \(method) \(path): \(answer.status) \(answer.body)")
                    #expect(answer.body.contains("token \(token.name)"), "\(token.name) \(method) \(path): \(answer.body)")
                }
            }
            // No token, and a wrong one: 401 on every endpoint.
            for secret in [nil, "test-admin-wrong"] as [String?] {
                let answer = try daemon.http(method, path, body: body, token: secret)
                #expect(answer.status == 401, "\(secret ?? "no token") \(method) \(path): \(answer.status)")
                #expect(answer.body.contains("missing or unknown bearer token"))
            }
        }
        // Health and metrics need no token.
        #expect(try daemon.http("GET", "/health/live", token: nil).status == 200)
        #expect(try daemon.http("GET", "/metrics", token: nil).status == 200)
    }

    /// SIGHUP re-reads the token file while a load runs: no connection dropped, nothing
    /// the load sent refused; a new token works at once, a removed one is revoked on its
    /// open connection at its next request, and a file that does not parse changes nothing.
    @Test func sighupReloadsTokensWhileALoadRuns() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let aliceConnection = try daemon.connect(token: TestTokens.alice.secret)
        let newcomer = Token(name: "newcomer", secret: "test-newcomer", role: "oracle")
        let loadOutput = NSTemporaryDirectory() + "ledger-auth-load-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: loadOutput) }
        // The load: 60,000 commands on 2 connections with the admin token, in the background.
        let load = Thread {
            let result = try? runTool(
                "ledger-load",
                [
                    "--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--setup", "--accounts", "200",
                    "--commands", "60000", "--connections", "2", "--window", "256", "--json",
                ])
            try? "\(result?.status ?? -1)\n\(result?.output ?? "")\n\(result?.error ?? "")".write(
                toFile: loadOutput, atomically: true, encoding: .utf8)
        }
        load.start()
        // Reload five times while it runs: swap alice out for the newcomer, with a broken
        // file in between.
        var reloadsLogged = 0
        for round in 0..<5 {
            usleep(100_000)
            if round == 2 {
                try "[[token]]\nname = \"broken\"\n".write(toFile: daemon.tokensFile, atomically: true, encoding: .utf8)
            } else {
                // Swapped, standard, (broken), standard, swapped: the last file holds the newcomer.
                daemon.writeTokens(
                    round == 1 || round == 3 ? TestTokens.standard : TestTokens.standard.filter { $0.name != "alice" } + [newcomer])
            }
            daemon.reload()
            // Each reload is logged before the next (bounded wait: 10 s).
            for _ in 0..<1_000 {
                let log = daemon.log_()
                let count =
                    log.components(separatedBy: "reloaded tokens").count - 1 + log.components(separatedBy: "reload refused").count - 1
                if count > reloadsLogged { break }
                usleep(10_000)
            }
            reloadsLogged += 1
        }
        while !FileManager.default.fileExists(atPath: loadOutput) { usleep(50_000) }
        let lines = try String(contentsOfFile: loadOutput, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "0", "ledger-load: \(lines.joined(separator: "\n"))")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any], "ledger-load printed \(lines)")
        #expect(report["committed"] as? Int == 60_000, "\(report)")
        #expect((report["errors"] as? [String: Any])?.isEmpty ?? true, "\(report)")
        let log = daemon.log_()
        #expect(log.components(separatedBy: "reloaded tokens").count - 1 == 4, "\(log)")
        #expect(log.contains("reload refused; the tokens stay as they were"), "\(log)")
        #expect(log.contains("token 1 (broken): sha256 must be 64 hex digits"), "\(log)")
        // No secret and no digest in the log.
        for token in TestTokens.standard + [newcomer] {
            #expect(!log.contains(token.secret + "\n") && !log.contains("\"" + token.secret + "\""), "\(token.name)'s secret in the log")
        }
        // The last file removed alice and added the newcomer.
        #expect(try daemon.connect(token: newcomer.secret).call(.stateQuery(requestID: 1)).requestID == 1)
        guard case .error(_, .unauthorized, let revoked) = try aliceConnection.call(.stateQuery(requestID: 9)) else {
            Issue.record("alice's open connection still served after her token was removed")
            return
        }
        #expect(revoked == "token alice was revoked")
        #expect(throws: LedgerConnection.Failure.self) { _ = try aliceConnection.receive() }
        #expect(throws: LedgerConnection.Failure.self) {
            try LedgerConnection(host: "127.0.0.1", port: daemon.tcpPort).hello(token: "test-alice")
        }
        #expect(try daemon.http("GET", "/v1/state", token: "test-alice").status == 401)
        #expect(try daemon.http("GET", "/v1/state", token: newcomer.secret).status == 200)
    }

    /// The "slow" token: 10 requests a second, 5 at once. A flood of 60 gets 5 or a few
    /// more through and BUSY with a retry hint for the rest, on TCP (version 2: a busy
    /// frame; version 1: an error naming the wait) and HTTP (429, Retry-After, retryAfterMs).
    @Test func aFloodIsAnsweredBusyWithARetryHint() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try daemon.connect(token: TestTokens.slow.secret)
        try connection.send((1...60).map { WireFrame.stateQuery(requestID: UInt64($0)) })
        var admitted = 0
        var hints: [UInt64] = []
        for id in 1...60 {
            let reply = try connection.receive()
            #expect(reply.requestID == UInt64(id))
            switch reply {
            case .state: admitted += 1
            case .busy(_, let retryAfter, let message):
                hints.append(retryAfter)
                #expect(message == "token slow is over its 10 requests a second")
            default: Issue.record("unexpected \(reply)")
            }
        }
        #expect((5...8).contains(admitted), "\(admitted) admitted")
        #expect(hints.count == 60 - admitted)
        #expect(hints.allSatisfy { (1...100).contains($0) }, "\(hints)")
        // Waiting as told gets the next request through.
        usleep(UInt32(hints.last! * 1_000) + 5_000)
        guard case .state = try connection.call(.stateQuery(requestID: 61)) else {
            Issue.record("the request after the hinted wait was refused")
            return
        }
        // Version 1: the same limit, as an error naming the wait.
        let old = try LedgerConnection(host: "127.0.0.1", port: daemon.tcpPort)
        guard case .welcome = try old.call(.hello(requestID: 0, token: TestTokens.slow.secret, version: 1)) else {
            Issue.record("no welcome")
            return
        }
        try old.send((1...20).map { WireFrame.stateQuery(requestID: UInt64($0)) })
        var oldBusy = 0
        for _ in 1...20 {
            if case .error(_, .busy, let message) = try old.receive() {
                oldBusy += 1
                #expect(message.hasPrefix("token slow is over its 10 requests a second; retry after "), "\(message)")
            }
        }
        #expect(oldBusy >= 12)
        // HTTP: 429 with Retry-After and retryAfterMs.
        var tooMany = 0
        for _ in 0..<20 {
            let answer = try daemon.http("GET", "/v1/state", token: TestTokens.slow.secret)
            if answer.status == 429 {
                tooMany += 1
                #expect(answer.body.contains("\"retryAfterMs\":"), "\(answer.body)")
                #expect(answer.headers.contains("Retry-After: 1"), "\(answer.headers)")
                #expect(answer.body.contains("token slow is over its 10 requests a second"), "\(answer.body)")
            }
        }
        #expect(tooMany >= 10)
        // Another token is not slowed by it.
        #expect(try daemon.http("GET", "/v1/state").status == 200)
    }
}
