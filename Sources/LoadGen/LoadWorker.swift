import Foundation
import LedgerClient
import LedgerCore

/// One connection's load: a sender keeps up to `window` requests in flight; a receiver
/// matches replies to send times and learns which orders rested (to cancel them later).
///
/// The fields each command or reply touches are unchecked for exclusivity: each access to a
/// class's stored property was checked at run time (with its thread-local access set),
/// about 6% of the load generator's samples. Such checks see only overlapping accesses
/// within one thread, which this code does not make; across the two threads the fields are
/// guarded by `condition` or owned by one side, as before.
final class LoadWorker: @unchecked Sendable {
    private let connection: LedgerConnection
    @exclusivity(unchecked) private var generator: OrderFlowGenerator
    private let window: Int
    private let deadlineNanos: UInt64
    private let quota: Int
    /// With `--rate`: nanoseconds between this connection's commands (open loop: each
    /// command has its time, and its latency counts from that time, not from when a full
    /// window let it go: no coordinated omission). nil: as fast as the window allows.
    private let intervalNanos: Double?
    /// With `--rate`: the least time between two writes of this connection (`--tick-us`).
    /// What is due goes in one write; each command's latency still counts from its own due
    /// time, so the batching is charged to the figures, not hidden from them.
    private let tickNanos: UInt64
    private let condition = NSCondition()
    // Guarded by `condition`.
    @exclusivity(unchecked) private var inFlight = 0
    @exclusivity(unchecked) private var rested: [(AccountID, OrderID)] = []
    /// Indexed by request id modulo twice the window: a slot is rewritten only after its
    /// reply arrived (at most `window` are in flight), so sender and receiver never touch
    /// the same slot at once.
    private let slots: Int
    private let sendTimes: UnsafeMutablePointer<UInt64>
    private let accountOfRequest: UnsafeMutablePointer<AccountID>
    // Receiver-owned until the run ends.
    @exclusivity(unchecked) private(set) var latenciesNanos: [UInt64] = []
    @exclusivity(unchecked) private(set) var committed = 0
    @exclusivity(unchecked) private(set) var trades = 0
    @exclusivity(unchecked) private(set) var rejections: [RejectReason: Int] = [:]
    @exclusivity(unchecked) private(set) var errors: [WireError: Int] = [:]
    @exclusivity(unchecked) private(set) var failure: String?
    /// With `--ack-log`: every command sent and every acknowledgement (soak checks).
    private let ackLog: AckLog?
    @exclusivity(unchecked) private var commandOfRequest: [[UInt8]]

    init(
        connection: LedgerConnection, generator: OrderFlowGenerator, window: Int, deadlineNanos: UInt64, quota: Int,
        ratePerSecond: Double = 0, tickNanos: UInt64 = 0, ackLog: AckLog? = nil
    ) {
        intervalNanos = ratePerSecond > 0 ? 1e9 / ratePerSecond : nil
        self.tickNanos = tickNanos
        self.ackLog = ackLog
        commandOfRequest = ackLog == nil ? [] : Array(repeating: [], count: window * 2)
        self.connection = connection
        self.generator = generator
        self.window = window
        self.deadlineNanos = deadlineNanos
        self.quota = quota
        slots = window * 2
        sendTimes = .allocate(capacity: slots)
        sendTimes.initialize(repeating: 0, count: slots)
        accountOfRequest = .allocate(capacity: slots)
        accountOfRequest.initialize(repeating: 0, count: slots)
        latenciesNanos.reserveCapacity(1 << 20)
    }

    deinit {
        sendTimes.deallocate()
        accountOfRequest.deallocate()
    }

    func run() {
        let receiver = Thread { [self] in receiveLoop() }
        receiver.start()
        sendLoop()
        condition.lock()
        while inFlight > 0 && failure == nil { condition.wait() }
        condition.unlock()
        connection.shutdownBoth()
        condition.lock()
        while !receiverFinished { condition.wait() }
        condition.unlock()
        ackLog?.flush()
    }

    @exclusivity(unchecked) private var receiverFinished = false

    private func sendLoop() {
        var requestID: UInt64 = 0
        var sent = 0
        var writer = ByteWriter(capacity: 64 * 1024)
        let started = DispatchTime.now().uptimeNanoseconds
        /// When the `index`-th command (from 0) is due.
        func due(_ index: Int) -> UInt64 { started + UInt64(Double(index) * (intervalNanos ?? 0)) }
        // The earliest the next write may go (a tick after the last one).
        var nextWrite = started
        while sent < quota && DispatchTime.now().uptimeNanoseconds < deadlineNanos {
            if intervalNanos != nil {
                // Woken once a tick at most, not once a command: at 25,000 commands a
                // second a connection, a wake-up and a write each cost the load generator
                // 0.8 of a core (on the daemon's two), and the daemon a read of a frame or two.
                let next = max(due(sent), nextWrite)
                let now = DispatchTime.now().uptimeNanoseconds
                if next > now { usleep(UInt32(min((next - now) / 1_000, 1_000_000))) }
                nextWrite = DispatchTime.now().uptimeNanoseconds + tickNanos
            }
            condition.lock()
            // The receiver gone means the connection is: nothing more will be answered.
            while inFlight >= window && failure == nil && !receiverFinished { condition.wait() }
            if failure != nil || receiverFinished {
                condition.unlock()
                return
            }
            var room = min(window - inFlight, 512, quota - sent)
            if let intervalNanos {
                // The commands due by now (at least the next one, which the wait above made due).
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started)
                room = max(1, min(room, Int(elapsed / intervalNanos) + 1 - sent))
            }
            for (account, order) in rested { generator.noteRested(account: account, order: order) }
            rested.removeAll(keepingCapacity: true)
            inFlight += room
            condition.unlock()
            writer.reset()
            let now = DispatchTime.now().uptimeNanoseconds
            for offset in 0..<room {
                requestID += 1
                let command = generator.next()
                let slot = Int(requestID % UInt64(slots))
                sendTimes[slot] = intervalNanos == nil ? now : min(now, due(sent + offset))
                if case .placeOrder(let order) = command { accountOfRequest[slot] = order.account }
                let start = writer.bytes.count
                WireFrame.command(requestID: requestID, command).encode(to: &writer)
                if let ackLog {
                    // The command's bytes follow the 4-byte length, type and request id.
                    let encoded = Array(writer.bytes[(start + 13)...])
                    commandOfRequest[slot] = encoded
                    ackLog.sent(encoded)
                }
            }
            sent += room
            do {
                try connection.sendRaw(writer.bytes)
            } catch {
                condition.withLock { failure = "\(error)" }
                return
            }
        }
    }

    private func receiveLoop() {
        // One buffer for every committed reply's events (an array of their own was an
        // allocation and a release a reply).
        var events: [Event] = []
        events.reserveCapacity(64)
        while true {
            let frame: WireFrame
            events.removeAll(keepingCapacity: true)
            do {
                frame = try connection.receive(appendingEventsTo: &events)
            } catch {
                condition.withLock {
                    if inFlight > 0 { failure = "\(error)" }
                    receiverFinished = true
                    condition.broadcast()
                }
                return
            }
            let now = DispatchTime.now().uptimeNanoseconds
            let slot = Int(frame.requestID % UInt64(slots))
            latenciesNanos.append(now - sendTimes[slot])
            var newlyRested: (AccountID, OrderID)?
            switch frame {
            case .committed(_, let sequence, _):
                committed += 1
                ackLog?.acknowledged(sequence, commandOfRequest[slot])
                for event in events {
                    switch event {
                    case .trade: trades += 1
                    case .rejected(let reason, _): rejections[reason, default: 0] += 1
                    case .orderRested(let id, _): newlyRested = (accountOfRequest[slot], id)
                    default: break
                    }
                }
            case .error(_, let code, _):
                errors[code, default: 0] += 1
            case .busy:
                errors[.busy, default: 0] += 1
            default:
                break
            }
            condition.lock()
            inFlight -= 1
            if let newlyRested { rested.append(newlyRested) }
            if inFlight <= window / 2 || inFlight == 0 { condition.broadcast() }
            condition.unlock()
        }
    }
}

/// The numbers a run prints.
struct LoadReport {
    var commands = 0
    var committed = 0
    var trades = 0
    var rejections: [RejectReason: Int] = [:]
    var errors: [WireError: Int] = [:]
    var elapsedSeconds: Double
    var percentilesMicros: [String: Double] = [:]
    var failures: [String] = []

    init(workers: [LoadWorker], elapsedSeconds: Double) {
        self.elapsedSeconds = elapsedSeconds
        var latencies: [UInt64] = []
        for worker in workers {
            latencies += worker.latenciesNanos
            committed += worker.committed
            trades += worker.trades
            rejections.merge(worker.rejections, uniquingKeysWith: +)
            errors.merge(worker.errors, uniquingKeysWith: +)
            if let failure = worker.failure { failures.append(failure) }
        }
        commands = latencies.count
        latencies.sort()
        func at(_ fraction: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let index = min(latencies.count - 1, Int((Double(latencies.count) * fraction).rounded(.up)) - 1)
            return Double(latencies[max(0, index)]) / 1_000
        }
        percentilesMicros = ["p50": at(0.5), "p99": at(0.99), "p99.9": at(0.999), "max": at(1.0)]
    }

    var rate: Double { Double(commands) / max(elapsedSeconds, 1e-9) }

    var text: String {
        var lines = [
            String(format: "commands: %d in %.2f s = %.0f commands/s (durable replies)", commands, elapsedSeconds, rate),
            String(
                format: "latency µs: p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f", percentilesMicros["p50"]!,
                percentilesMicros["p99"]!, percentilesMicros["p99.9"]!, percentilesMicros["max"]!),
            "trades: \(trades); committed: \(committed); not journaled: \(errors.values.reduce(0, +))",
        ]
        if !rejections.isEmpty {
            let top = rejections.sorted { $0.value > $1.value }.prefix(5).map { "\($0.key.name) \($0.value)" }
            lines.append("rejections: " + top.joined(separator: ", "))
        }
        if !errors.isEmpty { lines.append("errors: " + errors.map { "\($0.key.name) \($0.value)" }.joined(separator: ", ")) }
        for failure in failures { lines.append("connection failed: \(failure)") }
        return lines.joined(separator: "\n")
    }

    var json: String {
        let object: [String: Any] = [
            "commands": commands, "elapsedSeconds": elapsedSeconds, "commandsPerSecond": rate, "trades": trades,
            "committed": committed, "latencyMicros": percentilesMicros,
            "rejections": Dictionary(uniqueKeysWithValues: rejections.map { ($0.key.name, $0.value) }),
            "errors": Dictionary(uniqueKeysWithValues: errors.map { ($0.key.name, $0.value) }), "failures": failures,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
