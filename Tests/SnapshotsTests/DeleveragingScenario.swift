import Foundation
import Journal
import LedgerClient
import LedgerCore

/// A liquidation whose ADL runs past one entry (issue 8): a whale long against 1,100
/// one-lot shorts, the mark gapping past its bankruptcy price with an empty fund, so ADL
/// takes more counterparties than one entry's budget — for the fixture of event 41
/// (`deleveragingContinues`) and state encoding 4 with a continuation in progress.
enum DeleveragingScenario {
    static let shorts = 1_100
    static let whale: AccountID = 1
    static let firstShort: AccountID = 100_000

    static let commands: [Command] =
        [.setWorldLimits(.standard)] + DemoExchange.listings.prefix(2) + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
        + DemoExchange.whaleCommands(shorts: shorts, whale: whale, firstShort: firstShort)
        + [.setMarkPrice(symbol: 0, priceUnits: 400_000)]

    /// Executes the commands, each followed by ticks while the engine has work (as ledgerd's
    /// sequencer does), 1 ms apart. Returns the final state, chain, and the sequence of the
    /// first entry after which a continuation waits (where the v4 snapshot is taken).
    static func run(journalDirectory: String) throws -> (state: ExchangeState, chain: [UInt8], halfway: SequenceNumber) {
        try run(journalDirectory: journalDirectory, commands: commands) { !$0.risk.deleveragings.isEmpty }
    }

    /// The same for ADL against more shorts than one entry may score (state encoding 5,
    /// events 42–43): halfway is the first entry after which a ranking is being built.
    static let rankingShorts = 4_200

    static func runRanking(journalDirectory: String) throws -> (state: ExchangeState, chain: [UInt8], halfway: SequenceNumber) {
        let commands: [Command] =
            [.setWorldLimits(.standard)] + DemoExchange.listings.prefix(2) + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
            + DemoExchange.whaleCommands(shorts: rankingShorts, whale: whale, firstShort: firstShort)
            + [.setMarkPrice(symbol: 0, priceUnits: 400_000)]
        return try run(journalDirectory: journalDirectory, commands: commands) { $0.risk.adlRankings.contains { !$0.isComplete } }
    }

    static func run(
        journalDirectory: String, commands: [Command], isHalfway: (ExchangeState) -> Bool
    ) throws -> (state: ExchangeState, chain: [UInt8], halfway: SequenceNumber) {
        var state = ExchangeState()
        let writer = try JournalWriter.open(.init(directory: journalDirectory, segmentBytesTarget: 16_384))
        var batch = JournalBatch()
        var events: [Event] = []
        var halfway: SequenceNumber = 0
        func journal(_ command: Command) throws {
            events.removeAll(keepingCapacity: true)
            let sequence = state.lastSequence + 1
            let time = RuleBookScenario.start + Int64(sequence) * 1_000_000
            state.execute(command, sequence: sequence, timeNanos: time, into: &events)
            batch.append(sequence: sequence, timeNanos: time) { EntryPayload.encode(command: command, events: events, to: &$0) }
            if halfway == 0 && isHalfway(state) { halfway = sequence }
            if batch.count == 16 || batch.isFull {
                try writer.append(batch)
                batch.reset()
            }
        }
        for command in commands {
            try journal(command)
            while state.hasSystemWork { try journal(.tick) }
        }
        try writer.append(batch)
        return (state, writer.lastChain, halfway)
    }
}
