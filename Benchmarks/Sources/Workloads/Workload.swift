import LedgerClient
import LedgerCore

// The recorded workloads the engine benchmarks and the profiling harness share
// (docs/BENCHMARKS.md).

/// A funded exchange and a stream of realistic commands, executed once to learn which
/// orders rest (so that cancels name real orders) and to record the events.
public struct Workload: Sendable {
    public var genesis: ExchangeState
    public var commands: [Command]
    public var events: [[Event]]

    public static func make(count: Int, accounts: Int = 1_000, seed: UInt64 = 42, ruleBook: Bool = false) -> Workload {
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
    public static func time(_ sequence: SequenceNumber) -> Int64 { Int64(sequence) * 50_000_000 }
}

/// The plain mix (`OrderFlowGenerator`), or with the rule book: Binance's brackets, price
/// bands, hourly funding, accounts on 2,000–51,000 USDT at up to 50x (every fifth isolated),
/// 4% stop-market orders (reduce-only, on mark) and now and then a 3–8% mark swing that
/// liquidates.
public struct RuleBookFlow {
    public var plain: OrderFlowGenerator
    var random: SeededRandom
    let ruleBook: Bool
    let accounts: Int

    public init(seed: UInt64, accounts: Int, ruleBook: Bool) {
        plain = OrderFlowGenerator(seed: seed, accounts: (1...UInt64(accounts)).map { $0 })
        random = SeededRandom(seed: seed ^ 0x5EED)
        self.ruleBook = ruleBook
        self.accounts = accounts
    }

    public static func setupCommands(accounts: Int) -> [Command] {
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

    public mutating func next() -> Command {
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
