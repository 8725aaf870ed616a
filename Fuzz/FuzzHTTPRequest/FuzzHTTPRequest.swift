import FuzzSupport
import FuzzSupportCore
import LedgerCore
import LedgerServer

/// The HTTP API's request decoding (routing, query and JSON fields, decimals, names, ids)
/// as `HTTPAPI.handle` runs it, on "METHOD URI\nBODY": never a trap; a command it yields is
/// either refused by the sequencer's domain check or reads back exactly from the codec,
/// and executes on a small exchange without a trap.
@_cdecl("FuzzHTTPRequest_main")
public func fuzzHTTPRequestMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let genesis = Samples.genesis
    let catalog = ExchangeCatalog(genesis)
    var events: [Event] = []
    let admin = TokenBook.standalone(
        TokenGrant(name: "fuzz", digest: [UInt8](repeating: 0, count: 32), role: .admin, accounts: .none, ratePerSecond: 1, burst: 1))
    return Fuzz.run(argc, argv, seeds: seeds) { bytes in
        guard let newline = bytes.firstIndex(of: 0x0A) else { return }
        let line = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ", maxSplits: 1)
        guard line.count == 2 else { return }
        let body = Array(bytes[(newline + 1)...])
        let decoded = HTTPAPI.decode(method: String(line[0]), uri: String(line[1]), body: body, principal: admin, catalog: catalog)
        guard case .command(let command) = decoded, command.domainViolation() == nil else { return }
        var writer = ByteWriter()
        command.encode(to: &writer)
        var reader = ByteReader(writer.bytes)
        Fuzz.require((try? Command.decode(from: &reader)) == command, "\(command) does not read back")
        var state = genesis
        events.removeAll(keepingCapacity: true)
        state.execute(command, sequence: state.lastSequence + 1, timeNanos: state.lastTimeNanos + 1_000, into: &events)
    }
}

func seeds() -> [[UInt8]] {
    [
        "POST /v1/deposit\n{\"account\":1,\"asset\":\"USDT\",\"amount\":\"1000.5\",\"transferId\":1}",
        "POST /v1/order\n{\"account\":1,\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"type\":\"LIMIT\",\"price\":\"49000.0\",\"quantity\":\"0.010\",\"clientOrderId\":\"42\"}",
        "POST /v1/order\n{\"account\":1,\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"type\":\"TRAILING_STOP_MARKET\",\"quantity\":\"0.010\",\"callbackRate\":\"1\",\"reduceOnly\":\"true\"}",
        "PUT /v1/order\n{\"account\":1,\"symbol\":\"BTCUSDT\",\"orderId\":3,\"price\":\"49001.0\",\"quantity\":\"0.005\"}",
        "DELETE /v1/order?account=1&orderId=3\n", "DELETE /v1/allOpenOrders?account=1&symbol=BTCUSDT\n",
        "GET /v1/depth?symbol=BTCUSDT&limit=5\n", "GET /v1/account?account=1\n", "GET /v1/state\n",
        "POST /v1/asset\n{\"name\":\"SOL\",\"scale\":6}",
        "POST /v1/symbol\n{\"name\":\"SOLUSDT\",\"settleAsset\":\"USDT\",\"priceScale\":2,\"quantityScale\":2,\"tickSize\":\"0.01\",\"stepSize\":\"0.01\",\"minNotional\":\"5\",\"maxPrice\":\"100000\",\"maxQty\":\"1000\",\"maxPosition\":\"10000\",\"maxLeverage\":20,\"defaultLeverage\":10,\"makerFeeRate\":\"0.0002\",\"takerFeeRate\":\"0.0005\",\"brackets\":\"50000:0.004:20,250000:0.005:10\"}",
        "POST /v1/markPrice\n{\"symbol\":\"BTCUSDT\",\"price\":\"50000.0\"}",
        "POST /v1/leverage\n{\"account\":1,\"symbol\":\"BTCUSDT\",\"leverage\":20}",
        "POST /v1/marginType\n{\"account\":1,\"symbol\":\"ETHUSDT\",\"marginType\":\"ISOLATED\"}",
        "POST /v1/positionMargin\n{\"account\":1,\"symbol\":\"ETHUSDT\",\"amount\":\"5\",\"type\":\"1\"}",
        "POST /v1/fundingRate\n{\"symbol\":\"BTCUSDT\",\"fundingRate\":\"0.0001\"}",
        "POST /v1/insuranceFund\n{\"asset\":\"USDT\",\"amount\":\"10\",\"transferId\":5}",
    ].map { Array($0.utf8) }
}
