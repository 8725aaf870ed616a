import LedgerClient
import LedgerDigest
import Testing

@testable import LedgerCore

/// The whole input domain, by search (issue 7): commands whose fields come from the edges
/// of their domains and beyond. The codec accepts exactly the commands ingress accepts;
/// what the engine journals decodes and re-executes to the same bytes; a rejection leaves
/// the state as it was; nothing traps.
@Suite struct DomainPropertyTests {
    /// Seeds that failed once stay here for ever (none yet).
    static let seeds: [UInt64] = [1, 2, 3, 4]

    /// A command rejected before it touches anything (no symbol has this id).
    static let nothing = Command.cancelAllOrders(account: 1, symbol: UInt16.max)

    /// encode → decode is the identity on the domain and refuses everything outside it,
    /// naming the field; bytes ↔ commands one to one.
    @Test(arguments: seeds) func commandCodecAcceptsExactlyTheDomain(seed: UInt64) throws {
        var generator = DomainGenerator(seed: seed)
        var (inside, outside) = (0, 0)
        for index in 0..<50_000 {
            let command = generator.command()
            var writer = ByteWriter()
            command.encode(to: &writer)
            var reader = ByteReader(writer.bytes)
            let violation = command.domainViolation()
            do {
                let decoded = try Command.decode(from: &reader)
                try reader.expectEnd()
                #expect(violation == nil, "seed \(seed) #\(index): \(command) decoded despite \(violation!)")
                #expect(decoded == command, "seed \(seed) #\(index): \(command) decoded as \(decoded)")
                var again = ByteWriter()
                decoded.encode(to: &again)
                let same = again.bytes == writer.bytes
                #expect(same, "seed \(seed) #\(index): \(command) re-encodes differently")
                inside += 1
            } catch {
                guard let violation else {
                    Issue.record("seed \(seed) #\(index): \(command) is in the domain but does not decode: \(error)")
                    continue
                }
                guard case .outOfDomain(let refused, _) = error else {
                    Issue.record("seed \(seed) #\(index): \(command): expected \(violation), got \(error)")
                    continue
                }
                #expect(refused.field == violation.field, "seed \(seed) #\(index): \(refused) vs \(violation)")
                outside += 1
            }
        }
        // Both sides of the boundary were searched.
        #expect(inside > 10_000 && outside > 1_000, "inside \(inside), outside \(outside)")
    }

    /// `isSame(as:_:)`, the writer's check's comparison (payloads matched where they lie on
    /// the order path), is `==` for every pair: equal commands, commands of the same kind
    /// one field apart, and commands at random.
    @Test(arguments: seeds) func aCommandIsTheSameAsAnotherExactlyWhenEqual(seed: UInt64) {
        var generator = DomainGenerator(seed: seed &+ 5_000)
        var (equal, different) = (0, 0)
        for index in 0..<20_000 {
            let command = generator.command()
            let other: Command
            switch (generator.roll(3), command) {
            case (0, _): other = command
            case (1, .placeOrder(var order)):
                switch generator.roll(4) {
                case 0: order.priceUnits &+= 1
                case 1: order.clientOrderID = generator.clientOrderID()
                case 2: order.reduceOnly.toggle()
                default: order.account &+= 1
                }
                other = .placeOrder(order)
            case (1, .cancelOrder(var cancel)):
                if generator.chance(50) { cancel.orderID &+= 1 } else { cancel.clientOrderID = generator.clientOrderID() }
                other = .cancelOrder(cancel)
            default: other = generator.command()
            }
            let same = [other].withUnsafeBufferPointer { command.isSame(as: $0, 0) }
            #expect(same == (command == other), "seed \(seed) #\(index): \(command) against \(other)")
            if command == other { equal += 1 } else { different += 1 }
        }
        #expect(equal > 5_000 && different > 5_000, "equal \(equal), different \(different)")
    }

    /// Commands in the domain through execute → encode → decode → re-execute on a replica:
    /// identical events and bytes; a rejection changes nothing; the invariants hold; no
    /// trap anywhere (a trap ends the test run).
    @Test(arguments: seeds) func engineJournalsOnlyWhatReExecutesToTheSameBytes(seed: UInt64) throws {
        var generator = DomainGenerator(seed: seed &+ 1_000)
        var state = ExchangeState()
        var replica = ExchangeState()
        var events: [Event] = []
        var replayed: [Event] = []
        var (executed, refused, rejected, accepted) = (0, 0, 0, 0)
        var (staged, unstaged) = (0, 0)
        var time: Int64 = 1_700_000_000_000_000_000
        // Symbol 2 has the rule book: brackets, a price band and funding every hour.
        guard case .listSymbol(var ruleBook) = DemoExchange.listings[1] else { preconditionFailure("listings moved") }
        (ruleBook.id, ruleBook.name, ruleBook.brackets, ruleBook.priceBandRateE8) = (
            2, "SOLUSDT", DemoExchange.binanceBTCUSDTBrackets, 5_000_000
        )
        (ruleBook.fundingIntervalSeconds, ruleBook.fundingCapRateE8, ruleBook.liquidationFeeRateE8) = (3_600, 750_000, 500_000)
        var genesis =
            DemoExchange.listings + [
                .listSymbol(ruleBook), .setMarkPrice(symbol: 0, priceUnits: 500_000), .setMarkPrice(symbol: 1, priceUnits: 300_000),
                .setMarkPrice(symbol: 2, priceUnits: 500_000), .setIndexPrice(symbol: 2, priceUnits: 499_000),
            ]
        genesis += (1...8).map { .deposit(Transfer(transferID: 10_000 + $0, account: $0, asset: 0, amountMinor: 1_000_000_000_000)) }
        for index in 0..<25_000 {
            let command = index < genesis.count ? genesis[index] : generator.command()
            // Ingress refuses what is outside the domain: it never reaches the engine.
            if command.domainViolation() != nil {
                refused += 1
                continue
            }
            if generator.roll(10) == 0 { time += Int64(generator.roll(600_000_000_000)) }
            let sequence = state.lastSequence + 1
            // What a command that does nothing leaves: the entry's own housekeeping (expiry
            // of idempotency records, funding due at this time) runs whatever the command.
            var idle = state
            var idleEvents: [Event] = []
            idle.execute(Self.nothing, sequence: sequence, timeNanos: time, into: &idleEvents)
            var before = ByteWriter()
            idle.encodeCanonical(to: &before)
            events.removeAll(keepingCapacity: true)
            state.execute(command, sequence: sequence, timeNanos: time, into: &events)
            executed += 1

            var payload = ByteWriter()
            let eventsStart = EntryPayload.encode(command: command, events: events, to: &payload)
            // The daemon's reply copies the payload's events part: the same bytes as the
            // events encoded for the reply.
            var encodedReply = ByteWriter()
            WireFrame.encodeCommitted(requestID: UInt64(index), sequence: sequence, events: events, to: &encodedReply)
            var copiedReply = ByteWriter()
            WireFrame.encodeCommitted(
                requestID: UInt64(index), sequence: sequence, encodedEvents: payload.bytes[eventsStart...], to: &copiedReply)
            let sameReply = copiedReply.bytes == encodedReply.bytes
            #expect(sameReply, "seed \(seed) entry \(sequence): the reply from the payload's bytes differs")
            // The journal stages a fixed-shape command's entry whole through a cursor
            // (`EntryPayload.encodeStaged`): the same bytes, the events' part where the
            // payload says.
            if let bound = EntryPayload.stagedBytesMax(command: command, eventCount: events.count) {
                var buffer = [UInt8](repeating: 0, count: bound)
                let (written, stagedEventsStart) = buffer.withUnsafeMutableBufferPointer { buffer in
                    var cursor = ByteCursor(buffer)
                    let start = events.withUnsafeBufferPointer { EntryPayload.encodeStaged(command: command, events: $0, to: &cursor) }
                    return (cursor.written, start)
                }
                let sameStaged = buffer[..<written] == payload.bytes[...] && stagedEventsStart == eventsStart
                #expect(sameStaged, "seed \(seed) entry \(sequence): \(command) staged differs")
                staged += 1
            } else {
                #expect(!command.isFixedShape, "seed \(seed) entry \(sequence): \(command) has a fixed shape but no bound")
                unstaged += 1
            }
            var reader = ByteReader(payload.bytes)
            let decoded = try EntryPayload.decode(from: &reader)
            try reader.expectEnd()
            #expect(decoded.command == command && decoded.events == events, "seed \(seed) entry \(sequence): \(command)")
            var again = ByteWriter()
            EntryPayload.encode(command: decoded.command, events: decoded.events, to: &again)
            let same = again.bytes == payload.bytes
            #expect(same, "seed \(seed) entry \(sequence) re-encodes differently")

            replayed.removeAll(keepingCapacity: true)
            replica.execute(decoded.command, sequence: sequence, timeNanos: time, into: &replayed)
            #expect(replayed == events, "seed \(seed) entry \(sequence): re-execution of \(command) differs")

            if events.count == 1, case .rejected = events[0], idleEvents.count == 1 {
                rejected += 1
                var after = ByteWriter()
                state.encodeCanonical(to: &after)
                let unchanged = after.bytes == before.bytes
                #expect(unchanged, "seed \(seed) entry \(sequence): rejected \(command) changed the state: \(events)")
            } else {
                accepted += 1
            }
            if index % 1_000 == 0, let violation = state.invariantViolation() {
                Issue.record("seed \(seed) entry \(sequence): \(violation)")
            }
        }
        #expect(state.stateHash() == replica.stateHash())
        #expect(state.invariantViolation() == nil)
        #expect(refused > 100 && rejected > 1_000 && accepted > 1_000, "refused \(refused) rejected \(rejected) accepted \(accepted)")
        // Both of the journal's paths were taken.
        #expect(staged > 1_000 && unstaged > 100, "staged \(staged), field by field \(unstaged)")
    }

    /// A command frame's body (a random command of the domain's edges), in a quarter of the
    /// cases as sent, otherwise with a byte flipped, cut short, or with garbage after it.
    static func mutatedCommandBody(_ generator: inout DomainGenerator) -> [UInt8] {
        var writer = ByteWriter()
        WireFrame.command(requestID: generator.random.next(), generator.command()).encode(to: &writer)
        var body = Array(writer.bytes.dropFirst(4))
        switch generator.roll(4) {
        case 0 where !body.isEmpty: body[Int(generator.roll(UInt64(body.count)))] ^= UInt8(1 + generator.roll(255))
        case 1: body = Array(body.prefix(Int(generator.roll(UInt64(body.count + 1)))))
        case 2: body += (0..<generator.roll(4)).map { _ in UInt8(truncatingIfNeeded: generator.random.next()) }
        default: break
        }
        return body
    }

    /// Random bytes and mutated frames through the TCP frame decoder: no trap, and what
    /// decodes re-encodes to the same bytes.
    @Test(arguments: seeds) func wireFrameDecoderRoundTripsWhatItAccepts(seed: UInt64) throws {
        var generator = DomainGenerator(seed: seed &+ 2_000)
        var accepted = 0
        for _ in 0..<30_000 {
            let body = Self.mutatedCommandBody(&generator)
            guard let frame = try? WireFrame.decode(body: body) else { continue }
            var again = ByteWriter()
            frame.encode(to: &again)
            let same = Array(again.bytes.dropFirst(4)) == body
            #expect(same, "seed \(seed): \(frame) re-encodes differently")
            accepted += 1
        }
        #expect(accepted > 5_000)
    }

    /// The ingress path's command decoder agrees with the frame decoder on every body:
    /// a command frame gives the same request id and command, or the same error at the same
    /// offset; any other body (another type, or too short to be a frame) gives nil, for the
    /// frame decoder to read. Over mutated command bodies, with a random type byte in some.
    @Test(arguments: seeds) func theCommandDecoderIsTheFrameDecoderForCommands(seed: UInt64) {
        var generator = DomainGenerator(seed: seed &+ 5_000)
        var (commands, refused, others) = (0, 0, 0)
        for _ in 0..<30_000 {
            var body = Self.mutatedCommandBody(&generator)
            if !body.isEmpty && generator.roll(8) == 0 { body[0] = UInt8(truncatingIfNeeded: generator.random.next()) }
            // After another frame's bytes, as a connection's input holds it.
            let bytes = [0x03, 0, 0] + body + [0x02]
            let range = 3..<(3 + body.count)
            let whole: Result<WireFrame, CodecError> = Result { () throws(CodecError) in try WireFrame.decode(bytes[...], body: range) }
            var taken: (requestID: UInt64, command: Command)? = nil
            let command = Result { () throws(CodecError) in
                try WireFrame.decodeCommand(bytes[...], body: range) { taken = ($0, $1) } ? taken : nil
            }
            switch (whole, command) {
            case (.success(.command(let id, let decoded)), .success(let alone?)):
                #expect(alone.requestID == id && alone.command == decoded, "seed \(seed): \(body)")
                commands += 1
            case (.success(let frame), .success(nil)):
                if case .command = frame { Issue.record("seed \(seed): a command frame gave nil: \(body)") }
                others += 1
            case (.failure(let error), .failure(let commandError)):
                #expect(body.first == 0x02 && "\(error)" == "\(commandError)", "seed \(seed): \(error) / \(commandError)")
                refused += 1
            case (.failure, .success(nil)):
                #expect(body.count < WireFrame.frameBytesMin || body.first != 0x02, "seed \(seed): \(body)")
                others += 1
            default:
                Issue.record("seed \(seed): \(whole) against \(command) for \(body)")
            }
        }
        #expect(commands > 5_000 && refused > 1_000 && others > 500, "commands \(commands), refused \(refused), others \(others)")
    }

    /// A `committed` reply made from the journal's bytes of its events is the reply encoded
    /// from the events, at the edges of the request id and the sequence (the header's
    /// length is computed before its fields are written).
    @Test func aCommittedReplyFromItsBytesAtTheEdges() {
        let events: [Event] = [.orderAccepted(7), .rejected(.unknownSymbol, detail: 0)]
        var payload = ByteWriter()
        let eventsStart = EntryPayload.encode(command: Self.nothing, events: events, to: &payload)
        for requestID: UInt64 in [0, 1, 127, 128, 1 << 32, .max] {
            for sequence: SequenceNumber in [0, 1, 127, 128, 16_383, 16_384, 1 << 56 - 1, 1 << 56, 1 << 63, .max] {
                var encoded = ByteWriter()
                WireFrame.encodeCommitted(requestID: requestID, sequence: sequence, events: events, to: &encoded)
                var copied = ByteWriter()
                WireFrame.encodeCommitted(
                    requestID: requestID, sequence: sequence, encodedEvents: payload.bytes[eventsStart...], to: &copied)
                #expect(copied.bytes == encoded.bytes, "request \(requestID), sequence \(sequence)")
                let decoded = try? WireFrame.decode(body: Array(copied.bytes.dropFirst(4)))
                #expect(
                    decoded == .committed(requestID: requestID, sequence: sequence, events: events),
                    "request \(requestID), sequence \(sequence)")
            }
        }
        // Events on both sides of the size staged with the header, after a frame already
        // in the writer: 0 to 120 events of 4 to 6 bytes.
        var sizes = Set<Int>()
        for count in 0...120 {
            let many: [Event] = (0..<count).map { .orderRested(OrderID(1 + $0 * 9_000), openQuantityUnits: Int64($0)) }
            var manyPayload = ByteWriter()
            let start = EntryPayload.encode(command: Self.nothing, events: many, to: &manyPayload)
            sizes.insert(manyPayload.bytes.count - start)
            var encoded = ByteWriter()
            var copied = ByteWriter()
            for writer in [0, 1] {
                let sequence = SequenceNumber(count) << (writer * 40)
                WireFrame.encodeCommitted(requestID: UInt64(count), sequence: sequence, events: many, to: &encoded)
                WireFrame.encodeCommitted(
                    requestID: UInt64(count), sequence: sequence, encodedEvents: manyPayload.bytes[start...], to: &copied)
            }
            #expect(copied.bytes == encoded.bytes, "\(count) events")
        }
        let stagedMax = WireFrame.committedStagedEventBytesMax
        // Sizes step by at most 6 bytes: one lies just at or under the bound, and some past it.
        #expect(sizes.contains { (stagedMax - 5)...stagedMax ~= $0 } && sizes.contains { $0 > stagedMax }, "\(sizes.sorted())")
    }

    /// A reply decoded with its events appended to a kept buffer (the load generator's way)
    /// is the reply decoded with an array of its own: the same frame once the buffer's new
    /// events are put back in it, the buffer's earlier events untouched, or the same error
    /// at the same offset; and an uncut reply is the frame that was encoded. Over replies of
    /// zero to eight events, then cut or with a byte changed, and the other reply types.
    @Test(arguments: seeds) func aReplyDecodedIntoAKeptBufferIsTheReplyDecodedAlone(seed: UInt64) {
        var generator = DomainGenerator(seed: seed &+ 4_000)
        var (decoded, refused, whole) = (0, 0, 0)
        for index in 0..<10_000 {
            let requestID = generator.id()
            // In their domains, so that every reply left whole decodes.
            func id() -> UInt64 { 1 + generator.roll(1 << 40) }
            func amount() -> Int64 { Int64(generator.roll(2_000_001)) - 1_000_000 }
            let original: WireFrame
            switch generator.roll(6) {
            case 0:
                original = .error(requestID: requestID, code: .notFound, message: "no such order")
            case 1:
                original = .busy(requestID: requestID, retryAfterMilliseconds: generator.roll(5_000), message: "busy")
            default:
                let events: [Event] = (0..<generator.roll(9)).map { _ in
                    switch generator.roll(5) {
                    case 0: .orderAccepted(id())
                    case 1: .orderRested(id(), openQuantityUnits: 1 + Int64(generator.roll(50)))
                    case 2: .rejected(.unknownSymbol, detail: generator.roll(3))
                    case 3: .markPriceSet(symbol: SymbolID(generator.roll(3)), priceUnits: 490_000 + Int64(generator.roll(20_001)))
                    default:
                        .trade(
                            Trade(
                                tradeID: id(), symbol: SymbolID(generator.roll(3)), makerOrderID: id(), takerOrderID: id(),
                                makerAccount: id(), takerAccount: id(), takerSide: generator.side(),
                                priceUnits: 490_000 + Int64(generator.roll(20_001)), quantityUnits: 1 + Int64(generator.roll(50)),
                                makerFeeMinor: amount(), takerFeeMinor: amount(), makerRealizedPnlMinor: amount(),
                                takerRealizedPnlMinor: amount()))
                    }
                }
                original = .committed(requestID: requestID, sequence: id(), events: events)
            }
            var writer = ByteWriter()
            original.encode(to: &writer)
            let encoded = Array(writer.bytes.dropFirst(4))
            var body = encoded
            switch generator.roll(4) {
            case 0: body.removeLast(Int(generator.roll(UInt64(body.count))))
            case 1: body[Int(generator.roll(UInt64(body.count)))] = UInt8(truncatingIfNeeded: generator.random.next())
            default: break
            }
            let earlier: [Event] = generator.chance(50) ? [.orderAccepted(99)] : []
            var kept = earlier
            let buffered = Result { () throws(CodecError) in
                try WireFrame.decode(body[...], body: 0..<body.count, appendingEventsTo: &kept)
            }
            let alone = Result { () throws(CodecError) in try WireFrame.decode(body: body) }
            #expect(Array(kept.prefix(earlier.count)) == earlier, "seed \(seed) #\(index): the buffer's earlier events changed")
            if body == encoded {
                #expect(alone == .success(original), "seed \(seed) #\(index): \(original) decodes as \(alone)")
                whole += 1
            }
            switch (buffered, alone) {
            case (.success(.committed(let id, let sequence, let own)), .success(let frame)):
                #expect(own.isEmpty, "seed \(seed) #\(index): the frame kept events of its own")
                let rebuilt = WireFrame.committed(requestID: id, sequence: sequence, events: Array(kept.dropFirst(earlier.count)))
                #expect(rebuilt == frame, "seed \(seed) #\(index): \(body) decodes into a buffer as \(rebuilt), alone as \(frame)")
                decoded += 1
            case (.success(let frame), .success(let other)):
                #expect(frame == other && kept == earlier, "seed \(seed) #\(index): \(body) decodes as \(frame) and \(other)")
                decoded += 1
            case (.failure(let error), .failure(let other)):
                #expect(error == other, "seed \(seed) #\(index): \(body) is refused with \(error) and \(other)")
                refused += 1
            default:
                Issue.record("seed \(seed) #\(index): \(body) decodes into a buffer as \(buffered), alone as \(alone)")
            }
        }
        // Every outcome was compared many times.
        #expect(decoded > 4_000 && refused > 1_500 && whole > 4_000, "decoded \(decoded), refused \(refused), whole \(whole)")
    }

    /// A frame read where it lies in a connection's input, with other bytes before and after
    /// it, decodes as the same body copied out does: the same frame, or the same error at the
    /// same offset. The bytes after it tempt the varint fast path (high bits set, or a varint
    /// that would end there), which may look at them but never take them as fields.
    @Test(arguments: seeds) func aFrameReadInPlaceDecodesAsItsCopy(seed: UInt64) throws {
        var generator = DomainGenerator(seed: seed &+ 3_000)
        var (decoded, refused) = (0, 0)
        for index in 0..<30_000 {
            let body = Self.mutatedCommandBody(&generator)
            func filler(_ count: UInt64) -> [UInt8] {
                (0..<count).map { _ in
                    switch generator.roll(3) {
                    case 0: 0x80 | UInt8(truncatingIfNeeded: generator.random.next())
                    case 1: 0x01
                    default: UInt8(truncatingIfNeeded: generator.random.next())
                    }
                }
            }
            let before = filler(generator.roll(12))
            let input = before + body + filler(generator.roll(12))
            let inPlace = Result { () throws(CodecError) in
                try WireFrame.decode(input[...], body: before.count..<before.count + body.count)
            }
            let copied = Result { () throws(CodecError) in try WireFrame.decode(body: body) }
            #expect(inPlace == copied, "seed \(seed) #\(index): \(body) in \(input) decodes as \(inPlace), copied out as \(copied)")
            if case .success = copied { decoded += 1 } else { refused += 1 }
        }
        // Both outcomes were compared many times.
        #expect(decoded > 5_000 && refused > 5_000, "decoded \(decoded), refused \(refused)")
    }

    /// The exact edges, one by one: the 65-byte name of the black-box finding, 2^63, UTF-8.
    @Test func theEdgesOfEachDomain() throws {
        func refusal(_ command: Command) -> String? { command.domainViolation()?.description }
        #expect(refusal(.listAsset(Asset(id: 2, name: String(repeating: "A", count: 16), scale: 6))) == nil)
        #expect(
            refusal(.listAsset(Asset(id: 2, name: String(repeating: "A", count: 65), scale: 6)))
                == "asset name \"AAAAAAAAAAAAAAAAAAAAAAAA…\" (65 bytes) is outside its domain 1 ... 16 bytes of printable ASCII")
        #expect(refusal(.listAsset(Asset(id: 2, name: "BTC€", scale: 6)))?.contains("\"BTC\\xE2\\x82\\xAC\" (6 bytes)") == true)
        #expect(refusal(.listAsset(Asset(id: 2, name: "", scale: 6)))?.contains("\"\" (0 bytes)") == true)
        let deposit = { (account: UInt64) in Command.deposit(Transfer(transferID: 1, account: account, asset: 0, amountMinor: 1)) }
        #expect(refusal(deposit(Limits.idMax)) == nil)
        #expect(
            refusal(deposit(Limits.idMax + 1))
                == "account 9223372036854775808 is outside its domain 0 ... 9223372036854775807 (2^63 - 1)")
        // The decoder names the field and the byte where the command starts.
        var writer = ByteWriter()
        deposit(Limits.idMax + 1).encode(to: &writer)
        var reader = ByteReader(writer.bytes)
        #expect(throws: CodecError.outOfDomain(DomainViolation.id("account", Limits.idMax + 1)!, offset: 2)) {
            _ = try Command.decode(from: &reader)
        }
        // A name with invalid UTF-8 on the wire is refused, not replaced.
        var raw = ByteWriter()
        raw.u8(1)
        raw.varint(2)
        raw.varint(3)
        raw.raw([0x41, 0xFF, 0x42])
        raw.u8(6)
        var badName = ByteReader(raw.bytes)
        #expect(throws: CodecError.self) { _ = try Command.decode(from: &badName) }
        // A varint not in its shortest form is refused (bytes and values one to one).
        var long = ByteReader([0x80, 0x00])
        #expect(throws: CodecError.badVarint(offset: 0)) { _ = try long.varint() }
        // Bracket counts 0 and 17 are outside; 1 and 16 inside.
        for (count, inside) in [(0, false), (1, true), (16, true), (17, false)] {
            let brackets = (0..<count).map {
                MarginBracket(notionalCapMinor: Int64($0 + 1) * 1_000, maintenanceMarginRateE8: 0, maxLeverage: 10)
            }
            var spec = SymbolSpec(
                id: 2, name: "SOLUSDT", settleAsset: 0, priceScale: 2, quantityScale: 2, tickSizePriceUnits: 1, lotSizeQuantityUnits: 1,
                minNotionalMinor: 0, maxPriceUnits: 100, maxQuantityUnits: 100, maxPositionQuantityUnits: 100, maxLeverage: 10,
                defaultLeverage: 10, makerFeeRateE8: 0, takerFeeRateE8: 0)
            spec.brackets = brackets
            #expect((refusal(.listSymbol(spec)) == nil) == inside, "\(count) brackets")
        }
    }
}
