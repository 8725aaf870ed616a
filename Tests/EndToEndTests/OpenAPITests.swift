import Foundation
import LedgerClient
import LedgerCore
import Testing

/// docs/openapi.yaml against the live daemon: schemathesis (from PyPI, pinned in
/// scripts/python-tools.sh) generates requests for every operation — the document's
/// examples, its boundary values, then random ones — and checks that no answer is a server
/// error and every answer (status, content type, body) is one the document allows.
@Suite struct OpenAPITests {
    @Test func schemathesisFindsNoServerErrorAndNoResponseOutsideTheSchema() throws {
        guard let python = ProcessInfo.processInfo.environment["LEDGER_PYTHON"] else {
            Issue.record("LEDGER_PYTHON is not set: run the tests with scripts/test.sh (scripts/python-tools.sh)")
            return
        }
        let schemathesis = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("schemathesis").path
        let daemon = DaemonProcess()
        defer { daemon.cleanup() }
        try daemon.start()
        // Listings, funded accounts and a book, so that requests reach the engine's rules.
        let setup = try runTool(
            "ledger-load",
            ["--port", String(daemon.tcpPort), "--token-file", daemon.adminTokenFile, "--setup", "--accounts", "50", "--resting", "100"])
        #expect(setup.status == 0, "\(setup.error)")
        // A fixed seed: CI runs the same cases; LEDGER_SCHEMATHESIS_SEED explores others.
        let seed = ProcessInfo.processInfo.environment["LEDGER_SCHEMATHESIS_SEED"] ?? "20261204"
        let result = try runProgram(
            schemathesis,
            [
                "run", "docs/openapi.yaml", "--url", "http://127.0.0.1:\(daemon.httpPort)", "--header",
                "Authorization: Bearer \(DaemonProcess.adminToken)", "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples", "40", "--phases", "examples,coverage,fuzzing", "--seed", seed, "--no-color",
            ])
        let summary = result.output.split(separator: "\n").filter { $0.contains("generated") || $0.contains("failed") }
        print("schemathesis (seed \(seed)): \(summary.joined(separator: " | "))")
        #expect(result.status == 0, "schemathesis failed:\n\(result.output.suffix(6_000))\n\(result.error.suffix(2_000))")
        #expect(result.output.contains("passed") && !result.output.contains(" failed"), "\(result.output.suffix(3_000))")
        // The daemon is still serving.
        #expect(try daemon.http("GET", "/health/ready", token: nil).status == 200)
    }
}
