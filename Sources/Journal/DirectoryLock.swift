#if canImport(Glibc)
    import Glibc
#endif

/// One owner per directory (DESIGN.md rule 8): an exclusive `flock` on the file `LOCK`
/// inside it, held for as long as the value lives and released by the kernel when the
/// process dies (SIGKILL included), so a crash never leaves a stale lock. The file holds
/// the holder's pid and name, so whoever is refused can say who holds it.
///
/// ledgerd holds its journal directory's lock for its whole life; tools that write the
/// journal take the same lock, and tools that write snapshots take the snapshot
/// directory's (docs/OPERATIONS.md, "One owner per data directory"). Readers take none.
public final class DirectoryLock: Sendable {
    public static let fileName = "LOCK"

    /// The lock is held by another process.
    public struct Held: Error, Sendable, CustomStringConvertible {
        public var path: String
        /// The holder's pid and name as it wrote them ("12345 ledgerd"), if readable.
        public var holder: String

        public var description: String {
            "\(path) is locked by \(holder.isEmpty ? "another process" : "pid " + holder): one owner per directory; stop it first"
        }
    }

    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        close(fd)  // releases the flock
    }

    /// Takes the lock of `directory` (which must exist) without waiting, and writes
    /// "PID OWNER" into the lock file.
    ///
    /// - Throws: `Held` when another process holds it; `JournalError.io` when the file
    ///   cannot be opened or locked for another reason.
    public static func acquire(directory: String, owner: String) throws -> DirectoryLock {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.io(operation: "open", path: path, errno: errno) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK {
                let holder = readHolder(fd)
                close(fd)
                throw Held(path: path, holder: holder)
            }
            close(fd)
            throw JournalError.io(operation: "flock", path: path, errno: code)
        }
        let text = Array("\(getpid()) \(owner)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return DirectoryLock(path: path, fd: fd)
    }

    /// The holder's "PID OWNER" line, as written by `acquire`.
    private static func readHolder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return "" }
        let line = String(decoding: buffer[0..<count], as: UTF8.self)
        return line.split(separator: "\n").first.map(String.init) ?? ""
    }
}
