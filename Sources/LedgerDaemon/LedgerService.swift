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
import UnixSignals

/// A value one task puts and another waits for (the HTTP port, once it listens; nil when
/// it never will).
actor Rendezvous<Value: Sendable> {
    private var value: Value??
    private var waiters: [CheckedContinuation<Value?, Never>] = []

    func put(_ value: Value?) {
        guard self.value == nil else { return }
        self.value = .some(value)
        for waiter in waiters { waiter.resume(returning: value) }
        waiters = []
    }

    func take() async -> Value? {
        if let value { return value }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

/// A value that moves from one thread to another once (the journal writer and the
/// recovered state, from the recovery thread to the service).
final class Handover<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}

/// The ledger: recovery, the engine and its journal, TCP ingress, the projector and the
/// watchdog, as one service. Its run recovers, serves until the group shuts down
/// gracefully (SIGTERM, SIGINT), then drains: every accepted request answered and
/// journaled, the journal synced (docs/OPERATIONS.md, "Start, stop, crash").
final class LedgerService: Service, @unchecked Sendable {
    let settings: DaemonConfig
    let tokens: TokenBook
    let status: DaemonStatus
    let api: HTTPAPI
    let group: any EventLoopGroup
    let httpListening: Rendezvous<Int>
    let stream: StreamHub?
    let logger: Logger
    private let lock = NSLock()
    private var _exitCode: Int32 = 0
    /// 0 after a clean stop; 1 when it could not start on what it was given.
    var exitCode: Int32 {
        get { lock.withLock { _exitCode } }
        set { lock.withLock { _exitCode = newValue } }
    }

    init(
        settings: DaemonConfig, tokens: TokenBook, status: DaemonStatus, api: HTTPAPI, group: any EventLoopGroup,
        httpListening: Rendezvous<Int>, stream: StreamHub? = nil, logger: Logger
    ) {
        self.stream = stream
        self.settings = settings
        self.tokens = tokens
        self.status = status
        self.api = api
        self.group = group
        self.httpListening = httpListening
        self.logger = logger
    }

    func run() async throws {
        // HTTP first: once the gateway port answers, health and metrics do too.
        guard let httpPort = await httpListening.take() else { return }
        status.phase = "recovering"
        SystemdNotifier.notify("STATUS=recovering")
        let started = ContinuousClock.now
        let (settings, status) = (self.settings, self.status)
        // Handed from the recovery thread to this task once, never shared.
        let recovered: Handover<Result<Recovery.Startup, Recovery.StartFailure>> = await onThread("ledgerd-recovery") {
            Handover(
                Result { () throws(Recovery.StartFailure) -> Recovery.Startup in
                    try Recovery.start(
                        journal: .init(
                            directory: settings.journalDirectory, ledgerID: settings.ledgerID, segmentBytesTarget: settings.segmentBytes,
                            fsync: settings.fsync, lz4Acceleration: settings.lz4Acceleration),
                        snapshotDirectory: settings.snapshotDirectory
                    ) { sequence in
                        status.phase = "recovering (replayed to sequence \(sequence))"
                        SystemdNotifier.notify("STATUS=replaying journal at sequence \(sequence)")
                    }
                })
        }
        let startup: Recovery.Startup
        switch recovered.value {
        case .success(let value): startup = value
        case .failure(let error):
            logger.critical("\(error)")
            status.phase = "failed"
            exitCode = 1
            return
        }
        report(startup, since: started)

        let sequencer = Sequencer(
            state: startup.state, journal: startup.journal, queueCapacity: settings.queueCapacity,
            verifyEntries: settings.verifyEntries, worldLimits: settings.worldLimits, historyLimits: settings.history,
            stream: stream, logger: logger)
        let watchdog = Watchdog.fromEnvironment()
        // An idle engine goes round every quarter interval, so its heartbeat is always
        // younger than the half interval the watchdog checks for.
        sequencer.heartbeatIntervalNanos = watchdog.map { $0.intervalNanos / 4 }
        let api = self.api
        sequencer.onCatalogChange = { catalog in api.updateCatalog(catalog) }
        sequencer.onFatal = { error in
            status.ready = false
            status.phase = "failed: \(error)"
            SystemdNotifier.notify("STATUS=journal failure: \(error)")
            FileHandle.standardError.write(Data("ledgerd: fatal: \(error)\n".utf8))
            Foundation.exit(70)
        }
        sequencer.start()
        api.attach(sequencer)

        var projector: Projector?
        if settings.projectorEnabled {
            let projectorLogger = Logger(label: "ledgerd.projector")
            let started = Projector(
                options: .init(
                    url: settings.projectorURL, journalDirectory: settings.journalDirectory,
                    snapshotDirectory: settings.snapshotDirectory, batchEntries: settings.projectorBatchEntries,
                    schema: settings.projectorSchema, niceness: Int32(settings.projectorNiceness)),
                durableSequence: { sequencer.durableSequence },
                log: { level, message in
                    if level == "info" { projectorLogger.info("\(message)") } else { projectorLogger.warning("\(message)") }
                })
            started.start()
            projector = started
            status.projector = started
        } else {
            // A configuration that names a database but leaves the projector off is easy
            // to write and silent otherwise: say that nothing goes to PostgreSQL.
            logger.notice(
                "projector off (projector.enabled = false): the PostgreSQL read models are not kept; set it to true or pass --projector-url"
            )
        }

        let connections = ConnectionRegistry()
        status.tcpConnections = { connections.count }
        // Requests are taken from the moment a listener exists: the engine is running. (Set
        // after binding, a client that connected in between was told "shutting down".)
        status.accepting = true
        var tcp: (any Channel)?
        do {
            tcp = try await TCPServer.bind(
                host: settings.tcpHost, port: settings.tcpPort, group: group, sequencer: sequencer, config: settings, tokens: tokens,
                registry: connections
            ) { status.accepting }
        } catch {
            logger.critical("cannot listen", metadata: ["error": "\(error)"])
            exitCode = 1
        }
        if let tcp {
            status.ready = true
            status.phase = "serving"
            SystemdNotifier.notify("READY=1\nSTATUS=serving")
            logger.info("listening", metadata: ["tcp_port": "\(tcp.localAddress?.port ?? 0)", "http_port": "\(httpPort)"])
            watchdog?.start(sequencer: sequencer, logger: logger)
            // Serve until the group shuts down (SIGTERM, SIGINT) or is cancelled.
            try? await gracefulShutdown()
            logger.info("stopping: draining queued requests")
        }
        SystemdNotifier.notify("STOPPING=1")
        watchdog?.stop()
        status.phase = "stopping"
        status.accepting = false
        status.ready = false
        try? await tcp?.close()
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
            exitCode = 70
            return
        }
        logger.info("stopped", metadata: ["sequence": "\(sequencer.durableSequence)"])
    }

    /// What recovery found, in the log.
    private func report(_ startup: Recovery.Startup, since started: ContinuousClock.Instant) {
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
                "sequence": "\(startup.state.lastSequence)", "snapshot": "\(startup.report.snapshot?.name ?? "none")",
                "replayed": "\(startup.report.entriesReplayed)", "elapsed": "\(ContinuousClock.now - started)",
            ])
    }
}

/// SIGHUP re-reads the token file; a file that does not parse, or holds no token, leaves
/// the tokens as they were (never none). It used to kill the daemon (exit 129).
struct ReloadService: Service {
    let settings: DaemonConfig
    let tokens: TokenBook
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                let grants = try Serve.readTokens(settings)
                tokens.install(grants)
                logger.notice("reloaded tokens", metadata: Serve.tokenSummary(grants, path: settings.tokensFile))
            } catch {
                logger.error("reload refused; the tokens stay as they were", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// systemd's watchdog (`WatchdogSec=`, which sets WATCHDOG_USEC): WATCHDOG=1 every half
/// interval while the engine loop goes round — its heartbeat is younger than half the
/// interval. A stuck engine (a hung disk under fdatasync, a loop that never ends) stops
/// the pings, and systemd restarts the daemon. systemd arms the watchdog at READY=1.
final class Watchdog: @unchecked Sendable {
    let intervalNanos: Int64
    private let lock = NSLock()
    private var stopped = false

    init(intervalNanos: Int64) {
        self.intervalNanos = intervalNanos
    }

    /// From WATCHDOG_USEC (and WATCHDOG_PID, when set, naming this process).
    static func fromEnvironment() -> Watchdog? {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { return nil }
        return Watchdog(intervalNanos: microseconds * 1_000)
    }

    func start(sequencer: Sequencer, logger: Logger) {
        let half = intervalNanos / 2
        let thread = Thread { [self] in
            var missed = false
            while !lock.withLock({ stopped }) {
                usleep(UInt32(clamping: half / 1_000))
                if lock.withLock({ stopped }) { return }
                if sequencer.engineHeartbeatAgeNanos < half {
                    SystemdNotifier.notify("WATCHDOG=1")
                    if missed { logger.notice("the engine goes round again; watchdog pings resumed") }
                    missed = false
                } else if !missed {
                    missed = true
                    logger.error(
                        "the engine has not gone round for half the watchdog interval; no WATCHDOG=1",
                        metadata: ["heartbeat_age_ms": "\(sequencer.engineHeartbeatAgeNanos / 1_000_000)"])
                }
            }
        }
        thread.name = "ledgerd-watchdog"
        thread.start()
    }

    func stop() {
        lock.withLock { stopped = true }
    }
}
