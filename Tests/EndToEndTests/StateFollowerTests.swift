import Foundation
import LedgerClient
import LedgerCore
import Testing

/// State queries are answered by the state follower (docs/OPERATIONS.md, "State queries"),
/// not by the engine: a query pipelined between commands still gets its reply in request
/// order, describes an entry at or after every entry acknowledged before it on that
/// connection, and its hash is the audit's at that entry.
@Suite(.serialized) struct StateFollowerTests {
    @Test func queriesPipelinedBetweenCommandsKeepRequestOrderAndMatchTheAudit() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        // The daemon's own threads carry their names for the system (`top -H`, perf).
        let tasks = "/proc/\(daemon.pid!)/task"
        let names = try FileManager.default.contentsOfDirectory(atPath: tasks).compactMap {
            try? String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(Set(["ledger-engine", "ledger-writer", "ledger-follower"]).isSubset(of: Set(names)), "threads: \(names.sorted())")

        // A second connection floods queries meanwhile: one hash answers many of them.
        let poller = try daemon.connect()
        let pollCount = 300
        let pollerThread = Thread {
            try? poller.send((1...pollCount).map { WireFrame.stateQuery(requestID: UInt64($0)) })
        }
        pollerThread.start()

        let connection = try daemon.connect()
        let rounds = 40
        let depositsPerRound = 50
        var frames: [WireFrame] = []
        var kinds: [UInt64: Bool] = [:]  // request id → is a state query
        var id: UInt64 = 0
        for round in 0..<rounds {
            for index in 0..<depositsPerRound {
                id += 1
                let transfer = Transfer(
                    transferID: id, account: AccountID(1 + (round * depositsPerRound + index) % 97), asset: 0,
                    amountMinor: 1_000 + Int64(id))
                frames.append(.command(requestID: id, .deposit(transfer)))
                kinds[id] = false
            }
            id += 1
            frames.append(.stateQuery(requestID: id))
            kinds[id] = true
        }
        try connection.send(frames)

        var expectedID: UInt64 = 1
        var acknowledged: SequenceNumber = 0
        var states: [(sequence: SequenceNumber, hash: String)] = []
        for _ in 0..<frames.count {
            let reply = try connection.receive()
            switch reply {
            case .committed(let requestID, let sequence, _):
                #expect(requestID == expectedID, "a commit for request \(requestID) came where \(expectedID) was due")
                #expect(kinds[requestID] == false)
                #expect(sequence > acknowledged)
                acknowledged = sequence
            case .state(let requestID, let sequence, let hash):
                #expect(requestID == expectedID, "a state reply for request \(requestID) came where \(expectedID) was due")
                #expect(kinds[requestID] == true)
                #expect(sequence >= acknowledged, "state at \(sequence), but \(acknowledged) was acknowledged before the query")
                states.append((sequence, hexString(hash)))
            default:
                Issue.record("unexpected reply \(reply)")
            }
            expectedID += 1
        }
        #expect(states.count == rounds)
        var polled = 0
        var lastPolled: SequenceNumber = 0
        for _ in 0..<pollCount {
            guard case .state(let requestID, let sequence, _) = try poller.receive() else {
                Issue.record("the poller got something else than a state reply")
                break
            }
            polled += 1
            #expect(requestID == UInt64(polled))
            #expect(sequence >= lastPolled, "the follower went back from \(lastPolled) to \(sequence)")
            lastPolled = sequence
        }
        #expect(polled == pollCount)
        let metrics = try daemon.http("GET", "/metrics", token: nil).body
        let hashes = DaemonProcess.metric("ledger_state_hashes_total", in: metrics)
        #expect((1...(pollCount + rounds)).contains(hashes ?? 0), "ledger_state_hashes_total: \(hashes.map(String.init) ?? "missing")")
        #expect(metrics.contains("ledger_follower_sequence "))
        #expect(daemon.terminate() == 0)

        // The hashes are the state at the entries they name: audit through three of them.
        let distinct = Dictionary(
            states.map { ($0.sequence, $0.hash) },
            uniquingKeysWith: { first, second in
                #expect(first == second, "two hashes for one sequence")
                return first
            })
        let checked = Array(distinct.keys.sorted())
        for sequence in [checked.first!, checked[checked.count / 2], checked.last!] {
            let audit = try runTool(
                "ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--through", String(sequence), "--json"])
            #expect(audit.status == 0, "\(audit.output)")
            #expect(
                audit.output.contains("\"stateHash\":\"\(distinct[sequence]!)\""),
                "audit through \(sequence): \(audit.output.prefix(400))")
        }
        let log = daemon.log_()
        #expect(log.contains("state follower ready"))
        #expect(!log.contains("state follower stopped"))
    }
}
