import Foundation
import Journal
import LedgerClient
import LedgerCore

/// A fixed history that uses the rule book — listings with brackets, band and funding, an
/// idempotency window, the insurance fund, isolated margin, index and premium, funding
/// settled, every order kind, amend, cancel-all, self-trade prevention and a liquidation —
/// for the fixtures of state encoding 2 and the rule book's journal entries.
enum RuleBookScenario {
    static let start: Int64 = 1_764_000_000 * 1_000_000_000

    static let commands: [Command] = {
        guard case .listSymbol(var btc) = DemoExchange.listings[1] else { preconditionFailure("listings moved") }
        btc.brackets = DemoExchange.binanceBTCUSDTBrackets
        btc.priceBandRateE8 = 5_000_000
        (btc.fundingIntervalSeconds, btc.fundingInterestRateE8, btc.fundingClampRateE8, btc.fundingCapRateE8) = (
            3_600, 10_000, 50_000, 750_000
        )
        btc.liquidationFeeRateE8 = 500_000
        func order(
            _ account: AccountID, _ side: Side, _ type: OrderType, price: Int64 = 0, quantity: Int64, stop: Int64 = 0,
            reduceOnly: Bool = false, stp: SelfTradePrevention = .expireTaker, callback: Int64 = 0, client: ClientOrderID = 0
        ) -> Command {
            .placeOrder(
                PlaceOrder(
                    account: account, symbol: 0, side: side, type: type, timeInForce: type.hasLimitPrice ? .gtc : .ioc, priceUnits: price,
                    quantityUnits: quantity, clientOrderID: client, stopPriceUnits: stop, workingType: .markPrice, reduceOnly: reduceOnly,
                    selfTradePrevention: stp, callbackRateE8: callback))
        }
        var commands: [Command] = [
            DemoExchange.listings[0], .listSymbol(btc),
            .setIdempotencyWindow(IdempotencyWindow(transferSeconds: 86_400, clientOrderSeconds: 3_600, maxRecords: 1_000)),
            .depositInsuranceFund(Transfer(transferID: 1, account: 0, asset: 0, amountMinor: 10_000_000_000)),
            .setMarkPrice(symbol: 0, priceUnits: 500_000), .setIndexPrice(symbol: 0, priceUnits: 499_900),
        ]
        for account in 1...4 as ClosedRange<UInt64> {
            let usdt: Int64 = account == 3 ? 1_000 : 100_000
            commands.append(.deposit(Transfer(transferID: 10 + account, account: account, asset: 0, amountMinor: usdt * 1_000_000)))
        }
        commands += [
            .setMarginMode(account: 4, symbol: 0, isolated: true), .setLeverage(account: 3, symbol: 0, leverage: 50),
            .setLeverage(account: 4, symbol: 0, leverage: 25),
            order(2, .sell, .limit, price: 500_000, quantity: 1_000, client: 1),
            order(3, .buy, .limit, price: 500_000, quantity: 400),  // 0.4 BTC at 50,000 on 1,000 USDT
            order(4, .buy, .limit, price: 500_000, quantity: 300),  // isolated
            .adjustIsolatedMargin(account: 4, symbol: 0, amountMinor: 200_000_000),
            order(1, .buy, .limit, price: 495_000, quantity: 500, client: 2),
            .amendOrder(AmendOrder(account: 1, clientOrderID: 2, priceUnits: 495_000, quantityUnits: 400)),
            .amendOrder(AmendOrder(account: 1, clientOrderID: 2, priceUnits: 496_000, quantityUnits: 400)),
            order(4, .sell, .stopMarket, quantity: 300, stop: 480_000, reduceOnly: true),
            order(3, .sell, .trailingStopMarket, quantity: 400, reduceOnly: true, callback: 5_000_000),
            order(2, .sell, .limit, price: 505_000, quantity: 100, client: 3),
            order(2, .buy, .limit, price: 506_000, quantity: 100, stp: .expireMaker),
            .addPremiumSample(symbol: 0, premiumE8: 20_000), .setFundingRate(symbol: 0, rateE8: 10_000),
            .setMarkPrice(symbol: 0, priceUnits: 501_000),  // the funding time passes before this one
            order(1, .sell, .limit, price: 510_000, quantity: 50), .cancelAllOrders(account: 1, symbol: 0),
            .setMarkPrice(symbol: 0, priceUnits: 476_000),  // account 3 is liquidated
            .withdraw(Transfer(transferID: 20, account: 2, asset: 0, amountMinor: 1_000_000_000)),
            .setMarkPrice(symbol: 0, priceUnits: 479_000),  // account 4's stop fires
            .withdraw(Transfer(transferID: 21, account: 2, asset: 0, amountMinor: -1)),  // rejected
        ]
        return commands
    }()

    /// Journal time of an entry: 100 ms apart, and an hour later from the first mark
    /// price after the funding rate (so that funding settles).
    static func time(_ sequence: SequenceNumber) -> Int64 {
        let fundingCommand = commands.firstIndex { if case .setFundingRate = $0 { true } else { false } }! + 2
        return start + Int64(sequence) * 100_000_000 + (Int(sequence) >= fundingCommand ? 3_600_000_000_000 : 0)
    }

    /// Executes the scenario into a journal; returns the final state and chain.
    static func run(journalDirectory: String) throws -> (ExchangeState, [UInt8]) {
        try Scenario.write(commands, journalDirectory: journalDirectory, perBlock: 5, segmentBytes: 512, time: time)
    }
}
