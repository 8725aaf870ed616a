/// What a command did. Events are facts: replaying them onto the state that preceded
/// them gives the state that followed (`ExchangeState.apply`), and an audit compares the
/// events that re-execution yields with the journaled ones, byte for byte.
public enum Event: Sendable, Hashable {
    case assetListed(AssetID)
    case symbolListed(SymbolID)
    /// `amountMinor` moved from the external account to `account`.
    case deposited(account: AccountID, asset: AssetID, amountMinor: Int64)
    /// `amountMinor` moved from `account` to the external account.
    case withdrawn(account: AccountID, asset: AssetID, amountMinor: Int64)
    /// A retry of a transfer already done at `originalSequence`; nothing changed.
    case transferReplayed(originalSequence: SequenceNumber)
    case leverageSet(account: AccountID, symbol: SymbolID, leverage: UInt16)
    case markPriceSet(symbol: SymbolID, priceUnits: Int64)
    /// The order passed validation and the margin check and got its id.
    case orderAccepted(OrderID)
    case trade(Trade)
    /// The unfilled rest went into the book.
    case orderRested(OrderID, openQuantityUnits: Int64)
    case orderExpired(OrderID, quantityUnits: Int64, reason: ExpiryReason)
    case orderCancelled(OrderID, quantityUnits: Int64)
    case indexPriceSet(symbol: SymbolID, priceUnits: Int64)
    case fundingRateSet(symbol: SymbolID, rateE8: Int64)
    case premiumSampled(symbol: SymbolID, premiumE8: Int64)
    /// A funding settlement of `symbol` at `rateE8` and the mark price; the payments follow.
    case fundingSettled(symbol: SymbolID, rateE8: Int64, markPriceUnits: Int64)
    /// One position's funding: positive = the account paid `amountMinor` to the funding
    /// clearing account, negative = it was paid.
    case fundingPaid(account: AccountID, symbol: SymbolID, amountMinor: Int64)
    case marginModeSet(account: AccountID, symbol: SymbolID, isolated: Bool)
    /// Margin moved from the cross wallet into an isolated position (negative: out of it).
    case isolatedMarginAdjusted(account: AccountID, symbol: SymbolID, amountMinor: Int64)
    /// `amountMinor` moved from the external account to the insurance fund.
    case insuranceFundDeposited(asset: AssetID, amountMinor: Int64)
    /// An account reached maintenance margin: its cross positions in `asset`, or its
    /// isolated position in `isolatedSymbol`, are liquidated by the events that follow.
    case liquidationTriggered(
        account: AccountID, asset: AssetID, isolatedSymbol: SymbolID?, marginBalanceMinor: Int64, maintenanceMinor: Int64)
    /// An IOC order closing `account`'s position at its bankruptcy price; the trades that
    /// follow name it as taker (no taker fee).
    case liquidationOrderPlaced(
        OrderID, account: AccountID, symbol: SymbolID, side: Side, bankruptcyPriceUnits: Int64, quantityUnits: Int64)
    /// What the liquidation order's fills left above bankruptcy: the liquidation fee and
    /// the rest of the surplus, both paid by the account to the insurance fund.
    case liquidationSettled(account: AccountID, symbol: SymbolID, filledQuantityUnits: Int64, feeMinor: Int64, surplusMinor: Int64)
    /// The insurance fund took over `quantityUnits` of the position at the bankruptcy
    /// price; `side` is the account's (closing) side.
    case insuranceTakeover(
        account: AccountID, symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64, realizedPnlMinor: Int64,
        fundRealizedPnlMinor: Int64)
    /// The bankrupt account's position closed against an opposing position at the
    /// bankruptcy price, without fees.
    case autoDeleveraged(
        account: AccountID, counterparty: AccountID, symbol: SymbolID, side: Side, priceUnits: Int64, quantityUnits: Int64,
        realizedPnlMinor: Int64, counterpartyRealizedPnlMinor: Int64)
    /// The insurance fund's funding on its position: positive = the fund paid.
    case fundFundingPaid(symbol: SymbolID, amountMinor: Int64)
    /// The insurance fund paid an account's negative balance after its liquidation.
    case badDebtCovered(account: AccountID, asset: AssetID, amountMinor: Int64)
    /// The accepted order waits for its trigger (its terms are the command's).
    case conditionalOrderPlaced(OrderID)
    /// Its working price reached the trigger: it goes to the book now, as a market order
    /// or a limit order, under the same id; the events that follow are its.
    case conditionalOrderTriggered(OrderID, priceUnits: Int64)
    /// The triggered order could not be placed (reduce-only, band, margin …).
    case triggeredOrderRejected(OrderID, reason: RejectReason)
    case conditionalOrderCancelled(OrderID)
    /// A resting order left the book without trading (self-trade prevention).
    case restingOrderExpired(OrderID, quantityUnits: Int64, reason: ExpiryReason)
    /// A resting order's open quantity shrank by `quantityUnits`, keeping its priority
    /// (an amendment, or a reduce-only order beyond the position).
    case orderReduced(OrderID, quantityUnits: Int64)
    /// A resting order left the book to come back at a new price or a larger quantity;
    /// the events that follow are its (trades, rested or expired).
    case orderAmended(OrderID, priceUnits: Int64, quantityUnits: Int64)
    /// A cancel-all finished: `count` orders were cancelled by the events before it.
    case allOrdersCancelled(account: AccountID, symbol: SymbolID, count: UInt64)
    case idempotencyWindowSet(IdempotencyWindow)
    /// The bounded rules and these limits of the world are in force from this entry on.
    case worldLimitsSet(WorldLimits)
    /// A funding settlement in bounded steps (bounded rules) is done: `positions` were
    /// settled, one `fundingPaid` each, since its `fundingSettled`.
    case fundingSettlementCompleted(symbol: SymbolID, positions: UInt64)
    /// A step of a funding settlement in progress ended at `throughAccount` (the last
    /// account it looked at); the next step starts after it.
    case fundingSettlementAdvanced(symbol: SymbolID, throughAccount: AccountID)
    /// A liquidation's ADL reached the entry's budget with `remainingQuantityUnits` of the
    /// bankrupt position left; later ticks close it against opposing positions at the same
    /// bankruptcy price. With 0: a continuation ends (the position is gone).
    case deleveragingContinues(
        account: AccountID, symbol: SymbolID, side: Side, bankruptcyPriceUnits: Int64, remainingQuantityUnits: Int64)
    /// Bounded rules: a step of an ADL ranking built in bounded steps (`AdlRanking`) scored
    /// the positions of `symbol` that meet a bankrupt position closed by `side`, from the
    /// ranking's cursor through `throughAccount` (the last account it looked at). It starts
    /// the ranking when the side has none, or only a complete one (which it replaces).
    case adlRankingAdvanced(symbol: SymbolID, side: Side, throughAccount: AccountID)
    /// Bounded rules: the walk of that ranking passed the last holder; `positions` were
    /// scored in all, and the side's deleveragings meet them from now on.
    case adlRankingCompleted(symbol: SymbolID, side: Side, positions: UInt64)
    /// The command changed nothing. `detail` names what it collided with where that
    /// helps (the existing order id, the original transfer's sequence), else 0.
    case rejected(RejectReason, detail: UInt64)
}

extension Event {
    /// True when `lhs` and `rhs` hold equal events in the same order: the audit's check of
    /// re-executed events (in one buffer for a whole block, `DecodingReader.audit`) against
    /// the journal's. By position over the buffers: the library's `elementsEqual` walks both
    /// through iterators that copy each event out.
    public static func same(_ lhs: ArraySlice<Event>, _ rhs: ArraySlice<Event>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBufferPointer { left in
            rhs.withUnsafeBufferPointer { right in same(left[...], right[...]) }
        }
    }

    /// The same over parts of buffers (a block's re-executed events and its journaled ones,
    /// each buffer taken once a block: slicing the arrays an entry retained and released
    /// them).
    public static func same(_ lhs: Slice<UnsafeBufferPointer<Event>>, _ rhs: Slice<UnsafeBufferPointer<Event>>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var left = lhs.startIndex
        var right = rhs.startIndex
        while left < lhs.endIndex {
            if lhs[left] != rhs[right] { return false }
            left += 1
            right += 1
        }
        return true
    }
}

/// One fill between a resting (maker) and an incoming (taker) order.
public struct Trade: Sendable, Hashable {
    public var tradeID: TradeID
    public var symbol: SymbolID
    public var makerOrderID: OrderID
    public var takerOrderID: OrderID
    public var makerAccount: AccountID
    public var takerAccount: AccountID
    public var takerSide: Side
    public var priceUnits: Int64
    public var quantityUnits: Int64
    /// Paid to the fee account (negative: a rebate paid by it), settlement minor units.
    public var makerFeeMinor: Int64
    public var takerFeeMinor: Int64
    /// Paid from the PnL clearing account (negative: paid to it).
    public var makerRealizedPnlMinor: Int64
    public var takerRealizedPnlMinor: Int64

    public init(
        tradeID: TradeID, symbol: SymbolID, makerOrderID: OrderID, takerOrderID: OrderID,
        makerAccount: AccountID, takerAccount: AccountID, takerSide: Side, priceUnits: Int64,
        quantityUnits: Int64, makerFeeMinor: Int64, takerFeeMinor: Int64,
        makerRealizedPnlMinor: Int64, takerRealizedPnlMinor: Int64
    ) {
        self.tradeID = tradeID
        self.symbol = symbol
        self.makerOrderID = makerOrderID
        self.takerOrderID = takerOrderID
        self.makerAccount = makerAccount
        self.takerAccount = takerAccount
        self.takerSide = takerSide
        self.priceUnits = priceUnits
        self.quantityUnits = quantityUnits
        self.makerFeeMinor = makerFeeMinor
        self.takerFeeMinor = takerFeeMinor
        self.makerRealizedPnlMinor = makerRealizedPnlMinor
        self.takerRealizedPnlMinor = takerRealizedPnlMinor
    }
}
