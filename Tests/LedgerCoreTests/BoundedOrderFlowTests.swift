import LedgerClient
import Testing

@testable import LedgerCore

/// Entries and replies stay within their limits under the bounded rules (docs/RULES.md,
/// "Work in bounded steps"): an order meets at most `Limits.makersPerOrderMax` resting
/// orders, and the differential tests' random flow, run as ledgerd's sequencer runs it,
/// never makes an entry above `JournalFormat`'s 64 KiB or a reply above a frame.
@Suite struct BoundedOrderFlowTests {
    /// The encoded size of the reply a gateway would get for these events.
    static func replyBytes(_ sequence: SequenceNumber, _ events: [Event]) -> Int {
        var writer = ByteWriter()
        WireFrame.encodeCommitted(requestID: UInt64(Int64.max), sequence: sequence, events: events, to: &writer)
        return writer.bytes.count
    }

    static func payloadBytes(_ command: Command, _ events: [Event]) -> Int {
        var writer = ByteWriter()
        EntryPayload.encode(command: command, events: events, to: &writer)
        return writer.bytes.count
    }

    /// 100 makers of one lot each, at rising prices, each from its own account.
    static func book(bounded: Bool) -> EngineHarness {
        var engine = EngineHarness(genesis: false)
        if bounded { engine.run(.setWorldLimits(.standard)) }
        for command in TestExchange.genesis { engine.run(command) }
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        for maker in 1...100 as ClosedRange<AccountID> {
            engine.deposit(maker, 10_000_000_000)
            engine.limit(maker, .sell, price: 500_000 + Int64(maker), quantity: 1)
        }
        engine.deposit(1_000, 100_000_000_000)
        return engine
    }

    /// Under the bounded rules the ids of open orders do not count toward the idempotency
    /// window's maximum (docs/RULES.md, "Idempotency"): with 5 open orders and a maximum
    /// of 3, the ids of 3 closed orders stay remembered, and a 4th closed one forgets the
    /// oldest. Under the old rules the 8 records were over the maximum, so each entry
    /// forgot the closed ids as soon as they reached the front. Either way the open orders'
    /// ids stay.
    @Test(arguments: [true, false]) func openOrdersIDsDoNotCountTowardTheMaximum(bounded: Bool) {
        var engine = EngineHarness(genesis: false)
        if bounded { engine.run(.setWorldLimits(.standard)) }
        for command in TestExchange.genesis { engine.run(command) }
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        engine.deposit(1, 100_000_000_000)
        let window = IdempotencyWindow(transferSeconds: 86_400, clientOrderSeconds: 86_400, maxRecords: 3)
        #expect(engine.run(.setIdempotencyWindow(window)) == [.idempotencyWindowSet(window)])
        for client in (1...5).map({ ClientOrderID(UInt64($0)) }) {
            #expect(
                engine.limit(1, .buy, price: 400_000, quantity: 1, client: client).last
                    == .orderRested(engine.state.books.nextOrderID - 1, openQuantityUnits: 1))
        }
        // Immediate-or-cancel with nothing to meet: closed at once.
        for client in (11...13).map({ ClientOrderID(UInt64($0)) }) {
            engine.limit(1, .buy, price: 400_000, quantity: 1, tif: .ioc, client: client)
        }
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_010))
        let remembered = { (client: ClientOrderID) in engine.state.orderID(account: 1, clientOrderID: client) != nil }
        #expect((1...5).allSatisfy { remembered(ClientOrderID(UInt64($0))) }, "open orders' ids are never forgotten")
        if bounded {
            #expect((11...13).allSatisfy { remembered(ClientOrderID(UInt64($0))) }, "3 closed ids within a maximum of 3")
            engine.limit(1, .buy, price: 400_000, quantity: 1, tif: .ioc, client: 14)
            engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_020))
            #expect(!remembered(11) && remembered(12) && remembered(13) && remembered(14), "the oldest closed id goes")
        } else {
            #expect(!remembered(11) && !remembered(12), "8 records over a maximum of 3: the closed ids go")
        }
        #expect(engine.state.invariantViolation() == nil)
    }

    @Test func anOrderMeetsAtMostThirtyTwoRestingOrders() {
        var bounded = Self.book(bounded: true)
        let market = bounded.market(1_000, .buy, quantity: 100)
        #expect(market.count { if case .trade = $0 { true } else { false } } == Limits.makersPerOrderMax)
        #expect(market.last == .orderExpired(101, quantityUnits: 68, reason: .matchLimit))
        #expect(Self.replyBytes(bounded.state.lastSequence, market) <= WireFrame.frameBytesMax)
        // A limit order that would still trade past the limit does not rest crossed: its
        // rest expires; one whose price the walk reaches within the limit rests.
        let limit = bounded.limit(1_000, .buy, price: 500_100, quantity: 50)
        #expect(limit.count { if case .trade = $0 { true } else { false } } == 32)
        #expect(limit.last == .orderExpired(102, quantityUnits: 18, reason: .matchLimit))
        #expect(bounded.state.books.bySymbol[0].isUncrossed)
        let resting = bounded.limit(1_000, .buy, price: 500_070, quantity: 10)
        #expect(resting.count { if case .trade = $0 { true } else { false } } == 6)
        #expect(resting.last == .orderRested(103, openQuantityUnits: 4))
        #expect(bounded.state.invariantViolation() == nil)
        // A journal without world limits keeps its rules: all 100 fill.
        var legacy = Self.book(bounded: false)
        let all = legacy.market(1_000, .buy, quantity: 100)
        #expect(all.count { if case .trade = $0 { true } else { false } } == 100)
    }

    /// 100 stops that one mark price reaches trigger in ticks of at most 16, with the same
    /// events in the same order as under the old rules' single entry.
    @Test func aHundredStopsTriggerInTicksAsInOneEntry() {
        func world(bounded: Bool) -> EngineHarness {
            var engine = EngineHarness(genesis: false)
            if bounded { engine.run(.setWorldLimits(.standard)) }
            for command in TestExchange.genesis { engine.run(command) }
            engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
            engine.deposit(1, 100_000_000_000)
            engine.limit(1, .sell, price: 500_000, quantity: 100)
            engine.limit(1, .buy, price: 497_000, quantity: 200)
            for account in 2...101 as ClosedRange<AccountID> {
                engine.deposit(account, 1_000_000_000)
                engine.market(account, .buy, quantity: 1)
                engine.run(
                    .placeOrder(
                        PlaceOrder(
                            account: account, symbol: 0, side: .sell, type: .stopMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 1,
                            stopPriceUnits: 499_000, workingType: .markPrice)))
            }
            return engine
        }
        var legacy = world(bounded: false)
        var bounded = world(bounded: true)
        let expected = legacy.run(.setMarkPrice(symbol: 0, priceUnits: 498_000))
        var got = bounded.run(.setMarkPrice(symbol: 0, priceUnits: 498_000))
        #expect(got == [.markPriceSet(symbol: 0, priceUnits: 498_000)], "the oracle's entry carries the mark alone")
        var ticks = 0
        while bounded.state.hasSystemWork {
            let events = bounded.run(.tick)
            ticks += 1
            #expect(events.count { if case .conditionalOrderTriggered = $0 { true } else { false } } <= Limits.triggersPerEntryMax)
            got += events
        }
        #expect(expected.count { if case .conditionalOrderTriggered = $0 { true } else { false } } == 100)
        #expect(ticks == 7)
        #expect(got == expected)
        #expect(bounded.state.accounts == legacy.state.accounts)
        #expect(bounded.state.invariantViolation() == nil)
    }

    @Test(arguments: [3 as UInt64, 11])
    func theRandomFlowKeepsEveryEntryAndReplyWithinItsLimit(seed: UInt64) {
        var engine = EngineHarness(genesis: false)
        var flow = OrderFlow(seed: seed)
        engine.run(.setWorldLimits(.standard), at: flow.time)
        var (largestReply, largestEntry, ticks, liquidations, fundings, limited) = (0, 0, 0, 0, 0, 0)
        var checked = engine.journal.count
        let commands = OrderFlow.genesis + flow.opening() + (0..<30_000).map { _ in flow.next() }
        for (index, command) in commands.enumerated() {
            let own = engine.sequenced(command, at: flow.tick())
            largestReply = max(largestReply, Self.replyBytes(engine.state.lastSequence, own))
            limited += own.count { if case .orderExpired(_, _, .matchLimit) = $0 { true } else { false } }
            for (entry, events) in engine.journal[checked...] {
                largestEntry = max(largestEntry, Self.payloadBytes(entry, events))
                if entry == .tick { ticks += 1 }
                liquidations += events.count { if case .liquidationTriggered = $0 { true } else { false } }
                fundings += events.count { if case .fundingPaid = $0 { true } else { false } }
            }
            checked = engine.journal.count
            if index % 5_000 == 4_999, let problem = engine.state.invariantViolation() {
                Issue.record("seed \(seed) command \(index): \(problem)")
                return
            }
        }
        #expect(largestReply <= WireFrame.frameBytesMax, "largest reply \(largestReply) bytes")
        #expect(largestEntry <= 8_192, "largest entry \(largestEntry) bytes")
        #expect(ticks > 0 && liquidations > 0 && fundings > 0, "\(ticks) ticks, \(liquidations) liquidations, \(fundings) payments")
        #expect(engine.state.invariantViolation() == nil)
        print(
            "BoundedOrderFlowTests seed \(seed): \(engine.journal.count) entries, \(ticks) ticks, \(liquidations) liquidations, \(fundings) funding payments, \(limited) orders at the match limit; largest reply \(largestReply) bytes, entry \(largestEntry)"
        )
    }
}
