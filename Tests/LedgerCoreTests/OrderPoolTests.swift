import Testing

@testable import LedgerCore

/// The book's order pool keeps its pages in memory of its own, shared by copies until one
/// writes (issue 12, fifteenth steps): a copy of a book (inside a state kept to compare
/// with) must not see the other's changes, whichever page they touch and wherever the
/// last page ends.
@Suite struct OrderPoolTests {
    static func order(_ id: OrderID, _ side: Side, price: Int64, quantity: Int64) -> RestingOrder {
        RestingOrder(
            orderID: id, accountIndex: UInt32(id % 7), side: side, priceUnits: price, openQuantityUnits: quantity,
            hasClientOrderID: false)
    }

    /// A book of `count` orders over a few levels each side, slots 0 ..< count.
    static func book(_ count: Int) -> (LinkedBook, [Int32]) {
        var book = LinkedBook()
        var slots: [Int32] = []
        for index in 0..<count {
            let side: Side = index % 2 == 0 ? .buy : .sell
            let price: Int64 = side == .buy ? 100 - Int64(index % 5) : 200 + Int64(index % 5)
            slots.append(book.insert(order(OrderID(index + 1), side, price: price, quantity: 10 + Int64(index % 13))))
        }
        return (book, slots)
    }

    static func contents(_ book: LinkedBook) -> [RestingOrder] { book.book.orders(.buy) + book.book.orders(.sell) }

    /// Removes, reduces and rests orders: frees slots, reuses them, and hands out new ones
    /// (a new page when the last is full).
    static func change(_ book: inout LinkedBook, _ slots: [Int32], firstID: OrderID) {
        for (position, slot) in slots.enumerated() where position % 3 == 0 { book.remove(slot: slot) }
        for (position, slot) in slots.enumerated() where position % 3 == 1 { book.reduce(slot: slot, by: 1) }
        for index in 0..<(slots.count / 2 + 2) {
            book.insert(order(firstID + OrderID(index), index % 2 == 0 ? .buy : .sell, price: index % 2 == 0 ? 90 : 210, quantity: 3))
        }
    }

    @Test(arguments: [1, 1_023, 1_024, 1_025, 2_500])
    func aCopyKeepsItsOrdersWhileTheOtherChanges(count: Int) {
        let (original, slots) = Self.book(count)
        let before = Self.contents(original)
        #expect(before.count == count)

        // The original changes; the copy taken before does not.
        var changed = original
        Self.change(&changed, slots, firstID: 1_000_000)
        #expect(Self.contents(original) == before)
        #expect(original.orderCount == count)
        #expect(original.linksViolation() == nil)
        let after = Self.contents(changed)
        #expect(after != before)
        #expect(changed.orderCount == count - (count + 2) / 3 + count / 2 + 2)
        #expect(changed.linksViolation() == nil)

        // And the other way round: a copy of the changed book changes; the changed book
        // keeps what it had, and the first book still what it had.
        var again = changed
        Self.change(&again, slots.filter { changed[$0].openQuantityUnits > 0 }, firstID: 2_000_000)
        #expect(Self.contents(changed) == after)
        #expect(Self.contents(original) == before)
        #expect(again.linksViolation() == nil)
    }

    /// Freed slots are reused last freed first, before the pool hands out a new one; the
    /// free slots are linked inside the pages (issue 12, sixteenth steps), so a copy of the
    /// book keeps its own: each reuses the slots it freed itself.
    @Test func freedSlotsAreReusedLastFirstAndEachCopyKeepsItsOwn() {
        var (book, slots) = Self.book(10)
        for slot in [slots[2], slots[7], slots[4]] { book.remove(slot: slot) }
        var copy = book
        // The copy frees one more; the book does not.
        copy.remove(slot: slots[0])

        var reused: [Int32] = []
        for index in 0..<4 { reused.append(book.insert(Self.order(OrderID(100 + index), .buy, price: 95, quantity: 1))) }
        #expect(reused == [slots[4], slots[7], slots[2], 10])

        var copyReused: [Int32] = []
        for index in 0..<5 { copyReused.append(copy.insert(Self.order(OrderID(200 + index), .sell, price: 205, quantity: 2))) }
        #expect(copyReused == [slots[0], slots[4], slots[7], slots[2], 10])

        // Each holds its own orders in the reused slots.
        #expect(book[slots[4]].orderID == 100 && book[slots[2]].orderID == 102 && book[10].orderID == 103)
        #expect(copy[slots[0]].orderID == 200 && copy[slots[2]].orderID == 203 && copy[10].orderID == 204)
        #expect(book[slots[0]].orderID == 1)
        #expect(book.orderCount == 11 && copy.orderCount == 11)
        #expect(book.linksViolation() == nil && copy.linksViolation() == nil)
    }
}

/// A book with its accounts' last orders, which the engine keeps in the accounts' position
/// slots (`PositionTable.Slot.lastBidSlot`): passed to the book when an order rests, set
/// from its answers when one leaves.
struct LinkedBook {
    var book = OrderBook()
    var lasts: [UInt64: Int32] = [:]

    static func key(_ account: UInt32, _ side: Side) -> UInt64 { UInt64(account) << 1 | (side == .buy ? 0 : 1) }

    subscript(slot: Int32) -> RestingOrder { book[slot] }
    var orderCount: Int { book.orderCount }

    mutating func set(_ order: RestingOrder, _ last: Int32) {
        guard last != OrderBook.unchanged else { return }
        lasts[Self.key(order.accountIndex, order.side)] = last == OrderBook.none ? nil : last
    }

    @discardableResult
    mutating func insert(_ order: RestingOrder) -> Int32 {
        let slot = book.insert(order, accountLast: lasts[Self.key(order.accountIndex, order.side)] ?? OrderBook.none)
        set(order, slot)
        return slot
    }

    mutating func remove(slot: Int32) {
        let order = book[slot]
        set(order, book.remove(slot: slot))
    }

    mutating func reduce(slot: Int32, by quantity: Int64) {
        let order = book[slot]
        set(order, book.reduce(slot: slot, by: quantity).accountLast)
    }

    func linksViolation() -> String? {
        book.accountLinksViolation(lastOf: { lasts[Self.key($0, $1)] ?? OrderBook.none }, lastsNamed: lasts.count)
    }
}
