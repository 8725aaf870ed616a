/// A user account, as the gateways name it.
public typealias AccountID = UInt64
/// An asset (USDT, BTC): dense, assigned at listing, at most `Limits.assetsMax`.
public typealias AssetID = UInt16
/// A perpetual contract (BTCUSDT): dense, assigned at listing, at most `Limits.symbolsMax`.
public typealias SymbolID = UInt16
/// An order, assigned by the engine in increasing order from 1.
public typealias OrderID = UInt64
/// A trade, assigned by the engine in increasing order from 1.
public typealias TradeID = UInt64
/// The gateway's own id for an order; 0 means none. Unique per account (docs/RULES.md).
public typealias ClientOrderID = UInt64
/// The id of a deposit or withdrawal; the key of its idempotency.
public typealias TransferID = UInt64
/// The journal position of an entry, from 1, without gaps.
public typealias SequenceNumber = UInt64

/// Which way an order trades.
public enum Side: UInt8, Sendable, Hashable, CaseIterable {
    case buy = 0
    case sell = 1

    /// The side an order of this side trades against.
    @inlinable public var opposite: Side { self == .buy ? .sell : .buy }
    /// +1 for buy, −1 for sell: the sign of the position change a fill causes.
    @inlinable public var sign: Int64 { self == .buy ? 1 : -1 }
}

/// Bounds on everything the engine keeps (TigerBeetle's "put a limit on everything").
public enum Limits {
    public static let assetsMax = 64
    public static let symbolsMax = 256
    public static let nameBytesMax = 16
    /// Balances stay within ±2^62 so that sums of two never overflow.
    public static let balanceMagnitudeMax: Int64 = 1 << 62
    public static let leverageMax: UInt16 = 125
    /// |fee rate| ≤ 1% (10^6 in units of 10^-8).
    public static let feeRateE8Max: Int64 = 1_000_000
    /// Maintenance-margin brackets per symbol.
    public static let bracketsMax = 16
    /// Rule-book rates (price band, funding, liquidation fee) are at most 10%.
    public static let ruleRateE8Max: Int64 = 10_000_000
    /// Trailing stops' callback rate: 0.1% … 10%.
    public static let callbackRateE8Min: Int64 = 100_000
    public static let callbackRateE8Max: Int64 = 10_000_000
    /// Remembered transfer ids (and, separately, client order ids) at most.
    public static let idempotencyRecordsMax: Int64 = 10_000_000
    /// Premium samples kept per symbol between two settlements (one a second for a day).
    public static let premiumSamplesMax: Int64 = 86_400
}
