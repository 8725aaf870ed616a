import Foundation
import Journal
import LedgerCore
import Testing

/// `DecodingReader` (reading and decoding on a thread of its own) gives what
/// `JournalReader` and `decodePayload` give in one thread: the same entries, and the same
/// error after the same entries.
@Suite struct DecodingReaderTests {
    /// A journal of `blocks` blocks of `perBlock` entries in segments of about
    /// `segmentBytes`; `payload` writes entry n's payload (its time is n × `timeStep`).
    static func writeJournal(
        _ directory: String, blocks: Int, perBlock: Int, segmentBytes: Int64, timeStep: Int64 = 1,
        payload: (_ sequence: SequenceNumber, _ writer: inout ByteWriter) -> Void
    ) throws {
        let writer = try JournalWriter.open(.init(directory: directory, segmentBytesTarget: segmentBytes))
        var batch = JournalBatch()
        for _ in 0..<blocks {
            batch.reset()
            for _ in 0..<perBlock {
                let sequence = writer.lastSequence + SequenceNumber(batch.count) + 1
                batch.append(sequence: sequence, timeNanos: Int64(sequence) * timeStep) { writer in payload(sequence, &writer) }
            }
            try writer.append(batch)
        }
    }

    /// 40 blocks of 25 decodable entries in small segments: entry n sets symbol n % 7's mark
    /// to n, with one event, or two for every third entry.
    static func writeJournal(_ directory: String) throws {
        try writeJournal(directory, blocks: 40, perBlock: 25, segmentBytes: 2_048, timeStep: 1_000) { sequence, writer in
            let symbol = SymbolID(sequence % 7)
            var events: [Event] = [.markPriceSet(symbol: symbol, priceUnits: Int64(sequence))]
            if sequence % 3 == 0 { events.append(.premiumSampled(symbol: symbol, premiumE8: -Int64(sequence))) }
            EntryPayload.encode(command: .setMarkPrice(symbol: symbol, priceUnits: Int64(sequence)), events: events, to: &writer)
        }
    }

    struct Read: Equatable {
        var sequence: SequenceNumber
        var timeNanos: Int64
        var command: Command
        var events: [Event]
    }

    /// In one thread, as before `DecodingReader`.
    static func serial(_ directory: String, from: SequenceNumber, upTo limit: SequenceNumber) -> (entries: [Read], error: String?) {
        var entries: [Read] = []
        do {
            try JournalReader(directory: directory, from: from).forEach(upTo: limit) { entry in
                let payload = try entry.decodePayload()
                entries.append(Read(sequence: entry.sequence, timeNanos: entry.timeNanos, command: payload.command, events: payload.events))
            }
        } catch {
            return (entries, "\(error)")
        }
        return (entries, nil)
    }

    static func prefetched(_ directory: String, from: SequenceNumber, upTo limit: SequenceNumber) -> (entries: [Read], error: String?) {
        var entries: [Read] = []
        do {
            try DecodingReader(directory: directory, from: from, upTo: limit).forEach { sequence, time, command, events in
                entries.append(Read(sequence: sequence, timeNanos: time, command: command, events: Array(events)))
            }
        } catch {
            return (entries, "\(error)")
        }
        return (entries, nil)
    }

    @Test func givesTheEntriesTheSerialReaderGives() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path)
        #expect(segmentFiles(directory.path).count > 3)
        let whole = Self.prefetched(directory.path, from: 1, upTo: .max)
        #expect(whole.error == nil)
        #expect(whole.entries.map(\.sequence) == Array(1...1_000))
        #expect(whole.entries == Self.serial(directory.path, from: 1, upTo: .max).entries)
        #expect(whole.entries[2].events == [.markPriceSet(symbol: 3, priceUnits: 3), .premiumSampled(symbol: 3, premiumE8: -3)])
        // Starting and stopping inside blocks.
        let middle = Self.prefetched(directory.path, from: 333, upTo: 777)
        #expect(middle.error == nil)
        #expect(middle.entries.map(\.sequence) == Array(333...777))
        #expect(middle.entries == Self.serial(directory.path, from: 333, upTo: 777).entries)
        // Past the end: nothing, no error.
        let after = Self.prefetched(directory.path, from: 1_001, upTo: .max)
        #expect(after.entries.isEmpty && after.error == nil)
    }

    /// A damaged block: the entries before it, then the same error (segment and offset).
    @Test func aDamagedBlockEndsTheStreamWhereTheSerialReaderStops() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path)
        let damaged = segmentFiles(directory.path)[2]
        try flipByte(directory.path + "/" + damaged, at: 150)
        let serial = Self.serial(directory.path, from: 1, upTo: .max)
        let prefetched = Self.prefetched(directory.path, from: 1, upTo: .max)
        #expect(serial.error != nil)
        #expect(prefetched.error == serial.error)
        #expect(prefetched.error?.contains(damaged) == true, "\(prefetched.error ?? "no error")")
        #expect(prefetched.entries == serial.entries)
        #expect(!prefetched.entries.isEmpty && prefetched.entries.count < 1_000)
    }

    struct Stop: Error, Equatable { var at: SequenceNumber }

    /// An error of the caller's stops the reading at once and comes back as it is.
    @Test func anErrorOfTheCallerStopsTheReading() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path)
        var seen: [SequenceNumber] = []
        #expect(throws: Stop(at: 100)) {
            try DecodingReader(directory: directory.path, from: 1).forEach { sequence, _, _, _ in
                seen.append(sequence)
                if sequence == 100 { throw Stop(at: 100) }
            }
        }
        #expect(seen == Array(1...100))
    }

    /// Commands that own memory (`listSymbol` is boxed, `entryExcised` holds an array)
    /// come out equal to the serial reader's, also when the caller stops inside a block
    /// (each entry is moved out of the block once, and the ones after the stop are
    /// destroyed with the block, not handed over).
    @Test func commandsThatOwnMemoryAreHandedOverOnce() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path, blocks: 8, perBlock: 30, segmentBytes: 4_096) { sequence, writer in
            let command: Command =
                sequence % 2 == 0
                ? .listSymbol(
                    SymbolSpec(
                        id: SymbolID(sequence % 100), name: "S\(sequence)USDT", settleAsset: 0, priceScale: 2, quantityScale: 3,
                        tickSizePriceUnits: 1, lotSizeQuantityUnits: 1, minNotionalMinor: 0, maxPriceUnits: 1_000_000,
                        maxQuantityUnits: 1_000_000, maxPositionQuantityUnits: 1_000_000, maxLeverage: 20, defaultLeverage: 10,
                        makerFeeRateE8: 0, takerFeeRateE8: 0))
                : .entryExcised(originalPayloadSHA256: (0..<32).map { UInt8(truncatingIfNeeded: sequence &+ UInt64($0)) })
            EntryPayload.encode(command: command, events: [.rejected(.invalidListing, detail: sequence)], to: &writer)
        }
        let whole = Self.prefetched(directory.path, from: 1, upTo: .max)
        #expect(whole.error == nil)
        #expect(whole.entries.count == 240)
        #expect(whole.entries == Self.serial(directory.path, from: 1, upTo: .max).entries)
        // Stopped inside the fifth block (entry 137 of 121 ... 150): the rest of that block
        // and the blocks decoded ahead go with the reader.
        for stop in [137, 150, 151] as [SequenceNumber] {
            var seen: [Command] = []
            #expect(throws: Stop(at: stop)) {
                try DecodingReader(directory: directory.path, from: 1).forEach { sequence, _, command, _ in
                    seen.append(command)
                    if sequence == stop { throw Stop(at: stop) }
                }
            }
            #expect(seen == whole.entries.prefix(Int(stop)).map(\.command))
        }
    }

    /// An entry whose events stop decoding part way (two good events, then an unknown
    /// tag): every entry before it, its block's earlier ones too, with their own events
    /// only, then the error naming its sequence and the byte.
    @Test func anEntryThatStopsDecodingPartWayEndsTheStreamThere() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path, blocks: 4, perBlock: 25, segmentBytes: 4_096) { sequence, writer in
            let events: [Event] = [
                .markPriceSet(symbol: 1, priceUnits: Int64(sequence)), .premiumSampled(symbol: 1, premiumE8: Int64(sequence)),
            ]
            guard sequence == 60 else {
                EntryPayload.encode(command: .setMarkPrice(symbol: 1, priceUnits: Int64(sequence)), events: events, to: &writer)
                return
            }
            // The count says three; the third event's tag is unknown.
            Command.setMarkPrice(symbol: 1, priceUnits: 60).encode(to: &writer)
            writer.varint(3)
            for event in events { event.encode(to: &writer) }
            writer.u8(0xEE)
            writer.varint(1)
        }
        let serial = Self.serial(directory.path, from: 1, upTo: .max)
        let prefetched = Self.prefetched(directory.path, from: 1, upTo: .max)
        #expect(prefetched.entries.map(\.sequence) == Array(1...59))
        #expect(prefetched.entries == serial.entries)
        #expect(
            prefetched.entries.allSatisfy {
                $0.events.count == 2 && $0.events[0] == .markPriceSet(symbol: 1, priceUnits: Int64($0.sequence))
            })
        let error = try #require(prefetched.error)
        #expect(error.contains("entry 60 does not decode"), "\(error)")
        #expect(error.contains("unknown event tag 238"), "\(error)")
        #expect(serial.error?.contains("unknown event tag 238") == true, "\(serial.error ?? "no error")")
    }

    /// The events the test journal's entry `sequence` holds (`writeJournal(_:)`): what a
    /// faithful re-execution gives.
    static func journaledEvents(_ sequence: SequenceNumber) -> [Event] {
        let symbol = SymbolID(sequence % 7)
        var events: [Event] = [.markPriceSet(symbol: symbol, priceUnits: Int64(sequence))]
        if sequence % 3 == 0 { events.append(.premiumSampled(symbol: symbol, premiumE8: -Int64(sequence))) }
        return events
    }

    /// A re-execution that differs from the journal at the entries of `wrong`: one more
    /// event, one less, or one field changed.
    static func reexecute(_ sequence: SequenceNumber, wrong: Set<SequenceNumber>, into executed: inout [Event]) {
        var events = journaledEvents(sequence)
        if wrong.contains(sequence) {
            switch sequence % 3 {
            case 0: events.removeLast()
            case 1: events.append(.premiumSampled(symbol: 1, premiumE8: 1))
            default: events[0] = .markPriceSet(symbol: SymbolID(sequence % 7), priceUnits: Int64(sequence) + 1)
            }
        }
        executed.append(contentsOf: events)
    }

    /// The audit's loop compares on the decoding thread: every entry whose re-executed
    /// events differ is counted, in the first block, in the middle, in the last block (the
    /// caller compares what the decoding thread did not), and the lowest are described with
    /// both lists, in order.
    @Test func theAuditFindsEveryEntryWhoseEventsDiffer() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path)
        let wrong: Set<SequenceNumber> = [3, 37, 512, 998, 999, 1_000]
        var handed: [SequenceNumber] = []
        let outcome = DecodingReader(directory: directory.path, from: 1).audit(describing: 4) { sequence, _, command, executed in
            #expect(command == .setMarkPrice(symbol: SymbolID(sequence % 7), priceUnits: Int64(sequence)))
            handed.append(sequence)
            Self.reexecute(sequence, wrong: wrong, into: &executed)
        }
        #expect(outcome.failure == nil)
        #expect(handed == Array(1...1_000))
        #expect(outcome.mismatches == 6)
        #expect(outcome.first.map(\.sequence) == [3, 37, 512, 998])
        #expect(outcome.first[0].journaled == Self.journaledEvents(3))
        #expect(outcome.first[0].executed == [.markPriceSet(symbol: 3, priceUnits: 3)])
        #expect(outcome.first[1].executed == Self.journaledEvents(37) + [.premiumSampled(symbol: 1, premiumE8: 1)])
        #expect(outcome.first[2].executed == [.markPriceSet(symbol: 1, priceUnits: 513)])
        #expect(outcome.first[2].journaled == [.markPriceSet(symbol: 1, priceUnits: 512)])

        // A faithful re-execution: nothing found.
        let clean = DecodingReader(directory: directory.path, from: 1).audit(describing: 10) { sequence, _, _, executed in
            Self.reexecute(sequence, wrong: [], into: &executed)
        }
        #expect(clean.failure == nil && clean.mismatches == 0 && clean.first.isEmpty)

        // Only the last entry, from inside a block: the caller's own comparison finds it.
        let last = DecodingReader(directory: directory.path, from: 990, upTo: 1_000).audit(describing: 10) {
            sequence, _, _, executed in
            Self.reexecute(sequence, wrong: [1_000], into: &executed)
        }
        #expect(last.mismatches == 1 && last.first.map(\.sequence) == [1_000])
    }

    /// An error ends the audit's reading and comes back in the outcome, with the entries
    /// handed before it compared: the caller's own error, and a damaged block.
    @Test func anAuditEndedByAnErrorKeepsWhatItCompared() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeJournal(directory.path)
        let wrong: Set<SequenceNumber> = [37, 512, 999]
        let stopped = DecodingReader(directory: directory.path, from: 1).audit(describing: 10) { sequence, _, _, executed in
            if sequence == 600 { throw Stop(at: 600) }
            Self.reexecute(sequence, wrong: wrong, into: &executed)
        }
        #expect(stopped.failure as? Stop == Stop(at: 600))
        #expect(stopped.mismatches == 2 && stopped.first.map(\.sequence) == [37, 512])

        let damaged = segmentFiles(directory.path)[2]
        try flipByte(directory.path + "/" + damaged, at: 150)
        let serial = Self.serial(directory.path, from: 1, upTo: .max)
        let lastGood = try #require(serial.entries.last?.sequence)
        let audited = DecodingReader(directory: directory.path, from: 1).audit(describing: 10) { sequence, _, _, executed in
            Self.reexecute(sequence, wrong: [1, lastGood], into: &executed)
        }
        let failure = try #require(audited.failure)
        #expect("\(failure)" == serial.error)
        #expect("\(failure)".contains(damaged))
        #expect(audited.mismatches == 2 && audited.first.map(\.sequence) == [1, lastGood])
    }
}
