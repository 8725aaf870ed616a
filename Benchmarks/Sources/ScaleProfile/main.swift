import Foundation
import LedgerClient
import LedgerCore
import LedgerDigest
import Snapshots

// The engine at exchange scale (issue 8), beside the small world in the same run:
//
//     swift build -c release --product ScaleProfile
//     .build/release/ScaleProfile world [ACCOUNTS] [HOLDERS] [RESTING]   (defaults 1000000 100000 1000000)
//     .build/release/ScaleProfile book                                   (the growing book)
//
// `world` builds, through `ExchangeState.execute`, ACCOUNTS funded accounts, 100 symbols
// (BTCUSDT's terms with hourly funding), HOLDERS accounts long one lot of symbol 0 against
// one market maker, and RESTING resting orders spread over the symbols away from the
// touch; then runs the usual mix (OrderFlowGenerator over all accounts) and the funding
// settlement of symbol 0, and prints the same figures for a 1,000-account world.
// The world runs under the bounded rules (a genesis `setWorldLimits`): the funding
// settlement and a mark price of symbol 2 that liquidates VICTIMS accounts (10,000; 100
// in the small world) run as ledgerd's sequencer runs them, a tick after each command of the mix, and
// the figures are the ticks, their largest entry, and the user commands' time meanwhile.
// A warmed round of the mix is also split into its time in `warm` and in `execute` (a
// clock read around each group; the three fastest rounds of each world are printed).
// `book` sends 1,000,000 alternating limit orders of 10 traders with no cancels and
// prints ns an order at 30,000 / 300,000 / 1,000,000.
//
// Knobs (environment): SCALE_MIX_ACCOUNTS=N draws the mix's accounts from the first N
// only (how much of the gap is the spread over a million accounts); SCALE_MIX_COUNT=N
// commands a round (100,000); SCALE_MIX_ROUNDS=N rounds in all (40); SCALE_ONLY=large
// (or small) runs only that world's mix, in rounds of 1,000,000, announcing the start and
// end of each on stderr (for `perf record -p`).

struct Clock {
    var sequence: SequenceNumber = 0
    /// Journal time: 1 µs an entry from a fixed start, so that the build and the mix (a
    /// few million entries) stay inside one funding hour: with no ticks between its
    /// commands, a settlement started during the mix would stay open through it and load
    /// every holder's next command with its owed funding. The funding sweep then jumps to
    /// the next funding time.
    var time: Int64 { 1_780_000_000_000_000_000 + Int64(sequence) * 1_000 }
}

struct World {
    var state = ExchangeState()
    /// RSS after each phase of the build: (phase, bytes added, count).
    var phases: [(String, Int, Int)] = []
    var clock = Clock()
    var events: [Event] = []
    var largestEntryEvents = 0
    var rested = 0
    var rejected: [RejectReason: Int] = [:]
    /// Orders rested since the mix last took them (account, order): what it cancels.
    var restedOrders: [(AccountID, OrderID)] = []
    var recordsRested = false

    mutating func run(_ command: Command, at time: Int64? = nil) {
        events.removeAll(keepingCapacity: true)
        clock.sequence += 1
        state.execute(command, sequence: clock.sequence, timeNanos: time ?? clock.time, into: &events)
        largestEntryEvents = max(largestEntryEvents, events.count)
        for event in events {
            switch event {
            case .orderRested(let order, _):
                rested += 1
                if recordsRested, case .placeOrder(let place) = command { restedOrders.append((place.account, order)) }
            case .rejected(let reason, _): rejected[reason, default: 0] += 1
            default: break
            }
        }
    }
}

func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

extension World {
    /// Runs `commands` commands (`command(index)`) and returns the p50 time of those
    /// `timedIf` picks.
    mutating func timed(_ commands: Int, timedIf: (Int) -> Bool = { _ in true }, _ command: (Int) -> Command) -> UInt64 {
        var times: [UInt64] = []
        for index in 0..<commands {
            let next = command(index)
            let start = nanos()
            run(next)
            if timedIf(index) { times.append(nanos() - start) }
        }
        return Sweep.percentile(times, 0.5)
    }

    /// Funds a new account with 10^12 minor units and places `order` for it.
    mutating func placeFunded(_ order: PlaceOrder) {
        run(.deposit(Transfer(transferID: order.account, account: order.account, asset: 0, amountMinor: 1_000_000_000_000)))
        run(.placeOrder(order))
    }

    /// Sets symbol 0's mark to `priceUnits`, then ticks while system work is left: the
    /// conditional orders triggered and the time taken, together.
    mutating func markFall(to priceUnits: Int64) -> (triggered: Int, nanos: UInt64) {
        var triggered = 0
        let start = nanos()
        run(.setMarkPrice(symbol: 0, priceUnits: priceUnits))
        repeat {
            triggered += events.filter { if case .conditionalOrderTriggered = $0 { true } else { false } }.count
            if !state.hasSystemWork { break }
            run(.tick)
        } while true
        return (triggered, nanos() - start)
    }
}

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}

func symbolSpec(_ id: SymbolID) -> SymbolSpec {
    guard case .listSymbol(var spec) = DemoExchange.listings[1] else { preconditionFailure("listings moved") }
    spec.id = id
    spec.name = id == 0 ? "BTCUSDT" : "SYM\(id)USDT"
    spec.fundingIntervalSeconds = 3_600
    spec.fundingInterestRateE8 = 10_000
    spec.fundingClampRateE8 = 50_000
    spec.fundingCapRateE8 = 750_000
    spec.brackets = DemoExchange.binanceBTCUSDTBrackets
    return spec
}

/// The world, built through `execute`.
func build(accounts: Int, symbols: Int, holders: Int, resting: Int, victims: Int) -> World {
    var world = World()
    var rss = residentBytes()
    func phase(_ name: String, _ count: Int) {
        let now = residentBytes()
        world.phases.append((name, now - rss, count))
        rss = now
    }
    world.run(.setWorldLimits(.standard))
    world.run(DemoExchange.listings[0])
    for symbol in 0..<symbols { world.run(.listSymbol(symbolSpec(SymbolID(symbol)))) }
    for account in 1...UInt64(accounts) {
        world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
    }
    phase("funded accounts (with their deposits' transfer ids remembered)", accounts)
    for symbol in 0..<symbols { world.run(.setMarkPrice(symbol: SymbolID(symbol), priceUnits: 500_000)) }
    // Holders: each buys one lot of symbol 0 from account 1, which rests the other side.
    let maker: AccountID = 1
    var remaining = holders
    while remaining > 0 {
        let chunk = min(remaining, 100_000)
        world.run(
            .placeOrder(
                PlaceOrder(
                    account: maker, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000,
                    quantityUnits: Int64(chunk))))
        for index in 0..<chunk {
            let holder = AccountID(2 + (holders - remaining) + index)
            world.run(
                .placeOrder(
                    PlaceOrder(
                        account: holder, symbol: 0, side: .buy, type: .limit, timeInForce: .ioc, priceUnits: 500_000,
                        quantityUnits: 1)))
        }
        remaining -= chunk
    }
    phase("holders' positions (one lot each, and the trade that opened it)", holders)
    // Resting orders away from the touch (buys 1–5% under, sells 1–5% over). A tenth are
    // an account's first order in the symbol (random accounts: each opens a position slot
    // in its account's table, which the bytes of an account cover); the other nine tenths
    // come from those same (account, symbol) pairs, nine more each on average, so that
    // their phase measures what a resting order itself costs: its slot in the book and its
    // id's entry in the order index.
    let pairs = max(1, resting / 10)
    func pair(_ index: Int) -> (AccountID, SymbolID) {
        var mixer = SeededRandom(seed: UInt64(index) &+ 1_000_003)
        return (AccountID(mixer.next() % UInt64(accounts) + 1), SymbolID(UInt64(index) % UInt64(symbols)))
    }
    var random = SeededRandom(seed: 8)
    func rest(_ index: Int) {
        let (account, symbol) = pair(index % pairs)
        let side: Side = index % 2 == 0 ? .buy : .sell
        let away = Int64(5_000 + random.next() % 20_000)
        world.run(
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .limit, timeInForce: .gtc,
                    priceUnits: side == .buy ? 500_000 - away : 500_000 + away, quantityUnits: Int64(1 + random.next() % 5))))
    }
    for index in 0..<min(pairs, resting) { rest(index) }
    phase("resting orders that open their account's slot in a symbol", min(pairs, resting))
    for index in min(pairs, resting)..<resting { rest(index) }
    phase("resting orders (their account already in the symbol)", resting - min(pairs, resting))
    // Victims: 7 … 13 USDT at 100x, long 10 lots of symbol 2 each (which the mix does not
    // trade; a 4% fall of its mark takes them all).
    world.run(
        .placeOrder(
            PlaceOrder(
                account: maker, symbol: 2, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000,
                quantityUnits: Int64(victims) * 10)))
    for index in 0..<victims {
        let victim = AccountID(100_000_000 + index)
        world.run(.deposit(Transfer(transferID: victim, account: victim, asset: 0, amountMinor: Int64(7 + index % 7) * 1_000_000)))
        world.run(.setLeverage(account: victim, symbol: 2, leverage: 100))
        world.run(
            .placeOrder(
                PlaceOrder(account: victim, symbol: 2, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 10)))
    }
    phase("victims (small accounts at 100x)", victims)
    return world
}

/// A run of system work interleaved with the mix as the sequencer interleaves it: the
/// figures of its ticks and of the user commands executed meanwhile.
struct Sweep {
    var wallSeconds = 0.0
    var ticks = 0
    var largestTickEvents = 0
    var largestTickBytes = 0
    var tickNanos: [UInt64] = []
    var userNanos: [UInt64] = []
    var events: [String: Int] = [:]

    static func percentile(_ values: [UInt64], _ p: Double) -> UInt64 {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    var line: String {
        let user =
            "user commands meanwhile: \(userNanos.count), p50 \(Self.percentile(userNanos, 0.5) / 1_000) µs, "
            + "p99 \(Self.percentile(userNanos, 0.99) / 1_000) µs, max \(Self.percentile(userNanos, 1) / 1_000) µs"
        return "\(String(format: "%.3f", wallSeconds)) s wall, \(ticks) ticks (p99 \(Self.percentile(tickNanos, 0.99) / 1_000) µs, "
            + "max \(Self.percentile(tickNanos, 1) / 1_000) µs), largest tick \(largestTickEvents) events / \(largestTickBytes) bytes; "
            + user + "; \(events.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
    }
}

extension World {
    /// Runs `first` at `time`, then commands of `flow` each followed by a tick, while the
    /// engine has work in progress.
    mutating func sweep(_ first: Command, at time: Int64, flow: inout OrderFlowGenerator) -> Sweep {
        var sweep = Sweep()
        let start = nanos()
        var at = time
        func count(_ events: [Event]) {
            for event in events {
                let name = String("\(event)".prefix { $0 != "(" })
                if ["fundingPaid", "liquidationTriggered", "insuranceTakeover", "autoDeleveraged", "trade"].contains(name) {
                    sweep.events[name, default: 0] += 1
                }
            }
        }
        run(first, at: at)
        count(events)
        while state.hasSystemWork {
            at += 1_000
            let command = flow.next()
            var began = nanos()
            run(command, at: at)
            sweep.userNanos.append(nanos() - began)
            began = nanos()
            run(.tick, at: at)
            sweep.tickNanos.append(nanos() - began)
            sweep.ticks += 1
            sweep.largestTickEvents = max(sweep.largestTickEvents, events.count)
            var payload = ByteWriter()
            EntryPayload.encode(command: .tick, events: events, to: &payload)
            sweep.largestTickBytes = max(sweep.largestTickBytes, payload.bytes.count)
            count(events)
        }
        sweep.wallSeconds = Double(nanos() - start) / 1e9
        return sweep
    }
}

struct Figures {
    var phases: [(String, Int, Int)] = []
    var accounts = 0
    var buildSeconds = 0.0
    var rssBytes = 0
    var mixNanos = 0.0
    var mixRounds: [Double] = []
    var coldMixNanos = 0.0
    var coldMixRounds: [Double] = []
    /// The whole state: canonical bytes, the state hash, a snapshot file made and loaded.
    var canonicalBytes = 0
    var hashSeconds = 0.0
    var snapshotBytes = 0
    var snapshotCreateSeconds = 0.0
    var snapshotLoadSeconds = 0.0
    var funding = Sweep()
    var liquidation = Sweep()
}

/// One world under measurement: built, then driven by the usual mix over every account
/// on symbols 0 and 1 (limit orders, most of which rest; market orders; cancels of
/// orders it rested; mark prices).
struct Run {
    var world: World
    var figures: Figures
    var flow: OrderFlowGenerator
    var commands: [Command] = []
    var sink: UInt64 = 0
    /// A warmed round's time in `warm` and in `execute`, summed over its groups.
    var warmNanos: UInt64 = 0
    var execNanos: UInt64 = 0
    /// Each warmed round: (ns a command, of which warming, of which executing).
    var splits: [(total: Double, warm: Double, execute: Double)] = []

    init(accounts: Int, symbols: Int, holders: Int, resting: Int, victims: Int) {
        figures = Figures(accounts: accounts)
        let rssBefore = residentBytes()
        let start = nanos()
        world = build(accounts: accounts, symbols: symbols, holders: holders, resting: resting, victims: victims)
        world.state.prepareToExecute()
        figures.buildSeconds = Double(nanos() - start) / 1e9
        figures.rssBytes = residentBytes() - rssBefore
        figures.phases = world.phases
        let mixAccounts = min(accounts, Int(ProcessInfo.processInfo.environment["SCALE_MIX_ACCOUNTS"] ?? "") ?? accounts)
        flow = OrderFlowGenerator(seed: 42, accounts: (1...UInt64(mixAccounts)).map { $0 })
        flow.mids = [500_000, 500_000]
        world.recordsRested = true
        // The warm-up: the books reach the mix's steady state.
        for _ in 0..<200_000 {
            world.run(flow.next())
            takeRested()
        }
    }

    mutating func takeRested() {
        for (account, order) in world.restedOrders { flow.noteRested(account: account, order: order) }
        world.restedOrders.removeAll(keepingCapacity: true)
    }

    /// One timed round of `count` commands, generated first (so that only the engine is
    /// timed): warmed as ledgerd's sequencer runs them (`ExchangeState.warm` on each
    /// group of `warmGroup` commands before executing them), or one by one, cold.
    mutating func mixRound(count: Int, warmed: Bool) {
        commands.removeAll(keepingCapacity: true)
        for _ in 0..<count { commands.append(flow.next()) }
        if ProcessInfo.processInfo.environment["SCALE_ONLY"] != nil {
            FileHandle.standardError.write(Data("mix start\n".utf8))
            sleep(1)
        }
        warmNanos = 0
        execNanos = 0
        let start = nanos()
        if warmed {
            var group = 0
            while group < count {
                let end = min(group + ExchangeState.warmGroup, count)
                let t0 = nanos()
                sink &+= world.state.warm(commands[group..<end])
                let t1 = nanos()
                for command in commands[group..<end] { world.run(command) }
                warmNanos &+= t1 &- t0
                execNanos &+= nanos() &- t1
                group = end
            }
        } else {
            for command in commands { world.run(command) }
        }
        let perCommand = Double(nanos() - start) / Double(count)
        if ProcessInfo.processInfo.environment["SCALE_ONLY"] != nil {
            FileHandle.standardError.write(Data("mix end\n".utf8))
            sleep(1)
        }
        if warmed { splits.append((perCommand, Double(warmNanos) / Double(count), Double(execNanos) / Double(count))) }
        if warmed { figures.mixRounds.append(perCommand) } else { figures.coldMixRounds.append(perCommand) }
        takeRested()
    }
}

/// Both worlds' mix, round by round in turn (small warmed, large warmed, small cold, large
/// cold, ...), so that a slow spell of the shared machine falls on both: the ratio of each
/// pair of neighbouring rounds, and the median of those ratios.
func interleavedMix(_ small: inout Run, _ large: inout Run, rounds: Int) -> (warmed: [Double], cold: [Double]) {
    let count = Int(ProcessInfo.processInfo.environment["SCALE_MIX_COUNT"] ?? "") ?? 100_000
    var warmedRatios: [Double] = []
    var coldRatios: [Double] = []
    for round in 0..<rounds {
        let warmed = round % 2 == 0
        small.mixRound(count: count, warmed: warmed)
        large.mixRound(count: count, warmed: warmed)
        let ratio =
            warmed
            ? small.figures.mixRounds.last! / large.figures.mixRounds.last!
            : small.figures.coldMixRounds.last! / large.figures.coldMixRounds.last!
        if warmed { warmedRatios.append(ratio) } else { coldRatios.append(ratio) }
    }
    for run in [small, large] where run.sink == 42 { print("(warm sink \(run.sink))") }
    // Where a warmed command's time goes, in each world's three fastest rounds (the
    // clock read around each group adds a few ns a command to both).
    for (name, run) in [("small", small), ("large", large)] {
        let fastest = run.splits.sorted { $0.total < $1.total }.prefix(3)
        print(
            "\(name) world, warmed: ns a command = warm + execute, fastest rounds: "
                + fastest.map { "\(Int($0.total)) = \(Int($0.warm)) + \(Int($0.execute))" }.joined(separator: "; "))
    }
    return (warmedRatios, coldRatios)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// The rest of a world's figures, after its mix: the state, the funding settlement, the
/// mark swing.
func finish(_ run: inout Run) -> Figures {
    // Moved out of the run, not copied (a copy would be copied again on the first write).
    var world = World()
    swap(&world, &run.world)
    var flow = OrderFlowGenerator(seed: 0, accounts: [1])
    swap(&flow, &run.flow)
    var figures = run.figures
    // The fastest round: the machine is shared, and what another process takes only adds.
    figures.mixNanos = figures.mixRounds.min()!
    figures.coldMixNanos = figures.coldMixRounds.min()!
    var start = nanos()
    // The whole state: what the state follower hashes and a snapshot holds.
    var writer = ByteWriter(capacity: 1 << 20)
    world.state.encodeCanonical(to: &writer)
    figures.canonicalBytes = writer.bytes.count
    writer = ByteWriter()
    start = nanos()
    let hash = world.state.stateHash()
    figures.hashSeconds = Double(nanos() - start) / 1e9
    let directory = NSTemporaryDirectory() + "scale-profile-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
        start = nanos()
        let info = try SnapshotFile.write(world.state, journalChain: [UInt8](repeating: 0, count: 32), directory: directory)
        figures.snapshotCreateSeconds = Double(nanos() - start) / 1e9
        figures.snapshotBytes = Int(info.compressedBytes) + SnapshotFile.headerBytes
        start = nanos()
        let loaded = try SnapshotFile.load(path: directory + "/" + info.name)
        figures.snapshotLoadSeconds = Double(nanos() - start) / 1e9
        if loaded.info.stateHash != hash { print("SNAPSHOT: the loaded state's hash differs") }
    } catch {
        print("SNAPSHOT: \(error)")
    }
    // The funding time: the timer tick starts every symbol's settlement; the mix goes on
    // with a tick after each command until it is paid. Then a 4% fall of symbol 2's mark.
    let fundingTime = (world.clock.time / 3_600_000_000_000 + 1) * 3_600_000_000_000
    figures.funding = world.sweep(.tick, at: fundingTime, flow: &flow)
    figures.liquidation = world.sweep(.setMarkPrice(symbol: 2, priceUnits: 480_000), at: fundingTime + 1_000_000_000, flow: &flow)
    if let problem = world.state.invariantViolation() { print("INVARIANT: \(problem)") }
    return figures
}

func worldReport(accounts: Int, holders: Int, resting: Int) {
    if let only = ProcessInfo.processInfo.environment["SCALE_ONLY"] {
        var run =
            only == "small"
            ? Run(accounts: 1_000, symbols: 3, holders: 500, resting: 1_000, victims: 100)
            : Run(accounts: accounts, symbols: 100, holders: holders, resting: resting, victims: 10_000)
        for round in 0..<4 { run.mixRound(count: 1_000_000, warmed: round % 2 == 0) }
        print("mix rounds \(run.figures.mixRounds) warmed, \(run.figures.coldMixRounds) cold")
        return
    }
    var smallRun = Run(accounts: 1_000, symbols: 3, holders: 500, resting: 1_000, victims: 100)
    var largeRun = Run(accounts: accounts, symbols: 100, holders: holders, resting: resting, victims: 10_000)
    // 40 rounds of 100,000 commands: 20 neighbouring pairs of each kind, so that the
    // median and quartiles say more than one lucky or unlucky pair (the machine is shared).
    let rounds = Int(ProcessInfo.processInfo.environment["SCALE_MIX_ROUNDS"] ?? "") ?? 40
    let ratios = interleavedMix(&smallRun, &largeRun, rounds: rounds)
    let small = finish(&smallRun)
    let large = finish(&largeRun)
    for figures in [small, large] {
        print(
            "accounts \(figures.accounts): build \(String(format: "%.1f", figures.buildSeconds)) s, "
                + "RSS +\(figures.rssBytes / 1_048_576) MiB, mix \(Int(figures.mixNanos.rounded())) ns a command "
                + "(rounds \(figures.mixRounds.map { String(Int($0.rounded())) }.joined(separator: ", "))); "
                + "unwarmed \(Int(figures.coldMixNanos.rounded())) ns (rounds \(figures.coldMixRounds.map { String(Int($0.rounded())) }.joined(separator: ", ")))"
        )
        print(
            "  state: \(figures.canonicalBytes / 1_048_576) MiB canonical, state hash \(String(format: "%.3f", figures.hashSeconds)) s; "
                + "snapshot \(figures.snapshotBytes / 1_048_576) MiB, create \(String(format: "%.2f", figures.snapshotCreateSeconds)) s, "
                + "load \(String(format: "%.2f", figures.snapshotLoadSeconds)) s")
        print("  funding settlement: " + figures.funding.line)
        print("  mark −4%: " + figures.liquidation.line)
        for (name, bytes, count) in figures.phases where count > 0 {
            print("  \(name): +\(bytes / 1_048_576) MiB RSS for \(count), \(bytes / count) bytes each")
        }
    }
    print(
        "layout: ExchangeState \(MemoryLayout<ExchangeState>.size) B, PlaceOrder \(MemoryLayout<PlaceOrder>.size) B, "
            + "Command \(MemoryLayout<Command>.size) B, Event \(MemoryLayout<Event>.size) B")
    func spread(_ ratios: [Double]) -> String {
        let sorted = ratios.sorted()
        return String(format: "quartiles %.2f–%.2f of %d pairs", sorted[sorted.count / 4], sorted[sorted.count * 3 / 4], sorted.count)
    }
    print(
        "mix throughput, large / small, median of neighbouring rounds: \(String(format: "%.2f", median(ratios.warmed))) warmed "
            + "(\(spread(ratios.warmed))), \(String(format: "%.2f", median(ratios.cold))) unwarmed (\(spread(ratios.cold))); "
            + "fastest rounds: \(String(format: "%.2f", small.mixNanos / large.mixNanos)) warmed, "
            + "\(String(format: "%.2f", small.coldMixNanos / large.coldMixNanos)) unwarmed")
}

/// A world under the standard limits with USDT and one symbol (BTCUSDT's terms), marked.
func oneSymbolWorld() -> World {
    var world = World()
    world.run(.setWorldLimits(.standard))
    world.run(DemoExchange.listings[0])
    world.run(.listSymbol(symbolSpec(0)))
    world.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
    return world
}

/// Bytes an account costs, apart from what idempotency remembers for it: ACCOUNTS accounts
/// funded under a window of 1,000 remembered ids (so their deposits' transfer ids are
/// forgotten as they come), then one position each (one lot bought from makers).
func accountsReport(accounts: Int) {
    var world = oneSymbolWorld()
    world.run(.setIdempotencyWindow(IdempotencyWindow(transferSeconds: 1, clientOrderSeconds: 1, maxRecords: 1_000)))
    var rss = residentBytes()
    func phase(_ name: String) {
        let now = residentBytes()
        print(
            "\(name): +\(String(format: "%.1f", Double(now - rss) / 1_048_576)) MiB for \(accounts), \((now - rss) / accounts) bytes each")
        rss = now
    }
    let makers = 100
    let first: AccountID = 1_000
    for account in first..<first + AccountID(accounts) {
        world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000)))
    }
    phase("accounts funded (transfer ids forgotten beyond 1,000)")
    for maker in 1...AccountID(makers) {
        world.run(.deposit(Transfer(transferID: maker, account: maker, asset: 0, amountMinor: 1 << 50)))
        world.run(
            .placeOrder(
                PlaceOrder(
                    account: maker, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000,
                    quantityUnits: Int64(accounts / makers + 1))))
    }
    rss = residentBytes()
    for account in first..<first + AccountID(accounts) {
        world.run(
            .placeOrder(
                PlaceOrder(account: account, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 1)))
    }
    phase("one position each (one lot bought)")
    print("rejected: \(world.rejected)")
    print(
        "layout: Account \(MemoryLayout<Account>.stride) B, PositionTable.Slot \(MemoryLayout<PositionTable.Slot>.stride) B, Position \(MemoryLayout<Position>.stride) B"
    )
}

func bookReport() {
    // Three runs, each from an empty book; per stretch, the fastest run (the machine is
    // shared: what another process takes only adds).
    var best: [Int: Double] = [:]
    var summary = ""
    for _ in 0..<3 {
        var world = World()
        // Ten traders with the margin and position room for the whole run: nothing is refused.
        guard case .listSymbol(var spec) = DemoExchange.listings[1] else { preconditionFailure("listings moved") }
        spec.maxPositionQuantityUnits = 100_000_000
        world.run(DemoExchange.listings[0])
        world.run(.listSymbol(spec))
        for account in 1...10 as ClosedRange<UInt64> {
            world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1 << 55)))
        }
        world.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        world.state.prepareToExecute()
        var random = SeededRandom(seed: 5)
        var done = 0
        summary = ""
        for checkpoint in [30_000, 300_000, 1_000_000] {
            let start = nanos()
            let first = done
            while done < checkpoint {
                let buy = done % 2 == 0
                // Buys over ticks 0 ..< 10, sells over 4 ..< 14: they overlap by 6.
                let tick = Int64(random.next() % 10) + (buy ? 0 : 4)
                world.run(
                    .placeOrder(
                        PlaceOrder(
                            account: AccountID(done % 10 + 1), symbol: 0, side: buy ? .buy : .sell, type: .limit,
                            timeInForce: .gtc, priceUnits: 499_995 + tick, quantityUnits: Int64(100 + random.next() % 901))))
                done += 1
            }
            let perOrder = Double(nanos() - start) / Double(done - first)
            best[checkpoint] = min(best[checkpoint] ?? .infinity, perOrder)
            summary += "\(checkpoint): rested so far \(world.rested), rejected \(world.rejected); "
        }
    }
    print(
        "growing book, ns an order (fastest of 3 runs): orders 1 ... 30,000: \(Int(best[30_000]!.rounded())); "
            + "30,001 ... 300,000: \(Int(best[300_000]!.rounded())); 300,001 ... 1,000,000: \(Int(best[1_000_000]!.rounded()))")
    print(summary)
}

/// The slowest single commands while a world grows to ACCOUNTS funded accounts, each then
/// resting one order with a client order id: a table or array that doubles in one command
/// shows here.
func stallsReport(accounts: Int) {
    var world = oneSymbolWorld()
    // Room for every client order id: past the record maximum, each entry re-queues up to
    // 1,024 ids of open orders (docs/BENCHMARKS.md, "Growth in bounded steps"), which
    // would hide the tables' own stalls.
    let records = Int64(ProcessInfo.processInfo.environment["STALLS_RECORDS"] ?? "") ?? 10_000_000
    world.run(.setIdempotencyWindow(IdempotencyWindow(transferSeconds: 86_400, clientOrderSeconds: 86_400, maxRecords: records)))
    func slowest(_ name: String, _ commands: (Int) -> Command) {
        var times: [(UInt64, Int)] = []
        for index in 0..<accounts {
            let command = commands(index)
            let start = nanos()
            world.run(command)
            times.append((nanos() - start, index + 1))
        }
        let top = times.sorted { $0.0 > $1.0 }.prefix(8)
        let sorted = times.map(\.0).sorted()
        print(
            "\(name): p50 \(sorted[sorted.count / 2]) ns, p99.99 \(sorted[sorted.count * 9_999 / 10_000]) ns; slowest: "
                + top.map { "\($0.0 / 1_000) µs at #\($0.1)" }.joined(separator: ", "))
    }
    slowest("deposits to new accounts") {
        .deposit(Transfer(transferID: UInt64($0 + 1), account: UInt64($0 + 1), asset: 0, amountMinor: 1_000_000_000_000))
    }
    slowest("resting orders, one an account") {
        .placeOrder(
            PlaceOrder(
                account: UInt64($0 + 1), symbol: 0, side: $0 % 2 == 0 ? .buy : .sell, type: .limit, timeInForce: .gtc,
                priceUnits: $0 % 2 == 0 ? 400_000 - Int64($0 % 1_000) : 600_000 + Int64($0 % 1_000), quantityUnits: 1,
                clientOrderID: ClientOrderID(UInt64($0 + 1))))
    }
}

/// ADL against HOLDERS opposing positions: a whale short one lot to each of HOLDERS
/// accounts, left with only the margin its position needs, bankrupt by a 30% rise of the
/// mark with no bids to close into; what the ticks that deleverage it cost the engine.
func adlReport(holders: Int) {
    var world = World()
    world.run(.setWorldLimits(.standard))
    world.run(DemoExchange.listings[0])
    var spec = symbolSpec(0)
    spec.maxPositionQuantityUnits = 100_000_000
    world.run(.listSymbol(spec))
    world.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
    let whale: AccountID = 1
    world.run(.deposit(Transfer(transferID: whale, account: whale, asset: 0, amountMinor: 1 << 55)))
    world.run(
        .placeOrder(
            PlaceOrder(
                account: whale, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000,
                quantityUnits: Int64(holders))))
    for index in 0..<holders {
        let holder = AccountID(1_000 + index)
        world.run(.deposit(Transfer(transferID: holder, account: holder, asset: 0, amountMinor: 1_000_000_000_000)))
        world.run(
            .placeOrder(
                PlaceOrder(account: holder, symbol: 0, side: .buy, type: .limit, timeInForce: .ioc, priceUnits: 500_000, quantityUnits: 1)))
    }
    let spare = Int64(world.state.availableMinor(account: whale, asset: 0))
    world.run(.withdraw(Transfer(transferID: 1 << 40, account: whale, asset: 0, amountMinor: spare)))
    let markStart = nanos()
    world.run(.setMarkPrice(symbol: 0, priceUnits: 650_000))
    let markNanos = nanos() - markStart
    var counts: [String: Int] = [:]
    func count() {
        for event in world.events {
            let name = String("\(event)".prefix { $0 != "(" })
            if ["liquidationTriggered", "insuranceTakeover", "autoDeleveraged", "trade", "rejected"].contains(name) {
                counts[name, default: 0] += 1
            }
        }
    }
    count()
    var tickNanos: [UInt64] = []
    let start = nanos()
    while world.state.hasSystemWork {
        let began = nanos()
        world.run(.tick)
        tickNanos.append(nanos() - began)
        count()
    }
    let wall = Double(nanos() - start) / 1e9
    print(
        "ADL against \(holders) holders: the mark's entry \(markNanos / 1_000) µs, then \(tickNanos.count) ticks, \(String(format: "%.3f", wall)) s; a tick p50 "
            + "\(Sweep.percentile(tickNanos, 0.5) / 1_000) µs, p99 \(Sweep.percentile(tickNanos, 0.99) / 1_000) µs, max "
            + "\(Sweep.percentile(tickNanos, 1) / 1_000) µs; largest entry \(world.largestEntryEvents) events; "
            + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "; refused in the build: \(world.rejected)")
}

/// What a trade and a conditional order's cancel cost while STOPS stop orders wait in the
/// symbol, none of them near its trigger: the trigger checks after a trade, the trailing
/// stops' upkeep and the cancel's lookup must not grow with the orders waiting.
func stopsReport(stops: [Int], trades: Int) {
    for count in stops {
        var world = oneSymbolWorld()
        // Two traders who trade with each other, and one account per waiting stop order.
        for trader: AccountID in [1, 2] {
            world.run(.deposit(Transfer(transferID: trader, account: trader, asset: 0, amountMinor: 1 << 55)))
        }
        var stopIDs: [(AccountID, OrderID)] = []
        for index in 0..<count {
            let account = AccountID(1_000 + index)
            world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
            // Half stop-market sells far below the mark, half take-profit buys far below it
            // (both trigger only on a fall of more than 40%), on both working prices.
            world.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: index % 2 == 0 ? .sell : .buy,
                        type: index % 2 == 0 ? .stopMarket : .takeProfitMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 1,
                        stopPriceUnits: 250_000 + Int64(index % 50_000), workingType: index % 4 < 2 ? .markPrice : .contractPrice)))
            if case .orderAccepted(let id) = world.events.first { stopIDs.append((account, id)) }
        }
        // STOPS_TRAILING=K: K trailing stops (sells, 1% callback) wait besides.
        let trailing = Int(ProcessInfo.processInfo.environment["STOPS_TRAILING"] ?? "") ?? 0
        for index in 0..<trailing {
            world.placeFunded(
                PlaceOrder(
                    account: AccountID(1_000_000 + index), symbol: 0, side: .sell, type: .trailingStopMarket, timeInForce: .gtc,
                    priceUnits: 0, quantityUnits: 1, callbackRateE8: 1_000_000))
        }
        precondition(world.state.books.conditionalBySymbol[0].count == count + trailing, "\(world.rejected)")
        // Each trade: trader 1 rests a lot, trader 2 takes it (the taker's command timed).
        let trade = world.timed(2 * trades, timedIf: { $0 % 2 == 1 }) { index in
            .placeOrder(
                PlaceOrder(
                    account: index % 2 == 0 ? 1 : 2, symbol: 0, side: index % 2 == 0 ? .sell : .buy, type: .limit,
                    timeInForce: index % 2 == 0 ? .gtc : .ioc, priceUnits: 500_000 + Int64(index / 2 % 10), quantityUnits: 1))
        }
        // A fall of the mark that reaches the highest 0.8% of the mark-price triggers (about
        // 0.4% of the orders waiting); the ticks that trigger them, timed together.
        let (triggered, fallNanos) = world.markFall(to: 250_000 + Int64(min(count, 50_000) * 992 / 1_000))
        // Cancels from the first half of the orders, cancel-alls from the second.
        let cancels = min(count / 2, trades)
        let refusedBefore = world.rejected[.unknownOrder, default: 0]
        let cancel = world.timed(cancels) { index in
            let (account, id) = stopIDs[index * max(1, count / 2 / max(1, cancels))]
            return .cancelOrder(CancelOrder(account: account, orderID: id, clientOrderID: 0))
        }
        // Only the orders the fall triggered are refused.
        let refused = world.rejected[.unknownOrder, default: 0] - refusedBefore
        let waitingNow = world.state.books.conditionalBySymbol[0].count
        precondition(refused <= triggered && waitingNow == count + trailing - triggered - (cancels - refused), "\(world.rejected)")
        // Cancel-all by accounts whose one stop order still waits (the last ones placed).
        let cancelAlls = min(count / 2, 1_000)
        let cancelAll = world.timed(cancelAlls) { index in
            .cancelAllOrders(account: stopIDs[count - 1 - index].0, symbol: 0)
        }
        let removedByAll = waitingNow - world.state.books.conditionalBySymbol[0].count
        precondition(removedByAll <= cancelAlls && removedByAll + triggered >= cancelAlls, "\(world.rejected)")
        print(
            "\(count) stop orders\(trailing > 0 ? " and \(trailing) trailing" : "") waiting: a mark's fall triggered \(triggered) "
                + "in \(fallNanos / 1_000) µs (\(triggered == 0 ? 0 : fallNanos / UInt64(triggered)) ns a trigger)")
        print(
            "\(count) stop orders\(trailing > 0 ? " and \(trailing) trailing" : "") waiting: the taker's command of a trade p50 \(trade) ns (\(trades) trades), "
                + "a stop order's cancel p50 \(count == 0 ? "-" : "\(cancel) ns") (\(cancels) cancels), "
                + "a cancel-all of an account with one p50 \(cancelAlls == 0 ? "-" : "\(cancelAll) ns") (\(cancelAlls))")
    }
}

/// One account's resting orders found at the size of a venue: COUNT sell orders rest in one
/// symbol (one account each, over 1,000 ticks above the mark); then
/// - a trader with a long position and a reduce-only sell resting at the back of the asks
///   buys again, TRADES times (its command timed: each fill checks its reduce-only orders
///   against its position);
/// - accounts whose one order rests at the back of the asks cancel all their orders (timed).
func restingReport(counts: [Int], trades: Int) {
    for count in counts {
        var world = oneSymbolWorld()
        for trader: AccountID in [1, 2] {
            world.run(.deposit(Transfer(transferID: trader, account: trader, asset: 0, amountMinor: 1 << 55)))
        }
        func sell(_ account: AccountID, price: Int64, quantity: Int64 = 1, reduceOnly: Bool = false) {
            world.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: price,
                        quantityUnits: quantity, reduceOnly: reduceOnly)))
        }
        for index in 0..<count {
            let account = AccountID(1_000 + index)
            world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
            sell(account, price: 500_010 + Int64(index % 1_000))
        }
        // Trader 2 buys 100 lots from trader 1, then rests a reduce-only sell behind every ask.
        sell(1, price: 500_000, quantity: 100)
        world.run(
            .placeOrder(
                PlaceOrder(account: 2, symbol: 0, side: .buy, type: .limit, timeInForce: .ioc, priceUnits: 500_000, quantityUnits: 100)))
        sell(2, price: 501_010, reduceOnly: true)
        // Accounts whose one order rests behind everything, for the cancel-alls.
        let cancelAlls = 1_000
        for index in 0..<cancelAlls {
            let account = AccountID(900_000 + index)
            world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
            sell(account, price: 501_020)
        }
        precondition(world.state.books.bySymbol[0].orderCount == count + 1 + cancelAlls, "\(world.rejected)")
        // Each trade: trader 1 rests a lot at the mark, trader 2 takes it.
        let trade = world.timed(2 * trades, timedIf: { $0 % 2 == 1 }) { index in
            .placeOrder(
                PlaceOrder(
                    account: index % 2 == 0 ? 1 : 2, symbol: 0, side: index % 2 == 0 ? .sell : .buy, type: .limit,
                    timeInForce: index % 2 == 0 ? .gtc : .ioc, priceUnits: 500_000, quantityUnits: 1))
        }
        let cancelAll = world.timed(cancelAlls) { index in .cancelAllOrders(account: AccountID(900_000 + index), symbol: 0) }
        // Every trade filled, trader 2's reduce-only order still rests, the cancel-alls
        // took their orders.
        precondition(
            world.state.books.bySymbol[0].orderCount == count + 1
                && world.state.account(2)!.position(0).sizeQuantityUnits == Int64(100 + trades),
            "\(world.rejected)")
        print(
            "\(count) orders resting: the command of a trade by an account with a reduce-only order at the back p50 \(trade) ns "
                + "(\(trades) trades), a cancel-all of an account with one order at the back p50 \(cancelAll) ns (\(cancelAlls))")
    }
}

/// Trailing stops at the size of a venue: COUNT trailing sells on the mark price, one
/// account each, each placed at a mark of its own (falling one unit at a time from
/// 500,000), so that no two share an extreme; the first half placed with a 10% callback,
/// the second with 1%. Then, timed:
/// - marks just below them all (none passed, none reached);
/// - one mark above them all, which passes every one (alone: the largest step);
/// - marks just under that (none passed, none reached);
/// - a fall of 1%, which reaches the second half (lower ids wait unreached before each):
///   the ticks that trigger them, per trigger.
func trailingReport(counts: [Int], marks: Int) {
    for count in counts {
        var world = oneSymbolWorld()
        for index in 0..<count {
            let account = AccountID(1_000 + index)
            world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
            world.run(.setMarkPrice(symbol: 0, priceUnits: 500_000 - Int64(index)))
            world.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: .sell, type: .trailingStopMarket, timeInForce: .gtc, priceUnits: 0,
                        quantityUnits: 1, workingType: .markPrice, callbackRateE8: index < count / 2 ? 10_000_000 : 1_000_000)))
        }
        precondition(world.state.books.conditionalBySymbol[0].count == count, "\(world.rejected)")
        let low = 500_000 - Int64(count)
        let below = world.timed(marks) { .setMarkPrice(symbol: 0, priceUnits: low - Int64($0 % 10)) }
        let jumpStart = nanos()
        world.run(.setMarkPrice(symbol: 0, priceUnits: 600_000))
        let jump = nanos() - jumpStart
        let above = world.timed(marks) { .setMarkPrice(symbol: 0, priceUnits: 600_000 - Int64($0 % 10)) }
        precondition(world.state.books.conditionalBySymbol[0].count == count, "\(world.rejected)")
        let (triggered, fall) = world.markFall(to: 594_000)
        let reached = count - count / 2
        precondition(
            triggered == reached && world.state.books.conditionalBySymbol[0].count == count / 2, "\(triggered) \(world.rejected)")
        print(
            "\(count) trailing stops, each its own extreme: a mark below them p50 \(below) ns, the mark that passes them all "
                + "\(jump / 1_000) µs, a mark after it p50 \(above) ns (\(marks) each); a 1% fall triggered \(triggered) (\(count / 2) waited unreached) in "
                + "\(fall / 1_000) µs (\(reached == 0 ? 0 : fall / UInt64(reached)) ns a trigger)")
    }
}

/// A cascade on the contract price at the size of a venue: COUNT sells on the contract
/// price, one account each, all reached by one trade; bids of 1 lot rest at every price
/// from that trade's down (makers of 100 orders each), so each triggered sell sells 1 lot
/// into the next bid and moves the contract price one unit down, and every sell still
/// waiting stays reached. Stop-market sells with their stop at 499,999 and a first trade at
/// 499,999; or (`trailing`) trailing sells with a 1% callback placed at the mark of 500,000
/// before any trade, and a first trade at 495,000. The ticks that trigger them all are
/// timed: the total, per trigger, and the slowest tick.
func cascadeReport(counts: [Int], trailing: Bool) {
    let top: Int64 = trailing ? 495_000 : 499_999
    for count in counts {
        var world = oneSymbolWorld()
        let makers = count / 100 + 2
        for maker in 0..<makers {
            let account = AccountID(10 + maker)
            world.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1 << 50)))
            for level in 0..<100 {
                world.run(
                    .placeOrder(
                        PlaceOrder(
                            account: account, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc,
                            priceUnits: top - Int64(maker * 100 + level), quantityUnits: 1)))
            }
        }
        world.run(.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: 1 << 50)))
        for index in 0..<count {
            world.placeFunded(
                PlaceOrder(
                    account: AccountID(1_000_000 + index), symbol: 0, side: .sell, type: trailing ? .trailingStopMarket : .stopMarket,
                    timeInForce: .gtc, priceUnits: 0, quantityUnits: 1, stopPriceUnits: trailing ? 0 : 499_999,
                    workingType: .contractPrice, callbackRateE8: trailing ? 1_000_000 : 0))
        }
        precondition(world.state.books.conditionalBySymbol[0].count == count, "\(world.rejected)")
        let start = nanos()
        world.run(
            .placeOrder(
                PlaceOrder(account: 1, symbol: 0, side: .sell, type: .limit, timeInForce: .ioc, priceUnits: top, quantityUnits: 1)))
        var ticks = 0
        var slowest: UInt64 = 0
        while world.state.hasSystemWork {
            let began = nanos()
            world.run(.tick)
            slowest = max(slowest, nanos() - began)
            ticks += 1
        }
        let total = nanos() - start
        precondition(world.state.books.conditionalBySymbol[0].isEmpty, "\(world.rejected)")
        precondition(world.state.markets[0].lastPriceUnits == top - Int64(count), "\(world.state.markets[0].lastPriceUnits)")
        print(
            "\(count) \(trailing ? "trailing stops" : "stops") reached at once on the contract price, each trigger moving it: "
                + "\(ticks) ticks in \(total / 1_000) µs (\(total / UInt64(count)) ns a trigger), the slowest tick \(slowest / 1_000) µs")
    }
}

let arguments = CommandLine.arguments
switch arguments.count > 1 ? arguments[1] : "" {
case "world":
    worldReport(
        accounts: arguments.count > 2 ? Int(arguments[2])! : 1_000_000, holders: arguments.count > 3 ? Int(arguments[3])! : 100_000,
        resting: arguments.count > 4 ? Int(arguments[4])! : 1_000_000)
case "book":
    bookReport()
case "stalls":
    stallsReport(accounts: arguments.count > 2 ? Int(arguments[2])! : 2_100_000)
case "adl":
    for holders in arguments.count > 2 ? arguments[2...].map { Int($0)! } : [1_000, 10_000, 100_000] { adlReport(holders: holders) }
case "stops":
    stopsReport(stops: arguments.count > 2 ? arguments[2...].map { Int($0)! } : [0, 1_000, 10_000, 100_000], trades: 20_000)
case "resting":
    restingReport(counts: arguments.count > 2 ? arguments[2...].map { Int($0)! } : [0, 1_000, 10_000, 100_000], trades: 20_000)
case "cascade", "cascade-trailing":
    cascadeReport(
        counts: arguments.count > 2 ? arguments[2...].map { Int($0)! } : [1_000, 10_000, 100_000], trailing: arguments[1] != "cascade")
case "trailing":
    trailingReport(counts: arguments.count > 2 ? arguments[2...].map { Int($0)! } : [1_000, 10_000, 100_000], marks: 2_000)
case "accounts":
    accountsReport(accounts: arguments.count > 2 ? Int(arguments[2])! : 1_000_000)
default:
    print(
        "usage: ScaleProfile world [ACCOUNTS] [HOLDERS] [RESTING] | book | accounts [ACCOUNTS] | stops [STOPS ...] | resting [ORDERS ...] | trailing [STOPS ...] | cascade [STOPS ...] | cascade-trailing [STOPS ...]"
    )
    exit(2)
}
