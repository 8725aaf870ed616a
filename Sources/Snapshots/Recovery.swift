import Journal
import LedgerCore

/// Rebuilding the in-memory state at start-up: the newest valid snapshot, then the
/// journal's entries after it, applied as events (DESIGN.md "Snapshots").
public enum Recovery {
    public struct Report: Sendable {
        /// The snapshot used, if any.
        public var snapshot: SnapshotInfo?
        /// Snapshots that were newer but damaged or did not match the journal.
        public var skippedSnapshots: [(name: String, reason: String)] = []
        public var entriesReplayed: UInt64 = 0
        public var lastSequence: SequenceNumber = 0
        /// The first sequence of the journal's first segment (nil without segments): after
        /// 1 when retention removed older segments, whose entries a snapshot must hold.
        public var journalFirstSequence: SequenceNumber?
    }

    public enum Failure: Error, CustomStringConvertible {
        case journal(JournalError)
        case snapshot(SnapshotError)
        case entry(sequence: SequenceNumber, reason: String)
        /// The entry's payload does not decode (only journals written before the field
        /// domains of docs/FORMATS.md can hold one).
        case undecodable(sequence: SequenceNumber, reason: String)

        public var description: String {
            switch self {
            case .journal(let error): error.description
            case .snapshot(let error): error.description
            case .entry(let sequence, let reason): "journal entry \(sequence) cannot be applied: \(reason)"
            case .undecodable(let sequence, let reason):
                "journal entry \(sequence) does not decode: \(reason); nothing after it can be applied. "
                    + "With ledgerd stopped, `ledger-replay excise --data-dir DIR --sequence \(sequence)` replaces it by an "
                    + "ENTRY_EXCISED record if no later entry depends on it (docs/OPERATIONS.md)"
            }
        }
    }

    /// The state after every entry through `limit` (the durable end of the journal by
    /// default). `progress` is called every 100,000 entries with the sequence reached.
    public static func restore(
        journalDirectory: String, snapshotDirectory: String?, through limit: SequenceNumber = .max,
        storage: any Storage = PosixStorage(), progress: ((SequenceNumber) -> Void)? = nil
    ) throws(Failure) -> (state: ExchangeState, report: Report) {
        var report = Report()
        var state = ExchangeState()
        if let snapshotDirectory {
            let found = try newestSnapshot(
                journalDirectory: journalDirectory, snapshotDirectory: snapshotDirectory, atOrBefore: limit, storage: storage)
            report.skippedSnapshots = found.skipped.map {
                ($0.name, $0.error?.description ?? "journal chain at its sequence differs (another journal?)")
            }
            if let loaded = found.loaded {
                state = loaded.state
                report.snapshot = loaded.info
            }
        }
        do {
            report.journalFirstSequence = try JournalReader.segments(in: journalDirectory, storage: storage).first
                .flatMap(JournalFormat.firstSequence(ofSegmentNamed:))
        } catch {
            throw .journal(error)
        }
        if let first = report.journalFirstSequence, first > state.lastSequence + 1 {
            throw .entry(
                sequence: state.lastSequence + 1,
                reason:
                    "the journal starts at sequence \(first) and no valid snapshot of it reaches \(first - 1): entries \(state.lastSequence + 1)…\(first - 1) are missing"
            )
        }
        report.entriesReplayed = try applyJournal(
            to: &state, journalDirectory: journalDirectory, through: limit, storage: storage
        ) { sequence, replayed in
            if replayed % 100_000 == 0 { progress?(sequence) }
        }
        report.lastSequence = state.lastSequence
        return (state, report)
    }

    /// Applies the journal's entries after `state.lastSequence` through `limit` to `state`
    /// (their journaled events, as recovery does); `afterEach` sees each entry's sequence
    /// and the count applied so far. Returns how many were applied.
    @discardableResult
    public static func applyJournal(
        to state: inout ExchangeState, journalDirectory: String, through limit: SequenceNumber = .max,
        storage: any Storage = PosixStorage(), afterEach: (_ sequence: SequenceNumber, _ applied: UInt64) throws -> Void = { _, _ in }
    ) throws(Failure) -> UInt64 {
        var applied: UInt64 = 0
        // Reading and decoding run a few blocks ahead on a second thread (`DecodingReader`).
        let reader = DecodingReader(directory: journalDirectory, from: state.lastSequence + 1, upTo: limit, storage: storage)
        var expected = state.lastSequence + 1
        do {
            try reader.forEach { sequence, timeNanos, command, events in
                guard sequence == state.lastSequence + 1 else {
                    throw Failure.entry(sequence: sequence, reason: "expected sequence \(state.lastSequence + 1)")
                }
                state.apply(events, of: command, sequence: sequence, timeNanos: timeNanos)
                applied += 1
                expected = sequence + 1
                try afterEach(sequence, applied)
            }
        } catch let error as Failure {
            throw error
        } catch let error as UndecodableEntry {
            throw .undecodable(sequence: error.sequence, reason: "\(error.error)")
        } catch let error as JournalError {
            throw .journal(error)
        } catch {
            throw .entry(sequence: expected, reason: "\(error)")
        }
        return applied
    }

    /// The newest snapshot at or before `maxSequence` that loads, checks and belongs to the
    /// journal (its chain value equals the journal's at its sequence), newest first; each
    /// one passed over with why: its error, or nil when it belongs to another journal.
    /// Recovery, `audit --from-snapshot` and `backup` all choose this way.
    public static func newestSnapshot(
        journalDirectory: String, snapshotDirectory: String, atOrBefore maxSequence: SequenceNumber = .max,
        storage: any Storage = PosixStorage()
    ) throws(Failure) -> (loaded: (state: ExchangeState, info: SnapshotInfo)?, skipped: [(name: String, error: SnapshotError?)]) {
        let store = SnapshotStore(directory: snapshotDirectory, storage: storage)
        var skipped: [(name: String, error: SnapshotError?)] = []
        var ceiling = maxSequence
        while true {
            let found: (loaded: (state: ExchangeState, info: SnapshotInfo)?, skipped: [(name: String, error: SnapshotError)])
            do { found = try store.loadNewestValid(atOrBefore: ceiling) } catch { throw .snapshot(error) }
            skipped += found.skipped.map { ($0.name, $0.error) }
            guard let loaded = found.loaded else { return (nil, skipped) }
            if try chain(journalDirectory: journalDirectory, through: loaded.info.sequence, storage: storage) == loaded.info.journalChain {
                return (loaded, skipped)
            }
            skipped.append((loaded.info.name, nil))
            guard loaded.info.sequence > 0 else { return (nil, skipped) }
            ceiling = loaded.info.sequence - 1
        }
    }

    /// The journal's chain value after the block that holds `sequence` (zeros for 0).
    public static func chain(
        journalDirectory: String, through sequence: SequenceNumber, storage: any Storage = PosixStorage()
    ) throws(Failure) -> [UInt8]? {
        if sequence == 0 { return [UInt8](repeating: 0, count: 32) }
        let reader = JournalReader(directory: journalDirectory, from: sequence, storage: storage)
        do {
            guard let block = try reader.nextBlock() else { return nil }
            return block.header.chain
        } catch {
            throw .journal(error)
        }
    }
}

extension Recovery {
    /// What start-up produced: the open journal and the state at its end.
    public struct Startup {
        public var journal: JournalWriter
        public var state: ExchangeState
        public var report: Report
    }

    /// Why start-up refused.
    public enum StartFailure: Error, CustomStringConvertible {
        case journal(JournalError)
        case state(Failure)
        case mismatch(state: SequenceNumber, journal: SequenceNumber)

        public var description: String {
            switch self {
            case .journal(let error): "cannot open the journal: \(error)"
            case .state(let error): "cannot rebuild the state: \(error)"
            case .mismatch(let state, let journal): "state ends at \(state) but the journal at \(journal)"
            }
        }
    }

    /// ledgerd's start-up, and the simulated disk's: open (and recover) the journal as its
    /// one writer, rebuild the state from the newest valid snapshot and the journal, check
    /// that both end at the same entry and prepare the state for execution.
    public static func start(
        journal options: JournalWriter.Options, snapshotDirectory: String?, progress: ((SequenceNumber) -> Void)? = nil
    ) throws(StartFailure) -> Startup {
        let journal: JournalWriter
        do { journal = try JournalWriter.open(options) } catch { throw .journal(error) }
        var restored: (state: ExchangeState, report: Report)
        do {
            restored = try restore(
                journalDirectory: options.directory, snapshotDirectory: snapshotDirectory, storage: options.storage,
                progress: progress)
        } catch {
            throw .state(error)
        }
        guard restored.state.lastSequence == journal.lastSequence else {
            throw .mismatch(state: restored.state.lastSequence, journal: journal.lastSequence)
        }
        restored.state.prepareToExecute()
        return Startup(journal: journal, state: restored.state, report: restored.report)
    }
}
