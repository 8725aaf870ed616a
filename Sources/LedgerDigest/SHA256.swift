internal import Crypto
import LedgerCore

/// SHA-256 for the journal's hash chain, snapshots and the state hash, through swift-crypto
/// (BoringSSL's assembly, with the CPU's SHA extensions where it has them: about 1.3 GiB/s
/// here, against 7–80 MiB/s for the pure-Swift version LedgerCore used to carry).
/// LedgerCore itself imports nothing: it hands its canonical bytes to this hasher.
public struct SHA256: Sendable {
    public static let digestBytes = 32
    private var inner = Crypto.SHA256()

    public init() {}

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ inner.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { inner.update(bufferPointer: $0) }
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        inner.update(bufferPointer: bytes)
    }

    public mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        inner.update(bufferPointer: UnsafeRawBufferPointer(bytes))
    }

    public func finalize() -> [UInt8] {
        Array(inner.finalize())
    }
}

extension ExchangeState {
    /// SHA-256 of the canonical encoding (docs/FORMATS.md, "State"), in `version`'s layout
    /// (the fixtures of older versions keep the hashes they were written with). Streams the
    /// encoding in 1 MiB pieces: a state of 10^6 accounts is never one buffer.
    public func stateHash(encodingVersion version: UInt8 = ExchangeState.encodingVersion) -> [UInt8] {
        var hasher = SHA256()
        withCanonicalChunks(version: version) { hasher.update($0) }
        return hasher.finalize()
    }
}
