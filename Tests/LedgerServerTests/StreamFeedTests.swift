import Foundation
import LedgerClient
import LedgerCore
import Testing

@testable import LedgerServer

/// The live stream's messages from durable entries (`StreamFeed`) and its memory
/// (`StreamHub`), without a socket: depth diffs rebuild the books exactly, each message
/// carries its entry's sequence, and a reader too far behind is cut with the reason.
@Suite struct StreamFeedTests {
    struct Run {
        var state = ExchangeState()
        var history = RecentHistory(limits: HistoryLimits(), startingAfter: 0)
        var feed = StreamFeed()
        var messages: [StreamMessage] = []
        var events: [Event] = []
        var perEntry: [SequenceNumber: [Event]] = [:]

        mutating func run(_ command: Command) {
            events.removeAll()
            let sequence = state.lastSequence + 1
            let time = 1_764_000_000_000_000_000 + Int64(sequence) * 1_000_000
            var touched = Set<StreamFeed.Level>()
            // As the follower does: the levels before, the entry applied, the levels after.
            var before = state
            before.execute(command, sequence: sequence, timeNanos: time, into: &events)
            StreamFeed.touchedLevels(events[...], state: state, into: &touched)
            state = before
            history.record(command, events[...], sequence: sequence, timeNanos: time, state: state)
            StreamFeed.touchedLevels(events[...], state: state, into: &touched)
            feed.messages(
                command, events[...], sequence: sequence, timeNanos: time, touched: touched, state: state, history: history, into: &messages
            )
            perEntry[sequence] = events
        }
    }

    static func object(_ message: StreamMessage) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(message.text.utf8)) as? [String: Any])
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func depthDiffsRebuildTheBooksAndEveryMessageNamesItsEntry(seed: UInt64) throws {
        var run = Run()
        for command in E2EWorld.genesis { run.run(command) }
        for account in 1...6 as ClosedRange<UInt64> {
            run.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
        }
        var random = SeededRandom(seed: seed)
        var placed: [(AccountID, OrderID)] = []
        for _ in 0..<1_500 {
            let account = AccountID(1 + random.next() % 6)
            switch random.next() % 10 {
            case 0..<6:
                let side: Side = random.next() % 2 == 0 ? .buy : .sell
                let price = 499_000 + Int64(random.next() % 2_000)
                run.run(
                    .placeOrder(
                        PlaceOrder(
                            account: account, symbol: 0, side: side, type: .limit, timeInForce: random.next() % 5 == 0 ? .ioc : .gtc,
                            priceUnits: price, quantityUnits: 1 + Int64(random.next() % 40))))
                if case .orderAccepted(let id)? = run.events.first { placed.append((account, id)) }
            case 6..<8 where !placed.isEmpty:
                let (owner, id) = placed[Int(random.next() % UInt64(placed.count))]
                run.run(.cancelOrder(CancelOrder(account: owner, orderID: id)))
            case 8 where !placed.isEmpty:
                let (owner, id) = placed[Int(random.next() % UInt64(placed.count))]
                run.run(
                    .amendOrder(
                        AmendOrder(
                            account: owner, orderID: id, priceUnits: 499_000 + Int64(random.next() % 2_000),
                            quantityUnits: 1 + Int64(random.next() % 40))))
            default:
                run.run(.setMarkPrice(symbol: 0, priceUnits: 499_000 + Int64(random.next() % 2_000)))
            }
        }
        // Replay the depth diffs onto empty books: the state's books, level for level.
        var books: [Side: [String: String]] = [.buy: [:], .sell: [:]]
        var lastU = 0
        var trades = 0
        for message in run.messages {
            let object = try Self.object(message)
            #expect(object["sequence"] as? Int == Int(message.sequence))
            #expect(run.perEntry[message.sequence] != nil)
            switch message.channel {
            case .depth:
                #expect(object["pu"] as? Int == lastU, "depth updates chain by pu")
                lastU = object["u"] as? Int ?? -1
                for (key, side) in [("b", Side.buy), ("a", Side.sell)] {
                    for level in object[key] as? [[String]] ?? [] { books[side]![level[0]] = level[1] == "0.000" ? nil : level[1] }
                }
            case .trades: trades += 1
            default: break
            }
        }
        let spec = run.state.symbols[0]
        for side in [Side.buy, .sell] {
            var expected: [String: String] = [:]
            for level in run.state.books.bySymbol[0].levels(side) {
                expected[DecimalText.format(level.priceUnits, scale: Int(spec.priceScale))] =
                    DecimalText.format(level.quantityUnits, scale: Int(spec.quantityScale))
            }
            #expect(books[side]! == expected, "side \(side)")
            #expect(!expected.isEmpty)
        }
        let tradeEvents = run.perEntry.values.reduce(0) { $0 + $1.count { if case .trade = $0 { true } else { false } } }
        #expect(trades == tradeEvents && trades > 0)
        // Each account's last order update says what its history says.
        var lastUpdate: [Int: [String: Any]] = [:]
        for message in run.messages {
            guard case .account = message.channel, let order = try Self.object(message)["o"] as? [String: Any] else { continue }
            lastUpdate[order["orderId"] as? Int ?? 0] = order
        }
        for (id, order) in lastUpdate {
            let record = try #require(run.history.order(OrderID(id)))
            #expect(order["status"] as? String == record.status.rawValue && order["executedQty"] as? String != nil, "order \(id)")
        }
        #expect(lastUpdate.count == placed.count)
    }

    @Test func theHubCutsAReaderWhoseMessagesItOverwroteAndKeepsTheRest() async {
        let hub = StreamHub(capacity: 8)
        func message(_ sequence: SequenceNumber, _ symbol: SymbolID) -> StreamMessage {
            StreamMessage(sequence: sequence, channel: .trades(symbol), text: "{\"sequence\":\(sequence)}")
        }
        hub.publish([message(1, 0), message(1, 1), message(2, 0)])
        guard case .messages(let first, let next) = hub.read(from: 0, channels: [.trades(0)], limit: 10) else {
            Issue.record("a fresh reader was cut")
            return
        }
        #expect(first.map(\.sequence) == [1, 2] && next == 3)
        #expect(hub.position(from: 2) == 2 && hub.position(from: 3) == 3)
        // A registered reader at 0 that never reads: cut, once, when the ring overwrites it.
        let cut = CutLog()
        let stalled = hub.register(cursor: 0) { cut.append($0) }
        let reading = hub.register(cursor: 3) { cut.append("reading: " + $0) }
        hub.publish((3...7).map { message($0, 0) })
        #expect(cut.reasons.isEmpty && hub.advance(reading, to: 8))
        hub.publish([message(8, 0)])
        #expect(cut.reasons == ["slow consumer: 9 messages behind, more than the stream keeps (stream.buffer_messages 8)"])
        #expect(!hub.advance(stalled, to: 1) && hub.advance(reading, to: 9) && hub.cutCount == 1 && hub.clientCount == 1)
        hub.publish((9...10).map { message($0, 0) })
        #expect(hub.window == (3, 11))
        guard case .cut(let dropped) = hub.read(from: 1, channels: [.trades(0)], limit: 10) else {
            Issue.record("a reader before the kept window was not cut")
            return
        }
        #expect(dropped == "slow consumer: 10 messages behind, more than the stream keeps (stream.buffer_messages 8)")
        #expect(hub.position(from: 1) == nil, "older than kept: from the journal")
        #expect(hub.position(from: 3) == nil, "sequence 3 is the oldest kept, but part of its entry may have gone")
        #expect(hub.position(from: 4) == 4)
        // Resuming: memory only for channels rendered since the asked sequence.
        #expect(hub.resume(from: 5, channels: [.trades(0)]) == .notReady)
        hub.publish([], renderedFrom: 6, rendered: [.trades(0)])
        #expect(hub.resume(from: 5, channels: [.trades(0)]) == .journal(through: 5))
        #expect(hub.resume(from: 6, channels: [.trades(0)]) == .memory(6))
        #expect(hub.resume(from: 2, channels: [.trades(0)]) == .journal(through: 5))
        // A waiting reader wakes when the next entry is published.
        async let woken: Void = hub.wait(beyond: 11)
        hub.publish([message(11, 0)])
        await woken
        #expect(hub.window.end == 12)
        hub.unregister(reading)
        #expect(hub.clientCount == 0)
    }

    final class CutLog: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func append(_ reason: String) { lock.withLock { stored.append(reason) } }
        var reasons: [String] { lock.withLock { stored } }
    }

    @Test func channelNamesParseBackAndRefuseWithTheirFacts() {
        let symbols = Array(DemoExchange.listings.prefix(2).compactMap { if case .listSymbol(let spec) = $0 { spec } else { nil } })
        for channel in [StreamChannel.trades(0), .depth(0), .markPrice(0), .funding(0), .liquidations(0), .account(42)] {
            #expect((try? StreamChannel.parse(channel.name(symbols), symbols: symbols).get()) == channel)
        }
        let refusals = [
            ("BTCUSDT", "stream BTCUSDT is not NAME@KIND"), ("NOPE@trade", "unknown symbol NOPE"),
            ("BTCUSDT@kline", "stream kind kline is not one of trade, depth, markPrice, funding, forceOrder, account"),
            ("account@9223372036854775808", "account 9223372036854775808 is outside its domain 0 ... 2^63 - 1"),
        ]
        for (name, message) in refusals {
            guard case .failure(let failure) = StreamChannel.parse(name, symbols: symbols) else {
                Issue.record("\(name) parsed")
                continue
            }
            #expect(failure.message == message)
        }
    }
}
