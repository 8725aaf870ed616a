/// The only code that changes the state. `execute` calls it for each event it decides on;
/// a rebuild calls it for each journaled event. Events are trusted here (they passed
/// validation when they were decided); preconditions catch a journal that disagrees.
extension ExchangeState {
    /// Applies the events of one journal entry, in an array: what recovery, the follower
    /// and the tools pass. Not generic, so that a caller in another module does not go
    /// through the collection's witness table (and a copy) for each event.
    public mutating func apply(_ events: [Event], of command: Command, sequence: SequenceNumber, timeNanos: Int64) {
        applyEntry(events, of: command, sequence: sequence, timeNanos: timeNanos)
    }

    /// The same, for events in a slice of a larger array (`DecodingReader`'s blocks).
    public mutating func apply(_ events: ArraySlice<Event>, of command: Command, sequence: SequenceNumber, timeNanos: Int64) {
        applyEntry(events, of: command, sequence: sequence, timeNanos: timeNanos)
    }

    /// The same, for events read where they lie (the follower's batches: a slice retained
    /// and released the batch's array for every entry).
    public mutating func apply(_ events: UnsafeBufferPointer<Event>, of command: Command, sequence: SequenceNumber, timeNanos: Int64) {
        applyEntry(events, of: command, sequence: sequence, timeNanos: timeNanos)
    }

    /// Applies the events of one journal entry.
    public mutating func apply(
        _ events: some Collection<Event>, of command: Command, sequence: SequenceNumber, timeNanos: Int64
    ) {
        applyEntry(events, of: command, sequence: sequence, timeNanos: timeNanos)
    }

    private mutating func applyEntry(
        _ events: some Collection<Event>, of command: Command, sequence: SequenceNumber, timeNanos: Int64
    ) {
        precondition(sequence == lastSequence + 1, "sequence \(sequence) after \(lastSequence)")
        entryTimeNanos = timeNanos
        expireIdempotency(now: timeNanos)
        for event in events {
            apply(event, of: command, sequence: sequence)
        }
        risk.riskIndex.invalidate(&ledger.accounts)
        finishEntry(sequence: sequence, timeNanos: timeNanos)
    }

    /// Applies one event of the entry at `sequence`.
    mutating func apply(_ event: Event, of command: Command, sequence: SequenceNumber) {
        switch event {
        case .assetListed(let id):
            guard case .listAsset(let asset) = command, asset.id == id else { preconditionFailure("event without its command") }
            assets.append(asset)
            ledger.listAsset()

        case .symbolListed(let id):
            guard case .listSymbol(let spec) = command, spec.id == id else { preconditionFailure("event without its command") }
            symbols.append(spec)
            markets.append(
                Market(
                    notionalFactor: Self.notionalFactor(spec, settleScale: assets[Int(spec.settleAsset)].scale)!,
                    maintenanceAmountsMinor: spec.maintenanceAmountsMinor))
            books.listSymbol()
            ledger.listSymbol()
            funding.listSymbol(timeNanos: entryTimeNanos, intervalSeconds: spec.fundingIntervalSeconds)

        case .deposited(let accountID, _, _):
            _ = ledger.open(accountID)
            post(event)
            recordTransfer(command, sequence: sequence)

        case .withdrawn:
            post(event)
            recordTransfer(command, sequence: sequence)

        case .transferReplayed, .orderExpired, .rejected:
            break

        case .leverageSet(let accountID, let symbol, let leverage):
            let index = Int(ledger.index(of: accountID)!)
            ledger.accounts[index].ensure(symbol: symbol)
            ledger.accounts[index].positions[Int(symbol)].leverage = leverage

        case .markPriceSet(let symbol, let price):
            markets[Int(symbol)].markPriceUnits = price
            followTrailingStops(symbol: symbol, .markPrice)
            // Before the symbol's first trade the contract price is the mark
            // (`workingPriceUnits`): the stops that watch it follow the mark too.
            if markets[Int(symbol)].lastPriceUnits == 0 { followTrailingStops(symbol: symbol, .contractPrice) }

        case .indexPriceSet(let symbol, let price):
            markets[Int(symbol)].indexPriceUnits = price

        case .fundingRateSet(let symbol, let rate):
            funding.bySymbol[Int(symbol)].fundingRateOverrideE8 = rate

        case .premiumSampled(let symbol, let premium):
            funding.bySymbol[Int(symbol)].premiumSampleSumE8 += premium
            funding.bySymbol[Int(symbol)].premiumSampleCount += 1

        case .fundingSettled(let symbol, let rate, let markPrice):
            funding.settled(
                Int(symbol), rateE8: rate, markPriceUnits: markPrice, timeNanos: entryTimeNanos,
                intervalSeconds: symbols[Int(symbol)].fundingIntervalSeconds, bounded: isBounded,
                fundSizeQuantityUnits: ledger.insurancePositions[Int(symbol)].sizeQuantityUnits)

        case .fundingSettlementAdvanced(let symbol, let accountID):
            let index = ledger.index(of: accountID)!
            precondition(funding.bySymbol[Int(symbol)].fundingSettlement != nil, "no settlement of symbol \(symbol) in progress")
            funding.bySymbol[Int(symbol)].fundingSettlement!.cursorAccountIndex = index + 1

        case .fundingSettlementCompleted(let symbol, let positions):
            funding.completed(Int(symbol), positions: positions)

        case .worldLimitsSet(let limits):
            precondition(worldLimits == nil, "world limits set twice")
            worldLimits = limits
            ledger.reserveAccounts(limits.accountsMax)

        case .fundingPaid(let accountID, let symbol, let amount):
            let index = Int(ledger.index(of: accountID)!)
            ledger.accounts[index].ensure(symbol: symbol)
            let position = ledger.accounts[index].positions[Int(symbol)]
            // A position closed since its settlement started pays from the wallet.
            if position.isIsolated && position.sizeQuantityUnits != 0 {
                ledger.accounts[index].positions[Int(symbol)].isolatedMarginMinor -= amount
            }
            if funding.bySymbol[Int(symbol)].fundingSettlement != nil {
                precondition(owesFunding(position, symbol: Int(symbol)), "account \(accountID) paid funding it did not owe")
                ledger.accounts[index].positions[Int(symbol)].fundingEpoch = funding.bySymbol[Int(symbol)].fundingEpoch
                ledger.accounts[index].positions[Int(symbol)].fundingFrozen = false
                ledger.accounts[index].positions[Int(symbol)].fundingFrozenSizeQuantityUnits = 0
                funding.bySymbol[Int(symbol)].fundingSettlement!.positionsSettled += 1
                if position.sizeQuantityUnits == 0 { ledger.noteHolding(index, symbol: symbol, Position()) }
            }
            post(event)

        case .marginModeSet(let accountID, let symbol, let isolated):
            let index = Int(ledger.index(of: accountID)!)
            ledger.accounts[index].ensure(symbol: symbol)
            precondition(ledger.accounts[index].positions[Int(symbol)].isolatedMarginMinor == 0, "margin mode change with margin held")
            ledger.accounts[index].positions[Int(symbol)].isIsolated = isolated

        case .isolatedMarginAdjusted(let accountID, let symbol, let amount):
            let index = Int(ledger.index(of: accountID)!)
            ledger.accounts[index].positions[Int(symbol)].isolatedMarginMinor += amount
            risk.riskIndex.markDirty(index, &ledger.accounts)

        case .insuranceFundDeposited:
            post(event)
            recordTransfer(command, sequence: sequence)

        case .liquidationTriggered:
            break

        case .liquidationOrderPlaced(let orderID, let accountID, let symbol, let side, let price, _):
            books.takeOrderID(orderID)
            books.incoming = IncomingOrder(
                orderID: orderID, accountIndex: ledger.index(of: accountID)!, symbol: symbol, side: side, priceUnits: price,
                clientOrderID: 0, reduceOnly: true)

        case .liquidationSettled(let accountID, let symbol, _, let fee, let surplus):
            let index = Int(ledger.index(of: accountID)!)
            let position = ledger.accounts[index].positions[Int(symbol)]
            if position.isIsolated && position.sizeQuantityUnits != 0 {
                ledger.accounts[index].positions[Int(symbol)].isolatedMarginMinor -= fee + surplus
            }
            post(event)

        case .insuranceTakeover(let accountID, let symbol, let side, let price, let quantity, let pnl, let fundPnl):
            let index = ledger.index(of: accountID)!
            fill(
                accountIndex: Int(index), symbol: symbol, side: side, quantityUnits: quantity, priceUnits: price,
                realizedPnlMinor: pnl, feeMinor: 0)
            fundFill(symbol: symbol, side: side.opposite, quantityUnits: quantity, priceUnits: price, realizedPnlMinor: fundPnl)
            if !risk.deleveragings.isEmpty { risk.deleveraged(index, symbol, quantity) }
            post(event)

        case .autoDeleveraged(let accountID, let counterparty, let symbol, let side, let price, let quantity, let pnl, let otherPnl):
            fill(
                accountIndex: Int(ledger.index(of: accountID)!), symbol: symbol, side: side, quantityUnits: quantity,
                priceUnits: price,
                realizedPnlMinor: pnl, feeMinor: 0)
            fill(
                accountIndex: Int(ledger.index(of: counterparty)!), symbol: symbol, side: side.opposite, quantityUnits: quantity,
                priceUnits: price, realizedPnlMinor: otherPnl, feeMinor: 0)
            if !risk.deleveragings.isEmpty { risk.deleveraged(ledger.index(of: accountID)!, symbol, quantity) }
            post(event)

        case .deleveragingContinues(let accountID, let symbol, let side, let price, let remaining):
            risk.deleveragingContinues(
                Deleveraging(
                    accountIndex: ledger.index(of: accountID)!, symbol: symbol, side: side, bankruptcyPriceUnits: price,
                    remainingQuantityUnits: remaining))

        case .adlRankingAdvanced(let symbol, let side, let accountID):
            advanceAdlRanking(symbol: symbol, side: side, through: Int(ledger.index(of: accountID)!))

        case .adlRankingCompleted(let symbol, let side, let positions):
            guard let slot = risk.adlRankingIndex(symbol: symbol, side: side) else {
                preconditionFailure("no ADL ranking of symbol \(symbol) \(side) in progress")
            }
            precondition(risk.adlRankings[slot].count == positions, "ADL ranking of symbol \(symbol): \(positions) positions journaled")
            risk.adlRankings[slot].isComplete = true
            pruneAdlRankings(symbol)

        case .badDebtCovered:
            post(event)

        case .fundFundingPaid:
            post(event)

        case .orderAccepted(let orderID):
            guard case .placeOrder(let order) = command else { preconditionFailure("event without its command") }
            applyOrderAccepted(orderID, order)

        case .trade(let trade):
            applyTradeEvent(trade)

        case .conditionalOrderPlaced(let orderID):
            guard case .placeOrder(let order) = command else { preconditionFailure("event without its command") }
            let index = ledger.index(of: order.account)!
            var conditional = ConditionalOrder(orderID: orderID, accountIndex: index, order: order, joinedTrailingExtremeUnits: 0)
            if order.type == .trailingStopMarket && order.activationPriceUnits == 0 {
                conditional.joinedTrailingExtremeUnits = workingPriceUnits(symbol: order.symbol, order.workingType)
            }
            books.addConditional(conditional)
            if order.clientOrderID != 0 { idempotency.openClientOrders += 1 }
            ledger.accounts[Int(index)].positions.countOrders(order.symbol, conditional: 1)

        case .conditionalOrderTriggered(let orderID, _):
            let conditional = removeConditional(orderID)
            let position = ledger.accounts[Int(conditional.accountIndex)].position(conditional.order.symbol)
            let order = Self.triggeredOrder(conditional, position: position)
            books.incoming = IncomingOrder(
                orderID: orderID, accountIndex: conditional.accountIndex, symbol: order.symbol, side: order.side,
                priceUnits: order.priceUnits, clientOrderID: order.clientOrderID, reduceOnly: order.reduceOnly)

        case .conditionalOrderCancelled(let orderID):
            _ = removeConditional(orderID)

        case .triggeredOrderRejected, .allOrdersCancelled:
            break

        case .idempotencyWindowSet(let window):
            idempotency.window = window

        case .orderReduced(let orderID, let quantity):
            let location = books.orderLocations[orderID]!
            let order = books.bySymbol[Int(location.symbol)][location.slot]
            precondition(quantity > 0 && quantity < order.openQuantityUnits, "reduction must leave the order open")
            books.bySymbol[Int(location.symbol)].reduce(slot: location.slot, by: quantity)
            restingOrderChanged(
                accountIndex: Int(order.accountIndex), symbol: location.symbol, side: order.side, priceUnits: order.priceUnits,
                quantityUnits: -quantity, count: 0, reduceOnly: order.reduceOnly, accountLast: OrderBook.unchanged)

        case .orderAmended(let orderID, let price, _):
            let (symbol, order, clientOrderID, last) = books.removeResting(orderID)
            if order.hasClientOrderID { idempotency.openClientOrders -= 1 }
            restingOrderChanged(
                accountIndex: Int(order.accountIndex), symbol: symbol, side: order.side, priceUnits: order.priceUnits,
                quantityUnits: -order.openQuantityUnits, count: -1, reduceOnly: order.reduceOnly, accountLast: last)
            books.incoming = IncomingOrder(
                orderID: orderID, accountIndex: order.accountIndex, symbol: symbol, side: order.side, priceUnits: price,
                clientOrderID: clientOrderID, reduceOnly: order.reduceOnly)

        case .orderRested(let orderID, let quantity):
            applyOrderRested(orderID, quantity)

        case .orderCancelled(let orderID, let quantity), .restingOrderExpired(let orderID, let quantity, _):
            applyOrderRemoved(orderID, quantity)
        }
    }

    // The events of every order (accepted, rested, traded, cancelled or expired while
    // resting) are applied by functions of their own, which `execute` calls directly
    // (`emitOrderAccepted` …): the switch above, over every kind of event, costs a large
    // frame and a copy of the event each time, and inside it, being large, the arrays'
    // accessors stayed calls.

    @inline(never)
    mutating func applyOrderAccepted(_ orderID: OrderID, _ order: PlaceOrder) {
        books.takeOrderID(orderID)
        let index = ledger.index(of: order.account)!
        if order.clientOrderID != 0 {
            idempotency.rememberClientOrder(
                ClientOrderKey(accountIndex: index, clientOrderID: order.clientOrderID), orderID: orderID, timeNanos: entryTimeNanos)
        }
        books.incoming = IncomingOrder(
            orderID: orderID, accountIndex: index, symbol: order.symbol, side: order.side, priceUnits: order.priceUnits,
            clientOrderID: order.clientOrderID, reduceOnly: order.reduceOnly)
    }

    @inline(never)
    mutating func applyOrderRested(_ orderID: OrderID, _ quantity: Int64) {
        guard let order = books.incoming, order.orderID == orderID else {
            preconditionFailure("rested order \(orderID) is not the incoming one")
        }
        let resting = RestingOrder(
            orderID: orderID, accountIndex: order.accountIndex, side: order.side, priceUnits: order.priceUnits,
            openQuantityUnits: quantity, hasClientOrderID: !order.clientOrderID.isNone, reduceOnly: order.reduceOnly)
        // The account's last order on the side, read from its position slot, which the
        // change below writes anyway.
        let last = ledger.accounts[Int(order.accountIndex)].positions.peekLastOrderSlot(order.symbol, order.side)
        let slot = books.rest(resting, symbol: order.symbol, clientOrderID: order.clientOrderID, accountLast: last)
        if !order.clientOrderID.isNone { idempotency.openClientOrders += 1 }
        restingOrderChanged(
            accountIndex: Int(order.accountIndex), symbol: order.symbol, side: order.side, priceUnits: order.priceUnits,
            quantityUnits: quantity, count: 1, reduceOnly: order.reduceOnly, accountLast: slot)
    }

    /// A resting order leaves the book whole (`orderCancelled`, `restingOrderExpired`).
    @inline(never)
    mutating func applyOrderRemoved(_ orderID: OrderID, _ quantity: Int64) {
        let (symbol, order, _, last) = books.removeResting(orderID)
        precondition(order.openQuantityUnits == quantity, "cancelled quantity differs from the book")
        if order.hasClientOrderID { idempotency.openClientOrders -= 1 }
        restingOrderChanged(
            accountIndex: Int(order.accountIndex), symbol: symbol, side: order.side, priceUnits: order.priceUnits,
            quantityUnits: -quantity, count: -1, reduceOnly: order.reduceOnly, accountLast: last)
    }

    /// What `Position.afterFill` gives each side of a trade: known when the engine made the
    /// trade, taken again when a trade is applied from the journal.
    typealias TradeFills = (
        maker: (sizeQuantityUnits: Int64, costMinor: Int64, realizedPnlMinor: Int64),
        taker: (sizeQuantityUnits: Int64, costMinor: Int64, realizedPnlMinor: Int64)
    )

    @inline(never)
    mutating func applyTradeEvent(_ trade: Trade, fills: TradeFills? = nil) {
        let parties = applyTrade(trade, fills: fills)
        // The trade's postings (`Event.forEachPosting`), credited directly: each balance
        // ends where the postings one by one leave it (`LedgerRoom.postTrade`).
        ledger.postTrade(
            asset: symbols[Int(trade.symbol)].settleAsset,
            maker: (parties.maker, trade.makerRealizedPnlMinor, trade.makerFeeMinor),
            taker: (parties.taker, trade.takerRealizedPnlMinor, trade.takerFeeMinor))
        // (Both accounts were marked for their end-of-entry check by their fills.)
        followTrailingStops(symbol: trade.symbol, .contractPrice)
    }

    /// Applies a trade's fills; returns its two accounts' indexes (the maker's found
    /// through its order, the taker's as the incoming order's, else by id), so that
    /// posting its money need not look them up again.
    private mutating func applyTrade(_ trade: Trade, fills: TradeFills?) -> (maker: Int, taker: Int) {
        books.takeTradeID(trade.tradeID)
        let symbol = trade.symbol
        let (maker, closed, makerLast) = books.fill(trade.makerOrderID, by: trade.quantityUnits)
        precondition(maker.priceUnits == trade.priceUnits && maker.side == trade.takerSide.opposite)
        if closed, maker.hasClientOrderID { idempotency.openClientOrders -= 1 }
        markets[Int(symbol)].lastPriceUnits = trade.priceUnits
        let makerIndex = Int(maker.accountIndex)
        restingOrderChanged(
            accountIndex: makerIndex, symbol: symbol, side: maker.side, priceUnits: maker.priceUnits,
            quantityUnits: -trade.quantityUnits, count: closed ? -1 : 0, reduceOnly: maker.reduceOnly, accountLast: makerLast)
        // The taker is the incoming order's account, found when the order came in: no
        // second lookup of its id (checked against the account's own id).
        let takerIndex: Int
        if let incoming = books.incoming, ledger.accounts[Int(incoming.accountIndex)].id == trade.takerAccount {
            takerIndex = Int(incoming.accountIndex)
        } else {
            takerIndex = Int(ledger.index(of: trade.takerAccount)!)
        }
        precondition(ledger.accounts[makerIndex].id == trade.makerAccount)
        let makerMove = fillPosition(
            accountIndex: makerIndex, symbol: symbol, side: maker.side, quantityUnits: trade.quantityUnits,
            priceUnits: trade.priceUnits, realizedPnlMinor: trade.makerRealizedPnlMinor, feeMinor: trade.makerFeeMinor,
            after: fills?.maker)
        let takerMove = fillPosition(
            accountIndex: takerIndex, symbol: symbol, side: trade.takerSide, quantityUnits: trade.quantityUnits,
            priceUnits: trade.priceUnits, realizedPnlMinor: trade.takerRealizedPnlMinor, feeMinor: trade.takerFeeMinor,
            after: fills?.taker)
        // The symbol's sums follow both sides at once: one change of each table a trade
        // instead of one a side.
        ledger.positionCostTotalMinor[Int(symbols[Int(symbol)].settleAsset)] += makerMove.costChangeMinor + takerMove.costChangeMinor
        ledger.moveOpenInterest(symbol, makerMove.sizes, takerMove.sizes)
        return (makerIndex, takerIndex)
    }

    /// Moves one side of a fill into its position (the money moves by the event's postings:
    /// `LedgerRoom.postTrade` for a trade, `post` for a takeover or an ADL fill).
    private mutating func fill(
        accountIndex: Int, symbol: SymbolID, side: Side, quantityUnits: Int64, priceUnits: Int64, realizedPnlMinor: Int64,
        feeMinor: Int64
    ) {
        let move = fillPosition(
            accountIndex: accountIndex, symbol: symbol, side: side, quantityUnits: quantityUnits, priceUnits: priceUnits,
            realizedPnlMinor: realizedPnlMinor, feeMinor: feeMinor)
        ledger.positionCostTotalMinor[Int(symbols[Int(symbol)].settleAsset)] += move.costChangeMinor
        ledger.moveOpenInterest(symbol, from: move.sizes.before, to: move.sizes.after)
    }

    /// The account's side of a fill: its position, its holding and its mark for the
    /// end-of-entry check. Returns what the symbol's sums must follow (the caller changes
    /// them: `fill` for one side, `applyTrade` for both at once); nothing between reads them.
    @inline(__always)
    private mutating func fillPosition(
        accountIndex: Int, symbol: SymbolID, side: Side, quantityUnits: Int64, priceUnits: Int64, realizedPnlMinor: Int64,
        feeMinor: Int64, after afterFill: (sizeQuantityUnits: Int64, costMinor: Int64, realizedPnlMinor: Int64)? = nil
    ) -> (costChangeMinor: Int64, sizes: (before: Int64, after: Int64)) {
        // Read where it lies (an empty position when the account has no slot in the
        // symbol); the write below makes the slot.
        let before = ledger.accounts[accountIndex].positions[Int(symbol)]
        let factor = markets[Int(symbol)].notionalFactor
        var after = before.filled(
            side: side, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: factor, feeMinor: feeMinor,
            leverage: effectiveLeverage(before, symbol: symbol),
            after: afterFill
                ?? Position.afterFill(
                    sizeQuantityUnits: before.sizeQuantityUnits, costMinor: before.costMinor, side: side,
                    quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: factor))
        precondition(after.realizedPnlMinor == realizedPnlMinor, "realized PnL differs from the journal")
        // Funding is owed on the size a position had when its settlement started: a new
        // position is square with the latest settlement; one that owes the settlement in
        // progress keeps its size at the start for it (docs/RULES.md).
        if before.sizeQuantityUnits == 0 && !before.fundingFrozen {
            after.position.fundingEpoch = funding.bySymbol[Int(symbol)].fundingEpoch
        } else if !before.fundingFrozen && owesFunding(before, symbol: Int(symbol)) {
            after.position.fundingFrozen = true
            after.position.fundingFrozenSizeQuantityUnits = before.sizeQuantityUnits
        }
        ledger.noteHolding(accountIndex, symbol: symbol, after.position)
        risk.riskIndex.setPosition(after.position, symbol: symbol, of: accountIndex, &ledger.accounts)
        // (The rankings read positions only, not the sums the caller changes after.)
        if !risk.adlRankings.isEmpty { pruneAdlRankings(symbol) }
        return (after.position.costMinor - before.costMinor, (before.sizeQuantityUnits, after.position.sizeQuantityUnits))
    }

    /// Keeps the first position of each complete ADL ranking of `symbol` one that still
    /// meets its side: positions closed or turned since they were scored leave from the
    /// top as they reach it (every removal follows a journaled event, so a rebuild from
    /// the journal removes the same ones).
    mutating func pruneAdlRankings(_ symbol: SymbolID) {
        for slot in risk.adlRankings.indices where risk.adlRankings[slot].symbol == symbol && risk.adlRankings[slot].isComplete {
            let side = risk.adlRankings[slot].side
            while let first = risk.adlRankings[slot].first,
                !Self.meetsBankrupt(ledger.accounts[Int(first.accountIndex)].position(symbol), closingSide: side)
            {
                risk.adlRankings[slot].removeFirst()
            }
        }
    }

    /// One step of an ADL ranking in bounded steps (`adlRankingAdvanced`): scores the
    /// opposing positions from its cursor through account index `through`. A side with
    /// no ranking, or only a complete one, starts a new one.
    private mutating func advanceAdlRanking(symbol: SymbolID, side: Side, through: Int) {
        risk.adlRankings.removeAll { $0.symbol == symbol && $0.side == side && $0.isComplete }
        let slot: Int
        if let existing = risk.adlRankingIndex(symbol: symbol, side: side) {
            slot = existing
        } else {
            risk.adlRankings.append(AdlRanking(symbol: symbol, side: side))
            slot = risk.adlRankings.count - 1
        }
        let market = Int(symbol)
        var cursor = Int(risk.adlRankings[slot].cursorAccountIndex)
        while let index = ledger.firstHolder(market, atOrAfter: cursor, meeting: side), index <= through {
            if Self.meetsBankrupt(ledger.accounts[index].position(symbol), closingSide: side) {
                risk.adlRankings[slot].insert(
                    AdlRanking.Rank(score: adlScore(accountIndex: index, symbol: symbol), accountIndex: UInt32(index)))
            }
            cursor = index + 1
        }
        risk.adlRankings[slot].cursorAccountIndex = UInt32(through + 1)
    }

    /// Takes a conditional order out of its list.
    private mutating func removeConditional(_ orderID: OrderID) -> ConditionalOrder {
        let conditional = books.removeConditional(orderID)
        let symbol = conditional.order.symbol
        if conditional.order.clientOrderID != 0 { idempotency.openClientOrders -= 1 }
        ledger.accounts[Int(conditional.accountIndex)].positions.countOrders(symbol, conditional: -1)
        return conditional
    }

    /// The insurance fund's side of a takeover.
    private mutating func fundFill(symbol: SymbolID, side: Side, quantityUnits: Int64, priceUnits: Int64, realizedPnlMinor: Int64) {
        let before = ledger.insurancePositions[Int(symbol)]
        let after = before.filled(
            side: side, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: markets[Int(symbol)].notionalFactor,
            feeMinor: 0, leverage: 1)
        precondition(after.realizedPnlMinor == realizedPnlMinor, "fund realized PnL differs from the journal")
        ledger.insurancePositions[Int(symbol)] = after.position
        ledger.positionCostTotalMinor[Int(symbols[Int(symbol)].settleAsset)] += after.position.costMinor - before.costMinor
        ledger.moveOpenInterest(symbol, from: before.sizeQuantityUnits, to: after.position.sizeQuantityUnits)
    }

    /// Moves the money an event stands for, posting by posting (a trade's moves in
    /// `applyTradeEvent`, by the accounts' indexes).
    private mutating func post(_ event: Event) {
        // A local function reads the state in place; a method (`self.ledgerRef`) called
        // from here was passed a copy of the whole state, twice a posting.
        func ledgerRef(_ account: LedgerAccount) -> LedgerRef {
            switch account {
            case .user(let id):
                return .user(Int(ledger.index(of: id)!))
            case .system(let system): return .system(system)
            }
        }
        event.forEachPosting(settleAsset: { symbols[Int($0)].settleAsset }) { posting in
            credit(ledgerRef(posting.to), asset: posting.asset, amountMinor: posting.amountMinor)
            credit(ledgerRef(posting.from), asset: posting.asset, amountMinor: -posting.amountMinor)
        }
    }

    /// A resting order joins, fills or leaves: its open quantity and notional (negative
    /// quantity: taken off) and, for `count` ±1, the account's count of resting orders in
    /// the symbol, in one change of the account's slot; with the book's answer for the
    /// account's last order on the side (`OrderBook.unchanged` when it stays).
    @inline(__always)
    private mutating func restingOrderChanged(
        accountIndex: Int, symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64, count: Int, reduceOnly: Bool,
        accountLast: Int32
    ) {
        let notional = notionalMinor(symbol: symbol, priceUnits: priceUnits, quantityUnits: quantityUnits)
        ledger.accounts[accountIndex].positions.changeRestingOrder(
            symbol, side: side, quantityUnits: quantityUnits, notionalMinor: notional, count: count, reduceOnly: reduceOnly,
            lastSlot: accountLast)
    }

    private mutating func recordTransfer(_ command: Command, sequence: SequenceNumber) {
        let (transfer, kind): (Transfer, TransferKind)
        switch command {
        case .deposit(let t): (transfer, kind) = (t, .deposit)
        case .withdraw(let t): (transfer, kind) = (t, .withdrawal)
        case .depositInsuranceFund(let t): (transfer, kind) = (t, .insuranceDeposit)
        default: preconditionFailure("event without its command")
        }
        idempotency.rememberTransfer(TransferRecord(sequence: sequence, kind: kind, transfer: transfer), timeNanos: entryTimeNanos)
    }

    /// One side of the double entry, in the ledger; a user account changed is one the risk
    /// room checks afresh when the entry ends.
    @inline(__always)
    private mutating func credit(_ account: LedgerRef, asset: AssetID, amountMinor: Int64) {
        ledger.credit(account, asset: asset, amountMinor: amountMinor)
        if case .user(let index) = account { risk.riskIndex.markDirty(index, &ledger.accounts) }
    }

    /// Closes an entry: checks the ledger's per-entry invariants and advances the
    /// sequence.
    mutating func finishEntry(sequence: SequenceNumber, timeNanos: Int64) {
        if !ledger.entryBalances() { preconditionFailure(ledger.entryViolation(sequence: sequence) ?? "entry \(sequence)") }
        lastSequence = sequence
        lastTimeNanos = timeNanos
    }

    /// The settlement factor of a symbol, or nil when its scales do not give an exact one
    /// that fits.
    static func notionalFactor(_ spec: SymbolSpec, settleScale: UInt8) -> Int64? {
        let exponent = Int(settleScale) - Int(spec.priceScale) - Int(spec.quantityScale)
        guard exponent >= 0, exponent <= 18, spec.contractMultiplier > 0 else { return nil }
        return spec.contractMultiplier.multipliedReportingOverflow(by: FixedPoint.powerOfTen(exponent)).overflow
            ? nil : spec.contractMultiplier * FixedPoint.powerOfTen(exponent)
    }
}

/// A balance holder in the ledger room: a dense user index or a system account.
public enum LedgerRef: Sendable {
    case user(Int)
    case system(SystemAccount)
}
