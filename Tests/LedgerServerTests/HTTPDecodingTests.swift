import Foundation
import LedgerClient
import LedgerCore
import LedgerDigest
import Testing

@testable import LedgerServer

/// HTTP request decoding as the router runs it (`HTTPAPI.decode`): JSON and form bodies,
/// Codable parameters, unknown and repeated names, roles, domains.
@Suite struct HTTPDecodingTests {
    /// USDT and BTCUSDT (tick 0.1, lot 0.001), as the demo lists them.
    static let catalog: ExchangeCatalog = {
        var state = ExchangeState()
        var events: [Event] = []
        for command in DemoExchange.listings.prefix(2) {
            state.execute(command, sequence: state.lastSequence + 1, timeNanos: 1_000, into: &events)
        }
        return ExchangeCatalog(state)
    }()
    static func principal(_ role: Role, accounts: AccountSet = .none) -> Principal {
        TokenBook.standalone(
            TokenGrant(
                name: "t-\(role.name)", digest: SHA256.hash(Array(role.name.utf8)), role: role, accounts: accounts, ratePerSecond: 1,
                burst: 1))
    }
    static let admin = principal(.admin)

    func decode(_ method: String, _ uri: String, _ body: String = "", type: String? = nil, as principal: Principal = admin)
        -> HTTPAPI.Decoded
    {
        HTTPAPI.decode(method: method, uri: uri, contentType: type, body: Array(body.utf8), principal: principal, catalog: Self.catalog)
    }

    func refusal(_ method: String, _ uri: String, _ body: String = "", type: String? = nil, as principal: Principal = admin) -> String {
        let path = uri.split(separator: "?").first.map(String.init) ?? uri
        let query = uri.contains("?") ? String(uri.split(separator: "?", maxSplits: 1)[1]) : nil
        do {
            guard let endpoint = HTTPAPI.endpoints.first(where: { $0.method.rawValue == method && $0.path == path }) else {
                return "no endpoint"
            }
            try HTTPAPI.authorize(endpoint, principal)
            let parameters = try RequestParameters.parse(query: query, contentType: type, body: Array(body.utf8))
            _ = try HTTPAPI.decode(endpoint, parameters, principal, Self.catalog)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    static let order = PlaceOrder(
        account: 7, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_001, quantityUnits: 1_500, clientOrderID: 42,
        reduceOnly: true)

    @Test func jsonFormAndQueryDecodeToTheSameCommand() {
        let json =
            #"{"account":7,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":50000.1,"quantity":"1.5","newClientOrderId":42,"reduceOnly":true}"#
        let form = "account=7&symbol=BTCUSDT&side=BUY&type=LIMIT&price=50000.1&quantity=1.5&newClientOrderId=42&reduceOnly=true"
        #expect(decode("POST", "/v1/order", json, type: "application/json") == .command(.placeOrder(Self.order)))
        #expect(decode("POST", "/v1/order", json) == .command(.placeOrder(Self.order)))  // JSON without a content type
        #expect(
            decode("POST", "/v1/order", form, type: "application/x-www-form-urlencoded; charset=utf-8") == .command(.placeOrder(Self.order))
        )
        #expect(decode("POST", "/v1/order?" + form) == .command(.placeOrder(Self.order)))
        // Split between the query and the body.
        #expect(
            decode(
                "POST", "/v1/order?account=7&symbol=BTCUSDT",
                "side=BUY&type=LIMIT&price=50000.1&quantity=1.5&newClientOrderId=42&reduceOnly=true",
                type: "application/x-www-form-urlencoded"
            ) == .command(.placeOrder(Self.order)))
        // Percent escapes and + in a form.
        #expect(
            decode("POST", "/v1/asset", "name=AB%43&scale=2", type: "application/x-www-form-urlencoded")
                == .command(.listAsset(Asset(id: 1, name: "ABC", scale: 2))))
    }

    /// A JSON number keeps its text: 0.3 is 0.3, never 0.30000000000000004; `true` is true
    /// (it used to become "1" and be refused).
    @Test func jsonNumbersAndBooleansKeepTheirText() throws {
        let pairs = try FlatJSON.pairs(Array(#"{"a":0.3,"b":true,"c":-1e-2,"d":null,"e":"x\u00e9\n"}"#.utf8))
        #expect(pairs.map(\.0) == ["a", "b", "c", "e"])
        #expect(pairs.map(\.1) == ["0.3", "true", "-1e-2", "xé\n"])
        let rate = decode("POST", "/v1/fundingRate", #"{"symbol":"BTCUSDT","fundingRate":0.0003}"#)
        #expect(rate == .command(.setFundingRate(symbol: 0, rateE8: 30_000)))
    }

    @Test func everyUnknownParameterIsNamed() {
        let body = #"{"account":7,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"1","positionSide":"BOTH","foo":1}"#
        #expect(refusal("POST", "/v1/order", body) == "BAD_REQUEST: unknown parameters: positionSide, foo")
        #expect(refusal("GET", "/v1/state?x=1") == "BAD_REQUEST: unknown parameters: x")
        #expect(refusal("GET", "/v1/depth?symbol=BTCUSDT&limit=5&limt=6") == "BAD_REQUEST: unknown parameters: limt")
    }

    @Test func badBodiesAndNamesAreRefusedWithTheirFacts() {
        let cases: [(String, String, String, String?, String)] = [
            ("GET", "/v1/account?account=1&account=2", "", nil, "BAD_REQUEST: account is given twice in the query"),
            ("POST", "/v1/asset", #"{"name":"A","name":"B","scale":1}"#, nil, "BAD_REQUEST: name is given twice in the body"),
            ("POST", "/v1/asset?name=A", #"{"name":"B","scale":1}"#, nil, "BAD_REQUEST: name is given in both the query and the body"),
            (
                "POST", "/v1/asset", "name=A", "text/plain",
                "BAD_REQUEST: a body must be application/json or application/x-www-form-urlencoded, not text/plain"
            ),
            ("POST", "/v1/asset", #"{"name":["A"],"scale":1}"#, nil, "BAD_REQUEST: name must be a string, a number or a boolean"),
            ("POST", "/v1/asset", #"{"name":"A","scale":1"#, nil, "MALFORMED: body must be a JSON object: expected , or } at byte 21"),
            (
                "POST", "/v1/asset", #"{"name":"A","scale":01}"#, nil,
                "MALFORMED: body must be a JSON object: scale has an invalid value at byte 22"
            ),
            ("POST", "/v1/asset", "name=%zz", "application/x-www-form-urlencoded", "BAD_REQUEST: a bad percent escape in the body"),
            ("POST", "/v1/order", #"{"account":1,"side":"BUY","type":"MARKET","quantity":"1"}"#, nil, "BAD_REQUEST: missing symbol"),
            (
                "POST", "/v1/leverage", #"{"account":1,"symbol":"BTCUSDT","leverage":-3}"#, nil,
                "BAD_REQUEST: leverage must be a non-negative integer"
            ),
            (
                "POST", "/v1/order", #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"1","reduceOnly":1}"#, nil,
                "BAD_REQUEST: reduceOnly must be true or false"
            ),
            (
                "POST", "/v1/order", #"{"account":9223372036854775808,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"1"}"#,
                nil, "OUT_OF_RANGE: account 9223372036854775808 is outside its domain 0 ... 9223372036854775807 (2^63 - 1)"
            ),
            (
                "POST", "/v1/markPrice", #"{"symbol":"BTCUSDT","price":"50000.01"}"#, nil,
                "TOO_MUCH_PRECISION: price has more than 1 decimal places"
            ),
            ("POST", "/v1/markPrice", #"{"symbol":"NOPE","price":"1"}"#, nil, "NOT_FOUND: unknown symbol NOPE"),
        ]
        for (method, uri, body, type, expected) in cases {
            #expect(refusal(method, uri, body, type: type) == expected, "\(method) \(uri) \(body)")
        }
        #expect(decode("GET", "/v1/nothing") == .refused(code: WireError.notFound.rawValue, status: 404))
        #expect(decode("PATCH", "/v1/order") == .refused(code: WireError.notFound.rawValue, status: 404))
        #expect(decode("POST", "/v1/asset", "x", type: "text/csv") == .refused(code: WireError.badRequest.rawValue, status: 415))
    }

    /// The role is checked before the fields: a trader gets 403 on an oracle endpoint even
    /// with a broken body; a trader may not act for, or read, another's account.
    @Test func rolesComeFirstAndTradersKeepToTheirAccounts() throws {
        let alice = Self.principal(.trader, accounts: try AccountSet([1...2]))
        #expect(
            refusal("POST", "/v1/markPrice", "{", as: alice) == "FORBIDDEN: token t-trader has the trader role; this endpoint needs oracle")
        #expect(
            refusal("POST", "/v1/order", #"{"account":3,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"1"}"#, as: alice)
                == "FORBIDDEN: token t-trader may not act for account 3")
        #expect(refusal("GET", "/v1/account?account=3", as: alice) == "FORBIDDEN: token t-trader may not read account 3")
        #expect(decode("GET", "/v1/account?account=2", as: alice) == .read)
        #expect(
            refusal(
                "POST", "/v1/order", #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"1"}"#,
                as: Self.principal(.readOnly)) == "FORBIDDEN: token t-read-only has the read-only role; this endpoint needs trader")
        #expect(decode("GET", "/v1/account?account=99", as: Self.principal(.readOnly)) == .read)
    }

    /// Seeded random flat objects: what FlatJSON reads back equals what was written, and a
    /// cut anywhere inside is refused, never a trap.
    @Test func flatJSONReadsBackWhatItWasGivenAndRefusesEveryCut() throws {
        var generator = SeededGenerator(seed: 5)
        let alphabet = Array("aZ09 _-.\"\\/\u{e9}\u{1F600}\n\t")
        for _ in 0..<300 {
            var pairs: [(String, String)] = []
            var text = "{"
            for index in 0..<Int.random(in: 0...6, using: &generator) {
                let name = "k\(index)"
                let value = String((0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
                let data = try JSONSerialization.data(withJSONObject: [value], options: [])
                let encoded = String(decoding: data, as: UTF8.self).dropFirst().dropLast()
                text += (index > 0 ? ", " : "") + "\"\(name)\" : \(encoded)"
                pairs.append((name, value))
            }
            text += "}"
            let read = try FlatJSON.pairs(Array(text.utf8))
            #expect(read.map(\.0) == pairs.map(\.0) && read.map(\.1) == pairs.map(\.1), "\(text)")
            let bytes = Array(text.utf8)
            for cut in 0..<bytes.count {
                #expect(throws: HTTPFailure.self) { try FlatJSON.pairs(Array(bytes[..<cut])) }
            }
        }
    }

    /// The history endpoints' windows, at the edges of their domains (schemathesis found
    /// that endTime 9223372036854 overflowed when made nanoseconds and stopped the daemon).
    @Test func historyWindowsAcceptExactlyTheirDomain() {
        let base = "/v1/allOrders?account=1&symbol=BTCUSDT"
        for accepted in ["&endTime=9223372036854", "&startTime=0&endTime=0", "&startTime=9223372036854", "&limit=1", "&limit=1000"] {
            #expect(decode("GET", base + accepted) == .read, "\(accepted)")
        }
        let cases: [(String, String)] = [
            ("&endTime=9223372036855", "OUT_OF_RANGE: endTime 9223372036855 is outside its domain 0 ... 9223372036854 (ms since 1970)"),
            ("&startTime=-1", "OUT_OF_RANGE: startTime -1 is outside its domain 0 ... 9223372036854 (ms since 1970)"),
            ("&startTime=2&endTime=1", "BAD_REQUEST: startTime 2 is after endTime 1"),
            ("&limit=0", "BAD_REQUEST: limit must be 1 ... 1000"),
            ("&limit=1001", "BAD_REQUEST: limit must be 1 ... 1000"),
            ("&endTime=99999999999999999999", "BAD_REQUEST: endTime must be an integer"),
        ]
        for (query, expected) in cases {
            #expect(refusal("GET", base + query) == expected, "\(query)")
        }
        #expect(refusal("GET", "/v1/forceOrders?account=1&limit=101") == "BAD_REQUEST: limit must be 1 ... 100")
        #expect(refusal("GET", "/v1/order?account=1") == "BAD_REQUEST: orderId or origClientOrderId is required")
        #expect(decode("GET", "/v1/order?account=1&origClientOrderId=x-1") == .read)
        #expect(decode("GET", "/v1/trades?symbol=BTCUSDT&limit=1000") == .read)
    }
}
