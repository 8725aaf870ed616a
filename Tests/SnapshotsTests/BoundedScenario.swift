import Foundation
import Journal
import LedgerClient
import LedgerCore

/// The rule book's history under the bounded rules (issue 8): a genesis `setWorldLimits`,
/// 300 more holders, and the funding settlement in ticks with a user command, a
/// `settleFunding` before a withdrawal and a position closed while the settlement runs —
/// for the fixtures of commands 21–23, events 38–40 and state encoding 3.
enum BoundedScenario {
    static let extraHolders: ClosedRange<AccountID> = 100...399

    static let commands: [Command] = {
        let rulebook = RuleBookScenario.commands
        let funding = rulebook.firstIndex { if case .setFundingRate = $0 { true } else { false } }!
        var commands: [Command] = [.setWorldLimits(.standard)]
        commands += rulebook[..<funding]
        // 300 holders of one lot each, bought from account 1 (and what account 2 offers).
        commands.append(
            .placeOrder(
                PlaceOrder(
                    account: 1, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 507_000,
                    quantityUnits: Int64(extraHolders.count))))
        for account in extraHolders {
            commands.append(.deposit(Transfer(transferID: 1_000 + account, account: account, asset: 0, amountMinor: 1_000_000_000)))
            commands.append(
                .placeOrder(
                    PlaceOrder(account: account, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 1)))
        }
        commands.append(rulebook[funding])  // the funding rate
        // The funding time: the timer tick starts the settlement and pays the first step.
        commands.append(.tick)
        // While it runs: a withdrawal of an account that owes (settled first), and a lot
        // sold back before the account is reached (it owes on its size at the start).
        commands.append(.settleFunding(account: 390))
        commands.append(.withdraw(Transfer(transferID: 5_000, account: 390, asset: 0, amountMinor: 100_000_000)))
        commands.append(
            .placeOrder(
                PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 499_000, quantityUnits: 1)))
        commands.append(
            .placeOrder(
                PlaceOrder(account: 395, symbol: 0, side: .sell, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 1)))
        commands.append(.tick)
        // The rest of the rule book's history; what its mark prices set off (the stops they
        // reach, the liquidation at 476,000) is carried by the tick after each.
        for command in rulebook[(funding + 1)...] {
            commands.append(command)
            if case .setMarkPrice = command { commands.append(.tick) }
        }
        return commands
    }()

    /// The sequence of the last entry before the settlement completes (the v3 snapshot):
    /// just before the scenario's second tick.
    static var snapshotSequence: SequenceNumber {
        let ticks = commands.indices.filter { commands[$0] == .tick }
        return SequenceNumber(ticks[1])
    }

    /// 100 ms apart; an hour later from the first tick on (the funding time).
    static func time(_ sequence: SequenceNumber) -> Int64 {
        let firstTick = commands.firstIndex { if case .tick = $0 { true } else { false } }! + 1
        return RuleBookScenario.start + Int64(sequence) * 100_000_000 + (Int(sequence) >= firstTick ? 3_600_000_000_000 : 0)
    }

    /// Executes the scenario (its ticks stand where ledgerd's sequencer would put some),
    /// then ticks until the engine has no work in progress.
    /// Returns the final state, chain and the entries journaled.
    static func run(journalDirectory: String) throws -> (ExchangeState, [UInt8], Int) {
        var state = ExchangeState()
        let writer = try JournalWriter.open(.init(directory: journalDirectory, segmentBytesTarget: 4_096))
        var batch = JournalBatch()
        var events: [Event] = []
        func journal(_ command: Command, at time: Int64) throws {
            events.removeAll(keepingCapacity: true)
            let sequence = state.lastSequence + 1
            state.execute(command, sequence: sequence, timeNanos: time, into: &events)
            batch.append(sequence: sequence, timeNanos: time) { EntryPayload.encode(command: command, events: events, to: &$0) }
            if batch.count == 16 {
                try writer.append(batch)
                batch.reset()
            }
        }
        for (index, command) in commands.enumerated() {
            let at = time(SequenceNumber(index + 1))
            try journal(command, at: at)
        }
        while state.hasSystemWork { try journal(.tick, at: time(state.lastSequence + 1)) }
        try writer.append(batch)
        return (state, writer.lastChain, Int(state.lastSequence))
    }
}
