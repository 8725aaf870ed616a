import Foundation
import LedgerCore

/// A request's fields, by name, as text: the query string's, then the body's (a flat JSON
/// object, or `application/x-www-form-urlencoded` as Binance clients send). A name given
/// twice, or in both the query and the body, is refused; JSON numbers keep their literal
/// text (`0.1` stays `0.1`, never a binary float), `true` and `false` stay words.
package struct RequestParameters: Sendable, Equatable {
    package private(set) var values: [String: String] = [:]
    /// Names in the order given, for messages.
    package private(set) var names: [String] = []

    package init() {}

    package init(_ pairs: [(String, String)]) throws(HTTPFailure) {
        for (name, value) in pairs { try add(name, value, from: "the request") }
    }

    package subscript(name: String) -> String? { values[name] }

    mutating func add(_ name: String, _ value: String, from place: String) throws(HTTPFailure) {
        guard !name.isEmpty else { throw HTTPFailure(.badRequest, "a \(place == "the query" ? "query" : "body") parameter has no name") }
        guard values[name] == nil else { throw HTTPFailure(.badRequest, "\(name) is given twice in \(place)") }
        values[name] = value
        names.append(name)
    }

    /// Bodies over this are answered 413 (`http.body_bytes_max` in the daemon).
    package static let parametersMax = 64

    /// The query's and the body's fields.
    package static func parse(query: String?, contentType: String?, body: [UInt8]) throws(HTTPFailure) -> RequestParameters {
        var parameters = RequestParameters()
        if let query, !query.isEmpty {
            for (name, value) in try formPairs(Array(query.utf8), place: "the query") { try parameters.add(name, value, from: "the query") }
        }
        let fromQuery = Set(parameters.names)
        if !body.isEmpty {
            let type = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            let pairs: [(String, String)]
            switch type {
            case "application/x-www-form-urlencoded": pairs = try formPairs(body, place: "the body")
            case "application/json", "": pairs = try FlatJSON.pairs(body)
            default:
                throw HTTPFailure(
                    .badRequest, "a body must be application/json or application/x-www-form-urlencoded, not \(type)",
                    status: .unsupportedMediaType)
            }
            for (name, value) in pairs {
                if fromQuery.contains(name) {
                    throw HTTPFailure(.badRequest, "\(name) is given in both the query and the body")
                }
                try parameters.add(name, value, from: "the body")
            }
        }
        guard parameters.names.count <= parametersMax else {
            throw HTTPFailure(.badRequest, "\(parameters.names.count) parameters; at most \(parametersMax)")
        }
        return parameters
    }

    /// `a=1&b=x%20y` (also `+` for a space), percent-decoded as UTF-8.
    static func formPairs(_ bytes: [UInt8], place: String) throws(HTTPFailure) -> [(String, String)] {
        var pairs: [(String, String)] = []
        for item in bytes.split(separator: 0x26, omittingEmptySubsequences: true) {
            let parts = item.split(separator: 0x3D, maxSplits: 1, omittingEmptySubsequences: false)
            let name = try percentDecoded(Array(parts[0]), place: place)
            let value = parts.count > 1 ? try percentDecoded(Array(parts[1]), place: place) : ""
            pairs.append((name, value))
        }
        return pairs
    }

    static func percentDecoded(_ bytes: [UInt8], place: String) throws(HTTPFailure) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x25 {
                guard index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) else {
                    throw HTTPFailure(.badRequest, "a bad percent escape in \(place)")
                }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte == 0x2B ? 0x20 : byte)
                index += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw HTTPFailure(.badRequest, "\(place) is not UTF-8") }
        return text
    }

    static func hex(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x41...0x46: digit - 0x41 + 10
        case 0x61...0x66: digit - 0x61 + 10
        default: nil
        }
    }
}

/// A flat JSON object: strings, numbers (their literal text), `true`, `false`; `null`
/// means absent. Nested objects and arrays are refused: no endpoint takes one.
enum FlatJSON {
    static func pairs(_ bytes: [UInt8]) throws(HTTPFailure) -> [(String, String)] {
        var reader = Reader(bytes: bytes)
        return try reader.object()
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        func malformed(_ what: String) -> HTTPFailure { HTTPFailure(.malformed, "body must be a JSON object: \(what) at byte \(index)") }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func object() throws(HTTPFailure) -> [(String, String)] {
            skipSpace()
            guard current == 0x7B else { throw malformed("expected {") }
            index += 1
            var pairs: [(String, String)] = []
            skipSpace()
            if current == 0x7D {
                index += 1
            } else {
                while true {
                    skipSpace()
                    guard current == 0x22 else { throw malformed("expected a name") }
                    let name = try string()
                    skipSpace()
                    guard current == 0x3A else { throw malformed("expected :") }
                    index += 1
                    skipSpace()
                    if let value = try value(name) { pairs.append((name, value)) }
                    skipSpace()
                    if current == 0x2C {
                        index += 1
                        continue
                    }
                    guard current == 0x7D else { throw malformed("expected , or }") }
                    index += 1
                    break
                }
            }
            skipSpace()
            guard current == nil else { throw malformed("text after the object") }
            return pairs
        }

        mutating func value(_ name: String) throws(HTTPFailure) -> String? {
            switch current {
            case 0x22: return try string()
            case 0x7B, 0x5B: throw HTTPFailure(.badRequest, "\(name) must be a string, a number or a boolean")
            default:
                let start = index
                while let byte = current, byte != 0x2C, byte != 0x7D, byte != 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D {
                    index += 1
                }
                let word = String(decoding: bytes[start..<index], as: UTF8.self)
                switch word {
                case "true", "false": return word
                case "null": return nil
                default:
                    guard Self.isNumber(Array(word.utf8)) else { throw malformed("\(name) has an invalid value") }
                    return word
                }
            }
        }

        /// JSON's number grammar.
        static func isNumber(_ token: [UInt8]) -> Bool {
            var position = 0
            func digits() -> Int {
                let start = position
                while position < token.count, token[position] >= 0x30, token[position] <= 0x39 { position += 1 }
                return position - start
            }
            if position < token.count && token[position] == 0x2D { position += 1 }
            let integerStart = position
            let integerDigits = digits()
            guard integerDigits > 0, token[integerStart] != 0x30 || integerDigits == 1 else { return false }
            if position < token.count && token[position] == 0x2E {
                position += 1
                guard digits() > 0 else { return false }
            }
            if position < token.count && (token[position] == 0x65 || token[position] == 0x45) {
                position += 1
                if position < token.count && (token[position] == 0x2B || token[position] == 0x2D) { position += 1 }
                guard digits() > 0 else { return false }
            }
            return position == token.count
        }

        mutating func string() throws(HTTPFailure) -> String {
            index += 1
            var out: [UInt8] = []
            while let byte = current, byte != 0x22 {
                guard byte >= 0x20 else { throw malformed("a control character in a string") }
                index += 1
                guard byte == 0x5C else {
                    out.append(byte)
                    continue
                }
                guard let escaped = current else { throw malformed("an unterminated escape") }
                index += 1
                switch escaped {
                case 0x22, 0x5C, 0x2F: out.append(escaped)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar: UInt32 = 0
                    for _ in 0..<4 {
                        guard let digit = current.flatMap(RequestParameters.hex) else { throw malformed("a bad \\u escape") }
                        scalar = scalar << 4 | UInt32(digit)
                        index += 1
                    }
                    // Surrogates stand for characters no field takes; refused as malformed.
                    guard let character = Unicode.Scalar(scalar) else { throw malformed("a surrogate \\u escape") }
                    out.append(contentsOf: Array(String(character).utf8))
                default: throw malformed("an unknown escape")
                }
            }
            guard current == 0x22 else { throw malformed("an unterminated string") }
            index += 1
            guard let text = String(validating: out, as: UTF8.self) else { throw malformed("a string that is not UTF-8") }
            return text
        }
    }
}

/// Decodes a `Decodable` request from its parameters (Codable request decoding): integers,
/// booleans and strings from their text, an absent optional as nil. Every parameter the
/// type does not read is named in one 400 (`unknown parameters: a, b`).
package struct ParameterDecoder {
    package static func decode<T: Decodable>(_ type: T.Type, from parameters: RequestParameters) throws(HTTPFailure) -> T {
        let reader = Reader(parameters: parameters)
        let value: T
        do {
            value = try T(from: reader)
        } catch let failure as HTTPFailure {
            throw failure
        } catch {
            throw HTTPFailure(.badRequest, "\(error)")
        }
        let unknown = parameters.names.filter { !reader.read.contains($0) }
        guard unknown.isEmpty else { throw HTTPFailure(.badRequest, "unknown parameters: \(unknown.joined(separator: ", "))") }
        return value
    }

    final class Reader: Decoder {
        let parameters: RequestParameters
        var read = Set<String>()
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] = [:]

        init(parameters: RequestParameters) {
            self.parameters = parameters
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            KeyedDecodingContainer(Keyed<Key>(reader: self))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            throw HTTPFailure(.badRequest, "a request is a set of named parameters")
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer {
            throw HTTPFailure(.badRequest, "a request is a set of named parameters")
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let reader: Reader
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { reader.parameters.names.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool {
            reader.read.insert(key.stringValue)
            return reader.parameters[key.stringValue] != nil
        }

        func text(_ key: Key) throws -> String {
            reader.read.insert(key.stringValue)
            guard let value = reader.parameters[key.stringValue], !value.isEmpty else {
                throw HTTPFailure(.badRequest, "missing \(key.stringValue)")
            }
            return value
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            reader.read.insert(key.stringValue)
            return reader.parameters[key.stringValue] == nil
        }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
            switch try text(key) {
            case "true": return true
            case "false": return false
            default: throw HTTPFailure(.badRequest, "\(key.stringValue) must be true or false")
            }
        }

        func decode(_ type: String.Type, forKey key: Key) throws -> String { try text(key) }

        /// An optional string that is given is taken as it is, empty too: its own parser
        /// says what is wrong with it (an empty bracket list is OUT_OF_RANGE, not missing).
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
            reader.read.insert(key.stringValue)
            return reader.parameters[key.stringValue]
        }

        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
            let value = try text(key)
            guard value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = UInt64(value) else {
                throw HTTPFailure(.badRequest, "\(key.stringValue) must be a non-negative integer")
            }
            return number
        }

        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
            guard let number = Int64(try text(key)) else { throw HTTPFailure(.badRequest, "\(key.stringValue) must be an integer") }
            return number
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            throw HTTPFailure(.badRequest, "\(key.stringValue) has a type no parameter takes")
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<
            NestedKey
        > {
            throw HTTPFailure(.badRequest, "\(key.stringValue) cannot nest")
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw HTTPFailure(.badRequest, "\(key.stringValue) cannot nest")
        }

        func superDecoder() throws -> any Decoder { reader }
        func superDecoder(forKey key: Key) throws -> any Decoder { reader }
    }
}
