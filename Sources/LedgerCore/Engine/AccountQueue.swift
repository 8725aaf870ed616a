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
            var parent = 0
            while true {
                let left = 2 * parent + 1
                if left >= elements.count { break }
                let right = left + 1
                let child = right < elements.count && elements[right].precedes(elements[left]) ? right : left
                guard elements[child].precedes(elements[parent]) else { break }
                elements.swapAt(child, parent)
                parent = child
            }
        }
        return top
    }

    mutating func removeAll() {
        elements.removeAll(keepingCapacity: true)
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
