import LedgerCore

/// Entries waiting to become one block: a group-commit batch.
///
/// The engine thread encodes each entry straight into the batch's buffer, so an entry
/// costs no allocation of its own. Framing per entry (docs/FORMATS.md): zigzag varint of
/// the time minus the previous entry's time (the first entry's is minus 0), varint payload
/// length, payload.
public struct JournalBatch: Sendable {
    public private(set) var firstSequence: SequenceNumber = 0
    public private(set) var count = 0
    public private(set) var bytes = ByteWriter(capacity: 1 << 16)
    private var previousTimeNanos: Int64 = 0
    private var scratch = ByteWriter(capacity: 512)
    /// Where an entry is staged whole before its one append (`tryAppend(sequence:timeNanos:
    /// command:events:)`); grown to the largest entry staged, never shrunk.
    private var staging: [UInt8] = []

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// The sequence of the last entry in the batch.
    public var lastSequence: SequenceNumber { firstSequence + SequenceNumber(count) - 1 }
    /// The time of the last entry appended (ns since 1970).
    public var lastTimeNanos: Int64 { previousTimeNanos }

    /// True when another entry could break a block limit: close the batch first. An entry
    /// of up to `JournalFormat.entryPayloadBytesMax` always fits a batch that is not full.
    public var isFull: Bool {
        count >= JournalFormat.blockEntriesMax
            || bytes.bytes.count
                > JournalFormat.blockUncompressedBytesMax - JournalFormat.entryPayloadBytesMax - JournalFormat.entryFramingBytesMax
    }

    /// Appends an entry whose payload `encode` writes. Sequences must be consecutive.
    public mutating func append(sequence: SequenceNumber, timeNanos: Int64, encode: (inout ByteWriter) -> Void) {
        precondition(!isFull, "batch is full")
        scratch.reset()
        encode(&scratch)
        precondition(
            scratch.bytes.count <= JournalFormat.entryPayloadBytesMax,
            "entry \(sequence) of \(scratch.bytes.count) bytes exceeds \(JournalFormat.entryPayloadBytesMax)")
        appendScratch(sequence: sequence, timeNanos: timeNanos)
    }

    /// Appends an entry unless it is larger than `JournalFormat.entryPayloadBytesMax` and
    /// the batch is not empty: then nothing is appended, the encoded entry is kept, and
    /// `appendKept` starts the next (empty) batch with it. An entry that starts a batch may
    /// take up to `JournalFormat.entryPayloadBytesHardMax`; smaller entries may follow it
    /// while the batch is not full.
    ///
    /// The payload is encoded in place, after room for a two-byte length (lengths of 128 to
    /// 16,383 bytes, most entries with a trade): the length then takes exactly that room;
    /// a shorter one takes a byte and the payload moves back by one, a longer one more
    /// and the payload moves up. (Encoded into a scratch buffer and copied after, every
    /// entry's bytes were written twice; the copy, `appendScratch`, was 2.4% of the engine
    /// thread's samples at full rate.)
    public mutating func tryAppend(sequence: SequenceNumber, timeNanos: Int64, encode: (inout ByteWriter) -> Void) -> Bool {
        let delta = timeDelta(ofNext: sequence, timeNanos: timeNanos)
        let entryStart = bytes.bytes.count
        bytes.zigzag(delta)
        let lengthAt = bytes.bytes.count
        bytes.u8(0)
        bytes.u8(0)
        let payloadStart = bytes.bytes.count
        encode(&bytes)
        let length = bytes.bytes.count - payloadStart
        if length > JournalFormat.entryPayloadBytesMax && count > 0 {
            // Kept for `appendKept`; the batch is left as it was.
            scratch.reset()
            scratch.raw(bytes.bytes[payloadStart...])
            bytes.bytes.removeSubrange(entryStart...)
            return false
        }
        precondition(
            length <= (count == 0 ? JournalFormat.entryPayloadBytesHardMax : JournalFormat.entryPayloadBytesMax),
            "entry \(sequence) of \(length) bytes exceeds what one block holds")
        if length < 0x80 {
            bytes.bytes[lengthAt] = UInt8(length)
            bytes.bytes.remove(at: lengthAt + 1)
        } else if length < 0x4000 {
            bytes.bytes[lengthAt] = UInt8(truncatingIfNeeded: length) | 0x80
            bytes.bytes[lengthAt + 1] = UInt8(length >> 7)
        } else {
            var prefix = ByteWriter(capacity: 10)
            prefix.varint(UInt64(length))
            bytes.bytes.replaceSubrange(lengthAt..<payloadStart, with: prefix.bytes)
        }
        noteAppended(sequence: sequence, timeNanos: timeNanos)
        return true
    }

    /// The framing's time delta of the entry about to be appended (from 0 for a batch's
    /// first), once the batch has room for it and the sequence follows.
    private func timeDelta(ofNext sequence: SequenceNumber, timeNanos: Int64) -> Int64 {
        precondition(!isFull, "batch is full")
        precondition(count == 0 || sequence == lastSequence + 1, "sequence \(sequence) does not follow \(lastSequence)")
        return timeNanos &- (count == 0 ? 0 : previousTimeNanos)
    }

    /// Counts the entry just appended.
    private mutating func noteAppended(sequence: SequenceNumber, timeNanos: Int64) {
        if count == 0 { firstSequence = sequence }
        previousTimeNanos = timeNanos
        count += 1
    }

    /// `tryAppend` for the entry of `command` and `events` (`EntryPayload.encode`). When the
    /// command has a fixed shape (`EntryPayload.stagedBytesMax`), the whole entry, framing
    /// included, is written through a cursor into a staging buffer and appended at once: an
    /// entry field by field was an append for its time, one for the command and one for each
    /// event, each checking the array's uniqueness and room (~85 instructions each, 6% of
    /// the engine thread's), and its length was written after the payload, moving it back
    /// by a byte. The bytes are the same either way (`DomainPropertyTests`).
    ///
    /// Returns whether the entry was appended (as `tryAppend`), and how many bytes its
    /// events' part takes at the end of `bytes` (their count and the events: the bytes a
    /// `committed` reply carries).
    public mutating func tryAppend(
        sequence: SequenceNumber, timeNanos: Int64, command: Command, events: UnsafeBufferPointer<Event>
    ) -> (fits: Bool, eventBytes: Int) {
        guard let payloadMax = EntryPayload.stagedBytesMax(command: command, eventCount: events.count) else {
            var eventBytes = 0
            let fits = tryAppend(sequence: sequence, timeNanos: timeNanos) { writer in
                let eventsStart = EntryPayload.encode(command: command, events: events, to: &writer)
                eventBytes = writer.bytes.count - eventsStart
            }
            return (fits, eventBytes)
        }
        let delta = timeDelta(ofNext: sequence, timeNanos: timeNanos)
        // The framing's two varints take at most 10 bytes each; the payload follows them.
        let framingMax = 20
        if staging.count < framingMax + payloadMax { staging = [UInt8](repeating: 0, count: framingMax + payloadMax) }
        var eventBytes = 0
        staging.withUnsafeMutableBufferPointer { buffer in
            var payload = ByteCursor(UnsafeMutableBufferPointer(rebasing: buffer[framingMax..<framingMax + payloadMax]))
            let eventsStart = EntryPayload.encodeStaged(command: command, events: events, to: &payload)
            let length = payload.written
            eventBytes = length - eventsStart
            // The framing, written after the payload (its length is known then), is moved
            // to end where the payload begins.
            var framing = ByteCursor(UnsafeMutableBufferPointer(rebasing: buffer[..<framingMax]))
            framing.zigzag(delta)
            framing.varint(UInt64(length))
            let start = framingMax - framing.written
            for offset in stride(from: framing.written - 1, through: 0, by: -1) { buffer[start + offset] = buffer[offset] }
            bytes.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<framingMax + length]))
        }
        noteAppended(sequence: sequence, timeNanos: timeNanos)
        return (true, eventBytes)
    }

    /// Appends the entry a `tryAppend` kept, to this batch, which must be empty.
    public mutating func appendKept(sequence: SequenceNumber, timeNanos: Int64, from other: JournalBatch) {
        precondition(count == 0, "a large entry goes in an empty batch")
        scratch = other.scratch
        appendScratch(sequence: sequence, timeNanos: timeNanos)
    }

    private mutating func appendScratch(sequence: SequenceNumber, timeNanos: Int64) {
        precondition(
            scratch.bytes.count <= (count == 0 ? JournalFormat.entryPayloadBytesHardMax : JournalFormat.entryPayloadBytesMax),
            "entry \(sequence) of \(scratch.bytes.count) bytes exceeds what one block holds")
        if count == 0 {
            firstSequence = sequence
            previousTimeNanos = 0
        } else {
            precondition(sequence == lastSequence + 1, "sequence \(sequence) does not follow \(lastSequence)")
        }
        bytes.zigzag(timeNanos &- previousTimeNanos)
        bytes.varint(UInt64(scratch.bytes.count))
        bytes.raw(scratch.bytes)
        previousTimeNanos = timeNanos
        count += 1
    }

    /// Appends an entry whose payload is already encoded.
    public mutating func append(sequence: SequenceNumber, timeNanos: Int64, payload: some Collection<UInt8>) {
        append(sequence: sequence, timeNanos: timeNanos) { $0.raw(payload) }
    }

    /// Checks that every entry of the batch decodes (`EntryPayload.decode`, nothing left
    /// over) and re-encodes to exactly its bytes: the journal then never holds an entry
    /// that recovery, audit or the projector cannot read back (docs/FORMATS.md, "Field
    /// domains"). Throws for the first entry that does not.
    ///
    /// Complexity: O(bytes); costs about one decode and one encode an entry.
    public func verifyRoundTrip() throws(JournalError) {
        let entries: [JournalEntry]
        do {
            entries = try self.entries()
        } catch {
            throw .entryDoesNotRoundTrip(sequence: firstSequence, reason: "batch framing: \(error)")
        }
        var writer = ByteWriter(capacity: 512)
        var events: [Event] = []
        for entry in entries {
            do {
                let command = try entry.decodePayload(events: &events)
                writer.reset()
                EntryPayload.encode(command: command, events: events, to: &writer)
            } catch {
                throw .entryDoesNotRoundTrip(sequence: entry.sequence, reason: "\(error)")
            }
            guard writer.bytes.elementsEqual(entry.payload) else {
                throw .entryDoesNotRoundTrip(sequence: entry.sequence, reason: "re-encodes to other bytes")
            }
        }
    }

    /// Checks that every entry of the batch reads back as exactly what the engine made:
    /// its bytes decode, with nothing left over, to `commands[i]` at `times[i]` with the
    /// events `events[eventEnds[i − 1] ..< eventEnds[i]]` (from 0 for the first). Recovery,
    /// audit and the projector then read what the engine executed, and the state follower,
    /// which applies these values from memory, holds what a rebuild from the journal would
    /// (docs/FORMATS.md, "Field domains"). Throws for the first entry that does not.
    ///
    /// This is `journal.verify_entries`. `verifyRoundTrip` checks bytes whose values are
    /// not at hand by encoding what they decode to again; with the values, comparing them
    /// is stronger (an encoding that loses a difference between two values passes a
    /// round trip of its own bytes) and costs no second encoding.
    ///
    /// Returns the commands and events as read back, each in a buffer of its own: equal,
    /// one for one, to `commands` and `events[..<eventEnds.last]`, so that a caller that
    /// needs a copy of them (the state follower's) takes these instead of copying them again.
    ///
    /// Complexity: O(bytes); one decode an entry and a comparison of its values.
    @discardableResult
    public func verifyReadsBack(
        commands: [Command], times: [Int64], events: [Event], eventEnds: [Int]
    ) throws(JournalError) -> ReadBack {
        guard commands.count == count, times.count == count, eventEnds.count == count, eventEnds.last ?? 0 <= events.count else {
            throw .entryDoesNotRoundTrip(
                sequence: firstSequence,
                reason:
                    "the batch holds \(count) entries but \(commands.count) commands, \(times.count) times and \(eventEnds.count) event ends (the last \(eventEnds.last ?? 0), of \(events.count) events)"
            )
        }
        var reader = ByteReader(bytes.bytes)
        // The payloads are read where they lie in the batch's bytes, with the entries after
        // them there for a varint's look ahead (`ByteReader.init(_:payload:)`).
        let whole = bytes.bytes[...]
        var time: Int64 = 0
        var eventsStart = 0
        // The batch's events are decoded one after another into one buffer: emptying a
        // buffer for each entry destroyed its events one by one (docs/BENCHMARKS.md,
        // "twenty-third steps").
        var decoded: [Event] = []
        decoded.reserveCapacity(eventEnds.last ?? 0)
        // The commands too, kept rather than destroyed after their comparison (each copy or
        // destruction of a command is a call through its cases).
        var decodedCommands: [Command] = []
        decodedCommands.reserveCapacity(count)
        // One reader for every payload, moved from one to the next (`repoint`).
        var payload = ByteReader(whole, payload: 0..<0)
        for index in 0..<count {
            let sequence = firstSequence + SequenceNumber(index)
            let eventsEnd = eventEnds[index]
            do {
                time &+= try reader.zigzag()
                let lengthOffset = reader.offset
                let length = try reader.varint()
                guard length <= UInt64(reader.remaining) else {
                    throw CodecError.outOfRange(field: "entry length", offset: lengthOffset)
                }
                let start = reader.offset
                try reader.skip(count: Int(length))
                payload.repoint(payload: start..<start + Int(length))
                let decodedStart = decoded.count
                let command = try EntryPayload.decode(from: &payload, appendingEventsTo: &decoded)
                try payload.expectEnd()
                guard time == times[index] else {
                    throw JournalError.entryDoesNotRoundTrip(
                        sequence: sequence, reason: "its time reads back as \(time), the engine's is \(times[index])")
                }
                // Compared where it lies: `commands[index]` was a copy of the engine's command.
                guard Self.isSame(command, as: commands, index) else {
                    throw JournalError.entryDoesNotRoundTrip(
                        sequence: sequence, reason: "its command reads back as \(command), the engine's is \(commands[index])")
                }
                decodedCommands.append(consume command)
                let decodedCount = decoded.count - decodedStart
                guard eventsStart <= eventsEnd, decodedCount == eventsEnd - eventsStart else {
                    throw JournalError.entryDoesNotRoundTrip(
                        sequence: sequence,
                        reason: "it reads back with \(decodedCount) events, the engine's has \(max(0, eventsEnd - eventsStart))")
                }
                for place in 0..<decodedCount where decoded[decodedStart + place] != events[eventsStart + place] {
                    throw JournalError.entryDoesNotRoundTrip(
                        sequence: sequence,
                        reason:
                            "its event \(place) reads back as \(decoded[decodedStart + place]), the engine's is \(events[eventsStart + place])"
                    )
                }
            } catch let error as JournalError {
                throw error
            } catch {
                throw .entryDoesNotRoundTrip(sequence: sequence, reason: "\(error)")
            }
            eventsStart = eventsEnd
        }
        do {
            try reader.expectEnd()
        } catch {
            throw .entryDoesNotRoundTrip(sequence: lastSequence, reason: "batch framing: \(error)")
        }
        return ReadBack(commands: decodedCommands, events: decoded)
    }

    /// `commands[index] == command`, both read where they lie.
    @inline(__always)
    private static func isSame(_ command: borrowing Command, as commands: [Command], _ index: Int) -> Bool {
        commands.withUnsafeBufferPointer { command.isSame(as: $0, index) }
    }

    /// What `verifyReadsBack` read: the batch's commands, and their events one after another.
    public struct ReadBack {
        public var commands: [Command]
        public var events: [Event]
    }

    /// The batch's entries, as a block read back gives them.
    public func entries() throws(CodecError) -> [JournalEntry] {
        try EntryFraming.entries(in: bytes.bytes, firstSequence: firstSequence, count: count)
    }

    /// Empties the batch, keeping its buffers.
    public mutating func reset() {
        count = 0
        firstSequence = 0
        bytes.reset()
    }
}

/// One entry read back from the journal.
public struct JournalEntry: Sendable, Hashable {
    public var sequence: SequenceNumber
    public var timeNanos: Int64
    /// The bytes the payload lies in (a block's, where the entries after it follow) and
    /// its place in them: decoding may look ahead past the payload for a varint's fast
    /// path (`ByteReader.init(_:payload:)`), never read it as a field.
    private let bytes: ArraySlice<UInt8>
    private let payloadRange: Range<Int>

    /// The command and events' bytes.
    public var payload: ArraySlice<UInt8> { bytes[payloadRange] }

    public init(sequence: SequenceNumber, timeNanos: Int64, payload: ArraySlice<UInt8>) {
        self.init(sequence: sequence, timeNanos: timeNanos, payload: payload.indices, in: payload)
    }

    /// An entry whose payload is `range` of `bytes`.
    init(sequence: SequenceNumber, timeNanos: Int64, payload range: Range<Int>, in bytes: ArraySlice<UInt8>) {
        self.sequence = sequence
        self.timeNanos = timeNanos
        self.bytes = bytes
        payloadRange = range
    }

    /// Entries are equal when their sequences, times and payloads are (not the bytes
    /// around the payload).
    public static func == (left: JournalEntry, right: JournalEntry) -> Bool {
        left.sequence == right.sequence && left.timeNanos == right.timeNanos && left.payload == right.payload
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(sequence)
        hasher.combine(timeNanos)
        hasher.combine(payload)
    }

    /// The command and events, all of the payload: the one way every reader (recovery,
    /// audit, dump, projector, tools) decodes an entry.
    public func decodePayload() throws(CodecError) -> EntryPayload {
        var reader = ByteReader(bytes, payload: payloadRange)
        let decoded = try EntryPayload.decode(from: &reader)
        try reader.expectEnd()
        return decoded
    }

    /// The command, with the events decoded into `events` (emptied first, its room kept):
    /// `decodePayload` for a reader that goes through many entries without an array each.
    public func decodePayload(events: inout [Event]) throws(CodecError) -> Command {
        events.removeAll(keepingCapacity: true)
        return try decodePayload(appendingEventsTo: &events)
    }

    /// The same, appending the events after those `events` holds; after an error, `events`
    /// may hold some of this entry's events after its own.
    public func decodePayload(appendingEventsTo events: inout [Event]) throws(CodecError) -> Command {
        try EntryFrame(sequence: sequence, timeNanos: timeNanos, payload: payloadRange).decodePayload(
            in: bytes, appendingEventsTo: &events)
    }
}

/// Where one entry lies in its block's uncompressed bytes: its sequence, its time and its
/// payload's range. Plain values: a block's frames hold no reference to its bytes, so
/// going through them retains nothing an entry (a `JournalEntry` each retained and
/// released the block's buffer, issue 12, nineteenth steps).
public struct EntryFrame: Sendable, Hashable {
    public var sequence: SequenceNumber
    public var timeNanos: Int64
    public var payload: Range<Int>

    /// The entry, given its block's bytes.
    public func entry(in bytes: ArraySlice<UInt8>) -> JournalEntry {
        JournalEntry(sequence: sequence, timeNanos: timeNanos, payload: payload, in: bytes)
    }

    /// The command, with the events appended after those `events` holds, decoded from the
    /// block's bytes (`JournalEntry.decodePayload(appendingEventsTo:)`).
    public func decodePayload(in bytes: ArraySlice<UInt8>, appendingEventsTo events: inout [Event]) throws(CodecError) -> Command {
        var reader = ByteReader(bytes, payload: payload)
        let command = try EntryPayload.decode(from: &reader, appendingEventsTo: &events)
        try reader.expectEnd()
        return command
    }
}

/// Splits a block's uncompressed bytes back into entries.
package enum EntryFraming {
    package static func entries(
        in bytes: [UInt8], firstSequence: SequenceNumber, count: Int
    ) throws(CodecError) -> [JournalEntry] {
        let block = bytes[...]
        return try frames(in: bytes, firstSequence: firstSequence, count: count).map { $0.entry(in: block) }
    }

    /// Where each of the block's entries lies (indices into `bytes`).
    package static func frames(
        in bytes: [UInt8], firstSequence: SequenceNumber, count: Int
    ) throws(CodecError) -> [EntryFrame] {
        var reader = ByteReader(bytes)
        var time: Int64 = 0
        var result: [EntryFrame] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            time &+= try reader.zigzag()
            let lengthOffset = reader.offset
            let length = try reader.varint()
            guard length <= UInt64(reader.remaining) else { throw .outOfRange(field: "entry length", offset: lengthOffset) }
            let start = reader.offset
            try reader.skip(count: Int(length))
            result.append(
                EntryFrame(sequence: firstSequence + SequenceNumber(index), timeNanos: time, payload: start..<start + Int(length)))
        }
        try reader.expectEnd()
        return result
    }
}
