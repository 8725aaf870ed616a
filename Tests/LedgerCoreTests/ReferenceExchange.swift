import LedgerCore

/// A slow, plainly written model of the exchange, sharing nothing with the engine but
/// the command and event types. Orders sit in one array in arrival order; the best
/// order is found by sorting; margin is recomputed from scratch from that array; a
/// command works on a copy of the model, which is kept only if the command succeeds.
struct ReferenceExchange {
    struct Order: Equatable {
        var id: OrderID
        var account: AccountID
        var symbol: SymbolID
        var side: Side
        var price: Int64
        var open: Int64
        var client: ClientOrderID
        var arrival: Int
    }

    struct Holding: Equatable {
        var size: Int64 = 0
        var cost: Int64 = 0
    }

    var assetScales: [Int] = []
    var specs: [SymbolSpec] = []
    var marks: [SymbolID: Int64] = [:]
    var lastPrices: [SymbolID: Int64] = [:]
    var orders: [Order] = []
    var wallets: [AccountID: [AssetID: Int64]] = [:]
    var holdings: [AccountID: [SymbolID: Holding]] = [:]
    var leverages: [AccountID: [SymbolID: UInt16]] = [:]
    var system: [String: [AssetID: Int64]] = [:]
    var transfers: [TransferID: (sequence: SequenceNumber, withdrawal: Bool, transfer: Transfer)] = [:]
    var clientIDs: [AccountID: [ClientOrderID: OrderID]] = [:]
    var nextOrder: OrderID = 1
    var nextTrade: TradeID = 1
    var arrivals = 0

    func factor(_ symbol: SymbolID) -> Int128 {
        let spec = specs[Int(symbol)]
        var value = Int128(spec.contractMultiplier)
        for _ in 0..<(assetScales[Int(spec.settleAsset)] - Int(spec.priceScale) - Int(spec.quantityScale)) { value *= 10 }
        return value
    }

    func notional(_ symbol: SymbolID, _ price: Int64, _ quantity: Int64) -> Int128 {
        Int128(price) * Int128(quantity) * factor(symbol)
    }

    static func ceilDiv(_ a: Int128, _ b: Int128) -> Int128 {
        let q = a / b
        return (a % b != 0 && (a > 0) == (b > 0)) ? q + 1 : q
    }

    func leverage(_ account: AccountID, _ symbol: SymbolID) -> Int128 {
        Int128(leverages[account]?[symbol] ?? specs[Int(symbol)].defaultLeverage)
    }

    func wallet(_ account: AccountID, _ asset: AssetID) -> Int64 { wallets[account]?[asset] ?? 0 }
    func holding(_ account: AccountID, _ symbol: SymbolID) -> Holding { holdings[account]?[symbol] ?? Holding() }

    mutating func addWallet(_ account: AccountID, _ asset: AssetID, _ amount: Int64) {
        wallets[account, default: [:]][asset, default: 0] += amount
    }

    mutating func addSystem(_ name: String, _ asset: AssetID, _ amount: Int64) {
        system[name, default: [:]][asset, default: 0] += amount
    }

    /// Wallet + Σ (uPnL − position margin − order margin), from scratch.
    func available(_ account: AccountID, _ asset: AssetID) -> Int128 {
        var total = Int128(wallet(account, asset))
        for spec in specs where spec.settleAsset == asset {
            let symbol = spec.id
            let held = holding(account, symbol)
            let mine = orders.filter { $0.account == account && $0.symbol == symbol }
            let buyQuantity = mine.filter { $0.side == .buy }.reduce(Int128(0)) { $0 + Int128($1.open) }
            let sellQuantity = mine.filter { $0.side == .sell }.reduce(Int128(0)) { $0 + Int128($1.open) }
            let buyNotional = mine.filter { $0.side == .buy }.reduce(Int128(0)) { $0 + notional(symbol, $1.price, $1.open) }
            let sellNotional = mine.filter { $0.side == .sell }.reduce(Int128(0)) { $0 + notional(symbol, $1.price, $1.open) }
            if held.size == 0 && buyQuantity == 0 && sellQuantity == 0 { continue }
            let mark = marks[symbol] ?? 0
            let markNotional = Int128(held.size) * Int128(mark) * factor(symbol)
            let lev = leverage(account, symbol)
            total += markNotional - Int128(held.cost)
            total -= Self.ceilDiv(markNotional < 0 ? -markNotional : markNotional, lev)
            var buyMargin = Int128(0)
            var sellMargin = Int128(0)
            let shortSize = Int128(held.size < 0 ? -held.size : 0)
            let longSize = Int128(held.size > 0 ? held.size : 0)
            if buyQuantity > shortSize {
                buyMargin = Self.ceilDiv(buyNotional * (buyQuantity - shortSize), buyQuantity * lev)
            }
            if sellQuantity > longSize {
                sellMargin = Self.ceilDiv(sellNotional * (sellQuantity - longSize), sellQuantity * lev)
            }
            total -= max(buyMargin, sellMargin)
        }
        return total
    }

    /// A holding after a fill, with the PnL realized: closing removes cost pro rata,
    /// rounded up.
    static func afterFill(_ held: Holding, buy: Bool, quantity: Int64, price: Int64, factor: Int128) -> (Holding, Int64) {
        var held = held
        var left = Int128(quantity)
        var realized = Int128(0)
        let direction: Int128 = buy ? 1 : -1
        if held.size != 0 && (held.size > 0) != buy {
            let size = Int128(held.size < 0 ? -held.size : held.size)
            let closing = min(left, size)
            let removed = closing == size ? Int128(held.cost) : ceilDiv(Int128(held.cost) * closing, size)
            realized = -(direction * Int128(price) * closing * factor) - removed
            held.cost = Int64(Int128(held.cost) - removed)
            held.size = Int64(Int128(held.size) + direction * closing)
            left -= closing
        }
        held.size = Int64(Int128(held.size) + direction * left)
        held.cost = Int64(Int128(held.cost) + direction * Int128(price) * left * factor)
        return (held, Int64(realized))
    }

    /// The orders a taker meets, best first.
    func bookSide(_ symbol: SymbolID, _ side: Side) -> [Order] {
        orders.filter { $0.symbol == symbol && $0.side == side }.sorted {
            if $0.price != $1.price { return side == .buy ? $0.price > $1.price : $0.price < $1.price }
            return $0.arrival < $1.arrival
        }
    }

    mutating func execute(_ command: Command, sequence: SequenceNumber) -> [Event] {
        switch command {
        case .listAsset(let asset):
            assetScales.append(Int(asset.scale))
            return [.assetListed(asset.id)]
        case .listSymbol(let spec):
            specs.append(spec)
            return [.symbolListed(spec.id)]
        case .deposit(let transfer), .withdraw(let transfer):
            let withdrawal = if case .withdraw = command { true } else { false }
            if let earlier = transfers[transfer.transferID] {
                return earlier.transfer == transfer && earlier.withdrawal == withdrawal
                    ? [.transferReplayed(originalSequence: earlier.sequence)]
                    : [.rejected(.duplicateTransferID, detail: earlier.sequence)]
            }
            if Int(transfer.asset) >= assetScales.count { return [.rejected(.unknownAsset, detail: 0)] }
            if transfer.amountMinor <= 0 || transfer.amountMinor > 1 << 62 { return [.rejected(.invalidAmount, detail: 0)] }
            if withdrawal {
                if wallets[transfer.account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
                let limit = min(Int128(wallet(transfer.account, transfer.asset)), available(transfer.account, transfer.asset))
                if Int128(transfer.amountMinor) > limit { return [.rejected(.insufficientBalance, detail: 0)] }
                addWallet(transfer.account, transfer.asset, -transfer.amountMinor)
                addSystem("external", transfer.asset, transfer.amountMinor)
                transfers[transfer.transferID] = (sequence, true, transfer)
                return [.withdrawn(account: transfer.account, asset: transfer.asset, amountMinor: transfer.amountMinor)]
            }
            if Int128(wallet(transfer.account, transfer.asset)) + Int128(transfer.amountMinor) > 1 << 62 {
                return [.rejected(.balanceLimit, detail: 0)]
            }
            addWallet(transfer.account, transfer.asset, transfer.amountMinor)
            addSystem("external", transfer.asset, -transfer.amountMinor)
            transfers[transfer.transferID] = (sequence, false, transfer)
            return [.deposited(account: transfer.account, asset: transfer.asset, amountMinor: transfer.amountMinor)]

        case .setLeverage(let account, let symbol, let lev):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if wallets[account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            if lev < 1 || lev > specs[Int(symbol)].maxLeverage { return [.rejected(.invalidLeverage, detail: 0)] }
            let asset = specs[Int(symbol)].settleAsset
            var trial = self
            trial.leverages[account, default: [:]][symbol] = lev
            let before = available(account, asset)
            let after = trial.available(account, asset)
            if after < 0 && after < before { return [.rejected(.insufficientMargin, detail: 0)] }
            self = trial
            return [.leverageSet(account: account, symbol: symbol, leverage: lev)]

        case .setMarkPrice(let symbol, let price):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if price <= 0 || price > specs[Int(symbol)].maxPriceUnits { return [.rejected(.invalidPrice, detail: 0)] }
            marks[symbol] = price
            return [.markPriceSet(symbol: symbol, priceUnits: price)]

        case .cancelOrder(let cancel):
            if wallets[cancel.account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            var id = cancel.orderID
            if id == 0 && cancel.clientOrderID != 0 { id = clientIDs[cancel.account]?[cancel.clientOrderID] ?? 0 }
            guard let index = orders.firstIndex(where: { $0.id == id && $0.account == cancel.account }) else {
                return [.rejected(.unknownOrder, detail: 0)]
            }
            let order = orders.remove(at: index)
            return [.orderCancelled(order.id, quantityUnits: order.open)]

        case .placeOrder(let order):
            return place(order)

        case .setIndexPrice, .setFundingRate, .addPremiumSample, .setMarginMode, .adjustIsolatedMargin, .depositInsuranceFund:
            fatalError("the reference model does not cover \(command) yet")
        }
    }

    mutating func place(_ order: PlaceOrder) -> [Event] {
        if Int(order.symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
        if wallets[order.account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
        let spec = specs[Int(order.symbol)]
        if order.quantityUnits <= 0 || order.quantityUnits > spec.maxQuantityUnits { return [.rejected(.invalidQuantity, detail: 0)] }
        if order.quantityUnits % spec.lotSizeQuantityUnits != 0 { return [.rejected(.quantityNotOnLot, detail: 0)] }
        if order.type == .market && order.priceUnits != 0 { return [.rejected(.invalidPrice, detail: 0)] }
        if order.type == .limit {
            if order.priceUnits <= 0 || order.priceUnits > spec.maxPriceUnits { return [.rejected(.invalidPrice, detail: 0)] }
            if order.priceUnits % spec.tickSizePriceUnits != 0 { return [.rejected(.priceNotOnTick, detail: 0)] }
        }
        guard let mark = marks[order.symbol] else { return [.rejected(.noMarkPrice, detail: 0)] }
        let reference = order.type == .limit ? order.priceUnits : mark
        if notional(order.symbol, reference, order.quantityUnits) < Int128(spec.minNotionalMinor) {
            return [.rejected(.notionalTooSmall, detail: 0)]
        }
        if order.clientOrderID != 0, let existing = clientIDs[order.account]?[order.clientOrderID] {
            return [.rejected(.duplicateClientOrderID, detail: existing)]
        }
        let id = nextOrder
        func crosses(_ price: Int64) -> Bool {
            order.type == .market || (order.side == .buy ? price <= order.priceUnits : price >= order.priceUnits)
        }
        let opposite = bookSide(order.symbol, order.side.opposite)
        var accepted = self
        accepted.nextOrder += 1
        if order.clientOrderID != 0 { accepted.clientIDs[order.account, default: [:]][order.clientOrderID] = id }
        if order.type == .limit && order.timeInForce == .gtx, let best = opposite.first, crosses(best.price) {
            self = accepted
            return [.orderAccepted(id), .orderExpired(id, quantityUnits: order.quantityUnits, reason: .postOnly)]
        }

        // Trade on a copy; keep it only if the margin check passes.
        var trial = accepted
        var events: [Event] = [.orderAccepted(id)]
        var left = order.quantityUnits
        var metOwnOrder = false
        for maker in opposite {
            if left == 0 || !crosses(maker.price) { break }
            if maker.account == order.account {
                metOwnOrder = true
                break
            }
            let quantity = min(left, maker.open)
            let value = trial.notional(order.symbol, maker.price, quantity)
            let (makerHeld, makerPnl) = Self.afterFill(
                trial.holding(maker.account, order.symbol), buy: maker.side == .buy, quantity: quantity, price: maker.price,
                factor: factor(order.symbol))
            trial.holdings[maker.account, default: [:]][order.symbol] = makerHeld
            let (takerHeld, takerPnl) = Self.afterFill(
                trial.holding(order.account, order.symbol), buy: order.side == .buy, quantity: quantity, price: maker.price,
                factor: factor(order.symbol))
            trial.holdings[order.account, default: [:]][order.symbol] = takerHeld
            let makerFee = Int64(Self.ceilDiv(value * Int128(spec.makerFeeRateE8), 100_000_000))
            let takerFee = Int64(Self.ceilDiv(value * Int128(spec.takerFeeRateE8), 100_000_000))
            let asset = spec.settleAsset
            trial.addWallet(maker.account, asset, makerPnl - makerFee)
            trial.addWallet(order.account, asset, takerPnl - takerFee)
            trial.addSystem("fees", asset, makerFee + takerFee)
            trial.addSystem("clearing", asset, -makerPnl - takerPnl)
            let index = trial.orders.firstIndex { $0.id == maker.id }!
            trial.orders[index].open -= quantity
            if trial.orders[index].open == 0 { trial.orders.remove(at: index) }
            trial.lastPrices[order.symbol] = maker.price
            events.append(
                .trade(
                    Trade(
                        tradeID: trial.nextTrade, symbol: order.symbol, makerOrderID: maker.id, takerOrderID: id,
                        makerAccount: maker.account, takerAccount: order.account, takerSide: order.side,
                        priceUnits: maker.price, quantityUnits: quantity, makerFeeMinor: makerFee, takerFeeMinor: takerFee,
                        makerRealizedPnlMinor: makerPnl, takerRealizedPnlMinor: takerPnl)))
            trial.nextTrade += 1
            left -= quantity
        }
        if order.timeInForce == .fok && left > 0 {
            self = accepted
            return [.orderAccepted(id), .orderExpired(id, quantityUnits: order.quantityUnits, reason: .fillOrKill)]
        }
        let rests = order.type == .limit && (order.timeInForce == .gtc || order.timeInForce == .gtx) && !metOwnOrder && left > 0
        if rests {
            trial.arrivals += 1
            trial.orders.append(
                Order(
                    id: id, account: order.account, symbol: order.symbol, side: order.side, price: order.priceUnits,
                    open: left, client: order.clientOrderID, arrival: trial.arrivals))
            events.append(.orderRested(id, openQuantityUnits: left))
        } else if left > 0 {
            events.append(.orderExpired(id, quantityUnits: left, reason: metOwnOrder ? .selfTrade : .immediateOrCancel))
        }
        // Position limit and margin, judged on the result.
        let held = trial.holding(order.account, order.symbol)
        let mine = trial.orders.filter { $0.account == order.account && $0.symbol == order.symbol }
        let buys = mine.filter { $0.side == .buy }.reduce(0) { $0 + $1.open }
        let sells = mine.filter { $0.side == .sell }.reduce(0) { $0 + $1.open }
        if abs(held.size) + max(buys, sells) > spec.maxPositionQuantityUnits { return [.rejected(.positionLimit, detail: 0)] }
        let before = available(order.account, spec.settleAsset)
        let after = trial.available(order.account, spec.settleAsset)
        if after < 0 && after < before { return [.rejected(.insufficientMargin, detail: 0)] }
        self = trial
        return events
    }
}
