import Journal
import LedgerCore

/// The snapshots in a directory: listing, choosing the newest valid one, pruning.
public struct SnapshotStore: Sendable {
    public let directory: String
    /// The file system (the real one, or a simulated disk in tests).
    public let storage: any Storage

    public init(directory: String, storage: any Storage = PosixStorage()) {
        self.directory = directory
        self.storage = storage
    }

    /// Snapshot file names, oldest first. A missing directory holds none.
    public func names() throws(SnapshotError) -> [String] {
        do {
            return try storage.list(directory).filter { SnapshotFile.sequence(ofFileNamed: $0) != nil }
        } catch .notFound {
            return []
        } catch {
            throw .io(error)
        }
    }

    public func path(_ name: String) -> String { directory + "/" + name }

    /// The newest snapshot that loads and checks, at or before `maxSequence`; damaged ones
    /// are skipped (newest first) and reported.
    public func loadNewestValid(
        atOrBefore maxSequence: SequenceNumber = .max
    ) throws(SnapshotError) -> (loaded: (state: ExchangeState, info: SnapshotInfo)?, skipped: [(name: String, error: SnapshotError)]) {
        var skipped: [(String, SnapshotError)] = []
        for name in try names().reversed() where SnapshotFile.sequence(ofFileNamed: name)! <= maxSequence {
            do {
                return (try SnapshotFile.load(path: path(name), storage: storage), skipped)
            } catch {
                skipped.append((name, error))
            }
        }
        return (nil, skipped)
    }

    /// Takes the snapshot directory's lock (creating the directory if needed) and removes
    /// temporary files that a crashed writer left: with the lock held no other writer can
    /// be using them. Every tool that writes snapshots holds this while it writes.
    public func lockForWriting(owner: String) throws -> DirectoryLock {
        try Directory.create(directory)
        let lock = try DirectoryLock.acquire(directory: directory, owner: owner)
        for name in try Directory.list(directory) where name.hasPrefix("snap-") && name.hasSuffix(".tmp") {
            try Directory.remove(path(name))
        }
        return lock
    }

    /// Removes all but the newest `keep` snapshots; returns the names removed.
    public func prune(keep: Int) throws(SnapshotError) -> [String] {
        precondition(keep >= 1, "keep at least one snapshot")
        let all = try names()
        let doomed = Array(all.dropLast(keep))
        do {
            for name in doomed { try storage.remove(path(name)) }
            if !doomed.isEmpty { try storage.syncDirectory(directory) }
        } catch {
            throw .io(error)
        }
        return doomed
    }
}

extension SnapshotStore {
    /// What `create` did.
    public struct Creation: Sendable {
        /// The snapshot at the requested sequence (new, or the one already there).
        public var info: SnapshotInfo
        public var created: Bool
        public var entriesReplayed: UInt64
    }

    /// Builds a snapshot offline: the newest valid snapshot in this store plus the journal
    /// through `through` (its last complete block by default), written atomically. The
    /// daemon never pauses for it (DESIGN.md "Snapshots").
    @discardableResult
    public func create(
        journalDirectory: String, through: SequenceNumber = .max, progress: ((SequenceNumber) -> Void)? = nil
    ) throws(Recovery.Failure) -> Creation {
        let (state, report) = try Recovery.restore(
            journalDirectory: journalDirectory, snapshotDirectory: directory, through: through, storage: storage, progress: progress)
        if let existing = report.snapshot, existing.sequence == state.lastSequence {
            return Creation(info: existing, created: false, entriesReplayed: 0)
        }
        guard let chain = try Recovery.chain(journalDirectory: journalDirectory, through: state.lastSequence, storage: storage) else {
            throw .entry(sequence: state.lastSequence, reason: "the journal has no such entry")
        }
        do {
            let info = try SnapshotFile.write(state, journalChain: chain, directory: directory, storage: storage)
            return Creation(info: info, created: true, entriesReplayed: report.entriesReplayed)
        } catch {
            throw .snapshot(error)
        }
    }
}
