import LedgerClient
import LedgerCore
import Testing

@testable import LedgerServer

/// The recent history's bounds (`history.*`): each kind keeps at most its maximum, the
/// oldest leave first, and an account's lists lose exactly what left.
@Suite struct RecentHistoryTests {
    /// Executes commands on a state and records each entry, as the follower does (in its
    /// two steps). Beside it, the projector's way: the public `OrderLifecycle.record` with
    /// the state, whose closed orders (as last extended) `reference` keeps by id.
    struct Run {
        var state = ExchangeState()
        var history: RecentHistory
        var events: [Event] = []
        var lifecycle = OrderLifecycle()
        var reference = ClosedOrders()
        /// Entries after which a closed liquidation order stayed extendable.
        var keptOpen = 0
        /// Entries after which the two ways disagreed on that.
        var keptOpenDisagreements = 0

        struct ClosedOrders: OrderLifecycleObserver {
            var byID: [OrderID: OrderRecord] = [:]
            mutating func orderClosed(_ record: OrderRecord) { byID[record.orderID] = record }
            mutating func liquidationExtended(_ record: OrderRecord) { byID[record.orderID] = record }
        }

        init(limits: HistoryLimits) { history = RecentHistory(limits: limits, startingAfter: 0) }

        mutating func run(_ command: Command) {
            events.removeAll()
            let sequence = state.lastSequence + 1
            let time = 1_764_000_000_000_000_000 + Int64(sequence) * 1_000_000
            state.execute(command, sequence: sequence, timeNanos: time, into: &events)
            let keepsOpen = events.withUnsafeBufferPointer {
                history.record(command, $0, sequence: sequence, timeNanos: time, symbols: state.symbols)
            }
            if keepsOpen { history.endLiquidations(after: state) }
            lifecycle.record(command, events[...], sequence: sequence, timeNanos: time, state: state, observer: &reference)
            if lifecycle.keepsLiquidationsOpen { keptOpen += 1 }
            if history.keepsLiquidationsOpen != lifecycle.keepsLiquidationsOpen { keptOpenDisagreements += 1 }
        }

        mutating func order(_ account: AccountID, _ side: Side, price: Int64, quantity: Int64, client: ClientOrderID = .none) {
            run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: side, type: .limit, timeInForce: .gtc, priceUnits: price,
                        quantityUnits: quantity, clientOrderID: client)))
        }
    }

    static func world(_ limits: HistoryLimits) -> Run {
        var run = Run(limits: limits)
        for command in E2EWorld.genesis { run.run(command) }
        for account in 1...4 as ClosedRange<UInt64> {
            run.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1_000_000_000_000)))
        }
        return run
    }

    @Test func everyKindKeepsAtMostItsMaximumAndTheNewest() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax, limits.forceOrdersMax) = (5, 4, 6, 1)
        var run = Self.world(limits)
        // 12 makers from account 1, each taken whole by account 2: 24 closed orders, 12
        // trades (each with a commission a side, read from the trade), 4 deposits.
        for step in 0..<12 as Range<Int64> {
            run.order(1, .sell, price: 500_000 + step, quantity: 10, client: ClientOrderID(UInt64(step + 1)))
            run.order(2, .buy, price: 500_000 + step, quantity: 10)
        }
        #expect(run.history.closed.end - run.history.closed.first == 5)
        #expect(run.history.trades.end - run.history.trades.first == 4)
        #expect(run.history.income.end - run.history.income.first == 4, "the deposits; a trade's income is read from it")
        // The newest kept: the last trade's two orders among the closed ones.
        let orders1 = run.history.orders(of: 1, in: run.state)
        let orders2 = run.history.orders(of: 2, in: run.state)
        #expect(orders1.count + orders2.count == 5)
        #expect(orders1.last?.clientOrderID == ClientOrderID(12) && orders1.allSatisfy { $0.status == .filled })
        #expect(run.history.order(1) == nil, "the first order left the ring")
        #expect(run.history.trades(of: 1).map(\.trade.tradeID) == [9, 10, 11, 12])
        #expect(run.history.trades(of: 2).map(\.trade.tradeID) == [9, 10, 11, 12])
        #expect(run.history.trades(of: 3).isEmpty)
        // Each account's deposit, then the commission of each trade kept.
        for account in [1, 2] as [AccountID] {
            let income = run.history.income(of: account, symbols: run.state.symbols)
            #expect(income.map(\.kind) == [.transfer] + Array(repeating: .commission, count: 4), "account \(account): \(income)")
            #expect(income.map(\.tradeID) == [0, 9, 10, 11, 12] && income.dropFirst().allSatisfy { $0.amountMinor < 0 })
        }
        #expect(run.history.publicTrades(0).count == 12, "public trades keep 1,000 a symbol apart")
        #expect(run.history.open.isEmpty)
        // Accounts 3 and 4 keep their deposits: the ring holds no trade's income.
        #expect(run.history.accountsKept == 4)
    }

    /// The closed orders' index by id is built when something reads by id
    /// (`indexClosedOrders`). Before a catch-up and between two, every kept closed order is
    /// found by its id and an evicted one is not; the index holds exactly the kept closes
    /// up to its last catch-up, and lets go of each as the ring evicts it.
    @Test func closedOrdersAreFoundByIDBeforeAndAfterTheirIndex() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax, limits.forceOrdersMax) = (4, 4, 4, 1)
        var run = Self.world(limits)
        // Each pair: a maker from account 1 taken whole by account 2, two closed orders.
        func pairs(_ steps: Range<Int64>) {
            for step in steps {
                run.order(1, .sell, price: 500_000 + step, quantity: 10)
                run.order(2, .buy, price: 500_000 + step, quantity: 10)
            }
        }
        func found(_ ids: ClosedRange<OrderID>) -> [OrderID] {
            ids.filter { id in
                guard let record = run.history.order(id) else { return false }
                #expect(record.orderID == id && record.status == .filled, "order \(id) read as \(record)")
                return true
            }
        }
        // Orders 1 ... 10 closed, 7 ... 10 kept, none indexed.
        pairs(0..<5)
        #expect(found(1...10) == [7, 8, 9, 10])
        #expect(run.history.idsIndexed.closed == 0 && run.history.closedIndexedEnd == 0)
        run.history.indexClosedOrders()
        #expect(run.history.idsIndexed.closed == 4 && run.history.closedIndexedEnd == 10)
        #expect(found(1...10) == [7, 8, 9, 10])
        // 11 and 12 close (not indexed yet); 7 and 8 leave the ring and the index.
        pairs(5..<6)
        #expect(found(1...12) == [9, 10, 11, 12])
        #expect(run.history.idsIndexed.closed == 2 && run.history.closedIndexedEnd == 10)
        // 13 ... 18 close: the ring moves past the index's end, which keeps nothing.
        pairs(6..<9)
        #expect(found(1...18) == [15, 16, 17, 18])
        #expect(run.history.idsIndexed.closed == 0)
        run.history.indexClosedOrders()
        #expect(run.history.idsIndexed.closed == 4 && run.history.closedIndexedEnd == 18)
        #expect(found(1...18) == [15, 16, 17, 18])
    }

    @Test func openOrdersAreAlwaysKnownAndFollowTheirFills() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax) = (0, 0, 0)
        var run = Self.world(limits)
        run.order(1, .sell, price: 500_000, quantity: 30, client: ClientOrderID(text: "ask-1")!)
        run.order(2, .buy, price: 500_000, quantity: 10)
        let open = run.history.openOrders(of: 1, in: run.state)
        #expect(open.count == 1 && open[0].status == .partiallyFilled && open[0].executedQuantityUnits == 10)
        #expect(open[0].openQuantityUnits == 20 && open[0].originalQuantityUnits == 30)
        #expect(open[0].clientOrderID.text == "ask-1")
        // Nothing closed is kept with maxima of 0, and nothing breaks.
        #expect(
            run.history.order(2) == nil && run.history.trades(of: 1).isEmpty
                && run.history.income(of: 1, symbols: run.state.symbols).isEmpty)
        // A follower starting from this state knows the open order without its time.
        var seeded = RecentHistory(limits: limits, startingAfter: run.state.lastSequence)
        seeded.seed(from: run.state)
        let known = seeded.openOrders(of: 1, in: run.state)
        #expect(known.count == 1 && known[0].openQuantityUnits == 20 && known[0].clientOrderID.text == "ask-1" && known[0].timeNanos == 0)
    }

    /// The reducer lives outside the history's own storage (so that it can reduce with the
    /// history as its observer); a copy of a history must still be a value: recording into
    /// one copy leaves the other's orders as they were.
    @Test func aCopiedHistoryKeepsItsOwnOpenOrders() {
        var run = Self.world(HistoryLimits())
        run.order(1, .sell, price: 500_000, quantity: 30)
        guard let id = run.history.openOrders(of: 1, in: run.state).first?.orderID else {
            Issue.record("account 1's order is not open")
            return
        }
        let before = run.history
        run.order(2, .buy, price: 500_000, quantity: 10)
        run.run(.cancelOrder(CancelOrder(account: 1, orderID: id)))
        #expect(run.history.order(id)?.status == .canceled && run.history.order(id)?.executedQuantityUnits == 10)
        #expect(run.history.open.isEmpty)
        // The copy still holds the order open and unfilled, and records on its own.
        #expect(before.order(id)?.isOpen == true && before.order(id)?.status == .new && before.order(id)?.executedQuantityUnits == 0)
        #expect(before.open.count == 1)
        var copy = before
        [Event.orderCancelled(id, quantityUnits: 30)].withUnsafeBufferPointer {
            copy.record(.cancelOrder(CancelOrder(account: 1, orderID: id)), $0, sequence: 1_000, timeNanos: 0, symbols: run.state.symbols)
        }
        #expect(copy.order(id)?.status == .canceled && copy.order(id)?.executedQuantityUnits == 0)
        #expect(before.order(id)?.isOpen == true, "recording into a copy changed the one it was copied from")
    }

    /// One closed order kept: each order account 1 closes evicts its previous one, its only
    /// record, so its slot is freed and made again in the same step.
    @Test func anAccountsOnlyRecordLeavingForItsNextOneKeepsTheNextOne() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax, limits.forceOrdersMax) = (1, 0, 0, 0)
        var run = Self.world(limits)
        for _ in 0..<3 {
            run.order(1, .sell, price: 600_000, quantity: 10)
            guard let open = run.history.openOrders(of: 1, in: run.state).last else {
                Issue.record("account 1's order is not open")
                return
            }
            run.run(.cancelOrder(CancelOrder(account: 1, orderID: open.orderID)))
            #expect(run.history.orders(of: 1, in: run.state).map(\.orderID) == [open.orderID])
            #expect(run.history.order(open.orderID)?.status == .canceled)
            #expect(run.history.accountsKept == 1)
            if let problem = run.history.slotsDisagreement { Issue.record("after cancelling order \(open.orderID): \(problem)") }
        }
    }

    /// The history remembers the slots of the last two accounts it found. An account whose
    /// last record leaves while it is the older of the two gives its slot back, and its next
    /// record must get a slot of its own, not the one it remembered.
    @Test func anAccountReleasedWhileRememberedGetsASlotAgain() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax, limits.forceOrdersMax) = (0, 0, 2, 0)
        var run = Run(limits: limits)
        for command in E2EWorld.genesis { run.run(command) }
        // Deposits of 5, 6, then 5 again: the third evicts 5's only record while 5 is the
        // older remembered account, then records 5's new one.
        for (transfer, account) in [(1, 5), (2, 6), (3, 5), (4, 7), (5, 5)] as [(UInt64, AccountID)] {
            run.run(.deposit(Transfer(transferID: transfer, account: account, asset: 0, amountMinor: 1_000 * Int64(transfer))))
            if let problem = run.history.slotsDisagreement { Issue.record("after deposit \(transfer): \(problem)") }
        }
        #expect(run.history.income(of: 5, symbols: run.state.symbols).map(\.amountMinor) == [5_000])
        #expect(run.history.income(of: 7, symbols: run.state.symbols).map(\.amountMinor) == [4_000])
        #expect(run.history.income(of: 6, symbols: run.state.symbols).isEmpty)
        #expect(run.history.accountsKept == 2)
    }

    /// The whale's liquidation against 1,100 shorts, deleveraged in steps past its own
    /// entry (the deleveraging fixture's scenario), recorded in the follower's two steps: after
    /// every entry the history keeps the liquidation order extendable exactly while the
    /// projector's reducer (the public `record` with the state) does, and at the end every
    /// closed and force order reads as that reducer left it.
    @Test func aLiquidationDeleveragedInStepsEndsAsInTheProjectorsReducer() {
        var run = Run(limits: HistoryLimits())
        let commands: [Command] =
            [.setWorldLimits(.standard)] + DemoExchange.listings.prefix(2) + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
            + DemoExchange.whaleCommands(shorts: 1_100, whale: 1, firstShort: 100_000) + [.setMarkPrice(symbol: 0, priceUnits: 400_000)]
        for command in commands {
            run.run(command)
            while run.state.hasSystemWork { run.run(.tick) }
        }
        #expect(run.keptOpen >= 1, "the liquidation order stayed extendable after \(run.keptOpen) entries")
        #expect(!run.lifecycle.keepsLiquidationsOpen, "the deleveraging ended")
        #expect(run.keptOpenDisagreements == 0)
        let liquidations = run.reference.byID.values.filter { $0.autoClose == .liquidation }
        #expect(!liquidations.isEmpty)
        for record in run.reference.byID.values { #expect(run.history.order(record.orderID) == record, "order \(record.orderID)") }
        #expect(run.history.forceOrders(of: 1).map(\.orderID) == liquidations.map(\.orderID))
    }

    @Test func theRingKeepsPositionsStable() {
        var ring = RecordRing<Int>(capacity: 3, linkCount: 1)
        var evicted: [Int] = []
        for value in 0..<10 {
            #expect(ring.evictee == (value >= 3 ? value - 3 : nil))
            if let evictee = ring.evictee { evicted.append(ring[kept: evictee]) }
            ring.append(value)
            #expect(ring.link(value, 0) == -1, "a new record links nowhere")
        }
        #expect(evicted == Array(0..<7))
        #expect((ring.first, ring.end) == (7, 10))
        #expect(ring[6] == nil && ring[7] == 7 && ring[9] == 9 && ring[10] == nil)
        // A chain through the ring: 7 → 9, then 7 leaves.
        var chain = Chain()
        chain.append(7, in: &ring, link: 0, owner: 4)
        chain.append(9, in: &ring, link: 0, owner: 4)
        #expect(chain.records(in: ring) { _ in 0 } == [7, 9] && ring.link(7, 0) == 9)
        #expect(ring.owner(7, 0) == 4 && ring.owner(9, 0) == 4, "each link names its account's slot")
        // The evictee leaves its chain before the append that evicts it.
        #expect(ring.evictee == 7)
        chain.dropHead(7, in: ring, link: 0)
        ring.append(10)
        #expect((chain.head, chain.tail) == (9, 9) && chain.records(in: ring) { _ in 0 } == [9])
        ring.append(11)
        #expect(ring.evictee == 9)
        chain.dropHead(9, in: ring, link: 0)
        ring.append(12)
        #expect(chain.isEmpty && chain.records(in: ring) { _ in 0 }.isEmpty)
        var empty = RecordRing<Int>(capacity: 0)
        empty.append(1)
        #expect(empty.evictee == nil && empty[0] == nil && empty.end == 0)
    }

    /// Random orders (stop orders among them), cancels and mark moves over ten thin accounts
    /// (liquidations, the insurance fund's takeovers and ADL among them), with every kind's
    /// maximum small so that records leave all the time: after every entry, each account's
    /// lists (walked along its chains) are exactly its records in the rings, in order, its
    /// open orders in the state are exactly the reducer's, and a slot is kept for exactly
    /// the accounts with records.
    @Test func eachAccountsChainsHoldExactlyItsRecordsInTheRings() {
        var limits = HistoryLimits()
        (limits.ordersMax, limits.tradesMax, limits.incomeMax, limits.forceOrdersMax) = (7, 5, 9, 2)
        var run = Run(limits: limits)
        for command in E2EWorld.genesis { run.run(command) }
        let accounts = 1...10 as ClosedRange<UInt64>
        for account in accounts {
            run.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 4_000_000_000)))
        }
        var random = SeededRandom(seed: 33)
        var mark: Int64 = 500_000
        var transferID: UInt64 = 100
        var liquidations = 0
        var slotsFreed = 0
        var conditionalPlaced = 0
        var conditionalOpenSeen = false
        for step in 0..<3_000 {
            let slotsBefore = run.history.accountsKept
            Self.randomStep(&run, &random, mark: &mark, transferID: &transferID, step: step, accounts: accounts)
            // The closed orders' index caught up now and then, as reads would.
            if step % 4 == 1 { run.history.indexClosedOrders() }
            conditionalPlaced += run.events.filter { if case .conditionalOrderPlaced = $0 { true } else { false } }.count
            liquidations += run.events.filter { if case .liquidationTriggered = $0 { true } else { false } }.count
            if run.history.accountsKept < slotsBefore { slotsFreed += 1 }
            conditionalOpenSeen = conditionalOpenSeen || run.state.books.conditionalBySymbol.contains { !$0.isEmpty }
            if let problem = Self.disagreement(run.history, run.state, accounts: 0...11) {
                Issue.record("after entry \(run.state.lastSequence) (step \(step)): \(problem)")
                return
            }
            // Each kept closed order reads as the projector's reducer left it.
            for position in run.history.closed.first..<run.history.closed.end {
                let id = run.history.closed[kept: position].orderID
                if run.history.order(id) != run.reference.byID[id] {
                    Issue.record(
                        "after entry \(run.state.lastSequence): order \(id) is \(String(describing: run.history.order(id))) here, \(String(describing: run.reference.byID[id])) in the projector's reducer"
                    )
                    return
                }
            }
        }
        // Every kind evicted, and liquidation orders were kept and left.
        #expect(run.history.closed.first > 0 && run.history.trades.first > 0 && run.history.income.first > 0)
        #expect(liquidations > 0 && run.history.forceOrders.first > 0, "\(liquidations) liquidations")
        #expect(slotsFreed > 0, "no account lost its last record")
        #expect(conditionalPlaced > 0 && conditionalOpenSeen, "\(conditionalPlaced) stop orders placed")
    }

    /// One step of the random mix: stop orders, limit orders (some IOC) around the mark,
    /// cancels, mark moves of up to 8% (liquidations follow) and deposits.
    static func randomStep(
        _ run: inout Run, _ random: inout SeededRandom, mark: inout Int64, transferID: inout UInt64, step: Int,
        accounts: ClosedRange<UInt64>
    ) {
        let roll = random.next() % 100
        let account = accounts.randomElement(using: &random)!
        if roll < 6 {
            // A stop order: it waits in the state until the mark reaches it.
            let side: Side = random.next() % 2 == 0 ? .buy : .sell
            let distance = Int64(1 + random.next() % 40) * 1_000
            run.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: side, type: .stopMarket, timeInForce: .gtc, priceUnits: 0,
                        quantityUnits: Int64(1 + random.next() % 100),
                        stopPriceUnits: side == .buy ? mark + distance : mark - distance, workingType: .markPrice)))
        } else if roll < 70 {
            let offset = Int64(random.next() % 41) - 20
            run.run(
                .placeOrder(
                    PlaceOrder(
                        account: account, symbol: 0, side: random.next() % 2 == 0 ? .buy : .sell, type: .limit,
                        timeInForce: random.next() % 4 == 0 ? .ioc : .gtc, priceUnits: mark + offset * 10,
                        quantityUnits: Int64(1 + random.next() % 400))))
        } else if roll < 85 {
            run.run(.cancelOrder(CancelOrder(account: account, orderID: 1 + random.next() % UInt64(step + 1))))
        } else if roll < 95 {
            // Up to 8% either way, pulled back toward 50,000.
            let move = Int64(random.next() % 8_001) - 4_000 - (mark - 500_000) / 20
            mark = min(max(mark + mark * move / 100_000, 300_000), 700_000)
            run.run(.setMarkPrice(symbol: 0, priceUnits: mark))
        } else {
            transferID += 1
            run.run(.deposit(Transfer(transferID: transferID, account: account, asset: 0, amountMinor: 500_000_000)))
        }
    }

    /// A trade's income is read from the trade: with nothing evicted, each account's income
    /// is exactly what every event gave it, in the events' order (each trade side's PnL, then
    /// its commission), as when each was an income record of its own.
    @Test func incomeReadsAsEveryEventGaveIt() {
        var run = Run(limits: HistoryLimits())
        for command in E2EWorld.genesis { run.run(command) }
        let accounts = 1...10 as ClosedRange<UInt64>
        var reference: [AccountID: [String]] = [:]
        func note(_ account: AccountID, _ kind: IncomeRecord.Kind, _ amount: Int64) {
            if amount != 0 { reference[account, default: []].append("\(run.state.lastSequence)/\(kind)/\(amount)") }
        }
        func noteEvents() {
            for event in run.events {
                switch event {
                case .trade(let trade):
                    note(trade.makerAccount, .realizedPnl, trade.makerRealizedPnlMinor)
                    note(trade.makerAccount, .commission, -trade.makerFeeMinor)
                    note(trade.takerAccount, .realizedPnl, trade.takerRealizedPnlMinor)
                    note(trade.takerAccount, .commission, -trade.takerFeeMinor)
                case .insuranceTakeover(let account, _, _, _, _, let pnl, _): note(account, .realizedPnl, pnl)
                case .autoDeleveraged(let account, let counterparty, _, _, _, _, let pnl, let theirs):
                    note(account, .realizedPnl, pnl)
                    note(counterparty, .realizedPnl, theirs)
                case .liquidationSettled(let account, _, _, let fee, let surplus): note(account, .insuranceClear, -(fee + surplus))
                case .deposited(let account, _, let amount): note(account, .transfer, amount)
                case .withdrawn(let account, _, let amount): note(account, .transfer, -amount)
                case .fundingPaid(let account, _, let amount): note(account, .fundingFee, -amount)
                case .badDebtCovered(let account, _, let amount): note(account, .badDebtCovered, amount)
                default: break
                }
            }
        }
        for account in accounts {
            run.run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 4_000_000_000)))
            noteEvents()
        }
        var random = SeededRandom(seed: 34)
        var mark: Int64 = 500_000
        var transferID: UInt64 = 100
        var kinds = Set<IncomeRecord.Kind>()
        for step in 0..<2_000 {
            Self.randomStep(&run, &random, mark: &mark, transferID: &transferID, step: step, accounts: accounts)
            noteEvents()
        }
        for account in accounts {
            let income = run.history.income(of: account, symbols: run.state.symbols)
            kinds.formUnion(income.map(\.kind))
            #expect(
                income.map { "\($0.sequence)/\($0.kind)/\($0.amountMinor)" } == reference[account] ?? [],
                "account \(account)'s income differs from its events'")
        }
        // The mix gave every kind a trade gives and some a liquidation gives.
        #expect(kinds.isSuperset(of: [.transfer, .commission, .realizedPnl, .insuranceClear]), "\(kinds)")
    }

    /// The first difference between the lists and a filter of the rings, or nil.
    static func disagreement(_ history: RecentHistory, _ state: ExchangeState, accounts: ClosedRange<UInt64>) -> String? {
        func kept<Record>(_ ring: RecordRing<Record>) -> [Record] { (ring.first..<ring.end).compactMap { ring[$0] } }
        var withRecords = 0
        for account in accounts {
            let trades = kept(history.trades).filter { $0.trade.makerAccount == account || $0.trade.takerAccount == account }
            let income = kept(history.income).filter { $0.account == account }
            let closed = kept(history.closed).filter { $0.account == account }
            let force = kept(history.forceOrders).filter { $0.account == account }
            let open = history.open.values.filter { $0.account == account }.map(\.orderID).sorted()
            if history.trades(of: account).map(\.trade.tradeID) != trades.map(\.trade.tradeID) {
                return
                    "account \(account)'s trades \(history.trades(of: account).map(\.trade.tradeID)), ring \(trades.map(\.trade.tradeID))"
            }
            // The ring's income records and, from each trade kept, each of the account's sides'
            // PnL then commission (when not 0), by their events.
            var expected = income.map { ($0.sequence, $0.line, 0, "\($0.sequence)/\($0.kind)/\($0.amountMinor)") }
            for record in trades {
                let trade = record.trade
                for (side, pnl, fee) in [
                    (trade.makerAccount, trade.makerRealizedPnlMinor, trade.makerFeeMinor),
                    (trade.takerAccount, trade.takerRealizedPnlMinor, trade.takerFeeMinor),
                ] where side == account {
                    for (kind, amount) in [(IncomeRecord.Kind.realizedPnl, pnl), (.commission, -fee)] where amount != 0 {
                        expected.append((record.sequence, record.line, expected.count, "\(record.sequence)/\(kind)/\(amount)"))
                    }
                }
            }
            expected.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
            let incomeKeys = history.income(of: account, symbols: state.symbols).map { "\($0.sequence)/\($0.kind)/\($0.amountMinor)" }
            if incomeKeys != expected.map(\.3) {
                return "account \(account)'s income \(incomeKeys), kept \(expected.map(\.3))"
            }
            let orderIDs = history.orders(of: account, in: state).map(\.orderID)
            if orderIDs != (closed.map(\.orderID) + open).sorted() {
                return "account \(account)'s orders \(orderIDs), ring \(closed.map(\.orderID)) and open \(open)"
            }
            if history.openOrders(of: account, in: state).map(\.orderID) != open {
                return "account \(account)'s open orders \(history.openOrders(of: account, in: state).map(\.orderID)), open \(open)"
            }
            let forceKeys = { (records: [OrderRecord]) in records.map { "\($0.orderID)@\($0.sequence)" } }
            if forceKeys(history.forceOrders(of: account)) != forceKeys(force) {
                return "account \(account)'s force orders \(forceKeys(history.forceOrders(of: account))), ring \(forceKeys(force))"
            }
            for record in closed where history.order(record.orderID)?.sequence != record.sequence {
                return "closed order \(record.orderID) is not found by its id"
            }
            if !(trades.isEmpty && income.isEmpty && closed.isEmpty && force.isEmpty) { withRecords += 1 }
        }
        let liquidationIDs = Set(kept(history.forceOrders).filter { $0.autoClose == .liquidation }.map(\.orderID))
        // The closed orders' index: the kept closes before its end, none after.
        let closedIndexed = Set(
            (history.closed.first..<max(history.closed.first, min(history.closedIndexedEnd, history.closed.end))).map {
                history.closed[kept: $0].orderID
            })
        if history.idsIndexed != (closedIndexed.count, liquidationIDs.count) {
            return
                "ids indexed \(history.idsIndexed), kept \(closedIndexed.count) closed orders indexed (through position \(history.closedIndexedEnd)) and \(liquidationIDs.count) liquidation orders"
        }
        if history.accountsKept != withRecords { return "\(history.accountsKept) account slots kept, \(withRecords) accounts have records" }
        return history.slotsDisagreement
    }
}

/// The demo's USDT and BTCUSDT at a mark of 50,000.0.
enum E2EWorld {
    static let genesis: [Command] = Array(DemoExchange.listings.prefix(2)) + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]
}
