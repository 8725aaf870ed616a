/// The TOML that ledgerd hands to TOMLKit: checked first, because TOMLKit's parser
/// (toml++ 3.4.0) aborts the process on some malformed input instead of returning an
/// error — in release builds too (SwiftPM does not define NDEBUG, so its assertions stay):
/// a table header that does not start with a key (`[{`, `[&`, `[[[1]]]`; upstream
/// marzer/tomlplusplus#294 and #301) or an array closed by a brace (`d=[}`), both found
/// by FuzzConfig. And TOMLKit's table iterator traps on a key holding a NUL
/// (`"\u0000" = 1`, also found by FuzzConfig), so no string may hold one. A typo in the
/// token file must never kill the daemon at SIGHUP, so only the part of TOML the
/// configuration and the token file use reaches the parser:
///
/// - comments, `[table]` and `[[array.of.tables]]` headers, `key = value` lines; keys bare
///   (`A-Z a-z 0-9 _ -`) or quoted, dotted;
/// - values: single-line basic and literal strings, decimal integers and floats
///   (underscores between digits), `true` and `false`, and arrays of values (across lines,
///   nested, trailing comma).
///
/// Anything else (inline tables, multi-line strings, dates, hex integers) is refused with
/// its line; toml++ still judges the rest (duplicate keys, mixed tables, …).
package enum TOMLGuard {
    package struct Refusal: Error, CustomStringConvertible {
        package var line: Int
        package var reason: String
        package var description: String { "line \(line): \(reason)" }
    }

    package static func check(_ text: String) throws(Refusal) {
        var scanner = Scanner(bytes: Array(text.utf8))
        try scanner.document()
    }

    /// Nesting of arrays at most (toml++ allows 256).
    static let arrayDepthMax = 32

    struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        func refuse(_ reason: String) -> Refusal { Refusal(line: line, reason: reason) }

        mutating func document() throws(Refusal) {
            while current != nil {
                skipSpaces()
                switch current {
                case nil: return
                case 0x0A, 0x0D, 0x23: try endOfLine()
                case 0x5B: try header()
                default: try keyValue()
                }
            }
        }

        mutating func skipSpaces() {
            while let byte = current, byte == 0x20 || byte == 0x09 { index += 1 }
        }

        /// Spaces, an optional comment, then a line end (or the end of the text).
        mutating func endOfLine() throws(Refusal) {
            skipSpaces()
            if current == 0x23 {
                while let byte = current, byte != 0x0A {
                    guard byte == 0x09 || byte >= 0x20, byte != 0x7F else { throw refuse("a control character in a comment") }
                    index += 1
                }
            }
            if current == 0x0D { index += 1 }
            switch current {
            case nil: return
            case 0x0A:
                index += 1
                line += 1
            default: throw refuse("unexpected text after the value")
            }
        }

        mutating func header() throws(Refusal) {
            index += 1
            let isArray = current == 0x5B
            if isArray { index += 1 }
            skipSpaces()
            try key()
            skipSpaces()
            guard current == 0x5D else { throw refuse("a table header must be [key] or [[key]]") }
            index += 1
            if isArray {
                guard current == 0x5D else { throw refuse("an array-of-tables header must end with ]]") }
                index += 1
            }
            try endOfLine()
        }

        /// A bare or quoted key, possibly dotted.
        mutating func key() throws(Refusal) {
            while true {
                switch current {
                case 0x22, 0x27: try string()
                case let byte? where TOMLGuard.isBareKeyCharacter(byte):
                    while let next = current, TOMLGuard.isBareKeyCharacter(next) { index += 1 }
                default: throw refuse("a key must be bare (A-Z a-z 0-9 _ -) or quoted")
                }
                skipSpaces()
                guard current == 0x2E else { return }
                index += 1
                skipSpaces()
            }
        }

        mutating func keyValue() throws(Refusal) {
            try key()
            skipSpaces()
            guard current == 0x3D else { throw refuse("expected key = value") }
            index += 1
            skipSpaces()
            try value(depth: 0)
            try endOfLine()
        }

        mutating func value(depth: Int) throws(Refusal) {
            switch current {
            case 0x22, 0x27: try string()
            case 0x5B: try array(depth: depth + 1)
            case 0x7B: throw refuse("inline tables are not used by ledgerd's files")
            case nil, 0x0A, 0x0D, 0x23: throw refuse("a value is missing")
            default: try scalar()
            }
        }

        /// Blank lines and comments inside an array.
        mutating func skipArraySpace() throws(Refusal) {
            while true {
                skipSpaces()
                switch current {
                case 0x0A, 0x0D, 0x23: try endOfLine()
                default: return
                }
            }
        }

        mutating func array(depth: Int) throws(Refusal) {
            guard depth <= TOMLGuard.arrayDepthMax else { throw refuse("arrays nest \(TOMLGuard.arrayDepthMax) deep at most") }
            index += 1
            try skipArraySpace()
            while current != 0x5D {
                guard current != nil else { throw refuse("an array is not closed") }
                try value(depth: depth)
                try skipArraySpace()
                if current == 0x2C {
                    index += 1
                    try skipArraySpace()
                } else if current != 0x5D {
                    throw refuse("expected , or ] in an array")
                }
            }
            index += 1
        }

        /// A single-line basic string (escapes checked) or literal string.
        mutating func string() throws(Refusal) {
            let quote = bytes[index]
            index += 1
            if current == quote && index + 1 < bytes.count && bytes[index + 1] == quote {
                throw refuse("multi-line strings are not used by ledgerd's files")
            }
            while let byte = current, byte != quote {
                guard byte == 0x09 || byte >= 0x20, byte != 0x7F else { throw refuse("a string is not closed on its line") }
                index += 1
                if byte == 0x5C && quote == 0x22 {
                    switch current {
                    case 0x22, 0x5C, 0x62, 0x66, 0x6E, 0x72, 0x74: index += 1
                    // A NUL in a key makes TOMLKit's table iterator trap (FuzzConfig); no
                    // setting or token holds one, so none passes in any string.
                    case 0x75: guard try hexDigits(4) != 0 else { throw refuse("a NUL (\\u0000) in a string") }
                    case 0x55: guard try hexDigits(8) != 0 else { throw refuse("a NUL (\\u0000) in a string") }
                    default: throw refuse("an unknown escape in a string")
                    }
                }
            }
            guard current == quote else { throw refuse("a string is not closed on its line") }
            index += 1
        }

        /// The escape's hex digits; returns their value.
        mutating func hexDigits(_ count: Int) throws(Refusal) -> UInt32 {
            index += 1
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let byte = current, TOMLGuard.isHexDigit(byte) else { throw refuse("a \\u escape needs hex digits") }
                value = value << 4 | UInt32(byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10)
                index += 1
            }
            return value
        }

        /// `true`, `false`, or a decimal integer or float as TOML writes them.
        mutating func scalar() throws(Refusal) {
            let start = index
            while let byte = current, byte != 0x2C, byte != 0x5D, byte != 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D, byte != 0x23 {
                index += 1
            }
            let token = Array(bytes[start..<index])
            guard token == Array("true".utf8) || token == Array("false".utf8) || isDecimal(token) else {
                throw refuse("unsupported value \(String(decoding: token.prefix(32), as: UTF8.self))")
            }
        }

        /// [+-] digits [. digits] [e [+-] digits], with single underscores between digits
        /// and no leading zero.
        func isDecimal(_ token: [UInt8]) -> Bool {
            var position = 0
            func digits() -> Bool {
                guard position < token.count, TOMLGuard.isDigit(token[position]) else { return false }
                position += 1
                while position < token.count {
                    if TOMLGuard.isDigit(token[position]) {
                        position += 1
                    } else if token[position] == 0x5F, position + 1 < token.count, TOMLGuard.isDigit(token[position + 1]) {
                        position += 2
                    } else {
                        break
                    }
                }
                return true
            }
            if position < token.count && (token[position] == 0x2B || token[position] == 0x2D) { position += 1 }
            let integerStart = position
            guard digits() else { return false }
            if token[integerStart] == 0x30 && position - integerStart > 1 { return false }
            if position < token.count && token[position] == 0x2E {
                position += 1
                guard digits() else { return false }
            }
            if position < token.count && (token[position] == 0x65 || token[position] == 0x45) {
                position += 1
                if position < token.count && (token[position] == 0x2B || token[position] == 0x2D) { position += 1 }
                guard digits() else { return false }
            }
            return position == token.count
        }
    }

    static func isBareKeyCharacter(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2D
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }
}
