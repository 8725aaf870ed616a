import LedgerClient
import Testing

@testable import LedgerCore

/// Liquidation in bounded steps (docs/RULES.md, "Work in bounded steps"): one mark price
/// brings every holder to maintenance; the engine under the bounded rules liquidates them
/// in ticks of at most 16, every invariant holding after every entry, and what liquidates
/// them all inside the mark price's entry agrees on every event, in the same order, and
/// on every balance, position and book: the reference model (600 holders: it checks every
/// holder after every command, so its cost grows with the square), and the engine under
/// the rules of a journal without world limits (5,000 holders), which the differential
/// tests hold to the model.
@Suite struct BoundedLiquidationTests {
    static let whale: AccountID = 1
    static let firstHolder: AccountID = 10_000

    /// The engine (bounded rules) beside a reference that does it in one entry; ticks
    /// follow each command until the engine has no work left.
    struct Pair {
        var engine = EngineHarness(genesis: false)
        /// One of the two references.
        var model: ReferenceExchange?
        var legacy: EngineHarness?
        var time: Int64 = 1_764_000_000 * 1_000_000_000
        var modelSequence: SequenceNumber = 0
        var ticks = 0
        var largestTickEvents = 0
        var largestTickBytes = 0

        init(model: Bool) {
            if model { self.model = ReferenceExchange() } else { legacy = EngineHarness(genesis: false) }
            #expect(engine.run(.setWorldLimits(.standard), at: time) == [.worldLimitsSet(.standard)])
        }

        /// Runs a command on both; returns (engine events of the command and its ticks,
        /// model events).
        @discardableResult
        mutating func run(_ command: Command, checkEveryEntry: Bool = false) -> (engine: [Event], model: [Event]) {
            time += 1_000
            modelSequence += 1
            let expected = model?.execute(command, sequence: modelSequence, time: time) ?? legacy!.run(command, at: time)
            var got = engine.run(command, at: time)
            while engine.state.hasSystemWork {
                let events = engine.run(.tick, at: time)
                ticks += 1
                largestTickEvents = max(largestTickEvents, events.count)
                var payload = ByteWriter()
                EntryPayload.encode(command: .tick, events: events, to: &payload)
                largestTickBytes = max(largestTickBytes, payload.bytes.count)
                let liquidated = events.count { if case .liquidationTriggered = $0 { true } else { false } }
                #expect(liquidated <= Limits.liquidationsPerEntryMax, "tick \(ticks): \(liquidated) liquidations")
                if checkEveryEntry, let problem = engine.state.invariantViolation() {
                    Issue.record("after tick \(ticks): \(problem)")
                }
                if events != [.rejected(.noSystemWork, detail: 0)] { got += events }
            }
            return (got, expected)
        }

        mutating func agree(_ command: Command, checkEveryEntry: Bool = false) {
            let (got, expected) = run(command, checkEveryEntry: checkEveryEntry)
            #expect(got == expected, "\(command):\n engine \(got.prefix(12))…\n model  \(expected.prefix(12))…")
        }
    }

    @Test(arguments: [(600, true), (5_000, false)])
    func aMarkThatLiquidatesEveryHolderRunsInTicksAndAgreesWithOneEntry(holders: Int, againstModel: Bool) {
        var pair = Pair(model: againstModel)
        for command in OrderFlow.genesis { pair.agree(command) }
        pair.agree(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        pair.agree(.deposit(Transfer(transferID: 1, account: Self.whale, asset: 0, amountMinor: 1_000_000_000_000_000)))
        pair.agree(.depositInsuranceFund(Transfer(transferID: 2, account: 0, asset: 0, amountMinor: 300_000_000)))
        // The whale sells every holder 10 lots (0.01 BTC, 500 USDT) and bids below, where
        // some liquidation orders fill and the rest go to the fund, then to ADL.
        pair.agree(
            .placeOrder(
                PlaceOrder(
                    account: Self.whale, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000,
                    quantityUnits: Int64(holders) * 10)))
        for (price, quantity) in [(489_000, 3_000), (487_000, 5_000), (480_000, 2_000)] as [(Int64, Int64)] {
            pair.agree(
                .placeOrder(
                    PlaceOrder(
                        account: Self.whale, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: price,
                        quantityUnits: quantity)))
        }
        // 5,000 holders at 100x with 7 … 13 USDT of margin; every fourth isolated.
        for index in 0..<holders {
            let account = Self.firstHolder + AccountID(index)
            pair.agree(
                .deposit(
                    Transfer(transferID: 10 + AccountID(index), account: account, asset: 0, amountMinor: Int64(7 + index % 7) * 1_000_000)))
            if index % 4 == 0 { pair.agree(.setMarginMode(account: account, symbol: 0, isolated: true)) }
            pair.agree(.setLeverage(account: account, symbol: 0, leverage: 100))
            pair.agree(
                .placeOrder(
                    PlaceOrder(account: account, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 10))
            )
        }
        #expect(pair.engine.state.ledger.holders[0].count == holders + 1)
        #expect(pair.engine.state.invariantViolation() == nil)
        let ticksBefore = pair.ticks

        // −4%: every holder is at or below maintenance.
        let (got, expected) = pair.run(.setMarkPrice(symbol: 0, priceUnits: 480_000), checkEveryEntry: true)
        #expect(got == expected, "the engine's ticks and the model's one entry differ")
        let liquidated = got.count { if case .liquidationTriggered = $0 { true } else { false } }
        let takeovers = got.count { if case .insuranceTakeover = $0 { true } else { false } }
        let deleveraged = got.count { if case .autoDeleveraged = $0 { true } else { false } }
        let filled = got.count { if case .trade = $0 { true } else { false } }
        #expect(liquidated == holders, "\(liquidated) liquidated")
        #expect(takeovers > 0 && deleveraged > 0 && filled > 0, "\(filled) fills, \(takeovers) takeovers, \(deleveraged) ADL")
        #expect(pair.ticks - ticksBefore >= holders / Limits.liquidationsPerEntryMax)
        #expect(pair.largestTickBytes <= 16_384, "largest tick \(pair.largestTickBytes) bytes")
        if let model = pair.model {
            #expect(DifferentialTests().compare(pair.engine.state, model, seed: 0))
        } else if let legacy = pair.legacy {
            // The same ledger (the transfers' sequences differ by the genesis entry).
            let (bounded, reference) = (pair.engine.state, legacy.state)
            #expect(bounded.accounts == reference.accounts)
            #expect(bounded.ledger.systemBalancesMinor == reference.ledger.systemBalancesMinor)
            #expect(bounded.ledger.insurancePositions == reference.ledger.insurancePositions)
            for side in Side.allCases {
                #expect(bounded.books.bySymbol[0].orders(side) == reference.books.bySymbol[0].orders(side))
            }
            #expect(bounded.ledger.openInterest[0] == reference.ledger.openInterest[0])
        }
        #expect(!pair.engine.state.hasSystemWork)
        #expect(pair.engine.state.invariantViolation() == nil)
    }
}
