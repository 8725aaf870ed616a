/// Binary encoding of events (docs/FORMATS.md, "Event"), used in journal entries and in
/// the TCP protocol's reply frames.
extension Event {
    /// The bound on an event's bytes: a tag and at most 16 fields of at most 10 bytes. The
    /// widest, a trade, takes 115 (`EventCodecTests` encodes each kind at its widest).
    public static let encodedBytesMax = 1 + 16 * 10

    public func encode(to writer: inout ByteWriter) {
        writer.staged(maxBytes: Self.encodedBytesMax) { encodeFields(to: &$0) }
    }

    /// The encoding, into any sink (`encode` stages it on the stack).
    @inline(__always)
    func encodeFields(to writer: inout some ByteSink) {
        switch self {
        case .assetListed(let id):
            writer.u8(1)
            writer.varint(UInt64(id))
        case .symbolListed(let id):
            writer.u8(2)
            writer.varint(UInt64(id))
        case .deposited(let account, let asset, let amount):
            writer.accountAssetValue(3, account, asset, amount)
        case .withdrawn(let account, let asset, let amount):
            writer.accountAssetValue(4, account, asset, amount)
        case .transferReplayed(let original):
            writer.u8(5)
            writer.varint(original)
        case .leverageSet(let account, let symbol, let leverage):
            writer.u8(6)
            writer.varint(account)
            writer.varint(UInt64(symbol))
            writer.varint(UInt64(leverage))
        case .markPriceSet(let symbol, let price):
            writer.symbolValue(7, symbol, price)
        case .orderAccepted(let id):
            writer.u8(8)
            writer.varint(id)
        case .trade(let trade):
            writer.u8(9)
            writer.varint(trade.tradeID)
            writer.varint(UInt64(trade.symbol))
            writer.varint(trade.makerOrderID)
            writer.varint(trade.takerOrderID)
            writer.varint(trade.makerAccount)
            writer.varint(trade.takerAccount)
            writer.u8(trade.takerSide.rawValue)
            writer.zigzag(trade.priceUnits)
            writer.zigzag(trade.quantityUnits)
            writer.zigzag(trade.makerFeeMinor)
            writer.zigzag(trade.takerFeeMinor)
            writer.zigzag(trade.makerRealizedPnlMinor)
            writer.zigzag(trade.takerRealizedPnlMinor)
        case .orderRested(let id, let quantity):
            writer.u8(10)
            writer.varint(id)
            writer.zigzag(quantity)
        case .orderExpired(let id, let quantity, let reason):
            writer.u8(11)
            writer.varint(id)
            writer.zigzag(quantity)
            writer.u8(reason.rawValue)
        case .orderCancelled(let id, let quantity):
            writer.u8(12)
            writer.varint(id)
            writer.zigzag(quantity)
        case .rejected(let reason, let detail):
            writer.u8(13)
            writer.varint(UInt64(reason.rawValue))
            writer.varint(detail)
        case .indexPriceSet(let symbol, let price):
            writer.symbolValue(14, symbol, price)
        case .fundingRateSet(let symbol, let rate):
            writer.symbolValue(15, symbol, rate)
        case .premiumSampled(let symbol, let premium):
            writer.symbolValue(16, symbol, premium)
        case .fundingSettled(let symbol, let rate, let mark):
            writer.symbolValue(17, symbol, rate)
            writer.zigzag(mark)
        case .fundingPaid(let account, let symbol, let amount):
            writer.accountSymbolValue(18, account, symbol, amount)
        case .marginModeSet(let account, let symbol, let isolated):
            writer.accountSymbolFlag(19, account, symbol, isolated)
        case .isolatedMarginAdjusted(let account, let symbol, let amount):
            writer.accountSymbolValue(20, account, symbol, amount)
        case .insuranceFundDeposited(let asset, let amount):
            writer.u8(21)
            writer.varint(UInt64(asset))
            writer.zigzag(amount)
        case .liquidationTriggered(let account, let asset, let isolated, let balance, let maintenance):
            writer.u8(22)
            writer.varint(account)
            writer.varint(UInt64(asset))
            writer.u8(isolated == nil ? 0 : 1)
            writer.varint(UInt64(isolated ?? 0))
            writer.zigzag(balance)
            writer.zigzag(maintenance)
        case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
            writer.u8(23)
            writer.varint(id)
            writer.varint(account)
            writer.varint(UInt64(symbol))
            writer.u8(side.rawValue)
            writer.zigzag(price)
            writer.zigzag(quantity)
        case .liquidationSettled(let account, let symbol, let filled, let fee, let surplus):
            writer.accountSymbolValue(24, account, symbol, filled)
            writer.zigzag(fee)
            writer.zigzag(surplus)
        case .insuranceTakeover(let account, let symbol, let side, let price, let quantity, let pnl, let fundPnl):
            writer.accountSymbolValue(25, account, symbol, price)
            writer.u8(side.rawValue)
            writer.zigzag(quantity)
            writer.zigzag(pnl)
            writer.zigzag(fundPnl)
        case .autoDeleveraged(let account, let counterparty, let symbol, let side, let price, let quantity, let pnl, let otherPnl):
            writer.accountSymbolValue(26, account, symbol, price)
            writer.varint(counterparty)
            writer.u8(side.rawValue)
            writer.zigzag(quantity)
            writer.zigzag(pnl)
            writer.zigzag(otherPnl)
        case .fundFundingPaid(let symbol, let amount):
            writer.symbolValue(28, symbol, amount)
        case .conditionalOrderPlaced(let id):
            writer.u8(29)
            writer.varint(id)
        case .conditionalOrderTriggered(let id, let price):
            writer.u8(30)
            writer.varint(id)
            writer.zigzag(price)
        case .triggeredOrderRejected(let id, let reason):
            writer.u8(31)
            writer.varint(id)
            writer.varint(UInt64(reason.rawValue))
        case .conditionalOrderCancelled(let id):
            writer.u8(32)
            writer.varint(id)
        case .restingOrderExpired(let id, let quantity, let reason):
            writer.u8(33)
            writer.varint(id)
            writer.zigzag(quantity)
            writer.u8(reason.rawValue)
        case .orderReduced(let id, let quantity):
            writer.u8(34)
            writer.varint(id)
            writer.zigzag(quantity)
        case .orderAmended(let id, let price, let quantity):
            writer.u8(35)
            writer.varint(id)
            writer.zigzag(price)
            writer.zigzag(quantity)
        case .idempotencyWindowSet(let window):
            writer.u8(37)
            window.encode(to: &writer)
        case .allOrdersCancelled(let account, let symbol, let count):
            writer.u8(36)
            writer.varint(account)
            writer.varint(UInt64(symbol))
            writer.varint(count)
        case .badDebtCovered(let account, let asset, let amount):
            writer.accountAssetValue(27, account, asset, amount)
        case .worldLimitsSet(let limits):
            writer.u8(38)
            limits.encode(to: &writer)
        case .fundingSettlementCompleted(let symbol, let positions):
            writer.u8(39)
            writer.varint(UInt64(symbol))
            writer.varint(positions)
        case .fundingSettlementAdvanced(let symbol, let account):
            writer.u8(40)
            writer.varint(UInt64(symbol))
            writer.varint(account)
        case .deleveragingContinues(let account, let symbol, let side, let price, let remaining):
            writer.u8(41)
            writer.varint(account)
            writer.varint(UInt64(symbol))
            writer.u8(side.rawValue)
            writer.zigzag(price)
            writer.zigzag(remaining)
        case .adlRankingAdvanced(let symbol, let side, let account):
            writer.u8(42)
            writer.varint(UInt64(symbol))
            writer.u8(side.rawValue)
            writer.varint(account)
        case .adlRankingCompleted(let symbol, let side, let positions):
            writer.u8(43)
            writer.varint(UInt64(symbol))
            writer.u8(side.rawValue)
            writer.varint(positions)
        }
    }

    public static func decode(from reader: inout ByteReader) throws(CodecError) -> Event {
        let start = reader.offset
        let tag = try reader.u8()
        switch tag {
        case 1: return .assetListed(try reader.varint(as: AssetID.self, field: "asset"))
        case 2: return .symbolListed(try reader.varint(as: SymbolID.self, field: "symbol"))
        case 3, 4:
            let (account, asset, amount) = try reader.accountAssetValue()
            return tag == 3
                ? .deposited(account: account, asset: asset, amountMinor: amount)
                : .withdrawn(account: account, asset: asset, amountMinor: amount)
        case 5: return .transferReplayed(originalSequence: try reader.varint())
        case 6:
            return .leverageSet(
                account: try reader.id(field: "account"), symbol: try reader.varint(as: SymbolID.self, field: "symbol"),
                leverage: try reader.varint(as: UInt16.self, field: "leverage"))
        case 7:
            let (symbol, price) = try reader.symbolValue()
            return .markPriceSet(symbol: symbol, priceUnits: price)
        case 8: return .orderAccepted(try reader.id())
        case 9:
            let tradeID = try reader.id()
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            let makerOrder = try reader.id()
            let takerOrder = try reader.id()
            let makerAccount = try reader.id(field: "account")
            let takerAccount = try reader.id(field: "account")
            let side = try reader.side()
            return .trade(
                Trade(
                    tradeID: tradeID, symbol: symbol, makerOrderID: makerOrder, takerOrderID: takerOrder,
                    makerAccount: makerAccount, takerAccount: takerAccount, takerSide: side,
                    priceUnits: try reader.zigzag(), quantityUnits: try reader.zigzag(),
                    makerFeeMinor: try reader.zigzag(), takerFeeMinor: try reader.zigzag(),
                    makerRealizedPnlMinor: try reader.zigzag(), takerRealizedPnlMinor: try reader.zigzag()))
        case 10: return .orderRested(try reader.id(), openQuantityUnits: try reader.zigzag())
        case 11, 33:
            let id = try reader.id()
            let quantity = try reader.zigzag()
            let reasonOffset = reader.offset
            guard let reason = ExpiryReason(rawValue: try reader.u8()) else {
                throw .outOfRange(field: "expiry reason", offset: reasonOffset)
            }
            return tag == 11
                ? .orderExpired(id, quantityUnits: quantity, reason: reason)
                : .restingOrderExpired(id, quantityUnits: quantity, reason: reason)
        case 37: return .idempotencyWindowSet(try IdempotencyWindow.decode(from: &reader))
        case 38: return .worldLimitsSet(try WorldLimits.decode(from: &reader, validating: true))
        case 39:
            return .fundingSettlementCompleted(
                symbol: try reader.varint(as: SymbolID.self, field: "symbol"), positions: try reader.varint())
        case 40:
            return .fundingSettlementAdvanced(
                symbol: try reader.varint(as: SymbolID.self, field: "symbol"), throughAccount: try reader.id(field: "account"))
        case 41:
            let account = try reader.id(field: "account")
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            return .deleveragingContinues(
                account: account, symbol: symbol, side: try reader.side(), bankruptcyPriceUnits: try reader.zigzag(),
                remainingQuantityUnits: try reader.zigzag())
        case 42:
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            return .adlRankingAdvanced(symbol: symbol, side: try reader.side(), throughAccount: try reader.id(field: "account"))
        case 43:
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            return .adlRankingCompleted(symbol: symbol, side: try reader.side(), positions: try reader.varint())
        case 29: return .conditionalOrderPlaced(try reader.id())
        case 30: return .conditionalOrderTriggered(try reader.id(), priceUnits: try reader.zigzag())
        case 31:
            let id = try reader.id()
            return .triggeredOrderRejected(id, reason: try reader.rejectReason())
        case 32: return .conditionalOrderCancelled(try reader.id())
        case 34: return .orderReduced(try reader.id(), quantityUnits: try reader.zigzag())
        case 35: return .orderAmended(try reader.id(), priceUnits: try reader.zigzag(), quantityUnits: try reader.zigzag())
        case 36:
            return .allOrdersCancelled(
                account: try reader.id(field: "account"), symbol: try reader.varint(as: SymbolID.self, field: "symbol"),
                count: try reader.varint())
        case 12: return .orderCancelled(try reader.id(), quantityUnits: try reader.zigzag())
        case 13:
            return .rejected(try reader.rejectReason(), detail: try reader.varint())
        case 14, 15, 16:
            let (symbol, value) = try reader.symbolValue()
            switch tag {
            case 14: return .indexPriceSet(symbol: symbol, priceUnits: value)
            case 15: return .fundingRateSet(symbol: symbol, rateE8: value)
            default: return .premiumSampled(symbol: symbol, premiumE8: value)
            }
        case 17:
            let (symbol, rate) = try reader.symbolValue()
            return .fundingSettled(symbol: symbol, rateE8: rate, markPriceUnits: try reader.zigzag())
        case 18, 20:
            let (account, symbol, amount) = try reader.accountSymbolValue()
            return tag == 18
                ? .fundingPaid(account: account, symbol: symbol, amountMinor: amount)
                : .isolatedMarginAdjusted(account: account, symbol: symbol, amountMinor: amount)
        case 19:
            let (account, symbol, isolated) = try reader.accountSymbolFlag(field: "margin mode")
            return .marginModeSet(account: account, symbol: symbol, isolated: isolated)
        case 22:
            let account = try reader.id(field: "account")
            let asset = try reader.varint(as: AssetID.self, field: "asset")
            let flagOffset = reader.offset
            let flag = try reader.u8()
            guard flag <= 1 else { throw .outOfRange(field: "liquidation scope", offset: flagOffset) }
            let symbolOffset = reader.offset
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            // Cross scope writes symbol 0: one value, one encoding.
            guard flag == 1 || symbol == 0 else { throw .outOfRange(field: "symbol of a cross liquidation", offset: symbolOffset) }
            return .liquidationTriggered(
                account: account, asset: asset, isolatedSymbol: flag == 1 ? symbol : nil, marginBalanceMinor: try reader.zigzag(),
                maintenanceMinor: try reader.zigzag())
        case 23:
            let id = try reader.id()
            let account = try reader.id(field: "account")
            let symbol = try reader.varint(as: SymbolID.self, field: "symbol")
            return .liquidationOrderPlaced(
                id, account: account, symbol: symbol, side: try reader.side(), bankruptcyPriceUnits: try reader.zigzag(),
                quantityUnits: try reader.zigzag())
        case 24:
            let (account, symbol, filled) = try reader.accountSymbolValue()
            return .liquidationSettled(
                account: account, symbol: symbol, filledQuantityUnits: filled, feeMinor: try reader.zigzag(),
                surplusMinor: try reader.zigzag())
        case 25:
            let (account, symbol, price) = try reader.accountSymbolValue()
            return .insuranceTakeover(
                account: account, symbol: symbol, side: try reader.side(), priceUnits: price, quantityUnits: try reader.zigzag(),
                realizedPnlMinor: try reader.zigzag(), fundRealizedPnlMinor: try reader.zigzag())
        case 26:
            let (account, symbol, price) = try reader.accountSymbolValue()
            let counterparty = try reader.id(field: "account")
            return .autoDeleveraged(
                account: account, counterparty: counterparty, symbol: symbol, side: try reader.side(), priceUnits: price,
                quantityUnits: try reader.zigzag(), realizedPnlMinor: try reader.zigzag(), counterpartyRealizedPnlMinor: try reader.zigzag()
            )
        case 27:
            let (account, asset, amount) = try reader.accountAssetValue()
            return .badDebtCovered(account: account, asset: asset, amountMinor: amount)
        case 28:
            let (symbol, amount) = try reader.symbolValue()
            return .fundFundingPaid(symbol: symbol, amountMinor: amount)
        case 21:
            return .insuranceFundDeposited(asset: try reader.varint(as: AssetID.self, field: "asset"), amountMinor: try reader.zigzag())
        default:
            throw .unknownTag(name: "event", tag: UInt64(tag), offset: start)
        }
    }
}

/// The payload of a journal entry: the command and the events it caused.
public struct EntryPayload: Sendable, Hashable {
    public var command: Command
    public var events: [Event]

    public init(command: Command, events: [Event]) {
        self.command = command
        self.events = events
    }

    /// Encodes a command and its events (the events need not be in an array of their own).
    /// Inlinable, so that each caller's kind of collection is specialized: unspecialized,
    /// every event went through the collection's witness table and was copied out.
    /// Returns where the events' part begins in `writer`: their count and the events, the
    /// same bytes a `committed` reply carries (`WireFrame.encodeCommitted(requestID:sequence:encodedEvents:to:)`).
    @inlinable @discardableResult
    public static func encode(command: Command, events: some Collection<Event>, to writer: inout ByteWriter) -> Int {
        command.encode(to: &writer)
        let eventsStart = writer.bytes.count
        writer.varint(UInt64(events.count))
        for event in events { event.encode(to: &writer) }
        return eventsStart
    }

    /// The most bytes `encodeStaged` writes for `command` and `eventCount` events: nil when
    /// the command's encoding has no fixed shape (`Command.isFixedShape`), or when that
    /// bound passes an entry's largest payload (`Limits.entryPayloadBytesMax`), so that a
    /// staged entry always fits a batch that is not full.
    public static func stagedBytesMax(command: Command, eventCount: Int) -> Int? {
        let eventsRoom = Limits.entryPayloadBytesMax - Command.stagedBytesMax - 10
        guard command.isFixedShape, eventCount <= eventsRoom / Event.encodedBytesMax else { return nil }
        return Command.stagedBytesMax + 10 + eventCount * Event.encodedBytesMax
    }

    /// `encode(command:events:to:)` through a cursor, for a fixed-shape command (at most
    /// `stagedBytesMax(command:eventCount:)` bytes): the same bytes, staged with the entry's
    /// framing and appended to the journal's batch at once (`JournalBatch.tryAppend(sequence:
    /// timeNanos:command:events:)`), where field by field each event and the command were an
    /// append of their own. Returns where the events' part begins in the cursor's bytes.
    public static func encodeStaged(command: Command, events: UnsafeBufferPointer<Event>, to cursor: inout ByteCursor) -> Int {
        let staged = command.encodeFixedShape(to: &cursor)
        precondition(staged, "\(command) has no fixed shape")
        let eventsStart = cursor.count
        cursor.varint(UInt64(events.count))
        // By index: the events are encoded where they lie.
        for index in events.indices { events[index].encodeFields(to: &cursor) }
        return eventsStart
    }

    public static func decode(from reader: inout ByteReader) throws(CodecError) -> EntryPayload {
        var events: [Event] = []
        let command = try decode(from: &reader, events: &events)
        return EntryPayload(command: command, events: events)
    }

    /// Decodes a payload's command, and its events into `events` (emptied first; its room
    /// is kept, so that a reader going through a journal allocates no array per entry).
    public static func decode(from reader: inout ByteReader, events: inout [Event]) throws(CodecError) -> Command {
        events.removeAll(keepingCapacity: true)
        return try decode(from: &reader, appendingEventsTo: &events)
    }

    /// The same, appending the events after those `events` holds (a decoding thread fills
    /// a block's buffer of events this way, without a copy through a buffer of its own).
    /// After an error, `events` may hold some of the entry's events after its own.
    public static func decode(from reader: inout ByteReader, appendingEventsTo events: inout [Event]) throws(CodecError) -> Command {
        let command = try Command.decode(from: &reader)
        let countOffset = reader.offset
        let count = try reader.varint()
        // Every event takes at least two bytes, which bounds a forged count.
        guard count <= UInt64(reader.remaining / 2) else { throw .outOfRange(field: "event count", offset: countOffset) }
        for _ in 0..<count { events.append(try Event.decode(from: &reader)) }
        return command
    }
}
