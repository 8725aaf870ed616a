/// The order book's rule book beyond plain orders (docs/RULES.md, "Orders"): conditional
/// orders and their triggers, reduce-only upkeep, amend, cancel-all, and the loop that
/// settles an entry: liquidations, reduce-only checks and triggers until nothing is left.
extension ExchangeState {
    /// Notes an account's resting reduce-only orders in `symbol` for a check against its
    /// position. Nothing to check while the account has no reduce-only order resting there
    /// (the check would scan the book for nothing): one that rests later in the entry
    /// notes its own check.
    @inline(__always)
    mutating func noteReduceOnlyCheck(_ accountIndex: UInt32, _ symbol: SymbolID) {
        guard books.bySymbol[Int(symbol)].reduceOnlyCount > 0,
            ledger.accounts[Int(accountIndex)].positions.reduceOnlyOrders(symbol) > 0
        else { return }
        reduceOnlyChecks.append(ReduceOnlyCheck(accountIndex: accountIndex, symbol: symbol))
    }

    @inline(__always)
    mutating func notePriceMoved(_ symbol: SymbolID) {
        if !movedPrices.contains(symbol) { movedPrices.append(symbol) }
    }

    /// Runs what an entry's changes set off, in a fixed order, until nothing is left:
    /// liquidations (lowest account first), then reduce-only checks (lowest account and
    /// symbol first), then the triggers of the lowest symbol whose price moved.
    ///
    /// Under the bounded rules liquidations wait for ticks: the noted accounts are checked
    /// here, and those at or below maintenance join `risk.pendingLiquidations`.
    @inline(__always)
    mutating func settleEntry(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        // Most entries set off nothing: three counts read in the caller, no call.
        if risk.liquidationCandidates.isEmpty && reduceOnlyChecks.isEmpty && movedPrices.isEmpty { return }
        settleEntryWork(command, sequence, &events)
    }

    @inline(never)
    private mutating func settleEntryWork(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        while true {
            if isBounded && !risk.liquidationCandidates.isEmpty {
                queueDueCandidates()
            } else if !risk.liquidationCandidates.isEmpty {
                sweepLiquidations(command, sequence, &events)
            } else if !reduceOnlyChecks.isEmpty {
                let check = reduceOnlyChecks.min()!
                reduceOnlyChecks.removeAll { $0 == check }
                enforceReduceOnly(check, command, sequence, &events)
            } else if isBounded && !movedPrices.isEmpty {
                // Bounded rules: triggers wait for ticks (`continueTriggers`).
                for symbol in movedPrices where !pendingTriggers.contains(symbol) && hasTriggeredOrder(symbol: symbol) {
                    pendingTriggers.append(symbol)
                }
                // (Sorted only when two may be out of order: sorting an empty array made it
                // unique first, a call and a release for every entry whose trades moved a price.)
                if pendingTriggers.count > 1 { pendingTriggers.sort() }
                movedPrices.removeAll()
            } else if !movedPrices.isEmpty {
                let symbol = movedPrices.min()!
                movedPrices.removeAll { $0 == symbol }
                triggerConditionalOrders(symbol: symbol, command, sequence, &events)
            } else {
                return
            }
        }
    }

    // MARK: Conditional orders

    /// The price a conditional order watches: mark, or the last trade (mark before the
    /// first trade).
    @inline(__always)
    func workingPriceUnits(symbol: SymbolID, _ type: WorkingType) -> Int64 {
        let last = markets[Int(symbol)].lastPriceUnits
        return type == .markPrice || last == 0 ? markets[Int(symbol)].markPriceUnits : last
    }

    /// True when a stop, take-profit or trailing activation is already reached: placing
    /// it would be a market order in disguise (Binance rejects it too).
    @inline(__always)
    func wouldTriggerAtOnce(_ order: PlaceOrder) -> Bool {
        let price = workingPriceUnits(symbol: order.symbol, order.workingType)
        switch order.type {
        case .stopMarket, .stopLimit: return order.side == .buy ? price >= order.stopPriceUnits : price <= order.stopPriceUnits
        case .takeProfitMarket, .takeProfitLimit:
            return order.side == .buy ? price <= order.stopPriceUnits : price >= order.stopPriceUnits
        case .trailingStopMarket:
            guard order.activationPriceUnits != 0 else { return false }
            return order.side == .sell ? price >= order.activationPriceUnits : price <= order.activationPriceUnits
        case .limit, .market: return false
        }
    }

    /// True when a conditional order's trigger holds at `price`; a trailing stop's at its
    /// extreme `trailingExtremeUnits` (`BookRoom.trailingExtremeUnits(of:)`).
    static func isTriggered(_ conditional: ConditionalOrder, at price: Int64, trailingExtremeUnits: Int64) -> Bool {
        let order = conditional.order
        switch order.type {
        case .stopMarket, .stopLimit: return order.side == .buy ? price >= order.stopPriceUnits : price <= order.stopPriceUnits
        case .takeProfitMarket, .takeProfitLimit:
            return order.side == .buy ? price <= order.stopPriceUnits : price >= order.stopPriceUnits
        case .trailingStopMarket:
            return TrailingStops.isReached(
                sells: order.side == .sell, extremeUnits: trailingExtremeUnits, callbackRateE8: order.callbackRateE8,
                priceUnits: price)
        case .limit, .market: return false
        }
    }

    /// Why a waiting conditional order's trailing extreme cannot be one the engine keeps at
    /// the working price `workingPriceUnits`, or nil. Every price a trailing stop watches
    /// moves it as it is applied (`followTrailingStops`), so between entries an active
    /// stop's extreme is at or beyond the working price (a sell's at or above, a buy's at or
    /// below) and at or beyond its activation price; one still waiting for activation has
    /// not reached it, and one without an activation price waits only while there is no
    /// price at all. Other conditional orders have no extreme (0). The snapshot decoder and
    /// the invariant sweep both ask.
    static func trailingExtremeProblem(_ order: PlaceOrder, extremeUnits: Int64, workingPriceUnits: Int64) -> String? {
        guard order.type == .trailingStopMarket else {
            return extremeUnits == 0 ? nil : "a \(order.type) with a trailing extreme of \(extremeUnits)"
        }
        let sells = order.side == .sell
        let activation = order.activationPriceUnits
        func beyond(_ price: Int64, _ other: Int64) -> Bool { sells ? price > other : price < other }
        if extremeUnits == 0 {
            if workingPriceUnits == 0 { return nil }
            if activation == 0 { return "an inactive trailing stop without an activation price at a price of \(workingPriceUnits)" }
            return beyond(activation, workingPriceUnits)
                ? nil : "an inactive trailing stop whose activation price \(activation) the price \(workingPriceUnits) reached"
        }
        if workingPriceUnits == 0 { return "a trailing extreme of \(extremeUnits) with no price" }
        if beyond(workingPriceUnits, extremeUnits) {
            return "a trailing extreme of \(extremeUnits) behind the price \(workingPriceUnits)"
        }
        if activation != 0 && beyond(activation, extremeUnits) {
            return "a trailing extreme of \(extremeUnits) short of its activation price \(activation)"
        }
        return nil
    }

    /// Moves trailing stops that watch `type` in `symbol` to the new working price: an
    /// inactive one activates when the price reaches its activation price; an active one
    /// keeps the best price seen (highest for a sell, lowest for a buy). Part of applying
    /// `markPriceSet` and `trade`. The trigger index moves them by groups that share an
    /// extreme (`TrailingStops`), not one by one.
    @inline(__always)
    mutating func followTrailingStops(symbol: SymbolID, _ type: WorkingType) {
        if !books.hasTrailingStops(symbol, type) { return }
        books.followTrailingStops(symbol, type, priceUnits: workingPriceUnits(symbol: symbol, type))
    }

    /// Triggers the symbol's conditional orders whose trigger holds, lowest order id first,
    /// one at a time (a triggered order's trades move the price the next one sees).
    private mutating func triggerConditionalOrders(
        symbol: SymbolID, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        // Most symbols have no conditional order: no call (each copies the whole state).
        if books.conditionalBySymbol[Int(symbol)].isEmpty { return }
        while let next = firstTriggeredOrder(symbol: symbol) {
            triggerOne(next, symbol: symbol, command, sequence, &events)
        }
    }

    /// Triggers one conditional order: into the book, or rejected.
    private mutating func triggerOne(
        _ next: ConditionalOrder, symbol: SymbolID, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let price = workingPriceUnits(symbol: symbol, next.order.workingType)
        emit(.conditionalOrderTriggered(next.orderID, priceUnits: price), command, sequence, &events)
        if let reason = placeTriggered(next, command, sequence, &events) {
            emit(.triggeredOrderRejected(next.orderID, reason: reason), command, sequence, &events)
        }
    }

    /// The conditional order of `symbol` with the lowest id whose trigger is reached at the
    /// working prices, from the stop heaps and the trailing stops' groups
    /// (`BookRoom.lowestConditionalReached`): no walk over every order waiting in the
    /// symbol, and none over every order reached for each of a cascade's triggers.
    mutating func firstTriggeredOrder(symbol: SymbolID) -> ConditionalOrder? {
        let mark = workingPriceUnits(symbol: symbol, .markPrice)
        let contract = workingPriceUnits(symbol: symbol, .contractPrice)
        return books.lowestConditionalReached(symbol, markPriceUnits: mark, contractPriceUnits: contract).flatMap {
            books.waitingConditional($0)
        }
    }

    /// True when some conditional order of `symbol` has its trigger reached.
    mutating func hasTriggeredOrder(symbol: SymbolID) -> Bool { firstTriggeredOrder(symbol: symbol) != nil }

    /// Bounded rules: one step of the triggers waiting, lowest symbol first and, in it,
    /// lowest order id first, each followed by what it sets off (its trades move the
    /// price the next one sees). At most `Limits.triggersPerEntryMax` orders.
    mutating func continueTriggers(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        var triggered = 0
        while triggered < Limits.triggersPerEntryMax, let symbol = pendingTriggers.first {
            guard let next = firstTriggeredOrder(symbol: symbol) else {
                pendingTriggers.removeFirst()
                continue
            }
            triggerOne(next, symbol: symbol, command, sequence, &events)
            triggered += 1
            settleEntry(command, sequence, &events)
        }
    }

    /// The order a trigger sends: market (IOC) or limit (its time in force) at its price;
    /// close-position takes the whole position; reduce-only is cut to the position.
    static func triggeredOrder(_ conditional: ConditionalOrder, position: Position) -> PlaceOrder {
        let source = conditional.order
        var order = PlaceOrder(
            account: source.account, symbol: source.symbol, side: source.side, type: source.type.hasLimitPrice ? .limit : .market,
            timeInForce: source.type.hasLimitPrice ? source.timeInForce : .ioc, priceUnits: source.priceUnits,
            quantityUnits: source.quantityUnits, clientOrderID: source.clientOrderID,
            reduceOnly: source.reduceOnly || source.closePosition, selfTradePrevention: source.selfTradePrevention)
        if source.closePosition {
            order.quantityUnits = position.closingQuantity(side: source.side, quantityUnits: Int64.max)
        } else if order.reduceOnly {
            order.quantityUnits = position.closingQuantity(side: source.side, quantityUnits: source.quantityUnits)
        }
        return order
    }

    private mutating func placeTriggered(
        _ conditional: ConditionalOrder, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> RejectReason? {
        let spec = symbols[Int(conditional.order.symbol)]
        let position = ledger.accounts[Int(conditional.accountIndex)].position(conditional.order.symbol)
        let order = Self.triggeredOrder(conditional, position: position)
        if order.quantityUnits == 0 { return .reduceOnlyRejected }
        if let reason = Self.worldLimitRefusal(
            order, accountIndex: conditional.accountIndex, worldLimits, ledger.accounts,
            conditionalOrders: books.conditionalLocations.count,
            restingOrders: books.orderLocations.count)
        {
            return reason
        }
        if order.type == .limit,
            !Self.withinBand(
                priceUnits: order.priceUnits, markPriceUnits: markets[Int(order.symbol)].markPriceUnits, bandE8: spec.priceBandRateE8)
        {
            return .priceOutsideBand
        }
        return submit(
            order, orderID: conditional.orderID, accountIndex: conditional.accountIndex, accepted: true, command, sequence, &events)
    }

    /// Cancels an account's conditional orders in a symbol, in id order.
    mutating func cancelConditionalOrders(
        accountIndex: UInt32, symbol: SymbolID, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> UInt64 {
        // The account's own chain, not a walk over every order waiting in the symbol; the
        // ids go into the books' scratch room.
        withScratch(\.books.cancelIDScratch) { state, ids in
            state.books.appendConditionalOrderIDs(ofAccountIndex: accountIndex, symbol: symbol, to: &ids)
            for position in 0..<ids.count { state.emit(.conditionalOrderCancelled(ids[position]), command, sequence, &events) }
            return UInt64(ids.count)
        }
    }

    /// Cancels the account's resting orders in `symbol`, bids then asks, each side in book
    /// priority; returns how many. What the cancels need is copied into the books' scratch
    /// room first: no array a call.
    mutating func cancelRestingOrders(accountIndex: UInt32, symbol: SymbolID, _ events: inout [Event]) -> UInt64 {
        withScratch(\.books.cancelScratch) { state, orders in
            var count: UInt64 = 0
            for side in Side.allCases {
                orders.removeAll()
                let last = state.ledger.accounts[Int(accountIndex)].positions.peekLastOrderSlot(symbol, side)
                state.books.bySymbol[Int(symbol)].appendOrders(side, endingAt: last, to: &orders)
                for position in 0..<orders.count {
                    state.emitOrderCancelled(orders[position].orderID, orders[position].openQuantityUnits, &events)
                }
                count += UInt64(orders.count)
            }
            return count
        }
    }

    // MARK: Reduce-only upkeep

    /// A resting reduce-only order may only close: when the position is gone or has turned
    /// to the order's side, the order is cancelled; when the closing orders add up to more
    /// than the position, the newest shrink first.
    private mutating func enforceReduceOnly(
        _ check: ReduceOnlyCheck, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let size = ledger.accounts[Int(check.accountIndex)].position(check.symbol).sizeQuantityUnits
        // The account's orders, bids then asks in book priority, go into the books' scratch
        // room: no array a check.
        withScratch(\.books.cancelScratch) { state, orders in
            for side in Side.allCases {
                let last = state.ledger.accounts[Int(check.accountIndex)].positions.peekLastOrderSlot(check.symbol, side)
                state.books.bySymbol[Int(check.symbol)].appendOrders(side, endingAt: last, to: &orders)
            }
            // Those that would open (or face no position) are cancelled in that order; what
            // is left are the closing reduce-only orders.
            var closingQuantity: Int64 = 0
            orders.removeAll { order in
                guard order.reduceOnly else { return true }
                if size == 0 || (size > 0) == (order.side == .buy) {
                    state.emitOrderCancelled(order.orderID, order.openQuantityUnits, &events)
                    return true
                }
                closingQuantity += order.openQuantityUnits
                return false
            }
            var excess = closingQuantity - abs(size)
            guard excess > 0 else { return }
            // The newest first (ids are unique: the order is total).
            orders.sort { $0.orderID > $1.orderID }
            for position in 0..<orders.count where excess > 0 {
                let order = orders[position]
                let cut = min(excess, order.openQuantityUnits)
                if cut == order.openQuantityUnits {
                    state.emitOrderCancelled(order.orderID, cut, &events)
                } else {
                    state.emit(.orderReduced(order.orderID, quantityUnits: cut), command, sequence, &events)
                }
                excess -= cut
            }
        }
    }

    // MARK: Amend, cancel-all

    /// The resting order a cancel or amend names (by id, else by client id) if it is the
    /// account's.
    @inline(__always)
    func ownRestingOrder(accountIndex: UInt32, orderID: OrderID, clientOrderID: ClientOrderID) -> (OrderID, OrderLocation)? {
        var id = orderID
        if id == 0, clientOrderID != 0 {
            id = idempotency.clientOrders[ClientOrderKey(accountIndex: accountIndex, clientOrderID: clientOrderID)] ?? 0
        }
        guard let location = books.orderLocations[id], books.bySymbol[Int(location.symbol)][location.slot].accountIndex == accountIndex
        else { return nil }
        return (id, location)
    }

    mutating func executeAmend(_ amend: AmendOrder, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        func reject(_ reason: RejectReason) { events.append(.rejected(reason, detail: 0)) }
        guard let accountIndex = ledger.accountIndexByID[amend.account] else { return reject(.unknownAccount) }
        guard
            let (orderID, location) = ownRestingOrder(
                accountIndex: accountIndex, orderID: amend.orderID, clientOrderID: amend.clientOrderID)
        else { return reject(.unknownOrder) }
        let existing = books.bySymbol[Int(location.symbol)][location.slot]
        let order = PlaceOrder(
            account: amend.account, symbol: location.symbol, side: existing.side, type: .limit, timeInForce: .gtc,
            priceUnits: amend.priceUnits, quantityUnits: amend.quantityUnits, clientOrderID: clientOrderID(of: existing),
            reduceOnly: existing.reduceOnly)
        if case .failure(let reason) = validateOrder(order) { return reject(reason) }
        if amend.priceUnits == existing.priceUnits {
            if amend.quantityUnits == existing.openQuantityUnits { return reject(.nothingToAmend) }
            if amend.quantityUnits < existing.openQuantityUnits {
                emit(.orderReduced(orderID, quantityUnits: existing.openQuantityUnits - amend.quantityUnits), command, sequence, &events)
                return
            }
        }
        if let reason = submit(
            order, orderID: orderID, accountIndex: accountIndex, accepted: false, amending: existing, command, sequence, &events)
        {
            reject(reason)
        }
    }

    mutating func executeCancelAll(
        _ account: AccountID, _ symbol: SymbolID, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        guard case .success(let index) = accountIndex(account, trading: symbol, &events) else { return }
        var count = cancelRestingOrders(accountIndex: index, symbol: symbol, &events)
        count += cancelConditionalOrders(accountIndex: index, symbol: symbol, command, sequence, &events)
        emit(.allOrdersCancelled(account: account, symbol: symbol, count: count), command, sequence, &events)
    }
}
