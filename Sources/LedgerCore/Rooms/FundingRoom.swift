/// The funding room (docs/ARCHITECTURE.md, docs/RULES.md "Funding"): per symbol, the
/// next funding time, the premium samples and the oracle's rate for the coming
/// settlement, the last rate, and the settlement in progress under the bounded rules;
/// across symbols, the schedule that tells an entry in one comparison whether funding is
/// due.
///
/// It keeps rates and schedules; the payments themselves are postings the coordinator
/// makes in the ledger.
public struct FundingRoom: Sendable {
    /// Per symbol.
    public internal(set) var bySymbol: ContiguousArray<SymbolFunding> = []
    /// The earliest funding time of a symbol with no settlement in progress, `Int64.max`
    /// when none: below it no entry starts a settlement, so the check per command is one
    /// comparison instead of a walk over the symbols (derived: `refreshSchedule`).
    var earliestFundingDueNanos = Int64.max
    /// How many symbols have a settlement in progress (derived).
    var fundingSettlementsOpen = 0

    public init() {}

    /// A symbol was listed at journal time `timeNanos`, with funding every
    /// `intervalSeconds` (none when 0).
    mutating func listSymbol(timeNanos: Int64, intervalSeconds: Int64) {
        var funding = SymbolFunding()
        if intervalSeconds > 0 {
            funding.nextFundingTimeNanos = Self.nextFundingTime(after: timeNanos, intervalSeconds: intervalSeconds)
        }
        bySymbol.append(funding)
        refreshSchedule()
    }

    /// Recomputes `earliestFundingDueNanos` and `fundingSettlementsOpen` after a funding
    /// time or a settlement changed (a listing, a settlement's start or end, a decode).
    mutating func refreshSchedule() {
        var earliest = Int64.max
        var open = 0
        for symbol in bySymbol.indices {
            if bySymbol[symbol].fundingSettlement != nil {
                open += 1
                continue
            }
            let due = bySymbol[symbol].nextFundingTimeNanos
            if due != 0 { earliest = min(earliest, due) }
        }
        earliestFundingDueNanos = earliest
        fundingSettlementsOpen = open
    }

    /// The earliest funding time still to come (journal time), if any symbol has funding.
    var nextFundingTimeNanos: Int64? {
        bySymbol.lazy.map(\.nextFundingTimeNanos).filter { $0 != 0 }.min()
    }

    /// A settlement of `symbol` at `rateE8` was fixed at journal time `timeNanos`: the
    /// samples and the oracle's rate are used up and the next funding time moves on. Under
    /// the bounded rules (`bounded`) the settlement opens, to be paid in steps; the fund's
    /// position as of now is `fundSizeQuantityUnits`.
    mutating func settled(
        _ symbol: Int, rateE8: Int64, markPriceUnits: Int64, timeNanos: Int64, intervalSeconds: Int64, bounded: Bool,
        fundSizeQuantityUnits: Int64
    ) {
        bySymbol[symbol].lastFundingRateE8 = rateE8
        bySymbol[symbol].fundingRateOverrideE8 = nil
        bySymbol[symbol].premiumSampleSumE8 = 0
        bySymbol[symbol].premiumSampleCount = 0
        bySymbol[symbol].nextFundingTimeNanos = Self.nextFundingTime(after: timeNanos, intervalSeconds: intervalSeconds)
        if bounded {
            // The holders as of now owe it (their epoch is now behind).
            precondition(bySymbol[symbol].fundingSettlement == nil, "a settlement of symbol \(symbol) is in progress")
            bySymbol[symbol].fundingEpoch &+= 1
            bySymbol[symbol].fundingSettlement = FundingSettlement(
                rateE8: rateE8, markPriceUnits: markPriceUnits, cursorAccountIndex: 0, fundSizeQuantityUnits: fundSizeQuantityUnits,
                positionsSettled: 0)
        }
        refreshSchedule()
    }

    /// The settlement of `symbol` in progress completed after paying `positions`.
    mutating func completed(_ symbol: Int, positions: UInt64) {
        if let settlement = bySymbol[symbol].fundingSettlement {
            precondition(settlement.positionsSettled == positions, "settlement of symbol \(symbol): \(positions) positions journaled")
        }
        bySymbol[symbol].fundingSettlement = nil
        refreshSchedule()
    }

    /// True when the position owes the settlement in progress in its symbol.
    @inline(__always)
    func owes(_ position: Position, symbol: Int) -> Bool {
        bySymbol[symbol].fundingSettlement != nil && position.fundingEpoch != bySymbol[symbol].fundingEpoch
            && (position.sizeQuantityUnits != 0 || position.fundingFrozen)
    }

    /// The rate the coming settlement of `symbol` uses under `spec`'s terms: the oracle's,
    /// if it set one; otherwise the premium formula over the samples.
    func rateE8(_ symbol: Int, _ spec: SymbolSpec) -> Int64 {
        if let rate = bySymbol[symbol].fundingRateOverrideE8 { return rate }
        return Self.premiumFundingRateE8(
            premiumSumE8: bySymbol[symbol].premiumSampleSumE8, samples: bySymbol[symbol].premiumSampleCount,
            interestE8: spec.fundingInterestRateE8, clampE8: spec.fundingClampRateE8, capE8: spec.fundingCapRateE8)
    }

    /// The premium formula: the mean premium (rounded toward zero) plus the clamped
    /// difference to the interest rate, capped.
    @inlinable
    public static func premiumFundingRateE8(premiumSumE8: Int64, samples: Int64, interestE8: Int64, clampE8: Int64, capE8: Int64)
        -> Int64
    {
        let premium = samples > 0 ? premiumSumE8 / samples : 0
        let rate = premium + min(max(interestE8 - premium, -clampE8), clampE8)
        return min(max(rate, -capE8), capE8)
    }

    /// The first funding time strictly after `timeNanos` for an interval in seconds.
    public static func nextFundingTime(after timeNanos: Int64, intervalSeconds: Int64) -> Int64 {
        let interval = intervalSeconds * 1_000_000_000
        return (timeNanos / interval + 1) * interval
    }

    /// The first way a settlement or the schedule is out of place, or nil: a settlement
    /// only under the bounded rules (`bounded`) with its cursor within `accountCount`, and
    /// the cached schedule as `refreshSchedule` computes it.
    func consistencyViolation(bounded: Bool, accountCount: Int, _ symbols: ContiguousArray<SymbolSpec>) -> String? {
        for symbol in bySymbol.indices {
            if let settlement = bySymbol[symbol].fundingSettlement {
                if !bounded { return "a funding settlement of \(symbols[symbol].name) is in progress without the bounded rules" }
                if Int(settlement.cursorAccountIndex) > accountCount {
                    return "settlement cursor of \(symbols[symbol].name) is past the accounts"
                }
            }
        }
        var schedule = self
        schedule.refreshSchedule()
        if schedule.earliestFundingDueNanos != earliestFundingDueNanos || schedule.fundingSettlementsOpen != fundingSettlementsOpen {
            return "the funding schedule says \(earliestFundingDueNanos) with \(fundingSettlementsOpen) settlements open; "
                + "the symbols say \(schedule.earliestFundingDueNanos) with \(schedule.fundingSettlementsOpen)"
        }
        return nil
    }
}

/// One symbol's funding.
public struct SymbolFunding: Sendable, Hashable {
    /// Journal time of the next funding settlement; 0 when the symbol has no funding.
    public internal(set) var nextFundingTimeNanos: Int64 = 0
    /// A rate the oracle fixed for the coming settlement; it wins over the premium samples.
    public internal(set) var fundingRateOverrideE8: Int64? = nil
    /// Premium-index samples since the last settlement: their sum and count.
    public internal(set) var premiumSampleSumE8: Int64 = 0
    public internal(set) var premiumSampleCount: Int64 = 0
    /// The rate of the last settlement.
    public internal(set) var lastFundingRateE8: Int64 = 0
    /// Bounded rules: settlements started so far; a position square with the latest
    /// carries this number (`Position.fundingEpoch`).
    public internal(set) var fundingEpoch: UInt32 = 0
    /// Bounded rules: the settlement in progress, paid in bounded steps by ticks.
    public internal(set) var fundingSettlement: FundingSettlement? = nil
}
