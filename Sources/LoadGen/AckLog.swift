import Foundation
import LedgerCore

/// What a crash soak compares with the journal (scripts/soak.sh, `ledger-replay acks`):
/// one line per command sent, `S <hex of its encoding>`, written before it is sent, and one
/// per acknowledgement, `A <sequence> <hex>`. One file per connection; buffered, flushed
/// every 64 KiB and at the end (ledger-load is never the process that is killed). The
/// sender and receiver threads share one; a lock keeps the lines whole.
final class AckLog: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    private var buffer: [UInt8] = []

    init(path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 17)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    private func hex(_ bytes: some Collection<UInt8>) {
        for byte in bytes {
            buffer.append(Self.hexDigits[Int(byte >> 4)])
            buffer.append(Self.hexDigits[Int(byte & 15)])
        }
    }

    func sent(_ command: some Collection<UInt8>) {
        lock.lock()
        defer { lock.unlock() }
        buffer.append(UInt8(ascii: "S"))
        buffer.append(UInt8(ascii: " "))
        hex(command)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { write() }
    }

    func acknowledged(_ sequence: SequenceNumber, _ command: some Collection<UInt8>) {
        lock.lock()
        defer { lock.unlock() }
        buffer.append(contentsOf: Array("A \(sequence) ".utf8))
        hex(command)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { write() }
    }

    func flush() {
        lock.withLock { write() }
    }

    private func write() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    deinit {
        write()
        try? handle.close()
    }
}
