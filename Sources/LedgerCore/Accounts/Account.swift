/// A user account: a wallet balance per asset and a position per symbol.
///
/// Both arrays are indexed by the dense asset and symbol ids and grow only when an account
/// first touches a new asset or symbol, so a command allocates nothing in steady state.
public struct Account: Sendable, Hashable {
    public let id: AccountID
    public internal(set) var balancesMinor: ContiguousArray<Int64> = []
    public internal(set) var positions = PositionTable()

    init(id: AccountID) {
        self.id = id
    }

    /// The wallet balance in `asset`, in its minor units.
    public func balance(_ asset: AssetID) -> Int64 {
        Int(asset) < balancesMinor.count ? balancesMinor[Int(asset)] : 0
    }

    /// The position in `symbol` (empty if the account never traded it).
    public func position(_ symbol: SymbolID) -> Position {
        positions[Int(symbol)]
    }

    mutating func ensure(asset: AssetID) {
        if Int(asset) >= balancesMinor.count {
            balancesMinor.append(contentsOf: repeatElement(0, count: Int(asset) + 1 - balancesMinor.count))
        }
    }

    mutating func ensure(symbol: SymbolID) {
        positions.touch(symbol)
    }
}
