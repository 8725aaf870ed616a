import Foundation
import LedgerClient
import LedgerCore
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
                #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"49000.0","quantity":"0.010","clientOrderId":"42"}"#,
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

/// The tools' exit codes: 0 ok, 1 a finding (tested with corruption), 2 bad usage.
@Suite struct ToolExitCodeTests {
    @Test(arguments: [
        ("ledger-replay", ["verify"]),
        ("ledger-replay", ["audit", "--no-such-flag"]),
        ("ledger-replay", ["frobnicate"]),
        ("ledger-snapshot", ["prune", "--data-dir", "/nonexistent", "--keep", "0"]),
        ("ledger-snapshot", ["list"]),
        ("ledger-load", ["--token", "x", "--accounts", "1", "--connections", "2"]),
    ])
    func badUsageExitsTwo(tool: String, arguments: [String]) throws {
        let result = try runTool(tool, arguments)
        #expect(result.status == 2, "\(tool) \(arguments): \(result.status) \(result.error)")
        #expect(!result.error.isEmpty)
    }

    @Test func helpExitsZero() throws {
        #expect(try runTool("ledger-replay", ["--help"]).status == 0)
        #expect(try runTool("ledger-snapshot", ["--help"]).status == 0)
    }
}
