import CCRC32C
import Foundation
import Journal
import LedgerCore
import Testing

@Suite struct ChecksumTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func hardwareAndPortablePathsAgree() {
        var random = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 63, 64, 65, 1_000, 4_097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let portable = bytes.withUnsafeBufferPointer { ledger_crc32c_extend_portable(0, $0.baseAddress, $0.count) }
            #expect(crc32c(bytes) == portable, "length \(length)")
            // Extending in two pieces gives the same value as one pass.
            let split = length / 3
            #expect(crc32c(bytes[split...], extending: crc32c(bytes[..<split])) == portable)
        }
    }
}

@Suite struct JournalTests {
    /// A batch that is not full takes an entry of `JournalFormat.entryPayloadBytesMax` and
    /// stays a valid block (an entry between 8 and 64 KiB once made a block too large and
    /// stopped the writer).
    @Test func theLargestEntryFitsEveryBatchThatIsNotFull() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let largest = [UInt8](repeating: 0xA5, count: JournalFormat.entryPayloadBytesMax)
        var batch = JournalBatch()
        var sequence: SequenceNumber = 1
        var last = batch
        while !batch.isFull {
            var probe = batch
            probe.append(sequence: sequence, timeNanos: Int64(sequence), payload: largest)
            #expect(probe.bytes.bytes.count <= JournalFormat.blockUncompressedBytesMax, "at \(batch.bytes.bytes.count) bytes")
            last = probe
            batch.append(sequence: sequence, timeNanos: Int64(sequence), payload: [UInt8](repeating: 1, count: 9_973))
            sequence += 1
        }
        let writer = try JournalWriter.open(.init(directory: directory.path))
        try writer.append(last)
        #expect(writer.lastSequence == last.lastSequence)
    }

    /// An entry above the shared limit (only the engine's own entries can be) is not put in
    /// a batch that holds others: the batch is closed and the entry starts the next,
    /// where it may take a whole block; both read back.
    @Test func anEntryAboveTheSharedLimitStartsABlockOfItsOwn() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let small = [UInt8](repeating: 7, count: 100)
        let large = (0..<(JournalFormat.entryPayloadBytesMax * 5)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var first = JournalBatch()
        #expect(first.tryAppend(sequence: 1, timeNanos: 10) { $0.raw(small) })
        let before = first.bytes.bytes
        #expect(!first.tryAppend(sequence: 2, timeNanos: 20) { $0.raw(large) })
        #expect(first.count == 1 && first.bytes.bytes == before, "a refused entry left the batch changed")
        var second = JournalBatch()
        second.appendKept(sequence: 2, timeNanos: 20, from: first)
        #expect(second.count == 1 && second.firstSequence == 2)
        #expect(second.isFull || second.bytes.bytes.count > JournalFormat.entryPayloadBytesMax)
        // Alone in an empty batch, a large entry is taken at once.
        var third = JournalBatch()
        #expect(third.tryAppend(sequence: 3, timeNanos: 30) { $0.raw(large.reversed()) })
        let writer = try JournalWriter.open(.init(directory: directory.path))
        for batch in [first, second, third] { try writer.append(batch) }
        var read: [(SequenceNumber, Int64, [UInt8])] = []
        try JournalReader(directory: directory.path).forEach { read.append(($0.sequence, $0.timeNanos, Array($0.payload))) }
        #expect(read.map(\.0) == [1, 2, 3])
        #expect(read.map(\.1) == [10, 20, 30])
        #expect(read.count == 3 && read[0].2 == small && read[1].2 == large && read[2].2 == Array(large.reversed()))
    }

    /// `tryAppend` encodes in place, with room for a two-byte length that a shorter or a
    /// longer length makes it move the payload for: every length at the varint's edges
    /// frames exactly as the scratch path (`append`) does, and reads back.
    @Test func payloadsEncodedInPlaceFrameAsTheScratchPathAtEveryLengthEdge() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let lengths = [0, 1, 127, 128, 129, 16_383, 16_384, 16_385, JournalFormat.entryPayloadBytesMax]
        var inPlace = JournalBatch()
        var scratch = JournalBatch()
        var payloads: [[UInt8]] = []
        for (index, length) in lengths.enumerated() {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            payloads.append(payload)
            let sequence = SequenceNumber(index + 1)
            let time = 1_000 + Int64(index) * 977
            #expect(inPlace.tryAppend(sequence: sequence, timeNanos: time) { $0.raw(payload) }, "length \(length) refused")
            scratch.append(sequence: sequence, timeNanos: time, payload: payload)
            #expect(inPlace.bytes.bytes == scratch.bytes.bytes, "the framing differs after the entry of \(length) bytes")
        }
        #expect(try inPlace.entries().map { Array($0.payload) } == payloads)
        let writer = try JournalWriter.open(.init(directory: directory.path))
        try writer.append(inPlace)
        var read: [[UInt8]] = []
        try JournalReader(directory: directory.path).forEach { read.append(Array($0.payload)) }
        #expect(read == payloads)
    }

    /// The engine's entries go through `tryAppend(sequence:timeNanos:command:events:)`,
    /// which stages a fixed-shape command's entry whole, framing included: the bytes, and
    /// where the events' part begins, are those of the entry written field by field, at
    /// every time delta's and payload length's varint edges, for every count of events up
    /// to past the largest two-byte length, and for commands of either kind.
    @Test func anEntryStagedWholeIsTheEntryWrittenFieldByField() throws {
        let commands: [Command] = [
            .placeOrder(PlaceOrder(account: 1, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500, quantityUnits: 7)),
            .placeOrder(
                PlaceOrder(
                    account: .max, symbol: .max, side: .sell, type: .limit, timeInForce: .ioc, priceUnits: .max, quantityUnits: .min,
                    clientOrderID: ClientOrderID(UInt64(Int64.max)))),
            .cancelOrder(CancelOrder(account: .max, orderID: .max)),
            .setMarkPrice(symbol: .max, priceUnits: .min),
            .tick,
            // No fixed shape: written field by field by both.
            .placeOrder(
                PlaceOrder(
                    account: 2, symbol: 1, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 9, quantityUnits: 1,
                    clientOrderID: ClientOrderID(text: "text-id")!)),
            .listAsset(Asset(id: 3, name: "USDC", scale: 6)),
        ]
        let wide = Trade(
            tradeID: .max, symbol: .max, makerOrderID: .max, takerOrderID: .max, makerAccount: .max, takerAccount: .max,
            takerSide: .sell, priceUnits: .max, quantityUnits: .min, makerFeeMinor: .min, takerFeeMinor: .max,
            makerRealizedPnlMinor: .min, takerRealizedPnlMinor: .max)
        let times: [Int64] = [0, 1, -1, 63, 64, .max, .min, 1_700_000_000_000_000_000, 1_700_000_000_000_000_001]
        var (stagedCount, lengths) = (0, Set<Int>())
        for (index, command) in commands.enumerated() {
            var staged = JournalBatch()
            var fieldByField = JournalBatch()
            // 0 to 160 events: lengths from a few bytes to past 16,383 (a wide trade takes 115).
            var entriesRead = 0
            for count in 0...160 {
                // A full batch becomes a block; the next entries start it again, as the
                // sequencer's batches do once written (its last time is kept, unused).
                if staged.isFull {
                    entriesRead += try staged.entries().count
                    staged.reset()
                    fieldByField.reset()
                }
                let sequence = SequenceNumber(count + 1)
                let time = times[(count + index) % times.count]
                let events = (0..<count).map {
                    Event.trade(
                        Trade(
                            tradeID: UInt64($0), symbol: wide.symbol, makerOrderID: wide.makerOrderID, takerOrderID: wide.takerOrderID,
                            makerAccount: wide.makerAccount, takerAccount: wide.takerAccount, takerSide: wide.takerSide,
                            priceUnits: wide.priceUnits, quantityUnits: wide.quantityUnits, makerFeeMinor: wide.makerFeeMinor,
                            takerFeeMinor: wide.takerFeeMinor, makerRealizedPnlMinor: wide.makerRealizedPnlMinor,
                            takerRealizedPnlMinor: wide.takerRealizedPnlMinor))
                }
                let before = staged.bytes.bytes.count
                let (fits, eventBytes) = events.withUnsafeBufferPointer {
                    staged.tryAppend(sequence: sequence, timeNanos: time, command: command, events: $0)
                }
                var expectedEventBytes = 0
                let expectedFits = fieldByField.tryAppend(sequence: sequence, timeNanos: time) { writer in
                    let eventsStart = EntryPayload.encode(command: command, events: events, to: &writer)
                    expectedEventBytes = writer.bytes.count - eventsStart
                }
                #expect(fits && expectedFits, "\(command) with \(count) events did not fit")
                #expect(
                    eventBytes == expectedEventBytes,
                    "\(command) with \(count) events: events' part \(eventBytes), not \(expectedEventBytes)")
                let same = staged.bytes.bytes == fieldByField.bytes.bytes
                #expect(same, "\(command) with \(count) events at time \(time): the batches differ")
                if !same { return }
                lengths.insert(staged.bytes.bytes.count - before)
                if EntryPayload.stagedBytesMax(command: command, eventCount: count) != nil { stagedCount += 1 }
            }
            #expect(try entriesRead + staged.entries().count == 161)
        }
        // Five commands of fixed shape took the staged path every time; the lengths crossed
        // both of the length varint's edges.
        #expect(stagedCount == 5 * 161)
        #expect(lengths.contains { $0 < 128 } && lengths.contains { $0 > 16_400 })
    }

    @Test func appendsRollsSegmentsAndReadsBack() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 8_192))
        try appendTestBlocks(writer, blocks: 60, perBlock: 25)
        #expect(writer.lastSequence == 1_500)
        #expect(writer.durableSequence == 1_500)
        let segments = segmentFiles(directory.path)
        #expect(segments.count > 3)
        // Every sealed segment has its index.
        let indexes = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".idx") }
        #expect(indexes.count == segments.count - 1)

        let entries = try readAll(directory.path)
        #expect(entries.map(\.sequence) == Array(1...1_500))
        #expect(entries.allSatisfy { Array($0.payload) == testPayload($0.sequence) && $0.timeNanos == Int64($0.sequence) * 1_000_003 })
        // Reading from the middle starts exactly there.
        #expect(try readAll(directory.path, from: 777).first?.sequence == 777)
        let report = try JournalVerifier.verify(directory: directory.path)
        #expect(report.finding == nil)
        #expect(report.entries == 1_500)
        #expect(report.lastChain == writer.lastChain)
    }

    /// LZ4's acceleration changes how many bytes the blocks take, never what they hold: at
    /// both ends of its range and at the default, the same entries read back, verify, and
    /// the fastest setting writes more bytes than the best-compressing one (so the setting
    /// reaches the compressor).
    @Test func everyLZ4AccelerationReadsBackTheSameEntries() throws {
        let range = JournalWriter.Options.lz4AccelerationRange
        var bytesWritten: [Int32: Int64] = [:]
        for acceleration in [range.lowerBound, JournalWriter.Options.lz4AccelerationDefault, range.upperBound] {
            let directory = TemporaryDirectory()
            defer { directory.cleanup() }
            let writer = try JournalWriter.open(.init(directory: directory.path, lz4Acceleration: acceleration))
            try appendTestBlocks(writer, blocks: 20, perBlock: 50)
            bytesWritten[acceleration] = writer.bytesWritten
            let entries = try readAll(directory.path)
            #expect(entries.map(\.sequence) == Array(1...1_000), "acceleration \(acceleration)")
            #expect(
                entries.allSatisfy { Array($0.payload) == testPayload($0.sequence) && $0.timeNanos == Int64($0.sequence) * 1_000_003 },
                "acceleration \(acceleration)")
            let report = try JournalVerifier.verify(directory: directory.path)
            #expect(
                report.finding == nil && report.entries == 1_000 && report.lastChain == writer.lastChain, "acceleration \(acceleration)")
        }
        let best = try #require(bytesWritten[range.lowerBound])
        let fastest = try #require(bytesWritten[range.upperBound])
        #expect(best < fastest, "acceleration 1 wrote \(best) bytes, \(range.upperBound) wrote \(fastest)")
    }

    @Test func reopeningContinuesTheSequenceAndTheChain() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        var chain: [UInt8] = []
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 4_096))
            try appendTestBlocks(writer, blocks: 10, perBlock: 10)
            chain = writer.lastChain
        }
        let reopened = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 4_096))
        #expect(reopened.lastSequence == 100)
        #expect(reopened.lastChain == chain)
        #expect(reopened.recovery.truncatedSegment == nil)
        try appendTestBlocks(reopened, blocks: 5, perBlock: 10)
        #expect(try readAll(directory.path).count == 150)
        #expect(try JournalVerifier.verify(directory: directory.path).finding == nil)
    }

    @Test func anAppendOutOfSequenceIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let writer = try JournalWriter.open(.init(directory: directory.path))
        var batch = JournalBatch()
        batch.append(sequence: 5, timeNanos: 1, payload: [1, 2, 3])
        #expect(throws: JournalError.self) { try writer.append(batch) }
    }

    @Test(arguments: [1, 10, 63])
    func aTornLastBlockIsCutAndReported(cutBytes: Int) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 4_096))
            try appendTestBlocks(writer, blocks: 12, perBlock: 10)
        }
        let last = directory.path + "/" + segmentFiles(directory.path).last!
        try truncateFile(last, by: Int64(cutBytes))
        let before = try JournalVerifier.verify(directory: directory.path)
        #expect(before.finding != nil && before.findingIsTornTail)
        let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 4_096))
        #expect(writer.recovery.truncatedSegment == segmentFiles(directory.path).last)
        #expect(writer.recovery.truncatedBytes > 0)
        #expect(writer.lastSequence == 110)
        // The journal keeps going where the cut left it.
        try appendTestBlocks(writer, blocks: 1, perBlock: 10)
        #expect(try readAll(directory.path).map(\.sequence) == Array(1...120))
        #expect(try JournalVerifier.verify(directory: directory.path).finding == nil)
    }

    @Test func zerosAfterTheLastBlockAreCut() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path))
            try appendTestBlocks(writer, blocks: 3, perBlock: 10)
        }
        let last = directory.path + "/" + segmentFiles(directory.path).last!
        try appendZeros(last, count: 4_096)
        let writer = try JournalWriter.open(.init(directory: directory.path))
        #expect(writer.recovery.truncatedBytes == 4_096)
        #expect(writer.lastSequence == 30)
    }

    @Test func aFlippedByteInASealedBlockIsCorruption() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 1_024))
            try appendTestBlocks(writer, blocks: 20, perBlock: 10)
        }
        #expect(segmentFiles(directory.path).count >= 3)
        let sealed = segmentFiles(directory.path)[1]
        // Byte 100 lies in the first block's payload (the headers take 72 + 64 bytes).
        try flipByte(directory.path + "/" + sealed, at: 150)
        #expect {
            _ = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 1_024))
        } throws: { error in
            guard case JournalError.corrupt(let segment, let offset, _) = error else { return false }
            return segment == sealed && offset == 72
        }
        let report = try JournalVerifier.verify(directory: directory.path)
        #expect(report.finding?.segment == sealed)
        #expect(report.finding?.offset == 72)
        #expect(!report.findingIsTornTail)
    }

    @Test func aBadBlockFollowedByGoodOnesInTheLastSegmentIsCorruption() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path))
            try appendTestBlocks(writer, blocks: 5, perBlock: 10)
        }
        let only = segmentFiles(directory.path)[0]
        try flipByte(directory.path + "/" + only, at: 80)  // inside the first block's header
        #expect(throws: JournalError.self) { _ = try JournalWriter.open(.init(directory: directory.path)) }
    }

    @Test func aHalfCreatedLastSegmentIsRemoved() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path))
            try appendTestBlocks(writer, blocks: 2, perBlock: 10)
        }
        let stray = directory.path + "/" + JournalFormat.segmentName(firstSequence: 21)
        FileManager.default.createFile(atPath: stray, contents: Data([0x58, 0x4C, 0x4A]))
        let writer = try JournalWriter.open(.init(directory: directory.path))
        #expect(writer.lastSequence == 20)
        #expect(writer.recovery.truncatedSegment == JournalFormat.segmentName(firstSequence: 21))
        #expect(!FileManager.default.fileExists(atPath: stray))
    }

    @Test func aLostIndexIsRebuilt() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 2_048))
            try appendTestBlocks(writer, blocks: 12, perBlock: 10)
        }
        let index = try FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasSuffix(".idx") }!
        try FileManager.default.removeItem(atPath: directory.path + "/" + index)
        let writer = try JournalWriter.open(.init(directory: directory.path, segmentBytesTarget: 2_048))
        #expect(writer.recovery.indexesRebuilt == 1)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/" + index))
    }
}

/// The writer's last check before a block reaches the disk (journal.verify_entries).
@Suite struct RoundTripCheckTests {
    static func payload(_ command: Command, _ events: [Event]) -> [UInt8] {
        var writer = ByteWriter()
        EntryPayload.encode(command: command, events: events, to: &writer)
        return writer.bytes
    }

    @Test func aBatchOfDecodableEntriesPasses() throws {
        var batch = JournalBatch()
        batch.append(
            sequence: 7, timeNanos: 10,
            payload: Self.payload(.setMarkPrice(symbol: 0, priceUnits: 5), [.markPriceSet(symbol: 0, priceUnits: 5)]))
        batch.append(
            sequence: 8, timeNanos: 11,
            payload: Self.payload(.setMarkPrice(symbol: 9, priceUnits: 5), [.rejected(.unknownSymbol, detail: 0)]))
        try batch.verifyRoundTrip()
    }

    /// Each way an entry can fail to read back names its sequence: an undecodable name (the
    /// 65-byte listing), an id of 2^63, a varint not in its shortest form, trailing bytes.
    @Test func anEntryThatWouldNotReadBackIsNamedBySequence() throws {
        let longName = Self.payload(
            .listAsset(Asset(id: 1, name: String(repeating: "A", count: 65), scale: 6)), [.rejected(.invalidListing, detail: 0)])
        let hugeAccount = Self.payload(
            .deposit(Transfer(transferID: 1, account: 1 << 63, asset: 0, amountMinor: 1)), [.rejected(.unknownAsset, detail: 0)])
        var overlong = Self.payload(.setMarkPrice(symbol: 0, priceUnits: 0), [.markPriceSet(symbol: 0, priceUnits: 0)])
        overlong.replaceSubrange(2..<3, with: [0x80, 0x00])  // the price's varint, padded to two bytes
        let trailing = Self.payload(.setMarkPrice(symbol: 0, priceUnits: 5), [.markPriceSet(symbol: 0, priceUnits: 5)]) + [0]
        for (bad, reason) in [
            (longName, "asset name of 65 bytes is outside its domain"), (hugeAccount, "account 9223372036854775808 is outside its domain"),
            (overlong, "malformed varint"), (trailing, "unexpected bytes after the end"),
        ] {
            var batch = JournalBatch()
            batch.append(
                sequence: 41, timeNanos: 1,
                payload: Self.payload(.setMarkPrice(symbol: 0, priceUnits: 5), [.markPriceSet(symbol: 0, priceUnits: 5)]))
            batch.append(sequence: 42, timeNanos: 2, payload: bad)
            do {
                try batch.verifyRoundTrip()
                Issue.record("\(reason): accepted")
            } catch {
                guard case .entryDoesNotRoundTrip(42, let text) = error else {
                    Issue.record("\(reason): \(error)")
                    continue
                }
                #expect(text.contains(reason), "\(text)")
                #expect(error.description.contains("entry 42 would not read back as written"))
            }
        }
    }

    /// What the engine made, as the sequencer's batch holds it beside the bytes.
    struct Made {
        var commands: [Command] = []
        var times: [Int64] = []
        var events: [Event] = []
        var eventEnds: [Int] = []
        var batch = JournalBatch()

        mutating func add(sequence: SequenceNumber, time: Int64, _ command: Command, _ entryEvents: [Event], bytes: [UInt8]? = nil) {
            batch.append(sequence: sequence, timeNanos: time, payload: bytes ?? RoundTripCheckTests.payload(command, entryEvents))
            commands.append(command)
            times.append(time)
            events.append(contentsOf: entryEvents)
            eventEnds.append(events.count)
        }

        @discardableResult
        func verify() throws(JournalError) -> JournalBatch.ReadBack {
            try batch.verifyReadsBack(commands: commands, times: times, events: events, eventEnds: eventEnds)
        }

        /// The sequence and reason the check refuses with (and that its message names
        /// them), or nil when it passes.
        func refusal() -> (SequenceNumber, String)? {
            do {
                try verify()
                return nil
            } catch {
                guard case .entryDoesNotRoundTrip(let sequence, let reason) = error else { return (0, "\(error)") }
                #expect(error.description.contains("entry \(sequence) would not read back as written"))
                return (sequence, reason)
            }
        }
    }

    static let trade = Trade(
        tradeID: 3, symbol: 0, makerOrderID: 1, takerOrderID: 2, makerAccount: 10, takerAccount: 11, takerSide: .buy,
        priceUnits: 500, quantityUnits: 7, makerFeeMinor: 1, takerFeeMinor: 2, makerRealizedPnlMinor: 0, takerRealizedPnlMinor: -4)

    static func madeBatch() -> Made {
        var made = Made()
        made.add(sequence: 41, time: 1_000, .setMarkPrice(symbol: 0, priceUnits: 5), [.markPriceSet(symbol: 0, priceUnits: 5)])
        made.add(
            sequence: 42, time: 1_000,
            .placeOrder(
                PlaceOrder(account: 11, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500, quantityUnits: 7)),
            [.orderAccepted(2), .trade(trade)])
        made.add(sequence: 43, time: 999, .setMarkPrice(symbol: 1, priceUnits: 5), [.rejected(.unknownSymbol, detail: 0)])
        return made
    }

    /// The sequencer's check (journal.verify_entries): bytes that decode to exactly the
    /// engine's values pass, time going back included (the framing's delta is signed).
    /// The commands and events it returns (the follower's, instead of copies) are the
    /// engine's.
    @Test func anEntryThatReadsBackAsTheEngineMadeItPasses() throws {
        let made = Self.madeBatch()
        let readBack = try made.verify()
        #expect(readBack.events == made.events)
        #expect(readBack.commands == made.commands)
        var empty = Made()
        #expect(try empty.verify().events.isEmpty)
        #expect(try empty.verify().commands.isEmpty)
        empty.add(sequence: 1, time: 0, .setMarkPrice(symbol: 0, priceUnits: 1), [])
        #expect(try empty.verify().events.isEmpty)
        #expect(try empty.verify().commands == [.setMarkPrice(symbol: 0, priceUnits: 1)])
        empty.add(sequence: 2, time: 0, .setMarkPrice(symbol: 0, priceUnits: 2), [.markPriceSet(symbol: 0, priceUnits: 2)])
        #expect(try empty.verify().events == [.markPriceSet(symbol: 0, priceUnits: 2)])
        #expect(try empty.verify().commands == [.setMarkPrice(symbol: 0, priceUnits: 1), .setMarkPrice(symbol: 0, priceUnits: 2)])
    }

    /// Each way the bytes can disagree with what the engine holds (and the follower will
    /// apply) is named by the entry's sequence and says what differs: bytes that decode to
    /// another command, another event, fewer events, another time; values that do not
    /// match the batch's count; bytes that do not decode at all.
    @Test func anEntryThatReadsBackAsOtherValuesIsNamedBySequence() throws {
        func failure(_ change: (inout Made) -> Void) -> (SequenceNumber, String)? {
            var made = Self.madeBatch()
            change(&made)
            return made.refusal()
        }
        // The engine holds another price than its bytes say.
        let command = failure { $0.commands[0] = .setMarkPrice(symbol: 0, priceUnits: 6) }
        #expect(command?.0 == 41)
        #expect(
            command?.1.contains("its command reads back as setMarkPrice(symbol: 0, priceUnits: 5)") == true,
            "\(String(describing: command))")
        #expect(command?.1.contains("priceUnits: 6") == true)
        // The trade's taker fee differs in the second event of entry 42.
        let event = failure {
            var changed = Self.trade
            changed.takerFeeMinor = 3
            $0.events[2] = .trade(changed)
        }
        #expect(event?.0 == 42)
        #expect(event?.1.contains("its event 1 reads back as trade(") == true, "\(String(describing: event))")
        #expect(event?.1.contains("takerFeeMinor: 2") == true && event?.1.contains("takerFeeMinor: 3") == true)
        // Entry 42 ends one event early (the trade counted with entry 43).
        let count = failure { $0.eventEnds[1] = 2 }
        #expect(count?.0 == 42)
        #expect(count?.1 == "it reads back with 2 events, the engine's has 1")
        let time = failure { $0.times[2] = 1_001 }
        #expect(time?.0 == 43)
        #expect(time?.1 == "its time reads back as 999, the engine's is 1001")
        let short = failure { $0.commands.removeLast() }
        #expect(short?.0 == 41)
        #expect(short?.1 == "the batch holds 3 entries but 2 commands, 3 times and 3 event ends (the last 4, of 4 events)")
        let beyond = failure { $0.eventEnds[2] = 9 }
        #expect(beyond?.0 == 41)
        #expect(beyond?.1.hasSuffix("(the last 9, of 4 events)") == true, "\(String(describing: beyond))")
        // Bytes that do not decode at all: a varint padded to two bytes in entry 43.
        var bad = Made()
        bad.add(sequence: 42, time: 1, .setMarkPrice(symbol: 0, priceUnits: 5), [.markPriceSet(symbol: 0, priceUnits: 5)])
        var overlong = Self.payload(.setMarkPrice(symbol: 0, priceUnits: 0), [.markPriceSet(symbol: 0, priceUnits: 0)])
        overlong.replaceSubrange(2..<3, with: [0x80, 0x00])
        bad.add(
            sequence: 43, time: 2, .setMarkPrice(symbol: 0, priceUnits: 0), [.markPriceSet(symbol: 0, priceUnits: 0)], bytes: overlong)
        let padded = bad.refusal()
        #expect(padded?.0 == 43, "an overlong varint: \(String(describing: padded))")
        #expect(padded?.1.contains("malformed varint") == true, "\(String(describing: padded))")
    }
}

/// FuzzJournalBlock: a block header whose first sequence is near 2^64 made the last
/// sequence overflow and trap (recovery of a crafted segment would have died). Sequences
/// are 1 ... 2^63 − 1.
@Suite struct BlockHeaderDomainTests {
    /// A header with the version 2 header check (or without it, for version 1).
    static func header(first: UInt64, count: UInt32, version: UInt16 = JournalFormat.version) -> [UInt8] {
        var writer = ByteWriter()
        writer.fixed32(JournalFormat.blockMagic)
        writer.fixed32(10)  // payload bytes
        writer.fixed32(10)  // uncompressed bytes
        writer.fixed32(count)
        writer.fixed64(first)
        writer.fixed32(0)  // codec: none
        writer.fixed32(0)  // crc
        writer.raw([UInt8](repeating: 0, count: JournalFormat.chainBytes))
        var bytes = writer.bytes
        if version >= 2 {
            let check = BlockHeader.headerCheck(bytes[...])
            bytes[25] = UInt8(check & 0xFF)
            bytes[26] = UInt8(check >> 8 & 0xFF)
            bytes[27] = UInt8(check >> 16)
        }
        return bytes
    }

    @Test(arguments: [1, 2] as [UInt16]) func sequencesOutsideTheirDomainAreNoBlockHeader(version: UInt16) {
        func parse(_ first: UInt64) -> BlockHeader? {
            BlockHeader.parse(Self.header(first: first, count: 3, version: version)[...], version: version)
        }
        #expect(parse(1) != nil)
        #expect(parse(Limits.idMax - 2)?.lastSequence == Limits.idMax)
        #expect(parse(Limits.idMax - 1) == nil)
        #expect(parse(UInt64.max - 1) == nil)
        #expect(parse(0) == nil)
    }
}

/// Journal version 2: the block header checks itself, so a damaged header at the end of
/// the journal is never taken for a torn write (found by the disk simulation: a flipped
/// length in the last acknowledged block made recovery cut it).
@Suite struct BlockHeaderCheckTests {
    @Test func everySingleAndDoubleBitErrorInAHeaderIsCaught() {
        let header = BlockHeaderDomainTests.header(first: 1_234, count: 3)
        #expect(BlockHeader.parse(header[...], version: 2) != nil)
        let bits = JournalFormat.blockHeaderBytes * 8
        var missed: [(Int, Int)] = []
        for first in 0..<bits {
            var once = header
            once[first / 8] ^= UInt8(1 << (first % 8))
            if BlockHeader.parse(once[...], version: 2) != nil { missed.append((first, first)) }
            for second in first + 1..<bits {
                var twice = once
                twice[second / 8] ^= UInt8(1 << (second % 8))
                if BlockHeader.parse(twice[...], version: 2) != nil { missed.append((first, second)) }
            }
        }
        #expect(missed.isEmpty, "bit errors a version 2 header let through: \(missed.prefix(5))")
    }

    @Test func aVersion1HeaderIsNoVersion2HeaderAndTheOtherWayRound() {
        let v1 = BlockHeaderDomainTests.header(first: 7, count: 3, version: 1)
        let v2 = BlockHeaderDomainTests.header(first: 7, count: 3, version: 2)
        #expect(BlockHeader.parse(v1[...], version: 1) != nil)
        #expect(BlockHeader.parse(v1[...], version: 2) == nil)
        #expect(BlockHeader.parse(v2[...], version: 1) == nil)
        #expect(BlockHeader.parse(v2[...], version: 2) != nil)
    }

    /// A whole last block whose CRC fails was damaged at rest (a tear leaves a prefix): it is
    /// refused with its segment and offset, not cut.
    @Test func aDamagedWholeLastBlockIsRefusedNotCut() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        do {
            let writer = try JournalWriter.open(.init(directory: directory.path))
            try appendTestBlocks(writer, blocks: 3, perBlock: 10)
        }
        let name = segmentFiles(directory.path).last!
        let size = try #require(try FileManager.default.attributesOfItem(atPath: directory.path + "/" + name)[.size] as? Int)
        try flipByte(directory.path + "/" + name, at: Int64(size - 3))  // in the last block's payload
        let error = #expect(throws: JournalError.self) { try JournalWriter.open(.init(directory: directory.path)) }
        guard case .corrupt(let segment, let offset, let reason) = error else {
            Issue.record("a damaged last block gave \(String(describing: error))")
            return
        }
        #expect(segment == name)
        #expect(offset > 72 && offset < Int64(size - 64))
        #expect(reason.contains("checksum mismatch"))
    }
}

/// A failed snapshot left its `.tmp` for ever (issue 7): an atomic write that fails removes
/// its temporary file.
@Suite struct AtomicWriteTests {
    @Test func aFailedAtomicWriteLeavesNoTemporaryFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        // The target is a directory: the rename fails after the data was written and synced.
        let target = directory.path + "/snap-00000000000000000007.zst"
        try FileManager.default.createDirectory(atPath: target + "/occupied", withIntermediateDirectories: true)
        #expect(throws: JournalError.self) { try Directory.writeAtomically([1, 2, 3], to: target, directory: directory.path) }
        #expect(!FileManager.default.fileExists(atPath: target + ".tmp"))
        // And one that succeeds leaves only the file.
        let good = directory.path + "/snap-00000000000000000008.zst"
        try Directory.writeAtomically([4, 5], to: good, directory: directory.path)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == [
                "snap-00000000000000000007.zst", "snap-00000000000000000008.zst",
            ])
    }
}
