/// An account's positions, by symbol: only the symbols the account has touched, in
/// symbol order. With 100 symbols, a table indexed by symbol id gave an account that
/// traded symbol 99 a hundred positions (3 KiB for one resting order, issue "Exchange
/// scale"); this one holds what the account uses.
public struct PositionTable: Sendable, Hashable {
    public struct Slot: Sendable, Hashable {
        public let symbol: SymbolID
        /// The account's resting orders and waiting conditional orders in the symbol
        /// (derived from the books; not encoded).
        public internal(set) var restingOrders: UInt16 = 0
        public internal(set) var conditionalOrders: UInt16 = 0
        /// Of the resting orders, the reduce-only ones.
        public internal(set) var reduceOnlyOrders: UInt16 = 0
        public internal(set) var position: Position
        /// The book slot of the account's last resting order on each side of the symbol's
        /// book (`OrderBook.none` without one): the account's orders on a side are linked
        /// back from it through `RestingOrder.accountPreviousSlot`, in the order they joined
        /// their levels. Here rather than in a table of the book keyed by account and side:
        /// a rest and a removal already change this slot, so the link costs no hash and no
        /// further cache line (issue 12, nineteenth steps). Derived from the books: not
        /// encoded, and not compared (a book decoded from a snapshot may place its orders
        /// in other slots).
        @NotCompared var lastBidSlot: Int32 = OrderBook.none
        @NotCompared var lastAskSlot: Int32 = OrderBook.none

        init(symbol: SymbolID, position: Position) {
            self.symbol = symbol
            self.position = position
        }

        /// The account's last resting order on `side` (`lastBidSlot`, `lastAskSlot`).
        @inline(__always)
        func lastSlot(_ side: Side) -> Int32 { side == .buy ? lastBidSlot : lastAskSlot }

        @inline(__always)
        mutating func setLastSlot(_ side: Side, _ slot: Int32) {
            if side == .buy { lastBidSlot = slot } else { lastAskSlot = slot }
        }
    }

    /// The slots in increasing symbol order, so that every walk over them is in symbol
    /// order: the first inline, the rest in an array. Most accounts trade one or two
    /// symbols, so the first slot lives in the account's own lines: reaching it costs no
    /// dependent cache miss and opening it no allocation (docs/BENCHMARKS.md).
    public struct Slots: RandomAccessCollection, Sendable {
        fileprivate let head: Slot
        fileprivate let tail: ContiguousArray<Slot>
        public var startIndex: Int { 0 }
        public var endIndex: Int { head.symbol == PositionTable.noSymbol ? 0 : tail.count + 1 }
        @inline(__always)
        public subscript(index: Int) -> Slot { index == 0 ? head : tail[index - 1] }
    }

    /// `head.symbol` when the account has no slot.
    fileprivate static let noSymbol = SymbolID.max
    /// The slot of the lowest symbol, if `head.symbol != noSymbol`; `tail` is empty when
    /// it is not.
    private var head = Slot(symbol: noSymbol, position: Position())
    /// The slots after the first, in increasing symbol order.
    private var tail: ContiguousArray<Slot> = []
    /// One past the highest symbol ever touched: how many positions the state encodings
    /// v1–v3 wrote for the account (they were indexed by symbol; docs/FORMATS.md).
    public private(set) var span: UInt16 = 0

    init() {}

    /// Every slot, in increasing symbol order.
    public var slots: Slots { Slots(head: head, tail: tail) }
    /// Calls `body` with every slot, in increasing symbol order, where it lies (iterating
    /// `slots` copies the table: a retain and a release of its array).
    @inline(__always)
    func forEachSlot(_ body: (borrowing Slot) -> Void) {
        guard head.symbol != Self.noSymbol else { return }
        body(head)
        for index in 0..<tail.count { body(tail[index]) }
    }

    /// How many slots the account has.
    public var count: Int { head.symbol == Self.noSymbol ? 0 : tail.count + 1 }

    /// The symbols with a slot, in increasing order.
    public var symbols: LazyMapSequence<Slots, Int> { slots.lazy.map { Int($0.symbol) } }
    /// (symbol, position) of every slot, in symbol order.
    public var entries: LazyMapSequence<Slots, (Int, Position)> { slots.lazy.map { (Int($0.symbol), $0.position) } }

    @inline(__always)
    func slotIndex(_ symbol: SymbolID) -> Int? {
        if head.symbol == symbol { return 0 }
        if head.symbol > symbol { return nil }
        for index in tail.indices {
            let found = tail[index].symbol
            if found == symbol { return index + 1 }
            if found > symbol { return nil }
        }
        return nil
    }

    /// The slot of `symbol`, if the account has one.
    @inline(__always)
    func slot(_ symbol: SymbolID) -> Slot? {
        guard let index = slotIndex(symbol) else { return nil }
        return index == 0 ? head : tail[index - 1]
    }

    /// A word from the middle of the inline slot (`Account.warmLines`).
    @inline(__always)
    var middleWord: Int64 { head.position.openBuyNotionalMinor }

    /// A word from each end of each slot after the first, at most `max` of them, for
    /// `ExchangeState.warm`: a slot spans two cache lines, and a margin check and a
    /// danger-mark check walk every slot of the account, not only the command's symbol's.
    @inline(__always)
    func tailLines(max: Int) -> UInt64 {
        var sink: UInt64 = 0
        for index in 0..<Swift.min(tail.count, max) {
            sink &+= UInt64(tail[index].symbol) &+ UInt64(bitPattern: Int64(tail[index].lastAskSlot))
        }
        return sink
    }

    /// The slot at `index` (0 is the inline one; `index < count`), in symbol order. The
    /// hot walks over an account's slots index them through the account in place
    /// (`accounts[i].positions[slotAt: s]`): iterating `slots` or `entries` went through
    /// unspecialized iterator witnesses and copied the table (issue 12's contest profile).
    subscript(slotAt index: Int) -> Slot {
        @inline(__always) get { index == 0 ? head : tail[index - 1] }
    }

    /// Reads the slot at `index` where it lies (`index < count`). `self[slotAt:]` returns a
    /// copy, and choosing between the inline slot and the array made that copy an 80-byte
    /// move through the stack, its last 16 bytes overlapping the 16 before: reading it back
    /// waited for the store buffer (a quarter of `recordDangerMarks`, issue 12). The body
    /// reads the fields it needs from either place.
    @inline(__always)
    func readSlot<Result>(at index: Int, _ body: (borrowing Slot) -> Result) -> Result {
        index == 0 ? body(head) : body(tail[index - 1])
    }

    /// Changes the slot at `index` in place. A function, not a `_modify` accessor: an
    /// accessor that is not inlined is a coroutine whose frame did not fit the caller's
    /// buffer, so every change of a position allocated it on the heap (two mallocs a
    /// command in the contest feed, issue 12).
    @inline(__always)
    private mutating func withSlot<Result>(at index: Int, _ body: (inout Slot) -> Result) -> Result {
        index == 0 ? body(&head) : body(&tail[index - 1])
    }

    /// How many slots hold a position or resting orders.
    func positionsOrOrdersHeld() -> Int {
        var held = 0
        for slot in slots where slot.position.holdsPositionOrOrders { held += 1 }
        return held
    }

    /// The position in `symbol`; empty if the account never touched it. Writing creates it.
    public subscript(_ symbol: Int) -> Position {
        @inline(__always) get {
            guard let index = slotIndex(SymbolID(symbol)) else { return Position() }
            return self[slotAt: index].position
        }
        @inline(__always) set {
            let index = touch(SymbolID(symbol))
            withSlot(at: index) { $0.position = newValue }
        }
    }

    /// Changes the position in `symbol` in place, creating it if missing (see `withSlot`
    /// for why this is not a `_modify` accessor).
    @inline(__always)
    mutating func update<Result>(_ symbol: SymbolID, _ body: (inout Position) -> Result) -> Result {
        let index = touch(symbol)
        return withSlot(at: index) { body(&$0.position) }
    }

    /// The account's resting and conditional orders in `symbol`.
    @inline(__always)
    public func orderCounts(_ symbol: SymbolID) -> (resting: Int, conditional: Int) {
        guard let index = slotIndex(symbol) else { return (0, 0) }
        let slot = self[slotAt: index]
        return (Int(slot.restingOrders), Int(slot.conditionalOrders))
    }

    /// The book slot of the account's last resting order on `side` of `symbol`
    /// (`Slot.lastBidSlot`), `OrderBook.none` when it has none there.
    @inline(__always)
    public func lastOrderSlot(_ symbol: SymbolID, _ side: Side) -> Int32 {
        guard let index = slotIndex(symbol) else { return OrderBook.none }
        return index == 0 ? head.lastSlot(side) : tail[index - 1].lastSlot(side)
    }

    /// `lastOrderSlot`, read where the table lies: `mutating` though it changes nothing. A
    /// rest reads it from the account in the accounts' array, and that read through the
    /// array's getter copied the whole table, a retain and a release of its array, 120
    /// instructions a rest (issue 12, nineteenth steps).
    @inline(__always)
    mutating func peekLastOrderSlot(_ symbol: SymbolID, _ side: Side) -> Int32 {
        lastOrderSlot(symbol, side)
    }

    /// The account's resting reduce-only orders in `symbol`.
    @inline(__always)
    public func reduceOnlyOrders(_ symbol: SymbolID) -> Int {
        guard let index = slotIndex(symbol) else { return 0 }
        return Int(self[slotAt: index].reduceOnlyOrders)
    }

    /// Counts an order that joins (+1) or leaves (−1) a book or the conditional list; a
    /// resting reduce-only order counts in both its totals.
    mutating func countOrders(_ symbol: SymbolID, resting: Int = 0, conditional: Int = 0, reduceOnly: Bool = false) {
        let index = touch(symbol)
        withSlot(at: index) { slot in
            slot.restingOrders = UInt16(Int(slot.restingOrders) + resting)
            slot.conditionalOrders = UInt16(Int(slot.conditionalOrders) + conditional)
            if reduceOnly { slot.reduceOnlyOrders = UInt16(Int(slot.reduceOnlyOrders) + resting) }
        }
    }

    /// Adds to `counts[symbol]` each last resting order a slot names (one a side at most):
    /// what the books' sweep compares with the lists it finds (`BookRoom.consistencyViolation`).
    func countLastOrders(into counts: inout [Int]) {
        forEachSlot { slot in
            for side in Side.allCases where slot.lastSlot(side) != OrderBook.none { counts[Int(slot.symbol)] += 1 }
        }
    }

    /// Sets the account's last resting order on `side` of `symbol` (`Slot.lastBidSlot`),
    /// creating the slot if missing.
    mutating func setLastOrderSlot(_ symbol: SymbolID, _ side: Side, _ last: Int32) {
        let index = touch(symbol)
        withSlot(at: index) { $0.setLastSlot(side, last) }
    }

    /// A resting order's change in `symbol`, in one look at the slot: its open quantity
    /// and notional on `side` (negative when it leaves or fills), and the count of resting
    /// orders (`count`: +1 joins, −1 leaves, 0 stays; a reduce-only order counts in both
    /// totals). The same as `update { addOpenOrder }` and `countOrders`, one touch instead
    /// of two. `lastSlot` is the book's answer for the account's last order on `side`
    /// (`OrderBook.insert`, `.remove`), `OrderBook.unchanged` when it stays.
    @inline(__always)
    mutating func changeRestingOrder(
        _ symbol: SymbolID, side: Side, quantityUnits: Int64, notionalMinor: Int64, count: Int, reduceOnly: Bool,
        lastSlot: Int32
    ) {
        let index = touch(symbol)
        withSlot(at: index) { slot in
            slot.position.addOpenOrder(side: side, quantityUnits: quantityUnits, notionalMinor: notionalMinor)
            if count != 0 {
                slot.restingOrders = UInt16(Int(slot.restingOrders) + count)
                if reduceOnly { slot.reduceOnlyOrders = UInt16(Int(slot.reduceOnlyOrders) + count) }
            }
            if lastSlot != OrderBook.unchanged { slot.setLastSlot(side, lastSlot) }
        }
    }

    /// The slot of `symbol`, created empty if missing; returns its index.
    @discardableResult
    @inline(__always)
    mutating func touch(_ symbol: SymbolID) -> Int {
        if head.symbol == symbol { return 0 }
        return open(symbol)
    }

    /// `touch` past the inline slot: finds the slot or inserts it.
    private mutating func open(_ symbol: SymbolID) -> Int {
        precondition(symbol != Self.noSymbol, "symbol \(symbol) is out of range")
        if let index = slotIndex(symbol) { return index }
        span = max(span, symbol + 1)
        let fresh = Slot(symbol: symbol, position: Position())
        if head.symbol == Self.noSymbol {
            head = fresh
            return 0
        }
        if symbol < head.symbol {
            tail.insert(head, at: 0)
            head = fresh
            return 0
        }
        var index = 0
        while index < tail.count && tail[index].symbol < symbol { index += 1 }
        tail.insert(fresh, at: index)
        return index + 1
    }

    /// Restores the span of a state decoded from encoding v1–v3.
    mutating func extendSpan(to count: UInt16) {
        span = max(span, count)
    }
}

/// A stored field that equality and hashing leave out: derived state that two equal values
/// may hold differently (a book decoded from a snapshot places its orders in other slots
/// than the book it was taken from).
@propertyWrapper
struct NotCompared<Value: Sendable>: Sendable, Hashable {
    var wrappedValue: Value

    static func == (_: NotCompared, _: NotCompared) -> Bool { true }

    func hash(into _: inout Hasher) {}
}
