/// The names the API and the read models use for the engine's enumerations: Binance's
/// where Binance has one, documented in docs/API.md and docs/FORMATS.md ("Read models"),
/// and stable: a stored read model depends on them, never on Swift's case names.
/// A value with one stable name, found back from it.
public protocol APINamed: CaseIterable {
    var apiName: String { get }
}

extension APINamed {
    public init?(apiName: String) {
        guard let found = Self.allCases.first(where: { $0.apiName == apiName }) else { return nil }
        self = found
    }
}

extension Side: APINamed {
    public var apiName: String { self == .buy ? "BUY" : "SELL" }
}

extension OrderType: APINamed {
    public var apiName: String {
        switch self {
        case .limit: "LIMIT"
        case .market: "MARKET"
        case .stopMarket: "STOP_MARKET"
        case .stopLimit: "STOP"
        case .takeProfitMarket: "TAKE_PROFIT_MARKET"
        case .takeProfitLimit: "TAKE_PROFIT"
        case .trailingStopMarket: "TRAILING_STOP_MARKET"
        }
    }
}

extension TimeInForce: APINamed {
    public var apiName: String {
        switch self {
        case .gtc: "GTC"
        case .ioc: "IOC"
        case .fok: "FOK"
        case .gtx: "GTX"
        }
    }
}

extension WorkingType: APINamed {
    public var apiName: String { self == .markPrice ? "MARK_PRICE" : "CONTRACT_PRICE" }
}

extension SelfTradePrevention: APINamed {
    public var apiName: String {
        switch self {
        case .expireTaker: "EXPIRE_TAKER"
        case .expireMaker: "EXPIRE_MAKER"
        case .expireBoth: "EXPIRE_BOTH"
        }
    }
}

extension ExpiryReason {
    /// Why an order expired, in the read models' `order_events.reason`.
    public var apiName: String {
        switch self {
        case .immediateOrCancel: "IOC"
        case .fillOrKill: "FOK"
        case .postOnly: "GTX"
        case .selfTrade: "SELF_TRADE"
        case .matchLimit: "MATCH_LIMIT"
        }
    }
}

extension PostingKind {
    /// The `kind` of a ledger row (docs/FORMATS.md, "Read models").
    public var apiName: String {
        switch self {
        case .deposit: "deposit"
        case .withdrawal: "withdrawal"
        case .fee: "fee"
        case .realizedPnl: "realized_pnl"
        case .funding: "funding"
        case .insuranceDeposit: "insurance_deposit"
        case .liquidationFee: "liquidation_fee"
        case .liquidationSurplus: "liquidation_surplus"
        case .badDebt: "bad_debt"
        }
    }
}
