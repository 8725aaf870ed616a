/// A list the engine fills and empties within one entry (the accounts to check for
/// liquidation, the accounts whose danger marks changed, the symbols whose price moved):
/// its elements are the first `count` of a buffer that keeps its room, so emptying it is
/// one store.
///
/// An `Array` emptied with `removeAll(keepingCapacity:)` goes through
/// `replaceSubrange` with an empty collection: ~100 instructions for two elements
/// (`valgrind --tool=callgrind`), three times in an entry with a fill (docs/BENCHMARKS.md,
/// "Instructions a message").
///
/// Scratch, never state: not encoded, not compared; the elements past `count` are
/// leftovers that nothing reads.
struct ScratchList<Element: BitwiseCopyable & Sendable>: Sendable, RandomAccessCollection {
    private var storage: ContiguousArray<Element> = []
    private(set) var count = 0

    init() {}

    @inline(__always) var startIndex: Int { 0 }
    @inline(__always) var endIndex: Int { count }
    @inline(__always) var isEmpty: Bool { count == 0 }

    @inline(__always)
    subscript(position: Int) -> Element {
        precondition(position >= 0 && position < count, "scratch list index out of range")
        return storage[position]
    }

    @inline(__always)
    mutating func append(_ element: Element) {
        if count < storage.count {
            storage[count] = element
        } else {
            storage.append(element)
        }
        count += 1
    }

    /// Appends the elements of `other` from `start` on.
    mutating func append(contentsOf other: ScratchList, from start: Int) {
        let needed = count + other.count - start
        if needed > storage.count { storage.reserveCapacity(needed) }
        for position in start..<other.count { append(other[position]) }
    }

    /// Empties the list; the room stays.
    @inline(__always)
    mutating func removeAll() { count = 0 }

    /// Removes the elements that satisfy `shouldBeRemoved`, keeping the others in order.
    mutating func removeAll(where shouldBeRemoved: (Element) -> Bool) {
        var kept = 0
        for position in 0..<count where !shouldBeRemoved(storage[position]) {
            storage[kept] = storage[position]
            kept += 1
        }
        count = kept
    }

    /// Reverses the order of the elements from `start` on.
    mutating func reverse(from start: Int) {
        var low = start
        var high = count - 1
        while low < high {
            storage.swapAt(low, high)
            low += 1
            high -= 1
        }
    }

    /// Sorts the elements from `start` on by `key`, ascending, equal keys kept in their
    /// order: an insertion sort in place for the few an account usually has (no array
    /// besides); past 32, a sort of (key, place) pairs, written back.
    mutating func sortStably(from start: Int, by key: (Element) -> Int64) {
        let end = count
        guard end - start > 1 else { return }
        storage.withUnsafeMutableBufferPointer { buffer in
            if end - start <= 32 {
                for place in (start + 1)..<end {
                    let element = buffer[place]
                    let elementKey = key(element)
                    var hole = place
                    while hole > start, key(buffer[hole - 1]) > elementKey {
                        buffer[hole] = buffer[hole - 1]
                        hole -= 1
                    }
                    buffer[hole] = element
                }
                return
            }
            let sorted = (start..<end).map { (key(buffer[$0]), $0, buffer[$0]) }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            for (offset, entry) in sorted.enumerated() { buffer[start + offset] = entry.2 }
        }
    }

    /// Sorts the elements in place (ascending).
    mutating func sort() where Element: Comparable {
        sort(by: <)
    }

    /// Sorts the elements in place by `areInIncreasingOrder`, which must be a strict weak
    /// order; equal elements may change places (every caller's order is total, or its
    /// equal elements are the same value). Nothing is allocated: an insertion sort for up
    /// to 20, a heap sort beyond (the standard library's sort is stable and allocates
    /// its merge buffer and its list of runs past 20, once for every liquidation sweep
    /// and ADL ranking of that size).
    mutating func sort(by areInIncreasingOrder: (Element, Element) -> Bool) {
        let count = count
        guard count > 1 else { return }
        storage.withUnsafeMutableBufferPointer { buffer in
            if count <= 20 {
                for place in 1..<count {
                    let element = buffer[place]
                    var hole = place
                    while hole > 0, areInIncreasingOrder(element, buffer[hole - 1]) {
                        buffer[hole] = buffer[hole - 1]
                        hole -= 1
                    }
                    buffer[hole] = element
                }
                return
            }
            // A max-heap over 0..<end, its largest moved to the back each round.
            func siftDown(_ start: Int, _ end: Int) {
                var parent = start
                let element = buffer[parent]
                while true {
                    var child = 2 * parent + 1
                    if child >= end { break }
                    if child + 1 < end, areInIncreasingOrder(buffer[child], buffer[child + 1]) { child += 1 }
                    if !areInIncreasingOrder(element, buffer[child]) { break }
                    buffer[parent] = buffer[child]
                    parent = child
                }
                buffer[parent] = element
            }
            for start in stride(from: count / 2 - 1, through: 0, by: -1) { siftDown(start, count) }
            for end in stride(from: count - 1, to: 0, by: -1) {
                buffer.swapAt(0, end)
                siftDown(0, end)
            }
        }
    }
}

extension ExchangeState {
    /// Lends `body` the scratch list kept at `room`, empty, and takes it back empty. The
    /// list is taken out of the state first, so that `body` may change the state while it
    /// fills and reads the list; its room stays for the next entry (no array a call).
    @inline(__always)
    mutating func withScratch<Element, Result>(
        _ room: WritableKeyPath<ExchangeState, ScratchList<Element>>,
        _ body: (inout ExchangeState, inout ScratchList<Element>) -> Result
    ) -> Result {
        var list = ScratchList<Element>()
        swap(&list, &self[keyPath: room])
        list.removeAll()
        defer {
            list.removeAll()
            swap(&list, &self[keyPath: room])
        }
        return body(&self, &list)
    }
}
