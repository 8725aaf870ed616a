/// A set of dense account indexes as a bitmap: O(1) insert, remove and lookup, and
/// iteration in account order (the order funding pays and ADL ranks ties in). One bit per
/// account per symbol: 125 KB a symbol at 10^6 accounts.
struct HolderSet: Sendable, Hashable {
    private var words: ContiguousArray<UInt64> = []
    /// How many indexes are in the set.
    private(set) var count = 0

    @inline(__always)
    func contains(_ index: Int) -> Bool {
        let word = index >> 6
        return word < words.count && words[word] & (1 << UInt64(index & 63)) != 0
    }

    @inline(__always)
    mutating func insert(_ index: Int) {
        let word = index >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word + 1 - words.count)) }
        let bit: UInt64 = 1 << UInt64(index & 63)
        if words[word] & bit == 0 {
            words[word] |= bit
            count += 1
        }
    }

    @inline(__always)
    mutating func remove(_ index: Int) {
        let word = index >> 6
        guard word < words.count else { return }
        let bit: UInt64 = 1 << UInt64(index & 63)
        if words[word] & bit != 0 {
            words[word] &= ~bit
            count -= 1
        }
    }

    /// The smallest index at least `start` that is in this set and in `shorts` (when
    /// `inShorts`) or not in it (when not): a walk over one side of a symbol's holders,
    /// where `shorts` is the subset of them that is short. O(words after `start`).
    func first(atOrAfter start: Int, shorts inShorts: Bool, of shorts: HolderSet) -> Int? {
        if inShorts { return shorts.first(atOrAfter: start) }
        var word = start >> 6
        guard word < words.count else { return nil }
        func outside(_ word: Int) -> UInt64 { words[word] & ~(word < shorts.words.count ? shorts.words[word] : 0) }
        var bits = outside(word) & (~0 << UInt64(start & 63))
        while true {
            if bits != 0 { return word << 6 + bits.trailingZeroBitCount }
            word += 1
            if word >= words.count { return nil }
            bits = outside(word)
        }
    }

    /// The smallest index in the set that is at least `start`. O(words after `start`).
    func first(atOrAfter start: Int) -> Int? {
        var word = start >> 6
        guard word < words.count else { return nil }
        var bits = words[word] & (~0 << UInt64(start & 63))
        while true {
            if bits != 0 { return word << 6 + bits.trailingZeroBitCount }
            word += 1
            if word >= words.count { return nil }
            bits = words[word]
        }
    }
}
