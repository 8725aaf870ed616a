/// A hash table from a key to a small value: the engine's two hottest lookups, an account
/// id to its index and a resting order's id to its place in a book, and its other tables of
/// ids (transfer ids, conditional orders, clients' order ids). `IDTable` is the one for
/// 64-bit ids.
///
/// At a million entries these lookups miss the cache on almost every command. A Swift
/// `Dictionary` keeps its keys and its values in separate arrays behind a bitmap and hashes
/// with SipHash: two or three misses and ~20 ns of hashing a lookup. Here a key sits beside
/// its value (one 16-byte entry, four to a cache line), the hash is one multiply-xorshift
/// round of a per-process random seed (ids chosen to collide cannot be planned), and probing
/// is linear with backward-shift deletion, so a lookup is one miss in the common case.
///
/// Nothing iterates the table: no order of entries can leak into the journal or the state,
/// so the random seed keeps every replay deterministic. An entry stores its key in a form
/// (`TableKey.Stored`) that leaves two values to mark an empty entry and a tombstone: an id
/// plus one (ids are 0 ... `Limits.idMax`, 2^63 − 1).
///
/// Growing never stops the engine. A table doubled in one operation copied every entry at
/// once: 113 ms in the one deposit that took the 786,433rd account id, 45 ms in the order
/// that rested the 1,572,865th order (docs/BENCHMARKS.md, "Growth in bounded steps"). Here
/// the doubling starts at a load of 3/4 and runs in bounded steps, one per insert or
/// removal: first the doubled table is filled with empty entries, `fillStep` at a time,
/// while the current one goes on serving; then it takes over, and the entries of the
/// table before it move into it, `moveStep` places at a time, while a lookup that misses
/// in the new table looks in the old one. A key is in exactly one of the two; a moved
/// entry leaves a tombstone behind. The rates finish a doubling long before the new table
/// could reach 3/4 itself (see `advanceGrowth`). The table never shrinks (a world's ids
/// come back).
struct HashTable<Key: TableKey, Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var key: Key.Stored
        var value: Value
    }

    /// The table lookups and inserts use first (while moving: the doubled one).
    private var entries: ContiguousArray<Entry>
    private var mask: Int
    /// While filling: the doubled table, `growTarget` entries when full (not yet in use).
    private var next: ContiguousArray<Entry> = []
    private var growTarget = 0
    /// While moving: the table before the doubling; its places below `moveCursor` are moved.
    private var old: ContiguousArray<Entry> = []
    private var oldMask = 0
    private var moveCursor = 0
    private let filler: Value
    private let seed: UInt64
    /// log2 of the runs of consecutive keys kept side by side (see `init`).
    private let runBits: UInt64
    /// The entries in use.
    private(set) var count = 0
    /// The most entries one operation wrote for growing (filled or moved): what bounds an
    /// operation's time while the table doubles. For tests and benchmarks.
    private(set) var growthWorkMax = 0

    /// Empty entries the doubled table gets per operation while filling.
    static var fillStep: Int { 64 }
    /// Places of the old table moved per operation while moving.
    static var moveStep: Int { 16 }
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
        entries = ContiguousArray(repeating: Entry(key: Key.empty, value: filler), count: 16)
        mask = 15
    }

    @inline(__always)
    private func home(_ key: Key.Stored) -> Int {
        home(key, mask)
    }

    @inline(__always)
    private func home(_ key: Key.Stored, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: Key.hash(key, seed: seed, runBits: runBits)) & mask
    }

    /// Where `key` is, or the empty entry that ends its probe.
    @inline(__always)
    private func find(_ key: Key.Stored) -> (index: Int, found: Bool) {
        var index = home(key)
        while true {
            let stored = entries[index].key
            if stored == key { return (index, true) }
            if stored == Key.empty { return (index, false) }
            index = (index &+ 1) & mask
        }
    }

    /// Where `key` is in the old table while moving (tombstones are skipped: they end no
    /// probe), or nil.
    @inline(never)
    private func findOld(_ key: Key.Stored) -> Int? {
        guard !old.isEmpty else { return nil }
        var index = home(key, oldMask)
        while true {
            let stored = old[index].key
            if stored == key { return index }
            if stored == Key.empty { return nil }
            index = (index &+ 1) & oldMask
        }
    }

    subscript(key: Key) -> Value? {
        get {
            // (A key beyond the range is in no table.)
            guard let key = Key.stored(key) else { return nil }
            let place = find(key)
            if place.found { return entries[place.index].value }
            if let index = findOld(key) { return old[index].value }
            return nil
        }
        set {
            if let newValue { insert(key, newValue) } else { removeValue(forKey: key) }
        }
    }

    /// Sets the value of `key`, adding the key when it is new.
    mutating func insert(_ key: Key, _ value: Value) {
        guard let key = Key.stored(key) else { preconditionFailure("key \(key) is beyond every table's range") }
        var place = find(key)
        if place.found {
            entries[place.index].value = value
            return
        }
        if let index = findOld(key) {
            // Moved now, with its new value: it is in one table only.
            old[index].key = Key.tombstone
        } else {
            count += 1
            if growTarget == 0 && old.isEmpty && count * 4 > entries.count * 3 {
                // The doubled table, allocated but not written: filled step by step.
                growTarget = entries.count * 2
                next.reserveCapacity(growTarget)
            } else if count * 8 > entries.count * 7 {
                // Never reached at the rates of `advanceGrowth`; kept so that no rate
                // change can overfill a table.
                finishGrowth()
                place = find(key)
            }
        }
        entries[place.index] = Entry(key: key, value: value)
        if growTarget != 0 || !old.isEmpty { advanceGrowth() }
    }

    /// Changes the value of `key` in place, if it is there, and returns true; false (and
    /// nothing called) when it is not. One probe in the common case, where a lookup and an
    /// insert are two.
    @inline(__always)
    mutating func modifyValue(forKey key: Key, _ body: (inout Value) -> Void) -> Bool {
        guard let stored = Key.stored(key) else { return false }
        let place = find(stored)
        if place.found {
            body(&entries[place.index].value)
            return true
        }
        // While a doubling moves entries, it may be in the old table: moved with the change.
        guard var value = self[key] else { return false }
        body(&value)
        insert(key, value)
        return true
    }

    /// Removes `key` and returns its value, if it was there.
    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard let key = Key.stored(key) else { return nil }
        let place = find(key)
        let value: Value
        if place.found {
            value = entries[place.index].value
            removeEntry(at: place.index)
        } else if let index = findOld(key) {
            value = old[index].value
            old[index].key = Key.tombstone
        } else {
            return nil
        }
        count -= 1
        if growTarget != 0 || !old.isEmpty { advanceGrowth() }
        return value
    }

    /// Backward-shift deletion in `entries`: pulls each later entry of the run into the
    /// hole when the hole lies between its home and where it sits, so that no probe meets a
    /// false end.
    private mutating func removeEntry(at index: Int) {
        var hole = index
        var later = (hole &+ 1) & mask
        while entries[later].key != Key.empty {
            let wanted = home(entries[later].key)
            // Distance from home to `later` versus to the hole, both along the probe.
            if (later &- wanted) & mask >= (later &- hole) & mask {
                entries[hole] = entries[later]
                hole = later
            }
            later = (later &+ 1) & mask
        }
        entries[hole] = Entry(key: Key.empty, value: filler)
    }

    /// One bounded step of a doubling, if one is under way. Filling takes 2N/`fillStep`
    /// operations for a table of N entries (its load rises from 3/4 by at most 1/32 in
    /// them); moving takes N/`moveStep`, with the doubled table under 1/2 full throughout.
    private mutating func advanceGrowth() {
        if growTarget != 0 {
            let filled = min(Self.fillStep, growTarget - next.count)
            next.append(contentsOf: repeatElement(Entry(key: Key.empty, value: filler), count: filled))
            growthWorkMax = max(growthWorkMax, filled)
            guard next.count == growTarget else { return }
            // The doubled table takes over; the old one's entries move from now on.
            swap(&old, &entries)
            swap(&entries, &next)
            oldMask = mask
            mask = growTarget - 1
            growTarget = 0
            moveCursor = 0
        } else if !old.isEmpty {
            let end = min(moveCursor + Self.moveStep, old.count)
            for index in moveCursor..<end {
                let stored = old[index].key
                guard stored != Key.empty && stored != Key.tombstone else { continue }
                let place = find(stored)
                entries[place.index] = old[index]
                old[index].key = Key.tombstone
            }
            growthWorkMax = max(growthWorkMax, end - moveCursor)
            moveCursor = end
            if moveCursor == old.count { Self.release(&old) }
        }
    }

    /// Lets go of the table a doubling left behind. A large one is freed off the engine
    /// thread: giving 64 MB back to the kernel took 2.9 ms in the operation that finished
    /// a doubling (docs/BENCHMARKS.md, "Growth in bounded steps"). Changes no outcome.
    private static func release(_ storage: inout ContiguousArray<Entry>) {
        let taken = storage
        storage = []
        guard taken.count >= 1 << 15 else { return }
        Task.detached(priority: .background) { withExtendedLifetime(taken) {} }
    }

    /// Completes a doubling under way at once (a fallback that the rates never need).
    private mutating func finishGrowth() {
        while growTarget != 0 || !old.isEmpty {
            let work = growthWorkMax
            advanceGrowth()
            growthWorkMax = work
        }
    }
}

/// A table of 64-bit ids (accounts, orders, transfers).
typealias IDTable<Value: Sendable> = HashTable<UInt64, Value>

extension HashTable where Key == UInt64 {
    /// The entry where `key` is looked up first: arithmetic only, no read of the table
    /// (so that `keyAt` can read many of them in a tight loop, all misses in flight).
    @inline(__always)
    func homeIndex(_ key: UInt64) -> Int {
        home(key &+ 1)
    }

    /// The key the entry at `index` holds, plus one (0: empty).
    @inline(__always)
    func keyAt(_ index: Int) -> UInt64 {
        entries[index].key
    }
}

/// A key a `HashTable` holds.
protocol TableKey: Sendable {
    /// The form an entry holds a key in: two values that no key takes mark an empty entry
    /// and a moved one.
    associatedtype Stored: Sendable, Equatable
    static var empty: Stored { get }
    static var tombstone: Stored { get }
    /// nil: beyond the range of keys (no table holds it).
    static func stored(_ key: Self) -> Stored?
    /// The key's hash under the table's seed; with `runBits` = b, keys that differ only in
    /// their low b bits land in one run of 2^b neighbouring entries.
    static func hash(_ key: Stored, seed: UInt64, runBits: UInt64) -> UInt64
}

extension UInt64: TableKey {
    /// An id plus one: 0 marks an empty entry, `UInt64.max` a moved one.
    static var empty: UInt64 { 0 }
    static var tombstone: UInt64 { .max }

    static func stored(_ key: UInt64) -> UInt64? {
        key <= Limits.idMax ? key &+ 1 : nil
    }

    @inline(__always)
    static func hash(_ key: UInt64, seed: UInt64, runBits: UInt64) -> UInt64 {
        // One round of a 64-bit finaliser (murmur3's fmix64 shape), keyed by the seed, of
        // the key's run; the key's place in its run beside it. `runBits` is 0 ... 3 (the
        // table's `init`): masking shifts are the plain machine shifts, where `>>` and `<<`
        // by a variable amount also handle counts of 64 and more (a compare and a
        // conditional move each, on the path of every lookup; issue 12, sixteenth steps).
        var hash = ((key &>> runBits) ^ seed) &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 32
        hash = hash &* 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 29
        return (hash &<< runBits) | (key & ((1 &<< runBits) &- 1))
    }
}

extension ClientOrderKey: TableKey {
    /// Account index `UInt32.max` is no account's (at most 2^30 of them).
    static var empty: ClientOrderKey { ClientOrderKey(accountIndex: .max, clientOrderID: 0) }
    static var tombstone: ClientOrderKey { ClientOrderKey(accountIndex: .max, clientOrderID: 1) }

    static func stored(_ key: ClientOrderKey) -> ClientOrderKey? {
        key.accountIndex < .max ? key : nil
    }

    /// Rounds keyed by the seed over the client's id (one for ids of up to nine
    /// characters, four for longer ones), then the account, so that ids chosen in two
    /// accounts cannot be planned to meet.
    static func hash(_ key: ClientOrderKey, seed: UInt64, runBits: UInt64) -> UInt64 {
        let words = key.clientOrderID.words
        var hash = UInt64.hash(words.0, seed: seed, runBits: 0)
        if words.1 != 0 {
            hash = UInt64.hash(hash ^ words.1, seed: seed, runBits: 0)
            hash = UInt64.hash(hash ^ words.2, seed: seed, runBits: 0)
            hash = UInt64.hash(hash ^ words.3, seed: seed, runBits: 0)
        }
        return UInt64.hash(hash ^ UInt64(key.accountIndex), seed: seed, runBits: 0)
    }
}

/// An `IDTable` from an id to an `Int`, for the other modules (the daemon's recent history):
/// concrete, so that it is specialized here. The generic table called from another module
/// runs unspecialized and looks its type metadata up on every call (6% of ledgerd's
/// samples at full rate when the recent history used it so).
package struct IDIndex: Sendable {
    private var table: IDTable<Int>
    /// `engineAssigned`: the ids are ones the engine hands out in sequence (order ids), so
    /// runs of four neighbouring ids share a cache line (`HashTable.init(filler:runBits:)`);
    /// never for ids a client chooses.
    package init(engineAssigned: Bool = false) { table = IDTable<Int>(filler: 0, runBits: engineAssigned ? 2 : 0) }
    /// Ids indexed.
    package var count: Int { table.count }
    package subscript(id: UInt64) -> Int? { table[id] }
    package mutating func insert(_ id: UInt64, _ value: Int) { table.insert(id, value) }
    @discardableResult
    package mutating func removeValue(forKey id: UInt64) -> Int? { table.removeValue(forKey: id) }
}
