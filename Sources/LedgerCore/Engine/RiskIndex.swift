/// Which holders a new mark price can bring to maintenance margin (docs/RULES.md,
/// "Which accounts a mark price checks").
///
/// For each account with a position, the last full margin check left a *danger mark* per
/// symbol it holds: the mark at which the slack it found (margin balance − maintenance,
/// split among the positions that share it) could be used up. A new mark checks only the
/// accounts whose danger mark it reached; any other change to an account (a fill, a
/// payment, a transfer, a margin move) marks it dirty, and the end of the entry checks it
/// afresh and replaces its danger marks.
///
/// The index is derived, never journaled or snapshotted, and cannot change an outcome:
/// it only has to name a superset of the accounts that are due, and a check of an account
/// that is not due does nothing. After a rebuild from events or a snapshot it is marked
/// stale and recomputed in full before the next command executes.
struct RiskIndex: Sendable {
    /// Per symbol: longs, keyed by −(danger mark) — a mark at or below it endangers them.
    var longs: ContiguousArray<DangerHeap> = []
    /// Per symbol: shorts, keyed by the danger mark — a mark at or above it endangers them.
    var shorts: ContiguousArray<DangerHeap> = []
    // Per account, one word kept in the account itself (`Account.riskState`, so that
    // touching an account costs no cache line here): the low 30 bits are the generation
    // of its live entries (older entries are stale); the top bit (`dirtyBit`) says it
    // changed since its danger marks were last recorded (it is then also listed in
    // `dirty`); the next (`exactFirstBit`) that its last check of a cross scope found a
    // danger mark, so the next check goes to the exact walk without trying the covered
    // bound first (`CrossDangerBound`; a hint only: either way the marks are the same).
    // The methods that read or write it take the accounts.
    static let dirtyBit: UInt32 = 1 << 31
    static let exactFirstBit: UInt32 = 1 << 30
    static let generationMask: UInt32 = exactFirstBit - 1
    /// Accounts to check afresh when the entry ends; those whose `isDirty` was cleared by
    /// a check in the meantime are skipped (an account may be listed more than once).
    var dirty = ScratchList<UInt32>()
    /// True when the entries do not describe the state (after events were applied without
    /// executing): `ExchangeState.execute` rebuilds it first.
    var isStale = true

    /// Marks an account for a fresh check at the end of the entry (nothing while the index
    /// is stale: applying events for a replay costs nothing here, the rebuild covers it).
    @inline(__always)
    mutating func markDirty(_ accountIndex: Int, _ accounts: inout ContiguousArray<Account>) {
        if isStale { return }
        if accounts[accountIndex].riskState & Self.dirtyBit != 0 { return }
        accounts[accountIndex].riskState |= Self.dirtyBit
        dirty.append(UInt32(accountIndex))
    }

    /// Sets `position` as the account's position in `symbol` and marks the account as
    /// `markDirty` does, in one change of the account (two, a uniqueness check of the
    /// accounts array each, when a fill wrote the position and then marked it).
    @inline(__always)
    mutating func setPosition(
        _ position: Position, symbol: SymbolID, of accountIndex: Int, _ accounts: inout ContiguousArray<Account>
    ) {
        let marking = !isStale
        let newlyDirty = Self.withAccount(accountIndex, &accounts) { account in
            account.positions[Int(symbol)] = position
            guard marking, account.riskState & Self.dirtyBit == 0 else { return false }
            account.riskState |= Self.dirtyBit
            return true
        }
        if newlyDirty { dirty.append(UInt32(accountIndex)) }
    }

    /// `body` with the account where it lies: one access to the array.
    @inline(__always)
    private static func withAccount<Result>(
        _ index: Int, _ accounts: inout ContiguousArray<Account>, _ body: (inout Account) -> Result
    ) -> Result {
        body(&accounts[index])
    }

    /// Drops the dirty marks and declares the entries stale: the next execute rebuilds.
    mutating func invalidate(_ accounts: inout ContiguousArray<Account>) {
        for index in dirty { accounts[Int(index)].riskState &= ~Self.dirtyBit }
        dirty.removeAll()
        isStale = true
    }

    /// Retires an account's live entries (they become stale where they lie).
    static func retire(_ accountIndex: Int, _ accounts: inout ContiguousArray<Account>) {
        // The next generation (mod 2^30), clean, the hint kept.
        let state = accounts[accountIndex].riskState
        accounts[accountIndex].riskState = (state &+ 1) & generationMask | state & exactFirstBit
    }

    /// True when the account's last check of a cross scope found a danger mark.
    @inline(__always)
    static func checksExactFirst(_ accountIndex: Int, _ accounts: ContiguousArray<Account>) -> Bool {
        accounts[accountIndex].riskState & exactFirstBit != 0
    }

    /// Sets or clears the account's `exactFirstBit`.
    @inline(__always)
    static func setChecksExactFirst(_ exactFirst: Bool, _ accountIndex: Int, _ accounts: inout ContiguousArray<Account>) {
        let state = accounts[accountIndex].riskState & ~exactFirstBit
        accounts[accountIndex].riskState = exactFirst ? state | exactFirstBit : state
    }

    /// Records a danger mark for the account's long (`isLong`) or short in `symbol`. A mark
    /// that can never be reached (≤ 0 for a long, > `maxPriceUnits` for a short) is not
    /// stored.
    mutating func add(
        accountIndex: Int, symbol: Int, isLong: Bool, dangerPriceUnits: Int64, maxPriceUnits: Int64, _ accounts: ContiguousArray<Account>
    ) {
        while symbol >= longs.count {
            longs.append(DangerHeap())
            shorts.append(DangerHeap())
        }
        if isLong ? dangerPriceUnits <= 0 : dangerPriceUnits > maxPriceUnits { return }
        let entry = DangerHeap.Entry(
            key: isLong ? -dangerPriceUnits : dangerPriceUnits, accountIndex: UInt32(accountIndex),
            generation: accounts[accountIndex].riskState & Self.generationMask)
        if isLong {
            longs[symbol].push(entry)
            if longs[symbol].isBloated { longs[symbol].compact(keeping: Self.isLive(accounts)) }
        } else {
            shorts[symbol].push(entry)
            if shorts[symbol].isBloated { shorts[symbol].compact(keeping: Self.isLive(accounts)) }
        }
    }

    /// Appends to `candidates` each account whose live danger mark in `symbol` the new
    /// mark reached, and marks it dirty (its fresh check replaces the entries taken out).
    mutating func takeEndangered(
        symbol: Int, markPriceUnits: Int64, _ accounts: inout ContiguousArray<Account>, into candidates: inout ScratchList<UInt32>
    ) {
        guard symbol < longs.count else { return }
        while let entry = longs[symbol].popIfKey(atMost: -markPriceUnits) {
            endangered(entry, &accounts, &candidates)
        }
        while let entry = shorts[symbol].popIfKey(atMost: markPriceUnits) {
            endangered(entry, &accounts, &candidates)
        }
    }

    private mutating func endangered(
        _ entry: DangerHeap.Entry, _ accounts: inout ContiguousArray<Account>, _ candidates: inout ScratchList<UInt32>
    ) {
        guard entry.generation == accounts[Int(entry.accountIndex)].riskState & Self.generationMask else { return }
        candidates.append(entry.accountIndex)
        markDirty(Int(entry.accountIndex), &accounts)
    }

    /// True when the account changed since its danger marks were last recorded.
    static func isDirty(_ account: Account) -> Bool {
        account.riskState & dirtyBit != 0
    }

    /// A filter for `compact` that holds its own reference to the generations.
    private static func isLive(_ accounts: ContiguousArray<Account>) -> (DangerHeap.Entry) -> Bool {
        { $0.generation == accounts[Int($0.accountIndex)].riskState & generationMask }
    }
}
