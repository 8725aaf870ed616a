/// A currency the ledger holds balances in.
public struct Asset: Sendable, Hashable {
    public var id: AssetID
    /// Short ticker, ASCII, at most `Limits.nameBytesMax` bytes.
    public var name: String
    /// Decimal places of one minor unit: USDT with scale 6 counts in millionths.
    public var scale: UInt8

    public init(id: AssetID, name: String, scale: UInt8) {
        self.id = id
        self.name = name
        self.scale = scale
    }
}
