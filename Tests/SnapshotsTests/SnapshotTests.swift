import Foundation
import Journal
import LedgerCore
import LedgerDigest
import Snapshots
import Testing

@Suite struct SnapshotTests {
    @Test func writeThenLoadGivesTheSameState() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (state, chain) = try Scenario.run(journalDirectory: directory.path + "/journal")
        let info = try SnapshotFile.write(state, journalChain: chain, directory: directory.path + "/snapshots")
        #expect(info.sequence == state.lastSequence)
        #expect(info.stateHash == state.stateHash())
        let loaded = try SnapshotFile.load(path: directory.path + "/snapshots/" + info.name)
        #expect(loaded.state.stateHash() == state.stateHash())
        #expect(loaded.state.lastSequence == state.lastSequence)
        #expect(loaded.info == info)
    }

    @Test func restartIsSnapshotPlusJournalTail() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let journal = directory.path + "/journal"
        let snapshots = directory.path + "/snapshots"
        let (final, _) = try Scenario.run(journalDirectory: journal)
        // Snapshot the state as of sequence 35 (rebuilt from the journal).
        try SnapshotStore(directory: snapshots).create(journalDirectory: journal, through: 35)
        let (restored, report) = try Recovery.restore(journalDirectory: journal, snapshotDirectory: snapshots)
        #expect(report.snapshot?.sequence == 35)
        #expect(report.entriesReplayed == UInt64(final.lastSequence - 35))
        #expect(restored.stateHash() == final.stateHash())
    }

    @Test func aDamagedNewestSnapshotFallsBackToTheOneBefore() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let journal = directory.path + "/journal"
        let snapshots = directory.path + "/snapshots"
        let (final, _) = try Scenario.run(journalDirectory: journal)
        for sequence in [20, 50] as [SequenceNumber] {
            try SnapshotStore(directory: snapshots).create(journalDirectory: journal, through: sequence)
        }
        // Flip a byte in the body of the newest.
        let newest = snapshots + "/" + SnapshotFile.name(sequence: 50)
        var data = try Data(contentsOf: URL(fileURLWithPath: newest))
        data[SnapshotFile.headerBytes + 10] ^= 0x01
        try data.write(to: URL(fileURLWithPath: newest))
        #expect(throws: SnapshotError.self) { try SnapshotFile.load(path: newest) }
        let (restored, report) = try Recovery.restore(journalDirectory: journal, snapshotDirectory: snapshots)
        #expect(report.snapshot?.sequence == 20)
        #expect(report.skippedSnapshots.map(\.name) == [SnapshotFile.name(sequence: 50)])
        #expect(restored.stateHash() == final.stateHash())
    }

    @Test(arguments: [0, 5, 60, 100, 112])
    func aDamagedHeaderIsRefused(offset: Int) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (state, chain) = try Scenario.run(journalDirectory: directory.path + "/journal")
        let info = try SnapshotFile.write(state, journalChain: chain, directory: directory.path)
        let path = directory.path + "/" + info.name
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[offset] ^= 0x10
        try data.write(to: URL(fileURLWithPath: path))
        #expect(throws: SnapshotError.self) { try SnapshotFile.load(path: path) }
    }

    @Test func aTruncatedSnapshotIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (state, chain) = try Scenario.run(journalDirectory: directory.path + "/journal")
        let info = try SnapshotFile.write(state, journalChain: chain, directory: directory.path)
        let path = directory.path + "/" + info.name
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        for keep in [0, 50, SnapshotFile.headerBytes, data.count - 1] {
            try data.prefix(keep).write(to: URL(fileURLWithPath: path))
            #expect(throws: SnapshotError.self) { try SnapshotFile.load(path: path) }
        }
    }

    @Test func pruneKeepsTheNewest() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (state, chain) = try Scenario.run(journalDirectory: directory.path + "/journal")
        var copy = state
        for _ in 0..<4 {
            try SnapshotFile.write(copy, journalChain: chain, directory: directory.path + "/s")
            var events: [Event] = []
            copy.execute(.setMarkPrice(symbol: 0, priceUnits: 500_100), sequence: copy.lastSequence + 1, timeNanos: 0, into: &events)
        }
        let store = SnapshotStore(directory: directory.path + "/s")
        let removed = try store.prune(keep: 2)
        #expect(removed.count == 2)
        #expect(try store.names().compactMap(SnapshotFile.sequence(ofFileNamed:)) == [state.lastSequence + 2, state.lastSequence + 3])
    }
}
