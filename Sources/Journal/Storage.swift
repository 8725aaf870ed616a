#if canImport(Glibc)
    import Glibc
#endif

/// How `Storage.open` opens a file.
public enum OpenMode: Sendable, Hashable {
    /// Read only; the file must exist.
    case read
    /// Write only; the file must exist.
    case write
    /// Write only; created if missing, emptied if present (O_CREAT | O_TRUNC).
    case createTruncating
    /// Write only; created, and refused if it already exists (O_CREAT | O_EXCL).
    case createNew
}

/// An open file of a `Storage`. Offsets and sizes in bytes.
public protocol StorageFile: AnyObject {
    var path: String { get }
    var size: Int64 { get throws(JournalError) }
    /// Writes all of `bytes` at `offset`. ENOSPC is `.diskFull`.
    func write(_ bytes: [UInt8], at offset: Int64) throws(JournalError)
    /// Exactly `count` bytes at `offset`, or fewer at the end of the file.
    func read(count: Int, at offset: Int64) throws(JournalError) -> [UInt8]
    /// fdatasync: what was written becomes durable. A failure is `.syncFailed`.
    func dataSync() throws(JournalError)
    func truncate(to size: Int64) throws(JournalError)
}

/// The one I/O layer between the journal and snapshot writers and the disk
/// (docs/DURABILITY.md). `PosixStorage` is the real file system;
/// a test replaces it by a deterministic simulation that loses what was never synced,
/// tears writes, fails with EIO and ENOSPC and flips bits at rest. Everything the
/// journal and the snapshots do to files goes through these calls; nothing else.
public protocol Storage: Sendable {
    func open(_ path: String, _ mode: OpenMode) throws(JournalError) -> any StorageFile
    /// Creates a directory and its parents (like `mkdir -p`).
    func createDirectory(_ path: String) throws(JournalError)
    /// The names in a directory, sorted, without "." and "..".
    func list(_ directory: String) throws(JournalError) -> [String]
    /// fsync on a directory: created, renamed and removed names become durable.
    func syncDirectory(_ path: String) throws(JournalError)
    /// Removes a name; a missing one is not an error.
    func remove(_ path: String) throws(JournalError)
    /// Renames, replacing the target (rename(2)).
    func rename(_ source: String, to target: String) throws(JournalError)
}

extension Storage {
    /// The whole file, or its first `limit` bytes.
    public func readAll(_ path: String, limit: Int? = nil) throws(JournalError) -> [UInt8] {
        let file = try open(path, .read)
        let size = Int(try file.size)
        return try file.read(count: min(size, limit ?? size), at: 0)
    }

    /// Writes a whole file atomically: temporary file, fdatasync, rename, fsync the
    /// directory. A failed write (disk full, EIO) leaves no temporary file behind.
    public func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws(JournalError) {
        let temporary = path + ".tmp"
        do throws(JournalError) {
            let file = try open(temporary, .createTruncating)
            try file.write(bytes, at: 0)
            try file.dataSync()
            try rename(temporary, to: path)
        } catch {
            try? remove(temporary)
            throw error
        }
        try syncDirectory(directory)
    }
}

/// The real file system, through POSIX calls.
public struct PosixStorage: Storage {
    public init() {}

    public func open(_ path: String, _ mode: OpenMode) throws(JournalError) -> any StorageFile {
        let flags: Int32 =
            switch mode {
            case .read: O_RDONLY
            case .write: O_WRONLY
            case .createTruncating: O_WRONLY | O_CREAT | O_TRUNC
            case .createNew: O_WRONLY | O_CREAT | O_EXCL
            }
        return try PosixFile.open(path, flags: flags)
    }

    public func createDirectory(_ path: String) throws(JournalError) { try Directory.create(path) }
    public func list(_ directory: String) throws(JournalError) -> [String] { try Directory.list(directory) }
    public func syncDirectory(_ path: String) throws(JournalError) { try Directory.sync(path) }
    public func remove(_ path: String) throws(JournalError) { try Directory.remove(path) }

    public func rename(_ source: String, to target: String) throws(JournalError) {
        guard Glibc.rename(source, target) == 0 else { throw .io(operation: "rename", path: source, errno: errno) }
    }
}

extension PosixFile: StorageFile {}
