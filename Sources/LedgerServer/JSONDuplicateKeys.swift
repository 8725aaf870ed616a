import Foundation

/// Finds a key given twice in one JSON object. JSONSerialization (and JSONDecoder) keep
/// the last of two equal keys without a word, so `{"amount":"1","amount":"2"}` would
/// deposit 2: the API refuses such a body instead (docs/API.md).
enum JSONDuplicateKeys {
    /// The first key that appears twice in the same object, at any depth; nil when there
    /// is none. `bytes` must already be valid JSON (the caller parsed it): this only walks
    /// it. Escaped keys are compared by their decoded text ("a" equals "\u0061").
    ///
    /// Complexity: O(bytes); nesting deeper than 64 is answered as a duplicate of "(depth)"
    /// so that a hostile body cannot make the walk expensive.
    static func first(in bytes: [UInt8]) -> String? {
        var objects: [Set<String>?] = []  // nil for an array
        var index = 0
        var expectingKey = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                objects.append([])
                if objects.count > 64 { return "(depth)" }
                expectingKey = true
                index += 1
            case UInt8(ascii: "["):
                objects.append(nil)
                if objects.count > 64 { return "(depth)" }
                expectingKey = false
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = objects.popLast()
                expectingKey = false
                index += 1
            case UInt8(ascii: ","):
                // After a comma inside an object comes a key.
                expectingKey = objects.last.map { $0 != nil } ?? false
                index += 1
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                guard expectingKey, let top = objects.indices.last, objects[top] != nil else { continue }
                expectingKey = false
                let token = Data(bytes[start..<min(index, bytes.count)])
                let key =
                    (try? JSONSerialization.jsonObject(with: token, options: .fragmentsAllowed) as? String)
                    ?? String(decoding: token, as: UTF8.self)
                // In place: the set is not copied per key.
                if objects[top]!.insert(key).inserted == false { return key }
            default:
                index += 1
            }
        }
        return nil
    }
}
