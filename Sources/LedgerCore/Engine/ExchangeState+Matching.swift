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
    }

    /// True when a resting order at `makerPrice` is within the incoming order's limit.
    @inline(__always)
    static func crosses(_ order: PlaceOrder, makerPriceUnits: Int64) -> Bool {
        switch (order.type, order.side) {
        case (.market, _): true
        case (.limit, .buy): makerPriceUnits <= order.priceUnits
        case (.limit, .sell): makerPriceUnits >= order.priceUnits
        }
    }

    /// True when a limit price lies within mark × (1 ± band), or the band is off.
    @inlinable
    static func withinBand(priceUnits: Int64, markPriceUnits: Int64, bandE8: Int64) -> Bool {
        bandE8 == 0
            || Int128(abs(priceUnits - markPriceUnits)) * Int128(FixedPoint.rateScale) <= Int128(markPriceUnits) * Int128(bandE8)
    }

    func planFills(_ order: PlaceOrder, accountIndex: UInt32) -> FillPlan {
        let spec = symbols[Int(order.symbol)]
        let market = markets[Int(order.symbol)]
        var plan = FillPlan(position: accounts[Int(accountIndex)].position(order.symbol))
        let leverage = effectiveLeverage(plan.position, symbol: order.symbol)
        var remaining = order.quantityUnits
        var next = market.book.bestSlot(order.side.opposite)
        while remaining > 0, let slot = next {
            let maker = market.book.slots[Int(slot)]
            if !Self.crosses(order, makerPriceUnits: maker.priceUnits) { break }
            if maker.accountIndex == accountIndex {
                plan.hitOwnOrder = true
                break
            }
            let quantity = min(remaining, maker.openQuantityUnits)
            let fee = FixedPoint.charge(notional: maker.priceUnits * quantity * market.notionalFactor, rateE8: spec.takerFeeRateE8)
            let after = plan.position.filled(
                side: order.side, quantityUnits: quantity, priceUnits: maker.priceUnits,
                notionalFactor: market.notionalFactor, feeMinor: fee, leverage: leverage)
            plan.position = after.position
            plan.realizedPnlMinor += after.realizedPnlMinor
            plan.feeMinor += fee
            plan.filledQuantityUnits += quantity
            remaining -= quantity
            next = market.book.slotAfter(slot)
        }
        return plan
    }

    mutating func executePlaceOrder(
        _ order: PlaceOrder, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        func reject(_ reason: RejectReason, _ detail: UInt64 = 0) { events.append(.rejected(reason, detail: detail)) }
        guard Int(order.symbol) < symbols.count else { return reject(.unknownSymbol) }
        guard let accountIndex = accountIndexByID[order.account] else { return reject(.unknownAccount) }
        let spec = symbols[Int(order.symbol)]
        guard order.quantityUnits > 0, order.quantityUnits <= spec.maxQuantityUnits else {
            return reject(.invalidQuantity)
        }
        guard order.quantityUnits % spec.lotSizeQuantityUnits == 0 else { return reject(.quantityNotOnLot) }
        switch order.type {
        case .market:
            guard order.priceUnits == 0 else { return reject(.invalidPrice) }
        case .limit:
            guard order.priceUnits > 0, order.priceUnits <= spec.maxPriceUnits else { return reject(.invalidPrice) }
            guard order.priceUnits % spec.tickSizePriceUnits == 0 else { return reject(.priceNotOnTick) }
        }
        let markPrice = markets[Int(order.symbol)].markPriceUnits
        guard markPrice > 0 else { return reject(.noMarkPrice) }
        if order.type == .limit, !Self.withinBand(priceUnits: order.priceUnits, markPriceUnits: markPrice, bandE8: spec.priceBandRateE8) {
            return reject(.priceOutsideBand)
        }
        let referencePrice = order.type == .limit ? order.priceUnits : markPrice
        guard
            notionalMinor(symbol: order.symbol, priceUnits: referencePrice, quantityUnits: order.quantityUnits)
                >= spec.minNotionalMinor
        else { return reject(.notionalTooSmall) }
        if order.clientOrderID != 0,
            let existing = clientOrders[ClientOrderKey(accountIndex: accountIndex, clientOrderID: order.clientOrderID)]
        {
            return reject(.duplicateClientOrderID, existing)
        }

        let orderID = nextOrderID
        let bestOpposite = markets[Int(order.symbol)].book.bestPrice(order.side.opposite)
        if order.type == .limit, order.timeInForce == .gtx,
            let bestOpposite, Self.crosses(order, makerPriceUnits: bestOpposite)
        {
            emit(.orderAccepted(orderID), command, sequence, &events)
            emit(.orderExpired(orderID, quantityUnits: order.quantityUnits, reason: .postOnly), command, sequence, &events)
            return
        }
        let plan = planFills(order, accountIndex: accountIndex)
        if order.timeInForce == .fok, plan.filledQuantityUnits < order.quantityUnits {
            emit(.orderAccepted(orderID), command, sequence, &events)
            emit(.orderExpired(orderID, quantityUnits: order.quantityUnits, reason: .fillOrKill), command, sequence, &events)
            return
        }
        let remaining = order.quantityUnits - plan.filledQuantityUnits
        let restsInBook = order.type == .limit && (order.timeInForce == .gtc || order.timeInForce == .gtx)
        let restingQuantity = restsInBook && !plan.hitOwnOrder ? remaining : 0

        var position = plan.position
        if order.side == .buy {
            position.openBuyQuantityUnits += restingQuantity
            position.openBuyNotionalMinor += notionalMinor(
                symbol: order.symbol, priceUnits: order.priceUnits, quantityUnits: restingQuantity)
        } else {
            position.openSellQuantityUnits += restingQuantity
            position.openSellNotionalMinor += notionalMinor(
                symbol: order.symbol, priceUnits: order.priceUnits, quantityUnits: restingQuantity)
        }
        let exposure = abs(position.sizeQuantityUnits) + max(position.openBuyQuantityUnits, position.openSellQuantityUnits)
        guard exposure <= spec.maxPositionQuantityUnits else { return reject(.positionLimit) }
        guard bracketAllows(position, symbol: order.symbol, leverage: effectiveLeverage(position, symbol: order.symbol)) else {
            return reject(.leverageAboveBracket)
        }
        let before = availableMinor(accountIndex: Int(accountIndex), asset: spec.settleAsset)
        let after = availableMinor(
            accountIndex: Int(accountIndex), asset: spec.settleAsset, replacing: (order.symbol, position),
            walletChangeMinor: plan.realizedPnlMinor - plan.feeMinor)
        guard Self.marginAllows(before: before, after: after) else { return reject(.insufficientMargin) }

        emit(.orderAccepted(orderID), command, sequence, &events)
        let filled = match(
            order, orderID: orderID, accountIndex: accountIndex, takerFeeRateE8: spec.takerFeeRateE8, command, sequence, &events)
        precondition(filled == plan.filledQuantityUnits, "matching filled other than planned")
        precondition(markets[Int(order.symbol)].book.isUncrossed, "book crossed after matching")
        if restingQuantity > 0 {
            emit(.orderRested(orderID, openQuantityUnits: restingQuantity), command, sequence, &events)
        } else if remaining > 0 {
            let reason: ExpiryReason = plan.hitOwnOrder ? .selfTrade : .immediateOrCancel
            emit(.orderExpired(orderID, quantityUnits: remaining, reason: reason), command, sequence, &events)
        }
    }

    /// Trades the incoming order against the book until it is filled, its limit is
    /// reached or it meets its own account's order. Returns the quantity filled.
    mutating func match(
        _ order: PlaceOrder, orderID: OrderID, accountIndex: UInt32, takerFeeRateE8: Int64, _ command: Command,
        _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> Int64 {
        let spec = symbols[Int(order.symbol)]
        let factor = markets[Int(order.symbol)].notionalFactor
        var remaining = order.quantityUnits
        while remaining > 0, let slot = markets[Int(order.symbol)].book.bestSlot(order.side.opposite) {
            let maker = markets[Int(order.symbol)].book.slots[Int(slot)]
            if !Self.crosses(order, makerPriceUnits: maker.priceUnits) || maker.accountIndex == accountIndex { break }
            let quantity = min(remaining, maker.openQuantityUnits)
            let notional = maker.priceUnits * quantity * factor
            let makerPosition = accounts[Int(maker.accountIndex)].position(order.symbol)
            let takerPosition = accounts[Int(accountIndex)].position(order.symbol)
            let makerAfter = Position.afterFill(
                sizeQuantityUnits: makerPosition.sizeQuantityUnits, costMinor: makerPosition.costMinor,
                side: maker.side, quantityUnits: quantity, priceUnits: maker.priceUnits, notionalFactor: factor)
            let takerAfter = Position.afterFill(
                sizeQuantityUnits: takerPosition.sizeQuantityUnits, costMinor: takerPosition.costMinor,
                side: order.side, quantityUnits: quantity, priceUnits: maker.priceUnits, notionalFactor: factor)
            let trade = Trade(
                tradeID: nextTradeID, symbol: order.symbol, makerOrderID: maker.orderID, takerOrderID: orderID,
                makerAccount: accounts[Int(maker.accountIndex)].id, takerAccount: order.account,
                takerSide: order.side, priceUnits: maker.priceUnits, quantityUnits: quantity,
                makerFeeMinor: FixedPoint.charge(notional: notional, rateE8: spec.makerFeeRateE8),
                takerFeeMinor: FixedPoint.charge(notional: notional, rateE8: takerFeeRateE8),
                makerRealizedPnlMinor: makerAfter.realizedPnlMinor, takerRealizedPnlMinor: takerAfter.realizedPnlMinor)
            emit(.trade(trade), command, sequence, &events)
            noteLiquidationCandidate(maker.accountIndex)
            noteLiquidationCandidate(accountIndex)
            remaining -= quantity
        }
        return order.quantityUnits - remaining
    }
}
