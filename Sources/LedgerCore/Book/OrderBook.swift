/// The limit order book of one symbol: price-time priority.
///
/// Orders live in a pool of fixed-size pages (`OrderPool`) reused through a free list, so
/// resting and removing an order allocates nothing once the pool has grown, growing never
/// copies the orders already resting, and the room held beyond the orders is at most one
/// page a book. Each side keeps its price levels in a
/// sorted array with the best price last, so taking the top of book and removing an
/// emptied best level are O(1); a level deeper in the book costs a binary search and a
/// move of the levels above it. Within a level, orders form a doubly linked FIFO.
public struct OrderBook: Sendable {
    /// The end-of-list marker for slot links.
    public static let none: Int32 = -1

    private var slots = OrderPool()
    private var freeSlots: ContiguousArray<Int32> = []
    /// Bids ascending by price, asks descending: the best level is the last in both.
    private var bidLevels: ContiguousArray<PriceLevel> = []
    private var askLevels: ContiguousArray<PriceLevel> = []
    /// The number of resting orders.
    public private(set) var orderCount: Int = 0
    /// How many of them are reduce-only (so that their upkeep costs nothing without any).
    public private(set) var reduceOnlyCount: Int = 0

    public init() {}

    /// The order in `slot` (a slot in use: found through a level or an order's location).
    @inline(__always)
    public subscript(slot: Int32) -> RestingOrder { slots[slot] }

    /// The levels of a side, best first.
    public func levels(_ side: Side) -> ReversedCollection<ContiguousArray<PriceLevel>> {
        (side == .buy ? bidLevels : askLevels).reversed()
    }

    /// The open quantity at a price on a side (0 when no order rests there). O(log levels).
    public func quantity(_ side: Side, atPrice price: Int64) -> Int64 {
        let levels = side == .buy ? bidLevels : askLevels
        let (found, position) = Self.levelIndex(levels, side: side, price: price)
        return found ? levels[position].quantityUnits : 0
    }

    /// The best price of a side, or nil when it is empty. (Inlined, and without choosing
    /// an array first: called on a book inside the state, a method that is not inlined is
    /// passed a copy of the book, which retains and releases each of its arrays.)
    @inline(__always)
    public func bestPrice(_ side: Side) -> Int64? {
        side == .buy ? bidLevels.last?.priceUnits : askLevels.last?.priceUnits
    }

    /// The oldest order at the best price of `side`.
    @inline(__always)
    public func bestSlot(_ side: Side) -> Int32? {
        side == .buy ? bidLevels.last?.headSlot : askLevels.last?.headSlot
    }

    /// The oldest order at the best price of `side`. `mutating` though it changes
    /// nothing: a method of the state reaches a book through `books.bySymbol[symbol]`, and a
    /// read through the array's getter copies the whole book, retaining and releasing its
    /// four arrays (atomically) for one order, while a mutating access works on it where it
    /// lies (issue 12; closures over an unsafe buffer were not inlined and copied it too).
    @inline(__always)
    public mutating func peekBest(_ side: Side) -> RestingOrder? {
        bestSlot(side).map { slots[$0] }
    }

    /// The order after `slot` in time priority on the same side: the next in its level,
    /// else the first of the next-best level.
    public func slotAfter(_ slot: Int32) -> Int32? {
        let order = slots[slot]
        if order.nextSlot != Self.none { return order.nextSlot }
        let levels = order.side == .buy ? bidLevels : askLevels
        let index = Self.levelIndex(levels, side: order.side, price: order.priceUnits)
        precondition(index.found, "resting order's level is missing")
        return index.position > 0 ? levels[index.position - 1].headSlot : nil
    }

    /// The orders of a side in priority order: best price first, oldest first.
    public func orders(_ side: Side) -> [RestingOrder] {
        var result: [RestingOrder] = []
        for level in levels(side) {
            var slot = level.headSlot
            while slot != Self.none {
                result.append(slots[slot])
                slot = slots[slot].nextSlot
            }
        }
        return result
    }

    /// The orders of one account on a side, in priority order. The side is walked where
    /// it lies and only that account's orders are copied out: a liquidation, a cancel-all
    /// or a reduce-only check filtered `orders(side)`, which copied every order of the
    /// side (4 MB at 10^5 resting orders) to find a few.
    ///
    /// `openQuantityUnits`, when given, is the account's whole open quantity on the side
    /// (its position's `openBuyQuantityUnits` or `openSellQuantityUnits`): the walk stops
    /// once it has found that much, and does not start when it is 0. The worst case is
    /// still the whole side: the account's last order may rest at its back.
    public func orders(_ side: Side, of accountIndex: UInt32, openQuantityUnits: Int64? = nil) -> [RestingOrder] {
        var result: [RestingOrder] = []
        var left = openQuantityUnits ?? .max
        if left <= 0 { return result }
        for level in levels(side) {
            var slot = level.headSlot
            while slot != Self.none {
                let order = slots[slot]
                if order.accountIndex == accountIndex {
                    result.append(order)
                    left -= order.openQuantityUnits
                    if left <= 0 { return result }
                }
                slot = order.nextSlot
            }
        }
        return result
    }

    /// Adds an order at the back of its price level and returns its slot.
    @discardableResult
    public mutating func insert(_ order: RestingOrder) -> Int32 {
        precondition(order.openQuantityUnits > 0 && order.priceUnits > 0)
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = order
        } else {
            slot = slots.append(order)
        }
        if order.side == .buy {
            Self.link(slot: slot, levels: &bidLevels, slots: &slots)
        } else {
            Self.link(slot: slot, levels: &askLevels, slots: &slots)
        }
        orderCount += 1
        if order.reduceOnly { reduceOnlyCount += 1 }
        return slot
    }

    /// Takes `quantityUnits` off a resting order (a fill); removes the order when nothing
    /// is left. Returns true when it was removed.
    @discardableResult
    public mutating func reduce(slot: Int32, by quantityUnits: Int64) -> Bool {
        let order = slots[slot]
        precondition(quantityUnits > 0 && quantityUnits <= order.openQuantityUnits, "fill exceeds the order")
        if quantityUnits == order.openQuantityUnits {
            remove(slot: slot)
            return true
        }
        slots[slot].openQuantityUnits -= quantityUnits
        if order.side == .buy {
            Self.adjustLevel(of: order, by: -quantityUnits, levels: &bidLevels)
        } else {
            Self.adjustLevel(of: order, by: -quantityUnits, levels: &askLevels)
        }
        return false
    }

    /// Removes a resting order from its level and frees its slot.
    public mutating func remove(slot: Int32) {
        precondition(slots[slot].openQuantityUnits > 0, "slot is not in use")
        if slots[slot].side == .buy {
            Self.unlink(slot: slot, levels: &bidLevels, slots: &slots)
        } else {
            Self.unlink(slot: slot, levels: &askLevels, slots: &slots)
        }
        slots[slot].openQuantityUnits = 0
        freeSlots.append(slot)
        orderCount -= 1
        if slots[slot].reduceOnly { reduceOnlyCount -= 1 }
    }

    private static func link(slot: Int32, levels: inout ContiguousArray<PriceLevel>, slots: inout OrderPool) {
        let order = slots[slot]
        let found = levelIndex(levels, side: order.side, price: order.priceUnits)
        if found.found {
            let tail = levels[found.position].tailSlot
            slots[slot].previousSlot = tail
            slots[slot].nextSlot = none
            slots[tail].nextSlot = slot
            levels[found.position].tailSlot = slot
            levels[found.position].quantityUnits += order.openQuantityUnits
            levels[found.position].orderCount += 1
        } else {
            slots[slot].previousSlot = none
            slots[slot].nextSlot = none
            let level = PriceLevel(
                priceUnits: order.priceUnits, quantityUnits: order.openQuantityUnits, orderCount: 1,
                headSlot: slot, tailSlot: slot)
            levels.insert(level, at: found.position)
        }
    }

    private static func unlink(slot: Int32, levels: inout ContiguousArray<PriceLevel>, slots: inout OrderPool) {
        let order = slots[slot]
        let found = levelIndex(levels, side: order.side, price: order.priceUnits)
        precondition(found.found, "resting order's level is missing")
        if order.previousSlot != none { slots[order.previousSlot].nextSlot = order.nextSlot }
        if order.nextSlot != none { slots[order.nextSlot].previousSlot = order.previousSlot }
        levels[found.position].quantityUnits -= order.openQuantityUnits
        levels[found.position].orderCount -= 1
        if levels[found.position].orderCount == 0 {
            levels.remove(at: found.position)
        } else {
            if levels[found.position].headSlot == slot { levels[found.position].headSlot = order.nextSlot }
            if levels[found.position].tailSlot == slot { levels[found.position].tailSlot = order.previousSlot }
        }
    }

    private static func adjustLevel(of order: RestingOrder, by quantityUnits: Int64, levels: inout ContiguousArray<PriceLevel>) {
        let found = levelIndex(levels, side: order.side, price: order.priceUnits)
        precondition(found.found, "resting order's level is missing")
        levels[found.position].quantityUnits += quantityUnits
    }

    /// True when the best bid is below the best ask, or a side is empty.
    @inline(__always)
    public var isUncrossed: Bool {
        guard let bid = bidLevels.last?.priceUnits, let ask = askLevels.last?.priceUnits else { return true }
        return bid < ask
    }

    /// Where a price's level is, or where it would go, in a side's sorted array.
    private static func levelIndex(_ levels: ContiguousArray<PriceLevel>, side: Side, price: Int64) -> (
        found: Bool, position: Int
    ) {
        // Bids ascend, asks descend; normalise so the search always sees ascending keys.
        let key = side == .buy ? price : -price
        // Most prices asked for are at the best level or better (matching walks from the
        // top; new orders rest near it): no search then.
        if let best = levels.last {
            if best.priceUnits == price { return (true, levels.count - 1) }
            if (side == .buy ? best.priceUnits : -best.priceUnits) < key { return (false, levels.count) }
        }
        var low = 0
        var high = levels.count
        while low < high {
            let middle = (low + high) / 2
            let middleKey = side == .buy ? levels[middle].priceUnits : -levels[middle].priceUnits
            if middleKey < key { low = middle + 1 } else { high = middle }
        }
        return (low < levels.count && levels[low].priceUnits == price, low)
    }

}

/// The slots of one book's orders, in pages of `pageSize` allocated as the book grows: a
/// slot's page and place are its high and low bits. A flat array would double (and copy
/// every order, milliseconds at a million) as it grew and keep up to half its room empty.
struct OrderPool: Sendable {
    static let pageShift = 10
    /// Orders a page holds: 1,024 (48 KiB).
    static let pageSize = 1 << pageShift
    private var pages: ContiguousArray<ContiguousArray<RestingOrder>> = []
    /// Slots handed out, in use or free.
    private(set) var count = 0

    @inline(__always)
    subscript(slot: Int32) -> RestingOrder {
        get { pages[Int(slot) >> Self.pageShift][Int(slot) & (Self.pageSize - 1)] }
        _modify { yield &pages[Int(slot) >> Self.pageShift][Int(slot) & (Self.pageSize - 1)] }
    }

    /// Adds a slot holding `order` and returns it.
    mutating func append(_ order: RestingOrder) -> Int32 {
        precondition(count < Int(Int32.max), "order pool is full")
        if count & (Self.pageSize - 1) == 0 {
            var page = ContiguousArray<RestingOrder>()
            page.reserveCapacity(Self.pageSize)
            pages.append(page)
        }
        pages[pages.count - 1].append(order)
        count += 1
        return Int32(count - 1)
    }
}
