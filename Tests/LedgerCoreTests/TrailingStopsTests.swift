import LedgerClient
import Testing

@testable import LedgerCore

/// The trailing stops' groups (`TrailingStops`) against one extreme kept per stop, as the
/// engine kept them before: over random stops that join (active, waiting for an activation
/// price, or at any extreme, as from a snapshot) and leave, prices that climb, fall and
/// turn, and random prices asked about, the index gives each stop's extreme, whether any
/// triggers, the lowest that does and which do (each once), exactly as the walk over every
/// stop does.
@Suite struct TrailingStopsTests {
    /// A stop as the walk keeps it.
    struct Stop {
        var callbackRateE8: Int64
        var activationPriceUnits: Int64
        var extremeUnits: Int64
    }

    /// The walk: every stop follows the price by itself.
    static func follow(_ stops: inout [OrderID: Stop], sells: Bool, price: Int64) {
        for id in stops.keys {
            var stop = stops[id]!
            if stop.extremeUnits == 0 {
                let activation = stop.activationPriceUnits
                if activation == 0 || (sells ? price >= activation : price <= activation) { stop.extremeUnits = price }
            } else {
                stop.extremeUnits = sells ? max(stop.extremeUnits, price) : min(stop.extremeUnits, price)
            }
            stops[id] = stop
        }
    }

    static func reached(_ stops: [OrderID: Stop], sells: Bool, price: Int64) -> Set<OrderID> {
        Set(
            stops.filter {
                TrailingStops.isReached(
                    sells: sells, extremeUnits: $0.value.extremeUnits, callbackRateE8: $0.value.callbackRateE8, priceUnits: price)
            }.keys)
    }

    @Test(arguments: [(true, 1), (false, 2), (true, 3), (false, 4)] as [(Bool, UInt64)])
    func theGroupsAgreeWithTheWalk(sells: Bool, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var index = TrailingStops(sells: sells)
        var walk: [OrderID: Stop] = [:]
        var nextID: OrderID = 1
        var price: Int64 = 100_000
        var trend: Int64 = 1
        var (reachedAnswers, noneAnswers, largestGroupCount, outOfOrderJoins, largestPooled) = (0, 0, 0, 0, 0)
        for step in 0..<12_000 {
            // Phases of up to 16 and up to 600 stops: joins while fewer wait, leaves once
            // as many do.
            let phaseSize = step / 1_500 % 2 == 0 ? 16 : 600
            let roll = Int.random(in: 0..<100, using: &random)
            if walk.isEmpty || (roll < 45 && walk.count < phaseSize) {
                let rate = Int64.random(in: Limits.callbackRateE8Min...Limits.callbackRateE8Max, using: &random)
                let kind = Int.random(in: 0..<10, using: &random)
                // Most join at the price (placed without an activation price), some wait for
                // one a little away, some come with any extreme (a snapshot's stops).
                let activation: Int64 = kind < 6 ? 0 : price + Int64.random(in: -2_000...2_000, using: &random)
                let extreme: Int64 =
                    kind < 6 ? price : kind < 8 ? 0 : max(0, Int64.random(in: price - 3_000...price + 3_000, using: &random))
                if kind >= 8, let top = index.stack.last, index.groups[Int(top)].extremeUnits != extreme { outOfOrderJoins += 1 }
                index.add(orderID: nextID, callbackRateE8: rate, activationPriceUnits: max(activation, 0), extremeUnits: extreme)
                walk[nextID] = Stop(callbackRateE8: rate, activationPriceUnits: max(activation, 0), extremeUnits: extreme)
                nextID += 1
            } else if roll < 70 {
                let id = walk.keys.sorted()[Int.random(in: 0..<walk.count, using: &random)]
                index.remove(id)
                walk[id] = nil
            } else {
                // Runs up or down of a few steps, turning one time in eight.
                if Int.random(in: 0..<8, using: &random) == 0 { trend = -trend }
                price = max(1, price + trend * Int64.random(in: 0...400, using: &random))
                index.follow(price)
                Self.follow(&walk, sells: sells, price: price)
            }
            // A price anywhere near, or (one step in two) the price itself less a little, so
            // that stops found reached stay so for a while: what the index answers is what
            // the walk finds.
            let asked =
                step % 2 == 0
                ? max(1, price + Int64.random(in: -8_000...8_000, using: &random))
                : max(1, price + (sells ? -1 : 1) * Int64.random(in: 0...3_000, using: &random))
            let expected = Self.reached(walk, sells: sells, price: asked)
            let lowest = index.lowestReached(asked)
            let any = index.lowestReached(asked) != nil
            var found: [OrderID] = []
            index.appendReached(asked, to: &found)
            largestPooled = max(largestPooled, index.pooledCount)
            if any != !expected.isEmpty || lowest != expected.min() || Set(found) != expected || found.count != expected.count {
                let says = "the index says \(any), lowest \(lowest as Any), \(found.sorted())"
                Issue.record("seed \(seed), step \(step): at \(asked) \(says); the walk \(expected.sorted())")
                return
            }
            if !expected.isEmpty { reachedAnswers += 1 } else { noneAnswers += 1 }
            for (id, stop) in walk where index.extremeUnits(of: id) != stop.extremeUnits {
                Issue.record(
                    "seed \(seed), step \(step): stop \(id) has extreme \(index.extremeUnits(of: id)), the walk \(stop.extremeUnits)")
                return
            }
            largestGroupCount = max(largestGroupCount, index.stack.count)
            if step % 100 == 99, let violation = index.violation(walk.keys.sorted()) {
                Issue.record("seed \(seed), step \(step): \(violation)")
                return
            }
        }
        // Both answers came often; stops shared groups and joined out of order.
        #expect(reachedAnswers > 1_000 && noneAnswers > 1_000, "\(reachedAnswers) reached, \(noneAnswers) none")
        #expect(largestGroupCount > 20 && outOfOrderJoins > 100, "\(largestGroupCount) groups at most, \(outOfOrderJoins) out of order")
        #expect(largestPooled > 50, "at most \(largestPooled) stops found reached at once")
    }

    /// A new high takes every sell stop below it into one group: one group however many
    /// stops follow, and the bounds' heap does not grow with the prices.
    @Test func aRiseMergesTheGroupsItPasses() {
        var index = TrailingStops(sells: true)
        for id in 1...1_000 as ClosedRange<OrderID> {
            index.add(orderID: id, callbackRateE8: 1_000_000, activationPriceUnits: 0, extremeUnits: 10_000 - Int64(id))
        }
        #expect(index.stack.count == 1_000)
        index.follow(10_000)
        #expect(index.stack.count == 1)
        #expect(index.extremeUnits(of: 1) == 10_000 && index.extremeUnits(of: 1_000) == 10_000)
        for price in 10_001...20_000 as ClosedRange<Int64> { index.follow(price) }
        #expect(index.stack.count == 1 && index.thresholds.count <= 2 * 1 + 32 + 1, "\(index.thresholds.count) bounds")
        // 1% below 20,000 is 19,800: not at 19,801, at 19,800 every stop.
        let (above, at) = (index.lowestReached(19_801) != nil, index.lowestReached(19_800) != nil)
        var reached: [OrderID] = []
        index.appendReached(19_800, to: &reached)
        #expect(!above && at && reached.sorted() == Array(1...1_000))
        #expect(index.violation(Array(1...1_000)) == nil)
    }

    /// The sweep names a stop the index lost, and one it holds in a group without stops.
    @Test func theSweepNamesWhatDisagrees() {
        var index = TrailingStops(sells: false)
        index.add(orderID: 7, callbackRateE8: 500_000, activationPriceUnits: 0, extremeUnits: 9_000)
        index.add(orderID: 8, callbackRateE8: 500_000, activationPriceUnits: 8_000, extremeUnits: 0)
        #expect(index.violation([7, 8]) == nil)
        #expect(index.violation([7, 8, 9]) == "2 trailing buy stops indexed, 3 wait")
        var lost = index
        lost.remove(8)
        #expect(lost.violation([9]) == "trailing stop 9 is not indexed")
    }

    /// The snapshot decoder takes a trailing extreme only where the engine could have left
    /// it (`ExchangeState.trailingExtremeProblem`: the invariant sweep asks the same), and
    /// refuses anything else at the extreme's offset.
    @Test func aSnapshotsTrailingExtremesAreCheckedAgainstTheirPrices() throws {
        var engine = OrderTypeTests.engine()  // mark 50,000.00, no trade yet
        engine.run(OrderTypeTests.order(1, .sell, .stopMarket, quantity: 100, stop: 4_900_000))
        engine.run(OrderTypeTests.order(1, .sell, .trailingStopMarket, quantity: 100, callback: 1_000_000))
        engine.run(OrderTypeTests.order(2, .buy, .trailingStopMarket, quantity: 100, callback: 1_000_000, activation: 4_900_000))
        let state = engine.state
        #expect(state.books.conditionalBySymbol[0].map(state.books.trailingExtremeUnits(of:)) == [0, 5_000_000, 0])
        var writer = ByteWriter()
        state.encodeCanonical(to: &writer)
        let bytes = writer.bytes
        // Each conditional order's extreme follows its placeOrder body (docs/FORMATS.md).
        let offsets = state.books.conditionalBySymbol[0].map { conditional in
            var body = ByteWriter()
            Command.placeOrder(conditional.order).encode(to: &body)
            let found = (0...(bytes.count - body.bytes.count)).filter { bytes[$0..<($0 + body.bytes.count)].elementsEqual(body.bytes) }
            #expect(found.count == 1)
            return (found.first ?? 0) + body.bytes.count
        }
        func decoded(_ index: Int, extreme: Int64) -> Result<ExchangeState, CodecError> {
            var old = ByteReader(Array(bytes[offsets[index]...]))
            _ = try? old.zigzag()
            var value = ByteWriter()
            value.zigzag(extreme)
            var reader = ByteReader(Array(bytes[..<offsets[index]]) + value.bytes + bytes[(offsets[index] + old.offset)...])
            return Result { () throws(CodecError) in
                try ExchangeState.decodeCanonical(from: &reader, sequence: state.lastSequence, timeNanos: state.lastTimeNanos)
            }
        }
        func refused(_ index: Int, extreme: Int64) -> Bool {
            guard case .failure(let error) = decoded(index, extreme: extreme) else { return false }
            return error == .outOfRange(field: "trailing extreme", offset: offsets[index])
        }
        func accepted(_ index: Int, extreme: Int64) -> Bool {
            guard case .success(let restored) = decoded(index, extreme: extreme) else { return false }
            return Array(restored.books.conditionalBySymbol[0]).map(restored.books.trailingExtremeUnits(of:))[index] == extreme
                && restored.invariantViolation() == nil
        }
        // As written: the same bytes again.
        var reader = ByteReader(bytes)
        var again = ByteWriter()
        try ExchangeState.decodeCanonical(from: &reader, sequence: state.lastSequence, timeNanos: state.lastTimeNanos)
            .encodeCanonical(to: &again)
        #expect(again.bytes == bytes)
        // A stop market has no extreme.
        #expect(refused(0, extreme: 1) && refused(0, extreme: 5_000_000))
        // The active sell: at or above the mark, within the symbol's prices.
        #expect(accepted(1, extreme: 5_000_000) && accepted(1, extreme: 5_000_010) && accepted(1, extreme: 100_000_000))
        #expect(refused(1, extreme: 4_999_990) && refused(1, extreme: 0) && refused(1, extreme: 100_000_001))
        #expect(refused(1, extreme: -5_000_000) && refused(1, extreme: Int64.max))
        // The buy waiting for 49,000.00: inactive, or active at or below its activation price.
        #expect(accepted(2, extreme: 0) && accepted(2, extreme: 4_900_000) && accepted(2, extreme: 4_800_000))
        #expect(refused(2, extreme: 4_900_010) && refused(2, extreme: 5_000_000))
    }

    /// A snapshot's trailing stops join in id order. The engine of this version keeps each
    /// side's extremes in id order (a stop that joins later saw no higher price for a sell),
    /// but one before it let a stop on the contract price keep the mark it was placed at
    /// until the symbol's first trade, so its snapshots can hold them out of order.
    /// Recovery puts them in order; the live state does at the first price that moves
    /// them; both then agree to the byte.
    @Test func aSnapshotsTrailingStopsArePutInOrderInRecovery() throws {
        var engine = OrderTypeTests.engine()
        engine.deposit(1, 100_000_000_000)
        engine.deposit(2, 100_000_000_000)
        let marks: [Int64] = [5_000_000, 5_100_000, 4_900_000, 5_200_000]
        for mark in marks {
            engine.run(.setMarkPrice(symbol: 0, priceUnits: mark))
            // A 10% callback: none of these prices reaches one placed before it.
            engine.run(OrderTypeTests.order(1, .sell, .trailingStopMarket, quantity: 1, callback: 10_000_000))
        }
        // The first trade, at 48,000: below every extreme, above every trigger.
        engine.limit(2, .sell, price: 4_800_000, quantity: 1)
        engine.limit(3, .buy, price: 4_800_000, quantity: 1)
        let contractSells = 2
        #expect(engine.state.books.triggers[0].trailing[contractSells].isSorted)
        // The extremes the older engine left: each stop's mark at placement.
        for (id, mark) in zip(engine.state.books.conditionalBySymbol[0].map(\.orderID), marks) {
            engine.state.books.setTrailingExtreme(id, to: mark)
        }
        #expect(engine.state.books.triggers[0].trailing[contractSells].count == marks.count)
        #expect(!engine.state.books.triggers[0].trailing[contractSells].isSorted)
        #expect(engine.state.invariantViolation() == nil)
        var writer = ByteWriter()
        engine.state.encodeCanonical(to: &writer)
        var reader = ByteReader(writer.bytes)
        let restored = try ExchangeState.decodeCanonical(
            from: &reader, sequence: engine.state.lastSequence, timeNanos: engine.state.lastTimeNanos)
        #expect(restored.books.triggers[0].trailing[contractSells].isSorted)
        #expect(restored.books.conditionalBySymbol[0].map(restored.books.trailingExtremeUnits(of:)) == marks)
        // A trade at 51,500 between accounts 2 and 3, in both: the stops below it follow.
        var restoredEngine = engine
        restoredEngine.state = restored
        engine.limit(2, .sell, price: 5_150_000, quantity: 1)
        engine.limit(3, .buy, price: 5_150_000, quantity: 1)
        restoredEngine.limit(2, .sell, price: 5_150_000, quantity: 1)
        restoredEngine.limit(3, .buy, price: 5_150_000, quantity: 1)
        #expect(engine.state.books.triggers[0].trailing[contractSells].isSorted)
        #expect(
            engine.state.books.conditionalBySymbol[0].map(engine.state.books.trailingExtremeUnits(of:))
                == [5_150_000, 5_150_000, 5_150_000, 5_200_000])
        var live = ByteWriter()
        engine.state.encodeCanonical(to: &live)
        var recovered = ByteWriter()
        restoredEngine.state.encodeCanonical(to: &recovered)
        #expect(live.bytes == recovered.bytes)
        #expect(engine.state.invariantViolation() == nil && restoredEngine.state.invariantViolation() == nil)
    }
}
