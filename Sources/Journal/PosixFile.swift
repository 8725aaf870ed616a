#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor and its path, closed when the owner goes away. Only the journal's
/// own thread uses one.
package final class PosixFile {
    package let fd: Int32
    package let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
    }

    package static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(JournalError) -> PosixFile {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == ENOENT { throw .notFound(path: path) }
            throw .io(operation: "open", path: path, errno: errno)
        }
        return PosixFile(fd: fd, path: path)
    }

    package var size: Int64 {
        get throws(JournalError) {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
            return Int64(info.st_size)
        }
    }

    /// Writes all of `bytes` at `offset`. ENOSPC becomes `.diskFull`.
    package func write(_ bytes: [UInt8], at offset: Int64) throws(JournalError) {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == ENOSPC { throw .diskFull(path: path) }
                throw .io(operation: "pwrite", path: path, errno: errno)
            }
            done += written
        }
    }

    /// Reads exactly `count` bytes at `offset`, or fewer at the end of the file.
    package func read(count: Int, at offset: Int64) throws(JournalError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pread", path: path, errno: errno)
            }
            if got == 0 { break }
            done += got
        }
        if done < count { buffer.removeLast(count - done) }
        return buffer
    }

    /// fdatasync. A failure is fatal to the writer (DESIGN.md rule 6).
    package func dataSync() throws(JournalError) {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw .syncFailed(path: path, errno: errno)
        }
    }

    package func truncate(to size: Int64) throws(JournalError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io(operation: "ftruncate", path: path, errno: errno) }
    }
}

/// Directory helpers.
package enum Directory {
    package static func create(_ path: String) throws(JournalError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .io(operation: "mkdir", path: prefix, errno: errno)
            }
        }
    }

    package static func list(_ path: String) throws(JournalError) -> [String] {
        guard let handle = opendir(path) else {
            if errno == ENOENT { throw .notFound(path: path) }
            throw .io(operation: "opendir", path: path, errno: errno)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// fsync on the directory, so that created, renamed and removed names are durable.
    package static func sync(_ path: String) throws(JournalError) {
        let file = try PosixFile.open(path, flags: O_RDONLY | O_DIRECTORY)
        while fsync(file.fd) != 0 {
            if errno == EINTR { continue }
            throw .syncFailed(path: path, errno: errno)
        }
    }

    package static func remove(_ path: String) throws(JournalError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    /// Writes a whole file atomically (`Storage.writeAtomically` on the real file system).
    package static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws(JournalError) {
        try PosixStorage().writeAtomically(bytes, to: path, directory: directory)
    }
}
