import Foundation
import Journal
import LedgerCore
@_exported import LedgerTestSupport

/// The payload the tests write for entry `sequence`: recognisable and of varying length.
func testPayload(_ sequence: SequenceNumber) -> [UInt8] {
    var bytes = Array("entry-\(sequence)-".utf8)
    bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: Int(sequence % 37))
    return bytes
}

/// Appends `blocks` blocks of `perBlock` entries after the writer's last sequence.
func appendTestBlocks(_ writer: JournalWriter, blocks: Int, perBlock: Int) throws {
    var batch = JournalBatch()
    for _ in 0..<blocks {
        batch.reset()
        for _ in 0..<perBlock {
            let sequence = writer.lastSequence + SequenceNumber(batch.count) + 1
            batch.append(sequence: sequence, timeNanos: Int64(sequence) * 1_000_003, payload: testPayload(sequence))
        }
        try writer.append(batch)
    }
}

/// Every entry in the directory, in order.
func readAll(_ directory: String, from sequence: SequenceNumber = 1) throws -> [JournalEntry] {
    let reader = JournalReader(directory: directory, from: sequence)
    var entries: [JournalEntry] = []
    try reader.forEach { entries.append($0) }
    return entries
}

func segmentFiles(_ directory: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()) ?? []
}

/// Flips one bit of a file at `offset` (negative counts from the end).
func flipByte(_ path: String, at offset: Int64) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    let position = offset >= 0 ? Int(offset) : data.count + Int(offset)
    data[position] ^= 0x40
    try data.write(to: URL(fileURLWithPath: path))
}

func truncateFile(_ path: String, by bytes: Int64) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try data.prefix(data.count - Int(bytes)).write(to: URL(fileURLWithPath: path))
}

func appendZeros(_ path: String, count: Int) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data.append(Data(count: count))
    try data.write(to: URL(fileURLWithPath: path))
}
