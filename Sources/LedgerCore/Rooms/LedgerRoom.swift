/// The account ledger room (docs/ARCHITECTURE.md): user accounts with their balances and
/// positions, the system accounts, the insurance fund's positions, and what is derived
/// from positions alone: who holds each symbol, its open interest, and the sums the
/// double entry is checked against.
///
/// It moves money and positions as told and checks that every entry balances
/// (`entryViolation`); it never decides a price, a fill or a liquidation, and never reads
/// a book.
public struct LedgerRoom: Sendable {
    /// In order of first deposit; `accountIndexByID` finds one.
    public internal(set) var accounts: ContiguousArray<Account> = []
    var accountIndexByID = IDTable<UInt32>(filler: 0)
    /// The account the entry's command named, as `execute` resolved it (index `.max`:
    /// none yet), so that applying the entry's events finds it without hashing its id
    /// again (issue 12: "the account index resolved once … and carried"). Scratch, not
    /// state: an id's index never changes, so the pair stays true whatever runs after.
    var resolved: (id: AccountID, index: UInt32) = (0, .max)

    /// The index of an account by id: the one resolved for this entry, or the table's.
    @inline(__always)
    func index(of id: AccountID) -> UInt32? {
        resolved.index != .max && resolved.id == id ? resolved.index : accountIndexByID[id]
    }
    /// Balances of the system accounts: `[asset × SystemAccount.allCases.count + account]`.
    var systemBalancesMinor: ContiguousArray<Int64> = []
    /// Per asset, the sum of `costMinor` over every position settled in it.
    var positionCostTotalMinor: ContiguousArray<Int64> = []
    /// Per asset, the net of every balance change in the current entry; must end at zero.
    var entryNetMinor: ContiguousArray<Int64> = []
    /// The insurance fund's positions, per symbol (taken over from bankrupt accounts).
    public internal(set) var insurancePositions: ContiguousArray<Position> = []
    /// Per symbol, the accounts (dense indexes) with a position, or one that still owes a
    /// settlement in progress: derived from the positions, never journaled.
    var holders: ContiguousArray<HolderSet> = []
    /// Per symbol, of the holders, those short (size < 0): ADL ranks only the side that
    /// meets a bankrupt position, so closing a long visits the shorts alone and closing a
    /// short the holders outside this set. Derived like `holders`.
    var shortHolders: ContiguousArray<HolderSet> = []
    /// Per symbol, Σ long and Σ short position sizes (the insurance fund's included): equal
    /// after every entry (`entryViolation`).
    public internal(set) var openInterest: ContiguousArray<OpenInterest> = []
    /// How many symbols' open interest is not long = short in the current entry (zero
    /// between entries), so that an entry's end checks it without walking every symbol.
    var unbalancedOpenInterest = 0

    public init() {}

    /// Accounts whose room is reserved at once when the world's limits are set.
    static let accountsReservedMax = 1 << 24

    /// An asset was listed: its system balances and sums start at zero.
    public mutating func listAsset() {
        systemBalancesMinor.append(contentsOf: repeatElement(0, count: SystemAccount.allCases.count))
        positionCostTotalMinor.append(0)
        entryNetMinor.append(0)
    }

    /// A symbol was listed: no holder, no open interest, an empty fund position.
    public mutating func listSymbol() {
        insurancePositions.append(Position())
        holders.append(HolderSet())
        shortHolders.append(HolderSet())
        openInterest.append(OpenInterest())
    }

    /// Reserves the accounts array for `accountsMax` accounts (at most
    /// `accountsReservedMax`: 640 MiB of address space, which the kernel backs only as
    /// accounts come). Grown by doubling instead, the array copied every account in the one
    /// deposit that opened the 1,048,577th (5.8 ms; docs/BENCHMARKS.md, "Growth in bounded
    /// steps"). Changes no outcome.
    public mutating func reserveAccounts(_ accountsMax: Int64) {
        accounts.reserveCapacity(Int(min(accountsMax, Int64(Self.accountsReservedMax))))
    }

    /// The dense index of the account with this id, opening it (at the end) if it is new.
    public mutating func open(_ id: AccountID) -> Int {
        if let index = accountIndexByID[id] { return Int(index) }
        precondition(accounts.count < Int(UInt32.max))
        accountIndexByID[id] = UInt32(accounts.count)
        accounts.append(Account(id: id))
        return accounts.count - 1
    }

    /// Where a system account's balance in `asset` is in `systemBalancesMinor`.
    @inline(__always)
    static func systemSlot(_ account: SystemAccount, asset: AssetID) -> Int {
        Int(asset) * SystemAccount.allCases.count + Int(account.rawValue)
    }

    /// The balance of a system account in `asset`.
    public func systemBalance(_ account: SystemAccount, asset: AssetID) -> Int64 {
        let index = Self.systemSlot(account, asset: asset)
        return index < systemBalancesMinor.count ? systemBalancesMinor[index] : 0
    }

    /// One side of the double entry: `amountMinor` into a user account's or a system
    /// account's balance. Every call is paired (`ExchangeState.post`); the entry's net per
    /// asset must be zero when the entry ends.
    @inline(__always)
    public mutating func credit(_ account: LedgerRef, asset: AssetID, amountMinor: Int64) {
        switch account {
        case .user(let index):
            accounts[index].credit(asset, amountMinor)
        case .system(let system):
            systemBalancesMinor[Self.systemSlot(system, asset: asset)] += amountMinor
        }
        entryNetMinor[Int(asset)] += amountMinor
    }

    /// A trade's postings (`Event.forEachPosting`: the maker's, then the taker's; each its
    /// realized PnL from PnL clearing, then its fee to the fees account; a zero is not
    /// posted), with each balance changed once: a user's by its PnL, then less its fee; PnL
    /// clearing by the maker's PnL, then the taker's; the fees account by the two fees.
    /// Every balance ends where the postings one by one leave it, by the same additions in
    /// the same order (an account is given the asset by any posting it gets, as before).
    ///
    /// The entry's net is not moved: each user amount here is one half of a pair whose
    /// other half goes to a system account (PnL to clearing, fee to fees), so the trade's
    /// postings net to zero by construction. What the entry's end checks of them is that
    /// PnL clearing mirrors the open positions' cost; the invariants check that every
    /// asset's balances sum to zero. (One posting at a time, a trade changed the accounts
    /// array up to four times, the system balances four and the entry's net eight, each a
    /// uniqueness check; issue 12, sixteenth steps.)
    @inline(__always)
    mutating func postTrade(
        asset: AssetID, maker: (index: Int, pnlMinor: Int64, feeMinor: Int64), taker: (index: Int, pnlMinor: Int64, feeMinor: Int64)
    ) {
        if maker.pnlMinor != 0 || maker.feeMinor != 0 { accounts[maker.index].credit(asset, maker.pnlMinor, less: maker.feeMinor) }
        if taker.pnlMinor != 0 || taker.feeMinor != 0 { accounts[taker.index].credit(asset, taker.pnlMinor, less: taker.feeMinor) }
        if maker.pnlMinor != 0 || taker.pnlMinor != 0 {
            let clearing = Self.systemSlot(.pnlClearing, asset: asset)
            systemBalancesMinor[clearing] = systemBalancesMinor[clearing] - maker.pnlMinor - taker.pnlMinor
        }
        if maker.feeMinor != 0 || taker.feeMinor != 0 {
            let fees = Self.systemSlot(.fees, asset: asset)
            systemBalancesMinor[fees] = systemBalancesMinor[fees] + maker.feeMinor + taker.feeMinor
        }
    }

    /// A position of account `index` in `symbol` is now `position`: the holder sets follow
    /// (a holder has a size, or a size kept for a settlement it still owes).
    @inline(__always)
    mutating func noteHolding(_ index: Int, symbol: SymbolID, _ position: Position) {
        // Read first, write only on a change: most fills leave a holder a holder on the
        // same side, and a read needs no uniqueness check of the sets' arrays.
        let holds = position.sizeQuantityUnits != 0 || position.fundingFrozen
        if holders[Int(symbol)].contains(index) != holds {
            if holds { holders[Int(symbol)].insert(index) } else { holders[Int(symbol)].remove(index) }
        }
        let isShort = position.sizeQuantityUnits < 0
        if shortHolders[Int(symbol)].contains(index) != isShort {
            if isShort { shortHolders[Int(symbol)].insert(index) } else { shortHolders[Int(symbol)].remove(index) }
        }
    }

    /// Both sides of a trade in `symbol` changed size: its open interest follows them in one
    /// change, and the count of symbols out of balance with it.
    @inline(__always)
    mutating func moveOpenInterest(_ symbol: SymbolID, _ first: (before: Int64, after: Int64), _ second: (before: Int64, after: Int64)) {
        let wasBalanced = openInterest[Int(symbol)].isBalanced
        let isBalanced = openInterest[Int(symbol)].move(first, second)
        if wasBalanced != isBalanced { unbalancedOpenInterest += isBalanced ? -1 : 1 }
    }

    /// A position of `symbol` changed size: its open interest follows, and the count of
    /// symbols out of balance with it.
    @inline(__always)
    mutating func moveOpenInterest(_ symbol: SymbolID, from before: Int64, to after: Int64) {
        let wasBalanced = openInterest[Int(symbol)].isBalanced
        openInterest[Int(symbol)].move(from: before, to: after)
        let isBalanced = openInterest[Int(symbol)].isBalanced
        if wasBalanced != isBalanced { unbalancedOpenInterest += isBalanced ? -1 : 1 }
    }

    /// The lowest holder of `symbol` at or after account index `start` on the side that
    /// meets a bankrupt position closed by `closingSide`: a short for a long closed by
    /// selling, else a holder that is not short (those of size 0 that still owe funding
    /// included).
    @inline(__always)
    func firstHolder(_ symbol: Int, atOrAfter start: Int, meeting closingSide: Side) -> Int? {
        holders[symbol].first(atOrAfter: start, shorts: closingSide == .sell, of: shortHolders[symbol])
    }

    /// True when the entry balances (`entryViolation` is nil): the check every entry's end
    /// makes, without building a message.
    @inline(__always)
    public func entryBalances() -> Bool {
        if unbalancedOpenInterest != 0 { return false }
        let stride = SystemAccount.allCases.count
        let clearing = Int(SystemAccount.pnlClearing.rawValue)
        for asset in entryNetMinor.indices
        where entryNetMinor[asset] != 0 || systemBalancesMinor[asset * stride + clearing] + positionCostTotalMinor[asset] != 0 {
            return false
        }
        return true
    }

    /// What an entry's end checks of the ledger, cheaply: every asset's balance changes net
    /// to zero, PnL clearing mirrors the cost of the open positions, every symbol's open
    /// interest is long = short. The first that fails, or nil.
    public func entryViolation(sequence: SequenceNumber) -> String? {
        for asset in entryNetMinor.indices {
            if entryNetMinor[asset] != 0 { return "entry \(sequence) does not balance in asset \(asset)" }
            let clearing = systemBalancesMinor[asset * SystemAccount.allCases.count + Int(SystemAccount.pnlClearing.rawValue)]
            if clearing + positionCostTotalMinor[asset] != 0 {
                return "entry \(sequence): PnL clearing does not mirror open positions in asset \(asset)"
            }
        }
        if unbalancedOpenInterest != 0 {
            let symbol = openInterest.firstIndex { !$0.isBalanced }
            return "entry \(sequence): open interest of symbol \(symbol ?? -1) is not long = short"
        }
        return nil
    }
}
