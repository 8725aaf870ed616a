/// Appends the encodings of integers and strings to a byte buffer.
///
/// Unsigned integers are LEB128 varints, signed ones zigzag varints (small magnitudes
/// take one byte), fixed-width fields little-endian. docs/FORMATS.md describes each.
public struct ByteWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its storage.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    @inlinable
    public mutating func u8(_ value: UInt8) {
        bytes.append(value)
    }

    @inlinable
    public mutating func varint(_ value: UInt64) {
        if value < 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value))
        } else {
            longVarint(value)
        }
    }

    /// A varint of two bytes or more, staged and appended at once (a byte at a time checked
    /// the array's room and uniqueness for each byte).
    @usableFromInline
    mutating func longVarint(_ value: UInt64) {
        staged(maxBytes: 10) { $0.varint(value) }
    }

    @inlinable
    public mutating func fixed32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func fixed64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A varint length and the UTF-8 bytes.
    public mutating func string(_ value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    public mutating func raw(_ value: some Collection<UInt8>) {
        bytes.append(contentsOf: value)
    }
}

/// Where the fixed-shape encoders (events, and the records inside them) write: a
/// `ByteWriter`, or a `ByteCursor` over a staging buffer.
public protocol ByteSink {
    mutating func u8(_ value: UInt8)
    mutating func varint(_ value: UInt64)
}

extension ByteSink {
    @inlinable @inline(__always)
    public mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
}

extension ByteWriter: ByteSink {
    /// Encodes a record of at most `maxBytes` bytes through a cursor over a buffer on the
    /// stack, then appends it at once. `bytes.append` a byte at a time checked the
    /// array's uniqueness (a runtime call) and room for each byte: an event cost ~60 ns.
    /// A record longer than `maxBytes` stops the process (the cursor checks each field),
    /// so it is only for records whose size is bounded by their shape.
    @inlinable
    public mutating func staged(maxBytes: Int, _ body: (inout ByteCursor) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxBytes) { buffer in
            var cursor = ByteCursor(buffer)
            body(&cursor)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<cursor.count]))
        }
    }
}

/// Writes into a fixed buffer, checking its room once a field (a varint takes at most 10
/// bytes) instead of once a byte.
public struct ByteCursor: ByteSink {
    @usableFromInline let buffer: UnsafeMutableBufferPointer<UInt8>
    /// Bytes written.
    @usableFromInline var count: Int
    /// Bytes written, for other modules.
    @inlinable public var written: Int { count }

    /// A cursor at the start of `buffer`, which it writes and never reads.
    @inlinable
    public init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
        count = 0
    }

    @inlinable
    public mutating func u8(_ value: UInt8) {
        precondition(count < buffer.count, "staged record exceeds its bound")
        buffer.baseAddress.unsafelyUnwrapped[count] = value
        count += 1
    }

    @inlinable @inline(__always)
    public mutating func varint(_ value: UInt64) {
        precondition(count + 10 <= buffer.count, "staged record exceeds its bound")
        let base = buffer.baseAddress.unsafelyUnwrapped
        var value = value
        while value >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: value) | 0x80
            value >>= 7
            count += 1
        }
        base[count] = UInt8(truncatingIfNeeded: value)
        count += 1
    }

    /// Little-endian, one store (`ByteWriter.fixed32`'s bytes).
    @inlinable
    public mutating func fixed32(_ value: UInt32) { store(value) }

    /// Little-endian, one store (`ByteWriter.fixed64`'s bytes).
    @inlinable
    public mutating func fixed64(_ value: UInt64) { store(value) }

    @inlinable
    mutating func store<Value: FixedWidthInteger>(_ value: Value) {
        let size = MemoryLayout<Value>.size
        precondition(count + size <= buffer.count, "staged record exceeds its bound")
        UnsafeMutableRawPointer(buffer.baseAddress.unsafelyUnwrapped).storeBytes(
            of: value.littleEndian, toByteOffset: count, as: Value.self)
        count += size
    }

    /// The bytes as they are (`ByteWriter.raw`), copied at once.
    @inlinable
    public mutating func raw(_ value: ArraySlice<UInt8>) {
        precondition(count + value.count <= buffer.count, "staged record exceeds its bound")
        value.withUnsafeBufferPointer { source in
            guard let from = source.baseAddress else { return }
            (buffer.baseAddress.unsafelyUnwrapped + count).update(from: from, count: source.count)
        }
        count += value.count
    }
}
