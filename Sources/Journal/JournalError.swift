import LedgerCore

/// What went wrong in the journal, with where.
public enum JournalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A system call failed (`errno` as reported).
    case io(operation: String, path: String, errno: Int32)
    /// fdatasync failed: the kernel may have dropped dirty pages, so nothing written since
    /// the last good sync can be trusted. Fatal: never retry (DESIGN.md rule 6).
    case syncFailed(path: String, errno: Int32)
    /// The disk is full: the entries were not written and must not be acknowledged.
    case diskFull(path: String)
    /// A damaged block or header followed by valid data: not a torn tail but corruption.
    case corrupt(segment: String, offset: Int64, reason: String)
    /// Entries out of order, or a batch that breaks a limit.
    case invalidAppend(String)
    /// The writer failed earlier and accepts nothing more.
    case writerFailed
    case notFound(path: String)
    /// The engine produced an entry that would not read back as written (the decoder
    /// refuses it, or it decodes to other values than the engine's, or re-encodes
    /// differently). Nothing of its batch is written.
    case entryDoesNotRoundTrip(sequence: SequenceNumber, reason: String)

    public var description: String {
        switch self {
        case .io(let operation, let path, let errno): "\(operation) \(path) failed: \(errnoName(errno))"
        case .syncFailed(let path, let errno): "fdatasync \(path) failed: \(errnoName(errno)); stopping (a failed sync is fatal)"
        case .diskFull(let path): "disk full writing \(path)"
        case .corrupt(let segment, let offset, let reason):
            "journal corrupt in segment \(segment) at byte \(offset): \(reason); run `ledger-replay verify` for a full report"
        case .invalidAppend(let reason): "invalid append: \(reason)"
        case .writerFailed: "the journal writer failed earlier and is closed"
        case .notFound(let path): "\(path) does not exist"
        case .entryDoesNotRoundTrip(let sequence, let reason):
            "entry \(sequence) would not read back as written (\(reason)); its batch was not written and nothing in it was acknowledged"
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif

func errnoName(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return "\(String(cString: text)) (errno \(code))"
}
