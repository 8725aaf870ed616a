import LedgerCore

/// Builds the rows of a `COPY … FROM STDIN (FORMAT binary)`: PostgreSQL's binary tuple
/// format, so the server parses no text (no `numeric_in`, no timestamp parsing) and we
/// format none. Fields must be written in the column order the COPY names, with the
/// column's type: int8, int4, bool, text, timestamptz, numeric.
struct BinaryCopy {
    private(set) var bytes: [UInt8] = []
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

    /// The whole COPY stream: header, rows, trailer.
    var stream: [UInt8] { Self.header + bytes + Self.trailer }

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
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
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

    mutating func text(_ value: String) { text(Array(value.utf8)) }

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
        var magnitude = units.magnitude
        for _ in 0..<pad { magnitude *= 10 }
        let fractionGroups = (scale + pad) / 4
        var groups: [UInt16] = []  // least significant first
        while magnitude > 0 {
            groups.append(UInt16(magnitude % 10_000))
            magnitude /= 10_000
        }
        // Trailing zero groups (least significant) are not stored; the weight stays.
        var low = 0
        while low < groups.count && groups[low] == 0 { low += 1 }
        let stored = groups.count - low
        let weight = stored == 0 ? 0 : groups.count - 1 - fractionGroups
        put32(Int32(8 + 2 * stored))
        put16(stored)
        put16(weight)
        put16(units < 0 ? 0x4000 : 0)
        put16(scale)
        var index = groups.count - 1
        while index >= low {
            put16(Int(groups[index]))
            index -= 1
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
        try copy(into: table, columns: columns, data: rows.stream, format: "binary")
    }
}
