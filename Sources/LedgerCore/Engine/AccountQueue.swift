/// What a `BinaryHeap` orders by: `precedes` is a strict total order (the first element
/// precedes every other).
protocol HeapOrdered: Sendable, Hashable {
    func precedes(_ other: Self) -> Bool
}

extension UInt32: HeapOrdered {
    @inline(__always)
    func precedes(_ other: UInt32) -> Bool { self < other }
}

/// A binary heap: O(log n) insert and removal of the first element. Its layout depends on
/// the order of the operations, so whatever is encoded or compared is read in order
/// (`sorted`), never as laid out.
struct BinaryHeap<Element: HeapOrdered>: Sendable {
    private(set) var elements: ContiguousArray<Element> = []

    var isEmpty: Bool { elements.isEmpty }
    var count: Int { elements.count }
    /// The element that precedes every other, without taking it.
    var first: Element? { elements.first }

    /// Every element, first first: O(n log n).
    var sorted: [Element] { elements.sorted { $0.precedes($1) } }

    init() {}

    /// A heap of `ordered`, given first first (a valid heap as it is).
    init(ordered: [Element]) {
        elements = ContiguousArray(ordered)
    }

    mutating func insert(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child].precedes(elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    /// Takes the first element out.
    mutating func popFirst() -> Element? {
        guard let top = elements.first else { return nil }
        let last = elements.removeLast()
        if !elements.isEmpty {
            elements[0] = last
            siftDown(0)
        }
        return top
    }

    mutating func removeAll() {
        elements.removeAll(keepingCapacity: true)
    }

    /// A heap of `unordered`: O(n).
    init(unordered: some Sequence<Element>) {
        elements = ContiguousArray(unordered)
        heapify()
    }

    /// Takes out the elements `shouldRemove` picks, in place: O(n).
    mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        elements.removeAll(where: shouldRemove)
        heapify()
    }

    /// Puts `elements` in heap order.
    private mutating func heapify() {
        var node = elements.count / 2
        while node > 0 {
            node -= 1
            siftDown(node)
        }
    }

    /// True when no element precedes its parent (the sweeps' check).
    var isHeap: Bool {
        elements.indices.dropFirst().allSatisfy { !elements[$0].precedes(elements[($0 - 1) / 2]) }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            if left >= elements.count { return }
            let right = left + 1
            let child = right < elements.count && elements[right].precedes(elements[left]) ? right : left
            guard elements[child].precedes(elements[parent]) else { return }
            elements.swapAt(child, parent)
            parent = child
        }
    }
}

/// Visits the entries of a heap laid out in an array (children of `i` at 2i + 1 and
/// 2i + 2) for which `reaches` holds: below an entry for which it does not, the heap's
/// order makes it false for every descendant, so the walk costs what it visits, not the
/// heap. Its stack is on the machine's stack: a walk that pushes both children holds at
/// most one pending sibling a level, and a heap of fewer than 2^63 entries is under 64
/// levels deep.
@inline(__always)
func walkHeap<Element>(_ entries: UnsafeBufferPointer<Element>, reaches: (Element) -> Bool, visit: (Element) -> Void) {
    guard !entries.isEmpty else { return }
    let stackMax = 128
    withUnsafeTemporaryAllocation(of: Int.self, capacity: stackMax) { stack in
        stack[0] = 0
        var top = 1
        while top > 0 {
            top -= 1
            let node = stack[top]
            let entry = entries[node]
            guard reaches(entry) else { continue }
            visit(entry)
            precondition(top + 2 <= stackMax, "heap walk deeper than \(stackMax)")
            let left = 2 * node + 1
            if left + 1 < entries.count {
                stack[top] = left + 1
                top += 1
            }
            if left < entries.count {
                stack[top] = left
                top += 1
            }
        }
    }
}

/// A set of dense account indexes taken lowest first: a binary min-heap with a bitmap
/// that keeps each index in it once. O(log n) insert and pop, O(1) membership.
///
/// The bounded rules keep the accounts waiting for their liquidation check here
/// (`RiskRoom.pendingLiquidations`).
struct AccountQueue: Sendable {
    private var heap = BinaryHeap<UInt32>()
    private var members = HolderSet()

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    /// The lowest index, without taking it.
    var first: UInt32? { heap.first }

    func contains(_ index: UInt32) -> Bool { members.contains(Int(index)) }

    /// Adds an index unless it is in already.
    mutating func insert(_ index: UInt32) {
        guard !members.contains(Int(index)) else { return }
        members.insert(Int(index))
        heap.insert(index)
    }

    /// Takes the lowest index out.
    mutating func popFirst() -> UInt32? {
        guard let top = heap.popFirst() else { return nil }
        members.remove(Int(top))
        return top
    }

    mutating func removeAll() {
        heap.removeAll()
        members = HolderSet()
    }
}
