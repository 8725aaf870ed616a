/// One symbol's trailing stops of one side that watch one working price (derived from
/// `BookRoom.conditionalBySymbol`, not encoded): their extremes kept per group, so that a
/// new price costs the groups it passes, not the stops that wait.
///
/// A trailing sell keeps the highest working price since it activated (its extreme) and
/// triggers once the price is at or below the extreme less its callback rate; a buy keeps
/// the lowest and triggers at or above the extreme plus its rate. Each stop kept its own
/// extreme, and each trade and each mark price moved every one of them and looked at every
/// one for a trigger: with 10^4 trailing stops waiting, 1.2 ms of the single writer a trade
/// (docs/BENCHMARKS.md, "Trailing stops at the size of a venue").
///
/// Stops that share an extreme share a group. A new price p passes the groups whose extreme
/// is at or below it (a sell; at or above it, a buy): each of their stops now has extreme
/// p, so they become one group. The groups are kept in `stack`, most extreme first, the
/// least extreme on top, so a new price takes groups off the top only; a stop that
/// activates joins the top. A group is made for an activation at most, and one goes each
/// time two merge, so the merges cost no more than the activations over time. A merge
/// moves the members of the smaller group into the larger, so a stop moves at most log2 n
/// times.
///
/// Which stop triggers first in a group is the one with the lowest callback rate (the
/// trigger is monotone in the rate), so each group keeps its members in a heap by rate.
/// Whether any stop triggers is read from `thresholds`, a heap of each group's trigger
/// bound (its extreme times one less or plus its lowest rate, exact in 128 bits). An entry
/// goes stale when its group changes: a new one is pushed for the group, and a stale entry
/// is dropped when it comes to the top or when stale ones outnumber the groups.
///
/// A stop found reached (`lowestReached`) leaves its group's heap for `reached`, a heap by
/// order id, and is flagged so in `groupOf`; it stays in its group (its extreme is the
/// group's) while the price does not move back past it. A cascade that reaches k stops
/// and triggers them one at a time takes each out once, even when every trigger's trades
/// move the price (listing what was reached again at each new price cost O(k) a trigger:
/// docs/BENCHMARKS.md, "A cascade on the contract price"). A move back puts what it
/// un-reaches back in the heaps; a price that passes a group with such stops puts them all
/// back before the groups merge.
///
/// A stop that waits for its activation price is an entry of `activations`, a heap by the
/// price that activates it. Entries of stops that left are stale (order ids are never
/// reused); stale ones are dropped when they come to the top, or all at once when they
/// outnumber the stops that wait.
struct TrailingStops: Sendable {
    /// A stop in a group: its callback rate and id (a heap by both, rate first).
    struct Member: HeapOrdered {
        var callbackRateE8: Int64
        var orderID: OrderID
        @inline(__always)
        func precedes(_ other: Member) -> Bool {
            (callbackRateE8, orderID) < (other.callbackRateE8, other.orderID)
        }
    }

    struct Group: Sendable {
        var extremeUnits: Int64 = 0
        /// A heap by rate; its top is a stop of the group (not one that left) while the
        /// group has one.
        var members = BinaryHeap<Member>()
        /// The group's stops that wait (its members that have not left), in its heap or
        /// in `reached`.
        var live = 0
        /// Those of them in `reached`.
        var pooled = 0
        /// The last walk of `appendReached` that took the group's stops (a group with two
        /// current bounds is taken once).
        var walked: UInt64 = 0
    }

    /// A group's trigger bound when the entry was pushed: current while it equals
    /// `key(of:)` of the group.
    struct Threshold: HeapOrdered {
        var key: Int128
        var group: UInt32
        @inline(__always)
        func precedes(_ other: Threshold) -> Bool { key != other.key ? key > other.key : group < other.group }
    }

    /// A stop that waits for its activation price.
    struct Activation: HeapOrdered {
        /// The activation price (negated for a buy; `Int64.min` for a buy without one).
        var key: Int64
        var orderID: OrderID
        var callbackRateE8: Int64
        @inline(__always)
        func precedes(_ other: Activation) -> Bool { (key, orderID) < (other.key, other.orderID) }
    }

    /// A stop found reached, out of its group's heap (`reached`).
    struct ReachedMember: HeapOrdered {
        var orderID: OrderID
        var callbackRateE8: Int64
        @inline(__always)
        func precedes(_ other: ReachedMember) -> Bool { orderID < other.orderID }
    }

    /// `groupOf`'s value for a stop that waits for its activation price.
    static let inactive = UInt32.max
    /// `groupOf`'s flag for a stop in `reached` (with its group's slot below it).
    static let pooledFlag: UInt32 = 1 << 31
    /// True for trailing sells (extremes rise), false for buys (they fall).
    let sells: Bool
    /// The groups by slot; a freed slot is in `freeGroups` until it is used again.
    private(set) var groups: [Group] = []
    private var freeGroups: [UInt32] = []
    /// The slots of the groups in use, most extreme first (each strictly more extreme than
    /// the next) while `stackSorted`. Emptied groups stay until they come to the top or
    /// the stack is compacted.
    private(set) var stack: [UInt32] = []
    /// False after a stop joined with an extreme out of order (a snapshot's stops, written
    /// by an engine before 2026-12-05: docs/RULES.md): sorted before the next price moves
    /// the groups.
    private var stackSorted = true
    /// True while the groups are in order of extreme (`stackSorted`).
    var isSorted: Bool { stackSorted }
    private var emptiedInStack = 0
    private(set) var thresholds = BinaryHeap<Threshold>()
    private(set) var activations = BinaryHeap<Activation>()
    private var inactiveCount = 0
    /// Each waiting stop's group slot, or `inactive`.
    private var groupOf = IDTable<UInt32>(filler: 0, runBits: 2)
    /// The stops that wait.
    private(set) var count = 0
    /// Walks `appendReached` has made.
    private var walks: UInt64 = 0
    /// Stops found reached at the prices last asked about, lowest order id first (some
    /// stale: they left since, or went back to their group).
    private(set) var reached = BinaryHeap<ReachedMember>()
    /// The stops of `reached` still flagged so, and at most the lowest trigger bound among
    /// them (a move of the price past it may un-reach one).
    private(set) var pooledCount = 0
    private var pooledKeyMin = Int128.max

    init(sells: Bool) { self.sells = sells }

    /// True when a trailing stop with this extreme and rate triggers at `priceUnits`: a
    /// sell at or below the extreme less the rate, a buy at or above it plus the rate;
    /// never before activation (extreme 0). Exact in 128 bits.
    @inline(__always)
    static func isReached(sells: Bool, extremeUnits: Int64, callbackRateE8: Int64, priceUnits: Int64) -> Bool {
        guard extremeUnits > 0 else { return false }
        let scale = Int128(FixedPoint.rateScale)
        let price = Int128(priceUnits) * scale
        return sells
            ? price <= Int128(extremeUnits) * (scale - Int128(callbackRateE8))
            : price >= Int128(extremeUnits) * (scale + Int128(callbackRateE8))
    }

    /// A threshold key reaches `priceUnits` when it is at or above this target.
    @inline(__always)
    private func target(_ priceUnits: Int64) -> Int128 {
        let price = Int128(priceUnits) * Int128(FixedPoint.rateScale)
        return sells ? price : -price
    }

    /// The trigger bound of a stop with this rate in this group: the extreme times
    /// (1 − rate) for sells, minus the extreme times (1 + rate) for buys, so that higher
    /// triggers first in both.
    @inline(__always)
    private func key(of group: Int, rate callbackRateE8: Int64) -> Int128 {
        let scale = Int128(FixedPoint.rateScale)
        let rate = Int128(callbackRateE8)
        let extreme = Int128(groups[group].extremeUnits)
        return sells ? extreme * (scale - rate) : -(extreme * (scale + rate))
    }

    /// The group's trigger bound (its lowest rate in its heap), or nil when its heap holds
    /// none of its stops.
    @inline(__always)
    private func bound(of group: Int) -> Int128? {
        guard let top = groups[group].members.first else { return nil }
        return key(of: group, rate: top.callbackRateE8)
    }

    /// True when `extreme` is strictly beyond `other` (higher for sells, lower for buys).
    @inline(__always)
    private func isBeyond(_ extreme: Int64, _ other: Int64) -> Bool {
        sells ? extreme > other : extreme < other
    }

    /// The stop's extreme: 0 while it waits for its activation price.
    func extremeUnits(of orderID: OrderID) -> Int64 {
        guard let group = groupOf[orderID] else { preconditionFailure("trailing stop \(orderID) is not in its index") }
        return group == Self.inactive ? 0 : groups[Int(group & ~Self.pooledFlag)].extremeUnits
    }

    // MARK: Stops join and leave

    /// A stop starts to wait: active at `extremeUnits`, or waiting for its activation price
    /// when that is 0.
    mutating func add(orderID: OrderID, callbackRateE8: Int64, activationPriceUnits: Int64, extremeUnits: Int64) {
        count += 1
        guard extremeUnits > 0 else {
            groupOf.insert(orderID, Self.inactive)
            inactiveCount += 1
            let key = sells ? activationPriceUnits : activationPriceUnits == 0 ? Int64.min : -activationPriceUnits
            activations.insert(Activation(key: key, orderID: orderID, callbackRateE8: callbackRateE8))
            return
        }
        let group: Int
        if let top = stack.last, groups[Int(top)].extremeUnits == extremeUnits {
            group = Int(top)
            if groups[group].live == 0 { emptiedInStack -= 1 }
        } else {
            if let top = stack.last, !isBeyond(groups[Int(top)].extremeUnits, extremeUnits) { stackSorted = false }
            group = newGroup()
            groups[group].extremeUnits = extremeUnits
            stack.append(UInt32(group))
        }
        groupOf.insert(orderID, UInt32(group))
        join(group, Member(callbackRateE8: callbackRateE8, orderID: orderID))
    }

    /// A stop no longer waits (cancelled or triggered).
    mutating func remove(_ orderID: OrderID) {
        guard let slot = groupOf.removeValue(forKey: orderID) else {
            preconditionFailure("trailing stop \(orderID) is not in its index")
        }
        count -= 1
        guard slot != Self.inactive else {
            inactiveCount -= 1
            if activations.count > 2 * inactiveCount + 32 {
                activations.removeAll { groupOf[$0.orderID] != Self.inactive }
            }
            return
        }
        let group = Int(slot & ~Self.pooledFlag)
        groups[group].live -= 1
        if slot & Self.pooledFlag != 0 {
            // Its entry in `reached` is stale now.
            groups[group].pooled -= 1
            pooledCount -= 1
            if reached.count > 2 * pooledCount + 32 { reached.removeAll { groupOf[$0.orderID].map { $0 & Self.pooledFlag == 0 } ?? true } }
        }
        if groups[group].live == 0 {
            groups[group].members.removeAll()
            emptiedInStack += 1
            if emptiedInStack > stack.count / 2 + 16 { compactStack() }
        } else if slot & Self.pooledFlag != 0 {
            return
        } else if groups[group].live == groups[group].pooled {
            // Its heap holds none of its stops now.
            groups[group].members.removeAll()
        } else if groups[group].members.elements[0].orderID == orderID {
            // The lowest rate left: a new bound, unless the next has the same rate.
            let old = bound(of: group)
            dropLeftTops(group)
            if let new = bound(of: group), new != old { pushThreshold(group) }
        } else if groups[group].members.count > 2 * (groups[group].live - groups[group].pooled) + 16 {
            groups[group].members.removeAll { groupOf[$0.orderID] != slot }
        }
    }

    // MARK: A new price

    /// Puts the groups in order of extreme if a stop joined out of order: the next
    /// `follow` does otherwise.
    mutating func sortIfNeeded() {
        if stackSorted { return }
        putBackAll()
        sortStack()
    }

    /// The working price these stops watch is now `priceUnits` (> 0): the groups it passes
    /// become one with it as their extreme, and the stops whose activation price it
    /// reaches join that group.
    mutating func follow(_ priceUnits: Int64) {
        if count == 0 { return }
        precondition(priceUnits > 0, "trailing stops follow a price of \(priceUnits)")
        sortIfNeeded()
        if pooledCount > 0 {
            // The groups this price passes merge: their stops in `reached` are not reached
            // at it (it is beyond their extreme), so they go back to their heaps first.
            for slot in stack.reversed() {
                let group = Int(slot)
                if groups[group].live > 0 && isBeyond(groups[group].extremeUnits, priceUnits) { break }
                if groups[group].pooled > 0 {
                    putBackAll()
                    break
                }
            }
        }
        var survivor: Int? = nil
        while let top = stack.last, groups[Int(top)].live == 0 || !isBeyond(groups[Int(top)].extremeUnits, priceUnits) {
            stack.removeLast()
            if groups[Int(top)].live == 0 {
                emptiedInStack -= 1
                freeGroup(Int(top))
            } else {
                survivor = survivor.map { merge($0, Int(top)) } ?? Int(top)
            }
        }
        let reached = sells ? priceUnits : -priceUnits
        while let first = activations.first, first.key <= reached {
            _ = activations.popFirst()
            // Left already: a stale entry.
            guard groupOf[first.orderID] == Self.inactive else { continue }
            let group = survivor ?? newGroup()
            survivor = group
            inactiveCount -= 1
            groupOf.insert(first.orderID, UInt32(group))
            groups[group].members.insert(Member(callbackRateE8: first.callbackRateE8, orderID: first.orderID))
            groups[group].live += 1
        }
        guard let survivor else { return }
        groups[survivor].extremeUnits = priceUnits
        stack.append(UInt32(survivor))
        pushThreshold(survivor)
    }

    // MARK: Triggers

    /// The lowest id among the stops that trigger at `priceUnits`, or nil. Stops of
    /// `reached` that this price no longer reaches go back to their heaps (only after a move
    /// back); the stops reached at the tops of the groups' heaps, group by group from the
    /// top of `thresholds`, move to `reached`; stale entries met on the way are dropped. In
    /// the common case nothing is reached and this reads the top of `thresholds`.
    mutating func lowestReached(_ priceUnits: Int64) -> OrderID? {
        let target = target(priceUnits)
        if pooledCount > 0 && pooledKeyMin < target { putBackUnreached(target) }
        while let top = thresholds.first {
            guard isCurrent(top) else {
                _ = thresholds.popFirst()
                continue
            }
            if top.key < target { break }
            _ = thresholds.popFirst()
            takeReached(Int(top.group), target)
        }
        while let first = reached.first {
            if let slot = groupOf[first.orderID], slot != Self.inactive, slot & Self.pooledFlag != 0 { return first.orderID }
            _ = reached.popFirst()
        }
        return nil
    }

    /// Moves the stops of `group`'s heap that trigger at `target` to `reached`, lowest rate
    /// first; pushes the group's new bound if it keeps some in its heap.
    private mutating func takeReached(_ group: Int, _ target: Int128) {
        let slot = UInt32(group)
        while let member = groups[group].members.first {
            guard groupOf[member.orderID] == slot else {
                _ = groups[group].members.popFirst()
                continue
            }
            let key = key(of: group, rate: member.callbackRateE8)
            if key < target {
                pushThreshold(group)
                return
            }
            _ = groups[group].members.popFirst()
            _ = groupOf.modifyValue(forKey: member.orderID) { $0 = slot | Self.pooledFlag }
            groups[group].pooled += 1
            pooledCount += 1
            pooledKeyMin = min(pooledKeyMin, key)
            reached.insert(ReachedMember(orderID: member.orderID, callbackRateE8: member.callbackRateE8))
        }
    }

    /// Back to its group's heap: a stop of `reached` (still flagged so).
    private mutating func putBack(_ member: ReachedMember, slot: UInt32) {
        let group = Int(slot & ~Self.pooledFlag)
        _ = groupOf.modifyValue(forKey: member.orderID) { $0 = slot & ~Self.pooledFlag }
        groups[group].pooled -= 1
        pooledCount -= 1
        let old = bound(of: group)
        groups[group].members.insert(Member(callbackRateE8: member.callbackRateE8, orderID: member.orderID))
        if bound(of: group) != old { pushThreshold(group) }
    }

    /// After a move back: the stops of `reached` that `target` does not reach go back to
    /// their heaps, and stale entries go. O(stops in `reached`).
    private mutating func putBackUnreached(_ target: Int128) {
        // Taken out whole and put back: filtered in place, with no copy.
        var pool = reached
        reached = BinaryHeap()
        pooledKeyMin = .max
        pool.removeAll { member in
            guard let slot = groupOf[member.orderID], slot != Self.inactive, slot & Self.pooledFlag != 0 else { return true }
            let key = key(of: Int(slot & ~Self.pooledFlag), rate: member.callbackRateE8)
            if key < target {
                putBack(member, slot: slot)
                return true
            }
            pooledKeyMin = min(pooledKeyMin, key)
            return false
        }
        reached = pool
    }

    /// Every stop of `reached` goes back to its heap (before groups merge or sort).
    private mutating func putBackAll() {
        if reached.isEmpty { return }
        let pool = reached
        reached = BinaryHeap()
        for member in pool.elements {
            guard let slot = groupOf[member.orderID], slot != Self.inactive, slot & Self.pooledFlag != 0 else { continue }
            putBack(member, slot: slot)
        }
        precondition(pooledCount == 0, "\(pooledCount) trailing stops left out of their heaps")
        pooledKeyMin = .max
    }

    /// Appends the ids of the stops that trigger at `priceUnits`, in no order: those of
    /// `reached` that it reaches, then a walk down the thresholds that reach the price, and
    /// in each current group's heap (once per group) down the members that trigger
    /// (`walkHeap`). It costs what is reached, not what waits. For the tests, against the
    /// walk over every stop.
    mutating func appendReached(_ priceUnits: Int64, to ids: inout [OrderID]) {
        let target = target(priceUnits)
        for member in reached.elements {
            guard let slot = groupOf[member.orderID], slot != Self.inactive, slot & Self.pooledFlag != 0 else { continue }
            if key(of: Int(slot & ~Self.pooledFlag), rate: member.callbackRateE8) >= target { ids.append(member.orderID) }
        }
        walks &+= 1
        let walk = walks
        let bounds = thresholds.elements
        bounds.withUnsafeBufferPointer { entries in
            walkHeap(entries, reaches: { $0.key >= target }) { entry in
                let group = Int(entry.group)
                guard isCurrent(entry), groups[group].walked != walk else { return }
                groups[group].walked = walk
                let extreme = groups[group].extremeUnits
                groups[group].members.elements.withUnsafeBufferPointer { members in
                    // Higher rates trigger later: below a member that does not, none does.
                    walkHeap(
                        members,
                        reaches: {
                            Self.isReached(sells: sells, extremeUnits: extreme, callbackRateE8: $0.callbackRateE8, priceUnits: priceUnits)
                        },
                        visit: { member in if groupOf[member.orderID] == UInt32(group) { ids.append(member.orderID) } })
                }
            }
        }
    }

    // MARK: Groups

    /// True while the entry is its group's bound (a group in use with stops, whose bound
    /// has not moved since). An entry that matches a later group in a reused slot is a
    /// second copy of that group's bound: harmless.
    @inline(__always)
    private func isCurrent(_ entry: Threshold) -> Bool {
        groups[Int(entry.group)].live > 0 && bound(of: Int(entry.group)) == entry.key
    }

    private mutating func newGroup() -> Int {
        if let slot = freeGroups.popLast() { return Int(slot) }
        groups.append(Group())
        return groups.count - 1
    }

    private mutating func freeGroup(_ group: Int) {
        precondition(groups[group].pooled == 0, "trailing group \(group) freed with stops in reached")
        groups[group].members.removeAll()
        groups[group].live = 0
        groups[group].extremeUnits = 0
        freeGroups.append(UInt32(group))
    }

    /// Adds a stop to a group; a new lowest rate is a new bound (an emptied group's
    /// members are gone, so its top is the new stop).
    private mutating func join(_ group: Int, _ member: Member) {
        let old = bound(of: group)
        groups[group].members.insert(member)
        groups[group].live += 1
        if bound(of: group) != old { pushThreshold(group) }
    }

    /// Drops members that left from the top of the group's heap (it has a stop there).
    private mutating func dropLeftTops(_ group: Int) {
        while groupOf[groups[group].members.elements[0].orderID] != UInt32(group) { _ = groups[group].members.popFirst() }
    }

    /// One group of two (each with stops): the smaller's stops move into the larger.
    /// Returns the larger; the smaller is freed. The caller sets the extreme and the bound.
    private mutating func merge(_ first: Int, _ second: Int) -> Int {
        precondition(groups[first].pooled == 0 && groups[second].pooled == 0, "trailing groups merged with stops in reached")
        let (into, from) = groups[first].members.count >= groups[second].members.count ? (first, second) : (second, first)
        let moving = groups[from].members.elements
        for member in moving where groupOf[member.orderID] == UInt32(from) {
            _ = groupOf.modifyValue(forKey: member.orderID) { $0 = UInt32(into) }
            groups[into].members.insert(member)
        }
        groups[into].live += groups[from].live
        freeGroup(from)
        return into
    }

    /// Pushes the group's bound; rebuilds the heap from the groups when stale entries
    /// outnumber them.
    private mutating func pushThreshold(_ group: Int) {
        guard let key = bound(of: group) else { return }
        thresholds.insert(Threshold(key: key, group: UInt32(group)))
        if thresholds.count > 2 * (stack.count - emptiedInStack) + 32 {
            var bounds: [Threshold] = []
            bounds.reserveCapacity(stack.count - emptiedInStack)
            for slot in stack where groups[Int(slot)].live > 0 {
                if let key = bound(of: Int(slot)) { bounds.append(Threshold(key: key, group: slot)) }
            }
            thresholds = BinaryHeap(unordered: bounds)
        }
    }

    /// Frees the emptied groups of the stack, keeping the others' order.
    private mutating func compactStack() {
        for slot in stack where groups[Int(slot)].live == 0 { freeGroup(Int(slot)) }
        stack = stack.filter { groups[Int($0)].live > 0 }
        emptiedInStack = 0
    }

    /// Puts the stack in order, most extreme first, and makes groups with one extreme one.
    private mutating func sortStack() {
        compactStack()
        // Each slot's extreme beside it, so that the sort holds no copy of the groups.
        let byExtreme = stack.map { (slot: $0, extreme: groups[Int($0)].extremeUnits) }
            .sorted { sells ? $0.extreme > $1.extreme : $0.extreme < $1.extreme }.map(\.slot)
        var sorted: [UInt32] = []
        sorted.reserveCapacity(byExtreme.count)
        for slot in byExtreme {
            if let last = sorted.last, groups[Int(last)].extremeUnits == groups[Int(slot)].extremeUnits {
                let extreme = groups[Int(slot)].extremeUnits
                let kept = merge(Int(last), Int(slot))
                groups[kept].extremeUnits = extreme
                sorted[sorted.count - 1] = UInt32(kept)
                pushThreshold(kept)
            } else {
                sorted.append(slot)
            }
        }
        stack = sorted
        stackSorted = true
    }

    // MARK: Sweep

    /// The first way the index disagrees with the ids of the stops that wait, or nil.
    /// O(stops).
    func violation(_ waiting: [OrderID]) -> String? {
        let side = sells ? "sell" : "buy"
        if waiting.count != count { return "\(count) trailing \(side) stops indexed, \(waiting.count) wait" }
        let inStack = Set(stack)
        let bounds = Set(thresholds.elements)
        var inactive = 0
        for orderID in waiting {
            guard let slot = groupOf[orderID] else { return "trailing stop \(orderID) is not indexed" }
            let group = slot & ~Self.pooledFlag
            if slot == Self.inactive {
                inactive += 1
            } else if Int(group) >= groups.count || groups[Int(group)].live == 0 || !inStack.contains(group) {
                return "trailing stop \(orderID) is in group \(group), which has no stops"
            }
        }
        if inactive != inactiveCount { return "\(inactiveCount) trailing \(side) stops inactive, \(inactive) indexed so" }
        if activations.elements.filter({ groupOf[$0.orderID] == Self.inactive }).count != inactive {
            return "trailing \(side) activations hold other stops than the \(inactive) inactive"
        }
        // The stops in `reached`, once each, by group.
        var pooledByGroup: [UInt32: Int] = [:]
        var pooledIDs = Set<OrderID>()
        for member in reached.elements {
            guard let slot = groupOf[member.orderID], slot != Self.inactive, slot & Self.pooledFlag != 0 else { continue }
            if !pooledIDs.insert(member.orderID).inserted { return "trailing stop \(member.orderID) is twice in reached" }
            pooledByGroup[slot & ~Self.pooledFlag, default: 0] += 1
            if key(of: Int(slot & ~Self.pooledFlag), rate: member.callbackRateE8) < pooledKeyMin {
                return "trailing \(side) stop \(member.orderID) in reached is below its key bound"
            }
        }
        if pooledIDs.count != pooledCount { return "trailing \(side) reached holds \(pooledIDs.count) stops, counts \(pooledCount)" }
        if !reached.isHeap { return "trailing \(side) reached out of order" }
        var inGroups = 0
        for (place, slot) in stack.enumerated() {
            let group = groups[Int(slot)]
            let members = group.members.elements.filter { groupOf[$0.orderID] == slot }.count
            if members + group.pooled != group.live || pooledByGroup[slot, default: 0] != group.pooled {
                return
                    "trailing \(side) group \(slot) counts \(group.live) stops (\(group.pooled) reached), holds \(members) and \(pooledByGroup[slot, default: 0])"
            }
            inGroups += group.live
            guard group.live > group.pooled else { continue }
            if !group.members.isHeap { return "trailing \(side) group \(slot)'s members are not a heap" }
            if groupOf[group.members.elements[0].orderID] != slot { return "trailing \(side) group \(slot)'s top has left" }
            if let key = bound(of: Int(slot)), !bounds.contains(Threshold(key: key, group: slot)) {
                return "trailing \(side) group \(slot) has no current bound"
            }
            if stackSorted, place > 0, groups[Int(stack[place - 1])].live > 0,
                !isBeyond(groups[Int(stack[place - 1])].extremeUnits, group.extremeUnits)
            {
                return "trailing \(side) groups out of order at \(slot)"
            }
        }
        if inGroups + inactive != count { return "trailing \(side) groups hold \(inGroups) active, \(count - inactive) are" }
        if !thresholds.isHeap || !activations.isHeap { return "trailing \(side) heaps out of order" }
        return nil
    }
}
