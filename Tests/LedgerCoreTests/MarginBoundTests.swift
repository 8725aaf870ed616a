import LedgerClient
import Testing

@testable import LedgerCore

/// The order's margin check without divisions (`availableMinor(…, lowerBound: true, …)`): a bound at or
/// below the exact available balance, so that when it is non-negative the exact balance is
/// too; an account near its limit is decided by the exact balance.
@Suite struct MarginBoundTests {
    /// Random positions over the symbols' whole ranges (size, cost, open orders on both
    /// sides, isolated margin, every leverage from the default to 125, marks from 1 to the
    /// maximum price): the bound never exceeds the exact change. Where the leverage is a
    /// power of two and no side of the open orders is partly closing, the bound is exact:
    /// a bound looser than it says would fail here too.
    @Test func theBoundNeverExceedsTheExactChange() {
        var harness = EngineHarness()
        var random = SeededRandom(seed: 0x6d61_7267)
        var above: [String] = []
        var inexactAtPowersOfTwo: [String] = []
        var tight = 0
        var loose = 0
        for step in 0..<200_000 {
            let symbol = SymbolID(random.next() % 2)
            let spec = harness.state.symbols[Int(symbol)]
            let mark = step % 97 == 0 ? spec.maxPriceUnits : Int64(1 + random.next() % UInt64(spec.maxPriceUnits))
            harness.state.markets[Int(symbol)].markPriceUnits = mark
            let factor = harness.state.markets[Int(symbol)].notionalFactor
            func quantity() -> Int64 {
                switch random.next() % 5 {
                case 0: 0
                case 1: spec.maxPositionQuantityUnits
                default: Int64(random.next() % UInt64(spec.maxPositionQuantityUnits + 1))
                }
            }
            func price() -> Int64 { Int64(1 + random.next() % UInt64(spec.maxPriceUnits)) }
            var position = Position()
            position.sizeQuantityUnits = random.next() % 2 == 0 ? quantity() : -quantity()
            position.costMinor = position.sizeQuantityUnits * price() * factor
            position.openBuyQuantityUnits = quantity()
            position.openBuyNotionalMinor = position.openBuyQuantityUnits * price() * factor
            position.openSellQuantityUnits = quantity()
            position.openSellNotionalMinor = position.openSellQuantityUnits * price() * factor
            position.leverage = random.next() % 4 == 0 ? 0 : UInt16(1 + random.next() % 125)
            position.isIsolated = random.next() % 3 == 0
            if position.isIsolated { position.isolatedMarginMinor = Int64(random.next() % 1_000_000_000_000) }
            let exact = ExchangeState.availableChangeMinor(position, symbol, harness.state.symbols, harness.state.markets)
            let bound = ExchangeState.availableChangeMinor(
                position, symbol, harness.state.symbols, harness.state.markets, lowerBound: true)
            if bound > exact { above.append("\(position) in \(symbol) at \(mark): bound \(bound) > exact \(exact)") }
            if bound == exact { tight += 1 } else { loose += 1 }
            let leverage = ExchangeState.leverage(position, symbol: symbol, harness.state.symbols)
            func wholeOrNone(_ quantity: Int64, closing: Int64) -> Bool { quantity == 0 || closing <= 0 || quantity <= closing }
            if leverage.nonzeroBitCount == 1,
                wholeOrNone(position.openBuyQuantityUnits, closing: -position.sizeQuantityUnits),
                wholeOrNone(position.openSellQuantityUnits, closing: position.sizeQuantityUnits), bound != exact
            {
                inexactAtPowersOfTwo.append("\(position) in \(symbol) at \(mark), leverage \(leverage): \(bound) ≠ \(exact)")
            }
        }
        #expect(above.isEmpty, "\(above.count) bounds above the exact change, first: \(above.prefix(3))")
        #expect(inexactAtPowersOfTwo.isEmpty, "\(inexactAtPowersOfTwo.count) inexact, first: \(inexactAtPowersOfTwo.prefix(3))")
        // Both kinds were seen: the test walked past the powers of two.
        #expect(tight > 10_000 && loose > 10_000, "tight \(tight), loose \(loose)")
    }

    /// Resting buys of every quantity around an account's limit, at leverage 3 (not a power
    /// of two, so the bound takes leverage 2 and cannot decide near the limit): each is
    /// accepted exactly when its margin, ⌈quantity × price × factor / 3⌉, is within the
    /// deposit, and refused as insufficient margin otherwise.
    @Test func ordersAtTheLimitAreDecidedByTheExactBalance() {
        var harness = EngineHarness()
        let symbol = TestExchange.btcusdt
        let price: Int64 = 500_000
        _ = harness.run(.setMarkPrice(symbol: symbol, priceUnits: price))
        let factor = harness.state.markets[Int(symbol)].notionalFactor
        let deposit: Int64 = 1_000_000_007
        let perLot = price * factor
        // The largest quantity whose margin fits: ⌈q × perLot / 3⌉ ≤ deposit ⟺ q × perLot ≤ 3 × deposit.
        let limit = 3 * deposit / perLot
        #expect(limit > 20, "limit \(limit)")
        var accepted: [Int64] = []
        var refused: [Int64] = []
        for (offset, quantity) in ((limit - 10)...(limit + 10)).enumerated() {
            let account = AccountID(100 + offset)
            _ = harness.run(
                .deposit(Transfer(transferID: UInt64(1_000 + offset), account: account, asset: TestExchange.usdt, amountMinor: deposit)))
            _ = harness.run(.setLeverage(account: account, symbol: symbol, leverage: 3))
            let events = harness.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: symbol, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: price,
                        quantityUnits: quantity)))
            if events.contains(where: { if case .orderRested = $0 { true } else { false } }) {
                accepted.append(quantity)
            } else if events.count == 1, case .rejected(.insufficientMargin, _) = events[0] {
                refused.append(quantity)
            } else {
                Issue.record("quantity \(quantity): \(events)")
            }
        }
        #expect(accepted == Array((limit - 10)...limit), "accepted \(accepted), limit \(limit)")
        #expect(refused == Array((limit + 1)...(limit + 10)), "refused \(refused), limit \(limit)")
        // At leverage 2 (what the bound takes) the limit would be lower: the exact balance decided.
        #expect(2 * deposit / perLot < limit - 10)
    }
}
