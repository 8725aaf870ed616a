import CLZ4
import LedgerCore

#if canImport(Glibc)
    import Glibc
#endif

/// When the writer calls fdatasync.
public enum FsyncMode: Sendable, Hashable {
    /// After every block, before anything in it is acknowledged (the default).
    case batch
    /// At most this often; a crash can lose the last interval. Replies still wait.
    case interval(milliseconds: Int)
    /// Never (tests and benchmarks only).
    case none
}

/// What opening the journal found and did.
public struct RecoveryReport: Sendable, Hashable {
    public var segmentCount = 0
    public var lastSequence: SequenceNumber = 0
    /// A torn tail that was cut: the segment, where the valid data ends, bytes removed.
    public var truncatedSegment: String?
    public var truncatedAtOffset: Int64 = 0
    public var truncatedBytes: Int64 = 0
    public var reason: String?
    /// Index files rebuilt because they were missing or damaged.
    public var indexesRebuilt = 0
}

/// The single writer of a journal directory.
///
/// Opening recovers: a torn last block (or a half-created last segment) is cut and
/// reported; a bad block followed by valid data is corruption and opening fails, naming
/// the segment and byte offset. `append` writes one block per batch and, in `batch`
/// mode, returns only after fdatasync; after any write or sync error the writer refuses
/// all further appends. Not thread-safe: one thread owns it.
public final class JournalWriter {
    public struct Options: Sendable {
        public var directory: String
        public var ledgerID: UInt64
        public var epoch: UInt64
        /// A segment is sealed and a new one started once it reaches this size.
        public var segmentBytesTarget: Int64
        public var fsync: FsyncMode
        /// The file system (the real one, or a simulated disk in tests).
        public var storage: any Storage
        /// LZ4's acceleration for the blocks written (`LZ4_compress_fast`): 1 compresses
        /// best; higher values trade bytes for the writer thread's time. The format is the
        /// same at every value (docs/FORMATS.md): readers neither know nor care.
        public var lz4Acceleration: Int32

        /// What `lz4Acceleration` may be (LZ4 1.9's `LZ4_ACCELERATION_MAX` is 65,537).
        public static let lz4AccelerationRange: ClosedRange<Int32> = 1...65_537
        /// The default: on the load generator's journal (/tmp/j3m) it took 269 instructions
        /// a command where 1 took 612, for 9.4% more bytes (docs/BENCHMARKS.md, "twenty-sixth
        /// steps"; docs/OPERATIONS.md, `journal.lz4_acceleration`).
        public static let lz4AccelerationDefault: Int32 = 4

        public init(
            directory: String, ledgerID: UInt64 = 1, epoch: UInt64 = 1, segmentBytesTarget: Int64 = 64 << 20,
            fsync: FsyncMode = .batch, storage: any Storage = PosixStorage(), lz4Acceleration: Int32 = lz4AccelerationDefault
        ) {
            precondition(Self.lz4AccelerationRange.contains(lz4Acceleration), "LZ4 acceleration \(lz4Acceleration) out of range")
            self.directory = directory
            self.ledgerID = ledgerID
            self.epoch = epoch
            self.segmentBytesTarget = segmentBytesTarget
            self.fsync = fsync
            self.storage = storage
            self.lz4Acceleration = lz4Acceleration
        }
    }

    public let options: Options
    public private(set) var recovery = RecoveryReport()
    /// The last sequence written to the file.
    public private(set) var lastSequence: SequenceNumber = 0
    /// The last sequence known to be on disk (after fdatasync, or as written when fsync is off).
    public private(set) var durableSequence: SequenceNumber = 0
    /// The chain value after the last block.
    public private(set) var lastChain = [UInt8](repeating: 0, count: JournalFormat.chainBytes)
    public private(set) var blocksWritten = 0
    public private(set) var bytesWritten: Int64 = 0

    private var file: any StorageFile
    private var segmentName: String
    /// The open segment's format version: its blocks are written in it.
    private var segmentVersion: UInt16
    private var offset: Int64
    private var segmentBlocks: [BlockLocation]
    private var failed = false
    private var compressed: [UInt8]
    private var lastSyncNanos: UInt64 = 0

    private init(
        options: Options, file: any StorageFile, segmentName: String, version: UInt16, offset: Int64, blocks: [BlockLocation]
    ) {
        self.options = options
        self.file = file
        self.segmentName = segmentName
        self.segmentVersion = version
        self.offset = offset
        self.segmentBlocks = blocks
        compressed = [UInt8](repeating: 0, count: JournalFormat.blockBytesMax)
    }

    /// Opens (creating if needed) and recovers the journal in `options.directory`.
    public static func open(_ options: Options) throws(JournalError) -> JournalWriter {
        let storage = options.storage
        try storage.createDirectory(options.directory)
        var report = RecoveryReport()
        let names = try storage.list(options.directory).filter { JournalFormat.firstSequence(ofSegmentNamed: $0) != nil }
        var previousLast: SequenceNumber?
        var previousChain: [UInt8]?
        var lastScan: SegmentScan?
        var previousEpoch: UInt64?
        for (position, name) in names.enumerated() {
            // Sealed segments: CRCs and sequences; the open (last) one: the chain too.
            var scan = try SegmentScanner.scan(
                storage: storage, directory: options.directory, name: name, expectedFirst: previousLast.map { $0 + 1 },
                chain: previousChain, recomputeChain: position == names.count - 1)
            if let header = scan.header {
                if header.firstSequence != JournalFormat.firstSequence(ofSegmentNamed: name) {
                    throw .corrupt(segment: name, offset: 0, reason: "segment name and header disagree on its first sequence")
                }
                if header.ledgerID != options.ledgerID {
                    throw .corrupt(
                        segment: name, offset: 0, reason: "segment belongs to ledger \(header.ledgerID), not \(options.ledgerID)")
                }
                // Epochs fence writers (replication): they never go back along the journal,
                // and a writer of an older epoch than the journal's must not append.
                if let previousEpoch, header.epoch < previousEpoch {
                    throw .corrupt(
                        segment: name, offset: 0, reason: "segment of epoch \(header.epoch) follows one of epoch \(previousEpoch)")
                }
                if header.epoch > options.epoch {
                    throw .corrupt(
                        segment: name, offset: 0,
                        reason: "segment of epoch \(header.epoch), newer than this writer's epoch \(options.epoch): it is fenced out")
                }
                previousEpoch = header.epoch
            }
            if let problem = scan.problem {
                let isLast = position == names.count - 1
                guard isLast, !scan.problemIsNotATornTail else {
                    throw .corrupt(segment: name, offset: problem.offset, reason: problem.reason)
                }
                report.truncatedSegment = name
                report.truncatedAtOffset = scan.header == nil ? 0 : scan.validEnd
                report.truncatedBytes = scan.fileSize - report.truncatedAtOffset
                report.reason = problem.reason
                if scan.header == nil {
                    // A segment whose creation never completed: nothing in it was acknowledged.
                    try storage.remove(options.directory + "/" + name)
                    try storage.syncDirectory(options.directory)
                    continue
                }
                let damaged = try storage.open(options.directory + "/" + name, .write)
                try damaged.truncate(to: scan.validEnd)
                try damaged.dataSync()
                scan.fileSize = scan.validEnd
                scan.problem = nil
            }
            previousLast = scan.lastSequence ?? (scan.header!.firstSequence - 1)
            previousChain = scan.blocks.last?.chain ?? scan.header!.chainStart
            if let sealed = lastScan {
                report.indexesRebuilt += try ensureIndex(storage: storage, directory: options.directory, scan: sealed)
            }
            lastScan = scan
            report.segmentCount += 1
        }

        let writer: JournalWriter
        if let scan = lastScan {
            let file = try storage.open(options.directory + "/" + scan.name, .write)
            // What recovery read may exist only in the page cache: after a failed fdatasync
            // Linux marks the lost pages clean, so they would never reach the disk, and the
            // entries after them would follow a hole (found by the disk simulation). Write
            // the open segment back and sync it, and sync the directory's names, before
            // anything is built on it.
            let reader = try storage.open(options.directory + "/" + scan.name, .read)
            try file.write(try reader.read(count: Int(scan.validEnd), at: 0), at: 0)
            try file.dataSync()
            try storage.syncDirectory(options.directory)
            writer = JournalWriter(
                options: options, file: file, segmentName: scan.name, version: scan.header!.version, offset: scan.validEnd,
                blocks: scan.blocks)
            writer.lastSequence = previousLast!
            writer.lastChain = previousChain!
        } else {
            let (file, name) = try createSegment(options: options, firstSequence: 1, chainStart: [UInt8](repeating: 0, count: 32))
            writer = JournalWriter(
                options: options, file: file, segmentName: name, version: JournalFormat.version,
                offset: Int64(JournalFormat.segmentHeaderBytes), blocks: [])
            report.segmentCount = 1
        }
        writer.durableSequence = writer.lastSequence
        report.lastSequence = writer.lastSequence
        writer.recovery = report
        return writer
    }

    /// Writes the batch as one block and, in `batch` mode, syncs it.
    ///
    /// - Throws: `.syncFailed` or `.diskFull` or `.io`: the writer is then closed for good
    ///   and nothing in the batch may be acknowledged.
    public func append(_ batch: JournalBatch) throws(JournalError) {
        guard !failed else { throw .writerFailed }
        guard !batch.isEmpty else { return }
        guard batch.firstSequence == lastSequence + 1 else {
            throw .invalidAppend("batch starts at \(batch.firstSequence), journal ends at \(lastSequence)")
        }
        guard batch.count <= JournalFormat.blockEntriesMax, batch.bytes.bytes.count <= JournalFormat.blockUncompressedBytesMax
        else { throw .invalidAppend("batch exceeds the block limits") }
        do {
            try writeBlock(batch)
            if case .batch = options.fsync { try sync() }
            if case .interval(let milliseconds) = options.fsync, Self.monotonicNanos() - lastSyncNanos >= UInt64(milliseconds) * 1_000_000 {
                try sync()
            }
            if case .none = options.fsync { durableSequence = lastSequence }
            if offset >= options.segmentBytesTarget { try roll() }
        } catch {
            failed = true
            throw error
        }
    }

    /// fdatasync now; everything written becomes durable.
    public func sync() throws(JournalError) {
        guard !failed else { throw .writerFailed }
        let started = Self.monotonicNanos()
        do {
            try file.dataSync()
        } catch {
            failed = true
            throw error
        }
        durableSequence = lastSequence
        lastSyncNanos = Self.monotonicNanos()
        syncs += 1
        lastSyncDurationNanos = lastSyncNanos - started
    }

    /// fdatasyncs done, and how long the last one took (the fdatasync histogram).
    public private(set) var syncs = 0
    public private(set) var lastSyncDurationNanos: UInt64 = 0

    private func writeBlock(_ batch: JournalBatch) throws(JournalError) {
        let raw = batch.bytes.bytes
        let compressedCount = raw.withUnsafeBufferPointer { source in
            compressed.withUnsafeMutableBufferPointer { destination in
                LZ4_compress_fast(
                    UnsafeRawPointer(source.baseAddress!).assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(destination.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(source.count), Int32(destination.count), options.lz4Acceleration)
            }
        }
        let useLZ4 = compressedCount > 0 && Int(compressedCount) < raw.count
        let payload: ArraySlice<UInt8> = useLZ4 ? compressed[0..<Int(compressedCount)] : raw[...]
        var header = BlockHeader(
            payloadBytes: UInt32(payload.count), uncompressedBytes: UInt32(raw.count), entryCount: UInt32(batch.count),
            firstSequence: batch.firstSequence, codec: useLZ4 ? .lz4 : .none, crc: 0, chain: [])
        header.chain = header.computeChain(previous: lastChain, payload: payload)
        header.crc = header.computeCRC(payload: payload)
        var bytes = header.encoded(version: segmentVersion)
        bytes.append(contentsOf: payload)
        try file.write(bytes, at: offset)
        segmentBlocks.append(
            BlockLocation(offset: offset, firstSequence: batch.firstSequence, entryCount: batch.count, chain: header.chain))
        offset += Int64(bytes.count)
        lastSequence = batch.lastSequence
        lastChain = header.chain
        blocksWritten += 1
        bytesWritten += Int64(bytes.count)
    }

    /// Seals the current segment (sync, index) and starts the next.
    private func roll() throws(JournalError) {
        try sync()
        try options.storage.writeAtomically(
            SegmentIndex.encode(segmentBlocks), to: indexPath(options.directory, segmentName), directory: options.directory)
        let (next, name) = try Self.createSegment(options: options, firstSequence: lastSequence + 1, chainStart: lastChain)
        file = next
        segmentName = name
        segmentVersion = JournalFormat.version
        offset = Int64(JournalFormat.segmentHeaderBytes)
        segmentBlocks = []
    }

    private static func createSegment(
        options: Options, firstSequence: SequenceNumber, chainStart: [UInt8]
    ) throws(JournalError) -> (any StorageFile, String) {
        let name = JournalFormat.segmentName(firstSequence: firstSequence)
        let header = SegmentHeader(ledgerID: options.ledgerID, epoch: options.epoch, firstSequence: firstSequence, chainStart: chainStart)
        let file = try options.storage.open(options.directory + "/" + name, .createNew)
        try file.write(header.encoded(), at: 0)
        try file.dataSync()
        try options.storage.syncDirectory(options.directory)
        return (file, name)
    }

    /// Writes a sealed segment's index if it is missing or invalid; returns 1 if it did.
    private static func ensureIndex(storage: any Storage, directory: String, scan: SegmentScan) throws(JournalError) -> Int {
        let path = indexPath(directory, scan.name)
        if let bytes = try? storage.readAll(path),
            let entries = SegmentIndex.decode(bytes),
            entries.map(\.offset) == scan.blocks.map(\.offset)
        {
            return 0
        }
        try storage.writeAtomically(SegmentIndex.encode(scan.blocks), to: path, directory: directory)
        return 1
    }

    static func monotonicNanos() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

func indexPath(_ directory: String, _ segment: String) -> String {
    directory + "/" + segment.dropLast(JournalFormat.segmentSuffix.count) + JournalFormat.indexSuffix
}
