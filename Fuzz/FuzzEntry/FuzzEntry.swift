import FuzzSupport
import FuzzSupportCore
import LedgerCore

/// Entry payloads (command + events): what decodes re-encodes to the same bytes, and its
/// command executes on a small exchange without a trap, leaving the invariants intact.
@_cdecl("FuzzEntry_main")
public func fuzzEntryMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let genesis = Samples.genesis
    var events: [Event] = []
    return Fuzz.run(argc, argv, seeds: { Samples.entries(count: 120).entries.map(Samples.encoded) }) { bytes in
        var reader = ByteReader(bytes)
        guard let entry = try? EntryPayload.decode(from: &reader), reader.isAtEnd else { return }
        Fuzz.require(Samples.encoded(entry) == bytes, "\(entry) re-encodes differently")
        var state = genesis
        events.removeAll(keepingCapacity: true)
        state.execute(entry.command, sequence: state.lastSequence + 1, timeNanos: state.lastTimeNanos + 1_000, into: &events)
        Fuzz.require(state.invariantViolation() == nil, "\(entry.command): \(state.invariantViolation() ?? "")")
    }
}
