/// Where each resting order is, by order id: a direct table over the recent ids, a hash
/// table for the rest (issue 12: "order ids index a slot table").
///
/// Order ids are handed out in sequence, so most orders resting at any moment have recent
/// ids. The latest `windowIDs` ids (64 pages of 1,024) are a ring of locations indexed by
/// the id itself: a lookup, an insert or a removal there is an index and a compare, with no
/// hashing and no probing. An order still resting when its page leaves the window (the
/// window moves a page at a time as new ids arrive) moves into `older`, a hash table, as
/// does any id below the window when it is inserted (a snapshot's orders, an amended
/// order resting again under its old id). An id is in exactly one of the two: the window
/// holds ids from `base` on, `older` only ids below it, and `base` never moves back.
///
/// Bounded work: moving the window by a page looks at that page's 1,024 places only if an
/// order there is still open; an id far beyond the window (only a snapshot can insert one)
/// empties the whole window once, 65,536 places. Memory: 512 KiB for the window, allocated
/// at the first insert, plus `older`.
struct OrderSlotTable: Sendable {
    static let pageBits = 10
    static let windowPages = 64
    static let windowIDs = windowPages << pageBits
    /// An empty place in the window.
    static let empty = OrderLocation(symbol: 0, slot: -1)

    /// The first id the window holds: a multiple of the page size.
    private(set) var base: UInt64 = 0
    /// The window: id `i` (base ≤ i < base + `windowIDs`) is at `i % windowIDs`.
    private var places: ContiguousArray<OrderLocation> = []
    /// Per page of the window (`(i >> pageBits) % windowPages`): how many places are taken.
    private var taken: ContiguousArray<Int32> = []
    /// How many places of the window are taken.
    private var windowCount = 0
    /// Orders below the window.
    private var older = IDTable<OrderLocation>(filler: OrderLocation(symbol: 0, slot: 0))

    /// How many orders the table locates.
    var count: Int { windowCount + older.count }

    /// True when `id` falls in the window.
    @inline(__always)
    private func inWindow(_ id: UInt64) -> Bool {
        id >= base && id - base < UInt64(Self.windowIDs) && !places.isEmpty
    }

    @inline(__always)
    private static func place(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id) & (windowIDs - 1) }

    @inline(__always)
    private static func page(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id >> UInt64(pageBits)) & (windowPages - 1) }

    subscript(id: OrderID) -> OrderLocation? {
        @inline(__always) get {
            if inWindow(id) {
                let location = places[Self.place(id)]
                return location.slot >= 0 ? location : nil
            }
            return older.count == 0 ? nil : older[id]
        }
        set {
            // As a dictionary's: a new value replaces the old (the engine inserts with
            // `insert`, which refuses an id already located).
            removeValue(forKey: id)
            if let newValue { insert(id, newValue) }
        }
    }

    /// Records where order `id` rests (it was not located before).
    @inline(__always)
    mutating func insert(_ id: OrderID, _ location: OrderLocation) {
        precondition(location.slot >= 0, "an order rests in a slot")
        if id < base { return older[id] = location }
        if places.isEmpty {
            places = ContiguousArray(repeating: Self.empty, count: Self.windowIDs)
            taken = ContiguousArray(repeating: 0, count: Self.windowPages)
        }
        if id - base >= UInt64(Self.windowIDs) { advance(toHold: id) }
        let place = Self.place(id)
        precondition(places[place].slot < 0, "order \(id) is located twice")
        places[place] = location
        taken[Self.page(id)] += 1
        windowCount += 1
    }

    /// Forgets where order `id` rests; nil if it was not located.
    @inline(__always)
    @discardableResult
    mutating func removeValue(forKey id: OrderID) -> OrderLocation? {
        if inWindow(id) {
            let place = Self.place(id)
            let location = places[place]
            if location.slot < 0 { return nil }
            places[place] = Self.empty
            taken[Self.page(id)] -= 1
            windowCount -= 1
            return location
        }
        return older.count == 0 ? nil : older.removeValue(forKey: id)
    }

    /// Moves the window up until it holds `id` (above it): the pages that leave it hand
    /// their open orders to `older`.
    private mutating func advance(toHold id: UInt64) {
        let pageSize = UInt64(1) << UInt64(Self.pageBits)
        let newBase = (id & ~(pageSize - 1)) + pageSize - UInt64(Self.windowIDs)
        // Pages that leave: all of them when the new window does not meet the old one.
        let leaving = min((newBase - base) / pageSize, UInt64(Self.windowPages))
        var first = base
        for _ in 0..<leaving {
            let page = Self.page(first)
            if taken[page] > 0 {
                for offset in 0..<pageSize {
                    let place = Self.place(first + offset)
                    if places[place].slot >= 0 {
                        older[first + offset] = places[place]
                        places[place] = Self.empty
                    }
                }
                windowCount -= Int(taken[page])
                taken[page] = 0
            }
            first += pageSize
        }
        base = newBase
    }

    /// For `ExchangeState.warm`: where the entry of `id` lives, as a number whose
    /// `wordAt` reads it (arithmetic only: the window's place, or `older`'s home).
    @inline(__always)
    func homeIndex(_ id: UInt64) -> Int {
        inWindow(id) ? Self.place(id) : -1 - older.homeIndex(id)
    }

    /// A word of the entry at `index` (from `homeIndex`), to bring its line into the cache.
    @inline(__always)
    func wordAt(_ index: Int) -> UInt64 {
        index >= 0 ? UInt64(bitPattern: Int64(places[index].slot)) : older.keyAt(-1 - index)
    }
}
