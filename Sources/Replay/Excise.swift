import ArgumentParser
import Foundation
import Journal
import LedgerCore
import LedgerDigest

/// The operator's verb for a journal entry that cannot be read back (docs/OPERATIONS.md,
/// "An entry that does not decode"). Never run implicitly: recovery only points here.
struct Excise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Replace journal entries that do not decode by ENTRY_EXCISED records, if no later entry depends on them. ledgerd must be stopped; the original journal is kept beside the new one."
    )
    @OptionGroup var location: Location
    @Option(help: "The sequence of an entry that does not decode (repeat for several).") var sequence: [UInt64]
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        guard !sequence.isEmpty, sequence.allSatisfy({ $0 >= 1 }) else { throw ValidationError("give --sequence N (N ≥ 1)") }
    }

    /// Why excision was refused; nothing was changed.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    func run() throws {
        let journalDirectory = try location.journalDirectory
        let lock: DirectoryLock
        do { lock = try DirectoryLock.acquire(directory: journalDirectory, owner: "ledger-replay excise") } catch { throw fail("\(error)") }
        defer { withExtendedLifetime(lock) {} }
        do {
            let plan = try Self.plan(journalDirectory: journalDirectory, excising: Set(sequence))
            let keptAside = try Self.rewrite(journalDirectory: journalDirectory, plan: plan)
            let stale = try staleSnapshots(after: sequence.min()!)
            if json {
                printJSON([
                    "ok": true,
                    "excised": plan.excised.map { ["sequence": Int($0.sequence), "originalPayloadSha256": hexString($0.hash)] },
                    "entries": plan.entryCount, "original": keptAside, "staleSnapshots": stale,
                ])
            } else {
                for item in plan.excised {
                    print("excised entry \(item.sequence) (original payload SHA-256 \(hexString(item.hash)))")
                }
                print("rewrote \(plan.entryCount) entries; every later entry re-executes to its journaled events")
                print("the original journal is kept in \(keptAside)")
                if !stale.isEmpty {
                    print(
                        "snapshots at or after the excised entry no longer match the journal and will be skipped: \(stale.joined(separator: ", "))"
                    )
                }
            }
        } catch let refusal as Refusal {
            throw fail("nothing changed: \(refusal)")
        } catch {
            throw fail("nothing changed: \(error)")
        }
    }

    struct Plan {
        var ledgerID: UInt64
        var epoch: UInt64
        var blocks: [JournalBatch] = []
        var excised: [(sequence: SequenceNumber, hash: [UInt8])] = []
        var entryCount = 0
    }

    /// Re-executes the whole journal from genesis. Entries to excise must not decode and
    /// are replaced by `entryExcised` executed at their time; every other entry must decode
    /// and re-execute to exactly its journaled events, so nothing after an excised entry
    /// depended on it. Returns the blocks of the new journal, grouped as the old ones.
    static func plan(journalDirectory: String, excising: Set<SequenceNumber>) throws -> Plan {
        let verified = try JournalVerifier.verify(directory: journalDirectory)
        if let finding = verified.finding, !verified.findingIsTornTail {
            throw Refusal(description: "the journal is damaged at segment \(finding.segment) byte \(finding.offset): \(finding.reason)")
        }
        guard let first = try JournalReader.segments(in: journalDirectory).first else {
            throw Refusal(description: "\(journalDirectory) holds no journal segment")
        }
        let header = try JournalReader.header(ofSegment: first, in: journalDirectory)
        guard header.firstSequence == 1 else {
            throw Refusal(description: "the journal starts at sequence \(header.firstSequence): excise re-executes from sequence 1")
        }
        var plan = Plan(ledgerID: header.ledgerID, epoch: header.epoch)
        var state = ExchangeState()
        var events: [Event] = []
        let reader = JournalReader(directory: journalDirectory)
        while let block = try reader.nextBlock() {
            var batch = JournalBatch()
            for entry in block.entries {
                events.removeAll(keepingCapacity: true)
                if excising.contains(entry.sequence) {
                    if let decoded = try? entry.decodePayload() {
                        throw Refusal(
                            description:
                                "entry \(entry.sequence) decodes (\(TypeProbe.type(of: decoded.command))): only an entry that cannot be read back is excised"
                        )
                    }
                    let hash = SHA256.hash(Array(entry.payload))
                    let command = Command.entryExcised(originalPayloadSHA256: hash)
                    state.execute(command, sequence: entry.sequence, timeNanos: entry.timeNanos, into: &events)
                    batch.append(sequence: entry.sequence, timeNanos: entry.timeNanos) {
                        EntryPayload.encode(command: command, events: events, to: &$0)
                    }
                    plan.excised.append((entry.sequence, hash))
                } else {
                    let payload: EntryPayload
                    do {
                        payload = try entry.decodePayload()
                    } catch {
                        throw Refusal(description: "entry \(entry.sequence) does not decode either (\(error)): name it with --sequence too")
                    }
                    state.execute(payload.command, sequence: entry.sequence, timeNanos: entry.timeNanos, into: &events)
                    guard events == payload.events else {
                        throw Refusal(
                            description:
                                "entry \(entry.sequence) re-executes to other events without the excised entries: a later entry depends on them (run `ledger-replay audit` for the full picture)"
                        )
                    }
                    batch.append(sequence: entry.sequence, timeNanos: entry.timeNanos, payload: entry.payload)
                }
                plan.entryCount += 1
            }
            plan.blocks.append(batch)
        }
        let missing = excising.subtracting(plan.excised.map(\.sequence))
        guard missing.isEmpty else {
            throw Refusal(description: "the journal has no entry \(missing.sorted().map(String.init).joined(separator: ", "))")
        }
        if let violation = state.invariantViolation() { throw Refusal(description: "invariant after the last entry: \(violation)") }
        return plan
    }

    /// Writes the new journal beside the old one, verifies it, then swaps the directories;
    /// returns where the original now is.
    static func rewrite(journalDirectory: String, plan: Plan) throws -> String {
        let fresh = journalDirectory + ".excise-new"
        let original = journalDirectory + ".before-excise-\(plan.excised.map(\.sequence).min()!)-\(Int(Date().timeIntervalSince1970))"
        try? FileManager.default.removeItem(atPath: fresh)
        let writer = try JournalWriter.open(.init(directory: fresh, ledgerID: plan.ledgerID, epoch: plan.epoch, fsync: .batch))
        for block in plan.blocks where !block.isEmpty {
            try block.verifyRoundTrip()
            try writer.append(block)
        }
        try writer.sync()
        let check = try JournalVerifier.verify(directory: fresh)
        if let finding = check.finding { throw Refusal(description: "the rewritten journal does not verify: \(finding.reason)") }
        guard rename(journalDirectory, original) == 0 else {
            throw JournalError.io(operation: "rename", path: journalDirectory, errno: errno)
        }
        guard rename(fresh, journalDirectory) == 0 else { throw JournalError.io(operation: "rename", path: fresh, errno: errno) }
        let parent = (journalDirectory as NSString).deletingLastPathComponent
        try Directory.sync(parent.isEmpty ? "." : parent)
        return original
    }

    func staleSnapshots(after sequence: SequenceNumber) throws -> [String] {
        guard let directory = location.snapshotDirectory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return []
        }
        return names.filter { name in
            guard name.hasPrefix("snap-"), name.hasSuffix(".zst"), let value = UInt64(name.dropFirst(5).dropLast(4)) else { return false }
            return value >= sequence
        }.sorted()
    }
}
