import Foundation
import LedgerClient
import LedgerCore
import Testing

/// ledgerd as systemd sees it, through a real NOTIFY_SOCKET (docs/OPERATIONS.md,
/// "systemd"): STATUS= while the journal replays, HTTP live (and not ready) during that
/// replay, READY=1 after it, WATCHDOG=1 while the engine goes round and none while it is
/// stalled (the debug hook), STOPPING=1 at SIGTERM.
@Suite(.serialized) struct SystemdNotifyTests {
    /// A datagram socket standing in for systemd's; every message with its arrival time.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        private let fd: Int32
        private let lock = NSLock()
        private var received: [(at: Date, message: String)] = []
        private var closed = false

        init() throws {
            path = NSTemporaryDirectory() + "ledger-notify-\(UUID().uuidString.prefix(8)).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4_096)
                while !lock.withLock({ closed }) {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count > 0 {
                        let text = String(decoding: buffer[..<count], as: UTF8.self)
                        lock.withLock { received.append((Date(), text)) }
                    }
                }
            }.start()
        }

        var messages: [(at: Date, message: String)] { lock.withLock { received } }

        func lines(_ prefix: String) -> [(at: Date, message: String)] {
            messages.flatMap { item in item.message.split(separator: "\n").map { (item.at, String($0)) } }.filter { $0.1.hasPrefix(prefix) }
        }

        /// Waits (at most `seconds`) for a line with this prefix.
        func waitFor(_ prefix: String, seconds: Double) -> Date? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let first = lines(prefix).first { return first.at }
                usleep(10_000)
            }
            return nil
        }

        func close() {
            lock.withLock { closed = true }
            usleep(150_000)
            Glibc.close(fd)
            unlink(path)
        }
    }

    @Test func readyStatusWatchdogAndStoppingReachSystemd() throws {
        // A journal long enough that its replay is seen: 250,000 commands.
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let load = try runTool(
            "ledger-load",
            [
                "--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--setup", "--accounts", "200",
                "--commands", "250000", "--connections", "2", "--window", "1024",
            ])
        #expect(load.status == 0, "\(load.error)")
        let entries = try daemon.stateHash().sequence
        #expect(daemon.terminate() == 0)

        let notify = try NotifySocket()
        defer { notify.close() }
        daemon.environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000", "LEDGERD_DEBUG_HOOKS": "1"]
        let launched = Date()
        try daemon.launch()
        // While the journal replays: live 200 (phase recovering), ready 503.
        var sawRecovering = false
        var readyDuringRecovery: Int?
        while notify.lines("READY=1").isEmpty && Date().timeIntervalSince(launched) < 120 {
            if let live = try? daemon.http("GET", "/health/live", token: nil), live.status == 200, live.body.contains("recovering") {
                sawRecovering = true
                readyDuringRecovery = (try? daemon.http("GET", "/health/ready", token: nil))?.status
                if notify.lines("READY=1").isEmpty && readyDuringRecovery == 503 { break }
            }
            usleep(5_000)
        }
        #expect(sawRecovering, "no /health/live answer while recovering")
        #expect(readyDuringRecovery == 503, "ready during recovery: \(String(describing: readyDuringRecovery))")
        let ready = try #require(notify.waitFor("READY=1", seconds: 120), "no READY=1: \(notify.messages)")
        let replaying = notify.lines("STATUS=replaying journal at sequence ")
        #expect(!replaying.isEmpty && replaying.allSatisfy { $0.at <= ready }, "\(notify.messages)")
        #expect(entries > 200_000)
        #expect(try daemon.http("GET", "/health/ready", token: nil).status == 200)

        // Serving: a ping every 200 ms (half of WATCHDOG_USEC).
        usleep(1_200_000)
        let served = notify.lines("WATCHDOG=1").filter { $0.at > ready }
        #expect(served.count >= 2, "\(served.count) pings in 1.2 s")

        // The engine stalled for 2 s: no ping from 0.4 s in to 1.8 s in; then they resume.
        let stall = try daemon.http("POST", "/debug/stall?milliseconds=2000")
        #expect(stall.status == 200, "\(stall.body)")
        let stalledAt = Date()
        usleep(3_000_000)
        let during = notify.lines("WATCHDOG=1").filter {
            $0.at > stalledAt.addingTimeInterval(0.4) && $0.at < stalledAt.addingTimeInterval(1.8)
        }
        #expect(during.isEmpty, "\(during.count) pings while the engine was stalled")
        let after = notify.lines("WATCHDOG=1").filter { $0.at > stalledAt.addingTimeInterval(2.0) }
        #expect(!after.isEmpty, "the pings did not resume")
        #expect(daemon.log_().contains("no WATCHDOG=1"))

        // SIGTERM: STOPPING=1, then exit 0.
        #expect(daemon.terminate() == 0)
        #expect(notify.lines("STOPPING=1").count == 1, "\(notify.messages.suffix(5))")
    }
}
