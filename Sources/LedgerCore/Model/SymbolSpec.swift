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

    // The rule-book terms (listing v2, docs/RULES.md). A symbol listed with the v1 layout
    // gets `legacyTerms`: one bracket without maintenance margin, no band, no funding.

    /// Maintenance-margin brackets by position notional, lowest first.
    public var brackets: [MarginBracket]
    /// A limit price must lie within mark × (1 ± this); 0 = no band.
    public var priceBandRateE8: Int64
    /// Funding is settled every this many seconds of journal time (at multiples of it since
    /// 1970); 0 = no funding.
    public var fundingIntervalSeconds: Int64
    /// The interest rate per funding interval in the premium formula (Binance: 0.01%).
    public var fundingInterestRateE8: Int64
    /// The clamp on (interest − premium) in the premium formula (Binance: ±0.05%).
    public var fundingClampRateE8: Int64
    /// |funding rate| is capped at this.
    public var fundingCapRateE8: Int64
    /// Charged on a liquidation fill's notional, to the insurance fund (capped so that the
    /// liquidated account never ends below bankruptcy).
    public var liquidationFeeRateE8: Int64

    public init(
        id: SymbolID, name: String, settleAsset: AssetID, priceScale: UInt8, quantityScale: UInt8,
        tickSizePriceUnits: Int64, lotSizeQuantityUnits: Int64, contractMultiplier: Int64 = 1,
        minNotionalMinor: Int64, maxPriceUnits: Int64, maxQuantityUnits: Int64, maxPositionQuantityUnits: Int64,
        maxLeverage: UInt16, defaultLeverage: UInt16, makerFeeRateE8: Int64, takerFeeRateE8: Int64,
        brackets: [MarginBracket]? = nil, priceBandRateE8: Int64 = 0, fundingIntervalSeconds: Int64 = 0,
        fundingInterestRateE8: Int64 = 0, fundingClampRateE8: Int64 = 0, fundingCapRateE8: Int64 = 0,
        liquidationFeeRateE8: Int64 = 0
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
        self.brackets = brackets ?? [MarginBracket.legacy(maxLeverage: maxLeverage)]
        self.priceBandRateE8 = priceBandRateE8
        self.fundingIntervalSeconds = fundingIntervalSeconds
        self.fundingInterestRateE8 = fundingInterestRateE8
        self.fundingClampRateE8 = fundingClampRateE8
        self.fundingCapRateE8 = fundingCapRateE8
        self.liquidationFeeRateE8 = liquidationFeeRateE8
    }

    /// True when the spec uses none of the rule-book terms, so it is written in the v1
    /// listing layout (and a journal of v1 listings re-encodes byte for byte).
    public var hasLegacyTerms: Bool {
        brackets == [MarginBracket.legacy(maxLeverage: maxLeverage)] && priceBandRateE8 == 0
            && fundingIntervalSeconds == 0 && fundingInterestRateE8 == 0 && fundingClampRateE8 == 0
            && fundingCapRateE8 == 0 && liquidationFeeRateE8 == 0
    }

    /// The bracket a position of `notionalMinor` (at mark, unsigned) falls in: the first
    /// whose cap exceeds it, else the last.
    @inlinable
    public func bracketIndex(notionalMinor: Int128) -> Int {
        MarginBracket.index(in: brackets, notionalMinor: notionalMinor)
    }

    /// The maintenance amount of each bracket: amount₀ = 0, amountₙ = floorₙ × (MMRₙ −
    /// MMRₙ₋₁) + amountₙ₋₁ with floorₙ = capₙ₋₁, each term rounded toward −∞ (a smaller
    /// deduction: maintenance margin errs high, against the holder).
    public var maintenanceAmountsMinor: [Int64] {
        var amounts: [Int64] = []
        var previous = Int128(0)
        for index in brackets.indices {
            if index > 0 {
                let floor = Int128(brackets[index - 1].notionalCapMinor)
                let step = brackets[index].maintenanceMarginRateE8 - brackets[index - 1].maintenanceMarginRateE8
                previous += FixedPoint.divideRoundingDown(floor * Int128(step), Int128(FixedPoint.rateScale))
            }
            amounts.append(Int64(previous))
        }
        return amounts
    }
}

/// One tier of a symbol's maintenance-margin table (Binance's "leverage brackets"): the
/// notional from the previous bracket's cap up to (not including) `notionalCapMinor`.
public struct MarginBracket: Sendable, Hashable {
    /// The bracket of `brackets` a notional falls in: the first whose cap exceeds it, else
    /// the last.
    @inlinable
    public static func index(in brackets: [MarginBracket], notionalMinor: Int128) -> Int {
        for index in brackets.indices where notionalMinor < Int128(brackets[index].notionalCapMinor) {
            return index
        }
        return brackets.count - 1
    }

    /// Upper bound of the bracket's notional, settlement minor units, exclusive.
    public var notionalCapMinor: Int64
    /// Maintenance margin rate, units of 10^-8 (0.4% = 400,000).
    public var maintenanceMarginRateE8: Int64
    /// The highest leverage a position in this bracket may use.
    public var maxLeverage: UInt16

    public init(notionalCapMinor: Int64, maintenanceMarginRateE8: Int64, maxLeverage: UInt16) {
        self.notionalCapMinor = notionalCapMinor
        self.maintenanceMarginRateE8 = maintenanceMarginRateE8
        self.maxLeverage = maxLeverage
    }

    /// The single bracket of a symbol listed with the v1 layout: no maintenance margin.
    public static func legacy(maxLeverage: UInt16) -> MarginBracket {
        MarginBracket(notionalCapMinor: Limits.balanceMagnitudeMax, maintenanceMarginRateE8: 0, maxLeverage: maxLeverage)
    }
}
