import Foundation
import Journal
import LedgerClient
import LedgerCore
import Testing

/// SIGKILL with many requests in flight, then restart: every acknowledged entry is in the
/// journal and the state; nothing else is.
@Suite(.serialized) struct CrashTests {
    /// Sends deposits and orders with up to `window` in flight until killed; records the
    /// acknowledged (sequence, command) pairs.
    final class Flood: @unchecked Sendable {
        let connection: LedgerConnection
        let window: Int
        var nextTransfer: UInt64
        let lock = NSCondition()
        var inFlight = 0
        var acknowledged: [SequenceNumber: Command] = [:]
        var sent: [UInt64: Command] = [:]
        var peakInFlight = 0
        var stopped = false

        init(connection: LedgerConnection, window: Int, firstTransfer: UInt64) {
            self.connection = connection
            self.window = window
            nextTransfer = firstTransfer
        }

        func command(_ requestID: UInt64) -> Command {
            let account = requestID % 50 + 1
            if requestID % 3 == 0 {
                nextTransfer += 1
                return .deposit(Transfer(transferID: nextTransfer, account: account, asset: 0, amountMinor: Int64(requestID % 997 + 1) * 1_000))
            }
            let side: Side = requestID % 2 == 0 ? .buy : .sell
            return .placeOrder(
                PlaceOrder(
                    account: account, symbol: 0, side: side, type: .limit, timeInForce: .gtc,
                    priceUnits: 500_000 + (side == .buy ? -1 : 1) * Int64(requestID % 40) + 20, quantityUnits: Int64(requestID % 9 + 1)))
        }

        func run() {
            let receiver = Thread { [self] in
                while true {
                    guard let frame = try? connection.receive() else { break }
                    lock.lock()
                    inFlight -= 1
                    if case .committed(let id, let sequence, _) = frame, let command = sent[id] { acknowledged[sequence] = command }
                    lock.signal()
                    lock.unlock()
                }
                lock.withLock {
                    stopped = true
                    lock.signal()
                }
            }
            receiver.start()
            var requestID: UInt64 = 0
            while true {
                lock.lock()
                while inFlight >= window && !stopped { lock.wait() }
                if stopped {
                    lock.unlock()
                    return
                }
                let room = min(window - inFlight, 500)
                var frames: [WireFrame] = []
                for _ in 0..<room {
                    requestID += 1
                    let command = command(requestID)
                    sent[requestID] = command
                    frames.append(.command(requestID: requestID, command))
                }
                inFlight += room
                peakInFlight = max(peakInFlight, inFlight)
                lock.unlock()
                if (try? connection.send(frames)) == nil { return }
            }
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

        var allAcknowledged: [SequenceNumber: Command] = [:]
        var peak = 0
        for (round, delayMillis) in [400, 900, 1_500].enumerated() {
            let flood = Flood(connection: try daemon.connect(), window: 12_000, firstTransfer: UInt64(1_000_000 * (round + 1)))
            let sender = Thread { flood.run() }
            sender.start()
            usleep(UInt32(delayMillis) * 1_000)
            daemon.kill()
            flood.connection.shutdownBoth()
            while flood.lock.withLock({ !flood.stopped }) { usleep(1_000) }
            let acknowledged = flood.lock.withLock { flood.acknowledged }
            peak = max(peak, flood.lock.withLock { flood.peakInFlight })
            allAcknowledged.merge(acknowledged) { first, _ in first }

            try daemon.start()
            // Every acknowledged entry is in the journal with the command that was sent.
            var journaled: [SequenceNumber: Command] = [:]
            try JournalReader(directory: daemon.journalDirectory).forEach { entry in
                var reader = ByteReader(Array(entry.payload))
                journaled[entry.sequence] = try EntryPayload.decode(from: &reader).command
            }
            for (sequence, command) in allAcknowledged {
                #expect(journaled[sequence] == command, "round \(round): acknowledged entry \(sequence) lost or changed")
            }
            #expect(acknowledged.count > 1_000, "round \(round): only \(acknowledged.count) acknowledged before the kill")
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
