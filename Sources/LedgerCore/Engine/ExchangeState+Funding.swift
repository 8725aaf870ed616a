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
    @inline(__always)
    mutating func settleDueFunding(timeNanos: Int64, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        // Most entries find nothing due: one comparison in the caller, no call.
        if timeNanos >= funding.earliestFundingDueNanos { settleFundingDue(timeNanos: timeNanos, command, sequence, &events) }
    }

    @inline(never)
    private mutating func settleFundingDue(timeNanos: Int64, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        if isBounded { return startDueFundingSettlements(timeNanos: timeNanos, command, sequence, &events) }
        for symbol in markets.indices {
            let due = funding.bySymbol[symbol].nextFundingTimeNanos
            guard due != 0, timeNanos >= due else { continue }
            let id = SymbolID(symbol)
            let mark = markets[symbol].markPriceUnits
            emit(.fundingSettled(symbol: id, rateE8: fundingRateE8(id), markPriceUnits: mark), command, sequence, &events)
            let rate = funding.bySymbol[symbol].lastFundingRateE8
            guard rate != 0, mark > 0 else { continue }
            // Holders in account order: the accounts with a position, as a scan of every
            // account would find them.
            var next = ledger.holders[symbol].first(atOrAfter: 0)
            while let index = next {
                next = ledger.holders[symbol].first(atOrAfter: index + 1)
                let size = ledger.accounts[index].position(id).sizeQuantityUnits
                if size == 0 { continue }
                let amount = Self.fundingPaymentMinor(
                    sizeQuantityUnits: size, markPriceUnits: mark, notionalFactor: markets[symbol].notionalFactor, rateE8: rate)
                if amount == 0 { continue }
                emit(.fundingPaid(account: ledger.accounts[index].id, symbol: id, amountMinor: amount), command, sequence, &events)
                noteLiquidationCandidate(UInt32(index))
            }
            let fundSize = ledger.insurancePositions[symbol].sizeQuantityUnits
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
            let due = funding.bySymbol[symbol].nextFundingTimeNanos
            guard due != 0, timeNanos >= due, funding.bySymbol[symbol].fundingSettlement == nil else { continue }
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
        isBounded && timeNanos >= funding.earliestFundingDueNanos
    }

    /// True while some work of the engine's own is in progress (bounded rules): a tick
    /// would carry it on.
    public var hasSystemWork: Bool {
        isBounded
            && (!risk.deleveragings.isEmpty || !risk.pendingLiquidations.isEmpty || !pendingTriggers.isEmpty
                || funding.fundingSettlementsOpen > 0)
    }

    /// `hasSystemWork` for a caller that holds the state in place (the sequencer asks after
    /// every command): read as a property from another module, even through an `inout`
    /// access, it was handed a copy of the whole state (1,392 bytes, a `memcpy` of some 160
    /// instructions a command on the engine's thread); a mutating method is handed the
    /// state's address. It changes nothing.
    public mutating func hasSystemWorkInPlace() -> Bool { hasSystemWork }

    /// The earliest funding time still to come (journal time), if any symbol has funding:
    /// when the sequencer must journal a tick even without traffic.
    public var nextFundingTimeNanos: Int64? { funding.nextFundingTimeNanos }

    /// True when the position owes the settlement in progress in its symbol.
    @inline(__always)
    func owesFunding(_ position: Position, symbol: Int) -> Bool {
        funding.owes(position, symbol: symbol)
    }

    /// True when the account owes or is owed funding in a settlement in progress (bounded
    /// rules): a withdrawal of its waits for `settleFunding`.
    public func owesFunding(account: AccountID) -> Bool {
        guard isBounded, let index = ledger.accountIndexByID[account] else { return false }
        return owesFunding(accountIndex: Int(index))
    }

    func owesFunding(accountIndex index: Int) -> Bool {
        for (symbol, position) in ledger.accounts[index].positions.entries where owesFunding(position, symbol: symbol) {
            return true
        }
        return false
    }

    /// One position's payment in its settlement in progress, on its size at the start.
    private mutating func payFunding(
        accountIndex index: Int, symbol: Int, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        let settlement = funding.bySymbol[symbol].fundingSettlement!
        let amount = Self.fundingPaymentMinor(
            sizeQuantityUnits: ledger.accounts[index].positions[symbol].fundingSizeQuantityUnits, markPriceUnits: settlement.markPriceUnits,
            notionalFactor: markets[symbol].notionalFactor, rateE8: settlement.rateE8)
        emit(.fundingPaid(account: ledger.accounts[index].id, symbol: SymbolID(symbol), amountMinor: amount), command, sequence, &events)
        noteLiquidationCandidate(UInt32(index))
    }

    /// Settles everything the account owes in settlements in progress, symbol order
    /// (before its withdrawal, or before it is liquidated).
    mutating func settleOwedFunding(accountIndex index: Int, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        for symbol in ledger.accounts[index].positions.symbols where owesFunding(ledger.accounts[index].positions[symbol], symbol: symbol) {
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
            guard let settlement = funding.bySymbol[symbol].fundingSettlement else { continue }
            let id = SymbolID(symbol)
            var scanned = 0
            var cursor = Int(settlement.cursorAccountIndex)
            var last: Int? = nil
            while payments > 0, scanned < Limits.fundingHoldersScannedPerEntryMax,
                let index = ledger.holders[symbol].first(atOrAfter: cursor)
            {
                scanned += 1
                cursor = index + 1
                last = index
                if owesFunding(ledger.accounts[index].positions[symbol], symbol: symbol) {
                    payFunding(accountIndex: index, symbol: symbol, command, sequence, &events)
                    payments -= 1
                }
            }
            if ledger.holders[symbol].first(atOrAfter: cursor) == nil {
                let fundSize = settlement.fundSizeQuantityUnits
                let amount = Self.fundingPaymentMinor(
                    sizeQuantityUnits: fundSize, markPriceUnits: settlement.markPriceUnits,
                    notionalFactor: markets[symbol].notionalFactor, rateE8: settlement.rateE8)
                if amount != 0 { emit(.fundFundingPaid(symbol: id, amountMinor: amount), command, sequence, &events) }
                let settled = funding.bySymbol[symbol].fundingSettlement!.positionsSettled
                emit(.fundingSettlementCompleted(symbol: id, positions: settled), command, sequence, &events)
            } else if let last {
                emit(.fundingSettlementAdvanced(symbol: id, throughAccount: ledger.accounts[last].id), command, sequence, &events)
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
        guard isBounded, let index = ledger.accountIndexByID[account], owesFunding(accountIndex: Int(index)) else {
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
        funding.rateE8(Int(symbol), symbols[Int(symbol)])
    }

    /// The premium formula (`FundingRoom.premiumFundingRateE8`).
    @inlinable
    public static func premiumFundingRateE8(premiumSumE8: Int64, samples: Int64, interestE8: Int64, clampE8: Int64, capE8: Int64)
        -> Int64
    {
        FundingRoom.premiumFundingRateE8(
            premiumSumE8: premiumSumE8, samples: samples, interestE8: interestE8, clampE8: clampE8, capE8: capE8)
    }

    /// The first funding time strictly after `timeNanos` for an interval in seconds.
    public static func nextFundingTime(after timeNanos: Int64, intervalSeconds: Int64) -> Int64 {
        FundingRoom.nextFundingTime(after: timeNanos, intervalSeconds: intervalSeconds)
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
                funding.bySymbol[Int(symbol)].premiumSampleCount < Limits.premiumSamplesMax
            else { return events.append(.rejected(.invalidRate, detail: 0)) }
            emit(.premiumSampled(symbol: symbol, premiumE8: value), command, sequence, &events)
        }
    }

    mutating func executeInsuranceDeposit(_ transfer: Transfer, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]) {
        if let record = idempotency.transfers[transfer.transferID] {
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
