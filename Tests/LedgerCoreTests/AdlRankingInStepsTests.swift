import LedgerClient
import Testing

@testable import LedgerCore

/// ADL rankings in bounded steps (docs/RULES.md, "ADL ranking in bounded steps"): a side
/// with more positions than one entry may score (`Limits.adlScoresPerEntryMax`) is ranked
/// over ticks, and its deleveragings meet the ranking best first; positions closed since
/// they were scored are passed over, and positions opened after the ranking are met by a
/// new one once it runs out.
@Suite struct AdlRankingInStepsTests {
    static let whale = LargeLiquidationTests.whale
    static let shorts = Limits.adlScoresPerEntryMax + 904

    /// What a run of ticks showed.
    struct Run {
        var met: [AccountID] = []
        var advanced = 0
        var completed: [UInt64] = []
        var ticks = 0
    }

    /// Ticks until the engine has no work, checking the invariants after each.
    static func tick(_ engine: inout EngineHarness, until stop: (ExchangeState) -> Bool = { _ in false }) -> Run {
        var run = Run()
        while engine.state.hasSystemWork, !stop(engine.state) {
            let events = engine.run(.tick)
            run.ticks += 1
            for event in events {
                switch event {
                case .autoDeleveraged(_, let counterparty, _, _, _, _, _, _): run.met.append(counterparty)
                case .adlRankingAdvanced: run.advanced += 1
                case .adlRankingCompleted(_, _, let positions): run.completed.append(positions)
                default: break
                }
            }
            if let problem = engine.state.invariantViolation() { Issue.record("after tick \(run.ticks): \(problem)") }
        }
        return run
    }

    /// Replays entries from `first` by applying their journaled events, as recovery does.
    static func replay(_ engine: EngineHarness, from state: ExchangeState, first: Int) -> ExchangeState {
        var rebuilt = state
        for index in first..<engine.journal.count {
            let entry = engine.journal[index]
            rebuilt.apply(entry.events, of: entry.command, sequence: rebuilt.lastSequence + 1, timeNanos: engine.times[index])
        }
        return rebuilt
    }

    /// The whale's ADL against more shorts than an entry may score: the ranking takes two
    /// steps, then the shorts are met exactly in the order a ranking of the whole side at
    /// the mark gives (no position moved meanwhile), each once; entries stay bounded, a
    /// state encoded halfway through the ranking or the meeting goes on to the same end,
    /// and applying the journaled events rebuilds the same state.
    @Test func aSideTooLargeForOneEntryIsRankedInStepsAndMetBestFirst() throws {
        var (engine, _) = LargeLiquidationTests.world(shorts: Self.shorts)
        let bought = try #require(engine.state.account(Self.whale)).position(0).sizeQuantityUnits
        #expect(bought > Int64(Self.shorts) - 32, "the whale bought \(bought) lots")
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 400_000))
        let before = engine.state
        let first = engine.journal.count
        let whaleIndex = Int(try #require(engine.state.ledger.accountIndexByID[Self.whale]))
        let expected = engine.state.adlRanking(symbol: 0, closingSide: .sell, excluding: whaleIndex).map { engine.state.accounts[$0].id }
        #expect(expected.count == Int(bought))

        // Up to the ranking's first step, then to the first meeting.
        var run = Self.tick(&engine) { !$0.risk.adlRankings.isEmpty }
        let building = engine.state
        #expect(building.risk.adlRankings.count == 1 && building.risk.adlRankings[0].isComplete == false)
        #expect(building.risk.adlRankings[0].count == Limits.adlScoresPerEntryMax)
        let rest1 = Self.tick(&engine) { $0.risk.adlRankings.first?.isComplete == true }
        let meeting = engine.state
        let rest2 = Self.tick(&engine)
        for part in [rest1, rest2] {
            run.met += part.met
            run.advanced += part.advanced
            run.completed += part.completed
            run.ticks += part.ticks
        }
        #expect(run.advanced == 2, "\(run.advanced) steps for \(bought) shorts")  // 4,096, then the rest
        #expect(run.completed == [UInt64(bought)])
        #expect(run.met.count == Int(bought))
        #expect(run.met == Array(expected.prefix(run.met.count)), "the shorts were not met in rank order")
        #expect(engine.state.account(Self.whale)?.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.risk.deleveragings.isEmpty && engine.state.risk.adlRankings.isEmpty)
        for index in first..<engine.journal.count {
            var payload = ByteWriter()
            EntryPayload.encode(command: engine.journal[index].command, events: engine.journal[index].events, to: &payload)
            #expect(payload.bytes.count <= Limits.entryPayloadBytesMax)
        }

        // Encoded and decoded halfway (while ranking, while meeting): the same ticks follow.
        for (name, middle) in [("ranking", building), ("meeting", meeting)] {
            var writer = ByteWriter()
            middle.encodeCanonical(to: &writer)
            var reader = ByteReader(writer.bytes)
            var restored = try ExchangeState.decodeCanonical(from: &reader, sequence: middle.lastSequence, timeNanos: middle.lastTimeNanos)
            #expect(restored.risk.adlRankings == middle.risk.adlRankings && !restored.risk.adlRankings.isEmpty, "\(name)")
            #expect(restored.stateHash() == middle.stateHash(), "\(name)")
            // The journal's entry i has sequence i + 1.
            for index in Int(middle.lastSequence)..<engine.journal.count {
                var events: [Event] = []
                restored.execute(
                    engine.journal[index].command, sequence: restored.lastSequence + 1, timeNanos: engine.times[index], into: &events)
                #expect(events == engine.journal[index].events, "\(name): entry \(index)")
            }
            #expect(restored.stateHash() == engine.state.stateHash(), "\(name)")
        }
        // Applying the journaled events, as recovery does, gives the same state.
        let rebuilt = Self.replay(engine, from: before, first: first)
        #expect(rebuilt.risk.adlRankings == engine.state.risk.adlRankings)
        #expect(rebuilt.stateHash() == engine.state.stateHash())
    }

    /// Positions move while the ranking is built and used: a short scored early closes
    /// (it is passed over, never met), a short opened before the walk reaches its account
    /// is scored, and a short opened after the ranking is complete is met by a new ranking
    /// once the first one runs out. Replaying the events gives the same state.
    @Test func positionsThatMoveWhileRankedArePassedOverOrRankedAgain() throws {
        var (engine, _) = LargeLiquidationTests.world(shorts: Self.shorts)
        let firstShort = LargeLiquidationTests.firstShort
        let seller: AccountID = 900_000_000
        engine.deposit(seller, 10_000_000_000)
        // The whale bought from the first `bought` shorts (book priority: account order).
        let bought = try #require(engine.state.account(Self.whale)).position(0).sizeQuantityUnits
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 400_000))
        let before = engine.state
        let first = engine.journal.count
        // The first step scores the lowest accounts: the first short is among them.
        var run = Self.tick(&engine) { !$0.risk.adlRankings.isEmpty }
        // It buys its lot back from a new account (which is now short, above the cursor).
        let late: AccountID = 900_000_001
        engine.deposit(late, 10_000_000_000)
        engine.limit(late, .sell, price: 400_000, quantity: 1)
        engine.market(firstShort, .buy, quantity: 1)
        #expect(engine.state.account(firstShort)?.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.account(late)?.position(0).sizeQuantityUnits == -1)
        let part1 = Self.tick(&engine) { $0.risk.adlRankings.first?.isComplete == true }
        // After the ranking is complete: the short ranked last of those the whale bought
        // from (equal scores rank by account) closes, and the seller goes short.
        let secondShort = firstShort + AccountID(bought) - 1
        #expect(engine.state.account(secondShort)?.position(0).sizeQuantityUnits == -1)
        engine.limit(seller, .sell, price: 400_000, quantity: 1)
        engine.market(secondShort, .buy, quantity: 1)
        #expect(engine.state.account(seller)?.position(0).sizeQuantityUnits == -1)
        let part2 = Self.tick(&engine)
        run.met += part1.met + part2.met
        run.advanced += part1.advanced + part2.advanced
        run.completed += part1.completed + part2.completed
        #expect(!run.met.contains(firstShort) && !run.met.contains(secondShort))
        #expect(run.met.contains(late))
        // The seller was not in the first ranking: a second one met it, last.
        #expect(run.met.last == seller, "the last met: \(String(describing: run.met.last))")
        #expect(run.completed.count == 2, "rankings completed: \(run.completed)")
        #expect(Set(run.met).count == run.met.count)
        #expect(engine.state.account(Self.whale)?.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.risk.deleveragings.isEmpty && engine.state.risk.adlRankings.isEmpty)
        let rebuilt = Self.replay(engine, from: before, first: first)
        #expect(rebuilt.stateHash() == engine.state.stateHash())
    }
}
