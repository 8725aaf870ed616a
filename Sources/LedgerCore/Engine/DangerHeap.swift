/// A binary min-heap of danger entries: the entries whose key is at most a bound come out
/// first. `RiskIndex` keeps one per symbol and side.
///
/// Entries are never removed from the middle: an account's old entries stay until they
/// surface and are recognised as stale by their generation, or until `compact` drops them.
struct DangerHeap: Sendable {
    /// One account's danger mark in one symbol: `key` is the price itself for a short and
    /// its negation for a long (so both sides use a min-heap).
    struct Entry: Sendable {
        var key: Int64
        var accountIndex: UInt32
        var generation: UInt32
    }

    private(set) var entries: ContiguousArray<Entry> = []
    /// The size past which `RiskIndex` compacts the heap: twice what the last compaction
    /// kept, plus slack. A heap then holds at most about twice its live entries (one per
    /// holder of its symbol) and each compaction is paid for by as many pushes; a bound
    /// from the whole world's account count instead let the heap of a symbol with 10^5
    /// holders grow to 2 × 10^6 entries (32 MB) before its first compaction.
    private(set) var compactAt = 64

    var count: Int { entries.count }
    var isBloated: Bool { entries.count > compactAt }

    /// Adds an entry. O(log n).
    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].key < entries[parent].key else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest entry if its key is at most `bound`. O(log n).
    mutating func popIfKey(atMost bound: Int64) -> Entry? {
        guard let top = entries.first, top.key <= bound else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(from: 0)
        }
        return top
    }

    /// Keeps only the entries `isLive` accepts and restores the heap order. O(n).
    mutating func compact(keeping isLive: (Entry) -> Bool) {
        entries.removeAll { !isLive($0) }
        compactAt = 2 * entries.count + 64
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(from: index)
        }
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        compactAt = 64
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        let count = entries.count
        while true {
            let left = 2 * parent + 1
            if left >= count { return }
            let right = left + 1
            let child = right < count && entries[right].key < entries[left].key ? right : left
            guard entries[child].key < entries[parent].key else { return }
            entries.swapAt(child, parent)
            parent = child
        }
    }
}
