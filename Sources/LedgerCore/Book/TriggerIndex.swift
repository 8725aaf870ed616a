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
/// Entries leave lazily: a cancelled or triggered order's entry stays until it comes to
/// the top reached (an order id is never reused, so an entry whose id no longer waits is
/// stale), and a heap whose stale entries outnumber its live ones is rebuilt from the live
/// ones, so it holds at most about twice the orders that wait. `BookRoom` does both, as
/// it knows which ids wait.
struct TriggerIndex: Sendable {
    struct Entry: Sendable, Equatable {
        /// The trigger price, negated in a `falls` heap.
        var key: Int64
        var orderID: OrderID
    }

    /// [mark rises, mark falls, contract rises, contract falls].
    private(set) var heaps: [[Entry]] = [[], [], [], []]
    /// Entries of orders that still wait, per heap.
    private(set) var live = [0, 0, 0, 0]
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
        push(Entry(key: heap % 2 == 0 ? price : -price, orderID: conditional.orderID), into: heap)
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
        return heaps[heap].count > 2 * live[heap] + 32 ? heap : nil
    }

    /// Replaces a heap's entries with `kept` (those that still wait).
    mutating func rebuild(_ heap: Int, keeping kept: [Entry]) {
        precondition(kept.count == live[heap], "trigger heap \(heap) rebuilt with \(kept.count) entries, \(live[heap]) wait")
        heaps[heap] = []
        heaps[heap].reserveCapacity(kept.count)
        for entry in kept { push(entry, into: heap) }
    }

    /// The first heap (in index order) whose top entry is reached at these prices, with
    /// that entry's order: either the order waits and its trigger is reached, or the entry
    /// is stale (the caller pops it and asks again). When no top is reached, no entry is:
    /// each top is its heap's lowest key.
    @inline(__always)
    func reachedTop(markPriceUnits: Int64, contractPriceUnits: Int64) -> (heap: Int, orderID: OrderID)? {
        for heap in 0..<4 {
            guard let top = heaps[heap].first else { continue }
            let price = heap < 2 ? markPriceUnits : contractPriceUnits
            if heap % 2 == 0 ? price >= top.key : price <= -top.key { return (heap, top.orderID) }
        }
        return nil
    }

    /// Appends the ids of the entries reached at these prices that still wait (in
    /// `locations`: stale entries left out), in no order: a walk down each heap that stops
    /// at the first key not reached on each branch (`walkHeap`), so it costs the entries
    /// reached, not the entries held. The locations are borrowed (a closure over them
    /// copied the whole books room). For `BookRoom.lowestConditionalReached`.
    func appendReached(
        markPriceUnits: Int64, contractPriceUnits: Int64, waiting locations: borrowing IDTable<SymbolID>, to ids: inout [OrderID]
    ) {
        for heap in 0..<4 where !heaps[heap].isEmpty {
            let price = heap < 2 ? markPriceUnits : contractPriceUnits
            let rises = heap % 2 == 0
            heaps[heap].withUnsafeBufferPointer { entries in
                walkHeap(entries, reaches: { rises ? price >= $0.key : price <= -$0.key }) { entry in
                    if locations[entry.orderID] != nil { ids.append(entry.orderID) }
                }
            }
        }
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
        for heap in 0..<4 where heaps[heap].filter({ isWaiting($0.orderID) }).count != live[heap] {
            return "trigger heap \(heap) holds other orders than the \(live[heap]) that wait"
        }
        return nil
    }

    private mutating func push(_ entry: Entry, into heap: Int) {
        heaps[heap].append(entry)
        var child = heaps[heap].count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heaps[heap][parent].key <= heaps[heap][child].key { break }
            heaps[heap].swapAt(parent, child)
            child = parent
        }
    }

    /// Drops the top entry of `heap` (a stale one).
    mutating func pop(_ heap: Int) {
        let last = heaps[heap].removeLast()
        if heaps[heap].isEmpty { return }
        heaps[heap][0] = last
        var parent = 0
        let count = heaps[heap].count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            let right = left + 1
            let smaller = right < count && heaps[heap][right].key < heaps[heap][left].key ? right : left
            if heaps[heap][parent].key <= heaps[heap][smaller].key { break }
            heaps[heap].swapAt(parent, smaller)
            parent = smaller
        }
    }
}
