import CLZ4
import LedgerCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where a valid block is.
public struct BlockLocation: Sendable, Hashable {
    public var offset: Int64
    public var firstSequence: SequenceNumber
    public var entryCount: Int
    public var chain: [UInt8]

    public var lastSequence: SequenceNumber { firstSequence + SequenceNumber(entryCount) - 1 }
}

/// The result of reading one segment from the start.
public struct SegmentScan: Sendable {
    public var name: String
    public var header: SegmentHeader?
    public var blocks: [BlockLocation] = []
    /// The byte after the last valid block.
    public var validEnd: Int64
    public var fileSize: Int64
    /// The first thing wrong, if anything, and where.
    public var problem: (offset: Int64, reason: String)?
    /// True when the problem cannot be a torn tail: some valid block follows it, or it is
    /// damage a tear cannot leave (a whole header that fails its checks, a whole block
    /// whose CRC fails).
    public var problemIsNotATornTail = false

    public var lastSequence: SequenceNumber? { blocks.last?.lastSequence }
}

/// Reads segments block by block, checking what each block claims.
package enum SegmentScanner {
    /// Scans a segment. `expectedFirst` and `chain` are where the previous segment ended
    /// (nil for the first segment, which may start anywhere). Problems are reported, not
    /// thrown; only I/O errors throw. Every block's CRC and sequence are checked; the hash
    /// chain is recomputed only with `recomputeChain` (SHA-256 is the costly part: start-up
    /// does it for the open segment, `ledger-replay verify` for all of them).
    package static func scan(
        storage: any Storage, directory: String, name: String, expectedFirst: SequenceNumber?, chain previousChain: [UInt8]?,
        decodeEntries: Bool = false, recomputeChain: Bool = true
    ) throws(JournalError) -> SegmentScan {
        let file = try storage.open(directory + "/" + name, .read)
        let size = try file.size
        var scan = SegmentScan(name: name, header: nil, validEnd: 0, fileSize: size)
        let headerBytes = try file.read(count: JournalFormat.segmentHeaderBytes, at: 0)
        switch SegmentHeader.decode(headerBytes) {
        case .failure(let problem):
            scan.problem = (0, problem.description)
            scan.problemIsNotATornTail = try anyValidBlock(in: file, from: 0, size: size, version: JournalFormat.version)
            return scan
        case .success(let header):
            scan.header = header
            if let expectedFirst, header.firstSequence != expectedFirst {
                scan.problem = (0, "segment starts at sequence \(header.firstSequence), expected \(expectedFirst)")
                scan.problemIsNotATornTail = true
                return scan
            }
            if let previousChain, header.chainStart != previousChain {
                scan.problem = (0, "segment's starting chain value does not continue the previous segment")
                scan.problemIsNotATornTail = true
                return scan
            }
        }
        let version = scan.header!.version
        var chain = scan.header!.chainStart
        var nextSequence = scan.header!.firstSequence
        var offset = Int64(JournalFormat.segmentHeaderBytes)
        scan.validEnd = offset
        while offset < size {
            let verdict = try checkBlock(
                in: file, at: offset, size: size, version: version, expectedFirst: nextSequence,
                previousChain: recomputeChain ? chain : nil, decodeEntries: decodeEntries)
            switch verdict {
            case .valid(let header, let end):
                scan.blocks.append(
                    BlockLocation(
                        offset: offset, firstSequence: header.firstSequence, entryCount: Int(header.entryCount),
                        chain: header.chain))
                chain = header.chain
                nextSequence = header.lastSequence + 1
                offset = end
                scan.validEnd = end
            case .chainBroken:
                scan.problem = (offset, Self.chainBrokenReason)
                scan.problemIsNotATornTail = true
                return scan
            case .invalid(let reason, let definitelyCorrupt):
                scan.problem = (offset, reason)
                scan.problemIsNotATornTail = definitelyCorrupt
                if !definitelyCorrupt {
                    scan.problemIsNotATornTail = try anyValidBlock(in: file, from: offset + 1, size: size, version: version)
                }
                return scan
            }
        }
        return scan
    }

    enum Verdict {
        case valid(BlockHeader, end: Int64)
        /// `definitelyCorrupt`: no torn write leaves this, so it is damage wherever it is
        /// (docs/FORMATS.md, "Recovery rules"): a whole header that fails its checks, a
        /// whole block whose CRC fails, a broken chain or sequence.
        case invalid(String, definitelyCorrupt: Bool)
        /// A whole block whose CRC checks but whose chain value does not follow from the
        /// previous block's (damage: rewritten, or another journal's).
        case chainBroken(BlockHeader, end: Int64)
    }

    static let chainBrokenReason = "hash chain broken: the block's chain value does not follow from the previous block"

    /// Checks the block at `offset` of a segment of format `version`.
    ///
    /// A torn write leaves a prefix of what was written (the failure model of
    /// docs/DURABILITY.md), so only three things at the end of a file can be one: fewer
    /// than 64 header bytes, a header that checks with its payload cut short, or zeros to
    /// the end of the file. (A version 1 header has no check of its own: a damaged length
    /// in it cannot be told from a tear.)
    static func checkBlock(
        in file: any StorageFile, at offset: Int64, size: Int64, version: UInt16, expectedFirst: SequenceNumber?,
        previousChain: [UInt8]?, decodeEntries: Bool
    ) throws(JournalError) -> Verdict {
        let headerBytes = try file.read(count: JournalFormat.blockHeaderBytes, at: offset)
        guard headerBytes.count == JournalFormat.blockHeaderBytes else {
            return .invalid("block header cut short (\(headerBytes.count) of 64 bytes)", definitelyCorrupt: false)
        }
        guard let header = BlockHeader.parse(headerBytes[...], version: version) else {
            // Space a file system extended but never wrote reads as zeros (XFS and ext4 can
            // leave that after a crash): zeros to the end of the file are a tear too.
            if try allZero(file, from: offset, to: size) {
                return .invalid("zeros after the last block (\(size - offset) bytes never written)", definitelyCorrupt: false)
            }
            return .invalid("damaged block header (all 64 bytes present, its checks fail)", definitelyCorrupt: true)
        }
        let end = offset + Int64(JournalFormat.blockHeaderBytes) + Int64(header.payloadBytes)
        guard end <= size else {
            return .invalid("block payload cut short (\(size - offset - 64) of \(header.payloadBytes) bytes)", definitelyCorrupt: false)
        }
        let payload = try file.read(count: Int(header.payloadBytes), at: offset + Int64(JournalFormat.blockHeaderBytes))
        guard header.computeCRC(payload: payload[...]) == header.crc else {
            return .invalid("block checksum mismatch (the block is whole: damaged, not torn)", definitelyCorrupt: true)
        }
        if let expectedFirst, header.firstSequence != expectedFirst {
            return .invalid("block starts at sequence \(header.firstSequence), expected \(expectedFirst)", definitelyCorrupt: true)
        }
        if decodeEntries {
            do {
                let raw = try decompress(header: header, payload: payload)
                _ = try EntryFraming.frames(in: raw, firstSequence: header.firstSequence, count: Int(header.entryCount))
            } catch {
                return .invalid("block payload does not decode: \(error)", definitelyCorrupt: true)
            }
        }
        if let previousChain, header.computeChain(previous: previousChain, payload: payload[...]) != header.chain {
            return .chainBroken(header, end: end)
        }
        return .valid(header, end: end)
    }

    /// True when every byte of `start..<end` is zero.
    static func allZero(_ file: any StorageFile, from start: Int64, to end: Int64) throws(JournalError) -> Bool {
        var offset = start
        while offset < end {
            let bytes = try file.read(count: Int(min(1 << 20, end - offset)), at: offset)
            guard !bytes.isEmpty else { break }
            guard bytes.allSatisfy({ $0 == 0 }) else { return false }
            offset += Int64(bytes.count)
        }
        return true
    }

    /// True when a block with a valid header and CRC starts anywhere in `from..<size`.
    static func anyValidBlock(in file: any StorageFile, from start: Int64, size: Int64, version: UInt16) throws(JournalError) -> Bool {
        try nextValidBlock(in: file, from: start, size: size, version: version) != nil
    }

    /// The offset of the first block with a valid header and CRC in `from..<size`.
    static func nextValidBlock(in file: any StorageFile, from start: Int64, size: Int64, version: UInt16) throws(JournalError) -> Int64? {
        var offset = start
        let window = 1 << 20
        while offset + Int64(JournalFormat.blockHeaderBytes) <= size {
            let bytes = try file.read(count: min(window + 3, Int(size - offset)), at: offset)
            var index = 0
            while index + 4 <= bytes.count {
                if bytes[index] == 0x58 && bytes[index + 1] == 0x4C && bytes[index + 2] == 0x42 && bytes[index + 3] == 0x4B {
                    if case .valid = try checkBlock(
                        in: file, at: offset + Int64(index), size: size, version: version, expectedFirst: nil,
                        previousChain: nil, decodeEntries: false)
                    {
                        return offset + Int64(index)
                    }
                }
                index += 1
            }
            offset += Int64(window)
        }
        return nil
    }

    package enum DecompressError: Error, CustomStringConvertible {
        case lz4Failed
        case sizeMismatch
        package var description: String { self == .lz4Failed ? "LZ4 payload is invalid" : "payload size differs from its header" }
    }

    package static func decompress(header: BlockHeader, payload: [UInt8]) throws(DecompressError) -> [UInt8] {
        switch header.codec {
        case .none:
            guard payload.count == Int(header.uncompressedBytes) else { throw .sizeMismatch }
            return payload
        case .lz4:
            guard !payload.isEmpty, header.uncompressedBytes > 0 else { throw .sizeMismatch }
            var output = [UInt8](repeating: 0, count: Int(header.uncompressedBytes))
            let produced = payload.withUnsafeBufferPointer { source in
                output.withUnsafeMutableBufferPointer { destination in
                    LZ4_decompress_safe(
                        UnsafeRawPointer(source.baseAddress!).assumingMemoryBound(to: CChar.self),
                        UnsafeMutableRawPointer(destination.baseAddress!).assumingMemoryBound(to: CChar.self),
                        Int32(source.count), Int32(destination.count))
                }
            }
            guard produced >= 0 else { throw .lz4Failed }
            guard produced == Int(header.uncompressedBytes) else { throw .sizeMismatch }
            return output
        }
    }
}
