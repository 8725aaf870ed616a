import Foundation
import FuzzSupport
import LedgerServer

/// ledgerd's configuration file on any text: a clear error or settings, never a trap;
/// every setting it accepts is within its documented range.
@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, seeds: seeds) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        var config = DaemonConfig()
        guard (try? config.apply(toml: text)) != nil else { return }
        Fuzz.require((0...65_535).contains(config.tcpPort) && (0...65_535).contains(config.httpPort), "port out of range")
        Fuzz.require(config.queueCapacity >= 1 && config.connectionInFlightMax >= 1, "capacity out of range")
        Fuzz.require(config.tokens.keys.allSatisfy { !$0.isEmpty && $0.utf8.count <= 256 }, "token out of range")
    }
}

func seeds() -> [[UInt8]] {
    let example = FileManager.default.contents(atPath: "deploy/ledgerd.toml").map { [UInt8]($0) } ?? []
    return [
        example, Array("[tcp]\nport = 7400\n".utf8), Array("[tokens]\n\"abc\" = \"admin\"\n".utf8),
        Array("data_dir = \"/tmp/x\" # comment\n[journal]\nfsync = \"interval\"\nfsync_interval_ms = 5\n".utf8),
    ]
}
