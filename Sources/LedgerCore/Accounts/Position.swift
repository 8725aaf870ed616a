/// One account's stake in one symbol: the position and the open orders that margin it.
///
/// The position keeps its entry *cost* (the signed notional paid to open it) rather than
/// an average price, so no rounding is ever lost: the PnL clearing account always holds
/// exactly minus the sum of all positions' cost (docs/RULES.md, "PnL clearing").
public struct Position: Sendable, Hashable {
    /// Signed size in quantity units: positive long, negative short.
    public var sizeQuantityUnits: Int64 = 0
    /// Signed entry notional in settlement minor units: positive for a long.
    public var costMinor: Int64 = 0
    /// Leverage chosen by the account; 0 means the symbol's default.
    public var leverage: UInt16 = 0
    /// Open orders on each side: quantity and notional at their limit prices.
    public var openBuyQuantityUnits: Int64 = 0
    public var openBuyNotionalMinor: Int64 = 0
    public var openSellQuantityUnits: Int64 = 0
    public var openSellNotionalMinor: Int64 = 0

    public init() {}

    /// True when the position holds nothing worth keeping in a snapshot.
    public var isEmpty: Bool {
        sizeQuantityUnits == 0 && costMinor == 0 && leverage == 0 && openBuyQuantityUnits == 0
            && openSellQuantityUnits == 0
    }

    /// The position after a fill of `quantityUnits` on `side` worth `notionalMinor`
    /// (`notionalMinor` = price × quantity × notional factor, exact), and the PnL it
    /// realized. Closing removes cost in proportion to the closed quantity, rounded
    /// toward +∞ (against the holder); a fill larger than the position flips it.
    @inlinable
    public static func afterFill(
        sizeQuantityUnits size: Int64, costMinor cost: Int64, side: Side,
        quantityUnits: Int64, priceUnits: Int64, notionalFactor: Int64
    ) -> (sizeQuantityUnits: Int64, costMinor: Int64, realizedPnlMinor: Int64) {
        precondition(quantityUnits > 0)
        let signedQuantity = side.sign * quantityUnits
        if size == 0 || (size > 0) == (signedQuantity > 0) {
            let notional = priceUnits * quantityUnits * notionalFactor
            return (size + signedQuantity, cost + side.sign * notional, 0)
        }
        let closeQuantity = min(quantityUnits, abs(size))
        let removedCost: Int64 =
            closeQuantity == abs(size)
            ? cost
            : Int64(FixedPoint.divideRoundingUp(Int128(cost) * Int128(closeQuantity), Int128(abs(size))))
        let closeNotional = side.sign * priceUnits * closeQuantity * notionalFactor
        let realized = -closeNotional - removedCost
        let openQuantity = quantityUnits - closeQuantity
        let newSize = size + side.sign * closeQuantity + side.sign * openQuantity
        let newCost = cost - removedCost + side.sign * priceUnits * openQuantity * notionalFactor
        return (newSize, newCost, realized)
    }
}
