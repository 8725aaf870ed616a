import Foundation
import Journal
import LedgerCore
import LedgerDigest
import Logging

/// A second copy of the state, kept on a thread of its own one durable batch behind the
/// engine, from which state queries and reads are answered (docs/OPERATIONS.md, "State queries and reads").
///
/// Hashing the state reads all of it: about 0.1–0.3 s at 10^6 accounts. Done on the engine
/// thread, every `GET /v1/state` stalled every command behind it. Here the engine only notes
/// the query; the writer hands the follower each durable batch and the replies of any
/// connection that asked; the follower applies the batch's events (as recovery does) and
/// answers with the hash of its copy. The state reply names the entry it describes: the
/// last of the batches the follower has applied, at or after every entry acknowledged to
/// that connection before the query. One hash serves every query waiting at that point,
/// so a flood of queries costs one hash per catch-up, not one per query.
///
/// A connection's replies stay in request order: once one of its replies waits for the
/// follower, its later replies go through the follower too, until it has none left there.
package final class StateFollower: @unchecked Sendable {
    /// What the follower answers from its copy.
    enum Work {
        case stateHash
        /// A read of the state, rendered here (docs/OPERATIONS.md, "State queries and reads").
        case read(Read)
    }

    /// A read of the follower's state and recent history, on its thread.
    package typealias Read = @Sendable (borrowing ExchangeState, borrowing RecentHistory) -> EngineResponse

    /// A reply to deliver, or work to answer from the follower's copy.
    enum Reply {
        case ready(EngineResponse)
        case work(Work)
    }

    /// A durable batch's entries as the engine made them: each entry's command and time,
    /// and where its events end in `events`. The writer checked (`journal.verify_entries`)
    /// that the journal's bytes decode to exactly these, so the follower applies them as
    /// recovery would read them, without decoding the bytes again (a tenth of its time).
    struct Entries {
        var firstSequence: SequenceNumber
        var commands: [Command]
        var times: [Int64]
        var eventEnds: [Int]
        var events: [Event]
        /// What it holds in memory, for the queue's bound.
        var bytes: Int {
            commands.count * (MemoryLayout<Command>.stride + MemoryLayout<Int64>.stride + MemoryLayout<Int>.stride)
                + events.count * MemoryLayout<Event>.stride
        }
    }

    private enum Item {
        case entries(Entries)
        /// The stream's watched channels changed.
        case poke
        case replies(sink: any ReplySink, items: [(requestID: UInt64, reply: Reply)])
        /// Entries already applied, moved out of the list being worked through.
        case applied
    }

    /// Batches the writer may hand over before it waits for the follower: a bound on the
    /// follower's memory, and backpressure (not a crash) if it ever falls that far behind.
    static let queuedBytesMax = 256 << 20

    private let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [Item] = []
    private var queuedBytes = 0
    private var routed: [ObjectIdentifier: Int] = [:]
    private var stopping = false
    private var finished = false
    private var _appliedSequence: SequenceNumber
    private var _hashesComputed = 0

    /// Owned by the follower's thread.
    private var state: ExchangeState?
    /// `state?.lastSequence`, kept apart: reading it through the optional copied the state.
    private var appliedThrough: SequenceNumber = 0
    private var history: RecentHistory
    private var feed = StreamFeed()
    private var streamMessages: [StreamMessage] = []
    /// The live stream's memory, fed with the messages of the watched channels (set
    /// before `start`).
    var stream: StreamHub? {
        didSet { stream?.onWatch = { [weak self] in self?.poke() } }
    }
    private var initial: (bytes: [UInt8], sequence: SequenceNumber, timeNanos: Int64)?
    private var failure: String?

    /// Takes the canonical encoding of the engine's starting state: the follower builds
    /// its own copy from it, so the two share no storage and the engine never pays a
    /// copy-on-write for the follower.
    init(startingFrom state: borrowing ExchangeState, historyLimits: HistoryLimits, logger: Logger) {
        history = RecentHistory(limits: historyLimits, startingAfter: state.lastSequence)
        var writer = ByteWriter(capacity: 1 << 20)
        state.encodeCanonical(to: &writer)
        initial = (writer.bytes, state.lastSequence, state.lastTimeNanos)
        _appliedSequence = state.lastSequence
        self.logger = logger
    }

    /// The last entry the follower has applied (metrics).
    var appliedSequence: SequenceNumber { condition.withLock { _appliedSequence } }
    var hashesComputed: Int { condition.withLock { _hashesComputed } }

    func start() {
        let thread = Thread { [self] in
            nameThisThread("ledger-follower")
            run()
        }
        thread.name = "ledger-follower"
        thread.start()
    }

    /// A durable batch, in journal order (the writer's thread).
    func append(_ batch: consuming Entries) {
        condition.lock()
        while queuedBytes > Self.queuedBytesMax && !finished { condition.wait() }
        queuedBytes += batch.bytes
        queue.append(.entries(consume batch))
        condition.broadcast()
        condition.unlock()
    }

    /// The stream's watched channels changed: the follower says from which entry it renders
    /// them, even while no entry comes.
    func poke() {
        condition.withLock {
            queue.append(.poke)
            condition.broadcast()
        }
    }

    /// Delivers a connection's replies from one batch, or queues them behind the
    /// follower's work when one of them is a state query or the connection still has
    /// replies queued here. Returns false when the caller may deliver them itself.
    func route(sink: any ReplySink, asksState: Bool, items: () -> [(requestID: UInt64, reply: Reply)]) -> Bool {
        let key = ObjectIdentifier(sink)
        condition.lock()
        defer { condition.unlock() }
        guard asksState || routed[key] != nil else { return false }
        routed[key, default: 0] += 1
        queue.append(.replies(sink: sink, items: items()))
        condition.broadcast()
        return true
    }

    /// Answers what is queued, then stops the thread.
    func stopAndDrain() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// The follower's nice value: it is background work, and on a machine with few cores
    /// the engine, the writer and ingress come first (a state reply waits instead).
    static let niceness: Int32 = 10

    private func run() {
        // Linux keeps a nice value per thread; 0 names the calling one (man 2 setpriority).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
        if let initial {
            let started = ContinuousClock.now
            var reader = ByteReader(initial.bytes)
            do {
                let copy = try ExchangeState.decodeCanonical(
                    from: &reader, sequence: initial.sequence, timeNanos: initial.timeNanos)
                history.seed(from: copy)
                state = copy
                appliedThrough = copy.lastSequence
                logger.info(
                    "state follower ready",
                    metadata: [
                        "sequence": "\(copy.lastSequence)", "state_hash": "\(hexString(copy.stateHash()))",
                        "elapsed": "\(ContinuousClock.now - started)",
                    ])
            } catch {
                fail("the starting state does not decode: \(error)")
            }
            self.initial = nil
        }
        var work: [Item] = []
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            swap(&work, &queue)
            queuedBytes = 0
            condition.broadcast()
            condition.unlock()

            var poked = false
            for index in work.indices {
                switch work[index] {
                case .entries:
                    // Moved out (`applied` left in its place), so that the batch's commands
                    // are its own to move (`apply(_:to:history:)`).
                    var item = Item.applied
                    swap(&item, &work[index])
                    guard case .entries(let batch) = consume item else { preconditionFailure("entries were just seen here") }
                    apply(batch)
                case .poke: poked = true
                case .replies, .applied: break
                }
            }
            let sequence = appliedThrough
            if poked, let stream { stream.publish([], renderedFrom: sequence + 1, rendered: stream.watched()) }
            condition.withLock { _appliedSequence = sequence }
            var answer: EngineResponse?
            var indexed = false
            for case .replies(let sink, let items) in work {
                let responses = items.map { item -> (requestID: UInt64, response: EngineResponse) in
                    switch item.reply {
                    case .ready(let response): return (item.requestID, response)
                    case .work(let work):
                        guard failure == nil, let state else {
                            return (
                                item.requestID, .error(.unavailable, "the state follower stopped: \(failure ?? "no state"); see the log")
                            )
                        }
                        switch work {
                        case .stateHash:
                            if answer == nil {
                                condition.withLock { _hashesComputed += 1 }
                                answer = .state(sequence: state.lastSequence, stateHash: state.stateHash())
                            }
                            return (item.requestID, answer!)
                        case .read(let body):
                            // The closed orders by id, once before the reads (nothing indexes
                            // them while nobody reads).
                            if !indexed {
                                history.indexClosedOrders()
                                indexed = true
                            }
                            return (item.requestID, body(state, history))
                        }
                    }
                }
                sink.deliver(ReplyList(responses))
                let key = ObjectIdentifier(sink)
                condition.withLock {
                    routed[key]! -= 1
                    if routed[key] == 0 { routed[key] = nil }
                }
            }
            work.removeAll(keepingCapacity: true)
        }
    }

    private func apply(_ batch: consuming Entries) {
        // Moved out (not copied: a copy retained and released its ~40 arrays each batch),
        // and so unique while it changes.
        guard failure == nil, var current = state.take() else { return }
        // The history is passed in once a batch: an `inout` access to the class's property is
        // checked for exclusivity at run time, ~100 instructions each entry.
        apply(batch, to: &current, history: &history)
        appliedThrough = current.lastSequence
        state = consume current
    }

    private func apply(_ batch: consuming Entries, to current: inout ExchangeState, history: inout RecentHistory) {
        // The stream's channels, once a batch; nothing is rendered while nobody watches.
        let watched = stream?.watched() ?? []
        let depth = watched.contains { if case .depth = $0 { true } else { false } }
        streamMessages.removeAll(keepingCapacity: true)
        defer { stream?.publish(streamMessages, renderedFrom: batch.firstSequence, rendered: watched) }
        var touched = Set<StreamFeed.Level>()
        var start = 0
        // The commands and events are read where they lie in the batch: a slice of the
        // events retained and released the array for every entry. Each command is moved out
        // for its entry and back after it: read in place it was still copied (a call
        // through its cases) and destroyed, ~140 instructions an entry.
        batch.commands.withUnsafeMutableBufferPointer { commands in
            batch.events.withUnsafeBufferPointer { allEvents in
                for index in commands.indices {
                    let sequence = batch.firstSequence + SequenceNumber(index)
                    guard sequence == current.lastSequence + 1 else {
                        fail("entry \(sequence) follows \(current.lastSequence)")
                        return
                    }
                    let timeNanos = batch.times[index]
                    let events = UnsafeBufferPointer(rebasing: allEvents[start..<batch.eventEnds[index]])
                    let range = start..<batch.eventEnds[index]
                    start = batch.eventEnds[index]
                    touched.removeAll(keepingCapacity: true)
                    if depth { StreamFeed.touchedLevels(batch.events[range], state: current, into: &touched) }
                    let place = commands.baseAddress.unsafelyUnwrapped + index
                    let command = place.move()
                    Self.follow(command, events, sequence: sequence, timeNanos: timeNanos, state: &current, history: &history)
                    if !watched.isEmpty {
                        if depth { StreamFeed.touchedLevels(batch.events[range], state: current, into: &touched) }
                        history.indexClosedOrders()
                        feed.messages(
                            command, batch.events[range], sequence: sequence, timeNanos: timeNanos, touched: touched,
                            state: current, history: history, wants: { watched.contains($0) }, into: &streamMessages)
                    }
                    place.initialize(to: consume command)
                }
            }
        }
    }

    /// One durable entry followed: its events applied to the state, then recorded in the
    /// history. This is all the follower does for an entry while nobody watches the stream;
    /// `FollowerProfile` runs it over a journal (docs/BENCHMARKS.md, "Profiling").
    @inline(__always)
    package static func follow(
        _ command: Command, _ events: UnsafeBufferPointer<Event>, sequence: SequenceNumber, timeNanos: Int64,
        state: inout ExchangeState, history: inout RecentHistory
    ) {
        state.apply(events, of: command, sequence: sequence, timeNanos: timeNanos)
        // In two steps: the state whole, passed from its place here, was copied for every
        // entry (`RecentHistory.record(_:_:sequence:timeNanos:symbols:)`).
        if history.record(command, events, sequence: sequence, timeNanos: timeNanos, symbols: state.symbols) {
            history.endLiquidations(after: state)
        }
    }

    /// The follower cannot go on; the engine and the journal are unaffected, state queries
    /// are answered UNAVAILABLE, and `ledger-replay audit` still gives the hash.
    private func fail(_ reason: String) {
        failure = reason
        logger.critical("state follower stopped; state queries will answer UNAVAILABLE", metadata: ["reason": "\(reason)"])
    }
}
