import FuzzSupport
import FuzzSupportCore
import LedgerCore

/// The command codec: what decodes (all of the input) is within its domain and encodes
/// back to the same bytes.
@_cdecl("FuzzCommand_main")
public func fuzzCommandMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, seeds: { (Samples.kinds + Samples.commands(count: 60)).map(Samples.encoded) }) { bytes in
        var reader = ByteReader(bytes)
        guard let command = try? Command.decode(from: &reader), reader.isAtEnd else { return }
        Fuzz.require(command.domainViolation() == nil, "decoded \(command) outside its domain")
        Fuzz.require(Samples.encoded(command) == bytes, "\(command) re-encodes differently")
    }
}
