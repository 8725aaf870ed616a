// swift-tools-version: 6.1
// ExchangeLedger: an event-sourced perpetual-futures exchange core. See docs/ and ../shared/DESIGN.md.
import Foundation
import PackageDescription

let package = Package(
    name: "ExchangeLedger",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ledgerd", targets: ["LedgerDaemon"]),
        .executable(name: "ledger-load", targets: ["LoadGen"]),
        .executable(name: "ledger-replay", targets: ["Replay"]),
        .executable(name: "ledger-snapshot", targets: ["Snapshot"]),
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "LedgerDigest", targets: ["LedgerDigest"]),
        .library(name: "Journal", targets: ["Journal"]),
        .library(name: "Snapshots", targets: ["Snapshots"]),
        .library(name: "LedgerClient", targets: ["LedgerClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    ],
    targets: [
        // System libraries, found through pkg-config (liblz4-dev, libzstd-dev, libpq-dev).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // CRC32C through the SSE4.2 instruction, with a table fallback.
        .target(name: "CCRC32C"),

        // The deterministic domain: imports nothing but the standard library.
        .target(name: "LedgerCore"),
        // SHA-256 (swift-crypto) for the hash chain, snapshots and the state hash, which
        // LedgerCore computes by handing its canonical bytes to it.
        .target(name: "LedgerDigest", dependencies: ["LedgerCore", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Journal", dependencies: ["LedgerCore", "LedgerDigest", "CLZ4", "CCRC32C"]),
        .target(name: "Snapshots", dependencies: ["LedgerCore", "LedgerDigest", "Journal", "CZstd"]),
        .target(name: "Projection", dependencies: ["LedgerCore", "Journal", "Snapshots", "CLibpq"]),

        .target(name: "LedgerClient", dependencies: ["LedgerCore"]),
        .target(
            name: "ToolSupport", dependencies: ["LedgerCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "LoadGen",
            dependencies: [
                "LedgerCore", "LedgerClient", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "Replay",
            dependencies: [
                "LedgerCore", "LedgerDigest", "Journal", "Snapshots", "Projection", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "Snapshot",
            dependencies: [
                "LedgerCore", "LedgerDigest", "Journal", "Snapshots", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // ledgerd's pipeline as a library (STYLE.md): configuration, sequencer, group commit,
        // TCP and HTTP ingress, views. The executable only wires them.
        .target(
            name: "LedgerServer",
            dependencies: [
                "LedgerCore", "LedgerDigest", "Journal", "Snapshots", "Projection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "LedgerDaemon",
            dependencies: [
                "LedgerCore", "LedgerDigest", "Journal", "Snapshots", "Projection", "LedgerServer", "ToolSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),

        // The simulated disk (docs/DESIGN.md): engine, journal, snapshots and recovery over
        // a seeded, fault-injecting file system; `DiskSim` runs it over a range of seeds.
        .target(name: "DiskSimulation", dependencies: ["LedgerCore", "LedgerDigest", "Journal", "Snapshots", "LedgerClient"]),
        .executableTarget(name: "DiskSim", dependencies: ["DiskSimulation"]),

        // The state follower's loop over a journal, in a process of its own for valgrind and
        // perf (docs/BENCHMARKS.md, "Profiling"): ledgerd's threads keep valgrind out.
        .executableTarget(name: "FollowerProfile", dependencies: ["LedgerServer", "LedgerCore", "Journal"]),
        .executableTarget(
            name: "PipelineProfile",
            dependencies: ["LedgerServer", "LedgerCore", "Journal", .product(name: "Logging", package: "swift-log")]),

        .target(name: "LedgerTestSupport", path: "Tests/LedgerTestSupport"),
        // The reference model of DifferentialTests is plain, slow code on purpose (an oracle
        // easy to read): optimized, its million commands take a fraction of the test run
        // they took at -Onone, where they were three quarters of its CPU time
        // (docs/BENCHMARKS.md, "Test run"). The engine under test stays a debug build.
        .testTarget(
            name: "LedgerCoreTests", dependencies: ["LedgerCore", "LedgerDigest", "LedgerClient"],
            swiftSettings: [.unsafeFlags(["-O"])]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "LedgerCore", "CCRC32C", "LedgerTestSupport"]),
        .testTarget(name: "LedgerServerTests", dependencies: ["LedgerServer", "LedgerCore", "LedgerDigest", "LedgerClient", "Journal"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["LedgerClient", "LedgerCore", "LedgerDigest", "Journal", "Projection", "Snapshots", "LedgerTestSupport"]),
        .testTarget(name: "DiskSimulationTests", dependencies: ["DiskSimulation", "Journal", "Snapshots", "LedgerCore", "LedgerDigest"]),
        .testTarget(
            name: "SnapshotsTests",
            dependencies: ["Snapshots", "Journal", "LedgerCore", "LedgerDigest", "LedgerClient", "LedgerTestSupport"]),
    ]
)

// libFuzzer targets (scripts/fuzz.sh): only with LEDGER_FUZZ=1, so the main build and the
// tests never compile them; built with -sanitize=fuzzer in a scratch path of their own.
if ProcessInfo.processInfo.environment["LEDGER_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Fuzz/FuzzSupport"),
        .target(name: "FuzzSupportCore", dependencies: ["LedgerCore", "LedgerDigest", "LedgerClient"], path: "Fuzz/FuzzSupportCore"),
    ]
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzWireFrame", ["LedgerCore"]), ("FuzzCommand", ["LedgerCore"]), ("FuzzEntry", ["LedgerCore"]),
        ("FuzzJournalBlock", ["LedgerCore", "Journal"]), ("FuzzSnapshot", ["LedgerCore", "Snapshots"]),
        ("FuzzConfig", ["LedgerServer"]),
        ("FuzzHTTPRequest", ["LedgerCore", "LedgerServer"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(
            .executableTarget(name: name, dependencies: dependencies + ["FuzzSupport", "FuzzSupportCore"], path: "Fuzz/" + name))
    }
}
