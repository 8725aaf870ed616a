import Foundation
import Journal
import LedgerCore
import LedgerDigest

/// Backups of a data directory (docs/OPERATIONS.md, "Backups, restore and the DR drill";
/// the manifest's format: docs/FORMATS.md, "Backup manifest").
///
/// A backup directory holds what recovery needs and nothing else: the newest valid
/// snapshot that belongs to the journal (`snapshots/`), every journal segment from the one
/// holding the snapshot's sequence to the journal's last complete block (`journal/`), and
/// `manifest.json` with each file's size and SHA-256, the hash-chain head and the state
/// hash at the head. Taking one is incremental (a segment already there with the size and
/// hash the previous manifest records is not copied again) and consistent while ledgerd
/// writes (a segment is copied up to the last block that checks, never past it).
public enum Backup {
    public static let manifestName = "manifest.json"
    public static let manifestFormat = "exchange-ledger-backup"
    public static let manifestVersion = 1
    /// Bytes read or written at a time while copying.
    static let copyChunkBytes = 4 << 20

    public struct FileRecord: Codable, Sendable, Hashable {
        public var name: String
        public var bytes: Int64
        public var sha256: String
    }

    public struct SegmentRecord: Codable, Sendable, Hashable {
        public var name: String
        public var bytes: Int64
        public var sha256: String
        public var firstSequence: SequenceNumber
        public var lastSequence: SequenceNumber
    }

    public struct SnapshotRecord: Codable, Sendable, Hashable {
        public var name: String
        public var bytes: Int64
        public var sha256: String
        public var sequence: SequenceNumber
        public var timeNanos: Int64
        public var stateHash: String
    }

    /// The last entry in the backup.
    public struct Head: Codable, Sendable, Hashable {
        public var sequence: SequenceNumber
        public var timeNanos: Int64
        /// The journal's chain value after the block holding `sequence`.
        public var chain: String
    }

    public struct Manifest: Codable, Sendable, Hashable {
        public var format = Backup.manifestFormat
        public var version = Backup.manifestVersion
        public var ledgerId: UInt64
        public var epoch: UInt64
        /// Wall-clock time the backup was completed (ns since 1970).
        public var createdNanos: Int64
        /// The data directory backed up (absolute), for the drill's RPO.
        public var source: String
        public var snapshot: SnapshotRecord?
        public var segments: [SegmentRecord]
        public var head: Head
        /// SHA-256 of the state after `head.sequence` (what `ledger-replay audit --through`
        /// prints), computed by recovering from the backup itself.
        public var stateHash: String
        /// The state encoding `stateHash` is taken over (docs/FORMATS.md, "State"): a later
        /// binary hashes the recovered state in this encoding to compare.
        public var stateEncodingVersion: Int
    }

    /// The recovered state's hash in the manifest's encoding; nil when this binary cannot
    /// write that encoding.
    public static func stateHash(of state: ExchangeState, for manifest: Manifest) -> String? {
        guard (2...Int(ExchangeState.encodingVersion)).contains(manifest.stateEncodingVersion),
            manifest.stateEncodingVersion >= 6 || !state.hasTextClientOrderIDs
        else { return nil }
        return hexString(state.stateHash(encodingVersion: UInt8(manifest.stateEncodingVersion)))
    }

    /// Why a backup, a restore or a drill stopped.
    public enum Failure: Error, CustomStringConvertible {
        /// Bad usage or a path that is not there (exit 2).
        case usage(String)
        /// Damage or a mismatch, named by file and byte where there is one (exit 1).
        case finding(String)
        case io(JournalError)

        public var description: String {
            switch self {
            case .usage(let message), .finding(let message): message
            case .io(let error): "\(error)"
            }
        }
    }

    /// What `create` did.
    public struct Outcome: Sendable {
        public var manifest: Manifest
        public var copied: [String] = []
        /// Files already in the target with the size and hash the previous manifest records.
        public var kept: [String] = []
        /// Files of an older backup the new manifest no longer lists.
        public var removed: [String] = []
        public var bytesCopied: Int64 = 0
        /// Reading, checking and copying the files.
        public var copySeconds = 0.0
        /// Recovering the copy to compute the state hash at its head.
        public var recoverySeconds = 0.0
        /// Snapshots passed over (damaged, or of another journal), with why.
        public var skippedSnapshots: [(name: String, reason: String)] = []
    }

    // MARK: Taking a backup

    /// Backs up the data directory (`journalDirectory`, `snapshotDirectory`) into `target`.
    public static func create(
        journalDirectory: String, snapshotDirectory: String, source: String, to target: String,
        progress: ((String) -> Void)? = nil
    ) throws(Failure) -> Outcome {
        let storage = PosixStorage()
        let targetJournal = target + "/journal"
        let targetSnapshots = target + "/snapshots"
        let lock: DirectoryLock
        do {
            try storage.createDirectory(targetJournal)
            try storage.createDirectory(targetSnapshots)
            lock = try DirectoryLock.acquire(directory: target, owner: "ledger-snapshot backup")
        } catch let error as DirectoryLock.Held {
            throw .usage("\(error)")
        } catch let error as JournalError {
            throw .io(error)
        } catch {
            throw .usage("\(error)")
        }
        defer { withExtendedLifetime(lock) {} }
        let previous = try? readManifest(target)
        var outcome = Outcome(
            manifest: Manifest(
                ledgerId: 0, epoch: 0, createdNanos: 0, source: source, snapshot: nil, segments: [],
                head: Head(sequence: 0, timeNanos: 0, chain: ""), stateHash: "",
                stateEncodingVersion: Int(ExchangeState.encodingVersion)))

        let copyStarted = monotonicSeconds()
        // The newest valid snapshot that belongs to this journal.
        progress?("choosing the snapshot")
        let snapshot = try newestUsableSnapshot(
            journalDirectory: journalDirectory, snapshotDirectory: snapshotDirectory, skipped: &outcome.skippedSnapshots)

        // The segments from the one holding the snapshot's sequence.
        let names: [String]
        do { names = try JournalReader.segments(in: journalDirectory) } catch { throw .io(error) }
        guard !names.isEmpty else { throw .usage("journal directory \(journalDirectory) holds no journal segment") }
        let needed = max(snapshot?.sequence ?? 1, 1)
        let startIndex = names.lastIndex { JournalFormat.firstSequence(ofSegmentNamed: $0)! <= needed } ?? 0
        if snapshot == nil, JournalFormat.firstSequence(ofSegmentNamed: names[startIndex])! != 1 {
            throw .finding(
                "the journal starts at segment \(names[startIndex]) and no valid snapshot of it covers the entries before: nothing to restore from"
            )
        }
        var expectedFirst: SequenceNumber?
        var chain: [UInt8]?
        var head: (sequence: SequenceNumber, chain: [UInt8])?
        var staged: [(temporary: String, final: String)] = []
        let previousSegments = Dictionary((previous?.segments ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (position, name) in names[startIndex...].enumerated() {
            let isLast = startIndex + position == names.count - 1
            progress?("checking \(name)")
            let scan: SegmentScan
            do {
                scan = try SegmentScanner.scan(
                    storage: storage, directory: journalDirectory, name: name, expectedFirst: expectedFirst, chain: chain)
            } catch {
                throw .io(error)
            }
            if let problem = scan.problem, !isLast || scan.problemIsNotATornTail {
                throw .finding(
                    "journal segment \(journalDirectory)/\(name) at byte \(problem.offset): \(problem.reason) (nothing was backed up; run ledger-replay verify)"
                )
            }
            guard let header = scan.header, let lastBlock = scan.blocks.last else {
                if isLast { break }  // a segment just created, not yet written
                throw .finding("journal segment \(journalDirectory)/\(name) holds no block")
            }
            if outcome.manifest.ledgerId == 0 {
                outcome.manifest.ledgerId = header.ledgerID
            } else if header.ledgerID != outcome.manifest.ledgerId {
                throw .finding("journal segment \(journalDirectory)/\(name) at byte 0: belongs to ledger \(header.ledgerID)")
            }
            outcome.manifest.epoch = max(outcome.manifest.epoch, header.epoch)
            expectedFirst = lastBlock.lastSequence + 1
            chain = lastBlock.chain
            head = (lastBlock.lastSequence, lastBlock.chain)
            let bytes = scan.validEnd
            let record: SegmentRecord
            if let old = previousSegments[name], old.bytes == bytes, fileSize(targetJournal + "/" + name) == bytes {
                record = old
                outcome.kept.append("journal/" + name)
            } else {
                progress?("copying \(name)")
                let temporary = targetJournal + "/" + name + ".partial"
                let hash = try copy(from: journalDirectory + "/" + name, to: temporary, bytes: bytes)
                staged.append((temporary, targetJournal + "/" + name))
                record = SegmentRecord(
                    name: name, bytes: bytes, sha256: hexString(hash), firstSequence: header.firstSequence,
                    lastSequence: lastBlock.lastSequence)
                outcome.copied.append("journal/" + name)
                outcome.bytesCopied += bytes
            }
            outcome.manifest.segments.append(record)
        }
        guard let head else { throw .finding("the journal in \(journalDirectory) holds no complete block") }

        // The snapshot.
        if let snapshot {
            let path = snapshotDirectory + "/" + snapshot.name
            let bytes = fileSize(path) ?? 0
            if let old = previous?.snapshot, old.name == snapshot.name, old.bytes == bytes,
                fileSize(targetSnapshots + "/" + snapshot.name) == bytes
            {
                outcome.manifest.snapshot = old
                outcome.kept.append("snapshots/" + snapshot.name)
            } else {
                progress?("copying \(snapshot.name)")
                let temporary = targetSnapshots + "/" + snapshot.name + ".partial"
                let hash = try copy(from: path, to: temporary, bytes: bytes)
                staged.append((temporary, targetSnapshots + "/" + snapshot.name))
                outcome.manifest.snapshot = SnapshotRecord(
                    name: snapshot.name, bytes: bytes, sha256: hexString(hash), sequence: snapshot.sequence,
                    timeNanos: snapshot.timeNanos, stateHash: hexString(snapshot.stateHash))
                outcome.copied.append("snapshots/" + snapshot.name)
                outcome.bytesCopied += bytes
            }
        }

        // Into place; files of the older backup that are no longer needed go.
        do {
            for (temporary, final) in staged { try storage.rename(temporary, to: final) }
            let wantedSegments = Set(outcome.manifest.segments.map(\.name))
            for name in try storage.list(targetJournal) where !wantedSegments.contains(name) && name != DirectoryLock.fileName {
                try storage.remove(targetJournal + "/" + name)
                if JournalFormat.firstSequence(ofSegmentNamed: name) != nil { outcome.removed.append("journal/" + name) }
            }
            for name in try storage.list(targetSnapshots) where name != outcome.manifest.snapshot?.name {
                try storage.remove(targetSnapshots + "/" + name)
                if SnapshotFile.sequence(ofFileNamed: name) != nil { outcome.removed.append("snapshots/" + name) }
            }
            try storage.syncDirectory(targetJournal)
            try storage.syncDirectory(targetSnapshots)
        } catch {
            throw .io(error)
        }

        outcome.copySeconds = monotonicSeconds() - copyStarted
        // The state at the head, recovered from the copy: proof that it restores.
        progress?("recovering from the copy")
        let recoveryStarted = monotonicSeconds()
        let recovered: (state: ExchangeState, report: Recovery.Report)
        do {
            recovered = try Recovery.restore(journalDirectory: targetJournal, snapshotDirectory: targetSnapshots, through: head.sequence)
        } catch {
            throw .finding("the copy does not recover: \(error)")
        }
        guard recovered.state.lastSequence == head.sequence, recovered.report.snapshot?.name == snapshot?.name else {
            throw .finding(
                "the copy recovers to sequence \(recovered.state.lastSequence) from \(recovered.report.snapshot?.name ?? "genesis"), expected \(head.sequence) from \(snapshot?.name ?? "genesis")"
            )
        }
        outcome.recoverySeconds = monotonicSeconds() - recoveryStarted
        outcome.manifest.head = Head(sequence: head.sequence, timeNanos: recovered.state.lastTimeNanos, chain: hexString(head.chain))
        outcome.manifest.stateHash = hexString(recovered.state.stateHash())
        outcome.manifest.createdNanos = wallClockNanos()
        try writeManifest(outcome.manifest, to: target)
        return outcome
    }

    /// The newest snapshot that loads, checks and belongs to the journal; those passed over
    /// are added to `skipped`.
    static func newestUsableSnapshot(
        journalDirectory: String, snapshotDirectory: String, skipped: inout [(name: String, reason: String)]
    ) throws(Failure) -> SnapshotInfo? {
        do {
            let found = try Recovery.newestSnapshot(journalDirectory: journalDirectory, snapshotDirectory: snapshotDirectory)
            skipped += found.skipped.map { ($0.name, $0.error?.description ?? "does not belong to the journal (chain values differ)") }
            return found.loaded?.info
        } catch {
            throw .finding("\(error)")
        }
    }

    // MARK: Checking and placing a backup

    /// A backup read back and checked: every file's size and SHA-256 against the manifest,
    /// the snapshot loaded, the journal verified from it, the head where the manifest says.
    public struct Check: Sendable {
        public var manifest: Manifest
        public var findings: [String] = []
        public var bytes: Int64 = 0
    }

    /// Reads `backup`'s manifest; a directory without one is bad usage (exit 2).
    public static func readManifest(_ backup: String) throws(Failure) -> Manifest {
        let path = backup + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .usage("\(backup) holds no \(manifestName): not a backup directory")
        }
        do {
            let manifest = try JSONDecoder().decode(Manifest.self, from: data)
            guard manifest.format == manifestFormat, manifest.version == manifestVersion else {
                throw Failure.finding("\(path): format \(manifest.format) version \(manifest.version) is not one this tool reads")
            }
            return manifest
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .finding("\(path) does not parse: \(error)")
        }
    }

    /// Copies the backup's files into `staging` (journal/ and snapshots/), hashing them as
    /// they are read, then checks the copy: sizes and SHA-256 against the manifest, the
    /// snapshot fully loaded, the journal verified with the snapshot as its base and its
    /// head equal to the manifest's. Nothing outside `staging` is touched.
    /// With `recover`, the copy is also recovered as ledgerd would and the state at its
    /// head compared with the manifest's state hash (restore does; the drill recovers by
    /// itself, to time it).
    public static func stage(
        _ backup: String, into staging: String, recover: Bool, progress: ((String) -> Void)? = nil
    ) throws(Failure) -> Check {
        let storage = PosixStorage()
        var check = Check(manifest: try readManifest(backup))
        do {
            try storage.createDirectory(staging + "/journal")
            try storage.createDirectory(staging + "/snapshots")
        } catch {
            throw .io(error)
        }
        var files: [(directory: String, name: String, bytes: Int64, sha256: String)] = check.manifest.segments.map {
            ("journal", $0.name, $0.bytes, $0.sha256)
        }
        if let snapshot = check.manifest.snapshot { files.append(("snapshots", snapshot.name, snapshot.bytes, snapshot.sha256)) }
        for file in files {
            let source = backup + "/" + file.directory + "/" + file.name
            guard let size = fileSize(source) else {
                check.findings.append("\(source) is missing (the manifest lists it)")
                continue
            }
            guard size == file.bytes else {
                check.findings.append("\(source) is \(size) bytes, the manifest says \(file.bytes)")
                continue
            }
            progress?("copying \(file.directory)/\(file.name)")
            let hash = try copy(from: source, to: staging + "/" + file.directory + "/" + file.name, bytes: size)
            check.bytes += size
            if hexString(hash) != file.sha256 {
                check.findings.append("\(source): SHA-256 \(hexString(hash)) differs from the manifest's \(file.sha256)")
            }
        }
        guard check.findings.isEmpty else { return check }
        var base: JournalVerifier.HistoryBase?
        if let snapshot = check.manifest.snapshot {
            progress?("loading \(snapshot.name)")
            do {
                let info = try SnapshotFile.load(path: staging + "/snapshots/" + snapshot.name).info
                if info.sequence != snapshot.sequence || hexString(info.stateHash) != snapshot.stateHash {
                    check.findings.append("snapshots/\(snapshot.name): sequence or state hash differs from the manifest")
                }
                base = .init(sequence: info.sequence, chain: info.journalChain, source: "snapshot \(info.name)")
            } catch {
                check.findings.append("snapshots/\(snapshot.name): \(error)")
            }
        }
        progress?("verifying the journal")
        do {
            let report = try JournalVerifier.verify(directory: staging + "/journal", ledgerID: check.manifest.ledgerId, base: base)
            check.findings += report.findings.map { "journal: \($0)" }
            if report.lastSequence != check.manifest.head.sequence || hexString(report.lastChain) != check.manifest.head.chain {
                check.findings.append(
                    "journal head is sequence \(report.lastSequence) chain \(hexString(report.lastChain)); the manifest says \(check.manifest.head.sequence) chain \(check.manifest.head.chain)"
                )
            }
        } catch {
            check.findings.append("journal: \(error)")
        }
        guard recover, check.findings.isEmpty else { return check }
        progress?("recovering the copy")
        do {
            let (state, _) = try Recovery.restore(journalDirectory: staging + "/journal", snapshotDirectory: staging + "/snapshots")
            let hash = stateHash(of: state, for: check.manifest) ?? "(encoding \(check.manifest.stateEncodingVersion) unknown here)"
            if state.lastSequence != check.manifest.head.sequence || hash != check.manifest.stateHash {
                check.findings.append(
                    "the copy recovers to sequence \(state.lastSequence) with state hash \(hash); the manifest says \(check.manifest.head.sequence) with \(check.manifest.stateHash)"
                )
            }
        } catch {
            check.findings.append("the copy does not recover: \(error)")
        }
        return check
    }

    /// Restores `backup` into `dataDirectory` (journal/ and snapshots/): staged and checked
    /// in `dataDirectory/.restore-staging` first, placed only when every check passed. A
    /// data directory with a journal or snapshots is refused unless `force`, and then its
    /// journal/ and snapshots/ are moved aside into `replaced-<time>/`, never deleted.
    public static func restore(
        _ backup: String, into dataDirectory: String, force: Bool, progress: ((String) -> Void)? = nil
    ) throws(Failure) -> (check: Check, movedAside: String?) {
        let storage = PosixStorage()
        let journal = dataDirectory + "/journal"
        let snapshots = dataDirectory + "/snapshots"
        let occupied = [journal, snapshots].filter { directory in
            ((try? storage.list(directory)) ?? []).contains { $0 != DirectoryLock.fileName }
        }
        if !occupied.isEmpty && !force {
            throw .usage("\(occupied.joined(separator: " and ")) not empty: restore refuses to overwrite (give --force to move them aside)")
        }
        var lock: DirectoryLock?
        if fileSize(journal) != nil {
            do {
                lock = try DirectoryLock.acquire(directory: journal, owner: "ledger-snapshot restore")
            } catch {
                throw .usage("\(journal) is in use: \(error)")
            }
        }
        let staging = dataDirectory + "/.restore-staging"
        removeTree(staging)
        let check = try stage(backup, into: staging, recover: true, progress: progress)
        guard check.findings.isEmpty else {
            removeTree(staging)
            return (check, nil)
        }
        var movedAside: String?
        do {
            if !occupied.isEmpty || fileSize(journal) != nil || fileSize(snapshots) != nil {
                let aside = dataDirectory + "/replaced-" + String(wallClockNanos() / 1_000_000)
                try storage.createDirectory(aside)
                for directory in [journal, snapshots] where fileSize(directory) != nil {
                    try storage.rename(directory, to: aside + "/" + (directory == journal ? "journal" : "snapshots"))
                }
                movedAside = aside
            }
            try storage.rename(staging + "/journal", to: journal)
            try storage.rename(staging + "/snapshots", to: snapshots)
            try storage.syncDirectory(journal)
            try storage.syncDirectory(snapshots)
            try storage.syncDirectory(dataDirectory)
        } catch {
            throw .io(error)
        }
        withExtendedLifetime(lock) {}
        removeTree(staging)
        return (check, movedAside)
    }

    // MARK: Journal retention

    /// Removes the segments of a live journal whose entries all come before the oldest
    /// valid snapshot kept in `snapshotDirectory` that belongs to the journal: recovery from
    /// any kept snapshot never reads them. The segment holding that snapshot's sequence, and
    /// the last segment, always stay. Returns the names removed.
    public static func trimJournal(journalDirectory: String, snapshotDirectory: String) throws(Failure) -> [String] {
        let storage = PosixStorage()
        let store = SnapshotStore(directory: snapshotDirectory)
        var oldest: SnapshotInfo?
        do {
            for name in try store.names() {
                guard let loaded = try? SnapshotFile.load(path: store.path(name)),
                    (try? Recovery.chain(journalDirectory: journalDirectory, through: loaded.info.sequence)) == loaded.info.journalChain
                else { continue }
                oldest = loaded.info
                break
            }
        } catch {
            throw .finding("\(error)")
        }
        guard let oldest else { return [] }
        let names: [String]
        do { names = try JournalReader.segments(in: journalDirectory) } catch { throw .io(error) }
        var removed: [String] = []
        do {
            for (index, name) in names.enumerated().dropLast() {
                // Entries of segment `index` end before the next segment's first.
                guard JournalFormat.firstSequence(ofSegmentNamed: names[index + 1])! <= oldest.sequence else { break }
                try storage.remove(journalDirectory + "/" + name)
                try storage.remove(journalDirectory + "/" + name.dropLast(JournalFormat.segmentSuffix.count) + JournalFormat.indexSuffix)
                removed.append(name)
            }
            if !removed.isEmpty { try storage.syncDirectory(journalDirectory) }
        } catch {
            throw .io(error)
        }
        return removed
    }

    // MARK: Files

    /// Copies the first `bytes` bytes of `source` into a new file `target` (replacing one
    /// there), syncs it and returns their SHA-256.
    static func copy(from source: String, to target: String, bytes: Int64) throws(Failure) -> [UInt8] {
        let storage = PosixStorage()
        do {
            let input = try storage.open(source, .read)
            let output = try storage.open(target, .createTruncating)
            var hasher = SHA256()
            var offset: Int64 = 0
            while offset < bytes {
                let chunk = try input.read(count: Int(min(Int64(copyChunkBytes), bytes - offset)), at: offset)
                guard !chunk.isEmpty else { throw Failure.finding("\(source) ended at byte \(offset) while being copied") }
                hasher.update(chunk)
                try output.write(chunk, at: offset)
                offset += Int64(chunk.count)
            }
            try output.dataSync()
            return hasher.finalize()
        } catch let failure as Failure {
            throw failure
        } catch let error as JournalError {
            throw .io(error)
        } catch {
            throw .finding("\(error)")
        }
    }

    static func writeManifest(_ manifest: Manifest, to target: String) throws(Failure) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(manifest)
            try PosixStorage().writeAtomically(Array(data) + [0x0A], to: target + "/" + manifestName, directory: target)
        } catch let error as JournalError {
            throw .io(error)
        } catch {
            throw .finding("cannot encode the manifest: \(error)")
        }
    }

    /// The size of a file or directory entry, nil when it does not exist.
    public static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func wallClockNanos() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
