/// An account in the double-entry ledger: a user's, or one the exchange keeps.
public enum LedgerAccount: Sendable, Hashable {
    case user(AccountID)
    case system(SystemAccount)
}

/// The exchange's own accounts, one balance per asset each.
public enum SystemAccount: UInt8, Sendable, Hashable, CaseIterable {
    /// The world outside: deposits come from it, withdrawals go to it. Its balance is
    /// minus what users hold.
    case external = 0
    /// Trading fees collected (and maker rebates paid).
    case fees = 1
    /// The counterparty of realized PnL: its balance is minus the sum of open positions'
    /// cost (docs/RULES.md).
    case pnlClearing = 2

    public var name: String {
        switch self {
        case .external: "external"
        case .fees: "fees"
        case .pnlClearing: "pnl_clearing"
        }
    }
}

/// Why money moved.
public enum PostingKind: UInt8, Sendable, Hashable {
    case deposit = 0
    case withdrawal = 1
    case fee = 2
    case realizedPnl = 3
}

/// One balanced movement: `amountMinor` (> 0) leaves `from` and reaches `to`.
public struct Posting: Sendable, Hashable {
    public var from: LedgerAccount
    public var to: LedgerAccount
    public var asset: AssetID
    public var amountMinor: Int64
    public var kind: PostingKind

    /// A movement of a signed amount: a negative amount moves the other way. Zero gives nil.
    public static func signed(
        from: LedgerAccount, to: LedgerAccount, asset: AssetID, amountMinor: Int64, kind: PostingKind
    ) -> Posting? {
        if amountMinor == 0 { return nil }
        if amountMinor > 0 { return Posting(from: from, to: to, asset: asset, amountMinor: amountMinor, kind: kind) }
        return Posting(from: to, to: from, asset: asset, amountMinor: -amountMinor, kind: kind)
    }
}
