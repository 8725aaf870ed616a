/// The live state of one symbol: its book and its prices.
public struct Market: Sendable {
    public internal(set) var book = OrderBook()
    /// The oracle's mark price in price units; 0 until the first `setMarkPrice`.
    public internal(set) var markPriceUnits: Int64 = 0
    /// The price of the last trade, 0 before the first.
    public internal(set) var lastPriceUnits: Int64 = 0
    /// Settlement minor units per (price unit × quantity unit): the exact factor from
    /// `SymbolSpec`'s units to money (docs/RULES.md).
    public let notionalFactor: Int64

    init(notionalFactor: Int64) {
        self.notionalFactor = notionalFactor
    }
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
    public var isWithdrawal: Bool
    public var transfer: Transfer
}
