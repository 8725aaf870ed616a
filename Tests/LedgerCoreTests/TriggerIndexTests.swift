import LedgerClient
import Testing

@testable import LedgerCore

/// The trigger index (`TriggerIndex`, `BookRoom.lowestIndexedReached`): the lowest stop or
/// take-profit order whose trigger is reached, exactly as the walk it replaces says, over
/// random orders (trailing stops among them), removals and prices that move both ways; and
/// the engine's first triggered order, as the walk in id order finds it.
@Suite struct TriggerIndexTests {
    static let types: [OrderType] = [.stopMarket, .stopLimit, .takeProfitMarket, .takeProfitLimit, .trailingStopMarket]

    /// The walk: the lowest waiting order of symbol 0 (a trailing stop only if `trailing`)
    /// whose trigger is reached, if any.
    static func walkFindsOne(_ books: BookRoom, mark: Int64, contract: Int64, trailing: Bool) -> OrderID? {
        books.conditionalBySymbol[0].first {
            (trailing || $0.order.type != .trailingStopMarket)
                && ExchangeState.isTriggered(
                    $0, at: $0.order.workingType == .markPrice ? mark : contract,
                    trailingExtremeUnits: books.trailingExtremeUnits(of: $0))
        }?.orderID
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func theIndexNeverMissesWhatTheWalkFinds(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var books = BookRoom()
        books.listSymbol()
        var waiting: [OrderID] = []
        var nextID: OrderID = 1
        var answeredNone = 0
        var answeredSome = 0
        var largestHeap = 0
        var largestReached = 0
        var mark: Int64 = 1_000
        var contract: Int64 = 1_000
        for step in 0..<20_000 {
            // Phases of up to 8 and up to 1,000 orders waiting: adds while fewer wait than
            // the phase's size, removals once as many do. The heaps fill, go stale and are
            // rebuilt; with few orders waiting, often no trigger is reached.
            let phaseSize = step / 2_000 % 2 == 0 ? 8 : 1_000
            if waiting.isEmpty || Int.random(in: 0..<phaseSize, using: &random) >= waiting.count {
                let type = Self.types[Int.random(in: 0..<(step % 7 == 0 ? 5 : 4), using: &random)]
                let side: Side = Bool.random(using: &random) ? .buy : .sell
                // Triggers that wait for a rise are above 1,000, those for a fall below (as
                // stops and take-profits usually are); one in ten anywhere.
                let rises =
                    TriggerIndex.heap(
                        of: PlaceOrder(
                            account: 1, symbol: 0, side: side, type: type == .trailingStopMarket ? .stopMarket : type,
                            timeInForce: .gtc, priceUnits: 0, quantityUnits: 1))! % 2 == 0
                let stop =
                    Int.random(in: 0..<10, using: &random) == 0
                    ? Int64.random(in: 1...2_000, using: &random)
                    : rises ? Int64.random(in: 1_000...2_000, using: &random) : Int64.random(in: 1...1_000, using: &random)
                let order = PlaceOrder(
                    account: 1, symbol: 0, side: side, type: type, timeInForce: .gtc,
                    priceUnits: type.hasLimitPrice ? 1_000 : 0, quantityUnits: 1,
                    stopPriceUnits: type == .trailingStopMarket ? 0 : stop,
                    workingType: Bool.random(using: &random) ? .markPrice : .contractPrice,
                    callbackRateE8: type == .trailingStopMarket ? 1_000_000 : 0)
                books.takeOrderID(nextID)
                books.addConditional(
                    ConditionalOrder(
                        orderID: nextID, accountIndex: 0, order: order,
                        joinedTrailingExtremeUnits: type == .trailingStopMarket ? Int64.random(in: 0...2_000, using: &random) : 0))
                waiting.append(nextID)
                nextID += 1
            } else {
                let id = waiting.remove(at: Int.random(in: 0..<waiting.count, using: &random))
                #expect(books.removeConditional(id).orderID == id)
            }
            // Prices jump anywhere, or (one step in two) move a little from the last:
            // entries found reached stay so or go back to their heaps.
            if step % 2 == 0 {
                mark = Int64.random(in: 1...2_000, using: &random)
                contract = Int64.random(in: 1...2_000, using: &random)
            } else {
                mark = min(2_000, max(1, mark + Int64.random(in: -20...20, using: &random)))
                contract = min(2_000, max(1, contract + Int64.random(in: -20...20, using: &random)))
            }
            let walk = Self.walkFindsOne(books, mark: mark, contract: contract, trailing: false)
            let index = books.lowestIndexedReached(0, markPriceUnits: mark, contractPriceUnits: contract)
            if index != walk {
                Issue.record("seed \(seed), step \(step): at \(mark)/\(contract) the index says \(index as Any), the walk \(walk as Any)")
                return
            }
            if index == nil { answeredNone += 1 } else { answeredSome += 1 }
            largestReached = max(largestReached, books.triggers[0].reached.count)
            largestHeap = max(largestHeap, (0..<4).map { books.triggers[0].entries($0).count }.max() ?? 0)
            if step % 100 == 99, let violation = AccountLasts().violation(books, BookRoomTests.symbols) {
                Issue.record("seed \(seed), step \(step): \(violation)")
                return
            }
        }
        // Both answers were exercised, entries were found reached in numbers, and no heap
        // (with its entries found reached) grew past twice what could wait.
        #expect(answeredNone > 1_000 && answeredSome > 1_000, "\(answeredNone) none, \(answeredSome) some")
        #expect(largestReached > 100, "at most \(largestReached) entries found reached at once")
        #expect(largestHeap <= 2 * 1_000 + 33, "largest heap \(largestHeap)")
    }

    /// The sweep names an index that lost an order.
    @Test func theSweepNamesAnIndexThatDisagrees() {
        var books = BookRoom()
        books.listSymbol()
        books.listSymbol()
        books.takeOrderID(1)
        let order = PlaceOrder(
            account: 1, symbol: 1, side: .sell, type: .stopMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 1, stopPriceUnits: 900)
        books.addConditional(ConditionalOrder(orderID: 1, accountIndex: 0, order: order, joinedTrailingExtremeUnits: 0))
        #expect(AccountLasts().violation(books, BookRoomTests.symbols) == nil)
        // A sell stop on the contract price (the default): reached at or below 900.
        let reached = books.lowestIndexedReached(1, markPriceUnits: 2_000, contractPriceUnits: 900)
        let notReached = books.lowestIndexedReached(1, markPriceUnits: 1, contractPriceUnits: 901)
        #expect(reached == 1 && notReached == nil)
        #expect(AccountLasts().violation(books, BookRoomTests.symbols) == nil)
        var lost = books
        lost.triggers[1] = TriggerIndex()
        #expect(
            AccountLasts().violation(lost, BookRoomTests.symbols)
                == "ETHUSDT: trigger index counts [0, 0, 0, 0] and 0 trailing, the list [0, 0, 0, 1] and 0")
    }

    /// The engine's first triggered order (the index, then the trailing stops alone) is the
    /// walk's: the lowest id whose trigger is reached, over random orders of every kind and
    /// random mark and last prices set in place.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func theFirstTriggeredOrderIsTheWalks(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var engine = EngineHarness()
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        engine.deposit(5, 10_000_000_000)
        var placed = 0
        var cascadeAnswers = 0
        for step in 0..<400 {
            let type = Self.types[Int.random(in: 0..<5, using: &random)]
            let side: Side = Bool.random(using: &random) ? .buy : .sell
            let order = PlaceOrder(
                account: 5, symbol: 0, side: side, type: type, timeInForce: .gtc, priceUnits: type.hasLimitPrice ? 500_000 : 0,
                quantityUnits: 1, stopPriceUnits: type == .trailingStopMarket ? 0 : Int64.random(in: 1...10_000, using: &random) * 100,
                workingType: Bool.random(using: &random) ? .markPrice : .contractPrice,
                callbackRateE8: type == .trailingStopMarket ? 1_000_000 : 0)
            // Placed only while not reached at the current prices (or refused), then the
            // prices move in place: many orders end up reached at once.
            let events = engine.run(.placeOrder(order))
            if case .conditionalOrderPlaced = events.last { placed += 1 }
            if step % 4 == 3 {
                engine.state.markets[0].markPriceUnits = Int64.random(in: 1...10_000, using: &random) * 100
                engine.state.markets[0].lastPriceUnits = Int64.random(in: 0...10_000, using: &random) * 100
                let trailing = engine.state.books.conditionalBySymbol[0].filter { $0.order.type == .trailingStopMarket }
                for conditional in trailing {
                    engine.state.books.setTrailingExtreme(conditional.orderID, to: Int64.random(in: 0...10_000, using: &random) * 100)
                }
                let walk = engine.state.books.conditionalBySymbol[0].first {
                    ExchangeState.isTriggered(
                        $0, at: engine.state.workingPriceUnits(symbol: 0, $0.order.workingType),
                        trailingExtremeUnits: engine.state.books.trailingExtremeUnits(of: $0))
                }
                let found = engine.state.firstTriggeredOrder(symbol: 0)
                if found?.orderID != walk?.orderID {
                    Issue.record(
                        "seed \(seed), step \(step): the engine finds \(String(describing: found?.orderID)), the walk \(String(describing: walk?.orderID))"
                    )
                    return
                }
                // A cascade at these prices, on a copy: the orders reached leave one by one,
                // and each next one the engine finds (from the heaps by id of what was found
                // reached, after the first look) is the next the walk finds.
                var cascade = engine.state
                let reached = cascade.books.conditionalBySymbol[0].filter {
                    ExchangeState.isTriggered(
                        $0, at: cascade.workingPriceUnits(symbol: 0, $0.order.workingType),
                        trailingExtremeUnits: cascade.books.trailingExtremeUnits(of: $0))
                }.map(\.orderID)
                for (place, id) in reached.enumerated() {
                    let next = cascade.firstTriggeredOrder(symbol: 0)?.orderID
                    if next != id {
                        Issue.record(
                            "seed \(seed), step \(step): cascade place \(place): the engine finds \(String(describing: next)), the walk \(id)"
                        )
                        return
                    }
                    _ = cascade.books.removeConditional(id)
                    if place >= 2 { cascadeAnswers += 1 }
                }
                #expect(cascade.firstTriggeredOrder(symbol: 0) == nil)
                // Back to where the next placements are judged.
                engine.state.markets[0].markPriceUnits = 500_000
                engine.state.markets[0].lastPriceUnits = 0
            }
        }
        #expect(
            placed > 100 && cascadeAnswers > 100,
            "\(placed) conditional orders placed, \(cascadeAnswers) found from what a cascade found reached")
    }

    /// At the engine: a stop order far from the price does not trigger on a trade, one
    /// whose trigger a trade reaches does, in the same entry (unbounded rules).
    @Test func aTradeTriggersOnlyTheStopItReaches() throws {
        var engine = EngineHarness()
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        for account: AccountID in [1, 2, 3, 4] { engine.deposit(account, 10_000_000_000) }
        for (account, stop) in [(3, 400_000), (4, 499_000)] as [(AccountID, Int64)] {
            engine.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: .sell, type: .stopMarket, timeInForce: .gtc, priceUnits: 0,
                        quantityUnits: 1, stopPriceUnits: stop, workingType: .contractPrice)))
        }
        #expect(engine.state.books.conditionalBySymbol[0].count == 2)
        engine.limit(1, .buy, price: 498_000, quantity: 5)
        let events = engine.limit(2, .sell, price: 498_000, quantity: 1)
        // The trade at 498,000 reached 499,000 (a sell stop: price ≤ stop), not 400,000.
        let triggered = events.compactMap { event -> OrderID? in
            if case .conditionalOrderTriggered(let id, _) = event { return id } else { return nil }
        }
        #expect(triggered.count == 1)
        #expect(engine.state.books.conditionalBySymbol[0].map(\.order.stopPriceUnits) == [400_000])
        #expect(engine.state.invariantViolation() == nil)
    }
}
