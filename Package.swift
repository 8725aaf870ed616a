// swift-tools-version: 6.1
// ExchangeLedger: an event-sourced perpetual-futures exchange core. See docs/ and ../shared/DESIGN.md.
import PackageDescription

let package = Package(
    name: "ExchangeLedger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "Journal", targets: ["Journal"]),
        .library(name: "Snapshots", targets: ["Snapshots"]),
    ],
    dependencies: [],
    targets: [
        // System libraries, found through pkg-config (liblz4-dev, libzstd-dev, libpq-dev).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // CRC32C through the SSE4.2 instruction, with a table fallback.
        .target(name: "CCRC32C"),

        // The deterministic domain: imports nothing but the standard library.
        .target(name: "LedgerCore"),
        .target(name: "Journal", dependencies: ["LedgerCore", "CLZ4", "CCRC32C"]),
        .target(name: "Snapshots", dependencies: ["LedgerCore", "Journal", "CZstd"]),

        .testTarget(name: "LedgerCoreTests", dependencies: ["LedgerCore"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "LedgerCore", "CCRC32C"]),
        .testTarget(name: "SnapshotsTests", dependencies: ["Snapshots", "Journal", "LedgerCore"], exclude: []),
    ]
)
