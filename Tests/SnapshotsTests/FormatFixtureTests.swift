import Foundation
import Journal
import LedgerCore
import Snapshots
import Testing

/// Fixtures of every on-disk format version, read forever (docs/FORMATS.md). Regenerate
/// only when adding a new version, with LEDGER_REGENERATE_FIXTURES=1: the v1 files must
/// never change.
@Suite struct FormatFixtureTests {
    static let journalV1 = fixturesDirectory + "/journal-v1"
    static let snapshotV1 = fixturesDirectory + "/snapshot-v1"
    static let expectedV1 = fixturesDirectory + "/v1-expected.txt"

    /// key=value lines.
    static func expected() throws -> [String: String] {
        let text = try String(contentsOfFile: expectedV1, encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.contains("=") && !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1)
            values[String(parts[0])] = String(parts[1])
        }
        return values
    }

    /// Writes the v1 fixtures anew; only with LEDGER_REGENERATE_FIXTURES=1.
    static func regenerate() throws {
        try? FileManager.default.removeItem(atPath: Self.journalV1)
        try? FileManager.default.removeItem(atPath: Self.snapshotV1)
        let (state, chain) = try Scenario.run(journalDirectory: Self.journalV1)
        let info = try SnapshotStore(directory: Self.snapshotV1).create(journalDirectory: Self.journalV1, through: 40).info
        let text = """
            # Written by FormatFixtureTests.regenerate(); the v1 fixtures must never change.
            journal.lastSequence=\(state.lastSequence)
            journal.chain=\(hexString(chain))
            state.hash=\(hexString(state.stateHash()))
            snapshot.name=\(info.name)
            snapshot.sequence=\(info.sequence)
            snapshot.stateHash=\(hexString(info.stateHash))

            """
        try text.write(toFile: Self.expectedV1, atomically: true, encoding: .utf8)
    }

    /// One test, so that regeneration (when asked for) happens before both checks.
    @Test func v1FixturesVerifyReplayAndLoad() throws {
        if ProcessInfo.processInfo.environment["LEDGER_REGENERATE_FIXTURES"] == "1" { try Self.regenerate() }
        try checkJournalV1()
        try checkSnapshotV1()
    }

    func checkJournalV1() throws {
        let expected = try Self.expected()
        let report = try JournalVerifier.verify(directory: Self.journalV1)
        #expect(report.finding == nil)
        #expect(report.segments > 1)
        #expect(String(report.lastSequence) == expected["journal.lastSequence"])
        #expect(hexString(report.lastChain) == expected["journal.chain"])
        // Re-executing each journaled command gives exactly the journaled events.
        var state = ExchangeState()
        var events: [Event] = []
        let reader = JournalReader(directory: Self.journalV1)
        var count = 0
        try reader.forEach { entry in
            var payloadReader = ByteReader(Array(entry.payload))
            let payload = try EntryPayload.decode(from: &payloadReader)
            events.removeAll()
            state.execute(payload.command, sequence: entry.sequence, timeNanos: entry.timeNanos, into: &events)
            #expect(events == payload.events, "entry \(entry.sequence)")
            var reencoded = ByteWriter()
            EntryPayload.encode(command: payload.command, events: events, to: &reencoded)
            #expect(reencoded.bytes == Array(entry.payload), "entry \(entry.sequence) re-encodes differently")
            count += 1
        }
        #expect(count == Scenario.commands.count)
        #expect(hexString(state.stateHash()) == expected["state.hash"])
    }

    func checkSnapshotV1() throws {
        let expected = try Self.expected()
        let name = try #require(expected["snapshot.name"])
        let loaded = try SnapshotFile.load(path: Self.snapshotV1 + "/" + name)
        #expect(String(loaded.info.sequence) == expected["snapshot.sequence"])
        #expect(hexString(loaded.state.stateHash()) == expected["snapshot.stateHash"])
        // Snapshot + journal tail gives the journal's final state.
        let (restored, report) = try Recovery.restore(journalDirectory: Self.journalV1, snapshotDirectory: Self.snapshotV1)
        #expect(report.snapshot?.name == name)
        #expect(hexString(restored.stateHash()) == expected["state.hash"])
    }
}
