/// The risk room (docs/ARCHITECTURE.md, docs/RULES.md "Liquidation"): the danger marks
/// that tell a mark price which holders to check, the accounts waiting for a liquidation
/// check, the liquidations whose deleveraging goes on over several entries, and the ADL
/// rankings built in bounded steps.
///
/// It holds lists of accounts and the work in progress on them; the margin arithmetic
/// that decides whether an account is due reads the ledger and the prices, and lives in
/// the coordinator (`ExchangeState+Margin`, `+RiskIndex`, `+Liquidation`).
public struct RiskRoom: Sendable {
    /// Which holders a mark price must check for liquidation (derived, not state).
    var riskIndex = RiskIndex()
    /// Accounts to check for liquidation before the entry ends (scratch, not state).
    var liquidationCandidates = ScratchList<UInt32>()
    /// The sweep's second list, kept with its room between entries (scratch): the sweep
    /// trades it with `liquidationCandidates`, so the accounts a liquidation notes go into
    /// room that is already there.
    var sweepBatch = ScratchList<UInt32>()
    /// Bounded rules: the accounts found at or below maintenance margin at the end of an
    /// entry, waiting for a tick to liquidate them, lowest first. Derived, not encoded: a
    /// rebuild finds the same accounts due (`rebuildRiskIndex`), and one no longer due
    /// when its turn comes is passed over without an event.
    var pendingLiquidations = AccountQueue()
    /// Bounded rules: liquidations whose ADL went past one entry's budget, the quantity
    /// still to close at the bankruptcy price, in the order they stopped. Encoded (v4):
    /// set by `deleveragingContinues`, reduced by the ADL fills and takeovers that follow.
    public internal(set) var deleveragings: [Deleveraging] = []
    /// Bounded rules: ADL rankings built in bounded steps, one per (symbol, closing side)
    /// at most, each while a deleveraging of its side waits. Encoded (v5).
    public internal(set) var adlRankings: [AdlRanking] = []
    /// Bounded rules: opposing positions the current entry may still score for ADL
    /// (scratch; `Limits.adlScoresPerEntryMax` at each entry's start).
    var adlScoresLeft = 0
    /// The ranking of an ADL in one entry (`deleverageRanked`), kept with its room between
    /// entries (scratch).
    var adlRankScratch = ScratchList<AdlRanking.Rank>()

    public init() {}

    /// Where the ranking of (`symbol`, closing `side`) is in `adlRankings`, if there is one.
    func adlRankingIndex(symbol: SymbolID, side: Side) -> Int? {
        adlRankings.firstIndex { $0.symbol == symbol && $0.side == side }
    }

    /// A deleveraging (`deleveragingContinues`) stopped with `remaining` still to close;
    /// none is left when `remaining` is 0.
    mutating func deleveragingContinues(_ deleveraging: Deleveraging) {
        deleveragings.removeAll { $0.accountIndex == deleveraging.accountIndex && $0.symbol == deleveraging.symbol }
        if deleveraging.remainingQuantityUnits > 0 { deleveragings.append(deleveraging) }
        dropIdleAdlRankings()
    }

    /// A continued liquidation closed `quantity` more: what is left of it shrinks.
    mutating func deleveraged(_ accountIndex: UInt32, _ symbol: SymbolID, _ quantity: Int64) {
        guard let slot = deleveragings.firstIndex(where: { $0.accountIndex == accountIndex && $0.symbol == symbol }) else { return }
        deleveragings[slot].remainingQuantityUnits -= quantity
        if deleveragings[slot].remainingQuantityUnits <= 0 {
            deleveragings.remove(at: slot)
            dropIdleAdlRankings()
        }
    }

    /// Drops the ADL rankings whose side has no deleveraging waiting any more.
    mutating func dropIdleAdlRankings() {
        guard !adlRankings.isEmpty else { return }
        adlRankings.removeAll { ranking in
            !deleveragings.contains { $0.symbol == ranking.symbol && $0.side == ranking.side }
        }
    }
}
