/// The prices of one symbol and the constants its money is computed with (the
/// coordinator's: its book is in `BookRoom`, its funding in `FundingRoom`, its holders and
/// open interest in `LedgerRoom`).
public struct Market: Sendable {
    /// The oracle's mark price in price units; 0 until the first `setMarkPrice`.
    public internal(set) var markPriceUnits: Int64 = 0
    /// The price of the last trade, 0 before the first.
    public internal(set) var lastPriceUnits: Int64 = 0
    /// The oracle's index price (spot), 0 until the first `setIndexPrice`.
    public internal(set) var indexPriceUnits: Int64 = 0
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

    public init(sequence: SequenceNumber, kind: TransferKind, transfer: Transfer) {
        self.sequence = sequence
        self.kind = kind
        self.transfer = transfer
    }
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
    /// lowest for a buy; 0 before activation) when the order joined the books, placed or
    /// read from a snapshot. While it waits, its extreme moves in the trigger index, which
    /// keeps it per group of stops: `BookRoom.trailingExtremeUnits(of:)`, not this.
    public var joinedTrailingExtremeUnits: Int64
    /// The account's next conditional order in the symbol, by id (0: none): the chain
    /// `BookRoom` keeps per account and symbol (derived, not encoded).
    var nextOfAccount: OrderID = 0
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

    /// Two positions changed (a trade's sides), in order; returns whether it is balanced.
    @inline(__always)
    mutating func move(_ first: (before: Int64, after: Int64), _ second: (before: Int64, after: Int64)) -> Bool {
        move(from: first.before, to: first.after)
        move(from: second.before, to: second.after)
        return isBalanced
    }
}
