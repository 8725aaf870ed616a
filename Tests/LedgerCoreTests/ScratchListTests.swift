import LedgerClient
import Testing

@testable import LedgerCore

/// The engine's per-entry lists: emptying keeps the room but no element, and sorting,
/// filtering and appending see only the live elements.
@Suite struct ScratchListTests {
    @Test func onlyTheLiveElementsAreSeen() {
        var list = ScratchList<UInt32>()
        for value: UInt32 in [9, 3, 7, 1] { list.append(value) }
        #expect(Array(list) == [9, 3, 7, 1])
        list.removeAll()
        #expect(list.isEmpty && Array(list).isEmpty)
        // The room is reused: the old values do not come back.
        list.append(5)
        list.append(2)
        #expect(Array(list) == [5, 2])
        list.sort()
        #expect(Array(list) == [2, 5])
        list.append(4)
        list.append(8)
        list.append(6)
        list.removeAll { $0 % 4 == 0 }
        #expect(Array(list) == [2, 5, 6])
        // Past the room it grows.
        for value: UInt32 in 10..<20 { list.append(value) }
        #expect(list.count == 13 && list[12] == 19)
        var other = ScratchList<UInt32>()
        other.append(1)
        other.append(contentsOf: list, from: 11)
        #expect(Array(other) == [1, 18, 19])
        #expect(other.min() == 1 && other.contains(19) && !other.contains(2))
    }

    /// `sortStably` sorts only from its start, keeps equal keys in their order, and gives
    /// the standard library's stable order both in place (≤ 32) and past it.
    @Test(arguments: [0, 1, 2, 5, 32, 33, 200])
    func theStableSortAgreesWithTheLibrarys(count: Int) {
        var random = SeededRandom(seed: UInt64(count) + 11)
        var list = ScratchList<UInt64>()
        // Three elements before the start, which stay where they are.
        for value: UInt64 in [900, 100, 500] { list.append(value) }
        // Each element: a key 0 ..< 8 in the high bits, its place in the low ones.
        var appended: [UInt64] = []
        for place in 0..<count {
            let value = UInt64.random(in: 0..<8, using: &random) << 32 | UInt64(place)
            appended.append(value)
            list.append(value)
        }
        list.sortStably(from: 3) { Int64($0 >> 32) }
        let expected =
            [900, 100, 500]
            + appended.enumerated().sorted { ($0.element >> 32, $0.offset) < ($1.element >> 32, $1.offset) }
            .map(\.element)
        #expect(Array(list) == expected)
    }

    /// The sort in place (insertion up to 20, a heap sort beyond) against the standard
    /// library's, from 0 to 200 elements: with many equal values (ascending), and by a
    /// total order on pairs, descending (as the ADL ranking and the reduce-only upkeep
    /// use it). Leftovers past the count, from a longer list emptied first, stay unread.
    @Test(arguments: Array(0...40) + [63, 64, 65, 100, 127, 128, 129, 200])
    func theSortAgreesWithTheLibrarys(count: Int) {
        var random = SeededRandom(seed: UInt64(count) + 29)
        var list = ScratchList<UInt32>()
        for _ in 0..<(count + 7) { list.append(UInt32.random(in: 0..<1_000, using: &random)) }
        list.removeAll()
        var values: [UInt32] = []
        for _ in 0..<count {
            let value = UInt32.random(in: 0..<UInt32(count / 4 + 2), using: &random)
            values.append(value)
            list.append(value)
        }
        list.sort()
        #expect(Array(list) == values.sorted())

        var pairs = ScratchList<UInt64>()
        var expected: [UInt64] = []
        for place in 0..<count {
            let value = UInt64.random(in: 0..<5, using: &random) << 32 | UInt64(place)
            expected.append(value)
            pairs.append(value)
        }
        pairs.sort { $0 > $1 }
        #expect(Array(pairs) == expected.sorted(by: >))
    }
}
