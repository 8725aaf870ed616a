import Foundation
import LedgerCore

/// The live stream's memory: the last `capacity` messages in journal order, each at an
/// absolute position, which every client reads at its own cursor: the ring is every
/// client's buffer, so a client costs a cursor, not a copy. The follower publishes and
/// never waits for a client; a client whose unread messages the ring has overwritten is
/// cut off with the reason (docs/API.md, "Live stream").
package final class StreamHub: @unchecked Sendable {
    let capacity: Int
    private let lock = NSLock()
    private var ring: RecordRing<StreamMessage>
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0
    /// Connected readers: their cursor and how to close them from here.
    private var clients: [Int: (cursor: Int, close: @Sendable (String) -> Void)] = [:]
    private var nextClient = 0
    package private(set) var cutCount = 0
    private var _journalReplays = 0
    /// Resumes that read the journal (metrics).
    package var journalReplays: Int { lock.withLock { _journalReplays } }
    func countJournalReplay() { lock.withLock { _journalReplays += 1 } }

    /// How long a channel stays watched after its last reader left, so that a client that
    /// reconnects within it resumes from memory.
    let resumeWindow: Duration
    /// Readers per channel, and until when a channel nobody reads stays watched.
    private var interest: [StreamChannel: Int] = [:]
    private var lingering: [StreamChannel: ContinuousClock.Instant] = [:]
    /// Per channel the follower renders, the first sequence from which every message of
    /// it is rendered (it was watched from then on without a break).
    private var renderedSince: [StreamChannel: SequenceNumber] = [:]
    /// Called when a channel becomes watched, so that the follower says from which entry
    /// on it renders it even while no entry comes.
    var onWatch: (@Sendable () -> Void)?

    /// The history a journal replay keeps while it renders (its orders' records).
    let replayHistoryLimits: HistoryLimits

    package init(
        capacity: Int, resumeWindow: Duration = .seconds(60), replayHistoryLimits: HistoryLimits = HistoryLimits()
    ) {
        self.replayHistoryLimits = replayHistoryLimits
        precondition(capacity > 0)
        self.capacity = capacity
        self.resumeWindow = resumeWindow
        ring = RecordRing(capacity: capacity)
    }

    /// A reader of these channels arrived: the follower renders their messages from now on.
    func watch(_ channels: Set<StreamChannel>) {
        let new = lock.withLock {
            var new = false
            for channel in channels {
                if interest[channel] == nil && lingering[channel] == nil { new = true }
                interest[channel, default: 0] += 1
                lingering[channel] = nil
            }
            return new
        }
        if new { onWatch?() }
    }

    /// A reader left: its channels stay watched for `resumeWindow` unless another reads them.
    func unwatch(_ channels: Set<StreamChannel>) {
        let until = ContinuousClock.now + resumeWindow
        lock.withLock {
            for channel in channels {
                interest[channel, default: 1] -= 1
                if interest[channel]! <= 0 {
                    interest[channel] = nil
                    lingering[channel] = until
                }
            }
        }
    }

    /// The channels whose messages are rendered (the follower asks once a batch). The
    /// stream costs nothing while nobody reads it.
    func watched() -> Set<StreamChannel> {
        let now = ContinuousClock.now
        return lock.withLock {
            lingering = lingering.filter { $0.value > now }
            return Set(interest.keys).union(lingering.keys)
        }
    }

    /// The positions kept: `first ..< end`.
    var window: (first: Int, end: Int) { lock.withLock { (ring.first, ring.end) } }

    /// Appends messages (the follower's thread), wakes the readers, and closes a reader
    /// that has fallen too far behind (one blocked on a socket that is not read never gets
    /// to see that itself).
    /// `rendered`: the channels rendered for the entries from `renderedFrom` on.
    func publish(_ messages: [StreamMessage], renderedFrom: SequenceNumber, rendered: Set<StreamChannel>) {
        lock.withLock {
            for channel in rendered where renderedSince[channel] == nil { renderedSince[channel] = renderedFrom }
            for channel in renderedSince.keys where !rendered.contains(channel) { renderedSince[channel] = nil }
        }
        publish(messages)
    }

    func publish(_ messages: [StreamMessage]) {
        guard !messages.isEmpty else { return }
        let (woken, cut): ([CheckedContinuation<Void, Never>], [(@Sendable (String) -> Void, String)]) = lock.withLock {
            for message in messages { ring.append(message) }
            var cut: [(@Sendable (String) -> Void, String)] = []
            for (id, client) in clients {
                if let reason = lagReason(client.cursor) {
                    cut.append((client.close, reason))
                    clients[id] = nil
                    cutCount += 1
                }
            }
            defer { waiters.removeAll() }
            return (Array(waiters.values), cut)
        }
        for waiter in woken { waiter.resume() }
        for (close, reason) in cut { close(reason) }
    }

    /// Why a reader at `cursor` is cut, or nil (lock held).
    private func lagReason(_ cursor: Int) -> String? {
        guard cursor < ring.first else { return nil }
        return "slow consumer: \(ring.end - cursor) messages behind, more than the stream keeps (stream.buffer_messages \(capacity))"
    }

    /// A connected reader at `cursor`; `close` is called (once, from the publishing
    /// thread) if it falls too far behind.
    func register(cursor: Int, close: @escaping @Sendable (String) -> Void) -> Int {
        lock.withLock {
            nextClient += 1
            clients[nextClient] = (cursor, close)
            return nextClient
        }
    }

    /// The reader read through `cursor`; false when it was cut meanwhile.
    func advance(_ client: Int, to cursor: Int) -> Bool {
        lock.withLock {
            guard clients[client] != nil else { return false }
            clients[client]!.cursor = cursor
            return true
        }
    }

    func unregister(_ client: Int) {
        _ = lock.withLock { clients.removeValue(forKey: client) }
    }

    package var clientCount: Int { lock.withLock { clients.count } }

    /// The first sequence whose messages are all kept, or nil with none kept.
    var oldestCompleteSequence: SequenceNumber? {
        lock.withLock {
            guard ring.end > ring.first, let first = ring[ring.first] else { return nil }
            return ring.first == 0 ? first.sequence : first.sequence + 1
        }
    }

    enum Resume: Equatable {
        /// Read from this position of memory.
        case memory(Int)
        /// Read the journal through this sequence first, then ask again.
        case journal(through: SequenceNumber)
        /// The follower has not yet said from when it renders these channels: ask again
        /// after the next publish.
        case notReady
    }

    /// Where a reader of `channels` (watched already) continues from `sequence`.
    func resume(from sequence: SequenceNumber, channels: Set<StreamChannel>) -> Resume {
        let since: SequenceNumber? = lock.withLock {
            var since: SequenceNumber = 0
            for channel in channels {
                guard let from = renderedSince[channel] else { return nil }
                since = max(since, from)
            }
            return since
        }
        guard let since else { return .notReady }
        if sequence < since { return .journal(through: since - 1) }
        if let position = position(from: sequence) { return .memory(position) }
        // Memory no longer holds all of `sequence`'s entry: the journal up to what it holds.
        return .journal(through: max(sequence, oldestCompleteSequence ?? sequence) - 1)
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
            if let reason = lagReason(cursor) { return .cut(reason) }
            var found: [StreamMessage] = []
            var position = cursor
            while position < ring.end && found.count < limit {
                if let message = ring[position], channels.contains(message.channel) { found.append(message) }
                position += 1
            }
            return .messages(found, next: position)
        }
    }

    /// Returns once a message is at `position` or later, or the task is cancelled.
    func wait(beyond position: Int) async {
        let id = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = lock.withLock {
                    if ring.end > position || Task.isCancelled { return true }
                    waiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            lock.withLock { waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
