import FuzzSupport
import FuzzSupportCore
import LedgerCore
import Snapshots

/// Snapshot decoding. The first byte picks what the rest is: 0, a snapshot header (never
/// traps); 1 or 2, a state body in that encoding version — what a snapshot holds after its
/// checksums and SHA-256 pass, which the fuzzer could not forge. A body that decodes
/// passed the invariant checks, and in version 2 encodes back to the same bytes.
@_cdecl("FuzzSnapshot_main")
public func fuzzSnapshotMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, seeds: seeds) { bytes in
        guard let mode = bytes.first else { return }
        let rest = Array(bytes.dropFirst())
        switch mode {
        case 0:
            _ = try? SnapshotFile.parseHeader(rest, file: "fuzz")
        case 1, 2:
            var reader = ByteReader(rest)
            guard let state = try? ExchangeState.decodeCanonical(from: &reader, version: mode, sequence: 1, timeNanos: 0), reader.isAtEnd
            else { return }
            Fuzz.require(state.invariantViolation() == nil, "decoded state breaks an invariant")
            if mode == ExchangeState.encodingVersion {
                var writer = ByteWriter()
                state.encodeCanonical(to: &writer)
                Fuzz.require(writer.bytes == rest, "state re-encodes differently")
            }
        default:
            return
        }
    }
}

func seeds() -> [[UInt8]] {
    var seeds: [[UInt8]] = []
    for count in [0, 40, 300] {
        var writer = ByteWriter()
        Samples.entries(count: count).state.encodeCanonical(to: &writer)
        seeds.append([2] + writer.bytes)
    }
    if let (bytes, _) = try? SnapshotFile.encode(Samples.genesis, journalChain: Array(repeating: 0, count: 32)) {
        seeds.append([0] + bytes.prefix(SnapshotFile.headerBytes))
    }
    return seeds
}
