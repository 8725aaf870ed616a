/// Decimal strings ↔ fixed-point integers, for the HTTP API and reports.
public enum DecimalText {
    public enum ParseError: Error, Sendable, Hashable {
        /// Not of the form [-]digits[.digits].
        case malformed
        /// More fractional digits than `scale` (trailing zeros beyond it are fine).
        case tooMuchPrecision
        case overflow
    }

    /// "50000.10" at scale 2 → 5000010. Trailing zeros past the scale are accepted.
    public static func parse(_ text: String, scale: Int) throws(ParseError) -> Int64 {
        var bytes = Array(text.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes.removeFirst()
        }
        guard !bytes.isEmpty else { throw .malformed }
        var integer: [UInt8] = []
        var fraction: [UInt8] = []
        var seenPoint = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { throw .malformed }
                seenPoint = true
            } else if byte >= 48 && byte <= 57 {
                if seenPoint { fraction.append(byte - 48) } else { integer.append(byte - 48) }
            } else {
                throw .malformed
            }
        }
        guard !integer.isEmpty, !seenPoint || !fraction.isEmpty else { throw .malformed }
        while fraction.count > scale, fraction.last == 0 { fraction.removeLast() }
        guard fraction.count <= scale else { throw .tooMuchPrecision }
        fraction += [UInt8](repeating: 0, count: scale - fraction.count)
        var value: Int64 = 0
        for digit in integer + fraction {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = shifted.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { throw .overflow }
            value = added
        }
        return negative ? -value : value
    }

    /// 5000010 at scale 2 → "50000.10".
    public static func format(_ value: Int64, scale: Int) -> String {
        format(Int128(value), scale: scale)
    }

    /// A 128-bit value (margins, PnL before narrowing) at `scale`.
    public static func format(_ value: Int128, scale: Int) -> String {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        if scale == 0 { return sign + digits }
        let padded = String(repeating: "0", count: max(0, scale + 1 - digits.count)) + digits
        let split = padded.index(padded.endIndex, offsetBy: -scale)
        return sign + padded[..<split] + "." + padded[split...]
    }
}
