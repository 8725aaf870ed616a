import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What every tool verb shares (docs/OPERATIONS.md, "The tools"): paths checked before any
/// work (a missing one is bad usage, exit 2), JSON output, a progress line on a terminal.
public enum ToolIO {
    /// `path` if it is a directory; otherwise bad usage (exit 2) naming it.
    public static func existingDirectory(_ path: String, _ what: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ValidationError("\(what) \(path) does not exist") }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw ValidationError("\(what) \(path) is not a directory") }
        return path
    }

    /// `path` if it is a regular file; otherwise bad usage (exit 2) naming it.
    public static func existingFile(_ path: String, _ what: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ValidationError("\(what) \(path) does not exist") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw ValidationError("\(what) \(path) is not a file") }
        return path
    }

    /// A secret kept in a file of its own (a client's token): the first line, without its
    /// line end. A missing or empty file is bad usage (exit 2) naming it.
    public static func readSecret(path: String) throws -> String {
        _ = try existingFile(path, "token file")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("token file \(path) cannot be read")
        }
        let secret = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !secret.isEmpty else { throw ValidationError("token file \(path) is empty") }
        return secret
    }

    /// True when `path` exists (file or directory).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// One JSON object on a line, keys sorted.
    public static func printJSON(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }

    /// A message on stderr, prefixed by the tool's name.
    public static func warn(_ tool: String, _ message: String) {
        FileHandle.standardError.write(Data("\(tool): \(message)\n".utf8))
    }

    /// Journal time (ns since 1970) as ISO 8601 UTC with milliseconds.
    public static func isoTime(nanos: Int64) -> String {
        let milliseconds = nanos / 1_000_000
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds % 1000))
    }

    /// A time given on the command line: milliseconds since 1970 (optionally with the
    /// suffix `ms`), or ISO 8601 UTC
    /// (`2026-12-04T18:00:00Z`, optionally with `.mmm`), as nanoseconds since 1970.
    public static func parseTime(_ text: String) -> Int64? {
        if text.hasSuffix("ms"), let milliseconds = Int64(text.dropLast(2)) { return parseTime(String(milliseconds)) }
        if let milliseconds = Int64(text), milliseconds >= 0, milliseconds <= Int64.max / 1_000_000 {
            return milliseconds * 1_000_000
        }
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count, range.allSatisfy({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }) else { return nil }
            return range.reduce(0) { $0 * 10 + Int(bytes[$1] - 0x30) }
        }
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var milliseconds = 0
        if bytes.count != 20 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count == 24, let fraction = number(20..<23) else { return nil }
            milliseconds = fraction
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        guard seconds >= 0, parts.tm_mday == Int32(day) else { return nil }
        return (Int64(seconds) * 1000 + Int64(milliseconds)) * 1_000_000
    }

    /// Seconds on a monotonic clock.
    public static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// A progress line that redraws itself on a terminal, at most ten times a second, and
/// is cleared before the result is printed; nothing when stdout is not a terminal (a
/// pipe, a file, a test) or when the output is JSON.
public struct ProgressLine {
    public let enabled: Bool
    private var lastDraw = 0.0
    private var drawn = false

    public init(json: Bool = false) {
        enabled = !json && isatty(STDOUT_FILENO) != 0
    }

    public mutating func show(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = ToolIO.monotonicSeconds()
        guard now - lastDraw >= 0.1 else { return }
        lastDraw = now
        drawn = true
        Self.write("\r\u{1B}[K" + text())
    }

    public mutating func clear() {
        guard drawn else { return }
        drawn = false
        Self.write("\r\u{1B}[K")
    }

    private static func write(_ text: String) {
        fflush(nil)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}
