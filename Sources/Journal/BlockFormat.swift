import CCRC32C
import CLZ4
import LedgerCore
import LedgerDigest

/// The byte layout of the journal (docs/FORMATS.md, "Journal"). All integers little-endian.
public enum JournalFormat {
    /// The version new segments are written in. Version 2 adds a check of the block header
    /// alone (so a damaged header is never mistaken for a torn write); version 1 segments
    /// are still read, and a writer that opens one keeps appending version 1 blocks to it.
    public static let version: UInt16 = 2
    public static let readableVersions: ClosedRange<UInt16> = 1...2
    /// "XLJOURNL"
    public static let segmentMagic: UInt64 = 0x4C4E_5255_4F4A_4C58
    public static let segmentHeaderBytes = 72
    /// "XLBK"
    public static let blockMagic: UInt32 = 0x4B42_4C58
    public static let blockHeaderBytes = 64
    public static let blockEntriesMax = 8_192
    public static let blockUncompressedBytesMax = 1 << 20
    /// One entry's payload (command and events) at most. A batch closes while this much
    /// room (plus framing) is left in a block, so any entry fits the block it starts;
    /// the engine's bounded rules keep every entry far below it (docs/RULES.md).
    public static let entryPayloadBytesMax = Limits.entryPayloadBytesMax
    /// Framing of one entry in a block: time delta and length varints.
    public static let entryFramingBytesMax = 20
    /// An entry above `entryPayloadBytesMax` starts a block of its own, up to this (the
    /// engine's own entries only: a liquidation tick of one account with positions in many
    /// symbols or many ADL counterparties; docs/RULES.md). Above it the engine stops.
    public static let entryPayloadBytesHardMax = blockUncompressedBytesMax - entryFramingBytesMax
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
    /// The format version of the segment and of every block in it.
    public var version: UInt16 = JournalFormat.version
    public var ledgerID: UInt64
    public var epoch: UInt64
    public var firstSequence: SequenceNumber
    /// The chain value before the segment's first block (zeros for the first segment).
    public var chainStart: [UInt8]

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: JournalFormat.segmentHeaderBytes)
        writer.fixed64(JournalFormat.segmentMagic)
        writer.fixed32(UInt32(version))  // version u16 + flags u16 (0)
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
            let version = UInt16(versionAndFlags & 0xFFFF)
            guard JournalFormat.readableVersions.contains(version), versionAndFlags >> 16 == 0 else {
                return .failure(.unsupportedVersion(version))
            }
            let ledgerID = try reader.fixed64()
            let epoch = try reader.fixed64()
            let first = try reader.fixed64()
            let chain = Array(try reader.raw(count: JournalFormat.chainBytes))
            let crcOffset = JournalFormat.segmentHeaderBytes - 4
            guard try reader.fixed32() == crc32c(bytes[0..<crcOffset]) else { return .failure(.badChecksum) }
            return .success(
                SegmentHeader(version: version, ledgerID: ledgerID, epoch: epoch, firstSequence: first, chainStart: chain))
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

    /// The 28 bytes before the CRC, which the CRC and the chain cover. The codec word is
    /// taken without the version 2 header check (the check covers the CRC and the chain).
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

    /// The header's bytes in a segment of `version`: from version 2 the codec word's upper
    /// 24 bits hold `headerCheck` of the other 61 bytes.
    func encoded(version: UInt16 = JournalFormat.version) -> [UInt8] {
        var bytes = coveredPrefix()
        var writer = ByteWriter(capacity: 4)
        writer.fixed32(crc)
        bytes += writer.bytes
        bytes += chain
        precondition(bytes.count == JournalFormat.blockHeaderBytes)
        if version >= 2 {
            let check = Self.headerCheck(bytes[...])
            bytes[25] = UInt8(truncatingIfNeeded: check)
            bytes[26] = UInt8(truncatingIfNeeded: check >> 8)
            bytes[27] = UInt8(truncatingIfNeeded: check >> 16)
        }
        return bytes
    }

    /// The version 2 header check: the low 24 bits of CRC32C over the 64 header bytes with
    /// bytes 25..<28 (where the check goes) taken as zero. It catches every single- and
    /// double-bit error in the header (BlockHeaderCheckTests tries them all).
    package static func headerCheck(_ header: ArraySlice<UInt8>) -> UInt32 {
        var bytes = Array(header.prefix(JournalFormat.blockHeaderBytes))
        bytes[25] = 0
        bytes[26] = 0
        bytes[27] = 0
        return crc32c(bytes) & 0xFF_FFFF
    }

    /// Parses the fixed fields of a block in a segment of `version`; nil when the bytes
    /// cannot be a block header at all (from version 2: when the header check fails).
    package static func parse(_ bytes: ArraySlice<UInt8>, version: UInt16 = JournalFormat.version) -> BlockHeader? {
        guard bytes.count >= JournalFormat.blockHeaderBytes else { return nil }
        var reader = ByteReader(Array(bytes.prefix(JournalFormat.blockHeaderBytes)))
        guard (try? reader.fixed32()) == JournalFormat.blockMagic,
            let payload = try? reader.fixed32(), let uncompressed = try? reader.fixed32(),
            let count = try? reader.fixed32(), let first = try? reader.fixed64(),
            let codecWord = try? reader.fixed32(), let crc = try? reader.fixed32(),
            let chain = try? reader.raw(count: JournalFormat.chainBytes),
            version >= 2 ? codecWord >> 8 == headerCheck(bytes) : codecWord >> 8 == 0,
            let codec = BlockCodec(rawValue: UInt8(truncatingIfNeeded: codecWord)),
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
