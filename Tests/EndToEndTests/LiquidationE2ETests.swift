import Foundation
import Journal
import LedgerClient
import LedgerCore
import LedgerDigest
import Testing

/// Liquidation against the real daemon over TCP: every scenario is sent as commands, and
/// the committed replies and the HTTP views must show the rule book's outcome; the audit
/// of the journal must agree with the daemon's state hash.
@Suite struct LiquidationE2ETests {
    /// USDT and a BTCUSDT with one bracket (MMR 0.5%, 50x), no trading fees, a 0.5%
    /// liquidation fee; prices in 0.01 USDT, quantities in 0.001 BTC; mark 20,000.
    static let genesis: [Command] = [
        .listAsset(Asset(id: 0, name: "USDT", scale: 6)),
        .listSymbol(
            SymbolSpec(
                id: 0, name: "BTCUSDT", settleAsset: 0, priceScale: 2, quantityScale: 3, tickSizePriceUnits: 10,
                lotSizeQuantityUnits: 1, minNotionalMinor: 5_000_000, maxPriceUnits: 100_000_000, maxQuantityUnits: 10_000_000,
                maxPositionQuantityUnits: 100_000_000, maxLeverage: 50, defaultLeverage: 20, makerFeeRateE8: 0, takerFeeRateE8: 0,
                brackets: [MarginBracket(notionalCapMinor: 1 << 60, maintenanceMarginRateE8: 500_000, maxLeverage: 50)],
                liquidationFeeRateE8: 500_000)),
        .setMarkPrice(symbol: 0, priceUnits: 2_000_000),
    ]

    static func deposit(_ account: AccountID, _ usdt: Int64) -> Command {
        .deposit(Transfer(transferID: 100 + account, account: account, asset: 0, amountMinor: usdt * 1_000_000))
    }

    static func limit(_ account: AccountID, _ side: Side, _ price: Int64, _ quantity: Int64) -> Command {
        .placeOrder(
            PlaceOrder(account: account, symbol: 0, side: side, type: .limit, timeInForce: .gtc, priceUnits: price, quantityUnits: quantity)
        )
    }

    /// Account 3 (1,000 USDT, 50x) long 1 BTC at 20,000 from the given sellers.
    static func victim(sellers: [(AccountID, Int64, Int64)]) -> [Command] {
        var commands = genesis + [deposit(3, 1_000), .setLeverage(account: 3, symbol: 0, leverage: 50)]
        for (account, usdt, quantity) in sellers {
            commands += [deposit(account, usdt), limit(account, .sell, 2_000_000, quantity)]
        }
        return commands + [limit(3, .buy, 2_000_000, 1_000)]
    }

    /// Runs the commands on a fresh daemon, then `last`; returns the events of `last` and
    /// of ledgerd's ticks that follow it (the bounded rules liquidate in ticks, never in
    /// the oracle's entry), and the daemon (still running) for further reads.
    static func run(_ commands: [Command], then last: Command) throws -> (events: [Event], daemon: DaemonProcess) {
        let daemon = DaemonProcess()
        try daemon.start()
        let connection = try daemon.connect()
        let replies = try E2EExchange.run(commands + [last], on: connection)
        for (index, reply) in replies.enumerated() {
            guard case .committed = reply else { throw Failure(message: "command \(index) answered \(reply)") }
        }
        guard case .committed(_, let sequence, let own) = replies.last! else { throw Failure(message: "no reply") }
        // The oracle's reply carries its own events only.
        #expect(!own.contains { if case .liquidationTriggered = $0 { true } else { false } }, "\(own)")
        // The tick that follows a command while liquidations wait is journaled before any
        // later request runs; a state query answers once everything before it is durable.
        let through = try daemon.stateHash().sequence
        var events = own
        try JournalReader(directory: daemon.journalDirectory).forEach(upTo: through) { entry in
            guard entry.sequence > sequence else { return }
            let payload = try entry.decodePayload()
            #expect(payload.command == .tick, "entry \(entry.sequence) after the mark price: \(payload.command)")
            events += payload.events
        }
        return (events, daemon)
    }

    struct Failure: Error { var message: String }

    static func auditMatches(_ daemon: DaemonProcess) throws {
        let state = try daemon.stateHash()
        let audit = try runTool("ledger-replay", ["audit", "--data-dir", daemon.dataDirectory, "--json"])
        #expect(audit.status == 0, "\(audit.output)\(audit.error)")
        #expect(audit.output.contains("\"stateHash\":\"\(state.hash)\""), "audit: \(audit.output) daemon: \(state.hash)")
    }

    @Test func aFillBetterThanBankruptcyPaysTheFundAndTheFundTakesTheRest() throws {
        let setup = Self.victim(sellers: [(2, 100_000, 1_000)]) + [Self.deposit(4, 100_000), Self.limit(4, .buy, 1_905_000, 400)]
        let (events, daemon) = try Self.run(setup, then: .setMarkPrice(symbol: 0, priceUnits: 1_909_000))
        defer { daemon.cleanup() }
        #expect(
            events.contains(.liquidationSettled(account: 3, symbol: 0, filledQuantityUnits: 400, feeMinor: 20_000_000, surplusMinor: 0)))
        #expect(
            events.last
                == .insuranceTakeover(
                    account: 3, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 600, realizedPnlMinor: -600_000_000,
                    fundRealizedPnlMinor: 0))
        #expect(try daemon.http("GET", "/v1/insuranceFund").body.contains(#""balance":"20.000000""#))
        #expect(try daemon.http("GET", "/v1/account?account=3").body.contains(#""walletBalance":"0.000000""#))
        try Self.auditMatches(daemon)
    }

    @Test func aFundedFundTakesOverTheWholePosition() throws {
        let setup =
            Self.victim(sellers: [(2, 100_000, 1_000)])
            + [.depositInsuranceFund(Transfer(transferID: 900, account: 0, asset: 0, amountMinor: 5_000_000_000))]
        let (events, daemon) = try Self.run(setup, then: .setMarkPrice(symbol: 0, priceUnits: 1_800_000))
        defer { daemon.cleanup() }
        #expect(
            events.last
                == .insuranceTakeover(
                    account: 3, symbol: 0, side: .sell, priceUnits: 1_900_000, quantityUnits: 1_000, realizedPnlMinor: -1_000_000_000,
                    fundRealizedPnlMinor: 0))
        // The fund now holds the long it took over, and says so.
        let fund = try daemon.http("GET", "/v1/insuranceFund").body
        #expect(fund.contains(#""positions":[{"entryCost":"#) && fund.contains(#""positionAmt":"1.000""#), "\(fund)")
        #expect(fund.contains(#""markPrice":"18000.00""#) && fund.contains(#""symbol":"BTCUSDT""#), "\(fund)")
        try Self.auditMatches(daemon)
    }

    @Test func anExhaustedFundDeleveragesTheBestRankedShortFirst() throws {
        let setup = Self.victim(sellers: [(2, 100_000, 600), (5, 2_000, 400)])
        let (events, daemon) = try Self.run(setup, then: .setMarkPrice(symbol: 0, priceUnits: 1_800_000))
        defer { daemon.cleanup() }
        let deleveraged = events.compactMap { event -> (AccountID, Int64)? in
            if case .autoDeleveraged(_, let counterparty, _, _, _, let quantity, _, _) = event { (counterparty, quantity) } else { nil }
        }
        // Account 5 (2,000 USDT for 0.4 BTC) has the higher effective leverage.
        #expect(deleveraged.map(\.0) == [5, 2])
        #expect(deleveraged.map(\.1) == [400, 600])
        #expect(try daemon.http("GET", "/v1/account?account=5").body.contains(#""walletBalance":"2400.000000""#))
        try Self.auditMatches(daemon)
    }

    @Test func aLiquidationCascadesAcrossTwoAccounts() throws {
        let setup =
            Self.victim(sellers: [(2, 100_000, 1_000)])
            + [
                Self.deposit(6, 500), .setLeverage(account: 6, symbol: 0, leverage: 50), Self.limit(6, .buy, 1_950_000, 1_000),
                Self.deposit(4, 100_000), Self.limit(4, .buy, 1_905_000, 400),
            ]
        let (events, daemon) = try Self.run(setup, then: .setMarkPrice(symbol: 0, priceUnits: 1_909_000))
        defer { daemon.cleanup() }
        let triggered = events.compactMap { event -> AccountID? in
            if case .liquidationTriggered(let account, _, _, _, _) = event { account } else { nil }
        }
        #expect(triggered == [3, 6])
        #expect(try daemon.http("GET", "/v1/insuranceFund").body.contains(#""balance":"520.000000""#))
        try Self.auditMatches(daemon)
    }
}
