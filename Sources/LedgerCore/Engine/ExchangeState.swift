/// The whole ledger: assets, symbols, books, accounts, positions and the system accounts.
///
/// One thread owns it. `execute(_:sequence:timeNanos:into:)` validates a command and
/// changes the state only through `apply`, the same function a rebuild runs over journaled
/// events; so executing a command and applying its events give the same state. Nothing in
/// here reads a clock, a random source or a `Dictionary`'s iteration order.
///
/// It is the coordinator of five rooms (docs/ARCHITECTURE.md): `books` (`BookRoom`),
/// `ledger` (`LedgerRoom`), `risk` (`RiskRoom`), `funding` (`FundingRoom`) and
/// `idempotency` (`IdempotencyRoom`). Each room keeps its own state and checks its own
/// consistency; the coordinator owns the entry, its events and the invariants across
/// rooms, and is the only code that reads more than one room.
///
/// Performance notes (docs/BENCHMARKS.md, issue 12): the struct holds ~40 arrays. A call
/// from a mutating method to a non-mutating one that is not inlined copies all of `self`
/// (the hot helpers are static functions over the tables they read); a call on a state
/// held in a class's stored property, into another module, copies it too (the sequencer
/// reaches it through an `inout` access); and a read through an array's getter copies the
/// element (`books.bySymbol[i]` bound to a name retains the book's arrays: the order path
/// reads books through mutating accessors, and never binds an account or a book to a
/// name).
public struct ExchangeState: Sendable {
    // The coordinator's own state: what is listed, the prices, the rules, the entry.
    public internal(set) var assets: ContiguousArray<Asset> = []
    public internal(set) var symbols: ContiguousArray<SymbolSpec> = []
    /// Per symbol, its prices and the constants its money is computed with.
    public internal(set) var markets: ContiguousArray<Market> = []
    /// The limits of the world and the bounded rules (`Command.setWorldLimits`); nil for a
    /// ledger whose journal never set them, which keeps the rules it was written under
    /// (docs/RULES.md, "Limits of the world").
    public internal(set) var worldLimits: WorldLimits? = nil
    /// The sequence of the last entry executed or applied.
    public internal(set) var lastSequence: SequenceNumber = 0
    /// The time the sequencer stamped on the last entry, in nanoseconds since 1970.
    public internal(set) var lastTimeNanos: Int64 = 0
    /// The time of the entry being executed or applied (journal time: funding uses it).
    var entryTimeNanos: Int64 = 0
    /// Index of the current entry's first event in the events array (scratch).
    var entryFirstEvent = 0
    /// (account, symbol) whose resting reduce-only orders to check (scratch).
    var reduceOnlyChecks: [ReduceOnlyCheck] = []
    /// Symbols whose mark or last price moved in this entry (scratch).
    var movedPrices = ScratchList<SymbolID>()
    /// Bounded rules: symbols whose price moved where a conditional order's trigger holds,
    /// waiting for ticks to trigger them (ascending). Derived like
    /// `RiskRoom.pendingLiquidations`: a rebuild finds the same symbols.
    var pendingTriggers: [SymbolID] = []

    // The rooms (docs/ARCHITECTURE.md): each keeps its own state; the coordinator's
    // extensions decide, and tell each room what changed.
    /// Order books, conditional orders, order and trade ids.
    public internal(set) var books = BookRoom()
    /// Accounts, balances, positions, system accounts, holders and open interest.
    public internal(set) var ledger = LedgerRoom()
    /// Danger marks, liquidation work, deleveragings and ADL rankings.
    public internal(set) var risk = RiskRoom()
    /// Funding rates, schedules and settlements in progress.
    public internal(set) var funding = FundingRoom()
    /// Remembered transfer ids and client order ids.
    public internal(set) var idempotency = IdempotencyRoom()

    public init() {}

    /// True under the bounded rules (`worldLimits` set): system work runs in ticks.
    @inline(__always)
    public var isBounded: Bool { worldLimits != nil }

    /// The accounts, in order of first deposit (the ledger room's; for readers outside the
    /// engine: the engine itself reaches `ledger.accounts` in place).
    public var accounts: ContiguousArray<Account> { ledger.accounts }

    /// The account with this id, if it ever received a deposit.
    public func account(_ id: AccountID) -> Account? {
        ledger.accountIndexByID[id].map { ledger.accounts[Int($0)] }
    }

    /// The position of an account in `accounts` (the index the margin queries take), if it
    /// ever received a deposit.
    public func accountIndex(of id: AccountID) -> Int? {
        ledger.accountIndexByID[id].map { Int($0) }
    }

    /// The balance of a system account in `asset`.
    public func systemBalance(_ account: SystemAccount, asset: AssetID) -> Int64 {
        ledger.systemBalance(account, asset: asset)
    }

    /// How many orders rest in the books.
    public var restingOrderCount: Int { books.restingOrderCount }

    /// The resting order with this id, if it is open.
    public func openOrder(_ id: OrderID) -> (symbol: SymbolID, order: RestingOrder)? {
        books.openOrder(id)
    }

    /// The open orders of an account, by symbol and then book priority.
    public func openOrders(of id: AccountID) -> [(symbol: SymbolID, order: RestingOrder)] {
        guard let index = ledger.accountIndexByID[id] else { return [] }
        return books.openOrders(of: ledger.accounts[Int(index)].positions)
    }

    /// The ids of an account's open orders, resting and waiting for their trigger, in id
    /// order.
    public func openOrderIDs(of id: AccountID) -> [OrderID] {
        guard let index = ledger.accountIndexByID[id] else { return [] }
        var ids = books.openOrders(of: ledger.accounts[Int(index)].positions).map(\.order.orderID)
        for symbol in books.conditionalBySymbol.indices where !books.conditionalBySymbol[symbol].isEmpty {
            ids += books.conditionalOrderIDs(ofAccountIndex: index, symbol: SymbolID(symbol))
        }
        return ids.sorted()
    }

    /// A resting order's client order id; none if it has none.
    public func clientOrderID(of order: RestingOrder) -> ClientOrderID {
        books.clientOrderID(of: order)
    }

    /// The id of the order an account placed under `clientOrderID`, open or not.
    public func orderID(account: AccountID, clientOrderID: ClientOrderID) -> OrderID? {
        guard let index = ledger.accountIndexByID[account] else { return nil }
        return idempotency.orderID(ClientOrderKey(accountIndex: index, clientOrderID: clientOrderID))
    }

    /// The record of a completed transfer.
    public func transfer(_ id: TransferID) -> TransferRecord? {
        idempotency.transfer(id)
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
