// DiskSim FIRST COUNT [--verbose]: runs the disk simulation (docs/DURABILITY.md)
// for seeds FIRST ..< FIRST + COUNT and prints what the seeds did. On
// the first failing seed it prints the failure with the disk's last operations and exits
// 1; `DiskSim SEED 1` reproduces that seed exactly.
import DiskSimulation

#if canImport(Glibc)
    import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2, let first = UInt64(arguments[0]), let count = UInt64(arguments[1]) else {
    print("usage: DiskSim FIRST_SEED COUNT [--verbose]")
    exit(2)
}
let verbose = arguments.contains("--verbose")
var totals = DiskSimulation.Outcome(seed: first)
var passed: UInt64 = 0
for seed in first..<first + count {
    do {
        let outcome = try DiskSimulation.run(seed: seed)
        passed += 1
        totals.add(outcome)
        if verbose { print("seed \(seed): \(outcome.summary)") }
    } catch {
        print("FAILED after \(passed) seeds passed: \(DiskSimulation.failureReport(seed: seed, error: error))")
        exit(1)
    }
}
print("seeds \(first)..<\(first + count): \(passed) passed, no loss; \(totals.summary)")
