import HTTPTypes
import LedgerCore

/// The endpoints (docs/API.md), each with the Decodable parameters it takes: anything else
/// a request carries is named in a 400.
extension HTTPAPI {
    static let endpoints: [Endpoint] = [
        Endpoint(method: .get, path: "/v1/state", role: nil) { parameters, _, _ in
            _ = try ParameterDecoder.decode(NoParameters.self, from: parameters)
            return .stateQuery
        },
        Endpoint(method: .get, path: "/v1/exchangeInfo", role: nil) { parameters, _, catalog in
            _ = try ParameterDecoder.decode(NoParameters.self, from: parameters)
            return .read { _, _ in .view(Views.exchangeInfo(catalog)) }
        },
        Endpoint(method: .get, path: "/v1/account", role: nil) { parameters, principal, _ in
            let account = try readable(try ParameterDecoder.decode(AccountQuery.self, from: parameters).account, by: principal)
            return .read { state, _ in Views.account(state, account) }
        },
        Endpoint(method: .get, path: "/v1/openOrders", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(AccountSymbolQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try query.symbol.map { try Convert.symbol($0, catalog).id }
            return .read { state, history in .view(HistoryViews.openOrders(state, history, account: account, symbol: symbol)) }
        },
        Endpoint(method: .get, path: "/v1/order", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(OrderQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try query.symbol.map { try Convert.symbol($0, catalog).id }
            let client = try Convert.clientOrderID(query.origClientOrderId, "origClientOrderId")
            guard query.orderId != nil || !client.isNone else { throw HTTPFailure(.badRequest, "orderId or origClientOrderId is required") }
            let orderID = try query.orderId.map { try Convert.id($0, "orderId") }
            return .read { state, history in
                HistoryViews.order(
                    state, history, account: account, symbol: symbol, orderID: orderID, clientOrderID: client.isNone ? nil : client)
            }
        },
        Endpoint(method: .get, path: "/v1/allOrders", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(AllOrdersQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try Convert.symbol(query.symbol, catalog).id
            let window = try Convert.window(query.startTime, query.endTime, query.limit, default: 500, max: 1_000)
            let from = try query.orderId.map { try Convert.id($0, "orderId") }
            return .read { state, history in
                .view(HistoryViews.allOrders(state, history, account: account, symbol: symbol, fromOrderID: from, window: window))
            }
        },
        Endpoint(method: .get, path: "/v1/userTrades", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(UserTradesQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try Convert.symbol(query.symbol, catalog).id
            let window = try Convert.window(query.startTime, query.endTime, query.limit, default: 500, max: 1_000)
            let from = try query.fromId.map { try Convert.id($0, "fromId") }
            return .read { state, history in
                .view(HistoryViews.userTrades(state, history, account: account, symbol: symbol, fromID: from, window: window))
            }
        },
        Endpoint(method: .get, path: "/v1/income", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(IncomeQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try query.symbol.map { try Convert.symbol($0, catalog).id }
            let kind = try query.incomeType.map { name in
                guard let kind = IncomeRecord.Kind(rawValue: name) else {
                    let names = IncomeRecord.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    throw HTTPFailure(.badRequest, "incomeType must be one of \(names)")
                }
                return kind
            }
            let window = try Convert.window(query.startTime, query.endTime, query.limit, default: 100, max: 1_000)
            return .read { state, history in
                .view(HistoryViews.income(state, history, account: account, symbol: symbol, kind: kind, window: window))
            }
        },
        Endpoint(method: .get, path: "/v1/forceOrders", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(ForceOrdersQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try query.symbol.map { try Convert.symbol($0, catalog).id }
            let autoClose = try query.autoCloseType.map { name in
                guard let kind = OrderRecord.AutoClose(rawValue: name) else {
                    throw HTTPFailure(.badRequest, "autoCloseType must be LIQUIDATION or ADL")
                }
                return kind
            }
            let window = try Convert.window(query.startTime, query.endTime, query.limit, default: 50, max: 100)
            return .read { state, history in
                .view(HistoryViews.forceOrders(state, history, account: account, symbol: symbol, autoClose: autoClose, window: window))
            }
        },
        Endpoint(method: .get, path: "/v1/positionRisk", role: nil) { parameters, principal, catalog in
            let query = try ParameterDecoder.decode(AccountSymbolQuery.self, from: parameters)
            let account = try readable(query.account, by: principal)
            let symbol = try query.symbol.map { try Convert.symbol($0, catalog).id }
            return .read { state, _ in HistoryViews.positionRisk(state, account: account, symbol: symbol) }
        },
        Endpoint(method: .get, path: "/v1/trades", role: nil) { parameters, _, catalog in
            let query = try ParameterDecoder.decode(DepthQuery.self, from: parameters)
            let symbol = try Convert.symbol(query.symbol, catalog).id
            let limit = try Convert.window(nil, nil, query.limit.map { Int64(clamping: $0) }, default: 500, max: 1_000).limit
            return .read { state, history in .view(HistoryViews.trades(state, history, symbol: symbol, limit: limit)) }
        },
        Endpoint(method: .get, path: "/v1/depth", role: nil) { parameters, _, catalog in
            let query = try ParameterDecoder.decode(DepthQuery.self, from: parameters)
            let symbol = try Convert.symbol(query.symbol, catalog)
            let limit = query.limit ?? 20
            guard limit >= 1, limit <= 1_000 else { throw HTTPFailure(.badRequest, "limit must be 1 ... 1000") }
            return .read { state, _ in .view(Views.depth(state, symbol.id, limit: Int(limit))) }
        },
        Endpoint(method: .get, path: "/v1/premiumIndex", role: nil) { parameters, _, catalog in
            let symbol = try ParameterDecoder.decode(OptionalSymbolQuery.self, from: parameters).symbol.map {
                try Convert.symbol($0, catalog).id
            }
            return .read { state, _ in .view(Views.premiumIndex(state, symbol)) }
        },
        Endpoint(method: .get, path: "/v1/ticker/price", role: nil) { parameters, _, catalog in
            let symbol = try ParameterDecoder.decode(OptionalSymbolQuery.self, from: parameters).symbol.map {
                try Convert.symbol($0, catalog).id
            }
            return .read { state, _ in .view(Views.tickerPrice(state, symbol)) }
        },
        Endpoint(method: .get, path: "/v1/leverageBracket", role: nil) { parameters, _, catalog in
            let symbol = try Convert.symbol(try ParameterDecoder.decode(SymbolQuery.self, from: parameters).symbol, catalog)
            return .read { state, _ in .view(Views.leverageBracket(state, symbol.id)) }
        },
        Endpoint(method: .get, path: "/v1/insuranceFund", role: nil) { parameters, _, _ in
            _ = try ParameterDecoder.decode(NoParameters.self, from: parameters)
            return .read { state, _ in .view(Views.insuranceFund(state)) }
        },
        Endpoint(method: .post, path: "/v1/marginType", role: .trader) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(MarginTypeRequest.self, from: parameters)
            let isolated: Bool
            switch request.marginType {
            case "ISOLATED": isolated = true
            case "CROSSED": isolated = false
            default: throw HTTPFailure(.badRequest, "marginType must be ISOLATED or CROSSED")
            }
            return .command(
                .setMarginMode(
                    account: try Convert.id(request.account, "account"), symbol: try Convert.symbol(request.symbol, catalog).id,
                    isolated: isolated))
        },
        Endpoint(method: .post, path: "/v1/positionMargin", role: .trader) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(PositionMarginRequest.self, from: parameters)
            let symbol = try Convert.symbol(request.symbol, catalog)
            let amount = try Convert.decimal(request.amount, "amount", scale: Int(catalog.assets[Int(symbol.settleAsset)].scale))
            // Binance's convention: type 1 adds margin, type 2 removes it.
            let sign: Int64
            switch request.type {
            case "1": sign = 1
            case "2": sign = -1
            default: throw HTTPFailure(.badRequest, "type must be 1 (add) or 2 (reduce)")
            }
            return .command(
                .adjustIsolatedMargin(account: try Convert.id(request.account, "account"), symbol: symbol.id, amountMinor: sign * amount))
        },
        Endpoint(method: .post, path: "/v1/indexPrice", role: .oracle) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(PriceRequest.self, from: parameters)
            let symbol = try Convert.symbol(request.symbol, catalog)
            return .command(
                .setIndexPrice(symbol: symbol.id, priceUnits: try Convert.decimal(request.price, "price", scale: Int(symbol.priceScale))))
        },
        Endpoint(method: .post, path: "/v1/markPrice", role: .oracle) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(PriceRequest.self, from: parameters)
            let symbol = try Convert.symbol(request.symbol, catalog)
            return .command(
                .setMarkPrice(symbol: symbol.id, priceUnits: try Convert.decimal(request.price, "price", scale: Int(symbol.priceScale))))
        },
        Endpoint(method: .post, path: "/v1/fundingRate", role: .oracle) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(FundingRateRequest.self, from: parameters)
            return .command(
                .setFundingRate(
                    symbol: try Convert.symbol(request.symbol, catalog).id,
                    rateE8: try Convert.decimal(request.fundingRate, "fundingRate", scale: 8)))
        },
        Endpoint(method: .post, path: "/v1/premiumSample", role: .oracle) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(PremiumSampleRequest.self, from: parameters)
            return .command(
                .addPremiumSample(
                    symbol: try Convert.symbol(request.symbol, catalog).id,
                    premiumE8: try Convert.decimal(request.premium, "premium", scale: 8)))
        },
        Endpoint(method: .post, path: "/v1/insuranceFund", role: .admin) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(InsuranceFundRequest.self, from: parameters)
            let asset = try Convert.asset(request.asset, catalog)
            return .command(
                .depositInsuranceFund(
                    Transfer(
                        transferID: try Convert.id(request.transferId, "transferId"), account: 0, asset: asset.id,
                        amountMinor: try Convert.decimal(request.amount, "amount", scale: Int(asset.scale)))))
        },
        Endpoint(method: .post, path: "/v1/deposit", role: .admin) { parameters, _, catalog in
            .command(.deposit(try transfer(parameters, catalog)))
        },
        Endpoint(method: .post, path: "/v1/withdraw", role: .admin) { parameters, _, catalog in
            .command(.withdraw(try transfer(parameters, catalog)))
        },
        Endpoint(method: .post, path: "/v1/order", role: .trader) { parameters, _, catalog in
            .command(.placeOrder(try ParameterDecoder.decode(NewOrderRequest.self, from: parameters).order(catalog)))
        },
        Endpoint(method: .put, path: "/v1/order", role: .trader) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(AmendOrderRequest.self, from: parameters)
            let symbol = try Convert.symbol(request.symbol, catalog)
            return .command(
                .amendOrder(
                    AmendOrder(
                        account: try Convert.id(request.account, "account"), orderID: try Convert.id(request.orderId ?? 0, "orderId"),
                        clientOrderID: try Convert.clientOrderID(request.origClientOrderId, "origClientOrderId"),
                        priceUnits: try Convert.decimal(request.price, "price", scale: Int(symbol.priceScale)),
                        quantityUnits: try Convert.decimal(request.quantity, "quantity", scale: Int(symbol.quantityScale)))))
        },
        Endpoint(method: .delete, path: "/v1/order", role: .trader) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(CancelOrderRequest.self, from: parameters)
            if let symbol = request.symbol { _ = try Convert.symbol(symbol, catalog) }
            return .command(
                .cancelOrder(
                    CancelOrder(
                        account: try Convert.id(request.account, "account"), orderID: try Convert.id(request.orderId ?? 0, "orderId"),
                        clientOrderID: try Convert.clientOrderID(request.origClientOrderId, "origClientOrderId"))))
        },
        Endpoint(method: .delete, path: "/v1/allOpenOrders", role: .trader) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(AccountSymbolRequest.self, from: parameters)
            return .command(
                .cancelAllOrders(
                    account: try Convert.id(request.account, "account"), symbol: try Convert.symbol(request.symbol, catalog).id))
        },
        Endpoint(method: .post, path: "/v1/leverage", role: .trader) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(LeverageRequest.self, from: parameters)
            guard request.leverage <= UInt64(UInt16.max) else { throw HTTPFailure(.badRequest, "leverage out of range") }
            return .command(
                .setLeverage(
                    account: try Convert.id(request.account, "account"), symbol: try Convert.symbol(request.symbol, catalog).id,
                    leverage: UInt16(request.leverage)))
        },
        Endpoint(method: .post, path: "/v1/asset", role: .admin) { parameters, _, catalog in
            let request = try ParameterDecoder.decode(AssetRequest.self, from: parameters)
            guard request.scale <= 18 else { throw HTTPFailure(.badRequest, "scale must be 0 ... 18") }
            return .command(.listAsset(Asset(id: AssetID(catalog.assets.count), name: request.name, scale: UInt8(request.scale))))
        },
        Endpoint(method: .post, path: "/v1/symbol", role: .admin) { parameters, _, catalog in
            .command(
                .listSymbol(
                    try ParameterDecoder.decode(SymbolRequest.self, from: parameters).spec(id: SymbolID(catalog.symbols.count), catalog)))
        },
    ]

    static func readable(_ account: UInt64, by principal: Principal) throws -> AccountID {
        let id = try Convert.id(account, "account")
        if let refusal = principal.refusal(toRead: id) { throw HTTPFailure(.forbidden, refusal) }
        return id
    }

    static func transfer(_ parameters: RequestParameters, _ catalog: ExchangeCatalog) throws -> Transfer {
        let request = try ParameterDecoder.decode(TransferRequest.self, from: parameters)
        let asset = try Convert.asset(request.asset, catalog)
        return Transfer(
            transferID: try Convert.id(request.transferId, "transferId"), account: try Convert.id(request.account, "account"),
            asset: asset.id, amountMinor: try Convert.decimal(request.amount, "amount", scale: Int(asset.scale)))
    }
}

// MARK: Parameters, by Binance's names where Binance has the field

struct NoParameters: Decodable {}

struct AccountQuery: Decodable {
    var account: UInt64
}

struct AccountSymbolQuery: Decodable {
    var account: UInt64
    var symbol: String?
}

struct OrderQuery: Decodable {
    var account: UInt64
    var symbol: String?
    var orderId: UInt64?
    var origClientOrderId: String?
}

struct AllOrdersQuery: Decodable {
    var account: UInt64
    var symbol: String
    var orderId: UInt64?
    var startTime: Int64?
    var endTime: Int64?
    var limit: Int64?
}

struct UserTradesQuery: Decodable {
    var account: UInt64
    var symbol: String
    var fromId: UInt64?
    var startTime: Int64?
    var endTime: Int64?
    var limit: Int64?
}

struct IncomeQuery: Decodable {
    var account: UInt64
    var symbol: String?
    var incomeType: String?
    var startTime: Int64?
    var endTime: Int64?
    var limit: Int64?
}

struct ForceOrdersQuery: Decodable {
    var account: UInt64
    var symbol: String?
    var autoCloseType: String?
    var startTime: Int64?
    var endTime: Int64?
    var limit: Int64?
}

struct SymbolQuery: Decodable {
    var symbol: String
}

struct OptionalSymbolQuery: Decodable {
    var symbol: String?
}

struct DepthQuery: Decodable {
    var symbol: String
    var limit: UInt64?
}

struct AccountSymbolRequest: Decodable {
    var account: UInt64
    var symbol: String
}

struct MarginTypeRequest: Decodable {
    var account: UInt64
    var symbol: String
    var marginType: String
}

struct PositionMarginRequest: Decodable {
    var account: UInt64
    var symbol: String
    var amount: String
    var type: String
}

struct PriceRequest: Decodable {
    var symbol: String
    var price: String
}

struct FundingRateRequest: Decodable {
    var symbol: String
    var fundingRate: String
}

struct PremiumSampleRequest: Decodable {
    var symbol: String
    var premium: String
}

struct InsuranceFundRequest: Decodable {
    var asset: String
    var amount: String
    var transferId: UInt64
}

struct TransferRequest: Decodable {
    var account: UInt64
    var asset: String
    var amount: String
    var transferId: UInt64
}

struct LeverageRequest: Decodable {
    var account: UInt64
    var symbol: String
    var leverage: UInt64
}

struct AssetRequest: Decodable {
    var name: String
    var scale: UInt64
}

struct AmendOrderRequest: Decodable {
    var account: UInt64
    var symbol: String
    var orderId: UInt64?
    var origClientOrderId: String?
    var price: String
    var quantity: String
}

struct CancelOrderRequest: Decodable {
    var account: UInt64
    var symbol: String?
    var orderId: UInt64?
    var origClientOrderId: String?
}

struct NewOrderRequest: Decodable {
    var account: UInt64
    var symbol: String
    var side: String
    var type: String
    var timeInForce: String?
    var price: String?
    var quantity: String?
    var newClientOrderId: String?
    var stopPrice: String?
    var workingType: String?
    var reduceOnly: Bool?
    var closePosition: Bool?
    var selfTradePreventionMode: String?
    var callbackRate: String?
    var activationPrice: String?

    func order(_ catalog: ExchangeCatalog) throws -> PlaceOrder {
        let symbol = try Convert.symbol(symbol, catalog)
        let side: Side
        switch self.side {
        case "BUY": side = .buy
        case "SELL": side = .sell
        default: throw HTTPFailure(.badRequest, "side must be BUY or SELL")
        }
        let type: OrderType
        switch self.type {
        case "LIMIT": type = .limit
        case "MARKET": type = .market
        case "STOP_MARKET": type = .stopMarket
        case "STOP": type = .stopLimit
        case "TAKE_PROFIT_MARKET": type = .takeProfitMarket
        case "TAKE_PROFIT": type = .takeProfitLimit
        case "TRAILING_STOP_MARKET": type = .trailingStopMarket
        case let other: throw HTTPFailure(.badRequest, "type \(other) is not an order type")
        }
        let tif: TimeInForce
        switch timeInForce ?? (type.hasLimitPrice ? "GTC" : "IOC") {
        case "GTC": tif = .gtc
        case "IOC": tif = .ioc
        case "FOK": tif = .fok
        case "GTX": tif = .gtx
        default: throw HTTPFailure(.badRequest, "timeInForce must be GTC, IOC, FOK or GTX")
        }
        let working: WorkingType
        switch workingType ?? "CONTRACT_PRICE" {
        case "CONTRACT_PRICE": working = .contractPrice
        case "MARK_PRICE": working = .markPrice
        default: throw HTTPFailure(.badRequest, "workingType must be CONTRACT_PRICE or MARK_PRICE")
        }
        let prevention: SelfTradePrevention
        switch selfTradePreventionMode ?? "EXPIRE_TAKER" {
        case "EXPIRE_TAKER": prevention = .expireTaker
        case "EXPIRE_MAKER": prevention = .expireMaker
        case "EXPIRE_BOTH": prevention = .expireBoth
        default: throw HTTPFailure(.badRequest, "selfTradePreventionMode must be EXPIRE_TAKER, EXPIRE_MAKER or EXPIRE_BOTH")
        }
        let close = closePosition ?? false
        let priceScale = Int(symbol.priceScale)
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value else { throw HTTPFailure(.badRequest, "missing \(name)") }
            return value
        }
        return PlaceOrder(
            account: try Convert.id(account, "account"), symbol: symbol.id, side: side, type: type, timeInForce: tif,
            priceUnits: type.hasLimitPrice ? try Convert.decimal(try required(price, "price"), "price", scale: priceScale) : 0,
            quantityUnits: close && quantity == nil
                ? 0 : try Convert.decimal(try required(quantity, "quantity"), "quantity", scale: Int(symbol.quantityScale)),
            clientOrderID: try Convert.clientOrderID(newClientOrderId, "newClientOrderId"),
            stopPriceUnits: try stopPrice.map { try Convert.decimal($0, "stopPrice", scale: priceScale) } ?? 0, workingType: working,
            reduceOnly: reduceOnly ?? false, closePosition: close, selfTradePrevention: prevention,
            // Binance gives the callback rate in percent ("1" = 1%): 10^-6 percent = 10^-8.
            callbackRateE8: try callbackRate.map { try Convert.decimal($0, "callbackRate", scale: 6) } ?? 0,
            activationPriceUnits: try activationPrice.map { try Convert.decimal($0, "activationPrice", scale: priceScale) } ?? 0)
    }
}

/// Listing terms; decimals in the symbol's own scales.
struct SymbolRequest: Decodable {
    var name: String
    var settleAsset: String
    var priceScale: UInt64
    var quantityScale: UInt64
    var tickSize: String
    var stepSize: String
    var contractMultiplier: UInt64?
    var minNotional: String
    var maxPrice: String
    var maxQty: String
    var maxPosition: String
    var maxLeverage: UInt64
    var defaultLeverage: UInt64
    var makerFeeRate: String
    var takerFeeRate: String
    /// `cap:mmr:leverage,...` with the cap in the settlement asset and the maintenance
    /// margin rate as a fraction (0.004); absent: the v1 single bracket.
    var brackets: String?
    var priceBand: String?
    var fundingIntervalSeconds: UInt64?
    var fundingInterestRate: String?
    var fundingClamp: String?
    var fundingCap: String?
    var liquidationFeeRate: String?

    func spec(id: SymbolID, _ catalog: ExchangeCatalog) throws -> SymbolSpec {
        let asset = try Convert.asset(settleAsset, catalog, field: "settleAsset")
        guard priceScale <= 18, quantityScale <= 18 else { throw HTTPFailure(.badRequest, "scales must be 0 ... 18") }
        let (prices, quantities, settle) = (Int(priceScale), Int(quantityScale), Int(asset.scale))
        func leverage(_ value: UInt64, _ name: String) throws -> UInt16 {
            guard value <= 1_000 else { throw HTTPFailure(.badRequest, "\(name) out of range") }
            return UInt16(value)
        }
        func optional(_ value: String?, _ name: String, scale: Int) throws -> Int64 {
            try value.map { try Convert.decimal($0, name, scale: scale) } ?? 0
        }
        return SymbolSpec(
            id: id, name: name, settleAsset: asset.id, priceScale: UInt8(prices), quantityScale: UInt8(quantities),
            tickSizePriceUnits: try Convert.decimal(tickSize, "tickSize", scale: prices),
            lotSizeQuantityUnits: try Convert.decimal(stepSize, "stepSize", scale: quantities),
            contractMultiplier: contractMultiplier.map { Int64(clamping: $0) } ?? 1,
            minNotionalMinor: try Convert.decimal(minNotional, "minNotional", scale: settle),
            maxPriceUnits: try Convert.decimal(maxPrice, "maxPrice", scale: prices),
            maxQuantityUnits: try Convert.decimal(maxQty, "maxQty", scale: quantities),
            maxPositionQuantityUnits: try Convert.decimal(maxPosition, "maxPosition", scale: quantities),
            maxLeverage: try leverage(maxLeverage, "maxLeverage"), defaultLeverage: try leverage(defaultLeverage, "defaultLeverage"),
            makerFeeRateE8: try Convert.decimal(makerFeeRate, "makerFeeRate", scale: 8),
            takerFeeRateE8: try Convert.decimal(takerFeeRate, "takerFeeRate", scale: 8), brackets: try parsedBrackets(settle),
            priceBandRateE8: try optional(priceBand, "priceBand", scale: 8),
            fundingIntervalSeconds: Int64(clamping: fundingIntervalSeconds ?? 0),
            fundingInterestRateE8: try optional(fundingInterestRate, "fundingInterestRate", scale: 8),
            fundingClampRateE8: try optional(fundingClamp, "fundingClamp", scale: 8),
            fundingCapRateE8: try optional(fundingCap, "fundingCap", scale: 8),
            liquidationFeeRateE8: try optional(liquidationFeeRate, "liquidationFeeRate", scale: 8))
    }

    func parsedBrackets(_ settleScale: Int) throws -> [MarginBracket]? {
        guard let brackets else { return nil }
        return try brackets.split(separator: ",").map { item in
            let parts = item.split(separator: ":")
            guard parts.count == 3, let leverage = UInt16(parts[2]) else {
                throw HTTPFailure(.badRequest, "brackets must be cap:maintMarginRatio:leverage, comma separated")
            }
            return MarginBracket(
                notionalCapMinor: try Convert.decimal(String(parts[0]), "cap", scale: settleScale),
                maintenanceMarginRateE8: try Convert.decimal(String(parts[1]), "rate", scale: 8), maxLeverage: leverage)
        }
    }
}

/// From request text to the engine's units and ids.
enum Convert {
    /// An id (account, order, transfer, client order id): 0 ... 2^63 − 1 (docs/FORMATS.md).
    static func id(_ value: UInt64, _ name: String) throws -> UInt64 {
        guard value <= Limits.idMax else {
            throw HTTPFailure(.outOfRange, "\(name) \(value) is outside its domain 0 ... 9223372036854775807 (2^63 - 1)")
        }
        return value
    }

    /// A client order id: 1 ... 36 characters of `[.A-Z:/a-z0-9_-]` (Binance's), or none
    /// when the parameter is absent.
    static func clientOrderID(_ text: String?, _ name: String) throws -> ClientOrderID {
        guard let text else { return .none }
        guard !text.isEmpty, let id = ClientOrderID(text: text) else {
            let shown = DomainViolation.quoted(Array(text.utf8))
            throw HTTPFailure(.outOfRange, "\(name) \(shown) is outside its domain \(ClientOrderID.domain)")
        }
        return id
    }

    /// startTime and endTime (ms since 1970, 0 … 9,223,372,036,854 so that nanoseconds
    /// fit) and a limit of 1 … `max`.
    static func window(_ start: Int64?, _ end: Int64?, _ limit: Int64?, default: Int, max: Int) throws -> HistoryViews.Window {
        let most: Int64 = Int64.max / 1_000_000
        for (name, value) in [("startTime", start), ("endTime", end)] {
            if let value, value < 0 || value > most {
                throw HTTPFailure(.outOfRange, "\(name) \(value) is outside its domain 0 ... \(most) (ms since 1970)")
            }
        }
        if let start, let end, start > end { throw HTTPFailure(.badRequest, "startTime \(start) is after endTime \(end)") }
        if let limit, limit < 1 || limit > Int64(max) { throw HTTPFailure(.badRequest, "limit must be 1 ... \(max)") }
        return HistoryViews.Window(
            startNanos: start.map { $0 * 1_000_000 },
            // The end's whole millisecond; at the last one, the last nanosecond there is.
            endNanos: end.map { ($0 * 1_000_000).addingReportingOverflow(999_999).overflow ? Int64.max : $0 * 1_000_000 + 999_999 },
            limit: limit.map { Int($0) } ?? `default`)
    }

    static func symbol(_ name: String, _ catalog: ExchangeCatalog) throws -> SymbolSpec {
        guard let symbol = catalog.symbol(named: name) else { throw HTTPFailure(.notFound, "unknown symbol \(name)") }
        return symbol
    }

    static func asset(_ name: String, _ catalog: ExchangeCatalog, field: String = "asset") throws -> Asset {
        guard let asset = catalog.asset(named: name) else {
            throw HTTPFailure(.notFound, field == "asset" ? "unknown asset \(name)" : "unknown \(field)")
        }
        return asset
    }

    /// A decimal string in units of 10^-scale. Negative values pass through so that the
    /// engine rejects (and journals) them like any other invalid amount.
    static func decimal(_ text: String, _ name: String, scale: Int) throws -> Int64 {
        do {
            return try DecimalText.parse(text, scale: scale)
        } catch .tooMuchPrecision {
            throw HTTPFailure(.tooMuchPrecision, "\(name) has more than \(scale) decimal places")
        } catch .overflow {
            throw HTTPFailure(.badRequest, "\(name) is out of range")
        } catch {
            throw HTTPFailure(.badRequest, "\(name) must be a decimal string")
        }
    }
}
