import LedgerCore

/// How much recent history the daemon keeps in memory (`history.*`, docs/OPERATIONS.md).
package struct HistoryLimits: Sendable, Hashable {
    /// Closed orders kept (open orders are always known); 188 bytes each with its link.
    package var ordersMax = 200_000
    /// Trades kept for `userTrades` (and their income); 152 bytes each with their links.
    package var tradesMax = 500_000
    /// Income records other than a trade's: transfers, funding, the PnL of takeovers and
    /// ADL, liquidation clearing, bad debt covered; 68 bytes each with its link. A trade's realized
    /// PnL and commission are read from the trade, kept as long as it is (`tradesMax`).
    package var incomeMax = 500_000
    /// Liquidation and ADL orders kept for `forceOrders`.
    package var forceOrdersMax = 100_000
    /// The ceiling of each `history.*` key.
    package static let recordsMax: Int64 = 100_000_000
    /// Public trades per symbol (`/v1/trades`): Binance's largest page.
    package static let publicTradesPerSymbol = 1_000

    package init() {}
}

/// A trade as `userTrades` and `trades` show it.
struct TradeRecord: Sendable {
    var trade: Trade
    var sequence: SequenceNumber
    var timeNanos: Int64
    /// Where its event is in the entry: its income goes among the entry's other income
    /// records by it (`RecentHistory.income(of:symbols:)`).
    var line: UInt32
}

/// Binance's income record.
struct IncomeRecord: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case transfer = "TRANSFER"
        case realizedPnl = "REALIZED_PNL"
        case commission = "COMMISSION"
        case fundingFee = "FUNDING_FEE"
        /// The liquidation fee and the surplus above bankruptcy, paid to the insurance fund.
        case insuranceClear = "INSURANCE_CLEAR"
        /// The insurance fund paid the account's negative balance (not in Binance's list).
        case badDebtCovered = "BAD_DEBT_COVERED"
    }
    var account: AccountID
    var kind: Kind
    var asset: AssetID
    var symbol: SymbolID?
    var amountMinor: Int64
    var tradeID: TradeID
    var sequence: SequenceNumber
    var timeNanos: Int64
    /// Where the event it comes from is in the entry.
    var line: UInt32
}

/// Where each kept closed order is in the ring of closed orders, by order id: built when
/// something reads by id.
///
/// Taken as each order closed, the index cost a hashed insert for every close and a hashed
/// removal for every record the ring evicts, each a cache and TLB miss in a table of
/// 8 MiB: a sixth to a quarter of the state follower's time at 2,000 accounts, while
/// nothing read it under a load of orders (docs/BENCHMARKS.md, "twenty-fourth steps"). Now
/// the closes are indexed when a read needs them (`catchUp`): before the follower answers
/// reads, before it renders the stream, before a liquidation order is extended. A catch-up
/// indexes the closes since the last one that the ring still keeps, so at most the ring's
/// capacity (`history.orders_max`); those evicted meanwhile cost nothing. An id looked up
/// before its close is indexed is found by a look through the closes not yet indexed,
/// newest first: every lookup is right whether or not the index has caught up.
struct ClosedOrderIndex {
    private var table = IDIndex(engineAssigned: true)
    /// The position of the first close not in the table (those before it that the ring
    /// still keeps are).
    private(set) var indexedEnd = 0

    /// Ids in the table.
    var count: Int { table.count }

    /// The first close `ring` keeps that is not in the table.
    private func firstUnindexed(in ring: RecordRing<OrderRecord>) -> Int { max(indexedEnd, ring.first) }

    /// Where order `id`'s latest close is kept in `ring`, if it is.
    func position(of id: OrderID, in ring: RecordRing<OrderRecord>) -> Int? {
        var position = ring.end - 1
        let unindexed = firstUnindexed(in: ring)
        while position >= unindexed {
            if ring[kept: position].orderID == id { return position }
            position -= 1
        }
        return table[id]
    }

    /// Indexes the closes `ring` keeps that are not indexed yet.
    mutating func catchUp(with ring: RecordRing<OrderRecord>) {
        for position in firstUnindexed(in: ring)..<ring.end { table.insert(ring[kept: position].orderID, position) }
        indexedEnd = ring.end
    }

    /// Before the ring evicts `position`, the close of order `id`.
    mutating func evicting(_ id: OrderID, at position: Int) {
        guard position < indexedEnd else { return }
        // (An order closes once, so its id points here; put back if it did not.)
        if let kept = table.removeValue(forKey: id), kept != position { table.insert(id, kept) }
    }
}

/// The last `capacity` records, oldest first, each at an absolute position that never
/// changes while it is kept. Each record has `linkCount` links: the position of the next
/// record of the same account (−1: none yet), so that an account's records are a chain
/// through the ring (`Chain`) and no list of positions is kept per account.
///
/// A position's place in the storage is found from the oldest one's, kept as records come
/// and go, not by dividing by the capacity (some twenty divisions by a run-time value a
/// trade: its record, its two chains, four income records and what each evicts; taking
/// them out moved the state follower's CPU by nothing measurable, docs/BENCHMARKS.md,
/// "thirteenth steps"). A record is read in place (`[kept:]`), not copied out.
struct RecordRing<Record> {
    let capacity: Int
    let linkCount: Int
    /// The kept records in storage order (full once `capacity` were appended).
    private var slots: [Record] = []
    /// `linkCount` links a place in `slots`, in the same order: the position of the next
    /// record of one of its accounts (−1: none yet).
    private var links: [Int] = []
    /// Beside each link, the slot (in `RecentHistory`'s lists) of the account whose chain
    /// it is: an eviction reads where its accounts' chains are instead of looking each
    /// account up. A slot stays its account's while a chain holds a record of it. (Kept in
    /// one array with the links, 16 bytes a link instead of 12, the follower took 32 fewer
    /// instructions an entry but more time in 7 of 10 timed pairs at 2,000 accounts and 3 of
    /// 3 at 10^6: docs/BENCHMARKS.md, "twenty-second steps".)
    private var owners: [UInt32] = []
    /// The absolute position of the oldest record kept, and of the next one.
    private(set) var first = 0
    private(set) var end = 0
    /// Where `first` is in `slots`.
    private var firstPlace = 0

    init(capacity: Int, linkCount: Int = 0) {
        self.capacity = capacity
        self.linkCount = linkCount
    }

    /// The position the next append evicts, if the ring is full.
    @inline(__always)
    var evictee: Int? { capacity > 0 && end - first == capacity ? first : nil }

    /// Where a kept position (`first ..< end`) is in `slots`.
    @inline(__always)
    private func place(_ position: Int) -> Int {
        let place = firstPlace + (position - first)
        return place >= capacity ? place - capacity : place
    }

    @inline(__always)
    private func isKept(_ position: Int) -> Bool { position >= first && position < end }

    /// Where the kept position's link `which` is in `links` and `owners`.
    @inline(__always)
    private func linkIndex(_ position: Int, _ which: Int) -> Int {
        precondition(isKept(position) && which < linkCount, "no link \(which) at \(position)")
        return place(position) * linkCount + which
    }

    /// Appends (its links −1), evicting the oldest record when the ring is full (read it
    /// first, at `evictee`, if it matters).
    @inline(__always)
    mutating func append(_ record: Record) {
        guard capacity > 0 else { return }
        if end - first == capacity {
            first += 1
            firstPlace = firstPlace + 1 == capacity ? 0 : firstPlace + 1
        }
        if slots.count < capacity {
            // Nothing evicted yet: the next place is the next slot.
            slots.append(record)
            for _ in 0..<linkCount {
                links.append(-1)
                owners.append(0)
            }
        } else {
            let place = place(end)
            slots[place] = record
            for link in 0..<linkCount { links[place * linkCount + link] = -1 }
        }
        end += 1
    }

    subscript(position: Int) -> Record? {
        get { isKept(position) ? slots[place(position)] : nil }
        set {
            guard isKept(position), let newValue else { return }
            slots[place(position)] = newValue
        }
    }

    /// A kept record, read where it lies.
    subscript(kept position: Int) -> Record {
        _read {
            precondition(isKept(position), "no record kept at \(position)")
            yield slots[place(position)]
        }
    }

    /// The kept record's link `which`.
    @inline(__always)
    func link(_ position: Int, _ which: Int) -> Int { links[linkIndex(position, which)] }

    @inline(__always)
    mutating func setLink(_ position: Int, _ which: Int, to next: Int) { links[linkIndex(position, which)] = next }

    /// The slot of the account whose chain holds the kept record's link `which`.
    @inline(__always)
    func owner(_ position: Int, _ which: Int) -> Int { Int(owners[linkIndex(position, which)]) }

    @inline(__always)
    mutating func setOwner(_ position: Int, _ which: Int, to slot: Int) { owners[linkIndex(position, which)] = UInt32(slot) }
}

/// One account's records of one kind in a `RecordRing`: the oldest and the newest kept
/// (−1 when none), linked oldest to newest. The ring evicts its oldest record first, so an
/// evicted record is always the head of each of its accounts' chains.
struct Chain {
    var head = -1
    var tail = -1
    /// Which of the tail record's links is this account's (a trade has two). Kept here, so
    /// that appending does not read the tail record, long out of the cache.
    var tailLink = 0
    var isEmpty: Bool { head < 0 }

    /// Links the record just appended at `position` after the tail; its link `link` is
    /// this account's, whose chains are in slot `owner`.
    @inline(__always)
    mutating func append<Record>(_ position: Int, in ring: inout RecordRing<Record>, link: Int, owner: Int) {
        ring.setOwner(position, link, to: owner)
        if tail >= 0 { ring.setLink(tail, tailLink, to: position) } else { head = position }
        tail = position
        tailLink = link
    }

    /// The head at `position` leaves the ring; its link `link` is this account's.
    @inline(__always)
    mutating func dropHead<Record>(_ position: Int, in ring: RecordRing<Record>, link: Int) {
        precondition(head == position, "the record evicted at \(position) is not its account's oldest (\(head))")
        let next = ring.link(position, link)
        if next < 0 { self = Chain() } else { head = next }
    }

    /// The records, oldest first; `link(record)` is the link of the account's.
    func records<Record>(in ring: RecordRing<Record>, link: (Record) -> Int) -> [Record] {
        var result: [Record] = []
        var position = head
        while position >= 0, let record = ring[position] {
            result.append(record)
            position = ring.link(position, link(record))
        }
        return result
    }
}

/// Recent history, built by the state follower from durable entries only and read on
/// its thread (docs/API.md, "History"): every open order, the last closed orders,
/// trades, income and liquidation orders, each within `HistoryLimits`. An order placed
/// before the daemon's last start is known from the state (`seed`), without its time.
/// Orders are reduced by `OrderLifecycle`, the projector's reducer too.
///
/// The follower records every durable entry here, so at the daemon's full rate this was a
/// quarter of its time (docs/BENCHMARKS.md, "The durable path's threads"): a Swift
/// dictionary per kind and account, looked up for each record added and each evicted, and
/// two sets allocated per trade. Now an account's records are chains through the rings
/// (`Chain`), its chains sit in one slot of `lists`, found by an `IDIndex` (those found are
/// kept by their ids' low bits for the next records; an evicted record's links name them),
/// and a slot is freed when it holds nothing. Open orders are the reducer's (`OpenOrders`), listed per
/// account from the follower's state.
package struct RecentHistory: OrderLifecycleObserver {
    /// An account's chains of each kind. (Its open orders are the state's: see
    /// `openOrders(of:in:)`.)
    struct AccountLists {
        var account: AccountID = 0
        var closed = Chain()
        var trades = Chain()
        var income = Chain()
        var force = Chain()
        var isUnused: Bool { closed.isEmpty && trades.isEmpty && income.isEmpty && force.isEmpty }
    }

    /// An account and its slot in `lists` (−1: none).
    struct AccountSlot {
        var account: AccountID = 0
        var slot = -1
    }

    /// Where the reducer lives. It reduces each entry with this history as its observer,
    /// so it cannot be one of the history's stored properties: it and `self` would change
    /// within one access. (Kept as an optional and swapped out for each entry, it moved its
    /// 184 bytes four times an entry: some 200 of the follower's 4,400 instructions an entry,
    /// docs/BENCHMARKS.md, "twenty-second steps".) Shared only between copies of a history
    /// until one of them records (`reducerForChange`).
    private final class ReducerStorage {
        let reducer: UnsafeMutablePointer<OrderLifecycle>
        init(_ value: OrderLifecycle) {
            reducer = .allocate(capacity: 1)
            reducer.initialize(to: value)
        }
        deinit {
            reducer.deinitialize(count: 1)
            reducer.deallocate()
        }
    }

    let limits: HistoryLimits
    private var reducerStorage = ReducerStorage(OrderLifecycle())
    /// The reducer, read in place.
    private var lifecycle: OrderLifecycle {
        _read { yield reducerStorage.reducer.pointee }
    }

    /// The reducer, this history's own, to change. The observer's methods never reach it
    /// (the reducer is changing while they run).
    private mutating func reducerForChange() -> UnsafeMutablePointer<OrderLifecycle> {
        if !isKnownUniquelyReferenced(&reducerStorage) { reducerStorage = ReducerStorage(reducerStorage.reducer.pointee) }
        return reducerStorage.reducer
    }
    /// Each account's slot in `lists`, while it has records kept.
    private var slotOf = IDIndex()
    private var lists: [AccountLists] = []
    private var freeSlots: [UInt32] = []
    /// Slots `slot(_:)` found, each at the place its account's low bits name (slot −1:
    /// none). An entry records several things of a few accounts: its makers' closed orders
    /// first, then each trade's two sides. With the last two kept, a taker that met several
    /// makers looked each one up again: 280,109 lookups of 78 instructions in 300,000
    /// entries of the load generator's mix (docs/BENCHMARKS.md, "twenty-seventh steps").
    private var foundSlots = [AccountSlot](repeating: AccountSlot(), count: RecentHistory.foundSlotsCount)
    static let foundSlotsCount = 64
    private(set) var closed: RecordRing<OrderRecord>
    private var closedByID = ClosedOrderIndex()
    /// Two links a trade: the maker's, then the taker's (one when they are one account).
    private(set) var trades: RecordRing<TradeRecord>
    /// By symbol id; each allocated with its first trade.
    private var publicTradeRings: [RecordRing<TradeRecord>] = []
    private(set) var income: RecordRing<IncomeRecord>
    private(set) var forceOrders: RecordRing<OrderRecord>
    /// Where each kept liquidation order is in `forceOrders`, by id.
    private var forceByID = IDIndex()
    /// The first entry whose history is complete here (the one after the state at start).
    private(set) var completeFromSequence: SequenceNumber

    package init(limits: HistoryLimits, startingAfter sequence: SequenceNumber) {
        self.limits = limits
        closed = RecordRing(capacity: limits.ordersMax, linkCount: 1)
        trades = RecordRing(capacity: limits.tradesMax, linkCount: 2)
        income = RecordRing(capacity: limits.incomeMax, linkCount: 1)
        forceOrders = RecordRing(capacity: limits.forceOrdersMax, linkCount: 1)
        completeFromSequence = sequence + 1
    }

    /// Accounts with a slot (records kept). For tests.
    var accountsKept: Int { slotOf.count }
    /// Records kept of each kind, and the accounts they belong to. For `FollowerProfile`.
    package var keptCounts: (closed: Int, trades: Int, income: Int, force: Int, accounts: Int) {
        (closed.end - closed.first, trades.end - trades.first, income.end - income.first, forceOrders.end - forceOrders.first, slotOf.count)
    }
    /// Ids indexed: closed orders, liquidation orders. For tests (an id left indexed
    /// after its record leaves the ring would hold memory forever).
    var idsIndexed: (closed: Int, force: Int) { (closedByID.count, forceByID.count) }

    /// The first way the account slots disagree, or nil: a slot in use is its account's
    /// by the index, a free one holds nothing, the slots found and kept are in use and
    /// their accounts', and each kept record's links name its accounts' slots. For tests.
    var slotsDisagreement: String? {
        let free = Set(freeSlots.map(Int.init))
        for slot in lists.indices {
            if free.contains(slot) {
                if !lists[slot].isUnused || lists[slot].account != 0 {
                    return "free slot \(slot) holds account \(lists[slot].account)'s records"
                }
            } else if slotOf[lists[slot].account] != slot {
                return "slot \(slot) of account \(lists[slot].account) is not indexed as its"
            }
        }
        if lists.count - free.count != slotOf.count { return "\(slotOf.count) accounts indexed, \(lists.count - free.count) slots in use" }
        for (place, found) in foundSlots.enumerated() where found.slot >= 0 {
            if free.contains(found.slot) || lists[found.slot].account != found.account {
                return "a slot found (\(found.slot), account \(found.account)) is not that account's"
            }
            if Self.foundPlace(found.account) != place { return "account \(found.account)'s slot found is kept at \(place)" }
        }
        // Each kept record's links name the slots of their accounts.
        func owners<Record>(_ ring: RecordRing<Record>, _ name: String, _ accounts: (Record) -> [AccountID]) -> String? {
            for position in ring.first..<ring.end {
                for (link, account) in accounts(ring[kept: position]).enumerated()
                where lists[ring.owner(position, link)].account != account {
                    return "\(name) record \(position)'s link \(link) names slot \(ring.owner(position, link)), not account \(account)'s"
                }
            }
            return nil
        }
        return owners(closed, "closed", { [$0.account] }) ?? owners(forceOrders, "force", { [$0.account] })
            ?? owners(income, "income", { [$0.account] })
            ?? owners(
                trades, "trade",
                {
                    $0.trade.makerAccount == $0.trade.takerAccount
                        ? [$0.trade.makerAccount] : [$0.trade.makerAccount, $0.trade.takerAccount]
                })
    }

    // MARK: Account slots

    /// The account's slot, made if it has none.
    private mutating func slot(_ account: AccountID) -> Int {
        // An entry records several things of one or two accounts in turn (a trade's sides:
        // their links, PnL and commissions, the orders they closed).
        let place = Self.foundPlace(account)
        let found = foundSlots[place]
        if found.slot >= 0 && found.account == account { return found.slot }
        if let slot = slotOf[account] {
            foundSlots[place] = AccountSlot(account: account, slot: slot)
            return slot
        }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = Int(free)
        } else {
            slot = lists.count
            lists.append(AccountLists())
        }
        lists[slot].account = account
        slotOf.insert(account, slot)
        foundSlots[place] = AccountSlot(account: account, slot: slot)
        return slot
    }

    /// Where an account's slot found is kept in `foundSlots`.
    @inline(__always)
    private static func foundPlace(_ account: AccountID) -> Int { Int(truncatingIfNeeded: account) & (foundSlotsCount - 1) }

    /// Frees the slot if it holds nothing now.
    private mutating func releaseIfUnused(_ slot: Int) {
        guard lists[slot].isUnused else { return }
        slotOf.removeValue(forKey: lists[slot].account)
        let place = Self.foundPlace(lists[slot].account)
        if foundSlots[place].slot == slot { foundSlots[place] = AccountSlot() }
        lists[slot] = AccountLists()
        freeSlots.append(UInt32(slot))
    }

    // MARK: Reads

    var open: OpenOrders { lifecycle.open }

    /// Indexes the closed orders by id (`ClosedOrderIndex`): before reads by id, so that
    /// each finds its order in the index rather than by a look through the closes since the
    /// last catch-up. Changes no answer.
    package mutating func indexClosedOrders() {
        closedByID.catchUp(with: closed)
    }

    /// The position of the first close not indexed by id yet. For tests.
    var closedIndexedEnd: Int { closedByID.indexedEnd }

    func order(_ id: OrderID) -> OrderRecord? {
        if let record = lifecycle.open[id] { return record }
        return closedByID.position(of: id, in: closed).map { closed[kept: $0] }
    }

    private func lists(of account: AccountID) -> AccountLists? {
        slotOf[account].map { lists[$0] }
    }

    /// The account's open orders, by id. `state` is the follower's, after the entries
    /// recorded here: the orders the reducer holds open are the ones open in it, resting or
    /// waiting for their trigger, so the state's lists of them are the account's (a set
    /// of ids per account, kept here as well, cost two hashed changes an order).
    func openOrders(of account: AccountID, in state: borrowing ExchangeState) -> [OrderRecord] {
        state.openOrderIDs(of: account).map { id in
            guard let record = lifecycle.open[id] else { preconditionFailure("order \(id) is open in the state, not in the history") }
            return record
        }
    }

    /// The account's orders kept here, open and closed, by id.
    func orders(of account: AccountID, in state: borrowing ExchangeState) -> [OrderRecord] {
        var result = lists(of: account)?.closed.records(in: closed) { _ in 0 } ?? []
        result += openOrders(of: account, in: state)
        return result.sorted { $0.orderID < $1.orderID }
    }

    func trades(of account: AccountID) -> [TradeRecord] {
        lists(of: account)?.trades.records(in: trades) { $0.trade.makerAccount == account ? 0 : 1 } ?? []
    }

    /// The account's income, oldest first: its income records kept, with the realized PnL
    /// and commission of its trades kept (each side of a trade its PnL, then its
    /// commission; nothing for an amount of 0), in the order of their events.
    func income(of account: AccountID, symbols: borrowing ContiguousArray<SymbolSpec>) -> [IncomeRecord] {
        let kept = lists(of: account)?.income.records(in: income) { _ in 0 } ?? []
        var fromTrades: [IncomeRecord] = []
        for record in trades(of: account) {
            let trade = record.trade
            guard Int(trade.symbol) < symbols.count else { continue }
            let asset = symbols[Int(trade.symbol)].settleAsset
            for isMaker in [true, false] where (isMaker ? trade.makerAccount : trade.takerAccount) == account {
                let pnl = isMaker ? trade.makerRealizedPnlMinor : trade.takerRealizedPnlMinor
                let fee = isMaker ? trade.makerFeeMinor : trade.takerFeeMinor
                for (kind, amount) in [(IncomeRecord.Kind.realizedPnl, pnl), (.commission, -fee)] where amount != 0 {
                    fromTrades.append(
                        IncomeRecord(
                            account: account, kind: kind, asset: asset, symbol: trade.symbol, amountMinor: amount, tradeID: trade.tradeID,
                            sequence: record.sequence, timeNanos: record.timeNanos, line: record.line))
                }
            }
        }
        // Both in (sequence, line) order; no event gives both a trade and an income record.
        var merged: [IncomeRecord] = []
        merged.reserveCapacity(kept.count + fromTrades.count)
        var (next, nextFromTrade) = (0, 0)
        while next < kept.count || nextFromTrade < fromTrades.count {
            let takeKept =
                nextFromTrade == fromTrades.count
                || (next < kept.count
                    && (kept[next].sequence, kept[next].line) < (fromTrades[nextFromTrade].sequence, fromTrades[nextFromTrade].line))
            if takeKept {
                merged.append(kept[next])
                next += 1
            } else {
                merged.append(fromTrades[nextFromTrade])
                nextFromTrade += 1
            }
        }
        return merged
    }

    func forceOrders(of account: AccountID) -> [OrderRecord] {
        lists(of: account)?.force.records(in: forceOrders) { _ in 0 } ?? []
    }

    func publicTrades(_ symbol: SymbolID) -> [TradeRecord] {
        guard Int(symbol) < publicTradeRings.count else { return [] }
        let ring = publicTradeRings[Int(symbol)]
        return (ring.first..<ring.end).compactMap { ring[$0] }
    }

    // MARK: Building

    /// The orders open in the state the follower starts from: their terms and open
    /// quantity are known, their time and earlier fills are not (time 0).
    mutating func seed(from state: borrowing ExchangeState) {
        let reducer = reducerForChange()
        for record in OrderLifecycle.records(openIn: state) {
            reducer.pointee.seed(record)
            orderOpened(record)
        }
    }

    /// Records one durable entry; `state` is the follower's state after it.
    mutating func record(
        _ command: Command, _ events: ArraySlice<Event>, sequence: SequenceNumber, timeNanos: Int64, state: borrowing ExchangeState
    ) {
        let keepsLiquidationsOpen = events.withUnsafeBufferPointer {
            record(command, $0, sequence: sequence, timeNanos: timeNanos, symbols: state.symbols)
        }
        if keepsLiquidationsOpen { endLiquidations(after: state) }
    }

    /// `record(_:_:sequence:timeNanos:state:)` in two steps, for a caller that holds the
    /// state in place (the follower): passed whole, the state was copied from its `inout`
    /// place for every entry (0x570 bytes; docs/BENCHMARKS.md, "twenty-first steps").
    /// This records the entry with the symbols (their settlement assets) and returns true
    /// when `endLiquidations(after:)` must read the state too (a closed liquidation order
    /// is still extendable).
    @discardableResult
    mutating func record(
        _ command: Command, _ events: UnsafeBufferPointer<Event>, sequence: SequenceNumber, timeNanos: Int64,
        symbols: borrowing ContiguousArray<SymbolSpec>
    ) -> Bool {
        // (Its answer returned: `pointee.keepsLiquidationsOpen` copied the reducer whole.)
        let keepsLiquidationsOpen = reducerForChange().pointee.reduce(
            command, events, sequence: sequence, timeNanos: timeNanos, observer: &self)
        var line: UInt32 = 0
        for event in events {
            defer { line += 1 }
            switch event {
            case .trade(let trade):
                recordTrade(trade, sequence: sequence, timeNanos: timeNanos, line: line)
            case .insuranceTakeover(let account, let symbol, _, _, _, let pnl, _):
                addIncome(
                    account, .realizedPnl, symbol: symbol, pnl, symbols: symbols, sequence: sequence, timeNanos: timeNanos, line: line)
            case .autoDeleveraged(let account, let counterparty, let symbol, let side, let price, let quantity, let pnl, let theirs):
                addIncome(
                    account, .realizedPnl, symbol: symbol, pnl, symbols: symbols, sequence: sequence, timeNanos: timeNanos, line: line)
                addIncome(
                    counterparty, .realizedPnl, symbol: symbol, theirs, symbols: symbols, sequence: sequence, timeNanos: timeNanos,
                    line: line)
                // The counterparty's position closed by ADL: a force order of its own.
                var adl = OrderRecord(
                    orderID: 0, account: counterparty, symbol: symbol, side: side.opposite, type: .limit, timeInForce: .ioc,
                    workingType: .markPrice, selfTradePrevention: .expireTaker, reduceOnly: true, closePosition: false,
                    clientOrderID: ClientOrderID(text: "adl_autoclose-\(sequence)") ?? .none, priceUnits: price, stopPriceUnits: 0,
                    callbackRateE8: 0, activationPriceUnits: 0, originalQuantityUnits: quantity, timeNanos: timeNanos,
                    sequence: sequence)
                adl.executedQuantityUnits = quantity
                adl.executedPriceQuantity = Int128(price) * Int128(quantity)
                adl.status = .filled
                adl.autoClose = .adl
                appendForceOrder(adl)
            case .liquidationSettled(let account, let symbol, _, let fee, let surplus):
                addIncome(
                    account, .insuranceClear, symbol: symbol, -(fee + surplus), symbols: symbols, sequence: sequence, timeNanos: timeNanos,
                    line: line)
            case .deposited(let account, let asset, let amount):
                addIncome(account, .transfer, asset: asset, amount, sequence: sequence, timeNanos: timeNanos, line: line)
            case .withdrawn(let account, let asset, let amount):
                addIncome(account, .transfer, asset: asset, -amount, sequence: sequence, timeNanos: timeNanos, line: line)
            case .fundingPaid(let account, let symbol, let amount):
                addIncome(
                    account, .fundingFee, symbol: symbol, -amount, symbols: symbols, sequence: sequence, timeNanos: timeNanos, line: line)
            case .badDebtCovered(let account, let asset, let amount):
                addIncome(account, .badDebtCovered, asset: asset, amount, sequence: sequence, timeNanos: timeNanos, line: line)
            default:
                break
            }
        }
        return keepsLiquidationsOpen
    }

    // MARK: OrderLifecycleObserver

    /// The history keeps orders, not their events.
    package static var observesOrderEvents: Bool { false }

    package mutating func orderClosed(_ record: OrderRecord) {
        let id = record.orderID
        if closed.capacity > 0 {
            if let evictee = closed.evictee {
                let evictedID = closed[kept: evictee].orderID
                let evictedSlot = closed.owner(evictee, 0)
                lists[evictedSlot].closed.dropHead(evictee, in: closed, link: 0)
                closedByID.evicting(evictedID, at: evictee)
                releaseIfUnused(evictedSlot)
            }
            let position = closed.end
            closed.append(record)
            let slot = slot(record.account)
            lists[slot].closed.append(position, in: &closed, link: 0, owner: slot)
        }
        if record.autoClose == .liquidation {
            if let position = appendForceOrder(record) { forceByID.insert(id, position) }
            // (Looked up again: the force order's eviction may have freed and remade it.)
            if let kept = slotOf[record.account] { releaseIfUnused(kept) }
        }
    }

    /// Whether the reducer keeps a closed liquidation order extendable. For tests.
    var keepsLiquidationsOpen: Bool { lifecycle.keepsLiquidationsOpen }

    /// Ends the liquidation orders whose positions are no longer deleveraged in `state`,
    /// the state after the entry just recorded.
    mutating func endLiquidations(after state: borrowing ExchangeState) {
        reducerForChange().pointee.endLiquidations(after: state)
    }

    /// A later entry's takeover or ADL fills of a closed liquidation order.
    package mutating func liquidationExtended(_ record: OrderRecord) {
        if let position = forceByID[record.orderID], forceOrders[position] != nil { forceOrders[position] = record }
        indexClosedOrders()
        if let kept = closedByID.position(of: record.orderID, in: closed) { closed[kept] = record }
    }

    @discardableResult
    private mutating func appendForceOrder(_ record: OrderRecord) -> Int? {
        guard limits.forceOrdersMax > 0 else { return nil }
        if let evictee = forceOrders.evictee {
            let evictedID = forceOrders[kept: evictee].orderID
            let evictedSlot = forceOrders.owner(evictee, 0)
            lists[evictedSlot].force.dropHead(evictee, in: forceOrders, link: 0)
            if forceOrders[kept: evictee].autoClose == .liquidation, forceByID[evictedID] == evictee {
                forceByID.removeValue(forKey: evictedID)
            }
            releaseIfUnused(evictedSlot)
        }
        let position = forceOrders.end
        forceOrders.append(record)
        let slot = slot(record.account)
        lists[slot].force.append(position, in: &forceOrders, link: 0, owner: slot)
        return position
    }

    /// Keeps the trade (its account's chains link it) and its symbol's public trade. Its
    /// income (each side's realized PnL and commission) is read from it, not kept apart:
    /// four income records a trade were the most of what the history wrote, each into a
    /// cold line of its ring (docs/BENCHMARKS.md, "twenty-second steps").
    private mutating func recordTrade(_ trade: Trade, sequence: SequenceNumber, timeNanos: Int64, line: UInt32) {
        let record = TradeRecord(trade: trade, sequence: sequence, timeNanos: timeNanos, line: line)
        if limits.tradesMax > 0 {
            if let evictee = trades.evictee {
                let (maker, taker) = (trades[kept: evictee].trade.makerAccount, trades[kept: evictee].trade.takerAccount)
                let makerSlot = trades.owner(evictee, 0)
                lists[makerSlot].trades.dropHead(evictee, in: trades, link: 0)
                if taker != maker {
                    let takerSlot = trades.owner(evictee, 1)
                    lists[takerSlot].trades.dropHead(evictee, in: trades, link: 1)
                    releaseIfUnused(takerSlot)
                }
                releaseIfUnused(makerSlot)
            }
            let position = trades.end
            trades.append(record)
            let makerSlot = slot(trade.makerAccount)
            lists[makerSlot].trades.append(position, in: &trades, link: 0, owner: makerSlot)
            if trade.takerAccount != trade.makerAccount {
                let takerSlot = slot(trade.takerAccount)
                lists[takerSlot].trades.append(position, in: &trades, link: 1, owner: takerSlot)
            }
        }
        let symbol = Int(trade.symbol)
        while publicTradeRings.count <= symbol { publicTradeRings.append(RecordRing(capacity: HistoryLimits.publicTradesPerSymbol)) }
        publicTradeRings[symbol].append(record)
    }

    private mutating func addIncome(
        _ account: AccountID, _ kind: IncomeRecord.Kind, symbol: SymbolID, _ amount: Int64, symbols: borrowing ContiguousArray<SymbolSpec>,
        sequence: SequenceNumber, timeNanos: Int64, line: UInt32
    ) {
        guard Int(symbol) < symbols.count else { return }
        addIncome(
            account, kind, asset: symbols[Int(symbol)].settleAsset, symbol: symbol, amount, sequence: sequence, timeNanos: timeNanos,
            line: line)
    }

    private mutating func addIncome(
        _ account: AccountID, _ kind: IncomeRecord.Kind, asset: AssetID, symbol: SymbolID? = nil, _ amount: Int64,
        sequence: SequenceNumber, timeNanos: Int64, line: UInt32
    ) {
        guard amount != 0, limits.incomeMax > 0 else { return }
        if let evictee = income.evictee {
            let evictedSlot = income.owner(evictee, 0)
            lists[evictedSlot].income.dropHead(evictee, in: income, link: 0)
            releaseIfUnused(evictedSlot)
        }
        let position = income.end
        income.append(
            IncomeRecord(
                account: account, kind: kind, asset: asset, symbol: symbol, amountMinor: amount, tradeID: 0, sequence: sequence,
                timeNanos: timeNanos, line: line))
        let slot = slot(account)
        lists[slot].income.append(position, in: &income, link: 0, owner: slot)
    }
}
