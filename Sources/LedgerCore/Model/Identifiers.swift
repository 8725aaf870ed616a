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
/// The id of a deposit or withdrawal; the key of its idempotency.
public typealias TransferID = UInt64
/// The journal position of an entry, from 1, without gaps.
public typealias SequenceNumber = UInt64

/// Which way an order trades.
public enum Side: UInt8, Sendable, Hashable, CaseIterable, BitwiseCopyable {
    case buy = 0
    case sell = 1

    /// Both sides, made once: the synthesized `allCases` builds a new array at each use
    /// where the optimizer does not fold it, an allocation in a loop over the sides of a
    /// liquidation's cancels (issue 12).
    public static let allCases: [Side] = [.buy, .sell]

    /// The side an order of this side trades against.
    @inlinable public var opposite: Side { self == .buy ? .sell : .buy }
    /// +1 for buy, −1 for sell: the sign of the position change a fill causes.
    @inlinable public var sign: Int64 { self == .buy ? 1 : -1 }
}
