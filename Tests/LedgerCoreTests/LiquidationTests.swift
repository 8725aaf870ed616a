import Testing

@testable import LedgerCore

/// Liquidation scenarios on a BTCUSDT with one bracket (MMR 0.5%, 50x), no trading fees
/// and a 0.5% liquidation fee; prices in 0.01 USDT, quantities in 0.001 BTC.
@Suite struct LiquidationTests {
    static let bracket = MarginBracket(notionalCapMinor: 1 << 60, maintenanceMarginRateE8: 500_000, maxLeverage: 50)

    /// Accounts 1 and 2 hold 100,000 USDT; account 3 (the victim) 1,000 USDT and goes long
    /// 1 BTC at 20,000 with 50x against account 2 (and `shortSellers`, if given).
    static func victimLong(sellers: [(AccountID, Int64, Int64)] = [(2, 100_000_000_000, 1_000)]) -> EngineHarness {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt(brackets: [bracket], liquidationFee: 500_000))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 2_000_000))
        engine.deposit(3, 1_000_000_000)
        engine.run(.setLeverage(account: 3, symbol: 0, leverage: 50))
        for (account, deposit, quantity) in sellers {
            if account > 2 { engine.deposit(account, deposit) }
            engine.limit(account, .sell, price: 2_000_000, quantity: quantity)
        }
        engine.limit(3, .buy, price: 2_000_000, quantity: 1_000)
        #expect(engine.state.account(3)!.position(0).sizeQuantityUnits == 1_000)
        return engine
    }

    @Test func aPartialFillBetterThanBankruptcyPaysTheFundWhichTakesOverTheRest() {
        var engine = Self.victimLong()
        engine.deposit(4, 100_000_000_000)
        engine.limit(4, .buy, price: 1_905_000, quantity: 400)  // better than bankruptcy (19,000)
        engine.limit(4, .buy, price: 1_890_000, quantity: 400)  // worse: the IOC does not reach it
        // At 19,090 the victim's equity is 1,000 − 910 = 90 ≤ 0.5% × 19,090 = 95.45.
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 1_909_000))
        let liquidationOrder = engine.state.books.nextOrderID - 1
        #expect(
            events == [
                .markPriceSet(symbol: 0, priceUnits: 1_909_000),
                .liquidationTriggered(
                    account: 3, asset: 0, isolatedSymbol: nil, marginBalanceMinor: 90_000_000, maintenanceMinor: 95_450_000),
                .liquidationOrderPlaced(
                    liquidationOrder, account: 3, symbol: 0, side: .sell, bankruptcyPriceUnits: 1_900_000, quantityUnits: 1_000),
                .trade(
                    Trade(
                        tradeID: 2, symbol: 0, makerOrderID: liquidationOrder - 2, takerOrderID: liquidationOrder, makerAccount: 4,
                        takerAccount: 3, takerSide: .sell, priceUnits: 1_905_000, quantityUnits: 400, makerFeeMinor: 0, takerFeeMinor: 0,
                        makerRealizedPnlMinor: 0, takerRealizedPnlMinor: -380_000_000)),
                // Surplus (19,050 − 19,000) × 0.4 = 20; the 0.5% fee (38.10) is capped at it.
                .liquidationSettled(account: 3, symbol: 0, filledQuantityUnits: 400, feeMinor: 20_000_000, surplusMinor: 0),
                .insuranceTakeover(
                    account: 3, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 600, realizedPnlMinor: -600_000_000,
                    fundRealizedPnlMinor: 0),
            ])
        #expect(engine.state.account(3)!.balance(0) == 0)
        #expect(engine.state.account(3)!.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.openOrders(of: 3).isEmpty)
        #expect(engine.state.systemBalance(.insuranceFund, asset: 0) == 20_000_000)
        #expect(engine.state.ledger.insurancePositions[0].sizeQuantityUnits == 600)
        #expect(engine.state.ledger.insurancePositions[0].costMinor == 11_400_000_000)  // 0.6 × 19,000
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func anExhaustedFundLeavesTheLossToOpposingPositionsByRank() {
        // Account 5 is short 0.4 on 2,000 USDT, account 2 short 0.6 on 100,000: at mark
        // 18,000 both earn 10%, but account 5's effective leverage (7,200 / 2,800) is far
        // above account 2's (10,800 / 101,200), so account 5 is deleveraged first.
        var engine = Self.victimLong(sellers: [(2, 0, 600), (5, 2_000_000_000, 400)])
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 1_800_000))  // a gap below bankruptcy
        let order = engine.state.books.nextOrderID - 1
        #expect(
            events == [
                .markPriceSet(symbol: 0, priceUnits: 1_800_000),
                .liquidationTriggered(
                    account: 3, asset: 0, isolatedSymbol: nil, marginBalanceMinor: -1_000_000_000, maintenanceMinor: 90_000_000),
                .liquidationOrderPlaced(order, account: 3, symbol: 0, side: .sell, bankruptcyPriceUnits: 1_900_000, quantityUnits: 1_000),
                .liquidationSettled(account: 3, symbol: 0, filledQuantityUnits: 0, feeMinor: 0, surplusMinor: 0),
                .autoDeleveraged(
                    account: 3, counterparty: 5, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 400,
                    realizedPnlMinor: -400_000_000, counterpartyRealizedPnlMinor: 400_000_000),
                .autoDeleveraged(
                    account: 3, counterparty: 2, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 600,
                    realizedPnlMinor: -600_000_000, counterpartyRealizedPnlMinor: 600_000_000),
            ])
        #expect(engine.state.adlRanking(symbol: 0, closingSide: .sell, excluding: -1).isEmpty)  // everyone is flat now
        #expect(engine.state.account(3)!.balance(0) == 0)
        #expect(engine.state.account(5)!.balance(0) == 2_400_000_000)
        #expect(engine.state.ledger.insurancePositions[0].sizeQuantityUnits == 0)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func aFundedFundTakesOverEvenBelowMark() {
        var engine = Self.victimLong()
        engine.run(.depositInsuranceFund(Transfer(transferID: 900, account: 0, asset: 0, amountMinor: 5_000_000_000)))
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 1_800_000))
        // Taking 1 BTC at 19,000 with the mark at 18,000 costs the fund 1,000 of its 5,000.
        #expect(
            events.last
                == .insuranceTakeover(
                    account: 3, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 1_000, realizedPnlMinor: -1_000_000_000,
                    fundRealizedPnlMinor: 0))
        #expect(engine.state.account(2)!.position(0).sizeQuantityUnits == -1_000)  // untouched
        #expect(engine.state.invariantViolation() == nil)
    }

    /// The victim's liquidation order sells into a bid that account 6 placed above the
    /// new mark; the fill takes account 6 below maintenance too, and the same entry
    /// liquidates it.
    @Test func aLiquidationCascadesAcrossTwoAccounts() {
        var engine = Self.victimLong()
        engine.deposit(6, 500_000_000)  // 500 USDT
        engine.run(.setLeverage(account: 6, symbol: 0, leverage: 50))
        engine.limit(6, .buy, price: 1_950_000, quantity: 1_000)
        engine.deposit(4, 100_000_000_000)
        engine.limit(4, .buy, price: 1_905_000, quantity: 400)
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 1_909_000))
        let triggered = events.compactMap { event -> AccountID? in
            if case .liquidationTriggered(let account, _, _, _, _) = event { account } else { nil }
        }
        #expect(triggered == [3, 6])
        // The victim sold 1 BTC at 19,500: surplus 500, fee 0.5% of 19,500 = 97.50.
        #expect(
            events.contains(
                .liquidationSettled(account: 3, symbol: 0, filledQuantityUnits: 1_000, feeMinor: 97_500_000, surplusMinor: 402_500_000)))
        // Account 6, long 1 at 19,500 on 500 USDT, goes bankrupt at 19,000: 0.4 to account 4, 0.6 to the fund.
        #expect(
            events.contains(.liquidationSettled(account: 6, symbol: 0, filledQuantityUnits: 400, feeMinor: 20_000_000, surplusMinor: 0)))
        #expect(
            events.last
                == .insuranceTakeover(
                    account: 6, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 600, realizedPnlMinor: -300_000_000,
                    fundRealizedPnlMinor: 0))
        #expect(engine.state.account(3)!.balance(0) == 0)
        #expect(engine.state.account(6)!.balance(0) == 0)
        #expect(engine.state.systemBalance(.insuranceFund, asset: 0) == 520_000_000)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func anIsolatedPositionLosesOnlyItsMargin() {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt(brackets: [Self.bracket], liquidationFee: 500_000))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 2_000_000))
        engine.deposit(3, 10_000_000_000)  // 10,000 USDT, of which 400 go into the isolated position
        engine.run(.setMarginMode(account: 3, symbol: 0, isolated: true))
        engine.run(.setLeverage(account: 3, symbol: 0, leverage: 50))
        engine.limit(2, .sell, price: 2_000_000, quantity: 1_000)
        engine.limit(3, .buy, price: 2_000_000, quantity: 1_000)
        #expect(engine.state.estimatedLiquidationPriceUnits(account: 3, symbol: 0) == 1_969_850)
        // 19,698.40 is just below the estimated liquidation price: liquidated, bankrupt at 19,600.
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 1_969_840))
        #expect(events.contains { if case .liquidationTriggered(3, 0, 0?, _, _) = $0 { true } else { false } })
        #expect(
            events.last
                == .insuranceTakeover(
                    account: 3, symbol: 0, side: .sell, priceUnits: 1_960_000, quantityUnits: 1_000, realizedPnlMinor: -400_000_000,
                    fundRealizedPnlMinor: 0))
        #expect(engine.state.account(3)!.balance(0) == 9_600_000_000)  // the cross wallet is untouched
        #expect(engine.state.account(3)!.position(0).isolatedMarginMinor == 0)
        #expect(engine.state.invariantViolation() == nil)
        // 19,698.50 (the estimate) would not have been enough to liquidate: check the boundary.
        var other = RuleBookTests.exchange(RuleBookTests.btcusdt(brackets: [Self.bracket]))
        other.run(.setMarkPrice(symbol: 0, priceUnits: 2_000_000))
        other.deposit(3, 10_000_000_000)
        other.run(.setMarginMode(account: 3, symbol: 0, isolated: true))
        other.run(.setLeverage(account: 3, symbol: 0, leverage: 50))
        other.limit(2, .sell, price: 2_000_000, quantity: 1_000)
        other.limit(3, .buy, price: 2_000_000, quantity: 1_000)
        #expect(other.run(.setMarkPrice(symbol: 0, priceUnits: 1_969_850)) == [.markPriceSet(symbol: 0, priceUnits: 1_969_850)])
    }
}
