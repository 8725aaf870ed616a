import Foundation
import LedgerClient
import LedgerCore

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
// `book` sends 1,000,000 alternating limit orders of 10 traders with no cancels and
// prints ns an order at 30,000 / 300,000 / 1,000,000.

struct Clock {
    var sequence: SequenceNumber = 0
    /// Journal time: 1 ms an entry from a fixed start.
    var time: Int64 { 1_780_000_000_000_000_000 + Int64(sequence) * 1_000_000 }
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

    mutating func run(_ command: Command, at time: Int64? = nil) {
        events.removeAll(keepingCapacity: true)
        clock.sequence += 1
        state.execute(command, sequence: clock.sequence, timeNanos: time ?? clock.time, into: &events)
        largestEntryEvents = max(largestEntryEvents, events.count)
        for event in events {
            switch event {
            case .orderRested: rested += 1
            case .rejected(let reason, _): rejected[reason, default: 0] += 1
            default: break
            }
        }
    }
}

func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

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
func build(accounts: Int, symbols: Int, holders: Int, resting: Int) -> World {
    var world = World()
    var rss = residentBytes()
    func phase(_ name: String, _ count: Int) {
        let now = residentBytes()
        world.phases.append((name, now - rss, count))
        rss = now
    }
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
    // Resting orders away from the touch (buys 1–5% under, sells 1–5% over), any account.
    var random = SeededRandom(seed: 8)
    for index in 0..<resting {
        let account = AccountID(random.next() % UInt64(accounts) + 1)
        let symbol = SymbolID(UInt64(index) % UInt64(symbols))
        let side: Side = index % 2 == 0 ? .buy : .sell
        let away = Int64(5_000 + random.next() % 20_000)
        world.run(
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .limit, timeInForce: .gtc,
                    priceUnits: side == .buy ? 500_000 - away : 500_000 + away, quantityUnits: Int64(1 + random.next() % 5))))
    }
    phase("resting orders", resting)
    return world
}

struct Figures {
    var phases: [(String, Int, Int)] = []
    var accounts = 0
    var buildSeconds = 0.0
    var rssBytes = 0
    var mixNanos = 0.0
    var fundingSeconds = 0.0
    var fundingEvents = 0
}

func measure(accounts: Int, symbols: Int, holders: Int, resting: Int) -> Figures {
    var figures = Figures(accounts: accounts)
    let rssBefore = residentBytes()
    var start = nanos()
    var world = build(accounts: accounts, symbols: symbols, holders: holders, resting: resting)
    world.state.prepareToExecute()
    figures.buildSeconds = Double(nanos() - start) / 1e9
    figures.rssBytes = residentBytes() - rssBefore
    figures.phases = world.phases
    // The usual mix over every account, on symbols 0 and 1.
    var flow = OrderFlowGenerator(seed: 42, accounts: (1...UInt64(accounts)).map { $0 })
    flow.mids = [500_000, 500_000]
    let count = 200_000
    var commands: [Command] = []
    commands.reserveCapacity(count)
    for _ in 0..<count { commands.append(flow.next()) }
    start = nanos()
    for command in commands { world.run(command) }
    figures.mixNanos = Double(nanos() - start) / Double(count)
    // The first command after the funding time settles symbol 0 (and the others).
    world.largestEntryEvents = 0
    let fundingTime = (world.clock.time / 3_600_000_000_000 + 1) * 3_600_000_000_000
    start = nanos()
    world.run(.setMarkPrice(symbol: 0, priceUnits: 500_001), at: fundingTime + 1)
    figures.fundingSeconds = Double(nanos() - start) / 1e9
    figures.fundingEvents = world.largestEntryEvents
    return figures
}

func worldReport(accounts: Int, holders: Int, resting: Int) {
    let small = measure(accounts: 1_000, symbols: 2, holders: 500, resting: 1_000)
    let large = measure(accounts: accounts, symbols: 100, holders: holders, resting: resting)
    for figures in [small, large] {
        print(
            "accounts \(figures.accounts): build \(String(format: "%.1f", figures.buildSeconds)) s, "
                + "RSS +\(figures.rssBytes / 1_048_576) MiB, mix \(Int(figures.mixNanos.rounded())) ns a command, "
                + "funding entry \(figures.fundingEvents) events in \(String(format: "%.3f", figures.fundingSeconds)) s")
        for (name, bytes, count) in figures.phases where count > 0 {
            print("  \(name): +\(bytes / 1_048_576) MiB RSS for \(count), \(bytes / count) bytes each")
        }
    }
    print(
        "layout: ExchangeState \(MemoryLayout<ExchangeState>.size) B, PlaceOrder \(MemoryLayout<PlaceOrder>.size) B, "
            + "Command \(MemoryLayout<Command>.size) B, Event \(MemoryLayout<Event>.size) B")
    print("mix throughput, large / small: \(String(format: "%.2f", small.mixNanos / large.mixNanos))")
}

func bookReport() {
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
        print(
            "growing book: orders \(first + 1) ... \(checkpoint): \(Int(perOrder.rounded())) ns an order; "
                + "rested so far \(world.rested), rejected \(world.rejected)")
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
default:
    print("usage: ScaleProfile world [ACCOUNTS] [HOLDERS] [RESTING] | book")
    exit(2)
}
