import LedgerClient
import Testing

@testable import LedgerCore

/// What is left unbounded (docs/RULES.md, "Limits of the world"): one account's
/// liquidation runs in one tick, whatever it holds. A whale long against 5,000 one-lot
/// shorts, the mark gapping past its bankruptcy price with an empty fund and no bids:
/// its liquidation goes to ADL against every short in one tick, an entry over 64 KiB —
/// which ledgerd journals at the start of a block of its own (EndToEndTests.LargeEntryE2ETests).
@Suite struct LargeLiquidationTests {
    static let whale: AccountID = 1
    static let firstShort: AccountID = 100_000

    /// The world, run as ledgerd's sequencer runs it (a tick after each command while
    /// the engine has work). Returns the engine and the commands that built it.
    static func world(shorts: Int) -> (engine: EngineHarness, commands: [Command]) {
        var commands: [Command] = [.setWorldLimits(.standard)] + OrderFlow.genesis + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
        for index in 0..<shorts {
            let account = firstShort + AccountID(index)
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000)))
            commands.append(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 1)))
        }
        // The whale: 100x, with just enough margin; it buys every lot (32 makers an order).
        commands.append(.deposit(Transfer(transferID: whale, account: whale, asset: 0, amountMinor: Int64(shorts) * 600_000)))
        commands.append(.setLeverage(account: whale, symbol: 0, leverage: 100))
        for _ in 0..<(shorts + 31) / 32 {
            commands.append(
                .placeOrder(
                    PlaceOrder(account: whale, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 32)))
        }
        var engine = EngineHarness(genesis: false)
        for command in commands {
            engine.run(command)
            while engine.state.hasSystemWork { engine.run(.tick) }
        }
        return (engine, commands)
    }

    @Test func oneWhalesLiquidationWithADLAgainstEveryShortIsOneLargeTick() throws {
        let shorts = 5_000
        var (engine, _) = Self.world(shorts: shorts)
        // Nearly every lot (the last order meets the 100x bracket's cap).
        let bought = try #require(engine.state.account(Self.whale)).position(0).sizeQuantityUnits
        #expect(bought > Int64(shorts) - 32, "the whale bought \(bought) lots")
        #expect(engine.state.invariantViolation() == nil)
        // −20%: far past the whale's bankruptcy price; the fund is empty, so ADL.
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 400_000))
        var largest = (events: 0, bytes: 0)
        var deleveraged = 0
        while engine.state.hasSystemWork {
            let events = engine.run(.tick)
            var payload = ByteWriter()
            EntryPayload.encode(command: .tick, events: events, to: &payload)
            if payload.bytes.count > largest.bytes { largest = (events.count, payload.bytes.count) }
            deleveraged += events.count { if case .autoDeleveraged = $0 { true } else { false } }
        }
        #expect(deleveraged == Int(bought), "\(deleveraged) ADL fills for \(bought) lots")
        #expect(largest.bytes > Limits.entryPayloadBytesMax, "the whale's tick: \(largest.events) events, \(largest.bytes) bytes")
        #expect(largest.bytes < 1 << 20)
        #expect(engine.state.account(Self.whale)?.position(0).sizeQuantityUnits == 0)
        #expect(engine.state.invariantViolation() == nil)
        print("LargeLiquidationTests: the whale's tick holds \(largest.events) events, \(largest.bytes) bytes")
    }
}
