/// One symbol's waiting stop and take-profit orders by trigger price: what lets a trade or
/// a mark price ask "has any conditional order's trigger been reached?" without walking
/// every order that waits (derived from `BookRoom.conditionalBySymbol`, not encoded).
///
/// A trade or a new mark price looked at each of the symbol's conditional orders twice (the
/// trigger check and the trailing stops' upkeep): with 10^5 stop orders waiting, 0.88 ms a
/// trade (docs/BENCHMARKS.md, "Stop orders at the size of a venue"). Here a stop or
/// take-profit order is an entry in one of four heaps, by the price it watches (mark or
/// contract) and the way the price must move to reach it:
///
/// - `rises`: reached when the price is at or above the trigger (a buy stop, a sell
///   take-profit); a min-heap of the trigger, so the lowest is on top.
/// - `falls`: reached when the price is at or below it (a sell stop, a buy take-profit);
///   a min-heap of the negated trigger, so the highest is on top.
///
/// Some order's trigger is reached exactly when the top of one of the four is. Which order
/// goes first (the lowest id among those reached) is still found by the walk, which now
/// runs only when an order does trigger. Trailing stops move their trigger with the price:
/// they are kept apart in `trailing` (`TrailingStops`: grouped by extreme, per working
/// price and side).
///
/// Which order goes first among those reached is the lowest id. An entry whose trigger is
/// found reached leaves its heap for `reached`, a heap by order id, and stays there while
/// the price does not move back past it: a cascade that reaches k orders and triggers them
/// one at a time moves each entry once, even when every trigger's trades move the price
/// (listing what was reached again at each new price cost O(k) a trigger, O(k^2) in all:
/// docs/BENCHMARKS.md, "A cascade on the contract price"). A move back puts what it
/// un-reaches back in its heap; `reachedKeyMax` says when one may.
///
/// Entries leave lazily: a cancelled or triggered order's entry stays until it comes to
/// the top reached (an order id is never reused, so an entry whose id no longer waits is
/// stale), and a heap whose stale entries (in it and in `reached`) outnumber its live ones
/// is rebuilt from the live ones, so it holds at most about twice the orders that wait.
/// `BookRoom` does both, as it knows which ids wait.
struct TriggerIndex: Sendable {
    struct Entry: HeapOrdered {
        /// The trigger price, negated in a `falls` heap.
        var key: Int64
        var orderID: OrderID
        /// The lowest key first (ties by id, so that the order is total).
        @inline(__always)
        func precedes(_ other: Entry) -> Bool { (key, orderID) < (other.key, other.orderID) }
    }

    /// An entry of `heaps[heap]` taken out because its trigger was reached, in `reached`.
    struct ReachedEntry: HeapOrdered {
        var orderID: OrderID
        var key: Int64
        var heap: Int
        @inline(__always)
        func precedes(_ other: ReachedEntry) -> Bool { orderID < other.orderID }
    }

    /// [mark rises, mark falls, contract rises, contract falls].
    private(set) var heaps = [BinaryHeap<Entry>(), BinaryHeap<Entry>(), BinaryHeap<Entry>(), BinaryHeap<Entry>()]
    /// Orders that still wait, per heap (their entries in the heap or in `reached`).
    private(set) var live = [0, 0, 0, 0]
    /// Entries found reached at the prices last asked about, lowest order id first (some
    /// stale: their orders left since).
    private(set) var reached = BinaryHeap<ReachedEntry>()
    /// Per heap: its entries in `reached`, and at least the highest key among them (the
    /// first a move of the price back un-reaches).
    private(set) var reachedCounts = [0, 0, 0, 0]
    private(set) var reachedKeyMax: [Int64] = [.min, .min, .min, .min]
    /// The trailing stops waiting in the symbol, by working price and side: [mark sells,
    /// mark buys, contract sells, contract buys] (`trailingSide(of:)`).
    var trailing = [
        TrailingStops(sells: true), TrailingStops(sells: false), TrailingStops(sells: true), TrailingStops(sells: false),
    ]

    /// Which heap an order's trigger goes in, or nil for a trailing stop.
    @inline(__always)
    static func heap(of order: PlaceOrder) -> Int? {
        let rises: Bool
        switch order.type {
        case .stopMarket, .stopLimit: rises = order.side == .buy
        case .takeProfitMarket, .takeProfitLimit: rises = order.side == .sell
        case .trailingStopMarket, .limit, .market: return nil
        }
        return (order.workingType == .markPrice ? 0 : 2) + (rises ? 0 : 1)
    }

    /// Which of `trailing` a trailing stop is in.
    @inline(__always)
    static func trailingSide(of order: PlaceOrder) -> Int {
        firstTrailingSide(order.workingType) + (order.side == .sell ? 0 : 1)
    }

    /// The first of the two sides of `trailing` that watch `type` (sells, then buys).
    @inline(__always)
    static func firstTrailingSide(_ type: WorkingType) -> Int { type == .markPrice ? 0 : 2 }

    /// An order starts to wait.
    mutating func add(_ conditional: ConditionalOrder) {
        guard let heap = Self.heap(of: conditional.order) else {
            let order = conditional.order
            trailing[Self.trailingSide(of: order)].add(
                orderID: conditional.orderID, callbackRateE8: order.callbackRateE8, activationPriceUnits: order.activationPriceUnits,
                extremeUnits: conditional.joinedTrailingExtremeUnits)
            return
        }
        let price = conditional.order.stopPriceUnits
        heaps[heap].insert(Entry(key: heap % 2 == 0 ? price : -price, orderID: conditional.orderID))
        live[heap] += 1
    }

    /// An order no longer waits (cancelled or triggered; its id has left the waiting
    /// orders). Returns its heap when more than half of that heap is stale: the caller
    /// rebuilds it from the entries that still wait (`rebuild`).
    mutating func noteRemoved(_ conditional: ConditionalOrder) -> Int? {
        guard let heap = Self.heap(of: conditional.order) else {
            trailing[Self.trailingSide(of: conditional.order)].remove(conditional.orderID)
            return nil
        }
        live[heap] -= 1
        return heaps[heap].count + reachedCounts[heap] > 2 * live[heap] + 32 ? heap : nil
    }

    /// A heap's entries, with those of it in `reached` (for `rebuild`).
    func entries(_ heap: Int) -> [Entry] {
        Array(heaps[heap].elements) + reached.elements.lazy.filter { $0.heap == heap }.map { Entry(key: $0.key, orderID: $0.orderID) }
    }

    /// Replaces a heap's entries, and its entries in `reached`, with `kept` (those of
    /// `entries(heap)` that still wait).
    mutating func rebuild(_ heap: Int, keeping kept: [Entry]) {
        precondition(kept.count == live[heap], "trigger heap \(heap) rebuilt with \(kept.count) entries, \(live[heap]) wait")
        if reachedCounts[heap] > 0 {
            reached.removeAll { $0.heap == heap }
            reachedCounts[heap] = 0
            reachedKeyMax[heap] = .min
        }
        heaps[heap] = BinaryHeap(unordered: kept)
    }

    /// The first way the index disagrees with the symbol's list of waiting orders, or nil.
    func violation(_ list: ConditionalList, isWaiting: (OrderID) -> Bool) -> String? {
        var expected = [0, 0, 0, 0]
        var waitingTrailing: [[OrderID]] = [[], [], [], []]
        for conditional in list {
            if let heap = Self.heap(of: conditional.order) {
                expected[heap] += 1
            } else {
                waitingTrailing[Self.trailingSide(of: conditional.order)].append(conditional.orderID)
            }
        }
        let indexedTrailing = trailing.reduce(0) { $0 + $1.count }
        let listedTrailing = waitingTrailing.reduce(0) { $0 + $1.count }
        if expected != live || indexedTrailing != listedTrailing {
            return "trigger index counts \(live) and \(indexedTrailing) trailing, the list \(expected) and \(listedTrailing)"
        }
        for side in 0..<4 {
            if let violation = trailing[side].violation(waitingTrailing[side]) {
                return "\(side < 2 ? "mark" : "contract") price: \(violation)"
            }
        }
        for heap in 0..<4 where entries(heap).filter({ isWaiting($0.orderID) }).count != live[heap] {
            return "trigger heap \(heap) holds other orders than the \(live[heap]) that wait"
        }
        if !reached.isHeap { return "reached triggers out of order" }
        for heap in 0..<4 {
            let held = reached.elements.filter { $0.heap == heap }
            if held.count != reachedCounts[heap] || held.contains(where: { $0.key > reachedKeyMax[heap] }) {
                return
                    "reached triggers of heap \(heap): \(held.count) held, counted \(reachedCounts[heap]) up to key \(reachedKeyMax[heap])"
            }
        }
        return nil
    }

    /// A heap's working price as its keys compare: an entry is reached when its key is at
    /// or below it.
    @inline(__always)
    private static func score(_ heap: Int, markPriceUnits: Int64, contractPriceUnits: Int64) -> Int64 {
        let price = heap < 2 ? markPriceUnits : contractPriceUnits
        return heap % 2 == 0 ? price : -price
    }

    /// The lowest id among the waiting orders (in `locations`) whose trigger is reached at
    /// these prices, or nil. Entries of `reached` that these prices no longer reach go back
    /// to their heaps (only after a move back); entries reached at the tops of the heaps
    /// move to `reached`; stale entries met on the way are dropped. In the common case
    /// nothing is reached and this reads the four tops.
    @inline(__always)
    mutating func lowestReached(
        markPriceUnits: Int64, contractPriceUnits: Int64, waiting locations: borrowing IDTable<SymbolID>
    ) -> OrderID? {
        if !reached.isEmpty {
            for heap in 0..<4
            where reachedCounts[heap] > 0
                && reachedKeyMax[heap] > Self.score(heap, markPriceUnits: markPriceUnits, contractPriceUnits: contractPriceUnits)
            {
                putBackUnreached(markPriceUnits: markPriceUnits, contractPriceUnits: contractPriceUnits, waiting: locations)
                break
            }
        }
        for heap in 0..<4 {
            let score = Self.score(heap, markPriceUnits: markPriceUnits, contractPriceUnits: contractPriceUnits)
            while let top = heaps[heap].first, top.key <= score {
                _ = heaps[heap].popFirst()
                guard locations[top.orderID] != nil else { continue }
                reached.insert(ReachedEntry(orderID: top.orderID, key: top.key, heap: heap))
                reachedCounts[heap] += 1
                reachedKeyMax[heap] = max(reachedKeyMax[heap], top.key)
            }
        }
        while let first = reached.first {
            if locations[first.orderID] != nil { return first.orderID }
            _ = reached.popFirst()
            reachedCounts[first.heap] -= 1
        }
        return nil
    }

    /// After a move back: the entries of `reached` these prices do not reach go back to
    /// their heaps, and stale ones go. O(entries in `reached`).
    private mutating func putBackUnreached(
        markPriceUnits: Int64, contractPriceUnits: Int64, waiting locations: borrowing IDTable<SymbolID>
    ) {
        // Taken out whole and put back: filtered in place, with no copy and no allocation.
        var pool = reached
        reached = BinaryHeap()
        for heap in 0..<4 {
            reachedCounts[heap] = 0
            reachedKeyMax[heap] = .min
        }
        pool.removeAll { entry in
            if locations[entry.orderID] == nil { return true }
            if entry.key > Self.score(entry.heap, markPriceUnits: markPriceUnits, contractPriceUnits: contractPriceUnits) {
                heaps[entry.heap].insert(Entry(key: entry.key, orderID: entry.orderID))
                return true
            }
            reachedCounts[entry.heap] += 1
            reachedKeyMax[entry.heap] = max(reachedKeyMax[entry.heap], entry.key)
            return false
        }
        reached = pool
    }
}
