import LedgerClient
import Testing

@testable import LedgerCore

/// The danger-mark index (`RiskIndex`): a mark price checks only the accounts whose danger
/// mark it reached, and must never leave an account at or below maintenance margin.
@Suite struct RiskIndexTests {
    /// A second symbol with brackets small enough that positions here cross them.
    static let ethusdt = SymbolSpec(
        id: 1, name: "ETHUSDT", settleAsset: 0, priceScale: 2, quantityScale: 3, tickSizePriceUnits: 1,
        lotSizeQuantityUnits: 1, minNotionalMinor: 1_000_000, maxPriceUnits: 100_000_000, maxQuantityUnits: 10_000_000,
        maxPositionQuantityUnits: 100_000_000, maxLeverage: 50, defaultLeverage: 10, makerFeeRateE8: 0, takerFeeRateE8: 0,
        brackets: [
            MarginBracket(notionalCapMinor: 10_000_000_000, maintenanceMarginRateE8: 1_000_000, maxLeverage: 50),
            MarginBracket(notionalCapMinor: 50_000_000_000, maintenanceMarginRateE8: 2_500_000, maxLeverage: 20),
            MarginBracket(notionalCapMinor: 1 << 60, maintenanceMarginRateE8: 5_000_000, maxLeverage: 10),
        ])

    static let marketMaker: AccountID = 100
    static let traders: [AccountID] = Array(1...24)

    /// BTCUSDT with Binance's brackets and the ETHUSDT above, marks 50,000 and 3,000; 24
    /// traders on 1,000–24,000 USDT at 5x–50x (every fourth isolated in BTC), each opened
    /// against the market maker at 40–95% of what its margin allows.
    static func exchange(seed: UInt64) -> (EngineHarness, SeededRandom) {
        var random = SeededRandom(seed: seed)
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt(liquidationFee: 500_000))
        #expect(engine.run(.listSymbol(ethusdt)) == [.symbolListed(1)])
        engine.run(.setMarkPrice(symbol: 1, priceUnits: 300_000))
        engine.deposit(marketMaker, 1_000_000_000_000_000)
        engine.run(.depositInsuranceFund(Transfer(transferID: 1 << 40, account: 0, asset: 0, amountMinor: 5_000_000_000)))
        for trader in traders {
            engine.deposit(trader, Int64(trader) * 1_000_000_000)
            if trader % 4 == 0 { engine.run(.setMarginMode(account: trader, symbol: 0, isolated: true)) }
            for symbol: SymbolID in [0, 1] {
                let leverage = UInt16(5 + random.next() % 46)
                engine.run(.setLeverage(account: trader, symbol: symbol, leverage: leverage))
                open(&engine, trader, symbol: symbol, share: Int64(40 + random.next() % 56), random: &random)
            }
        }
        return (engine, random)
    }

    /// The trader buys or sells `share`% of what its cross wallet would carry at its leverage,
    /// at mark, from the market maker.
    static func open(_ engine: inout EngineHarness, _ trader: AccountID, symbol: SymbolID, share: Int64, random: inout SeededRandom) {
        for command in openingCommands(engine.state, trader, symbol: symbol, share: share, random: &random) { engine.run(command) }
    }

    /// The maker's resting order, the trader's crossing one, the maker's cancel-all.
    static func openingCommands(
        _ state: ExchangeState, _ trader: AccountID, symbol: SymbolID, share: Int64, random: inout SeededRandom
    ) -> [Command] {
        let mark = state.markets[Int(symbol)].markPriceUnits
        let leverage = Int64(state.effectiveLeverage(state.account(trader)!.position(symbol), symbol: symbol))
        let available = Int64(state.availableMinor(account: trader, asset: 0)) / 2
        let perUnit = mark * state.markets[Int(symbol)].notionalFactor
        let quantity = available * leverage * share / 100 / perUnit
        guard quantity > 0 else { return [] }
        let side: Side = random.next() % 2 == 0 ? .buy : .sell
        func limit(_ account: AccountID, _ side: Side) -> Command {
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .limit, timeInForce: .gtc, priceUnits: mark,
                    quantityUnits: quantity))
        }
        return [limit(marketMaker, side.opposite), limit(trader, side), .cancelAllOrders(account: marketMaker, symbol: symbol)]
    }

    /// The first account at or below maintenance margin in any scope, by the public margin
    /// arithmetic alone.
    static func dueAccount(_ state: ExchangeState) -> AccountID? {
        for account in state.accounts {
            let index = Int(state.ledger.accountIndexByID[account.id]!)
            for symbol in account.positions.symbols where account.positions[symbol].sizeQuantityUnits != 0 {
                let health = state.marginHealth(accountIndex: index, symbol: SymbolID(symbol))
                if health.marginBalanceMinor <= health.maintenanceMinor { return account.id }
            }
        }
        return nil
    }

    /// Random walks of both marks (steps up to 1.5%), with fills, withdrawals and isolated
    /// margin moves in between: after every command no account is due, every liquidation the
    /// walk causes happens, and a state rebuilt from the journal (index stale, recomputed)
    /// decides exactly what the running one does.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func noAccountIsLeftDueAndARebuiltStateAgrees(seed: UInt64) {
        var (engine, random) = Self.exchange(seed: seed)
        #expect(Self.dueAccount(engine.state) == nil)
        var rebuilt: ExchangeState? = nil
        var liquidations = 0
        var holdersAtMarks = 0
        var checkedAtMarks = 0
        for step in 0..<600 {
            if step == 200 {
                var state = ExchangeState()
                for entry in engine.journal {
                    state.apply(entry.events, of: entry.command, sequence: state.lastSequence + 1, timeNanos: 0)
                }
                #expect(state.risk.riskIndex.isStale)
                if seed % 2 == 0 {
                    state.prepareToExecute()  // as ledgerd does after recovery; otherwise execute does it
                    #expect(!state.risk.riskIndex.isStale)
                }
                rebuilt = state
            }
            let roll = random.next() % 100
            let symbol = SymbolID(random.next() % 2)
            let trader = Self.traders[Int(random.next() % UInt64(Self.traders.count))]
            var commands: [Command]
            if roll < 80 {
                let mark = engine.state.markets[Int(symbol)].markPriceUnits
                let tick = engine.state.symbols[Int(symbol)].tickSizePriceUnits
                let move = mark * Int64(random.next() % 151) / 10_000 / tick * tick
                let price = random.next() % 2 == 0 ? mark + move : max(tick, mark - move)
                commands = [.setMarkPrice(symbol: symbol, priceUnits: price)]
                holdersAtMarks += engine.state.accounts.count { $0.position(symbol).sizeQuantityUnits != 0 }
                var index = engine.state.risk.riskIndex
                var accounts = engine.state.accounts
                var taken = ScratchList<UInt32>()
                index.takeEndangered(symbol: Int(symbol), markPriceUnits: price, &accounts, into: &taken)
                checkedAtMarks += taken.count
            } else if roll < 90 {
                commands = Self.openingCommands(engine.state, trader, symbol: symbol, share: 50, random: &random)
            } else if roll < 95 {
                commands = [
                    .withdraw(Transfer(transferID: 10_000 + UInt64(step), account: trader, asset: 0, amountMinor: 100_000_000))
                ]
            } else {
                let amount: Int64 = random.next() % 2 == 0 ? 50_000_000 : -50_000_000
                commands = [.adjustIsolatedMargin(account: trader, symbol: 0, amountMinor: amount)]
            }
            for command in commands {
                let time = Int64(engine.state.lastSequence + 1) * 1_000
                let events = engine.run(command, at: time)
                liquidations += events.count { if case .liquidationTriggered = $0 { true } else { false } }
                if var state = rebuilt {
                    var again: [Event] = []
                    state.execute(command, sequence: state.lastSequence + 1, timeNanos: time, into: &again)
                    #expect(again == events, "seed \(seed) step \(step): the rebuilt state decided differently")
                    rebuilt = state
                }
                if let due = Self.dueAccount(engine.state) {
                    Issue.record("seed \(seed) step \(step) \(command): account \(due) is left at or below maintenance")
                    return
                }
            }
        }
        #expect(engine.state.invariantViolation() == nil)
        // The walk liquidates, and the index spares most holders most of the time.
        #expect(liquidations > 0)
        #expect(checkedAtMarks * 2 < holdersAtMarks, "\(checkedAtMarks) checks for \(holdersAtMarks) holders")
    }

    /// Danger marks at known slack, on Binance's BTCUSDT (10 brackets: allowance 22 micro-USDT
    /// a position; 1 BTC × 0.01 USDT = 10,000 micro-USDT a price unit). Account 3 is long 1
    /// BTC at 50,000 on 6,000 USDT: maintenance 50,000 × 0.5% − 50 = 200, slack 5,800 USDT −
    /// 23 micro, so Δ = ⌊5,799,999,977 / 10,000⌋ = 579,999 and its danger mark is 50,000.00 −
    /// 5,799.99 − 0.01 = 44,200.00. Account 1 is short 1 BTC on 100,000 USDT: slack 99,800
    /// USDT − 23 micro, twice the loss a price unit, Δ = 4,989,999, danger mark 99,900.00.
    @Test func dangerMarksFollowTheBound() {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt())
        engine.deposit(3, 6_000_000_000)
        engine.run(.setLeverage(account: 3, symbol: 0, leverage: 10))
        engine.limit(1, .sell, price: 5_000_000, quantity: 1_000)
        engine.limit(3, .buy, price: 5_000_000, quantity: 1_000)
        let state = engine.state
        #expect(state.account(3)!.position(0).sizeQuantityUnits == 1_000)
        #expect(state.crossHealth(accountIndex: Int(state.ledger.accountIndexByID[3]!), asset: 0) == (6_000_000_000, 200_000_000))
        var index = state.risk.riskIndex
        var accounts = state.accounts
        var taken = ScratchList<UInt32>()
        index.takeEndangered(symbol: 0, markPriceUnits: 4_420_001, &accounts, into: &taken)
        #expect(taken.isEmpty)
        index.takeEndangered(symbol: 0, markPriceUnits: 4_420_000, &accounts, into: &taken)
        #expect(Array(taken) == [state.ledger.accountIndexByID[3]!])
        index.takeEndangered(symbol: 0, markPriceUnits: 9_989_999, &accounts, into: &taken)
        #expect(taken.count == 1)
        index.takeEndangered(symbol: 0, markPriceUnits: 9_990_000, &accounts, into: &taken)
        #expect(Array(taken) == [state.ledger.accountIndexByID[3]!, state.ledger.accountIndexByID[1]!])
        // The bound holds: at the danger marks both are still above maintenance.
        var atDanger = engine
        atDanger.run(.setMarkPrice(symbol: 0, priceUnits: 4_420_000))
        let long = atDanger.state.crossHealth(accountIndex: Int(state.ledger.accountIndexByID[3]!), asset: 0)
        #expect(long.marginBalanceMinor > long.maintenanceMinor)
        atDanger.run(.setMarkPrice(symbol: 0, priceUnits: 9_990_000))
        let short = atDanger.state.crossHealth(accountIndex: Int(state.ledger.accountIndexByID[1]!), asset: 0)
        #expect(short.marginBalanceMinor > short.maintenanceMinor)
    }

    /// A danger mark the price range cannot reach is not stored, exactly at the edge (the
    /// engine knows it by a product, without the division, issue 12). On the setup above:
    /// the long's slack lets the mark fall by 4,999,999 price units to 0, the short's lets it
    /// rise past the highest price; one micro-USDT less and each is stored, at 1 and at the
    /// highest price.
    @Test(arguments: [0, -1] as [Int64])
    func marksBeyondThePriceRangeAreNotStoredExactlyAtTheEdge(offset: Int64) {
        var engine = RuleBookTests.exchange(RuleBookTests.btcusdt())
        engine.deposit(3, 6_000_000_000)
        engine.run(.setLeverage(account: 3, symbol: 0, leverage: 10))
        engine.limit(1, .sell, price: 5_000_000, quantity: 1_000)
        engine.limit(3, .buy, price: 5_000_000, quantity: 1_000)
        let maxPrice = engine.state.symbols[0].maxPriceUnits
        let long = Int(engine.state.ledger.accountIndexByID[3]!)
        let short = Int(engine.state.ledger.accountIndexByID[1]!)
        // Slack = margin balance − maintenance − 23 (the allowance and one unit); a price
        // unit moves 10,000 micro-USDT of PnL, twice that against a short.
        for (index, edge) in [(long, Int128(5_000_000 - 1) * 10_000), (short, Int128(maxPrice - 5_000_000) * 20_000)] {
            let health = engine.state.crossHealth(accountIndex: index, asset: 0)
            let slack = health.marginBalanceMinor - health.maintenanceMinor - 23
            engine.deposit(engine.state.accounts[index].id, Int64(edge - slack) + offset, transfer: 2_000_000 + UInt64(index))
            let after = engine.state.crossHealth(accountIndex: index, asset: 0)
            #expect(after.marginBalanceMinor - after.maintenanceMinor - 23 == edge + Int128(offset))
        }
        var riskIndex = engine.state.risk.riskIndex
        var accounts = engine.state.accounts
        var taken = ScratchList<UInt32>()
        riskIndex.takeEndangered(symbol: 0, markPriceUnits: 1, &accounts, into: &taken)
        riskIndex.takeEndangered(symbol: 0, markPriceUnits: maxPrice, &accounts, into: &taken)
        #expect(Array(taken) == (offset == 0 ? [] : [UInt32(long), UInt32(short)]), "offset \(offset)")
    }

    /// A random position for the danger-mark tests: long or short, a size and notional
    /// factor of 1 to 2^bits, a mark of 0 to 2^priceBits and a highest price that far again
    /// above it (unbounded one time in `unboundedOneIn`).
    static func randomPosition(
        _ random: inout SeededRandom, sizeBits: UInt64, factorBits: UInt64, priceBits: UInt64, unboundedOneIn: UInt64
    ) -> (isLong: Bool, magnitude: Int64, size: Int64, factor: Int64, mark: Int64, maxPrice: Int64) {
        func value(bits: UInt64) -> Int64 { Int64(random.next() % (UInt64(1) << bits)) }
        let isLong = random.next() % 2 == 0
        let magnitude = value(bits: 1 + random.next() % sizeBits) + 1
        let factor = value(bits: 1 + random.next() % factorBits) + 1
        let mark = value(bits: 1 + random.next() % priceBits)
        let maxPrice = random.next() % unboundedOneIn == 0 ? Int64.max : mark + value(bits: 1 + random.next() % priceBits)
        return (isLong, magnitude, isLong ? magnitude : -magnitude, factor, mark, maxPrice)
    }

    /// A danger mark is what its definition gives (docs/RULES.md, "Which accounts a mark
    /// price checks"): Δ = ⌊share / (|size| × f × m)⌋ price units (m = 1 long, 2 short), the
    /// mark one unit beyond, stored unless it lies beyond the price range; any mark when
    /// the share is negative. `dangerPriceUnits` takes the slope in 64 bits when it fits
    /// and knows a mark beyond the range by a product (issue 12, sixteenth steps); over
    /// random positions of every width, shares at the edge and far from it, both paths,
    /// what it lets `RiskIndex.add` store is what the definition stores.
    @Test func dangerMarksAreTheirDefinitionAtEveryWidth() {
        var random = SeededRandom(seed: 16)
        func value(bits: UInt64) -> Int64 { Int64(random.next() % (UInt64(1) << bits)) }
        var paths = (narrow: 0, wide: 0, edge: 0, stored: 0, beyond: 0)
        for _ in 0..<50_000 {
            let (isLong, magnitude, size, factor, mark, maxPrice) = Self.randomPosition(
                &random, sizeBits: 61, factorBits: 40, priceBits: 40, unboundedOneIn: 4)
            let slope = Int128(magnitude) * Int128(factor) * (isLong ? 1 : 2)
            let leaving = isLong ? Int128(mark) - 1 : Int128(maxPrice) - Int128(mark)
            let share: Int128
            switch random.next() % 5 {
            case 0: share = -Int128(value(bits: 1 + random.next() % 62)) - 1
            case 1, 2:
                // At the range's edge: one unit below, on it, one above (where the edge is
                // beyond `Int128`, far out instead).
                let (edge, overflow) = leaving.multipliedReportingOverflow(by: slope)
                share = overflow ? Int128.max >> 1 : max(0, edge + Int128(Int64(random.next() % 3) - 1))
                paths.edge += 1
            default: share = Int128(value(bits: 1 + random.next() % 62)) * Int128(value(bits: 1 + random.next() % 40) + 1)
            }
            // The definition, and what the index keeps of it.
            var expected: Int64
            if share < 0 {
                expected = isLong ? Int64.max : 1
            } else {
                let move = share / slope
                expected = Int64(clamping: isLong ? Int128(mark) - move - 1 : Int128(mark) + move + 1)
            }
            let expectedStored: Int64? = (isLong ? expected <= 0 : expected > maxPrice) ? nil : expected
            let found = ExchangeState.dangerPriceUnits(
                sizeQuantityUnits: size, notionalFactor: factor, markPriceUnits: mark, maxPriceUnits: maxPrice, shareMinor: share)
            let stored = found.flatMap { (isLong ? $0 <= 0 : $0 > maxPrice) ? nil : $0 }
            #expect(stored == expectedStored, "size \(size) factor \(factor) mark \(mark) max \(maxPrice) share \(share)")
            if slope <= Int128(Int64.max) { paths.narrow += 1 } else { paths.wide += 1 }
            if expectedStored == nil { paths.beyond += 1 } else { paths.stored += 1 }
        }
        // Every path was taken, many times.
        #expect(paths.narrow > 5_000 && paths.wide > 5_000 && paths.edge > 5_000 && paths.stored > 5_000 && paths.beyond > 5_000)
    }

    /// The covered-scope tests' bracket tables (ETHUSDT's, one bracket at 90%, two at 40%
    /// and 90%) and each one's maintenance amounts.
    static func boundTables() -> (tables: [[MarginBracket]], amounts: [[Int64]]) {
        let tables: [[MarginBracket]] = [
            Self.ethusdt.brackets,
            [MarginBracket(notionalCapMinor: 1 << 62, maintenanceMarginRateE8: 90_000_000, maxLeverage: 1)],
            [
                MarginBracket(notionalCapMinor: 1 << 20, maintenanceMarginRateE8: 40_000_000, maxLeverage: 2),
                MarginBracket(notionalCapMinor: 1 << 62, maintenanceMarginRateE8: 90_000_000, maxLeverage: 1),
            ],
        ]
        let amounts = tables.map { brackets in
            var spec = Self.ethusdt
            spec.brackets = brackets
            return spec.maintenanceAmountsMinor
        }
        return (tables, amounts)
    }

    /// A wallet for the covered-scope tests, given the bound's edge: a unit below, on or
    /// above it, half to twice it, up to 2^40 below it, or anywhere in 62 bits.
    static func wallet(around edge: Int128, _ random: inout SeededRandom) -> Int64 {
        func value(bits: UInt64) -> Int64 { Int64(random.next() % (UInt64(1) << bits)) }
        switch random.next() % 4 {
        case 0: return Int64(clamping: edge + Int128(Int64(random.next() % 3) - 1))
        case 1: return Int64(clamping: edge * Int128(1 + random.next() % 4) / 2)
        case 2: return Int64(clamping: edge - Int128(value(bits: 1 + random.next() % 40)))
        default: return value(bits: 1 + random.next() % 62)
        }
    }

    /// `isBeyondDanger` decides a lone position without its maintenance margin (issue 12,
    /// seventeenth steps). Whenever it says so, the definition agrees: the mark the exact
    /// slack gives is one `RiskIndex.add` does not store, and the scope is above
    /// maintenance. Over positions of every width, long and short, bounded and unbounded
    /// price ranges, maintenance rates up to 90%, and wallets at the bound's edge (a unit
    /// below, on it, a unit above), around it (half to twice) and anywhere.
    @Test func aCoveredLonePositionIsBeyondDangerByItsDefinition() {
        var random = SeededRandom(seed: 17)
        func value(bits: UInt64) -> Int64 { Int64(random.next() % (UInt64(1) << bits)) }
        let (tables, amounts) = Self.boundTables()
        var seen = (beyond: 0, beyondAtEdge: 0, notBeyond: 0, longs: 0, shorts: 0)
        for _ in 0..<60_000 {
            let (isLong, magnitude, size, factor, mark, maxPrice) = Self.randomPosition(
                &random, sizeBits: 24, factorBits: 10, priceBits: 26, unboundedOneIn: 8)
            let entry = value(bits: 1 + random.next() % 26) + 1
            let cost = size * factor * entry
            let table = Int(random.next() % UInt64(tables.count))
            let allowance = Int128(2 + 2 * tables[table].count)
            // The bound's edge: the wallet at which the bound just holds.
            let reach = isLong ? Int128(mark) - 1 : Int128(maxPrice)
            let edge = Int128(cost) + 1 + allowance + Int128(magnitude) * Int128(factor) * reach * (isLong ? 1 : 2)
            let wallet = Self.wallet(around: edge, &random)
            let beyond = ExchangeState.isBeyondDanger(
                sizeQuantityUnits: size, costMinor: cost, walletMinor: wallet, notionalFactor: factor, markPriceUnits: mark,
                maxPriceUnits: maxPrice, allowanceMinor: allowance)
            guard beyond else {
                seen.notBeyond += 1
                continue
            }
            // The definition: the exact slack and maintenance margin, the mark they give and
            // whether the index keeps it.
            let notional = FixedPoint.product(size, mark, factor)
            let maintenance = ExchangeState.maintenanceMarginMinor(
                notionalMinor: Int128(notional.magnitude), brackets: tables[table], amounts: amounts[table])
            let marginBalance = Int128(wallet) + notional - Int128(cost)
            let share = marginBalance - maintenance - 1 - allowance
            let found = ExchangeState.dangerPriceUnits(
                sizeQuantityUnits: size, notionalFactor: factor, markPriceUnits: mark, maxPriceUnits: maxPrice, shareMinor: share)
            let stored = found.flatMap { (isLong ? $0 <= 0 : $0 > maxPrice) ? nil : $0 }
            #expect(
                stored == nil && !ExchangeState.isLiquidatable((marginBalance, maintenance)),
                "size \(size) factor \(factor) mark \(mark) max \(maxPrice) cost \(cost) wallet \(wallet) table \(table)")
            seen.beyond += 1
            if Int128(wallet) - edge < 2 { seen.beyondAtEdge += 1 }
            if isLong { seen.longs += 1 } else { seen.shorts += 1 }
        }
        // Both answers, both sides and the edge itself, many times each.
        #expect(seen.beyond > 10_000 && seen.notBeyond > 10_000 && seen.beyondAtEdge > 3_000)
        #expect(seen.longs > 5_000 && seen.shorts > 5_000)
    }

    /// A cross scope of several positions that `CrossDangerBound` calls covered keeps no
    /// danger mark and is not due, by the definition (issue 12, eighteenth steps): the
    /// exact slack over all its positions, split evenly, gives each position a mark beyond
    /// the price range (`dangerPriceUnits` finds none), and the scope is above maintenance.
    /// Over scopes of two to five positions, longs and shorts mixed, bounded and unbounded
    /// price ranges, maintenance rates up to 90%, isolated margins taken from the wallet,
    /// and wallets at the bound's edge (a unit either side), around it and anywhere.
    @Test func aCoveredCrossScopeIsBeyondDangerByItsDefinition() {
        var random = SeededRandom(seed: 18)
        func value(bits: UInt64) -> Int64 { Int64(random.next() % (UInt64(1) << bits)) }
        let (tables, amounts) = Self.boundTables()
        typealias Held = (size: Int64, factor: Int64, mark: Int64, maxPrice: Int64, cost: Int64, table: Int)
        var seen = (beyond: 0, beyondAtEdge: 0, notBeyond: 0, withShort: 0, withIsolated: 0)
        for _ in 0..<30_000 {
            let count = 2 + Int(random.next() % 4)
            var held: [Held] = []
            for _ in 0..<count {
                let (_, _, size, factor, mark, maxPrice) = Self.randomPosition(
                    &random, sizeBits: 20, factorBits: 8, priceBits: 24, unboundedOneIn: 16)
                let entry = value(bits: 1 + random.next() % 24) + 1
                held.append((size, factor, mark, maxPrice, size * factor * entry, Int(random.next() % UInt64(tables.count))))
            }
            let allowance = held.reduce(Int128(0)) { $0 + Int128(2 + 2 * tables[$1.table].count) }
            let isolated = random.next() % 3 == 0 ? value(bits: 1 + random.next() % 30) : 0
            // The bound's edge: the balance at which F = k × max R just holds.
            var floorTerms = Int128(0)
            var reach = Int128(0)
            for position in held {
                let slope = Int128(abs(position.size * position.factor))
                floorTerms += Int128(position.cost)
                if position.size > 0 {
                    reach = max(reach, slope * Int128(position.mark - 1))
                } else {
                    floorTerms += 2 * slope * Int128(position.mark)
                    reach = max(reach, 2 * slope * (Int128(position.maxPrice) - Int128(position.mark)))
                }
            }
            let edge = Int128(isolated) + 1 + allowance + floorTerms + Int128(count) * reach
            let balance = Self.wallet(around: edge, &random)
            var bound = CrossDangerBound(walletMinor: balance)
            if isolated != 0 { bound.takeIsolatedMargin(isolated) }
            for position in held {
                bound.add(
                    sizeQuantityUnits: position.size, costMinor: position.cost, notionalFactor: position.factor,
                    markPriceUnits: position.mark, maxPriceUnits: position.maxPrice)
            }
            guard bound.holds(allowanceMinor: allowance) else {
                seen.notBeyond += 1
                continue
            }
            // The definition: `crossHealth`'s sums and `recordDangerMarks`' even split.
            var marginBalance = Int128(balance) - Int128(isolated)
            var maintenance = Int128(0)
            for position in held {
                let notional = FixedPoint.product(position.size, position.mark, position.factor)
                marginBalance += notional - Int128(position.cost)
                maintenance += ExchangeState.maintenanceMarginMinor(
                    notionalMinor: Int128(notional.magnitude), brackets: tables[position.table], amounts: amounts[position.table])
            }
            let slack = marginBalance - maintenance - 1 - allowance
            let share = slack < 0 ? slack : slack / Int128(count)
            for position in held {
                let found = ExchangeState.dangerPriceUnits(
                    sizeQuantityUnits: position.size, notionalFactor: position.factor, markPriceUnits: position.mark,
                    maxPriceUnits: position.maxPrice, shareMinor: share)
                #expect(found == nil, "\(held) balance \(balance) isolated \(isolated)")
            }
            #expect(!ExchangeState.isLiquidatable((marginBalance, maintenance)), "\(held) balance \(balance)")
            seen.beyond += 1
            if Int128(balance) - edge < 2 { seen.beyondAtEdge += 1 }
            if held.contains(where: { $0.size < 0 }) { seen.withShort += 1 }
            if isolated != 0 { seen.withIsolated += 1 }
        }
        // Both answers, the edge itself, shorts and isolated margins, many times each.
        #expect(seen.beyond > 5_000 && seen.notBeyond > 5_000 && seen.beyondAtEdge > 1_500)
        #expect(seen.withShort > 3_000 && seen.withIsolated > 1_000)
    }

    /// The heap gives entries in key order and compaction keeps exactly the live ones.
    @Test func dangerHeapOrdersAndCompacts() {
        var random = SeededRandom(seed: 9)
        var heap = DangerHeap()
        var keys: [Int64] = []
        for index in 0..<500 {
            let key = Int64(random.next() % 1_000) - 500
            keys.append(key)
            heap.push(.init(key: key, accountIndex: UInt32(index), generation: UInt32(index % 3)))
        }
        heap.compact { $0.generation != 0 }
        let live = keys.indices.filter { $0 % 3 != 0 }.map { keys[$0] }.sorted()
        var popped: [Int64] = []
        while let entry = heap.popIfKey(atMost: 100) { popped.append(entry.key) }
        #expect(popped == live.filter { $0 <= 100 })
        #expect(heap.count == live.count { $0 > 100 })
    }

    /// Entries of retired generations do not pile up: a heap stays within twice the
    /// accounts plus its slack however often the accounts are refreshed.
    @Test func refreshingOftenKeepsTheHeapsBounded() {
        var index = RiskIndex()
        index.isStale = false
        var accounts = ContiguousArray((0..<50).map { Account(id: AccountID($0)) })
        for round in 0..<200 {
            for account in 0..<50 {
                RiskIndex.retire(account, &accounts)
                index.add(
                    accountIndex: account, symbol: 0, isLong: true, dangerPriceUnits: Int64(1_000 + round + account),
                    maxPriceUnits: 1 << 40, accounts)
            }
        }
        #expect(index.longs[0].count <= 2 * 50 + 64 + 1)
        var taken = ScratchList<UInt32>()
        index.takeEndangered(symbol: 0, markPriceUnits: 1, &accounts, into: &taken)
        #expect(taken.count == 50 && Set(taken) == Set((0..<50).map(UInt32.init)))
    }

    /// The account's risk word keeps the exact-first hint apart from its generation
    /// (issue 12, eighteenth steps): retiring keeps the hint and wraps the generation below
    /// it, and neither the hint nor the dirty bit makes a live entry look stale or a stale
    /// one live.
    @Test func theExactFirstHintSurvivesRetiringAndStaysOutOfTheGeneration() {
        var index = RiskIndex()
        index.isStale = false
        var accounts = ContiguousArray([Account(id: 1), Account(id: 2)])
        // Account 0 at the last generation before the wrap, with the hint; account 1 without.
        accounts[0].riskState = RiskIndex.generationMask - 1
        RiskIndex.setChecksExactFirst(true, 0, &accounts)
        RiskIndex.retire(0, &accounts)
        #expect(accounts[0].riskState == RiskIndex.exactFirstBit | RiskIndex.generationMask)
        #expect(RiskIndex.checksExactFirst(0, accounts) && !RiskIndex.checksExactFirst(1, accounts))
        for account in 0..<2 {
            index.add(accountIndex: account, symbol: 0, isLong: true, dangerPriceUnits: 1_000, maxPriceUnits: 1 << 40, accounts)
        }
        // Marked dirty and the hint cleared: the entries stay live.
        index.markDirty(0, &accounts)
        RiskIndex.setChecksExactFirst(false, 0, &accounts)
        var taken = ScratchList<UInt32>()
        index.takeEndangered(symbol: 0, markPriceUnits: 1_000, &accounts, into: &taken)
        #expect(Array(taken).sorted() == [0, 1])
        // Retired through the wrap (to generation 0) with the hint set again: stale.
        RiskIndex.setChecksExactFirst(true, 0, &accounts)
        RiskIndex.retire(0, &accounts)
        RiskIndex.retire(1, &accounts)
        #expect(accounts[0].riskState == RiskIndex.exactFirstBit)
        index.add(accountIndex: 1, symbol: 0, isLong: true, dangerPriceUnits: 900, maxPriceUnits: 1 << 40, accounts)
        index.add(accountIndex: 0, symbol: 0, isLong: true, dangerPriceUnits: 1_000, maxPriceUnits: 1 << 40, accounts)
        RiskIndex.retire(0, &accounts)
        taken.removeAll()
        index.takeEndangered(symbol: 0, markPriceUnits: 900, &accounts, into: &taken)
        #expect(Array(taken) == [1])
    }
}
