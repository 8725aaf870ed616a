import FuzzSupport
import FuzzSupportCore
import LedgerCore

/// The TCP frame decoder on any bytes: it never traps, and a body it accepts encodes back
/// to exactly those bytes (one frame, one encoding); a command in it is within its domain.
/// The ingress path's command decoder (`WireFrame.decodeCommand`) agrees with it: the same
/// command, the same error, or false for a body that is not a command frame.
@_cdecl("FuzzWireFrame_main")
public func fuzzWireFrameMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, seeds: seeds) { body in
        let whole = Result { () throws(CodecError) in try WireFrame.decode(body: body) }
        var taken: (UInt64, Command)? = nil
        let alone = Result { () throws(CodecError) in try WireFrame.decodeCommand(body[...], body: 0..<body.count) { taken = ($0, $1) } }
        switch (whole, alone) {
        case (.success(.command(let id, let command)), .success(true)):
            Fuzz.require(taken.map { $0.0 == id && $0.1 == command } == true, "decodeCommand read \(String(describing: taken))")
        case (.success(let frame), .success(false)):
            if case .command = frame { Fuzz.require(false, "decodeCommand passed over a command frame") }
        case (.failure(let error), .failure(let commandError)):
            Fuzz.require("\(error)" == "\(commandError)", "decode: \(error); decodeCommand: \(commandError)")
        case (.failure, .success(false)):
            Fuzz.require(body.count < WireFrame.frameBytesMin || body.first != 0x02, "decodeCommand passed over a command body")
        default:
            Fuzz.require(false, "decode: \(whole); decodeCommand: \(alone)")
        }
        guard let frame = try? whole.get() else { return }
        var writer = ByteWriter()
        frame.encode(to: &writer)
        Fuzz.require(Array(writer.bytes.dropFirst(4)) == body, "\(frame) re-encodes differently")
        if case .command(_, let command) = frame {
            Fuzz.require(command.domainViolation() == nil, "decoded \(command) outside its domain")
        }
    }
}

func seeds() -> [[UInt8]] {
    let (_, entries) = Samples.entries(count: 40)
    var frames: [WireFrame] = [
        .hello(requestID: 1, token: "test-admin"), .stateQuery(requestID: 2), .welcome(requestID: 1, role: .admin),
        .hello(requestID: 3, token: "t", version: 1), .busy(requestID: 4, retryAfterMilliseconds: 5, message: "busy"),
    ]
    frames += (Samples.kinds + entries.prefix(20).map(\.command)).enumerated().map { .command(requestID: UInt64($0.offset), $0.element) }
    frames += entries.suffix(10).enumerated().map { .committed(requestID: UInt64($0.offset), sequence: 99, events: $0.element.events) }
    frames += [
        .error(requestID: 5, code: .busy, message: "queue full"),
        .state(requestID: 6, sequence: 7, stateHash: Array(repeating: 1, count: 32)),
    ]
    return frames.map { frame in
        var writer = ByteWriter()
        frame.encode(to: &writer)
        return Array(writer.bytes.dropFirst(4))
    }
}
