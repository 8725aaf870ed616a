import LedgerClient
import LedgerCore
import LedgerDigest

/// Real commands, entries and states for seed corpora and for the targets that execute
/// what they decode: the demo exchange with a short seeded flow.
public enum Samples {
    /// Listings, deposits for 8 accounts, mark prices, then `count` commands of the flow.
    public static func commands(count: Int = 300) -> [Command] {
        var commands = DemoExchange.setupCommands(accounts: 8)
        commands += [
            .listSymbol(ruleBookListing), .setMarkPrice(symbol: 2, priceUnits: 500_000), .setIndexPrice(symbol: 2, priceUnits: 499_000),
        ]
        var flow = OrderFlowGenerator(seed: 7, accounts: Array(1...8))
        for _ in 0..<count { commands.append(flow.next()) }
        return commands
    }

    /// Every command above with the events it caused.
    public static func entries(count: Int = 300) -> (state: ExchangeState, entries: [EntryPayload]) {
        var state = ExchangeState()
        var entries: [EntryPayload] = []
        var events: [Event] = []
        for command in commands(count: count) {
            events.removeAll()
            state.execute(
                command, sequence: state.lastSequence + 1, timeNanos: 1_700_000_000_000_000_000 + Int64(entries.count), into: &events)
            entries.append(EntryPayload(command: command, events: events))
        }
        return (state, entries)
    }

    /// The state after the listings, deposits and marks: what executing targets start from.
    public static let genesis: ExchangeState = entries(count: 0).state

    public static func encoded(_ command: Command) -> [UInt8] {
        var writer = ByteWriter()
        command.encode(to: &writer)
        return writer.bytes
    }

    public static func encoded(_ entry: EntryPayload) -> [UInt8] {
        var writer = ByteWriter()
        EntryPayload.encode(command: entry.command, events: entry.events, to: &writer)
        return writer.bytes
    }

    /// One of each command kind, for corpora.
    public static let kinds: [Command] = [
        .listAsset(Asset(id: 1, name: "BTC", scale: 8)),
        .setLeverage(account: 1, symbol: 0, leverage: 10),
        .setIndexPrice(symbol: 0, priceUnits: 499_000), .setFundingRate(symbol: 0, rateE8: 10_000),
        .addPremiumSample(symbol: 0, premiumE8: -500), .setMarginMode(account: 2, symbol: 1, isolated: true),
        .adjustIsolatedMargin(account: 2, symbol: 1, amountMinor: -5_000),
        .depositInsuranceFund(Transfer(transferID: 77, account: 0, asset: 0, amountMinor: 1_000)),
        .amendOrder(AmendOrder(account: 1, orderID: 3, priceUnits: 500_100, quantityUnits: 4)),
        .cancelAllOrders(account: 1, symbol: 0),
        .setIdempotencyWindow(IdempotencyWindow(transferSeconds: 60, clientOrderSeconds: 60, maxRecords: 10)),
        .placeOrder(
            PlaceOrder(
                account: 3, symbol: 0, side: .sell, type: .trailingStopMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 5,
                workingType: .markPrice, reduceOnly: true, callbackRateE8: 1_000_000)),
        .placeOrder(
            PlaceOrder(
                account: 3, symbol: 0, side: .buy, type: .stopLimit, timeInForce: .gtc, priceUnits: 501_000, quantityUnits: 5,
                stopPriceUnits: 500_900, selfTradePrevention: .expireBoth)),
        .entryExcised(originalPayloadSHA256: Array(repeating: 7, count: 32)),
        .setWorldLimits(.standard),
        .tick,
        .settleFunding(account: 1),
        .listSymbol(ruleBookListing),
    ]

    /// A listing with brackets, band and funding every hour (tag 9), as symbol 2.
    public static var ruleBookListing: SymbolSpec {
        guard case .listSymbol(var spec) = DemoExchange.listings[1] else { preconditionFailure("listings moved") }
        spec.id = 2
        spec.name = "SOLUSDT"
        spec.brackets = DemoExchange.binanceBTCUSDTBrackets
        spec.priceBandRateE8 = 5_000_000
        (spec.fundingIntervalSeconds, spec.fundingCapRateE8) = (3_600, 750_000)
        return spec
    }
}
