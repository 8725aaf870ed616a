/// Where each resting order is, by order id: a direct table over the recent ids, a hash
/// table for the rest (issue 12: "order ids index a slot table").
///
/// Order ids are handed out in sequence, so most orders resting at any moment have recent
/// ids. The latest `windowIDs` ids (64 pages of 1,024 at first) are a ring of locations
/// indexed by the id itself: a lookup, an insert or a removal there is an index and a
/// compare, with no hashing and no probing. An order still resting when its page leaves the
/// window (the window moves a page at a time as new ids arrive) moves into `older`, a hash
/// table, as does any id below the window when it is inserted (a snapshot's orders, an
/// amended order resting again under its old id). An id is in exactly one of the two: the
/// window holds ids from `base` on, `older` only ids below it, and `base` never moves back.
///
/// A page about to leave with an eighth of its orders or more still open (a book that
/// grows, a ladder that rests for long) doubles the window instead, up to 1,024 pages
/// (2^20 ids): those orders stay where an index finds them. Moving each into the hash
/// table, with the table's growth, was an eighth of the engine's instructions on the
/// growing book, whose orders then took a quarter longer past 65,536 (issue 12, fifteenth
/// steps). Most venues cancel most orders within seconds: their pages leave nearly empty
/// and the window stays at its first size. It doubles only when the doubled window holds
/// the new id (an id far beyond, from a snapshot, empties the window instead).
///
/// Bounded work: moving the window by a page looks at that page's 1,024 places only if an
/// order there is still open; an id far beyond the window (only a snapshot can insert one)
/// empties the whole window once; a doubling allocates the doubled window and moves the
/// pages that hold orders (at the last one, 8 MiB and at most 4 MiB moved), four times at
/// most in the table's life; the window never shrinks. Memory: 512 KiB for the window,
/// allocated at the first insert, up to 8 MiB, plus `older`.
struct OrderSlotTable: Sendable {
    static let pageBits = 10
    static let pageSize = 1 << pageBits
    /// The window's first size in pages (65,536 ids, 512 KiB) and its largest (2^20 ids,
    /// 8 MiB).
    static let windowPagesMin = 64
    static let windowPagesMax = 1_024
    /// A page that would leave the window with this many orders open doubles it instead.
    static let densePage: Int32 = Int32(pageSize / 8)
    /// An empty place in the window.
    static let empty = OrderLocation(symbol: 0, slot: -1)

    /// The first id the window holds: a multiple of the page size.
    private(set) var base: UInt64 = 0
    /// The masks that give an id's place and page in the window (`windowIDs` − 1 and
    /// `windowPages` − 1), kept rather than computed on every lookup.
    private var placeMask = (Self.windowPagesMin << Self.pageBits) - 1
    private var pageMask = Self.windowPagesMin - 1
    /// The window's size in pages (a power of two, `windowPagesMin` … `windowPagesMax`)
    /// and in ids.
    var windowPages: Int { pageMask + 1 }
    var windowIDs: Int { placeMask + 1 }
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
        id >= base && id - base <= UInt64(placeMask) && !places.isEmpty
    }

    @inline(__always)
    private func place(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id) & placeMask }

    @inline(__always)
    private func page(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id >> UInt64(Self.pageBits)) & pageMask }

    subscript(id: OrderID) -> OrderLocation? {
        @inline(__always) get {
            if inWindow(id) {
                let location = places[place(id)]
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
            places = ContiguousArray(repeating: Self.empty, count: windowIDs)
            taken = ContiguousArray(repeating: 0, count: windowPages)
        }
        if id - base >= UInt64(windowIDs) { advance(toHold: id) }
        let place = self.place(id)
        precondition(places[place].slot < 0, "order \(id) is located twice")
        places[place] = location
        taken[page(id)] += 1
        windowCount += 1
    }

    /// Forgets where order `id` rests; nil if it was not located.
    @inline(__always)
    @discardableResult
    mutating func removeValue(forKey id: OrderID) -> OrderLocation? {
        if inWindow(id) {
            let place = self.place(id)
            let location = places[place]
            if location.slot < 0 { return nil }
            places[place] = Self.empty
            taken[page(id)] -= 1
            windowCount -= 1
            return location
        }
        return older.count == 0 ? nil : older.removeValue(forKey: id)
    }

    /// Moves the window up until it holds `id` (above it): the pages that leave it hand
    /// their open orders to `older`.
    private mutating func advance(toHold id: UInt64) {
        // The oldest page still holds many open orders, and the doubled window holds `id`:
        // the window doubles rather than hand them to `older`.
        while windowPages < Self.windowPagesMax && id - base >= UInt64(windowIDs) && id - base < 2 * UInt64(windowIDs)
            && taken[page(base)] >= Self.densePage
        {
            grow()
        }
        if id - base < UInt64(windowIDs) { return }
        let pageSize = UInt64(Self.pageSize)
        let newBase = (id & ~(pageSize - 1)) + pageSize - UInt64(windowIDs)
        // Pages that leave: all of them when the new window does not meet the old one.
        let leaving = min((newBase - base) / pageSize, UInt64(windowPages))
        var first = base
        for _ in 0..<leaving {
            let page = self.page(first)
            if taken[page] > 0 {
                for offset in 0..<pageSize {
                    let place = self.place(first + offset)
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

    /// Doubles the window. Each page that holds orders moves to its place in the larger
    /// ring (its ids' places keep their offsets within the page).
    private mutating func grow() {
        let oldPages = windowPages
        let oldIDs = windowIDs
        pageMask = 2 * oldPages - 1
        placeMask = 2 * oldIDs - 1
        var grownPlaces = ContiguousArray(repeating: Self.empty, count: windowIDs)
        var grownTaken = ContiguousArray<Int32>(repeating: 0, count: windowPages)
        var first = base
        for _ in 0..<oldPages {
            let oldPage = Int(truncatingIfNeeded: first >> UInt64(Self.pageBits)) & (oldPages - 1)
            if taken[oldPage] > 0 {
                let from = Int(truncatingIfNeeded: first) & (oldIDs - 1)
                let to = place(first)
                for offset in 0..<Self.pageSize { grownPlaces[to + offset] = places[from + offset] }
                grownTaken[page(first)] = taken[oldPage]
            }
            first += UInt64(Self.pageSize)
        }
        places = grownPlaces
        taken = grownTaken
    }

    /// For `ExchangeState.warm`: where the entry of `id` lives, as a number whose
    /// `wordAt` reads it (arithmetic only: the window's place, or `older`'s home).
    @inline(__always)
    func homeIndex(_ id: UInt64) -> Int {
        inWindow(id) ? place(id) : -1 - older.homeIndex(id)
    }

    /// A word of the entry at `index` (from `homeIndex`), to bring its line into the cache.
    @inline(__always)
    func wordAt(_ index: Int) -> UInt64 {
        index >= 0 ? UInt64(bitPattern: Int64(places[index].slot)) : older.keyAt(-1 - index)
    }
}
