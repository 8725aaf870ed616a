import Foundation
import LedgerClient
import LedgerCore
import Testing

/// A WebSocket client of the plainest kind (RFC 6455 over our own socket): enough to read
/// the stream's text frames, and to be a client that never reads.
final class StreamClient: @unchecked Sendable {
    let connection: LedgerConnection
    private var buffer: [UInt8] = []
    /// The close frame's code and reason, once one came.
    private(set) var closed: (code: Int, reason: String)?

    init(port: Int, path: String, token: String?, receiveBufferBytes: Int? = nil) throws {
        connection = try LedgerConnection(host: "127.0.0.1", port: port, receiveBufferBytes: receiveBufferBytes)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        try connection.sendRaw(Array((request + "\r\n").utf8))
        // The response head, up to its blank line; what follows is frames.
        while true {
            buffer += try connection.receiveRawChunk()
            if let end = buffer.firstRange(of: Array("\r\n\r\n".utf8)) {
                head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<end.upperBound)
                break
            }
        }
    }

    private(set) var head = ""
    var upgraded: Bool { head.hasPrefix("HTTP/1.1 101") }

    /// The next text message, or nil once the server closed.
    func next() throws -> String? {
        while closed == nil {
            if let message = try frame() { return message }
        }
        return nil
    }

    /// Unread bytes start at `start` (compacted now and then: removing each frame from the
    /// front of a large buffer would be quadratic).
    private var start = 0

    private func need(_ count: Int) throws {
        while buffer.count - start < count {
            if start > 1 << 16 {
                buffer.removeSubrange(..<start)
                start = 0
            }
            buffer += try connection.receiveRawChunk()
        }
    }

    /// One frame: a text message, or nil for a control frame.
    private func frame() throws -> String? {
        try need(2)
        let opcode = buffer[start] & 0x0F
        var length = Int(buffer[start + 1] & 0x7F)
        var offset = 2
        if length == 126 {
            try need(4)
            length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            offset = 4
        } else if length == 127 {
            try need(10)
            length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[start + $1]) }
            offset = 10
        }
        try need(offset + length)
        let payload = Array(buffer[(start + offset)..<(start + offset + length)])
        start += offset + length
        switch opcode {
        case 1: return String(decoding: payload, as: UTF8.self)
        case 8:
            let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 0
            closed = (code, String(decoding: payload.dropFirst(2), as: UTF8.self))
            return nil
        case 9:
            // A ping: the pong a live client owes (masked, as every client frame is).
            let mask: [UInt8] = [1, 2, 3, 4]
            try connection.sendRaw([0x8A, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $1 ^ mask[$0 % 4] })
            return nil
        default: return nil
        }
    }

    func close() { connection.shutdownBoth() }
}

/// The live stream against the real daemon (issue 10).
@Suite struct StreamTests {
    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// Orders that trade: `count` pairs, each a resting sell and a buy that takes it.
    static func trades(_ count: Int, from first: Int) -> [Command] {
        (0..<count).flatMap { step -> [Command] in
            let price = 500_000 + Int64((first + step) % 50)
            return [
                .placeOrder(
                    PlaceOrder(account: 1, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: price, quantityUnits: 10)),
                .placeOrder(
                    PlaceOrder(account: 2, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: price, quantityUnits: 10)),
            ]
        }
    }

    static func setUp(_ daemon: DaemonProcess) throws {
        try daemon.start()
        let admin = try daemon.connect()
        try E2EExchange.run(E2EExchange.genesis, on: admin)
        try E2EExchange.run(
            (1...2 as ClosedRange<UInt64>).map {
                .deposit(Transfer(transferID: $0, account: $0, asset: 0, amountMinor: 10_000_000_000_000))
            },
            on: admin)
    }

    static func run(_ commands: [Command], on daemon: DaemonProcess) throws {
        let connection = try daemon.connect()
        for chunk in stride(from: 0, to: commands.count, by: 2_000) {
            let replies = try E2EExchange.run(Array(commands[chunk..<min(chunk + 2_000, commands.count)]), on: connection)
            for reply in replies {
                guard case .committed = reply else { throw StreamTestFailure(text: "\(reply)") }
            }
        }
    }

    struct StreamTestFailure: Error { var text: String }

    /// The trade ids `ledger-replay dump` finds in the journal, in order.
    static func journalTrades(_ daemon: DaemonProcess) throws -> [Int] {
        let dump = try runTool("ledger-replay", ["dump", "--data-dir", daemon.dataDirectory, "--json"])
        var ids: [Int] = []
        for line in dump.output.split(separator: "\n") {
            for event in json(String(line))["events"] as? [[String: Any]] ?? [] where event["type"] as? String == "TRADE" {
                ids.append(event["tradeId"] as? Int ?? -1)
            }
        }
        return ids
    }

    /// Reads trade messages until the one with `lastTrade`; returns their ids and the last
    /// sequence.
    static func read(_ client: StreamClient, through lastTrade: Int) throws -> (ids: [Int], sequence: Int) {
        var ids: [Int] = []
        var sequence = 0
        var strays: [String] = []
        while ids.last != lastTrade, let text = try client.next() {
            let message = json(text)
            let current = message["sequence"] as? Int ?? -1
            // (One expectation at the end: one per message would be most of the test's time.)
            if message["stream"] as? String != "BTCUSDT@trade" || current < sequence { strays.append(text) }
            sequence = current
            ids.append(message["t"] as? Int ?? -1)
        }
        #expect(strays.isEmpty, "messages of another stream or out of journal order: \(strays.prefix(3))")
        return (ids, sequence)
    }

    @Test func aClientThatResumesGetsEveryTradeOnceFromMemoryAndFromTheJournal() throws {
        let daemon = DaemonProcess()
        daemon.environment = ["LEDGERD_STREAM_BUFFER_MESSAGES": "1000"]
        defer { daemon.cleanup() }
        try Self.setUp(daemon)
        let path = "/v1/stream?streams=BTCUSDT@trade"
        // Live: 200 trades, then a disconnect.
        let first = try StreamClient(port: daemon.streamPort, path: path, token: DaemonProcess.traderToken)
        #expect(first.upgraded, "\(first.head)")
        try Self.run(Self.trades(200, from: 0), on: daemon)
        let a = try Self.read(first, through: 200)
        first.close()
        // 100 more while away: memory still holds them.
        try Self.run(Self.trades(100, from: 200), on: daemon)
        let second = try StreamClient(port: daemon.streamPort, path: path + "&from=\(a.sequence + 1)", token: DaemonProcess.traderToken)
        let b = try Self.read(second, through: 300)
        second.close()
        // 1,500 more while away: beyond the 1,000 messages memory keeps, so the journal.
        try Self.run(Self.trades(1_500, from: 300), on: daemon)
        // A state query is answered by the follower once it has applied (and rendered)
        // everything before it: the stream has dropped trade 301 by then.
        _ = try daemon.stateHash()
        let third = try StreamClient(port: daemon.streamPort, path: path + "&from=\(b.sequence + 1)", token: DaemonProcess.traderToken)
        let c = try Self.read(third, through: 1_800)
        third.close()
        let received = a.ids + b.ids + c.ids
        #expect(received.count == 1_800 && received == Array(1...1_800), "every trade once, in order")
        #expect(try Self.journalTrades(daemon) == received, "the stream says what the journal says")
        #expect(try daemon.metric("ledger_stream_journal_replays_total") == 1, "the third resume (only) read the journal")
    }

    @Test func aClientThatNeverReadsIsCutAndOthersKeepUp() throws {
        let daemon = DaemonProcess()
        daemon.environment = ["LEDGERD_STREAM_BUFFER_MESSAGES": "20000"]
        defer { daemon.cleanup() }
        try Self.setUp(daemon)
        let path = "/v1/stream?streams=BTCUSDT@trade,BTCUSDT@depth"
        let stalled = try StreamClient(port: daemon.streamPort, path: path, token: DaemonProcess.traderToken, receiveBufferBytes: 4_096)
        #expect(stalled.upgraded)
        let reader = try StreamClient(port: daemon.streamPort, path: "/v1/stream?streams=BTCUSDT@trade", token: DaemonProcess.traderToken)
        let received = Thread.detached { () -> Result<[Int], any Error> in Result { try Self.read(reader, through: 15_000).ids } }
        // 30,000 commands, some 45,000 messages: every command acknowledged whatever the
        // stalled client does (its socket holds 4 KiB, the daemon's side 256 KiB); it is cut
        // once the stream has overwritten what it did not read.
        try Self.run(Self.trades(15_000, from: 0), on: daemon)
        switch received.value! {
        case .success(let ids): #expect(ids.count == 15_000 && ids == Array(1...15_000), "a reading client gets everything")
        case .failure(let error): Issue.record("the reading client: \(error), closed \(String(describing: reader.closed))")
        }
        if case .success(let ids) = received.value!, ids.count != 15_000 {
            Issue.record("the reading client got \(ids.count), closed \(String(describing: reader.closed))")
        }
        #expect((try daemon.metric("ledger_stream_clients_cut_total") ?? 0) >= 1, "the stalled client was cut")
        // What the stalled client finds when it reads at last: the messages sent before the
        // cut, then the end of the connection.
        var count = 0
        while (try? stalled.next()) != nil { count += 1 }
        #expect(count < 45_000, "\(count) messages before the cut")
        let log = try String(contentsOfFile: daemon.logPath, encoding: .utf8)
        #expect(log.contains("stream client cut off") && log.contains("more than the stream keeps (stream.buffer_messages 20000)"))
        stalled.close()
        reader.close()
    }

    /// A trader's own account channel and public channels, live: each message of the entry
    /// that caused it, with its sequence.
    @Test func anAccountChannelCarriesItsOrdersFillsAndBalances() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try Self.setUp(daemon)
        let client = try StreamClient(
            port: daemon.streamPort, path: "/v1/stream?streams=account@1,BTCUSDT@markPrice,BTCUSDT@depth", token: TestTokens.alice.secret)
        #expect(client.upgraded, "\(client.head)")
        let ask =
            #"{"account":1,"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","price":"50000.0","quantity":"0.010","#
            + #""newClientOrderId":"ask:1"}"#
        let placed = try daemon.http("POST", "/v1/order", body: ask, token: TestTokens.alice.secret)
        let sequence = Self.json(placed.body)["sequence"] as? Int ?? -1
        let bid = #"{"account":2,"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"50000.0","quantity":"0.004"}"#
        let bidReply = try daemon.http("POST", "/v1/order", body: bid, token: DaemonProcess.traderToken)
        let filled = Self.json(bidReply.body)["sequence"] as? Int ?? -1
        #expect(try daemon.http("POST", "/v1/markPrice", body: #"{"symbol":"BTCUSDT","price":"50100.0"}"#).status == 200)
        var messages: [[String: Any]] = []
        // (Entries the follower renders after the client came, the genesis's mark among them
        // if it was still behind: only those from the order on are this test's.)
        while (messages.last?["sequence"] as? Int ?? 0) <= filled, let text = try client.next() {
            let message = Self.json(text)
            if message["sequence"] as? Int ?? 0 >= sequence { messages.append(message) }
        }
        let kinds = messages.map { "\($0["stream"] as? String ?? "")/\($0["e"] as? String ?? "")/\($0["sequence"] as? Int ?? 0)" }
        #expect(
            kinds == [
                "BTCUSDT@depth/depthUpdate/\(sequence)", "account@1/ORDER_TRADE_UPDATE/\(sequence)", "account@1/ACCOUNT_UPDATE/\(sequence)",
                "BTCUSDT@depth/depthUpdate/\(filled)", "account@1/ORDER_TRADE_UPDATE/\(filled)", "account@1/ACCOUNT_UPDATE/\(filled)",
                "BTCUSDT@markPrice/markPriceUpdate/\(filled + 1)",
            ], "\(kinds)")
        let order = messages[4]["o"] as? [String: Any] ?? [:]
        #expect(order["clientOrderId"] as? String == "ask:1" && order["status"] as? String == "PARTIALLY_FILLED")
        #expect(order["x"] as? String == "TRADE")
        #expect(order["executedQty"] as? String == "0.004", "\(order)")
        let fills = messages[5]["fills"] as? [[String: Any]] ?? []
        #expect(fills.count == 1 && fills[0]["m"] as? Bool == true && fills[0]["q"] as? String == "0.004", "\(messages[5])")
        #expect((messages[3]["a"] as? [[String]])?.first == ["50000.0", "0.006"], "\(messages[3])")
        #expect(messages[6]["p"] as? String == "50100.0")
        client.close()
    }

    @Test func refusalsAreTheAPIsJSON() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try Self.setUp(daemon)
        let cases: [(String, String?, Int, String)] = [
            ("/v1/stream?streams=BTCUSDT@trade", nil, 4_401, "a stream needs a token: Authorization: Bearer <token>"),
            ("/v1/stream?streams=BTCUSDT@trade", "wrong", 4_401, "a stream needs a token: Authorization: Bearer <token>"),
            (
                "/v1/stream?streams=BTCUSDT@kline", DaemonProcess.traderToken, 4_400,
                "stream kind kline is not one of trade, depth, markPrice, funding, forceOrder, account"
            ),
            ("/v1/stream?streams=NOPE@trade", DaemonProcess.traderToken, 4_404, "unknown symbol NOPE"),
            ("/v1/stream?streams=account@3", TestTokens.alice.secret, 4_403, "token alice may not read account 3"),
            ("/v1/stream?streams=BTCUSDT@trade&colour=red", DaemonProcess.traderToken, 4_400, "unknown parameters: colour"),
            ("/v1/stream?streams=BTCUSDT@trade&from=0", DaemonProcess.traderToken, 4_400, "from 0 is outside its domain 1 ... 2^63 - 1"),
            ("/v1/stream", DaemonProcess.traderToken, 4_400, "missing streams"),
        ]
        for (path, token, code, reason) in cases {
            let client = try StreamClient(port: daemon.streamPort, path: path, token: token)
            #expect(try client.next() == nil, "\(path): no message before the close")
            #expect(client.closed?.code == code && client.closed?.reason == reason, "\(path): \(String(describing: client.closed))")
            client.close()
        }
        // Without the upgrade, the same refusal is the API's JSON.
        let http = try LedgerConnection(host: "127.0.0.1", port: daemon.streamPort)
        try http.sendRaw(
            Array(
                "GET /v1/stream?streams=NOPE@trade HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(DaemonProcess.traderToken)\r\nConnection: close\r\n\r\n"
                    .utf8))
        var text = ""
        while let chunk = try? http.receiveRawChunk() { text += String(decoding: chunk, as: UTF8.self) }
        #expect(text.hasPrefix("HTTP/1.1 404") && text.contains(#""message":"unknown symbol NOPE""#), "\(text)")
    }
}

extension Thread {
    /// Runs `body` on a thread; `value` waits for it.
    static func detached<T: Sendable>(_ body: @escaping @Sendable () -> T) -> DetachedResult<T> {
        let result = DetachedResult<T>()
        let thread = Thread {
            let value = body()
            result.set(value)
        }
        thread.start()
        return result
    }
}

final class DetachedResult<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var stored: T?

    func set(_ value: T) {
        condition.withLock {
            stored = value
            condition.broadcast()
        }
    }

    var value: T? {
        condition.withLock {
            while stored == nil { condition.wait() }
            return stored
        }
    }
}
