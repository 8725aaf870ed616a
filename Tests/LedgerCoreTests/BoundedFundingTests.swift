import LedgerClient
import LedgerDigest
import Testing

@testable import LedgerCore

/// Funding in bounded steps (docs/RULES.md, "Funding in bounded steps"): a settlement of
/// many holders runs in ticks of at most `Limits.fundingPaymentsPerEntryMax` payments,
/// interleaved with user commands, each holder paid exactly once on its size at the start.
@Suite struct BoundedFundingTests {
    static let interval: Int64 = 3_600
    static var fundingTime: Int64 { RuleBookTests.listingTime + interval * 1_000_000_000 }
    static let rateE8: Int64 = 10_000  // 0.01%

    /// The bounded rules, USDT, a BTCUSDT with hourly funding, mark 50,000.00; account 1
    /// short `holders` lots and accounts 2 … holders + 1 long one lot each.
    static func world(holders: Int) -> EngineHarness {
        var engine = EngineHarness(genesis: false)
        #expect(engine.run(.setWorldLimits(.standard), at: RuleBookTests.listingTime) == [.worldLimitsSet(.standard)])
        engine.run(.listAsset(Asset(id: 0, name: "USDT", scale: 6)), at: RuleBookTests.listingTime)
        #expect(
            engine.run(.listSymbol(RuleBookTests.btcusdt(fundingInterval: interval)), at: RuleBookTests.listingTime) == [.symbolListed(0)])
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000))
        engine.deposit(1, 10_000_000_000_000)
        engine.limit(1, .sell, price: 5_000_000, quantity: Int64(holders))
        for account in 2...AccountID(holders + 1) {
            engine.deposit(account, 1_000_000_000)
            let events = engine.market(account, .buy, quantity: 1)
            #expect(events.contains { if case .trade = $0 { true } else { false } }, "account \(account) did not buy")
        }
        #expect(engine.run(.setFundingRate(symbol: 0, rateE8: rateE8)) == [.fundingRateSet(symbol: 0, rateE8: rateE8)])
        return engine
    }

    /// What one long lot pays: 50,000 × 0.001 × 0.01% = 0.005 USDT.
    static let lotPaymentMinor = ExchangeState.fundingPaymentMinor(
        sizeQuantityUnits: 1, markPriceUnits: 5_000_000, notionalFactor: 10, rateE8: rateE8)

    /// 20,000 holders: the first entry at the funding time only starts the settlement; ticks
    /// pay at most 256 each, user commands run between them; every holder is paid once,
    /// on its size at the start; every entry is small; the ledger balances after each.
    @Test func twentyThousandHoldersSettleInBoundedTicksBetweenUserCommands() throws {
        let holders = 20_000
        var engine = Self.world(holders: holders)
        #expect(Self.lotPaymentMinor == 5_000)
        let start = engine.journal.count
        #expect(!engine.state.fundingSettlementDue(atTimeNanos: Self.fundingTime - 1))
        #expect(engine.state.fundingSettlementDue(atTimeNanos: Self.fundingTime))

        // The timer entry starts the settlement and pays the first step.
        var time = Self.fundingTime
        let first = engine.run(.tick, at: time)
        #expect(first.first == .fundingSettled(symbol: 0, rateE8: Self.rateE8, markPriceUnits: 5_000_000))
        #expect(engine.state.hasSystemWork)
        #expect(engine.state.funding.bySymbol[0].fundingSettlement != nil)
        #expect(!engine.state.fundingSettlementDue(atTimeNanos: time))

        // Between ticks: account 3 (long 1 lot, not yet paid) sells its lot: it still owes
        // the funding of its size at the start; account 1 is paid first (lowest index).
        // A new account opening a position now owes nothing in this settlement.
        time += 1
        engine.limit(1, .buy, price: 5_000_000, quantity: 1)
        let sold = engine.market(AccountID(holders + 1), .sell, quantity: 1)  // the last holder closes at once
        #expect(sold.contains { if case .trade = $0 { true } else { false } })
        #expect(!sold.contains { if case .fundingPaid = $0 { true } else { false } }, "a user entry carries no funding")
        #expect(engine.state.account(AccountID(holders + 1))?.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.account(AccountID(holders + 1))?.position(0).fundingFrozenSizeQuantityUnits == 1)
        engine.deposit(50_000_000, 1_000_000_000)
        engine.limit(1, .sell, price: 5_000_000, quantity: 1)
        engine.market(50_000_000, .buy, quantity: 1)
        #expect(!engine.state.owesFunding(account: 50_000_000))
        // A withdrawal of an account that owes waits: the engine refuses it, the sequencer
        // settles the account first.
        let owing: AccountID = 15_000
        #expect(engine.state.owesFunding(account: owing))
        let hash = engine.state.stateHash()
        let refused = engine.run(.withdraw(Transfer(transferID: 9_000_001, account: owing, asset: 0, amountMinor: 1_000_000)))
        #expect(refused == [.rejected(.fundingInProgress, detail: 0)])
        #expect(engine.state.stateHash() == hash)
        #expect(
            engine.run(.settleFunding(account: owing)) == [.fundingPaid(account: owing, symbol: 0, amountMinor: Self.lotPaymentMinor)])
        #expect(!engine.state.owesFunding(account: owing))
        #expect(engine.run(.settleFunding(account: owing)) == [.rejected(.noSystemWork, detail: 0)])
        #expect(
            engine.run(.withdraw(Transfer(transferID: 9_000_001, account: owing, asset: 0, amountMinor: 1_000_000)))
                == [.withdrawn(account: owing, asset: 0, amountMinor: 1_000_000)])

        // Ticks to the end, a user command between each two.
        var ticks = 1
        while engine.state.hasSystemWork {
            time += 1
            let events = engine.run(.tick, at: time)
            ticks += 1
            #expect(events.count <= Limits.fundingPaymentsPerEntryMax + 2, "tick \(ticks): \(events.count) events")
            var payload = ByteWriter()
            EntryPayload.encode(command: .tick, events: events, to: &payload)
            #expect(payload.bytes.count <= 8_192, "tick \(ticks): \(payload.bytes.count) bytes")
            engine.run(.setIndexPrice(symbol: 0, priceUnits: 4_999_000 + Int64(ticks)), at: time)
            if ticks > 200 { break }
        }
        #expect(!engine.state.hasSystemWork)
        #expect(ticks == (holders + 1 + Limits.fundingPaymentsPerEntryMax - 1) / Limits.fundingPaymentsPerEntryMax)

        // Every holder at the start paid exactly once, on its size then; nobody else.
        var paid: [AccountID: Int64] = [:]
        var completed: [UInt64] = []
        for (command, events) in engine.journal[start...] {
            for event in events {
                if case .fundingPaid(let account, _, let amount) = event {
                    #expect(paid[account] == nil, "account \(account) paid twice")
                    paid[account] = amount
                } else if case .fundingSettlementCompleted(_, let positions) = event {
                    completed.append(positions)
                }
            }
            if case .tick = command {
            } else if case .settleFunding = command {
            } else {
                #expect(
                    !events.contains { if case .fundingPaid = $0 { true } else { false } }, "\(command) carries another's funding")
            }
        }
        #expect(completed == [UInt64(holders + 1)])
        #expect(paid.count == holders + 1)
        #expect(paid[1] == -Int64(holders) * Self.lotPaymentMinor)
        for account in 2...AccountID(holders + 1) { #expect(paid[account] == Self.lotPaymentMinor, "account \(account)") }
        #expect(paid[50_000_000] == nil)
        #expect(engine.state.invariantViolation() == nil)
        #expect(engine.state.systemBalance(.fundingClearing, asset: 0) == 0)

        // The journal's events rebuild the same state, and re-executing it gives them all.
        var rebuilt = ExchangeState()
        var replayed = ExchangeState()
        var events: [Event] = []
        for (index, (command, journaled)) in engine.journal.enumerated() {
            let sequence = SequenceNumber(index + 1)
            rebuilt.apply(journaled, of: command, sequence: sequence, timeNanos: engine.times[index])
            events.removeAll()
            replayed.execute(command, sequence: sequence, timeNanos: engine.times[index], into: &events)
            #expect(events == journaled, "entry \(sequence)")
        }
        #expect(rebuilt.stateHash() == engine.state.stateHash())
        #expect(replayed.stateHash() == engine.state.stateHash())
    }

    /// A settlement half done survives a snapshot: the state decodes to the same bytes and
    /// the rest of the settlement from it gives the same events.
    @Test func aSettlementHalfDoneSurvivesTheCanonicalEncoding() throws {
        var engine = Self.world(holders: 1_000)
        engine.run(.tick, at: Self.fundingTime)
        engine.run(.tick, at: Self.fundingTime + 1)
        engine.limit(1, .buy, price: 5_000_000, quantity: 1)
        engine.market(900, .sell, quantity: 1)  // frozen: it owes on its lot at the start
        #expect(engine.state.accounts[engine.state.accountIndex(of: 900)!].positions[0].fundingFrozen)
        var writer = ByteWriter()
        engine.state.encodeCanonical(to: &writer)
        var reader = ByteReader(writer.bytes)
        var restored = try ExchangeState.decodeCanonical(
            from: &reader, sequence: engine.state.lastSequence, timeNanos: engine.state.lastTimeNanos)
        var again = ByteWriter()
        restored.encodeCanonical(to: &again)
        #expect(again.bytes == writer.bytes)
        // The streamed encoding (what the state hash reads) is the same bytes, in any piece size.
        for chunkBytes in [1, 100, 4_096, 1 << 20] {
            var streamed: [UInt8] = []
            var pieces = 0
            engine.state.withCanonicalChunks(chunkBytes: chunkBytes) {
                streamed += $0; pieces += 1
            }
            #expect(streamed == writer.bytes)
            #expect(pieces >= min(writer.bytes.count / chunkBytes / 2, 1_000), "\(chunkBytes)-byte pieces: \(pieces)")
        }
        #expect(engine.state.stateHash() == SHA256.hash(writer.bytes))
        var events: [Event] = []
        var time = Self.fundingTime + 2
        while engine.state.hasSystemWork {
            let expected = engine.run(.tick, at: time)
            events.removeAll()
            restored.execute(.tick, sequence: restored.lastSequence + 1, timeNanos: time, into: &events)
            #expect(events == expected)
            time += 1
        }
        #expect(restored.stateHash() == engine.state.stateHash())
        #expect(restored.invariantViolation() == nil)
    }

    @Test func systemCommandsAndWorldLimitsAnswerWithReasonCodes() {
        // Without world limits (a journal written before them) system commands do nothing.
        var legacy = EngineHarness(genesis: true)
        #expect(legacy.run(.tick) == [.rejected(.noSystemWork, detail: 0)])
        #expect(legacy.run(.settleFunding(account: 1)) == [.rejected(.noSystemWork, detail: 0)])
        // Set once.
        var engine = EngineHarness(genesis: false)
        let small = WorldLimits(accountsMax: 2, restingOrdersMax: 10, conditionalOrdersMax: 10, positionsPerAccountMax: 2)
        #expect(engine.run(.setWorldLimits(small)) == [.worldLimitsSet(small)])
        let hash = engine.state.stateHash()
        #expect(engine.run(.setWorldLimits(.standard)) == [.rejected(.worldLimitsSet, detail: 0)])
        #expect(engine.state.stateHash() == hash)
        #expect(engine.run(.tick) == [.rejected(.noSystemWork, detail: 0)])
        // Accounts: the third is refused, the first two may deposit again.
        for command in TestExchange.genesis { engine.run(command) }
        engine.deposit(1, 1_000)
        engine.deposit(2, 1_000)
        let before = engine.state.stateHash()
        engine.deposit(3, 1_000)
        #expect(engine.journal.last?.events == [.rejected(.accountLimit, detail: 2)])
        #expect(engine.state.stateHash() == before)
        #expect(engine.state.accounts.count == 2)
        engine.deposit(1, 1_000, transfer: 77)
        #expect(engine.state.account(1)?.balance(0) == 2_000)
    }
}
