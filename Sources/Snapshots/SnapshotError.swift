import Journal

/// What went wrong with a snapshot file.
public enum SnapshotError: Error, Sendable, CustomStringConvertible {
    case io(JournalError)
    /// The file is not a valid snapshot: says which check failed.
    case invalid(file: String, reason: String)
    case compression(String)

    public var description: String {
        switch self {
        case .io(let error): error.description
        case .invalid(let file, let reason): "snapshot \(file) is invalid: \(reason)"
        case .compression(let reason): "zstd: \(reason)"
        }
    }
}
