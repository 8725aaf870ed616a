/// A user account: a wallet balance per asset and a position per symbol.
///
/// The balance in asset 0 lives in the account itself (most accounts hold one asset), the
/// others in an array; positions are a sparse table. Both grow only when an account first
/// touches a new asset or symbol, so a command allocates nothing in steady state.
public struct Account: Sendable, Hashable {
    public let id: AccountID
    /// The balance in asset 0: one cache miss fewer for an account touched at a million.
    private var firstBalanceMinor: Int64 = 0
    /// The balances in assets 1 ..< `balanceCount`.
    private var otherBalancesMinor: ContiguousArray<Int64> = []
    public internal(set) var positions = PositionTable()
    /// How many balances the account has: one past the highest asset it touched (what
    /// the state encoding writes).
    public private(set) var balanceCount: UInt16 = 0
    /// The account's word in the risk index (`RiskIndex`): derived, not state. It sits in
    /// what was the struct's padding, so that touching an account touches its risk word in
    /// its own lines instead of one in a separate array.
    var riskState: UInt32 = 0

    /// A word from each cache line the account can span (120 bytes: a read at its start,
    /// one in its first slot's middle, one at its end), for `ExchangeState.warm`.
    @inline(__always)
    var warmLines: UInt64 { id &+ UInt64(bitPattern: positions.middleWord) &+ UInt64(riskState) }

    init(id: AccountID) {
        self.id = id
    }

    /// Accounts are equal when their state is: the risk word is left out (a rebuilt state
    /// has its own generations).
    public static func == (left: Account, right: Account) -> Bool {
        left.id == right.id && left.firstBalanceMinor == right.firstBalanceMinor
            && left.otherBalancesMinor == right.otherBalancesMinor && left.positions == right.positions
            && left.balanceCount == right.balanceCount
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(firstBalanceMinor)
        hasher.combine(otherBalancesMinor)
        hasher.combine(positions)
        hasher.combine(balanceCount)
    }

    /// The wallet balance in `asset`, in its minor units.
    @inline(__always)
    public func balance(_ asset: AssetID) -> Int64 {
        if asset == 0 { return firstBalanceMinor }
        return asset < balanceCount ? otherBalancesMinor[Int(asset) - 1] : 0
    }

    /// The position in `symbol` (empty if the account never traded it). Inlined, so that
    /// `accounts[i].position(s)` reads the slot in place rather than the account copied
    /// to the stack for a call (submit, match, planFills: issue 12).
    @inline(__always)
    public func position(_ symbol: SymbolID) -> Position {
        positions[Int(symbol)]
    }

    /// Adds `amountMinor` to the balance in `asset` (the account has it: `ensure`).
    @inline(__always)
    mutating func addBalance(_ asset: AssetID, _ amountMinor: Int64) {
        if asset == 0 {
            firstBalanceMinor += amountMinor
        } else {
            otherBalancesMinor[Int(asset) - 1] += amountMinor
        }
    }

    /// Adds `amountMinor` to the balance in `asset`, giving the account the asset first if
    /// it has none: one change of the account where it lies (`ensure` and `addBalance`
    /// taken apart were two, each a uniqueness check of the accounts array).
    @inline(__always)
    mutating func credit(_ asset: AssetID, _ amountMinor: Int64) {
        if asset >= balanceCount { ensure(asset: asset) }
        addBalance(asset, amountMinor)
    }

    /// Adds `amountMinor` and then takes `lessMinor` off the balance in `asset` (a trade's
    /// realized PnL and fee), in one change of the account (`credit`).
    @inline(__always)
    mutating func credit(_ asset: AssetID, _ amountMinor: Int64, less lessMinor: Int64) {
        credit(asset, amountMinor)
        addBalance(asset, -lessMinor)
    }

    /// Appends the balance of the next asset (decoding).
    mutating func appendBalance(_ amountMinor: Int64) {
        ensure(asset: AssetID(balanceCount))
        addBalance(AssetID(balanceCount - 1), amountMinor)
    }

    mutating func ensure(asset: AssetID) {
        guard asset >= balanceCount else { return }
        // Assets 1 ... asset in the array (asset 0 lives in the account).
        if Int(asset) > otherBalancesMinor.count {
            otherBalancesMinor.append(contentsOf: repeatElement(0, count: Int(asset) - otherBalancesMinor.count))
        }
        balanceCount = asset + 1
    }

    mutating func ensure(symbol: SymbolID) {
        positions.touch(symbol)
    }
}
