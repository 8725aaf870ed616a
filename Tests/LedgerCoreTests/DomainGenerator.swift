import LedgerClient
import LedgerCore

/// Commands with every field drawn from the edges of its domain and beyond (0, 1, max,
/// max + 1, 2^63, negative, empty and 65-byte names, non-ASCII), mixed with sane commands
/// so that the state grows: accounts, positions, resting and conditional orders. Seeded,
/// so a failing seed replays exactly.
struct DomainGenerator {
    var random: SeededRandom

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    mutating func roll(_ count: UInt64) -> UInt64 { random.next() % count }
    mutating func chance(_ percent: UInt64) -> Bool { roll(100) < percent }
    mutating func pick<T>(_ values: [T]) -> T { values[Int(roll(UInt64(values.count)))] }

    // MARK: Field values

    static let idEdges: [UInt64] = [0, 1, 2, 3, Limits.idMax - 1, Limits.idMax, Limits.idMax + 1, UInt64.max - 1, UInt64.max]

    mutating func id() -> UInt64 {
        switch roll(10) {
        case 0..<5: 1 + roll(8)
        case 5..<8: pick(Self.idEdges)
        default: random.next()
        }
    }

    static let clientOrderIDEdges: [String] = [
        "0", "00", "01", "1", "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
        String(repeating: "9", count: 36), String(repeating: "z", count: 36), "-", ".", ":", "/", "_", "A", "a-B_c.D:e/9",
    ]
    static let clientOrderIDCharacters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/_-".utf8)

    /// A client order id (never none): small numbers, numbers at the edges of the numeric
    /// layout, text of 1 … 36 characters.
    mutating func clientOrderID() -> ClientOrderID {
        switch roll(10) {
        case 0..<4: return ClientOrderID(1 + roll(8))
        case 4..<6: return ClientOrderID(text: pick(Self.clientOrderIDEdges))!
        case 6..<7: return ClientOrderID(id())
        default:
            let length = Int(1 + roll(36))
            return ClientOrderID(bytes: (0..<length).map { _ in pick(Self.clientOrderIDCharacters) })!
        }
    }

    mutating func account() -> AccountID { chance(80) ? 1 + roll(8) : id() }

    static let valueEdges: [Int64] = [
        0, 1, -1, 2, -2, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, 1 << 62, (1 << 62) + 1, -(1 << 62), -(1 << 62) - 1,
        1 << 31, 1 << 32, 100_000_000, 100_000_001, 10_000_000, 10_000_001, 1_000_000, 1_000_001,
    ]

    mutating func value() -> Int64 {
        switch roll(10) {
        case 0..<6: pick(Self.valueEdges)
        case 6..<8: Int64.random(in: -1_000...1_000, using: &random)
        default: Int64(bitPattern: random.next())
        }
    }

    mutating func price() -> Int64 { chance(70) ? 490_000 + Int64(roll(20_001)) : value() }
    mutating func quantity() -> Int64 { chance(70) ? 1 + Int64(roll(50)) : value() }
    mutating func rate() -> Int64 { chance(60) ? Int64(roll(200_001)) - 100_000 : value() }

    mutating func u16() -> UInt16 {
        chance(60) ? UInt16(1 + roll(130)) : pick([0, 1, 124, 125, 126, 1_000, UInt16.max])
    }

    mutating func u8() -> UInt8 { pick([0, 1, 2, 6, 8, 17, 18, 19, 100, 255]) }

    static let nameEdges: [String] = [
        "", "A", "BTC", "USDT", "BTCUSDT", String(repeating: "X", count: 16), String(repeating: "X", count: 17),
        String(repeating: "Y", count: 64), String(repeating: "Z", count: 65), String(repeating: "W", count: 300), "BTC€", "B C",
        "\u{0}", "ÿ", "TAB\t", "NEW\nLINE", "\u{7F}", "ü", "🚀", "~!#", "\"Q\"",
    ]

    mutating func name() -> String {
        if chance(70) { return pick(Self.nameEdges) }
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<(1 + roll(20))).map { _ in letters[Int(roll(UInt64(letters.count)))] })
    }

    mutating func symbol() -> SymbolID { chance(90) ? SymbolID(roll(3)) : pick([3, 255, 256, UInt16.max]) }
    mutating func asset() -> AssetID { chance(90) ? AssetID(roll(3)) : pick([3, 63, 64, UInt16.max]) }
    mutating func side() -> Side { chance(50) ? .buy : .sell }

    mutating func brackets() -> [MarginBracket]? {
        if chance(30) { return nil }
        let count = pick([0, 1, 2, 3, 16, 17, 40])
        var cap: Int64 = 0
        return (0..<count).map { index in
            cap &+= chance(90) ? 1_000_000_000 : value()
            return MarginBracket(
                notionalCapMinor: chance(90) ? cap : value(),
                maintenanceMarginRateE8: chance(80) ? Int64(index) * 100_000 : value(),
                maxLeverage: chance(80) ? UInt16(max(1, 125 - index * 5)) : u16())
        }
    }

    mutating func symbolSpec() -> SymbolSpec {
        let sane = chance(50)
        return SymbolSpec(
            id: chance(70) ? 2 : symbol(), name: chance(40) ? "SOL" + String(roll(1_000)) : name(), settleAsset: chance(80) ? 0 : asset(),
            priceScale: sane ? 2 : u8(), quantityScale: sane ? 2 : u8(), tickSizePriceUnits: sane ? 1 : value(),
            lotSizeQuantityUnits: sane ? 1 : value(), contractMultiplier: sane ? 1 : value(),
            minNotionalMinor: sane ? 1_000_000 : value(), maxPriceUnits: sane ? 10_000_000 : value(),
            maxQuantityUnits: sane ? 1_000_000 : value(), maxPositionQuantityUnits: sane ? 10_000_000 : value(),
            maxLeverage: sane ? 50 : u16(), defaultLeverage: sane ? 10 : u16(), makerFeeRateE8: sane ? 20_000 : value(),
            takerFeeRateE8: sane ? 50_000 : value(), brackets: brackets(), priceBandRateE8: chance(70) ? 0 : rate(),
            fundingIntervalSeconds: chance(80) ? 0 : pick([1, 60, 28_800, 604_800, 604_801, -1, Int64.max]),
            fundingInterestRateE8: chance(70) ? 0 : rate(), fundingClampRateE8: chance(70) ? 0 : rate(),
            fundingCapRateE8: chance(70) ? 0 : rate(), liquidationFeeRateE8: chance(70) ? 0 : rate())
    }

    mutating func transfer(insurance: Bool = false) -> Transfer {
        Transfer(
            transferID: chance(80) ? 1 + roll(200) : id(), account: insurance && chance(70) ? 0 : account(),
            asset: chance(85) ? 0 : asset(), amountMinor: chance(60) ? Int64(1 + roll(1_000_000_000_000)) : value())
    }

    mutating func placeOrder() -> PlaceOrder {
        let type: OrderType = chance(60) ? .limit : pick(OrderType.allCases)
        return PlaceOrder(
            account: account(), symbol: symbol(), side: side(), type: type,
            timeInForce: chance(70) ? .gtc : pick(TimeInForce.allCases), priceUnits: type == .market && chance(70) ? 0 : price(),
            quantityUnits: quantity(), clientOrderID: chance(60) ? .none : clientOrderID(),
            stopPriceUnits: type.isConditional && chance(80) ? price() : (chance(80) ? 0 : value()),
            workingType: pick(WorkingType.allCases), reduceOnly: chance(15), closePosition: chance(5),
            selfTradePrevention: pick(SelfTradePrevention.allCases),
            callbackRateE8: type == .trailingStopMarket && chance(70)
                ? pick([100_000, 1_000_000, 10_000_000]) : (chance(80) ? 0 : value()),
            activationPriceUnits: chance(80) ? 0 : price())
    }

    /// One command: sane traffic most of the time, edges the rest.
    mutating func command() -> Command {
        switch roll(100) {
        case 0..<3: return .listAsset(Asset(id: chance(60) ? 2 : asset(), name: name(), scale: u8()))
        case 3..<6: return .listSymbol(symbolSpec())
        case 6..<18: return .deposit(transfer())
        case 18..<22: return .withdraw(transfer())
        case 22..<25: return .setLeverage(account: account(), symbol: symbol(), leverage: u16())
        case 25..<55: return .placeOrder(placeOrder())
        case 55..<63:
            return .cancelOrder(
                CancelOrder(account: account(), orderID: chance(70) ? roll(300) : id(), clientOrderID: chance(70) ? .none : clientOrderID())
            )
        case 63..<70: return .setMarkPrice(symbol: symbol(), priceUnits: price())
        case 70..<73: return .setIndexPrice(symbol: symbol(), priceUnits: price())
        case 73..<75: return .setFundingRate(symbol: symbol(), rateE8: rate())
        case 75..<77: return .addPremiumSample(symbol: symbol(), premiumE8: rate())
        case 77..<80: return .setMarginMode(account: account(), symbol: symbol(), isolated: chance(50))
        case 80..<83:
            return .adjustIsolatedMargin(
                account: account(), symbol: symbol(), amountMinor: chance(60) ? Int64(roll(2_000_000_000)) - 1_000_000_000 : value())
        case 83..<85: return .depositInsuranceFund(transfer(insurance: true))
        case 85..<92:
            return .amendOrder(
                AmendOrder(
                    account: account(), orderID: chance(70) ? roll(300) : id(), clientOrderID: chance(70) ? .none : clientOrderID(),
                    priceUnits: price(),
                    quantityUnits: quantity()))
        case 92..<95: return .cancelAllOrders(account: account(), symbol: symbol())
        case 95..<97: return .tick
        case 97: return .settleFunding(account: account())
        case 98:
            // Mostly a small world, so that its limits are reached; sometimes out of range.
            return .setWorldLimits(
                WorldLimits(
                    accountsMax: chance(80) ? Int64(roll(12)) + 1 : value(), restingOrdersMax: chance(80) ? Int64(roll(400)) + 1 : value(),
                    conditionalOrdersMax: chance(80) ? Int64(roll(50)) + 1 : value(),
                    positionsPerAccountMax: chance(80) ? Int64(roll(3)) + 1 : value()))
        default:
            return .setIdempotencyWindow(
                IdempotencyWindow(
                    transferSeconds: chance(50) ? 86_400 : value(), clientOrderSeconds: chance(50) ? 3_600 : value(),
                    maxRecords: chance(50) ? 1_000 : value()))
        }
    }
}
