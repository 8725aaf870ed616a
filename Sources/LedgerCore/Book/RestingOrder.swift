/// An order in the book: a slot in its book's pool, linked into its price level's FIFO.
public struct RestingOrder: Sendable, Hashable {
    // Widest fields first: 39 bytes, a stride of 40 (docs/BENCHMARKS.md, "Memory").
    public var orderID: OrderID
    public var priceUnits: Int64
    public var openQuantityUnits: Int64
    /// The owner's dense index in `LedgerRoom.accounts`.
    public var accountIndex: UInt32
    /// Neighbours in the level's FIFO, `OrderBook.none` at the ends.
    var previousSlot: Int32
    var nextSlot: Int32
    public var side: Side
    /// Only reduces the position; shrunk or cancelled when the position shrinks or closes.
    public var reduceOnly: Bool
    /// The order has a client order id, kept beside the books (`BookRoom
    /// .restingClientOrderIDs`) so that an order is 40 bytes whatever its id's length.
    public var hasClientOrderID: Bool

    public init(
        orderID: OrderID, accountIndex: UInt32, side: Side, priceUnits: Int64, openQuantityUnits: Int64,
        hasClientOrderID: Bool, reduceOnly: Bool = false
    ) {
        self.orderID = orderID
        self.accountIndex = accountIndex
        self.side = side
        self.priceUnits = priceUnits
        self.openQuantityUnits = openQuantityUnits
        self.hasClientOrderID = hasClientOrderID
        self.reduceOnly = reduceOnly
        self.previousSlot = OrderBook.none
        self.nextSlot = OrderBook.none
    }
}

/// All resting orders at one price on one side, oldest first.
public struct PriceLevel: Sendable, Hashable {
    public var priceUnits: Int64
    public var quantityUnits: Int64
    public var orderCount: Int32
    var headSlot: Int32
    var tailSlot: Int32
}
