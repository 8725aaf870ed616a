/// The books room (docs/ARCHITECTURE.md): every symbol's order book and its conditional
/// orders, where each open order is, and the order and trade ids handed out.
///
/// It knows orders, not money: it never reads an account, a position or a price. The
/// coordinator (`ExchangeState`) decides what rests and what fills; this room keeps the
/// books consistent with `orderLocations` and `conditionalLocations`
/// (`consistencyViolation`).
public struct BookRoom: Sendable {
    /// Per symbol, the limit order book.
    public internal(set) var bySymbol: ContiguousArray<OrderBook> = []
    /// Per symbol, the orders waiting for their trigger, in order id order.
    public internal(set) var conditionalBySymbol: ContiguousArray<ConditionalList> = []
    /// Where each resting order is: order ids are handed out in sequence, so the recent ones
    /// index a direct table (`OrderSlotTable`).
    var orderLocations = OrderSlotTable()
    /// Where each conditional order waits.
    var conditionalLocations = IDTable<SymbolID>(filler: 0)
    /// Per symbol, the waiting orders by trigger price (derived from
    /// `conditionalBySymbol`, not encoded): whether a price reaches any trigger, without
    /// a walk over the orders.
    var triggers: ContiguousArray<TriggerIndex> = []
    /// Per account and symbol (`chainKey`), the first and last of its conditional orders,
    /// chained through `ConditionalOrder.nextOfAccount` in id order (derived, not encoded):
    /// a cancel-all or a liquidation finds one account's few orders without a walk over
    /// every order of the symbol.
    var accountChains = IDTable<AccountChain>(filler: AccountChain(head: 0, tail: 0))
    /// The client order id of each resting order that has one (`RestingOrder
    /// .hasClientOrderID`), by order id; derived from the encoding's orders.
    var restingClientOrderIDs = IDTable<ClientOrderID>(filler: .none, runBits: 2)
    public internal(set) var nextOrderID: OrderID = 1
    public internal(set) var nextTradeID: TradeID = 1
    /// The order the events being applied belong to (scratch: set by `orderAccepted`,
    /// `conditionalOrderTriggered`, `orderAmended` and `liquidationOrderPlaced`; read by
    /// `orderRested`).
    var incoming: IncomingOrder?
    /// Room for the orders a cancel of many takes (scratch, neither encoded nor compared:
    /// `ExchangeState.cancelRestingOrders`, for a liquidation or a cancel-all, and
    /// `enforceReduceOnly` take it out, fill it and put it back, so that those cancels
    /// make no array).
    var cancelScratch = ScratchList<RestingOrder>()
    /// The same for the conditional orders' ids.
    var cancelIDScratch = ScratchList<OrderID>()

    public init() {}

    /// A symbol was listed: an empty book and no conditional orders.
    public mutating func listSymbol() {
        bySymbol.append(OrderBook())
        conditionalBySymbol.append(ConditionalList())
        triggers.append(TriggerIndex())
    }

    /// How many orders rest in the books.
    public var restingOrderCount: Int { orderLocations.count }

    /// True while the order rests in a book or waits for its trigger.
    @inline(__always)
    public func isOpen(_ orderID: OrderID) -> Bool {
        orderLocations[orderID] != nil || conditionalLocations[orderID] != nil
    }

    /// Takes the next order id; `orderID` must be it (the journal says which).
    @inline(__always)
    public mutating func takeOrderID(_ orderID: OrderID) {
        precondition(orderID == nextOrderID, "order id \(orderID), expected \(nextOrderID)")
        nextOrderID += 1
    }

    /// Takes the next trade id; `tradeID` must be it.
    @inline(__always)
    public mutating func takeTradeID(_ tradeID: TradeID) {
        precondition(tradeID == nextTradeID, "trade id \(tradeID), expected \(nextTradeID)")
        nextTradeID += 1
    }

    /// Rests an order in its symbol's book, with its client order id if it has one.
    /// `accountLast` is the book slot of the account's last order on the order's side in
    /// the symbol (`none` without one; the ledger keeps it, `PositionTable.Slot
    /// .lastBidSlot`); returns the new one, the order's slot.
    @inline(__always)
    public mutating func rest(
        _ order: RestingOrder, symbol: SymbolID, clientOrderID: ClientOrderID, accountLast: Int32
    ) -> Int32 {
        let slot = bySymbol[Int(symbol)].insert(order, accountLast: accountLast)
        orderLocations.insert(order.orderID, OrderLocation(symbol: symbol, slot: slot))
        if !clientOrderID.isNone { restingClientOrderIDs[order.orderID] = clientOrderID }
        return slot
    }

    /// Takes a resting order out of its book: where it was, the order, its client order
    /// id (none if it had none), and its account's last order on the side when that
    /// changes (`OrderBook.remove`; else `OrderBook.unchanged`).
    @inline(__always)
    public mutating func removeResting(_ orderID: OrderID) -> (
        symbol: SymbolID, order: RestingOrder, clientOrderID: ClientOrderID, accountLast: Int32
    ) {
        let location = orderLocations.removeValue(forKey: orderID)!
        let order = bySymbol[Int(location.symbol)][location.slot]
        let last = bySymbol[Int(location.symbol)].remove(slot: location.slot)
        return (location.symbol, order, forgetClientOrderID(of: order), last)
    }

    /// Fills `quantity` of the resting order `orderID`: the order as it was, whether that
    /// closed it (it is then out of the book, and its client order id forgotten), and then
    /// its account's last order on the side when that changes (else `OrderBook.unchanged`).
    @inline(__always)
    public mutating func fill(_ orderID: OrderID, by quantity: Int64) -> (order: RestingOrder, closed: Bool, accountLast: Int32) {
        let location = orderLocations[orderID]!
        let order = bySymbol[Int(location.symbol)][location.slot]
        let (removed, last) = bySymbol[Int(location.symbol)].reduce(slot: location.slot, by: quantity)
        guard removed else { return (order, false, OrderBook.unchanged) }
        orderLocations.removeValue(forKey: orderID)
        forgetClientOrderID(of: order)
        return (order, true, last)
    }

    /// The oldest order at the best price of `side` in `symbol`'s book, read in place
    /// without a change of the books' array: inlined reads of the book's fields, where
    /// `peekBest` is a mutating access to the array and so a uniqueness check of it every
    /// time (the matching loop asks once an order and once a trade; issue 12, sixteenth
    /// steps). Whether the read copies the book is the optimizer's choice: in the engine's
    /// matching loop it does not (callgrind finds no `memcpy` under `execute`); in
    /// MatcherBench's loop over a room kept in a local it copied the whole book at every
    /// call (memcpy 22.9 M → 134.4 M instructions a pass), so that loop keeps `peekBest`.
    @inline(__always)
    public func bestOrder(_ symbol: SymbolID, _ side: Side) -> RestingOrder? {
        guard let slot = bySymbol[Int(symbol)].bestSlot(side) else { return nil }
        return bySymbol[Int(symbol)][slot]
    }

    /// True when an incoming order would meet the best resting order of the other side of
    /// its book (a market order meets any): false when that side is empty or its best price
    /// is beyond the order's limit. Read in place, as `bestOrder`.
    @inline(__always)
    public func meetsBest(_ order: PlaceOrder) -> Bool {
        guard let best = bySymbol[Int(order.symbol)].bestPrice(order.side.opposite) else { return false }
        return order.crosses(makerPriceUnits: best)
    }

    /// The oldest order at the best price of `side` in `symbol`'s book (`mutating`: the
    /// book is read in place, `OrderBook.peekBest`).
    @inline(__always)
    public mutating func peekBest(_ symbol: SymbolID, _ side: Side) -> RestingOrder? {
        bySymbol[Int(symbol)].peekBest(side)
    }

    /// A resting order that left its book: its client order id, forgotten (none if it had
    /// none).
    @inline(__always)
    @discardableResult
    mutating func forgetClientOrderID(of order: RestingOrder) -> ClientOrderID {
        guard order.hasClientOrderID else { return .none }
        return restingClientOrderIDs.removeValue(forKey: order.orderID)!
    }

    /// A resting order's client order id; none if it has none.
    func clientOrderID(of order: RestingOrder) -> ClientOrderID {
        order.hasClientOrderID ? restingClientOrderIDs[order.orderID] ?? .none : .none
    }

    /// Adds a conditional order to its symbol's list (its id is above every id there).
    mutating func addConditional(_ conditional: ConditionalOrder) {
        let symbol = conditional.order.symbol
        precondition(
            conditionalBySymbol[Int(symbol)].last.map { $0.orderID < conditional.orderID } ?? true,
            "conditional order \(conditional.orderID) is not the newest of its symbol")
        appendConditional(conditional)
    }

    /// Adds a conditional order at the end of its symbol's list, unchecked (a snapshot's
    /// decoder: the sweep after it refuses a list out of id order).
    mutating func appendConditional(_ conditional: ConditionalOrder) {
        let symbol = Int(conditional.order.symbol)
        var added = conditional
        added.nextOfAccount = 0
        let key = Self.chainKey(conditional.accountIndex, conditional.order.symbol)
        if var chain = accountChains[key] {
            setNextOfAccount(chain.tail, symbol: symbol, to: conditional.orderID)
            chain.tail = conditional.orderID
            accountChains[key] = chain
        } else {
            accountChains[key] = AccountChain(head: conditional.orderID, tail: conditional.orderID)
        }
        conditionalBySymbol[symbol].append(added)
        conditionalLocations[conditional.orderID] = SymbolID(symbol)
        triggers[symbol].add(conditional)
    }

    /// The key of an account's chain in a symbol: its index above the symbol's bits.
    @inline(__always)
    static func chainKey(_ accountIndex: UInt32, _ symbol: SymbolID) -> UInt64 {
        UInt64(accountIndex) << 16 | UInt64(symbol)
    }

    /// Points the waiting order `orderID` of `symbol` at the next of its account's chain.
    private mutating func setNextOfAccount(_ orderID: OrderID, symbol: Int, to next: OrderID) {
        guard let position = conditionalBySymbol[symbol].position(of: orderID) else {
            preconditionFailure("conditional order \(orderID) of an account's chain is not in its list")
        }
        conditionalBySymbol[symbol][position].nextOfAccount = next
    }

    /// Takes a removed order out of its account's chain: at most
    /// `Limits.conditionalOrdersPerAccountSymbolMax` steps from the head.
    private mutating func unchain(_ removed: ConditionalOrder) {
        let symbol = Int(removed.order.symbol)
        let key = Self.chainKey(removed.accountIndex, removed.order.symbol)
        guard var chain = accountChains[key] else { preconditionFailure("conditional order \(removed.orderID) has no chain") }
        if chain.head == removed.orderID {
            if removed.nextOfAccount == 0 {
                accountChains.removeValue(forKey: key)
            } else {
                chain.head = removed.nextOfAccount
                accountChains[key] = chain
            }
            return
        }
        var previous = chain.head
        while true {
            guard let position = conditionalBySymbol[symbol].position(of: previous) else {
                preconditionFailure("conditional order \(previous) of an account's chain is not in its list")
            }
            let next = conditionalBySymbol[symbol][position].nextOfAccount
            if next == removed.orderID {
                conditionalBySymbol[symbol][position].nextOfAccount = removed.nextOfAccount
                if chain.tail == removed.orderID {
                    chain.tail = previous
                    accountChains[key] = chain
                }
                return
            }
            precondition(next != 0, "conditional order \(removed.orderID) is not in its account's chain")
            previous = next
        }
    }

    /// An account's waiting conditional orders in a symbol, in id order.
    func conditionalOrderIDs(ofAccountIndex accountIndex: UInt32, symbol: SymbolID) -> [OrderID] {
        var ids = ScratchList<OrderID>()
        appendConditionalOrderIDs(ofAccountIndex: accountIndex, symbol: symbol, to: &ids)
        return Array(ids)
    }

    /// Appends the ids of the account's conditional orders in `symbol` to `list`, in id
    /// order.
    func appendConditionalOrderIDs(ofAccountIndex accountIndex: UInt32, symbol: SymbolID, to list: inout ScratchList<OrderID>) {
        guard let chain = accountChains[Self.chainKey(accountIndex, symbol)] else { return }
        var next = chain.head
        while next != 0, let position = conditionalBySymbol[Int(symbol)].position(of: next) {
            list.append(next)
            next = conditionalBySymbol[Int(symbol)][position].nextOfAccount
        }
    }

    /// Takes a conditional order out of its list.
    mutating func removeConditional(_ orderID: OrderID) -> ConditionalOrder {
        let symbol = Int(conditionalLocations.removeValue(forKey: orderID)!)
        guard let position = conditionalBySymbol[symbol].position(of: orderID) else {
            preconditionFailure("conditional order \(orderID) is not in its list")
        }
        let conditional = conditionalBySymbol[symbol].remove(at: position)
        unchain(conditional)
        if let heap = triggers[symbol].noteRemoved(conditional) {
            let kept = triggers[symbol].entries(heap).filter { conditionalLocations[$0.orderID] != nil }
            triggers[symbol].rebuild(heap, keeping: kept)
        }
        return conditional
    }

    /// The waiting conditional order `orderID`, if there is one (its location, then a
    /// binary search of its symbol's list).
    func waitingConditional(_ orderID: OrderID) -> ConditionalOrder? {
        guard let symbol = conditionalLocations[orderID], let position = conditionalBySymbol[Int(symbol)].position(of: orderID)
        else { return nil }
        return conditionalBySymbol[Int(symbol)][position]
    }

    /// A waiting conditional order's trailing extreme: a trailing stop's from the trigger
    /// index (0 before activation); another order's as it joined (0).
    func trailingExtremeUnits(of conditional: ConditionalOrder) -> Int64 {
        guard conditional.order.type == .trailingStopMarket else { return conditional.joinedTrailingExtremeUnits }
        return triggers[Int(conditional.order.symbol)].trailing[TriggerIndex.trailingSide(of: conditional.order)]
            .extremeUnits(of: conditional.orderID)
    }

    /// True when trailing stops of `symbol` watch the working price `type`.
    @inline(__always)
    func hasTrailingStops(_ symbol: SymbolID, _ type: WorkingType) -> Bool {
        let first = TriggerIndex.firstTrailingSide(type)
        let sells: Int = triggers[Int(symbol)].trailing[first].count
        let buys: Int = triggers[Int(symbol)].trailing[first + 1].count
        return sells + buys > 0
    }

    /// The working price `type` of `symbol` is now `priceUnits`: its trailing stops follow
    /// it (`TrailingStops.follow`).
    mutating func followTrailingStops(_ symbol: SymbolID, _ type: WorkingType, priceUnits: Int64) {
        let first = TriggerIndex.firstTrailingSide(type)
        triggers[Int(symbol)].trailing[first].follow(priceUnits)
        triggers[Int(symbol)].trailing[first + 1].follow(priceUnits)
    }

    /// Puts every symbol's trailing stop groups in order of extreme (`TrailingStops
    /// .sortIfNeeded`): after a snapshot's orders have joined.
    mutating func sortTrailingStops() {
        for symbol in triggers.indices {
            for side in 0..<4 { triggers[symbol].trailing[side].sortIfNeeded() }
        }
    }

    /// The lowest id among the conditional orders of `symbol` whose trigger is reached at
    /// these working prices, or nil: the lower of the stop and take-profit orders' (the
    /// trigger index's heaps, `lowestIndexedReached`) and the trailing stops' (their groups,
    /// `TrailingStops.lowestReached`).
    ///
    /// In the common case nothing is reached, and the tops of the stop heaps and of the
    /// trailing stops' bounds say so. A fall that reaches k orders triggers them one by one;
    /// a walk for the lowest each time cost k walks over what is still reached, O(k^2)
    /// (docs/BENCHMARKS.md, "Trailing stops at the size of a venue", "A cascade on the
    /// contract price"). Both indexes take an order found reached out to a heap by id, once,
    /// and keep it there while the price does not move back past it.
    mutating func lowestConditionalReached(_ symbol: SymbolID, markPriceUnits: Int64, contractPriceUnits: Int64) -> OrderID? {
        let index = Int(symbol)
        var lowest = lowestIndexedReached(symbol, markPriceUnits: markPriceUnits, contractPriceUnits: contractPriceUnits)
        for side in 0..<4 where triggers[index].trailing[side].count > 0 {
            // Each side's working price: mark for the first two, contract for the last two.
            let price = side < 2 ? markPriceUnits : contractPriceUnits
            if let id = triggers[index].trailing[side].lowestReached(price), id < lowest ?? .max { lowest = id }
        }
        return lowest
    }

    /// Test support: sets a waiting trailing stop's extreme in place (0: back to waiting
    /// for its activation price), as though the prices had taken it there.
    mutating func setTrailingExtreme(_ orderID: OrderID, to extremeUnits: Int64) {
        guard let conditional = waitingConditional(orderID), conditional.order.type == .trailingStopMarket else {
            preconditionFailure("\(orderID) is not a waiting trailing stop")
        }
        let order = conditional.order
        let side = TriggerIndex.trailingSide(of: order)
        triggers[Int(order.symbol)].trailing[side].remove(orderID)
        triggers[Int(order.symbol)].trailing[side].add(
            orderID: orderID, callbackRateE8: order.callbackRateE8, activationPriceUnits: order.activationPriceUnits,
            extremeUnits: extremeUnits)
    }

    /// The lowest id among the waiting stop and take-profit orders of `symbol` (not the
    /// trailing stops: their triggers move with the price) whose trigger is reached at
    /// these working prices, or nil (`TriggerIndex.lowestReached`).
    @inline(__always)
    mutating func lowestIndexedReached(_ symbol: SymbolID, markPriceUnits: Int64, contractPriceUnits: Int64) -> OrderID? {
        triggers[Int(symbol)].lowestReached(
            markPriceUnits: markPriceUnits, contractPriceUnits: contractPriceUnits, waiting: conditionalLocations)
    }

    /// The resting order with this id, if it is open.
    public func openOrder(_ id: OrderID) -> (symbol: SymbolID, order: RestingOrder)? {
        guard let location = orderLocations[id] else { return nil }
        return (location.symbol, bySymbol[Int(location.symbol)][location.slot])
    }

    /// The open orders of an account, given its position slots (which name its last order
    /// on each side of each symbol), by symbol and then book priority.
    func openOrders(of positions: PositionTable) -> [(symbol: SymbolID, order: RestingOrder)] {
        var result: [(SymbolID, RestingOrder)] = []
        for slot in positions.slots {
            for side in Side.allCases {
                for order in bySymbol[Int(slot.symbol)].orders(side, endingAt: slot.lastSlot(side)) {
                    result.append((slot.symbol, order))
                }
            }
        }
        return result
    }

    /// The first way the books and the order tables disagree, or nil: every resting order
    /// is where its location says, every conditional order is in its symbol's list in id
    /// order, the counts match, and no id is at or past the next one. O(orders). Symbols are
    /// named from `symbols`. Each account's last order on a side of a symbol is what
    /// `lastOf(account, symbol, side)` names (the ledger keeps them), and `lastsNamed[symbol]`
    /// are named in a symbol (`OrderBook.accountLinksViolation`).
    func consistencyViolation(
        _ symbols: ContiguousArray<SymbolSpec>, lastOf: (UInt32, SymbolID, Side) -> Int32, lastsNamed: [Int]
    ) -> String? {
        precondition(lastsNamed.count == bySymbol.count, "\(lastsNamed.count) counts of named lasts for \(bySymbol.count) books")
        var booked = 0
        for (symbol, book) in bySymbol.enumerated() {
            guard book.isUncrossed else { return "book \(symbols[symbol].name) is crossed" }
            if let violation = book.accountLinksViolation(lastOf: { lastOf($0, SymbolID(symbol), $1) }, lastsNamed: lastsNamed[symbol]) {
                return "book \(symbols[symbol].name): \(violation)"
            }
            booked += book.orderCount
            for side in Side.allCases {
                for order in book.orders(side) {
                    guard let location = orderLocations[order.orderID], location.symbol == SymbolID(symbol),
                        book[location.slot].orderID == order.orderID
                    else { return "resting order \(order.orderID) of \(symbols[symbol].name) is not where its location says" }
                    if order.orderID >= nextOrderID { return "resting order \(order.orderID) is at or past the next id \(nextOrderID)" }
                    if order.hasClientOrderID != (restingClientOrderIDs[order.orderID] != nil) {
                        return "resting order \(order.orderID)'s client order id is not recorded as it says"
                    }
                }
            }
        }
        if booked != orderLocations.count { return "\(booked) orders in the books, \(orderLocations.count) located" }
        var waiting = 0
        for (symbol, list) in conditionalBySymbol.enumerated() {
            waiting += list.count
            var previous: OrderID? = nil
            for conditional in list {
                if let previous, previous >= conditional.orderID {
                    return "conditional orders of \(symbols[symbol].name) are not in id order at \(conditional.orderID)"
                }
                previous = conditional.orderID
                if conditionalLocations[conditional.orderID] != SymbolID(symbol) {
                    return "conditional order \(conditional.orderID) is not where its location says"
                }
            }
        }
        if waiting != conditionalLocations.count { return "\(waiting) conditional orders listed, \(conditionalLocations.count) located" }
        // Each account's chain links its orders of the symbol in id order, head to tail;
        // the trigger index holds what the list holds.
        var chains = 0
        for (symbol, list) in conditionalBySymbol.enumerated() {
            var last: [UInt32: ConditionalOrder] = [:]
            for conditional in list {
                let chain = accountChains[Self.chainKey(conditional.accountIndex, SymbolID(symbol))]
                if let previous = last[conditional.accountIndex] {
                    if previous.nextOfAccount != conditional.orderID {
                        return "conditional order \(previous.orderID)'s chain skips \(conditional.orderID)"
                    }
                } else if chain?.head != conditional.orderID {
                    return "conditional order \(conditional.orderID) does not head its account's chain"
                }
                last[conditional.accountIndex] = conditional
            }
            for (accountIndex, conditional) in last
            where conditional.nextOfAccount != 0
                || accountChains[Self.chainKey(accountIndex, SymbolID(symbol))]?.tail != conditional.orderID
            {
                return "conditional order \(conditional.orderID) does not end its account's chain"
            }
            chains += last.count
            if let violation = triggers[symbol].violation(list, isWaiting: { conditionalLocations[$0] != nil }) {
                return "\(symbols[symbol].name): \(violation)"
            }
        }
        if chains != accountChains.count { return "\(accountChains.count) account chains for \(chains) accounts' orders" }
        return nil
    }
}

/// The first and last of one account's conditional orders in one symbol (`BookRoom
/// .accountChains`).
struct AccountChain: Sendable, Equatable {
    var head: OrderID
    var tail: OrderID
}
