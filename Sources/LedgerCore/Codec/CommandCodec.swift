/// Binary encoding of commands (docs/FORMATS.md, "Command"), used in journal entries and
/// in the TCP protocol's request frames.
extension Command {
    /// The most bytes a fixed-shape command takes: a tag, six varints and a byte.
    public static let stagedBytesMax = 64

    /// The fixed-shape commands (all of the order path's) are written through a cursor on
    /// the stack and appended at once, as events are (`ByteWriter.staged`): field by field
    /// into the array, a placed order cost seven appends, each checking the array's
    /// uniqueness and room. The others (names, specs, text ids) go field by field.
    public func encode(to writer: inout ByteWriter) {
        if isFixedShape {
            writer.staged(maxBytes: Self.stagedBytesMax) { _ = encodeFixedShape(to: &$0) }
            return
        }
        switch self {
        case .listAsset(let asset):
            writer.u8(1)
            writer.varint(UInt64(asset.id))
            writer.string(asset.name)
            writer.u8(asset.scale)
        case .listSymbol(let spec):
            // The v1 layout while the spec uses no rule-book terms (docs/FORMATS.md).
            writer.u8(spec.hasLegacyTerms ? 2 : 9)
            spec.encode(to: &writer)
            if !spec.hasLegacyTerms { spec.encodeRuleBookTerms(to: &writer) }
        case .placeOrder(let order) where !order.clientOrderID.isNumeric:
            // A text client order id (issue 10): the tag-16 layout with the id as text.
            writer.u8(24)
            order.encodeRuleBookLayout(to: &writer)
        case .placeOrder(let order):
            writer.u8(16)
            order.encodeRuleBookLayout(to: &writer)
        case .cancelOrder(let cancel):
            writer.u8(25)
            writer.varint(cancel.account)
            writer.varint(cancel.orderID)
            writer.clientOrderIDField(cancel.clientOrderID)
        case .amendOrder(let amend):
            writer.u8(26)
            writer.varint(amend.account)
            writer.varint(amend.orderID)
            writer.clientOrderIDField(amend.clientOrderID)
            writer.zigzag(amend.priceUnits)
            writer.zigzag(amend.quantityUnits)
        case .setIdempotencyWindow(let window):
            writer.u8(19)
            window.encode(to: &writer)
        case .entryExcised(let hash):
            writer.u8(20)
            writer.raw(hash)
        case .setWorldLimits(let limits):
            writer.u8(21)
            limits.encode(to: &writer)
        default:
            preconditionFailure("\(self) has a fixed shape")
        }
    }

    /// True for the commands whose encoding has a fixed shape of at most `stagedBytesMax`
    /// bytes (`encodeFixedShape`): every one of the order path's but a placed order with
    /// rule-book terms, and none with a name, a spec, a text client order id or a hash.
    public var isFixedShape: Bool {
        switch self {
        case .listAsset, .listSymbol, .setIdempotencyWindow, .entryExcised, .setWorldLimits: false
        case .placeOrder(let order): order.clientOrderID.isNumeric && order.isPlain
        case .cancelOrder(let cancel): cancel.clientOrderID.isNumeric
        case .amendOrder(let amend): amend.clientOrderID.isNumeric
        case .deposit, .withdraw, .setLeverage, .setMarkPrice, .setIndexPrice, .setFundingRate, .addPremiumSample, .setMarginMode,
            .adjustIsolatedMargin, .depositInsuranceFund, .cancelAllOrders, .tick, .settleFunding:
            true
        }
    }

    /// A fixed-shape command's encoding, into any sink (at most `stagedBytesMax` bytes);
    /// false, with nothing written, for the others (`isFixedShape`). `encode` stages it on
    /// the stack; a journal entry stages it with its events (`EntryPayload.encodeStaged`).
    @inline(__always)
    func encodeFixedShape(to sink: inout some ByteSink) -> Bool {
        switch self {
        case .deposit(let transfer):
            sink.u8(3)
            transfer.encode(to: &sink)
        case .withdraw(let transfer):
            sink.u8(4)
            transfer.encode(to: &sink)
        case .setLeverage(let account, let symbol, let leverage):
            sink.u8(5)
            sink.varint(account)
            sink.varint(UInt64(symbol))
            sink.varint(UInt64(leverage))
        case .placeOrder(let order) where order.clientOrderID.isNumeric && order.isPlain:
            sink.u8(6)
            sink.varint(order.account)
            sink.varint(UInt64(order.symbol))
            sink.u8(order.side.rawValue | order.type.rawValue << 1 | order.timeInForce.rawValue << 2)
            sink.zigzag(order.priceUnits)
            sink.zigzag(order.quantityUnits)
            sink.varint(order.clientOrderID.number ?? 0)
        case .cancelOrder(let cancel) where cancel.clientOrderID.isNumeric:
            sink.accountOrderClientNumber(7, cancel.account, cancel.orderID, cancel.clientOrderID)
        case .setMarkPrice(let symbol, let price):
            sink.symbolValue(8, symbol, price)
        case .setIndexPrice(let symbol, let price):
            sink.symbolValue(10, symbol, price)
        case .setFundingRate(let symbol, let rate):
            sink.symbolValue(11, symbol, rate)
        case .addPremiumSample(let symbol, let premium):
            sink.symbolValue(12, symbol, premium)
        case .setMarginMode(let account, let symbol, let isolated):
            sink.accountSymbolFlag(13, account, symbol, isolated)
        case .adjustIsolatedMargin(let account, let symbol, let amount):
            sink.accountSymbolValue(14, account, symbol, amount)
        case .depositInsuranceFund(let transfer):
            sink.u8(15)
            transfer.encode(to: &sink)
        case .amendOrder(let amend) where amend.clientOrderID.isNumeric:
            sink.accountOrderClientNumber(17, amend.account, amend.orderID, amend.clientOrderID)
            sink.zigzag(amend.priceUnits)
            sink.zigzag(amend.quantityUnits)
        case .cancelAllOrders(let account, let symbol):
            sink.u8(18)
            sink.varint(account)
            sink.varint(UInt64(symbol))
        case .tick:
            sink.u8(22)
        case .settleFunding(let account):
            sink.u8(23)
            sink.varint(account)
        default:
            return false
        }
        return true
    }

    /// Reads one command; refuses any outside the field domains (`domainViolation`), so
    /// that decoding and encoding are inverse on exactly the commands ingress accepts.
    public static func decode(from reader: inout ByteReader) throws(CodecError) -> Command {
        let start = reader.offset
        let command = try decodeFields(from: &reader)
        if let violation = command.domainViolation() { throw .outOfDomain(violation, offset: start) }
        return command
    }

    private static func decodeFields(from reader: inout ByteReader) throws(CodecError) -> Command {
        let start = reader.offset
        let tag = try reader.u8()
        switch tag {
        case 1:
            let id = try reader.varint(as: AssetID.self, field: "asset id")
            let name = try reader.name(field: "asset name")
            return .listAsset(Asset(id: id, name: name, scale: try reader.u8()))
        case 2:
            return .listSymbol(try SymbolSpec.decode(from: &reader))
        case 3:
            return .deposit(try Transfer.decode(from: &reader))
        case 4:
            return .withdraw(try Transfer.decode(from: &reader))
        case 5:
            return .setLeverage(
                account: try reader.id(field: "account"),
                symbol: try reader.varint(as: SymbolID.self, field: "symbol"),
                leverage: try reader.varint(as: UInt16.self, field: "leverage"))
        case 6:
            let account = try reader.id(field: "account")
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            let flagsOffset = reader.offset
            let flags = try reader.u8()
            guard flags & 0b1110_0000 == 0, let side = Side(rawValue: flags & 1),
                let type = OrderType(rawValue: (flags >> 1) & 1),
                let timeInForce = TimeInForce(rawValue: (flags >> 2) & 0b111)
            else { throw .outOfRange(field: "order flags", offset: flagsOffset) }
            return .placeOrder(
                PlaceOrder(
                    account: account, symbol: symbol, side: side, type: type, timeInForce: timeInForce,
                    priceUnits: try reader.zigzag(), quantityUnits: try reader.zigzag(),
                    clientOrderID: try reader.numericClientOrderID()))
        case 7, 25:
            return .cancelOrder(
                CancelOrder(
                    account: try reader.id(field: "account"), orderID: try reader.id(field: "order id"),
                    clientOrderID: try reader.clientOrderIDField(text: tag == 25)))
        case 8:
            let (symbol, price) = try reader.symbolValue()
            return .setMarkPrice(symbol: symbol, priceUnits: price)
        case 9:
            var spec = try SymbolSpec.decode(from: &reader)
            try spec.decodeRuleBookTerms(from: &reader)
            // One value, one encoding: a listing without rule-book terms is tag 2.
            guard !spec.hasLegacyTerms else { throw .outOfRange(field: "listing layout (no rule-book terms: tag 2)", offset: start) }
            return .listSymbol(spec)
        case 10, 11, 12:
            let (symbol, value) = try reader.symbolValue()
            switch tag {
            case 10: return .setIndexPrice(symbol: symbol, priceUnits: value)
            case 11: return .setFundingRate(symbol: symbol, rateE8: value)
            default: return .addPremiumSample(symbol: symbol, premiumE8: value)
            }
        case 13:
            let (account, symbol, isolated) = try reader.accountSymbolFlag(field: "margin mode")
            return .setMarginMode(account: account, symbol: symbol, isolated: isolated)
        case 14:
            let (account, symbol, amount) = try reader.accountSymbolValue()
            return .adjustIsolatedMargin(account: account, symbol: symbol, amountMinor: amount)
        case 15:
            return .depositInsuranceFund(try Transfer.decode(from: &reader))
        case 17, 26:
            return .amendOrder(
                AmendOrder(
                    account: try reader.id(field: "account"), orderID: try reader.id(field: "order id"),
                    clientOrderID: try reader.clientOrderIDField(text: tag == 26),
                    priceUnits: try reader.zigzag(), quantityUnits: try reader.zigzag()))
        case 18:
            return .cancelAllOrders(account: try reader.id(field: "account"), symbol: try reader.varint(as: SymbolID.self, field: "symbol"))
        case 19:
            return .setIdempotencyWindow(try IdempotencyWindow.decode(from: &reader))
        case 20:
            return .entryExcised(originalPayloadSHA256: Array(try reader.raw(count: 32)))
        case 21:
            return .setWorldLimits(try WorldLimits.decode(from: &reader, validating: false))
        case 22:
            return .tick
        case 23:
            return .settleFunding(account: try reader.id(field: "account"))
        case 16, 24:
            let account = try reader.id(field: "account")
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            let side = try reader.side()
            func byte<T: RawRepresentable<UInt8>>(_: T.Type, _ field: String) throws(CodecError) -> T {
                let offset = reader.offset
                guard let value = T(rawValue: try reader.u8()) else { throw .outOfRange(field: field, offset: offset) }
                return value
            }
            let type = try byte(OrderType.self, "order type")
            let timeInForce = try byte(TimeInForce.self, "time in force")
            let workingType = try byte(WorkingType.self, "working type")
            let prevention = try byte(SelfTradePrevention.self, "self-trade prevention")
            let flagsOffset = reader.offset
            let flags = try reader.u8()
            guard flags & ~3 == 0 else { throw .outOfRange(field: "order flags", offset: flagsOffset) }
            let order = PlaceOrder(
                account: account, symbol: symbol, side: side, type: type, timeInForce: timeInForce, priceUnits: try reader.zigzag(),
                quantityUnits: try reader.zigzag(), clientOrderID: try reader.clientOrderIDField(text: tag == 24),
                stopPriceUnits: try reader.zigzag(),
                workingType: workingType, reduceOnly: flags & 1 != 0, closePosition: flags & 2 != 0,
                selfTradePrevention: prevention, callbackRateE8: try reader.zigzag(), activationPriceUnits: try reader.zigzag())
            // One value, one encoding: an order without rule-book terms is tag 6.
            guard tag == 24 || !order.isPlain else { throw .outOfRange(field: "order layout (no rule-book terms: tag 6)", offset: start) }
            return .placeOrder(order)
        default:
            throw .unknownTag(name: "command", tag: UInt64(tag), offset: start)
        }
    }
}

extension Transfer {
    func encode(to writer: inout some ByteSink) {
        writer.varint(transferID)
        writer.varint(account)
        writer.varint(UInt64(asset))
        writer.zigzag(amountMinor)
    }

    static func decode(from reader: inout ByteReader) throws(CodecError) -> Transfer {
        Transfer(
            transferID: try reader.id(field: "transfer id"), account: try reader.id(field: "account"),
            asset: try reader.varint(as: AssetID.self, field: "asset"), amountMinor: try reader.zigzag())
    }
}

extension SymbolSpec {
    func encode(to writer: inout ByteWriter) {
        writer.varint(UInt64(id))
        writer.string(name)
        writer.varint(UInt64(settleAsset))
        writer.u8(priceScale)
        writer.u8(quantityScale)
        for value in [
            tickSizePriceUnits, lotSizeQuantityUnits, contractMultiplier, minNotionalMinor, maxPriceUnits,
            maxQuantityUnits, maxPositionQuantityUnits,
        ] {
            writer.zigzag(value)
        }
        writer.varint(UInt64(maxLeverage))
        writer.varint(UInt64(defaultLeverage))
        writer.zigzag(makerFeeRateE8)
        writer.zigzag(takerFeeRateE8)
    }

    static func decode(from reader: inout ByteReader) throws(CodecError) -> SymbolSpec {
        let id = try reader.varint(as: SymbolID.self, field: "symbol id")
        let name = try reader.name(field: "symbol name")
        let settle = try reader.varint(as: AssetID.self, field: "settle asset")
        let priceScale = try reader.u8()
        let quantityScale = try reader.u8()
        let tick = try reader.zigzag()
        let lot = try reader.zigzag()
        let multiplier = try reader.zigzag()
        let minNotional = try reader.zigzag()
        let maxPrice = try reader.zigzag()
        let maxQuantity = try reader.zigzag()
        let maxPosition = try reader.zigzag()
        return SymbolSpec(
            id: id, name: name, settleAsset: settle, priceScale: priceScale, quantityScale: quantityScale,
            tickSizePriceUnits: tick, lotSizeQuantityUnits: lot, contractMultiplier: multiplier,
            minNotionalMinor: minNotional, maxPriceUnits: maxPrice, maxQuantityUnits: maxQuantity,
            maxPositionQuantityUnits: maxPosition,
            maxLeverage: try reader.varint(as: UInt16.self, field: "max leverage"),
            defaultLeverage: try reader.varint(as: UInt16.self, field: "default leverage"),
            makerFeeRateE8: try reader.zigzag(), takerFeeRateE8: try reader.zigzag())
    }
}

extension SymbolSpec {
    /// The listing v2 fields, after the v1 layout.
    func encodeRuleBookTerms(to writer: inout ByteWriter) {
        writer.varint(UInt64(brackets.count))
        for bracket in brackets {
            writer.zigzag(bracket.notionalCapMinor)
            writer.zigzag(bracket.maintenanceMarginRateE8)
            writer.varint(UInt64(bracket.maxLeverage))
        }
        for value in [
            priceBandRateE8, fundingIntervalSeconds, fundingInterestRateE8, fundingClampRateE8, fundingCapRateE8,
            liquidationFeeRateE8,
        ] {
            writer.zigzag(value)
        }
    }

    mutating func decodeRuleBookTerms(from reader: inout ByteReader) throws(CodecError) {
        let countOffset = reader.offset
        let count = try reader.varint()
        guard count >= 1, count <= UInt64(Limits.bracketsMax) else {
            throw .outOfDomain(
                DomainViolation(field: "bracket count", value: String(count), domain: "1 ... \(Limits.bracketsMax)"), offset: countOffset)
        }
        brackets = []
        for _ in 0..<count {
            brackets.append(
                MarginBracket(
                    notionalCapMinor: try reader.zigzag(), maintenanceMarginRateE8: try reader.zigzag(),
                    maxLeverage: try reader.varint(as: UInt16.self, field: "bracket leverage")))
        }
        priceBandRateE8 = try reader.zigzag()
        fundingIntervalSeconds = try reader.zigzag()
        fundingInterestRateE8 = try reader.zigzag()
        fundingClampRateE8 = try reader.zigzag()
        fundingCapRateE8 = try reader.zigzag()
        liquidationFeeRateE8 = try reader.zigzag()
    }
}

extension IdempotencyWindow {
    func encode(to writer: inout some ByteSink) {
        writer.zigzag(transferSeconds)
        writer.zigzag(clientOrderSeconds)
        writer.zigzag(maxRecords)
    }

    static func decode(from reader: inout ByteReader) throws(CodecError) -> IdempotencyWindow {
        IdempotencyWindow(transferSeconds: try reader.zigzag(), clientOrderSeconds: try reader.zigzag(), maxRecords: try reader.zigzag())
    }
}

extension PlaceOrder {
    /// The fields of command tags 16 and 24 (docs/FORMATS.md): the client order id as a
    /// varint when it is numeric (tag 16), as text otherwise (tag 24).
    func encodeRuleBookLayout(to writer: inout ByteWriter) {
        writer.varint(account)
        writer.varint(UInt64(symbol))
        writer.u8(side.rawValue)
        writer.u8(type.rawValue)
        writer.u8(timeInForce.rawValue)
        writer.u8(workingType.rawValue)
        writer.u8(selfTradePrevention.rawValue)
        writer.u8((reduceOnly ? 1 : 0) | (closePosition ? 2 : 0))
        writer.zigzag(priceUnits)
        writer.zigzag(quantityUnits)
        writer.clientOrderIDField(clientOrderID)
        writer.zigzag(stopPriceUnits)
        writer.zigzag(callbackRateE8)
        writer.zigzag(activationPriceUnits)
    }
}

extension ByteWriter {
    /// A command's client order id: the number (0 for none) when it is numeric, else text.
    mutating func clientOrderIDField(_ id: ClientOrderID) {
        if id.isNumeric { varint(id.number ?? 0) } else { clientOrderID(id) }
    }
}

extension ByteReader {
    /// A numeric client order id (0 = none), 0 … 2^63 − 1.
    mutating func numericClientOrderID() throws(CodecError) -> ClientOrderID {
        ClientOrderID(try id(field: "client order id"))
    }

    /// The client order id of a command: text for the text tags (24–26), else a number.
    mutating func clientOrderIDField(text: Bool) throws(CodecError) -> ClientOrderID {
        text ? try textClientOrderID() : try numericClientOrderID()
    }
}
