import Foundation
import LedgerCore
import Testing

/// The history endpoints against the real daemon (issue 10): an order followed by id and
/// by its text client order id through fills and a cancel, all orders, user trades,
/// income that adds up to the wallet, public trades, position risk, and a liquidation in
/// force orders; refusals with their reasons.
@Suite struct HistoryHTTPTests {
    static let listing =
        #"{"name":"BTCPERP","settleAsset":"USDT","priceScale":"1","quantityScale":"3","tickSize":"0.1","stepSize":"0.001","#
        + #""minNotional":"5","maxPrice":"1000000","maxQty":"1000","maxPosition":"10000","maxLeverage":"125","#
        + #""defaultLeverage":"20","makerFeeRate":"0.0002","takerFeeRate":"0.0005","#
        + #""brackets":"50000:0.004:125,250000:0.005:100,1000000:0.01:50,10000000:0.025:20","liquidationFeeRate":"0.0125"}"#

    static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    static func units(_ value: Any?, scale: Int) -> Int64 {
        guard let text = value as? String, let units = try? DecimalText.parse(text, scale: scale) else { return Int64.min }
        return units
    }

    @Test func historyFollowsOrdersTradesIncomeAndLiquidations() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        let trader = DaemonProcess.traderToken
        func call(_ method: String, _ path: String, _ body: String? = nil, token: String? = trader) throws -> (status: Int, body: String) {
            let answer = try daemon.http(method, path, body: body, token: token)
            return (answer.status, answer.body)
        }
        func object(_ path: String) throws -> [String: Any] {
            let answer = try call("GET", path)
            #expect(answer.status == 200, "\(path): \(answer.body)")
            return try #require(try Self.json(answer.body) as? [String: Any], "\(path): \(answer.body)")
        }
        func array(_ path: String) throws -> [[String: Any]] {
            let answer = try call("GET", path)
            #expect(answer.status == 200, "\(path): \(answer.body)")
            return try #require(try Self.json(answer.body) as? [[String: Any]], "\(path): \(answer.body)")
        }
        #expect(try call("POST", "/v1/symbol", Self.listing, token: DaemonProcess.adminToken).status == 200)
        #expect(
            try call("POST", "/v1/markPrice", #"{"symbol":"BTCPERP","price":"50000.0"}"#, token: DaemonProcess.adminToken).status == 200)
        for (account, amount) in [(1, "100000"), (2, "100000"), (3, "150")] {
            let body = #"{"account":\#(account),"asset":"USDT","amount":"\#(amount)","transferId":\#(account)}"#
            #expect(try call("POST", "/v1/deposit", body, token: DaemonProcess.adminToken).status == 200)
        }

        // An order with a text client order id, half filled, then cancelled by that id.
        let bid =
            #"{"account":1,"symbol":"BTCPERP","side":"BUY","type":"LIMIT","price":"49000.0","quantity":"0.010","newClientOrderId":"h-1:a/b"}"#
        let placed = try call("POST", "/v1/order", bid)
        let orderID = try #require((try Self.json(placed.body) as? [String: Any])?["orderId"] as? Int, "\(placed.body)")
        let before = try daemon.stateHash()
        let retry = try call("POST", "/v1/order", bid)
        #expect(retry.status == 400 && retry.body.contains("DUPLICATE_CLIENT_ORDER_ID"), "\(retry.body)")
        #expect(try daemon.stateHash().hash == before.hash, "a retry with the same client order id changes nothing")
        let sell =
            #"{"account":2,"symbol":"BTCPERP","side":"SELL","type":"LIMIT","price":"49000.0","quantity":"0.004","newClientOrderId":"s-1"}"#
        #expect(try call("POST", "/v1/order", sell).status == 200)
        let partly = try object("/v1/order?account=1&orderId=\(orderID)")
        #expect(partly["status"] as? String == "PARTIALLY_FILLED" && partly["clientOrderId"] as? String == "h-1:a/b", "\(partly)")
        #expect(partly["executedQty"] as? String == "0.004" && partly["origQty"] as? String == "0.010", "\(partly)")
        #expect(partly["avgPrice"] as? String == "49000.0" && partly["cumQuote"] as? String == "196.0000", "\(partly)")
        #expect((partly["time"] as? Int ?? 0) > 1_700_000_000_000, "\(partly)")
        let byClient = try object("/v1/order?account=1&origClientOrderId=h-1:a/b&symbol=BTCPERP")
        #expect(byClient["orderId"] as? Int == orderID)
        #expect(try call("GET", "/v1/openOrders?account=1&symbol=BTCPERP").body.contains(#""orderId":\#(orderID)"#))
        #expect(try call("DELETE", "/v1/order?account=1&origClientOrderId=h-1:a/b").status == 200)
        let cancelled = try object("/v1/order?account=1&orderId=\(orderID)")
        #expect(cancelled["status"] as? String == "CANCELED" && cancelled["executedQty"] as? String == "0.004", "\(cancelled)")
        #expect(try array("/v1/openOrders?account=1").isEmpty)
        let all = try array("/v1/allOrders?account=2&symbol=BTCPERP")
        #expect(all.count == 1 && all[0]["status"] as? String == "FILLED" && all[0]["clientOrderId"] as? String == "s-1", "\(all)")

        // User trades: one each side; public trades.
        let mine = try array("/v1/userTrades?account=1&symbol=BTCPERP")
        #expect(mine.count == 1, "\(mine)")
        #expect(mine.first?["maker"] as? Bool == true && mine.first?["buyer"] as? Bool == true && mine.first?["orderId"] as? Int == orderID)
        #expect(mine.first?["commission"] as? String == "0.039200", "maker fee 0.02% of 196: \(mine)")
        let theirs = try array("/v1/userTrades?account=2&symbol=BTCPERP")
        #expect(theirs.first?["maker"] as? Bool == false && theirs.first?["commission"] as? String == "0.098000", "\(theirs)")
        let public_ = try array("/v1/trades?symbol=BTCPERP")
        #expect(public_.count == 1 && public_[0]["isBuyerMaker"] as? Bool == true && public_[0]["qty"] as? String == "0.004")

        // A liquidation: account 3, 150 USDT, long 0.050 at 49,000 (20x), the mark falls.
        #expect(
            try call(
                "POST", "/v1/order", #"{"account":2,"symbol":"BTCPERP","side":"SELL","type":"LIMIT","price":"49000.0","quantity":"0.050"}"#
            ).status == 200)
        let long = try call("POST", "/v1/order", #"{"account":3,"symbol":"BTCPERP","side":"BUY","type":"MARKET","quantity":"0.050"}"#)
        #expect(long.status == 200 && long.body.contains("FILLED"), "\(long.body)")
        #expect(
            try call(
                "POST", "/v1/order", #"{"account":1,"symbol":"BTCPERP","side":"BUY","type":"LIMIT","price":"47000.0","quantity":"0.100"}"#
            ).status == 200)
        let risk = try array("/v1/positionRisk?account=3")
        #expect(
            risk.count == 1 && risk[0]["positionAmt"] as? String == "0.050" && risk[0]["notional"] as? String == "2500.000000", "\(risk)")
        let fall = try call("POST", "/v1/markPrice", #"{"symbol":"BTCPERP","price":"46000.0"}"#, token: DaemonProcess.adminToken)
        // The liquidation is the tick journaled right after the mark (docs/RULES.md, "Work in
        // bounded steps"), before any later request.
        #expect(fall.status == 200, "\(fall.body)")
        let forced = try array("/v1/forceOrders?account=3")
        #expect(forced.count == 1, "\(forced)")
        #expect(forced.first?["autoCloseType"] as? String == "LIQUIDATION" && forced.first?["side"] as? String == "SELL")
        #expect(forced.first?["status"] as? String == "FILLED" && forced.first?["executedQty"] as? String == "0.050", "\(forced)")
        #expect(try array("/v1/forceOrders?account=3&autoCloseType=ADL").isEmpty)
        #expect(try array("/v1/positionRisk?account=3&symbol=BTCPERP").first?["positionAmt"] as? String == "0.000")

        // Income adds up to the wallet: transfers, fees, PnL and the liquidation's clearance.
        for account in 1...3 {
            let income = try array("/v1/income?account=\(account)&limit=1000")
            let total = income.reduce(Int64(0)) { $0 + Self.units($1["income"], scale: 6) }
            let wallet = try object("/v1/account?account=\(account)")
            let usdt = try #require((wallet["assets"] as? [[String: Any]])?.first { $0["asset"] as? String == "USDT" })
            #expect(total == Self.units(usdt["walletBalance"], scale: 6), "account \(account): \(income) vs \(usdt)")
        }
        let kinds = Set(try array("/v1/income?account=3").compactMap { $0["incomeType"] as? String })
        #expect(kinds.isSuperset(of: ["TRANSFER", "COMMISSION", "REALIZED_PNL", "INSURANCE_CLEAR"]), "\(kinds)")
        #expect(try array("/v1/income?account=3&incomeType=TRANSFER").count == 1)

        // Refusals: each with its reason, and nothing is read for another's account.
        let refusals: [(String, String?, Int, String)] = [
            ("/v1/order?account=1&orderId=999999", trader, 404, "no order 999999 of account 1"),
            ("/v1/order?account=2&orderId=\(orderID)", trader, 404, "no order \(orderID) of account 2"),
            ("/v1/order?account=1&origClientOrderId=nope", trader, 404, "no order of account 1 with clientOrderId nope"),
            ("/v1/order?account=1", trader, 400, "orderId or origClientOrderId is required"),
            ("/v1/order?account=1&origClientOrderId=a%20b", trader, 400, "is outside its domain 1 ... 36 characters"),
            ("/v1/allOrders?account=3&symbol=BTCPERP", TestTokens.alice.secret, 403, "token alice may not read account 3"),
            ("/v1/allOrders?account=1&symbol=BTCPERP&limit=0", trader, 400, "limit must be 1 ... 1000"),
            ("/v1/forceOrders?account=1&limit=101", trader, 400, "limit must be 1 ... 100"),
            ("/v1/income?account=1&incomeType=BONUS", trader, 400, "incomeType must be one of TRANSFER, REALIZED_PNL"),
            ("/v1/income?account=1&startTime=5&endTime=4", trader, 400, "startTime 5 is after endTime 4"),
            ("/v1/userTrades?account=1&symbol=BTCPERP&startTime=-1", trader, 400, "startTime -1 is outside its domain"),
            ("/v1/userTrades?account=1", trader, 400, "symbol"),
            ("/v1/trades?symbol=NOPE", trader, 404, "unknown symbol NOPE"),
            ("/v1/positionRisk?account=77", trader, 404, "no account 77"),
            ("/v1/allOrders?account=1&symbol=BTCPERP&colour=red", trader, 400, "colour"),
        ]
        for (path, token, status, message) in refusals {
            let answer = try call("GET", path, token: token)
            #expect(answer.status == status && answer.body.contains(message), "\(path): \(answer.status) \(answer.body)")
        }
        // Time windows: nothing before the first entry, everything from 0.
        #expect(try array("/v1/allOrders?account=1&symbol=BTCPERP&endTime=1000").isEmpty)
        #expect(try array("/v1/allOrders?account=1&symbol=BTCPERP&startTime=0").count == 2)
        #expect(try array("/v1/allOrders?account=1&symbol=BTCPERP&orderId=\(orderID + 1)").count == 1)
    }
}
