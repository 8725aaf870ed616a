/// Why bytes could not be decoded.
public enum CodecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The input ended inside a field.
    case truncated(offset: Int)
    /// A varint longer than 10 bytes, wider than 64 bits, or not in its shortest form.
    case badVarint(offset: Int)
    /// An enum tag this version does not know.
    case unknownTag(name: String, tag: UInt64, offset: Int)
    /// A value out of its field's range.
    case outOfRange(field: String, offset: Int)
    /// Bytes left over after the last field.
    case trailingBytes(offset: Int)
    /// A field outside its domain (docs/FORMATS.md, "Field domains").
    case outOfDomain(DomainViolation, offset: Int)

    public var description: String {
        switch self {
        case .truncated(let offset): "input ends inside a field at byte \(offset)"
        case .badVarint(let offset): "malformed varint at byte \(offset)"
        case .unknownTag(let name, let tag, let offset): "unknown \(name) tag \(tag) at byte \(offset)"
        case .outOfRange(let field, let offset): "\(field) out of range at byte \(offset)"
        case .trailingBytes(let offset): "unexpected bytes after the end at byte \(offset)"
        case .outOfDomain(let violation, let offset): "\(violation) at byte \(offset)"
        }
    }
}

/// Reads what `ByteWriter` wrote, checking every bound.
///
/// Offsets (`offset`, `end`, and those in errors) count from the start of the array or
/// slice the reader was given: an entry's payload read in place from its block reports
/// offsets within the payload, as it did when it was copied out first.
public struct ByteReader: Sendable {
    /// The bytes; `bytes[origin + offset]` is the next one.
    @usableFromInline let bytes: ArraySlice<UInt8>
    @usableFromInline private(set) var origin: Int
    /// Where the next read starts (stored under another name so that the inlined reads
    /// may move it while other modules only read it).
    @usableFromInline var position: Int
    public var offset: Int { position }
    public private(set) var end: Int

    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes[...]
        origin = 0
        let range = range ?? 0..<bytes.count
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        position = range.lowerBound
        end = range.upperBound
    }

    /// Reads a slice where it lies (no copy); offsets count from its first byte.
    public init(_ slice: ArraySlice<UInt8>) {
        bytes = slice
        origin = slice.startIndex
        position = 0
        end = slice.count
    }

    /// Reads `range` of `bytes` where it lies; offsets count from the range's first byte.
    /// The bytes after the range are never read as fields, but a varint near the range's
    /// end is read by the fast paths when, with them, the bytes hold eight from its first
    /// (ten for nine- and ten-byte varints), and taken only when it ends within the range
    /// (an entry's payload read in its block: the next entries follow it).
    public init(_ bytes: ArraySlice<UInt8>, payload range: Range<Int>) {
        precondition(range.lowerBound >= bytes.startIndex && range.upperBound <= bytes.endIndex)
        self.bytes = bytes
        origin = range.lowerBound
        position = 0
        end = range.count
    }

    /// Reads `range` of the same bytes from its start, as `init(_:payload:)` over them
    /// would: for a loop over a block's entries, where a reader made for each entry
    /// retained and released the bytes' buffer (~40 of the writer thread's instructions an
    /// entry; docs/BENCHMARKS.md, "twenty-sixth steps").
    public mutating func repoint(payload range: Range<Int>) {
        precondition(range.lowerBound >= bytes.startIndex && range.upperBound <= bytes.endIndex)
        origin = range.lowerBound
        position = 0
        end = range.count
    }

    public var isAtEnd: Bool { offset == end }
    public var remaining: Int { end - offset }

    /// The bytes from `offset` to `offset + count` (checked by the caller).
    @inline(__always)
    private func span(_ offset: Int, _ count: Int) -> ArraySlice<UInt8> {
        bytes[origin + offset..<origin + offset + count]
    }

    /// (Inlined: tags and flags are bytes, and a call was most of reading one.)
    @inlinable @inline(__always)
    public mutating func u8() throws(CodecError) -> UInt8 {
        let start = position
        guard start < end else { throw .truncated(offset: start) }
        position = start &+ 1
        return bytes[origin &+ start]
    }

    /// A varint. Up to eight bytes (values below 2^56: every id, price, quantity, amount
    /// and time the engine writes but the largest) are read from one 8-byte load when the
    /// reader's bytes hold eight from here on (past `end` too, which an entry's payload read
    /// in its block has: `init(_:payload:)`), and taken when well formed and ending within
    /// `end`: the first byte without its high bit ends it, and its 7-bit groups are packed
    /// by three shift-and-mask steps instead of a loop a byte. Everything else (nine and ten
    /// bytes, malformed, near the end of the bytes) goes to `longVarint`, which throws as
    /// the checked loop always did. Inlined: most decoded fields are varints, and a call's
    /// frame was a third of a short one (issue 12, nineteenth steps).
    @inlinable @inline(__always)
    public mutating func varint() throws(CodecError) -> UInt64 {
        let start = position
        let first = origin &+ start
        if bytes.endIndex &- first >= 8 {
            // (Through `withUnsafeBytes`, which inlines: `span` left `Span.count` a call.)
            let place = first &- bytes.startIndex
            let word = UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: place, as: UInt64.self) })
            if word & 0x80 == 0 {
                if start < end {
                    position = start &+ 1
                    return word & 0x7F
                }
            } else {
                let (value, length) = Self.varint(word: word)
                if length > 0 && length <= end &- start {
                    position = start &+ length
                    return value
                }
            }
        }
        return try longVarint()
    }

    /// The varint that starts in the low byte of `word` (eight bytes, little-endian) and its
    /// length, when it ends within the word and is in its shortest form; length 0
    /// otherwise.
    @inlinable @inline(__always)
    static func varint(word: UInt64) -> (value: UInt64, length: Int) {
        // The high bit of each byte that ends a varint.
        let stops = ~word & 0x8080_8080_8080_8080
        guard stops != 0 else { return (0, 0) }
        let stop = stops.trailingZeroBitCount
        let length = stop &>> 3 &+ 1
        // Only the shortest form: a last byte of 0 after others is refused.
        if length > 1 && (word &>> UInt64(stop &- 7)) & 0x7F == 0 { return (0, 0) }
        // The varint's bytes (every bit up to its last byte's high bit), their 7-bit
        // groups, then pairs, fours and the eight packed together.
        var packed = word & (stops ^ (stops &- 1)) & 0x7F7F_7F7F_7F7F_7F7F
        packed = (packed & 0x007F_007F_007F_007F) | ((packed & 0x7F00_7F00_7F00_7F00) &>> 1)
        packed = (packed & 0x0000_3FFF_0000_3FFF) | ((packed & 0x3FFF_0000_3FFF_0000) &>> 2)
        packed = (packed & 0x0000_0000_0FFF_FFFF) | ((packed & 0x0FFF_FFFF_0000_0000) &>> 4)
        return (packed, length)
    }

    /// A varint `varint` did not take. With ten bytes or more in the reader's bytes (the
    /// longest varint) it is read without a bound check a byte and taken when it is well
    /// formed and ends within `end`; a malformed one, and one nearer the end, are read by the
    /// checked loop, which throws as it always did. (The checked loop was a quarter of
    /// decoding a journal: audits, rebuilds, recovery, the writer's check.)
    @usableFromInline
    mutating func longVarint() throws(CodecError) -> UInt64 {
        let start = offset
        let first = origin &+ start
        if bytes.endIndex &- first >= 10 {
            let (value, length) = bytes.withUnsafeBufferPointer { Self.varint(in: $0, at: first &- bytes.startIndex) }
            if length > 0 && length <= end &- start {
                position = start &+ length
                return value
            }
        }
        return try checkedVarint()
    }

    /// The varint at `first`, which has at least ten bytes from it on, and its length;
    /// length 0 when it is malformed (longer than ten bytes, wider than 64 bits, or not in
    /// its shortest form).
    @inline(__always)
    static func varint(in buffer: UnsafeBufferPointer<UInt8>, at first: Int) -> (value: UInt64, length: Int) {
        let bytes = buffer.baseAddress.unsafelyUnwrapped + first
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = 0
        while index < 10 {
            let byte = bytes[index]
            if shift == 63 && byte > 1 { return (0, 0) }
            result |= UInt64(byte & 0x7F) &<< shift
            index &+= 1
            if byte < 0x80 { return byte == 0 && shift > 0 ? (0, 0) : (result, index) }
            shift &+= 7
        }
        return (0, 0)
    }

    /// The varint at `offset`, every byte checked against the end.
    @usableFromInline
    mutating func checkedVarint() throws(CodecError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw .truncated(offset: offset) }
            let byte = bytes[origin + offset]
            position += 1
            if shift == 63 && byte > 1 { throw .badVarint(offset: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                // Only the shortest form, so that bytes and values map one to one.
                if byte == 0 && shift > 0 { throw .badVarint(offset: start) }
                return result
            }
            shift += 7
            if shift > 63 { throw .badVarint(offset: start) }
        }
    }

    /// (Inlined as `varint` is: prices, quantities, amounts and times are zigzag varints.)
    @inlinable @inline(__always)
    public mutating func zigzag() throws(CodecError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func fixed32() throws(CodecError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(offset: offset) }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[origin + offset + index]) << (8 * index) }
        position += 4
        return value
    }

    public mutating func fixed64() throws(CodecError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(offset: offset) }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[origin + offset + index]) << (8 * index) }
        position += 8
        return value
    }

    /// A varint that must fit `T`.
    public mutating func varint<T: FixedWidthInteger & UnsignedInteger>(
        as type: T.Type, field: String
    ) throws(CodecError) -> T {
        let start = offset
        guard let value = T(exactly: try varint()) else { throw .outOfRange(field: field, offset: start) }
        return value
    }

    /// An id (account, order, trade, transfer, client order id): at most `Limits.idMax`.
    /// (Inlined as `varint` is: a call's frame was a third of an id's cost.)
    @inline(__always)
    public mutating func id(field: String = "id") throws(CodecError) -> UInt64 {
        let start = offset
        let value = try varint()
        if let violation = DomainViolation.id(field, value) { throw .outOfDomain(violation, offset: start) }
        return value
    }

    /// An asset or symbol name: 1 ... `Limits.nameBytesMax` bytes of printable ASCII.
    public mutating func name(field: String) throws(CodecError) -> String {
        let start = offset
        let count = try varint()
        guard count >= 1, count <= UInt64(Limits.nameBytesMax) else {
            throw .outOfDomain(
                DomainViolation(field: field, value: "of \(count) bytes", domain: DomainViolation.nameDomain), offset: start)
        }
        guard remaining >= Int(count) else { throw .truncated(offset: offset) }
        let bytes = span(offset, Int(count))
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .outOfDomain(DomainViolation.name(field, bytes: Array(bytes)), offset: start)
        }
        position += Int(count)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// UTF-8 text of at most `maxBytes` bytes; invalid UTF-8 is refused (so the text
    /// re-encodes to the same bytes).
    public mutating func string(maxBytes: Int) throws(CodecError) -> String {
        let start = offset
        let count = try varint()
        guard count <= UInt64(maxBytes) else { throw .outOfRange(field: "string length", offset: start) }
        guard remaining >= Int(count) else { throw .truncated(offset: offset) }
        guard let text = String(validating: span(offset, Int(count)), as: UTF8.self) else {
            throw .outOfRange(field: "UTF-8 text", offset: start)
        }
        position += Int(count)
        return text
    }

    public mutating func raw(count: Int) throws(CodecError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated(offset: offset) }
        defer { position += count }
        return span(offset, count)
    }

    /// Moves past `count` bytes (`raw` without the slice).
    public mutating func skip(count: Int) throws(CodecError) {
        guard count >= 0, remaining >= count else { throw .truncated(offset: offset) }
        position += count
    }

    /// Throws unless everything was read.
    public func expectEnd() throws(CodecError) {
        guard isAtEnd else { throw .trailingBytes(offset: offset) }
    }
}
