import LedgerCore

#if canImport(Glibc)
    import Glibc
#endif

/// A block read back, with its entries from the reader's next sequence on.
public struct ReadBlock: Sendable {
    public var segment: String
    public var offset: Int64
    public var header: BlockHeader
    /// The block's uncompressed bytes, where the entries lie.
    public var bytes: ArraySlice<UInt8>
    /// Where each entry lies in `bytes` (`EntryFrame.decodePayload(in:appendingEventsTo:)`
    /// decodes one without a `JournalEntry`).
    public var frames: ArraySlice<EntryFrame>

    /// The entries, each keeping the block's bytes.
    public var entries: [JournalEntry] { frames.map { $0.entry(in: bytes) } }
}

/// Reads entries in sequence order, from any starting sequence, up to a limit the caller
/// gives (the writer's durable sequence when tailing a live journal). Checks every
/// block's CRC; `JournalVerifier` also checks the hash chain. Not thread-safe; any number
/// of readers may read a directory one writer appends to.
public final class JournalReader {
    public let directory: String
    public let storage: any Storage
    private var segment: String?
    private var segmentVersion = JournalFormat.version
    private var file: (any StorageFile)?
    private var offset: Int64 = 0
    /// The sequence of the next entry to hand out.
    public private(set) var nextSequence: SequenceNumber

    /// Positions the reader at `sequence` (1 for the whole journal).
    public init(directory: String, from sequence: SequenceNumber = 1, storage: any Storage = PosixStorage()) {
        self.directory = directory
        self.storage = storage
        self.nextSequence = max(1, sequence)
    }

    /// The segment names in order.
    public static func segments(in directory: String, storage: any Storage = PosixStorage()) throws(JournalError) -> [String] {
        try storage.list(directory).filter { JournalFormat.firstSequence(ofSegmentNamed: $0) != nil }
    }

    /// The header of one segment (ledger id, epoch, first sequence, chain start).
    public static func header(
        ofSegment name: String, in directory: String, storage: any Storage = PosixStorage()
    ) throws(JournalError) -> SegmentHeader {
        let file = try storage.open(directory + "/" + name, .read)
        switch SegmentHeader.decode(try file.read(count: JournalFormat.segmentHeaderBytes, at: 0)) {
        case .success(let header): return header
        case .failure(let problem): throw .corrupt(segment: name, offset: 0, reason: problem.description)
        }
    }

    /// The next block holding `nextSequence`, if it is complete and within `limit`.
    /// Entries before `nextSequence` in that block are dropped.
    public func nextBlock(upTo limit: SequenceNumber = .max) throws(JournalError) -> ReadBlock? {
        guard nextSequence <= limit else { return nil }
        if file == nil { try position() }
        guard let file, let segment else { return nil }
        while true {
            let size = try file.size
            if offset >= size {
                // The end of this segment: move on if a later one exists.
                let names = try Self.segments(in: directory, storage: storage)
                guard let next = names.first(where: { JournalFormat.firstSequence(ofSegmentNamed: $0)! == nextSequence }),
                    next != segment
                else { return nil }
                guard try open(segment: next) else { return nil }  // its header is still being written
                return try nextBlock(upTo: limit)
            }
            let headerBytes = try file.read(count: JournalFormat.blockHeaderBytes, at: offset)
            guard let header = BlockHeader.parse(headerBytes[...], version: segmentVersion) else {
                if headerBytes.count < JournalFormat.blockHeaderBytes { return nil }  // still being written
                throw .corrupt(segment: segment, offset: offset, reason: "no valid block header")
            }
            let payloadOffset = offset + Int64(JournalFormat.blockHeaderBytes)
            guard payloadOffset + Int64(header.payloadBytes) <= size else { return nil }
            guard header.firstSequence <= limit else { return nil }
            let payload = try file.read(count: Int(header.payloadBytes), at: payloadOffset)
            guard header.computeCRC(payload: payload[...]) == header.crc else {
                throw .corrupt(segment: segment, offset: offset, reason: "block checksum mismatch")
            }
            let blockOffset = offset
            offset = payloadOffset + Int64(header.payloadBytes)
            if header.lastSequence < nextSequence { continue }
            guard header.firstSequence <= nextSequence else {
                throw .corrupt(
                    segment: segment, offset: blockOffset, reason: "gap: block starts at \(header.firstSequence), expected \(nextSequence)")
            }
            let raw: [UInt8]
            let frames: [EntryFrame]
            do {
                raw = try SegmentScanner.decompress(header: header, payload: payload)
                frames = try EntryFraming.frames(in: raw, firstSequence: header.firstSequence, count: Int(header.entryCount))
            } catch {
                throw .corrupt(segment: segment, offset: blockOffset, reason: "block payload does not decode: \(error)")
            }
            let skipped = Int(nextSequence - header.firstSequence)
            nextSequence = header.lastSequence + 1
            return ReadBlock(segment: segment, offset: blockOffset, header: header, bytes: raw[...], frames: frames[skipped...])
        }
    }

    /// Calls `body` for every entry from `nextSequence` through `limit`.
    public func forEach(
        upTo limit: SequenceNumber = .max, _ body: (JournalEntry) throws -> Void
    ) throws {
        while let block = try nextBlock(upTo: limit) {
            for entry in block.entries where entry.sequence <= limit { try body(entry) }
            if nextSequence > limit { break }
        }
    }

    /// Finds the segment and block that hold `nextSequence`.
    private func position() throws(JournalError) {
        let names = try Self.segments(in: directory, storage: storage)
        guard let name = names.last(where: { JournalFormat.firstSequence(ofSegmentNamed: $0)! <= nextSequence }) ?? names.first
        else { return }
        guard try open(segment: name) else { return }
        // Skip to the block through the index when there is one; else scan headers.
        if let bytes = try? storage.readAll(indexPath(directory, name)),
            let blocks = SegmentIndex.decode(bytes),
            let block = blocks.last(where: { $0.firstSequence <= nextSequence })
        {
            offset = block.offset
        }
    }

    /// Moves to a segment; false (staying where it was) while the segment's header is not
    /// all there yet (the writer has just created it).
    private func open(segment name: String) throws(JournalError) -> Bool {
        let opened = try storage.open(directory + "/" + name, .read)
        switch SegmentHeader.decode(try opened.read(count: JournalFormat.segmentHeaderBytes, at: 0)) {
        case .success(let header): segmentVersion = header.version
        case .failure(.truncated): return false
        case .failure(let problem): throw .corrupt(segment: name, offset: 0, reason: problem.description)
        }
        file = opened
        segment = name
        offset = Int64(JournalFormat.segmentHeaderBytes)
        return true
    }
}

extension JournalReader {
    /// The journal's last complete entry (sequence and journal time), found from its last
    /// segment without reading the others; nil when it holds none.
    public static func head(
        in directory: String, storage: any Storage = PosixStorage()
    ) throws(JournalError) -> (sequence: SequenceNumber, timeNanos: Int64)? {
        for name in try segments(in: directory, storage: storage).reversed() {
            let scan = try SegmentScanner.scan(
                storage: storage, directory: directory, name: name, expectedFirst: nil, chain: nil, recomputeChain: false)
            guard let last = scan.blocks.last else { continue }
            let reader = JournalReader(directory: directory, from: last.lastSequence, storage: storage)
            guard let entry = try reader.nextBlock()?.entries.last else { continue }
            return (entry.sequence, entry.timeNanos)
        }
        return nil
    }
}
