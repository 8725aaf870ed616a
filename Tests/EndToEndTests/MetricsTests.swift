import Foundation
import LedgerClient
import LedgerCore
import Testing

/// /metrics as Prometheus reads it: parsed by prometheus_client's own text parser (from
/// PyPI, scripts/python-tools.sh), with the families docs/OPERATIONS.md lists and values
/// that match what was done.
@Suite struct MetricsTests {
    /// Every sample as "name{label=value,…}" → value, by prometheus_client.
    static func parse(_ text: String) throws -> [String: Double] {
        guard let python = ProcessInfo.processInfo.environment["LEDGER_PYTHON"] else {
            throw Missing(description: "LEDGER_PYTHON is not set: run the tests with scripts/test.sh (scripts/python-tools.sh)")
        }
        let input = NSTemporaryDirectory() + "ledger-metrics-\(UUID().uuidString).txt"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for sample in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    out[sample.name + "{" + labels + "}"] = sample.value
            print(json.dumps(out))
            """
        let result = try runProgram(python, ["-c", script, input])
        guard result.status == 0 else { throw Missing(description: "the parser refused /metrics: \(result.error)") }
        return try JSONDecoder().decode([String: Double].self, from: Data(result.output.utf8))
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    @Test func metricsParseAndCountWhatWasDone() throws {
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        let connection = try daemon.connect()
        try E2EExchange.run(E2EExchange.genesis, on: connection)
        // 5 deposits, 1 order that is rejected (no margin), 3 state queries.
        try E2EExchange.run(
            (1...5).map { .deposit(Transfer(transferID: UInt64($0), account: AccountID($0), asset: 0, amountMinor: 1_000_000)) },
            on: connection, firstID: 10)
        let rejected = try E2EExchange.run(
            [
                .placeOrder(
                    PlaceOrder(
                        account: 9, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 1_000))
            ], on: connection, firstID: 20)
        guard case .committed(_, _, let events) = rejected.first, case .rejected(let reason, _)? = events.last else {
            Issue.record("the order was not rejected: \(rejected)")
            return
        }
        for id in 30..<33 { _ = try connection.call(.stateQuery(requestID: UInt64(id))) }
        #expect(try daemon.http("GET", "/v1/account?account=1").status == 200)

        let samples = try Self.parse(try daemon.http("GET", "/metrics", token: nil).body)
        #expect(samples["ledger_commands_total{type=DEPOSIT}"] == 5, "\(samples.filter { $0.key.hasPrefix("ledger_commands") })")
        #expect(samples["ledger_commands_total{type=PLACE_ORDER}"] == 1)
        #expect(samples["ledger_commands_total{type=LIST_SYMBOL}"] == 1)
        #expect(samples["ledger_commands_total{type=SET_WORLD_LIMITS}"] == 1)
        #expect(samples["ledger_rejections_total{reason=\(reason.name)}"] == 1)
        // Reads are not commands.
        #expect(samples["ledger_reads_total{type=state}"] == 3)
        #expect(samples["ledger_reads_total{type=view}"] == 1)
        // Histograms: every TCP request the engine answered, one HTTP request so far (this
        // scrape is not an API request), each fdatasync, each block's entries.
        let tcpAnswered = 3 + 5 + 1 + 3
        #expect(
            samples["ledger_request_duration_seconds_count{protocol=tcp}"] == Double(tcpAnswered),
            "\(samples.filter { $0.key.contains("duration") })")
        #expect(samples["ledger_request_duration_seconds_bucket{le=+Inf,protocol=tcp}"] == Double(tcpAnswered))
        #expect(samples["ledger_request_duration_seconds_count{protocol=http}"] == 1)
        let syncs = try #require(samples["ledger_journal_fdatasync_seconds_count{}"])
        let blocks = try #require(samples["ledger_journal_blocks_total{}"])
        #expect(syncs >= 1 && syncs >= blocks - 1, "\(syncs) syncs for \(blocks) blocks")
        #expect(samples["ledger_journal_block_entries_count{}"] == blocks)
        #expect(
            samples["ledger_journal_block_entries_sum{}"] == 10,
            "1 world limits + 3 listings and marks + 5 deposits + 1 order; reads make no entry")
        // Gauges read at the scrape.
        #expect(samples["ledger_ready{}"] == 1)
        #expect(samples["ledger_durable_sequence{}"] == 10)
        #expect(samples["ledger_accounts{}"] == 5)
        #expect(samples["ledger_tcp_connections{}"] == 1)
        #expect(samples["ledger_tokens{}"] == Double(TestTokens.standard.count))
        #expect(samples["ledger_snapshot_age_seconds{}"] == -1)
        #expect((samples["ledger_journal_bytes_total{}"] ?? 0) > 0)
    }
}

/// `--log-format json`: every line of the daemon's log is one JSON object with time, level,
/// label and message; the start-up configuration is there, and no secret is.
@Suite struct JSONLogTests {
    @Test func everyLogLineIsAJSONObjectWithoutSecrets() throws {
        let daemon = DaemonProcess(extraArguments: ["--log-format", "json"])
        defer { daemon.cleanup() }
        try daemon.start()
        try E2EExchange.run(E2EExchange.genesis, on: try daemon.connect())
        #expect(daemon.terminate() == 0)
        let lines = daemon.log_().split(separator: "\n")
        #expect(lines.count >= 5)
        var messages: [String] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["time"] is String && object["level"] is String && object["label"] is String, "\(line)")
            messages.append(object["message"] as? String ?? "")
            if object["message"] as? String == "configuration" {
                #expect(object["auth.tokens_file"] as? String == daemon.tokensFile)
                #expect(object["journal.fsync"] as? String == "batch")
            }
        }
        for expected in ["configuration", "tokens", "recovered", "listening", "stopped"] {
            #expect(messages.contains(expected), "no \(expected) line in \(messages)")
        }
        for token in TestTokens.standard { #expect(!daemon.log_().contains(token.secret + "\"")) }
    }
}
