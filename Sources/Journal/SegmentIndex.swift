import LedgerCore

/// The sparse index of a sealed segment (`<segment>.idx`): the first sequence and byte
/// offset of every block, so a reader can seek without scanning. Rebuilt by scanning
/// when missing or damaged; never trusted over the segment itself.
enum SegmentIndex {
    /// "XLINDEX1"
    static let magic: UInt64 = 0x3158_4544_4E49_4C58

    static func encode(_ blocks: [BlockLocation]) -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + blocks.count * 20)
        writer.fixed64(magic)
        writer.fixed32(UInt32(JournalFormat.version))
        writer.fixed32(UInt32(blocks.count))
        for block in blocks {
            writer.fixed64(block.firstSequence)
            writer.fixed64(UInt64(block.offset))
            writer.fixed32(UInt32(block.entryCount))
        }
        writer.fixed32(crc32c(writer.bytes))
        return writer.bytes
    }

    /// The (first sequence, offset, count) of each block, or nil if the file is not a
    /// valid index.
    static func decode(_ bytes: [UInt8]) -> [(firstSequence: SequenceNumber, offset: Int64, count: Int)]? {
        guard bytes.count >= 20,
            crc32c(bytes[0..<bytes.count - 4])
                == {
                    var reader = ByteReader(bytes, range: bytes.count - 4..<bytes.count)
                    return (try? reader.fixed32()) ?? 0
                }()
        else { return nil }
        var reader = ByteReader(bytes, range: 0..<bytes.count - 4)
        guard (try? reader.fixed64()) == magic, (try? reader.fixed32()) == UInt32(JournalFormat.version),
            let count = try? reader.fixed32(), Int(count) * 20 == reader.remaining
        else { return nil }
        var result: [(SequenceNumber, Int64, Int)] = []
        for _ in 0..<count {
            guard let first = try? reader.fixed64(), let offset = try? reader.fixed64(), let entries = try? reader.fixed32()
            else { return nil }
            result.append((first, Int64(offset), Int(entries)))
        }
        return result
    }
}
