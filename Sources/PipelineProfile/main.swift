import Foundation
import Journal
import LedgerCore
import LedgerServer
import Logging

// The daemon's durable path without its network (docs/BENCHMARKS.md, "Profiling"): the
// `Sequencer` with its engine, writer and follower threads, on a fresh journal, fed by
// ingress threads that decode request frames and submit them as a connection's reads do.
// valgrind cannot run ledgerd; it runs this, and counts each thread apart:
//
//     swift build -c release --product PipelineProfile
//     valgrind --tool=callgrind --separate-threads=yes \
//         .build/release/PipelineProfile /tmp/j/journal /tmp/pp 200000
//
// Arguments: a journal to take the commands from (its system entries are left out: the
// engine journals its own), a new directory for the journal written, how many of the
// source's entries to read (default 1,000,000), `--window W` (requests in flight, 1,024: the
// quick start's 4 × 256), `--connections C` (1) and `--no-verify` (`journal.verify_entries`
// off). With one connection the engine executes the source's commands in the source's
// order, so that a cancel names the order it named there and each run does the same work;
// with more, the commands are dealt to them in turn and the engine interleaves them as they
// come, so that order ids, and what each run executes, differ. Each connection's replies are encoded as the TCP server encodes them, on the
// writer's thread; what NIO adds (the event loop's hop, the socket's writes) is not here.
// Prints the wall time a command and each thread's CPU a command (`/proc/self/task`).

func usage() -> Never {
    print("usage: PipelineProfile SOURCE_JOURNAL_DIR NEW_DIR [ENTRIES] [--connections C] [--window W] [--no-verify]")
    exit(2)
}

var positional: [String] = []
var connectionCount = 1
var window = 1_024
var verify = true
var argumentIndex = 1
while argumentIndex < CommandLine.arguments.count {
    let argument = CommandLine.arguments[argumentIndex]
    argumentIndex += 1
    switch argument {
    case "--connections", "--window":
        guard argumentIndex < CommandLine.arguments.count, let value = Int(CommandLine.arguments[argumentIndex]), value > 0 else {
            usage()
        }
        argumentIndex += 1
        if argument == "--connections" { connectionCount = value } else { window = value }
    case "--no-verify": verify = false
    default: positional.append(argument)
    }
}
guard positional.count == 2 || positional.count == 3, positional.count == 2 || UInt64(positional[2]) != nil else { usage() }
let sourceEntries = positional.count == 3 ? UInt64(positional[2])! : 1_000_000

/// CPU ticks (user + system) of each of this process's threads, summed by name.
func threadTicks() -> [String: Int] {
    var ticks: [String: Int] = [:]
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    for task in tasks {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { continue }
        let name = String(stat[stat.index(after: open)..<close])
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        // After the name: state is field 3 of stat(5), utime 14 and stime 15.
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
        ticks[name, default: 0] += user + system
    }
    return ticks
}

/// One gateway connection: its requests' frames, and the replies it is owed.
final class Connection: ReplySink, @unchecked Sendable {
    let frames: [UInt8]
    private let condition = NSCondition()
    private var outstanding = 0
    private(set) var replied = 0
    private(set) var errors = 0
    /// The CPU time of the thread that ran `run` (ns).
    private(set) var cpuNanos: Int64 = 0

    init(frames: [UInt8]) {
        self.frames = frames
    }

    /// The TCP server's encoding of the replies (`GatewayConnection.deliver`); a reply that
    /// is not a committed entry's counts as an error.
    func deliver(_ replies: ReplyList) {
        var writer = ByteWriter(capacity: replies.count * 48)
        var ends: [Int] = []
        ends.reserveCapacity(replies.count)
        replies.encodeFrames(protocolVersion: 2, to: &writer, ends: &ends)
        let errorCount = replies.items.count { if case .response = $0.reply { true } else { false } }
        condition.lock()
        outstanding -= replies.count
        replied += replies.count
        errors += errorCount
        condition.signal()
        condition.unlock()
    }

    /// Decodes and submits the frames, at most `window` in flight, as a connection's reads
    /// would; returns once every reply is in.
    func run(_ sequencer: Sequencer, window: Int) {
        let cpuStart = Self.threadCPUNanos()
        defer { cpuNanos = Self.threadCPUNanos() - cpuStart }
        var start = 0
        var batch: [EngineRequest] = []
        batch.reserveCapacity(window)
        while start < frames.count {
            condition.lock()
            while outstanding >= window { condition.wait() }
            let room = window - outstanding
            condition.unlock()
            while batch.count < room && start < frames.count {
                let length = WireFrame.bodyLength(prefixAt: start, in: frames)
                let isCommand: Bool
                do {
                    isCommand = try WireFrame.decodeCommand(frames[...], body: (start + 4)..<(start + 4 + length)) {
                        (requestID, command: consuming Command) in
                        batch.append(EngineRequest(requestID: requestID, kind: .command(consume command), sink: self))
                    }
                } catch {
                    fatalError("frame at byte \(start) does not decode: \(error)")
                }
                guard isCommand else { fatalError("frame at byte \(start) is not a command") }
                start += 4 + length
            }
            condition.lock()
            outstanding += batch.count
            condition.unlock()
            sequencer.submit(moving: &batch)
            batch.removeAll(keepingCapacity: true)
        }
        condition.lock()
        while outstanding > 0 { condition.wait() }
        condition.unlock()
    }

    static func threadCPUNanos() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

// The requests, encoded as gateways send them, dealt to the connections in turn.
var writers = [ByteWriter](repeating: ByteWriter(capacity: 1 << 20), count: connectionCount)
var commandCount = 0
do {
    // Read on this thread (`DecodingReader` decodes on a thread of its own, whose number
    // valgrind would give the follower's thread once it ended, mixing their counts).
    try JournalReader(directory: positional[0]).forEach(upTo: sourceEntries) { entry in
        let command = try entry.decodePayload().command
        guard !command.isSystemOnly else { return }
        let connection = commandCount % connectionCount
        WireFrame.command(requestID: UInt64(commandCount), command).encode(to: &writers[connection])
        commandCount += 1
    }
} catch {
    print("reading the source journal: \(error)")
    exit(1)
}
let connections = (0..<connectionCount).map { Connection(frames: writers[$0].bytes) }
writers = []

let directory = positional[1] + "/journal"
do {
    guard !FileManager.default.fileExists(atPath: positional[1]) else {
        print("\(positional[1]) exists: give a new directory")
        exit(2)
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
} catch {
    print("creating \(directory): \(error)")
    exit(1)
}
let journal: JournalWriter
do {
    journal = try JournalWriter.open(.init(directory: directory))
} catch {
    print("opening \(directory): \(error)")
    exit(1)
}
var logger = Logger(label: "PipelineProfile")
logger.logLevel = .error
let sequencer = Sequencer(
    state: ExchangeState(), journal: journal, queueCapacity: DaemonConfig().queueCapacity, verifyEntries: verify, logger: logger)
sequencer.start()

let ticksBefore = threadTicks()
let start = DispatchTime.now().uptimeNanoseconds
let group = DispatchGroup()
let inFlight = window
for (index, connection) in connections.enumerated() {
    group.enter()
    let thread = Thread {
        nameThisThread("ingress-\(index)")
        connection.run(sequencer, window: inFlight)
        group.leave()
    }
    thread.start()
}
group.wait()
let nanos = DispatchTime.now().uptimeNanoseconds - start
let ticksAfter = threadTicks()
sequencer.stopAndDrain()
do {
    try sequencer.closeJournal()
} catch {
    print("closing the journal: \(error)")
    exit(1)
}

let replied = connections.reduce(0) { $0 + $1.replied }
let errors = connections.reduce(0) { $0 + $1.errors }
let (blocks, bytes) = sequencer.journalStats
let commands = max(commandCount, 1)
print(
    "\(commandCount) commands on \(connectionCount) × \(window) in flight\(verify ? "" : ", verify off"): "
        + "\(nanos / UInt64(commands)) ns a command (\(UInt64(commands) * 1_000_000_000 / max(nanos, 1)) a second); "
        + "\(replied) replies (\(errors) errors), journal through sequence \(sequencer.durableSequence) in \(blocks) blocks, "
        + "\(bytes) bytes")
let hertz = Int(sysconf(Int32(_SC_CLK_TCK)))
let names = ticksAfter.keys.filter { ticksAfter[$0, default: 0] > ticksBefore[$0, default: 0] }.sorted()
print(
    "CPU a command (ns, ticks of \(1_000_000_000 / hertz) ns): "
        + names.map { name in
            let ticks = ticksAfter[name, default: 0] - ticksBefore[name, default: 0]
            return "\(name) \(ticks * (1_000_000_000 / hertz) / commands) (\(ticks))"
        }.joined(separator: ", ") + ", ingress \(connections.reduce(0) { $0 + $1.cpuNanos } / Int64(commands))")
if replied != commandCount || errors > 0 { exit(1) }
