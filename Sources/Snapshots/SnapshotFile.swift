import CZstd
import Journal
import LedgerCore
import LedgerDigest

/// What a snapshot's header says.
public struct SnapshotInfo: Sendable, Hashable {
    public var name: String
    /// The last journal entry the state includes.
    public var sequence: SequenceNumber
    public var timeNanos: Int64
    /// The journal's chain value after `sequence`, tying the snapshot to its journal.
    public var journalChain: [UInt8]
    /// SHA-256 of the canonical state encoding (the body, uncompressed).
    public var stateHash: [UInt8]
    public var uncompressedBytes: UInt64
    public var compressedBytes: UInt64
    /// The layout of the state in the body (`ExchangeState.encodingVersion` when written;
    /// older layouts are still read).
    public var stateEncodingVersion: UInt8 = ExchangeState.encodingVersion
}

/// Snapshot files v1 (docs/FORMATS.md, "Snapshot"): `snap-<sequence>.zst`, a fixed header
/// and the zstd-compressed canonical state encoding. Written atomically; read back only
/// after every checksum and the state hash agree.
public enum SnapshotFile {
    public static let version: UInt16 = 1
    /// "XLSNAP01"
    static let magic: UInt64 = 0x3130_5041_4E53_4C58
    public static let headerBytes = 116
    public static let prefix = "snap-"
    public static let suffix = ".zst"
    public static let zstdLevel: Int32 = 3

    public static func name(sequence: SequenceNumber) -> String {
        let digits = String(sequence)
        return prefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    public static func sequence(ofFileNamed name: String) -> SequenceNumber? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.utf8.count == prefix.utf8.count + 20 + suffix.utf8.count
        else { return nil }
        return SequenceNumber(name.dropFirst(prefix.count).prefix(20))
    }

    /// Encodes a state as the bytes of a snapshot file.
    public static func encode(
        _ state: ExchangeState, journalChain: [UInt8]
    ) throws(SnapshotError) -> (bytes: [UInt8], info: SnapshotInfo) {
        precondition(journalChain.count == 32)
        var body = ByteWriter(capacity: 1 << 20)
        state.encodeCanonical(to: &body)
        let stateHash = SHA256.hash(body.bytes)
        let compressed = try compress(body.bytes)
        let info = SnapshotInfo(
            name: name(sequence: state.lastSequence), sequence: state.lastSequence, timeNanos: state.lastTimeNanos,
            journalChain: journalChain, stateHash: stateHash, uncompressedBytes: UInt64(body.bytes.count),
            compressedBytes: UInt64(compressed.count))
        var header = ByteWriter(capacity: headerBytes)
        header.fixed64(magic)
        header.fixed32(UInt32(version) | UInt32(ExchangeState.encodingVersion) << 16)
        header.fixed64(info.sequence)
        header.fixed64(UInt64(bitPattern: info.timeNanos))
        header.raw(info.journalChain)
        header.raw(info.stateHash)
        header.fixed64(info.uncompressedBytes)
        header.fixed64(info.compressedBytes)
        header.fixed32(crc32c(compressed))
        header.fixed32(crc32c(header.bytes))
        precondition(header.bytes.count == headerBytes)
        return (header.bytes + compressed, info)
    }

    /// Writes a snapshot of `state` into `directory` atomically (temporary file, fsync,
    /// rename, fsync the directory).
    @discardableResult
    public static func write(
        _ state: ExchangeState, journalChain: [UInt8], directory: String, storage: any Storage = PosixStorage()
    ) throws(SnapshotError) -> SnapshotInfo {
        let (bytes, info) = try encode(state, journalChain: journalChain)
        do {
            try storage.createDirectory(directory)
            try storage.writeAtomically(bytes, to: directory + "/" + info.name, directory: directory)
        } catch {
            throw .io(error)
        }
        return info
    }

    /// Reads and checks only the header.
    public static func readInfo(path: String, storage: any Storage = PosixStorage()) throws(SnapshotError) -> SnapshotInfo {
        let bytes = try readFile(path, limit: headerBytes, storage: storage)
        return try parseHeader(bytes, file: path)
    }

    /// Reads a snapshot, checks both checksums, decodes the state, recomputes the state
    /// hash and checks the invariants.
    public static func load(
        path: String, storage: any Storage = PosixStorage()
    ) throws(SnapshotError) -> (state: ExchangeState, info: SnapshotInfo) {
        let bytes = try readFile(path, limit: nil, storage: storage)
        let info = try parseHeader(bytes, file: path)
        guard UInt64(bytes.count - headerBytes) == info.compressedBytes else {
            throw .invalid(file: path, reason: "body is \(bytes.count - headerBytes) bytes, header says \(info.compressedBytes)")
        }
        let body = bytes[headerBytes...]
        var reader = ByteReader(bytes, range: headerBytes - 8..<headerBytes - 4)
        let bodyCRC = (try? reader.fixed32()) ?? 0
        guard crc32c(body) == bodyCRC else {
            throw .invalid(file: path, reason: "body checksum mismatch (bytes \(headerBytes)…\(bytes.count - 1))")
        }
        let raw = try decompress(body, expectedBytes: Int(info.uncompressedBytes))
        guard SHA256.hash(raw) == info.stateHash else {
            throw .invalid(
                file: path,
                reason: "state hash mismatch (the body at byte \(headerBytes) decompresses, but not to the state the header names)")
        }
        var stateReader = ByteReader(raw)
        do {
            let state = try ExchangeState.decodeCanonical(
                from: &stateReader, version: info.stateEncodingVersion, sequence: info.sequence, timeNanos: info.timeNanos)
            try stateReader.expectEnd()
            return (state, info)
        } catch {
            throw .invalid(file: path, reason: "state does not decode: \(error)")
        }
    }

    package static func parseHeader(_ bytes: [UInt8], file: String) throws(SnapshotError) -> SnapshotInfo {
        guard bytes.count >= headerBytes else {
            throw .invalid(file: file, reason: "header truncated at byte \(bytes.count) of \(headerBytes)")
        }
        var reader = ByteReader(bytes, range: 0..<headerBytes)
        do {
            guard try reader.fixed64() == magic else {
                throw SnapshotError.invalid(file: file, reason: "not a snapshot (bad magic at byte 0)")
            }
            let versions = try reader.fixed32()
            guard versions & 0xFFFF == UInt32(version), versions >> 16 >= 1, versions >> 16 <= UInt32(ExchangeState.encodingVersion) else {
                throw SnapshotError.invalid(file: file, reason: "unsupported version \(versions & 0xFFFF)/\(versions >> 16)")
            }
            let sequence = try reader.fixed64()
            let time = Int64(bitPattern: try reader.fixed64())
            let chain = Array(try reader.raw(count: 32))
            let hash = Array(try reader.raw(count: 32))
            let uncompressed = try reader.fixed64()
            let compressed = try reader.fixed64()
            _ = try reader.fixed32()
            let headerCRC = try reader.fixed32()
            guard crc32c(bytes[0..<headerBytes - 4]) == headerCRC else {
                throw SnapshotError.invalid(file: file, reason: "header checksum mismatch (bytes 0…\(headerBytes - 1))")
            }
            let name = String(file.split(separator: "/").last ?? "")
            return SnapshotInfo(
                name: name, sequence: sequence, timeNanos: time, journalChain: chain, stateHash: hash,
                uncompressedBytes: uncompressed, compressedBytes: compressed, stateEncodingVersion: UInt8(versions >> 16))
        } catch let error as SnapshotError {
            throw error
        } catch {
            throw .invalid(file: file, reason: "header truncated")
        }
    }

    static func readFile(_ path: String, limit: Int?, storage: any Storage) throws(SnapshotError) -> [UInt8] {
        do {
            return try storage.readAll(path, limit: limit)
        } catch {
            throw .io(error)
        }
    }

    static func compress(_ bytes: [UInt8]) throws(SnapshotError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let produced = bytes.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, zstdLevel)
            }
        }
        if ZSTD_isError(produced) != 0 { throw .compression(String(cString: ZSTD_getErrorName(produced))) }
        output.removeLast(output.count - produced)
        return output
    }

    static func decompress(_ bytes: ArraySlice<UInt8>, expectedBytes: Int) throws(SnapshotError) -> [UInt8] {
        guard expectedBytes <= 1 << 34 else { throw .compression("declared size \(expectedBytes) is implausible") }
        var output = [UInt8](repeating: 0, count: expectedBytes)
        let produced = bytes.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_decompress(destination.baseAddress, destination.count, source.baseAddress, source.count)
            }
        }
        if ZSTD_isError(produced) != 0 { throw .compression(String(cString: ZSTD_getErrorName(produced))) }
        guard produced == expectedBytes else { throw .compression("body decompressed to \(produced) bytes, expected \(expectedBytes)") }
        return output
    }
}
