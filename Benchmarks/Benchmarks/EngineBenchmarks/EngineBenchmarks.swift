import Benchmark
import Foundation
import Journal
import LedgerClient
import LedgerCore

/// Engine, journal and replay baselines (docs/BENCHMARKS.md). Each iteration does a whole
/// batch of work; throughput is reported per entry through `scalingFactor`.
let commandsPerIteration = 10_000

/// A funded exchange and a stream of realistic commands, executed once to learn which
/// orders rest (so that cancels name real orders) and to record the events.
struct Workload {
    var genesis: ExchangeState
    var commands: [Command]
    var events: [[Event]]

    static func make(count: Int, accounts: Int = 1_000, seed: UInt64 = 42, ruleBook: Bool = false) -> Workload {
        var state = ExchangeState()
        var scratch: [Event] = []
        for command in ruleBook ? RuleBookFlow.setupCommands(accounts: accounts) : DemoExchange.setupCommands(accounts: accounts) {
            scratch.removeAll()
            state.execute(command, sequence: state.lastSequence + 1, timeNanos: 0, into: &scratch)
        }
        let genesis = state
        var generator = RuleBookFlow(seed: seed, accounts: accounts, ruleBook: ruleBook)
        var commands: [Command] = []
        var events: [[Event]] = []
        commands.reserveCapacity(count)
        for _ in 0..<count {
            let command = generator.next()
            scratch.removeAll()
            state.execute(command, sequence: state.lastSequence + 1, timeNanos: time(state.lastSequence + 1), into: &scratch)
            if case .placeOrder(let order) = command {
                for case .orderRested(let id, _) in scratch { generator.plain.noteRested(account: order.account, order: id) }
            }
            commands.append(command)
            events.append(scratch)
        }
        return Workload(genesis: genesis, commands: commands, events: events)
    }

    /// Journal time of an entry: 50 ms apart, so hourly funding settles every 72,000 entries.
    static func time(_ sequence: SequenceNumber) -> Int64 { Int64(sequence) * 50_000_000 }
}

/// The plain mix (`OrderFlowGenerator`), or with the rule book: Binance's brackets, price
/// bands, hourly funding, accounts on 2,000–51,000 USDT at up to 50x (every fifth isolated),
/// 4% stop-market orders (reduce-only, on mark) and now and then a 3–8% mark swing that
/// liquidates.
struct RuleBookFlow {
    var plain: OrderFlowGenerator
    var random: SeededRandom
    let ruleBook: Bool
    let accounts: Int

    init(seed: UInt64, accounts: Int, ruleBook: Bool) {
        plain = OrderFlowGenerator(seed: seed, accounts: (1...UInt64(accounts)).map { $0 })
        random = SeededRandom(seed: seed ^ 0x5EED)
        self.ruleBook = ruleBook
        self.accounts = accounts
    }

    static func setupCommands(accounts: Int) -> [Command] {
        guard case .listSymbol(var btc) = DemoExchange.listings[1], case .listSymbol(var eth) = DemoExchange.listings[2] else {
            preconditionFailure("listings moved")
        }
        btc.brackets = DemoExchange.binanceBTCUSDTBrackets
        eth.brackets = [
            MarginBracket(notionalCapMinor: 100_000_000_000, maintenanceMarginRateE8: 500_000, maxLeverage: 100),
            MarginBracket(notionalCapMinor: 1_000_000_000_000, maintenanceMarginRateE8: 1_000_000, maxLeverage: 50),
            MarginBracket(notionalCapMinor: 1 << 60, maintenanceMarginRateE8: 2_500_000, maxLeverage: 20),
        ]
        for index in [0, 1] {
            var spec = index == 0 ? btc : eth
            spec.priceBandRateE8 = 5_000_000
            (spec.fundingIntervalSeconds, spec.fundingInterestRateE8, spec.fundingClampRateE8, spec.fundingCapRateE8) = (
                3_600, 10_000, 50_000, 750_000
            )
            spec.liquidationFeeRateE8 = 500_000
            if index == 0 { btc = spec } else { eth = spec }
        }
        var commands: [Command] = [DemoExchange.listings[0], .listSymbol(btc), .listSymbol(eth)]
        for account in 1...UInt64(accounts) {
            let usdt = 2_000 + Int64(account % 50) * 1_000
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: usdt * 1_000_000)))
            if account % 5 == 0 { commands.append(.setMarginMode(account: account, symbol: 0, isolated: true)) }
            if account % 3 == 0 {
                commands.append(.setLeverage(account: account, symbol: 0, leverage: 50))
                commands.append(.setLeverage(account: account, symbol: 1, leverage: 50))
            }
        }
        commands.append(.depositInsuranceFund(Transfer(transferID: 1 << 40, account: 0, asset: 0, amountMinor: 1_000_000_000_000)))
        for (symbol, mark) in DemoExchange.startingMarks.enumerated() {
            commands.append(.setMarkPrice(symbol: SymbolID(symbol), priceUnits: mark))
        }
        return commands
    }

    mutating func next() -> Command {
        guard ruleBook else { return plain.next() }
        let roll = random.next() % 1_000
        let symbol = SymbolID(random.next() % 2)
        let mid = plain.mids[Int(symbol)]
        if roll < 40 {
            let account = AccountID(random.next() % UInt64(accounts) + 1)
            let side: Side = random.next() % 2 == 0 ? .buy : .sell
            let away = mid * Int64(random.next() % 100 + 1) / 10_000
            return .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .stopMarket, timeInForce: .gtc, priceUnits: 0,
                    quantityUnits: Int64(random.next() % 100 + 1), stopPriceUnits: side == .buy ? mid + away : mid - away,
                    workingType: .markPrice, reduceOnly: true))
        }
        if roll < 42 {
            let move = mid * Int64(random.next() % 6 + 3) / 100
            let start = DemoExchange.startingMarks[Int(symbol)]
            let up = mid < start * 9 / 10 || (mid <= start * 11 / 10 && random.next() % 2 == 0)
            plain.mids[Int(symbol)] = up ? mid + move : mid - move
            return .setMarkPrice(symbol: symbol, priceUnits: plain.mids[Int(symbol)])
        }
        return plain.next()
    }
}

nonisolated(unsafe) let workload = Workload.make(count: 200_000)
nonisolated(unsafe) let ruleBookWorkload = Workload.make(count: 200_000, ruleBook: true)

/// Runs `body` once per scaled iteration over the workload's entries, starting again from
/// the genesis state (outside the measurement) when the workload runs out.
func cycleWorkload(
    _ benchmark: Benchmark, _ body: (inout ExchangeState, Int) throws -> Void
) rethrows {
    try cycle(benchmark, workload, body)
}

func cycle(_ benchmark: Benchmark, _ workload: Workload, _ body: (inout ExchangeState, Int) throws -> Void) rethrows {
    var state = workload.genesis
    var index = 0
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        if index == workload.commands.count {
            benchmark.stopMeasurement()
            state = workload.genesis
            index = 0
            benchmark.startMeasurement()
        }
        try body(&state, index)
        index += 1
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 1_000)

    // Engine only: execute the place/cancel/match/mark mix from the state it was recorded on.
    Benchmark("engine execute (mix), per 1k commands", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var events: [Event] = []
        events.reserveCapacity(64)
        cycleWorkload(benchmark) { state, index in
            events.removeAll(keepingCapacity: true)
            state.execute(
                workload.commands[index], sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1), into: &events)
        }
    }

    // The same, with the whole rule book at work: brackets, bands, funding, stops,
    // liquidations (docs/BENCHMARKS.md compares the two).
    Benchmark("engine execute (rule book mix), per 1k commands", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var events: [Event] = []
        events.reserveCapacity(64)
        cycle(benchmark, ruleBookWorkload) { state, index in
            events.removeAll(keepingCapacity: true)
            state.execute(
                ruleBookWorkload.commands[index], sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1),
                into: &events)
        }
    }

    // Rebuild: apply the journaled events.
    Benchmark("replay apply events, per 1k entries", configuration: .init(scalingFactor: .kilo)) { benchmark in
        cycleWorkload(benchmark) { state, index in
            state.apply(
                workload.events[index], of: workload.commands[index], sequence: state.lastSequence + 1,
                timeNanos: Workload.time(state.lastSequence + 1))
        }
    }

    // Audit: decode each entry from its bytes, re-execute, compare.
    let encoded: [[UInt8]] = zip(workload.commands, workload.events).map { command, events in
        var writer = ByteWriter()
        EntryPayload.encode(command: command, events: events, to: &writer)
        return writer.bytes
    }
    Benchmark("replay audit (decode + execute + compare), per 1k entries", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var events: [Event] = []
        try cycleWorkload(benchmark) { state, index in
            var reader = ByteReader(encoded[index])
            let payload = try EntryPayload.decode(from: &reader)
            events.removeAll(keepingCapacity: true)
            state.execute(
                payload.command, sequence: state.lastSequence + 1, timeNanos: Workload.time(state.lastSequence + 1), into: &events)
            precondition(events == payload.events)
        }
    }

    // Journal: one block of N entries (32-byte payloads) appended and fdatasync'ed.
    for entries in [1, 64, 1_024, 8_192] {
        Benchmark(
            "journal append + fdatasync, \(entries) entries a block",
            configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .one, maxDuration: .seconds(3))
        ) { benchmark in
            let directory = NSTemporaryDirectory() + "ledger-bench-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let writer = try JournalWriter.open(.init(directory: directory, segmentBytesTarget: 1 << 30, fsync: .batch))
            var batch = JournalBatch()
            let payload = encoded[0].count >= 32 ? Array(encoded[0].prefix(32)) : [UInt8](repeating: 7, count: 32)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                batch.reset()
                for _ in 0..<entries {
                    let sequence = writer.lastSequence + SequenceNumber(batch.count) + 1
                    batch.append(sequence: sequence, timeNanos: Int64(sequence), payload: payload)
                }
                try writer.append(batch)
            }
        }
    }
}
