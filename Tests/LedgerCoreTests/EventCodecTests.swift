import Testing

@testable import LedgerCore

/// The staged event encoding (`Event.encode`, through a cursor over a buffer on the stack)
/// against its bound and against the same fields written straight into a `ByteWriter`.
@Suite struct EventCodecTests {
    /// Every kind of event with each field at the value that encodes longest: ids and
    /// counts at `UInt64.max`, signed values at `Int64.min` (ten bytes each as varints),
    /// narrow fields at their maximum.
    static let widest: [Event] = {
        let id = UInt64.max
        let value = Int64.min
        let symbol = SymbolID.max
        let asset = AssetID.max
        let window = IdempotencyWindow(transferSeconds: value, clientOrderSeconds: value, maxRecords: value)
        let limits = WorldLimits(accountsMax: value, restingOrdersMax: value, conditionalOrdersMax: value, positionsPerAccountMax: value)
        let trade = Trade(
            tradeID: id, symbol: symbol, makerOrderID: id, takerOrderID: id, makerAccount: id, takerAccount: id, takerSide: .sell,
            priceUnits: value, quantityUnits: value, makerFeeMinor: value, takerFeeMinor: value, makerRealizedPnlMinor: value,
            takerRealizedPnlMinor: value)
        let reject = RejectReason.allCases.max { $0.rawValue < $1.rawValue }!
        let expiry = ExpiryReason.allCases.max { $0.rawValue < $1.rawValue }!
        return [
            .assetListed(asset), .symbolListed(symbol), .deposited(account: id, asset: asset, amountMinor: value),
            .withdrawn(account: id, asset: asset, amountMinor: value), .transferReplayed(originalSequence: id),
            .leverageSet(account: id, symbol: symbol, leverage: UInt16.max), .markPriceSet(symbol: symbol, priceUnits: value),
            .orderAccepted(id), .trade(trade), .orderRested(id, openQuantityUnits: value),
            .orderExpired(id, quantityUnits: value, reason: expiry), .orderCancelled(id, quantityUnits: value),
            .rejected(reject, detail: id), .indexPriceSet(symbol: symbol, priceUnits: value),
            .fundingRateSet(symbol: symbol, rateE8: value), .premiumSampled(symbol: symbol, premiumE8: value),
            .fundingSettled(symbol: symbol, rateE8: value, markPriceUnits: value),
            .fundingPaid(account: id, symbol: symbol, amountMinor: value), .marginModeSet(account: id, symbol: symbol, isolated: true),
            .isolatedMarginAdjusted(account: id, symbol: symbol, amountMinor: value),
            .insuranceFundDeposited(asset: asset, amountMinor: value),
            .liquidationTriggered(
                account: id, asset: asset, isolatedSymbol: symbol, marginBalanceMinor: value, maintenanceMinor: value),
            .liquidationOrderPlaced(id, account: id, symbol: symbol, side: .sell, bankruptcyPriceUnits: value, quantityUnits: value),
            .liquidationSettled(account: id, symbol: symbol, filledQuantityUnits: value, feeMinor: value, surplusMinor: value),
            .insuranceTakeover(
                account: id, symbol: symbol, side: .sell, priceUnits: value, quantityUnits: value, realizedPnlMinor: value,
                fundRealizedPnlMinor: value),
            .autoDeleveraged(
                account: id, counterparty: id, symbol: symbol, side: .sell, priceUnits: value, quantityUnits: value,
                realizedPnlMinor: value, counterpartyRealizedPnlMinor: value),
            .badDebtCovered(account: id, asset: asset, amountMinor: value), .fundFundingPaid(symbol: symbol, amountMinor: value),
            .conditionalOrderPlaced(id), .conditionalOrderTriggered(id, priceUnits: value),
            .triggeredOrderRejected(id, reason: reject), .conditionalOrderCancelled(id),
            .restingOrderExpired(id, quantityUnits: value, reason: expiry), .orderReduced(id, quantityUnits: value),
            .orderAmended(id, priceUnits: value, quantityUnits: value), .allOrdersCancelled(account: id, symbol: symbol, count: id),
            .idempotencyWindowSet(window), .worldLimitsSet(limits), .fundingSettlementCompleted(symbol: symbol, positions: id),
            .fundingSettlementAdvanced(symbol: symbol, throughAccount: id),
            .deleveragingContinues(account: id, symbol: symbol, side: .sell, bankruptcyPriceUnits: value, remainingQuantityUnits: value),
            .adlRankingAdvanced(symbol: symbol, side: .sell, throughAccount: id),
            .adlRankingCompleted(symbol: symbol, side: .sell, positions: id),
        ]
    }()

    @Test func everyKindFitsItsBoundAndStagesToTheSameBytes() {
        var tags = Set<UInt8>()
        var longest = 0
        for event in Self.widest {
            var staged = ByteWriter()
            event.encode(to: &staged)
            var direct = ByteWriter()
            event.encodeFields(to: &direct)
            #expect(staged.bytes == direct.bytes, "\(event)")
            #expect(staged.bytes.count <= Event.encodedBytesMax, "\(event): \(staged.bytes.count) bytes")
            longest = max(longest, staged.bytes.count)
            tags.insert(staged.bytes[0])
        }
        // Tags 1 … 43: one of each kind, none left out of the list above.
        #expect(tags == Set(1...43), "tags missing: \(Set(1...43).subtracting(tags).sorted())")
        // The trade is the widest: 2 one-byte fields (tag, side), 5 ten-byte ids, 6
        // ten-byte values, and its symbol's three bytes.
        #expect(longest == 115)
    }

    /// Staged events land after what the writer already holds, one after the other, as
    /// in an entry's payload.
    @Test func stagedEventsAppendInOrder() {
        var staged = ByteWriter()
        var direct = ByteWriter()
        staged.varint(300)
        direct.varint(300)
        for event in Self.widest.reversed() {
            event.encode(to: &staged)
            event.encodeFields(to: &direct)
        }
        #expect(staged.bytes == direct.bytes)
    }

    /// The audit's comparison (`Event.same`): equal lists of every kind are the same; a
    /// list one event shorter, longer, out of order, or with one field of one event
    /// changed is not.
    @Test func theAuditsComparisonFindsEveryDifference() {
        let events = Self.widest
        #expect(Event.same(events[...], events[...]))
        #expect(Event.same([][...], [][...]))
        #expect(!Event.same(events[...], events.dropLast()))
        #expect(!Event.same(events.dropLast(), events[...]))
        #expect(!Event.same(events[...], events.reversed()[...]))
        for place in events.indices {
            var changed = events
            changed[place] = .orderAccepted(UInt64(place))
            #expect(!Event.same(events[...], changed[...]), "event \(place) changed")
            // A slice that does not start at 0, as the audit's do.
            let shifted = [Event.assetListed(1)] + changed
            #expect(!Event.same(events[...], shifted[1...]), "event \(place) changed, in a slice")
            #expect(Event.same(changed[...], shifted[1...]))
        }
        var trade = events
        guard case .trade(var fill) = trade[8] else {
            Issue.record("event 8 is \(trade[8]), not the trade")
            return
        }
        fill.takerRealizedPnlMinor &+= 1
        trade[8] = .trade(fill)
        #expect(!Event.same(events[...], trade[...]))
    }
}
