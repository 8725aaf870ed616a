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
        var random = SeededRandom(seed: seed)
        var table = OrderSlotTable()
        var model: [OrderID: OrderLocation] = [:]
        var seen = Set<OrderID>()
        var open: [OrderID] = []
        var next: OrderID = 1
        for step in 0..<60_000 {
            let roll = random.next() % 100
            if roll < 55 {
                // A new order, sometimes after a jump in the ids (ids taken by orders that
                // never rested).
                next += random.next() % 10 == 0 ? 1 + random.next() % 3_000 : 1
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
        // The ids went far past the window: old orders were handed to the hash table.
        #expect(next > OrderID(OrderSlotTable.windowIDs) * 4)
        #expect(table.base > 0)
        #expect(Self.agree(table, model, seen), "seed \(seed), at the end")
    }

    @Test func anOrderRestingLongerThanTheWindowIsStillFound() {
        var table = OrderSlotTable()
        table[1] = OrderLocation(symbol: 2, slot: 7)
        // Three windows of orders come and go after it.
        var removed = 0
        for id in 2...OrderID(3 * OrderSlotTable.windowIDs) {
            table[id] = OrderLocation(symbol: 0, slot: 1)
            if id > 2, table.removeValue(forKey: id - 1) == OrderLocation(symbol: 0, slot: 1) { removed += 1 }
        }
        #expect(removed == 3 * OrderSlotTable.windowIDs - 2)
        #expect(table.base > 1)
        #expect(table[1] == OrderLocation(symbol: 2, slot: 7))
        #expect(table.count == 2)
        #expect(table.removeValue(forKey: 1) == OrderLocation(symbol: 2, slot: 7))
        #expect(table[1] == nil && table.count == 1)
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
