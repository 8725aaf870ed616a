import CoreMetrics
import Foundation
import LedgerCore
import Prometheus
import Snapshots

/// ledgerd's metrics through swift-metrics, exposed by swift-prometheus
/// (docs/OPERATIONS.md, "Metrics"). Counters and histograms are fed where things happen:
/// the engine adds its per-type counts once a batch (plain arrays on its thread, no
/// hashing per command), the writer times each fdatasync, ingress times each request from
/// its arrival to its reply. Gauges are read at scrape time.
package final class LedgerMetrics: @unchecked Sendable {
    /// Set once by ledgerd at start, after `MetricsSystem.bootstrap`; nil in tests that
    /// run the server parts without it (everything is then skipped).
    nonisolated(unsafe) package static var current: LedgerMetrics?

    package let registry: PrometheusCollectorRegistry
    let commands: [CoreMetrics.Counter]
    let rejections: [CoreMetrics.Counter?]
    let stateReads: CoreMetrics.Counter
    let viewReads: CoreMetrics.Counter
    /// `ledger_request_duration_seconds`, both protocols: kept here, not in the registry.
    let requests = RequestDurations()
    let fdatasync: CoreMetrics.Timer
    let blockEntries: CoreMetrics.Recorder
    private let gauges: [String: CoreMetrics.Gauge]
    private let lock = NSLock()
    private var totals: [String: (counter: CoreMetrics.Counter, last: Int64)] = [:]

    /// Request latencies: 50 µs to 10 s.
    static let latencyBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
    ]
    static let blockEntryBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1_024, 2_048, 4_096, 8_192]

    /// The registry, bootstrapped into swift-metrics, and the metrics made from it.
    package static func bootstrap() -> LedgerMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = latencyBuckets
        factory.valueHistogramBuckets = ["ledger_journal_block_entries": blockEntryBuckets]
        MetricsSystem.bootstrap(factory)
        let metrics = LedgerMetrics(registry: registry)
        current = metrics
        return metrics
    }

    private init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        commands = Command.typeNames.map { CoreMetrics.Counter(label: "ledger_commands_total", dimensions: [("type", $0)]) }
        var byReason = [CoreMetrics.Counter?](repeating: nil, count: RejectReason.indexCount)
        for reason in RejectReason.allCases {
            byReason[Int(reason.rawValue)] = CoreMetrics.Counter(label: "ledger_rejections_total", dimensions: [("reason", reason.name)])
        }
        rejections = byReason
        stateReads = CoreMetrics.Counter(label: "ledger_reads_total", dimensions: [("type", "state")])
        viewReads = CoreMetrics.Counter(label: "ledger_reads_total", dimensions: [("type", "view")])
        fdatasync = CoreMetrics.Timer(label: "ledger_journal_fdatasync_seconds")
        blockEntries = CoreMetrics.Recorder(label: "ledger_journal_block_entries", aggregate: true)
        var gauges: [String: CoreMetrics.Gauge] = [:]
        for name in Self.gaugeNames { gauges[name] = CoreMetrics.Gauge(label: name) }
        self.gauges = gauges
    }

    static let gaugeNames = [
        "ledger_ready", "ledger_durable_sequence", "ledger_accounts", "ledger_resting_orders", "ledger_queue_depth",
        "ledger_follower_sequence", "ledger_tcp_connections", "ledger_http_connections", "ledger_http_in_flight",
        "ledger_tokens", "ledger_projector_up", "ledger_projector_sequence", "ledger_projector_lag_entries",
        "ledger_projector_lag_seconds", "ledger_snapshot_age_seconds", "ledger_snapshot_sequence", "ledger_stream_clients",
    ]

    package func set(_ gauge: String, _ value: Double) {
        gauges[gauge]?.record(value)
    }

    /// A counter fed from a total kept elsewhere (bytes and blocks written): increments
    /// it by what the total grew since the last scrape.
    package func total(_ name: String, _ value: Int64) {
        lock.withLock {
            let entry = totals[name] ?? (CoreMetrics.Counter(label: name), 0)
            if value > entry.last { entry.counter.increment(by: value - entry.last) }
            totals[name] = (entry.counter, max(value, entry.last))
        }
    }

    /// The exposition text.
    package func render() -> String {
        registry.emitToString() + requests.render()
    }
}

/// `ledger_request_duration_seconds{protocol}`: each request from its arrival to its
/// answer, in `LedgerMetrics.latencyBuckets`, rendered as swift-prometheus renders a
/// duration histogram (the same `le` labels, the sum in seconds).
///
/// Not a swift-metrics `Timer`: through it every TCP reply took the registry histogram's
/// lock and compared its duration with each bucket's as `Duration`s, a call each (a tenth
/// of the network thread at the daemon's full rate; docs/BENCHMARKS.md, "The follower's
/// open orders, the writer's replies"). A connection counts its replies' durations in a
/// `Tally` of its own, on its event loop, and adds a delivery's at once.
final class RequestDurations: @unchecked Sendable {
    enum Kind: Int, CaseIterable {
        case tcp = 0
        case http = 1
        var label: String { self == .tcp ? "tcp" : "http" }
    }

    /// The buckets' upper bounds in nanoseconds, ascending.
    static let boundsNanos: [Int64] = LedgerMetrics.latencyBuckets.map {
        $0.components.seconds * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000
    }
    static let boundLabels: [String] = LedgerMetrics.latencyBuckets.map(\.bucketRepresentation)

    /// Durations counted by bucket (not cumulative; the last, above every bound, is +Inf's
    /// own), their sum and their number.
    struct Tally {
        var counts = [Int](repeating: 0, count: RequestDurations.boundsNanos.count + 1)
        var sumNanos: Int64 = 0
        var count = 0

        /// Counts one duration (a negative one as 0: the clock is monotonic).
        @inline(__always)
        mutating func add(_ nanos: Int64) {
            let nanos = max(0, nanos)
            var bucket = 0
            // Most requests fall in the first buckets; a scan of Int64s beats a search.
            while bucket < RequestDurations.boundsNanos.count && nanos > RequestDurations.boundsNanos[bucket] { bucket += 1 }
            counts[bucket] += 1
            sumNanos &+= nanos
            count += 1
        }
    }

    private let lock = NSLock()
    private var totals = Kind.allCases.map { _ in Tally() }

    /// Adds `tally` to the protocol's totals and empties it.
    func merge(_ tally: inout Tally, _ kind: Kind) {
        guard tally.count > 0 else { return }
        lock.withLock {
            for bucket in tally.counts.indices { totals[kind.rawValue].counts[bucket] += tally.counts[bucket] }
            totals[kind.rawValue].sumNanos &+= tally.sumNanos
            totals[kind.rawValue].count += tally.count
        }
        for bucket in tally.counts.indices { tally.counts[bucket] = 0 }
        tally.sumNanos = 0
        tally.count = 0
    }

    /// One request (an HTTP request: counted in place, without a tally of its own).
    func record(_ nanos: Int64, _ kind: Kind) {
        lock.withLock { totals[kind.rawValue].add(nanos) }
    }

    /// What each protocol counted so far (for tests).
    func totals(_ kind: Kind) -> Tally { lock.withLock { totals[kind.rawValue] } }

    /// The family in Prometheus text: one TYPE line, then each protocol's cumulative
    /// buckets, +Inf, sum and count.
    func render() -> String {
        let snapshot = lock.withLock { totals }
        var text = "# TYPE ledger_request_duration_seconds histogram\n"
        for kind in Kind.allCases {
            let tally = snapshot[kind.rawValue]
            let labels = "protocol=\"\(kind.label)\""
            var cumulative = 0
            for (bucket, label) in Self.boundLabels.enumerated() {
                cumulative += tally.counts[bucket]
                text += "ledger_request_duration_seconds_bucket{\(labels),le=\"\(label)\"} \(cumulative)\n"
            }
            text += "ledger_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(tally.count)\n"
            text += "ledger_request_duration_seconds_sum{\(labels)} \(Duration.nanoseconds(tally.sumNanos).bucketRepresentation)\n"
            text += "ledger_request_duration_seconds_count{\(labels)} \(tally.count)\n"
        }
        return text
    }
}

/// What the engine counted in one batch, added to the counters at its end.
struct EngineCounts {
    var commands = [Int](repeating: 0, count: Command.typeNames.count)
    var rejections = [Int](repeating: 0, count: RejectReason.indexCount)
    var touchedReasons: [UInt16] = []
    var stateReads = 0
    var viewReads = 0
    var any = false

    mutating func count(_ command: Command, rejectedFor reason: RejectReason?) {
        commands[command.typeIndex] += 1
        if let reason {
            if rejections[Int(reason.rawValue)] == 0 { touchedReasons.append(reason.rawValue) }
            rejections[Int(reason.rawValue)] += 1
        }
        any = true
    }

    mutating func flush() {
        guard any, let metrics = LedgerMetrics.current else { return }
        for (index, count) in commands.enumerated() where count > 0 {
            metrics.commands[index].increment(by: count)
            commands[index] = 0
        }
        for reason in touchedReasons {
            metrics.rejections[Int(reason)]?.increment(by: rejections[Int(reason)])
            rejections[Int(reason)] = 0
        }
        touchedReasons.removeAll(keepingCapacity: true)
        if stateReads > 0 { metrics.stateReads.increment(by: stateReads) }
        if viewReads > 0 { metrics.viewReads.increment(by: viewReads) }
        stateReads = 0
        viewReads = 0
        any = false
    }
}

/// /metrics: the gauges read now, then the whole registry in Prometheus text.
enum Metrics {
    static func render(sequencer: Sequencer?, status: DaemonStatus, tokens: TokenBook, httpInFlight: Int) -> String {
        guard let metrics = LedgerMetrics.current else {
            return "# TYPE ledger_ready gauge\nledger_ready \(status.ready && sequencer != nil ? 1 : 0)\n"
        }
        let ready = status.ready && (sequencer?.isHealthy ?? false)
        metrics.set("ledger_ready", ready ? 1 : 0)
        metrics.set("ledger_tokens", Double(tokens.grants.count))
        metrics.set("ledger_http_in_flight", Double(httpInFlight))
        if let count = status.tcpConnections?() { metrics.set("ledger_tcp_connections", Double(count)) }
        if let count = status.httpConnections?() { metrics.set("ledger_http_connections", Double(count)) }
        if let (clients, cut, replays) = status.streamClients?() {
            metrics.set("ledger_stream_clients", Double(clients))
            metrics.total("ledger_stream_clients_cut_total", Int64(cut))
            metrics.total("ledger_stream_journal_replays_total", Int64(replays))
        }
        if let sequencer {
            let durable = sequencer.durableSequence
            metrics.set("ledger_durable_sequence", Double(durable))
            metrics.set("ledger_accounts", Double(sequencer.worldSize.accounts))
            metrics.set("ledger_resting_orders", Double(sequencer.worldSize.restingOrders))
            metrics.set("ledger_queue_depth", Double(sequencer.queueDepth))
            metrics.set("ledger_follower_sequence", Double(sequencer.followerSequence))
            let (blocks, bytes) = sequencer.journalStats
            metrics.total("ledger_journal_blocks_total", Int64(blocks))
            metrics.total("ledger_journal_bytes_total", bytes)
            metrics.total("ledger_state_hashes_total", Int64(sequencer.stateHashesComputed))
            if let projector = status.projector {
                let projected = min(projector.projectedSequence, durable)
                metrics.set("ledger_projector_up", projector.lastError == nil ? 1 : 0)
                metrics.set("ledger_projector_sequence", Double(projected))
                metrics.set("ledger_projector_lag_entries", Double(durable - projected))
                // Journal time of the last durable entry minus that of the last projected
                // one: 0 when caught up; before the first batch of this run, unknown (-1).
                let lag =
                    projected == durable
                    ? 0 : projector.projectedTimeNanos == 0 ? -1 : Double(sequencer.durableTimeNanos - projector.projectedTimeNanos) / 1e9
                metrics.set("ledger_projector_lag_seconds", lag)
            }
        }
        if let directory = status.snapshotDirectory {
            // The newest snapshot file by its sequence; its age from its modification time
            // (-1: none). Validity is `ledger-snapshot list`'s job, not a scrape's.
            let store = SnapshotStore(directory: directory)
            if let newest = (try? store.names())?.max(by: {
                (SnapshotFile.sequence(ofFileNamed: $0) ?? 0) < (SnapshotFile.sequence(ofFileNamed: $1) ?? 0)
            }) {
                var info = stat()
                if stat(store.path(newest), &info) == 0 {
                    metrics.set("ledger_snapshot_age_seconds", Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec))
                }
                metrics.set("ledger_snapshot_sequence", Double(SnapshotFile.sequence(ofFileNamed: newest) ?? 0))
            } else {
                metrics.set("ledger_snapshot_age_seconds", -1)
            }
        }
        return metrics.render()
    }
}

extension RejectReason {
    /// Arrays indexed by reason code: one past the largest code (not 65,536 slots).
    static let indexCount = Int(allCases.map(\.rawValue).max() ?? 0) + 1
}
