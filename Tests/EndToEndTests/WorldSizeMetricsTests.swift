import Foundation
import LedgerClient
import LedgerCore
import Testing

/// /metrics tells the operator the world's size against its limits (docs/OPERATIONS.md,
/// "Metrics"): `ledger_accounts` and `ledger_resting_orders`, after the engine's last
/// batch and from the recovered state at start-up, before any command.
@Suite(.serialized) struct WorldSizeMetricsTests {
    @Test func accountsAndRestingOrdersAreCountedAndSurviveARestart() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try daemon.connect()
        try E2EExchange.run(E2EExchange.genesis, on: connection)
        // 30 accounts, two bids each far under the mark (60 resting), then 10 cancelled
        // and 5 taken by a market sell of exactly their size: 45 rest.
        var commands: [Command] = (1...30).map {
            .deposit(Transfer(transferID: UInt64($0), account: AccountID($0), asset: 0, amountMinor: 100_000_000_000))
        }
        for account in 1...30 {
            for price: Int64 in [450_000, 440_000] {
                commands.append(
                    .placeOrder(
                        PlaceOrder(
                            account: AccountID(account), symbol: 0, side: .buy, type: .limit, timeInForce: .gtc,
                            priceUnits: price, quantityUnits: 1)))
            }
        }
        var rested: [(AccountID, OrderID)] = []
        for (index, reply) in try E2EExchange.run(commands, on: connection).enumerated() {
            guard case .committed(_, _, let events) = reply else {
                Issue.record("command \(index): \(reply)")
                continue
            }
            if case .placeOrder(let order) = commands[index] {
                for case .orderRested(let id, _) in events { rested.append((order.account, id)) }
            }
        }
        #expect(rested.count == 60)
        let cancels: [Command] = rested.prefix(10).map { .cancelOrder(CancelOrder(account: $0.0, orderID: $0.1)) }
        try E2EExchange.run(cancels, on: connection, firstID: 2_000_000)
        let sell = try E2EExchange.run(
            [
                .placeOrder(
                    PlaceOrder(account: 30, symbol: 0, side: .sell, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 5))
            ], on: connection, firstID: 3_000_000)
        guard case .committed(_, _, let events) = sell.first else {
            Issue.record("the market sell: \(sell)")
            return
        }
        #expect(events.filter { if case .trade = $0 { true } else { false } }.count == 5)
        #expect(try daemon.metric("ledger_accounts") == 30)
        #expect(try daemon.metric("ledger_resting_orders") == 45)
        #expect(daemon.terminate() == 0)

        // Recovered from the journal, before any command.
        try daemon.start()
        #expect(try daemon.metric("ledger_accounts") == 30)
        #expect(try daemon.metric("ledger_resting_orders") == 45)
        #expect(daemon.terminate() == 0)
    }
}
