import Foundation
import Journal
import LedgerCore
import Logging

/// ledgerd's settings: defaults, then the TOML file, then environment variables
/// (`LEDGERD_*`), then flags. docs/OPERATIONS.md lists every key.
package struct DaemonConfig: Sendable {
    /// Holds `journal/` and `snapshots/`.
    package var dataDirectory = "/var/lib/ledgerd"
    package var tcpHost = "127.0.0.1"
    package var tcpPort = 7400
    package var httpHost = "127.0.0.1"
    package var httpPort = 7480
    package var fsync: FsyncMode = .batch
    package var segmentBytes: Int64 = 64 << 20
    package var ledgerID: UInt64 = 1
    /// Requests waiting for the engine, all connections together; beyond it: BUSY.
    package var queueCapacity = 262_144
    /// Requests one TCP connection may have unanswered; beyond it: BUSY.
    package var connectionInFlightMax = 65_536
    /// Authenticated TCP (gateway) connections at once; a hello beyond it: BUSY, closed.
    package var tcpConnectionsMax = 1_024
    /// TCP connections that have not said hello yet; a new one beyond it closes the oldest.
    package var tcpPendingConnectionsMax = 256
    /// A TCP connection without a valid hello after this long is closed.
    package var tcpHelloTimeoutMilliseconds: Int64 = 5_000
    /// An authenticated TCP connection that sent nothing and waits for nothing this long is
    /// closed; 0: never.
    package var tcpIdleTimeoutMilliseconds: Int64 = 300_000
    /// HTTP connections between requests (idle, or a request still arriving) at once; a new
    /// one beyond it closes the oldest of them.
    package var httpConnectionsMax = 512
    /// HTTP requests being executed or answered at once; beyond it: 429 BUSY.
    package var httpInFlightMax = 4_096
    /// From a request's first byte to its last; later: the connection is closed.
    package var httpHeaderTimeoutMilliseconds: Int64 = 10_000
    /// A kept-alive HTTP connection with no request this long is closed.
    package var httpIdleTimeoutMilliseconds: Int64 = 60_000
    /// Bearer tokens and their roles.
    package var tokens: [String: Role] = [:]
    /// Decode and re-encode every entry on the writer thread before its block is written
    /// (docs/OPERATIONS.md): an entry that would not read back stops the daemon without
    /// acknowledging it, instead of poisoning the journal.
    package var verifyEntries = true
    package var projectorEnabled = false
    package var projectorURL = ""
    package var projectorBatchEntries = 5_000
    package var logLevel: Logger.Level = .info
    /// The limits of the world journaled at genesis (`Command.setWorldLimits`); they take
    /// effect only on a journal that has none yet (docs/OPERATIONS.md, "The world").
    package var worldLimits = WorldLimits.standard

    package init() {}

    package var journalDirectory: String { dataDirectory + "/journal" }
    package var snapshotDirectory: String { dataDirectory + "/snapshots" }

    package struct Invalid: Error, CustomStringConvertible {
        package var description: String
    }

    /// Applies a TOML file.
    package mutating func apply(toml text: String) throws {
        let values = try TOMLSubset.parse(text)
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("tokens.") {
                guard case .string(let roleName) = value, let role = Self.role(named: roleName) else {
                    throw Invalid(description: "\(key): role must be \"trader\", \"oracle\" or \"admin\"")
                }
                try addToken(String(key.dropFirst("tokens.".count)), role)
                continue
            }
            try set(key, value)
        }
    }

    /// Applies `LEDGERD_<TABLE>_<KEY>` variables, e.g. LEDGERD_PROJECTOR_URL.
    package mutating func apply(environment: [String: String]) throws {
        for key in Self.keys {
            let variable = "LEDGERD_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
            guard let text = environment[variable] else { continue }
            try set(key, Self.guessValue(text))
        }
        if let tokens = environment["LEDGERD_TOKENS"] { try apply(tokenList: tokens) }
    }

    /// "token:role,token:role".
    package mutating func apply(tokenList: String) throws {
        for item in tokenList.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let role = Self.role(named: String(parts[1])) else {
                throw Invalid(description: "token \(item): expected TOKEN:ROLE")
            }
            try addToken(String(parts[0]), role)
        }
    }

    /// A token must fit a TCP hello (`Limits.tokenBytesMax`) and be printable ASCII.
    package mutating func addToken(_ token: String, _ role: Role) throws {
        guard !token.isEmpty, token.utf8.count <= Limits.tokenBytesMax, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Invalid(description: "a token must be 1 ... \(Limits.tokenBytesMax) bytes of printable ASCII")
        }
        tokens[token] = role
    }

    package static let keys = [
        "data_dir", "log_level", "tcp.host", "tcp.port", "http.host", "http.port", "journal.fsync",
        "journal.fsync_interval_ms", "journal.segment_bytes", "journal.ledger_id", "journal.verify_entries",
        "ingress.queue_capacity", "tcp.connections_max", "tcp.pending_connections_max", "tcp.hello_timeout_ms",
        "tcp.idle_timeout_ms", "http.connections_max", "http.in_flight_max", "http.header_timeout_ms", "http.idle_timeout_ms",
        "ingress.connection_in_flight_max", "projector.enabled", "projector.url", "projector.batch_entries",
        "world.accounts_max", "world.resting_orders_max", "world.conditional_orders_max", "world.positions_per_account_max",
    ]

    package mutating func set(_ key: String, _ value: TOMLSubset.Value) throws {
        func string() throws -> String {
            guard case .string(let text) = value else { throw Invalid(description: "\(key) must be a string") }
            return text
        }
        func integer(_ range: ClosedRange<Int64>) throws -> Int64 {
            guard case .integer(let number) = value, range.contains(number) else {
                throw Invalid(description: "\(key) must be an integer in \(range)")
            }
            return number
        }
        switch key {
        case "data_dir": dataDirectory = try string()
        case "log_level":
            guard let level = Logger.Level(rawValue: try string()) else { throw Invalid(description: "unknown log_level") }
            logLevel = level
        case "tcp.host": tcpHost = try string()
        case "tcp.port": tcpPort = Int(try integer(0...65_535))
        case "http.host": httpHost = try string()
        case "http.port": httpPort = Int(try integer(0...65_535))
        case "journal.fsync":
            switch try string() {
            case "batch": fsync = .batch
            case "interval": fsync = .interval(milliseconds: 5)
            case "none": fsync = .none
            default: throw Invalid(description: "journal.fsync must be batch, interval or none")
            }
        case "journal.fsync_interval_ms":
            let milliseconds = Int(try integer(1...10_000))
            if case .interval = fsync { fsync = .interval(milliseconds: milliseconds) }
        case "journal.segment_bytes": segmentBytes = try integer(4_096...(1 << 34))
        case "journal.ledger_id": ledgerID = UInt64(try integer(1...Int64.max))
        case "tcp.connections_max": tcpConnectionsMax = Int(try integer(1...(1 << 20)))
        case "tcp.pending_connections_max": tcpPendingConnectionsMax = Int(try integer(1...(1 << 20)))
        case "tcp.hello_timeout_ms": tcpHelloTimeoutMilliseconds = try integer(1...600_000)
        case "tcp.idle_timeout_ms": tcpIdleTimeoutMilliseconds = try integer(0...86_400_000)
        case "http.connections_max": httpConnectionsMax = Int(try integer(1...(1 << 20)))
        case "http.in_flight_max": httpInFlightMax = Int(try integer(1...(1 << 24)))
        case "http.header_timeout_ms": httpHeaderTimeoutMilliseconds = try integer(1...600_000)
        case "http.idle_timeout_ms": httpIdleTimeoutMilliseconds = try integer(1...86_400_000)
        case "journal.verify_entries":
            guard case .bool(let flag) = value else { throw Invalid(description: "journal.verify_entries must be true or false") }
            verifyEntries = flag
        case "ingress.queue_capacity": queueCapacity = Int(try integer(1...(1 << 24)))
        case "ingress.connection_in_flight_max": connectionInFlightMax = Int(try integer(1...(1 << 24)))
        case "projector.enabled":
            guard case .bool(let flag) = value else { throw Invalid(description: "projector.enabled must be true or false") }
            projectorEnabled = flag
        case "projector.url": projectorURL = try string()
        case "projector.batch_entries": projectorBatchEntries = Int(try integer(1...1_000_000))
        case "world.accounts_max": worldLimits.accountsMax = try integer(1...WorldLimits.ceiling.accountsMax)
        case "world.resting_orders_max": worldLimits.restingOrdersMax = try integer(1...WorldLimits.ceiling.restingOrdersMax)
        case "world.conditional_orders_max":
            worldLimits.conditionalOrdersMax = try integer(1...WorldLimits.ceiling.conditionalOrdersMax)
        case "world.positions_per_account_max":
            worldLimits.positionsPerAccountMax = try integer(1...WorldLimits.ceiling.positionsPerAccountMax)
        default: throw Invalid(description: "unknown setting \(key)")
        }
    }

    package static func role(named name: String) -> Role? {
        switch name {
        case "trader": .trader
        case "oracle": .oracle
        case "admin": .admin
        default: nil
        }
    }

    package static func guessValue(_ text: String) -> TOMLSubset.Value {
        if text == "true" || text == "false" { return .bool(text == "true") }
        if let number = Int64(text) { return .integer(number) }
        return .string(text)
    }
}
