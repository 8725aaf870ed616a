import ArgumentParser
import Foundation
import Journal
import LedgerCore
import LedgerServer
import Logging
import NIOCore
import NIOPosix
import Projection
import ServiceLifecycle
import Snapshots
import ToolSupport

@main
struct LedgerDaemon: AsyncParsableCommand {
    /// Bad usage exits 2, as a bad configuration does (ArgumentParser's own code is 64).
    static func main() async { await asyncMainWithProjectExitCodes() }

    static let configuration = CommandConfiguration(
        commandName: "ledgerd",
        abstract: "The ExchangeLedger daemon: sequencer, matching engine and journal.",
        discussion: "`ledgerd [serve] OPTIONS` runs the daemon; `ledgerd token …` manages the token file. See docs/OPERATIONS.md.",
        subcommands: [Serve.self, TokenCommand.self], defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon (the default).",
        discussion: """
            Settings come from --config (TOML), then LEDGERD_* environment variables, then flags. Tokens come from the \
            token file (auth.tokens_file, --tokens-file), re-read on SIGHUP. See docs/OPERATIONS.md.
            """)

    @Option(help: "TOML configuration file.") var config: String?
    @Option(name: .customLong("data-dir"), help: "Directory for journal/ and snapshots/.") var dataDirectory: String?
    @Option(name: .customLong("tcp-port"), help: "Binary protocol port (loopback by default).") var tcpPort: Int?
    @Option(name: .customLong("http-port"), help: "HTTP/JSON port.") var httpPort: Int?
    @Option(name: .customLong("stream-port"), help: "Live stream (WebSocket) port.") var streamPort: Int?
    @Option(help: "fsync mode: batch, interval or none (tests only).") var fsync: String?
    @Option(name: .customLong("tokens-file"), help: "The token file (SHA-256 digests and roles); re-read on SIGHUP.")
    var tokensFile: String?
    @Option(name: .customLong("projector-url"), help: "PostgreSQL URL for the read models; enables the projector.") var projectorURL:
        String?
    @Flag(name: .customLong("no-projector"), help: "Do not project into PostgreSQL.") var noProjector = false
    @Option(name: .customLong("segment-bytes"), help: "Journal segment size before rolling.") var segmentBytes: Int64?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text or json (one JSON object a line).") var logFormat: String?

    func loadConfig() throws -> DaemonConfig {
        var flags: [(key: String, value: ConfigValue)] = []
        if let dataDirectory { flags.append(("data_dir", .string(dataDirectory))) }
        if let tcpPort { flags.append(("tcp.port", .integer(Int64(tcpPort)))) }
        if let httpPort { flags.append(("http.port", .integer(Int64(httpPort)))) }
        if let streamPort { flags.append(("stream.port", .integer(Int64(streamPort)))) }
        if let fsync { flags.append(("journal.fsync", .string(fsync))) }
        if let segmentBytes { flags.append(("journal.segment_bytes", .integer(segmentBytes))) }
        if let logLevel { flags.append(("log_level", .string(logLevel))) }
        if let logFormat { flags.append(("log_format", .string(logFormat))) }
        if let tokensFile { flags.append(("auth.tokens_file", .string(tokensFile))) }
        if let projectorURL { flags += [("projector.url", .string(projectorURL)), ("projector.enabled", .bool(true))] }
        if noProjector { flags.append(("projector.enabled", .bool(false))) }
        return try DaemonConfig.layered(
            toml: try config.map { try String(contentsOfFile: $0, encoding: .utf8) }, environment: ProcessInfo.processInfo.environment,
            flags: flags)
    }

    func run() async throws {
        let settings: DaemonConfig
        do {
            settings = try loadConfig()
        } catch {
            FileHandle.standardError.write(Data("ledgerd: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let (level, json) = (settings.logLevel, settings.logFormat == "json")
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ledgerd")
        // Every setting as it runs, secrets never (docs/OPERATIONS.md, "Configuration").
        logger.info("configuration", metadata: settings.summary.mapValues { .string($0) })
        let tokens: TokenBook
        do {
            tokens = TokenBook(grants: try Self.readTokens(settings))
            logger.info("tokens", metadata: Self.tokenSummary(tokens.grants, path: settings.tokensFile))
        } catch {
            logger.error("\(error); create one with `ledgerd token add --file \(settings.tokensFile) --name NAME --role ROLE`")
            throw ExitCode(2)
        }

        // Descriptors: the soft limit up to the hard one, and the connection caps must fit
        // below it with room for the journal, snapshots and PostgreSQL.
        var descriptors = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &descriptors)
        if descriptors.rlim_cur < descriptors.rlim_max {
            descriptors.rlim_cur = descriptors.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &descriptors)
        }
        let connectionsMax = settings.tcpConnectionsMax + settings.tcpPendingConnectionsMax + settings.httpConnectionsMax
        logger.info(
            "limits",
            metadata: [
                "descriptors": "\(descriptors.rlim_cur)", "tcp_connections_max": "\(settings.tcpConnectionsMax)",
                "tcp_pending_connections_max": "\(settings.tcpPendingConnectionsMax)",
                "http_connections_max": "\(settings.httpConnectionsMax)",
                "http_in_flight_max": "\(settings.httpInFlightMax)",
                "tcp_listen_backlog": "\(settings.tcpListenBacklog)", "http_listen_backlog": "\(settings.httpListenBacklog)",
            ])
        // The kernel clamps a listen backlog to net.core.somaxconn without a word.
        if let text = try? String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8),
            let somaxconn = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            somaxconn < max(settings.tcpListenBacklog, settings.httpListenBacklog)
        {
            logger.warning(
                "net.core.somaxconn caps the listen backlogs: a burst of connections beyond it is dropped and retried",
                metadata: [
                    "somaxconn": "\(somaxconn)", "tcp_listen_backlog": "\(settings.tcpListenBacklog)",
                    "http_listen_backlog": "\(settings.httpListenBacklog)",
                ])
        }
        if UInt64(connectionsMax) + 64 > UInt64(descriptors.rlim_cur) {
            logger.warning("the connection caps exceed the descriptors available: lower them or raise LimitNOFILE")
        }

        // One owner per data directory: the journal's lock, held until the process exits
        // (the kernel drops it even at SIGKILL). A second ledgerd stops here.
        let ownership: DirectoryLock
        do {
            try FileManager.default.createDirectory(atPath: settings.journalDirectory, withIntermediateDirectories: true)
            ownership = try DirectoryLock.acquire(directory: settings.journalDirectory, owner: "ledgerd")
        } catch {
            logger.critical("cannot own the data directory", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        defer { withExtendedLifetime(ownership) {} }

        // The services, under swift-service-lifecycle: HTTP from the first moment (live
        // during recovery), the ledger (recovery, engine, TCP, projector), and SIGHUP.
        // SIGTERM or SIGINT shuts them down in reverse order: the ledger drains first while
        // HTTP still answers health; HTTP stops last.
        // The registry lives in LedgerMetrics.current from here on.
        _ = LedgerMetrics.bootstrap()
        let status = DaemonStatus()
        status.snapshotDirectory = settings.snapshotDirectory
        // One event loop thread, NIO's process-wide group, never shut down. Hummingbird ends
        // a server's graceful shutdown in a task of its own that its run does not wait for;
        // a group of ours shut down after the services returned was sometimes gone when
        // that task read its future: "Cannot schedule tasks on an EventLoop that has already
        // shut down", which SwiftNIO says will become a crash (SWIFTNIO_STRICT=1 makes it
        // one; a SIGTERM as soon as the daemon listens, under load, showed it).
        NIOSingletons.groupLoopCountSuggestion = 1
        let group = MultiThreadedEventLoopGroup.singleton
        let api = HTTPAPI(
            tokens: tokens, status: status, bodyBytesMax: settings.httpBodyBytesMax, inFlightMax: settings.httpInFlightMax,
            debugHooks: ProcessInfo.processInfo.environment["LEDGERD_DEBUG_HOOKS"] == "1")
        let httpListening = Rendezvous<Int>()
        let http = HTTPServer.application(
            api: api, config: settings, status: status, eventLoopGroup: group, logger: Logger(label: "ledgerd.http")
        ) {
            port in
            await httpListening.put(port)
        }
        let hub = StreamHub(
            capacity: settings.streamBufferMessages,
            resumeWindow: .milliseconds(settings.streamResumeWindowMilliseconds), replayHistoryLimits: settings.history)
        status.streamClients = { (hub.clientCount, hub.cutCount, hub.journalReplays) }
        var streamSettings = StreamServer.Settings()
        streamSettings.clientsMax = settings.streamClientsMax
        streamSettings.journalDirectory = settings.journalDirectory
        streamSettings.snapshotDirectory = settings.snapshotDirectory
        let streamLogger = Logger(label: "ledgerd.stream")
        let stream = StreamServer(hub: hub, tokens: tokens, api: api, settings: streamSettings, logger: streamLogger)
            .application(host: settings.streamHost, port: settings.streamPort, eventLoopGroup: group) { port in
                streamLogger.info("stream listening", metadata: ["stream_port": "\(port)"])
            }
        let ledger = LedgerService(
            settings: settings, tokens: tokens, status: status, api: api, group: group, httpListening: httpListening, stream: hub,
            logger: logger)
        let reload = ReloadService(settings: settings, tokens: tokens, logger: logger)
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: http, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: stream, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: reload),
                    .init(
                        service: ledger, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "ledgerd.services")))
        do {
            try await services.run()
        } catch {
            // HTTP could not bind: the ledger never started (or stopped on its own code).
            if ledger.exitCode == 0 {
                logger.critical("cannot listen", metadata: ["error": "\(error)"])
                await httpListening.put(nil)
                throw ExitCode(1)
            }
        }
        if ledger.exitCode != 0 { throw ExitCode(ledger.exitCode) }
    }

    /// The token file, which must hold at least one token.
    static func readTokens(_ settings: DaemonConfig) throws -> [TokenGrant] {
        let grants = try TokenFile.read(path: settings.tokensFile, defaults: settings.tokenDefaults)
        guard !grants.isEmpty else { throw TokenFile.Invalid(description: "token file \(settings.tokensFile) has no token") }
        return grants
    }

    /// What the log says of the tokens: names and roles, never a secret or a digest.
    static func tokenSummary(_ grants: [TokenGrant], path: String) -> Logger.Metadata {
        var byRole: [String: Int] = [:]
        for grant in grants { byRole[grant.role.name, default: 0] += 1 }
        return [
            "file": "\(path)", "tokens": "\(grants.count)",
            "roles": "\(byRole.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
        ]
    }
}
