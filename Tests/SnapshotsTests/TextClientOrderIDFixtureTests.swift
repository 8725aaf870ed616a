import Foundation
import Journal
import LedgerClient
import LedgerDigest
import Snapshots
import Testing

@testable import LedgerCore

/// Text client order ids (issue 10): command tags 24–26 and state encoding 6. The journal
/// mixes them with numeric ids (tags 6, 7, 16, 17), which keep their layouts.
enum TextClientOrderIDScenario {
    static let start: Int64 = 1_764_500_000 * 1_000_000_000
    static let longID = ClientOrderID(text: "abcdefghijklmnopqrstuvwxyz.:/_-ABCDE")!

    static func id(_ text: String) -> ClientOrderID { ClientOrderID(text: text)! }

    static let commands: [Command] = {
        func limit(_ account: AccountID, _ side: Side, _ price: Int64, _ quantity: Int64, _ client: ClientOrderID) -> Command {
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: 0, side: side, type: .limit, timeInForce: .gtc, priceUnits: price, quantityUnits: quantity,
                    clientOrderID: client))
        }
        var commands: [Command] = [DemoExchange.listings[0], DemoExchange.listings[1], .setMarkPrice(symbol: 0, priceUnits: 500_000)]
        for account in 1...4 as ClosedRange<UInt64> {
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 50_000_000_000)))
        }
        commands += [
            limit(1, .buy, 495_000, 100, id("alpha-1")),  // tag 24, plain
            limit(2, .sell, 505_000, 100, longID),  // 36 characters
            limit(1, .buy, 494_000, 100, 7),  // numeric: tag 6
            limit(1, .buy, 493_000, 100, id("alpha-1")),  // duplicate in account 1
            limit(2, .sell, 506_000, 100, id("alpha-1")),  // the same text in account 2
            limit(3, .buy, 490_000, 100, id("0042")),  // digits with a leading zero are text
            limit(3, .buy, 489_000, 100, id("9223372036854775808")),  // beyond 2^63 − 1: text
            limit(3, .buy, 488_000, 100, id("9223372036854775807")),  // 2^63 − 1: numeric
            .amendOrder(AmendOrder(account: 1, clientOrderID: id("alpha-1"), priceUnits: 496_000, quantityUnits: 100)),  // tag 26
            .amendOrder(AmendOrder(account: 1, clientOrderID: 7, priceUnits: 494_000, quantityUnits: 50)),  // tag 17
            .cancelOrder(CancelOrder(account: 2, clientOrderID: id("alpha-1"))),  // tag 25
            .cancelOrder(CancelOrder(account: 2, clientOrderID: id("no-such-order"))),  // UNKNOWN_ORDER
            .placeOrder(
                PlaceOrder(
                    account: 4, symbol: 0, side: .sell, type: .stopMarket, timeInForce: .ioc, priceUnits: 0, quantityUnits: 10,
                    clientOrderID: id("stop:1/a.b_c"), stopPriceUnits: 480_000)),  // tag 24, conditional
            .placeOrder(
                PlaceOrder(
                    account: 4, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 40,
                    clientOrderID: id("taker-1"))),  // partly fills the 36-character order
        ]
        return commands
    }()

    static func run(journalDirectory: String) throws -> (ExchangeState, [UInt8]) {
        try Scenario.write(commands, journalDirectory: journalDirectory, perBlock: 3, segmentBytes: 512) { start + Int64($0) * 1_000_000 }
    }
}

@Suite struct TextClientOrderIDFixtureTests {
    static let journal = fixturesDirectory + "/journal-text-client-ids"
    static let snapshotV6 = fixturesDirectory + "/snapshot-v6"
    static let expectedV6 = fixturesDirectory + "/v6-expected.txt"

    /// Only with LEDGER_REGENERATE_FIXTURES=6, while encoding 6 is new: once released the
    /// files never change.
    static func regenerate() throws {
        try? FileManager.default.removeItem(atPath: journal)
        try? FileManager.default.removeItem(atPath: snapshotV6)
        let (state, chain) = try TextClientOrderIDScenario.run(journalDirectory: journal)
        let info = try SnapshotStore(directory: snapshotV6).create(journalDirectory: journal).info
        let text = """
            # Written by TextClientOrderIDFixtureTests.regenerate(); these v6 fixtures must never change.
            text.lastSequence=\(state.lastSequence)
            text.chain=\(hexString(chain))
            text.hash=\(hexString(state.stateHash(encodingVersion: 6)))
            text.snapshot.name=\(info.name)
            text.snapshot.stateHash=\(hexString(info.stateHash))

            """
        try text.write(toFile: expectedV6, atomically: true, encoding: .utf8)
    }

    @Test func v6FixturesVerifyReplayAndRecover() throws {
        if ProcessInfo.processInfo.environment["LEDGER_REGENERATE_FIXTURES"] == "6" { try Self.regenerate() }
        let expected = try FormatFixtureTests.expected(Self.expectedV6)
        try FormatFixtureTests.checkVerifies(
            Self.journal, ["journal.lastSequence": expected["text.lastSequence"]!, "journal.chain": expected["text.chain"]!])
        // Every command tag of a client order id is in the journal, text and numeric.
        var tags: Set<UInt8> = []
        var rejections: [RejectReason] = []
        try JournalReader(directory: Self.journal).forEach { entry in
            var reader = ByteReader(Array(entry.payload))
            let payload = try EntryPayload.decode(from: &reader)
            var writer = ByteWriter()
            payload.command.encode(to: &writer)
            tags.insert(writer.bytes[0])
            for case .rejected(let reason, _) in payload.events { rejections.append(reason) }
        }
        #expect(tags.isSuperset(of: [6, 17, 24, 25, 26]), "\(tags.sorted())")
        #expect(rejections == [.duplicateClientOrderID, .unknownOrder])
        let (state, count) = try FormatFixtureTests.reexecute(Self.journal)
        #expect(String(count) == expected["text.lastSequence"])
        #expect(hexString(state.stateHash(encodingVersion: 6)) == expected["text.hash"])
        #expect(state.hasTextClientOrderIDs)
        #expect(try !FormatFixtureTests.reexecute(FormatFixtureTests.journalV1).state.hasTextClientOrderIDs)

        // The snapshot holds the text ids of resting and conditional orders and the
        // remembered ones, and recovers to the same state.
        let name = try #require(expected["text.snapshot.name"])
        let loaded = try SnapshotFile.load(path: Self.snapshotV6 + "/" + name)
        #expect(loaded.info.stateEncodingVersion == 6)
        #expect(hexString(loaded.info.stateHash) == expected["text.snapshot.stateHash"])
        let resting = loaded.state.openOrders(of: 2).map { loaded.state.clientOrderID(of: $0.order) }
        #expect(resting == [TextClientOrderIDScenario.longID])
        #expect(loaded.state.openOrders(of: 2).first?.order.openQuantityUnits == 60)
        #expect(loaded.state.orderID(account: 1, clientOrderID: ClientOrderID(text: "alpha-1")!) != nil)
        #expect(loaded.state.orderID(account: 3, clientOrderID: ClientOrderID(text: "0042")!) != nil)
        #expect(loaded.state.orderID(account: 3, clientOrderID: ClientOrderID(text: "42")!) == nil)
        #expect(loaded.state.books.conditionalBySymbol[0].map(\.order.clientOrderID.text) == ["stop:1/a.b_c"])
        let (restored, report) = try Recovery.restore(journalDirectory: Self.journal, snapshotDirectory: Self.snapshotV6)
        #expect(report.snapshot?.name == name)
        #expect(hexString(restored.stateHash(encodingVersion: 6)) == expected["text.hash"])
    }
}
