import Foundation
import FuzzSupport
import LedgerServer

/// ledgerd's configuration file and token file on any text: a clear error or settings,
/// never a trap; every setting and token it accepts is within its documented range.
@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, seeds: seeds) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        if let grants = try? TokenFile.parse(text, defaults: .init(ratePerSecond: 10, burst: 10)) {
            Fuzz.require(grants.count <= TokenFile.tokensMax, "too many tokens")
            for grant in grants {
                Fuzz.require(TokenFile.isValidName(grant.name) && grant.digest.count == 32, "token \(grant.name) out of range")
                Fuzz.require(grant.ratePerSecond >= 1 && grant.burst >= 1, "token \(grant.name): limit out of range")
                Fuzz.require(grant.role == .trader || grant.accounts == .none, "token \(grant.name): accounts without the trader role")
            }
        }
        var config = DaemonConfig()
        guard (try? config.apply(toml: text)) != nil else { return }
        Fuzz.require((0...65_535).contains(config.tcpPort) && (0...65_535).contains(config.httpPort), "port out of range")
        Fuzz.require(config.queueCapacity >= 1 && config.connectionInFlightMax >= 1, "capacity out of range")
        Fuzz.require(config.tokenRatePerSecond >= 1, "token rate out of range")
    }
}

func seeds() -> [[UInt8]] {
    let example = FileManager.default.contents(atPath: "deploy/ledgerd.toml").map { [UInt8]($0) } ?? []
    return [
        example, Array("[tcp]\nport = 7400\n".utf8), Array("[auth]\ntokens_file = \"/etc/t\"\nrate_per_second = 5\n".utf8),
        Array(
            "[[token]]\nname = \"g\"\nsha256 = \"\(String(repeating: "ab", count: 32))\"\nrole = \"trader\"\naccounts = [\"1-9\", 12]\n"
                .utf8),
        Array("data_dir = \"/tmp/x\" # comment\n[journal]\nfsync = \"interval\"\nfsync_interval_ms = 5\n".utf8),
        // Table headers toml++ 3.4.0 mishandles (TOMLGuard): found by this target.
        Array("[{".utf8), Array("[[[1]]]".utf8), Array("a = [\n[1],\n]\n[&".utf8), Array("d=[}".utf8),
        // A key with a NUL, on which TOMLKit's table iterator traps: found by this target.
        Array("[t]\n\"a\\u0000b\" = 1\n".utf8),
    ]
}
