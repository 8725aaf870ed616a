/// Index prices, funding and the insurance fund's deposits (docs/RULES.md, "Funding").
///
/// Funding is settled at multiples of the symbol's interval of *journal* time: the first
/// entry stamped at or after a funding time settles it, before its own command, so a
/// replay settles at exactly the same point. Payments go through the funding clearing
/// account: payers pay the amount rounded up, receivers get theirs rounded down.
extension ExchangeState {
    /// Settles every symbol whose funding time has come by `timeNanos`.
    mutating func settleDueFunding(timeNanos: Int64, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        for symbol in markets.indices {
            let due = markets[symbol].nextFundingTimeNanos
            guard due != 0, timeNanos >= due else { continue }
            let id = SymbolID(symbol)
            let mark = markets[symbol].markPriceUnits
            emit(.fundingSettled(symbol: id, rateE8: fundingRateE8(id), markPriceUnits: mark), command, sequence, &events)
            let rate = markets[symbol].lastFundingRateE8
            guard rate != 0, mark > 0 else { continue }
            for index in accounts.indices {
                let size = accounts[index].position(id).sizeQuantityUnits
                if size == 0 { continue }
                let amount = Self.fundingPaymentMinor(
                    sizeQuantityUnits: size, markPriceUnits: mark, notionalFactor: markets[symbol].notionalFactor, rateE8: rate)
                if amount == 0 { continue }
                emit(.fundingPaid(account: accounts[index].id, symbol: id, amountMinor: amount), command, sequence, &events)
                noteLiquidationCandidate(UInt32(index))
            }
            let fundSize = insurancePositions[symbol].sizeQuantityUnits
            if fundSize != 0 {
                let amount = Self.fundingPaymentMinor(
                    sizeQuantityUnits: fundSize, markPriceUnits: mark, notionalFactor: markets[symbol].notionalFactor, rateE8: rate)
                if amount != 0 { emit(.fundFundingPaid(symbol: id, amountMinor: amount), command, sequence, &events) }
            }
        }
    }

    /// What a position pays (positive) or receives (negative) at a settlement: size × mark ×
    /// rate, rounded toward +∞, so a payer pays the larger amount and a receiver gets the
    /// smaller. 2 BTC at 50,000 with 0.01% pays 10 USDT.
    @inlinable
    public static func fundingPaymentMinor(
        sizeQuantityUnits: Int64, markPriceUnits: Int64, notionalFactor: Int64, rateE8: Int64
    ) -> Int64 {
        let value = Int128(sizeQuantityUnits) * Int128(markPriceUnits) * Int128(notionalFactor) * Int128(rateE8)
        return Int64(FixedPoint.divideRoundingUp(value, Int128(FixedPoint.rateScale)))
    }

    /// The rate the coming settlement of `symbol` uses: the oracle's, if it set one;
    /// otherwise premium + clamp(interest − premium, ±clamp) over the mean of the premium
    /// samples (0 without samples), capped at ±cap.
    public func fundingRateE8(_ symbol: SymbolID) -> Int64 {
        let market = markets[Int(symbol)]
        if let rate = market.fundingRateOverrideE8 { return rate }
        let spec = symbols[Int(symbol)]
        return Self.premiumFundingRateE8(
            premiumSumE8: market.premiumSampleSumE8, samples: market.premiumSampleCount,
            interestE8: spec.fundingInterestRateE8, clampE8: spec.fundingClampRateE8, capE8: spec.fundingCapRateE8)
    }

    /// The premium formula: the mean premium (rounded toward zero) plus the clamped
    /// difference to the interest rate, capped.
    @inlinable
    public static func premiumFundingRateE8(premiumSumE8: Int64, samples: Int64, interestE8: Int64, clampE8: Int64, capE8: Int64)
        -> Int64
    {
        let premium = samples > 0 ? premiumSumE8 / samples : 0
        let rate = premium + min(max(interestE8 - premium, -clampE8), clampE8)
        return min(max(rate, -capE8), capE8)
    }

    /// The first funding time strictly after `timeNanos` for an interval in seconds.
    static func nextFundingTime(after timeNanos: Int64, intervalSeconds: Int64) -> Int64 {
        let interval = intervalSeconds * 1_000_000_000
        return (timeNanos / interval + 1) * interval
    }

    mutating func executeOracle(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        let symbol: SymbolID
        let value: Int64
        switch command {
        case .setIndexPrice(let s, let price), .setFundingRate(let s, let price), .addPremiumSample(let s, let price):
            symbol = s
            value = price
        default: preconditionFailure("not an oracle command")
        }
        guard Int(symbol) < symbols.count else { return events.append(.rejected(.unknownSymbol, detail: 0)) }
        let spec = symbols[Int(symbol)]
        switch command {
        case .setIndexPrice:
            guard value > 0, value <= spec.maxPriceUnits else { return events.append(.rejected(.invalidPrice, detail: 0)) }
            emit(.indexPriceSet(symbol: symbol, priceUnits: value), command, sequence, &events)
        case .setFundingRate:
            guard spec.fundingIntervalSeconds > 0, value.magnitude <= UInt64(spec.fundingCapRateE8) else {
                return events.append(.rejected(.invalidRate, detail: 0))
            }
            emit(.fundingRateSet(symbol: symbol, rateE8: value), command, sequence, &events)
        default:
            // A premium beyond ±100% is not a premium; the sum of a day's samples stays small.
            guard spec.fundingIntervalSeconds > 0, value.magnitude <= UInt64(FixedPoint.rateScale),
                markets[Int(symbol)].premiumSampleCount < Limits.premiumSamplesMax
            else { return events.append(.rejected(.invalidRate, detail: 0)) }
            emit(.premiumSampled(symbol: symbol, premiumE8: value), command, sequence, &events)
        }
    }

    mutating func executeInsuranceDeposit(_ transfer: Transfer, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        if let record = transfers[transfer.transferID] {
            if record.kind == .insuranceDeposit, record.transfer == transfer {
                return events.append(.transferReplayed(originalSequence: record.sequence))
            }
            return events.append(.rejected(.duplicateTransferID, detail: record.sequence))
        }
        guard transfer.account == 0 else { return events.append(.rejected(.unknownAccount, detail: 0)) }
        guard Int(transfer.asset) < assets.count else { return events.append(.rejected(.unknownAsset, detail: 0)) }
        guard transfer.amountMinor > 0, transfer.amountMinor <= Limits.balanceMagnitudeMax else {
            return events.append(.rejected(.invalidAmount, detail: 0))
        }
        guard systemBalance(.insuranceFund, asset: transfer.asset) <= Limits.balanceMagnitudeMax - transfer.amountMinor,
            systemBalance(.external, asset: transfer.asset) >= transfer.amountMinor - Limits.balanceMagnitudeMax
        else {
            return events.append(.rejected(.balanceLimit, detail: 0))
        }
        emit(.insuranceFundDeposited(asset: transfer.asset, amountMinor: transfer.amountMinor), command, sequence, &events)
    }
}
