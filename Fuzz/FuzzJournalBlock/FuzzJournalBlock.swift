import Foundation
import FuzzSupport
import FuzzSupportCore
import Journal
import LedgerCore

/// A journal block from any bytes: the 64-byte header, then the payload, with the header
/// check and the CRC recomputed so that the fuzzer reaches decompression, entry framing
/// and entry decoding. Nothing traps; every entry that decodes re-encodes to its bytes.
@_cdecl("FuzzJournalBlock_main")
public func fuzzJournalBlockMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, seeds: seeds) { bytes in
        guard bytes.count >= JournalFormat.blockHeaderBytes else { return }
        var head = Array(bytes[0..<JournalFormat.blockHeaderBytes])
        _ = BlockHeader.parse(head[...], version: 2)  // the bytes as they are: no trap
        // The same fields without the version 2 check: a version 1 header.
        head[25] = 0
        head[26] = 0
        head[27] = 0
        guard var header = BlockHeader.parse(head[...], version: 1) else { return }
        let payload = Array(bytes[JournalFormat.blockHeaderBytes...])
        guard Int(header.payloadBytes) == payload.count, header.entryCount <= JournalFormat.blockEntriesMax else { return }
        header.crc = header.computeCRC(payload: payload[...])
        guard let raw = try? SegmentScanner.decompress(header: header, payload: payload),
            let entries = try? EntryFraming.entries(in: raw, firstSequence: header.firstSequence, count: Int(header.entryCount))
        else { return }
        for entry in entries {
            guard let decoded = try? entry.decodePayload() else { continue }
            Fuzz.require(Samples.encoded(decoded).elementsEqual(entry.payload), "entry \(entry.sequence) re-encodes differently")
        }
    }
}

/// Real blocks: a journal written to a temporary directory, cut into its blocks.
func seeds() -> [[UInt8]] {
    let directory = NSTemporaryDirectory() + "ledger-fuzz-seeds-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    guard let writer = try? JournalWriter.open(.init(directory: directory, fsync: .none)) else { return [] }
    var sequence: SequenceNumber = 0
    for chunk in [1, 3, 10, 40] {
        var batch = JournalBatch()
        for entry in Samples.entries(count: 60).entries.prefix(chunk) {
            sequence += 1
            batch.append(sequence: sequence, timeNanos: Int64(sequence) * 1_000, payload: Samples.encoded(entry))
        }
        try? writer.append(batch)
    }
    guard let name = try? JournalReader.segments(in: directory).first,
        let data = FileManager.default.contents(atPath: directory + "/" + name)
    else { return [] }
    let bytes = [UInt8](data)
    var blocks: [[UInt8]] = []
    var offset = JournalFormat.segmentHeaderBytes
    while offset + JournalFormat.blockHeaderBytes <= bytes.count,
        let header = BlockHeader.parse(bytes[offset..<offset + JournalFormat.blockHeaderBytes])
    {
        let end = offset + JournalFormat.blockHeaderBytes + Int(header.payloadBytes)
        blocks.append(Array(bytes[offset..<end]))
        offset = end
    }
    return blocks
}
