import LedgerCore

/// A full check of a journal directory without changing it (`ledger-replay verify`): every
/// segment header, every block's CRC, length and decoding, sequence continuity, the hash
/// chain from the first block to the last, and that every segment belongs to one ledger
/// and no epoch goes back. It goes on after damage, so a report lists every finding (up to
/// `findingsMax`), not only the first (docs/OPERATIONS.md, "Verifying a journal").
public enum JournalVerifier {
    /// Findings listed in a report; more are counted, not listed.
    public static let findingsMax = 100

    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            /// An incomplete write at the very end of the journal: never acknowledged, cut
            /// by ledgerd on start.
            case tornTail
            /// Bytes that fail their checks: a header or block, a broken chain, a file name
            /// that disagrees with its header.
            case damage
            /// Entries that are missing between two segments or unreadable inside one.
            case gap
            /// The journal starts after sequence 1 and no snapshot named covers the entries
            /// before it.
            case missingHistory
            /// A segment of another ledger.
            case foreignLedger
            /// A segment whose epoch is older than the segment's before it (a fenced-out
            /// writer's).
            case olderEpoch
            /// The snapshot named as the base of the history does not belong to this journal.
            case foreignSnapshot
        }

        public var kind: Kind
        public var segment: String
        public var offset: Int64
        public var reason: String

        public var description: String { "segment \(segment) at byte \(offset): \(reason)" }
    }

    /// Where the journal's history may start instead of sequence 1: a snapshot's sequence
    /// and the journal's chain value after the block that holds it (`SnapshotInfo`).
    public struct HistoryBase: Sendable {
        public var sequence: SequenceNumber
        public var chain: [UInt8]
        /// What it is, for messages ("snapshot snap-….zst").
        public var source: String

        public init(sequence: SequenceNumber, chain: [UInt8], source: String) {
            self.sequence = sequence
            self.chain = chain
            self.source = source
        }
    }

    public struct Report: Sendable {
        public var segments = 0
        public var blocks = 0
        public var entries: UInt64 = 0
        public var bytes: Int64 = 0
        /// The first entry found (nil when the journal holds none).
        public var firstSequence: SequenceNumber?
        public var lastSequence: SequenceNumber = 0
        /// The journal time of the last entry (ns since 1970).
        public var lastTimeNanos: Int64 = 0
        /// The chain value after the last block (the hash-chain head).
        public var lastChain = [UInt8](repeating: 0, count: 32)
        public var ledgerID: UInt64?
        /// The newest epoch of a segment.
        public var epoch: UInt64?
        public var findings: [Finding] = []
        public var findingsNotListed = 0
        /// When the journal starts after sequence 1 and the base named covers the entries
        /// before it: the base's description.
        public var historyCoveredBy: String?

        /// The first finding.
        public var finding: Finding? { findings.first }
        /// True when the only finding is a torn tail (which opening the journal cuts).
        public var findingIsTornTail: Bool { findings.count == 1 && findings[0].kind == .tornTail && findingsNotListed == 0 }
        /// Findings other than a torn tail.
        public var damage: [Finding] { findings.filter { $0.kind != .tornTail } }
    }

    /// Checks the journal in `directory`. `ledgerID` is the ledger the segments must belong
    /// to (by default the first segment's); `base` names a snapshot that stands for the
    /// entries before the journal's first. `progress` is called every 4,096 blocks.
    public static func verify(
        directory: String, ledgerID expectedLedger: UInt64? = nil, base: HistoryBase? = nil,
        storage: any Storage = PosixStorage(), progress: ((Report) -> Void)? = nil
    ) throws(JournalError) -> Report {
        var verifier = Walk(report: Report(), ledger: expectedLedger, base: base)
        let names = try JournalReader.segments(in: directory, storage: storage)
        for (position, name) in names.enumerated() {
            let file = try storage.open(directory + "/" + name, .read)
            try verifier.segment(file, named: name, isLast: position == names.count - 1, progress: progress)
        }
        try verifier.finish()
        return verifier.report
    }

    /// The state of one walk over the segments.
    struct Walk {
        var report: Report
        var ledger: UInt64?
        let base: HistoryBase?
        var baseChecked = false
        /// The last sequence read and the chain after it (nil when damage hides it).
        var previousLast: SequenceNumber?
        var previousChain: [UInt8]?
        var previousEpoch: UInt64?
        /// The last valid block, for the journal time of its last entry.
        var lastBlock: (file: any StorageFile, header: BlockHeader, offset: Int64)?

        mutating func add(_ kind: Finding.Kind, _ segment: String, _ offset: Int64, _ reason: String) {
            if report.findings.count < findingsMax {
                report.findings.append(Finding(kind: kind, segment: segment, offset: offset, reason: reason))
            } else {
                report.findingsNotListed += 1
            }
        }

        mutating func segment(
            _ file: any StorageFile, named name: String, isLast: Bool, progress: ((Report) -> Void)?
        ) throws(JournalError) {
            let size = try file.size
            report.segments += 1
            report.bytes += size
            var version = JournalFormat.version
            var offset = Int64(JournalFormat.segmentHeaderBytes)
            var expectedFirst = previousLast.map { $0 + 1 }
            var chain = previousChain
            switch SegmentHeader.decode(try file.read(count: JournalFormat.segmentHeaderBytes, at: 0)) {
            case .failure(let problem):
                var resume: (offset: Int64, version: UInt16)?
                for candidate in JournalFormat.readableVersions.reversed() where resume == nil {
                    if let found = try SegmentScanner.nextValidBlock(in: file, from: 0, size: size, version: candidate) {
                        resume = (found, candidate)
                    }
                }
                guard let resume else {
                    if isLast {
                        add(
                            .tornTail, name, 0,
                            "\(problem) and no block follows: a segment whose creation never completed (ledgerd removes it)")
                    } else {
                        add(.damage, name, 0, "\(problem), and no valid block in the segment's \(size) bytes")
                    }
                    previousChain = nil
                    return
                }
                add(.damage, name, 0, "\(problem); reading on from the first valid block, at byte \(resume.offset)")
                offset = resume.offset
                version = resume.version
                chain = nil
            case .success(let header):
                if let named = JournalFormat.firstSequence(ofSegmentNamed: name), named != header.firstSequence {
                    add(
                        .damage, name, 0,
                        "the file name says the segment starts at sequence \(named), its header says \(header.firstSequence)")
                }
                if let ledger, header.ledgerID != ledger {
                    add(.foreignLedger, name, 0, "segment of ledger \(header.ledgerID), not of ledger \(ledger): not read")
                    return
                }
                ledger = header.ledgerID
                report.ledgerID = header.ledgerID
                if let previousEpoch, header.epoch < previousEpoch {
                    add(.olderEpoch, name, 0, "segment of epoch \(header.epoch), older than epoch \(previousEpoch) before it: not read")
                    return
                }
                previousEpoch = header.epoch
                report.epoch = header.epoch
                version = header.version
                if previousLast == nil && report.findings.allSatisfy({ $0.kind != .damage }) {
                    startOfHistory(header, segment: name)
                } else if let expected = expectedFirst, header.firstSequence != expected {
                    if header.firstSequence > expected {
                        add(
                            .gap, name, 0,
                            "entries \(expected)…\(header.firstSequence - 1) are missing: the journal before this segment ends at \(expected - 1)"
                        )
                    } else {
                        add(
                            .damage, name, 0,
                            "segment starts at sequence \(header.firstSequence), but the journal before it already reaches \(expected - 1)")
                    }
                } else if let known = chain, header.chainStart != known {
                    add(.damage, name, 0, "the segment's starting chain value does not continue the segment before it")
                }
                if let base, !baseChecked, base.sequence + 1 == header.firstSequence {
                    checkBase(base, chain: header.chainStart, segment: name, offset: 0)
                }
                expectedFirst = header.firstSequence
                chain = header.chainStart
            }
            while offset < size {
                let verdict = try SegmentScanner.checkBlock(
                    in: file, at: offset, size: size, version: version, expectedFirst: nil, previousChain: chain, decodeEntries: true)
                switch verdict {
                case .valid(let header, let end), .chainBroken(let header, let end):
                    if case .chainBroken = verdict {
                        add(.damage, name, offset, "hash chain broken: the block's chain value does not follow from the block before it")
                    }
                    if let expected = expectedFirst, header.firstSequence != expected {
                        if header.firstSequence > expected {
                            add(.gap, name, offset, "entries \(expected)…\(header.firstSequence - 1) are missing before this block")
                        } else {
                            add(.damage, name, offset, "block starts at sequence \(header.firstSequence), expected \(expected)")
                        }
                    }
                    report.blocks += 1
                    report.entries += UInt64(header.entryCount)
                    if report.firstSequence == nil { report.firstSequence = header.firstSequence }
                    report.lastSequence = max(report.lastSequence, header.lastSequence)
                    if let base, !baseChecked, header.firstSequence <= base.sequence, base.sequence <= header.lastSequence {
                        checkBase(base, chain: header.chain, segment: name, offset: offset)
                    }
                    lastBlock = (file, header, offset)
                    previousLast = header.lastSequence
                    expectedFirst = header.lastSequence + 1
                    chain = header.chain
                    report.lastChain = header.chain
                    offset = end
                    if report.blocks % 4_096 == 0 { progress?(report) }
                case .invalid(let reason, let definitelyCorrupt):
                    let resume = try SegmentScanner.nextValidBlock(in: file, from: offset + 1, size: size, version: version)
                    if resume == nil && !definitelyCorrupt && isLast {
                        add(
                            .tornTail, name, offset,
                            "\(reason): a torn tail of \(size - offset) bytes (never acknowledged; ledgerd cuts it on start)")
                        previousChain = chain
                        return
                    }
                    guard let resume else {
                        add(.damage, name, offset, "\(reason); nothing valid in the segment's last \(size - offset) bytes")
                        previousChain = nil
                        return
                    }
                    add(.damage, name, offset, "\(reason); reading on from the next valid block, at byte \(resume)")
                    offset = resume
                    chain = nil
                }
            }
            previousChain = chain
        }

        /// The first segment read: where the history starts.
        mutating func startOfHistory(_ header: SegmentHeader, segment: String) {
            guard header.firstSequence > 1 else { return }
            let missing = "entries 1…\(header.firstSequence - 1) are not in this journal"
            guard let base else {
                add(
                    .missingHistory, segment, 0,
                    "the journal starts at sequence \(header.firstSequence): \(missing) (name the snapshot that covers them)")
                return
            }
            guard base.sequence + 1 >= header.firstSequence else {
                add(
                    .missingHistory, segment, 0,
                    "the journal starts at sequence \(header.firstSequence) and \(base.source) ends at \(base.sequence): entries \(base.sequence + 1)…\(header.firstSequence - 1) are in neither"
                )
                return
            }
            report.historyCoveredBy = base.source
        }

        mutating func checkBase(_ base: HistoryBase, chain: [UInt8], segment: String, offset: Int64) {
            baseChecked = true
            if chain != base.chain {
                add(
                    .foreignSnapshot, segment, offset,
                    "\(base.source) (sequence \(base.sequence)) does not belong to this journal: the chain values differ")
                report.historyCoveredBy = nil
            }
        }

        mutating func finish() throws(JournalError) {
            if let lastBlock {
                report.lastTimeNanos = try lastTime(of: lastBlock.header, in: lastBlock.file, at: lastBlock.offset) ?? 0
            }
            if let base, !baseChecked {
                add(
                    .foreignSnapshot, "-", 0,
                    "\(base.source) is at sequence \(base.sequence), outside the journal (\(report.firstSequence ?? 0)…\(report.lastSequence))"
                )
                report.historyCoveredBy = nil
            }
        }

        /// The journal time of a block's last entry.
        func lastTime(of header: BlockHeader, in file: any StorageFile, at offset: Int64) throws(JournalError) -> Int64? {
            let payload = try file.read(count: Int(header.payloadBytes), at: offset + Int64(JournalFormat.blockHeaderBytes))
            guard let raw = try? SegmentScanner.decompress(header: header, payload: payload),
                let frames = try? EntryFraming.frames(in: raw, firstSequence: header.firstSequence, count: Int(header.entryCount))
            else { return nil }
            return frames.last?.timeNanos
        }
    }
}
