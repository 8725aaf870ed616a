import Testing

@testable import LedgerCore

/// `ByteReader.varint` reads a varint of two bytes or more without a bound check a byte
/// when ten bytes or more are left, and with one otherwise. Both must take exactly the
/// same inputs, give the same values and lengths, and refuse the same malformed forms with
/// the same error.
@Suite struct VarintTests {
    /// What reading a varint from `bytes` gives: the value and the reader's offset after
    /// it, or the error.
    static func read(_ bytes: [UInt8], from start: Int = 0) -> Result<(UInt64, Int), CodecError> {
        var reader = ByteReader(bytes, range: start..<bytes.count)
        do throws(CodecError) {
            let value = try reader.varint()
            return .success((value, reader.offset))
        } catch {
            return .failure(error)
        }
    }

    static func same(_ lhs: Result<(UInt64, Int), CodecError>, _ rhs: Result<(UInt64, Int), CodecError>) -> Bool {
        switch (lhs, rhs) {
        case (.success(let left), .success(let right)): left == right
        case (.failure(let left), .failure(let right)): left == right
        default: false
        }
    }

    /// Every bit width's edges, encoded, read alone (the checked loop) and with ten bytes
    /// after it, and at an offset inside a slice: the same value and length.
    @Test func everyLengthReadsTheSameBothWays() {
        var values: [UInt64] = [0, 1, .max, .max - 1, 1 << 63]
        for bits in 1...63 {
            values += [(1 << UInt64(bits)) - 1, 1 << UInt64(bits), (1 << UInt64(bits)) + 1]
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<10_000 { values.append(random.next() >> UInt64.random(in: 0...63, using: &random)) }
        for value in values {
            var writer = ByteWriter()
            writer.varint(value)
            let encoded = writer.bytes
            let alone = Self.read(encoded)
            let padded = Self.read(encoded + Array(repeating: 0xFF, count: 10))
            let inside = Self.read([0x05, 0x07] + encoded + Array(repeating: 0x80, count: 12), from: 2)
            guard case .success(let read) = alone else {
                Issue.record("\(value): \(alone)")
                continue
            }
            #expect(read.0 == value && read.1 == encoded.count, "\(value): read \(read)")
            #expect(Self.same(alone, padded), "\(value): alone \(alone), padded \(padded)")
            #expect(Self.same(inside, .success((value, 2 + encoded.count))), "\(value): inside a slice \(inside)")
        }
    }

    /// A reader over a payload with bytes after it (an entry in its block,
    /// `ByteReader.init(_:payload:)`) may look past the payload's end for the fast path but
    /// never takes a varint that runs past it: every length of every bit width's edges, the
    /// payload ending right after the varint or cut inside it, with bytes after that
    /// continue it or end it, reads as the checked loop reads the payload alone (the same
    /// value and offset, or `truncated` where the payload ends), and offsets count from
    /// the payload's first byte. A reader moved to the payload from an earlier one
    /// (`repoint(payload:)`, after reading part of it) reads it the same.
    @Test func aPayloadIsReadToItsOwnEndWhateverFollowsIt() {
        func inPayload(_ payload: [UInt8], after: [UInt8], repointed: Bool = false) -> Result<(UInt64, Int), CodecError> {
            let block = [0x01, 0x02, 0x03] + payload + after
            var reader = ByteReader(block[...], payload: repointed ? 0..<3 : 3..<3 + payload.count)
            if repointed {
                _ = try? reader.u8()
                reader.repoint(payload: 3..<3 + payload.count)
            }
            do throws(CodecError) {
                let value = try reader.varint()
                return .success((value, reader.offset))
            } catch {
                return .failure(error)
            }
        }
        var values: [UInt64] = [0, 1, .max, 1 << 63]
        for bits in 1...63 { values += [(1 << UInt64(bits)) - 1, 1 << UInt64(bits)] }
        let afters: [[UInt8]] = [
            Array(repeating: 0x00, count: 12), Array(repeating: 0x80, count: 12), Array(repeating: 0xFF, count: 3),
            Array(repeating: 0x81, count: 12) + [0x01], [0x7F] + Array(repeating: 0x80, count: 11),
        ]
        var compared = 0
        for value in values {
            var writer = ByteWriter()
            writer.varint(value)
            let encoded = writer.bytes
            for cut in 1...encoded.count {
                let payload = Array(encoded.prefix(cut))
                let alone = Self.read(payload)
                if cut == encoded.count {
                    #expect(Self.same(alone, .success((value, encoded.count))), "\(value): alone \(alone)")
                } else {
                    #expect(Self.same(alone, .failure(.truncated(offset: cut))), "\(value) cut at \(cut): alone \(alone)")
                }
                for after in afters {
                    let read = inPayload(payload, after: after)
                    #expect(Self.same(read, alone), "\(value) cut at \(cut), then \(after.prefix(2)): \(read) != \(alone)")
                    let repointed = inPayload(payload, after: after, repointed: true)
                    #expect(Self.same(repointed, alone), "\(value) cut at \(cut), repointed: \(repointed) != \(alone)")
                    compared += 1
                }
            }
        }
        // Malformed in the payload, well formed once bytes after it are counted: refused
        // as the payload alone is.
        #expect(Self.same(inPayload([0x80, 0x00], after: Array(repeating: 0x01, count: 10)), .failure(.badVarint(offset: 0))))
        #expect(Self.same(inPayload([0x00, 0x80], after: [0x01] + Array(repeating: 0x00, count: 10)), .success((0, 1))))
        #expect(compared > 3_000)
    }

    /// Malformed varints, each read alone and with ten bytes after it: the same
    /// `badVarint` at the varint's first byte (or `truncated`, alone, where it ends early).
    @Test func malformedFormsAreRefusedTheSameBothWays() {
        let malformed: [(bytes: [UInt8], error: CodecError)] = [
            // Not the shortest form: a last byte of 0 after others.
            ([0x80, 0x00], .badVarint(offset: 0)),
            ([0xFF, 0x80, 0x00], .badVarint(offset: 0)),
            (Array(repeating: 0x80, count: 9) + [0x00], .badVarint(offset: 0)),
            // Wider than 64 bits: the tenth byte above 1.
            (Array(repeating: 0xFF, count: 9) + [0x02], .badVarint(offset: 0)),
            (Array(repeating: 0x80, count: 9) + [0x7F], .badVarint(offset: 0)),
            // Longer than ten bytes.
            (Array(repeating: 0x80, count: 9) + [0x81, 0x01], .badVarint(offset: 0)),
            (Array(repeating: 0xFF, count: 11), .badVarint(offset: 0)),
        ]
        for (bytes, error) in malformed {
            let padded = Self.read(bytes + Array(repeating: 0x01, count: 10))
            #expect(Self.same(padded, .failure(error)), "\(bytes): padded \(padded)")
            let alone = Self.read(bytes)
            #expect(Self.same(alone, .failure(error)), "\(bytes): alone \(alone)")
            // At an offset: the error names the varint's own first byte.
            let shifted = Self.read([0x00, 0x00, 0x00] + bytes + Array(repeating: 0x01, count: 10), from: 3)
            #expect(Self.same(shifted, .failure(.badVarint(offset: 3))), "\(bytes): at 3 \(shifted)")
        }
        // Ending inside: truncated where the next byte would be.
        #expect(Self.same(Self.read([0x80, 0x80]), .failure(.truncated(offset: 2))))
        // The widest valid: 2^64 - 1 and 2^63 in ten bytes, padded or not.
        let widest: [[UInt8]] = [Array(repeating: 0xFF, count: 9) + [0x01], Array(repeating: 0x80, count: 9) + [0x01]]
        for bytes in widest {
            let value: UInt64 = bytes[0] == 0xFF ? .max : 1 << 63
            #expect(Self.same(Self.read(bytes), .success((value, 10))))
            #expect(Self.same(Self.read(bytes + [0xFF, 0xFF]), .success((value, 10))))
        }
    }
}
