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

/// Binance's order status.
enum OrderStatus: String, Sendable {
    case new = "NEW"
    case partiallyFilled = "PARTIALLY_FILLED"
    case filled = "FILLED"
    case canceled = "CANCELED"
    case expired = "EXPIRED"
    /// Expired by self-trade prevention.
    case expiredInMatch = "EXPIRED_IN_MATCH"
}

/// An order as `GET /v1/order` shows it, kept from its acceptance to its end.
struct OrderRecord: Sendable {
    enum AutoClose: String, Sendable {
        case liquidation = "LIQUIDATION"
        case adl = "ADL"
    }
    var orderID: OrderID
    var account: AccountID
    var symbol: SymbolID
    var side: Side
    var type: OrderType
    var timeInForce: TimeInForce
    var workingType: WorkingType
    var selfTradePrevention: SelfTradePrevention
    var reduceOnly: Bool
    var closePosition: Bool
    var clientOrderID: ClientOrderID
    var priceUnits: Int64
    var stopPriceUnits: Int64
    var callbackRateE8: Int64
    var activationPriceUnits: Int64
    /// What was asked: executed plus open, after amendments.
    var originalQuantityUnits: Int64
    var executedQuantityUnits: Int64 = 0
    /// Σ price × quantity of the fills, in price units × quantity units.
    var executedPriceQuantity: Int128 = 0
    var openQuantityUnits: Int64 = 0
    var status: OrderStatus = .new
    /// In the book or waiting for its trigger.
    var isOpen = false
    /// A conditional order whose trigger fired.
    var triggered = false
    var autoClose: AutoClose?
    var timeNanos: Int64
    var updateNanos: Int64
    var sequence: SequenceNumber
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
struct RecentHistory {
    let limits: HistoryLimits
    private(set) var open: [OrderID: OrderRecord] = [:]
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
    /// The liquidation order of (account, symbol) a takeover or an ADL adds to: open, or
    /// at a position in `forceOrders`.
    private var liquidations: [LiquidationKey: Int] = [:]
    private var openLiquidations: [LiquidationKey: OrderID] = [:]
    /// Orders the entry being recorded took as taker; closed at its end unless they rested.
    private var working: [OrderID] = []
    /// The first entry whose history is complete here (the one after the state at start).
    private(set) var completeFromSequence: SequenceNumber

    struct LiquidationKey: Hashable {
        var account: AccountID
        var symbol: SymbolID
    }

    init(limits: HistoryLimits, startingAfter sequence: SequenceNumber) {
        self.limits = limits
        closed = RecordRing(capacity: limits.ordersMax)
        trades = RecordRing(capacity: limits.tradesMax)
        income = RecordRing(capacity: limits.incomeMax)
        forceOrders = RecordRing(capacity: limits.forceOrdersMax)
        completeFromSequence = sequence + 1
    }

    // MARK: Reads

    func order(_ id: OrderID) -> OrderRecord? {
        if let record = open[id] { return record }
        return closedByID[id].flatMap { closed[$0] }
    }

    /// The account's open orders, by id.
    func openOrders(of account: AccountID) -> [OrderRecord] {
        (openByAccount[account] ?? []).sorted().compactMap { open[$0] }
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
        for account in state.accounts {
            for (symbol, order) in state.openOrders(of: account.id) {
                var record = OrderRecord(
                    orderID: order.orderID, account: account.id, symbol: symbol, side: order.side, type: .limit, timeInForce: .gtc,
                    workingType: .contractPrice, selfTradePrevention: .expireTaker, reduceOnly: order.reduceOnly, closePosition: false,
                    clientOrderID: state.clientOrderID(of: order), priceUnits: order.priceUnits, stopPriceUnits: 0, callbackRateE8: 0,
                    activationPriceUnits: 0, originalQuantityUnits: order.openQuantityUnits, timeNanos: 0, updateNanos: 0, sequence: 0)
                record.openQuantityUnits = order.openQuantityUnits
                record.isOpen = true
                insertOpen(record)
            }
        }
        for market in state.markets {
            for conditional in market.conditionalOrders {
                var record = Self.record(
                    conditional.order, id: conditional.orderID, account: conditional.order.account, sequence: 0, time: 0)
                record.isOpen = true
                insertOpen(record)
            }
        }
    }

    static func record(_ order: PlaceOrder, id: OrderID, account: AccountID, sequence: SequenceNumber, time: Int64) -> OrderRecord {
        OrderRecord(
            orderID: id, account: account, symbol: order.symbol, side: order.side, type: order.type, timeInForce: order.timeInForce,
            workingType: order.workingType, selfTradePrevention: order.selfTradePrevention, reduceOnly: order.reduceOnly,
            closePosition: order.closePosition, clientOrderID: order.clientOrderID, priceUnits: order.priceUnits,
            stopPriceUnits: order.stopPriceUnits, callbackRateE8: order.callbackRateE8, activationPriceUnits: order.activationPriceUnits,
            originalQuantityUnits: order.quantityUnits, timeNanos: time, updateNanos: time, sequence: sequence)
    }

    private mutating func insertOpen(_ record: OrderRecord) {
        open[record.orderID] = record
        openByAccount[record.account, default: []].insert(record.orderID)
    }

    /// Records one durable entry; `state` is the follower's state after it (for the
    /// symbols' settlement assets).
    mutating func record(
        _ command: Command, _ events: [Event], sequence: SequenceNumber, timeNanos: Int64, state: borrowing ExchangeState
    ) {
        working.removeAll(keepingCapacity: true)
        for event in events {
            switch event {
            case .orderAccepted(let id):
                guard case .placeOrder(let order) = command else { continue }
                insertOpen(Self.record(order, id: id, account: order.account, sequence: sequence, time: timeNanos))
                working.append(id)
            case .conditionalOrderPlaced(let id):
                guard case .placeOrder(let order) = command else { continue }
                var record = Self.record(order, id: id, account: order.account, sequence: sequence, time: timeNanos)
                record.isOpen = true
                insertOpen(record)
            case .conditionalOrderTriggered(let id, _):
                update(id, timeNanos) {
                    $0.triggered = true
                    $0.isOpen = false
                }
                working.append(id)
            case .triggeredOrderRejected(let id, _):
                close(id, .expired, timeNanos)
            case .conditionalOrderCancelled(let id), .orderCancelled(let id, _):
                close(id, .canceled, timeNanos)
            case .orderExpired(let id, _, let reason), .restingOrderExpired(let id, _, let reason):
                close(id, reason == .selfTrade ? .expiredInMatch : .expired, timeNanos)
            case .orderRested(let id, let quantity):
                update(id, timeNanos) {
                    $0.openQuantityUnits = quantity
                    $0.isOpen = true
                    $0.originalQuantityUnits = $0.executedQuantityUnits + quantity
                    $0.status = $0.executedQuantityUnits == 0 ? .new : .partiallyFilled
                }
            case .orderReduced(let id, let quantity):
                update(id, timeNanos) {
                    $0.openQuantityUnits -= quantity
                    $0.originalQuantityUnits -= quantity
                }
            case .orderAmended(let id, let price, let quantity):
                update(id, timeNanos) {
                    $0.priceUnits = price
                    $0.isOpen = false
                    $0.openQuantityUnits = 0
                    $0.originalQuantityUnits = $0.executedQuantityUnits + quantity
                }
                working.append(id)
            case .trade(let trade):
                recordTrade(trade, sequence: sequence, timeNanos: timeNanos, state: state)
            case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
                var record = OrderRecord(
                    orderID: id, account: account, symbol: symbol, side: side, type: .limit, timeInForce: .ioc,
                    workingType: .markPrice, selfTradePrevention: .expireTaker, reduceOnly: true, closePosition: false,
                    clientOrderID: ClientOrderID(text: "autoclose-\(sequence)") ?? .none, priceUnits: price, stopPriceUnits: 0,
                    callbackRateE8: 0, activationPriceUnits: 0, originalQuantityUnits: quantity, timeNanos: timeNanos,
                    updateNanos: timeNanos, sequence: sequence)
                record.autoClose = .liquidation
                insertOpen(record)
                working.append(id)
                openLiquidations[LiquidationKey(account: account, symbol: symbol)] = id
            case .insuranceTakeover(let account, let symbol, _, let price, let quantity, let pnl, _):
                addToLiquidation(LiquidationKey(account: account, symbol: symbol), price: price, quantity: quantity, timeNanos)
                addIncome(account, .realizedPnl, symbol: symbol, pnl, state: state, sequence: sequence, timeNanos: timeNanos)
            case .autoDeleveraged(let account, let counterparty, let symbol, let side, let price, let quantity, let pnl, let theirs):
                addToLiquidation(LiquidationKey(account: account, symbol: symbol), price: price, quantity: quantity, timeNanos)
                addIncome(account, .realizedPnl, symbol: symbol, pnl, state: state, sequence: sequence, timeNanos: timeNanos)
                addIncome(counterparty, .realizedPnl, symbol: symbol, theirs, state: state, sequence: sequence, timeNanos: timeNanos)
                // The counterparty's position closed by ADL: a force order of its own.
                var adl = OrderRecord(
                    orderID: 0, account: counterparty, symbol: symbol, side: side.opposite, type: .limit, timeInForce: .ioc,
                    workingType: .markPrice, selfTradePrevention: .expireTaker, reduceOnly: true, closePosition: false,
                    clientOrderID: ClientOrderID(text: "adl_autoclose-\(sequence)") ?? .none, priceUnits: price, stopPriceUnits: 0,
                    callbackRateE8: 0, activationPriceUnits: 0, originalQuantityUnits: quantity, timeNanos: timeNanos,
                    updateNanos: timeNanos, sequence: sequence)
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
        // A taker that neither rested nor expired was filled (or, with no fill, ended).
        for id in working {
            guard let record = open[id], !record.isOpen else { continue }
            close(id, record.executedQuantityUnits > 0 ? .filled : .expired, timeNanos)
        }
        for (key, id) in openLiquidations where open[id] == nil {
            openLiquidations[key] = nil
        }
    }

    private mutating func update(_ id: OrderID, _ timeNanos: Int64, _ change: (inout OrderRecord) -> Void) {
        guard var record = open[id] else { return }
        change(&record)
        record.updateNanos = timeNanos
        open[id] = record
    }

    private mutating func close(_ id: OrderID, _ status: OrderStatus, _ timeNanos: Int64) {
        guard var record = open.removeValue(forKey: id) else { return }
        openByAccount[record.account]?.remove(id)
        if openByAccount[record.account]?.isEmpty == true { openByAccount[record.account] = nil }
        record.status = status
        record.isOpen = false
        record.openQuantityUnits = 0
        if status == .filled { record.originalQuantityUnits = record.executedQuantityUnits }
        record.updateNanos = timeNanos
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
        if record.autoClose == .liquidation {
            let key = LiquidationKey(account: record.account, symbol: record.symbol)
            openLiquidations[key] = nil
            if let position = appendForceOrder(record) { liquidations[key] = position }
        }
    }

    @discardableResult
    private mutating func appendForceOrder(_ record: OrderRecord) -> Int? {
        guard limits.forceOrdersMax > 0 else { return nil }
        let position = forceOrders.end
        if let evicted = forceOrders.append(record) {
            forceByAccount[evicted.account]?.drop(before: forceOrders.first)
            if forceByAccount[evicted.account]?.isEmpty == true { forceByAccount[evicted.account] = nil }
            let key = LiquidationKey(account: evicted.account, symbol: evicted.symbol)
            if let kept = liquidations[key], kept < forceOrders.first { liquidations[key] = nil }
        }
        forceByAccount[record.account, default: PositionList()].append(position)
        return position
    }

    /// A takeover or an ADL fill closes part of a liquidated position: it counts toward
    /// the liquidation order's execution (open in this entry, or kept).
    private mutating func addToLiquidation(_ key: LiquidationKey, price: Int64, quantity: Int64, _ timeNanos: Int64) {
        func add(_ record: inout OrderRecord) {
            record.executedQuantityUnits += quantity
            record.executedPriceQuantity += Int128(price) * Int128(quantity)
            record.originalQuantityUnits = max(record.originalQuantityUnits, record.executedQuantityUnits)
            record.updateNanos = timeNanos
        }
        if let id = openLiquidations[key], var record = open[id] {
            add(&record)
            open[id] = record
        } else if let position = liquidations[key], var record = forceOrders[position] {
            add(&record)
            record.status = .filled
            forceOrders[position] = record
            if let kept = closedByID[record.orderID], var order = closed[kept] {
                add(&order)
                order.status = .filled
                closed[kept] = order
            }
        }
    }

    private mutating func recordTrade(_ trade: Trade, sequence: SequenceNumber, timeNanos: Int64, state: borrowing ExchangeState) {
        for (id, isMaker) in [(trade.makerOrderID, true), (trade.takerOrderID, false)] {
            update(id, timeNanos) {
                $0.executedQuantityUnits += trade.quantityUnits
                $0.executedPriceQuantity += Int128(trade.priceUnits) * Int128(trade.quantityUnits)
                if isMaker {
                    $0.openQuantityUnits -= trade.quantityUnits
                    $0.status = .partiallyFilled
                }
            }
            if isMaker, let record = open[id], record.openQuantityUnits == 0 { close(id, .filled, timeNanos) }
        }
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
