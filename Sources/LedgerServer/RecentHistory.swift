import LedgerCore

/// How much recent history the daemon keeps in memory (`history.*`, docs/OPERATIONS.md).
package struct HistoryLimits: Sendable, Hashable {
    /// Closed orders kept (open orders are always known); about 200 bytes each.
    package var ordersMax = 200_000
    /// Trades kept for `userTrades`; about 120 bytes each.
    package var tradesMax = 500_000
    /// Income records (transfers, PnL, fees, funding, liquidation fees); about 90 bytes each.
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
}

/// The last `capacity` records, oldest first, each at an absolute position that never
/// changes while it is kept.
struct RecordRing<Record> {
    let capacity: Int
    private var slots: [Record?] = []
    /// The absolute position of the oldest record kept, and of the next one.
    private(set) var first = 0
    private(set) var end = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Appends; returns the record that had to leave, if one did.
    mutating func append(_ record: Record) -> Record? {
        guard capacity > 0 else { return record }
        var evicted: Record?
        if end - first == capacity {
            evicted = slots[first % capacity]
            first += 1
        }
        if slots.count < capacity {
            slots.append(record)
        } else {
            slots[end % capacity] = record
        }
        end += 1
        return evicted
    }

    subscript(position: Int) -> Record? {
        get { position >= first && position < end ? slots[position % capacity] : nil }
        set {
            guard position >= first && position < end, let newValue else { return }
            slots[position % capacity] = newValue
        }
    }
}

/// The absolute positions of one key's records, oldest first.
struct PositionList {
    private var items: [Int] = []
    private var start = 0

    var positions: ArraySlice<Int> { items[start...] }
    var isEmpty: Bool { start == items.count }

    mutating func append(_ position: Int) { items.append(position) }

    /// Drops the positions before `first` (they left the ring).
    mutating func drop(before first: Int) {
        while start < items.count && items[start] < first { start += 1 }
        if start > 64 && start * 2 > items.count {
            items.removeFirst(start)
            start = 0
        }
    }
}

/// Recent history, built by the state follower from durable entries only and read on
/// its thread (docs/API.md, "History"): every open order, the last closed orders,
/// trades, income and liquidation orders, each within `HistoryLimits`. An order placed
/// before the daemon's last start is known from the state (`seed`), without its time.
/// Orders are reduced by `OrderLifecycle`, the projector's reducer too.
struct RecentHistory: OrderLifecycleObserver {
    let limits: HistoryLimits
    private var lifecycle = OrderLifecycle()
    private var openByAccount: [AccountID: Set<OrderID>] = [:]
    private(set) var closed: RecordRing<OrderRecord>
    private var closedByID: [OrderID: Int] = [:]
    private var closedByAccount: [AccountID: PositionList] = [:]
    private(set) var trades: RecordRing<TradeRecord>
    private var tradesByAccount: [AccountID: PositionList] = [:]
    private(set) var publicTrades: [SymbolID: RecordRing<TradeRecord>] = [:]
    private(set) var income: RecordRing<IncomeRecord>
    private var incomeByAccount: [AccountID: PositionList] = [:]
    private(set) var forceOrders: RecordRing<OrderRecord>
    private var forceByAccount: [AccountID: PositionList] = [:]
    /// Where each kept liquidation order is in `forceOrders`, by id.
    private var forceByID: [OrderID: Int] = [:]
    /// The first entry whose history is complete here (the one after the state at start).
    private(set) var completeFromSequence: SequenceNumber

    init(limits: HistoryLimits, startingAfter sequence: SequenceNumber) {
        self.limits = limits
        closed = RecordRing(capacity: limits.ordersMax)
        trades = RecordRing(capacity: limits.tradesMax)
        income = RecordRing(capacity: limits.incomeMax)
        forceOrders = RecordRing(capacity: limits.forceOrdersMax)
        completeFromSequence = sequence + 1
    }

    // MARK: Reads

    var open: [OrderID: OrderRecord] { lifecycle.open }

    func order(_ id: OrderID) -> OrderRecord? {
        if let record = lifecycle.open[id] { return record }
        return closedByID[id].flatMap { closed[$0] }
    }

    /// The account's open orders, by id.
    func openOrders(of account: AccountID) -> [OrderRecord] {
        (openByAccount[account] ?? []).sorted().compactMap { lifecycle.open[$0] }
    }

    /// The account's orders kept here, open and closed, by id.
    func orders(of account: AccountID) -> [OrderRecord] {
        var result = (closedByAccount[account]?.positions ?? []).compactMap { closed[$0] }
        result += openOrders(of: account)
        return result.sorted { $0.orderID < $1.orderID }
    }

    func trades(of account: AccountID) -> [TradeRecord] {
        (tradesByAccount[account]?.positions ?? []).compactMap { trades[$0] }
    }

    func income(of account: AccountID) -> [IncomeRecord] {
        (incomeByAccount[account]?.positions ?? []).compactMap { income[$0] }
    }

    func forceOrders(of account: AccountID) -> [OrderRecord] {
        (forceByAccount[account]?.positions ?? []).compactMap { forceOrders[$0] }
    }

    func publicTrades(_ symbol: SymbolID) -> [TradeRecord] {
        guard let ring = publicTrades[symbol] else { return [] }
        return (ring.first..<ring.end).compactMap { ring[$0] }
    }

    // MARK: Building

    /// The orders open in the state the follower starts from: their terms and open
    /// quantity are known, their time and earlier fills are not (time 0).
    mutating func seed(from state: borrowing ExchangeState) {
        for record in OrderLifecycle.records(openIn: state) {
            lifecycle.seed(record)
            orderOpened(record)
        }
    }

    /// Records one durable entry; `state` is the follower's state after it (for the
    /// symbols' settlement assets).
    mutating func record(
        _ command: Command, _ events: [Event], sequence: SequenceNumber, timeNanos: Int64, state: borrowing ExchangeState
    ) {
        var orders = OrderLifecycle()
        swap(&orders, &lifecycle)
        orders.record(command, events, sequence: sequence, timeNanos: timeNanos, state: state, observer: &self)
        swap(&orders, &lifecycle)
        for event in events {
            switch event {
            case .trade(let trade):
                recordTrade(trade, sequence: sequence, timeNanos: timeNanos, state: state)
            case .insuranceTakeover(let account, let symbol, _, _, _, let pnl, _):
                addIncome(account, .realizedPnl, symbol: symbol, pnl, state: state, sequence: sequence, timeNanos: timeNanos)
            case .autoDeleveraged(let account, let counterparty, let symbol, let side, let price, let quantity, let pnl, let theirs):
                addIncome(account, .realizedPnl, symbol: symbol, pnl, state: state, sequence: sequence, timeNanos: timeNanos)
                addIncome(counterparty, .realizedPnl, symbol: symbol, theirs, state: state, sequence: sequence, timeNanos: timeNanos)
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
                    account, .insuranceClear, symbol: symbol, -(fee + surplus), state: state, sequence: sequence, timeNanos: timeNanos)
            case .deposited(let account, let asset, let amount):
                addIncome(account, .transfer, asset: asset, amount, sequence: sequence, timeNanos: timeNanos)
            case .withdrawn(let account, let asset, let amount):
                addIncome(account, .transfer, asset: asset, -amount, sequence: sequence, timeNanos: timeNanos)
            case .fundingPaid(let account, let symbol, let amount):
                addIncome(account, .fundingFee, symbol: symbol, -amount, state: state, sequence: sequence, timeNanos: timeNanos)
            case .badDebtCovered(let account, let asset, let amount):
                addIncome(account, .badDebtCovered, asset: asset, amount, sequence: sequence, timeNanos: timeNanos)
            default:
                break
            }
        }
    }

    // MARK: OrderLifecycleObserver

    mutating func orderOpened(_ record: OrderRecord) {
        openByAccount[record.account, default: []].insert(record.orderID)
    }

    mutating func orderClosed(_ record: OrderRecord) {
        let id = record.orderID
        openByAccount[record.account]?.remove(id)
        if openByAccount[record.account]?.isEmpty == true { openByAccount[record.account] = nil }
        let position = closed.end
        if let evicted = closed.append(record) {
            closedByID[evicted.orderID] = nil
            closedByAccount[evicted.account]?.drop(before: closed.first)
            if closedByAccount[evicted.account]?.isEmpty == true { closedByAccount[evicted.account] = nil }
        }
        if limits.ordersMax > 0 {
            closedByID[id] = position
            closedByAccount[record.account, default: PositionList()].append(position)
        }
        if record.autoClose == .liquidation, let position = appendForceOrder(record) { forceByID[id] = position }
    }

    /// A later entry's takeover or ADL fills of a closed liquidation order.
    mutating func liquidationExtended(_ record: OrderRecord) {
        if let position = forceByID[record.orderID], forceOrders[position] != nil { forceOrders[position] = record }
        if let kept = closedByID[record.orderID], closed[kept] != nil { closed[kept] = record }
    }

    @discardableResult
    private mutating func appendForceOrder(_ record: OrderRecord) -> Int? {
        guard limits.forceOrdersMax > 0 else { return nil }
        let position = forceOrders.end
        if let evicted = forceOrders.append(record) {
            forceByAccount[evicted.account]?.drop(before: forceOrders.first)
            if forceByAccount[evicted.account]?.isEmpty == true { forceByAccount[evicted.account] = nil }
            if evicted.autoClose == .liquidation, forceByID[evicted.orderID] ?? -1 < forceOrders.first {
                forceByID[evicted.orderID] = nil
            }
        }
        forceByAccount[record.account, default: PositionList()].append(position)
        return position
    }

    private mutating func recordTrade(_ trade: Trade, sequence: SequenceNumber, timeNanos: Int64, state: borrowing ExchangeState) {
        let record = TradeRecord(trade: trade, sequence: sequence, timeNanos: timeNanos)
        if limits.tradesMax > 0 {
            let position = trades.end
            if let evicted = trades.append(record) {
                for account in Set([evicted.trade.makerAccount, evicted.trade.takerAccount]) {
                    tradesByAccount[account]?.drop(before: trades.first)
                    if tradesByAccount[account]?.isEmpty == true { tradesByAccount[account] = nil }
                }
            }
            for account in Set([trade.makerAccount, trade.takerAccount]) {
                tradesByAccount[account, default: PositionList()].append(position)
            }
        }
        _ = publicTrades[trade.symbol, default: RecordRing(capacity: HistoryLimits.publicTradesPerSymbol)].append(record)
        for (account, fee, pnl) in [
            (trade.makerAccount, trade.makerFeeMinor, trade.makerRealizedPnlMinor),
            (trade.takerAccount, trade.takerFeeMinor, trade.takerRealizedPnlMinor),
        ] {
            addIncome(
                account, .realizedPnl, symbol: trade.symbol, pnl, state: state, tradeID: trade.tradeID, sequence: sequence,
                timeNanos: timeNanos)
            addIncome(
                account, .commission, symbol: trade.symbol, -fee, state: state, tradeID: trade.tradeID, sequence: sequence,
                timeNanos: timeNanos)
        }
    }

    private mutating func addIncome(
        _ account: AccountID, _ kind: IncomeRecord.Kind, symbol: SymbolID, _ amount: Int64, state: borrowing ExchangeState,
        tradeID: TradeID = 0, sequence: SequenceNumber, timeNanos: Int64
    ) {
        guard Int(symbol) < state.symbols.count else { return }
        addIncome(
            account, kind, asset: state.symbols[Int(symbol)].settleAsset, symbol: symbol, amount, tradeID: tradeID, sequence: sequence,
            timeNanos: timeNanos)
    }

    private mutating func addIncome(
        _ account: AccountID, _ kind: IncomeRecord.Kind, asset: AssetID, symbol: SymbolID? = nil, _ amount: Int64,
        tradeID: TradeID = 0, sequence: SequenceNumber, timeNanos: Int64
    ) {
        guard amount != 0, limits.incomeMax > 0 else { return }
        let position = income.end
        if let evicted = income.append(
            IncomeRecord(
                account: account, kind: kind, asset: asset, symbol: symbol, amountMinor: amount, tradeID: tradeID, sequence: sequence,
                timeNanos: timeNanos))
        {
            incomeByAccount[evicted.account]?.drop(before: income.first)
            if incomeByAccount[evicted.account]?.isEmpty == true { incomeByAccount[evicted.account] = nil }
        }
        incomeByAccount[account, default: PositionList()].append(position)
    }
}
