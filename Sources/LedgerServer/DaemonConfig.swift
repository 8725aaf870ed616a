import Foundation
import Journal
import LedgerCore
import Logging
import TOMLKit

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
    package var lz4Acceleration = JournalWriter.Options.lz4AccelerationDefault
    package var ledgerID: UInt64 = 1
    /// Requests waiting for the engine, all connections together; beyond it: BUSY.
    package var queueCapacity = 262_144
    /// Requests one TCP connection may have unanswered; beyond it: BUSY.
    package var connectionInFlightMax = 65_536
    /// Authenticated TCP (gateway) connections at once; a hello beyond it: BUSY, closed.
    package var tcpConnectionsMax = 1_024
    /// TCP connections that have not said hello yet; a new one beyond it closes the oldest.
    package var tcpPendingConnectionsMax = 256
    /// Connections the kernel completes and queues for ledgerd to accept (listen(2)'s
    /// backlog, clamped by net.core.somaxconn). A burst larger than it is not queued: the
    /// kernel drops the handshakes beyond, and they come back seconds later, after the
    /// connections that followed them.
    package var tcpListenBacklog = 4_096
    /// A TCP connection without a valid hello after this long is closed.
    package var tcpHelloTimeoutMilliseconds: Int64 = 5_000
    /// An authenticated TCP connection that sent nothing and waits for nothing this long is
    /// closed; 0: never.
    package var tcpIdleTimeoutMilliseconds: Int64 = 300_000
    /// HTTP connections between requests (idle, or a request still arriving) at once; a new
    /// one beyond it closes the oldest of them.
    package var httpConnectionsMax = 512
    /// The HTTP listener's backlog, as `tcpListenBacklog`.
    package var httpListenBacklog = 4_096
    /// HTTP requests being executed or answered at once; beyond it: 429 BUSY.
    package var httpInFlightMax = 4_096
    /// From a request's first byte to its last; later: the connection is closed.
    package var httpHeaderTimeoutMilliseconds: Int64 = 10_000
    /// A kept-alive HTTP connection with no request this long is closed.
    package var httpIdleTimeoutMilliseconds: Int64 = 60_000
    /// A request body larger than this is answered 413.
    package var httpBodyBytesMax = 65_536
    /// The token file: SHA-256 digests, roles and accounts (docs/OPERATIONS.md, "Tokens
    /// and roles"); read at start and on SIGHUP.
    package var tokensFile = "/etc/ledgerd/tokens.toml"
    /// A token's requests a second (TCP and HTTP together) unless its entry says otherwise.
    package var tokenRatePerSecond: Int64 = 1_000_000
    /// Requests a token may send at once above its rate; 0: one second's worth.
    package var tokenBurst: Int64 = 0
    /// Decode every entry on the writer thread and compare it with what the engine made
    /// before its block is written (docs/OPERATIONS.md): an entry that would not read back
    /// as written stops the daemon without acknowledging it, instead of poisoning the
    /// journal.
    package var verifyEntries = true
    package var projectorEnabled = false
    package var projectorURL = ""
    package var projectorBatchEntries = 20_000
    /// The PostgreSQL schema of the read models (`ledger-replay project --swap` renames into it).
    package var projectorSchema = "public"
    /// The nice value of the projector's threads (0: as the engine's).
    package var projectorNiceness = 10
    package var logLevel: Logger.Level = .info
    /// `text` (swift-log's stream handler) or `json` (one object a line).
    package var logFormat = "text"
    /// The limits of the world journaled at genesis (`Command.setWorldLimits`); they take
    /// effect only on a journal that has none yet (docs/OPERATIONS.md, "The world").
    package var worldLimits = WorldLimits.standard
    /// The recent history kept in memory for the history endpoints (`history.*`).
    package var history = HistoryLimits()
    /// The live stream's listener and bounds (`stream.*`).
    package var streamHost = "127.0.0.1"
    package var streamPort = 7481
    package var streamClientsMax = 1_024
    package var streamBufferMessages = 200_000
    package var streamResumeWindowMilliseconds: Int64 = 60_000

    package init() {}

    package var journalDirectory: String { dataDirectory + "/journal" }
    package var snapshotDirectory: String { dataDirectory + "/snapshots" }

    package struct Invalid: Error, CustomStringConvertible {
        package var description: String
    }

    /// Applies a TOML file (parsed by TOMLKit): every key must be one of `keys`, with a
    /// value of its type; tables nest one level (`[tcp]`, `[journal]`, …).
    package mutating func apply(toml text: String) throws {
        for (key, value) in try Self.flatten(toml: text).sorted(by: { $0.key < $1.key }) { try set(key, value) }
    }

    /// "table.key" → value, for the scalar values ledgerd's settings take.
    package static func flatten(toml text: String) throws -> [String: ConfigValue] {
        let document: TOMLTable
        do {
            try TOMLGuard.check(text)
            document = try TOMLTable(string: text)
        } catch let error as TOMLGuard.Refusal {
            throw Invalid(description: "config \(error.description)")
        } catch let error as TOMLParseError {
            throw Invalid(description: "config line \(error.source.begin.line): \(error.description)")
        }
        var values: [String: ConfigValue] = [:]
        func add(_ key: String, _ value: any TOMLValueConvertible) throws {
            if key == "tokens" || key.hasPrefix("tokens.") {
                throw Invalid(
                    description:
                        "[tokens] is no longer read: secrets do not belong in the configuration. Keep SHA-256 digests in a token file "
                        + "(auth.tokens_file; `ledgerd token add`), docs/OPERATIONS.md, \"Tokens and roles\"")
            }
            switch value.type {
            case .string: values[key] = .string(value.string!)
            case .int: values[key] = .integer(Int64(value.int!))
            case .bool: values[key] = .bool(value.bool!)
            default: throw Invalid(description: "\(key): a \(value.type) is not a value of any setting")
            }
        }
        for (key, value) in document {
            if let table = value.table {
                for (inner, innerValue) in table {
                    guard innerValue.table == nil else { throw Invalid(description: "\(key).\(inner): tables nest one level only") }
                    try add(key + "." + inner, innerValue)
                }
            } else {
                try add(key, value)
            }
        }
        return values
    }

    /// The layers in order: defaults, the TOML file's text, the environment, then flags
    /// (each a key and its value; later wins).
    package static func layered(
        toml: String?, environment: [String: String], flags: [(key: String, value: ConfigValue)]
    ) throws -> DaemonConfig {
        var settings = DaemonConfig()
        if let toml { try settings.apply(toml: toml) }
        try settings.apply(environment: environment)
        for flag in flags { try settings.set(flag.key, flag.value) }
        return settings
    }

    /// Applies `LEDGERD_<TABLE>_<KEY>` variables, e.g. LEDGERD_PROJECTOR_URL.
    package mutating func apply(environment: [String: String]) throws {
        for key in Self.keys {
            let variable = Self.environmentVariable(key)
            guard let text = environment[variable] else { continue }
            try set(key, Self.guessValue(text))
        }
        if environment["LEDGERD_TOKENS"] != nil {
            throw Invalid(description: "LEDGERD_TOKENS is no longer read: keep SHA-256 digests in a token file (auth.tokens_file)")
        }
    }

    package static func environmentVariable(_ key: String) -> String {
        "LEDGERD_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    package static let keys = [
        "data_dir", "log_level", "log_format", "tcp.host", "tcp.port", "http.host", "http.port", "journal.fsync",
        "journal.fsync_interval_ms", "journal.segment_bytes", "journal.ledger_id", "journal.verify_entries",
        "journal.lz4_acceleration",
        "ingress.queue_capacity", "tcp.connections_max", "tcp.pending_connections_max", "tcp.listen_backlog",
        "tcp.hello_timeout_ms", "tcp.idle_timeout_ms", "http.connections_max", "http.listen_backlog", "http.in_flight_max",
        "http.header_timeout_ms", "http.idle_timeout_ms",
        "http.body_bytes_max",
        "ingress.connection_in_flight_max", "projector.enabled", "projector.url", "projector.batch_entries", "projector.schema",
        "projector.niceness",
        "world.accounts_max", "world.resting_orders_max", "world.conditional_orders_max", "world.positions_per_account_max",
        "auth.tokens_file", "auth.rate_per_second", "auth.burst", "history.orders_max", "history.trades_max", "history.income_max",
        "history.force_orders_max", "stream.host", "stream.port", "stream.clients_max", "stream.buffer_messages",
        "stream.resume_window_ms",
    ]

    package mutating func set(_ key: String, _ value: ConfigValue) throws {
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
        case "log_format":
            let format = try string()
            guard format == "text" || format == "json" else { throw Invalid(description: "log_format must be text or json") }
            logFormat = format
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
        case "journal.lz4_acceleration":
            let range = JournalWriter.Options.lz4AccelerationRange
            lz4Acceleration = Int32(try integer(Int64(range.lowerBound)...Int64(range.upperBound)))
        case "journal.ledger_id": ledgerID = UInt64(try integer(1...Int64.max))
        case "tcp.connections_max": tcpConnectionsMax = Int(try integer(1...(1 << 20)))
        case "tcp.pending_connections_max": tcpPendingConnectionsMax = Int(try integer(1...(1 << 20)))
        case "tcp.listen_backlog": tcpListenBacklog = Int(try integer(1...65_535))
        case "tcp.hello_timeout_ms": tcpHelloTimeoutMilliseconds = try integer(1...600_000)
        case "tcp.idle_timeout_ms": tcpIdleTimeoutMilliseconds = try integer(0...86_400_000)
        case "http.connections_max": httpConnectionsMax = Int(try integer(1...(1 << 20)))
        case "http.listen_backlog": httpListenBacklog = Int(try integer(1...65_535))
        case "http.in_flight_max": httpInFlightMax = Int(try integer(1...(1 << 24)))
        case "http.header_timeout_ms": httpHeaderTimeoutMilliseconds = try integer(1...600_000)
        case "http.idle_timeout_ms": httpIdleTimeoutMilliseconds = try integer(1...86_400_000)
        case "http.body_bytes_max": httpBodyBytesMax = Int(try integer(1_024...(16 << 20)))
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
        case "projector.niceness": projectorNiceness = Int(try integer(0...19))
        case "projector.schema":
            let name = try string()
            guard (1...40).contains(name.utf8.count),
                name.utf8.allSatisfy({ $0 == 0x5F || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) })
            else { throw Invalid(description: "projector.schema must be 1…40 characters of [a-z0-9_]") }
            projectorSchema = name
        case "world.accounts_max": worldLimits.accountsMax = try integer(1...WorldLimits.ceiling.accountsMax)
        case "world.resting_orders_max": worldLimits.restingOrdersMax = try integer(1...WorldLimits.ceiling.restingOrdersMax)
        case "world.conditional_orders_max":
            worldLimits.conditionalOrdersMax = try integer(1...WorldLimits.ceiling.conditionalOrdersMax)
        case "world.positions_per_account_max":
            worldLimits.positionsPerAccountMax = try integer(1...WorldLimits.ceiling.positionsPerAccountMax)
        case "auth.tokens_file": tokensFile = try string()
        case "auth.rate_per_second": tokenRatePerSecond = try integer(1...TokenFile.ratePerSecondMax)
        case "auth.burst": tokenBurst = try integer(0...TokenFile.ratePerSecondMax)
        case "stream.host": streamHost = try string()
        case "stream.port": streamPort = Int(try integer(0...65_535))
        case "stream.clients_max": streamClientsMax = Int(try integer(1...65_536))
        case "stream.buffer_messages": streamBufferMessages = Int(try integer(1_000...100_000_000))
        case "stream.resume_window_ms": streamResumeWindowMilliseconds = try integer(0...86_400_000)
        case "history.orders_max": history.ordersMax = Int(try integer(0...HistoryLimits.recordsMax))
        case "history.trades_max": history.tradesMax = Int(try integer(0...HistoryLimits.recordsMax))
        case "history.income_max": history.incomeMax = Int(try integer(0...HistoryLimits.recordsMax))
        case "history.force_orders_max": history.forceOrdersMax = Int(try integer(0...HistoryLimits.recordsMax))
        default: throw Invalid(description: "unknown setting \(key)")
        }
    }

    /// Every setting as ledgerd runs with it, for the start-up log: no secret (the token
    /// file holds none; a password in the projector URL is replaced by `***`).
    package var summary: [String: String] {
        var values: [String: String] = [
            "data_dir": dataDirectory, "log_level": logLevel.rawValue, "log_format": logFormat, "tcp.host": tcpHost,
            "tcp.port": "\(tcpPort)", "http.host": httpHost, "http.port": "\(httpPort)", "journal.segment_bytes": "\(segmentBytes)",
            "journal.lz4_acceleration": "\(lz4Acceleration)",
            "journal.ledger_id": "\(ledgerID)", "journal.verify_entries": "\(verifyEntries)", "ingress.queue_capacity": "\(queueCapacity)",
            "ingress.connection_in_flight_max": "\(connectionInFlightMax)", "tcp.connections_max": "\(tcpConnectionsMax)",
            "tcp.pending_connections_max": "\(tcpPendingConnectionsMax)", "tcp.hello_timeout_ms": "\(tcpHelloTimeoutMilliseconds)",
            "tcp.idle_timeout_ms": "\(tcpIdleTimeoutMilliseconds)", "http.connections_max": "\(httpConnectionsMax)",
            "tcp.listen_backlog": "\(tcpListenBacklog)", "http.listen_backlog": "\(httpListenBacklog)",
            "http.in_flight_max": "\(httpInFlightMax)", "http.header_timeout_ms": "\(httpHeaderTimeoutMilliseconds)",
            "http.idle_timeout_ms": "\(httpIdleTimeoutMilliseconds)", "http.body_bytes_max": "\(httpBodyBytesMax)",
            "projector.enabled": "\(projectorEnabled)", "projector.url": Self.redacted(url: projectorURL),
            "projector.batch_entries": "\(projectorBatchEntries)", "projector.schema": projectorSchema,
            "projector.niceness": "\(projectorNiceness)", "auth.tokens_file": tokensFile,
            "auth.rate_per_second": "\(tokenRatePerSecond)", "auth.burst": "\(tokenBurst)",
            "world.accounts_max": "\(worldLimits.accountsMax)", "world.resting_orders_max": "\(worldLimits.restingOrdersMax)",
            "world.conditional_orders_max": "\(worldLimits.conditionalOrdersMax)",
            "world.positions_per_account_max": "\(worldLimits.positionsPerAccountMax)",
            "history.orders_max": "\(history.ordersMax)", "history.trades_max": "\(history.tradesMax)",
            "history.income_max": "\(history.incomeMax)", "history.force_orders_max": "\(history.forceOrdersMax)",
            "stream.host": streamHost, "stream.port": "\(streamPort)", "stream.clients_max": "\(streamClientsMax)",
            "stream.buffer_messages": "\(streamBufferMessages)",
            "stream.resume_window_ms": "\(streamResumeWindowMilliseconds)",
        ]
        switch fsync {
        case .batch: values["journal.fsync"] = "batch"
        case .interval(let milliseconds): values["journal.fsync"] = "interval"; values["journal.fsync_interval_ms"] = "\(milliseconds)"
        case .none: values["journal.fsync"] = "none"
        }
        return values
    }

    /// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`; a
    /// `password=` parameter likewise.
    package static func redacted(url: String) -> String {
        var text = url
        if let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@"),
            let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
        {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
        if let password = text.range(of: "password=") {
            let end = text[password.upperBound...].firstIndex(where: { $0 == "&" || $0 == " " }) ?? text.endIndex
            text.replaceSubrange(password.upperBound..<end, with: "***")
        }
        return text
    }

    /// The defaults a token file's entries fall back on.
    package var tokenDefaults: TokenFile.Defaults {
        TokenFile.Defaults(ratePerSecond: tokenRatePerSecond, burst: tokenBurst == 0 ? tokenRatePerSecond : tokenBurst)
    }

    package static func guessValue(_ text: String) -> ConfigValue {
        if text == "true" || text == "false" { return .bool(text == "true") }
        if let number = Int64(text) { return .integer(number) }
        return .string(text)
    }
}

/// A setting's value, from the TOML file, the environment or a flag.
package enum ConfigValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
}
