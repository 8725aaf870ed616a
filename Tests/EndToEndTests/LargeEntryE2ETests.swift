import Foundation
import Journal
import LedgerClient
import LedgerCore
import Testing

/// One account's liquidation is the engine entry that is still unbounded (docs/RULES.md):
/// a whale's ADL against 5,000 shorts makes a tick of ~85 KB. Against the real ledgerd it
/// starts a block of its own instead of stopping the daemon, every later command
/// is answered, and the audit agrees with the daemon.
@Suite(.serialized) struct LargeEntryE2ETests {
    @Test func aTickOverTheSharedEntryLimitStartsABlockOfItsOwn() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try daemon.connect()
        // The world of LargeLiquidationTests, without its genesis `setWorldLimits` (ledgerd
        // journals that itself).
        var commands: [Command] = E2EExchange.genesis
        let shorts = 5_000
        for index in 0..<shorts {
            let account = 100_000 + AccountID(index)
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000)))
            commands.append(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 1)))
        }
        commands.append(.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: Int64(shorts) * 600_000)))
        commands.append(.setLeverage(account: 1, symbol: 0, leverage: 100))
        for _ in 0..<(shorts + 31) / 32 {
            commands.append(
                .placeOrder(
                    PlaceOrder(account: 1, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 32)))
        }
        var requestID: UInt64 = 1
        for chunk in stride(from: 0, to: commands.count, by: 4_000) {
            let part = Array(commands[chunk..<min(chunk + 4_000, commands.count)])
            for reply in try E2EExchange.run(part, on: connection, firstID: requestID) {
                guard case .committed = reply else { throw LedgerConnection.Failure.protocolError("setup: \(reply)") }
            }
            requestID += UInt64(part.count)
        }
        // The gap: the whale's liquidation goes to ADL against every short, in one tick.
        let replies = try E2EExchange.run(
            [.setMarkPrice(symbol: 0, priceUnits: 400_000), .deposit(Transfer(transferID: 2, account: 2, asset: 0, amountMinor: 5))],
            on: connection, firstID: requestID)
        for reply in replies {
            guard case .committed(_, _, let events) = reply else { throw LedgerConnection.Failure.protocolError("after: \(reply)") }
            #expect(!events.contains { if case .autoDeleveraged = $0 { true } else { false } }, "a reply carries the liquidation")
        }
        // More commands after it are answered (the daemon did not stop).
        for index in 0..<50 {
            let reply = try connection.call(
                .command(
                    requestID: 9_000_000 + UInt64(index),
                    .deposit(Transfer(transferID: 3 + UInt64(index), account: 2, asset: 0, amountMinor: 5))))
            guard case .committed = reply else { throw LedgerConnection.Failure.protocolError("later: \(reply)") }
        }
        let reported = try daemon.stateHash()
        #expect(daemon.terminate() == 0)
        #expect(daemon.log_().contains("an entry larger than a shared block takes starts a block of its own"))

        // The journal holds it: one entry over 64 KiB, first in its block, with every ADL fill.
        var largest = (sequence: SequenceNumber(0), bytes: 0, deleveraged: 0)
        let reader = JournalReader(directory: daemon.dataDirectory + "/journal")
        while let block = try reader.nextBlock() {
            for entry in block.entries where entry.payload.count > largest.bytes {
                let payload = try entry.decodePayload()
                largest = (
                    entry.sequence, entry.payload.count, payload.events.count { if case .autoDeleveraged = $0 { true } else { false } }
                )
                if entry.payload.count > Limits.entryPayloadBytesMax {
                    #expect(block.entries.first?.sequence == entry.sequence, "the large entry does not start its block")
                }
            }
        }
        #expect(largest.bytes > Limits.entryPayloadBytesMax, "largest entry \(largest.bytes) bytes")
        #expect(largest.deleveraged > shorts - 32, "\(largest.deleveraged) ADL fills in entry \(largest.sequence)")
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 0, "\(audit.output)")
        #expect(audit.output.contains("\"stateHash\":\"\(reported.hash)\""))
        #expect(audit.output.contains("\"mismatches\":0"))
    }
}
