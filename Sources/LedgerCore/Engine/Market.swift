/// The live state of one symbol: its book and its prices.
public struct Market: Sendable {
    public internal(set) var book = OrderBook()
    /// The oracle's mark price in price units; 0 until the first `setMarkPrice`.
    public internal(set) var markPriceUnits: Int64 = 0
    /// The price of the last trade, 0 before the first.
    public internal(set) var lastPriceUnits: Int64 = 0
    /// The oracle's index price (spot), 0 until the first `setIndexPrice`.
    public internal(set) var indexPriceUnits: Int64 = 0
    /// Journal time of the next funding settlement; 0 when the symbol has no funding.
    public internal(set) var nextFundingTimeNanos: Int64 = 0
    /// A rate the oracle fixed for the coming settlement; it wins over the premium samples.
    public internal(set) var fundingRateOverrideE8: Int64? = nil
    /// Premium-index samples since the last settlement: their sum and count.
    public internal(set) var premiumSampleSumE8: Int64 = 0
    public internal(set) var premiumSampleCount: Int64 = 0
    /// The rate of the last settlement.
    public internal(set) var lastFundingRateE8: Int64 = 0
    /// Bounded rules: settlements started so far; a position square with the latest
    /// carries this number (`Position.fundingEpoch`).
    public internal(set) var fundingEpoch: UInt32 = 0
    /// Bounded rules: the settlement in progress, paid in bounded steps by ticks.
    public internal(set) var fundingSettlement: FundingSettlement? = nil
    /// The accounts (dense indexes) with a position here, or one that still owes a
    /// settlement in progress: derived from the positions, never journaled.
    var holders = HolderSet()
    /// Of the holders, those short (size < 0): ADL ranks only the side that meets a
    /// bankrupt position, so closing a long visits the shorts alone and closing a short
    /// the holders outside this set. Derived like `holders`.
    var shortHolders = HolderSet()
    /// Σ long and Σ short position sizes (the insurance fund's included): equal after every
    /// entry, checked in `finishEntry`.
    public internal(set) var openInterest = OpenInterest()
    /// Orders waiting for their trigger, in order id order.
    public internal(set) var conditionalOrders: [ConditionalOrder] = []
    /// The maintenance amount of each of the symbol's brackets (`SymbolSpec.maintenanceAmountsMinor`).
    public let maintenanceAmountsMinor: [Int64]
    /// Settlement minor units per (price unit × quantity unit): the exact factor from
    /// `SymbolSpec`'s units to money (docs/RULES.md).
    public let notionalFactor: Int64

    init(notionalFactor: Int64, maintenanceAmountsMinor: [Int64]) {
        self.notionalFactor = notionalFactor
        self.maintenanceAmountsMinor = maintenanceAmountsMinor
    }
}

/// A funding settlement in progress under the bounded rules (docs/RULES.md, "Funding in
/// bounded steps"): fixed when it starts, then paid holder by holder in account order.
public struct FundingSettlement: Sendable, Hashable {
    public var rateE8: Int64
    public var markPriceUnits: Int64
    /// The dense index of the next account the settlement looks at.
    public var cursorAccountIndex: UInt32
    /// The insurance fund's position when the settlement started; paid when it completes.
    public var fundSizeQuantityUnits: Int64
    /// Positions settled so far (by ticks, and early by `settleFunding` or a liquidation).
    public var positionsSettled: UInt64
}

/// Where a resting order is.
struct OrderLocation: Sendable, Hashable {
    var symbol: SymbolID
    var slot: Int32
}

/// An account's client order id.
struct ClientOrderKey: Sendable, Hashable {
    var accountIndex: UInt32
    var clientOrderID: ClientOrderID
}

/// A completed deposit or withdrawal, kept so that a retry returns its outcome.
public struct TransferRecord: Sendable, Hashable {
    public var sequence: SequenceNumber
    public var kind: TransferKind
    public var transfer: Transfer
}

/// Which command a transfer id was used by (the snapshot keeps the raw value; v1 wrote
/// 0 and 1 for the first two).
public enum TransferKind: UInt8, Sendable, Hashable {
    case deposit = 0
    case withdrawal = 1
    case insuranceDeposit = 2
}

/// A stop, take-profit or trailing order waiting for its trigger.
public struct ConditionalOrder: Sendable, Hashable {
    public var orderID: OrderID
    public var accountIndex: UInt32
    public var order: PlaceOrder
    /// Trailing stops: the best working price since activation (highest for a sell,
    /// lowest for a buy); 0 before activation.
    public var trailingExtremeUnits: Int64
}

/// The order the events being applied belong to: set by `orderAccepted`,
/// `conditionalOrderTriggered`, `orderAmended` and `liquidationOrderPlaced`; read by
/// `orderRested`.
struct IncomingOrder: Sendable {
    var orderID: OrderID
    var accountIndex: UInt32
    var symbol: SymbolID
    var side: Side
    var priceUnits: Int64
    var clientOrderID: ClientOrderID
    var reduceOnly: Bool
}

/// The two sides of a symbol's open interest, in quantity units.
public struct OpenInterest: Sendable, Hashable {
    public internal(set) var longUnits: Int64 = 0
    public internal(set) var shortUnits: Int64 = 0

    public var isBalanced: Bool { longUnits == shortUnits }

    /// A position changed from `before` to `after` (signed sizes).
    mutating func move(from before: Int64, to after: Int64) {
        longUnits += max(0, after) - max(0, before)
        shortUnits += max(0, -after) - max(0, -before)
    }
}

extension Market {
    /// The lowest holder at or after account index `start` on the side that meets a
    /// bankrupt position closed by `closingSide`: a short for a long closed by selling, else
    /// a holder that is not short (those of size 0 that still owe funding included).
    @inline(__always)
    func firstHolder(atOrAfter start: Int, meeting closingSide: Side) -> Int? {
        holders.first(atOrAfter: start, shorts: closingSide == .sell, of: shortHolders)
    }
}
