/// An order in the book: a slot in its book's pool, linked into its price level's FIFO and
/// among its account's orders on its side.
public struct RestingOrder: Sendable, Hashable, BitwiseCopyable {
    // Widest fields first: 47 bytes, a stride of 48 (docs/BENCHMARKS.md, "Memory"; 40
    // before the account links).
    public var orderID: OrderID
    public var priceUnits: Int64
    public var openQuantityUnits: Int64
    /// The owner's dense index in `LedgerRoom.accounts`.
    public var accountIndex: UInt32
    /// Neighbours in the level's FIFO, `OrderBook.none` at the ends.
    var previousSlot: Int32
    var nextSlot: Int32
    /// Neighbours among the account's orders on this side, in the order they joined their
    /// levels, `OrderBook.none` at the ends; the last is named by the account's position
    /// slot (`PositionTable.Slot.lastBidSlot`).
    var accountPreviousSlot: Int32
    var accountNextSlot: Int32
    public var side: Side
    /// Only reduces the position; shrunk or cancelled when the position shrinks or closes.
    public var reduceOnly: Bool
    /// The order has a client order id, kept beside the books (`BookRoom
    /// .restingClientOrderIDs`) so that an order is 48 bytes whatever its id's length.
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
        self.accountPreviousSlot = OrderBook.none
        self.accountNextSlot = OrderBook.none
    }

    /// Two orders are the same order when their terms are: the links are where the book
    /// keeps it, and two books built by different paths link alike orders differently.
    public static func == (left: RestingOrder, right: RestingOrder) -> Bool {
        left.orderID == right.orderID && left.priceUnits == right.priceUnits && left.openQuantityUnits == right.openQuantityUnits
            && left.accountIndex == right.accountIndex && left.side == right.side && left.reduceOnly == right.reduceOnly
            && left.hasClientOrderID == right.hasClientOrderID
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(orderID)
        hasher.combine(priceUnits)
        hasher.combine(openQuantityUnits)
        hasher.combine(accountIndex)
        hasher.combine(side)
        hasher.combine(reduceOnly)
        hasher.combine(hasClientOrderID)
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
