import LedgerCore

/// The listings `ledger-load --setup` and the benchmarks create: USDT (6 decimals) and two linear
/// perpetuals, BTCUSDT (tick 0.1, lot 0.001) and ETHUSDT (tick 0.01, lot 0.001).
public enum DemoExchange {
    public static let listings: [Command] = [
        .listAsset(Asset(id: 0, name: "USDT", scale: 6)),
        .listSymbol(
            SymbolSpec(
                id: 0, name: "BTCUSDT", settleAsset: 0, priceScale: 1, quantityScale: 3, tickSizePriceUnits: 1,
                lotSizeQuantityUnits: 1, minNotionalMinor: 5_000_000, maxPriceUnits: 10_000_000,
                maxQuantityUnits: 1_000_000, maxPositionQuantityUnits: 10_000_000, maxLeverage: 125,
                defaultLeverage: 20, makerFeeRateE8: 20_000, takerFeeRateE8: 50_000)),
        .listSymbol(
            SymbolSpec(
                id: 1, name: "ETHUSDT", settleAsset: 0, priceScale: 2, quantityScale: 3, tickSizePriceUnits: 1,
                lotSizeQuantityUnits: 1, minNotionalMinor: 5_000_000, maxPriceUnits: 100_000_000,
                maxQuantityUnits: 10_000_000, maxPositionQuantityUnits: 100_000_000, maxLeverage: 100,
                defaultLeverage: 10, makerFeeRateE8: 20_000, takerFeeRateE8: 50_000)),
    ]

    /// Binance's USDⓈ-M BTCUSDT leverage brackets in USDT minor units (scale 6): caps 50k,
    /// 250k, 1M, 10M, 20M, 50M, 100M, 200M, 300M, 500M; MMR 0.4% ... 50%; leverage 125 ... 1.
    public static let binanceBTCUSDTBrackets: [MarginBracket] = {
        let caps: [Int64] = [
            50_000, 250_000, 1_000_000, 10_000_000, 20_000_000, 50_000_000, 100_000_000, 200_000_000, 300_000_000, 500_000_000,
        ]
        let ratesE8: [Int64] = [
            400_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 12_500_000, 15_000_000, 25_000_000, 50_000_000,
        ]
        let leverages: [UInt16] = [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]
        return caps.indices.map {
            MarginBracket(notionalCapMinor: caps[$0] * 1_000_000, maintenanceMarginRateE8: ratesE8[$0], maxLeverage: leverages[$0])
        }
    }()

    /// Starting mark prices in price units: 50,000.0 and 3,000.00.
    public static let startingMarks: [Int64] = [500_000, 300_000]

    /// Listings, a deposit of 1,000,000 USDT for accounts 1...`accounts` (transfer id =
    /// account id, so a rerun replays them) and the starting mark prices.
    public static func setupCommands(accounts: Int) -> [Command] {
        var commands = listings
        for account in 1...UInt64(accounts) {
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
        }
        for (symbol, mark) in startingMarks.enumerated() {
            commands.append(.setMarkPrice(symbol: SymbolID(symbol), priceUnits: mark))
        }
        return commands
    }

    /// `count` resting orders away from the touch (buys 1–5% under the starting mark,
    /// sells 1–5% over, 2–6 lots: an ETHUSDT lot is under its 5 USDT minimum notional) from accounts drawn from 1...`accounts`, alternating
    /// BTCUSDT and ETHUSDT: a deep book at exchange scale (`ledger-load --setup --resting`).
    public static func restingOrders(count: Int, accounts: Int, seed: UInt64 = 8) -> [Command] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { index in
            let symbol = index % startingMarks.count
            let side: Side = (index / startingMarks.count) % 2 == 0 ? .buy : .sell
            let mark = startingMarks[symbol]
            let away = mark / 100 + Int64(random.next() % UInt64(mark / 25))
            return .placeOrder(
                PlaceOrder(
                    account: random.next() % UInt64(accounts) + 1, symbol: SymbolID(symbol), side: side, type: .limit,
                    timeInForce: .gtc, priceUnits: side == .buy ? mark - away : mark + away,
                    quantityUnits: Int64(2 + random.next() % 5)))
        }
    }

    /// After the listings and a BTCUSDT mark of 50,000.0: `shorts` accounts from
    /// `firstShort` each offer one lot at 50,000.0; `whale` buys nearly all of them at 100x
    /// with just enough margin, 32 makers an order. A mark of 40,000.0 then takes the whale
    /// past its bankruptcy price with an empty fund and no bids: ADL against every short
    /// (the tests of ADL in bounded steps).
    public static func whaleCommands(shorts: Int, whale: AccountID = 1, firstShort: AccountID = 100_000) -> [Command] {
        var commands: [Command] = []
        for index in 0..<shorts {
            let account = firstShort + AccountID(index)
            commands.append(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000)))
            commands.append(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: .sell, type: .limit, timeInForce: .gtc, priceUnits: 500_000, quantityUnits: 1)
                ))
        }
        commands.append(.deposit(Transfer(transferID: whale, account: whale, asset: 0, amountMinor: Int64(shorts) * 600_000)))
        commands.append(.setLeverage(account: whale, symbol: 0, leverage: 100))
        for _ in 0..<(shorts + 31) / 32 {
            commands.append(
                .placeOrder(
                    PlaceOrder(account: whale, symbol: 0, side: .buy, type: .market, timeInForce: .ioc, priceUnits: 0, quantityUnits: 32)))
        }
        return commands
    }
}

/// SplitMix64: seeded, so a run's order flow is reproducible.
public struct SeededRandom: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Realistic order flow for a set of accounts: limit orders around a drifting mid (some
/// crossing), cancels of the accounts' own resting orders, market orders and mark-price
/// updates.
public struct OrderFlowGenerator {
    public var random: SeededRandom
    public let accounts: [AccountID]
    public var mids = DemoExchange.startingMarks
    /// Recently rested orders (account, id), cancelled from here.
    public var resting: [(account: AccountID, order: OrderID)] = []

    public init(seed: UInt64, accounts: [AccountID]) {
        random = SeededRandom(seed: seed)
        self.accounts = accounts
    }

    public mutating func next() -> Command {
        let symbol = SymbolID(random.next() % 2)
        mids[Int(symbol)] = max(10_000, mids[Int(symbol)] + Int64.random(in: -2...2, using: &random))
        let mid = mids[Int(symbol)]
        let account = accounts[Int(random.next() % UInt64(accounts.count))]
        let roll = random.next() % 100
        switch roll {
        case 0..<55:
            let side: Side = random.next() % 2 == 0 ? .buy : .sell
            let offset = Int64.random(in: -15...80, using: &random)
            let price = side == .buy ? mid - offset : mid + offset
            let tif: TimeInForce = roll < 50 ? .gtc : .ioc
            return .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .limit, timeInForce: tif, priceUnits: price,
                    quantityUnits: Int64.random(in: 1...200, using: &random)))
        case 55..<63:
            return .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: random.next() % 2 == 0 ? .buy : .sell, type: .market,
                    timeInForce: .ioc, priceUnits: 0, quantityUnits: Int64.random(in: 1...50, using: &random)))
        case 63..<97 where !resting.isEmpty:
            let index = Int(random.next() % UInt64(resting.count))
            let pick = resting[index]
            resting[index] = resting[resting.count - 1]
            resting.removeLast()
            return .cancelOrder(CancelOrder(account: pick.account, orderID: pick.order))
        default:
            return .setMarkPrice(symbol: symbol, priceUnits: mid + Int64.random(in: -5...5, using: &random))
        }
    }

    public mutating func noteRested(account: AccountID, order: OrderID) {
        if resting.count >= 50_000 { resting.removeFirst(10_000) }
        resting.append((account, order))
    }
}
