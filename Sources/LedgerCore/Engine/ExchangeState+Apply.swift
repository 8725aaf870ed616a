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
        riskIndex.invalidate(&accounts)
        finishEntry(sequence: sequence, timeNanos: timeNanos)
    }

    /// Applies one event of the entry at `sequence`.
    mutating func apply(_ event: Event, of command: Command, sequence: SequenceNumber) {
        switch event {
        case .assetListed(let id):
            guard case .listAsset(let asset) = command, asset.id == id else { preconditionFailure("event without its command") }
            assets.append(asset)
            systemBalancesMinor.append(contentsOf: repeatElement(0, count: SystemAccount.allCases.count))
            positionCostTotalMinor.append(0)
            entryNetMinor.append(0)

        case .symbolListed(let id):
            guard case .listSymbol(let spec) = command, spec.id == id else { preconditionFailure("event without its command") }
            symbols.append(spec)
            var market = Market(
                notionalFactor: Self.notionalFactor(spec, settleScale: assets[Int(spec.settleAsset)].scale)!,
                maintenanceAmountsMinor: spec.maintenanceAmountsMinor)
            if spec.fundingIntervalSeconds > 0 {
                market.nextFundingTimeNanos = Self.nextFundingTime(after: entryTimeNanos, intervalSeconds: spec.fundingIntervalSeconds)
            }
            markets.append(market)
            insurancePositions.append(Position())
            refreshFundingSchedule()

        case .deposited(let accountID, _, _):
            _ = openAccount(accountID)
            post(event)
            recordTransfer(command, sequence: sequence)

        case .withdrawn:
            post(event)
            recordTransfer(command, sequence: sequence)

        case .transferReplayed, .orderExpired, .rejected:
            break

        case .leverageSet(let accountID, let symbol, let leverage):
            let index = Int(accountIndexByID[accountID]!)
            accounts[index].ensure(symbol: symbol)
            accounts[index].positions[Int(symbol)].leverage = leverage

        case .markPriceSet(let symbol, let price):
            markets[Int(symbol)].markPriceUnits = price
            followTrailingStops(symbol: symbol, .markPrice)

        case .indexPriceSet(let symbol, let price):
            markets[Int(symbol)].indexPriceUnits = price

        case .fundingRateSet(let symbol, let rate):
            markets[Int(symbol)].fundingRateOverrideE8 = rate

        case .premiumSampled(let symbol, let premium):
            markets[Int(symbol)].premiumSampleSumE8 += premium
            markets[Int(symbol)].premiumSampleCount += 1

        case .fundingSettled(let symbol, let rate, let markPrice):
            let interval = symbols[Int(symbol)].fundingIntervalSeconds
            markets[Int(symbol)].lastFundingRateE8 = rate
            markets[Int(symbol)].fundingRateOverrideE8 = nil
            markets[Int(symbol)].premiumSampleSumE8 = 0
            markets[Int(symbol)].premiumSampleCount = 0
            markets[Int(symbol)].nextFundingTimeNanos = Self.nextFundingTime(after: entryTimeNanos, intervalSeconds: interval)
            if isBounded {
                // The holders as of now owe it (their epoch is now behind); see `fill`.
                precondition(markets[Int(symbol)].fundingSettlement == nil, "a settlement of symbol \(symbol) is in progress")
                markets[Int(symbol)].fundingEpoch &+= 1
                markets[Int(symbol)].fundingSettlement = FundingSettlement(
                    rateE8: rate, markPriceUnits: markPrice, cursorAccountIndex: 0,
                    fundSizeQuantityUnits: insurancePositions[Int(symbol)].sizeQuantityUnits, positionsSettled: 0)
            }
            refreshFundingSchedule()

        case .fundingSettlementAdvanced(let symbol, let accountID):
            let index = accountIndexByID[accountID]!
            precondition(markets[Int(symbol)].fundingSettlement != nil, "no settlement of symbol \(symbol) in progress")
            markets[Int(symbol)].fundingSettlement!.cursorAccountIndex = index + 1

        case .fundingSettlementCompleted(let symbol, let positions):
            if let settlement = markets[Int(symbol)].fundingSettlement {
                precondition(settlement.positionsSettled == positions, "settlement of symbol \(symbol): \(positions) positions journaled")
            }
            markets[Int(symbol)].fundingSettlement = nil
            refreshFundingSchedule()

        case .worldLimitsSet(let limits):
            precondition(worldLimits == nil, "world limits set twice")
            worldLimits = limits
            reserveAccounts()

        case .fundingPaid(let accountID, let symbol, let amount):
            let index = Int(accountIndexByID[accountID]!)
            accounts[index].ensure(symbol: symbol)
            let position = accounts[index].positions[Int(symbol)]
            // A position closed since its settlement started pays from the wallet.
            if position.isIsolated && position.sizeQuantityUnits != 0 {
                accounts[index].positions[Int(symbol)].isolatedMarginMinor -= amount
            }
            if markets[Int(symbol)].fundingSettlement != nil {
                precondition(owesFunding(position, symbol: Int(symbol)), "account \(accountID) paid funding it did not owe")
                accounts[index].positions[Int(symbol)].fundingEpoch = markets[Int(symbol)].fundingEpoch
                accounts[index].positions[Int(symbol)].fundingFrozen = false
                accounts[index].positions[Int(symbol)].fundingFrozenSizeQuantityUnits = 0
                markets[Int(symbol)].fundingSettlement!.positionsSettled += 1
                if position.sizeQuantityUnits == 0 { markets[Int(symbol)].holders.remove(index) }
            }
            post(event)

        case .marginModeSet(let accountID, let symbol, let isolated):
            let index = Int(accountIndexByID[accountID]!)
            accounts[index].ensure(symbol: symbol)
            precondition(accounts[index].positions[Int(symbol)].isolatedMarginMinor == 0, "margin mode change with margin held")
            accounts[index].positions[Int(symbol)].isIsolated = isolated

        case .isolatedMarginAdjusted(let accountID, let symbol, let amount):
            let index = Int(accountIndexByID[accountID]!)
            accounts[index].positions[Int(symbol)].isolatedMarginMinor += amount
            riskIndex.markDirty(index, &accounts)

        case .insuranceFundDeposited:
            post(event)
            recordTransfer(command, sequence: sequence)

        case .liquidationTriggered:
            break

        case .liquidationOrderPlaced(let orderID, let accountID, let symbol, let side, let price, _):
            precondition(orderID == nextOrderID, "order id \(orderID), expected \(nextOrderID)")
            nextOrderID += 1
            incoming = IncomingOrder(
                orderID: orderID, accountIndex: accountIndexByID[accountID]!, symbol: symbol, side: side, priceUnits: price,
                clientOrderID: 0, reduceOnly: true)

        case .liquidationSettled(let accountID, let symbol, _, let fee, let surplus):
            let index = Int(accountIndexByID[accountID]!)
            let position = accounts[index].positions[Int(symbol)]
            if position.isIsolated && position.sizeQuantityUnits != 0 {
                accounts[index].positions[Int(symbol)].isolatedMarginMinor -= fee + surplus
            }
            post(event)

        case .insuranceTakeover(let accountID, let symbol, let side, let price, let quantity, let pnl, let fundPnl):
            let index = accountIndexByID[accountID]!
            fill(
                accountIndex: Int(index), symbol: symbol, side: side, quantityUnits: quantity, priceUnits: price,
                realizedPnlMinor: pnl, feeMinor: 0)
            fundFill(symbol: symbol, side: side.opposite, quantityUnits: quantity, priceUnits: price, realizedPnlMinor: fundPnl)
            if !deleveragings.isEmpty { deleveraged(index, symbol, quantity) }
            post(event)

        case .autoDeleveraged(let accountID, let counterparty, let symbol, let side, let price, let quantity, let pnl, let otherPnl):
            fill(
                accountIndex: Int(accountIndexByID[accountID]!), symbol: symbol, side: side, quantityUnits: quantity, priceUnits: price,
                realizedPnlMinor: pnl, feeMinor: 0)
            fill(
                accountIndex: Int(accountIndexByID[counterparty]!), symbol: symbol, side: side.opposite, quantityUnits: quantity,
                priceUnits: price, realizedPnlMinor: otherPnl, feeMinor: 0)
            if !deleveragings.isEmpty { deleveraged(accountIndexByID[accountID]!, symbol, quantity) }
            post(event)

        case .deleveragingContinues(let accountID, let symbol, let side, let price, let remaining):
            let index = accountIndexByID[accountID]!
            deleveragings.removeAll { $0.accountIndex == index && $0.symbol == symbol }
            if remaining > 0 {
                deleveragings.append(
                    Deleveraging(
                        accountIndex: index, symbol: symbol, side: side, bankruptcyPriceUnits: price, remainingQuantityUnits: remaining))
            }
            dropIdleAdlRankings()

        case .adlRankingAdvanced(let symbol, let side, let accountID):
            advanceAdlRanking(symbol: symbol, side: side, through: Int(accountIndexByID[accountID]!))

        case .adlRankingCompleted(let symbol, let side, let positions):
            guard let slot = adlRankingIndex(symbol: symbol, side: side) else {
                preconditionFailure("no ADL ranking of symbol \(symbol) \(side) in progress")
            }
            precondition(adlRankings[slot].count == positions, "ADL ranking of symbol \(symbol): \(positions) positions journaled")
            adlRankings[slot].isComplete = true
            pruneAdlRankings(symbol)

        case .badDebtCovered:
            post(event)

        case .fundFundingPaid:
            post(event)

        case .orderAccepted(let orderID):
            guard case .placeOrder(let order) = command else { preconditionFailure("event without its command") }
            precondition(orderID == nextOrderID, "order id \(orderID), expected \(nextOrderID)")
            nextOrderID += 1
            let index = accountIndexByID[order.account]!
            if order.clientOrderID != 0 {
                let key = ClientOrderKey(accountIndex: index, clientOrderID: order.clientOrderID)
                clientOrders[key] = orderID
                clientOrderQueue.append(IdempotencyRecord(timeNanos: entryTimeNanos, key: key))
            }
            incoming = IncomingOrder(
                orderID: orderID, accountIndex: index, symbol: order.symbol, side: order.side, priceUnits: order.priceUnits,
                clientOrderID: order.clientOrderID, reduceOnly: order.reduceOnly)

        case .trade(let trade):
            let parties = applyTrade(trade)
            post(event, known: parties)
            followTrailingStops(symbol: trade.symbol, .contractPrice)

        case .conditionalOrderPlaced(let orderID):
            guard case .placeOrder(let order) = command else { preconditionFailure("event without its command") }
            let index = accountIndexByID[order.account]!
            var conditional = ConditionalOrder(orderID: orderID, accountIndex: index, order: order, trailingExtremeUnits: 0)
            if order.type == .trailingStopMarket && order.activationPriceUnits == 0 {
                conditional.trailingExtremeUnits = workingPriceUnits(symbol: order.symbol, order.workingType)
            }
            markets[Int(order.symbol)].conditionalOrders.append(conditional)
            conditionalLocations[orderID] = order.symbol
            if order.clientOrderID != 0 { openClientOrders += 1 }
            accounts[Int(index)].positions.countOrders(order.symbol, conditional: 1)

        case .conditionalOrderTriggered(let orderID, _):
            let conditional = removeConditional(orderID)
            let position = accounts[Int(conditional.accountIndex)].position(conditional.order.symbol)
            let order = Self.triggeredOrder(conditional, position: position)
            incoming = IncomingOrder(
                orderID: orderID, accountIndex: conditional.accountIndex, symbol: order.symbol, side: order.side,
                priceUnits: order.priceUnits, clientOrderID: order.clientOrderID, reduceOnly: order.reduceOnly)

        case .conditionalOrderCancelled(let orderID):
            _ = removeConditional(orderID)

        case .triggeredOrderRejected, .allOrdersCancelled:
            break

        case .idempotencyWindowSet(let window):
            idempotency = window

        case .orderReduced(let orderID, let quantity):
            let location = orderLocations[orderID]!
            let order = markets[Int(location.symbol)].book[location.slot]
            precondition(quantity > 0 && quantity < order.openQuantityUnits, "reduction must leave the order open")
            markets[Int(location.symbol)].book.reduce(slot: location.slot, by: quantity)
            adjustOpenOrders(
                accountIndex: Int(order.accountIndex), symbol: location.symbol, side: order.side, priceUnits: order.priceUnits,
                quantityUnits: -quantity)

        case .orderAmended(let orderID, let price, _):
            let location = orderLocations.removeValue(forKey: orderID)!
            let order = markets[Int(location.symbol)].book[location.slot]
            markets[Int(location.symbol)].book.remove(slot: location.slot)
            let clientOrderID = forgetClientOrderID(of: order)
            adjustOpenOrders(
                accountIndex: Int(order.accountIndex), symbol: location.symbol, side: order.side, priceUnits: order.priceUnits,
                quantityUnits: -order.openQuantityUnits)
            accounts[Int(order.accountIndex)].positions.countOrders(location.symbol, resting: -1, reduceOnly: order.reduceOnly)
            incoming = IncomingOrder(
                orderID: orderID, accountIndex: order.accountIndex, symbol: location.symbol, side: order.side, priceUnits: price,
                clientOrderID: clientOrderID, reduceOnly: order.reduceOnly)

        case .orderRested(let orderID, let quantity):
            guard let order = incoming, order.orderID == orderID else {
                preconditionFailure("rested order \(orderID) is not the incoming one")
            }
            let resting = RestingOrder(
                orderID: orderID, accountIndex: order.accountIndex, side: order.side, priceUnits: order.priceUnits,
                openQuantityUnits: quantity, hasClientOrderID: !order.clientOrderID.isNone, reduceOnly: order.reduceOnly)
            let slot = markets[Int(order.symbol)].book.insert(resting)
            orderLocations[orderID] = OrderLocation(symbol: order.symbol, slot: slot)
            if !order.clientOrderID.isNone {
                openClientOrders += 1
                restingClientOrderIDs[orderID] = order.clientOrderID
            }
            adjustOpenOrders(
                accountIndex: Int(order.accountIndex), symbol: order.symbol, side: order.side, priceUnits: order.priceUnits,
                quantityUnits: quantity)
            accounts[Int(order.accountIndex)].positions.countOrders(order.symbol, resting: 1, reduceOnly: order.reduceOnly)

        case .orderCancelled(let orderID, let quantity), .restingOrderExpired(let orderID, let quantity, _):
            let location = orderLocations.removeValue(forKey: orderID)!
            let order = markets[Int(location.symbol)].book[location.slot]
            precondition(order.openQuantityUnits == quantity, "cancelled quantity differs from the book")
            markets[Int(location.symbol)].book.remove(slot: location.slot)
            forgetClientOrderID(of: order)
            adjustOpenOrders(
                accountIndex: Int(order.accountIndex), symbol: location.symbol, side: order.side,
                priceUnits: order.priceUnits, quantityUnits: -quantity)
            accounts[Int(order.accountIndex)].positions.countOrders(location.symbol, resting: -1, reduceOnly: order.reduceOnly)
        }
    }

    /// A resting order left the book: its client order id, no longer open (none if it had
    /// none).
    @discardableResult
    private mutating func forgetClientOrderID(of order: RestingOrder) -> ClientOrderID {
        guard order.hasClientOrderID else { return .none }
        openClientOrders -= 1
        return restingClientOrderIDs.removeValue(forKey: order.orderID)!
    }

    /// Applies a trade's fills; returns its two accounts (the maker's found through its
    /// order, the taker's by id), so that posting its money need not look them up again.
    private mutating func applyTrade(_ trade: Trade) -> KnownAccounts {
        precondition(trade.tradeID == nextTradeID, "trade id \(trade.tradeID), expected \(nextTradeID)")
        nextTradeID += 1
        let symbol = trade.symbol
        let location = orderLocations[trade.makerOrderID]!
        let maker = markets[Int(symbol)].book[location.slot]
        precondition(maker.priceUnits == trade.priceUnits && maker.side == trade.takerSide.opposite)
        if markets[Int(symbol)].book.reduce(slot: location.slot, by: trade.quantityUnits) {
            orderLocations.removeValue(forKey: trade.makerOrderID)
            forgetClientOrderID(of: maker)
            accounts[Int(maker.accountIndex)].positions.countOrders(symbol, resting: -1, reduceOnly: maker.reduceOnly)
        }
        markets[Int(symbol)].lastPriceUnits = trade.priceUnits
        let makerIndex = Int(maker.accountIndex)
        adjustOpenOrders(
            accountIndex: makerIndex, symbol: symbol, side: maker.side, priceUnits: maker.priceUnits,
            quantityUnits: -trade.quantityUnits)
        let takerIndex = Int(accountIndexByID[trade.takerAccount]!)
        precondition(accounts[makerIndex].id == trade.makerAccount)
        fill(
            accountIndex: makerIndex, symbol: symbol, side: maker.side, quantityUnits: trade.quantityUnits,
            priceUnits: trade.priceUnits, realizedPnlMinor: trade.makerRealizedPnlMinor, feeMinor: trade.makerFeeMinor)
        fill(
            accountIndex: takerIndex, symbol: symbol, side: trade.takerSide, quantityUnits: trade.quantityUnits,
            priceUnits: trade.priceUnits, realizedPnlMinor: trade.takerRealizedPnlMinor, feeMinor: trade.takerFeeMinor)
        return KnownAccounts(first: (trade.makerAccount, makerIndex), second: (trade.takerAccount, takerIndex))
    }

    /// Moves one side of a fill into its position (the money moves by `post`).
    private mutating func fill(
        accountIndex: Int, symbol: SymbolID, side: Side, quantityUnits: Int64, priceUnits: Int64, realizedPnlMinor: Int64,
        feeMinor: Int64
    ) {
        accounts[accountIndex].ensure(symbol: symbol)
        let before = accounts[accountIndex].positions[Int(symbol)]
        var after = before.filled(
            side: side, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: markets[Int(symbol)].notionalFactor,
            feeMinor: feeMinor, leverage: effectiveLeverage(before, symbol: symbol))
        precondition(after.realizedPnlMinor == realizedPnlMinor, "realized PnL differs from the journal")
        // Funding is owed on the size a position had when its settlement started: a new
        // position is square with the latest settlement; one that owes the settlement in
        // progress keeps its size at the start for it (docs/RULES.md).
        if before.sizeQuantityUnits == 0 && !before.fundingFrozen {
            after.position.fundingEpoch = markets[Int(symbol)].fundingEpoch
        } else if !before.fundingFrozen && owesFunding(before, symbol: Int(symbol)) {
            after.position.fundingFrozen = true
            after.position.fundingFrozenSizeQuantityUnits = before.sizeQuantityUnits
        }
        if after.position.sizeQuantityUnits != 0 || after.position.fundingFrozen {
            markets[Int(symbol)].holders.insert(accountIndex)
        } else {
            markets[Int(symbol)].holders.remove(accountIndex)
        }
        if after.position.sizeQuantityUnits < 0 {
            markets[Int(symbol)].shortHolders.insert(accountIndex)
        } else {
            markets[Int(symbol)].shortHolders.remove(accountIndex)
        }
        accounts[accountIndex].positions[Int(symbol)] = after.position
        riskIndex.markDirty(accountIndex, &accounts)
        let asset = symbols[Int(symbol)].settleAsset
        positionCostTotalMinor[Int(asset)] += after.position.costMinor - before.costMinor
        moveOpenInterest(symbol, from: before.sizeQuantityUnits, to: after.position.sizeQuantityUnits)
        if !adlRankings.isEmpty { pruneAdlRankings(symbol) }
    }

    /// Keeps the first position of each complete ADL ranking of `symbol` one that still
    /// meets its side: positions closed or turned since they were scored leave from the
    /// top as they reach it (every removal follows a journaled event, so a rebuild from
    /// the journal removes the same ones).
    mutating func pruneAdlRankings(_ symbol: SymbolID) {
        for slot in adlRankings.indices where adlRankings[slot].symbol == symbol && adlRankings[slot].isComplete {
            let side = adlRankings[slot].side
            while let first = adlRankings[slot].first,
                !Self.meetsBankrupt(accounts[Int(first.accountIndex)].position(symbol), closingSide: side)
            {
                adlRankings[slot].removeFirst()
            }
        }
    }

    /// Drops the ADL rankings whose side has no deleveraging waiting any more.
    private mutating func dropIdleAdlRankings() {
        guard !adlRankings.isEmpty else { return }
        adlRankings.removeAll { ranking in
            !deleveragings.contains { $0.symbol == ranking.symbol && $0.side == ranking.side }
        }
    }

    /// One step of an ADL ranking in bounded steps (`adlRankingAdvanced`): scores the
    /// opposing positions from its cursor through account index `through`. A side with
    /// no ranking, or only a complete one, starts a new one.
    private mutating func advanceAdlRanking(symbol: SymbolID, side: Side, through: Int) {
        adlRankings.removeAll { $0.symbol == symbol && $0.side == side && $0.isComplete }
        let slot: Int
        if let existing = adlRankingIndex(symbol: symbol, side: side) {
            slot = existing
        } else {
            adlRankings.append(AdlRanking(symbol: symbol, side: side))
            slot = adlRankings.count - 1
        }
        let market = Int(symbol)
        var cursor = Int(adlRankings[slot].cursorAccountIndex)
        while let index = markets[market].firstHolder(atOrAfter: cursor, meeting: side), index <= through {
            if Self.meetsBankrupt(accounts[index].position(symbol), closingSide: side) {
                adlRankings[slot].insert(AdlRanking.Rank(score: adlScore(accountIndex: index, symbol: symbol), accountIndex: UInt32(index)))
            }
            cursor = index + 1
        }
        adlRankings[slot].cursorAccountIndex = UInt32(through + 1)
    }

    /// A position of `symbol` changed size: its open interest follows, and the count of
    /// symbols out of balance with it.
    private mutating func moveOpenInterest(_ symbol: SymbolID, from before: Int64, to after: Int64) {
        let wasBalanced = markets[Int(symbol)].openInterest.isBalanced
        markets[Int(symbol)].openInterest.move(from: before, to: after)
        let isBalanced = markets[Int(symbol)].openInterest.isBalanced
        if wasBalanced != isBalanced { unbalancedOpenInterest += isBalanced ? -1 : 1 }
    }

    /// A continued liquidation closed `quantity` more: what is left of it shrinks.
    private mutating func deleveraged(_ accountIndex: UInt32, _ symbol: SymbolID, _ quantity: Int64) {
        guard let slot = deleveragings.firstIndex(where: { $0.accountIndex == accountIndex && $0.symbol == symbol }) else { return }
        deleveragings[slot].remainingQuantityUnits -= quantity
        if deleveragings[slot].remainingQuantityUnits <= 0 {
            deleveragings.remove(at: slot)
            dropIdleAdlRankings()
        }
    }

    /// Where `orderID` is in a list of conditional orders, which is in id order (orders join
    /// it with new, increasing ids; the decoder and the sweep check it): a binary search.
    static func slot(of orderID: OrderID, in list: borrowing [ConditionalOrder]) -> Int {
        var (low, high) = (0, list.count)
        while low < high {
            let middle = (low + high) / 2
            if list[middle].orderID < orderID { low = middle + 1 } else { high = middle }
        }
        precondition(low < list.count && list[low].orderID == orderID, "conditional order \(orderID) is not in its list")
        return low
    }

    /// Takes a conditional order out of its list.
    private mutating func removeConditional(_ orderID: OrderID) -> ConditionalOrder {
        let symbol = conditionalLocations.removeValue(forKey: orderID)!
        let slot = Self.slot(of: orderID, in: markets[Int(symbol)].conditionalOrders)
        let conditional = markets[Int(symbol)].conditionalOrders.remove(at: slot)
        if conditional.order.clientOrderID != 0 { openClientOrders -= 1 }
        accounts[Int(conditional.accountIndex)].positions.countOrders(symbol, conditional: -1)
        return conditional
    }

    /// The insurance fund's side of a takeover.
    private mutating func fundFill(symbol: SymbolID, side: Side, quantityUnits: Int64, priceUnits: Int64, realizedPnlMinor: Int64) {
        let before = insurancePositions[Int(symbol)]
        let after = before.filled(
            side: side, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: markets[Int(symbol)].notionalFactor,
            feeMinor: 0, leverage: 1)
        precondition(after.realizedPnlMinor == realizedPnlMinor, "fund realized PnL differs from the journal")
        insurancePositions[Int(symbol)] = after.position
        positionCostTotalMinor[Int(symbols[Int(symbol)].settleAsset)] += after.position.costMinor - before.costMinor
        moveOpenInterest(symbol, from: before.sizeQuantityUnits, to: after.position.sizeQuantityUnits)
    }

    /// Moves the money an event stands for, posting by posting.
    /// `known`: accounts the caller has already found, by id (each a miss in the id table
    /// saved at a million accounts).
    private mutating func post(_ event: Event, known: KnownAccounts = KnownAccounts()) {
        // A local function reads the state in place; a method (`self.ledgerRef`) called
        // from here was passed a copy of the whole state, twice a posting.
        func ledgerRef(_ account: LedgerAccount) -> LedgerRef {
            switch account {
            case .user(let id):
                if known.first.index >= 0, id == known.first.id { return .user(known.first.index) }
                if known.second.index >= 0, id == known.second.id { return .user(known.second.index) }
                return .user(Int(accountIndexByID[id]!))
            case .system(let system): return .system(system)
            }
        }
        event.forEachPosting(settleAsset: { symbols[Int($0)].settleAsset }) { posting in
            credit(ledgerRef(posting.to), asset: posting.asset, amountMinor: posting.amountMinor)
            credit(ledgerRef(posting.from), asset: posting.asset, amountMinor: -posting.amountMinor)
        }
    }

    /// Adds (or with a negative quantity removes) open-order quantity and notional.
    private mutating func adjustOpenOrders(
        accountIndex: Int, symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64
    ) {
        let notional = notionalMinor(symbol: symbol, priceUnits: priceUnits, quantityUnits: quantityUnits)
        accounts[accountIndex].positions.update(symbol) {
            $0.addOpenOrder(side: side, quantityUnits: quantityUnits, notionalMinor: notional)
        }
    }

    private mutating func openAccount(_ id: AccountID) -> Int {
        if let index = accountIndexByID[id] { return Int(index) }
        precondition(accounts.count < Int(UInt32.max))
        accountIndexByID[id] = UInt32(accounts.count)
        accounts.append(Account(id: id))
        return accounts.count - 1
    }

    private mutating func recordTransfer(_ command: Command, sequence: SequenceNumber) {
        let (transfer, kind): (Transfer, TransferKind)
        switch command {
        case .deposit(let t): (transfer, kind) = (t, .deposit)
        case .withdraw(let t): (transfer, kind) = (t, .withdrawal)
        case .depositInsuranceFund(let t): (transfer, kind) = (t, .insuranceDeposit)
        default: preconditionFailure("event without its command")
        }
        transfers[transfer.transferID] = TransferRecord(sequence: sequence, kind: kind, transfer: transfer)
        transferQueue.append(IdempotencyRecord(timeNanos: entryTimeNanos, key: transfer.transferID))
    }

    /// One side of the double entry. Every call is paired by `post`; the entry's net per
    /// asset is checked to be zero when the entry ends.
    private mutating func credit(_ account: LedgerRef, asset: AssetID, amountMinor: Int64) {
        switch account {
        case .user(let index):
            accounts[index].ensure(asset: asset)
            accounts[index].addBalance(asset, amountMinor)
            riskIndex.markDirty(index, &accounts)
        case .system(let system):
            systemBalancesMinor[Int(asset) * SystemAccount.allCases.count + Int(system.rawValue)] += amountMinor
        }
        entryNetMinor[Int(asset)] += amountMinor
    }

    /// Closes an entry: advances the sequence and checks the invariants that are cheap
    /// enough to check every time.
    mutating func finishEntry(sequence: SequenceNumber, timeNanos: Int64) {
        for asset in entryNetMinor.indices {
            precondition(entryNetMinor[asset] == 0, "entry \(sequence) does not balance in asset \(asset)")
            let clearing = systemBalancesMinor[asset * SystemAccount.allCases.count + Int(SystemAccount.pnlClearing.rawValue)]
            precondition(
                clearing + positionCostTotalMinor[asset] == 0,
                "entry \(sequence): PnL clearing does not mirror open positions in asset \(asset)")
        }
        if unbalancedOpenInterest != 0 {
            let market = markets.firstIndex { !$0.openInterest.isBalanced }
            preconditionFailure("entry \(sequence): open interest of symbol \(market ?? -1) is not long = short")
        }
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

/// An internal reference to a balance holder: a dense user index or a system account.
enum LedgerRef {
    case user(Int)
    case system(SystemAccount)
}

/// Up to two accounts already found: (id, index), index −1 for none.
struct KnownAccounts {
    var first: (id: AccountID, index: Int) = (0, -1)
    var second: (id: AccountID, index: Int) = (0, -1)
}

extension ExchangeState {
    /// Accounts whose room is reserved at once when the world's limits are set.
    static let accountsReservedMax = 1 << 24

    /// Reserves the accounts array for as many accounts as the limits allow (at most
    /// `accountsReservedMax`: 640 MiB of address space, which the kernel backs only as
    /// accounts come). Grown by doubling instead, the array copied every account in the one
    /// deposit that opened the 1,048,577th (5.8 ms; docs/BENCHMARKS.md, "Growth in bounded
    /// steps"). Changes no outcome.
    mutating func reserveAccounts() {
        guard let limits = worldLimits else { return }
        accounts.reserveCapacity(Int(min(limits.accountsMax, Int64(Self.accountsReservedMax))))
    }
}
