/// A liquidation whose ADL went past one entry's budget (docs/RULES.md, "Limits of the
/// world, and work in bounded steps", ADL in bounded steps): what is left of the bankrupt
/// position to close against opposing positions at the bankruptcy price, in later ticks.
public struct Deleveraging: Sendable, Hashable {
    public let accountIndex: UInt32
    public let symbol: SymbolID
    /// The closing side (sell for a long).
    public let side: Side
    public let bankruptcyPriceUnits: Int64
    public internal(set) var remainingQuantityUnits: Int64
}

/// Bounded rules: the ADL ranking of one side of a symbol, built in bounded steps when
/// the side holds more positions than one entry may score (docs/RULES.md, "ADL ranking in
/// bounded steps"). Ticks score the opposing holders in account order,
/// `Limits.adlScoresPerEntryMax` an entry (`adlRankingAdvanced`), until the walk is done
/// (`adlRankingCompleted`); then the deleveragings of that side meet them best rank first.
/// The ranking lives while a deleveraging of its side waits. Encoded from state encoding 5.
public struct AdlRanking: Sendable, Hashable {
    /// One scored position: its rank (`ExchangeState.adlScore`) and account.
    struct Rank: HeapOrdered {
        let score: Int128
        let accountIndex: UInt32

        /// True when `self` meets a bankrupt position before `other`: the higher score,
        /// and on a tie the lower account.
        @inline(__always)
        func precedes(_ other: Rank) -> Bool {
            score != other.score ? score > other.score : accountIndex < other.accountIndex
        }
    }

    public let symbol: SymbolID
    /// The closing side of the bankrupt positions it serves (sell: they are long, and it
    /// ranks the shorts).
    public let side: Side
    /// The next account index the walk over the holders looks at.
    var cursorAccountIndex: UInt32 = 0
    /// True once the walk has passed the last holder.
    public internal(set) var isComplete = false
    /// The scored positions not yet met; the first precedes every other.
    private var heap = BinaryHeap<Rank>()

    init(symbol: SymbolID, side: Side) {
        self.symbol = symbol
        self.side = side
    }

    /// How many scored positions wait.
    public var count: Int { heap.count }

    /// The position that meets the next bankrupt position, if any.
    var first: Rank? { heap.first }

    /// The waiting positions, best first (for the encoding and tests: O(n log n)).
    var ordered: [Rank] { heap.sorted }

    mutating func insert(_ rank: Rank) { heap.insert(rank) }

    mutating func removeFirst() { _ = heap.popFirst() }

    /// Rankings are equal when they hold the same positions in the same order (the heap's
    /// layout is left out: a decoded one is laid out best first).
    public static func == (left: AdlRanking, right: AdlRanking) -> Bool {
        left.symbol == right.symbol && left.side == right.side && left.cursorAccountIndex == right.cursorAccountIndex
            && left.isComplete == right.isComplete && left.ordered == right.ordered
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(symbol)
        hasher.combine(side)
        hasher.combine(cursorAccountIndex)
        hasher.combine(isComplete)
        hasher.combine(ordered)
    }

    /// Restores a decoded ranking: `ranks` best first (a valid heap as it is).
    init(symbol: SymbolID, side: Side, cursorAccountIndex: UInt32, isComplete: Bool, ranks: [Rank]) {
        self.symbol = symbol
        self.side = side
        self.cursorAccountIndex = cursorAccountIndex
        self.isComplete = isComplete
        heap = BinaryHeap(ordered: ranks)
    }
}
