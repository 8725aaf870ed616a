import LedgerDigest
import Testing

@testable import LedgerCore

/// Each limit of the world (docs/RULES.md, "Limits of the world"): reached, the command is
/// rejected with its reason code and the state does not change; below it, the same
/// command passes.
@Suite struct WorldLimitsTests {
    /// The test exchange under `limits`: accounts 1 and 2 with 100,000 USDT, marks set.
    static func world(_ limits: WorldLimits) -> EngineHarness {
        var engine = EngineHarness(genesis: false)
        #expect(engine.run(.setWorldLimits(limits)) == [.worldLimitsSet(limits)])
        for command in TestExchange.genesis { engine.run(command) }
        engine.deposit(1, 100_000_000_000)
        engine.deposit(2, 100_000_000_000)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        engine.run(.setMarkPrice(symbol: 1, priceUnits: 300_000))
        return engine
    }

    /// The world under `limits`, account 1 long 10 lots bought from account 2.
    static func longWorld(_ limits: WorldLimits) -> EngineHarness {
        var engine = world(limits)
        engine.limit(2, .sell, price: 500_000, quantity: 10)
        engine.limit(1, .buy, price: 500_000, quantity: 10)
        #expect(engine.state.account(1)?.position(0).sizeQuantityUnits == 10)
        return engine
    }

    static let roomy = WorldLimits(accountsMax: 10, restingOrdersMax: 10, conditionalOrdersMax: 10, positionsPerAccountMax: 10)

    /// Runs `command` expecting `reason` and no change to the state.
    static func refuses(_ engine: inout EngineHarness, _ command: Command, _ reason: RejectReason, detail: UInt64 = 0) {
        let before = engine.state.stateHash()
        #expect(engine.run(command) == [.rejected(reason, detail: detail)], "\(command)")
        #expect(engine.state.stateHash() == before, "\(command) changed the state")
    }

    static func stop(_ account: AccountID, _ side: Side, stop: Int64, type: OrderType = .stopMarket, price: Int64 = 0) -> Command {
        .placeOrder(
            PlaceOrder(
                account: account, symbol: 0, side: side, type: type, timeInForce: .gtc, priceUnits: price, quantityUnits: 10,
                stopPriceUnits: stop, workingType: .markPrice))
    }

    @Test func accountsBeyondTheMaximumAreRefused() {
        var limits = Self.roomy
        limits.accountsMax = 2
        var engine = Self.world(limits)
        Self.refuses(
            &engine, .deposit(Transfer(transferID: 50, account: 3, asset: 0, amountMinor: 1_000)), .accountLimit, detail: 2)
        #expect(engine.state.accounts.count == 2)
        // Existing accounts deposit as before.
        #expect(
            engine.run(.deposit(Transfer(transferID: 51, account: 2, asset: 0, amountMinor: 1_000)))
                == [.deposited(account: 2, asset: 0, amountMinor: 1_000)])
    }

    @Test func restingOrdersBeyondTheMaximumAreRefusedButTakersTrade() {
        var limits = Self.roomy
        limits.restingOrdersMax = 2
        var engine = Self.world(limits)
        engine.limit(1, .sell, price: 501_000, quantity: 10)
        engine.limit(1, .sell, price: 502_000, quantity: 10)
        #expect(engine.state.books.orderLocations.count == 2)
        Self.refuses(
            &engine,
            .placeOrder(
                PlaceOrder(account: 2, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 499_000, quantityUnits: 10)),
            .orderLimit)
        // An IOC order never rests: it trades.
        let taken = engine.limit(2, .buy, price: 501_000, quantity: 10, tif: .ioc)
        #expect(taken.contains { if case .trade = $0 { true } else { false } })
        // A slot is free again.
        #expect(engine.limit(2, .buy, price: 499_000, quantity: 10).last == .orderRested(4, openQuantityUnits: 10))
    }

    @Test func conditionalOrdersBeyondTheMaximumAreRefused() {
        var limits = Self.roomy
        limits.conditionalOrdersMax = 1
        var engine = Self.longWorld(limits)
        #expect(engine.run(Self.stop(1, .sell, stop: 490_000)).last == .conditionalOrderPlaced(3))
        Self.refuses(&engine, Self.stop(1, .sell, stop: 480_000), .conditionalOrderLimit)
        engine.run(.cancelOrder(CancelOrder(account: 1, orderID: 3)))
        #expect(engine.run(Self.stop(1, .sell, stop: 480_000)).last == .conditionalOrderPlaced(4))
    }

    @Test func symbolsPerAccountBeyondTheMaximumAreRefused() {
        var limits = Self.roomy
        limits.positionsPerAccountMax = 1
        var engine = Self.world(limits)
        engine.limit(1, .buy, price: 499_000, quantity: 10)  // account 1 holds orders in BTCUSDT
        let eth = Command.placeOrder(
            PlaceOrder(account: 1, symbol: 1, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 299_000, quantityUnits: 100))
        Self.refuses(&engine, eth, .positionCountLimit)
        // More in BTCUSDT is fine; ETHUSDT once BTCUSDT holds nothing.
        #expect(engine.limit(1, .buy, price: 498_000, quantity: 10).last == .orderRested(2, openQuantityUnits: 10))
        engine.run(.cancelAllOrders(account: 1, symbol: 0))
        #expect(engine.run(eth).last == .orderRested(3, openQuantityUnits: 100))
    }

    /// A stop-limit whose trigger finds the books full is refused at the trigger, and the
    /// books stay as they were.
    @Test func aTriggeredStopLimitFindsTheBooksFull() {
        var limits = Self.roomy
        limits.restingOrdersMax = 2
        var engine = Self.longWorld(limits)
        #expect(engine.run(Self.stop(1, .sell, stop: 490_000, type: .stopLimit, price: 520_000)).last == .conditionalOrderPlaced(3))
        engine.limit(2, .sell, price: 530_000, quantity: 10)
        engine.limit(2, .sell, price: 531_000, quantity: 10)
        // The trigger runs in the tick after the mark price (bounded rules).
        var events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 489_000))
        while engine.state.hasSystemWork { events += engine.run(.tick) }
        #expect(events.contains(.conditionalOrderTriggered(3, priceUnits: 489_000)))
        #expect(events.contains(.triggeredOrderRejected(3, reason: .orderLimit)))
        #expect(engine.state.books.orderLocations.count == 2)
        #expect(engine.state.invariantViolation() == nil)
    }

    /// An account's resting orders in one symbol (and its conditional orders) stop at their
    /// limits, so that a cancel-all's entry and reply stay bounded; another symbol, or
    /// another account, still rests.
    @Test func anAccountsOrdersInOneSymbolStopAtTheirLimit() throws {
        var limits = Self.roomy
        limits.restingOrdersMax = 1_000
        limits.conditionalOrdersMax = 1_000
        var engine = Self.world(limits)
        for index in 0..<Limits.restingOrdersPerAccountSymbolMax {
            let events = engine.limit(1, .buy, price: 400_000 - Int64(index), quantity: 1)
            #expect(events.last.map { if case .orderRested = $0 { true } else { false } } == true)
        }
        let buy = Command.placeOrder(
            PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 300_000, quantityUnits: 1))
        Self.refuses(&engine, buy, .accountOrderLimit)
        let postOnly = Command.placeOrder(
            PlaceOrder(account: 1, symbol: 0, side: .sell, type: .limit, timeInForce: .gtx, priceUnits: 600_000, quantityUnits: 1))
        Self.refuses(&engine, postOnly, .accountOrderLimit)
        // An IOC order never rests: it is not counted.
        #expect(
            engine.limit(1, .sell, price: 600_000, quantity: 1, tif: .ioc).last.map { if case .orderExpired = $0 { true } else { false } }
                == true)
        // Another symbol and another account rest as before.
        #expect(
            engine.limit(1, .buy, price: 299_000, quantity: 10, symbol: 1).last.map { if case .orderRested = $0 { true } else { false } }
                == true)
        #expect(engine.limit(2, .buy, price: 400_000, quantity: 1).last.map { if case .orderRested = $0 { true } else { false } } == true)
        // Conditional orders: their own limit.
        for index in 0..<Limits.conditionalOrdersPerAccountSymbolMax {
            let events = engine.run(Self.stop(1, .sell, stop: 450_000 - Int64(index)))
            #expect(events.last.map { if case .conditionalOrderPlaced = $0 { true } else { false } } == true, "\(events)")
        }
        Self.refuses(&engine, Self.stop(1, .sell, stop: 440_000), .accountOrderLimit)
        // One cancel-all takes them all, in one entry that fits a reply frame.
        let cancelled = engine.run(.cancelAllOrders(account: 1, symbol: 0))
        #expect(cancelled.count == Limits.restingOrdersPerAccountSymbolMax + Limits.conditionalOrdersPerAccountSymbolMax + 1)
        var frame = ByteWriter()
        WireFrame.encodeCommitted(requestID: .max, sequence: .max, events: cancelled, to: &frame)
        #expect(frame.bytes.count - 4 <= WireFrame.frameBytesMax, "a cancel-all's reply is \(frame.bytes.count) bytes")
        #expect(try #require(engine.state.account(1)).positions.orderCounts(0) == (0, 0))
        // Room again.
        #expect(engine.limit(1, .buy, price: 300_000, quantity: 1).last.map { if case .orderRested = $0 { true } else { false } } == true)
        #expect(engine.state.invariantViolation() == nil)
    }

    /// Reduce-only resting orders: at most 10 an account in a symbol, so that the upkeep a
    /// fill sets off stays bounded; plain orders still rest beside them.
    @Test func reduceOnlyRestingOrdersStopAtTheirLimit() {
        var limits = Self.roomy
        limits.restingOrdersMax = 1_000
        var engine = Self.world(limits)
        engine.limit(2, .sell, price: 500_000, quantity: 50)
        engine.limit(1, .buy, price: 500_000, quantity: 50)
        func reduceOnly(_ price: Int64) -> Command {
            .placeOrder(
                PlaceOrder(
                    account: 1, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: price, quantityUnits: 1,
                    reduceOnly: true))
        }
        for index in 0..<Int64(Limits.reduceOnlyOrdersPerAccountSymbolMax) {
            let events = engine.run(reduceOnly(510_000 + index))
            #expect(events.last.map { if case .orderRested = $0 { true } else { false } } == true, "\(events)")
        }
        #expect(engine.state.account(1)?.positions.reduceOnlyOrders(0) == Limits.reduceOnlyOrdersPerAccountSymbolMax)
        Self.refuses(&engine, reduceOnly(520_000), .accountOrderLimit)
        #expect(engine.limit(1, .sell, price: 520_000, quantity: 1).last.map { if case .orderRested = $0 { true } else { false } } == true)
        // A fill against one of them: one fewer, and room for another.
        let closing = engine.run(
            .placeOrder(
                PlaceOrder(account: 2, symbol: 0, side: .buy, type: .limit, timeInForce: .ioc, priceUnits: 510_000, quantityUnits: 1)))
        #expect(closing.contains { if case .trade = $0 { true } else { false } })
        #expect(engine.state.account(1)?.positions.reduceOnlyOrders(0) == Limits.reduceOnlyOrdersPerAccountSymbolMax - 1)
        #expect(engine.run(reduceOnly(520_000)).last.map { if case .orderRested = $0 { true } else { false } } == true)
        #expect(engine.state.invariantViolation() == nil)
    }
}
