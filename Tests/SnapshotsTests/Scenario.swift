import Foundation
import Journal
import LedgerClient
import LedgerCore
@_exported import LedgerTestSupport

/// A short, fixed history used by the snapshot tests and the format fixtures: listings,
/// deposits, resting orders on both sides, trades, a cancel, leverage, mark prices, a
/// rejection and a retried transfer.
enum Scenario {
    static let commands: [Command] = {
        var commands: [Command] = [
            DemoExchange.listings[0],  // USDT
            DemoExchange.listings[1],  // BTCUSDT
            .setMarkPrice(symbol: 0, priceUnits: 500_000),
        ]
        for account in 1...6 as ClosedRange<UInt64> {
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 50_000_000_000)))
        }
        for step in 0..<60 as Range<Int64> {
            let account = AccountID(step % 6 + 1)
            let side: Side = step % 2 == 0 ? .buy : .sell
            let price = 500_000 + (side == .buy ? -1 : 1) * (step % 5) * 10 + (step % 7 == 0 ? (side == .buy ? 60 : -60) : 0)
            commands.append(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: side, type: .limit, timeInForce: step % 9 == 0 ? .ioc : .gtc,
                        priceUnits: price, quantityUnits: 10 + step % 4 * 25, clientOrderID: ClientOrderID(UInt64(step + 1)))))
        }
        commands.append(.cancelOrder(CancelOrder(account: 2, clientOrderID: 2)))
        commands.append(.setLeverage(account: 3, symbol: 0, leverage: 50))
        commands.append(.setMarkPrice(symbol: 0, priceUnits: 501_000))
        commands.append(
            .placeOrder(PlaceOrder(account: 4, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 30)))
        commands.append(.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 50_000_000_000)))  // a retry
        commands.append(.withdraw(Transfer(transferID: 99, account: 5, asset: 0, amountMinor: -1)))  // rejected
        return commands
    }()

    /// Executes the scenario, writing it to a journal in blocks of `perBlock` entries.
    /// Returns the final state and the journal's chain value.
    static func run(journalDirectory: String, perBlock: Int = 7, segmentBytes: Int64 = 1_024) throws -> (ExchangeState, [UInt8]) {
        try write(commands, journalDirectory: journalDirectory, perBlock: perBlock, segmentBytes: segmentBytes) {
            1_764_000_000_000_000_000 + Int64($0) * 1_000_000
        }
    }

    /// Executes commands stamped `time(sequence)` into a new journal, `perBlock` entries a
    /// block; returns the final state and the chain value.
    static func write(
        _ commands: [Command], journalDirectory: String, perBlock: Int, segmentBytes: Int64, time: (SequenceNumber) -> Int64
    ) throws -> (ExchangeState, [UInt8]) {
        var state = ExchangeState()
        let writer = try JournalWriter.open(.init(directory: journalDirectory, segmentBytesTarget: segmentBytes))
        var batch = JournalBatch()
        var events: [Event] = []
        for command in commands {
            events.removeAll(keepingCapacity: true)
            let sequence = state.lastSequence + 1
            state.execute(command, sequence: sequence, timeNanos: time(sequence), into: &events)
            batch.append(sequence: sequence, timeNanos: time(sequence)) { EntryPayload.encode(command: command, events: events, to: &$0) }
            if batch.count == perBlock {
                try writer.append(batch)
                batch.reset()
            }
        }
        try writer.append(batch)
        return (state, writer.lastChain)
    }

}

/// The repository's Fixtures/ directory.
let fixturesDirectory: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Fixtures").path
}()
