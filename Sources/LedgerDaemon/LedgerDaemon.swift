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
    @Option(help: "fsync mode: batch, interval or none (tests only).") var fsync: String?
    @Option(name: .customLong("tokens-file"), help: "The token file (SHA-256 digests and roles); re-read on SIGHUP.")
    var tokensFile: String?
    @Option(name: .customLong("projector-url"), help: "PostgreSQL URL for the read models; enables the projector.") var projectorURL:
        String?
    @Flag(name: .customLong("no-projector"), help: "Do not project into PostgreSQL.") var noProjector = false
    @Option(name: .customLong("segment-bytes"), help: "Journal segment size before rolling.") var segmentBytes: Int64?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel: String?

    func loadConfig() throws -> DaemonConfig {
        var flags: [(key: String, value: ConfigValue)] = []
        if let dataDirectory { flags.append(("data_dir", .string(dataDirectory))) }
        if let tcpPort { flags.append(("tcp.port", .integer(Int64(tcpPort)))) }
        if let httpPort { flags.append(("http.port", .integer(Int64(httpPort)))) }
        if let fsync { flags.append(("journal.fsync", .string(fsync))) }
        if let segmentBytes { flags.append(("journal.segment_bytes", .integer(segmentBytes))) }
        if let logLevel { flags.append(("log_level", .string(logLevel))) }
        if let tokensFile { flags.append(("auth.tokens_file", .string(tokensFile))) }
        if let projectorURL { flags += [("projector.url", .string(projectorURL)), ("projector.enabled", .bool(true))] }
        if noProjector { flags.append(("projector.enabled", .bool(false))) }
        return try DaemonConfig.layered(
            toml: try config.map { try String(contentsOfFile: $0, encoding: .utf8) }, environment: ProcessInfo.processInfo.environment,
            flags: flags)
    }

    func run() async throws {
        let termination = Termination()
        let settings: DaemonConfig
        do {
            settings = try loadConfig()
        } catch {
            FileHandle.standardError.write(Data("ledgerd: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ledgerd")
        let tokens: TokenBook
        do {
            let grants = try TokenFile.read(path: settings.tokensFile, defaults: settings.tokenDefaults)
            guard !grants.isEmpty else { throw TokenFile.Invalid(description: "token file \(settings.tokensFile) has no token") }
            tokens = TokenBook(grants: grants)
            logger.info("tokens", metadata: Self.tokenSummary(grants, path: settings.tokensFile))
        } catch {
            logger.error("\(error); create one with `ledgerd token add --file \(settings.tokensFile) --name NAME --role ROLE`")
            throw ExitCode(2)
        }
        // SIGHUP re-reads the token file; a file that does not parse leaves the tokens as
        // they were (never none).
        termination.onReload = {
            do {
                let grants = try TokenFile.read(path: settings.tokensFile, defaults: settings.tokenDefaults)
                guard !grants.isEmpty else { throw TokenFile.Invalid(description: "token file \(settings.tokensFile) has no token") }
                tokens.install(grants)
                logger.notice("reloaded tokens", metadata: Self.tokenSummary(grants, path: settings.tokensFile))
            } catch {
                logger.error("reload refused; the tokens stay as they were", metadata: ["error": "\(error)"])
            }
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
            ])
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

        SystemdNotifier.notify("STATUS=recovering")
        let started = ContinuousClock.now
        let startup: Recovery.Startup
        do {
            startup = try Recovery.start(
                journal: .init(
                    directory: settings.journalDirectory, ledgerID: settings.ledgerID, segmentBytesTarget: settings.segmentBytes,
                    fsync: settings.fsync),
                snapshotDirectory: settings.snapshotDirectory
            ) { sequence in
                SystemdNotifier.notify("STATUS=replaying journal at sequence \(sequence)")
            }
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        let journal = startup.journal
        if let segment = journal.recovery.truncatedSegment {
            logger.warning(
                "cut a torn journal tail (never acknowledged)",
                metadata: [
                    "segment": "\(segment)", "offset": "\(journal.recovery.truncatedAtOffset)",
                    "bytes": "\(journal.recovery.truncatedBytes)", "reason": "\(journal.recovery.reason ?? "")",
                ])
        }
        for skipped in startup.report.skippedSnapshots {
            logger.warning("skipped a snapshot", metadata: ["snapshot": "\(skipped.name)", "reason": "\(skipped.reason)"])
        }
        if let first = startup.report.journalFirstSequence, first > 1 {
            // Older segments were removed (retention): say where the history before the
            // journal lives, so a lost first segment is never silent.
            logger.notice(
                "the journal starts after sequence 1; the entries before it are in the snapshot",
                metadata: ["journalStartsAt": "\(first)", "snapshot": "\(startup.report.snapshot?.name ?? "none")"])
        }
        logger.info(
            "recovered",
            metadata: [
                "sequence": "\(startup.state.lastSequence)",
                "snapshot": "\(startup.report.snapshot?.name ?? "none")", "replayed": "\(startup.report.entriesReplayed)",
                "elapsed": "\(ContinuousClock.now - started)",
            ])

        let status = DaemonStatus()
        let sequencer = Sequencer(
            state: startup.state, journal: journal, queueCapacity: settings.queueCapacity, verifyEntries: settings.verifyEntries,
            worldLimits: settings.worldLimits, logger: logger)
        let api = HTTPAPI(
            sequencer: sequencer, tokens: tokens, status: status, bodyBytesMax: settings.httpBodyBytesMax,
            inFlightMax: settings.httpInFlightMax)
        sequencer.onCatalogChange = { catalog in api.updateCatalog(catalog) }
        sequencer.onFatal = { error in
            status.ready = false
            SystemdNotifier.notify("STATUS=journal failure: \(error)")
            FileHandle.standardError.write(Data("ledgerd: fatal: \(error)\n".utf8))
            Foundation.exit(70)
        }
        sequencer.start()

        var projector: Projector?
        if settings.projectorEnabled {
            let projectorLogger = Logger(label: "ledgerd.projector")
            let started = Projector(
                options: .init(
                    url: settings.projectorURL, journalDirectory: settings.journalDirectory,
                    snapshotDirectory: settings.snapshotDirectory, batchEntries: settings.projectorBatchEntries),
                durableSequence: { sequencer.durableSequence },
                log: { level, message in
                    if level == "info" { projectorLogger.info("\(message)") } else { projectorLogger.warning("\(message)") }
                })
            started.start()
            projector = started
            status.projector = started
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = ConnectionRegistry()
        // Requests are taken from the moment a listener exists: the engine is running. (Set
        // after binding, a client that connected in between was told "shutting down".)
        status.accepting = true
        let tcp: Channel
        let httpPort: Int
        // HTTP is Hummingbird's server, run as a service of a group of its own: stopped
        // gracefully at shutdown (in-flight requests answered).
        let (listening, listeningContinuation) = AsyncStream.makeStream(of: Int.self)
        let http = HTTPServer.application(api: api, config: settings, eventLoopGroup: group, logger: Logger(label: "ledgerd.http")) {
            port in
            listeningContinuation.yield(port)
            listeningContinuation.finish()
        }
        let httpServices = ServiceGroup(
            configuration: .init(services: [http], gracefulShutdownSignals: [], logger: Logger(label: "ledgerd.http")))
        let httpTask = Task {
            // A server that cannot bind ends the stream, so the wait below ends too.
            defer { listeningContinuation.finish() }
            try await httpServices.run()
        }
        do {
            // HTTP first: once the gateway port answers, health and metrics do too.
            var iterator = listening.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await httpTask.value
                throw CancellationError()
            }
            httpPort = port
            tcp = try await TCPServer.bind(
                host: settings.tcpHost, port: settings.tcpPort, group: group, sequencer: sequencer, config: settings, tokens: tokens,
                registry: connections
            ) { status.accepting }
        } catch {
            logger.critical("cannot listen", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        status.ready = true
        SystemdNotifier.notify("READY=1\nSTATUS=serving")
        logger.info("listening", metadata: ["tcp_port": "\(tcp.localAddress?.port ?? 0)", "http_port": "\(httpPort)"])

        await termination.wait()
        logger.info("stopping: draining queued requests")
        SystemdNotifier.notify("STOPPING=1")
        status.accepting = false
        status.ready = false
        try? await tcp.close()
        await httpServices.triggerGracefulShutdown()
        _ = try? await httpTask.value
        sequencer.stopAndDrain()
        // Every reply released by the drain leaves before the connections close.
        await connections.flushAll(timeout: .seconds(5))
        // Then each connection ends so that the replies reach the peer: output half-closed,
        // input drained until the peer closes (a well-behaved gateway does at the end of
        // the stream), at most 2 s, all connections at once.
        await connections.finishAll(timeout: .seconds(2))
        projector?.stop()
        do {
            try sequencer.closeJournal()
        } catch {
            logger.critical("final sync failed", metadata: ["error": "\(error)"])
            throw ExitCode(70)
        }
        logger.info("stopped", metadata: ["sequence": "\(sequencer.durableSequence)"])
        try? await group.shutdownGracefully()
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

/// SIGTERM and SIGINT, watched from the first moment of `run` so that none is lost: a
/// signal that arrives during recovery or just after the listeners open is remembered,
/// and `wait` then returns at once. A `sigaction` handler (installed synchronously: no
/// moment without one) writes a byte to a pipe that a thread of its own reads. (Before, a
/// Dispatch signal source was created only once the daemon was ready, after SIG_IGN: a
/// SIGTERM in between was ignored for good and the daemon never stopped; found by
/// scripts/soak.sh.)
///
/// SIGHUP goes through the same pipe (byte 2) and calls `onReload` on that thread: it never
/// stops the daemon. (It used to kill it: exit 129, nothing logged.)
final class Termination: @unchecked Sendable {
    nonisolated(unsafe) private static var pipeWriteEnd: Int32 = -1
    private let lock = NSLock()
    private var signaled = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var _onReload: (@Sendable () -> Void)?
    /// What SIGHUP does; until set, a SIGHUP is ignored (logged by nobody, harmless).
    var onReload: (@Sendable () -> Void)? {
        get { lock.withLock { _onReload } }
        set { lock.withLock { _onReload = newValue } }
    }

    init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "pipe() failed")
        Self.pipeWriteEnd = ends[1]
        let readEnd = ends[0]
        var action = sigaction()
        // Async-signal-safe: one write(2) of one byte to a descriptor set before.
        action.__sigaction_handler.sa_handler = { signal in
            var byte: UInt8 = signal == SIGHUP ? 2 : 1
            _ = write(Termination.pipeWriteEnd, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
        sigaction(SIGHUP, &action, nil)
        let thread = Thread { [self] in
            while true {
                var byte: UInt8 = 0
                let got = read(readEnd, &byte, 1)
                if got < 0 && errno == EINTR { continue }
                if got == 1 && byte == 2 {
                    onReload?()
                    continue
                }
                fire()
                return
            }
        }
        thread.name = "ledgerd-signals"
        thread.start()
    }

    private func fire() {
        let resume: CheckedContinuation<Void, Never>? = lock.withLock {
            signaled = true
            defer { waiter = nil }
            return waiter
        }
        resume?.resume()
    }

    /// True once a signal came.
    var hasArrived: Bool { lock.withLock { signaled } }

    /// Returns when a signal came (at once if one already did).
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now: Bool = lock.withLock {
                if signaled { return true }
                waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
