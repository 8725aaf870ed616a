import Foundation
import Testing

/// The units in deploy/ as systemd itself reads them: `systemd-analyze verify` says
/// nothing (no unknown key, no missing executable: ExecStart points at the built tools),
/// and `systemd-analyze security` rates each at most 3.0 (docs/OPERATIONS.md, "systemd").
@Suite struct SystemdUnitTests {
    static let units = [
        "ledgerd.service", "ledger-snapshot.service", "ledger-backup.service", "ledger-snapshot.timer", "ledger-backup.timer",
    ]
    static let exposureMax = 3.0

    /// The unit with its executables at the built ones, in a scratch directory with the
    /// units it names.
    func stage() throws -> String {
        let directory = NSTemporaryDirectory() + "ledger-units-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for unit in Self.units {
            let text = try String(contentsOfFile: "deploy/" + unit, encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/", with: binDirectory + "/").write(
                toFile: directory + "/" + unit, atomically: true, encoding: .utf8)
        }
        return directory
    }

    func systemdAnalyze(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let path = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw Missing(description: "systemd-analyze is not installed (apt-get install systemd; .ci/run does)")
        }
        return try runProgram(path, arguments)
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    @Test func everyUnitVerifiesWithoutAWord() throws {
        let directory = try stage()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for unit in Self.units {
            let result = try systemdAnalyze(["verify", directory + "/" + unit])
            #expect(result.status == 0, "\(unit): \(result.error)")
            #expect(result.error.isEmpty && result.output.isEmpty, "\(unit): \(result.output)\(result.error)")
        }
    }

    @Test func everyServiceIsExposedAtMostThree() throws {
        let directory = try stage()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for unit in Self.units where unit.hasSuffix(".service") {
            let result = try systemdAnalyze(["security", "--offline=yes", "--no-pager", directory + "/" + unit])
            let line = try #require(result.output.split(separator: "\n").last { $0.contains("Overall exposure level") }, "\(result)")
            let figure = try #require(line.split(separator: " ").compactMap { Double($0) }.first, "\(line)")
            #expect(figure <= Self.exposureMax, "\(unit): \(line)")
            print("\(unit): \(line)")
        }
        // The daemon's unit restarts on failure but never after a refused configuration.
        let daemon = try String(contentsOfFile: "deploy/ledgerd.service", encoding: .utf8)
        for line in [
            "RestartPreventExitStatus=2", "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict", "CapabilityBoundingSet=",
            "WatchdogSec=30s",
        ] {
            #expect(daemon.contains(line + "\n"), "ledgerd.service lacks \(line)")
        }
    }
}
