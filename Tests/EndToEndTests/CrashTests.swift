import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
import Testing

/// Every journaled command by sequence.
func journaledCommands(_ directory: String) throws -> [SequenceNumber: Command] {
    var journaled: [SequenceNumber: Command] = [:]
    try JournalReader(directory: directory).forEach { entry in
        var reader = ByteReader(Array(entry.payload))
        journaled[entry.sequence] = try EntryPayload.decode(from: &reader).command
    }
    return journaled
}

/// SIGKILL with many requests in flight, then restart: every acknowledged entry is in the
/// journal and the state; nothing else is.
@Suite(.serialized) struct CrashTests {
    /// Sends deposits and orders with up to `window` in flight until killed; records the
    /// acknowledged (sequence, command) pairs.
    final class Flood: WindowedGateway, @unchecked Sendable {
        var nextTransfer: UInt64
        var acknowledged: [SequenceNumber: Command] = [:]
        var sent: [UInt64: Command] = [:]

        init(connection: LedgerConnection, window: Int, firstTransfer: UInt64) {
            nextTransfer = firstTransfer
            super.init(connection: connection, window: window, burstMax: 500)
        }

        override func command(_ requestID: UInt64) -> Command {
            let account = requestID % 50 + 1
            let command: Command
            if requestID % 3 == 0 {
                nextTransfer += 1
                command = .deposit(
                    Transfer(transferID: nextTransfer, account: account, asset: 0, amountMinor: Int64(requestID % 997 + 1) * 1_000))
            } else {
                let side: Side = requestID % 2 == 0 ? .buy : .sell
                command = .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: side, type: .limit, timeInForce: .gtc,
                        priceUnits: 500_000 + (side == .buy ? -1 : 1) * Int64(requestID % 40) + 20, quantityUnits: Int64(requestID % 9 + 1))
                )
            }
            sent[requestID] = command
            return command
        }

        override func received(_ frame: WireFrame) {
            if case .committed(let id, let sequence, _) = frame, let command = sent[id] { acknowledged[sequence] = command }
        }
    }

    @Test func killedWithRequestsInFlightLosesNothingAcknowledged() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        var setup: [Command] = E2EExchange.genesis
        for account in 1...50 as ClosedRange<UInt64> {
            setup.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 10_000_000_000_000)))
        }
        try E2EExchange.run(setup, on: try daemon.connect())

        // ledgerd's genesis entry (setWorldLimits), then the setup.
        let setupEntries = SequenceNumber(setup.count) + 1
        var allSent = Set<Command>()
        var allAcknowledged: [SequenceNumber: Command] = [:]
        var peak = 0
        // Kill points: after a few thousand acknowledgements, after more, after many —
        // counted rather than timed, so a slow machine still kills mid-flood.
        for (round, killAfter) in [2_000, 6_000, 15_000].enumerated() {
            let flood = Flood(connection: try daemon.connect(), window: 12_000, firstTransfer: UInt64(1_000_000 * (round + 1)))
            let sender = Thread { flood.run() }
            sender.start()
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline,
                flood.lock.withLock({ flood.acknowledged.count < killAfter || flood.peakInFlight < 10_000 })
            {
                usleep(1_000)
            }
            daemon.kill()
            flood.connection.shutdownBoth()
            while flood.lock.withLock({ !flood.stopped }) { usleep(1_000) }
            let acknowledged = flood.lock.withLock { flood.acknowledged }
            peak = max(peak, flood.lock.withLock { flood.peakInFlight })
            allAcknowledged.merge(acknowledged) { first, _ in first }

            try daemon.start()
            // Every acknowledged entry is in the journal with the command that was sent.
            let journaled = try journaledCommands(daemon.journalDirectory)
            for (sequence, command) in allAcknowledged {
                #expect(journaled[sequence] == command, "round \(round): acknowledged entry \(sequence) lost or changed")
            }
            #expect(acknowledged.count > 1_000, "round \(round): only \(acknowledged.count) acknowledged before the kill")
            // Nothing in the journal that was not sent, and no transfer twice: an
            // unacknowledged request is either durable (its reply was lost with the
            // process; a retry gets `transferReplayed`) or has no effect at all.
            allSent.formUnion(flood.lock.withLock { flood.sent.values })
            var transfersSeen = Set<UInt64>()
            // ledgerd's own entries (genesis, ticks) were never sent by anyone.
            for (sequence, command) in journaled where sequence > setupEntries && !command.isSystemOnly {
                #expect(allSent.contains(command), "round \(round): entry \(sequence) was never sent")
                if case .deposit(let transfer) = command {
                    #expect(transfersSeen.insert(transfer.transferID).inserted, "transfer \(transfer.transferID) twice")
                }
            }
            // The restarted state is exactly the journal's: balances are the journaled deposits
            // plus trading, which the audit re-derives; the daemon's hash equals the audit's.
            let reported = try daemon.stateHash()
            let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
            #expect(audit.status == 0, "audit: \(audit.output) \(audit.error)")
            #expect(audit.output.contains("\"stateHash\":\"\(reported.hash)\""), "daemon \(reported) vs audit \(audit.output)")
            #expect(audit.output.contains("\"sequence\":\(reported.sequence)"))
        }
        #expect(peak >= 10_000, "only \(peak) requests were in flight")
        daemon.kill()
    }
}

/// A full disk: ledgerd stops without acknowledging what it could not write, and after
/// space is freed it restarts with every acknowledged entry. Needs root (a tmpfs mount);
/// CI runs as root.
@Suite(.serialized) struct DiskFullTests {
    @Test func aFullDiskStopsTheDaemonWithoutAcknowledging() throws {
        let mountPoint = NSTemporaryDirectory() + "ledger-full-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard system("mount -t tmpfs -o size=3m tmpfs '\(mountPoint)'") == 0 else {
            Issue.record("cannot mount a tmpfs at \(mountPoint): this test needs root (CI runs as root)")
            return
        }
        defer {
            // A process another test spawns meanwhile can inherit an open file of this
            // mount (the daemon's log) for a moment, and umount then fails busy: a plain
            // umount left such mounts behind. Try again, then detach it lazily: the kernel
            // drops it when the last file closes.
            var unmounted = false
            for _ in 0..<20 where !unmounted {
                unmounted = system("umount '\(mountPoint)' 2>/dev/null") == 0
                if !unmounted { usleep(100_000) }
            }
            if !unmounted { #expect(system("umount -l '\(mountPoint)'") == 0, "\(mountPoint) stays mounted") }
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let daemon = DaemonProcess(dataDirectory: mountPoint + "/data")
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())

        let flood = CrashTests.Flood(connection: try daemon.connect(), window: 2_000, firstTransfer: 1_000_000)
        let sender = Thread { flood.run() }
        sender.start()
        // The journal fills 3 MiB within seconds; then the daemon must exit by itself.
        let status = daemon.waitForExit(seconds: 120)
        flood.connection.shutdownBoth()
        while flood.lock.withLock({ !flood.stopped }) { usleep(1_000) }
        #expect(status == 70, "exit status \(status)")
        #expect(daemon.log_().contains("disk full"), "\(daemon.log_().suffix(2_000))")
        let acknowledged = flood.lock.withLock { flood.acknowledged }
        #expect(acknowledged.count > 1_000)

        // Make room, restart: the torn tail goes, every acknowledged entry stays.
        #expect(system("mount -o remount,size=64m '\(mountPoint)'") == 0)
        try daemon.start()
        let journaled = try journaledCommands(daemon.journalDirectory)
        for (sequence, command) in acknowledged {
            #expect(journaled[sequence] == command, "acknowledged entry \(sequence) lost")
        }
        daemon.kill()
    }
}
