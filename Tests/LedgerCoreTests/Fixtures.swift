import LedgerClient
import LedgerCore

/// A small exchange used across the tests: USDT with 6 decimals, BTCUSDT and ETHUSDT.
///
/// BTCUSDT: prices in 0.1 USDT (tick 0.1), quantities in 0.001 BTC (lot 0.001), so a
/// notional is price units × quantity units × 100 micro-USDT. Fees: maker 0.02%, taker 0.05%.
enum TestExchange {
    static let usdt: AssetID = 0
    static let btc: AssetID = 1
    static let btcusdt: SymbolID = 0
    static let ethusdt: SymbolID = 1

    static let genesis: [Command] = [
        .listAsset(Asset(id: 0, name: "USDT", scale: 6)),
        .listAsset(Asset(id: 1, name: "BTC", scale: 8)),
        DemoExchange.listings[1],  // BTCUSDT: maker 0.02%, taker 0.05%
        .listSymbol(
            SymbolSpec(
                id: 1, name: "ETHUSDT", settleAsset: 0, priceScale: 2, quantityScale: 3, tickSizePriceUnits: 1,
                lotSizeQuantityUnits: 1, minNotionalMinor: 5_000_000, maxPriceUnits: 100_000_000,
                maxQuantityUnits: 1_000_000, maxPositionQuantityUnits: 10_000_000, maxLeverage: 100,
                defaultLeverage: 10, makerFeeRateE8: -10_000, takerFeeRateE8: 40_000)),
    ]
}

/// Runs commands through an engine with consecutive sequence numbers and a fake clock.
struct EngineHarness {
    var state = ExchangeState()
    var journal: [(command: Command, events: [Event])] = []
    /// The time each journaled command was stamped with.
    var times: [Int64] = []
    private var scratch: [Event] = []

    init(genesis: Bool = true) {
        if genesis {
            for command in TestExchange.genesis { run(command) }
        }
    }

    /// Runs a command stamped `time` (default: the sequence number in microseconds).
    @discardableResult
    mutating func run(_ command: Command, at time: Int64? = nil) -> [Event] {
        scratch.removeAll(keepingCapacity: true)
        let sequence = state.lastSequence + 1
        let stamp = time ?? Int64(sequence) * 1_000
        state.execute(command, sequence: sequence, timeNanos: stamp, into: &scratch)
        journal.append((command, scratch))
        times.append(stamp)
        return scratch
    }

    mutating func deposit(_ account: AccountID, _ amountMinor: Int64, transfer: TransferID? = nil) {
        run(.deposit(Transfer(transferID: transfer ?? (1_000_000 + account), account: account, asset: 0, amountMinor: amountMinor)))
    }

    @discardableResult
    mutating func limit(
        _ account: AccountID, _ side: Side, price: Int64, quantity: Int64, tif: TimeInForce = .gtc,
        symbol: SymbolID = 0, client: ClientOrderID = 0
    ) -> [Event] {
        run(
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .limit, timeInForce: tif, priceUnits: price,
                    quantityUnits: quantity, clientOrderID: client)))
    }

    @discardableResult
    mutating func market(_ account: AccountID, _ side: Side, quantity: Int64, symbol: SymbolID = 0) -> [Event] {
        run(
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: .market, timeInForce: .ioc, priceUnits: 0,
                    quantityUnits: quantity)))
    }
}

extension EngineHarness {
    /// Runs a command as ledgerd's sequencer would under the bounded rules: a tick first
    /// when a funding settlement is due at its time, `settleFunding` before a withdrawal of
    /// an account that owes, then the command, then one tick while work is in progress.
    /// Returns the command's own events (its reply).
    @discardableResult
    mutating func sequenced(_ command: Command, at time: Int64) -> [Event] {
        if state.fundingSettlementDue(atTimeNanos: time) { run(.tick, at: time) }
        if case .withdraw(let transfer) = command, state.owesFunding(account: transfer.account) {
            run(.settleFunding(account: transfer.account), at: time)
        }
        let own = run(command, at: time)
        if state.hasSystemWork { run(.tick, at: time) }
        return own
    }
}
