import LedgerClient
import LedgerDigest
import Testing

@testable import LedgerCore

/// The structures the engine's hot path was rebuilt on for a million accounts (issue
/// "Exchange scale"): the id tables, the paged order pool, the balance kept in the
/// account, the cached funding schedule and the cache warm-up. Each is checked against a
/// plain model over many operations, not a few examples.
@Suite struct HotPathStructureTests {
    /// 300,000 random inserts, updates, removals and lookups over a key space small enough
    /// to collide and clear again, against a Dictionary; the table's count agrees after
    /// every step, and every key's lookup at the end. For each run length: runs of
    /// neighbouring keys (order ids) must not lose a key either.
    @Test(arguments: 0...3) func theIDTableAgreesWithADictionary(runBits: Int) {
        var table = IDTable<UInt32>(filler: 0, runBits: runBits)
        var model: [UInt64: UInt32] = [:]
        var random = SeededRandom(seed: 77)
        for step in 0..<300_000 {
            // Keys from a window that moves, so that the table grows, empties and grows.
            let window = UInt64(step / 50_000) * 3_000
            let key = window + random.next() % 5_000  // 0 is an id too
            switch random.next() % 10 {
            case 0..<5:
                let value = UInt32(truncatingIfNeeded: random.next())
                table[key] = value
                model[key] = value
            case 5..<8:
                #expect(table.removeValue(forKey: key) == model.removeValue(forKey: key), "step \(step) key \(key)")
            default:
                #expect(table[key] == model[key], "step \(step) key \(key)")
            }
            if table.count != model.count {
                Issue.record("step \(step): the table holds \(table.count) keys, the model \(model.count)")
                return
            }
        }
        for key in 0...UInt64(25_000) where table[key] != model[key] {
            Issue.record("key \(key): the table says \(String(describing: table[key])), the model \(String(describing: model[key]))")
            return
        }
    }

    /// The id hash puts a run's keys side by side (issue 12, sixteenth steps: its shifts are
    /// machine shifts now): for every run length, over random keys and seeds, the hash is
    /// the finaliser of the key's run moved up, with the key's place in its run below it,
    /// so keys of one run differ in the low bits only and keep their order there.
    @Test(arguments: 0...3) func theIDHashKeepsARunsKeysSideBySide(runBits: Int) {
        var random = SeededRandom(seed: 16)
        let bits = UInt64(runBits)
        let place = (UInt64(1) << bits) - 1
        for _ in 0..<20_000 {
            let key = random.next() >> (random.next() % 64)
            let seed = random.next() | 1
            // The finaliser written out (murmur3's fmix64 shape) with Swift's own shifts.
            var mixed = ((key >> bits) ^ seed) &* 0xff51_afd7_ed55_8ccd
            mixed ^= mixed >> 32
            mixed = mixed &* 0xc4ce_b9fe_1a85_ec53
            mixed ^= mixed >> 29
            let hash = UInt64.hash(key, seed: seed, runBits: bits)
            #expect(hash == (mixed << bits) | (key & place), "key \(key) seed \(seed)")
            // Its neighbour in the same run lands beside it.
            let neighbour = key ^ 1
            if runBits > 0 {
                #expect(UInt64.hash(neighbour, seed: seed, runBits: bits) == hash ^ 1, "key \(key)")
            }
        }
    }

    /// The table doubles in bounded steps (docs/BENCHMARKS.md, "Growth in bounded
    /// steps"): grown to 200,000 keys while updates, removals and lookups hit keys of the
    /// table being moved out of, it agrees with a Dictionary after every operation, and no
    /// operation wrote more than one step's entries for growing.
    @Test(arguments: [0, 2]) func theIDTableGrowsInBoundedSteps(runBits: Int) {
        var table = IDTable<UInt32>(filler: 0, runBits: runBits)
        var model: [UInt64: UInt32] = [:]
        var random = SeededRandom(seed: 5)
        var nextKey: UInt64 = 1
        for step in 0..<400_000 {
            // Half the operations add a new key; the rest hit one already added (most of
            // which sit in the old table while a doubling moves).
            let existing = nextKey > 1 ? 1 + random.next() % (nextKey - 1) : 1
            switch random.next() % 8 {
            case 0..<4:
                table[nextKey] = UInt32(truncatingIfNeeded: nextKey)
                model[nextKey] = UInt32(truncatingIfNeeded: nextKey)
                nextKey += 1
            case 4:
                let value = UInt32(truncatingIfNeeded: random.next())
                table[existing] = value
                model[existing] = value
            case 5:
                if table.removeValue(forKey: existing) != model.removeValue(forKey: existing) {
                    Issue.record("step \(step): removing key \(existing) disagrees with the model")
                    return
                }
            default:
                if table[existing] != model[existing] {
                    Issue.record(
                        "step \(step): key \(existing) is \(String(describing: table[existing])), the model says \(String(describing: model[existing]))"
                    )
                    return
                }
            }
            if table.count != model.count {
                Issue.record("step \(step): the table holds \(table.count) keys, the model \(model.count)")
                return
            }
        }
        #expect(model.count > 150_000, "the table grew through many doublings")
        for key in 1..<nextKey where table[key] != model[key] {
            Issue.record("key \(key): the table says \(String(describing: table[key])), the model \(String(describing: model[key]))")
            return
        }
        #expect(
            table.growthWorkMax == max(IDTable<UInt32>.fillStep, IDTable<UInt32>.moveStep),
            "one operation wrote \(table.growthWorkMax) entries for growing")
        #expect(table[Limits.idMax] == nil && table[UInt64.max] == nil, "ids beyond the range are in no table")
    }

    /// Clients' order ids (account, id) in the same table, with growth: 300,000 random
    /// inserts, updates, removals and lookups over 40 accounts × 3,000 ids against a
    /// Dictionary; the same id in two accounts is two keys.
    @Test func theClientOrderTableAgreesWithADictionary() {
        var table = HashTable<ClientOrderKey, UInt64>(filler: 0)
        var model: [ClientOrderKey: UInt64] = [:]
        var random = SeededRandom(seed: 3)
        for step in 0..<300_000 {
            let key = ClientOrderKey(accountIndex: UInt32(random.next() % 40), clientOrderID: ClientOrderID(random.next() % 3_000))
            switch random.next() % 10 {
            case 0..<5:
                table[key] = UInt64(step)
                model[key] = UInt64(step)
            case 5..<7:
                if table.removeValue(forKey: key) != model.removeValue(forKey: key) {
                    Issue.record("step \(step): removing \(key) disagrees with the model")
                    return
                }
            default:
                if table[key] != model[key] {
                    Issue.record(
                        "step \(step): \(key) is \(String(describing: table[key])), the model says \(String(describing: model[key]))")
                    return
                }
            }
            if table.count != model.count {
                Issue.record("step \(step): the table holds \(table.count) keys, the model \(model.count)")
                return
            }
        }
        #expect(model.count > 60_000, "the table grew through many doublings")
        for (key, value) in model where table[key] != value {
            Issue.record("\(key): the table says \(String(describing: table[key])), the model \(value)")
            return
        }
        #expect(table.growthWorkMax <= max(IDTable<UInt32>.fillStep, IDTable<UInt32>.moveStep))
        #expect(table[ClientOrderKey(accountIndex: .max, clientOrderID: 0)] == nil, "the empty mark is no key")
    }

    /// The idempotency queue in pages: 200,000 random appends and removals (the queue
    /// growing past several pages, emptying, growing again) against an array; the count and
    /// the first record agree after every step, all records in order every 1,000 steps, and
    /// two queues holding the same records in different pages are equal.
    @Test func theFIFOInPagesAgreesWithAnArray() {
        var queue = FIFO<UInt64>()
        var model: [UInt64] = []
        var modelHead = 0
        var random = SeededRandom(seed: 11)
        var next: UInt64 = 0
        for step in 0..<200_000 {
            // Long spells of growth, then of draining: the queue reaches ~4 pages.
            let growing = (step / 20_000) % 2 == 0
            if random.next() % 10 < (growing ? 7 : 3) || modelHead == model.count {
                queue.append(next)
                model.append(next)
                next += 1
            } else {
                queue.removeFirst()
                modelHead += 1
            }
            if queue.count != model.count - modelHead || queue.first != (modelHead < model.count ? model[modelHead] : nil) {
                Issue.record(
                    "step \(step): the queue holds \(queue.count) first \(String(describing: queue.first)), the model \(model.count - modelHead)"
                )
                return
            }
            if step % 1_000 == 0 && !queue.elements.elementsEqual(model[modelHead...]) {
                Issue.record("step \(step): the records differ from the model's")
                return
            }
        }
        #expect(next > UInt64(4 * FIFO<UInt64>.pageSize), "the queue ran through many pages")
        var other = FIFO<UInt64>()
        for record in model[modelHead...] { other.append(record) }
        #expect(other == queue, "the same records in other pages")
        other.append(1)
        #expect(other != queue)
    }

    /// Keys that all land in one run of entries (sequential ids in a small table, then a
    /// removal from the middle of each run): backward-shift deletion must leave every
    /// other key findable.
    @Test(arguments: [0, 2]) func removingFromTheMiddleOfARunKeepsTheRestFindable(runBits: Int) {
        for hole in 1...UInt64(12) {
            var table = IDTable<UInt32>(filler: 0, runBits: runBits)
            for key in 1...UInt64(12) { table[key] = UInt32(key) * 10 }
            #expect(table.removeValue(forKey: hole) == UInt32(hole) * 10)
            #expect(table[hole] == nil)
            for key in 1...UInt64(12) where key != hole {
                #expect(table[key] == UInt32(key) * 10, "after removing \(hole), key \(key)")
            }
            #expect(table.count == 11)
        }
    }

    /// `warm` reads each id's home entry by `homeIndex` and `keyAt` before looking it up:
    /// the home of every key in the table is in use (linear probing starts there), and in
    /// an empty table every home is empty.
    @Test(arguments: 0...3) func aKeysHomeIsWhereItsLookupStarts(runBits: Int) {
        var table = IDTable<UInt32>(filler: 0, runBits: runBits)
        for key in 1...UInt64(200) { #expect(table.keyAt(table.homeIndex(key)) == 0, "key \(key) in an empty table") }
        for key in 1...UInt64(12) { table[key * 7_919] = UInt32(key) }
        for key in 1...UInt64(12) {
            #expect(table.keyAt(table.homeIndex(key * 7_919)) != 0, "key \(key * 7_919): its home is empty")
        }
        let used = (0..<64).filter { table.keyAt($0 & 15) != 0 }.count
        #expect(used == 4 * 12, "12 keys in 16 entries, read four times over")
    }

    /// One book with 3,000 resting orders (three pages of the pool), a third of them
    /// cancelled and the slots reused by 1,000 more: every order is where its location
    /// says, the book's priority order is price then time, and the state passes its sweep.
    @Test func aBookAcrossSeveralPoolPagesKeepsItsOrders() throws {
        var engine = EngineHarness()
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        for account: AccountID in 1...30 { engine.deposit(account, 1_000_000_000_000) }
        var resting: [OrderID] = []
        for index in 0..<3_000 {
            let events = engine.limit(AccountID(index % 30 + 1), .buy, price: 400_000 + Int64(index % 7), quantity: 1)
            for case .orderRested(let id, _) in events { resting.append(id) }
        }
        #expect(resting.count == 3_000)
        #expect(OrderPool.pageSize < 3_000)
        for (position, id) in resting.enumerated() where position % 3 == 0 {
            let events = engine.run(.cancelOrder(CancelOrder(account: AccountID(position % 30 + 1), orderID: id)))
            #expect(events.contains { if case .orderCancelled = $0 { return true } else { return false } }, "order \(id)")
        }
        for index in 0..<1_000 {
            engine.limit(AccountID(index % 30 + 1), .buy, price: 400_000 + Int64(index % 5), quantity: 2)
        }
        let book = engine.state.books.bySymbol[0]
        #expect(book.orderCount == 3_000)
        let bids = book.orders(.buy)
        #expect(bids.count == 3_000)
        for (earlier, later) in zip(bids, bids.dropFirst()) {
            let inOrder =
                earlier.priceUnits > later.priceUnits || (earlier.priceUnits == later.priceUnits && earlier.orderID < later.orderID)
            if !inOrder {
                Issue.record("order \(later.orderID) at \(later.priceUnits) follows \(earlier.orderID) at \(earlier.priceUnits)")
                break
            }
        }
        for order in bids {
            #expect(engine.state.openOrder(order.orderID)?.order == order)
        }
        #expect(engine.state.invariantViolation() == nil)
    }

    /// A symbol's danger heap stays within about twice its live marks (one per holder),
    /// however many accounts the world has: 2,000 funded accounts, 50 thin ones long
    /// BTCUSDT, then 6,000 deposits to the holders (each re-marks one, pushing a fresh
    /// entry and leaving a stale one). Bounded by the world's accounts, the heap grew to
    /// 4,064 entries before its first compaction.
    @Test func aDangerHeapIsBoundedByItsHoldersNotByTheWorld() {
        var engine = EngineHarness()
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        let holders = 50
        // The holders thin (3 USDT for a 50 USDT lot: a reachable danger mark), the rest rich.
        for account: AccountID in 1...2_000 { engine.deposit(account, account <= AccountID(holders) ? 3_000_000 : 10_000_000_000) }
        engine.limit(2_000, .sell, price: 500_000, quantity: Int64(holders))
        for holder in 1...AccountID(holders) { engine.market(holder, .buy, quantity: 1) }
        var random = SeededRandom(seed: 3)
        var largest = 0
        for step in 0..<6_000 {
            let holder = AccountID(random.next() % UInt64(holders) + 1)
            engine.deposit(holder, 1_000, transfer: 10_000_000 + UInt64(step))
            largest = max(largest, engine.state.risk.riskIndex.longs[0].count)
        }
        #expect(largest <= 2 * holders + 64, "the longs' heap reached \(largest) entries for \(holders) holders")
        #expect(largest >= holders)
        #expect(engine.state.invariantViolation() == nil)
    }

    /// The balance in asset 0 lives in the account and the others in an array: an account
    /// holding only asset 1 (and so a zero balance in asset 0) encodes and decodes to the
    /// same bytes, and its balances read back.
    @Test func balancesBeyondTheFirstAssetRoundTrip() throws {
        var engine = EngineHarness()
        engine.run(.deposit(Transfer(transferID: 1, account: 5, asset: 1, amountMinor: 123_456_789)))
        engine.deposit(6, 42)
        engine.run(.deposit(Transfer(transferID: 2, account: 6, asset: 1, amountMinor: 7)))
        let five = engine.state.accounts[Int(engine.state.ledger.accountIndexByID[5]!)]
        #expect(five.balanceCount == 2)
        #expect(five.balance(0) == 0)
        #expect(five.balance(1) == 123_456_789)
        #expect(five.balance(9) == 0)
        var bytes = ByteWriter()
        engine.state.encodeCanonical(to: &bytes)
        let decoded = try Self.decode(bytes.bytes, like: engine.state)
        let six = decoded.accounts[Int(decoded.ledger.accountIndexByID[6]!)]
        #expect((six.balance(0), six.balance(1)) == (42, 7))
        var again = ByteWriter()
        decoded.encodeCanonical(to: &again)
        #expect(again.bytes == bytes.bytes)
    }

    /// The funding schedule is cached (one comparison a command instead of a walk over the
    /// markets): across listings, settlements started and completed, and a decode, the
    /// cache agrees with the markets (the invariant sweep recomputes it) and the
    /// settlement starts at its time, not before.
    @Test func theFundingScheduleFollowsTheMarkets() throws {
        var engine = BoundedFundingTests.world(holders: 600)
        let due = engine.state.funding.earliestFundingDueNanos
        #expect(due == engine.state.funding.bySymbol[0].nextFundingTimeNanos && due != Int64.max)
        #expect(!engine.state.fundingSettlementDue(atTimeNanos: due - 1))
        #expect(engine.state.fundingSettlementDue(atTimeNanos: due))
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 5_000_000), at: due - 1)
        #expect(engine.state.funding.bySymbol[0].fundingSettlement == nil)
        // The funding time: the settlement opens, and no other is due until it is done.
        engine.run(.tick, at: due)
        #expect(engine.state.funding.fundingSettlementsOpen == 1)
        #expect(engine.state.funding.earliestFundingDueNanos == Int64.max)
        #expect(engine.state.hasSystemWork)
        #expect(engine.state.invariantViolation() == nil)
        // Half done, through a decode: the cache is rebuilt from the markets.
        var bytes = ByteWriter()
        engine.state.encodeCanonical(to: &bytes)
        let decoded = try Self.decode(bytes.bytes, like: engine.state)
        #expect(decoded.funding.fundingSettlementsOpen == 1)
        #expect(decoded.funding.earliestFundingDueNanos == Int64.max)
        var ticks = 0
        while engine.state.hasSystemWork && ticks < 100 {
            engine.run(.tick, at: due + Int64(ticks + 1))
            ticks += 1
            #expect(engine.state.invariantViolation() == nil, "after tick \(ticks)")
        }
        #expect(ticks > 1)
        #expect(engine.state.funding.fundingSettlementsOpen == 0)
        #expect(engine.state.funding.earliestFundingDueNanos == engine.state.funding.bySymbol[0].nextFundingTimeNanos)
        #expect(engine.state.funding.earliestFundingDueNanos > due)
    }

    /// Warming reads only: the same commands executed with a warm-up of each group of
    /// eight (as ledgerd runs them) and without reach the same state hash and events.
    @Test func warmingChangesNoOutcome() {
        var warmed = EngineHarness()
        var plain = EngineHarness()
        for account: AccountID in 1...40 {
            warmed.deposit(account, 50_000_000_000)
            plain.deposit(account, 50_000_000_000)
        }
        warmed.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        plain.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        // The usual mix (orders, cancels of its own rested orders, marks), in groups.
        var flow = OrderFlowGenerator(seed: 9, accounts: Array(1...40))
        flow.mids = [500_000, 300_000]
        var sink: UInt64 = 0
        for _ in 0..<500 {
            var commands: [Command] = []
            for _ in 0..<ExchangeState.warmGroup { commands.append(flow.next()) }
            sink &+= warmed.state.warm(commands[...])
            for command in commands {
                let a = warmed.run(command)
                let b = plain.run(command)
                if a != b {
                    Issue.record("command \(command): \(a) warmed, \(b) not")
                    return
                }
                if case .placeOrder(let order) = command {
                    for case .orderRested(let id, _) in a { flow.noteRested(account: order.account, order: id) }
                }
            }
        }
        #expect(warmed.state.books.bySymbol[0].orderCount > 0)
        #expect(warmed.state.stateHash() == plain.state.stateHash())
        #expect(sink != 0)
    }

    /// A walk over one side of a symbol's holders (ADL ranks only the side that meets the
    /// bankrupt position) visits exactly the holders of that side, in account order, from
    /// any start, and the shorts are a subset kept apart.
    @Test func aWalkOverOneSideOfTheHoldersVisitsExactlyThatSide() {
        var random = SeededRandom(seed: 19)
        for round in 0..<50 {
            var holders = HolderSet()
            var shorts = HolderSet()
            var model: [Int: Bool] = [:]  // index: is short
            let span = 1 + Int(random.next() % 2_000)
            for _ in 0..<Int(random.next() % 600) {
                let index = Int(random.next() % UInt64(span))
                switch random.next() % 4 {
                case 0:
                    holders.remove(index)
                    shorts.remove(index)
                    model[index] = nil
                case 1:
                    holders.insert(index)
                    shorts.insert(index)
                    model[index] = true
                default:
                    holders.insert(index)
                    shorts.remove(index)
                    model[index] = false
                }
            }
            for side in [true, false] {
                let start = Int(random.next() % UInt64(span + 70))
                var visited: [Int] = []
                var next = holders.first(atOrAfter: start, shorts: side, of: shorts)
                while let index = next {
                    visited.append(index)
                    next = holders.first(atOrAfter: index + 1, shorts: side, of: shorts)
                }
                let expected = model.filter { $0.key >= start && $0.value == side }.keys.sorted()
                #expect(visited == expected, "round \(round), shorts \(side), from \(start)")
            }
            #expect(shorts.count == model.values.filter { $0 }.count)
        }
    }

    /// The sizes the hot path's cache lines were counted on (docs/BENCHMARKS.md): an
    /// account is 128 bytes with its first position slot and its risk word inside it, a
    /// resting order 48 (48 until issue 10 moved its client order id beside the books, 40
    /// until issue 12 linked each account's orders), a position slot 88 (80 until issue 12's
    /// nineteenth steps moved each account's last order on a side from a hash table of the
    /// book into it: the mix at 10^6 accounts got faster, docs/BENCHMARKS.md). A field added
    /// to one of them costs a miss per command at a million accounts.
    @Test func theHotStructuresKeepTheirSizes() {
        #expect(MemoryLayout<Account>.stride == 128)
        #expect(MemoryLayout<RestingOrder>.stride == 48)
        #expect(MemoryLayout<PositionTable.Slot>.stride == 88)
    }

    /// The risk word is derived: two accounts that differ only in it are equal and hash
    /// alike (a rebuilt state has its own generations).
    @Test func theRiskWordIsNotState() {
        var first = Account(id: 7)
        var second = Account(id: 7)
        first.riskState = 3
        second.riskState = RiskIndex.dirtyBit | 9
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        second.ensure(asset: 0)
        second.addBalance(0, 1)
        #expect(first != second)
    }

    /// The last orders a position slot names are derived from the books (a book decoded
    /// from a snapshot may hold its orders in other slots): two accounts whose slots differ
    /// only in them are equal and hash alike; a difference in the slot's state is not.
    @Test func theLastOrdersASlotNamesAreNotState() {
        var first = Account(id: 7)
        var second = Account(id: 7)
        first.positions.countOrders(3, resting: 2)
        second.positions.countOrders(3, resting: 2)
        first.positions.setLastOrderSlot(3, .buy, 5)
        first.positions.setLastOrderSlot(3, .sell, 9)
        second.positions.setLastOrderSlot(3, .buy, 12)
        #expect(first.positions.lastOrderSlot(3, .buy) == 5 && second.positions.lastOrderSlot(3, .sell) == OrderBook.none)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        second.positions.countOrders(3, resting: 1)
        #expect(first != second)
    }

    static func decode(_ bytes: [UInt8], like state: ExchangeState) throws -> ExchangeState {
        var reader = ByteReader(bytes)
        let decoded = try ExchangeState.decodeCanonical(from: &reader, sequence: state.lastSequence, timeNanos: state.lastTimeNanos)
        try reader.expectEnd()
        return decoded
    }
}
