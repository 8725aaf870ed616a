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
    final class Block {
        /// A struct, not a tuple: the runtime copies and destroys a tuple field by field
        /// through its metadata, which was an eighth of the audit's main thread.
        struct Entry {
            var sequence: SequenceNumber
            var timeNanos: Int64
            var command: Command
            var events: Range<Int>
        }
        var entries: [Entry] = []
        var events: [Event] = []
        /// Set on the last block handed over: the error that ended the reading, if any.
        var failure: (any Error)?
        var isLast = false

        func reset() {
            entries.removeAll(keepingCapacity: true)
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
            try Self.hand(block, to: body)
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

    /// Calls `body` with each of `block`'s entries.
    private static func hand(
        _ block: Block,
        to body: (_ sequence: SequenceNumber, _ timeNanos: Int64, _ command: Command, _ events: ArraySlice<Event>) throws -> Void
    ) rethrows {
        let events = block.events
        try block.entries.withUnsafeBufferPointer { entries in
            for index in entries.indices {
                try body(entries[index].sequence, entries[index].timeNanos, entries[index].command, events[entries[index].events])
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
        var decoded: [Event] = []
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
                        let command: Command
                        do {
                            command = try entry.decodePayload(events: &decoded)
                        } catch {
                            throw UndecodableEntry(sequence: entry.sequence, error: error)
                        }
                        let first = block.events.count
                        block.events.append(contentsOf: decoded)
                        block.entries.append(
                            Block.Entry(
                                sequence: entry.sequence, timeNanos: entry.timeNanos, command: command,
                                events: first..<block.events.count))
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
