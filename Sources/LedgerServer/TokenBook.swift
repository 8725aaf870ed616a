import Foundation
import LedgerCore
import LedgerDigest
import TOMLKit

/// The accounts a trader token may act for: ids and inclusive ranges, or every account.
package struct AccountSet: Sendable, Equatable, CustomStringConvertible {
    /// Ranges in one token's set at most (after merging neighbours).
    package static let rangesMax = 65_536

    package private(set) var isAll: Bool
    /// Sorted, disjoint and not adjacent.
    package private(set) var ranges: [ClosedRange<UInt64>]

    package static let all = AccountSet(isAll: true, ranges: [])
    package static let none = AccountSet(isAll: false, ranges: [])

    private init(isAll: Bool, ranges: [ClosedRange<UInt64>]) {
        self.isAll = isAll
        self.ranges = ranges
    }

    /// From ids and ranges, merging overlaps and neighbours.
    package init(_ given: [ClosedRange<UInt64>]) throws(TokenFile.Invalid) {
        var merged: [ClosedRange<UInt64>] = []
        for range in given.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1, last.upperBound < UInt64.max {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        guard merged.count <= Self.rangesMax else {
            throw TokenFile.Invalid(description: "\(merged.count) account ranges; at most \(Self.rangesMax)")
        }
        self.init(isAll: false, ranges: merged)
    }

    package func contains(_ account: AccountID) -> Bool {
        if isAll { return true }
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < account { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low].contains(account)
    }

    package var description: String {
        if isAll { return "*" }
        return ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }
}

/// One entry of the token file: never the secret, only its SHA-256.
package struct TokenGrant: Sendable, Equatable {
    package var name: String
    package var digest: [UInt8]
    package var role: Role
    /// For a trader, the accounts it acts for; every other role reads every account
    /// (admin, read-only) or none (oracle), whatever this holds.
    package var accounts: AccountSet
    /// Requests a second, all connections of the token together (TCP and HTTP).
    package var ratePerSecond: Int64
    /// Requests that may arrive at once above the rate.
    package var burst: Int64

    package init(name: String, digest: [UInt8], role: Role, accounts: AccountSet, ratePerSecond: Int64, burst: Int64) {
        self.name = name
        self.digest = digest
        self.role = role
        self.accounts = accounts
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }
}

/// A rate limit as a generic cell-rate algorithm in integer nanoseconds: each request
/// moves a theoretical arrival time forward by one interval; a request that would put it
/// more than the burst ahead of now is refused with the wait that would admit it.
package final class RateLimiter: @unchecked Sendable {
    private let intervalNanos: Int64
    private let toleranceNanos: Int64
    private let lock = NSLock()
    private var theoreticalArrival: Int64 = 0

    package init(ratePerSecond: Int64, burst: Int64) {
        intervalNanos = max(1, 1_000_000_000 / max(1, ratePerSecond))
        toleranceNanos = intervalNanos * max(0, burst - 1)
    }

    /// nil if admitted; otherwise the nanoseconds to wait.
    package func admit(nowNanos: Int64) -> Int64? {
        lock.withLock {
            let arrival = max(theoreticalArrival, nowNanos)
            let ahead = arrival - nowNanos
            if ahead > toleranceNanos { return ahead - toleranceNanos }
            theoreticalArrival = arrival + intervalNanos
            return nil
        }
    }

    package static func monotonicNanos() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

/// Who sent a request: a token's grant and its rate limiter, as of one reading of the
/// token file.
package final class Principal: Sendable {
    package let grant: TokenGrant
    package let limiter: RateLimiter
    package let generation: Int

    init(grant: TokenGrant, limiter: RateLimiter, generation: Int) {
        self.grant = grant
        self.limiter = limiter
        self.generation = generation
    }

    package var role: Role { grant.role }

    /// Why this token may not send `command`, or nil when it may.
    package func refusal(for command: Command) -> String? {
        if command.isSystemOnly { return "no token may send this command" }
        switch grant.role {
        case .admin: return nil
        case .readOnly: return "token \(grant.name) is read-only"
        case .oracle, .trader:
            guard command.role == grant.role else {
                return "token \(grant.name) has the \(grant.role.name) role; this needs \(command.role.name)"
            }
            if grant.role == .trader, let account = command.actingAccount, !grant.accounts.contains(account) {
                return "token \(grant.name) may not act for account \(account)"
            }
            return nil
        }
    }

    /// Why this token may not read `account`'s private views, or nil when it may.
    package func refusal(toRead account: AccountID) -> String? {
        switch grant.role {
        case .admin, .readOnly: nil
        case .oracle: "token \(grant.name) has the oracle role, which reads no account"
        case .trader: grant.accounts.contains(account) ? nil : "token \(grant.name) may not read account \(account)"
        }
    }
}

/// The tokens ledgerd accepts, read from the token file and swapped whole on SIGHUP
/// (docs/OPERATIONS.md, "Tokens and roles"). A presented secret is hashed with SHA-256;
/// the first 8 bytes of the digest pick the candidates, and each candidate's whole
/// digest is compared in constant time (every byte, no early exit). Digests reveal
/// nothing of a secret, so neither does the time a lookup takes.
package final class TokenBook: @unchecked Sendable {
    private struct Table {
        var principals: [Principal] = []
        var byPrefix: [UInt64: [Int]] = [:]
    }

    private let lock = NSLock()
    private var table = Table()
    private var currentGeneration = 0

    package init(grants: [TokenGrant]) {
        install(grants)
    }

    /// Bumped by every successful reload; a connection re-resolves its token when it
    /// changed.
    package var generation: Int { lock.withLock { currentGeneration } }

    package var grants: [TokenGrant] { lock.withLock { table.principals.map(\.grant) } }

    /// Replaces the tokens. A token whose name, digest and limits are unchanged keeps its
    /// rate limiter (a reload is not a way around the limit).
    package func install(_ grants: [TokenGrant]) {
        lock.withLock {
            let generation = currentGeneration + 1
            var old: [String: Principal] = [:]
            for principal in table.principals { old[principal.grant.name] = principal }
            var next = Table()
            for grant in grants {
                let kept = old[grant.name].flatMap { previous in
                    previous.grant.digest == grant.digest && previous.grant.ratePerSecond == grant.ratePerSecond
                        && previous.grant.burst == grant.burst ? previous.limiter : nil
                }
                let limiter = kept ?? RateLimiter(ratePerSecond: grant.ratePerSecond, burst: grant.burst)
                next.byPrefix[Self.prefix(grant.digest), default: []].append(next.principals.count)
                next.principals.append(Principal(grant: grant, limiter: limiter, generation: generation))
            }
            table = next
            currentGeneration = generation
        }
    }

    /// A principal outside any book (request decoding in tests and the fuzzer).
    package static func standalone(_ grant: TokenGrant) -> Principal {
        Principal(grant: grant, limiter: RateLimiter(ratePerSecond: grant.ratePerSecond, burst: grant.burst), generation: 0)
    }

    /// The token whose secret this is, or nil.
    package func authenticate(secret: some Sequence<UInt8>) -> Principal? {
        principal(digest: SHA256.hash(secret))
    }

    /// The current grant of the token with this digest (after a reload), or nil if it
    /// was removed.
    package func principal(digest: [UInt8]) -> Principal? {
        lock.withLock {
            var found: Principal?
            for index in table.byPrefix[Self.prefix(digest)] ?? [] {
                let candidate = table.principals[index]
                if Self.constantTimeEqual(candidate.grant.digest, digest) { found = candidate }
            }
            return found
        }
    }

    /// The same principal, or its current grant when the file was reloaded since.
    package func refresh(_ principal: Principal) -> Principal? {
        principal.generation == generation ? principal : self.principal(digest: principal.grant.digest)
    }

    static func prefix(_ digest: [UInt8]) -> UInt64 {
        var value: UInt64 = 0
        for byte in digest.prefix(8) { value = value << 8 | UInt64(byte) }
        return value
    }

    /// Every byte is compared, whatever the first difference.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// The token file (docs/OPERATIONS.md, "Tokens and roles"): TOML, one `[[token]]` table
/// per token, with its SHA-256 and never its secret.
///
///     [[token]]
///     name = "gateway-1"
///     sha256 = "…64 hex digits…"
///     role = "trader"              # trader, oracle, admin, read-only
///     accounts = ["1-1000", 5000]  # traders only: ids, inclusive ranges, or "*"
///     rate_per_second = 100000     # optional: auth.rate_per_second
///     burst = 100000               # optional: the rate (one second's worth)
package enum TokenFile {
    /// Tokens in one file at most.
    package static let tokensMax = 10_000
    package static let nameBytesMax = 64
    /// The rate limit's ceiling, a second.
    package static let ratePerSecondMax: Int64 = 100_000_000

    package struct Invalid: Error, CustomStringConvertible {
        package var description: String

        package init(description: String) {
            self.description = description
        }
    }

    package struct Defaults: Sendable {
        package var ratePerSecond: Int64
        package var burst: Int64

        package init(ratePerSecond: Int64, burst: Int64) {
            self.ratePerSecond = ratePerSecond
            self.burst = burst
        }
    }

    package static func read(path: String, defaults: Defaults) throws(Invalid) -> [TokenGrant] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Invalid(description: "token file \(path) cannot be read: \(error.localizedDescription)")
        }
        do {
            return try parse(text, defaults: defaults)
        } catch {
            throw Invalid(description: "token file \(path): \(error.description)")
        }
    }

    package static func parse(_ text: String, defaults: Defaults) throws(Invalid) -> [TokenGrant] {
        let document: TOMLTable
        do {
            try TOMLGuard.check(text)
            document = try TOMLTable(string: text)
        } catch let error as TOMLGuard.Refusal {
            throw Invalid(description: error.description)
        } catch let error as TOMLParseError {
            throw Invalid(description: "line \(error.source.begin.line): \(error.description)")
        } catch {
            throw Invalid(description: "\(error)")
        }
        for key in document.keys where key != "token" {
            throw Invalid(description: "unknown key \(key) (the file holds [[token]] tables only)")
        }
        guard let value = document["token"] else { return [] }
        guard let entries = value.array else { throw Invalid(description: "token must be an array of tables: [[token]]") }
        guard entries.count <= tokensMax else { throw Invalid(description: "\(entries.count) tokens; at most \(tokensMax)") }
        var grants: [TokenGrant] = []
        var names = Set<String>()
        var digests = Set<[UInt8]>()
        for (index, entry) in entries.enumerated() {
            guard let table = entry.table else { throw Invalid(description: "token \(index + 1) is not a table") }
            let grant: TokenGrant
            do {
                grant = try parseEntry(table, defaults: defaults)
            } catch {
                let name = table["name"]?.string.map { " (\($0))" } ?? ""
                throw Invalid(description: "token \(index + 1)\(name): \(error.description)")
            }
            guard names.insert(grant.name).inserted else {
                throw Invalid(description: "token \(index + 1): the name \(grant.name) is used twice")
            }
            guard digests.insert(grant.digest).inserted else {
                throw Invalid(description: "token \(index + 1) (\(grant.name)): the same sha256 as another token")
            }
            grants.append(grant)
        }
        return grants
    }

    static let entryKeys: Set<String> = ["name", "sha256", "role", "accounts", "rate_per_second", "burst"]

    static func parseEntry(_ table: TOMLTable, defaults: Defaults) throws(Invalid) -> TokenGrant {
        for key in table.keys where !entryKeys.contains(key) { throw Invalid(description: "unknown key \(key)") }
        guard let name = table["name"]?.string, isValidName(name) else {
            throw Invalid(description: "name must be 1 ... \(nameBytesMax) characters of A-Z a-z 0-9 . _ -")
        }
        guard let hex = table["sha256"]?.string, let digest = hexDigest(hex) else {
            throw Invalid(description: "sha256 must be 64 hex digits (the SHA-256 of the secret, never the secret)")
        }
        guard let roleName = table["role"]?.string, let role = Role(name: roleName) else {
            throw Invalid(description: "role must be trader, oracle, admin or read-only")
        }
        var accounts = AccountSet.none
        if let given = table["accounts"] {
            guard role == .trader else { throw Invalid(description: "accounts are for trader tokens only") }
            accounts = try parseAccounts(given)
        } else if role == .trader {
            throw Invalid(description: "a trader token needs accounts (ids, ranges \"1-100\", or \"*\")")
        }
        func limit(_ key: String, _ fallback: Int64) throws(Invalid) -> Int64 {
            guard let value = table[key] else { return fallback }
            guard let number = value.int, number >= 1, Int64(number) <= ratePerSecondMax else {
                throw Invalid(description: "\(key) must be an integer in 1 ... \(ratePerSecondMax)")
            }
            return Int64(number)
        }
        let rate = try limit("rate_per_second", defaults.ratePerSecond)
        let burst = try limit("burst", table["rate_per_second"] == nil ? defaults.burst : rate)
        return TokenGrant(name: name, digest: digest, role: role, accounts: accounts, ratePerSecond: rate, burst: burst)
    }

    /// `"*"`, or an array of ids and `"low-high"` ranges.
    static func parseAccounts(_ value: any TOMLValueConvertible) throws(Invalid) -> AccountSet {
        if value.string == "*" { return .all }
        guard let items = value.array else {
            throw Invalid(description: "accounts must be \"*\" or an array of ids and \"low-high\" ranges")
        }
        var ranges: [ClosedRange<UInt64>] = []
        for item in items {
            if let id = item.int {
                guard id >= 0, UInt64(id) <= Limits.idMax else { throw Invalid(description: "account \(id) is outside 0 ... 2^63 - 1") }
                ranges.append(UInt64(id)...UInt64(id))
            } else if let text = item.string {
                ranges.append(try range(text))
            } else {
                throw Invalid(description: "accounts must hold ids and \"low-high\" ranges")
            }
        }
        return try AccountSet(ranges)
    }

    /// `"low-high"`, inclusive, within the id domain.
    static func range(_ text: some StringProtocol) throws(Invalid) -> ClosedRange<UInt64> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]), low <= high, high <= Limits.idMax else {
            throw Invalid(description: "account range \"\(text)\" must be \"low-high\" with low ≤ high ≤ 2^63 - 1")
        }
        return low...high
    }

    /// `ledgerd token add --accounts`: `*`, or ids and `low-high` ranges separated by commas.
    package static func accounts(flag text: String) throws(Invalid) -> AccountSet {
        if text == "*" { return .all }
        var ranges: [ClosedRange<UInt64>] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if let id = UInt64(item) {
                guard id <= Limits.idMax else { throw Invalid(description: "account \(id) is outside 0 ... 2^63 - 1") }
                ranges.append(id...id)
            } else {
                ranges.append(try range(item))
            }
        }
        return try AccountSet(ranges)
    }

    package static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= nameBytesMax
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2E
                    || byte == 0x5F || byte == 0x2D
            }
    }

    static func hexDigest(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for pair in stride(from: 0, to: 64, by: 2) {
            guard let high = hexValue(digits[pair]), let low = hexValue(digits[pair + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }

    package static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Writing (ledgerd token add / remove)

    /// A new secret: "lt_" and 43 base64url characters (32 random bytes from the system's
    /// cryptographic generator).
    package static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let base64 = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "lt_" + base64
    }

    /// The `[[token]]` table for a grant, as text to append.
    package static func entryText(_ grant: TokenGrant, explicitRate: Bool) -> String {
        var lines = [
            "[[token]]", "name = \"\(grant.name)\"", "sha256 = \"\(hex(grant.digest))\"", "role = \"\(grant.role.name)\"",
        ]
        if grant.role == .trader {
            let accounts =
                grant.accounts.isAll
                ? "\"*\""
                : "["
                    + grant.accounts.ranges.map {
                        $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\"\($0.lowerBound)-\($0.upperBound)\""
                    }
                    .joined(separator: ", ") + "]"
            lines.append("accounts = \(accounts)")
        }
        if explicitRate {
            lines.append("rate_per_second = \(grant.ratePerSecond)")
            lines.append("burst = \(grant.burst)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The text without the `[[token]]` table named `name` (comments elsewhere kept), or
    /// nil if there is none.
    package static func removing(name: String, from text: String) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var start: Int?
        for (index, line) in lines.enumerated() where line.trimmingCharacters(in: .whitespaces) == "[[token]]" {
            var end = index + 1
            while end < lines.count && !lines[end].trimmingCharacters(in: .whitespaces).hasPrefix("[") { end += 1 }
            let block = lines[index..<end]
            if block.contains(where: { Self.nameLine($0) == name }) {
                start = index
                lines.removeSubrange(index..<end)
                break
            }
        }
        return start == nil ? nil : lines.joined(separator: "\n")
    }

    private static func nameLine(_ line: String) -> String? {
        let parts = line.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "name" else { return nil }
        var value = parts[1].trimmingCharacters(in: .whitespaces)
        if let hash = value.firstIndex(of: "#"), !value.hasPrefix("\"") || value[..<hash].filter({ $0 == "\"" }).count == 2 {
            value = String(value[..<hash]).trimmingCharacters(in: .whitespaces)
        }
        return value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") ? String(value.dropFirst().dropLast()) : nil
    }
}
