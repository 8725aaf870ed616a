/// The part of TOML that ledgerd's configuration uses: `[table]` headers, `key = value`
/// with strings, integers and booleans, and `#` comments. Anything else is an error with
/// its line number, never silently ignored.
package enum TOMLSubset {
    package enum Value: Equatable {
        case string(String)
        case integer(Int64)
        case bool(Bool)
    }

    package struct ParseError: Error, CustomStringConvertible {
        package var line: Int
        package var reason: String
        package var description: String { "config line \(line): \(reason)" }
    }

    /// Keys are "table.key" (or "key" before any table).
    package static func parse(_ text: String) throws(ParseError) -> [String: Value] {
        var values: [String: Value] = [:]
        var table = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = stripComment(String(rawLine)).trimmed
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else { throw ParseError(line: number, reason: "unsupported table header") }
                table = String(line.dropFirst().dropLast()).trimmed
                guard !table.isEmpty else { throw ParseError(line: number, reason: "empty table name") }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw ParseError(line: number, reason: "expected key = value") }
            var key = String(line[..<equals]).trimmed
            if key.hasPrefix("\""), key.hasSuffix("\""), key.count >= 2 { key = String(key.dropFirst().dropLast()) }
            guard !key.isEmpty else { throw ParseError(line: number, reason: "empty key") }
            let rawValue = String(line[line.index(after: equals)...]).trimmed
            let value: Value
            if rawValue.hasPrefix("\"") {
                guard rawValue.count >= 2, rawValue.hasSuffix("\"") else { throw ParseError(line: number, reason: "unterminated string") }
                value = .string(String(rawValue.dropFirst().dropLast()))
            } else if rawValue == "true" || rawValue == "false" {
                value = .bool(rawValue == "true")
            } else if let integer = Int64(rawValue.replacingUnderscores) {
                value = .integer(integer)
            } else {
                throw ParseError(line: number, reason: "unsupported value \(rawValue)")
            }
            let fullKey = table.isEmpty ? key : table + "." + key
            guard values[fullKey] == nil else { throw ParseError(line: number, reason: "duplicate key \(fullKey)") }
            values[fullKey] = value
        }
        return values
    }

    private static func stripComment(_ line: String) -> String {
        var inString = false
        for (offset, character) in line.enumerated() {
            if character == "\"" { inString.toggle() }
            if character == "#" && !inString { return String(line.prefix(offset)) }
        }
        return line
    }
}

extension String {
    var trimmed: String {
        var result = Substring(self)
        while let first = result.first, first == " " || first == "\t" || first == "\r" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result.removeLast() }
        return String(result)
    }

    fileprivate var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
