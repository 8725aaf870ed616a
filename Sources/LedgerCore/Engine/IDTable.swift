/// A hash table from a nonzero 64-bit id to a small value: the engine's two hottest
/// lookups, an account id to its index and a resting order's id to its place in a book.
///
/// At a million entries these lookups miss the cache on almost every command. A Swift
/// `Dictionary` keeps its keys and its values in separate arrays behind a bitmap and hashes
/// with SipHash: two or three misses and ~20 ns of hashing a lookup. Here a key sits beside
/// its value (one 16-byte entry, four to a cache line), the hash is one multiply-xorshift
/// round of a per-process random seed (ids chosen to collide cannot be planned), and probing
/// is linear with backward-shift deletion, so a lookup is one miss in the common case.
///
/// Nothing iterates the table: no order of entries can leak into the journal or the state,
/// so the random seed keeps every replay deterministic. An entry stores its key plus one,
/// so that 0 can mark an empty entry: ids are 0 ... `Limits.idMax` (2^63 − 1). The table doubles at a load of 3/4 and never shrinks below what
/// it held (a world's ids come back).
struct IDTable<Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var key: UInt64
        var value: Value
    }

    private var entries: ContiguousArray<Entry>
    private var mask: Int
    private let filler: Value
    private let seed: UInt64
    /// log2 of the runs of consecutive keys kept side by side (see `init`).
    private let runBits: UInt64
    /// The entries in use.
    private(set) var count = 0

    /// `filler` fills empty entries (any value: it is never read). With `runBits` = b > 0,
    /// keys that differ only in their low b bits hash to one run of 2^b neighbouring
    /// entries, the run itself placed by the hash: for ids handed out in sequence (order
    /// ids), the entries of ids taken one after another share cache lines instead of each
    /// costing a miss. Only for ids the engine assigns: ids a client chooses could fill
    /// runs on purpose.
    init(filler: Value, runBits: Int = 0) {
        precondition((0...3).contains(runBits))
        self.filler = filler
        self.runBits = UInt64(runBits)
        seed = UInt64.random(in: 1...UInt64.max) | 1
        entries = ContiguousArray(repeating: Entry(key: 0, value: filler), count: 16)
        mask = 15
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        // One round of a 64-bit finaliser (murmur3's fmix64 shape), keyed by the seed, of
        // the key's run; the key's place in its run beside it.
        var hash = ((key >> runBits) ^ seed) &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 32
        hash = hash &* 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 29
        let run = (hash << runBits) | (key & ((1 << runBits) - 1))
        return Int(truncatingIfNeeded: run) & mask
    }

    /// Where `key` is, or the empty entry that ends its probe.
    @inline(__always)
    private func find(_ key: UInt64) -> (index: Int, found: Bool) {
        var index = home(key)
        while true {
            let stored = entries[index].key
            if stored == key { return (index, true) }
            if stored == 0 { return (index, false) }
            index = (index &+ 1) & mask
        }
    }

    subscript(key: UInt64) -> Value? {
        get {
            let place = find(Self.stored(key))
            return place.found ? entries[place.index].value : nil
        }
        set {
            if let newValue { insert(key, newValue) } else { removeValue(forKey: key) }
        }
    }

    /// The entry where `key` is looked up first: arithmetic only, no read of the table
    /// (so that `keyAt` can read many of them in a tight loop, all misses in flight).
    @inline(__always)
    func homeIndex(_ key: UInt64) -> Int {
        home(Self.stored(key))
    }

    /// The key the entry at `index` holds (0: empty).
    @inline(__always)
    func keyAt(_ index: Int) -> UInt64 {
        entries[index].key
    }

    /// The key as an entry holds it (0 is the empty mark).
    @inline(__always)
    private static func stored(_ key: UInt64) -> UInt64 {
        precondition(key < UInt64.max, "id \(key) is beyond every id's range")
        return key &+ 1
    }

    /// Sets the value of `key`, adding the key when it is new.
    mutating func insert(_ key: UInt64, _ value: Value) {
        let key = Self.stored(key)
        var place = find(key)
        if place.found {
            entries[place.index].value = value
            return
        }
        if (count + 1) * 4 > entries.count * 3 {
            grow(to: entries.count * 2)
            place = find(key)
        }
        entries[place.index] = Entry(key: key, value: value)
        count += 1
    }

    /// Removes `key` and returns its value, if it was there.
    @discardableResult
    mutating func removeValue(forKey key: UInt64) -> Value? {
        let place = find(Self.stored(key))
        guard place.found else { return nil }
        let value = entries[place.index].value
        // Backward shift: pull each later entry of the run into the hole when the hole
        // lies between its home and where it sits, so that no probe meets a false end.
        var hole = place.index
        var next = (hole &+ 1) & mask
        while entries[next].key != 0 {
            let wanted = home(entries[next].key)
            // Distance from home to `next` versus to the hole, both along the probe.
            if (next &- wanted) & mask >= (next &- hole) & mask {
                entries[hole] = entries[next]
                hole = next
            }
            next = (next &+ 1) & mask
        }
        entries[hole] = Entry(key: 0, value: filler)
        count -= 1
        return value
    }

    private mutating func grow(to size: Int) {
        let old = entries
        entries = ContiguousArray(repeating: Entry(key: 0, value: filler), count: size)
        mask = size - 1
        for entry in old where entry.key != 0 {
            let place = find(entry.key)
            entries[place.index] = entry
        }
    }
}
