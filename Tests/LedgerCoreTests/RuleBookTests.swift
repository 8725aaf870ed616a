import LedgerClient
import LedgerDigest
import Testing

@testable import LedgerCore

/// The perpetual-futures rule book against published worked examples (Binance USDⓈ-M)
/// and the rejections it adds. docs/RULES.md gives every formula.
@Suite struct RuleBookTests {
    /// A BTCUSDT with prices in 0.01 USDT and quantities in 0.001 BTC (notional = price units
    /// × quantity units × 10 micro-USDT), no fees, and the given rule-book terms.
    static func btcusdt(
        brackets: [MarginBracket] = DemoExchange.binanceBTCUSDTBrackets, band: Int64 = 0, fundingInterval: Int64 = 0,
        liquidationFee: Int64 = 0
    ) -> SymbolSpec {
        SymbolSpec(
            id: 0, name: "BTCUSDT", settleAsset: 0, priceScale: 2, quantityScale: 3, tickSizePriceUnits: 10,
            lotSizeQuantityUnits: 1, minNotionalMinor: 5_000_000, maxPriceUnits: 100_000_000,
            maxQuantityUnits: 10_000_000, maxPositionQuantityUnits: 100_000_000, maxLeverage: brackets[0].maxLeverage,
            defaultLeverage: 20, makerFeeRateE8: 0, takerFeeRateE8: 0, brackets: brackets, priceBandRateE8: band,
            fundingIntervalSeconds: fundingInterval, fundingInterestRateE8: 10_000, fundingClampRateE8: 50_000,
            fundingCapRateE8: fundingInterval > 0 ? 750_000 : 0, liquidationFeeRateE8: liquidationFee)
    }

    /// 2025-11-24 16:00:00 UTC, a funding time of an 8-hour interval, in nanoseconds.
    static let listingTime: Int64 = 1_764_000_000 * 1_000_000_000

    /// USDT, one BTCUSDT, accounts 1 and 2 with 100,000 USDT each, mark 50,000.00.
    static func exchange(_ spec: SymbolSpec) -> EngineHarness {
        var engine = EngineHarness(genesis: false)
        engine.run(.listAsset(Asset(id: 0, name: "USDT", scale: 6)), at: listingTime)
        #expect(engine.run(.listSymbol(spec), at: listingTime) == [.symbolListed(0)])
        engine.deposit(1, 100_000_000_000)
        engine.deposit(2, 100_000_000_000)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000))
        return engine
    }

    // MARK: Brackets and maintenance margin

    @Test func binanceBTCUSDTBracketsGiveThePublishedMaintenanceAmounts() {
        let spec = Self.btcusdt()
        let usdt: [Int64] = [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300]
        #expect(spec.maintenanceAmountsMinor == usdt.map { $0 * 1_000_000 })
        // The listing accepts them and the market keeps the same amounts.
        let engine = Self.exchange(spec)
        #expect(engine.state.markets[0].maintenanceAmountsMinor == spec.maintenanceAmountsMinor)
    }

    /// Binance's example: 3,500,032.458 × 2.5% − 16,300. Exact arithmetic gives
    /// 71,200.81145; Binance's page prints 71,200.81144 (docs/RULES.md explains the
    /// difference of 0.00001). We keep every micro-USDT: 71,200.811450.
    @Test func maintenanceMarginOfThePublishedExample() {
        let spec = Self.btcusdt()
        let notional = Int128(3_500_032_458_000)  // 3,500,032.458 USDT in micro-USDT
        #expect(spec.bracketIndex(notionalMinor: notional) == 3)  // 1M ..< 10M: MMR 2.5%
        let margin = ExchangeState.maintenanceMarginMinor(notionalMinor: notional, spec: spec, amounts: spec.maintenanceAmountsMinor)
        #expect(margin == 71_200_811_450)
        #expect(margin - 71_200_811_440 == 10)  // the published figure, truncated one digit early
    }

    @Test func bracketBoundariesBelongToTheHigherBracket() {
        let spec = Self.btcusdt()
        #expect(spec.bracketIndex(notionalMinor: 49_999_999_999) == 0)
        #expect(spec.bracketIndex(notionalMinor: 50_000_000_000) == 1)
        #expect(spec.bracketIndex(notionalMinor: Int128(1) << 62) == 9)
        // Maintenance margin is continuous across a boundary: 50,000 × 0.4% = 50,000 × 0.5% − 50.
        let amounts = spec.maintenanceAmountsMinor
        let below = ExchangeState.maintenanceMarginMinor(notionalMinor: 49_999_999_999, spec: spec, amounts: amounts)
        let at = ExchangeState.maintenanceMarginMinor(notionalMinor: 50_000_000_000, spec: spec, amounts: amounts)
        #expect(at == 200_000_000)
        #expect(below == 200_000_000)  // 199.999999996, rounded up
    }

    // MARK: Isolated margin and the liquidation price

    /// Binance's isolated example: long 1 BTC at 20,000 with 50x, MMR 0.5%, maintenance
    /// amount 0: initial margin 400, liquidation price (20,000 − 400 − 0) / (1 × (1 −
    /// 0.005)) = 19,698.4924…, shown rounded up to the price unit: 19,698.50. Holding the
    /// maintenance margin at entry instead would give 19,700.
    @Test func isolatedLongLiquidationPriceOfThePublishedExample() {
        let bracket = MarginBracket(notionalCapMinor: 1 << 60, maintenanceMarginRateE8: 500_000, maxLeverage: 50)
        var engine = Self.exchange(Self.btcusdt(brackets: [bracket]))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 2_000_000))
        #expect(
            engine.run(.setMarginMode(account: 1, symbol: 0, isolated: true)) == [.marginModeSet(account: 1, symbol: 0, isolated: true)])
        engine.run(.setLeverage(account: 1, symbol: 0, leverage: 50))
        engine.limit(2, .sell, price: 2_000_000, quantity: 1_000)
        engine.limit(1, .buy, price: 2_000_000, quantity: 1_000)
        let position = engine.state.account(1)!.position(0)
        #expect(position.sizeQuantityUnits == 1_000)
        #expect(position.isolatedMarginMinor == 400_000_000)  // 400 USDT
        #expect(engine.state.maintenanceMarginMinor(position, symbol: 0) == 100_000_000)  // 20,000 × 0.5%
        // (400 − 20,000) / (0.005 − 1) in price units: 1,960,000,000,000,000,000 / 995,000,000,000.
        let (quotient, remainder) = Int128(1_960_000_000_000_000_000).quotientAndRemainder(dividingBy: 995_000_000_000)
        #expect(quotient == 1_969_849 && remainder > 0)
        #expect(engine.state.estimatedLiquidationPriceUnits(account: 1, symbol: 0) == 1_969_850)
        // The cross wallet no longer counts the 400 set aside.
        #expect(engine.state.availableMinor(account: 1, asset: 0) == 100_000_000_000 - 400_000_000)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func isolatedMarginCanBeAddedAndRemovedDownToInitialMargin() {
        let bracket = MarginBracket(notionalCapMinor: 1 << 60, maintenanceMarginRateE8: 500_000, maxLeverage: 50)
        var engine = Self.exchange(Self.btcusdt(brackets: [bracket]))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 2_000_000))
        engine.run(.setMarginMode(account: 1, symbol: 0, isolated: true))
        engine.run(.setLeverage(account: 1, symbol: 0, leverage: 50))
        engine.limit(2, .sell, price: 2_000_000, quantity: 1_000)
        engine.limit(1, .buy, price: 2_000_000, quantity: 1_000)
        #expect(
            engine.run(.adjustIsolatedMargin(account: 1, symbol: 0, amountMinor: 600_000_000))
                == [.isolatedMarginAdjusted(account: 1, symbol: 0, amountMinor: 600_000_000)])
        #expect(engine.state.account(1)!.position(0).isolatedMarginMinor == 1_000_000_000)
        // More margin lowers the liquidation price: (1,000 − 20,000) / (0.005 − 1) = 19,095.47…,
        // shown up to the tick of 0.10 (toward the mark, for a long): 19,095.50.
        #expect(engine.state.estimatedLiquidationPriceUnits(account: 1, symbol: 0) == 1_909_550)
        // 600 can come out again (IM stays 400); 600.000001 cannot.
        let hash = engine.state.stateHash()
        #expect(
            engine.run(.adjustIsolatedMargin(account: 1, symbol: 0, amountMinor: -600_000_001)) == [
                .rejected(.insufficientMargin, detail: 0)
            ])
        #expect(engine.state.stateHash() == hash)
        #expect(engine.run(.adjustIsolatedMargin(account: 1, symbol: 0, amountMinor: -600_000_000)).count == 1)
        // Closing releases the whole isolated margin back to the cross wallet.
        engine.limit(2, .buy, price: 2_000_000, quantity: 1_000)
        engine.limit(1, .sell, price: 2_000_000, quantity: 1_000)
        #expect(engine.state.account(1)!.position(0).isolatedMarginMinor == 0)
        #expect(engine.state.availableMinor(account: 1, asset: 0) == 100_000_000_000)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func crossLiquidationPriceUsesTheWholeCrossWallet() {
        var engine = Self.exchange(Self.btcusdt())
        engine.run(.setLeverage(account: 1, symbol: 0, leverage: 100))
        engine.limit(2, .sell, price: 5_000_000, quantity: 1_000)
        engine.limit(1, .buy, price: 5_000_000, quantity: 1_000)  // long 1 BTC at 50,000, 100,000 wallet
        // Bracket 1 (50k..250k): P = (100,000 + 50 − 50,000) / (1 × 0.005 − 1) < 0: no liquidation price.
        #expect(engine.state.estimatedLiquidationPriceUnits(account: 1, symbol: 0) == nil)
        // The short: P = (100,000 + 50 + 50,000) / (0.005 + 1) = 149,303.48…, down to the
        // tick of 0.10 (toward the mark, for a short): 149,303.40.
        #expect(engine.state.estimatedLiquidationPriceUnits(account: 2, symbol: 0) == 14_930_340)
    }

    // MARK: Funding

    /// Binance's example: 2 BTC at mark 50,000 with a rate of 0.01% pays 10 USDT; the
    /// short receives it through the funding clearing account.
    @Test func fundingOfThePublishedExample() {
        var engine = Self.exchange(Self.btcusdt(fundingInterval: 28_800))
        let fundingTime = Self.listingTime + 28_800 * 1_000_000_000
        #expect(engine.state.funding.bySymbol[0].nextFundingTimeNanos == fundingTime)
        engine.limit(2, .sell, price: 5_000_000, quantity: 2_000)
        engine.limit(1, .buy, price: 5_000_000, quantity: 2_000)
        #expect(engine.run(.setFundingRate(symbol: 0, rateE8: 10_000)) == [.fundingRateSet(symbol: 0, rateE8: 10_000)])
        // Nothing is due a nanosecond early.
        #expect(engine.run(.setIndexPrice(symbol: 0, priceUnits: 4_999_000), at: fundingTime - 1).count == 1)
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000), at: fundingTime)
        #expect(
            events == [
                .fundingSettled(symbol: 0, rateE8: 10_000, markPriceUnits: 5_000_000),
                .fundingPaid(account: 1, symbol: 0, amountMinor: 10_000_000),
                .fundingPaid(account: 2, symbol: 0, amountMinor: -10_000_000),
                .markPriceSet(symbol: 0, priceUnits: 5_000_000),
            ])
        #expect(engine.state.account(1)!.balance(0) == 100_000_000_000 - 10_000_000)
        #expect(engine.state.account(2)!.balance(0) == 100_000_000_000 + 10_000_000)
        #expect(engine.state.systemBalance(.fundingClearing, asset: 0) == 0)
        #expect(engine.state.funding.bySymbol[0].nextFundingTimeNanos == fundingTime + 28_800 * 1_000_000_000)
        #expect(engine.state.funding.bySymbol[0].fundingRateOverrideE8 == nil)
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func premiumFormulaClampsAndCaps() {
        func rate(_ premium: Int64) -> Int64 {
            ExchangeState.premiumFundingRateE8(premiumSumE8: premium * 3, samples: 3, interestE8: 10_000, clampE8: 50_000, capE8: 750_000)
        }
        #expect(rate(30_000) == 10_000)  // 0.03% + clamp(0.01% − 0.03%) = 0.01%
        #expect(rate(200_000) == 150_000)  // 0.2% − 0.05%
        #expect(rate(-100_000) == -50_000)  // −0.1% + 0.05%
        #expect(rate(1_000_000) == 750_000)  // 0.95%, capped at 0.75%
        #expect(rate(0) == 10_000)  // no premium: the interest rate
    }

    @Test func fundingFromPremiumSamplesRoundsAgainstEachSide() {
        var engine = Self.exchange(Self.btcusdt(fundingInterval: 28_800))
        let fundingTime = Self.listingTime + 28_800 * 1_000_000_000
        engine.limit(2, .sell, price: 5_000_000, quantity: 7)
        engine.limit(1, .buy, price: 5_000_000, quantity: 7)  // 0.007 BTC = 350 USDT
        for premium: Int64 in [40_000, 50_000, 60_001] {
            #expect(engine.run(.addPremiumSample(symbol: 0, premiumE8: premium)).count == 1)
        }
        // Mean premium 50,000 (0.05%): rate = 0.05% + clamp(−0.04%) = 0.01%.
        let events = engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000), at: fundingTime)
        // 350 USDT × 0.01% = 0.035 USDT exactly: nothing to round.
        #expect(events.contains(.fundingPaid(account: 1, symbol: 0, amountMinor: 35_000)))
        // A rate that does not divide: 350 × 0.012345% = 0.0432075 → the payer pays 0.043208, the receiver gets 0.043207.
        engine.run(.setFundingRate(symbol: 0, rateE8: 12_345))
        let next = fundingTime + 28_800 * 1_000_000_000
        let second = engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000), at: next)
        #expect(second.contains(.fundingPaid(account: 1, symbol: 0, amountMinor: 43_208)))
        #expect(second.contains(.fundingPaid(account: 2, symbol: 0, amountMinor: -43_207)))
        #expect(engine.state.systemBalance(.fundingClearing, asset: 0) == 1)
        #expect(engine.state.invariantViolation() == nil)
    }

    // MARK: Bad input of the rule book

    static let badInput: [(String, Command, RejectReason)] = [
        (
            "limit price 5% above mark with a 5% band",
            .placeOrder(
                PlaceOrder(
                    account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 5_250_010, quantityUnits: 10)),
            .priceOutsideBand
        ),
        ("leverage 125 on a position in the 100x bracket", .setLeverage(account: 1, symbol: 0, leverage: 125), .leverageAboveBracket),
        (
            "an order that takes 125x into the second bracket",
            .placeOrder(
                PlaceOrder(
                    account: 2, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 4_900_000, quantityUnits: 1_100)),
            .leverageAboveBracket
        ),
        ("isolated with a position", .setMarginMode(account: 1, symbol: 0, isolated: true), .marginModeLocked),
        ("isolated with an open order", .setMarginMode(account: 4, symbol: 0, isolated: true), .marginModeLocked),
        ("margin into a cross position", .adjustIsolatedMargin(account: 1, symbol: 0, amountMinor: 1_000_000), .notIsolated),
        ("funding rate above the cap", .setFundingRate(symbol: 0, rateE8: 750_001), .invalidRate),
        ("premium sample above 100%", .addPremiumSample(symbol: 0, premiumE8: 100_000_001), .invalidRate),
        ("index price of an unknown symbol", .setIndexPrice(symbol: 9, priceUnits: 1), .unknownSymbol),
        (
            "insurance deposit naming an account", .depositInsuranceFund(Transfer(transferID: 77, account: 5, asset: 0, amountMinor: 1)),
            .unknownAccount
        ),
        (
            "insurance deposit of nothing", .depositInsuranceFund(Transfer(transferID: 77, account: 0, asset: 0, amountMinor: 0)),
            .invalidAmount
        ),
    ]

    @Test(arguments: badInput.indices)
    func ruleBookBadInputChangesNothing(_ index: Int) {
        let (name, command, reason) = Self.badInput[index]
        var engine = Self.exchange(Self.btcusdt(band: 5_000_000, fundingInterval: 28_800))
        engine.deposit(3, 100_000_000_000)
        engine.run(.setLeverage(account: 1, symbol: 0, leverage: 100))
        engine.run(.setLeverage(account: 2, symbol: 0, leverage: 125))
        engine.limit(3, .sell, price: 5_000_000, quantity: 1_200)
        engine.limit(1, .buy, price: 5_000_000, quantity: 1_000)  // 50,000 USDT: the 100x bracket
        engine.deposit(4, 100_000_000_000)
        engine.limit(4, .buy, price: 4_800_000, quantity: 10)  // resting, no position
        let hash = engine.state.stateHash()
        let events = engine.run(command)
        #expect(events == [.rejected(reason, detail: 0)], "\(name)")
        #expect(engine.state.stateHash() == hash, "\(name)")
    }

    @Test func insuranceFundDepositsAreIdempotent() {
        var engine = Self.exchange(Self.btcusdt())
        let deposit = Command.depositInsuranceFund(Transfer(transferID: 500, account: 0, asset: 0, amountMinor: 1_000_000_000))
        #expect(engine.run(deposit) == [.insuranceFundDeposited(asset: 0, amountMinor: 1_000_000_000)])
        let sequence = engine.state.lastSequence
        #expect(engine.run(deposit) == [.transferReplayed(originalSequence: sequence)])
        #expect(
            engine.run(.deposit(Transfer(transferID: 500, account: 0, asset: 0, amountMinor: 1_000_000_000)))
                == [.rejected(.duplicateTransferID, detail: sequence)])
        #expect(engine.state.systemBalance(.insuranceFund, asset: 0) == 1_000_000_000)
        #expect(engine.state.invariantViolation() == nil)
    }
}

/// Bounded idempotency windows (docs/RULES.md, "Idempotency").
@Suite struct IdempotencyWindowTests {
    static let day: Int64 = 86_400 * 1_000_000_000

    @Test func transferIdsAreForgottenAfterTheirWindow() {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt())
        let start = RuleBookTests.listingTime
        let deposit = Command.deposit(Transfer(transferID: 77, account: 1, asset: 0, amountMinor: 1_000_000))
        engine.run(deposit, at: start)
        let original = engine.state.lastSequence
        #expect(engine.run(deposit, at: start + 6 * Self.day) == [.transferReplayed(originalSequence: original)])
        // Seven days and a nanosecond later the id is gone: the same command is a new deposit.
        #expect(engine.state.transfer(77) != nil)
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000), at: start + 7 * Self.day + 1)
        #expect(engine.state.transfer(77) == nil)
        #expect(engine.run(deposit, at: start + 7 * Self.day + 2) == [.deposited(account: 1, asset: 0, amountMinor: 1_000_000)])
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func aClientOrderIdLivesWhileItsOrderIsOpenThenForADay() {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt())
        let start = RuleBookTests.listingTime
        let order = Command.placeOrder(
            PlaceOrder(
                account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 4_990_000, quantityUnits: 10,
                clientOrderID: 5))
        engine.run(order, at: start)
        let id = engine.state.books.nextOrderID - 1
        // Two days later the order is still open: the id is still taken.
        #expect(engine.run(order, at: start + 2 * Self.day) == [.rejected(.duplicateClientOrderID, detail: id)])
        engine.run(.cancelOrder(CancelOrder(account: 1, clientOrderID: 5)), at: start + 2 * Self.day)
        #expect(engine.run(order, at: start + 2 * Self.day + 1) == [.rejected(.duplicateClientOrderID, detail: id)])
        // A day after the last look (it was re-timed while open), it is free again.
        let later = start + 3 * Self.day + 2
        let next = engine.state.books.nextOrderID
        #expect(engine.run(order, at: later).first == .orderAccepted(next))
    }

    @Test func theWindowAlsoBoundsTheNumberOfIds() {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt())
        let window = IdempotencyWindow(transferSeconds: 86_400, clientOrderSeconds: 86_400, maxRecords: 3)
        #expect(engine.run(.setIdempotencyWindow(window)) == [.idempotencyWindowSet(window)])
        for id: TransferID in 1...4 {
            engine.run(.deposit(Transfer(transferID: 1_000 + id, account: 1, asset: 0, amountMinor: 1_000_000)))
        }
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000))
        // exchange() used transfers 1,000,001 and 1,000,002; only the newest three stay.
        #expect(engine.state.transfer(1_000_001) == nil && engine.state.transfer(1_001) == nil)
        #expect(engine.state.transfer(1_002) != nil && engine.state.transfer(1_004) != nil)
        #expect(
            engine.run(.setIdempotencyWindow(IdempotencyWindow(transferSeconds: 0, clientOrderSeconds: 1, maxRecords: 1)))
                == [.rejected(.invalidAmount, detail: 0)])
        #expect(engine.state.invariantViolation() == nil)
    }
}
