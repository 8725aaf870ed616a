/// Margin arithmetic (docs/RULES.md, "Margin"). Cross margin: every position settled in
/// an asset shares the account's wallet balance in that asset.
extension ExchangeState {
    /// The leverage in force for a position.
    @inlinable
    func effectiveLeverage(_ position: Position, symbol: SymbolID) -> Int64 {
        Int64(position.leverage == 0 ? symbols[Int(symbol)].defaultLeverage : position.leverage)
    }

    /// Unrealized PnL at the mark price: mark notional − entry cost.
    public func unrealizedPnlMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        let market = markets[Int(symbol)]
        return Int128(position.sizeQuantityUnits) * Int128(market.markPriceUnits) * Int128(market.notionalFactor)
            - Int128(position.costMinor)
    }

    /// Initial margin of a position: |mark notional| / leverage, rounded up.
    public func positionInitialMarginMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        let market = markets[Int(symbol)]
        let notional =
            Int128(position.sizeQuantityUnits.magnitude) * Int128(market.markPriceUnits)
            * Int128(market.notionalFactor)
        return FixedPoint.divideRoundingUp(notional, Int128(effectiveLeverage(position, symbol: symbol)))
    }

    /// Initial margin of open orders: each side's quantity beyond what would only close
    /// the position, valued pro rata at its limit prices, over leverage, rounded up; the
    /// larger side counts (both sides cannot open a position at once).
    public func orderInitialMarginMinor(_ position: Position, symbol: SymbolID) -> Int128 {
        let leverage = Int128(effectiveLeverage(position, symbol: symbol))
        func sideMargin(quantity: Int64, notional: Int64, closing: Int64) -> Int128 {
            let excess = quantity - min(quantity, max(0, closing))
            if excess == 0 { return 0 }
            return FixedPoint.divideRoundingUp(Int128(notional) * Int128(excess), Int128(quantity) * leverage)
        }
        let buy = sideMargin(
            quantity: position.openBuyQuantityUnits, notional: position.openBuyNotionalMinor,
            closing: -position.sizeQuantityUnits)
        let sell = sideMargin(
            quantity: position.openSellQuantityUnits, notional: position.openSellNotionalMinor,
            closing: position.sizeQuantityUnits)
        return max(buy, sell)
    }

    /// Available balance in `asset`: wallet + unrealized PnL − position margin − order
    /// margin over every symbol settled in `asset`. `replacing` evaluates a hypothetical
    /// position in one symbol and a change of the wallet (a margin check before a change).
    public func availableMinor(
        accountIndex: Int, asset: AssetID, replacing: (symbol: SymbolID, position: Position)? = nil,
        walletChangeMinor: Int64 = 0
    ) -> Int128 {
        let account = accounts[accountIndex]
        var total = Int128(account.balance(asset)) + Int128(walletChangeMinor)
        var symbolCount = account.positions.count
        if let replacing { symbolCount = max(symbolCount, Int(replacing.symbol) + 1) }
        for index in 0..<symbolCount where symbols[index].settleAsset == asset {
            let symbol = SymbolID(index)
            let position = replacing?.symbol == symbol ? replacing!.position : account.position(symbol)
            if position.sizeQuantityUnits == 0 && position.openBuyQuantityUnits == 0
                && position.openSellQuantityUnits == 0
            {
                continue
            }
            total += unrealizedPnlMinor(position, symbol: symbol)
            total -= positionInitialMarginMinor(position, symbol: symbol)
            total -= orderInitialMarginMinor(position, symbol: symbol)
        }
        return total
    }

    /// Available balance of an account by id (0 for an unknown account).
    public func availableMinor(account id: AccountID, asset: AssetID) -> Int128 {
        guard let index = accountIndexByID[id] else { return 0 }
        return availableMinor(accountIndex: Int(index), asset: asset)
    }

    /// What an account may withdraw in `asset`: the smaller of wallet and available.
    public func withdrawableMinor(_ id: AccountID, asset: AssetID) -> Int64 {
        guard let index = accountIndexByID[id] else { return 0 }
        let wallet = Int128(accounts[Int(index)].balance(asset))
        return Int64(max(0, min(wallet, availableMinor(accountIndex: Int(index), asset: asset))))
    }

    /// The margin rule for any change an account asks for: accepted when it leaves the
    /// available balance non-negative, or does not lower it.
    static func marginAllows(before: Int128, after: Int128) -> Bool {
        after >= 0 || after >= before
    }
}
