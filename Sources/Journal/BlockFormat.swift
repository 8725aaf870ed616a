import CCRC32C
import CLZ4
import LedgerCore

/// The byte layout of journal v1 (docs/FORMATS.md, "Journal"). All integers little-endian.
public enum JournalFormat {
    public static let version: UInt16 = 1
    /// "XLJOURNL"
    public static let segmentMagic: UInt64 = 0x4C4E_5255_4F4A_4C58
    public static let segmentHeaderBytes = 72
    /// "XLBK"
    public static let blockMagic: UInt32 = 0x4B42_4C58
    public static let blockHeaderBytes = 64
    public static let blockEntriesMax = 8_192
    public static let blockUncompressedBytesMax = 1 << 20
    /// LZ4's worst case for the largest block, plus the header.
    public static let blockBytesMax = blockHeaderBytes + Int(LZ4_compressBound(Int32(blockUncompressedBytesMax)))
    public static let chainBytes = 32
    public static let segmentSuffix = ".seg"
    public static let indexSuffix = ".idx"

    /// The file name of the segment whose first entry is `firstSequence`.
    public static func segmentName(firstSequence: SequenceNumber) -> String {
        let digits = String(firstSequence)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + segmentSuffix
    }

    /// The first sequence a segment file name stands for, or nil if it is not one.
    public static func firstSequence(ofSegmentNamed name: String) -> SequenceNumber? {
        guard name.hasSuffix(segmentSuffix), name.utf8.count == 20 + segmentSuffix.utf8.count else { return nil }
        return SequenceNumber(name.prefix(20))
    }
}

/// Payload codecs.
public enum BlockCodec: UInt8, Sendable {
    case none = 0
    case lz4 = 1
}

/// The fixed header of a segment file.
public struct SegmentHeader: Sendable, Hashable {
    public var ledgerID: UInt64
    public var epoch: UInt64
    public var firstSequence: SequenceNumber
    /// The chain value before the segment's first block (zeros for the first segment).
    public var chainStart: [UInt8]

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: JournalFormat.segmentHeaderBytes)
        writer.fixed64(JournalFormat.segmentMagic)
        writer.fixed32(UInt32(JournalFormat.version))  // version u16 + flags u16 (0)
        writer.fixed64(ledgerID)
        writer.fixed64(epoch)
        writer.fixed64(firstSequence)
        writer.raw(chainStart)
        let crc = crc32c(writer.bytes)
        writer.fixed32(crc)
        precondition(writer.bytes.count == JournalFormat.segmentHeaderBytes)
        return writer.bytes
    }

    /// Decodes and checks a header; the error string says what is wrong.
    public static func decode(_ bytes: [UInt8]) -> Result<SegmentHeader, HeaderProblem> {
        guard bytes.count >= JournalFormat.segmentHeaderBytes else { return .failure(.truncated) }
        var reader = ByteReader(bytes, range: 0..<JournalFormat.segmentHeaderBytes)
        do {
            guard try reader.fixed64() == JournalFormat.segmentMagic else { return .failure(.badMagic) }
            let versionAndFlags = try reader.fixed32()
            guard versionAndFlags & 0xFFFF == UInt32(JournalFormat.version) else {
                return .failure(.unsupportedVersion(UInt16(versionAndFlags & 0xFFFF)))
            }
            let ledgerID = try reader.fixed64()
            let epoch = try reader.fixed64()
            let first = try reader.fixed64()
            let chain = Array(try reader.raw(count: JournalFormat.chainBytes))
            let crcOffset = JournalFormat.segmentHeaderBytes - 4
            guard try reader.fixed32() == crc32c(bytes[0..<crcOffset]) else { return .failure(.badChecksum) }
            return .success(SegmentHeader(ledgerID: ledgerID, epoch: epoch, firstSequence: first, chainStart: chain))
        } catch {
            return .failure(.truncated)
        }
    }

    public enum HeaderProblem: Error, Sendable, Hashable, CustomStringConvertible {
        case truncated
        case badMagic
        case badChecksum
        case unsupportedVersion(UInt16)

        public var description: String {
            switch self {
            case .truncated: "segment header is truncated"
            case .badMagic: "not a journal segment (bad magic)"
            case .badChecksum: "segment header checksum mismatch"
            case .unsupportedVersion(let version): "segment format version \(version) is not supported"
            }
        }
    }
}

/// The fixed header of a block.
public struct BlockHeader: Sendable, Hashable {
    public var payloadBytes: UInt32
    public var uncompressedBytes: UInt32
    public var entryCount: UInt32
    public var firstSequence: SequenceNumber
    public var codec: BlockCodec
    public var crc: UInt32
    public var chain: [UInt8]

    /// The sequence of the block's last entry.
    public var lastSequence: SequenceNumber { firstSequence + SequenceNumber(entryCount) - 1 }

    /// The 28 bytes before the CRC, which the CRC and the chain cover.
    func coveredPrefix() -> [UInt8] {
        var writer = ByteWriter(capacity: 28)
        writer.fixed32(JournalFormat.blockMagic)
        writer.fixed32(payloadBytes)
        writer.fixed32(uncompressedBytes)
        writer.fixed32(entryCount)
        writer.fixed64(firstSequence)
        writer.fixed32(UInt32(codec.rawValue))
        return writer.bytes
    }

    func encoded() -> [UInt8] {
        var bytes = coveredPrefix()
        var writer = ByteWriter(capacity: 4)
        writer.fixed32(crc)
        bytes += writer.bytes
        bytes += chain
        precondition(bytes.count == JournalFormat.blockHeaderBytes)
        return bytes
    }

    /// Parses the fixed fields; nil when the bytes cannot be a block header at all.
    package static func parse(_ bytes: ArraySlice<UInt8>) -> BlockHeader? {
        guard bytes.count >= JournalFormat.blockHeaderBytes else { return nil }
        var reader = ByteReader(Array(bytes.prefix(JournalFormat.blockHeaderBytes)))
        guard (try? reader.fixed32()) == JournalFormat.blockMagic,
            let payload = try? reader.fixed32(), let uncompressed = try? reader.fixed32(),
            let count = try? reader.fixed32(), let first = try? reader.fixed64(),
            let codecWord = try? reader.fixed32(), let crc = try? reader.fixed32(),
            let chain = try? reader.raw(count: JournalFormat.chainBytes),
            codecWord >> 8 == 0, let codec = BlockCodec(rawValue: UInt8(codecWord)),
            count >= 1, count <= UInt32(JournalFormat.blockEntriesMax),
            // Sequences are 1 ... 2^63 − 1 (docs/FORMATS.md), so the last one never overflows
            // (found by the journal-block fuzzer: a first sequence near 2^64 trapped).
            first >= 1, first <= Limits.idMax - UInt64(count) + 1,
            uncompressed <= UInt32(JournalFormat.blockUncompressedBytesMax),
            Int(payload) <= JournalFormat.blockBytesMax - JournalFormat.blockHeaderBytes
        else { return nil }
        return BlockHeader(
            payloadBytes: payload, uncompressedBytes: uncompressed, entryCount: count, firstSequence: first, codec: codec,
            crc: crc, chain: Array(chain))
    }

    /// CRC32C over the covered prefix, the chain and the payload.
    package func computeCRC(payload: ArraySlice<UInt8>) -> UInt32 {
        var crc = crc32c(coveredPrefix())
        crc = crc32c(chain, extending: crc)
        return crc32c(payload, extending: crc)
    }

    /// The chain value of this block: SHA-256(previous chain ‖ covered prefix ‖ payload).
    func computeChain(previous: [UInt8], payload: ArraySlice<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(previous)
        hasher.update(coveredPrefix())
        payload.withUnsafeBufferPointer { hasher.update($0) }
        return hasher.finalize()
    }
}

/// CRC32C of bytes, optionally extending an earlier value.
public func crc32c(_ bytes: some Collection<UInt8>, extending crc: UInt32 = 0) -> UInt32 {
    if let value = bytes.withContiguousStorageIfAvailable({ ledger_crc32c_extend(crc, $0.baseAddress, $0.count) }) {
        return value
    }
    let copy = Array(bytes)
    return copy.withUnsafeBufferPointer { ledger_crc32c_extend(crc, $0.baseAddress, $0.count) }
}
