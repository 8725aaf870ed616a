import LedgerCore

extension StateSummary {
    /// The summary as JSON (amounts in integer units; Σ of user balances as a string, it
    /// can exceed 64 bits).
    public var json: [String: Any] {
        [
            "sequence": Int(sequence), "accounts": accounts, "accountsWithPositions": accountsWithPositions,
            "assets": assets.map { totals in
                [
                    "asset": totals.asset.name, "scale": Int(totals.asset.scale), "usersMinor": "\(totals.usersMinor)",
                    "insuranceFundMinor": Int(totals.system(.insuranceFund)), "feesMinor": Int(totals.system(.fees)),
                    "system": Dictionary(
                        uniqueKeysWithValues: SystemAccount.allCases.map { ("\($0)", Int(totals.system($0))) }),
                ] as [String: Any]
            },
            "symbols": symbols.map { totals in
                [
                    "symbol": totals.symbol.name, "openInterestUnits": Int(totals.openInterestUnits), "positions": totals.positions,
                    "restingOrders": totals.restingOrders, "conditionalOrders": totals.conditionalOrders,
                    "insuranceSizeUnits": Int(totals.insuranceSizeUnits), "markPriceUnits": Int(totals.markPriceUnits),
                ] as [String: Any]
            },
        ]
    }

    /// The summary as text lines.
    public var lines: [String] {
        var lines = ["accounts: \(accounts) (\(accountsWithPositions) with positions)"]
        for totals in assets {
            lines.append(
                "asset \(totals.asset.name) (scale \(totals.asset.scale)): users \(totals.usersMinor), insurance fund \(totals.system(.insuranceFund)), fees \(totals.system(.fees))"
            )
        }
        for totals in symbols {
            lines.append(
                "symbol \(totals.symbol.name): open interest \(totals.openInterestUnits), positions \(totals.positions), resting orders \(totals.restingOrders), conditional orders \(totals.conditionalOrders), insurance position \(totals.insuranceSizeUnits), mark \(totals.markPriceUnits)"
            )
        }
        return lines
    }
}
