import Journal
import LedgerClient

#if canImport(Glibc)
    import Glibc
#endif

/// A deterministic disk under the journal and the snapshots (docs/DURABILITY.md),
/// driven by one seed. It keeps, for every file, the bytes a reader sees
/// (the page cache) apart from the bytes on the medium, and for every directory the names
/// a listing shows apart from the durable ones. What it does, and what it assumes:
///
/// - **Writes are volatile until fdatasync.** A write changes what reads see and joins the
///   file's dirty list; a successful `dataSync` puts the dirty list on the medium.
///   Now and then the "kernel" writes back a prefix of a dirty list on its own.
/// - **Names are volatile until the directory is synced.** Creating, renaming and
///   removing change the listing; `syncDirectory` makes them durable. A failed directory
///   sync leaves them pending (the next one can still make them durable).
/// - **A power loss** keeps the medium, plus a prefix of each file's dirty list of which the
///   last write is torn at any byte (file systems that order data before the size, like
///   ext4 data=ordered and XFS, leave a prefix of an append), plus a prefix of each
///   directory's pending names. What reads see is the medium again.
/// - **A process crash** (SIGKILL) changes nothing on the disk: the page cache survives.
/// - **EIO and ENOSPC**: a write fails with EIO (nothing written) or ENOSPC (a prefix
///   written); an fdatasync fails with EIO or ENOSPC, and then each dirty write has reached the
///   medium or not, and none stays dirty: the page cache still shows them all
///   (Linux after a writeback error), so only rewriting makes them durable again.
/// - **Bit flips at rest** change one bit on the medium and in the cache.
/// - **A crash at an operation**: when the operation count reaches `crashAtOperation`,
///   the disk loses power inside that call (a write then is torn too) and every later call
///   fails until `restart`.
///
/// Not thread-safe: the simulation is single-threaded by design, so that a seed replays
/// exactly.
public final class SimulatedDisk: Storage, @unchecked Sendable {
    /// Chances are in parts per million of an operation.
    public struct Faults: Sendable {
        public var writeEIO = 0
        public var writeENOSPC = 0
        public var syncEIO = 0
        /// fdatasync failing with ENOSPC (thin provisioning, delayed allocation): the same
        /// consequences as EIO.
        public var syncENOSPC = 0
        /// A spontaneous writeback of some dirty file at an operation.
        public var writeback = 0
        /// A failed fdatasync loses every dirty write (the worst case) rather than a random
        /// part of them.
        public var failedSyncLosesAll = false

        public init(
            writeEIO: Int = 0, writeENOSPC: Int = 0, syncEIO: Int = 0, syncENOSPC: Int = 0, writeback: Int = 0,
            failedSyncLosesAll: Bool = false
        ) {
            self.writeEIO = writeEIO
            self.writeENOSPC = writeENOSPC
            self.syncEIO = syncEIO
            self.syncENOSPC = syncENOSPC
            self.writeback = writeback
            self.failedSyncLosesAll = failedSyncLosesAll
        }
    }

    enum Change {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
    }

    final class Inode {
        var medium: [UInt8] = []
        var cache: [UInt8] = []
        var dirty: [Change] = []
    }

    struct Folder {
        var names: [String: Inode] = [:]
        var durable: [String: Inode] = [:]
        /// Name changes not yet durable, in order (nil: removed).
        var pending: [(name: String, inode: Inode?)] = []
    }

    public var faults: Faults
    /// Power is lost inside the operation with this number (1 is the first).
    public var crashAtOperation: Int?
    public private(set) var operations = 0
    /// How many write and sync errors the disk has returned.
    public private(set) var injectedErrors = 0
    /// True from a crash until `restart`.
    public private(set) var isDown = false
    /// What the disk did, for a failing seed's report.
    public private(set) var log: [String] = []
    public var keepsLog = false

    var random: SeededRandom
    private var folders: [String: Folder] = [:]

    public init(seed: UInt64, faults: Faults = Faults()) {
        random = SeededRandom(seed: seed)
        self.faults = faults
    }

    // MARK: - What the simulation does to the disk

    /// Power loss now: unsynced data is lost or torn, pending names are lost or kept in order.
    public func losePower() {
        note("power lost")
        for (path, folder) in folders.sorted(by: { $0.key < $1.key }) {
            var folder = folder
            let kept = Int.random(in: 0...folder.pending.count, using: &random)
            for change in folder.pending.prefix(kept) { folder.durable[change.name] = change.inode }
            folder.pending = []
            folder.names = folder.durable
            folders[path] = folder
            for (_, inode) in folder.durable.sorted(by: { $0.key < $1.key }) {
                let count = inode.dirty.count
                let reached = Int.random(in: 0...count, using: &random)
                for (index, change) in inode.dirty.prefix(reached).enumerated() {
                    if index == reached - 1, case .write(let offset, let bytes) = change {
                        let torn = Int.random(in: 0...bytes.count, using: &random)
                        Self.apply(.write(offset: offset, bytes: Array(bytes.prefix(torn))), to: &inode.medium)
                    } else {
                        Self.apply(change, to: &inode.medium)
                    }
                }
                inode.dirty = []
                inode.cache = inode.medium
            }
        }
        isDown = true
    }

    /// The process died: nothing on the disk changes, but calls fail until `restart`.
    public func killProcess() {
        note("process killed")
        isDown = true
    }

    /// The machine (or the process) comes back.
    public func restart() {
        isDown = false
        crashAtOperation = nil
    }

    /// Flips one bit of a file on the medium (and in the cache, as after a power loss).
    /// Returns false if the file is missing or shorter than `offset`.
    @discardableResult
    public func flipBit(path: String, offset: Int, bit: Int) -> Bool {
        guard let inode = inode(path), offset < inode.medium.count, offset < inode.cache.count else { return false }
        inode.medium[offset] ^= UInt8(1 << (bit & 7))
        inode.cache[offset] ^= UInt8(1 << (bit & 7))
        note("flipped bit \(bit & 7) of byte \(offset) of \(path)")
        return true
    }

    /// The files the disk holds now (as a listing shows them), with their sizes.
    public func files() -> [(path: String, size: Int)] {
        folders.sorted(by: { $0.key < $1.key }).flatMap { path, folder in
            folder.names.sorted(by: { $0.key < $1.key }).map { (path + "/" + $0.key, $0.value.cache.count) }
        }
    }

    // MARK: - Storage

    public func open(_ path: String, _ mode: OpenMode) throws(JournalError) -> any StorageFile {
        try step("open", path)
        let (directory, name) = Self.split(path)
        guard var folder = folders[directory] else { throw .notFound(path: path) }
        switch mode {
        case .read, .write:
            guard let inode = folder.names[name] else { throw .notFound(path: path) }
            return SimulatedFile(disk: self, inode: inode, path: path, writable: mode == .write)
        case .createTruncating, .createNew:
            if let inode = folder.names[name] {
                if mode == .createNew { throw .io(operation: "open", path: path, errno: EEXIST) }
                inode.cache = []
                inode.dirty.append(.truncate(size: 0))
                return SimulatedFile(disk: self, inode: inode, path: path, writable: true)
            }
            let inode = Inode()
            folder.names[name] = inode
            folder.pending.append((name, inode))
            folders[directory] = folder
            return SimulatedFile(disk: self, inode: inode, path: path, writable: true)
        }
    }

    public func createDirectory(_ path: String) throws(JournalError) {
        try step("mkdir", path)
        // Directories are made once, before anything is written in them: durable at once.
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty && !path.hasPrefix("/") ? "" : "/") + component
            if folders[prefix] == nil { folders[prefix] = Folder() }
        }
    }

    public func list(_ directory: String) throws(JournalError) -> [String] {
        try step("list", directory)
        guard let folder = folders[Self.normal(directory)] else { throw .notFound(path: directory) }
        return folder.names.keys.sorted()
    }

    public func syncDirectory(_ path: String) throws(JournalError) {
        try step("fsync", path)
        let key = Self.normal(path)
        guard var folder = folders[key] else { throw .notFound(path: path) }
        if chance(faults.syncEIO) {
            note("fsync EIO on directory \(path)")
            injectedErrors += 1
            throw .syncFailed(path: path, errno: EIO)
        }
        for change in folder.pending { folder.durable[change.name] = change.inode }
        folder.pending = []
        folders[key] = folder
    }

    public func remove(_ path: String) throws(JournalError) {
        try step("unlink", path)
        let (directory, name) = Self.split(path)
        guard var folder = folders[directory], folder.names[name] != nil else { return }
        folder.names[name] = nil
        folder.pending.append((name, nil))
        folders[directory] = folder
    }

    public func rename(_ source: String, to target: String) throws(JournalError) {
        try step("rename", source)
        let (from, oldName) = Self.split(source)
        let (to, newName) = Self.split(target)
        guard from == to, var folder = folders[from], let inode = folder.names[oldName] else {
            throw .io(operation: "rename", path: source, errno: ENOENT)
        }
        folder.names[oldName] = nil
        folder.names[newName] = inode
        folder.pending.append((newName, inode))
        folder.pending.append((oldName, nil))
        folders[from] = folder
    }

    // MARK: - Files

    final class SimulatedFile: StorageFile {
        let disk: SimulatedDisk
        let inode: Inode
        let path: String
        let writable: Bool

        init(disk: SimulatedDisk, inode: Inode, path: String, writable: Bool) {
            self.disk = disk
            self.inode = inode
            self.path = path
            self.writable = writable
        }

        var size: Int64 {
            get throws(JournalError) {
                try disk.step("fstat", path)
                return Int64(inode.cache.count)
            }
        }

        func write(_ bytes: [UInt8], at offset: Int64) throws(JournalError) {
            try disk.step("pwrite", path, tearing: (inode, Int(offset), bytes))
            guard writable else { throw .io(operation: "pwrite", path: path, errno: EBADF) }
            if disk.chance(disk.faults.writeEIO) {
                disk.note("pwrite EIO on \(path)")
                disk.injectedErrors += 1
                throw .io(operation: "pwrite", path: path, errno: EIO)
            }
            if disk.chance(disk.faults.writeENOSPC) {
                let written = Int.random(in: 0..<max(1, bytes.count), using: &disk.random)
                disk.note("pwrite ENOSPC on \(path) after \(written) of \(bytes.count) bytes")
                disk.injectedErrors += 1
                disk.write(Array(bytes.prefix(written)), at: Int(offset), to: inode)
                throw .diskFull(path: path)
            }
            disk.write(bytes, at: Int(offset), to: inode)
        }

        func read(count: Int, at offset: Int64) throws(JournalError) -> [UInt8] {
            try disk.step("pread", path)
            let start = min(Int(offset), inode.cache.count)
            return Array(inode.cache[start..<min(inode.cache.count, start + count)])
        }

        func dataSync() throws(JournalError) {
            try disk.step("fdatasync", path)
            let code: Int32? =
                disk.chance(disk.faults.syncEIO) ? EIO : disk.chance(disk.faults.syncENOSPC) ? ENOSPC : nil
            if let code {
                disk.note("fdatasync \(code == EIO ? "EIO" : "ENOSPC") on \(path)")
                disk.injectedErrors += 1
                // Each dirty write reached the medium or not; none stays dirty.
                for change in inode.dirty where !disk.faults.failedSyncLosesAll && Bool.random(using: &disk.random) {
                    SimulatedDisk.apply(change, to: &inode.medium)
                }
                inode.dirty = []
                throw .syncFailed(path: path, errno: code)
            }
            for change in inode.dirty { SimulatedDisk.apply(change, to: &inode.medium) }
            inode.dirty = []
        }

        func truncate(to size: Int64) throws(JournalError) {
            try disk.step("ftruncate", path)
            guard writable else { throw .io(operation: "ftruncate", path: path, errno: EBADF) }
            SimulatedDisk.apply(.truncate(size: Int(size)), to: &inode.cache)
            inode.dirty.append(.truncate(size: Int(size)))
        }
    }

    // MARK: - Internals

    /// Counts an operation, loses power at the chosen one (tearing the write that was
    /// under way), refuses calls while down, and lets the kernel write back now and then.
    func step(_ operation: String, _ path: String, tearing write: (Inode, Int, [UInt8])? = nil) throws(JournalError) {
        guard !isDown else { throw .io(operation: operation, path: path, errno: EIO) }
        operations += 1
        if operations == crashAtOperation {
            if let (inode, offset, bytes) = write {
                // The write was under way: its bytes are dirty when the power goes.
                self.write(bytes, at: offset, to: inode)
            }
            note("power lost during \(operation) \(path)")
            losePower()
            throw .io(operation: operation, path: path, errno: EIO)
        }
        if chance(faults.writeback) { writeBack() }
    }

    func write(_ bytes: [UInt8], at offset: Int, to inode: Inode) {
        let change = Change.write(offset: offset, bytes: bytes)
        Self.apply(change, to: &inode.cache)
        inode.dirty.append(change)
    }

    /// The kernel writes back a prefix of one dirty file's changes.
    private func writeBack() {
        let dirty = folders.sorted(by: { $0.key < $1.key }).flatMap { path, folder in
            folder.names.sorted(by: { $0.key < $1.key }).filter { !$0.value.dirty.isEmpty }.map { (path + "/" + $0.key, $0.value) }
        }
        guard let (path, inode) = dirty.randomElement(using: &random) else { return }
        let count = Int.random(in: 1...inode.dirty.count, using: &random)
        for change in inode.dirty.prefix(count) { Self.apply(change, to: &inode.medium) }
        inode.dirty.removeFirst(count)
        note("writeback of \(count) changes of \(path)")
    }

    static func apply(_ change: Change, to bytes: inout [UInt8]) {
        switch change {
        case .write(let offset, let data):
            if bytes.count < offset + data.count { bytes.append(contentsOf: repeatElement(0, count: offset + data.count - bytes.count)) }
            bytes.replaceSubrange(offset..<offset + data.count, with: data)
        case .truncate(let size):
            if bytes.count > size { bytes.removeLast(bytes.count - size) } else { bytes += repeatElement(0, count: size - bytes.count) }
        }
    }

    func chance(_ perMillion: Int) -> Bool {
        perMillion > 0 && Int.random(in: 0..<1_000_000, using: &random) < perMillion
    }

    func note(_ line: String) {
        if keepsLog { log.append("op \(operations): \(line)") }
    }

    private func inode(_ path: String) -> Inode? {
        let (directory, name) = Self.split(path)
        return folders[directory]?.names[name]
    }

    static func normal(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }
}
