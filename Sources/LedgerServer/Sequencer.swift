import Foundation
import Journal
import LedgerCore
import Logging

/// What a request gets back.
package enum EngineResponse: Sendable {
    /// The command's entry is durable. The events are a slice of the batch's buffer,
    /// valid during `deliver` only; `encodedEvents`, when given, their count and encoding as
    /// the journal's block holds them (a TCP reply copies them), valid as long.
    case committed(sequence: SequenceNumber, timeNanos: Int64, events: ArraySlice<Event>, encodedEvents: ArraySlice<UInt8>?)
    /// Not journaled.
    case error(WireError, String)
    case state(sequence: SequenceNumber, stateHash: [UInt8])
    /// A read from memory, already rendered (JSON text).
    case view(String)
}

/// Where replies go: one object per connection. `deliver` is called from the journal
/// writer's thread with a connection's replies in request order.
package protocol ReplySink: AnyObject, Sendable {
    func deliver(_ replies: ReplyList)
}

/// A connection's replies from one batch, in request order. A committed reply names its
/// events and their journal bytes as ranges of the batch's buffers, which the list holds
/// once: as slices (`EngineResponse.committed`), each reply held both buffers (two retains
/// and two releases a reply), and each was copied whole to be read (docs/BENCHMARKS.md,
/// "twenty-third steps"). The buffers are the batch's: valid during `deliver` only.
package struct ReplyList: Sendable {
    /// Plain values only (a response is named by its place in `responses`), so that the
    /// list's items are appended and emptied without a destroy each through their enum's
    /// witness (~34 instructions a reply on the writer's thread).
    package enum Reply: Sendable {
        /// The command's entry is durable: its events are `events[events]`, and
        /// `bytes[encodedEvents]` their count and encoding as the journal's block holds
        /// them (a TCP reply copies them).
        case committed(sequence: SequenceNumber, timeNanos: Int64, events: Range<Int>, encodedEvents: Range<Int>)
        /// `responses[index]`.
        case response(Int)
    }

    package struct Item: Sendable {
        package let requestID: UInt64
        package let reply: Reply
    }

    /// The batch's events and journal bytes that committed replies point into.
    package let events: [Event]
    package let bytes: [UInt8]
    package private(set) var items: [Item] = []
    /// The replies that are not committed entries (errors, refusals, answers).
    package private(set) var responses: [EngineResponse] = []

    init(events: [Event], bytes: [UInt8], capacity: Int) {
        self.events = events
        self.bytes = bytes
        items.reserveCapacity(capacity)
    }

    /// Replies made apart from a batch (BUSY, the follower's answers).
    package init(_ responses: [(requestID: UInt64, response: EngineResponse)]) {
        events = []
        bytes = []
        self.responses = responses.map(\.response)
        items = responses.indices.map { Item(requestID: responses[$0].requestID, reply: .response($0)) }
    }

    mutating func append(_ requestID: UInt64, _ reply: Reply) {
        items.append(Item(requestID: requestID, reply: reply))
    }

    mutating func append(_ requestID: UInt64, response: EngineResponse) {
        responses.append(response)
        items.append(Item(requestID: requestID, reply: .response(responses.count - 1)))
    }

    package var count: Int { items.count }

    /// The reply at `index` as a response (a committed one's events and bytes as slices
    /// of the buffers, valid as long as they are).
    package func response(at index: Int) -> (requestID: UInt64, response: EngineResponse) {
        let item = items[index]
        switch item.reply {
        case .committed(let sequence, let time, let range, let encoded):
            return (item.requestID, .committed(sequence: sequence, timeNanos: time, events: events[range], encodedEvents: bytes[encoded]))
        case .response(let place):
            return (item.requestID, responses[place])
        }
    }
}

extension ReplyList {
    /// Each reply as the TCP server writes it, in order, with the end of each one's frame
    /// in `ends` (where a waiting immediate answer may be spliced in). `protocolVersion`:
    /// the connection's; BUSY is its own frame from version 2 on.
    package func encodeFrames(protocolVersion: UInt64, to writer: inout ByteWriter, ends: inout [Int]) {
        for index in 0..<items.count {
            defer { ends.append(writer.bytes.count) }
            let requestID = items[index].requestID
            switch items[index].reply {
            case .committed(let sequence, _, _, let encodedEvents):
                // The bytes the journal's block holds (issue 12: encoding every event again
                // was a tenth of the writer thread).
                WireFrame.encodeCommitted(requestID: requestID, sequence: sequence, encodedEvents: bytes[encodedEvents], to: &writer)
            case .response(let place):
                switch responses[place] {
                case .committed(let sequence, _, _, let encodedEvents?):
                    WireFrame.encodeCommitted(requestID: requestID, sequence: sequence, encodedEvents: encodedEvents, to: &writer)
                case .committed(let sequence, _, let events, nil):
                    WireFrame.encodeCommitted(requestID: requestID, sequence: sequence, events: events, to: &writer)
                case .error(.busy, let message) where protocolVersion >= 2:
                    // The engine's queue was full: a group commit drains it.
                    WireFrame.busy(requestID: requestID, retryAfterMilliseconds: 1, message: message).encode(to: &writer)
                case .error(let code, let message):
                    WireFrame.error(requestID: requestID, code: code, message: message).encode(to: &writer)
                case .state(let sequence, let hash):
                    WireFrame.state(requestID: requestID, sequence: sequence, stateHash: hash).encode(to: &writer)
                case .view(let text):
                    WireFrame.error(requestID: requestID, code: .badRequest, message: text).encode(to: &writer)
                }
            }
        }
    }
}

/// A request for the engine thread.
package struct EngineRequest: Sendable {
    package enum Kind: Sendable {
        case command(Command)
        case stateQuery
        /// A read of the state (rendered JSON), run by the state follower on its copy once
        /// the entries before it are durable: never on the engine thread.
        case read(StateFollower.Read)
    }
    var requestID: UInt64
    var kind: Kind
    var sink: any ReplySink

    package init(requestID: UInt64, kind: Kind, sink: any ReplySink) {
        self.requestID = requestID
        self.kind = kind
        self.sink = sink
    }
}

/// Requests waiting for the engine, each moved in once and moved out once (engine thread),
/// never copied. Out of an `Array`, each request was copied (its sink and its command's
/// strings retained) and emptying the array destroyed them again: about 400 instructions a
/// command, a fifteenth of the engine thread (docs/BENCHMARKS.md, "twenty-third steps").
/// Not thread-safe: the sequencer's lock guards the inbound queue, and the engine owns the
/// one it swapped out.
final class RequestQueue {
    /// Each request's parts in buffers of their own, so that each part moves out on its own
    /// (a whole request moved out was copied apart again).
    private let requestIDs: UnsafeMutablePointer<UInt64>
    private let sinks: UnsafeMutablePointer<any ReplySink>
    private let kinds: UnsafeMutablePointer<EngineRequest.Kind>
    let capacity: Int
    /// Requests in the queue, `taken` of them moved out already (a prefix).
    private(set) var count = 0
    private var taken = 0

    init(capacity: Int) {
        self.capacity = capacity
        requestIDs = .allocate(capacity: capacity)
        sinks = .allocate(capacity: capacity)
        kinds = .allocate(capacity: capacity)
    }

    deinit {
        (sinks + taken).deinitialize(count: count - taken)
        (kinds + taken).deinitialize(count: count - taken)
        requestIDs.deallocate()
        sinks.deallocate()
        kinds.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// Appends as many of the requests as there is room for; returns how many. Each
    /// request's kind is moved out of `requests`, `.stateQuery` left in its place (the
    /// caller empties the array next): a copy of the kind went through the command's cases
    /// (~116 instructions a request on the network thread), and the array's emptying
    /// destroyed the command again.
    func append(moving requests: inout [EngineRequest]) -> Int {
        let fitting = min(requests.count, capacity - count)
        requests.withUnsafeMutableBufferPointer { requests in
            for index in 0..<fitting {
                (requestIDs + count).initialize(to: requests[index].requestID)
                (sinks + count).initialize(to: requests[index].sink)
                var kind = EngineRequest.Kind.stateQuery
                swap(&kind, &requests[index].kind)
                (kinds + count).initialize(to: kind)
                count += 1
            }
        }
        return fitting
    }

    /// The kind of the request at `position`, still in the queue (read where it lies).
    func peekKind<Result>(_ position: Int, _ body: (borrowing EngineRequest.Kind) -> Result) -> Result {
        precondition(position >= taken && position < count, "request \(position) is not in the queue")
        return body(kinds[position])
    }

    /// Moves the next request's parts out of the queue.
    func takeNext() -> (requestID: UInt64, sink: any ReplySink, kind: EngineRequest.Kind) {
        precondition(taken < count, "the queue is empty")
        defer { taken += 1 }
        return (requestIDs[taken], (sinks + taken).move(), (kinds + taken).move())
    }

    var hasNext: Bool { taken < count }

    /// Empties the queue once every request has been taken.
    func clear() {
        precondition(taken == count, "\(count - taken) requests were not taken")
        count = 0
        taken = 0
    }
}

/// The single-writer pipeline (DESIGN.md "Data flow"): ingress threads `submit` requests;
/// the engine thread executes them in order and encodes each entry into the open batch;
/// the writer thread turns each batch into one journal block, fdatasyncs it and only
/// then releases the batch's replies. While the writer syncs, the engine fills the next
/// batch: the block size follows what arrived during the previous fdatasync.
package final class Sequencer: @unchecked Sendable {
    /// A group-commit batch and the replies that wait for it. The events of all its
    /// commands share one buffer, so executing a command allocates nothing; a reply holds
    /// the range of its events until delivery.
    final class Batch {
        /// What a reply waits for. Plain values only, so that a batch's replies are
        /// appended and emptied without a retain, a release or a destroy each: a response and
        /// a follower's work are kept beside them (`responses`, `followerWork`) and named by
        /// their place there.
        enum Pending {
            /// `responses[index]`.
            case response(Int)
            /// `eventBytes`: where the entry's events are encoded in `journal.bytes`.
            case committed(sequence: SequenceNumber, timeNanos: Int64, events: Range<Int>, eventBytes: Range<Int>)
            /// `followerWork[index]`: a state query or a read, answered by the follower once it
            /// has applied this batch.
            case follower(Int)
        }
        // Unchecked exclusivity (here and on the engine's own fields below): each access to a
        // class's stored property was checked at run time (swift_beginAccess), five or more
        // times an entry, ~5% of the engine thread. A batch is touched by one thread at a time
        // (the engine's, then the writer's after the hand-off under the lock), and such checks
        // catch only overlapping accesses within one thread, which this code does not make.
        @exclusivity(unchecked) var journal = JournalBatch()
        @exclusivity(unchecked) var events: [Event] = []
        /// A reply waiting for the batch: its sink is `sinks[sink]`. (Each reply held its
        /// sink before: a retain on the engine's thread and a release and a destroy through
        /// the reply's value witness on the writer's, ~120 instructions a command.)
        struct Reply {
            let sink: Int
            let requestID: UInt64
            let pending: Pending
        }
        @exclusivity(unchecked) var replies: [Reply] = []
        /// The sinks of the batch's replies, each once, in the order of their first reply.
        @exclusivity(unchecked) private(set) var sinks: [any ReplySink] = []
        @exclusivity(unchecked) private var sinkPlaces: [ObjectIdentifier: Int] = [:]
        /// The last sink placed: a connection's requests mostly come in runs, so the table is
        /// asked only where the sink changes.
        @exclusivity(unchecked) private var lastSink: (key: ObjectIdentifier, place: Int)?
        @exclusivity(unchecked) private(set) var responses: [EngineResponse] = []
        @exclusivity(unchecked) private(set) var followerWork: [StateFollower.Work] = []
        /// Each entry's command, time and the end of its events in `events`, in journal
        /// order: what the follower applies once the batch is durable (it decoded the
        /// journal's bytes again before).
        @exclusivity(unchecked) var commands: [Command] = []
        @exclusivity(unchecked) var times: [Int64] = []
        @exclusivity(unchecked) var eventEnds: [Int] = []
        var isEmpty: Bool { journal.isEmpty && replies.isEmpty }

        init() {
            events.reserveCapacity(1 << 14)
            replies.reserveCapacity(1 << 13)
            commands.reserveCapacity(1 << 12)
            times.reserveCapacity(1 << 12)
            eventEnds.reserveCapacity(1 << 12)
        }

        func reset() {
            journal.reset()
            events.removeAll(keepingCapacity: true)
            replies.removeAll(keepingCapacity: true)
            sinks.removeAll(keepingCapacity: true)
            sinkPlaces.removeAll(keepingCapacity: true)
            lastSink = nil
            responses.removeAll(keepingCapacity: true)
            followerWork.removeAll(keepingCapacity: true)
            commands.removeAll(keepingCapacity: true)
            times.removeAll(keepingCapacity: true)
            eventEnds.removeAll(keepingCapacity: true)
        }

        /// Adds a reply for `sink`.
        @inline(__always)
        func reply(_ sink: any ReplySink, _ requestID: UInt64, _ pending: Pending) {
            replies.append(Reply(sink: place(of: sink), requestID: requestID, pending: pending))
        }

        func reply(_ sink: any ReplySink, _ requestID: UInt64, response: consuming EngineResponse) {
            responses.append(response)
            reply(sink, requestID, .response(responses.count - 1))
        }

        func reply(_ sink: any ReplySink, _ requestID: UInt64, work: consuming StateFollower.Work) {
            followerWork.append(work)
            reply(sink, requestID, .follower(followerWork.count - 1))
        }

        /// The sink's place in `sinks`, added if new.
        @inline(__always)
        private func place(of sink: any ReplySink) -> Int {
            let key = ObjectIdentifier(sink)
            if let lastSink, lastSink.key == key { return lastSink.place }
            let place: Int
            if let known = sinkPlaces[key] {
                place = known
            } else {
                place = sinks.count
                sinks.append(sink)
                sinkPlaces[key] = place
            }
            lastSink = (key, place)
            return place
        }

        /// Encodes an executed entry, whose events are `events[range]`, into the journal's
        /// block (`JournalBatch.tryAppend`). The events are read from a local they are moved
        /// to and back: read in place through a closure that also changed `journal`, the
        /// buffer and the batch were each retained and released around the call.
        func tryAppend(sequence: SequenceNumber, timeNanos: Int64, command: borrowing Command, events range: Range<Int>) -> (
            fits: Bool, eventBytes: Int
        ) {
            var local: [Event] = []
            swap(&local, &events)
            defer { swap(&local, &events) }
            return local.withUnsafeBufferPointer { all in
                journal.tryAppend(
                    sequence: sequence, timeNanos: timeNanos, command: command, events: UnsafeBufferPointer(rebasing: all[range]))
            }
        }

        /// Notes the entry just journaled, whose events end the buffer. The command is moved
        /// in: the engine is done with it (a copy here was some 100 instructions a command
        /// on the engine's thread, a call through the command's cases).
        func noteEntry(_ command: consuming Command, timeNanos: Int64) {
            commands.append(command)
            times.append(timeNanos)
            eventEnds.append(events.count)
        }

        /// The batch's entries for the follower: copies of their parts, each of its own
        /// size (the batch's buffers go back to the engine). `Array(commands)` would share
        /// the buffer, and `reset` then gave the engine a new one of the full reserved
        /// capacity every batch (the events' alone 1.6 MB), whose pages the kernel zeroed as
        /// the engine first wrote them (a tenth of the daemon's minor page faults under
        /// load; docs/BENCHMARKS.md, "fourteenth steps").
        ///
        /// `readBack`: the commands and events as the writer's check read them back from the
        /// journal's bytes (equal to the engine's, in buffers of their own), taken instead of
        /// copies. Consumed, so that the entries returned are the only holders of those
        /// buffers: the follower moves each command out of its array and back, and an array
        /// the writer still held was copied whole first (a third of the batches).
        func durableEntries(readBack: consuming JournalBatch.ReadBack?) -> StateFollower.Entries {
            precondition(commands.count == journal.count, "\(journal.count) entries journaled, \(commands.count) noted for the follower")
            return StateFollower.Entries(
                firstSequence: journal.firstSequence, commands: readBack?.commands ?? Self.copy(commands), times: Self.copy(times),
                eventEnds: Self.copy(eventEnds), events: readBack?.events ?? Self.copy(events))
        }

        /// A copy in a buffer of its own.
        static func copy<Element>(_ elements: [Element]) -> [Element] {
            elements.withUnsafeBufferPointer { Array($0) }
        }
    }

    private let logger: Logger
    private let journal: JournalWriter
    @exclusivity(unchecked) private var state: ExchangeState
    /// What `ExchangeState.warm` read (kept so that its reads stay; engine thread only).
    @exclusivity(unchecked) private var warmSink: UInt64 = 0
    /// Commands by type and rejections by reason in the current batch (engine thread).
    @exclusivity(unchecked) private var counts = EngineCounts()
    /// Answers state queries from a copy of its own (the hash never runs on this thread).
    private let follower: StateFollower
    private let queueCapacity: Int
    /// Decode every entry and compare it with what the engine made before its block is
    /// written (`journal.verify_entries`).
    private let verifyEntries: Bool
    /// Journaled as the first entry when the state has no world limits yet (genesis, or the
    /// first start on a journal written before the bounded rules).
    private let worldLimits: WorldLimits
    /// Ticks the engine runs back to back while no request waits (then it looks again).
    static let idleTicksMax = 64

    // Guarded by `lock`.
    private let lock = Monitor()
    private var inbound: RequestQueue
    private var writerIdle = true
    private var stopRequested = false
    private var handedOff: Batch?
    private var spare: [Batch] = [Batch(), Batch()]
    private var engineFinished = false
    private var writerFinished = false
    /// A stall the debug hook asked for (milliseconds; `LEDGERD_DEBUG_HOOKS=1` only).
    private var stallRequestMilliseconds = 0
    /// When the engine loop last went round (monotonic ns): the watchdog's evidence.
    private var _heartbeatNanos: Int64 = 0

    /// The longest the idle engine sleeps before it goes round again (so that its heartbeat
    /// stays fresh for the watchdog); nil: until work or a timer comes. Set before `start`.
    package var heartbeatIntervalNanos: Int64?

    /// Read from any thread (metrics, health).
    private let counters = NSLock()
    private var _durableSequence: SequenceNumber
    private var _durableTimeNanos: Int64 = 0
    private var _healthy = true
    private var _commandsExecuted: UInt64 = 0
    /// The world's size after the last batch: accounts and resting orders (metrics).
    private var _worldSize = (accounts: 0, restingOrders: 0)
    private var _blocksWritten = 0
    private var _bytesWritten: Int64 = 0

    /// Called on the engine thread after a listing changes the catalog.
    package var onCatalogChange: (@Sendable (ExchangeCatalog) -> Void)?
    /// Called when the writer fails: the process must stop without acknowledging.
    package var onFatal: (@Sendable (JournalError) -> Void)?

    package init(
        state: ExchangeState, journal: JournalWriter, queueCapacity: Int, verifyEntries: Bool = true,
        worldLimits: WorldLimits = .standard, historyLimits: HistoryLimits = HistoryLimits(), stream: StreamHub? = nil, logger: Logger
    ) {
        precondition(state.lastSequence == journal.lastSequence, "state and journal disagree on the last sequence")
        self.state = state
        self.journal = journal
        self.queueCapacity = queueCapacity
        self.verifyEntries = verifyEntries
        self.worldLimits = worldLimits
        self.logger = logger
        follower = StateFollower(startingFrom: state, historyLimits: historyLimits, logger: logger)
        follower.stream = stream
        _durableSequence = journal.durableSequence
        inbound = RequestQueue(capacity: queueCapacity)
    }

    /// Nanoseconds since the engine loop last went round; what the watchdog checks.
    package var engineHeartbeatAgeNanos: Int64 {
        RateLimiter.monotonicNanos() - lock.withLock { _heartbeatNanos }
    }

    /// The debug hook (tests only): the engine thread sleeps this long before its next
    /// round, as a stuck engine would — no heartbeat, no replies.
    package func debugStall(milliseconds: Int) {
        lock.withLock {
            stallRequestMilliseconds = milliseconds
            lock.wake(.engine)
        }
    }

    package var durableSequence: SequenceNumber { counters.withLock { _durableSequence } }
    /// The journal time of the last durable entry (the projector's lag in seconds).
    package var durableTimeNanos: Int64 { counters.withLock { _durableTimeNanos } }
    package var isHealthy: Bool { counters.withLock { _healthy } }
    package var commandsExecuted: UInt64 { counters.withLock { _commandsExecuted } }
    package var worldSize: (accounts: Int, restingOrders: Int) { counters.withLock { _worldSize } }
    package var queueDepth: Int { lock.withLock { inbound.count } }
    package var followerSequence: SequenceNumber { follower.appliedSequence }
    package var stateHashesComputed: Int { follower.hashesComputed }
    package var journalStats: (blocks: Int, bytes: Int64) { counters.withLock { (_blocksWritten, _bytesWritten) } }

    /// The catalog as recovered, for ingress before the engine starts.
    package var initialCatalog: ExchangeCatalog { ExchangeCatalog(state) }

    /// Queues requests; those that do not fit are answered BUSY at once. After `stop`,
    /// everything is answered UNAVAILABLE.
    package func submit(_ requests: [EngineRequest]) {
        var requests = requests
        submit(moving: &requests)
    }

    /// `submit` for a caller that empties `requests` next (a connection's reads): the
    /// queued requests' commands are moved into the engine's queue, not copied
    /// (`RequestQueue.append(moving:)`); the array keeps their ids and sinks.
    package func submit(moving requests: inout [EngineRequest]) {
        var refused: [EngineRequest] = []
        lock.lock()
        if stopRequested {
            refused = requests
        } else {
            let queued = inbound.append(moving: &requests)
            if queued < requests.count { refused = Array(requests[queued...]) }
            lock.wake(.engine)
        }
        let stopping = stopRequested
        lock.unlock()
        for request in refused {
            let response: EngineResponse = stopping ? .error(.unavailable, "shutting down") : .error(.busy, "queue full; retry")
            request.sink.deliver(ReplyList([(request.requestID, response)]))
        }
    }

    package func start() {
        follower.start()
        let engine = Thread { [self] in
            nameThisThread("ledger-engine")
            engineLoop()
        }
        engine.name = "ledger-engine"
        engine.qualityOfService = .userInteractive
        engine.start()
        let writer = Thread { [self] in
            nameThisThread("ledger-writer")
            writerLoop()
        }
        writer.name = "ledger-writer"
        writer.start()
    }

    /// Stops taking requests, executes and journals what is queued, releases every reply,
    /// and returns when the journal is synced.
    package func stopAndDrain() {
        lock.lock()
        stopRequested = true
        lock.wake(.engine)
        lock.wake(.writer)
        while !(engineFinished && writerFinished) { lock.wait(.drain) }
        lock.unlock()
        follower.stopAndDrain()
    }

    // MARK: Engine thread

    private func engineLoop() {
        var local = RequestQueue(capacity: queueCapacity)
        var current = Batch()
        var catalogVersion = (state.assets.count, state.symbols.count)
        let size = (accounts: state.accounts.count, restingOrders: state.restingOrderCount)
        counters.withLock { _worldSize = size }
        if !state.isBounded {
            // Genesis (or the first start on a journal written before the bounded rules):
            // the bounded rules and the world limits are in force from this entry on.
            executeSystem(.setWorldLimits(worldLimits), into: &current)
            logger.info("world limits journaled", metadata: ["sequence": "\(state.lastSequence)", "limits": "\(worldLimits)"])
        }
        while true {
            lock.lock()
            _heartbeatNanos = RateLimiter.monotonicNanos()
            if stallRequestMilliseconds > 0 {
                let stall = stallRequestMilliseconds
                stallRequestMilliseconds = 0
                lock.unlock()
                usleep(UInt32(stall) * 1_000)
                continue
            }
            while inbound.isEmpty && !(writerIdle && !current.isEmpty) && !stopRequested && !inPlace({ $0.hasSystemWorkInPlace() })
                && stallRequestMilliseconds == 0
            {
                // Nothing to do: sleep until a request comes, the next funding time, or (with
                // a watchdog) the next heartbeat.
                let heartbeat = heartbeatIntervalNanos.map { Self.wallClockNanos() + $0 }
                guard let due = inPlace({ $0.nextFundingTimeNanos }), state.isBounded else {
                    if let heartbeat { lock.wait(.engine, untilWallNanos: heartbeat) } else { lock.wait(.engine) }
                    _heartbeatNanos = RateLimiter.monotonicNanos()
                    continue
                }
                if fundingSettlementDue() { break }
                lock.wait(.engine, untilWallNanos: min(due, heartbeat ?? due))
                _heartbeatNanos = RateLimiter.monotonicNanos()
            }
            if stallRequestMilliseconds > 0 {
                lock.unlock()
                continue
            }
            swap(&local, &inbound)
            let draining = stopRequested
            lock.unlock()

            // Each group of commands is warmed before it executes: at a million accounts
            // their first reads would miss the cache one after another (ExchangeState.warm).
            // A small world stays in the caches, where warming is only work.
            let warming = inPlace { $0.warmsAhead }
            var upcoming: [Command] = []
            upcoming.reserveCapacity(ExchangeState.warmGroup)
            var position = 0
            var executed = 0
            while local.hasNext {
                if warming && position % ExchangeState.warmGroup == 0 {
                    upcoming.removeAll(keepingCapacity: true)
                    for next in position..<min(position + ExchangeState.warmGroup, local.count) {
                        local.peekKind(next) { if case .command(let command) = $0 { upcoming.append(command) } }
                    }
                    warmSink &+= inPlace { $0.warm(upcoming[...]) }
                }
                let (requestID, sink, kind) = local.takeNext()
                if case .command = kind { executed += 1 }
                execute(requestID, sink, kind, into: &current)
                position += 1
            }
            local.clear()
            // The engine's own work while no request waits: timers and continuations, one
            // tick at a time, each only while the queue is still empty (a request that
            // arrives waits for one tick at most), at most `idleTicksMax` in a row.
            var ticks = 0
            while ticks < Self.idleTicksMax,
                inPlace({ $0.hasSystemWorkInPlace() }) || fundingSettlementDue(),
                lock.withLock({ inbound.isEmpty })
            {
                executeSystem(.tick, into: &current)
                ticks += 1
            }
            counts.flush()
            if position > 0 {
                // Commands only: reads are counted apart (ledger_reads_total).
                let size = (accounts: state.accounts.count, restingOrders: state.restingOrderCount)
                counters.withLock {
                    _commandsExecuted += UInt64(executed)
                    _worldSize = size
                }
            }
            if (state.assets.count, state.symbols.count) != catalogVersion {
                catalogVersion = (state.assets.count, state.symbols.count)
                onCatalogChange?(ExchangeCatalog(state))
            }
            if !current.isEmpty {
                current = handOff(current, waitForWriter: draining)
            }
            if draining {
                lock.lock()
                while !writerIdle { lock.wait(.engine) }
                let done = inbound.isEmpty && current.isEmpty
                if done {
                    engineFinished = true
                    lock.wake(.writer)
                    lock.wake(.drain)
                }
                lock.unlock()
                if done { return }
            }
        }
    }

    /// Reads the engine's state where it lies (engine thread only). A call such as
    /// `state.hasSystemWork` on this class's stored property, to a method in another module,
    /// was passed a copy of the whole state (~40 arrays retained and released), twice a
    /// command (issue 12: 4.7% of the daemon's time at 100 k commands/s): the compiler
    /// cannot tell that the callee leaves a class's property alone. Through an `inout`
    /// access it can, and passes the state where it lies. A computed property read through
    /// it was still handed a copy, 1,392 bytes after every command for `hasSystemWork`;
    /// `hasSystemWorkInPlace()`, a mutating method, is not (twenty-fifth steps).
    @inline(__always)
    private func inPlace<Result>(_ body: (inout ExchangeState) -> Result) -> Result {
        body(&state)
    }

    /// A funding settlement is due at the time the next entry would take.
    @inline(__always)
    private func fundingSettlementDue(clock: Int64? = nil) -> Bool {
        let clock = clock ?? Self.wallClockNanos()
        return inPlace { $0.fundingSettlementDue(atTimeNanos: max(clock, $0.lastTimeNanos)) }
    }

    /// Journals one entry of the engine's own (no reply waits for it).
    private func executeSystem(_ command: Command, into batch: inout Batch) {
        _ = journalEntry(command, into: &batch)
    }

    /// Executes a command as the next entry of the batch (the next one if this one is
    /// full) and encodes it there; returns its sequence, the range of its events, and where
    /// they are encoded in the batch's journal bytes. `clock`: the wall clock already read
    /// for this command (one read a command, not two), or nil to read it.
    private func journalEntry(
        _ command: consuming Command, into batch: inout Batch, clock: Int64? = nil
    ) -> (SequenceNumber, Int64, Range<Int>, Range<Int>) {
        if batch.journal.isFull { batch = handOff(batch, waitForWriter: true) }
        let sequence = state.lastSequence + 1
        let time = max(clock ?? Self.wallClockNanos(), state.lastTimeNanos)
        let first = batch.events.count
        state.execute(command, sequence: sequence, timeNanos: time, into: &batch.events)
        let range = first..<batch.events.count
        if case .rejected(let reason, _)? = range.isEmpty ? nil : batch.events[range.upperBound - 1] {
            counts.count(command, rejectedFor: reason)
        } else {
            counts.count(command, rejectedFor: nil)
        }
        // The payload ends the block's bytes so far: its events' part is its last bytes.
        let (fits, eventBytesCount) = batch.tryAppend(sequence: sequence, timeNanos: time, command: command, events: range)
        if fits {
            batch.noteEntry(command, timeNanos: time)
            let end = batch.journal.bytes.bytes.count
            return (sequence, time, range, end - eventBytesCount..<end)
        }
        // Larger than a shared batch takes (only the engine's own entries can be): close
        // this batch and start the next one with it, and its events.
        let moved = Array(batch.events[range])
        batch.events.removeSubrange(range)
        let kept = batch.journal
        batch = handOff(batch, waitForWriter: true)
        let start = batch.events.count
        batch.events.append(contentsOf: moved)
        batch.journal.appendKept(sequence: sequence, timeNanos: time, from: kept)
        batch.noteEntry(command, timeNanos: time)
        let end = batch.journal.bytes.bytes.count
        logger.warning(
            "an entry larger than a shared block takes starts a block of its own",
            metadata: ["sequence": "\(sequence)", "events": "\(moved.count)"])
        return (sequence, time, start..<batch.events.count, end - eventBytesCount..<end)
    }

    /// Executes a request: the system entries it must follow (a funding settlement that is
    /// due at its time; the funding its account owes before a withdrawal), the request,
    /// then one tick of the engine's work in progress, so that a settlement advances one
    /// bounded step per command and no command waits behind a whole one.
    private func execute(_ requestID: UInt64, _ sink: any ReplySink, _ kind: consuming EngineRequest.Kind, into batch: inout Batch) {
        if batch.journal.isFull { batch = handOff(batch, waitForWriter: true) }
        executeRequest(requestID, sink, kind, into: &batch)
        if inPlace({ $0.hasSystemWorkInPlace() }) { executeSystem(.tick, into: &batch) }
    }

    /// Takes the request's parts as they left the queue (moved, not copied).
    private func executeRequest(
        _ requestID: UInt64, _ sink: any ReplySink, _ kind: consuming EngineRequest.Kind, into batch: inout Batch
    ) {
        let command: Command
        switch consume kind {
        case .command(let given):
            command = given
        case .stateQuery:
            // O(1) here: the follower hashes its copy once this batch is durable.
            batch.reply(sink, requestID, work: .stateHash)
            counts.stateReads += 1
            counts.any = true
            return
        case .read(let body):
            // O(1) here too: the follower runs the read on its copy.
            batch.reply(sink, requestID, work: .read(body))
            counts.viewReads += 1
            counts.any = true
            return
        }
        // Whatever is journaled must read back (docs/FORMATS.md, "Field domains"): a field
        // outside its domain is refused here, before the engine sees it. TCP's decoder
        // already refuses such frames; this covers every ingress.
        if let violation = command.domainViolation() {
            batch.reply(sink, requestID, response: .error(.outOfRange, violation.description))
            return
        }
        if command.isSystemOnly {
            let refusal = EngineResponse.error(.forbidden, "only ledgerd itself (or ledger-replay excise) writes system entries")
            batch.reply(sink, requestID, response: refusal)
            return
        }
        // The system entries this command must follow, so that it carries none of them.
        // The clock is read once: the funding check and the entry's time agree.
        let clock = Self.wallClockNanos()
        if fundingSettlementDue(clock: clock) {
            executeSystem(.tick, into: &batch)
        }
        if case .withdraw(let transfer) = command, inPlace({ $0.owesFunding(account: transfer.account) }) {
            executeSystem(.settleFunding(account: transfer.account), into: &batch)
        }
        let (sequence, time, range, eventBytes) = journalEntry(consume command, into: &batch, clock: clock)
        batch.reply(sink, requestID, .committed(sequence: sequence, timeNanos: time, events: range, eventBytes: eventBytes))
    }

    /// Gives the batch to the writer if it is idle (or, with `waitForWriter`, once it is)
    /// and returns the batch to fill next.
    private func handOff(_ batch: Batch, waitForWriter: Bool) -> Batch {
        lock.lock()
        defer { lock.unlock() }
        while !writerIdle {
            if !waitForWriter { return batch }
            lock.wait(.engine)
        }
        writerIdle = false
        handedOff = batch
        lock.wake(.writer)
        return spare.popLast() ?? Batch()
    }

    // MARK: Writer thread

    private func writerLoop() {
        while true {
            lock.lock()
            while handedOff == nil && !(stopRequested && engineFinished) { lock.wait(.writer) }
            guard let batch = handedOff else {
                writerFinished = true
                lock.wake(.drain)
                lock.unlock()
                return
            }
            handedOff = nil
            lock.unlock()

            var readBack: JournalBatch.ReadBack?
            if !batch.journal.isEmpty {
                do {
                    if verifyEntries {
                        readBack = try batch.journal.verifyReadsBack(
                            commands: batch.commands, times: batch.times, events: batch.events, eventEnds: batch.eventEnds)
                    }
                    let syncsBefore = journal.syncs
                    try journal.append(batch.journal)
                    if let metrics = LedgerMetrics.current {
                        metrics.blockEntries.record(batch.journal.count)
                        if journal.syncs > syncsBefore { metrics.fdatasync.recordNanoseconds(Int64(journal.lastSyncDurationNanos)) }
                    }
                } catch {
                    counters.withLock { _healthy = false }
                    logger.critical("journal write failed; stopping without acknowledging", metadata: ["error": "\(error)"])
                    onFatal?(error)
                    return  // never release these replies
                }
            }
            let durable = journal.durableSequence
            let (blocks, bytes) = (journal.blocksWritten, journal.bytesWritten)
            let durableTime = batch.journal.isEmpty ? nil : Optional(batch.journal.lastTimeNanos)
            counters.withLock {
                _durableSequence = durable
                if let durableTime, durable == batch.journal.lastSequence { _durableTimeNanos = durableTime }
                _blocksWritten = blocks
                _bytesWritten = bytes
            }
            if !batch.journal.isEmpty { follower.append(batch.durableEntries(readBack: consume readBack)) }
            deliver(batch)
            batch.reset()

            lock.lock()
            spare.append(batch)
            writerIdle = true
            lock.wake(.engine)
            lock.unlock()
        }
    }

    /// Groups replies by sink, keeping each sink's order, and hands them over: directly,
    /// or through the follower for a sink that asked for the state (or still waits there).
    /// A group holds its replies' places in the batch; each is read where it lies.
    private func deliver(_ batch: Batch) {
        // Each reply names its sink's place in the batch: the groups are found by index.
        let sinkCount = batch.sinks.count
        var places = [[Int]](repeating: [], count: sinkCount)
        var asksState = [Bool](repeating: false, count: sinkCount)
        for place in batch.replies.indices {
            let sink = batch.replies[place].sink
            places[sink].append(place)
            if case .follower = batch.replies[place].pending { asksState[sink] = true }
        }
        for sinkPlace in 0..<sinkCount {
            let sink = batch.sinks[sinkPlace]
            let group = places[sinkPlace]
            // Through the follower the events outlive this batch's buffer: copy them.
            let routed = follower.route(sink: sink, asksState: asksState[sinkPlace]) {
                group.map { place -> (requestID: UInt64, reply: StateFollower.Reply) in
                    let requestID = batch.replies[place].requestID
                    return switch batch.replies[place].pending {
                    case .response(let index): (requestID, .ready(batch.responses[index]))
                    case .committed(let sequence, let time, let range, _):
                        (
                            requestID,
                            .ready(
                                .committed(sequence: sequence, timeNanos: time, events: Array(batch.events[range])[...], encodedEvents: nil)
                            )
                        )
                    case .follower(let index): (requestID, .work(batch.followerWork[index]))
                    }
                }
            }
            if routed { continue }
            var replies = ReplyList(events: batch.events, bytes: batch.journal.bytes.bytes, capacity: group.count)
            for place in group {
                let requestID = batch.replies[place].requestID
                switch batch.replies[place].pending {
                case .response(let index):
                    replies.append(requestID, response: batch.responses[index])
                case .committed(let sequence, let time, let range, let eventBytes):
                    replies.append(requestID, .committed(sequence: sequence, timeNanos: time, events: range, encodedEvents: eventBytes))
                case .follower: preconditionFailure("state queries and reads always go through the follower")
                }
            }
            sink.deliver(replies)
        }
    }

    package static func wallClockNanos() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// Syncs and closes the journal after `stopAndDrain`.
    package func closeJournal() throws {
        try journal.sync()
    }
}

/// A copy of the listings for ingress threads, which parse decimals and names without
/// touching the engine's state.
package struct ExchangeCatalog: Sendable {
    var assets: [Asset]
    var symbols: [SymbolSpec]

    package init(_ state: borrowing ExchangeState) {
        assets = Array(state.assets)
        symbols = Array(state.symbols)
    }

    func symbol(named name: String) -> SymbolSpec? { symbols.first { $0.name == name } }
    func asset(named name: String) -> Asset? { assets.first { $0.name == name } }
}

/// Names the calling thread for the system (`top -H`, `ps -L`, perf, /proc/PID/task/*/comm):
/// Foundation's `Thread.name` names it for Foundation only. At most 15 bytes.
package func nameThisThread(_ name: String) {
    precondition(name.utf8.count <= 15, "thread name \(name) is longer than 15 bytes")
    // Linux's own way for the calling thread (pthread_setname_np is not in Swift's Glibc).
    let file = open("/proc/thread-self/comm", O_WRONLY)
    guard file >= 0 else { return }
    defer { close(file) }
    _ = Array(name.utf8).withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
}
