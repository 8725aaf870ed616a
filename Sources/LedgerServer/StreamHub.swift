import Foundation
import LedgerCore

/// The live stream's memory: the last `capacity` messages in journal order, each at an
/// absolute position, which every client reads at its own cursor. The follower publishes
/// and never waits for a client; a client that falls behind what is kept, or more than
/// `lagMax` messages behind the newest, is cut off with the reason
/// (docs/API.md, "Live stream").
final class StreamHub: @unchecked Sendable {
    let capacity: Int
    let lagMax: Int
    private let lock = NSLock()
    private var ring: RecordRing<StreamMessage>
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(capacity: Int, lagMax: Int) {
        precondition(capacity > 0 && lagMax > 0)
        self.capacity = capacity
        self.lagMax = min(lagMax, capacity)
        ring = RecordRing(capacity: capacity)
    }

    /// The positions kept: `first ..< end`.
    var window: (first: Int, end: Int) { lock.withLock { (ring.first, ring.end) } }

    /// Appends an entry's messages (the follower's thread) and wakes the readers.
    func publish(_ messages: [StreamMessage]) {
        guard !messages.isEmpty else { return }
        let woken: [CheckedContinuation<Void, Never>] = lock.withLock {
            for message in messages { _ = ring.append(message) }
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in woken { waiter.resume() }
    }

    /// The first position whose message is at or after `sequence`: nil when older
    /// messages than kept would be needed (the journal has them), `end` when none is yet.
    func position(from sequence: SequenceNumber) -> Int? {
        lock.withLock {
            var low = ring.first
            var high = ring.end
            while low < high {
                let middle = (low + high) / 2
                if ring[middle]!.sequence < sequence { low = middle + 1 } else { high = middle }
            }
            // Kept from the start of `sequence`'s entry only if an earlier message is kept
            // too (or nothing was ever dropped).
            if low == ring.first && ring.first > 0 { return nil }
            return low
        }
    }

    enum Read {
        /// Messages of the client's channels from its cursor, and the cursor after them.
        case messages([StreamMessage], next: Int)
        /// The client is too far behind: the reason to close it with.
        case cut(String)
    }

    /// Up to `limit` messages of `channels` from `cursor`.
    func read(from cursor: Int, channels: Set<StreamChannel>, limit: Int) -> Read {
        lock.withLock {
            if cursor < ring.first {
                return .cut("slow consumer: the stream dropped messages from position \(cursor) (it keeps \(capacity))")
            }
            if ring.end - cursor > lagMax {
                return .cut("slow consumer: \(ring.end - cursor) messages behind (stream.client_lag_max \(lagMax))")
            }
            var found: [StreamMessage] = []
            var position = cursor
            while position < ring.end && found.count < limit {
                if let message = ring[position], channels.contains(message.channel) { found.append(message) }
                position += 1
            }
            return .messages(found, next: position)
        }
    }

    /// Returns once a message is at `position` or later.
    func wait(beyond position: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = lock.withLock {
                if ring.end > position { return true }
                waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
