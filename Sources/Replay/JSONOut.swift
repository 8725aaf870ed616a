#if canImport(Glibc)
    import Glibc
#endif

/// A JSON line writer for `dump`: writes bytes into a fixed buffer that goes to the file
/// descriptor in large pieces, with no dictionary, no Foundation, no existential and no
/// allocation per field (docs/BENCHMARKS.md, "Dump").
final class JSONOut {
    /// A streaming writer writes its buffer out once this much is in it.
    static let flushBytes = 1 << 20
    /// Room kept for one field (a key and an integer); longer strings check for themselves.
    static let fieldBytesMax = 128
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0
    fileprivate var needsComma = false
    /// "00" "01" … "99" (a copy per writer: no lazy global on the hot path).
    private let digitPairs = JSONOut.digitPairsTable
    /// Where a streaming writer writes; nil for one that collects in memory.
    let descriptor: Int32?
    /// False once a write failed (EPIPE: `dump | head`); nothing more is written.
    private(set) var isOpen = true

    /// A writer that streams to `descriptor` (stdout), or with nil one that collects.
    init(descriptor: Int32? = STDOUT_FILENO) {
        self.descriptor = descriptor
        capacity = Self.flushBytes + 64 * 1024
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// What a collecting writer holds.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: buffer, count: count) }

    func reset() {
        count = 0
        needsComma = false
    }

    /// Appends what another writer collected (streaming it out if large).
    func append(_ other: JSONOut) {
        room(other.count)
        (buffer + count).update(from: other.buffer, count: other.count)
        count += other.count
        if count >= Self.flushBytes { flush() }
    }

    func beginObject(_ key: StaticString? = nil) {
        room(Self.fieldBytesMax)
        if let key { self.key(key) } else { comma() }
        byte(UInt8(ascii: "{"))
        needsComma = false
    }

    func endObject() {
        room(1)
        byte(UInt8(ascii: "}"))
        needsComma = true
    }

    func beginArray(_ key: StaticString) {
        room(Self.fieldBytesMax)
        self.key(key)
        byte(UInt8(ascii: "["))
        needsComma = false
    }

    func endArray() {
        room(1)
        byte(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Ends a line; flushes once the buffer is large. False when the reader went away.
    func endLine() -> Bool {
        room(1)
        byte(0x0A)
        needsComma = false
        if count >= Self.flushBytes { flush() }
        return isOpen
    }

    func field(_ key: StaticString, _ value: Int) {
        room(Self.fieldBytesMax)
        self.key(key)
        integer(value)
        needsComma = true
    }

    /// Writes everything buffered (a collecting writer keeps it).
    func flush() {
        guard let descriptor else { return }
        defer { count = 0 }
        guard isOpen else { return }
        var offset = 0
        while offset < count {
            let written = write(descriptor, buffer + offset, count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                isOpen = false
                return
            }
            offset += written
        }
    }

    @inline(__always) fileprivate func room(_ bytes: Int) {
        if count + bytes > capacity { makeRoom(bytes) }
    }

    private func makeRoom(_ bytes: Int) {
        flush()
        guard count + bytes > capacity else { return }
        // Collecting (or one piece larger than the buffer): grow.
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: max(capacity * 2, count + bytes))
        grown.update(from: buffer, count: count)
        buffer.deallocate()
        buffer = grown
        capacity = max(capacity * 2, count + bytes)
    }

    @inline(__always) private func byte(_ value: UInt8) {
        buffer[count] = value
        count += 1
    }

    @inline(__always) private func comma() {
        if needsComma { byte(UInt8(ascii: ",")) }
    }

    fileprivate func key(_ key: StaticString) {
        comma()
        byte(UInt8(ascii: "\""))
        // Keys are a few bytes: a loop beats a call to memmove.
        let start = key.utf8Start
        for index in 0..<key.utf8CodeUnitCount { buffer[count + index] = start[index] }
        count += key.utf8CodeUnitCount
        byte(UInt8(ascii: "\""))
        byte(UInt8(ascii: ":"))
    }

    /// "00" "01" … "99": two digits at a time.
    nonisolated(unsafe) private static let digitPairsTable: UnsafePointer<UInt8> = {
        let pairs = UnsafeMutablePointer<UInt8>.allocate(capacity: 200)
        for value in 0..<100 {
            pairs[2 * value] = UInt8(ascii: "0") + UInt8(value / 10)
            pairs[2 * value + 1] = UInt8(ascii: "0") + UInt8(value % 10)
        }
        return UnsafePointer(pairs)
    }()

    private func integer(_ value: Int) {
        if value < 0 { byte(UInt8(ascii: "-")) }
        var rest = value.magnitude
        var digits = 1
        var scale: UInt = 10
        while digits < 20 && rest >= scale {
            digits += 1
            scale = scale &* 10
        }
        var position = count + digits
        count = position
        let pairs = digitPairs
        while rest >= 100 {
            let pair = Int(rest % 100) * 2
            rest /= 100
            position -= 2
            buffer[position] = pairs[pair]
            buffer[position + 1] = pairs[pair + 1]
        }
        if rest >= 10 {
            position -= 2
            buffer[position] = pairs[Int(rest) * 2]
            buffer[position + 1] = pairs[Int(rest) * 2 + 1]
        } else {
            buffer[position - 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest)
        }
    }

    fileprivate func string(_ value: String) {
        let written = value.utf8.withContiguousStorageIfAvailable { text -> Bool in
            room(text.count * 6 + 2)
            byte(UInt8(ascii: "\""))
            for byte in text {
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    self.byte(byte)
                } else {
                    escape(byte)
                }
            }
            byte(UInt8(ascii: "\""))
            return true
        }
        if written == nil { string(String(decoding: Array(value.utf8), as: UTF8.self)) }
    }

    private func escape(_ byte: UInt8) {
        if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            self.byte(UInt8(ascii: "\\"))
            self.byte(byte)
            return
        }
        let hex: StaticString = "0123456789abcdef"
        for escape in [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")] { self.byte(escape) }
        self.byte(hex.utf8Start[Int(byte >> 4)])
        self.byte(hex.utf8Start[Int(byte & 15)])
    }

    fileprivate func boolean(_ value: Bool) {
        let text: StaticString = value ? "true" : "false"
        (buffer + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }
}

extension JSONOut: EntrySink {
    func int(_ key: StaticString, _ value: Int) { field(key, value) }

    func string(_ key: StaticString, _ value: String) {
        room(Self.fieldBytesMax)
        self.key(key)
        string(value)
        needsComma = true
    }

    func bool(_ key: StaticString, _ value: Bool) {
        room(Self.fieldBytesMax)
        self.key(key)
        boolean(value)
        needsComma = true
    }
}

/// Byte equality of two static strings.
func same(_ left: StaticString, _ right: StaticString) -> Bool {
    left.utf8CodeUnitCount == right.utf8CodeUnitCount
        && (left.utf8Start == right.utf8Start || memcmp(left.utf8Start, right.utf8Start, left.utf8CodeUnitCount) == 0)
}
