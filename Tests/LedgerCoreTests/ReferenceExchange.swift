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
        var reduceOnly = false
    }

    /// A stop, take-profit or trailing order waiting for its trigger.
    struct Conditional: Equatable {
        var id: OrderID
        var order: PlaceOrder
        /// Trailing: best working price since activation, 0 before.
        var extreme: Int64
    }

    /// How `submit` announces the order.
    enum Entry {
        case new
        case triggered
        case amend(Order)
    }

    struct Holding: Equatable {
        var size: Int64 = 0
        var cost: Int64 = 0
        var isolated = false
        /// Margin set aside when isolated.
        var margin: Int64 = 0
    }

    /// Funding state of a symbol.
    struct Funding {
        var next: Int64 = 0
        var override: Int64?
        var premiums: [Int64] = []
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
    /// kind: 0 deposit, 1 withdrawal, 2 insurance deposit.
    var transfers: [TransferID: (sequence: SequenceNumber, kind: Int, transfer: Transfer)] = [:]
    var accountOrder: [AccountID] = []
    var funding: [SymbolID: Funding] = [:]
    var indexPrices: [SymbolID: Int64] = [:]
    /// The insurance fund's positions.
    var fund: [SymbolID: Holding] = [:]
    var conditionals: [SymbolID: [Conditional]] = [:]
    var window = IdempotencyWindow(transferSeconds: 7 * 86_400, clientOrderSeconds: 86_400, maxRecords: 1_000_000)
    /// Remembered ids, oldest first, with the time they were recorded.
    var transferLog: [(time: Int64, id: TransferID)] = []
    var clientLog: [(time: Int64, account: AccountID, client: ClientOrderID)] = []
    /// The time of the command being executed.
    var now: Int64 = 0
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

    /// Wallet − isolated margins + Σ cross (uPnL − position margin) − Σ order margin, from scratch.
    func available(_ account: AccountID, _ asset: AssetID) -> Int128 {
        var total = Int128(wallet(account, asset))
        for spec in specs where spec.settleAsset == asset {
            let symbol = spec.id
            let held = holding(account, symbol)
            total -= Int128(held.margin)
            let mine = orders.filter { $0.account == account && $0.symbol == symbol }
            let buyQuantity = mine.filter { $0.side == .buy }.reduce(Int128(0)) { $0 + Int128($1.open) }
            let sellQuantity = mine.filter { $0.side == .sell }.reduce(Int128(0)) { $0 + Int128($1.open) }
            let buyNotional = mine.filter { $0.side == .buy }.reduce(Int128(0)) { $0 + notional(symbol, $1.price, $1.open) }
            let sellNotional = mine.filter { $0.side == .sell }.reduce(Int128(0)) { $0 + notional(symbol, $1.price, $1.open) }
            if held.size == 0 && buyQuantity == 0 && sellQuantity == 0 { continue }
            let mark = marks[symbol] ?? 0
            let markNotional = Int128(held.size) * Int128(mark) * factor(symbol)
            let lev = leverage(account, symbol)
            if !held.isolated {
                total += markNotional - Int128(held.cost)
                total -= Self.ceilDiv(markNotional < 0 ? -markNotional : markNotional, lev)
            }
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

    /// An isolated holding's margin after a fill: PnL and fee settle in it, the closed
    /// share goes back (all of it on a close), opening takes notional / leverage.
    static func isolatedMargin(
        before: Holding, buy: Bool, quantity: Int64, price: Int64, realized: Int64, fee: Int64, leverage: Int128, factor: Int128
    ) -> Int64 {
        var margin = Int128(before.margin) + Int128(realized) - Int128(fee)
        let size = Int128(abs(before.size))
        let closing = before.size != 0 && (before.size > 0) != buy ? min(Int128(quantity), size) : 0
        if closing == size && closing > 0 {
            margin = 0
        } else if closing > 0 {
            let share = margin * closing
            margin -= share >= 0 ? share / size : -ceilDiv(-share, size)
        }
        let opened = Int128(quantity) - closing
        if opened > 0 { margin += ceilDiv(Int128(price) * opened * factor, leverage) }
        return Int64(margin)
    }

    /// Moves one side of a fill into the account's holding (isolated margin included);
    /// returns the realized PnL. The money moves separately.
    mutating func fill(_ account: AccountID, _ symbol: SymbolID, buy: Bool, _ quantity: Int64, _ price: Int64, fee: Int64) -> Int64 {
        let before = holding(account, symbol)
        var (after, pnl) = Self.afterFill(before, buy: buy, quantity: quantity, price: price, factor: factor(symbol))
        if before.isolated {
            after.margin = Self.isolatedMargin(
                before: before, buy: buy, quantity: quantity, price: price, realized: pnl, fee: fee,
                leverage: leverage(account, symbol), factor: factor(symbol))
        }
        holdings[account, default: [:]][symbol] = after
        return pnl
    }

    /// The maximum leverage for the bracket of an account's exposure in a symbol at mark.
    func bracketLeverage(_ account: AccountID, _ symbol: SymbolID) -> Int128 {
        let held = holding(account, symbol)
        let mine = orders.filter { $0.account == account && $0.symbol == symbol }
        let buys = mine.filter { $0.side == .buy }.reduce(Int64(0)) { $0 + $1.open }
        let sells = mine.filter { $0.side == .sell }.reduce(Int64(0)) { $0 + $1.open }
        let exposure = notional(symbol, marks[symbol] ?? 0, abs(held.size) + max(buys, sells))
        let brackets = specs[Int(symbol)].brackets
        let bracket = brackets.first { exposure < Int128($0.notionalCapMinor) } ?? brackets[brackets.count - 1]
        return Int128(bracket.maxLeverage)
    }

    /// Drops remembered ids that left their window (time or count); a client order id
    /// whose order is still open is kept and counted as recorded now.
    mutating func forget() {
        while let first = transferLog.first,
            first.time < now - window.transferSeconds * 1_000_000_000 || transferLog.count > window.maxRecords
        {
            transferLog.removeFirst()
            transfers[first.id] = nil
        }
        var looked = 0
        let total = clientLog.count
        while looked < total, let first = clientLog.first,
            first.time < now - window.clientOrderSeconds * 1_000_000_000 || clientLog.count > window.maxRecords
        {
            looked += 1
            clientLog.removeFirst()
            let id = clientIDs[first.account]![first.client]!
            let open = orders.contains { $0.id == id } || conditionals.values.contains { $0.contains { $0.id == id } }
            if open {
                clientLog.append((now, first.account, first.client))
            } else {
                clientIDs[first.account]![first.client] = nil
            }
        }
    }

    /// Settles every symbol whose funding time has come.
    mutating func settleFunding() -> [Event] {
        var events: [Event] = []
        for spec in specs where spec.fundingIntervalSeconds > 0 {
            let symbol = spec.id
            let state = funding[symbol]!
            if now < state.next { continue }
            var rate: Int64
            if let fixed = state.override {
                rate = fixed
            } else {
                let premium = state.premiums.isEmpty ? 0 : state.premiums.reduce(0, +) / Int64(state.premiums.count)
                rate = premium + min(max(spec.fundingInterestRateE8 - premium, -spec.fundingClampRateE8), spec.fundingClampRateE8)
                rate = min(max(rate, -spec.fundingCapRateE8), spec.fundingCapRateE8)
            }
            let mark = marks[symbol] ?? 0
            events.append(.fundingSettled(symbol: symbol, rateE8: rate, markPriceUnits: mark))
            let interval = spec.fundingIntervalSeconds * 1_000_000_000
            funding[symbol] = Funding(next: (now / interval + 1) * interval)
            if rate == 0 || mark == 0 { continue }
            for account in accountOrder {
                let held = holding(account, symbol)
                if held.size == 0 { continue }
                let amount = Int64(Self.ceilDiv(Int128(held.size) * Int128(mark) * factor(symbol) * Int128(rate), 100_000_000))
                if amount == 0 { continue }
                addWallet(account, spec.settleAsset, -amount)
                addSystem("funding", spec.settleAsset, amount)
                if held.isolated { holdings[account, default: [:]][symbol]!.margin -= amount }
                events.append(.fundingPaid(account: account, symbol: symbol, amountMinor: amount))
            }
            let fundHeld = fund[symbol] ?? Holding()
            if fundHeld.size != 0 {
                let amount = Int64(Self.ceilDiv(Int128(fundHeld.size) * Int128(mark) * factor(symbol) * Int128(rate), 100_000_000))
                if amount != 0 {
                    addSystem("insurance", spec.settleAsset, -amount)
                    addSystem("funding", spec.settleAsset, amount)
                    events.append(.fundFundingPaid(symbol: symbol, amountMinor: amount))
                }
            }
        }
        return events
    }

    /// The orders a taker meets, best first.
    func bookSide(_ symbol: SymbolID, _ side: Side) -> [Order] {
        orders.filter { $0.symbol == symbol && $0.side == side }.sorted {
            if $0.price != $1.price { return side == .buy ? $0.price > $1.price : $0.price < $1.price }
            return $0.arrival < $1.arrival
        }
    }

    mutating func execute(_ command: Command, sequence: SequenceNumber, time: Int64) -> [Event] {
        now = time
        forget()
        var events = settleFunding()
        events += settle()
        events += executeCommand(command, sequence: sequence)
        events += settle()
        return events
    }

    mutating func executeCommand(_ command: Command, sequence: SequenceNumber) -> [Event] {
        switch command {
        case .listAsset(let asset):
            assetScales.append(Int(asset.scale))
            return [.assetListed(asset.id)]
        case .listSymbol(let spec):
            specs.append(spec)
            if spec.fundingIntervalSeconds > 0 {
                let interval = spec.fundingIntervalSeconds * 1_000_000_000
                funding[spec.id] = Funding(next: (now / interval + 1) * interval)
            }
            return [.symbolListed(spec.id)]
        case .deposit(let transfer), .withdraw(let transfer):
            let withdrawal = if case .withdraw = command { true } else { false }
            if let earlier = transfers[transfer.transferID] {
                return earlier.transfer == transfer && earlier.kind == (withdrawal ? 1 : 0)
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
                transfers[transfer.transferID] = (sequence, 1, transfer)
                transferLog.append((now, transfer.transferID))
                return [.withdrawn(account: transfer.account, asset: transfer.asset, amountMinor: transfer.amountMinor)]
            }
            if Int128(wallet(transfer.account, transfer.asset)) + Int128(transfer.amountMinor) > 1 << 62 {
                return [.rejected(.balanceLimit, detail: 0)]
            }
            if wallets[transfer.account] == nil { accountOrder.append(transfer.account) }
            addWallet(transfer.account, transfer.asset, transfer.amountMinor)
            addSystem("external", transfer.asset, -transfer.amountMinor)
            transfers[transfer.transferID] = (sequence, 0, transfer)
            transferLog.append((now, transfer.transferID))
            return [.deposited(account: transfer.account, asset: transfer.asset, amountMinor: transfer.amountMinor)]

        case .setLeverage(let account, let symbol, let lev):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if wallets[account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            if lev < 1 || lev > specs[Int(symbol)].maxLeverage { return [.rejected(.invalidLeverage, detail: 0)] }
            if Int128(lev) > bracketLeverage(account, symbol) { return [.rejected(.leverageAboveBracket, detail: 0)] }
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
            follow(symbol, .markPrice)
            if (lastPrices[symbol] ?? 0) == 0 { follow(symbol, .contractPrice) }  // the mark is the contract price until a trade
            return [.markPriceSet(symbol: symbol, priceUnits: price)]

        case .cancelOrder(let cancel):
            if wallets[cancel.account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            var id = cancel.orderID
            if id == 0 && cancel.clientOrderID != 0 { id = clientIDs[cancel.account]?[cancel.clientOrderID] ?? 0 }
            if let index = orders.firstIndex(where: { $0.id == id && $0.account == cancel.account }) {
                let order = orders.remove(at: index)
                return [.orderCancelled(order.id, quantityUnits: order.open)]
            }
            for (symbol, list) in conditionals {
                if let index = list.firstIndex(where: { $0.id == id && $0.order.account == cancel.account }) {
                    conditionals[symbol]!.remove(at: index)
                    return [.conditionalOrderCancelled(id)]
                }
            }
            return [.rejected(.unknownOrder, detail: 0)]

        case .entryExcised:
            return [.rejected(.entryExcised, detail: 0)]

        // The model keeps the rules of a journal without world limits, under which system
        // commands have nothing to do; the bounded rules are checked by BoundedFundingTests.
        case .tick, .settleFunding:
            return [.rejected(.noSystemWork, detail: 0)]
        case .setWorldLimits:
            preconditionFailure("the reference model follows the rules before the bounded ones")

        case .setIdempotencyWindow(let new):
            let day: Int64 = 86_400
            if new.transferSeconds < 1 || new.transferSeconds > 366 * day || new.clientOrderSeconds < 1
                || new.clientOrderSeconds > 366 * day || new.maxRecords < 1 || new.maxRecords > 10_000_000
            {
                return [.rejected(.invalidAmount, detail: 0)]
            }
            window = new
            return [.idempotencyWindowSet(new)]

        case .cancelAllOrders(let account, let symbol):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if wallets[account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            var events = cancelAll(account, in: symbol)
            events.append(.allOrdersCancelled(account: account, symbol: symbol, count: UInt64(events.count)))
            return events

        case .amendOrder(let amend):
            return self.amend(amend)

        case .placeOrder(let order):
            return place(order)

        case .setIndexPrice(let symbol, let price):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if price <= 0 || price > specs[Int(symbol)].maxPriceUnits { return [.rejected(.invalidPrice, detail: 0)] }
            indexPrices[symbol] = price
            return [.indexPriceSet(symbol: symbol, priceUnits: price)]

        case .setFundingRate(let symbol, let rate):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            let spec = specs[Int(symbol)]
            if spec.fundingIntervalSeconds == 0 || abs(rate) > spec.fundingCapRateE8 { return [.rejected(.invalidRate, detail: 0)] }
            funding[symbol]!.override = rate
            return [.fundingRateSet(symbol: symbol, rateE8: rate)]

        case .addPremiumSample(let symbol, let premium):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            let spec = specs[Int(symbol)]
            if spec.fundingIntervalSeconds == 0 || abs(premium) > 100_000_000 || funding[symbol]!.premiums.count >= 86_400 {
                return [.rejected(.invalidRate, detail: 0)]
            }
            funding[symbol]!.premiums.append(premium)
            return [.premiumSampled(symbol: symbol, premiumE8: premium)]

        case .setMarginMode(let account, let symbol, let isolated):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if wallets[account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            if holding(account, symbol).size != 0 || orders.contains(where: { $0.account == account && $0.symbol == symbol }) {
                return [.rejected(.marginModeLocked, detail: 0)]
            }
            holdings[account, default: [:]][symbol, default: Holding()].isolated = isolated
            return [.marginModeSet(account: account, symbol: symbol, isolated: isolated)]

        case .adjustIsolatedMargin(let account, let symbol, let amount):
            if Int(symbol) >= specs.count { return [.rejected(.unknownSymbol, detail: 0)] }
            if wallets[account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
            let held = holding(account, symbol)
            if !held.isolated || held.size == 0 { return [.rejected(.notIsolated, detail: 0)] }
            if amount == 0 || amount.magnitude > 1 << 62 { return [.rejected(.invalidAmount, detail: 0)] }
            if amount > 0 {
                if Int128(amount) > available(account, specs[Int(symbol)].settleAsset) {
                    return [.rejected(.insufficientMargin, detail: 0)]
                }
            } else {
                let markNotional = notional(symbol, marks[symbol] ?? 0, held.size)
                let initial = Self.ceilDiv(markNotional < 0 ? -markNotional : markNotional, leverage(account, symbol))
                let free = Int128(held.margin) + markNotional - Int128(held.cost) - initial
                if Int128(-amount) > min(free, Int128(held.margin)) { return [.rejected(.insufficientMargin, detail: 0)] }
            }
            holdings[account]![symbol]!.margin += amount
            return [.isolatedMarginAdjusted(account: account, symbol: symbol, amountMinor: amount)]

        case .depositInsuranceFund(let transfer):
            if let earlier = transfers[transfer.transferID] {
                return earlier.transfer == transfer && earlier.kind == 2
                    ? [.transferReplayed(originalSequence: earlier.sequence)]
                    : [.rejected(.duplicateTransferID, detail: earlier.sequence)]
            }
            if transfer.account != 0 { return [.rejected(.unknownAccount, detail: 0)] }
            if Int(transfer.asset) >= assetScales.count { return [.rejected(.unknownAsset, detail: 0)] }
            if transfer.amountMinor <= 0 || transfer.amountMinor > 1 << 62 { return [.rejected(.invalidAmount, detail: 0)] }
            if Int128(system["insurance"]?[transfer.asset] ?? 0) + Int128(transfer.amountMinor) > 1 << 62 {
                return [.rejected(.balanceLimit, detail: 0)]
            }
            addSystem("insurance", transfer.asset, transfer.amountMinor)
            addSystem("external", transfer.asset, -transfer.amountMinor)
            transfers[transfer.transferID] = (sequence, 2, transfer)
            transferLog.append((now, transfer.transferID))
            return [.insuranceFundDeposited(asset: transfer.asset, amountMinor: transfer.amountMinor)]
        }
    }

    /// The order's own terms, in the engine's order of checks; nil when they hold.
    func check(_ order: PlaceOrder) -> RejectReason? {
        if Int(order.symbol) >= specs.count { return .unknownSymbol }
        if wallets[order.account] == nil { return .unknownAccount }
        let spec = specs[Int(order.symbol)]
        let conditional = order.type != .limit && order.type != .market
        let limitPriced = order.type == .limit || order.type == .stopLimit || order.type == .takeProfitLimit
        if order.closePosition {
            if !(order.type == .stopMarket || order.type == .takeProfitMarket) || order.quantityUnits != 0 { return .invalidQuantity }
        } else {
            if order.quantityUnits <= 0 || order.quantityUnits > spec.maxQuantityUnits { return .invalidQuantity }
            if order.quantityUnits % spec.lotSizeQuantityUnits != 0 { return .quantityNotOnLot }
        }
        if limitPriced {
            if order.priceUnits <= 0 || order.priceUnits > spec.maxPriceUnits { return .invalidPrice }
            if order.priceUnits % spec.tickSizePriceUnits != 0 { return .priceNotOnTick }
        } else if order.priceUnits != 0 {
            return .invalidPrice
        }
        if order.type == .trailingStopMarket {
            if order.stopPriceUnits != 0 || order.activationPriceUnits < 0 || order.activationPriceUnits > spec.maxPriceUnits {
                return .invalidPrice
            }
            if order.activationPriceUnits % spec.tickSizePriceUnits != 0 { return .priceNotOnTick }
            if order.callbackRateE8 < 100_000 || order.callbackRateE8 > 10_000_000 { return .invalidRate }
        } else if conditional {
            if order.stopPriceUnits <= 0 || order.stopPriceUnits > spec.maxPriceUnits || order.callbackRateE8 != 0
                || order.activationPriceUnits != 0
            {
                return .invalidPrice
            }
            if order.stopPriceUnits % spec.tickSizePriceUnits != 0 { return .priceNotOnTick }
        } else if order.stopPriceUnits != 0 || order.callbackRateE8 != 0 || order.activationPriceUnits != 0 {
            return .invalidPrice
        }
        guard let mark = marks[order.symbol] else { return .noMarkPrice }
        if limitPriced && spec.priceBandRateE8 > 0
            && Int128(abs(order.priceUnits - mark)) * 100_000_000 > Int128(mark) * Int128(spec.priceBandRateE8)
        {
            return .priceOutsideBand
        }
        if !order.closePosition
            && notional(order.symbol, limitPriced ? order.priceUnits : mark, order.quantityUnits) < Int128(spec.minNotionalMinor)
        {
            return .notionalTooSmall
        }
        return nil
    }

    func working(_ symbol: SymbolID, _ type: WorkingType) -> Int64 {
        let last = lastPrices[symbol] ?? 0
        return type == .markPrice || last == 0 ? marks[symbol] ?? 0 : last
    }

    /// How much of a fill on `side` would close the holding.
    func closable(_ account: AccountID, _ symbol: SymbolID, sell: Bool) -> Int64 {
        let size = holding(account, symbol).size
        return sell ? max(0, size) : max(0, -size)
    }

    mutating func place(_ order: PlaceOrder) -> [Event] {
        if let reason = check(order) { return [.rejected(reason, detail: 0)] }
        if order.clientOrderID != 0, let existing = clientIDs[order.account]?[order.clientOrderID] {
            return [.rejected(.duplicateClientOrderID, detail: existing)]
        }
        if order.type != .limit && order.type != .market {
            let price = working(order.symbol, order.workingType)
            let buy = order.side == .buy
            let atOnce: Bool
            switch order.type {
            case .stopMarket, .stopLimit: atOnce = buy ? price >= order.stopPriceUnits : price <= order.stopPriceUnits
            case .takeProfitMarket, .takeProfitLimit: atOnce = buy ? price <= order.stopPriceUnits : price >= order.stopPriceUnits
            default:
                atOnce =
                    order.activationPriceUnits != 0 && (buy ? price <= order.activationPriceUnits : price >= order.activationPriceUnits)
            }
            if atOnce { return [.rejected(.wouldTriggerImmediately, detail: 0)] }
            let id = nextOrder
            nextOrder += 1
            if order.clientOrderID != 0 {
                clientIDs[order.account, default: [:]][order.clientOrderID] = id
                clientLog.append((now, order.account, order.clientOrderID))
            }
            let extreme = order.type == .trailingStopMarket && order.activationPriceUnits == 0 ? price : 0
            conditionals[order.symbol, default: []].append(Conditional(id: id, order: order, extreme: extreme))
            return [.orderAccepted(id), .conditionalOrderPlaced(id)]
        }
        switch submit(order, id: nextOrder, entry: .new) {
        case .success(let events): return events
        case .failure(let reason): return [.rejected(reason, detail: 0)]
        }
    }

    /// An order that passed its own checks, into the book: reduce-only, post-only,
    /// matching with self-trade prevention, fill-or-kill, resting; position limit, bracket
    /// and margin judged on the result, which is kept only if they pass.
    mutating func submit(_ order: PlaceOrder, id: OrderID, entry: Entry) -> Result<[Event], RejectReason> {
        let spec = specs[Int(order.symbol)]
        if order.reduceOnly && closable(order.account, order.symbol, sell: order.side == .sell) < order.quantityUnits {
            return .failure(.reduceOnlyRejected)
        }
        func crosses(_ price: Int64) -> Bool {
            order.type == .market || (order.side == .buy ? price <= order.priceUnits : price >= order.priceUnits)
        }
        var accepted = self
        var events: [Event] = []
        switch entry {
        case .new:
            accepted.nextOrder += 1
            if order.clientOrderID != 0 {
                accepted.clientIDs[order.account, default: [:]][order.clientOrderID] = id
                accepted.clientLog.append((now, order.account, order.clientOrderID))
            }
            events.append(.orderAccepted(id))
        case .triggered:
            break
        case .amend(let existing):
            accepted.orders.removeAll { $0.id == existing.id }
            events.append(.orderAmended(id, priceUnits: order.priceUnits, quantityUnits: order.quantityUnits))
        }
        let opposite = accepted.bookSide(order.symbol, order.side.opposite)
        if order.type == .limit && order.timeInForce == .gtx, let best = opposite.first, crosses(best.price) {
            self = accepted
            return .success(events + [.orderExpired(id, quantityUnits: order.quantityUnits, reason: .postOnly)])
        }

        // Trade on a copy; keep it only if the checks pass.
        var trial = accepted
        var left = order.quantityUnits
        var metOwnOrder = false
        for maker in opposite {
            if left == 0 || !crosses(maker.price) { break }
            if maker.account == order.account {
                if order.selfTradePrevention != .expireTaker {
                    trial.orders.removeAll { $0.id == maker.id }
                    events.append(.restingOrderExpired(maker.id, quantityUnits: maker.open, reason: .selfTrade))
                }
                if order.selfTradePrevention == .expireMaker { continue }
                metOwnOrder = true
                break
            }
            let quantity = min(left, maker.open)
            let value = trial.notional(order.symbol, maker.price, quantity)
            let makerFee = Int64(Self.ceilDiv(value * Int128(spec.makerFeeRateE8), 100_000_000))
            let takerFee = Int64(Self.ceilDiv(value * Int128(spec.takerFeeRateE8), 100_000_000))
            let makerPnl = trial.fill(maker.account, order.symbol, buy: maker.side == .buy, quantity, maker.price, fee: makerFee)
            let takerPnl = trial.fill(order.account, order.symbol, buy: order.side == .buy, quantity, maker.price, fee: takerFee)
            let asset = spec.settleAsset
            trial.addWallet(maker.account, asset, makerPnl - makerFee)
            trial.addWallet(order.account, asset, takerPnl - takerFee)
            trial.addSystem("fees", asset, makerFee + takerFee)
            trial.addSystem("clearing", asset, -makerPnl - takerPnl)
            let index = trial.orders.firstIndex { $0.id == maker.id }!
            trial.orders[index].open -= quantity
            if trial.orders[index].open == 0 { trial.orders.remove(at: index) }
            trial.lastPrices[order.symbol] = maker.price
            trial.follow(order.symbol, .contractPrice)
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
            let announced = events.filter {
                switch $0 {
                case .orderAccepted, .orderAmended: true
                default: false
                }
            }
            return .success(announced + [.orderExpired(id, quantityUnits: order.quantityUnits, reason: .fillOrKill)])
        }
        let rests = order.type == .limit && (order.timeInForce == .gtc || order.timeInForce == .gtx) && !metOwnOrder && left > 0
        if rests {
            trial.arrivals += 1
            trial.orders.append(
                Order(
                    id: id, account: order.account, symbol: order.symbol, side: order.side, price: order.priceUnits,
                    open: left, client: order.clientOrderID, arrival: trial.arrivals, reduceOnly: order.reduceOnly))
            events.append(.orderRested(id, openQuantityUnits: left))
        } else if left > 0 {
            events.append(.orderExpired(id, quantityUnits: left, reason: metOwnOrder ? .selfTrade : .immediateOrCancel))
        }
        // Position limit and margin, judged on the result.
        if !order.reduceOnly {
            let held = trial.holding(order.account, order.symbol)
            let mine = trial.orders.filter { $0.account == order.account && $0.symbol == order.symbol }
            let buys = mine.filter { $0.side == .buy }.reduce(0) { $0 + $1.open }
            let sells = mine.filter { $0.side == .sell }.reduce(0) { $0 + $1.open }
            if abs(held.size) + max(buys, sells) > spec.maxPositionQuantityUnits { return .failure(.positionLimit) }
            if trial.leverage(order.account, order.symbol) > trial.bracketLeverage(order.account, order.symbol) {
                return .failure(.leverageAboveBracket)
            }
        }
        let before = available(order.account, spec.settleAsset)
        let after = trial.available(order.account, spec.settleAsset)
        if after < 0 && after < before { return .failure(.insufficientMargin) }
        self = trial
        return .success(events)
    }

    mutating func amend(_ amend: AmendOrder) -> [Event] {
        if wallets[amend.account] == nil { return [.rejected(.unknownAccount, detail: 0)] }
        var id = amend.orderID
        if id == 0 && amend.clientOrderID != 0 { id = clientIDs[amend.account]?[amend.clientOrderID] ?? 0 }
        guard let existing = orders.first(where: { $0.id == id && $0.account == amend.account }) else {
            return [.rejected(.unknownOrder, detail: 0)]
        }
        let order = PlaceOrder(
            account: amend.account, symbol: existing.symbol, side: existing.side, type: .limit, timeInForce: .gtc,
            priceUnits: amend.priceUnits, quantityUnits: amend.quantityUnits, clientOrderID: existing.client,
            reduceOnly: existing.reduceOnly)
        if let reason = check(order) { return [.rejected(reason, detail: 0)] }
        if amend.priceUnits == existing.price {
            if amend.quantityUnits == existing.open { return [.rejected(.nothingToAmend, detail: 0)] }
            if amend.quantityUnits < existing.open {
                let index = orders.firstIndex { $0.id == id }!
                orders[index].open = amend.quantityUnits
                return [.orderReduced(id, quantityUnits: existing.open - amend.quantityUnits)]
            }
        }
        switch submit(order, id: id, entry: .amend(existing)) {
        case .success(let events): return events
        case .failure(let reason): return [.rejected(reason, detail: 0)]
        }
    }

    // MARK: Triggers and reduce-only upkeep

    /// Trailing stops of `type` in `symbol` follow the new working price.
    mutating func follow(_ symbol: SymbolID, _ type: WorkingType) {
        guard var list = conditionals[symbol] else { return }
        let price = working(symbol, type)
        for index in list.indices where list[index].order.type == .trailingStopMarket && list[index].order.workingType == type {
            let sell = list[index].order.side == .sell
            if list[index].extreme == 0 {
                let activation = list[index].order.activationPriceUnits
                if activation == 0 || (sell ? price >= activation : price <= activation) { list[index].extreme = price }
            } else {
                list[index].extreme = sell ? max(list[index].extreme, price) : min(list[index].extreme, price)
            }
        }
        conditionals[symbol] = list
    }

    /// The first conditional order of the symbol whose trigger holds now.
    func dueTrigger(_ symbol: SymbolID) -> Int? {
        (conditionals[symbol] ?? []).firstIndex { conditional in
            let order = conditional.order
            let price = working(symbol, order.workingType)
            let buy = order.side == .buy
            switch order.type {
            case .stopMarket, .stopLimit: return buy ? price >= order.stopPriceUnits : price <= order.stopPriceUnits
            case .takeProfitMarket, .takeProfitLimit: return buy ? price <= order.stopPriceUnits : price >= order.stopPriceUnits
            case .trailingStopMarket:
                if conditional.extreme == 0 { return false }
                let back =
                    Int128(conditional.extreme) * Int128(buy ? 100_000_000 + order.callbackRateE8 : 100_000_000 - order.callbackRateE8)
                return buy ? Int128(price) * 100_000_000 >= back : Int128(price) * 100_000_000 <= back
            default: return false
            }
        }
    }

    mutating func fireTriggers(_ symbol: SymbolID) -> [Event] {
        var events: [Event] = []
        while let index = dueTrigger(symbol) {
            let conditional = conditionals[symbol]!.remove(at: index)
            let source = conditional.order
            events.append(.conditionalOrderTriggered(conditional.id, priceUnits: working(symbol, source.workingType)))
            let limit = source.type == .stopLimit || source.type == .takeProfitLimit
            let reduceOnly = source.reduceOnly || source.closePosition
            var quantity = source.quantityUnits
            let room = closable(source.account, symbol, sell: source.side == .sell)
            if source.closePosition { quantity = room } else if reduceOnly { quantity = min(quantity, room) }
            if quantity == 0 {
                events.append(.triggeredOrderRejected(conditional.id, reason: .reduceOnlyRejected))
                continue
            }
            let spec = specs[Int(symbol)]
            let mark = marks[symbol] ?? 0
            if limit && spec.priceBandRateE8 > 0
                && Int128(abs(source.priceUnits - mark)) * 100_000_000 > Int128(mark) * Int128(spec.priceBandRateE8)
            {
                events.append(.triggeredOrderRejected(conditional.id, reason: .priceOutsideBand))
                continue
            }
            let order = PlaceOrder(
                account: source.account, symbol: symbol, side: source.side, type: limit ? .limit : .market,
                timeInForce: limit ? source.timeInForce : .ioc, priceUnits: source.priceUnits, quantityUnits: quantity,
                clientOrderID: source.clientOrderID, reduceOnly: reduceOnly, selfTradePrevention: source.selfTradePrevention)
            switch submit(order, id: conditional.id, entry: .triggered) {
            case .success(let placed): events += placed
            case .failure(let reason): events.append(.triggeredOrderRejected(conditional.id, reason: reason))
            }
        }
        return events
    }

    /// The first (account, symbol), in account then symbol order, whose resting reduce-only
    /// orders would not only reduce or add up to more than the position.
    func reduceOnlyBreach() -> (AccountID, SymbolID)? {
        let reducing = orders.filter(\.reduceOnly)
        if reducing.isEmpty { return nil }
        for account in accountOrder {
            for spec in specs {
                let mine = reducing.filter { $0.account == account && $0.symbol == spec.id }
                if mine.isEmpty { continue }
                let size = holding(account, spec.id).size
                let closing = mine.filter { size != 0 && (size > 0) == ($0.side == .sell) }
                if closing.count < mine.count || closing.reduce(0, { $0 + $1.open }) > abs(size) { return (account, spec.id) }
            }
        }
        return nil
    }

    mutating func fixReduceOnly(_ account: AccountID, _ symbol: SymbolID) -> [Event] {
        var events: [Event] = []
        let size = holding(account, symbol).size
        var closing: [Order] = []
        for side in [Side.buy, .sell] {
            for order in bookSide(symbol, side) where order.account == account && order.reduceOnly {
                if size != 0 && (size > 0) == (side == .sell) {
                    closing.append(order)
                } else {
                    orders.removeAll { $0.id == order.id }
                    events.append(.orderCancelled(order.id, quantityUnits: order.open))
                }
            }
        }
        var excess = closing.reduce(0) { $0 + $1.open } - abs(size)
        for order in closing.sorted(by: { $0.id > $1.id }) where excess > 0 {
            let cut = min(excess, order.open)
            let index = orders.firstIndex { $0.id == order.id }!
            if cut == order.open {
                orders.remove(at: index)
                events.append(.orderCancelled(order.id, quantityUnits: cut))
            } else {
                orders[index].open -= cut
                events.append(.orderReduced(order.id, quantityUnits: cut))
            }
            excess -= cut
        }
        return events
    }

    // MARK: Liquidation, written out step by step

    func unrealized(_ held: Holding, _ symbol: SymbolID) -> Int128 {
        Int128(held.size) * Int128(marks[symbol] ?? 0) * factor(symbol) - Int128(held.cost)
    }

    /// notional × MMR of its bracket (rounded up) − the bracket's maintenance amount.
    func maintenance(_ held: Holding, _ symbol: SymbolID) -> Int128 {
        let value = notional(symbol, marks[symbol] ?? 0, abs(held.size))
        if value == 0 { return 0 }
        let brackets = specs[Int(symbol)].brackets
        var amount = Int128(0)
        var chosen = brackets.count - 1
        for (index, bracket) in brackets.enumerated() {
            if index > 0 {
                let step = Int128(bracket.maintenanceMarginRateE8 - brackets[index - 1].maintenanceMarginRateE8)
                let product = Int128(brackets[index - 1].notionalCapMinor) * step
                amount += product >= 0 ? product / 100_000_000 : -Self.ceilDiv(-product, 100_000_000)
            }
            if value < Int128(bracket.notionalCapMinor) {
                chosen = index
                break
            }
        }
        let margin = Self.ceilDiv(value * Int128(brackets[chosen].maintenanceMarginRateE8), 100_000_000) - amount
        return max(0, margin)
    }

    /// Wallet − isolated margins + unrealized PnL of the cross positions in `asset`, and
    /// their maintenance margin.
    func crossEquity(_ account: AccountID, _ asset: AssetID, excluding: SymbolID? = nil) -> (equity: Int128, maintenance: Int128) {
        var equity = Int128(wallet(account, asset))
        var total = Int128(0)
        for spec in specs where spec.settleAsset == asset {
            let held = holding(account, spec.id)
            if held.isolated {
                equity -= Int128(held.margin)
            } else if held.size != 0 && spec.id != excluding {
                equity += unrealized(held, spec.id)
                total += maintenance(held, spec.id)
            }
        }
        return (equity, total)
    }

    func crossSymbolsOpen(_ account: AccountID, _ asset: AssetID) -> [SymbolID] {
        specs.filter { $0.settleAsset == asset && !holding(account, $0.id).isolated && holding(account, $0.id).size != 0 }.map(\.id)
    }

    func isDue(_ account: AccountID) -> Bool {
        for spec in specs {
            let held = holding(account, spec.id)
            if held.isolated && held.size != 0 && Int128(held.margin) + unrealized(held, spec.id) <= maintenance(held, spec.id) {
                return true
            }
        }
        for asset in 0..<assetScales.count where !crossSymbolsOpen(account, AssetID(asset)).isEmpty {
            let cross = crossEquity(account, AssetID(asset))
            if cross.equity <= cross.maintenance { return true }
        }
        return false
    }

    /// What an entry sets off, until nothing is left: the lowest account due for
    /// liquidation; else the lowest (account, symbol) whose reduce-only orders break the
    /// rule; else every due trigger of the lowest symbol that has one.
    mutating func settle() -> [Event] {
        var events: [Event] = []
        while true {
            if let account = accountOrder.first(where: { isDue($0) }) {
                events += liquidate(account)
            } else if let (account, symbol) = reduceOnlyBreach() {
                events += fixReduceOnly(account, symbol)
            } else if let spec = specs.first(where: { dueTrigger($0.id) != nil }) {
                events += fireTriggers(spec.id)
            } else {
                return events
            }
        }
    }

    mutating func cancelAll(_ account: AccountID, in symbol: SymbolID) -> [Event] {
        var events: [Event] = []
        for side in [Side.buy, .sell] {
            for order in bookSide(symbol, side) where order.account == account {
                orders.removeAll { $0.id == order.id }
                events.append(.orderCancelled(order.id, quantityUnits: order.open))
            }
        }
        for conditional in conditionals[symbol] ?? [] where conditional.order.account == account {
            events.append(.conditionalOrderCancelled(conditional.id))
        }
        conditionals[symbol]?.removeAll { $0.order.account == account }
        return events
    }

    mutating func liquidate(_ account: AccountID) -> [Event] {
        var events: [Event] = []
        for spec in specs {
            let held = holding(account, spec.id)
            guard held.isolated && held.size != 0 else { continue }
            let equity = Int128(held.margin) + unrealized(held, spec.id)
            let required = maintenance(held, spec.id)
            guard equity <= required else { continue }
            events.append(
                .liquidationTriggered(
                    account: account, asset: spec.settleAsset, isolatedSymbol: spec.id, marginBalanceMinor: Int64(clamping: equity),
                    maintenanceMinor: Int64(clamping: required)))
            events += cancelAll(account, in: spec.id)
            events += closeOut(account, spec.id)
        }
        var any = !events.isEmpty
        for asset in 0..<assetScales.count {
            let open = crossSymbolsOpen(account, AssetID(asset))
            if open.isEmpty { continue }
            let cross = crossEquity(account, AssetID(asset))
            guard cross.equity <= cross.maintenance else { continue }
            any = true
            events.append(
                .liquidationTriggered(
                    account: account, asset: AssetID(asset), isolatedSymbol: nil, marginBalanceMinor: Int64(clamping: cross.equity),
                    maintenanceMinor: Int64(clamping: cross.maintenance)))
            for spec in specs where spec.settleAsset == AssetID(asset) && !holding(account, spec.id).isolated {
                events += cancelAll(account, in: spec.id)
            }
            for symbol in open { events += closeOut(account, symbol) }
        }
        if any {
            for asset in 0..<assetScales.count where crossSymbolsOpen(account, AssetID(asset)).isEmpty {
                let left = crossEquity(account, AssetID(asset)).equity
                if left < 0 {
                    addWallet(account, AssetID(asset), Int64(-left))
                    addSystem("insurance", AssetID(asset), Int64(left))
                    events.append(.badDebtCovered(account: account, asset: AssetID(asset), amountMinor: Int64(-left)))
                }
            }
        }
        return events
    }

    /// The whole position out: IOC at the bankruptcy price, surplus to the fund, the rest
    /// to the fund or by ADL.
    mutating func closeOut(_ account: AccountID, _ symbol: SymbolID) -> [Event] {
        let spec = specs[Int(symbol)]
        let asset = spec.settleAsset
        let held = holding(account, symbol)
        let sell = held.size > 0
        let equity = held.isolated ? Int128(held.margin) : crossEquity(account, asset, excluding: symbol).equity
        // Bankruptcy: equity + size × P × factor − cost = 0, on the tick, toward the mark.
        var n = Int128(held.cost) - equity
        var d = Int128(held.size) * factor(symbol)
        if d < 0 { (n, d) = (-n, -d) }
        let tick = Int128(spec.tickSizePriceUnits)
        func floorDiv(_ a: Int128, _ b: Int128) -> Int128 { a >= 0 ? a / b : -Self.ceilDiv(-a, b) }
        var price = sell ? Self.ceilDiv(Self.ceilDiv(n, d), tick) * tick : floorDiv(floorDiv(n, d), tick) * tick
        price = min(max(price, tick), Int128(spec.maxPriceUnits) * 4)
        let bankruptcy = Int64(price)
        let quantity = abs(held.size)
        let id = nextOrder
        nextOrder += 1
        var events: [Event] = [
            .liquidationOrderPlaced(
                id, account: account, symbol: symbol, side: sell ? .sell : .buy, bankruptcyPriceUnits: bankruptcy, quantityUnits: quantity)
        ]
        var left = quantity
        var filledNotional = Int128(0)
        var surplus = Int128(0)
        for maker in bookSide(symbol, sell ? .buy : .sell) {
            if left == 0 || (sell ? maker.price < bankruptcy : maker.price > bankruptcy) || maker.account == account { break }
            let take = min(left, maker.open)
            let value = notional(symbol, maker.price, take)
            let makerFee = Int64(Self.ceilDiv(value * Int128(spec.makerFeeRateE8), 100_000_000))
            let makerPnl = fill(maker.account, symbol, buy: maker.side == .buy, take, maker.price, fee: makerFee)
            let takerPnl = fill(account, symbol, buy: !sell, take, maker.price, fee: 0)
            addWallet(maker.account, asset, makerPnl - makerFee)
            addWallet(account, asset, takerPnl)
            addSystem("fees", asset, makerFee)
            addSystem("clearing", asset, -makerPnl - takerPnl)
            let index = orders.firstIndex { $0.id == maker.id }!
            orders[index].open -= take
            if orders[index].open == 0 { orders.remove(at: index) }
            lastPrices[symbol] = maker.price
            follow(symbol, .contractPrice)
            events.append(
                .trade(
                    Trade(
                        tradeID: nextTrade, symbol: symbol, makerOrderID: maker.id, takerOrderID: id, makerAccount: maker.account,
                        takerAccount: account, takerSide: sell ? .sell : .buy, priceUnits: maker.price, quantityUnits: take,
                        makerFeeMinor: makerFee, takerFeeMinor: 0, makerRealizedPnlMinor: makerPnl, takerRealizedPnlMinor: takerPnl)))
            nextTrade += 1
            filledNotional += value
            surplus += (sell ? Int128(maker.price - bankruptcy) : Int128(bankruptcy - maker.price)) * Int128(take) * factor(symbol)
            left -= take
        }
        let fee = min(Self.ceilDiv(filledNotional * Int128(spec.liquidationFeeRateE8), 100_000_000), surplus)
        addWallet(account, asset, -Int64(surplus))
        addSystem("insurance", asset, Int64(surplus))
        if holding(account, symbol).isolated && holding(account, symbol).size != 0 {
            holdings[account]![symbol]!.margin -= Int64(surplus)
        }
        events.append(
            .liquidationSettled(
                account: account, symbol: symbol, filledQuantityUnits: quantity - left, feeMinor: Int64(fee),
                surplusMinor: Int64(surplus - fee)))
        if left == 0 { return events }
        let ranked = adlOrder(symbol, longsWanted: !sell, excluding: account)
        if ranked.isEmpty || fundCovers(symbol, buy: sell, price: bankruptcy, quantity: left) {
            let before = fund[symbol] ?? Holding()
            let (after, fundPnl) = Self.afterFill(before, buy: sell, quantity: left, price: bankruptcy, factor: factor(symbol))
            fund[symbol] = after
            let pnl = fill(account, symbol, buy: !sell, left, bankruptcy, fee: 0)
            addWallet(account, asset, pnl)
            addSystem("insurance", asset, fundPnl)
            addSystem("clearing", asset, -pnl - fundPnl)
            events.append(
                .insuranceTakeover(
                    account: account, symbol: symbol, side: sell ? .sell : .buy, priceUnits: bankruptcy, quantityUnits: left,
                    realizedPnlMinor: pnl, fundRealizedPnlMinor: fundPnl))
            return events
        }
        for other in ranked where left > 0 {
            events += cancelAll(other, in: symbol)
            let take = min(left, abs(holding(other, symbol).size))
            let pnl = fill(account, symbol, buy: !sell, take, bankruptcy, fee: 0)
            let otherPnl = fill(other, symbol, buy: sell, take, bankruptcy, fee: 0)
            addWallet(account, asset, pnl)
            addWallet(other, asset, otherPnl)
            addSystem("clearing", asset, -pnl - otherPnl)
            events.append(
                .autoDeleveraged(
                    account: account, counterparty: other, symbol: symbol, side: sell ? .sell : .buy, priceUnits: bankruptcy,
                    quantityUnits: take, realizedPnlMinor: pnl, counterpartyRealizedPnlMinor: otherPnl))
            left -= take
        }
        return events
    }

    /// The fund's equity in the asset after taking `quantity` at `price` stays ≥ 0.
    func fundCovers(_ symbol: SymbolID, buy: Bool, price: Int64, quantity: Int64) -> Bool {
        let asset = specs[Int(symbol)].settleAsset
        var equity = Int128(system["insurance"]?[asset] ?? 0)
        for spec in specs where spec.settleAsset == asset {
            var held = fund[spec.id] ?? Holding()
            if spec.id == symbol {
                let (after, pnl) = Self.afterFill(held, buy: buy, quantity: quantity, price: price, factor: factor(symbol))
                held = after
                equity += Int128(pnl)
            }
            equity += unrealized(held, spec.id)
        }
        return equity >= 0
    }

    /// Opposing positions, best ADL score first (then account order).
    func adlOrder(_ symbol: SymbolID, longsWanted: Bool, excluding: AccountID) -> [AccountID] {
        let limit = Int128(100_000_000_000_000)
        var scored: [(Int128, Int, AccountID)] = []
        for (position, account) in accountOrder.enumerated() where account != excluding {
            let held = holding(account, symbol)
            guard held.size != 0 && (held.size > 0) == longsWanted else { continue }
            let pnl = unrealized(held, symbol)
            let percent = min(max(pnl * 100_000_000 / max(1, Int128(abs(held.cost))), -limit), limit)
            let exposure = notional(symbol, marks[symbol] ?? 0, abs(held.size))
            let balance =
                held.isolated ? Int128(held.margin) + pnl : crossEquity(account, specs[Int(symbol)].settleAsset).equity
            let leverage = balance <= 0 ? limit : min(exposure * 100_000_000 / balance, limit)
            let score = pnl > 0 ? percent * leverage / 100_000_000 : percent * 100_000_000 / max(1, leverage)
            scored.append((score, position, account))
        }
        return scored.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }.map(\.2)
    }
}
