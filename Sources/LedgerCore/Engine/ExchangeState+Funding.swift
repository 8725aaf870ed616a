/// Index prices, funding and the insurance fund's deposits (docs/RULES.md, "Funding").
///
/// Funding is settled at multiples of the symbol's interval of *journal* time: the first
/// entry stamped at or after a funding time settles it, before its own command, so a
/// replay settles at exactly the same point. Payments go through the funding clearing
/// account: payers pay the amount rounded up, receivers get theirs rounded down.
extension ExchangeState {
    /// Settles every symbol whose funding time has come by `timeNanos`: under the rules of
    /// a journal written before the bounded rules, whole, inside this entry; under the
    /// bounded rules, only starts each settlement (ticks pay it: `continueFundingSettlements`).
    mutating func settleDueFunding(timeNanos: Int64, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        if timeNanos < earliestFundingDueNanos { return }
        if isBounded { return startDueFundingSettlements(timeNanos: timeNanos, command, sequence, &events) }
        for symbol in markets.indices {
            let due = markets[symbol].nextFundingTimeNanos
            guard due != 0, timeNanos >= due else { continue }
            let id = SymbolID(symbol)
            let mark = markets[symbol].markPriceUnits
            emit(.fundingSettled(symbol: id, rateE8: fundingRateE8(id), markPriceUnits: mark), command, sequence, &events)
            let rate = markets[symbol].lastFundingRateE8
            guard rate != 0, mark > 0 else { continue }
            // Holders in account order: the accounts with a position, as a scan of every
            // account would find them.
            var next = markets[symbol].holders.first(atOrAfter: 0)
            while let index = next {
                next = markets[symbol].holders.first(atOrAfter: index + 1)
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

    // MARK: Funding in bounded steps (docs/RULES.md, "Funding in bounded steps")

    /// Starts every settlement due by `timeNanos` whose previous one is done, in symbol
    /// order: `fundingSettled` fixes the rate and the mark and opens the settlement; the
    /// holders as of this moment owe it. With no rate or no mark it is complete at once.
    private mutating func startDueFundingSettlements(
        timeNanos: Int64, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        for symbol in markets.indices {
            let due = markets[symbol].nextFundingTimeNanos
            guard due != 0, timeNanos >= due, markets[symbol].fundingSettlement == nil else { continue }
            let id = SymbolID(symbol)
            let mark = markets[symbol].markPriceUnits
            let rate = fundingRateE8(id)
            emit(.fundingSettled(symbol: id, rateE8: rate, markPriceUnits: mark), command, sequence, &events)
            if rate == 0 || mark <= 0 {
                emit(.fundingSettlementCompleted(symbol: id, positions: 0), command, sequence, &events)
            }
        }
    }

    /// True when an entry stamped `timeNanos` would start a funding settlement (bounded
    /// rules): the sequencer journals a tick first, so that no user command carries it.
    public func fundingSettlementDue(atTimeNanos timeNanos: Int64) -> Bool {
        isBounded && timeNanos >= earliestFundingDueNanos
    }

    /// Recomputes `earliestFundingDueNanos` and `fundingSettlementsOpen` after a funding
    /// time or a settlement changed (a listing, a settlement's start or end, a decode).
    mutating func refreshFundingSchedule() {
        var earliest = Int64.max
        var open = 0
        // Fields read in place: a copy of each Market would retain its book.
        for symbol in markets.indices {
            if markets[symbol].fundingSettlement != nil {
                open += 1
                continue
            }
            let due = markets[symbol].nextFundingTimeNanos
            if due != 0 { earliest = min(earliest, due) }
        }
        earliestFundingDueNanos = earliest
        fundingSettlementsOpen = open
    }

    /// True while some work of the engine's own is in progress (bounded rules): a tick
    /// would carry it on.
    public var hasSystemWork: Bool {
        isBounded
            && (!deleveragings.isEmpty || !pendingLiquidations.isEmpty || !pendingTriggers.isEmpty
                || fundingSettlementsOpen > 0)
    }

    /// The earliest funding time still to come (journal time), if any symbol has funding:
    /// when the sequencer must journal a tick even without traffic.
    public var nextFundingTimeNanos: Int64? {
        markets.lazy.map(\.nextFundingTimeNanos).filter { $0 != 0 }.min()
    }

    /// True when the position owes the settlement in progress in its symbol.
    @inline(__always)
    func owesFunding(_ position: Position, symbol: Int) -> Bool {
        markets[symbol].fundingSettlement != nil && position.fundingEpoch != markets[symbol].fundingEpoch
            && (position.sizeQuantityUnits != 0 || position.fundingFrozen)
    }

    /// True when the account owes or is owed funding in a settlement in progress (bounded
    /// rules): a withdrawal of its waits for `settleFunding`.
    public func owesFunding(account: AccountID) -> Bool {
        guard isBounded, let index = accountIndexByID[account] else { return false }
        return owesFunding(accountIndex: Int(index))
    }

    func owesFunding(accountIndex index: Int) -> Bool {
        for (symbol, position) in accounts[index].positions.entries where owesFunding(position, symbol: symbol) {
            return true
        }
        return false
    }

    /// One position's payment in its settlement in progress, on its size at the start.
    private mutating func payFunding(
        accountIndex index: Int, symbol: Int, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let settlement = markets[symbol].fundingSettlement!
        let amount = Self.fundingPaymentMinor(
            sizeQuantityUnits: accounts[index].positions[symbol].fundingSizeQuantityUnits, markPriceUnits: settlement.markPriceUnits,
            notionalFactor: markets[symbol].notionalFactor, rateE8: settlement.rateE8)
        emit(.fundingPaid(account: accounts[index].id, symbol: SymbolID(symbol), amountMinor: amount), command, sequence, &events)
        noteLiquidationCandidate(UInt32(index))
    }

    /// Settles everything the account owes in settlements in progress, symbol order
    /// (before its withdrawal, or before it is liquidated).
    mutating func settleOwedFunding(accountIndex index: Int, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        for symbol in accounts[index].positions.symbols where owesFunding(accounts[index].positions[symbol], symbol: symbol) {
            payFunding(accountIndex: index, symbol: symbol, command, sequence, &events)
        }
    }

    /// One bounded step of the settlements in progress, lowest symbol first: at most
    /// `Limits.fundingPaymentsPerEntryMax` payments in all, and per symbol at most
    /// `Limits.fundingHoldersScannedPerEntryMax` holders looked at. A symbol's step ends
    /// with `fundingSettlementCompleted` (after the fund's own payment) when no holder is
    /// left, else with `fundingSettlementAdvanced` naming the last account looked at.
    mutating func continueFundingSettlements(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        var payments = Limits.fundingPaymentsPerEntryMax
        for symbol in markets.indices where payments > 0 {
            guard let settlement = markets[symbol].fundingSettlement else { continue }
            let id = SymbolID(symbol)
            var scanned = 0
            var cursor = Int(settlement.cursorAccountIndex)
            var last: Int? = nil
            while payments > 0, scanned < Limits.fundingHoldersScannedPerEntryMax,
                let index = markets[symbol].holders.first(atOrAfter: cursor)
            {
                scanned += 1
                cursor = index + 1
                last = index
                if owesFunding(accounts[index].positions[symbol], symbol: symbol) {
                    payFunding(accountIndex: index, symbol: symbol, command, sequence, &events)
                    payments -= 1
                }
            }
            if markets[symbol].holders.first(atOrAfter: cursor) == nil {
                let fundSize = settlement.fundSizeQuantityUnits
                let amount = Self.fundingPaymentMinor(
                    sizeQuantityUnits: fundSize, markPriceUnits: settlement.markPriceUnits,
                    notionalFactor: markets[symbol].notionalFactor, rateE8: settlement.rateE8)
                if amount != 0 { emit(.fundFundingPaid(symbol: id, amountMinor: amount), command, sequence, &events) }
                let settled = markets[symbol].fundingSettlement!.positionsSettled
                emit(.fundingSettlementCompleted(symbol: id, positions: settled), command, sequence, &events)
            } else if let last {
                emit(.fundingSettlementAdvanced(symbol: id, throughAccount: accounts[last].id), command, sequence, &events)
            }
        }
    }

    mutating func executeTick(_ command: Command, _ sequence: SequenceNumber, _ events: inout [Event], startedAt first: Int) {
        guard isBounded else { return events.append(.rejected(.noSystemWork, detail: 0)) }
        continueDeleveragings(command, sequence, &events)
        continueLiquidations(command, sequence, &events)
        continueTriggers(command, sequence, &events)
        continueFundingSettlements(command, sequence, &events)
        if events.count == first { events.append(.rejected(.noSystemWork, detail: 0)) }
    }

    mutating func executeSettleFunding(_ account: AccountID, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        guard isBounded, let index = accountIndexByID[account], owesFunding(accountIndex: Int(index)) else {
            return events.append(.rejected(.noSystemWork, detail: 0))
        }
        settleOwedFunding(accountIndex: Int(index), command, sequence, &events)
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
    public static func nextFundingTime(after timeNanos: Int64, intervalSeconds: Int64) -> Int64 {
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
