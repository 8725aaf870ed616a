/// The limit order book of one symbol: price-time priority.
///
/// Orders live in a pool of fixed-size pages (`OrderPool`) reused through a free list, so
/// resting and removing an order allocates nothing once the pool has grown, growing never
/// copies the orders already resting, and the room held beyond the orders is at most one
/// page a book. Each side keeps its price levels in a
/// sorted array with the best price last, so taking the top of book and removing an
/// emptied best level are O(1); a level deeper in the book costs a binary search and a
/// move of the levels above it. Within a level, orders form a doubly linked FIFO.
///
/// Each account's orders on a side are also linked, in the order they joined their levels:
/// a cancel-all, a liquidation or the reduce-only upkeep reads the account's own orders
/// instead of walking the side, which at 10^5 resting orders cost a millisecond for an
/// order at the back. The book keeps the links; the slot of each account's last order on
/// a side is kept by its caller (the account's position slot, `PositionTable.Slot
/// .lastBidSlot`), passed in when an order rests and answered when an order leaves.
public struct OrderBook: Sendable {
    /// The end-of-list marker for slot links.
    public static let none: Int32 = -1
    /// What a removal answers for the account's last order on the side when it stays.
    public static let unchanged: Int32 = -2

    private var slots = OrderPool()
    /// The last slot freed, `none` when no slot is free: the free slots form a stack linked
    /// through their `nextSlot`, inside the pool, so that taking or freeing one writes the
    /// pages the step has already made its own instead of an array of its own (a
    /// uniqueness check and a call each; issue 12, sixteenth steps). Last freed, first
    /// reused, as the array before it.
    private var freeSlot: Int32 = Self.none
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
    /// else the first of the next-best level. Inlined: called on a book read out of the
    /// books' array (`planFills`), a call was passed a copy of the whole book, 152 bytes
    /// moved by `memcpy` for every maker an order met (issue 12, sixteenth steps).
    @inline(__always)
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

    /// The orders of one account on a side, given the slot of its last there (`none`
    /// without one), in priority order: best price first, then the level's own order
    /// (`appendOrders`).
    public func orders(_ side: Side, endingAt last: Int32) -> [RestingOrder] {
        var list = ScratchList<RestingOrder>()
        appendOrders(side, endingAt: last, to: &list)
        return Array(list)
    }

    /// Appends the orders of the account whose last order on `side` is in slot `last`
    /// (`none`: it has none) to `list`, in priority order: best price first, then the
    /// level's own order. Read from the account's links (as many steps as it has orders),
    /// not from a walk of the side: the links keep the order in which the orders joined
    /// their levels, which within one level is the level's order, so a sort by price that
    /// keeps ties in link order gives book priority. Into a list the caller keeps, so that
    /// a liquidation's cancels make no array.
    func appendOrders(_ side: Side, endingAt last: Int32, to list: inout ScratchList<RestingOrder>) {
        let start = list.count
        var slot = last
        while slot != Self.none {
            let order = slots[slot]
            precondition(order.side == side && order.openQuantityUnits > 0, "slot \(slot) is not an order on the \(side) side")
            list.append(order)
            slot = order.accountPreviousSlot
        }
        // Walked from the last: back into link order, then best price first (a higher
        // bid, a lower ask), ties kept in link order.
        list.reverse(from: start)
        if side == .buy {
            list.sortStably(from: start) { -$0.priceUnits }
        } else {
            list.sortStably(from: start) { $0.priceUnits }
        }
    }

    /// Takes the order in `slot` out of its account's links; returns the account's last
    /// order on the side when it changes (the one before, `none` when it was the only one),
    /// else `unchanged`.
    @inline(__always)
    private mutating func unlinkAccount(slot: Int32, _ order: RestingOrder) -> Int32 {
        let previous = order.accountPreviousSlot
        let next = order.accountNextSlot
        // (`remove` made the pages its own.)
        if previous != Self.none { slots.place(previous).pointee.accountNextSlot = next }
        if next != Self.none {
            slots.place(next).pointee.accountPreviousSlot = previous
            return Self.unchanged
        }
        return previous
    }

    /// Adds an order at the back of its price level and returns its slot, which is then
    /// the account's last order on the side. `accountLast` is the slot of the account's
    /// last order on that side until now (`none` without one), which the order is linked
    /// after.
    @discardableResult
    public mutating func insert(_ order: RestingOrder, accountLast last: Int32) -> Int32 {
        precondition(order.openQuantityUnits > 0 && order.priceUnits > 0)
        precondition(
            last == Self.none
                || (slots[last].openQuantityUnits > 0 && slots[last].accountNextSlot == Self.none
                    && slots[last].accountIndex == order.accountIndex && slots[last].side == order.side),
            "slot \(last) is not the last order of account \(order.accountIndex) on the \(order.side) side")
        let free: Int32? = freeSlot == Self.none ? nil : freeSlot
        let slot = free ?? Int32(slots.count)
        if let free { freeSlot = slots[free].nextSlot }
        // The order's own links are set before it is stored (each write into the pool is
        // a uniqueness check of the pages and of the page); its neighbours' after.
        var placed = order
        placed.accountPreviousSlot = last
        placed.accountNextSlot = Self.none
        if order.side == .buy {
            Self.link(&placed, slot: slot, isFree: free != nil, levels: &bidLevels, slots: &slots)
        } else {
            Self.link(&placed, slot: slot, isFree: free != nil, levels: &askLevels, slots: &slots)
        }
        // (`link` made the pages the book's own.)
        if last != Self.none { slots.place(last).pointee.accountNextSlot = slot }
        orderCount += 1
        if order.reduceOnly { reduceOnlyCount += 1 }
        return slot
    }

    /// Takes `quantityUnits` off a resting order (a fill); removes the order when nothing
    /// is left. Returns whether it was removed, and then what `remove` answers for its
    /// account's last order on the side (else `unchanged`).
    @discardableResult
    public mutating func reduce(slot: Int32, by quantityUnits: Int64) -> (removed: Bool, accountLast: Int32) {
        let order = slots[slot]
        precondition(quantityUnits > 0 && quantityUnits <= order.openQuantityUnits, "fill exceeds the order")
        if quantityUnits == order.openQuantityUnits {
            return (true, remove(slot: slot))
        }
        slots[slot].openQuantityUnits -= quantityUnits
        if order.side == .buy {
            Self.adjustLevel(of: order, by: -quantityUnits, levels: &bidLevels)
        } else {
            Self.adjustLevel(of: order, by: -quantityUnits, levels: &askLevels)
        }
        return (false, Self.unchanged)
    }

    /// Removes a resting order from its level and frees its slot. Returns the account's
    /// last order on the side when that changes (the one before it, `none` when it was
    /// the only one), else `unchanged`.
    @discardableResult
    public mutating func remove(slot: Int32) -> Int32 {
        precondition(slots[slot].openQuantityUnits > 0, "slot is not in use")
        let order = slots[slot]
        // One check that the pages are the book's own for the five writes below.
        slots.makeUnique()
        if order.side == .buy {
            Self.unlink(slot: slot, levels: &bidLevels, slots: &slots)
        } else {
            Self.unlink(slot: slot, levels: &askLevels, slots: &slots)
        }
        let last = unlinkAccount(slot: slot, order)
        slots.place(slot).pointee.openQuantityUnits = 0
        slots.place(slot).pointee.nextSlot = freeSlot
        freeSlot = slot
        orderCount -= 1
        if order.reduceOnly { reduceOnlyCount -= 1 }
        return last
    }

    /// Stores `order` in `slot` (a free one, or the next the pool hands out) at the back of
    /// its level.
    @inline(__always)
    private static func link(
        _ order: inout RestingOrder, slot: Int32, isFree: Bool, levels: inout ContiguousArray<PriceLevel>, slots: inout OrderPool
    ) {
        let found = levelIndex(levels, side: order.side, price: order.priceUnits)
        order.previousSlot = found.found ? levels[found.position].tailSlot : none
        order.nextSlot = none
        if isFree {
            slots.makeUnique()
            slots.place(slot).pointee = order
        } else {
            let appended = slots.append(order)
            precondition(appended == slot, "the pool handed out slot \(appended), not \(slot)")
        }
        if found.found {
            // (Made the book's own above, by `makeUnique` or `append`.)
            slots.place(order.previousSlot).pointee.nextSlot = slot
            var level = levels[found.position]
            level.tailSlot = slot
            level.quantityUnits += order.openQuantityUnits
            level.orderCount += 1
            levels[found.position] = level
        } else {
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
        // (`remove` made the pages its own.)
        if order.previousSlot != none { slots.place(order.previousSlot).pointee.nextSlot = order.nextSlot }
        if order.nextSlot != none { slots.place(order.nextSlot).pointee.previousSlot = order.previousSlot }
        var level = levels[found.position]
        if level.orderCount == 1 {
            levels.remove(at: found.position)
        } else {
            level.quantityUnits -= order.openQuantityUnits
            level.orderCount -= 1
            if level.headSlot == slot { level.headSlot = order.nextSlot }
            if level.tailSlot == slot { level.tailSlot = order.previousSlot }
            levels[found.position] = level
        }
    }

    private static func adjustLevel(of order: RestingOrder, by quantityUnits: Int64, levels: inout ContiguousArray<PriceLevel>) {
        let found = levelIndex(levels, side: order.side, price: order.priceUnits)
        precondition(found.found, "resting order's level is missing")
        levels[found.position].quantityUnits += quantityUnits
    }

    /// The first way the account links disagree with the levels, or nil: each order is
    /// linked among its account's orders on its side, the last of each is the one
    /// `lastOf(account, side)` names, `lastsNamed` lasts are named in all (so no name is
    /// left over), and an account's orders at one price are linked in their level's
    /// order. O(orders), for the sweep.
    func accountLinksViolation(lastOf: (UInt32, Side) -> Int32, lastsNamed: Int) -> String? {
        var place: [Int32: Int] = [:]
        var lasts: [Int32] = []
        for side in Side.allCases {
            for level in levels(side) {
                var slot = level.headSlot
                while slot != Self.none {
                    place[slot] = place.count
                    slot = slots[slot].nextSlot
                }
            }
            for level in levels(side) {
                var slot = level.headSlot
                while slot != Self.none {
                    let order = slots[slot]
                    // Each neighbour rests on this side, is the account's, and links back (the
                    // one after links back through its previous, the one before through its next).
                    func linksBack(_ neighbour: Int32, isAfter: Bool) -> Bool {
                        if neighbour == Self.none { return true }
                        guard place[neighbour] != nil else { return false }
                        let other = slots[neighbour]
                        return (isAfter ? other.accountPreviousSlot : other.accountNextSlot) == slot
                            && other.accountIndex == order.accountIndex && other.side == side
                    }
                    guard linksBack(order.accountPreviousSlot, isAfter: false), linksBack(order.accountNextSlot, isAfter: true) else {
                        return "resting order \(order.orderID)'s account links are broken"
                    }
                    if order.accountNextSlot == Self.none {
                        let named = lastOf(order.accountIndex, side)
                        guard named == slot else {
                            return "resting order \(order.orderID) ends account \(order.accountIndex)'s orders on the \(side) side, "
                                + "whose last is named as slot \(named)"
                        }
                        lasts.append(slot)
                    }
                    slot = order.nextSlot
                }
            }
        }
        if lasts.count != lastsNamed { return "\(lastsNamed) accounts' last orders named, \(lasts.count) accounts' orders resting" }
        var linked = 0
        for last in lasts {
            var seen: [Int64: Int] = [:]
            var slot = last
            while slot != Self.none && linked <= orderCount {
                let order = slots[slot]
                // Walked backwards: each order at a price comes before the one seen after it.
                if let after = seen[order.priceUnits], after < place[slot]! {
                    return "resting order \(order.orderID) is linked out of its level's order"
                }
                seen[order.priceUnits] = place[slot]!
                linked += 1
                slot = order.accountPreviousSlot
            }
        }
        if linked != orderCount { return "\(linked) orders in account links, \(orderCount) resting" }
        return nil
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
        // Bids ascend, asks descend. A price's key, its bits flipped on the ask side
        // (−price − 1 there), ascends on both sides: one loop without a branch on the side,
        // where a side chosen at random mispredicts, and without multiplying by the side's
        // sign, three cycles on the dependent path of every step (issue 12, eighteenth
        // steps). Prices are positive and at most `Limits`' price maximum, so keys'
        // differences do not overflow.
        let flip: Int64 = side == .buy ? 0 : -1
        let key = price ^ flip
        return levels.withUnsafeBufferPointer { levels in
            let count = levels.count
            guard count > 0 else { return (false, 0) }
            // Most prices asked for are at the best level or better (matching walks from
            // the top; new orders rest near it): no search then.
            let best = levels[count - 1].priceUnits
            if best == price { return (true, count - 1) }
            if best ^ flip < key { return (false, count) }
            // The first level whose key is not below `key`, by halving a window whose
            // choice is arithmetic rather than a branch (a search through levels at random
            // depths mispredicts about half of its branches): as many steps as the count
            // has bits, each the same few instructions. The choice is the sign of the
            // keys' difference (−1 below, else 0): written as a conditional, the compiler
            // made it a branch (seventeenth steps).
            var base = 0
            var length = count
            while length > 1 {
                let half = length &>> 1
                base &+= half & Int(((levels[base &+ half].priceUnits ^ flip) &- key) &>> 63)
                length &-= half
            }
            base &+= Int((((levels[base].priceUnits ^ flip) &- key) &>> 63) & 1)
            return (base < count && levels[base].priceUnits == price, base)
        }
    }

}

/// The slots of one book's orders, in pages of `pageSize` allocated as the book grows: a
/// slot's page and place are its high and low bits. A flat array would double (and copy
/// every order, milliseconds at a million) as it grew and keep up to half its room empty.
///
/// The pages are memory of its own (`Pages`), shared by copies of the pool until one of
/// them writes: each write checks once that the pages are its own (copying them all
/// first if not, as a copied book's first change did to the page it touched). Pages held
/// as an array of arrays checked both arrays on every write, and ended each with a call:
/// with the book's other arrays, 7 checks an order rested and 10 a removal on the contest
/// feed; 3 each now (issue 12, fifteenth steps).
struct OrderPool: Sendable {
    static let pageShift = 10
    /// Orders a page holds: 1,024 (48 KiB).
    static let pageSize = 1 << pageShift
    private var pages = Pages()
    /// Slots handed out, in use or free.
    private(set) var count = 0

    /// The page table and the pages. Slots below the pool's `count` are initialized;
    /// `RestingOrder` holds no reference, so nothing is deinitialized.
    final class Pages: @unchecked Sendable {
        // Read and written only through a pool that holds the only reference to write
        // (`makeUnique`); a pool is a value, touched by one thread at a time.
        @exclusivity(unchecked) var table: UnsafeMutablePointer<UnsafeMutablePointer<RestingOrder>>?
        @exclusivity(unchecked) var pageCount = 0
        @exclusivity(unchecked) var tableCapacity = 0

        init() {}

        /// Another set of pages holding the first `count` slots of these.
        func copy(count: Int) -> Pages {
            let other = Pages()
            for page in 0..<pageCount {
                let fresh = other.addPage()
                let used = min(OrderPool.pageSize, count - page * OrderPool.pageSize)
                if used > 0 { fresh.initialize(from: table![page], count: used) }
            }
            return other
        }

        /// Allocates a page at the end of the table and returns it.
        func addPage() -> UnsafeMutablePointer<RestingOrder> {
            if pageCount == tableCapacity {
                // The table holds pointers only: 8 bytes a page, copied as it doubles.
                let capacity = max(8, 2 * tableCapacity)
                let grown = UnsafeMutablePointer<UnsafeMutablePointer<RestingOrder>>.allocate(capacity: capacity)
                if let table {
                    grown.moveInitialize(from: table, count: pageCount)
                    table.deallocate()
                }
                table = grown
                tableCapacity = capacity
            }
            let page = UnsafeMutablePointer<RestingOrder>.allocate(capacity: OrderPool.pageSize)
            (table! + pageCount).initialize(to: page)
            pageCount += 1
            return page
        }

        deinit {
            guard let table else { return }
            for page in 0..<pageCount { table[page].deallocate() }
            table.deinitialize(count: pageCount)
            table.deallocate()
        }
    }

    /// Makes the pages this pool's own before a write. The book's own steps call it once
    /// and then write through `place(_:)` within the same mutating access, in which no
    /// copy of the pool can be taken.
    @inline(__always)
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&pages) { pages = pages.copy(count: count) }
    }

    /// Where `slot` lies (a slot the pool handed out): to read, or to write after
    /// `makeUnique()` in the same mutating access.
    @inline(__always)
    func place(_ slot: Int32) -> UnsafeMutablePointer<RestingOrder> {
        precondition(slot >= 0 && Int(slot) < count, "slot \(slot) was never handed out")
        return pages.table.unsafelyUnwrapped[Int(slot) >> Self.pageShift] + (Int(slot) & (Self.pageSize - 1))
    }

    @inline(__always)
    subscript(slot: Int32) -> RestingOrder {
        get { place(slot).pointee }
        _modify {
            makeUnique()
            yield &place(slot).pointee
        }
    }

    /// Adds a slot holding `order` and returns it.
    mutating func append(_ order: RestingOrder) -> Int32 {
        precondition(count < Int(Int32.max), "order pool is full")
        makeUnique()
        let place = count & (Self.pageSize - 1)
        let page = place == 0 ? pages.addPage() : pages.table.unsafelyUnwrapped[count >> Self.pageShift]
        (page + place).initialize(to: order)
        count += 1
        return Int32(count - 1)
    }
}
