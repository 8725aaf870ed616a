import LedgerDigest
import Testing

@testable import LedgerCore

/// Conditional orders, reduce-only, close-position, self-trade prevention, amend and
/// cancel-all, on RuleBookTests' BTCUSDT (prices in 0.01, quantities in 0.001, no fees,
/// mark 50,000.00; accounts 1 and 2 hold 100,000 USDT).
@Suite struct OrderTypeTests {
    static func engine() -> EngineHarness {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt())
        engine.deposit(3, 100_000_000_000)
        return engine
    }

    static func order(
        _ account: AccountID, _ side: Side, _ type: OrderType, price: Int64 = 0, quantity: Int64, stop: Int64 = 0,
        working: WorkingType = .contractPrice, reduceOnly: Bool = false, closePosition: Bool = false,
        stp: SelfTradePrevention = .expireTaker, callback: Int64 = 0, activation: Int64 = 0, tif: TimeInForce = .gtc,
        client: ClientOrderID = 0
    ) -> Command {
        .placeOrder(
            PlaceOrder(
                account: account, symbol: 0, side: side, type: type, timeInForce: type == .market ? .ioc : tif, priceUnits: price,
                quantityUnits: quantity, clientOrderID: client, stopPriceUnits: stop, workingType: working, reduceOnly: reduceOnly,
                closePosition: closePosition, selfTradePrevention: stp, callbackRateE8: callback, activationPriceUnits: activation))
    }

    /// Account 1 long 1 BTC at 50,000 from account 2.
    static func longPosition() -> EngineHarness {
        var engine = Self.engine()
        engine.limit(2, .sell, price: 5_000_000, quantity: 1_000)
        engine.limit(1, .buy, price: 5_000_000, quantity: 1_000)
        return engine
    }

    @Test func aStopMarketOnMarkPriceFiresWhenTheMarkFalls() {
        var engine = Self.longPosition()
        let placed = engine.run(Self.order(1, .sell, .stopMarket, quantity: 1_000, stop: 4_900_000, working: .markPrice, reduceOnly: true))
        let stopID = engine.state.books.nextOrderID - 1
        #expect(placed == [.orderAccepted(stopID), .conditionalOrderPlaced(stopID)])
        engine.limit(3, .buy, price: 4_880_000, quantity: 1_000)
        let bid = engine.state.books.nextOrderID - 1
        #expect(engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_900_100)) == [.markPriceSet(symbol: 0, priceUnits: 4_900_100)])
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_900_000))
        #expect(
            events.prefix(2) == [
                .markPriceSet(symbol: 0, priceUnits: 4_900_000), .conditionalOrderTriggered(stopID, priceUnits: 4_900_000),
            ])
        guard case .trade(let trade) = events[2] else {
            Issue.record("no trade: \(events)")
            return
        }
        #expect(trade.takerOrderID == stopID && trade.makerOrderID == bid && trade.quantityUnits == 1_000)
        #expect(engine.state.account(1)!.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.books.conditionalBySymbol[0].isEmpty)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func aTakeProfitLimitOnLastPriceRestsWhenTriggered() {
        var engine = Self.longPosition()
        engine.run(Self.order(1, .sell, .takeProfitLimit, price: 5_100_000, quantity: 500, stop: 5_100_000))
        let takeProfit = engine.state.books.nextOrderID - 1
        // A trade at 51,000 between accounts 2 and 3 moves the last price to the trigger.
        engine.limit(2, .sell, price: 5_100_000, quantity: 100)
        let events = engine.limit(3, .buy, price: 5_100_000, quantity: 100)
        #expect(
            events.suffix(2) == [
                .conditionalOrderTriggered(takeProfit, priceUnits: 5_100_000), .orderRested(takeProfit, openQuantityUnits: 500),
            ])
        #expect(engine.state.openOrder(takeProfit)?.order.priceUnits == 5_100_000)
    }

    @Test func aTrailingStopFollowsTheHighAndFiresOnTheCallback() {
        var engine = Self.longPosition()
        engine.limit(3, .buy, price: 4_000_000, quantity: 1_000)  // far below: the stop's market order fills here
        // Sell 1 BTC when the mark falls 1% from its best since placement.
        engine.run(Self.order(1, .sell, .trailingStopMarket, quantity: 1_000, working: .markPrice, reduceOnly: true, callback: 1_000_000))
        let trailing = engine.state.books.nextOrderID - 1
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_200_000))  // the best rises to 52,000
        #expect(engine.state.books.conditionalBySymbol[0].first.map(engine.state.books.trailingExtremeUnits(of:)) == 5_200_000)
        // 51,480.01 is less than 1% below 52,000: nothing; 51,480.00 is exactly 1%: fires.
        #expect(engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_148_001)).count == 1)
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_148_000))
        #expect(events.contains(.conditionalOrderTriggered(trailing, priceUnits: 5_148_000)))
        #expect(engine.state.account(1)!.position(0).sizeQuantityUnits == 0)
    }

    @Test func aTrailingStopWaitsForItsActivationPrice() {
        var engine = Self.longPosition()
        engine.run(
            Self.order(
                1, .sell, .trailingStopMarket, quantity: 1_000, working: .markPrice, reduceOnly: true, callback: 500_000,
                activation: 5_300_000))
        #expect(engine.state.books.conditionalBySymbol[0].first.map(engine.state.books.trailingExtremeUnits(of:)) == 0)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_000_000))  // a fall before activation does nothing
        #expect(engine.state.books.conditionalBySymbol[0].count == 1)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_300_000))
        #expect(engine.state.books.conditionalBySymbol[0].first.map(engine.state.books.trailingExtremeUnits(of:)) == 5_300_000)
    }

    /// CONTRACT_PRICE watches the mark until the symbol's first trade (docs/RULES.md), so a
    /// trailing stop on it keeps the best mark until then, and the last trade price after.
    @Test func aContractPriceTrailingStopFollowsTheMarkUntilTheFirstTrade() {
        var engine = Self.engine()  // mark 50,000.00, no trade yet
        func extreme(_ id: OrderID) -> Int64? {
            engine.state.books.waitingConditional(id).map(engine.state.books.trailingExtremeUnits(of:))
        }
        engine.run(Self.order(1, .sell, .trailingStopMarket, quantity: 100, callback: 1_000_000))
        let sell = engine.state.books.nextOrderID - 1
        engine.run(Self.order(2, .buy, .trailingStopMarket, quantity: 100, callback: 1_000_000, activation: 4_900_000))
        let buy = engine.state.books.nextOrderID - 1
        #expect(extreme(sell) == 5_000_000 && extreme(buy) == 0)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_200_000))
        #expect(extreme(sell) == 5_200_000 && extreme(buy) == 0)
        // 51,480.01 is less than 1% below 52,000: nothing; 51,480.00 is exactly 1%: fires.
        #expect(engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_148_001)) == [.markPriceSet(symbol: 0, priceUnits: 5_148_001)])
        #expect(engine.state.invariantViolation() == nil)
        let fired = engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_148_000))
        #expect(
            fired.prefix(2) == [.markPriceSet(symbol: 0, priceUnits: 5_148_000), .conditionalOrderTriggered(sell, priceUnits: 5_148_000)])
        // The buy activates at its activation price on the mark, then keeps the lowest mark.
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_900_000))
        #expect(extreme(buy) == 4_900_000)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_800_000))
        #expect(extreme(buy) == 4_800_000)
        #expect(engine.state.invariantViolation() == nil)
        // After the first trade (at 48,000.00) the contract price is the last trade: the mark
        // no longer moves the stop.
        engine.limit(3, .sell, price: 4_800_000, quantity: 10)
        engine.limit(1, .buy, price: 4_800_000, quantity: 10)
        #expect(engine.state.markets[0].lastPriceUnits == 4_800_000)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_700_000))
        #expect(extreme(buy) == 4_800_000)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func closePositionTakesTheWholePositionAtTheTrigger() {
        var engine = Self.longPosition()
        engine.limit(3, .buy, price: 4_800_000, quantity: 5_000)
        engine.run(Self.order(1, .sell, .stopMarket, quantity: 0, stop: 4_900_000, working: .markPrice, closePosition: true))
        // The position grows to 1.5 BTC before the trigger: all of it closes.
        engine.limit(2, .sell, price: 5_000_000, quantity: 500)
        engine.limit(1, .buy, price: 5_000_000, quantity: 500)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_900_000))
        #expect(engine.state.account(1)!.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func triggersFireInOrderIdOrder() {
        var engine = Self.longPosition()
        engine.limit(3, .buy, price: 4_800_000, quantity: 5_000)
        engine.run(Self.order(1, .sell, .stopMarket, quantity: 200, stop: 4_900_000, working: .markPrice))
        let first = engine.state.books.nextOrderID - 1
        engine.run(Self.order(1, .sell, .stopMarket, quantity: 300, stop: 4_950_000, working: .markPrice))
        let second = engine.state.books.nextOrderID - 1
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 4_850_000))
        let triggered = events.compactMap { event -> OrderID? in
            if case .conditionalOrderTriggered(let id, _) = event { id } else { nil }
        }
        #expect(triggered == [first, second])
    }

    @Test func reduceOnlyOrdersShrinkWithThePositionAndGoWhenItCloses() {
        var engine = Self.longPosition()
        engine.run(Self.order(1, .sell, .limit, price: 5_100_000, quantity: 600, reduceOnly: true))
        let first = engine.state.books.nextOrderID - 1
        engine.run(Self.order(1, .sell, .limit, price: 5_200_000, quantity: 400, reduceOnly: true))
        let second = engine.state.books.nextOrderID - 1
        // Selling 0.5 BTC elsewhere leaves 0.5: the newest reduce-only order shrinks first.
        engine.limit(3, .buy, price: 4_990_000, quantity: 500)
        let events = engine.run(Self.order(1, .sell, .market, quantity: 500))
        #expect(events.contains(.orderCancelled(second, quantityUnits: 400)))
        #expect(events.contains(.orderReduced(first, quantityUnits: 100)))
        #expect(engine.state.openOrder(first)?.order.openQuantityUnits == 500)
        // Closing the rest cancels it.
        engine.limit(3, .buy, price: 4_990_000, quantity: 500)
        let closing = engine.run(Self.order(1, .sell, .market, quantity: 500))
        #expect(closing.contains(.orderCancelled(first, quantityUnits: 500)))
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func selfTradePreventionFollowsTheTakersMode() {
        func run(_ mode: SelfTradePrevention) -> (events: [Event], ownOrder: OrderID, engine: EngineHarness) {
            var engine = Self.engine()
            engine.limit(1, .sell, price: 5_000_000, quantity: 100)
            let own = engine.state.books.nextOrderID - 1
            engine.limit(2, .sell, price: 5_001_000, quantity: 100)
            let events = engine.run(Self.order(1, .buy, .limit, price: 5_001_000, quantity: 200, stp: mode, tif: .ioc))
            return (events, own, engine)
        }
        let taker = run(.expireTaker)
        #expect(taker.events.last == .orderExpired(taker.engine.state.books.nextOrderID - 1, quantityUnits: 200, reason: .selfTrade))
        #expect(taker.engine.state.openOrder(taker.ownOrder) != nil)
        let maker = run(.expireMaker)
        #expect(maker.events.contains(.restingOrderExpired(maker.ownOrder, quantityUnits: 100, reason: .selfTrade)))
        #expect(maker.events.contains { if case .trade = $0 { true } else { false } })  // went on to account 2's order
        let both = run(.expireBoth)
        #expect(both.events.contains(.restingOrderExpired(both.ownOrder, quantityUnits: 100, reason: .selfTrade)))
        #expect(!both.events.contains { if case .trade = $0 { true } else { false } })
        #expect(both.events.last == .orderExpired(both.engine.state.books.nextOrderID - 1, quantityUnits: 200, reason: .selfTrade))
    }

    @Test func amendKeepsPriorityOnlyWhenShrinkingAtTheSamePrice() {
        var engine = Self.engine()
        engine.limit(1, .buy, price: 4_990_000, quantity: 300)
        let first = engine.state.books.nextOrderID - 1
        engine.limit(2, .buy, price: 4_990_000, quantity: 300)
        let second = engine.state.books.nextOrderID - 1
        #expect(
            engine.run(.amendOrder(AmendOrder(account: 1, orderID: first, priceUnits: 4_990_000, quantityUnits: 200))) == [
                .orderReduced(first, quantityUnits: 100)
            ])
        #expect(engine.state.books.bySymbol[0].orders(.buy).map(\.orderID) == [first, second])
        // Growing the quantity sends it to the back of the level.
        #expect(
            engine.run(.amendOrder(AmendOrder(account: 1, orderID: first, priceUnits: 4_990_000, quantityUnits: 400)))
                == [.orderAmended(first, priceUnits: 4_990_000, quantityUnits: 400), .orderRested(first, openQuantityUnits: 400)])
        #expect(engine.state.books.bySymbol[0].orders(.buy).map(\.orderID) == [second, first])
        // A new price that crosses trades at once.
        engine.limit(3, .sell, price: 5_000_000, quantity: 100)
        let events = engine.run(.amendOrder(AmendOrder(account: 1, orderID: first, priceUnits: 5_000_000, quantityUnits: 400)))
        #expect(events.first == .orderAmended(first, priceUnits: 5_000_000, quantityUnits: 400))
        #expect(events.last == .orderRested(first, openQuantityUnits: 300))
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func cancelAllTakesOpenAndConditionalOrders() {
        var engine = Self.longPosition()
        engine.limit(1, .sell, price: 5_100_000, quantity: 100)
        engine.limit(1, .buy, price: 4_900_000, quantity: 100)
        engine.run(Self.order(1, .sell, .stopMarket, quantity: 100, stop: 4_800_000))
        let events = engine.run(.cancelAllOrders(account: 1, symbol: 0))
        #expect(events.count == 4)
        #expect(events.last == .allOrdersCancelled(account: 1, symbol: 0, count: 3))
        #expect(engine.state.openOrders(of: 1).isEmpty && engine.state.books.conditionalBySymbol[0].isEmpty)
    }

    static let badInput: [(String, Command, RejectReason)] = [
        (
            "reduce-only that would increase a long", order(1, .buy, .limit, price: 4_990_000, quantity: 100, reduceOnly: true),
            .reduceOnlyRejected
        ),
        ("reduce-only larger than the position", order(1, .sell, .market, quantity: 1_001, reduceOnly: true), .reduceOnlyRejected),
        ("reduce-only without a position", order(3, .sell, .limit, price: 5_010_000, quantity: 100, reduceOnly: true), .reduceOnlyRejected),
        (
            "sell stop above the price", order(1, .sell, .stopMarket, quantity: 100, stop: 5_010_000, working: .markPrice),
            .wouldTriggerImmediately
        ),
        ("buy stop below the price", order(1, .buy, .stopMarket, quantity: 100, stop: 4_990_000), .wouldTriggerImmediately),
        ("sell take-profit below the price", order(1, .sell, .takeProfitMarket, quantity: 100, stop: 4_990_000), .wouldTriggerImmediately),
        ("stop without a stop price", order(1, .sell, .stopMarket, quantity: 100), .invalidPrice),
        ("stop price off the tick", order(1, .sell, .stopMarket, quantity: 100, stop: 4_900_005), .priceNotOnTick),
        ("trailing callback above 10%", order(1, .sell, .trailingStopMarket, quantity: 100, callback: 10_000_001), .invalidRate),
        (
            "close-position with a quantity", order(1, .sell, .stopMarket, quantity: 100, stop: 4_900_000, closePosition: true),
            .invalidQuantity
        ),
        ("close-position on a limit order", order(1, .sell, .limit, price: 5_000_000, quantity: 0, closePosition: true), .invalidQuantity),
        (
            "amend of an unknown order", .amendOrder(AmendOrder(account: 1, orderID: 999, priceUnits: 5_000_000, quantityUnits: 100)),
            .unknownOrder
        ),
        ("cancel-all of an unknown symbol", .cancelAllOrders(account: 1, symbol: 9), .unknownSymbol),
    ]

    @Test(arguments: badInput.indices)
    func orderBadInputChangesNothing(_ index: Int) {
        let (name, command, reason) = Self.badInput[index]
        var engine = Self.longPosition()
        let hash = engine.state.stateHash()
        #expect(engine.run(command) == [.rejected(reason, detail: 0)], "\(name)")
        #expect(engine.state.stateHash() == hash, "\(name)")
    }
}
