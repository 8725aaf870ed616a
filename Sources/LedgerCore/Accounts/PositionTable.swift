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
    }

    /// In increasing symbol order, so that every walk over them is in symbol order.
    public private(set) var slots: ContiguousArray<Slot> = []
    /// One past the highest symbol ever touched: how many positions the state encodings
    /// v1–v3 wrote for the account (they were indexed by symbol; docs/FORMATS.md).
    public private(set) var span: UInt16 = 0

    init() {}

    /// The symbols with a slot, in increasing order.
    public var symbols: LazyMapSequence<ContiguousArray<Slot>, Int> { slots.lazy.map { Int($0.symbol) } }
    /// (symbol, position) of every slot, in symbol order.
    public var entries: LazyMapSequence<ContiguousArray<Slot>, (Int, Position)> { slots.lazy.map { (Int($0.symbol), $0.position) } }

    @inline(__always)
    func slotIndex(_ symbol: SymbolID) -> Int? {
        for index in slots.indices {
            let found = slots[index].symbol
            if found == symbol { return index }
            if found > symbol { return nil }
        }
        return nil
    }

    /// The slot of `symbol`, if the account has one.
    @inline(__always)
    func slot(_ symbol: SymbolID) -> Slot? {
        guard let index = slotIndex(symbol) else { return nil }
        return slots[index]
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
            return slots[index].position
        }
        _modify {
            let index = touch(SymbolID(symbol))
            yield &slots[index].position
        }
    }

    /// The account's resting and conditional orders in `symbol`.
    @inline(__always)
    public func orderCounts(_ symbol: SymbolID) -> (resting: Int, conditional: Int) {
        guard let index = slotIndex(symbol) else { return (0, 0) }
        return (Int(slots[index].restingOrders), Int(slots[index].conditionalOrders))
    }

    /// The account's resting reduce-only orders in `symbol`.
    @inline(__always)
    public func reduceOnlyOrders(_ symbol: SymbolID) -> Int {
        guard let index = slotIndex(symbol) else { return 0 }
        return Int(slots[index].reduceOnlyOrders)
    }

    /// Counts an order that joins (+1) or leaves (−1) a book or the conditional list; a
    /// resting reduce-only order counts in both its totals.
    mutating func countOrders(_ symbol: SymbolID, resting: Int = 0, conditional: Int = 0, reduceOnly: Bool = false) {
        let index = touch(symbol)
        slots[index].restingOrders = UInt16(Int(slots[index].restingOrders) + resting)
        slots[index].conditionalOrders = UInt16(Int(slots[index].conditionalOrders) + conditional)
        if reduceOnly { slots[index].reduceOnlyOrders = UInt16(Int(slots[index].reduceOnlyOrders) + resting) }
    }

    /// The slot of `symbol`, created empty if missing; returns its index.
    @discardableResult
    mutating func touch(_ symbol: SymbolID) -> Int {
        var index = 0
        while index < slots.count && slots[index].symbol < symbol { index += 1 }
        if index < slots.count && slots[index].symbol == symbol { return index }
        slots.insert(Slot(symbol: symbol, position: Position()), at: index)
        span = max(span, symbol + 1)
        return index
    }

    /// Restores the span of a state decoded from encoding v1–v3.
    mutating func extendSpan(to count: UInt16) {
        span = max(span, count)
    }
}
