/// The gateway's own id for an order, Binance's `newClientOrderId`: 1 … 36 characters of
/// `[.A-Z:/a-z0-9_-]`, or none. Unique per account while remembered (docs/RULES.md).
///
/// A value type of 32 bytes with no allocation: 7 bits a character, nine characters a
/// word, the first character in the low bits of `words.0`; unused characters are 0, so
/// the length is where the first 0 is. Numeric ids (the TCP protocol's and the journal's
/// before issue 10) are their decimal text: `ClientOrderID(42)` is `"42"`, and 0 is none.
public struct ClientOrderID: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public static let lengthMax = 36
    /// The domain as docs/FORMATS.md writes it.
    public static let domain = "1 ... 36 characters of [.A-Z:/a-z0-9_-]"
    public static let none = ClientOrderID(words: (0, 0, 0, 0))

    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64)

    @usableFromInline
    init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// The decimal text of `number`; none for 0 (inline: the engine compares ids with the
    /// literal 0 and builds commands with it as a default, a call each time otherwise).
    @inlinable @inline(__always)
    public init(_ number: UInt64) {
        if number == 0 {
            self.init(words: (0, 0, 0, 0))
        } else {
            self.init(decimal: number)
        }
    }

    /// The digits are placed from the last, once their count is known (no array of them:
    /// a numeric id was an allocation each time it was made or read).
    @usableFromInline
    init(decimal number: UInt64) {
        self = .none
        var count = 0
        var rest = number
        while rest > 0 {
            count += 1
            rest /= 10
        }
        rest = number
        for index in stride(from: count - 1, through: 0, by: -1) {
            set(UInt8(ascii: "0") + UInt8(rest % 10), at: index)
            rest /= 10
        }
    }

    @inlinable @inline(__always)
    public init(integerLiteral value: UInt64) { self.init(value) }

    /// Text in the domain, or nil; the empty text is none.
    public init?(text: some StringProtocol) { self.init(bytes: text.utf8) }

    /// Bytes in the domain, or nil; no bytes is none.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count <= Self.lengthMax else { return nil }
        self = .none
        for (index, byte) in bytes.enumerated() {
            guard Self.isAllowed(byte) else { return nil }
            set(byte, at: index)
        }
    }

    /// Binance's `[.A-Z:/a-z0-9_-]`.
    @inlinable public static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    private mutating func set(_ byte: UInt8, at index: Int) {
        let shift = UInt64(index % 9 * 7)
        switch index / 9 {
        case 0: words.0 |= UInt64(byte) << shift
        case 1: words.1 |= UInt64(byte) << shift
        case 2: words.2 |= UInt64(byte) << shift
        default: words.3 |= UInt64(byte) << shift
        }
    }

    private func byte(at index: Int) -> UInt8 {
        let word: UInt64
        switch index / 9 {
        case 0: word = words.0
        case 1: word = words.1
        case 2: word = words.2
        default: word = words.3
        }
        return UInt8(truncatingIfNeeded: word >> UInt64(index % 9 * 7)) & 0x7F
    }

    @inlinable public var isNone: Bool { words.0 == 0 }

    /// Characters, 0 … 36.
    public var count: Int {
        var length = 0
        while length < Self.lengthMax, byte(at: length) != 0 { length += 1 }
        return length
    }

    /// The characters as ASCII bytes.
    public var bytes: [UInt8] { (0..<count).map(byte(at:)) }

    /// The text; empty for none.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { text }

    /// The number whose decimal text this is, when it is 1 … 2^63 − 1 written without a
    /// leading zero: such ids keep the numeric layouts of the journal (command tags 6,
    /// 7, 16, 17), so that journals written before string ids re-encode byte for byte.
    ///
    /// Read character by character where they lie (`bytes` made an array: the engine asks
    /// for every placed order's number as it journals it).
    public var number: UInt64? {
        var value: UInt64 = 0
        var length = 0
        while length < Self.lengthMax {
            let byte = byte(at: length)
            if byte == 0 { break }
            // At most 19 digits (a 20th could overflow the addition below, where the product
            // did not; no 20-digit number is in the domain), the first not a zero.
            guard length < 19, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), length > 0 || byte != UInt8(ascii: "0") else {
                return nil
            }
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = product + UInt64(byte - UInt8(ascii: "0"))
            length += 1
        }
        return length > 0 && value <= Limits.idMax ? value : nil
    }

    /// Whether the journal writes it as a number (none included).
    public var isNumeric: Bool { isNone || number != nil }

    public static func == (lhs: ClientOrderID, rhs: ClientOrderID) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// Numeric ids first, by value (the order of the state encodings before version 6),
    /// then the others by their bytes.
    public static func < (lhs: ClientOrderID, rhs: ClientOrderID) -> Bool {
        switch (lhs.isNone ? 0 : lhs.number, rhs.isNone ? 0 : rhs.number) {
        case (let left?, let right?): return left < right
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
        }
    }
}

extension ByteWriter {
    /// A client order id as text: varint length (0 for none), then the bytes.
    public mutating func clientOrderID(_ id: ClientOrderID) {
        let bytes = id.bytes
        varint(UInt64(bytes.count))
        raw(bytes)
    }
}

extension ByteReader {
    /// What `ByteWriter.clientOrderID` wrote, in the domain.
    public mutating func clientOrderID(field: String = "client order id") throws(CodecError) -> ClientOrderID {
        let start = offset
        let length = try varint()
        guard length <= UInt64(ClientOrderID.lengthMax) else { throw .outOfRange(field: field, offset: start) }
        let bytes = try raw(count: Int(length))
        guard let id = ClientOrderID(bytes: bytes) else {
            throw .outOfDomain(
                DomainViolation(field: field, value: DomainViolation.quoted(Array(bytes)), domain: ClientOrderID.domain), offset: start)
        }
        return id
    }

    /// A string-form id (command tags 24–26): 1 … 36 characters that are not a number the
    /// numeric layouts would write. One value, one encoding.
    mutating func textClientOrderID() throws(CodecError) -> ClientOrderID {
        let start = offset
        let id = try clientOrderID()
        guard !id.isNumeric else { throw .outOfRange(field: "client order id layout (numeric: the varint tags)", offset: start) }
        return id
    }
}
