import Foundation
import LedgerCore

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
            let places = self.places
            let commands = self.commands
            var index = taken
            defer { taken = index }
            while index < places.count {
                let place = places[index]
                let command = (commands + index).move()
                index += 1
                try body(place.sequence, place.timeNanos, command, events[place.events])
            }
        }

        func reset() {
            (commands + taken).deinitialize(count: places.count - taken)
            places.removeAll(keepingCapacity: true)
            taken = 0
            events.removeAll(keepingCapacity: true)
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
        precondition(!started, "a DecodingReader reads its journal once")
        started = true
        let producer = Thread { [self] in produce() }
        producer.name = "journal-decoder"
        producer.start()
        defer { stopProducer() }
        while true {
            condition.lock()
            while ready.isEmpty { condition.wait() }
            let block = ready.removeFirst()
            condition.unlock()
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
            do {
                if let read = try reader.nextBlock(upTo: limit) {
                    for entry in read.entries where entry.sequence <= limit {
                        // Decoded straight into the block's events (an entry's events went
                        // through a buffer of their own first). After an error the entry is
                        // not added, and what it left in `events` is no entry's.
                        let first = block.events.count
                        let command: Command
                        do {
                            command = try entry.decodePayload(appendingEventsTo: &block.events)
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
