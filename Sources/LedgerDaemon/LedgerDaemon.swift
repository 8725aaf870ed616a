import ArgumentParser
import Foundation
import Journal
import LedgerCore
import LedgerServer
import Logging
import NIOCore
import NIOPosix
import Projection
import Snapshots
import ToolSupport

@main
struct LedgerDaemon: AsyncParsableCommand {
    /// Bad usage exits 2, as a bad configuration does (ArgumentParser's own code is 64).
    static func main() async { await asyncMainWithProjectExitCodes() }

    static let configuration = CommandConfiguration(
        commandName: "ledgerd",
        abstract: "The ExchangeLedger daemon: sequencer, matching engine and journal.",
        discussion: "Settings come from --config (TOML), then LEDGERD_* environment variables, then flags. See docs/OPERATIONS.md.")

    @Option(help: "TOML configuration file.") var config: String?
    @Option(name: .customLong("data-dir"), help: "Directory for journal/ and snapshots/.") var dataDirectory: String?
    @Option(name: .customLong("tcp-port"), help: "Binary protocol port (loopback by default).") var tcpPort: Int?
    @Option(name: .customLong("http-port"), help: "HTTP/JSON port.") var httpPort: Int?
    @Option(help: "fsync mode: batch, interval or none (tests only).") var fsync: String?
    @Option(name: .customLong("token"), help: "TOKEN:ROLE (trader, oracle, admin); repeatable.") var tokens: [String] = []
    @Option(name: .customLong("projector-url"), help: "PostgreSQL URL for the read models; enables the projector.") var projectorURL:
        String?
    @Flag(name: .customLong("no-projector"), help: "Do not project into PostgreSQL.") var noProjector = false
    @Option(name: .customLong("segment-bytes"), help: "Journal segment size before rolling.") var segmentBytes: Int64?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel: String?

    func loadConfig() throws -> DaemonConfig {
        var settings = DaemonConfig()
        if let config {
            try settings.apply(toml: try String(contentsOfFile: config, encoding: .utf8))
        }
        try settings.apply(environment: ProcessInfo.processInfo.environment)
        if let dataDirectory { settings.dataDirectory = dataDirectory }
        if let tcpPort { settings.tcpPort = tcpPort }
        if let httpPort { settings.httpPort = httpPort }
        if let fsync { try settings.set("journal.fsync", .string(fsync)) }
        if let segmentBytes { settings.segmentBytes = segmentBytes }
        if let logLevel { try settings.set("log_level", .string(logLevel)) }
        if !tokens.isEmpty { try settings.apply(tokenList: tokens.joined(separator: ",")) }
        if let projectorURL {
            settings.projectorURL = projectorURL
            settings.projectorEnabled = true
        }
        if noProjector { settings.projectorEnabled = false }
        return settings
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
        guard !settings.tokens.isEmpty else {
            logger.error("no tokens configured: give at least one with --token TOKEN:ROLE or [tokens] in the config")
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
        let api = HTTPAPI(sequencer: sequencer, tokens: settings.tokens, status: status)
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
        let http: Channel
        do {
            tcp = try await TCPServer.bind(
                host: settings.tcpHost, port: settings.tcpPort, group: group, sequencer: sequencer, config: settings,
                registry: connections
            ) { status.accepting }
            http = try await HTTPServer.bind(host: settings.httpHost, port: settings.httpPort, group: group, api: api, config: settings)
        } catch {
            logger.critical("cannot listen", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        status.ready = true
        SystemdNotifier.notify("READY=1\nSTATUS=serving")
        logger.info(
            "listening",
            metadata: ["tcp_port": "\(tcp.localAddress?.port ?? 0)", "http_port": "\(http.localAddress?.port ?? 0)"])

        await termination.wait()
        logger.info("stopping: draining queued requests")
        SystemdNotifier.notify("STOPPING=1")
        status.accepting = false
        status.ready = false
        try? await tcp.close()
        try? await http.close()
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

}

/// SIGTERM and SIGINT, watched from the first moment of `run` so that none is lost: a
/// signal that arrives during recovery or just after the listeners open is remembered,
/// and `wait` then returns at once. A `sigaction` handler (installed synchronously: no
/// moment without one) writes a byte to a pipe that a thread of its own reads. (Before, a
/// Dispatch signal source was created only once the daemon was ready, after SIG_IGN: a
/// SIGTERM in between was ignored for good and the daemon never stopped; found by
/// scripts/soak.sh.)
final class Termination: @unchecked Sendable {
    nonisolated(unsafe) private static var pipeWriteEnd: Int32 = -1
    private let lock = NSLock()
    private var signaled = false
    private var waiter: CheckedContinuation<Void, Never>?

    init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "pipe() failed")
        Self.pipeWriteEnd = ends[1]
        let readEnd = ends[0]
        var action = sigaction()
        // Async-signal-safe: one write(2) of one byte to a descriptor set before.
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = write(Termination.pipeWriteEnd, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
        let thread = Thread { [self] in
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) < 0 && errno == EINTR {}
            fire()
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
