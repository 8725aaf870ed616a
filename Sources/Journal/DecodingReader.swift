import Foundation
import LedgerCore

/// What `DecodingReader.audit` found: how many entries' re-executed events differ from the
/// journal's, the lowest-numbered of them with both lists, and the error that ended the
/// reading, if any (the comparisons of the entries before it are counted).
public struct AuditOutcome: Sendable {
    public struct Mismatch: Sendable {
        public var sequence: SequenceNumber
        public var executed: [Event]
        public var journaled: [Event]
    }
    public internal(set) var mismatches = 0
    /// The mismatching entries with the lowest sequences, in order: at most the number
    /// asked for.
    public internal(set) var first: [Mismatch] = []
    public internal(set) var failure: (any Error)?
    let describing: Int

    init(describing: Int) { self.describing = describing }

    mutating func note(_ sequence: SequenceNumber, executed: ArraySlice<Event>, journaled: ArraySlice<Event>) {
        mismatches += 1
        guard describing > 0, first.count < describing || sequence < first[first.count - 1].sequence else { return }
        let place = first.firstIndex { $0.sequence > sequence } ?? first.count
        first.insert(Mismatch(sequence: sequence, executed: Array(executed), journaled: Array(journaled)), at: place)
        if first.count > describing { first.removeLast() }
    }
}

/// An entry that does not decode, with its sequence.
public struct UndecodableEntry: Error, CustomStringConvertible {
    public var sequence: SequenceNumber
    public var error: CodecError
    public var description: String { "entry \(sequence) does not decode: \(error)" }
}

/// Reads a journal and decodes its entries on a thread of its own, a few blocks ahead of
/// the caller, who gets each entry's command and events in sequence order: the audit and
/// the rebuilds then spend their own core on re-executing or applying, and the other on
/// reading, CRCs, LZ4 and decoding (issue 12, "audit and rebuild at memory speed").
///
/// What the caller sees is what `JournalReader` and `JournalEntry.decodePayload` give it
/// in one thread: the same entries in the same order, and the first error at the place in
/// the stream where it occurred, after every entry before it. At most `blocksAhead`
/// decoded blocks wait; their buffers go round, so a long journal allocates nothing per
/// entry once they have grown.
public final class DecodingReader: @unchecked Sendable {
    /// One block's entries: each entry's command and the range of its events in `events`.
    ///
    /// The commands are kept in storage of the block's own, appended by the producer; the
    /// caller's thread moves each out once, so that none is copied and destroyed twice.
    /// (Read out of an array, an entry was copied and the copy destroyed, and the array
    /// destroyed it again at `reset`; with the command in the entry, the compiler copied
    /// even a moved-out entry. Under callgrind that was 6% of a rebuild's main thread and a
    /// tenth of its decoding thread.) Commands `taken ..< places.count` are initialized.
    final class Block {
        /// An entry's place: plain values (its command is kept apart, in `commands`).
        struct Place {
            var sequence: SequenceNumber
            var timeNanos: Int64
            var events: Range<Int>
        }
        /// Unchecked exclusivity (here and on `events`): each change through the class was
        /// checked at run time (`swift_beginAccess`, 3% of the decoding thread). A block is
        /// touched by one thread at a time (the producer's, then the caller's after the
        /// hand-off under the lock), and the checks catch only overlapping accesses within
        /// one thread.
        @exclusivity(unchecked) private var places: [Place] = []
        private var commands: UnsafeMutablePointer<Command>
        private var capacity = 256
        private var taken = 0
        @exclusivity(unchecked) var events: [Event] = []
        /// An audit's re-executed events of the entries handed over, and where each entry's
        /// end (compared with `events` on the decoding thread: `compareExecuted`).
        @exclusivity(unchecked) var executed: [Event] = []
        @exclusivity(unchecked) private var executedEnds: [Int] = []
        /// Set on the last block handed over: the error that ended the reading, if any.
        var failure: (any Error)?
        var isLast = false

        init() {
            commands = .allocate(capacity: capacity)
        }

        deinit {
            reset()
            commands.deallocate()
        }

        /// Adds an entry (the producer, before the block is handed over: none taken yet).
        func append(sequence: SequenceNumber, timeNanos: Int64, command: consuming Command, events: Range<Int>) {
            let count = places.count
            if count == capacity {
                let larger = UnsafeMutablePointer<Command>.allocate(capacity: capacity * 2)
                larger.moveInitialize(from: commands, count: count)
                commands.deallocate()
                commands = larger
                capacity *= 2
            }
            places.append(Place(sequence: sequence, timeNanos: timeNanos, events: events))
            (commands + count).initialize(to: command)
        }

        /// Calls `body` with each entry not yet taken, in order, moving each command out
        /// first. An error `body` throws stops it; the entries after stay for `reset`.
        func hand(
            to body: (_ sequence: SequenceNumber, _ timeNanos: Int64, _ command: Command, _ events: ArraySlice<Event>) throws -> Void
        ) rethrows {
            let events = self.events
            try handOut { place, command in try body(place.sequence, place.timeNanos, command, events[place.events]) }
        }

        /// Calls `body` with each entry not yet taken, as `hand(to:)`, and keeps the events
        /// it appends to `executed` for `compareExecuted`.
        func handForAudit(
            to body: (_ sequence: SequenceNumber, _ timeNanos: Int64, _ command: Command, _ executed: inout [Event]) throws -> Void
        ) rethrows {
            try handOut { place, command in
                try body(place.sequence, place.timeNanos, command, &executed)
                executedEnds.append(executed.count)
            }
        }

        /// Each entry not yet taken, with its command moved out, to `step`.
        @inline(__always)
        private func handOut(_ step: (Place, Command) throws -> Void) rethrows {
            let places = self.places
            let commands = self.commands
            var index = taken
            defer { taken = index }
            while index < places.count {
                let place = places[index]
                let command = (commands + index).move()
                index += 1
                try step(place, command)
            }
        }

        /// Compares the re-executed events of each entry handed for audit with the
        /// journal's, noting those that differ, and drops them.
        func compareExecuted(into outcome: inout AuditOutcome) {
            // Both buffers taken once for the block (slicing the arrays for each entry
            // retained and released them); the entries that differ are noted after.
            var differing: [Int] = []
            executed.withUnsafeBufferPointer { executedBuffer in
                events.withUnsafeBufferPointer { eventsBuffer in
                    var start = 0
                    for index in 0..<executedEnds.count {
                        let end = executedEnds[index]
                        if !Event.same(executedBuffer[start..<end], eventsBuffer[places[index].events]) { differing.append(index) }
                        start = end
                    }
                }
            }
            for index in differing {
                let start = index == 0 ? 0 : executedEnds[index - 1]
                let place = places[index]
                outcome.note(place.sequence, executed: executed[start..<executedEnds[index]], journaled: events[place.events])
            }
            executed.removeAll(keepingCapacity: true)
            executedEnds.removeAll(keepingCapacity: true)
        }

        func reset() {
            (commands + taken).deinitialize(count: places.count - taken)
            places.removeAll(keepingCapacity: true)
            taken = 0
            events.removeAll(keepingCapacity: true)
            executed.removeAll(keepingCapacity: true)
            executedEnds.removeAll(keepingCapacity: true)
            failure = nil
            isLast = false
        }
    }

    /// Decoded blocks that may wait for the caller.
    public static let blocksAhead = 4

    private let reader: JournalReader
    private let limit: SequenceNumber
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var ready: [Block] = []
    private var free: [Block] = []
    private var cancelled = false
    /// `forEach` ran (the caller's thread only).
    private var started = false
    /// `audit` runs: blocks come back with re-executed events, which the producer compares
    /// before it reuses the block (set before the producer starts).
    private var auditing = false
    /// The audit's findings: the producer's while it runs, the caller's after.
    private var outcome = AuditOutcome(describing: 0)

    /// Reads from `sequence` through `limit` (as `JournalReader.forEach`).
    public init(directory: String, from sequence: SequenceNumber, upTo limit: SequenceNumber = .max, storage: any Storage = PosixStorage())
    {
        reader = JournalReader(directory: directory, from: sequence, storage: storage)
        self.limit = limit
        free = (0..<Self.blocksAhead).map { _ in Block() }
    }

    /// Calls `body` with every entry's sequence, time, command and events, in order. An
    /// error reading or decoding the journal is thrown after the entries before it; an
    /// error `body` throws stops the reading and is thrown as it is.
    public func forEach(
        _ body: (_ sequence: SequenceNumber, _ timeNanos: Int64, _ command: Command, _ events: ArraySlice<Event>) throws -> Void
    ) throws {
        startProducer()
        defer { stopProducer() }
        while true {
            let block = nextReady()
            try block.hand(to: body)
            if block.isLast {
                if let failure = block.failure { throw failure }
                return
            }
            condition.withLock {
                block.reset()
                free.append(block)
                condition.broadcast()
            }
        }
    }

    /// The audit's loop: calls `body` with every entry's sequence, time and command, in
    /// order, to re-execute it and append the events that gives to `executed` (a buffer the
    /// reader keeps: it is not emptied between entries). Each entry's events are compared
    /// with the journal's on the decoding thread, when its block comes back to be reused
    /// (the comparison was a twentieth of the audit's main thread), and the rest once the
    /// reading ends. Never throws: an error reading, decoding or from `body` ends the reading
    /// and comes back in the outcome, with the comparisons of every entry handed before it.
    /// `describing` mismatches with the lowest sequences are kept with both lists.
    public func audit(
        describing: Int,
        _ body: (_ sequence: SequenceNumber, _ timeNanos: Int64, _ command: Command, _ executed: inout [Event]) throws -> Void
    ) -> AuditOutcome {
        auditing = true
        outcome = AuditOutcome(describing: describing)
        startProducer()
        var current: Block? = nil
        do {
            while true {
                let block = nextReady()
                current = block
                try block.handForAudit(to: body)
                if block.isLast {
                    if let failure = block.failure { throw failure }
                    break
                }
                // Back without a reset: the producer compares it first.
                condition.withLock {
                    free.append(block)
                    condition.broadcast()
                }
                current = nil
            }
        } catch {
            outcome.failure = error
        }
        stopProducer()
        // The producer has stopped: the blocks it did not take back, and the one in hand,
        // are compared here.
        for block in free { block.compareExecuted(into: &outcome) }
        current?.compareExecuted(into: &outcome)
        return outcome
    }

    /// Starts the decoding thread (once: a reader reads its journal once).
    private func startProducer() {
        precondition(!started, "a DecodingReader reads its journal once")
        started = true
        let producer = Thread { [self] in produce() }
        producer.name = "journal-decoder"
        producer.start()
    }

    /// The next decoded block, waiting for it.
    private func nextReady() -> Block {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty { condition.wait() }
        return ready.removeFirst()
    }

    /// Asks the producer to stop and waits until it has (it holds the reader).
    private func stopProducer() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !producerDone { condition.wait() }
        condition.unlock()
    }

    // Guarded by `condition`: the producer has returned (or is about to, holding nothing).
    private var producerDone = false

    private func produce() {
        while true {
            condition.lock()
            while free.isEmpty && !cancelled { condition.wait() }
            if cancelled {
                producerDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let block = free.removeLast()
            condition.unlock()
            if auditing {
                block.compareExecuted(into: &outcome)
                block.reset()
            }
            do {
                if let read = try reader.nextBlock(upTo: limit) {
                    // By frame, not `JournalEntry`: nothing retained an entry.
                    let bytes = read.bytes
                    for entry in read.frames where entry.sequence <= limit {
                        // Decoded straight into the block's events (an entry's events went
                        // through a buffer of their own first). After an error the entry is
                        // not added, and what it left in `events` is no entry's.
                        let first = block.events.count
                        let command: Command
                        do {
                            command = try entry.decodePayload(in: bytes, appendingEventsTo: &block.events)
                        } catch {
                            throw UndecodableEntry(sequence: entry.sequence, error: error)
                        }
                        block.append(
                            sequence: entry.sequence, timeNanos: entry.timeNanos, command: command, events: first..<block.events.count)
                    }
                    if reader.nextSequence > limit { block.isLast = true }
                } else {
                    block.isLast = true
                }
            } catch {
                block.failure = error
                block.isLast = true
            }
            condition.lock()
            ready.append(block)
            let last = block.isLast
            if last { producerDone = true }
            condition.broadcast()
            condition.unlock()
            if last { return }
        }
    }
}
