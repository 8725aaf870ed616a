/// Order entry and matching: price-time priority, taker pays the taker fee, maker the
/// maker fee, the trade prints at the maker's price. A first pass over the book (the
/// plan) finds what the order would fill without changing anything, so the margin check
/// sees the exact result and a rejected order leaves no trace.
extension ExchangeState {
    /// What an incoming order would do against the book as it stands.
    struct FillPlan {
        var filledQuantityUnits: Int64 = 0
        var position: Position
        var realizedPnlMinor: Int64 = 0
        var feeMinor: Int64 = 0
        /// The walk stopped at an order of the same account (self-trade prevention).
        var hitOwnOrder = false
        /// Bounded rules: the walk met `Limits.makersPerOrderMax` resting orders and the
        /// next one would still trade.
        var hitMatchLimit = false
    }

    /// Resting orders one incoming order may meet (trade with, or expire by self-trade
    /// prevention): `Limits.makersPerOrderMax` under the bounded rules, else no limit.
    @inline(__always)
    var makersPerOrderMax: Int { isBounded ? Limits.makersPerOrderMax : Int.max }

    /// True when a limit price lies within mark × (1 ± band), or the band is off.
    @inlinable
    static func withinBand(priceUnits: Int64, markPriceUnits: Int64, bandE8: Int64) -> Bool {
        bandE8 == 0
            || FixedPoint.product(abs(priceUnits - markPriceUnits), FixedPoint.rateScale) <= FixedPoint.product(markPriceUnits, bandE8)
    }

    /// What meeting a resting order of the taker's own account does (self-trade prevention).
    enum OwnOrderAction { case stop, expireMakerAndGoOn, expireMakerAndStop }

    static func ownOrderAction(_ mode: SelfTradePrevention) -> OwnOrderAction {
        switch mode {
        case .expireTaker: .stop
        case .expireMaker: .expireMakerAndGoOn
        case .expireBoth: .expireMakerAndStop
        }
    }

    /// Walks the book as the order would, into `plan` (its start, `startPlan`): the makers
    /// it would meet, what it would fill, and the position, PnL and fee that would follow.
    ///
    /// Static, over the three tables it reads: a method of the state, called from `submit`,
    /// was passed a copy of the whole state (1 KB) for every order.
    static func planFills(
        _ order: PlaceOrder, accountIndex: UInt32, makersMax metMax: Int, into plan: inout FillPlan,
        _ symbols: ContiguousArray<SymbolSpec>, _ markets: ContiguousArray<Market>, _ books: ContiguousArray<OrderBook>
    ) {
        let takerFeeRateE8 = symbols[Int(order.symbol)].takerFeeRateE8
        let factor = markets[Int(order.symbol)].notionalFactor
        // The book is read in place: a `let` copy of it retained and released each of its
        // arrays on every order.
        let symbol = Int(order.symbol)
        let leverage = Self.leverage(plan.position, symbol: order.symbol, symbols)
        var remaining = order.quantityUnits
        var next = books[symbol].bestSlot(order.side.opposite)
        var met = 0
        while remaining > 0, let slot = next {
            let maker = books[symbol][slot]
            if !order.crosses(makerPriceUnits: maker.priceUnits) { break }
            if met == metMax {
                plan.hitMatchLimit = true
                break
            }
            met += 1
            next = books[symbol].slotAfter(slot)
            if maker.accountIndex == accountIndex {
                let action = Self.ownOrderAction(order.selfTradePrevention)
                if action != .stop {
                    // The resting order expires: its margin is released.
                    plan.position.addOpenOrder(
                        side: maker.side, quantityUnits: -maker.openQuantityUnits,
                        notionalMinor: -maker.priceUnits * maker.openQuantityUnits * factor)
                }
                if action == .expireMakerAndGoOn { continue }
                plan.hitOwnOrder = true
                break
            }
            let quantity = min(remaining, maker.openQuantityUnits)
            let fee = FixedPoint.charge(notional: maker.priceUnits * quantity * factor, rateE8: takerFeeRateE8)
            let after = plan.position.filled(
                side: order.side, quantityUnits: quantity, priceUnits: maker.priceUnits,
                notionalFactor: factor, feeMinor: fee, leverage: leverage)
            plan.position = after.position
            plan.realizedPnlMinor += after.realizedPnlMinor
            plan.feeMinor += fee
            plan.filledQuantityUnits += quantity
            remaining -= quantity
        }
    }

    /// The plan of an order that meets no resting order: the account's position as it
    /// stands, less the open quantity of `amending`, the account's resting order that this
    /// one replaces.
    @inline(__always)
    static func startPlan(
        _ order: PlaceOrder, accountIndex: UInt32, amending: RestingOrder?, _ accounts: ContiguousArray<Account>,
        _ markets: ContiguousArray<Market>
    ) -> FillPlan {
        var plan = FillPlan(position: accounts[Int(accountIndex)].position(order.symbol))
        if let amending {
            plan.position.addOpenOrder(
                side: amending.side, quantityUnits: -amending.openQuantityUnits,
                notionalMinor: -amending.priceUnits * amending.openQuantityUnits * markets[Int(order.symbol)].notionalFactor)
        }
        return plan
    }

    /// Checks an order's own terms (not the book's): the order of the checks is the
    /// contract (docs/RULES.md, "Validation order"). Returns the account index.
    @inline(__always)
    func validateOrder(_ order: PlaceOrder) -> Result<UInt32, RejectReason> {
        guard Int(order.symbol) < symbols.count else { return .failure(.unknownSymbol) }
        guard let accountIndex = ledger.accountIndexByID[order.account] else { return .failure(.unknownAccount) }
        // Fields are read in place: a copy of the whole spec costs more than this check.
        let symbol = Int(order.symbol)
        if order.closePosition {
            guard order.type == .stopMarket || order.type == .takeProfitMarket, order.quantityUnits == 0 else {
                return .failure(.invalidQuantity)
            }
        } else {
            guard order.quantityUnits > 0, order.quantityUnits <= symbols[symbol].maxQuantityUnits else {
                return .failure(.invalidQuantity)
            }
            // A step of one unit (most symbols: the scales are chosen so) needs no division.
            let lot = symbols[symbol].lotSizeQuantityUnits
            guard lot == 1 || order.quantityUnits % lot == 0 else { return .failure(.quantityNotOnLot) }
        }
        if order.type.hasLimitPrice {
            guard order.priceUnits > 0, order.priceUnits <= symbols[symbol].maxPriceUnits else { return .failure(.invalidPrice) }
            let tick = symbols[symbol].tickSizePriceUnits
            guard tick == 1 || order.priceUnits % tick == 0 else { return .failure(.priceNotOnTick) }
        } else {
            guard order.priceUnits == 0 else { return .failure(.invalidPrice) }
        }
        if order.type == .trailingStopMarket {
            guard order.stopPriceUnits == 0, order.activationPriceUnits >= 0, order.activationPriceUnits <= symbols[symbol].maxPriceUnits
            else { return .failure(.invalidPrice) }
            guard order.activationPriceUnits % symbols[symbol].tickSizePriceUnits == 0 else { return .failure(.priceNotOnTick) }
            guard order.callbackRateE8 >= Limits.callbackRateE8Min, order.callbackRateE8 <= Limits.callbackRateE8Max else {
                return .failure(.invalidRate)
            }
        } else if order.type.isConditional {
            guard order.stopPriceUnits > 0, order.stopPriceUnits <= symbols[symbol].maxPriceUnits, order.callbackRateE8 == 0,
                order.activationPriceUnits == 0
            else { return .failure(.invalidPrice) }
            guard order.stopPriceUnits % symbols[symbol].tickSizePriceUnits == 0 else { return .failure(.priceNotOnTick) }
        } else {
            guard order.stopPriceUnits == 0, order.callbackRateE8 == 0, order.activationPriceUnits == 0 else {
                return .failure(.invalidPrice)
            }
        }
        let markPrice = markets[Int(order.symbol)].markPriceUnits
        guard markPrice > 0 else { return .failure(.noMarkPrice) }
        if order.type.hasLimitPrice,
            !Self.withinBand(priceUnits: order.priceUnits, markPriceUnits: markPrice, bandE8: symbols[symbol].priceBandRateE8)
        {
            return .failure(.priceOutsideBand)
        }
        if !order.closePosition {
            let referencePrice = order.type.hasLimitPrice ? order.priceUnits : markPrice
            guard
                notionalMinor(symbol: order.symbol, priceUnits: referencePrice, quantityUnits: order.quantityUnits)
                    >= symbols[symbol].minNotionalMinor
            else { return .failure(.notionalTooSmall) }
        }
        return .success(accountIndex)
    }

    mutating func executePlaceOrder(
        _ order: PlaceOrder, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let accountIndex: UInt32
        switch validateOrder(order) {
        case .failure(let reason): return events.append(.rejected(reason, detail: 0))
        case .success(let index): accountIndex = index
        }
        ledger.resolved = (order.account, accountIndex)
        if order.clientOrderID != 0,
            let existing = idempotency.clientOrders[ClientOrderKey(accountIndex: accountIndex, clientOrderID: order.clientOrderID)]
        {
            return events.append(.rejected(.duplicateClientOrderID, detail: existing))
        }
        if let reason = Self.worldLimitRefusal(
            order, accountIndex: accountIndex, worldLimits, ledger.accounts, conditionalOrders: books.conditionalLocations.count,
            restingOrders: books.orderLocations.count)
        {
            return events.append(.rejected(reason, detail: 0))
        }
        if order.type.isConditional {
            guard !wouldTriggerAtOnce(order) else { return events.append(.rejected(.wouldTriggerImmediately, detail: 0)) }
            let orderID = books.nextOrderID
            emitOrderAccepted(orderID, order, command, &events)
            emit(.conditionalOrderPlaced(orderID), command, sequence, &events)
            return
        }
        if let reason = submit(order, orderID: books.nextOrderID, accountIndex: accountIndex, accepted: false, command, sequence, &events) {
            events.append(.rejected(reason, detail: 0))
        }
    }

    /// Under world limits, why this order would grow the world beyond them, if it would:
    /// conditional orders beyond their maximum, an order that could rest while the books
    /// hold their maximum, or an order in a symbol where the account has neither a position
    /// nor resting orders while it has them in its maximum of symbols (docs/RULES.md,
    /// "Limits of the world").
    /// Static, from what it reads: a method of the state, called from a mutating one, was
    /// passed a copy of the whole state for every order under world limits.
    static func worldLimitRefusal(
        _ order: PlaceOrder, accountIndex: UInt32, _ worldLimits: WorldLimits?, _ accounts: ContiguousArray<Account>,
        conditionalOrders: Int, restingOrders: Int
    ) -> RejectReason? {
        guard let limits = worldLimits else { return nil }
        // One look at the account's slot in the symbol (no copy of its table: a retain of
        // cold memory on every order).
        let slot = accounts[Int(accountIndex)].positions.slot(order.symbol)
        if order.type.isConditional {
            if Int64(conditionalOrders) >= limits.conditionalOrdersMax { return .conditionalOrderLimit }
            if slot?.conditionalOrders ?? 0 >= Limits.conditionalOrdersPerAccountSymbolMax { return .accountOrderLimit }
        } else if order.type == .limit && (order.timeInForce == .gtc || order.timeInForce == .gtx) {
            if Int64(restingOrders) >= limits.restingOrdersMax { return .orderLimit }
            if slot?.restingOrders ?? 0 >= Limits.restingOrdersPerAccountSymbolMax { return .accountOrderLimit }
            if order.reduceOnly || order.closePosition, slot?.reduceOnlyOrders ?? 0 >= Limits.reduceOnlyOrdersPerAccountSymbolMax {
                return .accountOrderLimit
            }
        }
        if slot?.position.holdsPositionOrOrders == true { return nil }
        let held = accounts[Int(accountIndex)].positions.positionsOrOrdersHeld()
        return held >= limits.positionsPerAccountMax ? .positionCountLimit : nil
    }

    /// Places an order that passed its own checks into the book: post-only and
    /// fill-or-kill expiry, reduce-only, position limit, bracket and margin, then matching.
    /// `accepted` says the id was already announced (a triggered order); otherwise
    /// `orderAccepted` is emitted once the order passes. Returns the reason when it does
    /// not pass (nothing has changed then).
    mutating func submit(
        _ order: PlaceOrder, orderID: OrderID, accountIndex: UInt32, accepted: Bool, amending: RestingOrder? = nil,
        _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> RejectReason? {
        let settleAsset = symbols[Int(order.symbol)].settleAsset
        func accept() {
            if amending != nil {
                emit(.orderAmended(orderID, priceUnits: order.priceUnits, quantityUnits: order.quantityUnits), command, sequence, &events)
            } else if !accepted {
                emitOrderAccepted(orderID, order, command, &events)
            }
        }
        if order.reduceOnly,
            ledger.accounts[Int(accountIndex)].position(order.symbol).closingQuantity(
                side: order.side, quantityUnits: order.quantityUnits) < order.quantityUnits
        {
            return .reduceOnlyRejected
        }
        // An order that meets nothing (most orders that rest) needs neither the walk nor
        // matching: its plan is the position as it stands. A post-only order that meets
        // something expires.
        let meetsBook = books.meetsBest(order)
        if order.type == .limit, order.timeInForce == .gtx, meetsBook {
            accept()
            emit(.orderExpired(orderID, quantityUnits: order.quantityUnits, reason: .postOnly), command, sequence, &events)
            return nil
        }
        var plan = Self.startPlan(order, accountIndex: accountIndex, amending: amending, ledger.accounts, markets)
        if meetsBook {
            Self.planFills(order, accountIndex: accountIndex, makersMax: makersPerOrderMax, into: &plan, symbols, markets, books.bySymbol)
        }
        if order.timeInForce == .fok, plan.filledQuantityUnits < order.quantityUnits {
            accept()
            emit(.orderExpired(orderID, quantityUnits: order.quantityUnits, reason: .fillOrKill), command, sequence, &events)
            return nil
        }
        let remaining = order.quantityUnits - plan.filledQuantityUnits
        let restsInBook = order.type == .limit && (order.timeInForce == .gtc || order.timeInForce == .gtx)
        let restingQuantity = restsInBook && !plan.hitOwnOrder && !plan.hitMatchLimit ? remaining : 0

        var position = plan.position
        position.addOpenOrder(
            side: order.side, quantityUnits: restingQuantity,
            notionalMinor: notionalMinor(symbol: order.symbol, priceUnits: order.priceUnits, quantityUnits: restingQuantity))
        if !order.reduceOnly {
            let exposure = abs(position.sizeQuantityUnits) + max(position.openBuyQuantityUnits, position.openSellQuantityUnits)
            guard exposure <= symbols[Int(order.symbol)].maxPositionQuantityUnits else { return .positionLimit }
            guard bracketAllows(position, symbol: order.symbol, leverage: effectiveLeverage(position, symbol: order.symbol)) else {
                return .leverageAboveBracket
            }
        }
        guard
            marginAllows(
                accountIndex: Int(accountIndex), asset: settleAsset, replacing: (order.symbol, position),
                walletChangeMinor: plan.realizedPnlMinor - plan.feeMinor)
        else { return .insufficientMargin }

        accept()
        let filled =
            meetsBook
            ? match(
                order, orderID: orderID, accountIndex: accountIndex, takerFeeRateE8: symbols[Int(order.symbol)].takerFeeRateE8,
                command, sequence, &events) : 0
        precondition(filled == plan.filledQuantityUnits, "matching filled other than planned")
        precondition(books.bySymbol[Int(order.symbol)].isUncrossed, "book crossed after matching")
        if restingQuantity > 0 {
            emitOrderRested(orderID, restingQuantity, &events)
            // Reduce-only orders together may not exceed the position: the newest shrinks.
            if order.reduceOnly { noteReduceOnlyCheck(accountIndex, order.symbol) }
        } else if remaining > 0 {
            let reason: ExpiryReason = plan.hitOwnOrder ? .selfTrade : plan.hitMatchLimit ? .matchLimit : .immediateOrCancel
            emit(.orderExpired(orderID, quantityUnits: remaining, reason: reason), command, sequence, &events)
        }
        return nil
    }

    /// Trades the incoming order against the book until it is filled, its limit is
    /// reached, self-trade prevention stops it or (bounded rules) it has met
    /// `Limits.makersPerOrderMax` resting orders. Returns the quantity filled.
    mutating func match(
        _ order: PlaceOrder, orderID: OrderID, accountIndex: UInt32, takerFeeRateE8: Int64, _ command: Command,
        _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> Int64 {
        let makerFeeRateE8 = symbols[Int(order.symbol)].makerFeeRateE8
        let factor = markets[Int(order.symbol)].notionalFactor
        var remaining = order.quantityUnits
        var met = 0
        let metMax = makersPerOrderMax
        while remaining > 0, met < metMax, let maker = books.bestOrder(order.symbol, order.side.opposite) {
            if !order.crosses(makerPriceUnits: maker.priceUnits) { break }
            met += 1
            if maker.accountIndex == accountIndex {
                let action = Self.ownOrderAction(order.selfTradePrevention)
                if action == .stop { break }
                emit(
                    .restingOrderExpired(maker.orderID, quantityUnits: maker.openQuantityUnits, reason: .selfTrade), command, sequence,
                    &events)
                if action == .expireMakerAndStop { break }
                continue
            }
            let quantity = min(remaining, maker.openQuantityUnits)
            let notional = maker.priceUnits * quantity * factor
            let makerPosition = ledger.accounts[Int(maker.accountIndex)].position(order.symbol)
            let takerPosition = ledger.accounts[Int(accountIndex)].position(order.symbol)
            let makerAfter = Position.afterFill(
                sizeQuantityUnits: makerPosition.sizeQuantityUnits, costMinor: makerPosition.costMinor,
                side: maker.side, quantityUnits: quantity, priceUnits: maker.priceUnits, notionalFactor: factor)
            let takerAfter = Position.afterFill(
                sizeQuantityUnits: takerPosition.sizeQuantityUnits, costMinor: takerPosition.costMinor,
                side: order.side, quantityUnits: quantity, priceUnits: maker.priceUnits, notionalFactor: factor)
            let trade = Trade(
                tradeID: books.nextTradeID, symbol: order.symbol, makerOrderID: maker.orderID, takerOrderID: orderID,
                makerAccount: ledger.accounts[Int(maker.accountIndex)].id, takerAccount: order.account,
                takerSide: order.side, priceUnits: maker.priceUnits, quantityUnits: quantity,
                makerFeeMinor: FixedPoint.charge(notional: notional, rateE8: makerFeeRateE8),
                takerFeeMinor: FixedPoint.charge(notional: notional, rateE8: takerFeeRateE8),
                makerRealizedPnlMinor: makerAfter.realizedPnlMinor, takerRealizedPnlMinor: takerAfter.realizedPnlMinor)
            emitTrade(trade, fills: (makerAfter, takerAfter), &events)
            noteLiquidationCandidate(maker.accountIndex)
            noteReduceOnlyCheck(maker.accountIndex, order.symbol)
            noteReduceOnlyCheck(accountIndex, order.symbol)
            remaining -= quantity
        }
        // The taker and the price once, whatever the number of trades: both lists are read
        // only when the entry settles, as sets (the sweep sorts its candidates and takes
        // each once; a moved price is listed once).
        if remaining < order.quantityUnits {
            noteLiquidationCandidate(accountIndex)
            notePriceMoved(order.symbol)
        }
        return order.quantityUnits - remaining
    }
}
