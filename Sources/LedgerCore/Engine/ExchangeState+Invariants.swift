/// The full invariant sweep: O(state).
///
/// Under the bounded rules an account may end an entry at or below maintenance margin
/// while it waits in `risk.pendingLiquidations` for its tick; the sweep checks that it does. The engine checks the cheap per-entry invariants
/// itself (`finishEntry`); audits, snapshot loads and tests run this one too.
extension ExchangeState {
    /// A description of the first invariant that does not hold, or nil.
    public func invariantViolation() -> String? {
        let systemCount = SystemAccount.allCases.count
        for asset in assets.indices {
            var total = Int128(0)
            for account in ledger.accounts { total += Int128(account.balance(AssetID(asset))) }
            for system in 0..<systemCount { total += Int128(ledger.systemBalancesMinor[asset * systemCount + system]) }
            if total != 0 { return "balances of asset \(assets[asset].name) sum to \(total), not 0" }
            var cost = Int128(0)
            for (symbol, position) in ledger.insurancePositions.enumerated() where symbols[symbol].settleAsset == AssetID(asset) {
                cost += Int128(position.costMinor)
            }
            for account in ledger.accounts {
                for (symbol, position) in account.positions.entries
                where symbols[symbol].settleAsset == AssetID(asset) {
                    cost += Int128(position.costMinor)
                }
            }
            let clearing = ledger.systemBalancesMinor[asset * systemCount + Int(SystemAccount.pnlClearing.rawValue)]
            if cost + Int128(clearing) != 0 { return "PnL clearing \(clearing) does not mirror position cost \(cost)" }
        }
        // Funding in bounded steps: a settlement only under the bounded rules; a size kept
        // for a settlement only while it is owed; the holder sets match the positions.
        if let violation = funding.consistencyViolation(bounded: isBounded, accountCount: ledger.accounts.count, symbols) {
            return violation
        }
        // One pass over the positions each account holds (its table has only the symbols it
        // touched): holders, funding sizes and epochs, open interest.
        var holderCounts = [Int](repeating: 0, count: markets.count)
        var shortCounts = [Int](repeating: 0, count: markets.count)
        var longs = ledger.insurancePositions.map { Int128(max(0, $0.sizeQuantityUnits)) }
        var shorts = ledger.insurancePositions.map { Int128(max(0, -$0.sizeQuantityUnits)) }
        for (index, account) in ledger.accounts.enumerated() {
            for slot in account.positions.slots {
                let symbol = Int(slot.symbol)
                let position = slot.position
                let holds = position.sizeQuantityUnits != 0 || position.fundingFrozen
                if holds { holderCounts[symbol] += 1 }
                if holds != ledger.holders[symbol].contains(index) {
                    return "holders of \(symbols[symbol].name) differ at account \(account.id)"
                }
                if position.sizeQuantityUnits < 0 { shortCounts[symbol] += 1 }
                if (position.sizeQuantityUnits < 0) != ledger.shortHolders[symbol].contains(index) {
                    return "short holders of \(symbols[symbol].name) differ at account \(account.id)"
                }
                if position.fundingFrozen && !owesFunding(position, symbol: symbol) {
                    return "account \(account.id) keeps a funding size in \(symbols[symbol].name) it does not owe"
                }
                if position.fundingEpoch > funding.bySymbol[symbol].fundingEpoch {
                    return "account \(account.id) is ahead of the funding epoch"
                }
                let size = position.sizeQuantityUnits
                if size > 0 { longs[symbol] += Int128(size) } else { shorts[symbol] -= Int128(size) }
            }
        }
        // Each account's open-order totals equal what its orders in the books add up to.
        var expected = [Int: Position]()  // account index << 16 | symbol
        var counts = [Int: (resting: Int, conditional: Int, reduceOnly: Int)]()
        if ledger.unbalancedOpenInterest != 0 { return "\(ledger.unbalancedOpenInterest) symbols counted out of balance between entries" }
        for symbol in markets.indices {
            // Every holder has a position (the pass above found each one in the set).
            if holderCounts[symbol] != ledger.holders[symbol].count { return "holder count of \(symbols[symbol].name) is off" }
            if shortCounts[symbol] != ledger.shortHolders[symbol].count { return "short holder count of \(symbols[symbol].name) is off" }
            if longs[symbol] != shorts[symbol] {
                return "open interest of \(symbols[symbol].name): long \(longs[symbol]) ≠ short \(shorts[symbol])"
            }
            let openInterest = ledger.openInterest[symbol]
            if Int128(openInterest.longUnits) != longs[symbol] || Int128(openInterest.shortUnits) != shorts[symbol] {
                return "open interest counters of \(symbols[symbol].name) differ from the positions"
            }
            for side in Side.allCases {
                for order in books.bySymbol[symbol].orders(side) {
                    counts[Int(order.accountIndex) << 16 | symbol, default: (0, 0, 0)].resting += 1
                    if order.reduceOnly { counts[Int(order.accountIndex) << 16 | symbol, default: (0, 0, 0)].reduceOnly += 1 }
                    expected[Int(order.accountIndex) << 16 | symbol, default: Position()].addOpenOrder(
                        side: side, quantityUnits: order.openQuantityUnits,
                        notionalMinor: order.priceUnits * order.openQuantityUnits * markets[symbol].notionalFactor)
                }
            }
        }
        for symbol in markets.indices {
            for conditional in books.conditionalBySymbol[symbol] {
                counts[Int(conditional.accountIndex) << 16 | symbol, default: (0, 0, 0)].conditional += 1
                if let problem = Self.trailingExtremeProblem(
                    conditional.order, extremeUnits: books.trailingExtremeUnits(of: conditional),
                    workingPriceUnits: workingPriceUnits(symbol: SymbolID(symbol), conditional.order.workingType))
                {
                    return "conditional order \(conditional.orderID) in \(symbols[symbol].name): \(problem)"
                }
            }
        }
        func sameOpenOrders(_ position: Position, _ totals: Position) -> Bool {
            position.openBuyQuantityUnits == totals.openBuyQuantityUnits && position.openBuyNotionalMinor == totals.openBuyNotionalMinor
                && position.openSellQuantityUnits == totals.openSellQuantityUnits
                && position.openSellNotionalMinor == totals.openSellNotionalMinor
        }
        for (index, account) in ledger.accounts.enumerated() {
            for slot in account.positions.slots {
                let totals = expected.removeValue(forKey: index << 16 | Int(slot.symbol)) ?? Position()
                if !sameOpenOrders(slot.position, totals) {
                    return "open-order totals of account \(account.id) in \(symbols[Int(slot.symbol)].name) differ from the book"
                }
                let count = counts.removeValue(forKey: index << 16 | Int(slot.symbol)) ?? (0, 0, 0)
                if Int(slot.restingOrders) != count.resting || Int(slot.conditionalOrders) != count.conditional
                    || Int(slot.reduceOnlyOrders) != count.reduceOnly
                {
                    return "order counts of account \(account.id) in \(symbols[Int(slot.symbol)].name) differ from the books"
                }
            }
        }
        if let (key, _) = expected.min(by: { $0.key < $1.key }) {
            let account = key >> 16 < ledger.accounts.count ? "\(ledger.accounts[key >> 16].id)" : "index \(key >> 16)"
            return "open-order totals of account \(account) in \(symbols[key & 0xFFFF].name) differ from the book"
        }
        // Orders of an account without a slot in their symbol.
        if let (key, _) = counts.min(by: { $0.key < $1.key }) {
            let account = key >> 16 < ledger.accounts.count ? "\(ledger.accounts[key >> 16].id)" : "index \(key >> 16)"
            return "order counts of account \(account) in \(symbols[key & 0xFFFF].name) differ from the books"
        }
        // Every position is margined: isolated margin only on open isolated positions, and
        // no account left at or below maintenance after an entry (the sweep liquidated it).
        for (index, account) in ledger.accounts.enumerated() {
            for (symbol, position) in account.positions.entries {
                if position.isolatedMarginMinor != 0 && (!position.isIsolated || position.sizeQuantityUnits == 0) {
                    return "account \(account.id) holds isolated margin without an isolated position in \(symbols[symbol].name)"
                }
                if position.isIsolated, position.sizeQuantityUnits != 0, !waitsForLiquidation(index),
                    Self.isLiquidatable(marginHealth(accountIndex: index, symbol: SymbolID(symbol)))
                {
                    return "account \(account.id) is below maintenance in isolated \(symbols[symbol].name)"
                }
            }
            for asset in assets.indices {
                let open = account.positions.symbols.contains {
                    symbols[$0].settleAsset == AssetID(asset) && !account.positions[$0].isIsolated
                        && account.positions[$0].sizeQuantityUnits != 0
                }
                if open, !waitsForLiquidation(index), Self.isLiquidatable(crossHealth(accountIndex: index, asset: AssetID(asset))) {
                    return "account \(account.id) is below cross maintenance in \(assets[asset].name)"
                }
            }
        }
        // Each room's own consistency: the books against their id tables, the idempotency
        // queues against theirs.
        // The books' account links end where the accounts' position slots say.
        var lastsNamed = [Int](repeating: 0, count: books.bySymbol.count)
        for account in ledger.accounts { account.positions.countLastOrders(into: &lastsNamed) }
        let accounts = ledger.accounts
        if let violation = books.consistencyViolation(
            symbols, lastOf: { accounts[Int($0)].positions.lastOrderSlot($1, $2) }, lastsNamed: lastsNamed)
        {
            return violation
        }
        if let violation = idempotency.consistencyViolation() { return violation }
        // Across rooms: conditional orders owned by known accounts; resting reduce-only
        // orders close at most the position, on its closing side; the open orders with a
        // client order id are what `openClientOrders` counts.
        var openWithClientIDs = 0
        for symbol in books.bySymbol.indices {
            for conditional in books.conditionalBySymbol[symbol] {
                if conditional.order.clientOrderID != 0 { openWithClientIDs += 1 }
                if Int(conditional.accountIndex) >= ledger.accounts.count {
                    return "conditional order \(conditional.orderID) belongs to no account"
                }
            }
            var reducing: [UInt32: Int64] = [:]
            for side in Side.allCases {
                for order in books.bySymbol[symbol].orders(side) {
                    if order.hasClientOrderID { openWithClientIDs += 1 }
                    if Int(order.accountIndex) >= ledger.accounts.count { return "resting order \(order.orderID) belongs to no account" }
                    guard order.reduceOnly else { continue }
                    let size = ledger.accounts[Int(order.accountIndex)].position(SymbolID(symbol)).sizeQuantityUnits
                    if size == 0 || (size > 0) == (side == .buy) { return "reduce-only order \(order.orderID) would not reduce" }
                    reducing[order.accountIndex, default: 0] += order.openQuantityUnits
                }
            }
            for (index, total) in reducing where total > abs(ledger.accounts[Int(index)].position(SymbolID(symbol)).sizeQuantityUnits) {
                return "reduce-only orders of account \(ledger.accounts[Int(index)].id) exceed its position"
            }
        }
        if openWithClientIDs != idempotency.openClientOrders {
            return "\(idempotency.openClientOrders) open orders with client ids counted, \(openWithClientIDs) in the books and lists"
        }
        for ranking in risk.adlRankings {
            let name = "ADL ranking of \(symbols[Int(ranking.symbol)].name) \(ranking.side)"
            if !risk.deleveragings.contains(where: { $0.symbol == ranking.symbol && $0.side == ranking.side }) {
                return "\(name) kept with no deleveraging of its side"
            }
            if risk.adlRankings.count(where: { $0.symbol == ranking.symbol && $0.side == ranking.side }) != 1 {
                return "\(name) kept twice"
            }
            if let first = ranking.first, ranking.isComplete,
                !Self.meetsBankrupt(ledger.accounts[Int(first.accountIndex)].position(ranking.symbol), closingSide: ranking.side)
            {
                return "\(name) starts with account \(ledger.accounts[Int(first.accountIndex)].id), which no longer meets its side"
            }
        }
        return nil
    }

    /// Bounded rules: an account at or below maintenance is allowed while it waits for its
    /// liquidation tick (after a rebuild from events the queue is recomputed before the
    /// next command: every due account waits then).
    func waitsForLiquidation(_ index: Int) -> Bool {
        isBounded
            && (risk.riskIndex.isStale || risk.pendingLiquidations.contains(UInt32(index))
                || risk.deleveragings.contains { $0.accountIndex == UInt32(index) })
    }
}
