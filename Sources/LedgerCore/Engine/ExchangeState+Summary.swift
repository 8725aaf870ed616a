/// What an operator or auditor reads first about a state (`ledger-snapshot inspect`,
/// `ledger-replay rebuild`): how many accounts, what they hold per asset, what is open per
/// symbol, and the system accounts. Amounts are the ledger's integer units.
public struct StateSummary: Sendable, Hashable {
    public struct AssetTotals: Sendable, Hashable {
        public var asset: Asset
        /// Σ of every user account's balance.
        public var usersMinor: Int128
        /// The balance of each system account, in `SystemAccount` order.
        public var systemMinor: [Int64]

        public func system(_ account: SystemAccount) -> Int64 { systemMinor[Int(account.rawValue)] }
    }

    public struct SymbolTotals: Sendable, Hashable {
        public var symbol: SymbolSpec
        /// Σ long sizes (= Σ short sizes), the insurance fund's included.
        public var openInterestUnits: Int64
        /// User accounts with a position.
        public var positions: Int
        public var restingOrders: Int
        public var conditionalOrders: Int
        /// The insurance fund's position (signed).
        public var insuranceSizeUnits: Int64
        public var markPriceUnits: Int64
    }

    public var sequence: SequenceNumber
    public var timeNanos: Int64
    public var accounts: Int
    /// Accounts with at least one position.
    public var accountsWithPositions: Int
    public var assets: [AssetTotals]
    public var symbols: [SymbolTotals]
}

extension ExchangeState {
    /// The summary of this state (one pass over the accounts).
    public func summary() -> StateSummary {
        var users = [Int128](repeating: 0, count: assets.count)
        var positions = [Int](repeating: 0, count: symbols.count)
        var withPositions = 0
        for account in ledger.accounts {
            for asset in assets.indices { users[asset] += Int128(account.balance(AssetID(asset))) }
            var any = false
            for slot in account.positions.slots where slot.position.sizeQuantityUnits != 0 {
                positions[Int(slot.symbol)] += 1
                any = true
            }
            if any { withPositions += 1 }
        }
        let assetTotals = assets.indices.map { index in
            StateSummary.AssetTotals(
                asset: assets[index], usersMinor: users[index],
                systemMinor: SystemAccount.allCases.map { systemBalance($0, asset: AssetID(index)) })
        }
        let symbolTotals = symbols.indices.map { index in
            let market = markets[index]
            return StateSummary.SymbolTotals(
                symbol: symbols[index], openInterestUnits: ledger.openInterest[index].longUnits, positions: positions[index],
                restingOrders: books.bySymbol[index].orderCount, conditionalOrders: books.conditionalBySymbol[index].count,
                insuranceSizeUnits: index < ledger.insurancePositions.count ? ledger.insurancePositions[index].sizeQuantityUnits : 0,
                markPriceUnits: market.markPriceUnits)
        }
        return StateSummary(
            sequence: lastSequence, timeNanos: lastTimeNanos, accounts: ledger.accounts.count, accountsWithPositions: withPositions,
            assets: assetTotals, symbols: symbolTotals)
    }
}
