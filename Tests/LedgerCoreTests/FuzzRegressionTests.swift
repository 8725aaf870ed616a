import Foundation
import LedgerClient
import Testing

@testable import LedgerCore

/// Every input the fuzzers (scripts/fuzz.sh) and the domain property tests found, kept as a
/// test for ever. Each once broke "what decodes encodes back to the same bytes" or trapped.
@Suite struct FuzzRegressionTests {
    static let regressions: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures/fuzz/regressions").path
    }()

    /// FuzzWireFrame: a plain limit order in the rule-book layout (tag 16) decoded, then
    /// encoded as tag 6. One value, one encoding: tag 16 with no rule-book term is refused.
    @Test func aPlainOrderInTheRuleBookLayoutIsRefused() throws {
        let plain = PlaceOrder(account: 3, symbol: 0, side: .buy, type: .limit, timeInForce: .gtc, priceUnits: 0, quantityUnits: 26)
        var writer = ByteWriter()
        writer.u8(16)
        writer.varint(plain.account)
        writer.varint(UInt64(plain.symbol))
        for byte: UInt8 in [0, 0, 0, 0, 0, 0] { writer.u8(byte) }  // side, type, tif, working type, STP, flags
        for value: Int64 in [plain.priceUnits, plain.quantityUnits] { writer.zigzag(value) }
        writer.varint(0)
        for _ in 0..<3 { writer.zigzag(0) }
        var reader = ByteReader(writer.bytes)
        #expect(throws: CodecError.outOfRange(field: "order layout (no rule-book terms: tag 6)", offset: 0)) {
            _ = try Command.decode(from: &reader)
        }
        // The same order with one rule-book term is tag 16 and round-trips.
        var reduceOnly = plain
        reduceOnly.reduceOnly = true
        var encoded = ByteWriter()
        Command.placeOrder(reduceOnly).encode(to: &encoded)
        #expect(encoded.bytes.first == 16)
        var back = ByteReader(encoded.bytes)
        #expect(try Command.decode(from: &back) == .placeOrder(reduceOnly))
    }

    /// FuzzWireFrame: a cross liquidation (no isolated symbol) with a symbol byte of 19 in a
    /// committed frame decoded, then encoded with symbol 0.
    @Test func aCrossLiquidationMustCarrySymbolZero() throws {
        var writer = ByteWriter()
        writer.u8(22)
        writer.varint(2)  // account
        writer.varint(19)  // asset
        writer.u8(0)  // cross
        writer.varint(19)  // symbol: must be 0
        writer.zigzag(-2)
        writer.zigzag(1)
        var reader = ByteReader(writer.bytes)
        #expect(throws: CodecError.outOfRange(field: "symbol of a cross liquidation", offset: 4)) { _ = try Event.decode(from: &reader) }
    }

    /// FuzzSnapshot: a state body whose market has no funding override (flag 0) but a
    /// value of 9 decoded, then encoded with 0.
    @Test func aStateWithoutAFundingOverrideMustWriteZero() throws {
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.regressions + "/FuzzSnapshot-funding-override")))
        #expect(input.first == 2)
        var reader = ByteReader(Array(input.dropFirst()))
        #expect(throws: CodecError.outOfRange(field: "funding override", offset: 132)) {
            _ = try ExchangeState.decodeCanonical(from: &reader, version: 2, sequence: 1, timeNanos: 0)
        }
    }

    /// Domain property tests: three deposits of 2^62 into three accounts overflowed the
    /// external account (minus all deposits) and trapped the engine.
    @Test func depositsCannotOverflowTheExternalAccount() {
        var state = ExchangeState()
        var events: [Event] = []
        func run(_ command: Command) -> [Event] {
            events.removeAll()
            state.execute(command, sequence: state.lastSequence + 1, timeNanos: Int64(state.lastSequence + 1) * 1_000, into: &events)
            return events
        }
        _ = run(DemoExchange.listings[0])
        let most = Limits.balanceMagnitudeMax
        #expect(
            run(.deposit(Transfer(transferID: 1, account: 1, asset: 0, amountMinor: most))) == [
                .deposited(account: 1, asset: 0, amountMinor: most)
            ])
        #expect(run(.deposit(Transfer(transferID: 2, account: 2, asset: 0, amountMinor: 1))) == [.rejected(.balanceLimit, detail: 0)])
        #expect(
            run(.withdraw(Transfer(transferID: 3, account: 1, asset: 0, amountMinor: 5))) == [
                .withdrawn(account: 1, asset: 0, amountMinor: 5)
            ])
        #expect(
            run(.deposit(Transfer(transferID: 4, account: 2, asset: 0, amountMinor: 5))) == [
                .deposited(account: 2, asset: 0, amountMinor: 5)
            ])
        #expect(state.systemBalance(.external, asset: 0) == -most)
        #expect(
            run(.depositInsuranceFund(Transfer(transferID: 5, account: 0, asset: 0, amountMinor: 1))) == [
                .rejected(.balanceLimit, detail: 0)
            ])
        #expect(state.invariantViolation() == nil)
    }
}

/// Found by the domain property tests and FuzzSnapshot once a symbol with funding took
/// part: abs(Int64.min) trapped on an oracle's funding rate or premium, a bracket's
/// maintenance rate times its leverage overflowed, and so did max price × max position ×
/// the notional factor, three Int64 multiplied in Int128. Each is now a rejection.
@Suite struct EdgeValueRegressionTests {
    @Test func edgeValuesAreRejectedNotTrapped() {
        var state = ExchangeState()
        var events: [Event] = []
        func run(_ command: Command) -> [Event] {
            events.removeAll()
            state.execute(command, sequence: state.lastSequence + 1, timeNanos: Int64(state.lastSequence + 1) * 1_000, into: &events)
            return events
        }
        guard case .listSymbol(var spec) = DemoExchange.listings[1] else { preconditionFailure("listings moved") }
        spec.fundingIntervalSeconds = 3_600
        spec.fundingCapRateE8 = 750_000
        _ = run(DemoExchange.listings[0])
        #expect(run(.listSymbol(spec)) == [.symbolListed(0)])
        for command: Command in [
            .setFundingRate(symbol: 0, rateE8: .min), .addPremiumSample(symbol: 0, premiumE8: .min),
            .setFundingRate(symbol: 0, rateE8: .max), .addPremiumSample(symbol: 0, premiumE8: .max),
        ] {
            #expect(run(command) == [.rejected(.invalidRate, detail: 0)], "\(command)")
        }
        var listing = spec
        listing.id = 1
        listing.name = "ETHUSDT"
        for change: (inout SymbolSpec) -> Void in [
            { $0.brackets = [MarginBracket(notionalCapMinor: 1 << 40, maintenanceMarginRateE8: .max, maxLeverage: $0.maxLeverage)] },
            { $0.makerFeeRateE8 = .min }, { $0.fundingInterestRateE8 = .min },
            { ($0.maxPriceUnits, $0.maxPositionQuantityUnits, $0.contractMultiplier) = (.max, .max, .max / 1_000) },
        ] {
            var bad = listing
            change(&bad)
            #expect(run(.listSymbol(bad)) == [.rejected(.invalidListing, detail: 0)])
        }
        #expect(state.invariantViolation() == nil)
    }
}
