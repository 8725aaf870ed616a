/// Danger marks: which holders a new mark price must check for liquidation (docs/RULES.md,
/// "Which accounts a mark price checks"; the structure is `RiskIndex`).
///
/// The bound behind a danger mark. Write slack = margin balance − maintenance margin for
/// the scope that margins a position (the cross wallet of its asset, or its isolated
/// margin). Maintenance margin never decreases with notional and grows by at most MMR < 1
/// of it (plus a rounding unit and at most two units a bracket boundary, where the
/// maintenance amounts were rounded down); so when a mark moves by Δ price units,
///
/// - against a long, its slack falls by at most |size| × f × Δ (the PnL; maintenance falls);
/// - against a short, by at most 2 × |size| × f × Δ (the PnL and maintenance rising);
/// - in its favour, by no more than the rounding allowance.
///
/// The slack, less one unit and every position's allowance, is split evenly among the k
/// positions that share it; each gets Δ = ⌊share / (|size| × f × m)⌋ (m = 1 long, 2 short)
/// and its danger mark is one tick of price unit beyond: mark − Δ − 1 for a long, mark +
/// Δ + 1 for a short. While no mark has reached its danger mark, the k moves together use
/// less than the slack, so the scope is still above maintenance and need not be checked.
extension ExchangeState {
    /// Notes for the sweep every account whose danger mark in `symbol` the current mark
    /// has reached.
    mutating func noteEndangeredHolders(of symbol: SymbolID) {
        risk.riskIndex.takeEndangered(
            symbol: Int(symbol), markPriceUnits: markets[Int(symbol)].markPriceUnits, &ledger.accounts, into: &risk.liquidationCandidates)
    }

    /// Replaces the danger marks of every account changed since its last check.
    @inline(__always)
    mutating func refreshDangerMarks() {
        if !risk.riskIndex.dirty.isEmpty { refreshDirtyDangerMarks() }
    }

    @inline(never)
    private mutating func refreshDirtyDangerMarks() {
        var dirty = ScratchList<UInt32>()
        swap(&dirty, &risk.riskIndex.dirty)
        // By position: an iterator holds a copy of the list (a retain and a release).
        for position in 0..<dirty.count where RiskIndex.isDirty(ledger.accounts[Int(dirty[position])]) {
            _ = recordDangerMarks(accountIndex: Int(dirty[position]))
        }
        dirty.removeAll()
        swap(&dirty, &risk.riskIndex.dirty)
    }

    /// Builds what executing needs and a rebuild from events or a snapshot does not keep
    /// (the danger marks), O(accounts × positions). `execute` does it itself before its
    /// first command; a daemon calls it during recovery so that the first command after
    /// "ready" does not pay for it.
    public mutating func prepareToExecute() {
        if risk.riskIndex.isStale { rebuildRiskIndex() }
    }

    /// Recomputes every account's danger marks (after events were applied without being
    /// executed: a rebuild, a snapshot load).
    ///
    /// Under the bounded rules the accounts found due wait for their liquidation tick.
    mutating func rebuildRiskIndex() {
        risk.riskIndex = RiskIndex()
        risk.riskIndex.isStale = false
        risk.pendingLiquidations.removeAll()
        for index in ledger.accounts.indices where recordDangerMarks(accountIndex: index) && isBounded {
            risk.pendingLiquidations.insert(UInt32(index))
        }
        pendingTriggers = []
        if isBounded {
            for symbol in markets.indices where hasTriggeredOrder(symbol: SymbolID(symbol)) { pendingTriggers.append(SymbolID(symbol)) }
        }
    }

    /// Checks every scope of an account (its isolated positions, its cross positions per
    /// asset) against maintenance margin and records fresh danger marks from what it
    /// finds, retiring the old ones. Returns true when some scope is due (its marks then
    /// make any mark dangerous; the liquidation that follows changes the account, which is
    /// checked again when the entry ends). The liquidation sweep's check of an account is
    /// this same pass.
    mutating func recordDangerMarks(accountIndex index: Int) -> Bool {
        RiskIndex.retire(index, &ledger.accounts)
        // The slots are read in place, by index (a copy of the table or an iterator over it
        // cost a retain, a release and witness calls for every account an entry changed).
        let slotCount = ledger.accounts[index].positions.count
        // Every account an entry changed passes here after its last change: the cheap part
        // of "every position is margined" is checked on it (the rest is the check below).
        // (Each slot's fields are read where they lie, `readSlot`: a copy of the slot
        // stalled on the store buffer.)
        for slotIndex in 0..<slotCount {
            let margined = ledger.accounts[index].positions.readSlot(at: slotIndex) { slot in
                slot.position.isolatedMarginMinor == 0 || (slot.position.isIsolated && slot.position.sizeQuantityUnits != 0)
            }
            precondition(margined, "account \(ledger.accounts[index].id) holds isolated margin without an open isolated position")
        }
        // One slot (most accounts): its scope is its own (isolated) or its asset's cross
        // scope with no other position; the same marks as the walk below, in one pass.
        if slotCount == 1 {
            let (symbol, size, isIsolated) = Self.sizeAndMode(index, 0, ledger.accounts)
            guard size != 0 else { return false }
            // Its scope holds this position alone: its wallet is its isolated margin, or the
            // cross wallet of its asset (no other slot to add or to take isolated margin from).
            let (wallet, cost) = ledger.accounts[index].positions.readSlot(at: 0) { slot in
                (
                    isIsolated ? slot.position.isolatedMarginMinor : ledger.accounts[index].balance(symbols[symbol].settleAsset),
                    slot.position.costMinor
                )
            }
            let allowance = dangerAllowanceMinor(symbol: symbol)
            // A wallet that covers the whole exposure at the range's far end: no mark and
            // not due, known without the maintenance margin or the mark's division.
            if Self.isBeyondDanger(
                sizeQuantityUnits: size, costMinor: cost, walletMinor: wallet, notionalFactor: markets[symbol].notionalFactor,
                markPriceUnits: markets[symbol].markPriceUnits, maxPriceUnits: symbols[symbol].maxPriceUnits, allowanceMinor: allowance)
            {
                return false
            }
            // The position is valued in place, without `crossHealth`'s walk.
            let health = ledger.accounts[index].positions.readSlot(at: 0) { slot in
                let (pnl, maintenance) = Self.pnlAndMaintenanceMinor(slot.position, symbol: slot.symbol, symbols, markets)
                return (marginBalanceMinor: Int128(wallet) + pnl, maintenanceMinor: maintenance)
            }
            // A share of one is the whole slack (`divideRoundingDown(slack, 1)`).
            let slack = health.marginBalanceMinor - health.maintenanceMinor - 1 - allowance
            addDangerMark(accountIndex: index, symbol: symbol, sizeQuantityUnits: size, shareMinor: slack)
            return Self.isLiquidatable(health)
        }
        var isDue = false
        // The covered bound is tried unless the last check found a cross mark (leveraged
        // accounts, where gathering it is work the exact walk repeats); `foundCrossMark`
        // sets the hint for the next check.
        let tryBound = !RiskIndex.checksExactFirst(index, ledger.accounts)
        var foundCrossMark = false
        // (Written only when it changes: each write of the accounts checks their uniqueness.)
        defer { if foundCrossMark == tryBound { RiskIndex.setChecksExactFirst(foundCrossMark, index, &ledger.accounts) } }
        for asset in assets.indices {
            var crossCount: Int128 = 0
            var crossAllowance: Int128 = 0
            // The cross scope's bound (`CrossDangerBound`), gathered in the same walk.
            var bound = CrossDangerBound(walletMinor: tryBound ? ledger.accounts[index].balance(AssetID(asset)) : 0)
            for slotIndex in 0..<slotCount {
                let (symbol, size, isIsolated) = Self.sizeAndMode(index, slotIndex, ledger.accounts)
                guard size != 0, symbols[symbol].settleAsset == AssetID(asset) else { continue }
                let allowance = dangerAllowanceMinor(symbol: symbol)
                if isIsolated {
                    let health = Self.marginHealth(accountIndex: index, symbol: SymbolID(symbol), ledger.accounts, symbols, markets)
                    isDue = isDue || Self.isLiquidatable(health)
                    let slack = health.marginBalanceMinor - health.maintenanceMinor - 1 - allowance
                    addDangerMark(accountIndex: index, symbol: symbol, sizeQuantityUnits: size, shareMinor: slack)
                    if tryBound {
                        bound.takeIsolatedMargin(
                            ledger.accounts[index].positions.readSlot(at: slotIndex) { $0.position.isolatedMarginMinor })
                    }
                } else {
                    crossCount += 1
                    crossAllowance += allowance
                    if tryBound {
                        bound.add(
                            sizeQuantityUnits: size,
                            costMinor: ledger.accounts[index].positions.readSlot(at: slotIndex) { $0.position.costMinor },
                            notionalFactor: markets[symbol].notionalFactor, markPriceUnits: markets[symbol].markPriceUnits,
                            maxPriceUnits: symbols[symbol].maxPriceUnits)
                    }
                }
            }
            if crossCount == 0 { continue }
            // Covered at every price each symbol allows: no mark and not due, known without
            // the walk's maintenance margins or the marks' divisions.
            if tryBound && bound.holds(allowanceMinor: crossAllowance) { continue }
            let health = Self.crossHealth(accountIndex: index, asset: AssetID(asset), ledger.accounts, symbols, markets)
            isDue = isDue || Self.isLiquidatable(health)
            let slack = health.marginBalanceMinor - health.maintenanceMinor - 1 - crossAllowance
            // Both non-negative: rounding down is the truncation `/` gave, in 64 bits when
            // the operands fit.
            let share = slack < 0 ? slack : FixedPoint.divideRoundingDown(slack, crossCount)
            for slotIndex in 0..<slotCount {
                let (symbol, size, isIsolated) = Self.sizeAndMode(index, slotIndex, ledger.accounts)
                guard size != 0, !isIsolated, symbols[symbol].settleAsset == AssetID(asset) else { continue }
                if addDangerMark(accountIndex: index, symbol: symbol, sizeQuantityUnits: size, shareMinor: share) {
                    foundCrossMark = true
                }
            }
        }
        return isDue
    }

    /// The symbol, size and margin mode of an account's slot, read in place.
    @inline(__always)
    private static func sizeAndMode(
        _ accountIndex: Int, _ slotIndex: Int, _ accounts: ContiguousArray<Account>
    ) -> (symbol: Int, size: Int64, isIsolated: Bool) {
        accounts[accountIndex].positions.readSlot(at: slotIndex) { slot in
            (Int(slot.symbol), slot.position.sizeQuantityUnits, slot.position.isIsolated)
        }
    }

    /// What rounding can take from a position's slack on any move: a unit for the rounded
    /// maintenance product, two for each bracket boundary, one spare.
    @inline(__always)
    private func dangerAllowanceMinor(symbol: Int) -> Int128 {
        Int128(2 + 2 * symbols[symbol].brackets.count)
    }

    /// Records the danger mark of one position given its share of the slack; a negative
    /// share (the scope is already at or below maintenance) makes any mark dangerous.
    /// Returns false when the mark is known to lie beyond the price range.
    @discardableResult
    private mutating func addDangerMark(accountIndex index: Int, symbol: Int, sizeQuantityUnits: Int64, shareMinor: Int128) -> Bool {
        let maxPrice = symbols[symbol].maxPriceUnits
        guard
            let danger = Self.dangerPriceUnits(
                sizeQuantityUnits: sizeQuantityUnits, notionalFactor: markets[symbol].notionalFactor,
                markPriceUnits: markets[symbol].markPriceUnits, maxPriceUnits: maxPrice, shareMinor: shareMinor)
        else { return false }
        risk.riskIndex.add(
            accountIndex: index, symbol: symbol, isLong: sizeQuantityUnits > 0, dangerPriceUnits: danger, maxPriceUnits: maxPrice,
            ledger.accounts)
        return true
    }

    /// True when a lone position's scope (its wallet: the cross wallet of its asset or its
    /// isolated margin) has no danger mark and is not due, shown without its maintenance
    /// margin M. With N = s × m × f its notional at the mark m, C its cost, W the wallet and
    /// A the allowance, its slack is W + N − C − M − 1 − A, and 0 ≤ M ≤ |N| (maintenance rates
    /// are below 1 and the brackets' amounts are not negative, docs/RULES.md "Margin"):
    ///
    /// - a long (s > 0) keeps no mark when the slack reaches (m − 1) × s × f
    ///   (`dangerPriceUnits`): it does when W − C − s × f × (m − 1) − 1 − A ≥ 0;
    /// - a short keeps no mark when the slack reaches (P − m) × 2|s| × f, P the highest
    ///   price: it does when W − C − 2|s| × f × P − 1 − A ≥ 0 (never when P is unbounded).
    ///
    /// Either way the slack is not negative, so the scope is above maintenance. False says
    /// nothing: the exact check decides. Pure, for the tests.
    ///
    /// It is `CrossDangerBound` over one position, with a short's floor (−2|s| × f × m) and
    /// reach (2|s| × f × (P − m)) folded into one product. Written through the struct, the
    /// lone path every fill takes cost the growing book +0.5% instructions (issue 12,
    /// eighteenth steps' review), so it stays apart.
    @inline(__always)
    static func isBeyondDanger(
        sizeQuantityUnits: Int64, costMinor: Int64, walletMinor: Int64, notionalFactor: Int64, markPriceUnits: Int64,
        maxPriceUnits: Int64, allowanceMinor: Int128
    ) -> Bool {
        let isLong = sizeQuantityUnits > 0
        guard markPriceUnits >= 1, markPriceUnits <= maxPriceUnits, isLong || maxPriceUnits < Int64.max else { return false }
        let (scaled, overflow) = sizeQuantityUnits.multipliedReportingOverflow(by: notionalFactor)
        guard !overflow, scaled != Int64.min else { return false }
        // |scaled| and the reach are below 2^63: their product is below 2^126, doubled below 2^127.
        let exposure = FixedPoint.product(abs(scaled), isLong ? markPriceUnits - 1 : maxPriceUnits) * (isLong ? 1 : 2)
        return Int128(walletMinor) - Int128(costMinor) - 1 - allowanceMinor >= exposure
    }

    /// The danger mark of a position (`sizeQuantityUnits` ≠ 0) given its share of the
    /// slack, clamped to `Int64`; nil when it is known to lie beyond the price range without
    /// the division (`RiskIndex.add` does not store such a mark either). Pure, for the tests.
    ///
    /// A move of one price unit takes p = |size| × f × m of the slack (m = 1 long, 2 short);
    /// Δ = ⌊share / p⌋ ≥ r exactly when share ≥ r × p, with r the move that leaves the range
    /// (to 0 for a long, past the highest price for a short). Most well-margined positions'
    /// marks are such. p is taken in 64 bits when it fits, as it does unless a position is
    /// near the limits: then r × p is one widening multiply, where `Int128`'s checked
    /// products cost a few dozen instructions (issue 12, sixteenth steps).
    @inline(__always)
    static func dangerPriceUnits(
        sizeQuantityUnits: Int64, notionalFactor: Int64, markPriceUnits: Int64, maxPriceUnits: Int64, shareMinor: Int128
    ) -> Int64? {
        let isLong = sizeQuantityUnits > 0
        if shareMinor < 0 { return isLong ? Int64.max : 1 }
        let perPriceUnit: Int128
        let (scaled, overflow) = sizeQuantityUnits.multipliedReportingOverflow(by: notionalFactor)
        let (slope, slopeOverflow) = scaled.magnitude.multipliedReportingOverflow(by: isLong ? 1 : 2)
        if !overflow && !slopeOverflow, let slope64 = Int64(exactly: slope) {
            if isLong || maxPriceUnits < Int64.max {
                // Both prices are in 0 ... Int64.max: the difference fits.
                let leaving = isLong ? markPriceUnits - 1 : maxPriceUnits - markPriceUnits
                if shareMinor >= FixedPoint.product(leaving, slope64) { return nil }
            }
            perPriceUnit = Int128(slope64)
        } else {
            perPriceUnit = abs(FixedPoint.product(sizeQuantityUnits, notionalFactor)) * (isLong ? 1 : 2)
            if isLong || maxPriceUnits < Int64.max {
                let mark = Int128(markPriceUnits)
                let leaving = isLong ? mark - 1 : Int128(maxPriceUnits) - mark
                let (limit, overflow) = leaving.multipliedReportingOverflow(by: perPriceUnit)
                if !overflow && shareMinor >= limit { return nil }
            }
        }
        let move = FixedPoint.divideRoundingDown(shareMinor, perPriceUnit)  // both ≥ 0: as `/`
        let mark = Int128(markPriceUnits)
        return Int64(clamping: isLong ? mark - move - 1 : mark + move + 1)
    }

    /// The first account that holds `symbol` and is at or below maintenance margin in any
    /// of its scopes, if any: after a mark price has been swept there is none (checked in
    /// debug builds, so that a danger mark that missed an account cannot go unnoticed).
    /// Under the bounded rules a due holder must wait in `risk.pendingLiquidations` instead.
    func dueHolder(of symbol: SymbolID) -> AccountID? {
        for index in ledger.accounts.indices
        where ledger.accounts[index].position(symbol).sizeQuantityUnits != 0 && !waitsForLiquidation(index) {
            for (other, position) in ledger.accounts[index].positions.entries where position.sizeQuantityUnits != 0 {
                if Self.isLiquidatable(marginHealth(accountIndex: index, symbol: SymbolID(other))) {
                    return ledger.accounts[index].id
                }
            }
        }
        return nil
    }
}

/// The covered-scope bound (`ExchangeState.isBeyondDanger` is the lone position's) for a
/// cross scope of k positions: true when no position of the scope keeps a danger mark and
/// the scope is not due, shown without a maintenance margin or a mark's division (issue 12,
/// eighteenth steps; docs/RULES.md, "Which accounts a mark price checks").
///
/// With W the cross wallet (the asset's balance less its isolated margins), C_i each
/// position's cost, N_i its notional at the mark m_i, M_i its maintenance margin and A the
/// positions' allowances, the slack is W + Σ(N_i − C_i − M_i) − 1 − A, and each position's
/// share is ⌊slack / k⌋. Since 0 ≤ M_i ≤ |N_i|, a long's N_i − M_i is at least 0 and a
/// short's at least −2|N_i|, so the slack is at least
///
///     F = W − 1 − A − Σ C_i − Σ_shorts 2 |s_i| f_i m_i.
///
/// A position keeps no mark when its share reaches its reach R_i, the slack a move out of
/// the price range takes: |s_i| f_i (m_i − 1) for a long, 2 |s_i| f_i (P_i − m_i) for a short
/// (`dangerPriceUnits`). ⌊slack / k⌋ ≥ R exactly when slack ≥ k R, so F ≥ k × max R_i is
/// enough for every position; the slack is then at least 0, above maintenance. A short in a
/// symbol without a highest price, a mark outside its range or a product beyond 64 bits
/// leaves the bound undecided (the exact check decides). Sums are checked for overflow.
struct CrossDangerBound {
    /// F so far.
    private(set) var floorMinor: Int128
    /// max R_i so far.
    private(set) var reachMinor: Int128 = 0
    private(set) var count: Int128 = 0
    /// False once a position or a sum leaves what the bound decides.
    private(set) var isDecided = true

    @inline(__always)
    init(walletMinor: Int64) {
        floorMinor = Int128(walletMinor)
    }

    @inline(__always)
    private mutating func subtract(_ amount: Int128) {
        let (floor, overflow) = floorMinor.subtractingReportingOverflow(amount)
        floorMinor = floor
        if overflow { isDecided = false }
    }

    /// An isolated position of the asset: its margin is not the cross wallet's.
    @inline(__always)
    mutating func takeIsolatedMargin(_ marginMinor: Int64) {
        subtract(Int128(marginMinor))
    }

    /// A cross position of the scope (size ≠ 0).
    @inline(__always)
    mutating func add(
        sizeQuantityUnits size: Int64, costMinor: Int64, notionalFactor: Int64, markPriceUnits mark: Int64, maxPriceUnits maxPrice: Int64
    ) {
        count += 1
        let isLong = size > 0
        let (scaled, overflow) = size.multipliedReportingOverflow(by: notionalFactor)
        guard mark >= 1, mark <= maxPrice, isLong || maxPrice < Int64.max, !overflow, scaled != Int64.min else {
            isDecided = false
            return
        }
        subtract(Int128(costMinor))
        // |scaled| and the prices are below 2^63: each product is below 2^126, doubled below 2^127.
        let slope = abs(scaled)
        if isLong {
            reachMinor = max(reachMinor, FixedPoint.product(slope, mark - 1))
        } else {
            subtract(FixedPoint.product(slope, mark) * 2)
            reachMinor = max(reachMinor, FixedPoint.product(slope, maxPrice - mark) * 2)
        }
    }

    /// True when the scope keeps no mark and is not due, given its positions' allowances.
    @inline(__always)
    func holds(allowanceMinor: Int128) -> Bool {
        guard isDecided, count > 0 else { return false }
        let (needed, overflow) = reachMinor.multipliedReportingOverflow(by: count)
        let (floor, floorOverflow) = floorMinor.subtractingReportingOverflow(1 + allowanceMinor)
        return !overflow && !floorOverflow && floor >= needed
    }
}
