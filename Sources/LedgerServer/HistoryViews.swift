import LedgerCore

/// The history endpoints (docs/API.md, "History"), shaped as Binance USDⓈ-M answers them,
/// from `RecentHistory` and the follower's state.
enum HistoryViews {
    static func milliseconds(_ nanos: Int64) -> Int { Int(nanos / 1_000_000) }

    /// Binance's order object.
    static func order(_ record: OrderRecord, _ state: borrowing ExchangeState) -> [String: Any] {
        let spec = state.symbols[Int(record.symbol)]
        let priceScale = Int(spec.priceScale)
        let quantityScale = Int(spec.quantityScale)
        let average: Int128 =
            record.executedQuantityUnits == 0 ? 0 : record.executedPriceQuantity / Int128(record.executedQuantityUnits)
        var object: [String: Any] = [
            "orderId": Int(record.orderID), "symbol": spec.name, "status": record.status.rawValue,
            "clientOrderId": record.clientOrderID.text,
            "price": DecimalText.format(record.type.hasLimitPrice ? record.priceUnits : 0, scale: priceScale),
            // Σ price × quantity / Σ quantity, truncated to the price unit.
            "avgPrice": DecimalText.format(average, scale: priceScale),
            "origQty": DecimalText.format(record.originalQuantityUnits, scale: quantityScale),
            "executedQty": DecimalText.format(record.executedQuantityUnits, scale: quantityScale),
            // Σ price × quantity, exact (price and quantity scales added).
            "cumQuote": DecimalText.format(record.executedPriceQuantity, scale: priceScale + quantityScale),
            "timeInForce": record.timeInForce.apiName, "type": record.type.apiName,
            "origType": record.type.apiName, "reduceOnly": record.reduceOnly, "closePosition": record.closePosition,
            "side": record.side.apiName, "positionSide": "BOTH",
            "stopPrice": DecimalText.format(record.stopPriceUnits, scale: priceScale),
            "workingType": record.workingType.apiName,
            "selfTradePreventionMode": record.selfTradePrevention.apiName,
            "time": milliseconds(record.timeNanos), "updateTime": milliseconds(record.updateNanos),
        ]
        if record.type == .trailingStopMarket {
            object["activatePrice"] = DecimalText.format(record.activationPriceUnits, scale: priceScale)
            // The callback rate in percent, as the request gave it.
            object["priceRate"] = DecimalText.format(record.callbackRateE8, scale: 6)
        }
        if let autoClose = record.autoClose { object["autoCloseType"] = autoClose.rawValue }
        return object
    }

    /// `GET /v1/order`: by id, or by the client order id the account placed it under.
    static func order(
        _ state: borrowing ExchangeState, _ history: borrowing RecentHistory, account: AccountID, symbol: SymbolID?, orderID: OrderID?,
        clientOrderID: ClientOrderID?
    ) -> EngineResponse {
        var id = orderID ?? 0
        if id == 0, let clientOrderID {
            guard let found = state.orderID(account: account, clientOrderID: clientOrderID) else {
                return .error(.notFound, "no order of account \(account) with clientOrderId \(clientOrderID.text)")
            }
            id = found
        }
        guard let record = history.order(id), record.account == account, symbol == nil || record.symbol == symbol else {
            return .error(.notFound, "no order \(id) of account \(account)\(symbol == nil ? "" : " in that symbol") in memory")
        }
        return .view(JSON.text(order(record, state)))
    }

    static func openOrders(
        _ state: borrowing ExchangeState, _ history: borrowing RecentHistory, account: AccountID, symbol: SymbolID?
    ) -> String {
        let records = history.openOrders(of: account, in: state).filter { symbol == nil || $0.symbol == symbol }
        return JSON.text(records.map { order($0, state) })
    }

    /// A time window and a page size, as Binance's history endpoints take them.
    struct Window {
        var startNanos: Int64?
        var endNanos: Int64?
        var limit: Int

        func contains(_ nanos: Int64) -> Bool {
            (startNanos.map { nanos >= $0 } ?? true) && (endNanos.map { nanos <= $0 } ?? true)
        }

        /// The first `limit` from the start when one is given, else the last `limit`.
        func page<T>(_ items: [T]) -> [T] {
            startNanos == nil ? Array(items.suffix(limit)) : Array(items.prefix(limit))
        }
    }

    static func allOrders(
        _ state: borrowing ExchangeState, _ history: borrowing RecentHistory, account: AccountID, symbol: SymbolID, fromOrderID: OrderID?,
        window: Window
    ) -> String {
        let records = history.orders(of: account, in: state).filter {
            $0.symbol == symbol && window.contains($0.timeNanos) && $0.orderID >= (fromOrderID ?? 0)
        }
        // From an order id: the first `limit` from it, as Binance.
        let page = fromOrderID == nil ? window.page(records) : Array(records.prefix(window.limit))
        return JSON.text(page.map { order($0, state) })
    }

    static func userTrades(
        _ state: borrowing ExchangeState, _ history: borrowing RecentHistory, account: AccountID, symbol: SymbolID, fromID: TradeID?,
        window: Window
    ) -> String {
        let spec = state.symbols[Int(symbol)]
        let records = history.trades(of: account).filter {
            $0.trade.symbol == symbol && window.contains($0.timeNanos) && $0.trade.tradeID >= (fromID ?? 0)
        }
        let page = fromID == nil ? window.page(records) : Array(records.prefix(window.limit))
        let settle = state.assets[Int(spec.settleAsset)]
        return JSON.text(
            page.flatMap { record -> [[String: Any]] in
                let trade = record.trade
                // A self-trade (allowed by no STP mode, kept for safety) is one row per side.
                let sides = trade.makerAccount == trade.takerAccount ? [true, false] : [trade.makerAccount == account]
                return sides.map { isMaker in
                    let side = isMaker ? trade.takerSide.opposite : trade.takerSide
                    return [
                        "id": Int(trade.tradeID), "symbol": spec.name, "orderId": Int(isMaker ? trade.makerOrderID : trade.takerOrderID),
                        "side": side == .buy ? "BUY" : "SELL", "buyer": side == .buy, "maker": isMaker, "positionSide": "BOTH",
                        "price": DecimalText.format(trade.priceUnits, scale: Int(spec.priceScale)),
                        "qty": DecimalText.format(trade.quantityUnits, scale: Int(spec.quantityScale)),
                        "quoteQty": DecimalText.format(
                            Int128(trade.priceUnits) * Int128(trade.quantityUnits), scale: Int(spec.priceScale + spec.quantityScale)),
                        "commission": DecimalText.format(isMaker ? trade.makerFeeMinor : trade.takerFeeMinor, scale: Int(settle.scale)),
                        "commissionAsset": settle.name,
                        "realizedPnl": DecimalText.format(
                            isMaker ? trade.makerRealizedPnlMinor : trade.takerRealizedPnlMinor, scale: Int(settle.scale)),
                        "time": milliseconds(record.timeNanos), "sequence": Int(record.sequence),
                    ]
                }
            })
    }

    static func income(
        _ state: borrowing ExchangeState, _ history: borrowing RecentHistory, account: AccountID, symbol: SymbolID?,
        kind: IncomeRecord.Kind?, window: Window
    ) -> String {
        let records = history.income(of: account, symbols: state.symbols).filter {
            (symbol == nil || $0.symbol == symbol) && (kind == nil || $0.kind == kind) && window.contains($0.timeNanos)
        }
        return JSON.text(
            window.page(records).map { record -> [String: Any] in
                let asset = state.assets[Int(record.asset)]
                return [
                    "symbol": record.symbol.map { state.symbols[Int($0)].name } ?? "", "incomeType": record.kind.rawValue,
                    "income": DecimalText.format(record.amountMinor, scale: Int(asset.scale)), "asset": asset.name,
                    "info": record.kind.rawValue, "time": milliseconds(record.timeNanos), "tranId": Int(record.sequence),
                    "tradeId": record.tradeID == 0 ? "" : String(record.tradeID),
                ]
            })
    }

    static func forceOrders(
        _ state: borrowing ExchangeState, _ history: borrowing RecentHistory, account: AccountID, symbol: SymbolID?,
        autoClose: OrderRecord.AutoClose?, window: Window
    ) -> String {
        let records = history.forceOrders(of: account).filter {
            (symbol == nil || $0.symbol == symbol) && (autoClose == nil || $0.autoClose == autoClose) && window.contains($0.timeNanos)
        }
        return JSON.text(window.page(records).map { order($0, state) })
    }

    /// `GET /v1/trades`: the symbol's recent public trades, oldest first.
    static func trades(_ state: borrowing ExchangeState, _ history: borrowing RecentHistory, symbol: SymbolID, limit: Int) -> String {
        let spec = state.symbols[Int(symbol)]
        return JSON.text(
            history.publicTrades(symbol).suffix(limit).map { record -> [String: Any] in
                let trade = record.trade
                return [
                    "id": Int(trade.tradeID), "price": DecimalText.format(trade.priceUnits, scale: Int(spec.priceScale)),
                    "qty": DecimalText.format(trade.quantityUnits, scale: Int(spec.quantityScale)),
                    "quoteQty": DecimalText.format(
                        Int128(trade.priceUnits) * Int128(trade.quantityUnits), scale: Int(spec.priceScale + spec.quantityScale)),
                    "time": milliseconds(record.timeNanos), "isBuyerMaker": trade.takerSide == .sell, "sequence": Int(record.sequence),
                ]
            })
    }

    /// Binance's positionRisk: every position the account holds or has orders in, or the
    /// one symbol asked for (even when empty).
    static func positionRisk(_ state: borrowing ExchangeState, account: AccountID, symbol: SymbolID?) -> EngineResponse {
        guard let index = state.accountIndex(of: account) else { return .error(.notFound, "no account \(account)") }
        var positions: [[String: Any]] = []
        for spec in state.symbols where symbol == nil || spec.id == symbol {
            let position = state.accounts[index].position(spec.id)
            if symbol == nil && position.sizeQuantityUnits == 0 && position.openBuyQuantityUnits == 0
                && position.openSellQuantityUnits == 0
            {
                continue
            }
            var entry = Views.positionObject(state, account, spec)
            let settleScale = Int(state.assets[Int(spec.settleAsset)].scale)
            let notional =
                Int128(position.sizeQuantityUnits) * Int128(state.markets[Int(spec.id)].markPriceUnits)
                * Int128(state.markets[Int(spec.id)].notionalFactor)
            entry["notional"] = DecimalText.format(notional, scale: settleScale)
            entry["positionSide"] = "BOTH"
            entry["isolatedWallet"] = entry["isolatedMargin"]
            entry["updateTime"] = milliseconds(state.lastTimeNanos)
            positions.append(entry)
        }
        return .view(JSON.text(positions))
    }
}
