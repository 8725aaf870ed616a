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
