import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
import Snapshots

/// The engine, the journal, the snapshots and recovery over a `SimulatedDisk`, driven by
/// one seed (docs/DURABILITY.md). A seed chooses the segment size, the
/// fault rates and a few lifetimes; each lifetime starts the exchange the way ledgerd does
/// (`Recovery.start`), executes commands in group-commit batches, acknowledges a batch
/// only when `JournalWriter.append` returned, now and then builds a snapshot the way
/// `ledger-snapshot create` does and prunes, and ends in a power loss or a SIGKILL — at a
/// chosen disk operation, after a write error, or after its commands. Before the next
/// start the disk may flip a bit at rest.
///
/// After every start it checks:
/// - every acknowledged entry is present, byte for byte, and every entry a start ever
///   recovered stays (what a start recovers was visible: it must never vanish later);
/// - nothing is present that was never written, and an entry after the acknowledged
///   ones is exactly what the writer wrote there (its client got no answer);
/// - the recovered state's hash equals that of re-executing every recovered command
///   from genesis, and re-execution yields each entry's journaled bytes;
/// - a start that refuses names a file the disk damaged; a refusal without damage,
///   a loss, or a trap is a failure of the seed.
public enum DiskSimulation {
    public struct Outcome: Sendable {
        public var seed: UInt64
        public var lifetimes = 0
        public var powerLosses = 0
        public var kills = 0
        public var ioErrors = 0
        public var bitFlips = 0
        /// Starts that refused, naming the damaged file (the seed then ends, as an operator
        /// would restore from a backup).
        public var preciseRefusals = 0
        public var acknowledged: SequenceNumber = 0
        public var snapshots = 0
        /// The disk's operations, when the run kept them.
        public var diskLog: [String] = []

        public init(seed: UInt64) { self.seed = seed }

        /// Adds another seed's counts to these.
        public mutating func add(_ other: Outcome) {
            lifetimes += other.lifetimes
            powerLosses += other.powerLosses
            kills += other.kills
            ioErrors += other.ioErrors
            bitFlips += other.bitFlips
            preciseRefusals += other.preciseRefusals
            acknowledged += other.acknowledged
            snapshots += other.snapshots
        }

        public var summary: String {
            "lifetimes \(lifetimes), power losses \(powerLosses), kills \(kills), write/sync errors \(ioErrors), "
                + "bit flips \(bitFlips), precise refusals \(preciseRefusals), entries acknowledged \(acknowledged), "
                + "snapshots \(snapshots)"
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var seed: UInt64
        public var lifetime: Int
        public var reason: String
        public var diskLog: [String]

        public var description: String {
            "seed \(seed), lifetime \(lifetime): \(reason)"
                + (diskLog.isEmpty ? "" : "\n  disk, last operations:\n    " + diskLog.suffix(40).joined(separator: "\n    "))
        }
    }

    struct Written {
        var command: Command
        var timeNanos: Int64
        var payload: [UInt8]
    }

    static let journalDirectory = "/data/journal"
    static let snapshotDirectory = "/data/snapshots"

    /// What a failing seed did: the seed run again with the disk's log kept (the same
    /// failure, with the disk's last operations), or `error` if that run passes.
    public static func failureReport(seed: UInt64, error: Failure) -> String {
        do {
            _ = try run(seed: seed, keepLog: true)
            return "\(error)"
        } catch {
            return "\(error)"
        }
    }

    /// Runs one seed. `keepLog` records the disk's operations for the failure report.
    public static func run(seed: UInt64, keepLog: Bool = false) throws(Failure) -> Outcome {
        var random = SeededRandom(seed: seed)
        let faults: SimulatedDisk.Faults =
            random.next() % 4 == 0
            ? SimulatedDisk.Faults()
            : SimulatedDisk.Faults(
                writeEIO: Int.random(in: 0...3_000, using: &random), writeENOSPC: Int.random(in: 0...3_000, using: &random),
                syncEIO: Int.random(in: 0...6_000, using: &random), syncENOSPC: Int.random(in: 0...2_000, using: &random),
                writeback: Int.random(in: 0...60_000, using: &random))
        let disk = SimulatedDisk(seed: random.next(), faults: faults)
        disk.keepsLog = keepLog
        let segmentBytes = [Int64(600), 2_048, 8_192, 1 << 20][Int(random.next() % 4)]
        let options = JournalWriter.Options(
            directory: journalDirectory, segmentBytesTarget: segmentBytes, fsync: .batch, storage: disk)
        let accounts = 6
        var flow = OrderFlowGenerator(seed: random.next(), accounts: (1...UInt64(accounts)).map { $0 })
        let setup = DemoExchange.setupCommands(accounts: accounts)
        var pendingSetup = setup[...]

        var outcome = Outcome(seed: seed)
        var written: [Written] = []  // index i holds sequence i + 1
        var acknowledged: SequenceNumber = 0
        var reference = ExchangeState()
        var damaged: [String: [Int]] = [:]  // path: offsets of flipped bytes
        let lifetimes = Int.random(in: 2...6, using: &random)

        func fail(_ lifetime: Int, _ reason: String) -> Failure {
            Failure(seed: seed, lifetime: lifetime, reason: reason, diskLog: disk.log)
        }

        for lifetime in 1...lifetimes {
            outcome.lifetimes = lifetime
            // Start as ledgerd does; now and then the power goes during the start itself.
            if random.next() % 5 == 0 { disk.crashAtOperation = disk.operations + Int.random(in: 1...80, using: &random) }
            let startup: Recovery.Startup
            let errorsBefore = disk.injectedErrors
            do {
                startup = try Recovery.start(journal: options, snapshotDirectory: snapshotDirectory)
            } catch {
                if disk.isDown {
                    outcome.powerLosses += 1
                    disk.restart()
                    continue
                }
                if disk.injectedErrors > errorsBefore {
                    // The start met a write or sync error and exited; systemd starts it again.
                    outcome.ioErrors += 1
                    continue
                }
                let text = error.description
                guard let file = damaged.keys.sorted().first(where: { text.contains(SimulatedDisk.split($0).name) }) else {
                    throw fail(lifetime, "start refused without naming a damaged file (damaged: \(damaged.keys.sorted())): \(text)")
                }
                // A damaged segment is named with the offset of the block (or header) that
                // holds a flipped byte: at or before it.
                if let offset = corruptOffset(error), offset > damaged[file]!.max()! {
                    throw fail(lifetime, "start refused at byte \(offset) of \(file), after every damaged byte: \(text)")
                }
                outcome.preciseRefusals += 1
                outcome.diskLog = disk.log
                return outcome
            }
            disk.crashAtOperation = nil  // the checks below read the disk; they do not crash it
            let journal = startup.journal
            var state = startup.state
            let end = journal.lastSequence
            guard end >= acknowledged else {
                throw fail(lifetime, "lost acknowledged entries: the journal ends at \(end), \(acknowledged) were acknowledged")
            }
            guard end <= SequenceNumber(written.count) else {
                throw fail(lifetime, "the journal ends at \(end) but only \(written.count) entries were ever written")
            }
            do {
                try checkJournal(disk: disk, written: written, through: end)
            } catch {
                throw fail(lifetime, error.reason)
            }
            // Re-execute what was recovered beyond the reference, from the journaled commands.
            var events: [Event] = []
            var encoded = ByteWriter(capacity: 512)
            while reference.lastSequence < end {
                let sequence = reference.lastSequence + 1
                let entry = written[Int(sequence) - 1]
                events.removeAll(keepingCapacity: true)
                reference.execute(entry.command, sequence: sequence, timeNanos: entry.timeNanos, into: &events)
                encoded.reset()
                EntryPayload.encode(command: entry.command, events: events, to: &encoded)
                guard encoded.bytes == entry.payload else {
                    throw fail(lifetime, "entry \(sequence) re-executes to other bytes than were journaled")
                }
            }
            guard state.stateHash() == reference.stateHash() else {
                throw fail(lifetime, "the recovered state's hash differs from a replay's at sequence \(end)")
            }
            // What a start recovered was visible: from now on it must stay.
            written.removeLast(written.count - Int(end))
            acknowledged = end
            outcome.acknowledged = acknowledged
            // Listings and deposits that were lost unacknowledged are sent again, as a
            // gateway would (they come first, so the journal holds a prefix of them).
            pendingSetup = setup[min(setup.count, Int(end))...]

            // Run until a crash.
            let commandCount = Int.random(in: 4...90, using: &random)
            if random.next() % 3 != 0 { disk.crashAtOperation = disk.operations + Int.random(in: 1...400, using: &random) }
            var batch = JournalBatch()
            var executed = 0
            lifetimeLoop: while executed < commandCount {
                let size = Int.random(in: 1...6, using: &random)
                batch.reset()
                for _ in 0..<size where executed < commandCount {
                    let command = pendingSetup.popFirst() ?? nextCommand(&flow, &random)
                    let sequence = state.lastSequence + 1
                    let time = 1_780_000_000_000_000_000 + Int64(sequence) * 1_000_000
                    events.removeAll(keepingCapacity: true)
                    state.execute(command, sequence: sequence, timeNanos: time, into: &events)
                    if case .placeOrder(let order) = command {
                        for case .orderRested(let id, _) in events { flow.noteRested(account: order.account, order: id) }
                    }
                    encoded.reset()
                    EntryPayload.encode(command: command, events: events, to: &encoded)
                    batch.append(sequence: sequence, timeNanos: time, payload: encoded.bytes)
                    written.append(Written(command: command, timeNanos: time, payload: encoded.bytes))
                    executed += 1
                }
                do {
                    try batch.verifyRoundTrip()
                    try journal.append(batch)
                } catch {
                    // ledgerd stops without answering: nothing in the batch is acknowledged.
                    if !disk.isDown { outcome.ioErrors += 1 }
                    break lifetimeLoop
                }
                acknowledged = batch.lastSequence
                outcome.acknowledged = acknowledged
                if random.next() % 8 == 0 {
                    // `ledger-snapshot create` beside the daemon, and now and then `prune`.
                    let store = SnapshotStore(directory: snapshotDirectory, storage: disk)
                    if (try? store.create(journalDirectory: journalDirectory, through: journal.durableSequence)) != nil {
                        outcome.snapshots += 1
                    }
                    if random.next() % 3 == 0 { _ = try? store.prune(keep: 2) }
                    if disk.isDown { break lifetimeLoop }
                }
            }
            // The end of the lifetime: power loss or SIGKILL (if the disk is not down already).
            if !disk.isDown {
                if random.next() % 2 == 0 {
                    disk.losePower()
                    outcome.powerLosses += 1
                } else {
                    disk.killProcess()
                    outcome.kills += 1
                }
            } else {
                outcome.powerLosses += 1
            }
            disk.restart()
            // Bit rot, now and then, in a file on the disk.
            if random.next() % 6 == 0 {
                let files = disk.files().filter { $0.size > 0 }
                if let file = files.randomElement(using: &random) {
                    let offset = Int.random(in: 0..<file.size, using: &random)
                    disk.flipBit(path: file.path, offset: offset, bit: Int(random.next() % 8))
                    damaged[file.path, default: []].append(offset)
                    outcome.bitFlips += 1
                }
            }
        }
        outcome.diskLog = disk.log
        return outcome
    }

    /// The byte offset a start's refusal names, when it is a journal corruption.
    static func corruptOffset(_ failure: Recovery.StartFailure) -> Int? {
        switch failure {
        case .journal(.corrupt(_, let offset, _)), .state(.journal(.corrupt(_, let offset, _))): Int(offset)
        default: nil
        }
    }

    struct Mismatch: Error {
        var reason: String
    }

    /// Every entry 1 ... `end` reads back (through the disk) as it was written.
    static func checkJournal(disk: SimulatedDisk, written: [Written], through end: SequenceNumber) throws(Mismatch) {
        let reader = JournalReader(directory: journalDirectory, storage: disk)
        var next: SequenceNumber = 1
        do {
            while next <= end, let block = try reader.nextBlock(upTo: end) {
                for entry in block.entries where entry.sequence <= end {
                    guard entry.sequence == next else { throw Mismatch(reason: "entry \(next) is missing (found \(entry.sequence))") }
                    let expected = written[Int(next) - 1]
                    guard entry.timeNanos == expected.timeNanos, entry.payload.elementsEqual(expected.payload) else {
                        throw Mismatch(reason: "entry \(next) reads back other bytes than were written")
                    }
                    next += 1
                }
            }
        } catch let error as Mismatch {
            throw error
        } catch {
            throw Mismatch(reason: "the recovered journal does not read back: \(error)")
        }
        guard next == end + 1 else { throw Mismatch(reason: "entries \(next)...\(end) do not read back") }
    }

    /// The order flow, with a deposit or a withdrawal now and then.
    static func nextCommand(_ flow: inout OrderFlowGenerator, _ random: inout SeededRandom) -> Command {
        switch random.next() % 20 {
        case 0:
            let account = AccountID(1 + random.next() % 6)
            return .deposit(
                Transfer(
                    transferID: 1_000 + random.next() % 1_000_000, account: account, asset: 0,
                    amountMinor: Int64.random(in: 1...1_000_000_000, using: &random)))
        case 1:
            let account = AccountID(1 + random.next() % 6)
            return .withdraw(
                Transfer(
                    transferID: 2_000_000 + random.next() % 1_000_000, account: account, asset: 0,
                    amountMinor: Int64.random(in: 1...1_000_000_000, using: &random)))
        default:
            return flow.next()
        }
    }
}
