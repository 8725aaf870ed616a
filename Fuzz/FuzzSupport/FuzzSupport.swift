import CFuzzDriver

#if canImport(Glibc)
    import Glibc
#endif

/// What every fuzz target shares: libFuzzer's driver behind a Swift closure, a seed writer,
/// and a check that stops the fuzzer with a message (libFuzzer then saves the input).
public enum Fuzz {
    nonisolated(unsafe) static var body: ([UInt8]) -> Void = { _ in }

    /// Runs libFuzzer over `body` with the process's arguments (`-max_total_time=…`, a
    /// corpus directory, a crash input to replay). `-write_seeds=DIR` instead writes
    /// `seeds()` into DIR (scripts/fuzz.sh --seeds fills Fixtures/fuzz/TARGET) and exits.
    public static func run(
        _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, seeds: () -> [[UInt8]],
        _ body: @escaping ([UInt8]) -> Void
    ) -> CInt {
        if argc == 2, let argument = argv?[1].map({ String(cString: $0) }), argument.hasPrefix("-write_seeds=") {
            let directory = String(argument.dropFirst("-write_seeds=".count))
            for (index, seed) in seeds().enumerated() {
                let path = directory + "/seed-\(index)"
                guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
                _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
            return 0
        }
        Fuzz.body = body
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            Fuzz.body(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        }
    }

    /// A property that failed: crash so that libFuzzer saves the input.
    public static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { fatalError("fuzz property failed: \(message())") }
    }
}
