// swift-tools-version: 6.1
// Benchmarks, kept out of the main package so that the benchmark harness's build does not
// slow the main build or CI. Run: cd Benchmarks && swift package benchmark
import PackageDescription

import struct Foundation.URL

/// SwiftPM names a path dependency after its directory, so the root package's identity is
/// whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "ExchangeLedgerBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The recorded workloads, shared by the benchmarks and the profiling harness.
        .target(
            name: "Workloads",
            dependencies: [
                .product(name: "LedgerCore", package: root),
                .product(name: "LedgerClient", package: root),
            ]),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                "Workloads",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: root),
                .product(name: "Journal", package: root),
                .product(name: "LedgerClient", package: root),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // The engine over the same workload in a process of its own, for perf or valgrind.
        .executableTarget(
            name: "EngineProfile",
            dependencies: [
                "Workloads", "AllocCount", .product(name: "LedgerCore", package: root), .product(name: "Journal", package: root),
            ]),
        // A plain price-time matcher in C, the yardstick of MatcherBench (issue 12).
        .target(name: "CMatcher"),
        // Counts heap allocations (malloc and its kin, interposed) for MatcherBench.
        .target(name: "AllocCount"),
        // The engine beside CMatcher on the contest-shaped feed and the growing book.
        .executableTarget(
            name: "MatcherBench",
            dependencies: ["CMatcher", "AllocCount", .product(name: "LedgerCore", package: root), .product(name: "LedgerClient", package: root)]),
        // The engine's rooms one at a time, at a venue's size (issue 12; docs/ARCHITECTURE.md).
        .executableTarget(
            name: "RoomBench",
            dependencies: ["AllocCount", .product(name: "LedgerCore", package: root), .product(name: "LedgerClient", package: root)]),
        // The engine at exchange scale beside the small world (issue 8; docs/BENCHMARKS.md).
        .executableTarget(
            name: "ScaleProfile",
            dependencies: [
                .product(name: "LedgerCore", package: root), .product(name: "LedgerClient", package: root),
                .product(name: "LedgerDigest", package: root), .product(name: "Snapshots", package: root),
            ]),
    ]
)
