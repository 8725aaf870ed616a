/// Liquidation, the insurance fund's takeover and auto-deleveraging (docs/RULES.md,
/// "Liquidation").
///
/// Every command that can move an account toward maintenance margin — a mark price (for
/// the holders whose danger mark it reached, `RiskIndex`), a fill, a funding settlement —
/// names the accounts it touched; when the command is done,
/// `sweepLiquidations` checks them in account order and liquidates those at or below
/// maintenance margin. Accounts touched by a liquidation (makers of its fills, ADL
/// counterparties) are checked in the same sweep, so a cascade settles within the entry.
extension ExchangeState {
    /// Notes an account for the end-of-entry liquidation check.
    @inline(__always)
    mutating func noteLiquidationCandidate(_ accountIndex: UInt32) {
        risk.liquidationCandidates.append(accountIndex)
    }

    /// Checks the noted accounts, lowest index first, until none is left. Accounts noted
    /// during the sweep join it in order (one below the next in line goes first).
    mutating func sweepLiquidations(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        guard !risk.liquidationCandidates.isEmpty else { return }
        // The two lists trade buffers (a copy would allocate a new one for every entry with
        // a fill); the second is kept in the room between entries.
        var batch = ScratchList<UInt32>()
        swap(&batch, &risk.sweepBatch)
        defer {
            batch.removeAll()
            swap(&batch, &risk.sweepBatch)
        }
        while !risk.liquidationCandidates.isEmpty {
            batch.removeAll()
            swap(&batch, &risk.liquidationCandidates)
            batch.sort()
            var position = 0
            var previous: UInt32? = nil
            while position < batch.count {
                let candidate = batch[position]
                position += 1
                if candidate == previous { continue }
                previous = candidate
                liquidateIfDue(accountIndex: Int(candidate), command, sequence, &events)
                if !risk.liquidationCandidates.isEmpty {
                    // New candidates: merge them with the rest of the batch and start over.
                    risk.liquidationCandidates.append(contentsOf: batch, from: position)
                    break
                }
            }
        }
    }

    /// Bounded rules: checks the noted accounts and queues those that are due for a tick.
    mutating func queueDueCandidates() {
        var candidates = ScratchList<UInt32>()
        swap(&candidates, &risk.liquidationCandidates)
        // Once per account: a taker that met five makers was noted five times, and its
        // marks were computed five times over the same state (the last set wins; the
        // others only left stale entries in the heaps).
        if candidates.count > 1 { candidates.sort() }
        var previous: UInt32? = nil
        // By position: an iterator holds a copy of the list (a retain and a release).
        for position in 0..<candidates.count where candidates[position] != previous {
            let candidate = candidates[position]
            previous = candidate
            if risk.pendingLiquidations.contains(candidate) { continue }
            if recordDangerMarks(accountIndex: Int(candidate)) { risk.pendingLiquidations.insert(candidate) }
        }
        candidates.removeAll()
        swap(&candidates, &risk.liquidationCandidates)
    }

    /// Bounded rules: one step of the liquidations waiting, lowest account first, each
    /// followed by what it sets off (reduce-only upkeep, triggers; accounts it brings to
    /// maintenance join the queue and go first if lower). At most
    /// `Limits.liquidationsPerEntryMax` accounts, and no new one once the entry holds
    /// `Limits.liquidationEventsPerEntrySoftMax` events. An account that is no longer due
    /// when its turn comes is passed over without an event.
    mutating func continueLiquidations(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        let first = events.count
        var liquidated = 0
        while liquidated < Limits.liquidationsPerEntryMax, events.count - first < Limits.liquidationEventsPerEntrySoftMax,
            let next = risk.pendingLiquidations.popFirst()
        {
            if liquidateIfDue(accountIndex: Int(next), command, sequence, &events) { liquidated += 1 }
            settleEntry(command, sequence, &events)
        }
    }

    /// True when a margin balance is at or below maintenance with a position open.
    @inline(__always)
    static func isLiquidatable(_ health: (marginBalanceMinor: Int128, maintenanceMinor: Int128)) -> Bool {
        health.marginBalanceMinor <= health.maintenanceMinor
    }

    /// Liquidates the account's isolated positions that are due (symbol order), then its
    /// cross positions per asset (asset order), then covers any negative balance left.
    /// Returns true when it liquidated something.
    @discardableResult
    private mutating func liquidateIfDue(
        accountIndex index: Int, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> Bool {
        // Most checks find nothing due; the same pass records the account's danger marks.
        guard recordDangerMarks(accountIndex: index) else { return false }
        // A liquidation whose ADL continues in ticks is not started again.
        if risk.deleveragings.contains(where: { $0.accountIndex == UInt32(index) }) { return false }
        // Funding it owes in a settlement in progress comes first: the liquidation then
        // closes what is really left (bounded rules).
        if isBounded { settleOwedFunding(accountIndex: index, command, sequence, &events) }
        let id = ledger.accounts[index].id
        var liquidated = false
        // The account's symbols are copied before the steps that change the account (into
        // room on the stack: arrays made for them were five allocations a liquidation).
        withAccountSymbols(index, .all) { state, list in
            for listed in list {
                let symbol = Int(listed)
                let position = state.ledger.accounts[index].positions[symbol]
                guard position.isIsolated, position.sizeQuantityUnits != 0 else { continue }
                let health = state.marginHealth(accountIndex: index, symbol: SymbolID(symbol))
                guard Self.isLiquidatable(health) else { continue }
                liquidated = true
                state.emit(
                    .liquidationTriggered(
                        account: id, asset: state.symbols[symbol].settleAsset, isolatedSymbol: SymbolID(symbol),
                        marginBalanceMinor: Int64(clamping: health.marginBalanceMinor),
                        maintenanceMinor: Int64(clamping: health.maintenanceMinor)),
                    command, sequence, &events)
                state.cancelOrders(accountIndex: index, symbols: CollectionOfOne(SymbolID(symbol)), command, sequence, &events)
                state.closeBankruptPosition(accountIndex: index, symbol: SymbolID(symbol), command, sequence, &events)
            }
        }
        for asset in assets.indices {
            withAccountSymbols(index, .crossOpen(AssetID(asset))) { state, crossSymbols in
                if crossSymbols.isEmpty { return }
                let health = state.crossHealth(accountIndex: index, asset: AssetID(asset))
                guard Self.isLiquidatable(health) else { return }
                liquidated = true
                state.emit(
                    .liquidationTriggered(
                        account: id, asset: AssetID(asset), isolatedSymbol: nil,
                        marginBalanceMinor: Int64(clamping: health.marginBalanceMinor),
                        maintenanceMinor: Int64(clamping: health.maintenanceMinor)),
                    command, sequence, &events)
                state.withAccountSymbols(index, .cross(AssetID(asset))) { state, crossInAsset in
                    state.cancelOrders(accountIndex: index, symbols: crossInAsset, command, sequence, &events)
                }
                for symbol in crossSymbols {
                    state.closeBankruptPosition(accountIndex: index, symbol: symbol, command, sequence, &events)
                }
            }
        }
        // A gap past bankruptcy can leave the cross wallet below zero: the fund pays it.
        guard liquidated else { return false }
        for asset in assets.indices {
            let hasCross = ledger.accounts[index].positions.symbols.contains {
                symbols[$0].settleAsset == AssetID(asset) && !ledger.accounts[index].positions[$0].isIsolated
                    && ledger.accounts[index].positions[$0].sizeQuantityUnits != 0
            }
            let wallet = crossHealth(accountIndex: index, asset: AssetID(asset)).marginBalanceMinor
            if !hasCross, wallet < 0 {
                emit(.badDebtCovered(account: id, asset: AssetID(asset), amountMinor: Int64(-wallet)), command, sequence, &events)
            }
        }
        return true
    }

    /// Cancels the account's open orders in `symbols` (ascending), in book priority, then
    /// its conditional orders there.
    private mutating func cancelOrders(
        accountIndex index: Int, symbols list: some Collection<SymbolID>, _ command: Command, _ sequence: SequenceNumber,
        _ events: inout [Event]
    ) {
        for symbol in list {
            _ = cancelRestingOrders(accountIndex: UInt32(index), symbol: symbol, &events)
            _ = cancelConditionalOrders(accountIndex: UInt32(index), symbol: symbol, command, sequence, &events)
        }
    }

    /// Which of an account's symbols `withAccountSymbols` copies: all of them, those of its
    /// open cross positions settled in an asset, or those of its cross slots in an asset.
    private enum AccountSymbols {
        case all
        case crossOpen(AssetID)
        case cross(AssetID)
    }

    /// Calls `body` with the symbols of the account's slots that `choice` takes, in symbol
    /// order, copied into room of their own (on the stack for an account's usual few), so
    /// that `body` may change the account while it walks them.
    private mutating func withAccountSymbols(
        _ index: Int, _ choice: AccountSymbols, _ body: (inout ExchangeState, UnsafeBufferPointer<SymbolID>) -> Void
    ) {
        let slotCount = ledger.accounts[index].positions.count
        withUnsafeTemporaryAllocation(of: SymbolID.self, capacity: slotCount) { room in
            var count = 0
            for slotIndex in 0..<slotCount {
                let slot = ledger.accounts[index].positions[slotAt: slotIndex]
                let taken: Bool
                switch choice {
                case .all: taken = true
                case .crossOpen(let asset):
                    taken =
                        symbols[Int(slot.symbol)].settleAsset == asset && !slot.position.isIsolated
                        && slot.position.sizeQuantityUnits != 0
                case .cross(let asset): taken = symbols[Int(slot.symbol)].settleAsset == asset && !slot.position.isIsolated
                }
                if taken {
                    room[count] = slot.symbol
                    count += 1
                }
            }
            body(&self, UnsafeBufferPointer(rebasing: room[0..<count]))
        }
    }

    /// The bankruptcy price of a position, on the tick: the price at which the equity that
    /// backs it — the isolated margin, or the cross wallet with every other cross position
    /// at mark — is exactly used up: (cost − equity) / (size × factor), rounded up for a
    /// long and down for a short (the closing order never gives more than that equity),
    /// and kept within one tick … 4 × the maximum price.
    func bankruptcyPriceUnits(accountIndex index: Int, symbol: SymbolID) -> Int64 {
        let position = ledger.accounts[index].position(symbol)
        let spec = symbols[Int(symbol)]
        var equity: Int128
        if position.isIsolated {
            equity = Int128(position.isolatedMarginMinor)
        } else {
            equity =
                crossHealth(accountIndex: index, asset: spec.settleAsset).marginBalanceMinor - unrealizedPnlMinor(position, symbol: symbol)
        }
        let numerator = Int128(position.costMinor) - equity
        let denominator = Int128(position.sizeQuantityUnits) * Int128(markets[Int(symbol)].notionalFactor)
        let (n, d) = denominator < 0 ? (-numerator, -denominator) : (numerator, denominator)
        let tick = Int128(spec.tickSizePriceUnits)
        let price =
            position.sizeQuantityUnits > 0
            ? FixedPoint.divideRoundingUp(FixedPoint.divideRoundingUp(n, d), tick) * tick
            : FixedPoint.divideRoundingDown(FixedPoint.divideRoundingDown(n, d), tick) * tick
        return Int64(min(max(price, tick), Int128(spec.maxPriceUnits) * 4))
    }

    /// Closes a whole position: an IOC order at the bankruptcy price into the book, the
    /// surplus of its fills (fee first) to the fund, then the rest to the fund or, when
    /// the fund cannot carry it, to opposing positions by ADL rank.
    private mutating func closeBankruptPosition(
        accountIndex index: Int, symbol: SymbolID, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let position = ledger.accounts[index].position(symbol)
        let size = position.sizeQuantityUnits
        guard size != 0 else { return }
        let id = ledger.accounts[index].id
        let spec = symbols[Int(symbol)]
        let side: Side = size > 0 ? .sell : .buy
        let bankruptcy = bankruptcyPriceUnits(accountIndex: index, symbol: symbol)
        let quantity = abs(size)
        let orderID = books.nextOrderID
        emit(
            .liquidationOrderPlaced(
                orderID, account: id, symbol: symbol, side: side, bankruptcyPriceUnits: bankruptcy, quantityUnits: quantity),
            command, sequence, &events)
        let order = PlaceOrder(
            account: id, symbol: symbol, side: side, type: .limit, timeInForce: .ioc, priceUnits: bankruptcy, quantityUnits: quantity)
        let firstTrade = events.count
        let filled = match(order, orderID: orderID, accountIndex: UInt32(index), takerFeeRateE8: 0, command, sequence, &events)
        let factor = markets[Int(symbol)].notionalFactor
        var notional: Int64 = 0
        var surplus: Int64 = 0
        for event in events[firstTrade...] {
            guard case .trade(let trade) = event else { continue }
            notional += trade.priceUnits * trade.quantityUnits * factor
            surplus += side.sign * (bankruptcy - trade.priceUnits) * trade.quantityUnits * factor
            noteLiquidationCandidate(ledger.accountIndexByID[trade.makerAccount]!)
        }
        let fee = min(FixedPoint.charge(notional: notional, rateE8: spec.liquidationFeeRateE8), surplus)
        emit(
            .liquidationSettled(account: id, symbol: symbol, filledQuantityUnits: filled, feeMinor: fee, surplusMinor: surplus - fee),
            command, sequence, &events)
        let remaining = quantity - filled
        if remaining == 0 { return }
        // The choice needs no ranking: a side with any position has counterparties (the
        // bankrupt account is on the other side). The ranking is made only for an ADL.
        let hasCounterparties = hasOpposingPositions(symbol: symbol, closingSide: side)
        if !hasCounterparties || fundCanTakeOver(symbol: symbol, side: side.opposite, priceUnits: bankruptcy, quantityUnits: remaining) {
            fundTakesOver(
                accountIndex: index, symbol: symbol, side: side, priceUnits: bankruptcy, quantityUnits: remaining,
                leverage: effectiveLeverage(position, symbol: symbol), command, sequence, &events)
            return
        }
        let left =
            isBounded
            ? deleverageInSteps(
                accountIndex: index, symbol: symbol, side: side, bankruptcyPriceUnits: bankruptcy, quantityUnits: remaining,
                building: false, command, sequence, &events)
            : deleverageRanked(
                accountIndex: index, symbol: symbol, side: side, bankruptcyPriceUnits: bankruptcy, quantityUnits: remaining,
                command, sequence, &events)
        if left > 0 {
            precondition(isBounded, "open interest does not balance")
            emit(
                .deleveragingContinues(
                    account: id, symbol: symbol, side: side, bankruptcyPriceUnits: bankruptcy, remainingQuantityUnits: left),
                command, sequence, &events)
        }
    }

    /// The insurance fund takes `quantity` of the bankrupt position at `priceUnits`.
    private mutating func fundTakesOver(
        accountIndex index: Int, symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64, leverage: Int64,
        _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let factor = markets[Int(symbol)].notionalFactor
        let fund = ledger.insurancePositions[Int(symbol)].filled(
            side: side.opposite, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: factor, feeMinor: 0, leverage: 1)
        let own = ledger.accounts[index].position(symbol).filled(
            side: side, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: factor, feeMinor: 0, leverage: leverage)
        emit(
            .insuranceTakeover(
                account: ledger.accounts[index].id, symbol: symbol, side: side, priceUnits: priceUnits, quantityUnits: quantityUnits,
                realizedPnlMinor: own.realizedPnlMinor, fundRealizedPnlMinor: fund.realizedPnlMinor),
            command, sequence, &events)
    }

    /// Ranks the opposing positions (`rankForAdl`) and closes up to `quantity` of the
    /// bankrupt position against them in rank order; under the bounded rules it takes no
    /// further counterparty once the entry holds `Limits.deleveragingEventsPerEntrySoftMax`
    /// events. Returns what is left. The ranking goes into the risk room's scratch list.
    private mutating func deleverageRanked(
        accountIndex index: Int, symbol: SymbolID, side: Side, bankruptcyPriceUnits bankruptcy: Int64, quantityUnits quantity: Int64,
        _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> Int64 {
        withScratch(\.risk.adlRankScratch) { state, ranked in
            state.rankForAdl(symbol: symbol, closingSide: side, excluding: index, into: &ranked)
            let id = state.ledger.accounts[index].id
            let factor = state.markets[Int(symbol)].notionalFactor
            let position = state.ledger.accounts[index].position(symbol)
            var left = quantity
            // By position: an iterator holds a copy of the list (a retain and a release).
            for place in 0..<ranked.count where left > 0 {
                if state.isBounded && events.count - state.entryFirstEvent >= Limits.deleveragingEventsPerEntrySoftMax { break }
                left -= state.meet(
                    counterparty: Int(ranked[place].accountIndex), accountIndex: index, position: position, symbol: symbol,
                    side: side, bankruptcyPriceUnits: bankruptcy, quantityUnits: left, factor: factor, id: id, command, sequence,
                    &events)
            }
            return left
        }
    }

    /// One ADL fill: `counterparty` takes what it can of `quantity` of the bankrupt
    /// position (`position` as it was when its closing began), after its orders in the
    /// symbol are cancelled. Returns the quantity taken.
    private mutating func meet(
        counterparty: Int, accountIndex index: Int, position: Position, symbol: SymbolID, side: Side,
        bankruptcyPriceUnits bankruptcy: Int64,
        quantityUnits quantity: Int64, factor: Int64, id: AccountID, _ command: Command, _ sequence: SequenceNumber,
        _ events: inout [Event]
    ) -> Int64 {
        let other = ledger.accounts[counterparty].position(symbol)
        let take = min(quantity, abs(other.sizeQuantityUnits))
        cancelOrders(accountIndex: counterparty, symbols: CollectionOfOne(symbol), command, sequence, &events)
        let own = ledger.accounts[index].position(symbol).filled(
            side: side, quantityUnits: take, priceUnits: bankruptcy, notionalFactor: factor, feeMinor: 0,
            leverage: effectiveLeverage(position, symbol: symbol))
        let theirs = ledger.accounts[counterparty].position(symbol).filled(
            side: side.opposite, quantityUnits: take, priceUnits: bankruptcy, notionalFactor: factor, feeMinor: 0,
            leverage: effectiveLeverage(other, symbol: symbol))
        emit(
            .autoDeleveraged(
                account: id, counterparty: ledger.accounts[counterparty].id, symbol: symbol, side: side, priceUnits: bankruptcy,
                quantityUnits: take, realizedPnlMinor: own.realizedPnlMinor, counterpartyRealizedPnlMinor: theirs.realizedPnlMinor),
            command, sequence, &events)
        noteLiquidationCandidate(UInt32(counterparty))
        noteReduceOnlyCheck(UInt32(counterparty), symbol)
        return take
    }

    /// Bounded rules: ADL of `quantity` of a bankrupt position (docs/RULES.md, "ADL
    /// ranking in bounded steps"). A side with a complete ranking in steps meets its
    /// positions best first; a side with one in progress waits for it. A side without one
    /// is ranked now when the entry may still score all its holders, as the rules always
    /// did. Otherwise, when `building` (a tick's continuation), the ranking is built in
    /// steps within the entry's scoring budget, and used as soon as it is complete; a
    /// complete ranking that runs out while positions remain on the side is built again.
    /// Returns what is left.
    private mutating func deleverageInSteps(
        accountIndex index: Int, symbol: SymbolID, side: Side, bankruptcyPriceUnits bankruptcy: Int64, quantityUnits quantity: Int64,
        building: Bool, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) -> Int64 {
        func ranking() -> Int? { adlRankingIndex(symbol: symbol, side: side) }
        if ranking() == nil {
            let count = opposingHolderCount(symbol: symbol, closingSide: side)
            if count <= risk.adlScoresLeft {
                risk.adlScoresLeft -= count
                return deleverageRanked(
                    accountIndex: index, symbol: symbol, side: side, bankruptcyPriceUnits: bankruptcy, quantityUnits: quantity,
                    command, sequence, &events)
            }
        }
        let id = ledger.accounts[index].id
        let factor = markets[Int(symbol)].notionalFactor
        let position = ledger.accounts[index].position(symbol)
        var left = quantity
        while left > 0 && events.count - entryFirstEvent < Limits.deleveragingEventsPerEntrySoftMax {
            if let slot = ranking(), risk.adlRankings[slot].isComplete {
                if let first = risk.adlRankings[slot].first {
                    // The fill's apply takes a position that is closed off the top, so the
                    // first always meets the side (`pruneAdlRankings`).
                    precondition(
                        Self.meetsBankrupt(ledger.accounts[Int(first.accountIndex)].position(symbol), closingSide: side),
                        "ADL ranking of symbol \(symbol) starts with a position that does not meet it")
                    left -= meet(
                        counterparty: Int(first.accountIndex), accountIndex: index, position: position, symbol: symbol, side: side,
                        bankruptcyPriceUnits: bankruptcy, quantityUnits: left, factor: factor, id: id, command, sequence, &events)
                    continue
                }
                // Run out: positions opened since it was built get a new one.
                guard building, hasOpposingPositions(symbol: symbol, closingSide: side) else { break }
            } else if !building {
                break
            }
            guard risk.adlScoresLeft > 0 else { break }
            stepAdlRanking(symbol: symbol, closingSide: side, command, sequence, &events)
            guard let slot = ranking(), risk.adlRankings[slot].isComplete else { break }
        }
        return left
    }

    /// Bounded rules: one step of the side's ranking in steps, within the entry's scoring
    /// budget: `adlRankingAdvanced` through the last holder looked at, and
    /// `adlRankingCompleted` when none is left after it. Starts a new ranking when the side
    /// has none or a complete one.
    private mutating func stepAdlRanking(
        symbol: SymbolID, closingSide side: Side, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let market = Int(symbol)
        // A ranking in progress goes on where it stopped; otherwise a new one starts.
        var cursor = 0
        if let slot = adlRankingIndex(symbol: symbol, side: side), !risk.adlRankings[slot].isComplete {
            cursor = Int(risk.adlRankings[slot].cursorAccountIndex)
        }
        var last: Int? = nil
        while risk.adlScoresLeft > 0,
            let index = ledger.firstHolder(market, atOrAfter: cursor, meeting: side)
        {
            risk.adlScoresLeft -= 1
            last = index
            cursor = index + 1
        }
        if let last {
            emit(.adlRankingAdvanced(symbol: symbol, side: side, throughAccount: ledger.accounts[last].id), command, sequence, &events)
        }
        let done = ledger.firstHolder(market, atOrAfter: cursor, meeting: side) == nil
        if done, let slot = adlRankingIndex(symbol: symbol, side: side), !risk.adlRankings[slot].isComplete {
            emit(
                .adlRankingCompleted(symbol: symbol, side: side, positions: UInt64(risk.adlRankings[slot].count)), command, sequence,
                &events)
        }
    }

    /// True when `position` meets a bankrupt position closed by `side` (a short meets a
    /// long closed by selling).
    @inline(__always)
    static func meetsBankrupt(_ position: Position, closingSide side: Side) -> Bool {
        side == .sell ? position.sizeQuantityUnits < 0 : position.sizeQuantityUnits > 0
    }

    /// True when some account holds a position that meets a bankrupt one closed by `side`
    /// (open interest on that side beyond the insurance fund's).
    func hasOpposingPositions(symbol: SymbolID, closingSide side: Side) -> Bool {
        let fund = ledger.insurancePositions[Int(symbol)].sizeQuantityUnits
        let interest = ledger.openInterest[Int(symbol)]
        return side == .sell ? interest.shortUnits - max(0, -fund) > 0 : interest.longUnits - max(0, fund) > 0
    }

    /// How many holders a ranking of that side looks at: the shorts, or the other holders
    /// (with those of size 0 that still owe a funding settlement).
    func opposingHolderCount(symbol: SymbolID, closingSide side: Side) -> Int {
        let shorts = ledger.shortHolders[Int(symbol)].count
        return side == .sell ? shorts : ledger.holders[Int(symbol)].count - shorts
    }

    /// Bounded rules: continues liquidations whose ADL reached an entry's budget, oldest
    /// first, within this entry's budget: the rest of each bankrupt position against the
    /// opposing positions ranked now, at its bankruptcy price; to the fund when none is
    /// left. One whose position is gone (or turned) meanwhile ends with no fill.
    mutating func continueDeleveragings(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        while let record = risk.deleveragings.first,
            events.count - entryFirstEvent < Limits.deleveragingEventsPerEntrySoftMax
        {
            let index = Int(record.accountIndex)
            let id = ledger.accounts[index].id
            let size = ledger.accounts[index].position(record.symbol).sizeQuantityUnits
            let open = record.side == .sell ? size : -size
            guard open > 0 else {
                emit(
                    .deleveragingContinues(
                        account: id, symbol: record.symbol, side: record.side, bankruptcyPriceUnits: record.bankruptcyPriceUnits,
                        remainingQuantityUnits: 0), command, sequence, &events)
                continue
            }
            let quantity = min(open, record.remainingQuantityUnits)
            if !hasOpposingPositions(symbol: record.symbol, closingSide: record.side) {
                fundTakesOver(
                    accountIndex: index, symbol: record.symbol, side: record.side, priceUnits: record.bankruptcyPriceUnits,
                    quantityUnits: quantity,
                    leverage: effectiveLeverage(ledger.accounts[index].position(record.symbol), symbol: record.symbol),
                    command, sequence, &events)
            } else {
                _ = deleverageInSteps(
                    accountIndex: index, symbol: record.symbol, side: record.side, bankruptcyPriceUnits: record.bankruptcyPriceUnits,
                    quantityUnits: quantity, building: true, command, sequence, &events)
            }
            // What the fills left of it: a record whose position is closed ends here.
            if let rest = risk.deleveragings.first(where: { $0.accountIndex == record.accountIndex && $0.symbol == record.symbol }),
                ledger.accounts[index].position(record.symbol).sizeQuantityUnits == 0
            {
                emit(
                    .deleveragingContinues(
                        account: id, symbol: rest.symbol, side: rest.side, bankruptcyPriceUnits: rest.bankruptcyPriceUnits,
                        remainingQuantityUnits: 0), command, sequence, &events)
            }
            settleEntry(command, sequence, &events)
            if risk.deleveragings.first == record { break }  // the budget stopped it: the next tick goes on
        }
    }

    /// True when the fund's equity in the asset — its balance plus the unrealized PnL at
    /// mark of every position it holds there, with this takeover included — stays ≥ 0.
    func fundCanTakeOver(symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64) -> Bool {
        let asset = symbols[Int(symbol)].settleAsset
        var equity = Int128(systemBalance(.insuranceFund, asset: asset))
        for other in ledger.insurancePositions.indices where symbols[other].settleAsset == asset {
            var position = ledger.insurancePositions[other]
            if other == Int(symbol) {
                let after = position.filled(
                    side: side, quantityUnits: quantityUnits, priceUnits: priceUnits,
                    notionalFactor: markets[Int(symbol)].notionalFactor, feeMinor: 0, leverage: 1)
                position = after.position
                equity += Int128(after.realizedPnlMinor)
            }
            equity += unrealizedPnlMinor(position, symbol: SymbolID(other))
        }
        return equity >= 0
    }

    /// Opposing positions in ADL order: by PnL% × effective leverage when in profit, PnL% /
    /// effective leverage when not, highest first (so every profitable position comes
    /// before any losing one); ties by account order. PnL% = unrealized PnL / |cost| and
    /// effective leverage = |notional at mark| / margin balance, each in units of 10^-8 and
    /// bounded to ±10^14 (a margin balance ≤ 0 counts as the bound).
    ///
    /// Into `ranked` (emptied first), kept by the caller: no array is made.
    func rankForAdl(symbol: SymbolID, closingSide: Side, excluding: Int, into ranked: inout ScratchList<AdlRanking.Rank>) {
        ranked.removeAll()
        // Only the side that meets the bankrupt position (the order of the visit does not
        // matter: the ranking sorts, by the order a ranking in steps keeps).
        var next = ledger.firstHolder(Int(symbol), atOrAfter: 0, meeting: closingSide)
        while let index = next {
            next = ledger.firstHolder(Int(symbol), atOrAfter: index + 1, meeting: closingSide)
            if index == excluding { continue }
            // A long being closed meets shorts, and a short longs.
            guard Self.meetsBankrupt(ledger.accounts[index].position(symbol), closingSide: closingSide) else { continue }
            ranked.append(AdlRanking.Rank(score: adlScore(accountIndex: index, symbol: symbol), accountIndex: UInt32(index)))
        }
        // `precedes` is a total order (ties by account): the sort need not be stable.
        ranked.sort { $0.precedes($1) }
    }

    /// The same as account indexes, in an array (for tests and inspection).
    func adlRanking(symbol: SymbolID, closingSide: Side, excluding: Int) -> [Int] {
        var ranked = ScratchList<AdlRanking.Rank>()
        rankForAdl(symbol: symbol, closingSide: closingSide, excluding: excluding, into: &ranked)
        return ranked.map { Int($0.accountIndex) }
    }

    /// Where the ADL ranking in steps of (symbol, closing side) is kept, if there is one.
    func adlRankingIndex(symbol: SymbolID, side: Side) -> Int? {
        risk.adlRankings.firstIndex { $0.symbol == symbol && $0.side == side }
    }

    /// A position's ADL score (see `adlRanking`): PnL% × effective leverage when in profit,
    /// PnL% / effective leverage when not, each in units of 10^-8 and bounded to ±10^14.
    func adlScore(accountIndex index: Int, symbol: SymbolID) -> Int128 {
        let bound = Int128(100_000_000_000_000)
        let scale = Int128(FixedPoint.rateScale)
        let position = ledger.accounts[index].position(symbol)
        let pnl = unrealizedPnlMinor(position, symbol: symbol)
        let percent = min(max(pnl * scale / max(1, Int128(position.costMinor.magnitude)), -bound), bound)
        let market = markets[Int(symbol)]
        let notional = Int128(position.sizeQuantityUnits.magnitude) * Int128(market.markPriceUnits) * Int128(market.notionalFactor)
        let balance = marginHealth(accountIndex: index, symbol: symbol).marginBalanceMinor
        let leverage = balance <= 0 ? bound : min(notional * scale / balance, bound)
        return pnl > 0 ? percent * leverage / scale : percent * scale / max(1, leverage)
    }
}
