import LedgerClient
import Testing

@testable import LedgerCore

/// The order-id table (`OrderSlotTable`) against a dictionary, over every way an id can
/// arrive: in sequence, resting long enough to leave the window, below the window (an old
/// id resting again), far beyond it (a snapshot's), and removed or looked up when absent.
@Suite struct OrderSlotTableTests {
    /// Compares every id the model ever held, and a few it never did.
    static func agree(_ table: OrderSlotTable, _ model: [OrderID: OrderLocation], _ seen: Set<OrderID>) -> Bool {
        guard table.count == model.count else { return false }
        for id in seen where table[id] != model[id] { return false }
        for id: OrderID in [0, 1 << 40, .max - 1, .max] where table[id] != model[id] { return false }
        return true
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithADictionary(seed: UInt64) {
        let table = Self.compareWithADictionary(seed: seed, newShare: 55, jumpOneIn: 10)
        // The ids went far past the window, whose pages left sparse: old orders were handed
        // to the hash table, and the window kept its first size.
        #expect(table.base > 4 * UInt64(table.windowIDs))
        #expect(table.windowPages == OrderSlotTable.windowPagesMin)
    }

    /// Most orders stay and few ids are skipped (a growing book): the window doubles on the
    /// way, with the same fills, amendments and misses as above.
    @Test(arguments: [5, 6] as [UInt64])
    func agreesWithADictionaryWhenMostOrdersStay(seed: UInt64) {
        let table = Self.compareWithADictionary(seed: seed, newShare: 85, jumpOneIn: 1_000)
        #expect(table.windowPages > OrderSlotTable.windowPagesMin)
    }

    /// 60,000 random steps against a dictionary: `newShare` in 100 rest a new order (one
    /// in `jumpOneIn` after a jump in the ids), the rest of the first 95 fill or cancel one,
    /// then amendments and misses.
    static func compareWithADictionary(seed: UInt64, newShare: UInt64, jumpOneIn: UInt64) -> OrderSlotTable {
        var random = SeededRandom(seed: seed)
        var table = OrderSlotTable()
        var model: [OrderID: OrderLocation] = [:]
        var seen = Set<OrderID>()
        var open: [OrderID] = []
        var next: OrderID = 1
        for step in 0..<60_000 {
            let roll = random.next() % 100
            if roll < newShare {
                // A new order, sometimes after a jump in the ids (ids taken by orders that
                // never rested).
                next += random.next() % jumpOneIn == 0 ? 1 + random.next() % 3_000 : 1
                let location = OrderLocation(symbol: SymbolID(random.next() % 4), slot: Int32(random.next() % 100_000))
                table[next] = location
                model[next] = location
                seen.insert(next)
                open.append(next)
            } else if roll < 95, !open.isEmpty {
                // A fill or a cancel, mostly of a recent order; one in ten of any.
                let pick =
                    random.next() % 10 == 0
                    ? Int(random.next() % UInt64(open.count)) : max(0, open.count - 1 - Int(random.next() % 50))
                let id = open.remove(at: pick)
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id))
            } else if roll < 98, !open.isEmpty {
                // An amended order rests again under its old id.
                let id = open[Int(random.next() % UInt64(open.count))]
                let location = OrderLocation(symbol: 3, slot: Int32(step))
                table.removeValue(forKey: id)
                table[id] = location
                model[id] = location
            } else {
                // A cancel of an id never located, or already gone.
                let id = random.next() % (next + 10)
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id))
                open.removeAll { $0 == id }
            }
            if step % 5_000 == 0 { #expect(Self.agree(table, model, seen), "seed \(seed), step \(step)") }
        }
        #expect(Self.agree(table, model, seen), "seed \(seed), at the end")
        return table
    }

    @Test func anOrderRestingLongerThanTheWindowIsStillFound() {
        var table = OrderSlotTable()
        table[1] = OrderLocation(symbol: 2, slot: 7)
        // Three windows of orders come and go after it.
        var removed = 0
        let windowIDs = OrderSlotTable.windowPagesMin << OrderSlotTable.pageBits
        for id in 2...OrderID(3 * windowIDs) {
            table[id] = OrderLocation(symbol: 0, slot: 1)
            if id > 2, table.removeValue(forKey: id - 1) == OrderLocation(symbol: 0, slot: 1) { removed += 1 }
        }
        #expect(removed == 3 * windowIDs - 2)
        #expect(table.base > 1)
        // Its pages left nearly empty: the window kept its first size.
        #expect(table.windowPages == OrderSlotTable.windowPagesMin)
        #expect(table[1] == OrderLocation(symbol: 2, slot: 7))
        #expect(table.count == 2)
        #expect(table.removeValue(forKey: 1) == OrderLocation(symbol: 2, slot: 7))
        #expect(table[1] == nil && table.count == 1)
    }

    /// A book that grows: two orders in three stay. Each page would leave the window two
    /// thirds full, so the window doubles up to its largest size, keeping every order where
    /// it was found, and only then hands the oldest pages to the hash table.
    @Test func denseOldPagesDoubleTheWindowUpToItsLargestSize() {
        var table = OrderSlotTable()
        var model: [OrderID: OrderLocation] = [:]
        var sizes: [Int] = []
        let largest = OrderSlotTable.windowPagesMax << OrderSlotTable.pageBits
        let last = OrderID(largest + 5 * OrderSlotTable.pageSize)
        for id in 1...last {
            let location = OrderLocation(symbol: SymbolID(id % 3), slot: Int32(id % 100_000))
            table[id] = location
            model[id] = location
            if id % 3 == 0 {
                #expect(table.removeValue(forKey: id - 1) == model.removeValue(forKey: id - 1))
            }
            if sizes.last != table.windowPages { sizes.append(table.windowPages) }
        }
        #expect(sizes == [64, 128, 256, 512, 1_024])
        // Past the largest window, the oldest pages went to the hash table.
        #expect(table.base > 0)
        #expect(table.count == model.count)
        let everyOneFound = model.allSatisfy { table[$0.key] == $0.value }
        #expect(everyOneFound)
        #expect(table[last + 1] == nil && table[2] == nil && table[0] == nil)
        // And every one can leave.
        for id in model.keys.sorted() where id % 7 == 0 { #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id)) }
        #expect(table.count == model.count)
    }

    /// A far id (a snapshot's) after dense pages: the doubled window would not hold it, so
    /// the window keeps its size and hands every order to the hash table.
    @Test func aFarIDAfterDensePagesDoesNotGrowTheWindow() {
        var table = OrderSlotTable()
        for id in 1...OrderID(3_000) { table[id] = OrderLocation(symbol: 1, slot: Int32(id)) }
        table[1 << 40] = OrderLocation(symbol: 2, slot: 7)
        #expect(table.windowPages == OrderSlotTable.windowPagesMin)
        #expect(table.count == 3_001)
        let everyOneFound = (1...OrderID(3_000)).allSatisfy { table[$0] == OrderLocation(symbol: 1, slot: Int32($0)) }
        #expect(everyOneFound)
        #expect(table[1 << 40] == OrderLocation(symbol: 2, slot: 7))
    }

    @Test func aSnapshotsIdsInAnyOrder() {
        // A decoded snapshot inserts its orders' ids in book order, not id order, and the
        // next id comes after: a far id, then ids below the window, then new ones.
        var table = OrderSlotTable()
        let ids: [OrderID] = [900_000_000, 5, 899_999_000, 70_000, 900_000_001]
        for (slot, id) in ids.enumerated() { table[id] = OrderLocation(symbol: 1, slot: Int32(slot)) }
        for (slot, id) in ids.enumerated() { #expect(table[id] == OrderLocation(symbol: 1, slot: Int32(slot))) }
        #expect(table.count == 5)
        table[900_000_002] = OrderLocation(symbol: 0, slot: 9)
        #expect(table[900_000_002] == OrderLocation(symbol: 0, slot: 9))
        #expect(table[900_000_003] == nil && table[6] == nil)
        #expect(table.count == 6)
    }
}
