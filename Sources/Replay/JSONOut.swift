#if canImport(Glibc)
    import Glibc
#endif

/// A JSON line writer for `dump`: appends bytes to a buffer that is written to stdout in
/// large pieces, with no dictionary, no Foundation and no allocation per field
/// (docs/BENCHMARKS.md, "Dump").
struct JSONOut {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false
    /// Flushes to the file descriptor once this much is buffered.
    static let flushBytes = 1 << 20

    init() { bytes.reserveCapacity(Self.flushBytes + 64 * 1024) }

    mutating func beginObject(_ key: StaticString? = nil) {
        if let key { self.key(key) } else { comma() }
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray(_ key: StaticString) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    mutating func endLine() {
        bytes.append(0x0A)
        needsComma = false
    }

    mutating func fields(_ fields: JSONFields) {
        beginObject()
        fieldsBody(fields)
        endObject()
    }

    /// The fields inside an object already begun.
    mutating func fieldsBody(_ fields: JSONFields) {
        for (key, value) in fields.fields {
            self.key(key)
            value.write(to: &self)
            needsComma = true
        }
    }

    mutating func field(_ key: StaticString, _ value: Int) {
        self.key(key)
        integer(value)
        needsComma = true
    }

    private mutating func comma() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func key(_ key: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func integer(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            unsigned(value.magnitude)
        } else {
            unsigned(UInt(value))
        }
    }

    private mutating func unsigned(_ value: UInt) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest != 0
            bytes.append(contentsOf: buffer[(24 - count)...])
        }
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 15)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func boolean(_ value: Bool) {
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    /// Writes what is buffered once it is large (`force`: all of it). False when the
    /// reader went away (EPIPE: `dump | head`).
    mutating func flush(to descriptor: Int32 = STDOUT_FILENO, force: Bool = false) -> Bool {
        guard force || bytes.count >= Self.flushBytes, !bytes.isEmpty else { return true }
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}

/// A value `JSONOut` writes.
protocol JSONScalar {
    func write(to out: inout JSONOut)
}

extension Int: JSONScalar {
    func write(to out: inout JSONOut) { out.integer(self) }
}

extension String: JSONScalar {
    func write(to out: inout JSONOut) { out.string(self) }
}

extension Bool: JSONScalar {
    func write(to out: inout JSONOut) { out.boolean(self) }
}

/// The fields of one JSON object, in order, written as a dictionary literal.
struct JSONFields: ExpressibleByDictionaryLiteral {
    let fields: [(StaticString, any JSONScalar)]

    init(dictionaryLiteral elements: (StaticString, any JSONScalar)...) {
        fields = elements
    }

    /// The value of "type" (every object `EntryJSON` writes begins with it).
    var type: String { fields.first.flatMap { $0.1 as? String } ?? "?" }

    /// True when the key is one of `keys` and its value an integer in `values`.
    func contains(keys: [StaticString], anyOf values: Set<Int>) -> Bool {
        for (key, value) in fields {
            guard let number = value as? Int, values.contains(number) else { continue }
            if keys.contains(where: { same($0, key) }) { return true }
        }
        return false
    }
}

/// Byte equality of two static strings.
func same(_ left: StaticString, _ right: StaticString) -> Bool {
    left.withUTF8Buffer { a in right.withUTF8Buffer { b in a.elementsEqual(b) } }
}
