import Foundation
import LedgerCore
import NIOHTTP1
import Projection

/// Routes, authentication, parsing and rendering of the HTTP/JSON API (docs/API.md).
package final class HTTPAPI: @unchecked Sendable {
    private let sequencer: Sequencer
    private let tokens: TokenBook
    private let catalogLock = NSLock()
    private var catalog: ExchangeCatalog
    private let status: DaemonStatus

    package init(sequencer: Sequencer, tokens: TokenBook, status: DaemonStatus) {
        self.sequencer = sequencer
        self.tokens = tokens
        self.status = status
        catalog = sequencer.initialCatalog
    }

    package func updateCatalog(_ catalog: ExchangeCatalog) {
        catalogLock.withLock { self.catalog = catalog }
    }

    private var currentCatalog: ExchangeCatalog { catalogLock.withLock { catalog } }

    struct Failure: Error {
        var code: UInt16
        var name: String
        var message: String
        var status: HTTPResponseStatus
        /// With BUSY: when to retry (the Retry-After header, in whole seconds, and
        /// `retryAfterMs` in the body).
        var retryAfterMilliseconds: UInt64?

        init(_ error: WireError, _ message: String, retryAfterMilliseconds: UInt64? = nil) {
            // BUSY always says when to retry; the engine's queue drains within a group commit.
            self.retryAfterMilliseconds = retryAfterMilliseconds ?? (error == .busy ? 1 : nil)
            code = error.rawValue
            name = error.name
            self.message = message
            switch error {
            case .unauthorized: status = .unauthorized
            case .forbidden: status = .forbidden
            case .busy: status = .tooManyRequests
            case .notFound: status = .notFound
            case .unavailable: status = .serviceUnavailable
            case .malformed, .tooMuchPrecision, .badRequest, .outOfRange: status = .badRequest
            }
        }

        var answer: HTTPAnswer {
            var body: [String: Any] = ["code": Int(code), "reason": name, "message": message]
            if let retryAfterMilliseconds { body["retryAfterMs"] = Int(retryAfterMilliseconds) }
            return HTTPAnswer(status: status, body: JSON.text(body), retryAfterMilliseconds: retryAfterMilliseconds)
        }
    }

    func handle(head: HTTPRequestHead, body: [UInt8], send: @escaping @Sendable (HTTPAnswer) -> Void) {
        let path: String
        let query: [String: String]
        do {
            (path, query) = try Self.split(head.uri)
        } catch let failure as Failure {
            return send(failure.answer)
        } catch {
            return send(Failure(.badRequest, "\(error)").answer)
        }
        switch (head.method, path) {
        case (.GET, "/health/live"):
            return send(HTTPAnswer(status: .ok, body: JSON.text(["status": "live"])))
        case (.GET, "/health/ready"):
            let ready = status.ready && sequencer.isHealthy
            return send(HTTPAnswer(status: ready ? .ok : .serviceUnavailable, body: JSON.text(["status": ready ? "ready" : "not ready"])))
        case (.GET, "/metrics"):
            return send(
                HTTPAnswer(
                    status: .ok, body: Metrics.render(sequencer: sequencer, status: status), contentType: "text/plain; version=0.0.4"))
        default:
            break
        }
        do {
            guard let principal = authorize(head) else { throw Failure(.unauthorized, "missing or unknown bearer token") }
            if let wait = principal.limiter.admit(nowNanos: RateLimiter.monotonicNanos()) {
                throw Failure(
                    .busy, "token \(principal.grant.name) is over its \(principal.grant.ratePerSecond) requests a second",
                    retryAfterMilliseconds: UInt64((wait + 999_999) / 1_000_000))
            }
            let parameters = try Self.parameters(query: query, body: body)
            let catalog = currentCatalog
            let request = try Self.route(
                method: head.method, path: path, parameters: parameters, principal: principal, catalog: catalog)
            let reply = HTTPReply(render: { [catalog] in Self.render($0, catalog: catalog) }, send: send)
            guard status.accepting else { throw Failure(.unavailable, "shutting down") }
            sequencer.submit([EngineRequest(requestID: 0, kind: request, sink: reply)])
        } catch let failure as Failure {
            send(failure.answer)
        } catch {
            send(Failure(.badRequest, "\(error)").answer)
        }
    }

    /// The request's fields: the query's, then the body's (a JSON object). A body that is
    /// not one, a key given twice, or a field in both the query and the body is refused.
    static func parameters(query: [String: String], body: [UInt8]) throws -> [String: String] {
        var parameters = query
        if body.isEmpty { return parameters }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw Failure(.malformed, "body must be a JSON object")
        }
        if let key = JSONDuplicateKeys.first(in: body) {
            throw Failure(.badRequest, "\(key) is given twice in the body")
        }
        for (key, value) in object {
            // A field named twice (in the query and the body) is ambiguous: refuse it.
            guard parameters[key] == nil else { throw Failure(.badRequest, "\(key) is given in both the query and the body") }
            parameters[key] = "\(value)"
        }
        return parameters
    }

    /// What a request decodes to, for tests and the fuzzer: the command it would submit, a
    /// read, or the error code it would answer.
    package enum Decoded: Sendable, Hashable {
        case command(Command)
        case read
        case refused(code: UInt16)
    }

    /// Decodes a request exactly as `handle` does, without a sequencer: routing, fields,
    /// decimals, names, ids.
    package static func decode(
        method: HTTPMethod, uri: String, body: [UInt8], principal: Principal, catalog: ExchangeCatalog
    ) -> Decoded {
        do {
            let (path, query) = try split(uri)
            let parameters = try Self.parameters(query: query, body: body)
            switch try route(method: method, path: path, parameters: parameters, principal: principal, catalog: catalog) {
            case .command(let command): return .command(command)
            case .stateQuery, .read: return .read
            }
        } catch let failure as Failure {
            return .refused(code: failure.code)
        } catch {
            return .refused(code: WireError.badRequest.rawValue)
        }
    }

    private func authorize(_ head: HTTPRequestHead) -> Principal? {
        guard let header = head.headers.first(name: "Authorization"), header.hasPrefix("Bearer ") else { return nil }
        return tokens.authenticate(secret: header.utf8.dropFirst("Bearer ".utf8.count))
    }

    /// The role check, before any field is read: a token without the endpoint's role gets
    /// 403 whatever else is wrong with the request.
    private static func require(_ principal: Principal, has needed: Role) throws {
        guard principal.role == .admin || principal.role == needed else {
            throw Failure(
                .forbidden, "token \(principal.grant.name) has the \(principal.role.name) role; this endpoint needs \(needed.name)")
        }
    }

    /// The request the route decodes, once the token may send it (a trader only for its
    /// accounts; docs/OPERATIONS.md, "Tokens and roles").
    private static func route(
        method: HTTPMethod, path: String, parameters p: [String: String], principal: Principal, catalog: ExchangeCatalog
    ) throws -> EngineRequest.Kind {
        let kind = try decodeRoute(method: method, path: path, parameters: p, principal: principal, catalog: catalog)
        if case .command(let command) = kind, let refusal = principal.refusal(for: command) { throw Failure(.forbidden, refusal) }
        return kind
    }

    private static func readable(_ account: AccountID, by principal: Principal) throws -> AccountID {
        if let refusal = principal.refusal(toRead: account) { throw Failure(.forbidden, refusal) }
        return account
    }

    private static func decodeRoute(
        method: HTTPMethod, path: String, parameters p: [String: String], principal role: Principal, catalog: ExchangeCatalog
    ) throws -> EngineRequest.Kind {
        let fields = Fields(values: p, catalog: catalog)
        switch (method, path) {
        case (.GET, "/v1/state"):
            return .stateQuery
        case (.GET, "/v1/exchangeInfo"):
            return .read { _ in Views.exchangeInfo(catalog) }
        case (.GET, "/v1/account"):
            let account = try readable(fields.account(), by: role)
            return .read { state in Views.account(state, account) }
        case (.GET, "/v1/openOrders"):
            let account = try readable(fields.account(), by: role)
            return .read { state in Views.openOrders(state, account) }
        case (.GET, "/v1/depth"):
            let symbol = try fields.symbol()
            let limit = try fields.optionalUInt("limit") ?? 20
            guard limit >= 1, limit <= 1_000 else { throw Failure(.badRequest, "limit must be 1 ... 1000") }
            return .read { state in Views.depth(state, symbol.id, limit: Int(limit)) }
        case (.GET, "/v1/premiumIndex"):
            let symbol = try fields.symbol()
            return .read { state in Views.premiumIndex(state, symbol.id) }
        case (.GET, "/v1/leverageBracket"):
            let symbol = try fields.symbol()
            return .read { state in Views.leverageBracket(state, symbol.id) }
        case (.GET, "/v1/insuranceFund"):
            return .read { state in Views.insuranceFund(state) }
        case (.POST, "/v1/marginType"):
            try require(role, has: .trader)
            let isolated: Bool
            switch try fields.string("marginType") {
            case "ISOLATED": isolated = true
            case "CROSSED": isolated = false
            default: throw Failure(.badRequest, "marginType must be ISOLATED or CROSSED")
            }
            return .command(.setMarginMode(account: try fields.account(), symbol: try fields.symbol().id, isolated: isolated))
        case (.POST, "/v1/positionMargin"):
            try require(role, has: .trader)
            let symbol = try fields.symbol()
            let amount = try fields.decimal("amount", scale: Int(catalog.assets[Int(symbol.settleAsset)].scale))
            // Binance's convention: type 1 adds margin, type 2 removes it.
            let sign: Int64
            switch try fields.string("type") {
            case "1": sign = 1
            case "2": sign = -1
            default: throw Failure(.badRequest, "type must be 1 (add) or 2 (reduce)")
            }
            return .command(.adjustIsolatedMargin(account: try fields.account(), symbol: symbol.id, amountMinor: sign * amount))
        case (.POST, "/v1/indexPrice"):
            try require(role, has: .oracle)
            let symbol = try fields.symbol()
            return .command(.setIndexPrice(symbol: symbol.id, priceUnits: try fields.decimal("price", scale: Int(symbol.priceScale))))
        case (.POST, "/v1/fundingRate"):
            try require(role, has: .oracle)
            return .command(.setFundingRate(symbol: try fields.symbol().id, rateE8: try fields.decimal("fundingRate", scale: 8)))
        case (.POST, "/v1/premiumSample"):
            try require(role, has: .oracle)
            return .command(.addPremiumSample(symbol: try fields.symbol().id, premiumE8: try fields.decimal("premium", scale: 8)))
        case (.POST, "/v1/insuranceFund"):
            try require(role, has: .admin)
            let asset = try fields.asset()
            return .command(
                .depositInsuranceFund(
                    Transfer(
                        transferID: try fields.id("transferId"), account: 0, asset: asset.id,
                        amountMinor: try fields.decimal("amount", scale: Int(asset.scale)))))
        case (.POST, "/v1/order"):
            try require(role, has: .trader)
            return .command(.placeOrder(try fields.placeOrder()))
        case (.PUT, "/v1/order"):
            try require(role, has: .trader)
            let symbol = try fields.symbol()
            return .command(
                .amendOrder(
                    AmendOrder(
                        account: try fields.account(), orderID: try fields.optionalID("orderId") ?? 0,
                        clientOrderID: try fields.optionalID("clientOrderId") ?? 0,
                        priceUnits: try fields.decimal("price", scale: Int(symbol.priceScale)),
                        quantityUnits: try fields.decimal("quantity", scale: Int(symbol.quantityScale)))))
        case (.DELETE, "/v1/allOpenOrders"):
            try require(role, has: .trader)
            return .command(.cancelAllOrders(account: try fields.account(), symbol: try fields.symbol().id))
        case (.DELETE, "/v1/order"):
            try require(role, has: .trader)
            return .command(
                .cancelOrder(
                    CancelOrder(
                        account: try fields.account(), orderID: try fields.optionalID("orderId") ?? 0,
                        clientOrderID: try fields.optionalID("clientOrderId") ?? 0)))
        case (.POST, "/v1/leverage"):
            try require(role, has: .trader)
            let leverage = try fields.uint("leverage")
            guard leverage <= UInt64(UInt16.max) else { throw Failure(.badRequest, "leverage out of range") }
            return .command(.setLeverage(account: try fields.account(), symbol: try fields.symbol().id, leverage: UInt16(leverage)))
        case (.POST, "/v1/markPrice"):
            try require(role, has: .oracle)
            let symbol = try fields.symbol()
            return .command(.setMarkPrice(symbol: symbol.id, priceUnits: try fields.decimal("price", scale: Int(symbol.priceScale))))
        case (.POST, "/v1/deposit"), (.POST, "/v1/withdraw"):
            try require(role, has: .admin)
            let asset = try fields.asset()
            let transfer = Transfer(
                transferID: try fields.id("transferId"), account: try fields.account(), asset: asset.id,
                amountMinor: try fields.decimal("amount", scale: Int(asset.scale)))
            return .command(path == "/v1/deposit" ? .deposit(transfer) : .withdraw(transfer))
        case (.POST, "/v1/asset"):
            try require(role, has: .admin)
            let scale = try fields.uint("scale")
            guard scale <= 18 else { throw Failure(.badRequest, "scale must be 0 ... 18") }
            return .command(.listAsset(Asset(id: AssetID(catalog.assets.count), name: try fields.string("name"), scale: UInt8(scale))))
        case (.POST, "/v1/symbol"):
            try require(role, has: .admin)
            return .command(.listSymbol(try fields.symbolSpec(id: SymbolID(catalog.symbols.count))))
        default:
            throw Failure(.notFound, "no endpoint \(method) \(path)")
        }
    }

    /// The path and the query's fields. A parameter without a name or given twice is
    /// refused. (`?=` used to trap here, before authentication: found by FuzzHTTPRequest.)
    static func split(_ uri: String) throws -> (String, [String: String]) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            guard !key.isEmpty else { throw Failure(.badRequest, "a query parameter has no name") }
            guard query[key] == nil else { throw Failure(.badRequest, "\(key) is given twice in the query") }
            query[key] = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
        }
        return (String(uri[..<mark]), query)
    }

    /// Renders what the engine answered.
    static func render(_ response: Response, catalog: ExchangeCatalog) -> HTTPAnswer {
        switch response {
        case .error(let code, let message):
            return Failure(code, message).answer
        case .view(let text):
            return HTTPAnswer(status: .ok, body: text)
        case .state(let sequence, let hash):
            return HTTPAnswer(status: .ok, body: JSON.text(["sequence": Int(sequence), "stateHash": hexString(hash)]))
        case .committed(let sequence, let events):
            if case .rejected(let reason, let detail)? = events.last {
                var body: [String: Any] = [
                    "code": Int(reason.rawValue), "reason": reason.name, "sequence": Int(sequence),
                    "message": "rejected: \(reason.name.lowercased().replacingOccurrences(of: "_", with: " "))",
                ]
                if detail != 0 { body["detail"] = Int(detail) }
                return HTTPAnswer(status: .badRequest, body: JSON.text(body))
            }
            var body: [String: Any] = ["sequence": Int(sequence), "events": events.map { Views.event($0, catalog) }]
            // Funding settled at this entry's time comes first; the command's own events follow.
            let own = events.drop { if case .fundingSettled = $0 { true } else if case .fundingPaid = $0 { true } else { false } }
            if case .orderAccepted(let id)? = own.first {
                body["orderId"] = Int(id)
                var executed: Int64 = 0
                var status = "FILLED"
                for event in own {
                    switch event {
                    case .trade(let trade): executed += trade.quantityUnits
                    case .orderRested: status = executed > 0 ? "PARTIALLY_FILLED" : "NEW"
                    case .orderExpired: status = "EXPIRED"
                    default: break
                    }
                }
                body["status"] = status
                body["executedQtyUnits"] = Int(executed)
            }
            if case .transferReplayed(let original)? = own.first { body["originalSequence"] = Int(original) }
            return HTTPAnswer(status: .ok, body: JSON.text(body))
        }
    }
}

/// Request fields, by Binance's names, converted to the engine's units.
struct Fields {
    var values: [String: String]
    var catalog: ExchangeCatalog

    func string(_ name: String) throws -> String {
        guard let value = values[name], !value.isEmpty else { throw HTTPAPI.Failure(.badRequest, "missing \(name)") }
        return value
    }

    func uint(_ name: String) throws -> UInt64 {
        guard let value = UInt64(try string(name)) else { throw HTTPAPI.Failure(.badRequest, "\(name) must be a non-negative integer") }
        return value
    }

    func optionalUInt(_ name: String) throws -> UInt64? {
        values[name] == nil ? nil : try uint(name)
    }

    func int(_ name: String) throws -> Int64 {
        guard let value = Int64(try string(name)) else { throw HTTPAPI.Failure(.badRequest, "\(name) must be an integer") }
        return value
    }

    /// An id (account, order, transfer, client order id): 0 ... 2^63 − 1 (docs/FORMATS.md).
    func id(_ name: String) throws -> UInt64 {
        let value = try uint(name)
        guard value <= Limits.idMax else {
            throw HTTPAPI.Failure(.outOfRange, "\(name) \(value) is outside its domain 0 ... 9223372036854775807 (2^63 - 1)")
        }
        return value
    }

    func optionalID(_ name: String) throws -> UInt64? {
        values[name] == nil ? nil : try id(name)
    }

    func account() throws -> AccountID { try id("account") }

    func symbol() throws -> SymbolSpec {
        let name = try string("symbol")
        guard let symbol = catalog.symbol(named: name) else { throw HTTPAPI.Failure(.notFound, "unknown symbol \(name)") }
        return symbol
    }

    func asset() throws -> Asset {
        let name = try string("asset")
        guard let asset = catalog.asset(named: name) else { throw HTTPAPI.Failure(.notFound, "unknown asset \(name)") }
        return asset
    }

    /// A decimal string in units of 10^-scale. Negative values pass through so that the
    /// engine rejects (and journals) them like any other invalid amount.
    func decimal(_ name: String, scale: Int) throws -> Int64 {
        let text = try string(name)
        do {
            return try DecimalText.parse(text, scale: scale)
        } catch .tooMuchPrecision {
            throw HTTPAPI.Failure(.tooMuchPrecision, "\(name) has more than \(scale) decimal places")
        } catch .overflow {
            throw HTTPAPI.Failure(.badRequest, "\(name) is out of range")
        } catch {
            throw HTTPAPI.Failure(.badRequest, "\(name) must be a decimal string")
        }
    }

    func placeOrder() throws -> PlaceOrder {
        let symbol = try symbol()
        let side: Side
        switch try string("side") {
        case "BUY": side = .buy
        case "SELL": side = .sell
        default: throw HTTPAPI.Failure(.badRequest, "side must be BUY or SELL")
        }
        let type: OrderType
        switch try string("type") {
        case "LIMIT": type = .limit
        case "MARKET": type = .market
        case "STOP_MARKET": type = .stopMarket
        case "STOP": type = .stopLimit
        case "TAKE_PROFIT_MARKET": type = .takeProfitMarket
        case "TAKE_PROFIT": type = .takeProfitLimit
        case "TRAILING_STOP_MARKET": type = .trailingStopMarket
        case let other: throw HTTPAPI.Failure(.badRequest, "type \(other) is not an order type")
        }
        let tif: TimeInForce
        switch values["timeInForce"] ?? (type.hasLimitPrice ? "GTC" : "IOC") {
        case "GTC": tif = .gtc
        case "IOC": tif = .ioc
        case "FOK": tif = .fok
        case "GTX": tif = .gtx
        default: throw HTTPAPI.Failure(.badRequest, "timeInForce must be GTC, IOC, FOK or GTX")
        }
        let workingType: WorkingType
        switch values["workingType"] ?? "CONTRACT_PRICE" {
        case "CONTRACT_PRICE": workingType = .contractPrice
        case "MARK_PRICE": workingType = .markPrice
        default: throw HTTPAPI.Failure(.badRequest, "workingType must be CONTRACT_PRICE or MARK_PRICE")
        }
        let prevention: SelfTradePrevention
        switch values["selfTradePreventionMode"] ?? "EXPIRE_TAKER" {
        case "EXPIRE_TAKER": prevention = .expireTaker
        case "EXPIRE_MAKER": prevention = .expireMaker
        case "EXPIRE_BOTH": prevention = .expireBoth
        default: throw HTTPAPI.Failure(.badRequest, "selfTradePreventionMode must be EXPIRE_TAKER, EXPIRE_MAKER or EXPIRE_BOTH")
        }
        func flag(_ name: String) throws -> Bool {
            switch values[name] ?? "false" {
            case "true": return true
            case "false": return false
            default: throw HTTPAPI.Failure(.badRequest, "\(name) must be true or false")
            }
        }
        let closePosition = try flag("closePosition")
        let priceScale = Int(symbol.priceScale)
        return PlaceOrder(
            account: try account(), symbol: symbol.id, side: side, type: type, timeInForce: tif,
            priceUnits: type.hasLimitPrice ? try decimal("price", scale: priceScale) : 0,
            quantityUnits: closePosition && values["quantity"] == nil ? 0 : try decimal("quantity", scale: Int(symbol.quantityScale)),
            clientOrderID: try optionalID("clientOrderId") ?? 0,
            stopPriceUnits: values["stopPrice"] == nil ? 0 : try decimal("stopPrice", scale: priceScale), workingType: workingType,
            reduceOnly: try flag("reduceOnly"), closePosition: closePosition, selfTradePrevention: prevention,
            // Binance gives the callback rate in percent ("1" = 1%): 10^-6 percent = 10^-8.
            callbackRateE8: values["callbackRate"] == nil ? 0 : try decimal("callbackRate", scale: 6),
            activationPriceUnits: values["activationPrice"] == nil ? 0 : try decimal("activationPrice", scale: priceScale))
    }

    /// Listing terms; decimals in the symbol's own scales.
    func symbolSpec(id: SymbolID) throws -> SymbolSpec {
        let asset = try catalog.asset(named: string("settleAsset")) ?? { throw HTTPAPI.Failure(.notFound, "unknown settleAsset") }()
        let priceScaleValue = try uint("priceScale")
        let quantityScaleValue = try uint("quantityScale")
        guard priceScaleValue <= 18, quantityScaleValue <= 18 else { throw HTTPAPI.Failure(.badRequest, "scales must be 0 ... 18") }
        let (priceScale, quantityScale) = (Int(priceScaleValue), Int(quantityScaleValue))
        func leverage(_ name: String) throws -> UInt16 {
            let value = try uint(name)
            guard value <= 1_000 else { throw HTTPAPI.Failure(.badRequest, "\(name) out of range") }
            return UInt16(value)
        }
        return SymbolSpec(
            id: id, name: try string("name"), settleAsset: asset.id, priceScale: UInt8(priceScale),
            quantityScale: UInt8(quantityScale), tickSizePriceUnits: try decimal("tickSize", scale: priceScale),
            lotSizeQuantityUnits: try decimal("stepSize", scale: quantityScale),
            contractMultiplier: try optionalUInt("contractMultiplier").map { Int64(clamping: $0) } ?? 1,
            minNotionalMinor: try decimal("minNotional", scale: Int(asset.scale)),
            maxPriceUnits: try decimal("maxPrice", scale: priceScale), maxQuantityUnits: try decimal("maxQty", scale: quantityScale),
            maxPositionQuantityUnits: try decimal("maxPosition", scale: quantityScale), maxLeverage: try leverage("maxLeverage"),
            defaultLeverage: try leverage("defaultLeverage"), makerFeeRateE8: try decimal("makerFeeRate", scale: 8),
            takerFeeRateE8: try decimal("takerFeeRate", scale: 8), brackets: try brackets(settleScale: Int(asset.scale)),
            priceBandRateE8: try optionalDecimal("priceBand", scale: 8),
            fundingIntervalSeconds: Int64(clamping: try optionalUInt("fundingIntervalSeconds") ?? 0),
            fundingInterestRateE8: try optionalDecimal("fundingInterestRate", scale: 8),
            fundingClampRateE8: try optionalDecimal("fundingClamp", scale: 8),
            fundingCapRateE8: try optionalDecimal("fundingCap", scale: 8),
            liquidationFeeRateE8: try optionalDecimal("liquidationFeeRate", scale: 8))
    }

    func optionalDecimal(_ name: String, scale: Int) throws -> Int64 {
        values[name] == nil ? 0 : try decimal(name, scale: scale)
    }

    /// `brackets=cap:mmr:leverage,...` with the cap in the settlement asset and the
    /// maintenance margin rate as a fraction (0.004); absent: the v1 single bracket.
    func brackets(settleScale: Int) throws -> [MarginBracket]? {
        guard let text = values["brackets"] else { return nil }
        return try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":")
            guard parts.count == 3, let leverage = UInt16(parts[2]) else {
                throw HTTPAPI.Failure(.badRequest, "brackets must be cap:maintMarginRatio:leverage, comma separated")
            }
            let cap = try Fields(values: ["cap": String(parts[0])], catalog: catalog).decimal("cap", scale: settleScale)
            let rate = try Fields(values: ["rate": String(parts[1])], catalog: catalog).decimal("rate", scale: 8)
            return MarginBracket(notionalCapMinor: cap, maintenanceMarginRateE8: rate, maxLeverage: leverage)
        }
    }
}

/// JSON text with sorted keys.
enum JSON {
    static func text(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What the daemon is doing, for health and ingress.
package final class DaemonStatus: @unchecked Sendable {
    package init() {}

    private let lock = NSLock()
    private var _projector: Projector?
    package var projector: Projector? {
        get { lock.withLock { _projector } }
        set { lock.withLock { _projector = newValue } }
    }
    private var _ready = false
    private var _accepting = false
    package var ready: Bool {
        get { lock.withLock { _ready } }
        set { lock.withLock { _ready = newValue } }
    }
    package var accepting: Bool {
        get { lock.withLock { _accepting } }
        set { lock.withLock { _accepting = newValue } }
    }
}
