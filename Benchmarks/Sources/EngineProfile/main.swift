import Foundation
import LedgerCore
import Workloads

// A plain executable over the benchmarks' workload, for profilers that want a process of
// their own (docs/BENCHMARKS.md, "Profiling"):
//
//     swift build -c release --product EngineProfile
//     perf record -e cpu-clock .build/release/EngineProfile plain 20
//
// Arguments: `plain` or `rulebook`, then the number of passes over the 200,000 commands.
// Prints the mean wall time per command over all passes (each from the genesis state).

let arguments = CommandLine.arguments
let ruleBook = arguments.count > 1 && arguments[1] == "rulebook"
guard arguments.count <= 1 || ["plain", "rulebook"].contains(arguments[1]),
    arguments.count <= 2 || Int(arguments[2]).map({ $0 > 0 }) == true
else {
    print("usage: EngineProfile [plain|rulebook] [passes]")
    exit(2)
}
let passes = arguments.count > 2 ? Int(arguments[2])! : 10
let workload = Workload.make(count: 200_000, ruleBook: ruleBook)
var events: [Event] = []
events.reserveCapacity(64)
var elapsedNanos: UInt64 = 0
for _ in 0..<passes {
    var state = workload.genesis
    let start = DispatchTime.now().uptimeNanoseconds
    for command in workload.commands {
        events.removeAll(keepingCapacity: true)
        state.execute(command, sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1), into: &events)
    }
    elapsedNanos += DispatchTime.now().uptimeNanoseconds - start
}
let perCommand = Double(elapsedNanos) / Double(passes * workload.commands.count)
print("\(ruleBook ? "rule book" : "plain") mix: \(passes) passes, \(Int(perCommand.rounded())) ns a command")
