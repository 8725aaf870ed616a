import LedgerCore

/// JSON views of the state for the HTTP API, rendered by the state follower on its copy
/// of the state (docs/OPERATIONS.md, "State queries and reads"), never on the engine thread.
enum Views {
    static func exchangeInfo(_ catalog: ExchangeCatalog) -> String {
        JSON.text([
            "assets": catalog.assets.map { ["asset": $0.name, "scale": Int($0.scale)] as [String: Any] },
            "symbols": catalog.symbols.map { spec -> [String: Any] in
                let settle = catalog.assets[Int(spec.settleAsset)]
                return [
                    "symbol": spec.name, "settleAsset": settle.name, "contractType": "PERPETUAL",
                    "pricePrecision": Int(spec.priceScale), "quantityPrecision": Int(spec.quantityScale),
                    "tickSize": DecimalText.format(spec.tickSizePriceUnits, scale: Int(spec.priceScale)),
                    "stepSize": DecimalText.format(spec.lotSizeQuantityUnits, scale: Int(spec.quantityScale)),
                    "minNotional": DecimalText.format(spec.minNotionalMinor, scale: Int(settle.scale)),
                    "maxLeverage": Int(spec.maxLeverage),
                    "makerFeeRate": DecimalText.format(spec.makerFeeRateE8, scale: 8),
                    "takerFeeRate": DecimalText.format(spec.takerFeeRateE8, scale: 8),
                ]
            },
        ])
    }

    /// The account's balances and positions; an account that never received money is
    /// 404 (it used to be a 200 with a NOT_FOUND body).
    static func account(_ state: borrowing ExchangeState, _ id: AccountID) -> EngineResponse {
        guard let index = state.accountIndex(of: id) else { return .error(.notFound, "no account \(id)") }
        let account = state.accounts[index]
        var balances: [[String: Any]] = []
        for asset in state.assets where account.balance(asset.id) != 0 || asset.id == 0 {
            let scale = Int(asset.scale)
            let cross = state.crossHealth(accountIndex: index, asset: asset.id)
            balances.append([
                "asset": asset.name,
                "walletBalance": DecimalText.format(account.balance(asset.id), scale: scale),
                "availableBalance": DecimalText.format(state.availableMinor(account: id, asset: asset.id), scale: scale),
                "maxWithdrawAmount": DecimalText.format(state.withdrawableMinor(id, asset: asset.id), scale: scale),
                "crossMarginBalance": DecimalText.format(cross.marginBalanceMinor, scale: scale),
                "crossMaintMargin": DecimalText.format(cross.maintenanceMinor, scale: scale),
                // Maintenance / margin balance, 4 places rounded up, against the user like
                // every risk figure (docs/RULES.md); "0" with nothing to maintain.
                "crossMarginRatio": cross.maintenanceMinor == 0 || cross.marginBalanceMinor <= 0
                    ? (cross.maintenanceMinor == 0 ? "0" : "1.0000")
                    : DecimalText.format(
                        FixedPoint.divideRoundingUp(Int128(cross.maintenanceMinor) * 10_000, Int128(cross.marginBalanceMinor)), scale: 4),
            ])
        }
        var positions: [[String: Any]] = []
        for spec in state.symbols {
            let position = account.position(spec.id)
            if position.sizeQuantityUnits == 0 && position.openBuyQuantityUnits == 0 && position.openSellQuantityUnits == 0 {
                continue
            }
            positions.append(positionObject(state, id, spec))
        }
        return .view(JSON.text(["account": Int(id), "assets": balances, "positions": positions, "sequence": Int(state.lastSequence)]))
    }

    /// One position as `account` shows it.
    static func positionObject(_ state: borrowing ExchangeState, _ id: AccountID, _ spec: SymbolSpec) -> [String: Any] {
        let position = state.accountIndex(of: id).map { state.accounts[$0].position(spec.id) } ?? Position()
        let settleScale = Int(state.assets[Int(spec.settleAsset)].scale)
        let market = state.markets[Int(spec.id)]
        var entry: [String: Any] = [
            "symbol": spec.name,
            "positionAmt": DecimalText.format(position.sizeQuantityUnits, scale: Int(spec.quantityScale)),
            "markPrice": DecimalText.format(market.markPriceUnits, scale: Int(spec.priceScale)),
            "unRealizedProfit": DecimalText.format(state.unrealizedPnlMinor(position, symbol: spec.id), scale: settleScale),
            "initialMargin": DecimalText.format(state.positionInitialMarginMinor(position, symbol: spec.id), scale: settleScale),
            "openOrderInitialMargin": DecimalText.format(state.orderInitialMarginMinor(position, symbol: spec.id), scale: settleScale),
            "leverage": Int(position.leverage == 0 ? spec.defaultLeverage : position.leverage),
            "entryCost": DecimalText.format(position.costMinor, scale: settleScale),
            "marginType": position.isIsolated ? "isolated" : "cross",
            "isolatedMargin": DecimalText.format(position.isolatedMarginMinor, scale: settleScale),
            "maintMargin": DecimalText.format(state.maintenanceMarginMinor(position, symbol: spec.id), scale: settleScale),
            "liquidationPrice": state.estimatedLiquidationPriceUnits(account: id, symbol: spec.id).map {
                DecimalText.format($0, scale: Int(spec.priceScale))
            } ?? "0",
        ]
        if position.sizeQuantityUnits != 0 {
            // Display only: cost / (size × factor), 4 places finer than the tick.
            let finer = Int128(10_000)
            let price = Int128(position.costMinor) * finer / (Int128(position.sizeQuantityUnits) * Int128(market.notionalFactor))
            entry["entryPrice"] = DecimalText.format(price, scale: Int(spec.priceScale) + 4)
        }
        return entry
    }

    /// Binance's premiumIndex for one symbol, or for every symbol (an array) without one.
    static func premiumIndex(_ state: borrowing ExchangeState, _ symbol: SymbolID?) -> String {
        if let symbol { return JSON.text(premiumIndexObject(state, symbol)) }
        return JSON.text((0..<state.symbols.count).map { premiumIndexObject(state, SymbolID($0)) })
    }

    /// Binance's ticker/price: the last trade price ("0" before the first trade) and the
    /// state's time (ms), for one symbol or every symbol.
    static func tickerPrice(_ state: borrowing ExchangeState, _ symbol: SymbolID?) -> String {
        let time = Int(state.lastTimeNanos / 1_000_000)
        func object(_ id: Int) -> [String: Any] {
            let spec = state.symbols[id]
            return [
                "symbol": spec.name, "price": DecimalText.format(state.markets[id].lastPriceUnits, scale: Int(spec.priceScale)),
                "time": time,
            ]
        }
        if let symbol { return JSON.text(object(Int(symbol))) }
        return JSON.text((0..<state.symbols.count).map(object))
    }

    /// Binance's premiumIndex: mark, index, last and next funding.
    static func premiumIndexObject(_ state: borrowing ExchangeState, _ symbol: SymbolID) -> [String: Any] {
        let spec = state.symbols[Int(symbol)]
        let market = state.markets[Int(symbol)]
        let funding = state.funding.bySymbol[Int(symbol)]
        return [
            "symbol": spec.name,
            "markPrice": DecimalText.format(market.markPriceUnits, scale: Int(spec.priceScale)),
            "indexPrice": DecimalText.format(market.indexPriceUnits, scale: Int(spec.priceScale)),
            "lastFundingRate": DecimalText.format(funding.lastFundingRateE8, scale: 8),
            "estimatedFundingRate": DecimalText.format(spec.fundingIntervalSeconds > 0 ? state.fundingRateE8(symbol) : 0, scale: 8),
            "nextFundingTime": Int(funding.nextFundingTimeNanos / 1_000_000),
            "premiumSamples": Int(funding.premiumSampleCount),
            "time": Int(state.lastTimeNanos / 1_000_000),
        ]
    }

    /// Binance's leverageBracket: floor, cap, maintenance ratio, leverage and cum per bracket.
    static func leverageBracket(_ state: borrowing ExchangeState, _ symbol: SymbolID) -> String {
        let spec = state.symbols[Int(symbol)]
        let scale = Int(state.assets[Int(spec.settleAsset)].scale)
        let amounts = state.markets[Int(symbol)].maintenanceAmountsMinor
        let brackets = spec.brackets.enumerated().map { index, bracket -> [String: Any] in
            [
                "bracket": index + 1, "initialLeverage": Int(bracket.maxLeverage),
                "notionalFloor": DecimalText.format(index == 0 ? 0 : spec.brackets[index - 1].notionalCapMinor, scale: scale),
                "notionalCap": DecimalText.format(bracket.notionalCapMinor, scale: scale),
                "maintMarginRatio": DecimalText.format(bracket.maintenanceMarginRateE8, scale: 8),
                "cum": DecimalText.format(amounts[index], scale: scale),
            ]
        }
        return JSON.text(["symbol": spec.name, "brackets": brackets])
    }

    /// The insurance fund: its balance per asset, and the positions it took over from
    /// liquidations (size, cost, mark, unrealized PnL), one per symbol where it holds one.
    static func insuranceFund(_ state: borrowing ExchangeState) -> String {
        let assets = state.assets.map { asset -> [String: Any] in
            [
                "asset": asset.name,
                "balance": DecimalText.format(state.systemBalance(.insuranceFund, asset: asset.id), scale: Int(asset.scale)),
            ]
        }
        var positions: [[String: Any]] = []
        for (index, position) in state.ledger.insurancePositions.enumerated()
        where position.sizeQuantityUnits != 0 && index < state.symbols.count {
            let spec = state.symbols[index]
            let settleScale = Int(state.assets[Int(spec.settleAsset)].scale)
            positions.append([
                "symbol": spec.name,
                "positionAmt": DecimalText.format(position.sizeQuantityUnits, scale: Int(spec.quantityScale)),
                "entryCost": DecimalText.format(position.costMinor, scale: settleScale),
                "markPrice": DecimalText.format(state.markets[index].markPriceUnits, scale: Int(spec.priceScale)),
                "unRealizedProfit": DecimalText.format(state.unrealizedPnlMinor(position, symbol: spec.id), scale: settleScale),
            ])
        }
        return JSON.text(["assets": assets, "positions": positions, "sequence": Int(state.lastSequence)])
    }

    static func depth(_ state: borrowing ExchangeState, _ symbol: SymbolID, limit: Int) -> String {
        let spec = state.symbols[Int(symbol)]
        let book = state.books.bySymbol[Int(symbol)]
        func side(_ side: Side) -> [[String]] {
            book.levels(side).prefix(limit).map {
                [
                    DecimalText.format($0.priceUnits, scale: Int(spec.priceScale)),
                    DecimalText.format($0.quantityUnits, scale: Int(spec.quantityScale)),
                ]
            }
        }
        return JSON.text(["symbol": spec.name, "lastUpdateId": Int(state.lastSequence), "bids": side(.buy), "asks": side(.sell)])
    }

    static func event(_ event: Event, _ catalog: ExchangeCatalog) -> [String: Any] {
        func price(_ symbol: SymbolID, _ units: Int64) -> String {
            DecimalText.format(units, scale: Int(catalog.symbols[Int(symbol)].priceScale))
        }
        func quantity(_ symbol: SymbolID, _ units: Int64) -> String {
            DecimalText.format(units, scale: Int(catalog.symbols[Int(symbol)].quantityScale))
        }
        func money(_ symbol: SymbolID, _ minor: Int64) -> String {
            DecimalText.format(minor, scale: Int(catalog.assets[Int(catalog.symbols[Int(symbol)].settleAsset)].scale))
        }
        func amount(_ asset: AssetID, _ minor: Int64) -> String {
            DecimalText.format(minor, scale: Int(catalog.assets[Int(asset)].scale))
        }
        switch event {
        case .assetListed(let id): return ["type": "ASSET_LISTED", "assetId": Int(id)]
        case .symbolListed(let id): return ["type": "SYMBOL_LISTED", "symbolId": Int(id)]
        case .deposited(let account, let asset, let value):
            return ["type": "DEPOSITED", "account": Int(account), "asset": catalog.assets[Int(asset)].name, "amount": amount(asset, value)]
        case .withdrawn(let account, let asset, let value):
            return ["type": "WITHDRAWN", "account": Int(account), "asset": catalog.assets[Int(asset)].name, "amount": amount(asset, value)]
        case .transferReplayed(let original): return ["type": "TRANSFER_REPLAYED", "originalSequence": Int(original)]
        case .leverageSet(let account, let symbol, let leverage):
            return [
                "type": "LEVERAGE_SET", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name, "leverage": Int(leverage),
            ]
        case .markPriceSet(let symbol, let units):
            return ["type": "MARK_PRICE_SET", "symbol": catalog.symbols[Int(symbol)].name, "markPrice": price(symbol, units)]
        case .orderAccepted(let id): return ["type": "ORDER_ACCEPTED", "orderId": Int(id)]
        case .trade(let trade):
            let s = trade.symbol
            return [
                "type": "TRADE", "tradeId": Int(trade.tradeID), "symbol": catalog.symbols[Int(s)].name,
                "makerOrderId": Int(trade.makerOrderID), "takerOrderId": Int(trade.takerOrderID),
                "makerAccount": Int(trade.makerAccount), "takerAccount": Int(trade.takerAccount),
                "side": trade.takerSide == .buy ? "BUY" : "SELL", "price": price(s, trade.priceUnits),
                "qty": quantity(s, trade.quantityUnits), "makerFee": money(s, trade.makerFeeMinor),
                "takerFee": money(s, trade.takerFeeMinor), "makerRealizedPnl": money(s, trade.makerRealizedPnlMinor),
                "takerRealizedPnl": money(s, trade.takerRealizedPnlMinor),
            ]
        case .orderRested(let id, let units): return ["type": "ORDER_RESTED", "orderId": Int(id), "openQtyUnits": Int(units)]
        case .orderExpired(let id, let units, let reason):
            return ["type": "ORDER_EXPIRED", "orderId": Int(id), "qtyUnits": Int(units), "reason": "\(reason)"]
        case .orderCancelled(let id, let units): return ["type": "ORDER_CANCELLED", "orderId": Int(id), "qtyUnits": Int(units)]
        case .rejected(let reason, let detail):
            return ["type": "REJECTED", "reason": reason.name, "code": Int(reason.rawValue), "detail": Int(detail)]
        case .indexPriceSet(let symbol, let units):
            return ["type": "INDEX_PRICE_SET", "symbol": catalog.symbols[Int(symbol)].name, "indexPrice": price(symbol, units)]
        case .fundingRateSet(let symbol, let rate):
            return [
                "type": "FUNDING_RATE_SET", "symbol": catalog.symbols[Int(symbol)].name, "fundingRate": DecimalText.format(rate, scale: 8),
            ]
        case .premiumSampled(let symbol, let premium):
            return [
                "type": "PREMIUM_SAMPLED", "symbol": catalog.symbols[Int(symbol)].name, "premium": DecimalText.format(premium, scale: 8),
            ]
        case .fundingSettled(let symbol, let rate, let mark):
            return [
                "type": "FUNDING_SETTLED", "symbol": catalog.symbols[Int(symbol)].name, "fundingRate": DecimalText.format(rate, scale: 8),
                "markPrice": price(symbol, mark),
            ]
        case .fundingPaid(let account, let symbol, let value):
            return [
                "type": "FUNDING_PAID", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name,
                "amount": money(symbol, value),
            ]
        case .marginModeSet(let account, let symbol, let isolated):
            return [
                "type": "MARGIN_MODE_SET", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name,
                "marginType": isolated ? "ISOLATED" : "CROSSED",
            ]
        case .isolatedMarginAdjusted(let account, let symbol, let value):
            return [
                "type": "ISOLATED_MARGIN_ADJUSTED", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name,
                "amount": money(symbol, value),
            ]
        case .insuranceFundDeposited(let asset, let value):
            return ["type": "INSURANCE_FUND_DEPOSITED", "asset": catalog.assets[Int(asset)].name, "amount": amount(asset, value)]
        case .liquidationTriggered(let account, let asset, let isolated, let balance, let maintenance):
            var body: [String: Any] = [
                "type": "LIQUIDATION_TRIGGERED", "account": Int(account), "asset": catalog.assets[Int(asset)].name,
                "marginBalance": amount(asset, balance), "maintMargin": amount(asset, maintenance),
            ]
            if let isolated { body["isolatedSymbol"] = catalog.symbols[Int(isolated)].name }
            return body
        case .liquidationOrderPlaced(let id, let account, let symbol, let side, let units, let qty):
            return [
                "type": "LIQUIDATION_ORDER_PLACED", "orderId": Int(id), "account": Int(account),
                "symbol": catalog.symbols[Int(symbol)].name,
                "side": side == .buy ? "BUY" : "SELL", "bankruptcyPrice": price(symbol, units), "qty": quantity(symbol, qty),
            ]
        case .liquidationSettled(let account, let symbol, let filled, let fee, let surplus):
            return [
                "type": "LIQUIDATION_SETTLED", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name,
                "filledQty": quantity(symbol, filled), "liquidationFee": money(symbol, fee), "surplus": money(symbol, surplus),
            ]
        case .insuranceTakeover(let account, let symbol, let side, let units, let qty, let pnl, let fundPnl):
            return [
                "type": "INSURANCE_TAKEOVER", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name,
                "side": side == .buy ? "BUY" : "SELL", "price": price(symbol, units), "qty": quantity(symbol, qty),
                "realizedPnl": money(symbol, pnl), "fundRealizedPnl": money(symbol, fundPnl),
            ]
        case .autoDeleveraged(let account, let counterparty, let symbol, let side, let units, let qty, let pnl, let otherPnl):
            return [
                "type": "AUTO_DELEVERAGED", "account": Int(account), "counterparty": Int(counterparty),
                "symbol": catalog.symbols[Int(symbol)].name, "side": side == .buy ? "BUY" : "SELL", "price": price(symbol, units),
                "qty": quantity(symbol, qty), "realizedPnl": money(symbol, pnl), "counterpartyRealizedPnl": money(symbol, otherPnl),
            ]
        case .conditionalOrderPlaced(let id): return ["type": "CONDITIONAL_ORDER_PLACED", "orderId": Int(id)]
        case .idempotencyWindowSet(let window):
            return [
                "type": "IDEMPOTENCY_WINDOW_SET", "transferSeconds": Int(window.transferSeconds),
                "clientOrderSeconds": Int(window.clientOrderSeconds), "maxRecords": Int(window.maxRecords),
            ]
        case .conditionalOrderTriggered(let id, let units):
            return ["type": "CONDITIONAL_ORDER_TRIGGERED", "orderId": Int(id), "triggerPriceUnits": Int(units)]
        case .triggeredOrderRejected(let id, let reason):
            return ["type": "TRIGGERED_ORDER_REJECTED", "orderId": Int(id), "reason": reason.name, "code": Int(reason.rawValue)]
        case .conditionalOrderCancelled(let id): return ["type": "CONDITIONAL_ORDER_CANCELLED", "orderId": Int(id)]
        case .restingOrderExpired(let id, let units, let reason):
            return ["type": "RESTING_ORDER_EXPIRED", "orderId": Int(id), "qtyUnits": Int(units), "reason": "\(reason)"]
        case .orderReduced(let id, let units): return ["type": "ORDER_REDUCED", "orderId": Int(id), "qtyUnits": Int(units)]
        case .orderAmended(let id, let priceUnits, let units):
            return ["type": "ORDER_AMENDED", "orderId": Int(id), "priceUnits": Int(priceUnits), "qtyUnits": Int(units)]
        case .allOrdersCancelled(let account, let symbol, let count):
            return [
                "type": "ALL_ORDERS_CANCELLED", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name, "count": Int(count),
            ]
        case .fundFundingPaid(let symbol, let value):
            return ["type": "FUND_FUNDING_PAID", "symbol": catalog.symbols[Int(symbol)].name, "amount": money(symbol, value)]
        case .worldLimitsSet(let limits):
            return [
                "type": "WORLD_LIMITS_SET", "accountsMax": Int(limits.accountsMax), "restingOrdersMax": Int(limits.restingOrdersMax),
                "conditionalOrdersMax": Int(limits.conditionalOrdersMax), "positionsPerAccountMax": Int(limits.positionsPerAccountMax),
            ]
        case .fundingSettlementCompleted(let symbol, let positions):
            return ["type": "FUNDING_SETTLEMENT_COMPLETED", "symbol": catalog.symbols[Int(symbol)].name, "positions": Int(positions)]
        case .fundingSettlementAdvanced(let symbol, let account):
            return ["type": "FUNDING_SETTLEMENT_ADVANCED", "symbol": catalog.symbols[Int(symbol)].name, "throughAccount": Int(account)]
        case .deleveragingContinues(let account, let symbol, let side, let bankruptcy, let remaining):
            return [
                "type": "DELEVERAGING_CONTINUES", "account": Int(account), "symbol": catalog.symbols[Int(symbol)].name,
                "side": side == .buy ? "BUY" : "SELL", "bankruptcyPrice": price(symbol, bankruptcy),
                "remainingQty": quantity(symbol, remaining),
            ]
        case .adlRankingAdvanced(let symbol, let side, let account):
            return [
                "type": "ADL_RANKING_ADVANCED", "symbol": catalog.symbols[Int(symbol)].name, "side": side == .buy ? "BUY" : "SELL",
                "throughAccount": Int(account),
            ]
        case .adlRankingCompleted(let symbol, let side, let positions):
            return [
                "type": "ADL_RANKING_COMPLETED", "symbol": catalog.symbols[Int(symbol)].name, "side": side == .buy ? "BUY" : "SELL",
                "positions": Int(positions),
            ]
        case .badDebtCovered(let account, let asset, let value):
            return [
                "type": "BAD_DEBT_COVERED", "account": Int(account), "asset": catalog.assets[Int(asset)].name,
                "amount": amount(asset, value),
            ]
        }
    }
}
