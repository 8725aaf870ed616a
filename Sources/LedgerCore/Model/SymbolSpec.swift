/// The contract terms of a linear perpetual, as listed by an admin command.
///
/// Units: prices are integers in units of 10^-`priceScale` quote currency per base unit;
/// quantities in units of 10^-`quantityScale` base units. The notional of `q` at `p` in
/// minor units of the settlement asset is `p × q × contractMultiplier ×
/// 10^(settleScale − priceScale − quantityScale)`, which listing requires to be exact
/// (`priceScale + quantityScale ≤ settleScale`). See docs/RULES.md.
public struct SymbolSpec: Sendable, Hashable {
    public var id: SymbolID
    /// Ticker, ASCII, at most `Limits.nameBytesMax` bytes, e.g. "BTCUSDT".
    public var name: String
    /// The asset margin, fees and PnL are paid in (USDT).
    public var settleAsset: AssetID
    public var priceScale: UInt8
    public var quantityScale: UInt8
    /// Prices must be multiples of this, in price units.
    public var tickSizePriceUnits: Int64
    /// Quantities must be multiples of this, in quantity units.
    public var lotSizeQuantityUnits: Int64
    /// Base units per quantity unit of one contract (1 for plain linear contracts).
    public var contractMultiplier: Int64
    /// The least notional an order may have, in settlement minor units.
    public var minNotionalMinor: Int64
    /// The largest price an order may carry, in price units.
    public var maxPriceUnits: Int64
    /// The largest quantity an order may carry, in quantity units.
    public var maxQuantityUnits: Int64
    /// The largest |position| plus open orders on one side an account may hold.
    public var maxPositionQuantityUnits: Int64
    public var maxLeverage: UInt16
    /// The leverage of an account that never set one.
    public var defaultLeverage: UInt16
    /// Fee rates in units of 10^-8; the maker rate may be negative (a rebate).
    public var makerFeeRateE8: Int64
    public var takerFeeRateE8: Int64

    public init(
        id: SymbolID, name: String, settleAsset: AssetID, priceScale: UInt8, quantityScale: UInt8,
        tickSizePriceUnits: Int64, lotSizeQuantityUnits: Int64, contractMultiplier: Int64 = 1,
        minNotionalMinor: Int64, maxPriceUnits: Int64, maxQuantityUnits: Int64, maxPositionQuantityUnits: Int64,
        maxLeverage: UInt16, defaultLeverage: UInt16, makerFeeRateE8: Int64, takerFeeRateE8: Int64
    ) {
        self.id = id
        self.name = name
        self.settleAsset = settleAsset
        self.priceScale = priceScale
        self.quantityScale = quantityScale
        self.tickSizePriceUnits = tickSizePriceUnits
        self.lotSizeQuantityUnits = lotSizeQuantityUnits
        self.contractMultiplier = contractMultiplier
        self.minNotionalMinor = minNotionalMinor
        self.maxPriceUnits = maxPriceUnits
        self.maxQuantityUnits = maxQuantityUnits
        self.maxPositionQuantityUnits = maxPositionQuantityUnits
        self.maxLeverage = maxLeverage
        self.defaultLeverage = defaultLeverage
        self.makerFeeRateE8 = makerFeeRateE8
        self.takerFeeRateE8 = takerFeeRateE8
    }
}
