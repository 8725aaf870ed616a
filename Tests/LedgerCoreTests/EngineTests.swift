import LedgerDigest
import Testing

@testable import LedgerCore

@Suite struct EngineTests {
    /// Two funded accounts and a mark price of 50,000.0.
    func funded() -> EngineHarness {
        var engine = EngineHarness()
        engine.deposit(1, 100_000_000_000)  // 100,000 USDT
        engine.deposit(2, 100_000_000_000)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        return engine
    }

    @Test func genesisListsAssetsAndSymbols() {
        let engine = EngineHarness()
        #expect(engine.state.assets.map(\.name) == ["USDT", "BTC"])
        #expect(engine.state.symbols.map(\.name) == ["BTCUSDT", "ETHUSDT"])
        #expect(engine.journal.allSatisfy { if case .rejected = $0.events[0] { false } else { true } })
    }

    @Test func aTradeMovesPositionsFeesAndPnlThroughBalancedPostings() {
        var engine = funded()
        let rest = engine.limit(1, .sell, price: 500_000, quantity: 1_000)  // 1 BTC at 50,000.0
        #expect(rest == [.orderAccepted(1), .orderRested(1, openQuantityUnits: 1_000)])
        let take = engine.limit(2, .buy, price: 500_100, quantity: 400)
        // 0.4 BTC × 50,000 = 20,000 USDT; maker fee 0.02% = 4 USDT, taker 0.05% = 10 USDT.
        let trade = Trade(
            tradeID: 1, symbol: 0, makerOrderID: 1, takerOrderID: 2, makerAccount: 1, takerAccount: 2,
            takerSide: .buy, priceUnits: 500_000, quantityUnits: 400, makerFeeMinor: 4_000_000,
            takerFeeMinor: 10_000_000, makerRealizedPnlMinor: 0, takerRealizedPnlMinor: 0)
        #expect(take == [.orderAccepted(2), .trade(trade)])
        #expect(engine.state.account(1)!.position(0).sizeQuantityUnits == -400)
        #expect(engine.state.account(2)!.position(0).costMinor == 20_000_000_000)
        #expect(engine.state.account(1)!.balance(0) == 100_000_000_000 - 4_000_000)
        #expect(engine.state.systemBalance(.fees, asset: 0) == 14_000_000)

        // Account 2 sells at 51,000 to account 1's new bid: +400 USDT realized, paid by clearing.
        engine.run(.cancelOrder(CancelOrder(account: 1, orderID: 1)))
        engine.limit(1, .buy, price: 510_000, quantity: 400)
        let close = engine.limit(2, .sell, price: 510_000, quantity: 400)
        guard case .trade(let closing) = close[1] else { Issue.record("no trade: \(close)"); return }
        #expect(closing.takerRealizedPnlMinor == 400_000_000)
        #expect(closing.makerRealizedPnlMinor == -400_000_000)  // account 1 bought back its short higher
        #expect(engine.state.account(2)!.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.systemBalance(.pnlClearing, asset: 0) == 0)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func pricePriorityThenTimePriority() {
        var engine = funded()
        engine.deposit(3, 100_000_000_000)
        engine.limit(1, .sell, price: 500_100, quantity: 100)  // order 1
        engine.limit(3, .sell, price: 500_000, quantity: 100)  // order 2: better price
        engine.limit(1, .sell, price: 500_000, quantity: 100)  // order 3: same price, later
        let events = engine.limit(2, .buy, price: 500_100, quantity: 250)
        let makers = events.compactMap { if case .trade(let t) = $0 { t.makerOrderID } else { nil } }
        #expect(makers == [2, 3, 1])
        #expect(engine.state.openOrder(1)?.order.openQuantityUnits == 50)
        #expect(engine.state.books.bySymbol[0].isUncrossed)
    }

    @Test func timeInForceAndSelfTradePrevention() {
        var engine = funded()
        engine.limit(1, .sell, price: 500_000, quantity: 100)  // order 1
        // FOK larger than the book expires whole and trades nothing.
        #expect(
            engine.limit(2, .buy, price: 500_000, quantity: 200, tif: .fok).last
                == .orderExpired(2, quantityUnits: 200, reason: .fillOrKill))
        // GTX that would cross expires.
        #expect(
            engine.limit(2, .buy, price: 500_000, quantity: 10, tif: .gtx).last == .orderExpired(3, quantityUnits: 10, reason: .postOnly))
        // IOC fills what it can; the rest expires.
        let ioc = engine.limit(2, .buy, price: 500_000, quantity: 150, tif: .ioc)
        #expect(ioc.last == .orderExpired(4, quantityUnits: 50, reason: .immediateOrCancel))
        // An account's order never trades with its own: the taker's rest expires.
        engine.limit(1, .sell, price: 500_000, quantity: 100)  // order 5
        let selfTrade = engine.limit(1, .buy, price: 500_000, quantity: 100)
        #expect(selfTrade == [.orderAccepted(6), .orderExpired(6, quantityUnits: 100, reason: .selfTrade)])
        #expect(engine.state.openOrder(5) != nil)
    }

    @Test func cancelByOrderIdAndByClientOrderId() {
        var engine = funded()
        engine.limit(1, .buy, price: 490_000, quantity: 100, client: 77)
        engine.limit(1, .buy, price: 489_000, quantity: 100)
        #expect(engine.run(.cancelOrder(CancelOrder(account: 1, clientOrderID: 77))) == [.orderCancelled(1, quantityUnits: 100)])
        #expect(engine.run(.cancelOrder(CancelOrder(account: 2, orderID: 2))) == [.rejected(.unknownOrder, detail: 0)])
        #expect(engine.run(.cancelOrder(CancelOrder(account: 1, orderID: 2))) == [.orderCancelled(2, quantityUnits: 100)])
        #expect(engine.state.account(1)!.position(0).openBuyQuantityUnits == 0)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func retriedDepositReturnsTheOriginalOutcome() {
        var engine = funded()
        let transfer = Transfer(transferID: 9, account: 5, asset: 0, amountMinor: 1_000_000)
        engine.run(.deposit(transfer))
        let original = engine.state.lastSequence
        let hash = engine.state.stateHash()
        #expect(engine.run(.deposit(transfer)) == [.transferReplayed(originalSequence: original)])
        #expect(engine.state.stateHash() == hash)
        #expect(engine.state.account(5)!.balance(0) == 1_000_000)
    }

    @Test func withdrawalIsLimitedByAvailableMargin() {
        var engine = funded()
        engine.limit(1, .buy, price: 500_000, quantity: 1_000)  // 50,000 notional at 20x: 2,500 margin
        let withdrawable = engine.state.withdrawableMinor(1, asset: 0)
        #expect(withdrawable == 100_000_000_000 - 2_500_000_000)
        let tooMuch = Transfer(transferID: 50, account: 1, asset: 0, amountMinor: withdrawable + 1)
        #expect(engine.run(.withdraw(tooMuch)) == [.rejected(.insufficientBalance, detail: 0)])
        let fits = Transfer(transferID: 51, account: 1, asset: 0, amountMinor: withdrawable)
        #expect(engine.run(.withdraw(fits)) == [.withdrawn(account: 1, asset: 0, amountMinor: withdrawable)])
    }

    /// Every kind of bad input: a rejection with its reason, and the state hash unchanged.
    @Test(arguments: [
        (
            Command.placeOrder(
                PlaceOrder(account: 1, symbol: 9, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 100)),
            RejectReason.unknownSymbol
        ),
        (
            .placeOrder(
                PlaceOrder(account: 99, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 100)),
            .unknownAccount
        ),
        (
            .placeOrder(
                PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: -100)),
            .invalidQuantity
        ),
        (
            .placeOrder(
                PlaceOrder(
                    account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: Int64.max)),
            .invalidQuantity
        ),
        (
            .placeOrder(PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: -5, quantityUnits: 100)),
            .invalidPrice
        ),
        (
            .placeOrder(
                PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: Int64.max, quantityUnits: 100)),
            .invalidPrice
        ),
        (
            .placeOrder(PlaceOrder(account: 1, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 5, quantityUnits: 100)),
            .invalidPrice
        ),
        (
            .placeOrder(
                PlaceOrder(account: 1, symbol: 1, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 300_000, quantityUnits: 100)),
            .noMarkPrice
        ),
        (
            .placeOrder(PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 100, quantityUnits: 1)),
            .notionalTooSmall
        ),
        (
            .placeOrder(
                PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 100_000)),
            .insufficientMargin
        ),
        (
            .placeOrder(
                PlaceOrder(
                    account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 490_000, quantityUnits: 100,
                    clientOrderID: 7)), .duplicateClientOrderID
        ),
        (.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 5)), .duplicateTransferID),
        (.deposit(Transfer(transferID: 500, account: 1, asset: 0, amountMinor: -5)), .invalidAmount),
        (.deposit(Transfer(transferID: 501, account: 1, asset: 0, amountMinor: 0)), .invalidAmount),
        (.deposit(Transfer(transferID: 502, account: 1, asset: 0, amountMinor: Limits.balanceMagnitudeMax)), .balanceLimit),
        (.deposit(Transfer(transferID: 503, account: 1, asset: 7, amountMinor: 5)), .unknownAsset),
        (.withdraw(Transfer(transferID: 504, account: 1, asset: 0, amountMinor: Int64.max)), .invalidAmount),
        (.withdraw(Transfer(transferID: 505, account: 42, asset: 0, amountMinor: 5)), .unknownAccount),
        (.setLeverage(account: 1, symbol: 0, leverage: 126), .invalidLeverage),
        (.setLeverage(account: 1, symbol: 0, leverage: 0), .invalidLeverage),
        (.setMarkPrice(symbol: 0, priceUnits: -1), .invalidPrice),
        (.cancelOrder(CancelOrder(account: 1, orderID: 12345)), .unknownOrder),
        (.listAsset(Asset(id: 5, name: "XYZ", scale: 6)), .invalidListing),
        (.listAsset(Asset(id: 2, name: "USDT", scale: 6)), .invalidListing),
        // XRPUSDT below: tick 5 price units, lot 10 quantity units.
        (
            .placeOrder(
                PlaceOrder(account: 1, symbol: 2, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 5_002, quantityUnits: 10_000)),
            .priceNotOnTick
        ),
        (
            .placeOrder(
                PlaceOrder(account: 1, symbol: 2, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 5_000, quantityUnits: 10_005)),
            .quantityNotOnLot
        ),
        (.setLeverage(account: 1, symbol: 2, leverage: 51), .invalidLeverage),
    ])
    func badInputChangesNothing(_ command: Command, _ reason: RejectReason) {
        var engine = EngineHarness()
        engine.run(
            .listSymbol(
                SymbolSpec(
                    id: 2, name: "XRPUSDT", settleAsset: 0, priceScale: 4, quantityScale: 1, tickSizePriceUnits: 5,
                    lotSizeQuantityUnits: 10, minNotionalMinor: 5_000_000, maxPriceUnits: 100_000_000,
                    maxQuantityUnits: 100_000_000, maxPositionQuantityUnits: 1_000_000_000, maxLeverage: 50,
                    defaultLeverage: 10, makerFeeRateE8: 20_000, takerFeeRateE8: 50_000)))
        engine.run(.setMarkPrice(symbol: 2, priceUnits: 5_000))
        #expect(engine.state.symbols.count == 3)
        engine.run(.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 1_000_000_000)))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        engine.limit(1, .buy, price: 490_000, quantity: 100, client: 7)
        let hash = engine.state.stateHash()
        let events = engine.run(command)
        guard case .rejected(let got, _) = events.first, events.count == 1 else {
            Issue.record("not rejected: \(events)")
            return
        }
        #expect(got == reason)
        #expect(engine.state.stateHash() == hash)
    }

    @Test func marginCheckUsesThePlannedFills() {
        var engine = funded()
        engine.deposit(3, 600_000_000)  // 600 USDT
        engine.limit(1, .sell, price: 500_000, quantity: 200)  // 0.2 BTC = 10,000 USDT
        // 10,000 at 20x needs 500 margin plus 5 taker fee: fits in 600.
        let events = engine.market(3, .buy, quantity: 200)
        #expect(events.count == 2)
        // Another 0.2 would need 500 more: rejected, nothing changes.
        engine.limit(1, .sell, price: 500_000, quantity: 200)
        let hash = engine.state.stateHash()
        #expect(engine.market(3, .buy, quantity: 200) == [.rejected(.insufficientMargin, detail: 0)])
        #expect(engine.state.stateHash() == hash)
        // Closing the position is always allowed.
        #expect(engine.market(3, .sell, quantity: 200).count >= 2)
    }

    @Test func rebuildingFromEventsGivesTheSameState() {
        var engine = funded()
        engine.deposit(3, 50_000_000_000)
        engine.limit(1, .sell, price: 500_000, quantity: 300, client: 1)
        engine.limit(3, .sell, price: 500_500, quantity: 300)
        engine.limit(2, .buy, price: 501_000, quantity: 450)
        engine.run(.setLeverage(account: 2, symbol: 0, leverage: 50))
        engine.run(.cancelOrder(CancelOrder(account: 3, orderID: 2)))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 498_000))
        var rebuilt = ExchangeState()
        for (index, entry) in engine.journal.enumerated() {
            rebuilt.apply(entry.events, of: entry.command, sequence: SequenceNumber(index + 1), timeNanos: Int64(index + 1) * 1_000)
        }
        #expect(rebuilt.stateHash() == engine.state.stateHash())
        #expect(rebuilt.lastSequence == engine.state.lastSequence)
    }

    @Test func canonicalEncodingRoundTrips() throws {
        var engine = funded()
        engine.limit(1, .sell, price: 500_000, quantity: 300, client: 1)
        engine.limit(1, .sell, price: 500_000, quantity: 200)
        engine.limit(2, .buy, price: 499_000, quantity: 100, client: 5)
        engine.limit(2, .buy, price: 500_000, quantity: 100)
        var writer = ByteWriter()
        engine.state.encodeCanonical(to: &writer)
        var reader = ByteReader(writer.bytes)
        var decoded = try ExchangeState.decodeCanonical(from: &reader, sequence: engine.state.lastSequence, timeNanos: 7)
        try reader.expectEnd()
        #expect(decoded.stateHash() == engine.state.stateHash())
        // The decoded state keeps trading identically, priority included.
        var events: [Event] = []
        decoded.execute(
            .placeOrder(PlaceOrder(account: 2, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 300)),
            sequence: decoded.lastSequence + 1, timeNanos: 8, into: &events)
        let original = engine.market(2, .buy, quantity: 300)
        #expect(events == original)
    }
}
