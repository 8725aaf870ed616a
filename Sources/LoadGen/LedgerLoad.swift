import ArgumentParser
import Foundation
import LedgerClient
import LedgerCore
import ToolSupport

@main
struct LedgerLoad: ParsableCommand {
    static func main() { mainWithProjectExitCodes() }

    static let configuration = CommandConfiguration(
        commandName: "ledger-load",
        abstract: "Seeded order flow against ledgerd over the TCP protocol; prints commands/s and latency percentiles.")

    @Option var host = "127.0.0.1"
    @Option var port = 7400
    @Option(
        name: .customLong("token-file"),
        help: "File holding the token's secret (admin for --setup, or a trader token for all accounts). Or $LEDGER_TOKEN.")
    var tokenFile: String?
    @Flag(help: "List USDT/BTCUSDT/ETHUSDT, fund the accounts and set mark prices first (idempotent).") var setup = false
    @Option(help: "Accounts taking part.") var accounts = 1_000
    @Option(help: "With --setup: also rest this many limit orders 1–5% away from the touch, over the accounts.")
    var resting = 0
    @Option(help: "Seconds to run (0: only setup). Default: 10, or no limit with --commands.") var duration: Double?
    @Option(help: "Stop after this many commands (0: no limit).") var commands = 0

    /// The time limit in seconds (0: none, or only setup without --commands). A load sized
    /// by --commands is not cut short by a default time: tests size loads by commands.
    var seconds: Double { duration ?? (commands > 0 ? 0 : 10) }
    @Option(help: "TCP connections.") var connections = 4
    @Option(help: "Requests in flight per connection.") var window = 4_096
    @Option(
        help:
            "Commands a second over all connections, each at its time (open loop; latency counts from that time). 0: as fast as the window allows."
    ) var rate: Double = 0
    @Option(
        name: .customLong("tick-us"),
        help:
            "With --rate: microseconds between a connection's writes; what is due by then goes in one write (latency still counts from each command's own time). 0: a write a command."
    ) var tickMicros: UInt64 = 200
    @Option var seed: UInt64 = 42
    @Flag(help: "Print a JSON summary instead of text.") var json = false
    @Option(
        name: .customLong("ack-log"),
        help: "Write every command sent and every acknowledgement to PATH.setup, PATH.0, PATH.1, … (for `ledger-replay acks`).")
    var ackLog: String?

    func validate() throws {
        guard rate >= 0, rate <= 100_000_000 else { throw ValidationError("--rate must be 0 ... 100000000 commands a second") }
        guard tickMicros <= 1_000_000 else { throw ValidationError("--tick-us must be 0 ... 1000000 microseconds") }
        guard accounts >= connections, connections >= 1, window >= 1 else {
            throw ValidationError("need accounts ≥ connections ≥ 1 and window ≥ 1")
        }
    }

    /// The secret, never from the command line (it would show in `ps`).
    var token: String {
        get throws {
            if let tokenFile { return try ToolIO.readSecret(path: tokenFile) }
            if let secret = ProcessInfo.processInfo.environment["LEDGER_TOKEN"], !secret.isEmpty { return secret }
            throw ValidationError("give the token with --token-file PATH or $LEDGER_TOKEN")
        }
    }

    func run() throws {
        do {
            if setup { try runSetup() }
            guard seconds > 0 || commands > 0 else { return }
            let report = try runLoad()
            print(json ? report.json : report.text)
        } catch let failure as LedgerConnection.Failure {
            FileHandle.standardError.write(Data("ledger-load: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Listings, one deposit per account (transfer id = account id, so a rerun replays
    /// them) and mark prices; pipelined on one connection, `window` in flight.
    func runSetup() throws {
        let connection = try LedgerConnection(host: host, port: port)
        try connection.hello(token: try token)
        let setupCommands =
            DemoExchange.setupCommands(accounts: accounts) + DemoExchange.restingOrders(count: resting, accounts: accounts)
        let frames = setupCommands.enumerated().map { WireFrame.command(requestID: UInt64($0.offset + 1), $0.element) }
        let log = try ackLog.map { try AckLog(path: $0 + ".setup") }
        let encoded = setupCommands.map { command in
            var writer = ByteWriter()
            command.encode(to: &writer)
            log?.sent(writer.bytes)
            return writer.bytes
        }
        log?.flush()
        // At most `window` in flight (the daemon answers BUSY beyond its per-connection
        // limit): a million accounts' deposits go through in windows.
        var sent = min(window, frames.count)
        try connection.send(Array(frames[..<sent]))
        var failures = 0
        for received in 0..<frames.count {
            if sent < frames.count && sent - received <= window / 2 {
                let next = min(sent + window / 2, frames.count)
                try connection.send(Array(frames[sent..<next]))
                sent = next
            }
            switch try connection.receive() {
            case .error(_, let code, let message):
                failures += 1
                FileHandle.standardError.write(Data("setup: \(code.name) \(message)\n".utf8))
            case .busy(_, let retryAfter, let message):
                failures += 1
                FileHandle.standardError.write(Data("setup: BUSY \(message) (retry after \(retryAfter) ms)\n".utf8))
            case .committed(let id, let sequence, _):
                log?.acknowledged(sequence, encoded[Int(id) - 1])
            default:
                break
            }
        }
        log?.flush()
        guard failures == 0 else { throw LedgerConnection.Failure.protocolError("\(failures) setup commands failed") }
    }

    func runLoad() throws -> LoadReport {
        let perConnection = accounts / connections
        let deadline = seconds > 0 ? DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9) : UInt64.max
        let quota = commands > 0 ? (commands + connections - 1) / connections : Int.max
        var workers: [LoadWorker] = []
        let token = try token
        for index in 0..<connections {
            let ids = (0..<perConnection).map { AccountID(index * perConnection + $0 + 1) }
            let connection = try LedgerConnection(host: host, port: port)
            try connection.hello(token: token)
            workers.append(
                LoadWorker(
                    connection: connection, generator: OrderFlowGenerator(seed: seed &+ UInt64(index) &* 7_919, accounts: ids),
                    window: window, deadlineNanos: deadline, quota: quota, ratePerSecond: rate / Double(connections),
                    tickNanos: tickMicros * 1_000,
                    ackLog: try ackLog.map { try AckLog(path: "\($0).\(index)") }))
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let group = DispatchGroup()
        for worker in workers {
            group.enter()
            Thread {
                worker.run()
                group.leave()
            }.start()
        }
        group.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return LoadReport(workers: workers, elapsedSeconds: elapsed)
    }
}
