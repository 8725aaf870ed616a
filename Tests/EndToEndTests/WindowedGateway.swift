import Foundation
import LedgerClient
import LedgerCore

/// A gateway that keeps up to `window` requests in flight on one connection until the
/// daemon goes away (or the connection is shut). Subclasses say what to send and what to
/// do with each reply; both hooks run with `lock` held.
class WindowedGateway: @unchecked Sendable {
    let connection: LedgerConnection
    let window: Int
    /// Frames sent in one go at most.
    let burstMax: Int
    let lock = NSCondition()
    var inFlight = 0
    var peakInFlight = 0
    /// Set when the replies end (the daemon died or the connection was shut).
    var stopped = false

    init(connection: LedgerConnection, window: Int, burstMax: Int) {
        self.connection = connection
        self.window = window
        self.burstMax = burstMax
    }

    /// The command for `requestID`.
    func command(_ requestID: UInt64) -> Command { preconditionFailure("a gateway says what it sends") }

    /// One reply.
    func received(_ frame: WireFrame) {}

    /// Sends until stopped; a second thread reads the replies.
    func run() {
        let receiver = Thread { [self] in
            while true {
                guard let frame = try? connection.receive() else { break }
                lock.withLock {
                    inFlight -= 1
                    received(frame)
                    // Broadcast: the sender and a test waiting for `stopped` may both wait
                    // on this condition; a signal wakes one, and could leave the test
                    // waiting forever (seen: a full run hung in FundingE2ETests).
                    lock.broadcast()
                }
            }
            lock.withLock {
                stopped = true
                lock.broadcast()
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
            let room = min(window - inFlight, burstMax)
            var frames: [WireFrame] = []
            for _ in 0..<room {
                requestID += 1
                frames.append(.command(requestID: requestID, command(requestID)))
            }
            inFlight += room
            peakInFlight = max(peakInFlight, inFlight)
            lock.unlock()
            if (try? connection.send(frames)) == nil { return }
        }
    }
}
