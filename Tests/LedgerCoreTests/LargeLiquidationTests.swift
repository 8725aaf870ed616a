import LedgerClient
import Testing

@testable import LedgerCore

/// One account's liquidation at exchange scale (docs/RULES.md, "Limits of the world"): a
/// whale long against 5,000 one-lot shorts, the mark gapping past its bankruptcy price
/// with an empty fund and no bids, so its liquidation goes to ADL against every short.
@Suite struct LargeLiquidationTests {
    static let whale: AccountID = 1
    static let firstShort: AccountID = 100_000

    /// The world, run as ledgerd's sequencer runs it (a tick after each command while
    /// the engine has work). Returns the engine and the commands that built it.
    static func world(shorts: Int) -> (engine: EngineHarness, commands: [Command]) {
        let commands: [Command] =
            [.setWorldLimits(.standard)] + OrderFlow.genesis + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
            + DemoExchange.whaleCommands(shorts: shorts, whale: whale, firstShort: firstShort)
        var engine = EngineHarness(genesis: false)
        for command in commands {
            engine.run(command)
            while engine.state.hasSystemWork { engine.run(.tick) }
        }
        return (engine, commands)
    }

    /// The whale's ADL against 5,000 shorts runs in ticks: each stops taking counterparties
    /// at the entry's budget and says what is left (`deleveragingContinues`); the next ones
    /// go on at the same bankruptcy price. Every short is deleveraged once, every entry stays
    /// under 64 KiB, the invariants hold after each, and a snapshot taken halfway (state
    /// encoding 4 keeps the continuation) goes on to the same end.
    @Test func oneWhalesADLAgainstThousandsRunsInBoundedTicks() throws {
        let shorts = 5_000
        var (engine, _) = Self.world(shorts: shorts)
        // Nearly every lot (the last order meets the 100x bracket's cap).
        let bought = try #require(engine.state.account(Self.whale)).position(0).sizeQuantityUnits
        #expect(bought > Int64(shorts) - 32, "the whale bought \(bought) lots")
        #expect(engine.state.invariantViolation() == nil)
        // −20%: far past the whale's bankruptcy price; the fund is empty, so ADL.
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 400_000))
        var largest = (events: 0, bytes: 0)
        var (deleveraged, continuations, ticks) = (0, 0, 0)
        var counterparties = Set<AccountID>()
        var halfway: ExchangeState?
        var rest: [[Event]] = []
        while engine.state.hasSystemWork {
            let events = engine.run(.tick)
            ticks += 1
            if halfway != nil { rest.append(events) }
            var payload = ByteWriter()
            EntryPayload.encode(command: .tick, events: events, to: &payload)
            if payload.bytes.count > largest.bytes { largest = (events.count, payload.bytes.count) }
            for event in events {
                if case .autoDeleveraged(_, let counterparty, _, _, _, _, _, _) = event {
                    deleveraged += 1
                    #expect(counterparties.insert(counterparty).inserted, "short \(counterparty) deleveraged twice")
                }
                if case .deleveragingContinues = event { continuations += 1 }
            }
            if let problem = engine.state.invariantViolation() { Issue.record("after tick \(ticks): \(problem)") }
            if halfway == nil, !engine.state.risk.deleveragings.isEmpty, ticks >= 2 { halfway = engine.state }
        }
        #expect(deleveraged == Int(bought), "\(deleveraged) ADL fills for \(bought) lots")
        // One stop (the liquidation's own tick says what is left); then ticks until done.
        #expect(continuations == 1, "\(continuations) continuations")
        #expect(ticks >= Int(bought) / Limits.deleveragingEventsPerEntrySoftMax, "\(ticks) ticks")
        #expect(largest.bytes <= Limits.entryPayloadBytesMax, "largest tick: \(largest.events) events, \(largest.bytes) bytes")
        #expect(engine.state.account(Self.whale)?.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.risk.deleveragings.isEmpty)
        print(
            "LargeLiquidationTests: \(ticks) ticks, largest \(largest.events) events / \(largest.bytes) bytes, \(continuations) continuations"
        )

        // Halfway through, encoded and decoded: the same ticks follow.
        let middle = try #require(halfway)
        var writer = ByteWriter()
        middle.encodeCanonical(to: &writer)
        var reader = ByteReader(writer.bytes)
        var restored = try ExchangeState.decodeCanonical(from: &reader, sequence: middle.lastSequence, timeNanos: middle.lastTimeNanos)
        #expect(restored.risk.deleveragings == middle.risk.deleveragings && !restored.risk.deleveragings.isEmpty)
        for expected in rest {
            var events: [Event] = []
            restored.execute(.tick, sequence: restored.lastSequence + 1, timeNanos: restored.lastTimeNanos + 1_000, into: &events)
            #expect(events == expected)
        }
        #expect(restored.stateHash() == engine.state.stateHash())
    }
}
