import Foundation
import Journal
import LedgerCore
import Testing

/// `JournalVerifier` lists every finding with its segment and byte, and never calls a
/// journal whole that misses entries, holds another ledger's segment or goes back an epoch.
@Suite struct JournalVerifierTests {
    /// A journal of 200 entries in segments of about 1 KiB (10 entries a block).
    func journal(_ directory: String, ledgerID: UInt64 = 1, epoch: UInt64 = 1) throws -> JournalWriter {
        let writer = try JournalWriter.open(.init(directory: directory, ledgerID: ledgerID, epoch: epoch, segmentBytesTarget: 1_024))
        try appendTestBlocks(writer, blocks: 20, perBlock: 10)
        return writer
    }

    /// Two journals of the same entries, `ours` with segment `index` replaced by `theirs`'.
    func transplant(
        _ index: Int, ours: (ledger: UInt64, epoch: UInt64), theirs: (ledger: UInt64, epoch: UInt64),
        _ body: (_ ours: String, _ theirs: String, _ segments: [String]) throws -> Void
    ) throws {
        let oursDirectory = TemporaryDirectory()
        let theirsDirectory = TemporaryDirectory()
        defer {
            oursDirectory.cleanup()
            theirsDirectory.cleanup()
        }
        _ = try journal(oursDirectory.path, ledgerID: ours.ledger, epoch: ours.epoch)
        _ = try journal(theirsDirectory.path, ledgerID: theirs.ledger, epoch: theirs.epoch)
        let segments = segmentFiles(oursDirectory.path)
        try FileManager.default.removeItem(atPath: oursDirectory.path + "/" + segments[index])
        try FileManager.default.copyItem(
            atPath: theirsDirectory.path + "/" + segments[index], toPath: oursDirectory.path + "/" + segments[index])
        try body(oursDirectory.path, theirsDirectory.path, segments)
    }

    func firstSequence(_ name: String) -> SequenceNumber { JournalFormat.firstSequence(ofSegmentNamed: name)! }

    @Test func aJournalWithoutItsFirstSegmentIsMissingHistoryUnlessASnapshotCoversIt() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try journal(directory.path)
        let segments = segmentFiles(directory.path)
        #expect(segments.count >= 4)
        let second = try JournalReader.header(ofSegment: segments[1], in: directory.path)
        try FileManager.default.removeItem(atPath: directory.path + "/" + segments[0])

        let report = try JournalVerifier.verify(directory: directory.path)
        #expect(report.findings.count == 1)
        let finding = try #require(report.finding)
        #expect(finding.kind == .missingHistory)
        #expect(finding.segment == segments[1] && finding.offset == 0)
        #expect(finding.reason.contains("entries 1…\(second.firstSequence - 1) are not in this journal"), "\(finding.reason)")
        #expect(report.firstSequence == second.firstSequence && report.lastSequence == 200)

        // A base at the entry before the journal, with the journal's chain value there: covered.
        let covering = JournalVerifier.HistoryBase(sequence: second.firstSequence - 1, chain: second.chainStart, source: "snapshot X")
        let covered = try JournalVerifier.verify(directory: directory.path, base: covering)
        #expect(covered.findings.isEmpty, "\(covered.findings)")
        #expect(covered.historyCoveredBy == "snapshot X")

        // One that ends earlier leaves a hole, and one of another journal does not count.
        let short = JournalVerifier.HistoryBase(sequence: second.firstSequence - 2, chain: second.chainStart, source: "snapshot Y")
        let hole = try JournalVerifier.verify(directory: directory.path, base: short)
        #expect(hole.findings.map(\.kind) == [.missingHistory, .foreignSnapshot], "\(hole.findings)")
        #expect(hole.findings[0].reason.contains("entries \(second.firstSequence - 1)…\(second.firstSequence - 1) are in neither"))
        var wrongChain = covering
        wrongChain.chain[0] ^= 1
        let foreign = try JournalVerifier.verify(directory: directory.path, base: wrongChain)
        #expect(foreign.findings.map(\.kind) == [.foreignSnapshot])
        #expect(foreign.historyCoveredBy == nil)
    }

    @Test func aMissingMiddleSegmentIsAGapNamingTheEntries() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try journal(directory.path)
        let segments = segmentFiles(directory.path)
        try FileManager.default.removeItem(atPath: directory.path + "/" + segments[2])
        let report = try JournalVerifier.verify(directory: directory.path)
        #expect(report.findings.map(\.kind) == [.gap])
        #expect(report.finding?.segment == segments[3] && report.finding?.offset == 0)
        let from = firstSequence(segments[2])
        let through = firstSequence(segments[3]) - 1
        #expect(report.finding?.reason.hasPrefix("entries \(from)…\(through) are missing") == true, "\(report.findings)")
    }

    @Test func everyDamagedSegmentIsListedNotOnlyTheFirst() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try journal(directory.path)
        let segments = segmentFiles(directory.path)
        #expect(segments.count >= 5)
        // Inside the first block's payload of two sealed segments.
        try flipByte(directory.path + "/" + segments[1], at: 150)
        try flipByte(directory.path + "/" + segments[3], at: 150)
        let report = try JournalVerifier.verify(directory: directory.path)
        let damage = report.findings.filter { $0.kind == .damage }
        #expect(damage.map(\.segment) == [segments[1], segments[3]], "\(report.findings)")
        #expect(damage.allSatisfy { $0.offset == 72 && $0.reason.contains("block checksum mismatch") })
        // Each damaged block's entries are named as a gap where reading resumes.
        let gaps = report.findings.filter { $0.kind == .gap }
        #expect(gaps.count == 2)
        #expect(gaps.allSatisfy { $0.reason.contains("entries \(firstSequence($0.segment))…") }, "\(gaps)")
        #expect(!report.findingIsTornTail)
        #expect(report.lastSequence == 200)
    }

    @Test func aSegmentOfAnotherLedgerIsRefusedAndNotRead() throws {
        try transplant(1, ours: (7, 1), theirs: (8, 1)) { ours, theirs, segments in
            let report = try JournalVerifier.verify(directory: ours)
            #expect(report.findings.map(\.kind) == [.foreignLedger, .gap], "\(report.findings)")
            #expect(report.findings[0].segment == segments[1] && report.findings[0].offset == 0)
            #expect(report.findings[0].reason.contains("ledger 8, not of ledger 7"))
            // With the ledger named, a journal all of another ledger is refused segment by segment.
            let named = try JournalVerifier.verify(directory: theirs, ledgerID: 7)
            #expect(named.findings.count == segments.count && named.findings.allSatisfy { $0.kind == .foreignLedger })
            // The writer refuses it too.
            #expect(throws: JournalError.self) { _ = try JournalWriter.open(.init(directory: ours, ledgerID: 7)) }
        }
    }

    @Test func aSegmentOfAnOlderEpochIsRefusedAndAnOlderWriterIsFencedOut() throws {
        try transplant(2, ours: (1, 2), theirs: (1, 1)) { newer, older, segments in
            let report = try JournalVerifier.verify(directory: newer)
            #expect(report.findings.first?.kind == .olderEpoch, "\(report.findings)")
            #expect(report.findings.first?.segment == segments[2])
            #expect(report.findings.first?.reason.contains("epoch 1, older than epoch 2") == true)
            #expect {
                _ = try JournalWriter.open(.init(directory: older, ledgerID: 1, epoch: 1))
                _ = try JournalWriter.open(.init(directory: newer, ledgerID: 1, epoch: 1))
            } throws: { error in
                "\(error)".contains("epoch 2, newer than this writer's epoch 1")
            }
        }
    }

    @Test func aDamagedSegmentHeaderIsReadOnFromItsFirstValidBlock() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try journal(directory.path)
        let segments = segmentFiles(directory.path)
        try flipByte(directory.path + "/" + segments[1], at: 30)
        let report = try JournalVerifier.verify(directory: directory.path)
        #expect(report.findings.map(\.kind) == [.damage], "\(report.findings)")
        #expect(
            report.finding?.reason.contains("segment header checksum mismatch; reading on from the first valid block, at byte 72") == true)
        #expect(report.entries == 200)
    }
}
