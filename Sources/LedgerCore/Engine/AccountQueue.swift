/// A set of dense account indexes taken lowest first: a binary min-heap with a bitmap
/// that keeps each index in it once. O(log n) insert and pop, O(1) membership.
///
/// The bounded rules keep the accounts waiting for their liquidation check here
/// (`ExchangeState.pendingLiquidations`).
struct AccountQueue: Sendable {
    private var heap: ContiguousArray<UInt32> = []
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
        heap.append(index)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Takes the lowest index out.
    mutating func popFirst() -> UInt32? {
        guard let top = heap.first else { return nil }
        members.remove(Int(top))
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                if left >= heap.count { break }
                let right = left + 1
                let child = right < heap.count && heap[right] < heap[left] ? right : left
                guard heap[child] < heap[parent] else { break }
                heap.swapAt(child, parent)
                parent = child
            }
        }
        return top
    }

    mutating func removeAll() {
        heap.removeAll(keepingCapacity: true)
        members = HolderSet()
    }
}
