import Journal
import LedgerCore

/// The snapshots in a directory: listing, choosing the newest valid one, pruning.
public struct SnapshotStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Snapshot file names, oldest first. A missing directory holds none.
    public func names() throws(SnapshotError) -> [String] {
        do {
            return try Directory.list(directory).filter { SnapshotFile.sequence(ofFileNamed: $0) != nil }
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
                return (try SnapshotFile.load(path: path(name)), skipped)
            } catch {
                skipped.append((name, error))
            }
        }
        return (nil, skipped)
    }

    /// Removes all but the newest `keep` snapshots; returns the names removed.
    public func prune(keep: Int) throws(SnapshotError) -> [String] {
        precondition(keep >= 1, "keep at least one snapshot")
        let all = try names()
        let doomed = Array(all.dropLast(keep))
        do {
            for name in doomed { try Directory.remove(path(name)) }
            if !doomed.isEmpty { try Directory.sync(directory) }
        } catch {
            throw .io(error)
        }
        return doomed
    }
}
