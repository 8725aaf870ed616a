import Foundation
import LedgerClient
import LedgerCore
import Testing

/// The HTTP server as a client meets it (Hummingbird underneath): form and JSON bodies,
/// 413 over the body limit, 404 and 400 in the API's JSON, keep-alive in order.
@Suite struct HTTPServerTests {
    @Test func formBodiesLimitsAndErrorsAnswerInTheAPIsTerms() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        // A deposit and an order as a Binance client sends them: form-encoded.
        let form = "application/x-www-form-urlencoded"
        let deposit = try daemon.http("POST", "/v1/deposit", body: "account=1&asset=USDT&amount=1000&transferId=1", contentType: form)
        #expect(deposit.status == 200, "\(deposit.body)")
        let order = try daemon.http(
            "POST", "/v1/order", body: "account=1&symbol=BTCUSDT&side=BUY&type=LIMIT&price=49000&quantity=0.01&reduceOnly=false",
            token: DaemonProcess.traderToken, contentType: form)
        #expect(order.status == 200 && order.body.contains(#""status":"NEW""#), "\(order.body)")
        // Binance's times (the entry's journal time, ms) and the executed quantity as a decimal.
        let placed = try #require(try JSONSerialization.jsonObject(with: Data(order.body.utf8)) as? [String: Any])
        let transactTime = try #require(placed["transactTime"] as? Int, "\(order.body)")
        #expect(abs(Double(transactTime) / 1_000 - Date().timeIntervalSince1970) < 60, "\(transactTime)")
        #expect(placed["updateTime"] as? Int == transactTime)
        #expect(placed["executedQty"] as? String == "0" && placed["executedQtyUnits"] == nil, "\(order.body)")
        // A sell into that bid: the ticker shows the trade's price; premiumIndex and the
        // ticker without a symbol list every symbol.
        #expect(
            try daemon.http("POST", "/v1/deposit", body: "account=2&asset=USDT&amount=1000&transferId=2", contentType: form).status == 200)
        let sell = try daemon.http(
            "POST", "/v1/order", body: #"{"account":2,"symbol":"BTCUSDT","side":"SELL","type":"MARKET","quantity":"0.004"}"#,
            token: DaemonProcess.traderToken)
        #expect(sell.body.contains(#""executedQty":"0.004""#) && sell.body.contains(#""status":"FILLED""#), "\(sell.body)")
        let ticker = try daemon.http("GET", "/v1/ticker/price?symbol=BTCUSDT")
        #expect(ticker.status == 200 && ticker.body.contains(#""price":"49000.0""#), "\(ticker.body)")
        let all = try daemon.http("GET", "/v1/premiumIndex")
        #expect(all.status == 200 && all.body.hasPrefix("[") && all.body.contains(#""symbol":"BTCUSDT""#), "\(all.body)")
        #expect(try daemon.http("GET", "/v1/ticker/price").body.hasPrefix("[{"))
        #expect(try daemon.http("GET", "/v1/insuranceFund").body.contains(#""positions":[]"#))
        // A JSON true is true (it used to become "1" and be refused).
        let json = try daemon.http(
            "POST", "/v1/order",
            body: #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"0.01","reduceOnly":true}"#,
            token: DaemonProcess.traderToken)
        #expect(json.status == 400 && json.body.contains("REDUCE_ONLY_REJECTED"), "\(json.body)")
        // Every unknown parameter is named, nothing is journaled.
        let before = try daemon.stateHash()
        let unknown = try daemon.http(
            "POST", "/v1/order",
            body:
                #"{"account":1,"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"0.01","positionSide":"BOTH","newOrderRespType":"ACK"}"#,
            token: DaemonProcess.traderToken)
        #expect(unknown.status == 400, "\(unknown.body)")
        #expect(unknown.body.contains("unknown parameters: positionSide, newOrderRespType"), "\(unknown.body)")
        // Over the body limit (64 KiB): 413, in the API's JSON.
        let huge = "{\"name\":\"" + String(repeating: "x", count: 70_000) + "\",\"scale\":2}"
        let tooLarge = try daemon.http("POST", "/v1/asset", body: huge)
        #expect(tooLarge.status == 413, "\(tooLarge.status) \(tooLarge.body.prefix(200))")
        #expect(tooLarge.body.contains(#""reason":"BAD_REQUEST""#), "\(tooLarge.body)")
        // No such endpoint: 404 naming it; a body of another type: 415.
        let missing = try daemon.http("GET", "/v1/nothing")
        #expect(missing.status == 404 && missing.body.contains("no endpoint GET /v1/nothing"), "\(missing.headers) \(missing.body)")
        // An account that never received money: 404 (it used to be a 200 with a NOT_FOUND body).
        let stranger = try daemon.http("GET", "/v1/account?account=999")
        #expect(stranger.status == 404 && stranger.body.contains("no account 999"), "\(stranger.body)")
        let csv = try daemon.http("POST", "/v1/asset", body: "name,scale", contentType: "text/csv")
        #expect(csv.status == 415, "\(csv.body)")
        #expect(try daemon.stateHash() == before)
    }

    /// Three requests written at once on one kept-alive connection: three answers, in order.
    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try LedgerConnection(host: "127.0.0.1", port: daemon.httpPort)
        let auth = "Authorization: Bearer \(DaemonProcess.adminToken)\r\n"
        let requests =
            "GET /v1/nothing-1 HTTP/1.1\r\nHost: x\r\n\(auth)\r\n" + "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /v1/nothing-3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(auth)\r\n"
        try connection.sendRaw(Array(requests.utf8))
        var response: [UInt8] = []
        while let chunk = try? connection.receiveRawChunk() { response += chunk }
        let text = String(decoding: response, as: UTF8.self)
        let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(statuses == ["404", "200", "404"], "\(text)")
        let first = try #require(text.range(of: "nothing-1")), third = try #require(text.range(of: "nothing-3"))
        #expect(first.lowerBound < third.lowerBound)
    }
}
