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
    /// Pays for what liquidated accounts cannot: liquidation fees and surpluses come in,
    /// losses beyond bankruptcy go out; admins fund it from outside.
    case insuranceFund = 3
    /// The counterparty of every funding payment: payers pay in (rounded up), receivers
    /// are paid out (rounded down), so it keeps the rounding and never goes negative.
    case fundingClearing = 4

    public var name: String {
        switch self {
        case .external: "external"
        case .fees: "fees"
        case .pnlClearing: "pnl_clearing"
        case .insuranceFund: "insurance_fund"
        case .fundingClearing: "funding_clearing"
        }
    }
}

/// Why money moved.
public enum PostingKind: UInt8, Sendable, Hashable {
    case deposit = 0
    case withdrawal = 1
    case fee = 2
    case realizedPnl = 3
    case funding = 4
    case insuranceDeposit = 5
    case liquidationFee = 6
    case liquidationSurplus = 7
    case badDebt = 8
}

/// One balanced movement: `amountMinor` (> 0) leaves `from` and reaches `to`.
public struct Posting: Sendable, Hashable {
    @inlinable
    public init(from: LedgerAccount, to: LedgerAccount, asset: AssetID, amountMinor: Int64, kind: PostingKind) {
        self.from = from
        self.to = to
        self.asset = asset
        self.amountMinor = amountMinor
        self.kind = kind
    }

    public var from: LedgerAccount
    public var to: LedgerAccount
    public var asset: AssetID
    public var amountMinor: Int64
    public var kind: PostingKind

    /// A movement of a signed amount: a negative amount moves the other way. Zero gives nil.
    @inlinable
    public static func signed(
        from: LedgerAccount, to: LedgerAccount, asset: AssetID, amountMinor: Int64, kind: PostingKind
    ) -> Posting? {
        if amountMinor == 0 { return nil }
        if amountMinor > 0 { return Posting(from: from, to: to, asset: asset, amountMinor: amountMinor, kind: kind) }
        return Posting(from: to, to: from, asset: asset, amountMinor: -amountMinor, kind: kind)
    }
}

extension Event {
    /// The balanced postings an event stands for, in a fixed order (docs/RULES.md,
    /// "Postings"): the engine moves money with exactly these, and the projector writes
    /// them as ledger entries. `settleAsset(symbol)` names a symbol's settlement asset.
    @inlinable
    public func forEachPosting(settleAsset: (SymbolID) -> AssetID, _ body: (Posting) -> Void) {
        switch self {
        case .deposited(let account, let asset, let amount):
            if let posting = Posting.signed(from: .system(.external), to: .user(account), asset: asset, amountMinor: amount, kind: .deposit)
            {
                body(posting)
            }
        case .withdrawn(let account, let asset, let amount):
            if let posting = Posting.signed(
                from: .user(account), to: .system(.external), asset: asset, amountMinor: amount, kind: .withdrawal)
            {
                body(posting)
            }
        case .insuranceFundDeposited(let asset, let amount):
            if let posting = Posting.signed(
                from: .system(.external), to: .system(.insuranceFund), asset: asset, amountMinor: amount, kind: .insuranceDeposit)
            {
                body(posting)
            }
        case .fundingPaid(let account, let symbol, let amount):
            if let posting = Posting.signed(
                from: .user(account), to: .system(.fundingClearing), asset: settleAsset(symbol), amountMinor: amount, kind: .funding)
            {
                body(posting)
            }
        case .liquidationSettled(let account, let symbol, _, let fee, let surplus):
            let asset = settleAsset(symbol)
            if let posting = Posting.signed(
                from: .user(account), to: .system(.insuranceFund), asset: asset, amountMinor: fee, kind: .liquidationFee)
            {
                body(posting)
            }
            if let posting = Posting.signed(
                from: .user(account), to: .system(.insuranceFund), asset: asset, amountMinor: surplus, kind: .liquidationSurplus)
            {
                body(posting)
            }
        case .insuranceTakeover(let account, let symbol, _, _, _, let pnl, let fundPnl):
            let asset = settleAsset(symbol)
            if let posting = Posting.signed(
                from: .system(.pnlClearing), to: .user(account), asset: asset, amountMinor: pnl, kind: .realizedPnl)
            {
                body(posting)
            }
            if let posting = Posting.signed(
                from: .system(.pnlClearing), to: .system(.insuranceFund), asset: asset, amountMinor: fundPnl, kind: .realizedPnl)
            {
                body(posting)
            }
        case .autoDeleveraged(let account, let counterparty, let symbol, _, _, _, let pnl, let counterpartyPnl):
            let asset = settleAsset(symbol)
            for (who, amount) in [(account, pnl), (counterparty, counterpartyPnl)] {
                if let posting = Posting.signed(
                    from: .system(.pnlClearing), to: .user(who), asset: asset, amountMinor: amount, kind: .realizedPnl)
                {
                    body(posting)
                }
            }
        case .fundFundingPaid(let symbol, let amount):
            if let posting = Posting.signed(
                from: .system(.insuranceFund), to: .system(.fundingClearing), asset: settleAsset(symbol), amountMinor: amount,
                kind: .funding)
            {
                body(posting)
            }
        case .badDebtCovered(let account, let asset, let amount):
            if let posting = Posting.signed(
                from: .system(.insuranceFund), to: .user(account), asset: asset, amountMinor: amount, kind: .badDebt)
            {
                body(posting)
            }
        case .trade(let trade):
            let asset = settleAsset(trade.symbol)
            // Maker first, then taker; each: realized PnL, then fee.
            func side(_ account: AccountID, pnl: Int64, fee: Int64) {
                if let posting = Posting.signed(
                    from: .system(.pnlClearing), to: .user(account), asset: asset, amountMinor: pnl, kind: .realizedPnl)
                {
                    body(posting)
                }
                if let posting = Posting.signed(from: .user(account), to: .system(.fees), asset: asset, amountMinor: fee, kind: .fee) {
                    body(posting)
                }
            }
            side(trade.makerAccount, pnl: trade.makerRealizedPnlMinor, fee: trade.makerFeeMinor)
            side(trade.takerAccount, pnl: trade.takerRealizedPnlMinor, fee: trade.takerFeeMinor)
        default:
            break
        }
    }
}
