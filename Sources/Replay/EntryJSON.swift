import LedgerCore

/// Where `EntryJSON` sends an object's fields, in order: a JSON writer, or a probe that
/// only looks at them (`dump`'s filters). Generic, so each sink is compiled in place and
/// nothing is boxed or allocated per field.
protocol EntrySink {
    mutating func int(_ key: StaticString, _ value: Int)
    mutating func string(_ key: StaticString, _ value: String)
    mutating func bool(_ key: StaticString, _ value: Bool)
}

/// Journal entries as JSON objects, in the engine's integer units (docs/FORMATS.md names
/// each field's unit). Every object's first field is "type".
enum EntryJSON {
    static func command(_ command: Command, into sink: inout some EntrySink) {
        switch command {
        case .listAsset(let asset):
            sink.string("type", "LIST_ASSET")
            sink.int("assetId", Int(asset.id))
            sink.string("name", asset.name)
            sink.int("scale", Int(asset.scale))
        case .listSymbol(let spec):
            sink.string("type", "LIST_SYMBOL")
            sink.int("symbolId", Int(spec.id))
            sink.string("name", spec.name)
        case .deposit(let transfer): transferJSON("DEPOSIT", transfer, into: &sink)
        case .withdraw(let transfer): transferJSON("WITHDRAW", transfer, into: &sink)
        case .setLeverage(let account, let symbol, let leverage):
            sink.string("type", "SET_LEVERAGE")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("leverage", Int(leverage))
        case .placeOrder(let order):
            sink.string("type", "PLACE_ORDER")
            sink.int("account", Int(order.account))
            sink.int("symbolId", Int(order.symbol))
            sink.string("side", order.side == .buy ? "BUY" : "SELL")
            sink.string("orderType", CaseNames.orderType[Int(order.type.rawValue)])
            sink.string("timeInForce", CaseNames.timeInForce[Int(order.timeInForce.rawValue)])
            sink.int("priceUnits", Int(order.priceUnits))
            sink.int("quantityUnits", Int(order.quantityUnits))
            sink.string("clientOrderId", order.clientOrderID.text)
            sink.int("stopPriceUnits", Int(order.stopPriceUnits))
            sink.string("workingType", CaseNames.workingType[Int(order.workingType.rawValue)])
            sink.bool("reduceOnly", order.reduceOnly)
            sink.bool("closePosition", order.closePosition)
            sink.string("selfTradePrevention", CaseNames.selfTradePrevention[Int(order.selfTradePrevention.rawValue)])
            sink.int("callbackRateE8", Int(order.callbackRateE8))
            sink.int("activationPriceUnits", Int(order.activationPriceUnits))
        case .amendOrder(let amend):
            sink.string("type", "AMEND_ORDER")
            sink.int("account", Int(amend.account))
            sink.int("orderId", Int(amend.orderID))
            sink.string("clientOrderId", amend.clientOrderID.text)
            sink.int("priceUnits", Int(amend.priceUnits))
            sink.int("quantityUnits", Int(amend.quantityUnits))
        case .cancelAllOrders(let account, let symbol):
            sink.string("type", "CANCEL_ALL_ORDERS")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
        case .setIdempotencyWindow(let window): windowJSON("SET_IDEMPOTENCY_WINDOW", window, into: &sink)
        case .entryExcised(let hash):
            sink.string("type", "ENTRY_EXCISED")
            sink.string("originalPayloadSha256", hexString(hash))
        case .cancelOrder(let cancel):
            sink.string("type", "CANCEL_ORDER")
            sink.int("account", Int(cancel.account))
            sink.int("orderId", Int(cancel.orderID))
            sink.string("clientOrderId", cancel.clientOrderID.text)
        case .setMarkPrice(let symbol, let price):
            sink.string("type", "SET_MARK_PRICE")
            sink.int("symbolId", Int(symbol))
            sink.int("priceUnits", Int(price))
        case .setIndexPrice(let symbol, let price):
            sink.string("type", "SET_INDEX_PRICE")
            sink.int("symbolId", Int(symbol))
            sink.int("priceUnits", Int(price))
        case .setFundingRate(let symbol, let rate):
            sink.string("type", "SET_FUNDING_RATE")
            sink.int("symbolId", Int(symbol))
            sink.int("rateE8", Int(rate))
        case .addPremiumSample(let symbol, let premium):
            sink.string("type", "ADD_PREMIUM_SAMPLE")
            sink.int("symbolId", Int(symbol))
            sink.int("premiumE8", Int(premium))
        case .setMarginMode(let account, let symbol, let isolated):
            sink.string("type", "SET_MARGIN_MODE")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.bool("isolated", isolated)
        case .adjustIsolatedMargin(let account, let symbol, let amount):
            sink.string("type", "ADJUST_ISOLATED_MARGIN")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("amountMinor", Int(amount))
        case .depositInsuranceFund(let transfer): transferJSON("DEPOSIT_INSURANCE_FUND", transfer, into: &sink)
        case .setWorldLimits(let limits): limitsJSON("SET_WORLD_LIMITS", limits, into: &sink)
        case .tick:
            sink.string("type", "TICK")
        case .settleFunding(let account):
            sink.string("type", "SETTLE_FUNDING")
            sink.int("account", Int(account))
        }
    }

    static func windowJSON(_ type: String, _ window: IdempotencyWindow, into sink: inout some EntrySink) {
        sink.string("type", type)
        sink.int("transferSeconds", Int(window.transferSeconds))
        sink.int("clientOrderSeconds", Int(window.clientOrderSeconds))
        sink.int("maxRecords", Int(window.maxRecords))
    }

    static func limitsJSON(_ type: String, _ limits: WorldLimits, into sink: inout some EntrySink) {
        sink.string("type", type)
        sink.int("accountsMax", Int(limits.accountsMax))
        sink.int("restingOrdersMax", Int(limits.restingOrdersMax))
        sink.int("conditionalOrdersMax", Int(limits.conditionalOrdersMax))
        sink.int("positionsPerAccountMax", Int(limits.positionsPerAccountMax))
    }

    static func transferJSON(_ type: String, _ transfer: Transfer, into sink: inout some EntrySink) {
        sink.string("type", type)
        sink.int("transferId", Int(transfer.transferID))
        sink.int("account", Int(transfer.account))
        sink.int("assetId", Int(transfer.asset))
        sink.int("amountMinor", Int(transfer.amountMinor))
    }

    static func event(_ event: Event, into sink: inout some EntrySink) {
        switch event {
        case .assetListed(let id):
            sink.string("type", "ASSET_LISTED")
            sink.int("assetId", Int(id))
        case .symbolListed(let id):
            sink.string("type", "SYMBOL_LISTED")
            sink.int("symbolId", Int(id))
        case .deposited(let account, let asset, let amount):
            sink.string("type", "DEPOSITED")
            sink.int("account", Int(account))
            sink.int("assetId", Int(asset))
            sink.int("amountMinor", Int(amount))
        case .withdrawn(let account, let asset, let amount):
            sink.string("type", "WITHDRAWN")
            sink.int("account", Int(account))
            sink.int("assetId", Int(asset))
            sink.int("amountMinor", Int(amount))
        case .transferReplayed(let original):
            sink.string("type", "TRANSFER_REPLAYED")
            sink.int("originalSequence", Int(original))
        case .leverageSet(let account, let symbol, let leverage):
            sink.string("type", "LEVERAGE_SET")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("leverage", Int(leverage))
        case .markPriceSet(let symbol, let price):
            sink.string("type", "MARK_PRICE_SET")
            sink.int("symbolId", Int(symbol))
            sink.int("priceUnits", Int(price))
        case .orderAccepted(let id):
            sink.string("type", "ORDER_ACCEPTED")
            sink.int("orderId", Int(id))
        case .trade(let t):
            sink.string("type", "TRADE")
            sink.int("tradeId", Int(t.tradeID))
            sink.int("symbolId", Int(t.symbol))
            sink.int("makerOrderId", Int(t.makerOrderID))
            sink.int("takerOrderId", Int(t.takerOrderID))
            sink.int("makerAccount", Int(t.makerAccount))
            sink.int("takerAccount", Int(t.takerAccount))
            sink.string("takerSide", t.takerSide == .buy ? "BUY" : "SELL")
            sink.int("priceUnits", Int(t.priceUnits))
            sink.int("quantityUnits", Int(t.quantityUnits))
            sink.int("makerFeeMinor", Int(t.makerFeeMinor))
            sink.int("takerFeeMinor", Int(t.takerFeeMinor))
            sink.int("makerRealizedPnlMinor", Int(t.makerRealizedPnlMinor))
            sink.int("takerRealizedPnlMinor", Int(t.takerRealizedPnlMinor))
        case .orderRested(let id, let quantity):
            sink.string("type", "ORDER_RESTED")
            sink.int("orderId", Int(id))
            sink.int("quantityUnits", Int(quantity))
        case .orderExpired(let id, let quantity, let reason):
            sink.string("type", "ORDER_EXPIRED")
            sink.int("orderId", Int(id))
            sink.int("quantityUnits", Int(quantity))
            sink.string("reason", CaseNames.expiry[Int(reason.rawValue)])
        case .orderCancelled(let id, let quantity):
            sink.string("type", "ORDER_CANCELLED")
            sink.int("orderId", Int(id))
            sink.int("quantityUnits", Int(quantity))
        case .rejected(let reason, let detail):
            sink.string("type", "REJECTED")
            sink.string("reason", reason.name)
            sink.int("code", Int(reason.rawValue))
            sink.int("detail", Int(detail))
        case .indexPriceSet(let symbol, let price):
            sink.string("type", "INDEX_PRICE_SET")
            sink.int("symbolId", Int(symbol))
            sink.int("priceUnits", Int(price))
        case .fundingRateSet(let symbol, let rate):
            sink.string("type", "FUNDING_RATE_SET")
            sink.int("symbolId", Int(symbol))
            sink.int("rateE8", Int(rate))
        case .premiumSampled(let symbol, let premium):
            sink.string("type", "PREMIUM_SAMPLED")
            sink.int("symbolId", Int(symbol))
            sink.int("premiumE8", Int(premium))
        case .fundingSettled(let symbol, let rate, let mark):
            sink.string("type", "FUNDING_SETTLED")
            sink.int("symbolId", Int(symbol))
            sink.int("rateE8", Int(rate))
            sink.int("markPriceUnits", Int(mark))
        case .fundingPaid(let account, let symbol, let amount):
            sink.string("type", "FUNDING_PAID")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("amountMinor", Int(amount))
        case .marginModeSet(let account, let symbol, let isolated):
            sink.string("type", "MARGIN_MODE_SET")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.bool("isolated", isolated)
        case .isolatedMarginAdjusted(let account, let symbol, let amount):
            sink.string("type", "ISOLATED_MARGIN_ADJUSTED")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("amountMinor", Int(amount))
        case .insuranceFundDeposited(let asset, let amount):
            sink.string("type", "INSURANCE_FUND_DEPOSITED")
            sink.int("assetId", Int(asset))
            sink.int("amountMinor", Int(amount))
        case .liquidationTriggered(let account, let asset, let isolated, let balance, let maintenance):
            sink.string("type", "LIQUIDATION_TRIGGERED")
            sink.int("account", Int(account))
            sink.int("assetId", Int(asset))
            sink.int("isolatedSymbolId", Int(isolated.map { Int($0) } ?? -1))
            sink.int("marginBalanceMinor", Int(balance))
            sink.int("maintenanceMinor", Int(maintenance))
        case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
            sink.string("type", "LIQUIDATION_ORDER_PLACED")
            sink.int("orderId", Int(id))
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.string("side", side == .buy ? "BUY" : "SELL")
            sink.int("bankruptcyPriceUnits", Int(price))
            sink.int("quantityUnits", Int(quantity))
        case .liquidationSettled(let account, let symbol, let filled, let fee, let surplus):
            sink.string("type", "LIQUIDATION_SETTLED")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("filledQuantityUnits", Int(filled))
            sink.int("feeMinor", Int(fee))
            sink.int("surplusMinor", Int(surplus))
        case .insuranceTakeover(let account, let symbol, let side, let price, let quantity, let pnl, let fundPnl):
            sink.string("type", "INSURANCE_TAKEOVER")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.string("side", side == .buy ? "BUY" : "SELL")
            sink.int("priceUnits", Int(price))
            sink.int("quantityUnits", Int(quantity))
            sink.int("realizedPnlMinor", Int(pnl))
            sink.int("fundRealizedPnlMinor", Int(fundPnl))
        case .autoDeleveraged(let account, let counterparty, let symbol, let side, let price, let quantity, let pnl, let otherPnl):
            sink.string("type", "AUTO_DELEVERAGED")
            sink.int("account", Int(account))
            sink.int("counterparty", Int(counterparty))
            sink.int("symbolId", Int(symbol))
            sink.string("side", side == .buy ? "BUY" : "SELL")
            sink.int("priceUnits", Int(price))
            sink.int("quantityUnits", Int(quantity))
            sink.int("realizedPnlMinor", Int(pnl))
            sink.int("counterpartyRealizedPnlMinor", Int(otherPnl))
        case .fundFundingPaid(let symbol, let amount):
            sink.string("type", "FUND_FUNDING_PAID")
            sink.int("symbolId", Int(symbol))
            sink.int("amountMinor", Int(amount))
        case .conditionalOrderPlaced(let id):
            sink.string("type", "CONDITIONAL_ORDER_PLACED")
            sink.int("orderId", Int(id))
        case .idempotencyWindowSet(let window): windowJSON("IDEMPOTENCY_WINDOW_SET", window, into: &sink)
        case .conditionalOrderTriggered(let id, let price):
            sink.string("type", "CONDITIONAL_ORDER_TRIGGERED")
            sink.int("orderId", Int(id))
            sink.int("priceUnits", Int(price))
        case .triggeredOrderRejected(let id, let reason):
            sink.string("type", "TRIGGERED_ORDER_REJECTED")
            sink.int("orderId", Int(id))
            sink.string("reason", reason.name)
            sink.int("code", Int(reason.rawValue))
        case .conditionalOrderCancelled(let id):
            sink.string("type", "CONDITIONAL_ORDER_CANCELLED")
            sink.int("orderId", Int(id))
        case .restingOrderExpired(let id, let quantity, let reason):
            sink.string("type", "RESTING_ORDER_EXPIRED")
            sink.int("orderId", Int(id))
            sink.int("quantityUnits", Int(quantity))
            sink.string("reason", CaseNames.expiry[Int(reason.rawValue)])
        case .orderReduced(let id, let quantity):
            sink.string("type", "ORDER_REDUCED")
            sink.int("orderId", Int(id))
            sink.int("quantityUnits", Int(quantity))
        case .orderAmended(let id, let price, let quantity):
            sink.string("type", "ORDER_AMENDED")
            sink.int("orderId", Int(id))
            sink.int("priceUnits", Int(price))
            sink.int("quantityUnits", Int(quantity))
        case .allOrdersCancelled(let account, let symbol, let count):
            sink.string("type", "ALL_ORDERS_CANCELLED")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.int("count", Int(count))
        case .badDebtCovered(let account, let asset, let amount):
            sink.string("type", "BAD_DEBT_COVERED")
            sink.int("account", Int(account))
            sink.int("assetId", Int(asset))
            sink.int("amountMinor", Int(amount))
        case .worldLimitsSet(let limits): limitsJSON("WORLD_LIMITS_SET", limits, into: &sink)
        case .fundingSettlementCompleted(let symbol, let positions):
            sink.string("type", "FUNDING_SETTLEMENT_COMPLETED")
            sink.int("symbolId", Int(symbol))
            sink.int("positions", Int(positions))
        case .fundingSettlementAdvanced(let symbol, let account):
            sink.string("type", "FUNDING_SETTLEMENT_ADVANCED")
            sink.int("symbolId", Int(symbol))
            sink.int("throughAccount", Int(account))
        case .deleveragingContinues(let account, let symbol, let side, let price, let remaining):
            sink.string("type", "DELEVERAGING_CONTINUES")
            sink.int("account", Int(account))
            sink.int("symbolId", Int(symbol))
            sink.string("side", side == .buy ? "BUY" : "SELL")
            sink.int("bankruptcyPriceUnits", Int(price))
            sink.int("remainingQtyUnits", Int(remaining))
        case .adlRankingAdvanced(let symbol, let side, let account):
            sink.string("type", "ADL_RANKING_ADVANCED")
            sink.int("symbolId", Int(symbol))
            sink.string("side", side == .buy ? "BUY" : "SELL")
            sink.int("throughAccount", Int(account))
        case .adlRankingCompleted(let symbol, let side, let positions):
            sink.string("type", "ADL_RANKING_COMPLETED")
            sink.int("symbolId", Int(symbol))
            sink.string("side", side == .buy ? "BUY" : "SELL")
            sink.int("positions", Int(positions))
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

/// The case names of the enums a dump writes, computed once: interpolating an enum goes
/// through reflection, which was a third of a dump's time.
enum CaseNames {
    static let orderType = table(OrderType.self)
    static let timeInForce = table(TimeInForce.self).map { $0.uppercased() }
    static let workingType = table(WorkingType.self)
    static let selfTradePrevention = table(SelfTradePrevention.self)
    static let expiry = table(ExpiryReason.self)

    /// Names indexed by raw value.
    static func table<T: CaseIterable & RawRepresentable>(_: T.Type) -> [String] where T.RawValue == UInt8 {
        var names = [String](repeating: "?", count: 256)
        for value in T.allCases { names[Int(value.rawValue)] = "\(value)" }
        return names
    }
}

/// The "type" of an object (its first field).
struct TypeProbe: EntrySink {
    var type: String?
    mutating func int(_ key: StaticString, _ value: Int) {}
    mutating func string(_ key: StaticString, _ value: String) { if type == nil { type = value } }
    mutating func bool(_ key: StaticString, _ value: Bool) {}

    static func type(of command: Command) -> String {
        var probe = TypeProbe()
        EntryJSON.command(command, into: &probe)
        return probe.type ?? "?"
    }
}
