/// Binance's order status.
public enum OrderStatus: String, Sendable, CaseIterable {
    case new = "NEW"
    case partiallyFilled = "PARTIALLY_FILLED"
    case filled = "FILLED"
    case canceled = "CANCELED"
    case expired = "EXPIRED"
    /// Expired by self-trade prevention.
    case expiredInMatch = "EXPIRED_IN_MATCH"
}

/// An order as `GET /v1/order` and the `orders` read model show it, from its acceptance
/// to its end, reduced from the journal's events by `OrderLifecycle`.
public struct OrderRecord: Sendable, Hashable {
    /// The engine's own orders that close a position.
    public enum AutoClose: String, Sendable, CaseIterable {
        case liquidation = "LIQUIDATION"
        case adl = "ADL"
    }
    public var orderID: OrderID
    public var account: AccountID
    public var symbol: SymbolID
    public var side: Side
    public var type: OrderType
    public var timeInForce: TimeInForce
    public var workingType: WorkingType
    public var selfTradePrevention: SelfTradePrevention
    public var reduceOnly: Bool
    public var closePosition: Bool
    public var clientOrderID: ClientOrderID
    public var priceUnits: Int64
    public var stopPriceUnits: Int64
    public var callbackRateE8: Int64
    public var activationPriceUnits: Int64
    /// What was asked: executed plus open, after amendments.
    public var originalQuantityUnits: Int64
    public var executedQuantityUnits: Int64 = 0
    /// Σ price × quantity of the fills, in price units × quantity units.
    public var executedPriceQuantity: Int128 = 0
    public var openQuantityUnits: Int64 = 0
    public var status: OrderStatus = .new
    /// In the book or waiting for its trigger.
    public var isOpen = false
    /// A conditional order whose trigger fired.
    public var triggered = false
    /// Amended at least once (a new price or quantity, or a reduced quantity).
    public var amended = false
    public var autoClose: AutoClose?
    public var timeNanos: Int64
    public var updateNanos: Int64
    /// The entry that accepted it, and the last entry that changed it.
    public var sequence: SequenceNumber
    public var updateSequence: SequenceNumber

    public init(
        orderID: OrderID, account: AccountID, symbol: SymbolID, side: Side, type: OrderType, timeInForce: TimeInForce,
        workingType: WorkingType, selfTradePrevention: SelfTradePrevention, reduceOnly: Bool, closePosition: Bool,
        clientOrderID: ClientOrderID, priceUnits: Int64, stopPriceUnits: Int64, callbackRateE8: Int64, activationPriceUnits: Int64,
        originalQuantityUnits: Int64, timeNanos: Int64, sequence: SequenceNumber
    ) {
        self.orderID = orderID
        self.account = account
        self.symbol = symbol
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.workingType = workingType
        self.selfTradePrevention = selfTradePrevention
        self.reduceOnly = reduceOnly
        self.closePosition = closePosition
        self.clientOrderID = clientOrderID
        self.priceUnits = priceUnits
        self.stopPriceUnits = stopPriceUnits
        self.callbackRateE8 = callbackRateE8
        self.activationPriceUnits = activationPriceUnits
        self.originalQuantityUnits = originalQuantityUnits
        self.timeNanos = timeNanos
        self.updateNanos = timeNanos
        self.sequence = sequence
        self.updateSequence = sequence
    }

    /// An order as the command placed it.
    public init(_ order: PlaceOrder, id: OrderID, sequence: SequenceNumber, timeNanos: Int64) {
        self.init(
            orderID: id, account: order.account, symbol: order.symbol, side: order.side, type: order.type,
            timeInForce: order.timeInForce, workingType: order.workingType, selfTradePrevention: order.selfTradePrevention,
            reduceOnly: order.reduceOnly, closePosition: order.closePosition, clientOrderID: order.clientOrderID,
            priceUnits: order.priceUnits, stopPriceUnits: order.stopPriceUnits, callbackRateE8: order.callbackRateE8,
            activationPriceUnits: order.activationPriceUnits, originalQuantityUnits: order.quantityUnits, timeNanos: timeNanos,
            sequence: sequence)
    }

    /// The engine's order that closes a liquidated position (IOC at the bankruptcy price).
    public static func liquidation(
        _ id: OrderID, account: AccountID, symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64,
        sequence: SequenceNumber, timeNanos: Int64
    ) -> OrderRecord {
        var record = OrderRecord(
            orderID: id, account: account, symbol: symbol, side: side, type: .limit, timeInForce: .ioc, workingType: .markPrice,
            selfTradePrevention: .expireTaker, reduceOnly: true, closePosition: false,
            clientOrderID: ClientOrderID(text: "autoclose-\(sequence)") ?? .none, priceUnits: priceUnits, stopPriceUnits: 0,
            callbackRateE8: 0, activationPriceUnits: 0, originalQuantityUnits: quantityUnits, timeNanos: timeNanos, sequence: sequence)
        record.autoClose = .liquidation
        return record
    }
}

/// One change to one order, in the journal's order: a row of `order_events`.
public struct OrderEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Accepted (a conditional order: waiting for its trigger); price and quantity asked.
        case new = "NEW"
        /// Its trigger fired at `priceUnits`.
        case triggered = "TRIGGERED"
        /// Triggered, but could not be placed: `reason` names the rule.
        case rejected = "REJECTED"
        case trade = "TRADE"
        /// Its rest went into the book: `quantityUnits` open.
        case rested = "RESTED"
        /// Its open quantity shrank by `quantityUnits`, keeping its priority.
        case reduced = "REDUCED"
        /// It left the book to come back at `priceUnits` with `quantityUnits`.
        case amended = "AMENDED"
        case canceled = "CANCELED"
        /// `quantityUnits` expired; `reason` says why.
        case expired = "EXPIRED"
        /// A liquidation order: the insurance fund took over `quantityUnits`.
        case takeover = "TAKEOVER"
        /// A liquidation order: `quantityUnits` closed against an opposing position.
        case adl = "ADL"
    }
    public var orderID: OrderID
    public var kind: Kind
    /// The index of the journal event in its entry.
    public var line: Int
    public var priceUnits: Int64 = 0
    public var quantityUnits: Int64 = 0
    public var tradeID: TradeID = 0
    public var reason: String?
}

/// Receives what `OrderLifecycle` reduces from an entry.
public protocol OrderLifecycleObserver {
    /// The order entered the open set (accepted, placed to wait for its trigger, or a
    /// liquidation order).
    mutating func orderOpened(_ record: OrderRecord)
    /// It left the open set with its final status.
    mutating func orderClosed(_ record: OrderRecord)
    /// A closed liquidation order gained the takeover or ADL fills of a later entry.
    mutating func liquidationExtended(_ record: OrderRecord)
    mutating func orderEvent(_ event: OrderEvent)
    /// Whether `orderEvent` is wanted at all. The daemon's history keeps no order events:
    /// the reducer then builds none, in `reduce` or for a liquidation's later fills (called
    /// through the witness table, since the reducer is not specialized for an observer of
    /// another module, each cost a call an event).
    static var observesOrderEvents: Bool { get }
}

extension OrderLifecycleObserver {
    public static var observesOrderEvents: Bool { true }
    public mutating func orderOpened(_ record: OrderRecord) {}
    public mutating func orderClosed(_ record: OrderRecord) {}
    public mutating func liquidationExtended(_ record: OrderRecord) {}
    public mutating func orderEvent(_ event: OrderEvent) {}
}

/// The orders as the journal's events make them: every open order with its Binance
/// status, executed quantity and Σ price × quantity, closed with FILLED, CANCELED, EXPIRED
/// or EXPIRED_IN_MATCH. One reducer for the daemon's history (`GET /v1/order`, the stream)
/// and for the projector's `orders` and `order_events`, so the two cannot disagree.
///
/// Bounded by the engine: the open set holds the engine's open orders (resting and
/// conditional), and `continuing` one liquidation order per deleveraging still in progress.
public struct OrderLifecycle: Sendable {
    public struct LiquidationKey: Hashable, Sendable {
        public var account: AccountID
        public var symbol: SymbolID
        public init(account: AccountID, symbol: SymbolID) {
            self.account = account
            self.symbol = symbol
        }
    }

    public private(set) var open = OpenOrders()
    /// Liquidation orders open in the entry being reduced, by position.
    private var openLiquidations: [LiquidationKey: OrderID] = [:]
    /// Closed liquidation orders whose position is still deleveraged in later ticks
    /// (`RiskRoom.deleveragings`): their fills are added as they come.
    public private(set) var continuing: [LiquidationKey: OrderRecord] = [:]
    /// Orders the entry took as taker; closed at its end unless they rested. (An array
    /// emptied for each entry went through `replaceSubrange`: 70 of the state follower's
    /// instructions an entry, docs/BENCHMARKS.md, "twenty-second steps".)
    private var working = ScratchList<OrderID>()

    public init() {}

    /// An order known from elsewhere (the state at start, a read model): open, or a
    /// liquidation order whose deleveraging continues.
    public mutating func seed(_ record: OrderRecord) {
        if record.isOpen {
            open.insert(record)
        } else if record.autoClose == .liquidation {
            continuing[LiquidationKey(account: record.account, symbol: record.symbol)] = record
        }
    }

    /// The orders open in `state` (a snapshot's): their terms and open quantity are known,
    /// their time and earlier fills are not (time 0, sequence 0).
    public static func records(openIn state: borrowing ExchangeState) -> [OrderRecord] {
        var records: [OrderRecord] = []
        for account in state.ledger.accounts {
            for (symbol, order) in state.openOrders(of: account.id) {
                var record = OrderRecord(
                    orderID: order.orderID, account: account.id, symbol: symbol, side: order.side, type: .limit, timeInForce: .gtc,
                    workingType: .contractPrice, selfTradePrevention: .expireTaker, reduceOnly: order.reduceOnly, closePosition: false,
                    clientOrderID: state.clientOrderID(of: order), priceUnits: order.priceUnits, stopPriceUnits: 0, callbackRateE8: 0,
                    activationPriceUnits: 0, originalQuantityUnits: order.openQuantityUnits, timeNanos: 0, sequence: 0)
                record.openQuantityUnits = order.openQuantityUnits
                record.isOpen = true
                records.append(record)
            }
        }
        for list in state.books.conditionalBySymbol {
            for conditional in list {
                var record = OrderRecord(conditional.order, id: conditional.orderID, sequence: 0, timeNanos: 0)
                record.isOpen = true
                records.append(record)
            }
        }
        return records
    }

    /// Reduces one durable entry; `state` is the state after it.
    public mutating func record<Observer: OrderLifecycleObserver>(
        _ command: Command, _ events: ArraySlice<Event>, sequence: SequenceNumber, timeNanos: Int64, state: borrowing ExchangeState,
        observer: inout Observer
    ) {
        events.withUnsafeBufferPointer { reduce(command, $0, sequence: sequence, timeNanos: timeNanos, observer: &observer) }
        if keepsLiquidationsOpen { endLiquidations(after: state) }
    }

    /// `record` without the state: the entry's own events. A caller that holds the state
    /// in place (the daemon's follower) calls `endLiquidations(after:)` itself when
    /// `keepsLiquidationsOpen`, so that the whole state is not passed (and copied by the
    /// compiler from its `inout` place) for every entry. Returns `keepsLiquidationsOpen`
    /// (read by a caller that holds the reducer by a pointer, its `pointee` was copied).
    /// The events are read where they lie (a slice of the follower's array retained and
    /// released its buffer for every entry).
    @discardableResult
    package mutating func reduce<Observer: OrderLifecycleObserver>(
        _ command: Command, _ events: UnsafeBufferPointer<Event>, sequence: SequenceNumber, timeNanos: Int64, observer: inout Observer
    ) -> Bool {
        working.removeAll()
        var line = -1
        let noting = Observer.observesOrderEvents
        func note(_ id: OrderID, _ kind: OrderEvent.Kind, price: Int64 = 0, quantity: Int64 = 0, trade: TradeID = 0, reason: String? = nil)
        {
            guard noting else { return }
            observer.orderEvent(
                OrderEvent(orderID: id, kind: kind, line: line, priceUnits: price, quantityUnits: quantity, tradeID: trade, reason: reason))
        }
        for event in events {
            line += 1
            switch event {
            case .orderAccepted(let id):
                guard case .placeOrder(let order) = command else { continue }
                let record = OrderRecord(order, id: id, sequence: sequence, timeNanos: timeNanos)
                open.insert(record)
                observer.orderOpened(record)
                note(id, .new, price: order.priceUnits, quantity: order.quantityUnits)
                working.append(id)
            case .conditionalOrderPlaced(let id):
                // After its `orderAccepted`: it waits for its trigger.
                update(id, sequence, timeNanos) { $0.isOpen = true }
            case .conditionalOrderTriggered(let id, let price):
                update(id, sequence, timeNanos) {
                    $0.triggered = true
                    $0.isOpen = false
                }
                note(id, .triggered, price: price)
                working.append(id)
            case .triggeredOrderRejected(let id, let reason):
                note(id, .rejected, reason: reason.name)
                close(id, .expired, sequence, timeNanos, &observer)
            case .conditionalOrderCancelled(let id):
                note(id, .canceled)
                close(id, .canceled, sequence, timeNanos, &observer)
            case .orderCancelled(let id, let quantity):
                note(id, .canceled, quantity: quantity)
                close(id, .canceled, sequence, timeNanos, &observer)
            case .orderExpired(let id, let quantity, let reason), .restingOrderExpired(let id, let quantity, let reason):
                note(id, .expired, quantity: quantity, reason: reason.apiName)
                close(id, reason == .selfTrade ? .expiredInMatch : .expired, sequence, timeNanos, &observer)
            case .orderRested(let id, let quantity):
                update(id, sequence, timeNanos) {
                    $0.openQuantityUnits = quantity
                    $0.isOpen = true
                    $0.originalQuantityUnits = $0.executedQuantityUnits + quantity
                    $0.status = $0.executedQuantityUnits == 0 ? .new : .partiallyFilled
                }
                note(id, .rested, quantity: quantity)
            case .orderReduced(let id, let quantity):
                update(id, sequence, timeNanos) {
                    $0.openQuantityUnits -= quantity
                    $0.originalQuantityUnits -= quantity
                    $0.amended = true
                }
                note(id, .reduced, quantity: quantity)
            case .orderAmended(let id, let price, let quantity):
                update(id, sequence, timeNanos) {
                    $0.priceUnits = price
                    $0.isOpen = false
                    $0.openQuantityUnits = 0
                    $0.originalQuantityUnits = $0.executedQuantityUnits + quantity
                    $0.amended = true
                }
                note(id, .amended, price: price, quantity: quantity)
                working.append(id)
            case .trade(let trade):
                // Each side's record changed in place, found once (a list of the two sides
                // and a lookup per change cost an allocation and six lookups a trade).
                for side in 0..<2 {
                    let isMaker = side == 0
                    let id = isMaker ? trade.makerOrderID : trade.takerOrderID
                    let changed = update(id, sequence, timeNanos) {
                        $0.executedQuantityUnits += trade.quantityUnits
                        $0.executedPriceQuantity += Int128(trade.priceUnits) * Int128(trade.quantityUnits)
                        if isMaker {
                            $0.openQuantityUnits -= trade.quantityUnits
                            $0.status = .partiallyFilled
                        }
                    }
                    guard let slot = changed else { continue }
                    note(id, .trade, price: trade.priceUnits, quantity: trade.quantityUnits, trade: trade.tradeID)
                    if isMaker && open[slot: slot].openQuantityUnits == 0 { close(id, .filled, sequence, timeNanos, &observer) }
                }
            case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
                let record = OrderRecord.liquidation(
                    id, account: account, symbol: symbol, side: side, priceUnits: price, quantityUnits: quantity, sequence: sequence,
                    timeNanos: timeNanos)
                open.insert(record)
                observer.orderOpened(record)
                note(id, .new, price: price, quantity: quantity)
                working.append(id)
                openLiquidations[LiquidationKey(account: account, symbol: symbol)] = id
            case .insuranceTakeover(let account, let symbol, _, let price, let quantity, _, _):
                addToLiquidation(
                    LiquidationKey(account: account, symbol: symbol), .takeover, price, quantity, line, sequence, timeNanos, &observer)
            case .autoDeleveraged(let account, _, let symbol, _, let price, let quantity, _, _):
                addToLiquidation(
                    LiquidationKey(account: account, symbol: symbol), .adl, price, quantity, line, sequence, timeNanos, &observer)
            default:
                break
            }
        }
        // A taker that neither rested nor expired was filled (or, with no fill, ended).
        for position in 0..<working.count {
            let id = working[position]
            guard let slot = open.slot(of: id), !open[slot: slot].isOpen else { continue }
            close(id, open[slot: slot].executedQuantityUnits > 0 ? .filled : .expired, sequence, timeNanos, &observer)
        }
        openLiquidations.removeAll(keepingCapacity: true)
        return keepsLiquidationsOpen
    }

    /// True when a closed liquidation order may still be extended: then the entry's
    /// reduction ends with `endLiquidations(after:)`.
    package var keepsLiquidationsOpen: Bool { !continuing.isEmpty }

    /// A liquidation order stays extendable while its position is deleveraged in steps;
    /// `state` is the state after the entry.
    package mutating func endLiquidations(after state: borrowing ExchangeState) {
        var waiting = Set<LiquidationKey>()
        for deleveraging in state.risk.deleveragings where Int(deleveraging.accountIndex) < state.ledger.accounts.count {
            waiting.insert(LiquidationKey(account: state.ledger.accounts[Int(deleveraging.accountIndex)].id, symbol: deleveraging.symbol))
        }
        for key in continuing.keys where !waiting.contains(key) { continuing[key] = nil }
    }

    /// Changes the open order's record in place (found once, not copied out and back);
    /// returns where it is, or nil when the order is not open.
    @discardableResult
    private mutating func update(
        _ id: OrderID, _ sequence: SequenceNumber, _ timeNanos: Int64, _ change: (inout OrderRecord) -> Void
    ) -> Int? {
        guard let slot = open.slot(of: id) else { return nil }
        change(&open[slot: slot])
        open[slot: slot].updateNanos = timeNanos
        open[slot: slot].updateSequence = sequence
        return slot
    }

    private mutating func close<Observer: OrderLifecycleObserver>(
        _ id: OrderID, _ status: OrderStatus, _ sequence: SequenceNumber, _ timeNanos: Int64, _ observer: inout Observer
    ) {
        // Changed and handed on where it lies (taking it out copied its ~200 bytes).
        guard let slot = open.remove(id) else { return }
        Self.markClosed(&open[slot: slot], status, sequence, timeNanos)
        if open[slot: slot].autoClose == .liquidation {
            continuing[LiquidationKey(account: open[slot: slot].account, symbol: open[slot: slot].symbol)] = open[slot: slot]
        }
        observer.orderClosed(open[slot: slot])
    }

    @inline(__always)
    private static func markClosed(_ record: inout OrderRecord, _ status: OrderStatus, _ sequence: SequenceNumber, _ timeNanos: Int64) {
        record.status = status
        record.isOpen = false
        record.openQuantityUnits = 0
        if status == .filled { record.originalQuantityUnits = record.executedQuantityUnits }
        record.updateNanos = timeNanos
        record.updateSequence = sequence
    }

    /// A takeover or an ADL fill closes part of a liquidated position: it counts toward
    /// the liquidation order's execution (open in this entry, or continuing).
    private mutating func addToLiquidation<Observer: OrderLifecycleObserver>(
        _ key: LiquidationKey, _ kind: OrderEvent.Kind, _ price: Int64, _ quantity: Int64, _ line: Int, _ sequence: SequenceNumber,
        _ timeNanos: Int64, _ observer: inout Observer
    ) {
        func add(_ record: inout OrderRecord) {
            record.executedQuantityUnits += quantity
            record.executedPriceQuantity += Int128(price) * Int128(quantity)
            record.originalQuantityUnits = max(record.originalQuantityUnits, record.executedQuantityUnits)
            record.updateNanos = timeNanos
            record.updateSequence = sequence
        }
        if let id = openLiquidations[key], let slot = open.slot(of: id) {
            add(&open[slot: slot])
            if Observer.observesOrderEvents {
                observer.orderEvent(OrderEvent(orderID: id, kind: kind, line: line, priceUnits: price, quantityUnits: quantity))
            }
        } else if var record = continuing[key] {
            add(&record)
            record.status = .filled
            continuing[key] = record
            if Observer.observesOrderEvents {
                observer.orderEvent(
                    OrderEvent(orderID: record.orderID, kind: kind, line: line, priceUnits: price, quantityUnits: quantity))
            }
            observer.liquidationExtended(record)
        }
    }
}

/// The open orders of `OrderLifecycle`, by id: records in a table of slots, reused once
/// free, each found by the books' own `OrderSlotTable` (its location's slot is the
/// record's; its symbol unused). Most open orders have recent ids, which that table finds
/// without hashing. (A Swift dictionary of records hashed each id with SipHash on every
/// change, several times an order, on the state follower's thread at the daemon's full
/// rate: docs/BENCHMARKS.md, "The follower's open orders, the writer's replies".)
public struct OpenOrders: Sendable {
    /// By slot; a free slot's record is stale (its id is not indexed).
    private var records: [OrderRecord] = []
    private var slots = OrderSlotTable()
    private var freeSlots: [Int] = []

    public init() {}

    /// The orders open.
    public var count: Int { slots.count }
    public var isEmpty: Bool { slots.count == 0 }

    public subscript(id: OrderID) -> OrderRecord? {
        slots[id].map { records[Int($0.slot)] }
    }

    /// The open records, in no particular order.
    public var values: [OrderRecord] {
        records.indices.filter { slots[records[$0].orderID]?.slot == Int32($0) }.map { records[$0] }
    }

    /// Where the open order `id` is in `records`.
    @inline(__always)
    package func slot(of id: OrderID) -> Int? { slots[id].map { Int($0.slot) } }

    /// The record in place (by `slot(of:)`, or a slot just freed by `remove`).
    @inline(__always)
    package subscript(slot slot: Int) -> OrderRecord {
        _read { yield records[slot] }
        _modify { yield &records[slot] }
    }

    /// Opens an order, or replaces the record of one open under its id.
    package mutating func insert(_ record: OrderRecord) {
        if let slot = slot(of: record.orderID) {
            records[slot] = record
        } else if let slot = freeSlots.popLast() {
            records[slot] = record
            slots.insert(record.orderID, OrderLocation(symbol: 0, slot: Int32(slot)))
        } else {
            precondition(records.count < Int(Int32.max), "more open orders than a slot table holds")
            slots.insert(record.orderID, OrderLocation(symbol: 0, slot: Int32(records.count)))
            records.append(record)
        }
    }

    /// Closes an order: the slot where its record stays until the next `insert`, or nil
    /// if it was not open.
    package mutating func remove(_ id: OrderID) -> Int? {
        guard let location = slots.removeValue(forKey: id) else { return nil }
        freeSlots.append(Int(location.slot))
        return Int(location.slot)
    }
}
