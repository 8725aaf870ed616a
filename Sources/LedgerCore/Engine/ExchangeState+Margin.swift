/// Margin arithmetic (docs/RULES.md, "Margin"). Cross margin: every position settled in
/// an asset shares the account's wallet balance in that asset.
extension ExchangeState {
    /// The leverage in force for a position.
    @inline(__always)
    func effectiveLeverage(_ position: Position, symbol: SymbolID) -> Int64 {
        Self.leverage(position, symbol: symbol, symbols)
    }

    /// A signed quantity valued at the mark, exact. (The market's fields are read in place:
    /// copying a whole `Market` or `SymbolSpec` on these paths costs more than the math.)
    @inline(__always)
    func markNotionalMinor(quantityUnits: Int64, symbol: SymbolID) -> Int128 {
        Self.markNotionalMinor(quantityUnits: quantityUnits, symbol: symbol, markets)
    }

    @inline(__always)
    static func markNotionalMinor(quantityUnits: Int64, symbol: SymbolID, _ markets: ContiguousArray<Market>) -> Int128 {
        FixedPoint.product(quantityUnits, markets[Int(symbol)].markPriceUnits, markets[Int(symbol)].notionalFactor)
    }

    /// A position's size valued at the mark, unsigned.
    @inline(__always)
    static func markExposureMinor(_ position: Position, symbol: SymbolID, _ markets: ContiguousArray<Market>) -> Int128 {
        Int128(markNotionalMinor(quantityUnits: position.sizeQuantityUnits, symbol: symbol, markets).magnitude)
    }

    /// Unrealized PnL at the mark price: mark notional − entry cost.
    @inline(__always)
    public func unrealizedPnlMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        Self.unrealizedPnlMinor(position, symbol: symbol, markets)
    }

    @inline(__always)
    static func unrealizedPnlMinor(_ position: Position, symbol: SymbolID, _ markets: ContiguousArray<Market>) -> Int128 {
        markNotionalMinor(quantityUnits: position.sizeQuantityUnits, symbol: symbol, markets) - Int128(position.costMinor)
    }

    /// Initial margin of a position: |mark notional| / leverage, rounded up.
    @inline(__always)
    public func positionInitialMarginMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        Self.positionInitialMarginMinor(position, symbol: symbol, symbols, markets)
    }

    @inline(__always)
    static func positionInitialMarginMinor(
        _ position: Position, symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>, _ markets: ContiguousArray<Market>
    ) -> Int128 {
        FixedPoint.divideRoundingUp(
            markExposureMinor(position, symbol: symbol, markets), Int128(leverage(position, symbol: symbol, symbols)))
    }

    /// The leverage in force for a position, from the symbol table alone.
    @inline(__always)
    static func leverage(_ position: Position, symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>) -> Int64 {
        Int64(position.leverage == 0 ? symbols[Int(symbol)].defaultLeverage : position.leverage)
    }

    /// Initial margin of open orders: each side's quantity beyond what would only close
    /// the position, valued pro rata at its limit prices, over leverage, rounded up; the
    /// larger side counts (both sides cannot open a position at once).
    @inline(__always)
    public func orderInitialMarginMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        Self.orderInitialMarginMinor(position, symbol: symbol, symbols)
    }

    @inline(__always)
    static func orderInitialMarginMinor(_ position: Position, symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>) -> Int128 {
        let leverage = Int128(leverage(position, symbol: symbol, symbols))
        func sideMargin(quantity: Int64, notional: Int64, closing: Int64) -> Int128 {
            let excess = quantity - min(quantity, max(0, closing))
            if excess == 0 { return 0 }
            return FixedPoint.divideRoundingUp(FixedPoint.product(notional, excess), FixedPoint.product(leverage, quantity))
        }
        let buy = sideMargin(
            quantity: position.openBuyQuantityUnits, notional: position.openBuyNotionalMinor,
            closing: -position.sizeQuantityUnits)
        let sell = sideMargin(
            quantity: position.openSellQuantityUnits, notional: position.openSellNotionalMinor,
            closing: position.sizeQuantityUnits)
        return max(buy, sell)
    }

    /// Available balance in `asset`: the cross wallet (wallet − isolated margins) + Σ cross
    /// (unrealized PnL − position margin) − Σ order margin, over every symbol settled in
    /// `asset`. `replacing` evaluates a hypothetical position in one symbol and a change of
    /// the wallet (a margin check before a change).
    @inline(__always)
    public func availableMinor(
        accountIndex: Int, asset: AssetID, replacing: (symbol: SymbolID, position: Position)? = nil,
        walletChangeMinor: Int64 = 0
    ) -> Int128 {
        Self.availableMinor(
            accountIndex: accountIndex, asset: asset, replacing: replacing, walletChangeMinor: walletChangeMinor, ledger.accounts, symbols,
            markets)
    }

    /// The same over the three tables it reads (its local function, capturing the state,
    /// was passed a copy of all of it for every position).
    ///
    /// `lowerBound`: a bound at or below the balance, without a division. Each margin
    /// ⌈x / leverage⌉ is taken as ⌈x / 2^k⌉ with 2^k the largest power of two at or below
    /// the leverage (a shift), and an order side's margin as its whole notional's (it is
    /// never more). When the bound is non-negative the balance is too, so a margin check
    /// (`marginAllows`) needs the exact balance only for an account near its limit.
    static func availableMinor(
        accountIndex: Int, asset: AssetID, replacing: (symbol: SymbolID, position: Position)?, walletChangeMinor: Int64,
        lowerBound: Bool = false, _ accounts: ContiguousArray<Account>, _ symbols: ContiguousArray<SymbolSpec>,
        _ markets: ContiguousArray<Market>
    ) -> Int128 {
        // The account's fields are read in one chain each: an account bound to a name is a
        // copy, which retained and released its arrays on every order.
        var total = Int128(accounts[accountIndex].balance(asset)) + Int128(walletChangeMinor)
        // A sum: the order of the positions does not matter. The slots are read in place by
        // index; a local function adding into `total` from a closure made `total` a box
        // with a dynamic exclusivity check on every access.
        var replaced = false
        for slotIndex in 0..<accounts[accountIndex].positions.count {
            let slot = accounts[accountIndex].positions[slotAt: slotIndex]
            guard symbols[Int(slot.symbol)].settleAsset == asset else { continue }
            if let replacing, replacing.symbol == slot.symbol {
                replaced = true
                total += availableChangeMinor(replacing.position, slot.symbol, symbols, markets, lowerBound: lowerBound)
            } else {
                total += availableChangeMinor(slot.position, slot.symbol, symbols, markets, lowerBound: lowerBound)
            }
        }
        if let replacing, !replaced, symbols[Int(replacing.symbol)].settleAsset == asset {
            total += availableChangeMinor(replacing.position, replacing.symbol, symbols, markets, lowerBound: lowerBound)
        }
        return total
    }

    /// What one position adds to its asset's available balance: unrealized PnL less
    /// position margin (cross) or less its isolated margin, less its orders' margin.
    /// `lowerBound`: at most that, each margin bounded as `availableMinor` says of `lowerBound`.
    @inline(__always)
    static func availableChangeMinor(
        _ position: Position, _ symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>, _ markets: ContiguousArray<Market>,
        lowerBound: Bool = false
    ) -> Int128 {
        if position.sizeQuantityUnits == 0 && position.openBuyQuantityUnits == 0 && position.openSellQuantityUnits == 0
            && position.isolatedMarginMinor == 0
        {
            return 0
        }
        if lowerBound { return availableChangeLowerBoundMinor(position, symbol, symbols, markets) }
        var change: Int128
        if position.isIsolated {
            change = -Int128(position.isolatedMarginMinor)
        } else {
            change = unrealizedPnlMinor(position, symbol: symbol, markets)
            change -= positionInitialMarginMinor(position, symbol: symbol, symbols, markets)
        }
        return change - orderInitialMarginMinor(position, symbol: symbol, symbols)
    }

    /// `availableChangeMinor` or less, with shifts for divisions.
    @inline(__always)
    private static func availableChangeLowerBoundMinor(
        _ position: Position, _ symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>, _ markets: ContiguousArray<Market>
    ) -> Int128 {
        let leverage = leverage(position, symbol: symbol, symbols)
        precondition(leverage > 0, "leverage must be positive")
        // 2^shift ≤ leverage: ⌈x / 2^shift⌉ ≥ ⌈x / leverage⌉ for every x ≥ 0.
        let shift = Int64.bitWidth - 1 - leverage.leadingZeroBitCount
        @inline(__always) func marginBound(_ amount: Int128) -> Int128 {
            -((-amount) >> shift)  // ⌈amount / 2^shift⌉: an arithmetic shift rounds toward −∞
        }
        var change: Int128
        if position.isIsolated {
            change = -Int128(position.isolatedMarginMinor)
        } else {
            change = unrealizedPnlMinor(position, symbol: symbol, markets)
            change -= marginBound(markExposureMinor(position, symbol: symbol, markets))
        }
        // A side's margin is its notional × excess / quantity over leverage, with excess ≤
        // quantity: the whole notional bounds it (none when nothing is in excess).
        // (A notional below zero, which valid prices never give, would make a margin of at
        // most zero.)
        @inline(__always) func sideBound(quantity: Int64, notional: Int64, closing: Int64) -> Int128 {
            if quantity == 0 || quantity <= closing || notional <= 0 { return 0 }
            return marginBound(Int128(notional))
        }
        let buy = sideBound(
            quantity: position.openBuyQuantityUnits, notional: position.openBuyNotionalMinor, closing: -position.sizeQuantityUnits)
        let sell = sideBound(
            quantity: position.openSellQuantityUnits, notional: position.openSellNotionalMinor, closing: position.sizeQuantityUnits)
        return change - max(buy, sell)
    }

    /// Available balance of an account by id (0 for an unknown account).
    public func availableMinor(account id: AccountID, asset: AssetID) -> Int128 {
        guard let index = ledger.accountIndexByID[id] else { return 0 }
        return availableMinor(accountIndex: Int(index), asset: asset)
    }

    /// What an account may withdraw in `asset`: the smaller of wallet and available.
    public func withdrawableMinor(_ id: AccountID, asset: AssetID) -> Int64 {
        guard let index = ledger.accountIndexByID[id] else { return 0 }
        let wallet = Int128(ledger.accounts[Int(index)].balance(asset))
        return Int64(max(0, min(wallet, availableMinor(accountIndex: Int(index), asset: asset))))
    }

    /// The margin rule for any change an account asks for: accepted when it leaves the
    /// available balance of `asset` non-negative, or does not lower it. The change is the
    /// position `replacing` gives and a change of the wallet. The bound without divisions
    /// (`availableMinor`'s `lowerBound`) decides for most accounts; the exact balance with
    /// the change is computed only when the bound is negative, and the balance without it
    /// only when that is negative too.
    @inline(__always)
    func marginAllows(
        accountIndex: Int, asset: AssetID, replacing: (symbol: SymbolID, position: Position), walletChangeMinor: Int64 = 0
    ) -> Bool {
        if Self.availableMinor(
            accountIndex: accountIndex, asset: asset, replacing: replacing, walletChangeMinor: walletChangeMinor, lowerBound: true,
            ledger.accounts, symbols, markets) >= 0
        {
            return true
        }
        let after = availableMinor(accountIndex: accountIndex, asset: asset, replacing: replacing, walletChangeMinor: walletChangeMinor)
        return after >= 0 || after >= availableMinor(accountIndex: accountIndex, asset: asset)
    }

    /// Maintenance margin of a position at mark: notional × MMR of its bracket, rounded up,
    /// minus the bracket's maintenance amount.
    @inline(__always)
    public func maintenanceMarginMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        Self.maintenanceMarginMinor(position, symbol: symbol, symbols, markets)
    }

    @inline(__always)
    static func maintenanceMarginMinor(
        _ position: Position, symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>, _ markets: ContiguousArray<Market>
    ) -> Int128 {
        maintenanceMarginMinor(
            notionalMinor: markExposureMinor(position, symbol: symbol, markets), brackets: symbols[Int(symbol)].brackets,
            amounts: markets[Int(symbol)].maintenanceAmountsMinor)
    }

    /// Maintenance margin of an unsigned notional: Binance's notional × MMR − maintenance
    /// amount, with the product rounded toward +∞.
    @inlinable
    public static func maintenanceMarginMinor(notionalMinor: Int128, spec: SymbolSpec, amounts: [Int64]) -> Int128 {
        maintenanceMarginMinor(notionalMinor: notionalMinor, brackets: spec.brackets, amounts: amounts)
    }

    /// The same, given the symbol's brackets alone (no copy of the whole spec).
    @inlinable
    static func maintenanceMarginMinor(notionalMinor: Int128, brackets: [MarginBracket], amounts: [Int64]) -> Int128 {
        if notionalMinor == 0 { return 0 }
        let bracket = MarginBracket.index(in: brackets, notionalMinor: notionalMinor)
        let margin =
            FixedPoint.divideByRateScaleRoundingUp(FixedPoint.product(notionalMinor, brackets[bracket].maintenanceMarginRateE8))
            - Int128(amounts[bracket])
        return max(0, margin)
    }

    /// The part of a position's account that margins it, as seen at mark: for an isolated
    /// position its margin balance (isolated margin + unrealized PnL) and maintenance
    /// margin; for a cross position the account's cross margin balance (cross wallet + Σ
    /// cross unrealized PnL) and the Σ of cross maintenance margins in the asset.
    @inline(__always)
    public func marginHealth(accountIndex: Int, symbol: SymbolID) -> (marginBalanceMinor: Int128, maintenanceMinor: Int128) {
        Self.marginHealth(accountIndex: accountIndex, symbol: symbol, ledger.accounts, symbols, markets)
    }

    /// The same over the three tables it reads: called from a mutating method, a method
    /// of the state would be passed a copy of the whole state (1 KB) at every call; these
    /// take three references.
    static func marginHealth(
        accountIndex: Int, symbol: SymbolID, _ accounts: ContiguousArray<Account>, _ symbols: ContiguousArray<SymbolSpec>,
        _ markets: ContiguousArray<Market>
    ) -> (marginBalanceMinor: Int128, maintenanceMinor: Int128) {
        let position = accounts[accountIndex].position(symbol)
        if position.isIsolated {
            let (pnl, maintenance) = pnlAndMaintenanceMinor(position, symbol: symbol, symbols, markets)
            return (Int128(position.isolatedMarginMinor) + pnl, maintenance)
        }
        return crossHealth(accountIndex: accountIndex, asset: symbols[Int(symbol)].settleAsset, accounts, symbols, markets)
    }

    /// Cross margin balance and cross maintenance margin of an account in one asset.
    @inline(__always)
    public func crossHealth(accountIndex: Int, asset: AssetID) -> (marginBalanceMinor: Int128, maintenanceMinor: Int128) {
        Self.crossHealth(accountIndex: accountIndex, asset: asset, ledger.accounts, symbols, markets)
    }

    static func crossHealth(
        accountIndex: Int, asset: AssetID, _ accounts: ContiguousArray<Account>, _ symbols: ContiguousArray<SymbolSpec>,
        _ markets: ContiguousArray<Market>
    ) -> (marginBalanceMinor: Int128, maintenanceMinor: Int128) {
        var balance = Int128(accounts[accountIndex].balance(asset))
        var maintenance = Int128(0)
        for slotIndex in 0..<accounts[accountIndex].positions.count {
            let slot = accounts[accountIndex].positions[slotAt: slotIndex]
            guard symbols[Int(slot.symbol)].settleAsset == asset else { continue }
            if slot.position.isIsolated {
                balance -= Int128(slot.position.isolatedMarginMinor)
            } else if slot.position.sizeQuantityUnits != 0 {
                let (pnl, positionMaintenance) = pnlAndMaintenanceMinor(slot.position, symbol: slot.symbol, symbols, markets)
                balance += pnl
                maintenance += positionMaintenance
            }
        }
        return (balance, maintenance)
    }

    /// A position's unrealized PnL and maintenance margin at mark, from one valuation of it
    /// (each taken apart valued the position again).
    @inline(__always)
    static func pnlAndMaintenanceMinor(
        _ position: Position, symbol: SymbolID, _ symbols: ContiguousArray<SymbolSpec>, _ markets: ContiguousArray<Market>
    ) -> (pnl: Int128, maintenance: Int128) {
        let notional = markNotionalMinor(quantityUnits: position.sizeQuantityUnits, symbol: symbol, markets)
        let maintenance = maintenanceMarginMinor(
            notionalMinor: Int128(notional.magnitude), brackets: symbols[Int(symbol)].brackets,
            amounts: markets[Int(symbol)].maintenanceAmountsMinor)
        return (notional - Int128(position.costMinor), maintenance)
    }

    /// True when the leverage is within what the bracket of the position's exposure (size
    /// plus the larger side of open orders, at mark) allows.
    @inline(__always)
    func bracketAllows(_ position: Position, symbol: SymbolID, leverage: Int64) -> Bool {
        let exposure = abs(position.sizeQuantityUnits) + max(position.openBuyQuantityUnits, position.openSellQuantityUnits)
        let notional = markNotionalMinor(quantityUnits: exposure, symbol: symbol)
        let brackets = symbols[Int(symbol)].brackets
        return leverage <= Int64(brackets[MarginBracket.index(in: brackets, notionalMinor: notional)].maxLeverage)
    }

    /// Binance's estimated liquidation price of a position (one-way mode), in price units:
    /// the price P at which margin balance = maintenance margin with every other position
    /// held at mark,
    ///
    ///     P = (WB − TMM₁ + UPNL₁ + cum_b − cost) / (|size| × f × MMR_b − size × f)
    ///
    /// with WB the isolated margin (isolated) or cross wallet (cross), TMM₁ and UPNL₁ the
    /// maintenance margin and unrealized PnL of the account's other cross positions in the
    /// asset (0 when isolated), f the notional factor and cost the signed entry cost. Each
    /// bracket b is tried in turn and the first whose notional range holds |size| × P × f
    /// is taken (else the bracket at mark). Rounded toward the mark (up for a long, down
    /// for a short); nil without a position or when P ≤ 0.
    public func estimatedLiquidationPriceUnits(account id: AccountID, symbol: SymbolID) -> Int64? {
        guard let index = ledger.accountIndexByID[id] else { return nil }
        let account = ledger.accounts[Int(index)]
        let position = account.position(symbol)
        let size = Int128(position.sizeQuantityUnits)
        guard size != 0 else { return nil }
        let spec = symbols[Int(symbol)]
        let market = markets[Int(symbol)]
        var wallet: Int128
        var others = Int128(0)
        if position.isIsolated {
            wallet = Int128(position.isolatedMarginMinor)
        } else {
            let cross = crossHealth(accountIndex: Int(index), asset: spec.settleAsset)
            wallet = cross.marginBalanceMinor - unrealizedPnlMinor(position, symbol: symbol)
            others = maintenanceMarginMinor(position, symbol: symbol) - cross.maintenanceMinor
        }
        let factor = Int128(market.notionalFactor)
        let scale = Int128(FixedPoint.rateScale)
        func price(bracket: Int) -> Int128? {
            let numerator = (wallet + others + Int128(market.maintenanceAmountsMinor[bracket]) - Int128(position.costMinor)) * scale
            let denominator =
                Int128(size.magnitude) * factor * Int128(spec.brackets[bracket].maintenanceMarginRateE8) - size * factor * scale
            if denominator == 0 { return nil }
            let (n, d) = denominator < 0 ? (-numerator, -denominator) : (numerator, denominator)
            return size > 0 ? FixedPoint.divideRoundingUp(n, d) : FixedPoint.divideRoundingDown(n, d)
        }
        var chosen: Int128? = nil
        for bracket in spec.brackets.indices {
            guard let candidate = price(bracket: bracket), candidate > 0, candidate < Int128(1) << 62 else { continue }
            if spec.bracketIndex(notionalMinor: Int128(size.magnitude) * candidate * factor) == bracket {
                chosen = candidate
                break
            }
        }
        if chosen == nil {
            let atMark = Int128(size.magnitude) * Int128(market.markPriceUnits) * factor
            chosen = price(bracket: spec.bracketIndex(notionalMinor: atMark))
        }
        // On the tick grid, toward the mark (up for a long, down for a short): it warns early,
        // and a price off the grid could never trade.
        guard let exact = chosen, exact > 0 else { return nil }
        let tick = Int128(spec.tickSizePriceUnits)
        let result = size > 0 ? FixedPoint.divideRoundingUp(exact, tick) * tick : exact / tick * tick
        guard result > 0, result < Int128(Int64.max) else { return nil }
        return Int64(result)
    }
}
