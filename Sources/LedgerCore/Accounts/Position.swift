/// One account's stake in one symbol: the position and the open orders that margin it.
///
/// The position keeps its entry *cost* (the signed notional paid to open it) rather than
/// an average price, so no rounding is ever lost: the PnL clearing account always holds
/// exactly minus the sum of all positions' cost (docs/RULES.md, "PnL clearing").
public struct Position: Sendable, Hashable {
    // The 64-bit fields first, the narrow ones last: 72 bytes instead of 88 with padding
    // (an account's table of positions is most of its memory; docs/BENCHMARKS.md).
    /// Signed size in quantity units: positive long, negative short.
    public var sizeQuantityUnits: Int64 = 0
    /// Signed entry notional in settlement minor units: positive for a long.
    public var costMinor: Int64 = 0
    /// Open orders on each side: quantity and notional at their limit prices.
    public var openBuyQuantityUnits: Int64 = 0
    public var openBuyNotionalMinor: Int64 = 0
    public var openSellQuantityUnits: Int64 = 0
    public var openSellNotionalMinor: Int64 = 0
    /// The part of the wallet set aside for this position when isolated; 0 when cross.
    public var isolatedMarginMinor: Int64 = 0
    /// Bounded rules: the size the position had when the settlement in progress started,
    /// when `fundingFrozen`.
    public var fundingFrozenSizeQuantityUnits: Int64 = 0
    /// Bounded rules: the number of the symbol's last funding settlement this position is
    /// square with (`Market.fundingEpoch`); a position held when a settlement starts owes
    /// it until its `fundingPaid` (docs/RULES.md, "Funding in bounded steps").
    public var fundingEpoch: UInt32 = 0
    /// Leverage chosen by the account; 0 means the symbol's default.
    public var leverage: UInt16 = 0
    /// Isolated margin mode: the position is margined by `isolatedMarginMinor` alone, not by
    /// the account's cross wallet (docs/RULES.md, "Isolated margin").
    public var isIsolated = false
    /// Bounded rules: the size changed while the position still owed a settlement in
    /// progress, so the settlement uses `fundingFrozenSizeQuantityUnits`, the size it had
    /// when the settlement started.
    public var fundingFrozen = false

    public init() {}

    /// True when the position holds nothing worth keeping in a snapshot.
    public var isEmpty: Bool {
        sizeQuantityUnits == 0 && costMinor == 0 && leverage == 0 && openBuyQuantityUnits == 0
            && openSellQuantityUnits == 0 && !isIsolated && isolatedMarginMinor == 0 && fundingEpoch == 0 && !fundingFrozen
    }

    /// A position or resting orders: what counts toward `WorldLimits.positionsPerAccountMax`.
    @inlinable
    public var holdsPositionOrOrders: Bool { sizeQuantityUnits != 0 || openBuyQuantityUnits != 0 || openSellQuantityUnits != 0 }

    /// The size a funding settlement charges: the size at the settlement's start.
    @inlinable
    public var fundingSizeQuantityUnits: Int64 { fundingFrozen ? fundingFrozenSizeQuantityUnits : sizeQuantityUnits }

    /// Adds (negative: removes) open-order quantity and notional on one side.
    @inlinable
    public mutating func addOpenOrder(side: Side, quantityUnits: Int64, notionalMinor: Int64) {
        if side == .buy {
            openBuyQuantityUnits += quantityUnits
            openBuyNotionalMinor += notionalMinor
        } else {
            openSellQuantityUnits += quantityUnits
            openSellNotionalMinor += notionalMinor
        }
    }

    /// The quantity of a fill on `side` that closes part of this position.
    @inlinable
    public func closingQuantity(side: Side, quantityUnits: Int64) -> Int64 {
        sizeQuantityUnits == 0 || (sizeQuantityUnits > 0) == (side == .buy) ? 0 : min(quantityUnits, abs(sizeQuantityUnits))
    }

    /// This position after a fill, with its realized PnL; the one rule every path uses
    /// (planning, matching, applying). Size and cost follow `afterFill`. An isolated
    /// position also moves margin: the realized PnL and the fee settle in its isolated
    /// margin; the closed share of that margin (all of it when the position closes) goes
    /// back to the cross wallet, rounded toward −∞; opening takes notional / leverage,
    /// rounded up, from the cross wallet.
    @inlinable
    public func filled(
        side: Side, quantityUnits: Int64, priceUnits: Int64, notionalFactor: Int64, feeMinor: Int64, leverage: Int64
    ) -> (position: Position, realizedPnlMinor: Int64) {
        filled(
            side: side, quantityUnits: quantityUnits, priceUnits: priceUnits, notionalFactor: notionalFactor, feeMinor: feeMinor,
            leverage: leverage,
            after: Position.afterFill(
                sizeQuantityUnits: sizeQuantityUnits, costMinor: costMinor, side: side, quantityUnits: quantityUnits,
                priceUnits: priceUnits, notionalFactor: notionalFactor))
    }

    /// The same, given `afterFill` of this position's size and cost for the fill, as the
    /// caller already took it (matching takes it to price the trade; applying the trade it
    /// made need not take it again). Checked in debug builds.
    @inlinable
    public func filled(
        side: Side, quantityUnits: Int64, priceUnits: Int64, notionalFactor: Int64, feeMinor: Int64, leverage: Int64,
        after: (sizeQuantityUnits: Int64, costMinor: Int64, realizedPnlMinor: Int64)
    ) -> (position: Position, realizedPnlMinor: Int64) {
        assert(
            after
                == Position.afterFill(
                    sizeQuantityUnits: sizeQuantityUnits, costMinor: costMinor, side: side, quantityUnits: quantityUnits,
                    priceUnits: priceUnits, notionalFactor: notionalFactor), "a fill's size and cost taken for another position")
        var next = self
        next.sizeQuantityUnits = after.sizeQuantityUnits
        next.costMinor = after.costMinor
        if isIsolated {
            let closed = closingQuantity(side: side, quantityUnits: quantityUnits)
            var margin = isolatedMarginMinor + after.realizedPnlMinor - feeMinor
            if closed > 0 {
                margin -=
                    closed == abs(sizeQuantityUnits)
                    ? margin
                    : Int64(FixedPoint.divideRoundingDown(FixedPoint.product(margin, closed), Int128(abs(sizeQuantityUnits))))
            }
            let opened = quantityUnits - closed
            if opened > 0 {
                margin += Int64(FixedPoint.divideRoundingUp(Int128(priceUnits * opened * notionalFactor), Int128(leverage)))
            }
            next.isolatedMarginMinor = margin
        }
        return (next, after.realizedPnlMinor)
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
            : Int64(FixedPoint.divideRoundingUp(FixedPoint.product(cost, closeQuantity), Int128(abs(size))))
        let closeNotional = side.sign * priceUnits * closeQuantity * notionalFactor
        let realized = -closeNotional - removedCost
        let openQuantity = quantityUnits - closeQuantity
        let newSize = size + side.sign * closeQuantity + side.sign * openQuantity
        let newCost = cost - removedCost + side.sign * priceUnits * openQuantity * notionalFactor
        return (newSize, newCost, realized)
    }
}
