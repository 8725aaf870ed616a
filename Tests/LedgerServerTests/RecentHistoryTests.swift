import LedgerClient
import LedgerCore
import Testing

@testable import LedgerServer

/// The recent history's bounds (`history.*`): each kind keeps at most its maximum, the
/// oldest leave first, and an account's lists lose exactly what left.
@Suite struct RecentHistoryTests {
    /// Executes commands on a state and records each entry, as the follower does.
    struct Run {
        var state = ExchangeState()
        var history: RecentHistory
        var events: [Event] = []

        init(limits: HistoryLimits) { history = RecentHistory(limits: limits, startingAfter: 0) }

        mutating func run(_ command: Command) {
            events.removeAll()
            let sequence = state.lastSequence + 1
            let time = 1_764_000_000_000_000_000 + Int64(sequence) * 1_000_000
            state.execute(command, sequence: sequence, timeNanos: time, into: &events)
            history.record(command, events, sequence: sequence, timeNanos: time, state: state)
        }

        mutating func order(_ account: AccountID, _ side: Side, price: Int64, quantity: Int64, client: ClientOrderID = .none) {
            run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: side, type: .limit, timeInForce: .gtc, priceUnits: price,
                        quantityUnits: quantity, clientOrderID: client)))
        }
    }

    static func world(_ limits: HistoryLimits) -> Run {
        var run = Run(limits: limits)
        for command in E2EWorld.genesis { run.run(command) }
        for account in 1...4 as ClosedRange<UInt64> {
            run.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
        }
        return run
    }

    @Test func everyKindKeepsAtMostItsMaximumAndTheNewest() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax, limits.forceOrdersMax) = (5, 4, 6, 1)
        var run = Self.world(limits)
        // 12 makers from account 1, each taken whole by account 2: 24 closed orders, 12
        // trades, 4 deposits + 12 × 2 commissions.
        for step in 0..<12 as Range<Int64> {
            run.order(1, .sell, price: 500_000 + step, quantity: 10, client: ClientOrderID(UInt64(step + 1)))
            run.order(2, .buy, price: 500_000 + step, quantity: 10)
        }
        #expect(run.history.closed.end - run.history.closed.first == 5)
        #expect(run.history.trades.end - run.history.trades.first == 4)
        #expect(run.history.income.end - run.history.income.first == 6)
        // The newest kept: the last trade's two orders among the closed ones.
        let orders1 = run.history.orders(of: 1)
        let orders2 = run.history.orders(of: 2)
        #expect(orders1.count + orders2.count == 5)
        #expect(orders1.last?.clientOrderID == ClientOrderID(12) && orders1.allSatisfy { $0.status == .filled })
        #expect(run.history.order(1) == nil, "the first order left the ring")
        #expect(run.history.trades(of: 1).map(\.trade.tradeID) == [9, 10, 11, 12])
        #expect(run.history.trades(of: 2).map(\.trade.tradeID) == [9, 10, 11, 12])
        #expect(run.history.trades(of: 3).isEmpty)
        #expect(run.history.income(of: 1).count + run.history.income(of: 2).count == 6)
        #expect(run.history.publicTrades(0).count == 12, "public trades keep 1,000 a symbol apart")
        #expect(run.history.open.isEmpty)
    }

    @Test func openOrdersAreAlwaysKnownAndFollowTheirFills() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax) = (0, 0, 0)
        var run = Self.world(limits)
        run.order(1, .sell, price: 500_000, quantity: 30, client: ClientOrderID(text: "ask-1")!)
        run.order(2, .buy, price: 500_000, quantity: 10)
        let open = run.history.openOrders(of: 1)
        #expect(open.count == 1 && open[0].status == .partiallyFilled && open[0].executedQuantityUnits == 10)
        #expect(open[0].openQuantityUnits == 20 && open[0].originalQuantityUnits == 30)
        #expect(open[0].clientOrderID.text == "ask-1")
        // Nothing closed is kept with maxima of 0, and nothing breaks.
        #expect(run.history.order(2) == nil && run.history.trades(of: 1).isEmpty && run.history.income(of: 1).isEmpty)
        // A follower starting from this state knows the open order without its time.
        var seeded = RecentHistory(limits: limits, startingAfter: run.state.lastSequence)
        seeded.seed(from: run.state)
        let known = seeded.openOrders(of: 1)
        #expect(known.count == 1 && known[0].openQuantityUnits == 20 && known[0].clientOrderID.text == "ask-1" && known[0].timeNanos == 0)
    }

    @Test func theRingKeepsPositionsStable() {
        var ring = RecordRing<Int>(capacity: 3)
        var evicted: [Int] = []
        for value in 0..<10 { if let out = ring.append(value) { evicted.append(out) } }
        #expect(evicted == Array(0..<7))
        #expect((ring.first, ring.end) == (7, 10))
        #expect(ring[6] == nil && ring[7] == 7 && ring[9] == 9 && ring[10] == nil)
        var list = PositionList()
        for position in 0..<200 { list.append(position) }
        list.drop(before: 150)
        #expect(Array(list.positions) == Array(150..<200))
        var empty = RecordRing<Int>(capacity: 0)
        #expect(empty.append(1) == 1 && empty[0] == nil)
    }
}

/// The demo's USDT and BTCUSDT at a mark of 50,000.0.
enum E2EWorld {
    static let genesis: [Command] = Array(DemoExchange.listings.prefix(2)) + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
}
