import LedgerCore

/// Builds the rows of a `COPY … FROM STDIN (FORMAT binary)`: PostgreSQL's binary tuple
/// format, so the server parses no text (no `numeric_in`, no timestamp parsing) and we
/// format none. Fields must be written in the column order the COPY names, with the
/// column's type: int8, int4, bool, text, timestamptz, numeric.
struct BinaryCopy {
    /// The header, then the rows so far.
    private(set) var bytes: [UInt8] = Self.header
    private(set) var count = 0
    let columns: Int
    private var fieldsInRow = 0

    /// "PGCOPY\n\xff\r\n\0", flags 0, no header extension.
    static let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
    static let trailer: [UInt8] = [0xFF, 0xFF]
    /// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01 (UTC).
    static let postgresEpochMicros: Int64 = 946_684_800_000_000

    init(columns: Int) {
        self.columns = columns
    }

    var isEmpty: Bool { count == 0 }

    mutating func beginRow() {
        precondition(fieldsInRow == 0 || fieldsInRow == columns, "row ended with \(fieldsInRow) of \(columns) fields")
        bytes.append(UInt8(truncatingIfNeeded: columns >> 8))
        bytes.append(UInt8(truncatingIfNeeded: columns))
        fieldsInRow = 0
        count += 1
    }

    private mutating func put32(_ value: Int32) {
        let bits = UInt32(bitPattern: value)
        bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
        bytes.append(UInt8(truncatingIfNeeded: bits))
    }

    private mutating func put64(_ value: Int64) {
        withUnsafeBytes(of: UInt64(bitPattern: value).bigEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func put16(_ value: Int) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func null() {
        put32(-1)
        fieldsInRow += 1
    }

    mutating func int8(_ value: Int64) {
        put32(8)
        put64(value)
        fieldsInRow += 1
    }

    mutating func int8(_ value: UInt64) { int8(Int64(bitPattern: value)) }

    mutating func int8(_ value: UInt64?) {
        if let value { int8(value) } else { null() }
    }

    mutating func int4(_ value: Int) {
        put32(4)
        put32(Int32(truncatingIfNeeded: value))
        fieldsInRow += 1
    }

    mutating func bool(_ value: Bool) {
        put32(1)
        bytes.append(value ? 1 : 0)
        fieldsInRow += 1
    }

    mutating func text(_ utf8: [UInt8]) {
        put32(Int32(utf8.count))
        bytes += utf8
        fieldsInRow += 1
    }

    mutating func text(_ value: String) {
        let utf8 = value.utf8
        put32(Int32(utf8.count))
        bytes.append(contentsOf: utf8)
        fieldsInRow += 1
    }

    mutating func text(_ value: String?) {
        if let value { text(value) } else { null() }
    }

    /// Nanoseconds since 1970 as a timestamptz, truncated to the microsecond (toward
    /// −∞, as `Timestamp.text` does).
    mutating func timestamp(nanos: Int64) {
        let micros = nanos / 1_000 - (nanos % 1_000 < 0 ? 1 : 0)
        int8(micros - Self.postgresEpochMicros)
    }

    /// `units` at `scale` decimal places as a numeric, exactly (its display scale is
    /// `scale`, so it reads back as `DecimalText.format(units, scale:)` does).
    mutating func numeric(_ units: Int64, scale: Int) { numeric(Int128(units), scale: scale) }

    mutating func numeric(_ units: Int128, scale: Int) {
        precondition(scale >= 0 && scale <= 40, "numeric scale \(scale)")
        // Base-10000 digits aligned on the decimal point: pad the scale to a multiple of 4.
        let pad = (4 - scale % 4) % 4
        let fractionGroups = (scale + pad) / 4
        // Least significant first; |Int128| × 1000 < 10^42 needs at most 11 groups.
        var groups: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let count = withUnsafeMutableBytes(of: &groups) { raw in
            let digits = raw.bindMemory(to: UInt64.self)
            var count = 0
            var magnitude = units.magnitude
            let scaleUp: UInt128 = pad == 0 ? 1 : pad == 1 ? 10 : pad == 2 ? 100 : 1_000
            if magnitude <= UInt128(UInt64.max / 1_000) {
                // The common case, in 64-bit arithmetic.
                var small = UInt64(magnitude) * UInt64(scaleUp)
                while small > 0 {
                    digits[count] = small % 10_000
                    small /= 10_000
                    count += 1
                }
            } else {
                // One group of up to four digits may not fit after scaling: split first.
                let (high, low) = magnitude.quotientAndRemainder(dividingBy: 10_000)
                var carry = low * scaleUp  // < 10^7
                magnitude = high * scaleUp + carry / 10_000
                carry %= 10_000
                digits[count] = UInt64(carry)
                count += 1
                while magnitude > 0 {
                    digits[count] = UInt64(magnitude % 10_000)
                    magnitude /= 10_000
                    count += 1
                }
            }
            return count
        }
        withUnsafeBytes(of: &groups) { raw in
            let digits = raw.bindMemory(to: UInt64.self)
            // Trailing zero groups (least significant) are not stored; the weight stays.
            var low = 0
            while low < count && digits[low] == 0 { low += 1 }
            let stored = count - low
            let weight = stored == 0 ? 0 : count - 1 - fractionGroups
            put32(Int32(8 + 2 * stored))
            put16(stored)
            put16(weight)
            put16(units < 0 ? 0x4000 : 0)
            put16(scale)
            var index = count - 1
            while index >= low {
                put16(Int(digits[index]))
                index -= 1
            }
        }
        fieldsInRow += 1
    }

    mutating func numeric(_ units: Int64?, scale: Int) {
        if let units { numeric(units, scale: scale) } else { null() }
    }
}

extension PostgresConnection {
    /// `COPY table (columns) FROM STDIN (FORMAT binary)` of `rows`; nothing when empty.
    func copy(into table: String, columns: [String], rows: BinaryCopy) throws(PostgresError) {
        if rows.isEmpty { return }
        precondition(rows.columns == columns.count, "\(table): \(rows.columns) fields a row for \(columns.count) columns")
        try copy(into: table, columns: columns, chunks: [rows.bytes, BinaryCopy.trailer], format: "binary")
    }
}
