/// The whole ledger: assets, symbols, books, accounts, positions and the system accounts.
///
/// One thread owns it. `execute(_:sequence:timeNanos:into:)` validates a command and
/// changes the state only through `apply`, the same function a rebuild runs over journaled
/// events; so executing a command and applying its events give the same state. Nothing in
/// here reads a clock, a random source or a `Dictionary`'s iteration order.
///
/// Performance notes (docs/BENCHMARKS.md, issue 12): the struct is 1,072 bytes with ~40
/// arrays inside. A call from a mutating method to a non-mutating one that is not inlined
/// copies all of `self` (the hot helpers are static functions over the tables they read);
/// a call on a state held in a class's stored property, into another module, copies it
/// too (the sequencer reaches it through an `inout` access); and a read through an array's
/// getter copies the element (`markets[i].book` retains the book's arrays: the order path
/// reads books through mutating accessors, and never binds an account or a market to a
/// name).
public struct ExchangeState: Sendable {
    public internal(set) var assets: ContiguousArray<Asset> = []
    public internal(set) var symbols: ContiguousArray<SymbolSpec> = []
    public internal(set) var markets: ContiguousArray<Market> = []
    /// In order of first deposit; `accountIndexByID` finds one.
    public internal(set) var accounts: ContiguousArray<Account> = []
    var accountIndexByID = IDTable<UInt32>(filler: 0)
    /// Order ids are handed out in sequence: runs of 4 keep a new order's entry in the
    /// line of the orders placed just before it.
    var orderLocations = IDTable<OrderLocation>(filler: OrderLocation(symbol: 0, slot: 0), runBits: 2)
    var clientOrders = HashTable<ClientOrderKey, OrderID>(filler: 0)
    /// Open orders (resting or waiting for their trigger) with a client order id: the
    /// records of `clientOrderQueue` that cannot be forgotten (derived, not encoded).
    var openClientOrders = 0
    /// The client order id of each resting order that has one (`RestingOrder
    /// .hasClientOrderID`), by order id; derived from the encoding's orders.
    var restingClientOrderIDs = IDTable<ClientOrderID>(filler: .none, runBits: 2)
    /// Transfer ids are chosen by clients: full hash, no runs.
    var transfers = IDTable<TransferRecord>(
        filler: TransferRecord(sequence: 0, kind: .deposit, transfer: Transfer(transferID: 0, account: 0, asset: 0, amountMinor: 0)))
    /// The idempotency windows and their queues (oldest first).
    public internal(set) var idempotency = IdempotencyWindow.standard
    /// The limits of the world and the bounded rules (`Command.setWorldLimits`); nil for a
    /// ledger whose journal never set them, which keeps the rules it was written under
    /// (docs/RULES.md, "Limits of the world").
    public internal(set) var worldLimits: WorldLimits? = nil
    var transferQueue = FIFO<IdempotencyRecord<TransferID>>()
    var clientOrderQueue = FIFO<IdempotencyRecord<ClientOrderKey>>()
    /// Balances of the system accounts: `[asset × SystemAccount.allCases.count + account]`.
    var systemBalancesMinor: ContiguousArray<Int64> = []
    /// Per asset, the sum of `costMinor` over every position settled in it.
    var positionCostTotalMinor: ContiguousArray<Int64> = []
    /// Per asset, the net of every balance change in the current entry; must end at zero.
    var entryNetMinor: ContiguousArray<Int64> = []
    /// How many symbols' open interest is not long = short in the current entry (zero
    /// between entries), so that an entry's end checks it without walking every market.
    var unbalancedOpenInterest = 0
    public internal(set) var nextOrderID: OrderID = 1
    public internal(set) var nextTradeID: TradeID = 1
    /// The sequence of the last entry executed or applied.
    public internal(set) var lastSequence: SequenceNumber = 0
    /// The time the sequencer stamped on the last entry, in nanoseconds since 1970.
    public internal(set) var lastTimeNanos: Int64 = 0
    /// The time of the entry being executed or applied (journal time: funding uses it).
    var entryTimeNanos: Int64 = 0
    /// The insurance fund's positions, per symbol (taken over from bankrupt accounts).
    public internal(set) var insurancePositions: ContiguousArray<Position> = []
    /// Accounts to check for liquidation before the entry ends (scratch, not state).
    var liquidationCandidates: [UInt32] = []
    /// Bounded rules: the accounts found at or below maintenance margin at the end of an
    /// entry, waiting for a tick to liquidate them, lowest first. Derived, not encoded: a
    /// rebuild finds the same accounts due (`rebuildRiskIndex`), and one no longer due
    /// when its turn comes is passed over without an event.
    var pendingLiquidations = AccountQueue()
    /// (account, symbol) whose resting reduce-only orders to check (scratch).
    var reduceOnlyChecks: [ReduceOnlyCheck] = []
    /// Symbols whose mark or last price moved in this entry (scratch).
    var movedPrices: [SymbolID] = []
    /// Bounded rules: symbols whose price moved where a conditional order's trigger holds,
    /// waiting for ticks to trigger them (ascending). Derived like `pendingLiquidations`:
    /// a rebuild finds the same symbols.
    var pendingTriggers: [SymbolID] = []
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
    /// Index of the current entry's first event in the events array (scratch).
    var entryFirstEvent = 0
    /// The order being applied (scratch).
    var incoming: IncomingOrder?
    /// Where each conditional order waits.
    var conditionalLocations = IDTable<SymbolID>(filler: 0)
    /// Which holders a mark price must check for liquidation (derived, not state).
    var riskIndex = RiskIndex()
    /// The earliest funding time of a symbol with no settlement in progress, `Int64.max`
    /// when none: below it no entry starts a settlement, so the check per command is one
    /// comparison instead of a walk over the markets (derived: `refreshFundingSchedule`).
    var earliestFundingDueNanos = Int64.max
    /// How many symbols have a settlement in progress (derived).
    var fundingSettlementsOpen = 0

    public init() {}

    /// True under the bounded rules (`worldLimits` set): system work runs in ticks.
    @inline(__always)
    public var isBounded: Bool { worldLimits != nil }

    /// The account with this id, if it ever received a deposit.
    public func account(_ id: AccountID) -> Account? {
        accountIndexByID[id].map { accounts[Int($0)] }
    }

    /// The position of an account in `accounts` (the index the margin queries take), if it
    /// ever received a deposit.
    public func accountIndex(of id: AccountID) -> Int? {
        accountIndexByID[id].map { Int($0) }
    }

    /// The balance of a system account in `asset`.
    public func systemBalance(_ account: SystemAccount, asset: AssetID) -> Int64 {
        let index = Int(asset) * SystemAccount.allCases.count + Int(account.rawValue)
        return index < systemBalancesMinor.count ? systemBalancesMinor[index] : 0
    }

    /// How many orders rest in the books.
    public var restingOrderCount: Int { orderLocations.count }

    /// The resting order with this id, if it is open.
    public func openOrder(_ id: OrderID) -> (symbol: SymbolID, order: RestingOrder)? {
        guard let location = orderLocations[id] else { return nil }
        return (location.symbol, markets[Int(location.symbol)].book[location.slot])
    }

    /// The open orders of an account, by symbol and then book priority.
    public func openOrders(of id: AccountID) -> [(symbol: SymbolID, order: RestingOrder)] {
        guard let index = accountIndexByID[id] else { return [] }
        var result: [(SymbolID, RestingOrder)] = []
        for symbol in markets.indices {
            for side in Side.allCases {
                for order in markets[symbol].book.orders(side, of: index) {
                    result.append((SymbolID(symbol), order))
                }
            }
        }
        return result
    }

    /// A resting order's client order id; none if it has none.
    public func clientOrderID(of order: RestingOrder) -> ClientOrderID {
        order.hasClientOrderID ? restingClientOrderIDs[order.orderID] ?? .none : .none
    }

    /// The id of the order an account placed under `clientOrderID`, open or not.
    public func orderID(account: AccountID, clientOrderID: ClientOrderID) -> OrderID? {
        guard let index = accountIndexByID[account] else { return nil }
        return clientOrders[ClientOrderKey(accountIndex: index, clientOrderID: clientOrderID)]
    }

    /// The record of a completed transfer.
    public func transfer(_ id: TransferID) -> TransferRecord? {
        transfers[id]
    }

    /// The settlement notional of `quantityUnits` at `priceUnits` in `symbol`, exact.
    @inlinable
    public func notionalMinor(symbol: SymbolID, priceUnits: Int64, quantityUnits: Int64) -> Int64 {
        priceUnits * quantityUnits * markets[Int(symbol)].notionalFactor
    }
}

/// An account's resting reduce-only orders in a symbol, to be checked against its position.
struct ReduceOnlyCheck: Sendable, Hashable, Comparable {
    var accountIndex: UInt32
    var symbol: SymbolID

    static func < (a: Self, b: Self) -> Bool { (a.accountIndex, a.symbol) < (b.accountIndex, b.symbol) }
}
