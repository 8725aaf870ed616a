import LedgerCore

/// Journal entries as JSON objects, in the engine's integer units (docs/FORMATS.md names
/// each field's unit).
enum EntryJSON {
    static func command(_ command: Command) -> JSONFields {
        switch command {
        case .listAsset(let asset): ["type": "LIST_ASSET", "assetId": Int(asset.id), "name": asset.name, "scale": Int(asset.scale)]
        case .listSymbol(let spec): ["type": "LIST_SYMBOL", "symbolId": Int(spec.id), "name": spec.name]
        case .deposit(let transfer): transferJSON("DEPOSIT", transfer)
        case .withdraw(let transfer): transferJSON("WITHDRAW", transfer)
        case .setLeverage(let account, let symbol, let leverage):
            ["type": "SET_LEVERAGE", "account": Int(account), "symbolId": Int(symbol), "leverage": Int(leverage)]
        case .placeOrder(let order):
            [
                "type": "PLACE_ORDER", "account": Int(order.account), "symbolId": Int(order.symbol),
                "side": order.side == .buy ? "BUY" : "SELL", "orderType": "\(order.type)",
                "timeInForce": "\(order.timeInForce)".uppercased(), "priceUnits": Int(order.priceUnits),
                "quantityUnits": Int(order.quantityUnits), "clientOrderId": Int(order.clientOrderID),
                "stopPriceUnits": Int(order.stopPriceUnits), "workingType": "\(order.workingType)", "reduceOnly": order.reduceOnly,
                "closePosition": order.closePosition, "selfTradePrevention": "\(order.selfTradePrevention)",
                "callbackRateE8": Int(order.callbackRateE8), "activationPriceUnits": Int(order.activationPriceUnits),
            ]
        case .amendOrder(let amend):
            [
                "type": "AMEND_ORDER", "account": Int(amend.account), "orderId": Int(amend.orderID),
                "clientOrderId": Int(amend.clientOrderID), "priceUnits": Int(amend.priceUnits), "quantityUnits": Int(amend.quantityUnits),
            ]
        case .cancelAllOrders(let account, let symbol): ["type": "CANCEL_ALL_ORDERS", "account": Int(account), "symbolId": Int(symbol)]
        case .setIdempotencyWindow(let window): windowJSON("SET_IDEMPOTENCY_WINDOW", window)
        case .entryExcised(let hash): ["type": "ENTRY_EXCISED", "originalPayloadSha256": hexString(hash)]
        case .cancelOrder(let cancel):
            [
                "type": "CANCEL_ORDER", "account": Int(cancel.account), "orderId": Int(cancel.orderID),
                "clientOrderId": Int(cancel.clientOrderID),
            ]
        case .setMarkPrice(let symbol, let price): ["type": "SET_MARK_PRICE", "symbolId": Int(symbol), "priceUnits": Int(price)]
        case .setIndexPrice(let symbol, let price): ["type": "SET_INDEX_PRICE", "symbolId": Int(symbol), "priceUnits": Int(price)]
        case .setFundingRate(let symbol, let rate): ["type": "SET_FUNDING_RATE", "symbolId": Int(symbol), "rateE8": Int(rate)]
        case .addPremiumSample(let symbol, let premium):
            ["type": "ADD_PREMIUM_SAMPLE", "symbolId": Int(symbol), "premiumE8": Int(premium)]
        case .setMarginMode(let account, let symbol, let isolated):
            ["type": "SET_MARGIN_MODE", "account": Int(account), "symbolId": Int(symbol), "isolated": isolated]
        case .adjustIsolatedMargin(let account, let symbol, let amount):
            ["type": "ADJUST_ISOLATED_MARGIN", "account": Int(account), "symbolId": Int(symbol), "amountMinor": Int(amount)]
        case .depositInsuranceFund(let transfer): transferJSON("DEPOSIT_INSURANCE_FUND", transfer)
        case .setWorldLimits(let limits): limitsJSON("SET_WORLD_LIMITS", limits)
        case .tick: ["type": "TICK"]
        case .settleFunding(let account): ["type": "SETTLE_FUNDING", "account": Int(account)]
        }
    }

    static func windowJSON(_ type: String, _ window: IdempotencyWindow) -> JSONFields {
        [
            "type": type, "transferSeconds": Int(window.transferSeconds), "clientOrderSeconds": Int(window.clientOrderSeconds),
            "maxRecords": Int(window.maxRecords),
        ]
    }

    static func limitsJSON(_ type: String, _ limits: WorldLimits) -> JSONFields {
        [
            "type": type, "accountsMax": Int(limits.accountsMax), "restingOrdersMax": Int(limits.restingOrdersMax),
            "conditionalOrdersMax": Int(limits.conditionalOrdersMax), "positionsPerAccountMax": Int(limits.positionsPerAccountMax),
        ]
    }

    static func transferJSON(_ type: String, _ transfer: Transfer) -> JSONFields {
        [
            "type": type, "transferId": Int(transfer.transferID), "account": Int(transfer.account), "assetId": Int(transfer.asset),
            "amountMinor": Int(transfer.amountMinor),
        ]
    }

    static func event(_ event: Event) -> JSONFields {
        switch event {
        case .assetListed(let id): ["type": "ASSET_LISTED", "assetId": Int(id)]
        case .symbolListed(let id): ["type": "SYMBOL_LISTED", "symbolId": Int(id)]
        case .deposited(let account, let asset, let amount):
            ["type": "DEPOSITED", "account": Int(account), "assetId": Int(asset), "amountMinor": Int(amount)]
        case .withdrawn(let account, let asset, let amount):
            ["type": "WITHDRAWN", "account": Int(account), "assetId": Int(asset), "amountMinor": Int(amount)]
        case .transferReplayed(let original): ["type": "TRANSFER_REPLAYED", "originalSequence": Int(original)]
        case .leverageSet(let account, let symbol, let leverage):
            ["type": "LEVERAGE_SET", "account": Int(account), "symbolId": Int(symbol), "leverage": Int(leverage)]
        case .markPriceSet(let symbol, let price): ["type": "MARK_PRICE_SET", "symbolId": Int(symbol), "priceUnits": Int(price)]
        case .orderAccepted(let id): ["type": "ORDER_ACCEPTED", "orderId": Int(id)]
        case .trade(let t):
            [
                "type": "TRADE", "tradeId": Int(t.tradeID), "symbolId": Int(t.symbol), "makerOrderId": Int(t.makerOrderID),
                "takerOrderId": Int(t.takerOrderID), "makerAccount": Int(t.makerAccount), "takerAccount": Int(t.takerAccount),
                "takerSide": t.takerSide == .buy ? "BUY" : "SELL", "priceUnits": Int(t.priceUnits), "quantityUnits": Int(t.quantityUnits),
                "makerFeeMinor": Int(t.makerFeeMinor), "takerFeeMinor": Int(t.takerFeeMinor),
                "makerRealizedPnlMinor": Int(t.makerRealizedPnlMinor), "takerRealizedPnlMinor": Int(t.takerRealizedPnlMinor),
            ]
        case .orderRested(let id, let quantity): ["type": "ORDER_RESTED", "orderId": Int(id), "quantityUnits": Int(quantity)]
        case .orderExpired(let id, let quantity, let reason):
            ["type": "ORDER_EXPIRED", "orderId": Int(id), "quantityUnits": Int(quantity), "reason": "\(reason)"]
        case .orderCancelled(let id, let quantity): ["type": "ORDER_CANCELLED", "orderId": Int(id), "quantityUnits": Int(quantity)]
        case .rejected(let reason, let detail):
            ["type": "REJECTED", "reason": reason.name, "code": Int(reason.rawValue), "detail": Int(detail)]
        case .indexPriceSet(let symbol, let price): ["type": "INDEX_PRICE_SET", "symbolId": Int(symbol), "priceUnits": Int(price)]
        case .fundingRateSet(let symbol, let rate): ["type": "FUNDING_RATE_SET", "symbolId": Int(symbol), "rateE8": Int(rate)]
        case .premiumSampled(let symbol, let premium): ["type": "PREMIUM_SAMPLED", "symbolId": Int(symbol), "premiumE8": Int(premium)]
        case .fundingSettled(let symbol, let rate, let mark):
            ["type": "FUNDING_SETTLED", "symbolId": Int(symbol), "rateE8": Int(rate), "markPriceUnits": Int(mark)]
        case .fundingPaid(let account, let symbol, let amount):
            ["type": "FUNDING_PAID", "account": Int(account), "symbolId": Int(symbol), "amountMinor": Int(amount)]
        case .marginModeSet(let account, let symbol, let isolated):
            ["type": "MARGIN_MODE_SET", "account": Int(account), "symbolId": Int(symbol), "isolated": isolated]
        case .isolatedMarginAdjusted(let account, let symbol, let amount):
            ["type": "ISOLATED_MARGIN_ADJUSTED", "account": Int(account), "symbolId": Int(symbol), "amountMinor": Int(amount)]
        case .insuranceFundDeposited(let asset, let amount):
            ["type": "INSURANCE_FUND_DEPOSITED", "assetId": Int(asset), "amountMinor": Int(amount)]
        case .liquidationTriggered(let account, let asset, let isolated, let balance, let maintenance):
            [
                "type": "LIQUIDATION_TRIGGERED", "account": Int(account), "assetId": Int(asset),
                "isolatedSymbolId": isolated.map { Int($0) } ?? -1, "marginBalanceMinor": Int(balance),
                "maintenanceMinor": Int(maintenance),
            ]
        case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
            [
                "type": "LIQUIDATION_ORDER_PLACED", "orderId": Int(id), "account": Int(account), "symbolId": Int(symbol),
                "side": side == .buy ? "BUY" : "SELL", "bankruptcyPriceUnits": Int(price), "quantityUnits": Int(quantity),
            ]
        case .liquidationSettled(let account, let symbol, let filled, let fee, let surplus):
            [
                "type": "LIQUIDATION_SETTLED", "account": Int(account), "symbolId": Int(symbol), "filledQuantityUnits": Int(filled),
                "feeMinor": Int(fee), "surplusMinor": Int(surplus),
            ]
        case .insuranceTakeover(let account, let symbol, let side, let price, let quantity, let pnl, let fundPnl):
            [
                "type": "INSURANCE_TAKEOVER", "account": Int(account), "symbolId": Int(symbol), "side": side == .buy ? "BUY" : "SELL",
                "priceUnits": Int(price), "quantityUnits": Int(quantity), "realizedPnlMinor": Int(pnl),
                "fundRealizedPnlMinor": Int(fundPnl),
            ]
        case .autoDeleveraged(let account, let counterparty, let symbol, let side, let price, let quantity, let pnl, let otherPnl):
            [
                "type": "AUTO_DELEVERAGED", "account": Int(account), "counterparty": Int(counterparty), "symbolId": Int(symbol),
                "side": side == .buy ? "BUY" : "SELL", "priceUnits": Int(price), "quantityUnits": Int(quantity),
                "realizedPnlMinor": Int(pnl), "counterpartyRealizedPnlMinor": Int(otherPnl),
            ]
        case .fundFundingPaid(let symbol, let amount): ["type": "FUND_FUNDING_PAID", "symbolId": Int(symbol), "amountMinor": Int(amount)]
        case .conditionalOrderPlaced(let id): ["type": "CONDITIONAL_ORDER_PLACED", "orderId": Int(id)]
        case .idempotencyWindowSet(let window): windowJSON("IDEMPOTENCY_WINDOW_SET", window)
        case .conditionalOrderTriggered(let id, let price):
            ["type": "CONDITIONAL_ORDER_TRIGGERED", "orderId": Int(id), "priceUnits": Int(price)]
        case .triggeredOrderRejected(let id, let reason):
            ["type": "TRIGGERED_ORDER_REJECTED", "orderId": Int(id), "reason": reason.name, "code": Int(reason.rawValue)]
        case .conditionalOrderCancelled(let id): ["type": "CONDITIONAL_ORDER_CANCELLED", "orderId": Int(id)]
        case .restingOrderExpired(let id, let quantity, let reason):
            ["type": "RESTING_ORDER_EXPIRED", "orderId": Int(id), "quantityUnits": Int(quantity), "reason": "\(reason)"]
        case .orderReduced(let id, let quantity): ["type": "ORDER_REDUCED", "orderId": Int(id), "quantityUnits": Int(quantity)]
        case .orderAmended(let id, let price, let quantity):
            ["type": "ORDER_AMENDED", "orderId": Int(id), "priceUnits": Int(price), "quantityUnits": Int(quantity)]
        case .allOrdersCancelled(let account, let symbol, let count):
            ["type": "ALL_ORDERS_CANCELLED", "account": Int(account), "symbolId": Int(symbol), "count": Int(count)]
        case .badDebtCovered(let account, let asset, let amount):
            ["type": "BAD_DEBT_COVERED", "account": Int(account), "assetId": Int(asset), "amountMinor": Int(amount)]
        case .worldLimitsSet(let limits): limitsJSON("WORLD_LIMITS_SET", limits)
        case .fundingSettlementCompleted(let symbol, let positions):
            ["type": "FUNDING_SETTLEMENT_COMPLETED", "symbolId": Int(symbol), "positions": Int(positions)]
        case .fundingSettlementAdvanced(let symbol, let account):
            ["type": "FUNDING_SETTLEMENT_ADVANCED", "symbolId": Int(symbol), "throughAccount": Int(account)]
        case .deleveragingContinues(let account, let symbol, let side, let price, let remaining):
            [
                "type": "DELEVERAGING_CONTINUES", "account": Int(account), "symbolId": Int(symbol), "side": side == .buy ? "BUY" : "SELL",
                "bankruptcyPriceUnits": Int(price), "remainingQtyUnits": Int(remaining),
            ]
        case .adlRankingAdvanced(let symbol, let side, let account):
            [
                "type": "ADL_RANKING_ADVANCED", "symbolId": Int(symbol), "side": side == .buy ? "BUY" : "SELL",
                "throughAccount": Int(account),
            ]
        case .adlRankingCompleted(let symbol, let side, let positions):
            [
                "type": "ADL_RANKING_COMPLETED", "symbolId": Int(symbol), "side": side == .buy ? "BUY" : "SELL",
                "positions": Int(positions),
            ]
        }
    }
}

extension EntryJSON {
    /// Every "type" that `command` and `event` write: what `dump --kind` accepts.
    static let kinds: Set<String> = [
        "ADD_PREMIUM_SAMPLE",
        "ADJUST_ISOLATED_MARGIN",
        "ADL_RANKING_ADVANCED",
        "ADL_RANKING_COMPLETED",
        "ALL_ORDERS_CANCELLED",
        "AMEND_ORDER",
        "ASSET_LISTED",
        "AUTO_DELEVERAGED",
        "BAD_DEBT_COVERED",
        "CANCEL_ALL_ORDERS",
        "CANCEL_ORDER",
        "CONDITIONAL_ORDER_CANCELLED",
        "CONDITIONAL_ORDER_PLACED",
        "CONDITIONAL_ORDER_TRIGGERED",
        "DELEVERAGING_CONTINUES",
        "DEPOSIT",
        "DEPOSITED",
        "DEPOSIT_INSURANCE_FUND",
        "ENTRY_EXCISED",
        "FUNDING_PAID",
        "FUNDING_RATE_SET",
        "FUNDING_SETTLED",
        "FUNDING_SETTLEMENT_ADVANCED",
        "FUNDING_SETTLEMENT_COMPLETED",
        "FUND_FUNDING_PAID",
        "IDEMPOTENCY_WINDOW_SET",
        "INDEX_PRICE_SET",
        "INSURANCE_FUND_DEPOSITED",
        "INSURANCE_TAKEOVER",
        "ISOLATED_MARGIN_ADJUSTED",
        "LEVERAGE_SET",
        "LIQUIDATION_ORDER_PLACED",
        "LIQUIDATION_SETTLED",
        "LIQUIDATION_TRIGGERED",
        "LIST_ASSET",
        "LIST_SYMBOL",
        "MARGIN_MODE_SET",
        "MARK_PRICE_SET",
        "ORDER_ACCEPTED",
        "ORDER_AMENDED",
        "ORDER_CANCELLED",
        "ORDER_EXPIRED",
        "ORDER_REDUCED",
        "ORDER_RESTED",
        "PLACE_ORDER",
        "PREMIUM_SAMPLED",
        "REJECTED",
        "RESTING_ORDER_EXPIRED",
        "SETTLE_FUNDING",
        "SET_FUNDING_RATE",
        "SET_IDEMPOTENCY_WINDOW",
        "SET_INDEX_PRICE",
        "SET_LEVERAGE",
        "SET_MARGIN_MODE",
        "SET_MARK_PRICE",
        "SET_WORLD_LIMITS",
        "SYMBOL_LISTED",
        "TICK",
        "TRADE",
        "TRANSFER_REPLAYED",
        "TRIGGERED_ORDER_REJECTED",
        "WITHDRAW",
        "WITHDRAWN",
        "WORLD_LIMITS_SET",
    ]
}
