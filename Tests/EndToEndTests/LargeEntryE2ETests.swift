import Foundation
import Journal
import LedgerClient
import LedgerCore
import Testing

/// One account's liquidation at exchange scale against the real ledgerd (docs/RULES.md,
/// "Limits of the world, and work in bounded steps"): a whale long against 5,000 one-lot shorts, the mark
/// gapping past its bankruptcy price with an empty fund, so ADL must take every short.
/// It runs in several ticks, each under 64 KiB; every short is deleveraged exactly once;
/// no reply carries it; the audit and a restart agree with the daemon.
@Suite(.serialized) struct LargeEntryE2ETests {
    @Test func aWhalesADLAgainstThousandsRunsInBoundedTicks() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try daemon.connect()
        let shorts = 5_000
        let commands = E2EExchange.genesis + DemoExchange.whaleCommands(shorts: shorts)
        var requestID: UInt64 = 1
        for chunk in stride(from: 0, to: commands.count, by: 4_000) {
            let part = Array(commands[chunk..<min(chunk + 4_000, commands.count)])
            for reply in try E2EExchange.run(part, on: connection, firstID: requestID) {
                guard case .committed = reply else { throw LedgerConnection.Failure.protocolError("setup: \(reply)") }
            }
            requestID += UInt64(part.count)
        }
        // The gap: ADL against every short, in ticks after the mark price.
        let replies = try E2EExchange.run(
            [.setMarkPrice(symbol: 0, priceUnits: 400_000), .deposit(Transfer(transferID: 2, account: 2, asset: 0, amountMinor: 5))],
            on: connection, firstID: requestID)
        for reply in replies {
            guard case .committed(_, _, let events) = reply else { throw LedgerConnection.Failure.protocolError("after: \(reply)") }
            #expect(!events.contains { if case .autoDeleveraged = $0 { true } else { false } }, "a reply carries the liquidation")
        }
        // Commands go on being answered while (and after) the ticks run.
        for index in 0..<50 {
            let reply = try connection.call(
                .command(
                    requestID: 9_000_000 + UInt64(index),
                    .deposit(Transfer(transferID: 3 + UInt64(index), account: 2, asset: 0, amountMinor: 5))))
            guard case .committed = reply else { throw LedgerConnection.Failure.protocolError("later: \(reply)") }
        }
        let reported = try daemon.stateHash()
        #expect(daemon.terminate() == 0)

        var largest = 0
        var ticksWithADL = 0
        var continuations = 0
        var shortsDeleveraged = Set<AccountID>()
        var duplicates = 0
        let reader = JournalReader(directory: daemon.dataDirectory + "/journal")
        while let block = try reader.nextBlock() {
            for entry in block.entries {
                largest = max(largest, entry.payload.count)
                let payload = try entry.decodePayload()
                var adl = 0
                for event in payload.events {
                    if case .autoDeleveraged(_, let counterparty, _, _, _, _, _, _) = event {
                        adl += 1
                        if !shortsDeleveraged.insert(counterparty).inserted { duplicates += 1 }
                    }
                    if case .deleveragingContinues = event { continuations += 1 }
                }
                if adl > 0 {
                    ticksWithADL += 1
                    #expect(payload.command == .tick, "ADL in entry \(entry.sequence), a \(payload.command)")
                }
            }
        }
        #expect(largest <= Limits.entryPayloadBytesMax, "largest entry \(largest) bytes")
        #expect(ticksWithADL >= 4 && continuations == 1, "\(ticksWithADL) ticks with ADL, \(continuations) continuations")
        #expect(shortsDeleveraged.count > shorts - 32 && duplicates == 0, "\(shortsDeleveraged.count) shorts, \(duplicates) twice")
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 0, "\(audit.output)")
        #expect(audit.output.contains("\"stateHash\":\"\(reported.hash)\""))
        #expect(audit.output.contains("\"mismatches\":0"))
        try daemon.start()
        #expect(try daemon.stateHash() == reported)
        #expect(daemon.terminate() == 0)
    }
}
