import LedgerClient
import Testing

@testable import LedgerCore

/// Each room of the engine (docs/ARCHITECTURE.md) on its own, without the coordinator:
/// what it keeps, what it refuses, and the violations its consistency check names.
@Suite struct BookRoomTests {
    /// Two symbols' books with their names, as the coordinator lists them.
    static let symbols: ContiguousArray<SymbolSpec> = ContiguousArray(
        TestExchange.genesis.compactMap { if case .listSymbol(let spec) = $0 { spec } else { nil } })

    static func books() -> BookRoom {
        var books = BookRoom()
        books.listSymbol()
        books.listSymbol()
        return books
    }

    static func order(_ id: OrderID, account: UInt32, _ side: Side, price: Int64, quantity: Int64, client: Bool = false)
        -> RestingOrder
    {
        RestingOrder(
            orderID: id, accountIndex: account, side: side, priceUnits: price, openQuantityUnits: quantity, hasClientOrderID: client)
    }

    @Test func restLocateAndRemove() throws {
        var books = Self.books()
        var lasts = AccountLasts()
        for id: OrderID in 1...3 { books.takeOrderID(id) }
        lasts.rest(&books, Self.order(1, account: 0, .buy, price: 100, quantity: 5), symbol: 0, clientOrderID: .none)
        lasts.rest(
            &books, Self.order(2, account: 1, .sell, price: 110, quantity: 7, client: true), symbol: 0, clientOrderID: ClientOrderID(42))
        lasts.rest(&books, Self.order(3, account: 0, .sell, price: 2_000, quantity: 1), symbol: 1, clientOrderID: .none)
        #expect(books.restingOrderCount == 3)
        #expect(lasts.violation(books, Self.symbols) == nil)
        let found = try #require(books.openOrder(2))
        #expect(found.symbol == 0 && found.order.priceUnits == 110 && found.order.openQuantityUnits == 7)
        #expect(books.clientOrderID(of: found.order) == ClientOrderID(42))
        #expect(books.isOpen(3))
        // Account 0's orders by symbol, then priority.
        #expect(books.openOrders(of: lasts.positions[0]!).map(\.order.orderID) == [1, 3])

        let removed = lasts.removeResting(&books, 2)
        #expect(removed.symbol == 0 && removed.order.orderID == 2 && removed.clientOrderID == ClientOrderID(42))
        #expect(books.openOrder(2) == nil && !books.isOpen(2))
        #expect(books.restingClientOrderIDs[2] == nil)
        #expect(books.restingOrderCount == 2)
        #expect(books.bySymbol[0].bestPrice(.sell) == nil)
        #expect(lasts.violation(books, Self.symbols) == nil)
    }

    @Test func anAccountsOrdersComeInBookPriorityFromItsLinks() {
        var books = Self.books()
        var lasts = AccountLasts()
        // Account 7 rests at 99, then at 100, then at 99 again, among others' orders: its
        // links hold them in that order, the book's priority is 100 first, then 99 in the
        // level's order.
        let orders = [
            Self.order(1, account: 7, .buy, price: 99, quantity: 3), Self.order(2, account: 8, .buy, price: 100, quantity: 4),
            Self.order(3, account: 7, .buy, price: 100, quantity: 5), Self.order(4, account: 9, .buy, price: 99, quantity: 1),
            Self.order(5, account: 7, .buy, price: 99, quantity: 2), Self.order(6, account: 7, .sell, price: 120, quantity: 2),
        ]
        for order in orders {
            books.takeOrderID(order.orderID)
            lasts.rest(&books, order, symbol: 0, clientOrderID: .none)
        }
        #expect(lasts.orders(books, symbol: 0, .buy, of: 7).map(\.orderID) == [3, 1, 5])
        #expect(lasts.orders(books, symbol: 0, .sell, of: 7).map(\.orderID) == [6])
        #expect(lasts.orders(books, symbol: 0, .buy, of: 8).map(\.orderID) == [2])
        #expect(lasts.orders(books, symbol: 0, .sell, of: 8).isEmpty)
        #expect(lasts.orders(books, symbol: 1, .buy, of: 7).isEmpty)
        #expect(lasts.violation(books, Self.symbols) == nil)
        // The middle, the head and the tail leave; a fill that closes an order too.
        _ = lasts.removeResting(&books, 1)
        #expect(lasts.orders(books, symbol: 0, .buy, of: 7).map(\.orderID) == [3, 5])
        _ = lasts.removeResting(&books, 3)
        #expect(lasts.orders(books, symbol: 0, .buy, of: 7).map(\.orderID) == [5])
        #expect(lasts.fill(&books, 5, by: 2).closed)
        #expect(lasts.orders(books, symbol: 0, .buy, of: 7).isEmpty)
        #expect(lasts.violation(books, Self.symbols) == nil)
    }

    /// The sweep names an account whose last order is named wrongly, and a last named for
    /// an account with no order on that side.
    @Test func theSweepNamesBrokenAccountLinks() {
        var books = Self.books()
        var lasts = AccountLasts()
        for id: OrderID in 1...2 { books.takeOrderID(id) }
        lasts.rest(&books, Self.order(1, account: 7, .buy, price: 99, quantity: 3), symbol: 0, clientOrderID: .none)
        lasts.rest(&books, Self.order(2, account: 7, .buy, price: 98, quantity: 3), symbol: 0, clientOrderID: .none)
        #expect(lasts.violation(books, Self.symbols) == nil)
        let name = Self.symbols[0].name
        var lost = lasts
        lost.set(7, 0, .buy, OrderBook.none)
        #expect(
            lost.violation(books, Self.symbols)
                == "book \(name): resting order 2 ends account 7's orders on the buy side, whose last is named as slot -1")
        var first = lasts
        first.set(7, 0, .buy, 0)
        #expect(
            first.violation(books, Self.symbols)
                == "book \(name): resting order 2 ends account 7's orders on the buy side, whose last is named as slot 0")
        var extra = lasts
        extra.set(8, 0, .sell, 1)
        #expect(extra.violation(books, Self.symbols) == "book \(name): 2 accounts' last orders named, 1 accounts' orders resting")
    }

    /// An account's orders read from its links are the walk of the whole side filtered to
    /// the account, over random rests, fills, cancels and re-rests (an amend's new place at
    /// the back of its level), and the sweep finds nothing amiss.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func theLinksAgreeWithTheWalk(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var books = Self.books()
        var lasts = AccountLasts()
        var open: [OrderID] = []
        var most = 0
        for step in 0..<6_000 {
            let choice = Int.random(in: 0..<10, using: &random)
            if open.count < 20 || choice < 5 {
                let id = books.nextOrderID
                books.takeOrderID(id)
                let side: Side = Bool.random(using: &random) ? .buy : .sell
                // Bids at 90 ... 99, asks at 100 ... 109: the book never crosses.
                let price = (side == .buy ? 90 : 100) + Int64.random(in: 0..<10, using: &random)
                lasts.rest(
                    &books,
                    Self.order(
                        id, account: UInt32.random(in: 0..<6, using: &random), side, price: price,
                        quantity: Int64.random(in: 1...5, using: &random)),
                    symbol: 0, clientOrderID: .none)
                open.append(id)
            } else {
                let id = open.remove(at: Int.random(in: 0..<open.count, using: &random))
                switch choice {
                case 5, 6: _ = lasts.removeResting(&books, id)
                case 7, 8:
                    let quantity = books.openOrder(id)!.order.openQuantityUnits
                    if !lasts.fill(&books, id, by: Int64.random(in: 1...quantity, using: &random)).closed { open.append(id) }
                default:
                    // Out and back in at the back of its level, as an amend does.
                    var (symbol, order, _) = lasts.removeResting(&books, id)
                    order.priceUnits += order.side == .buy ? (order.priceUnits > 90 ? -1 : 1) : (order.priceUnits < 109 ? 1 : -1)
                    lasts.rest(&books, order, symbol: symbol, clientOrderID: .none)
                    open.append(id)
                }
            }
            if step % 50 == 0 {
                for side in Side.allCases {
                    let whole = books.bySymbol[0].orders(side)
                    for account: UInt32 in 0..<6 {
                        let linked = lasts.orders(books, symbol: 0, side, of: account).map(\.orderID)
                        most = max(most, linked.count)
                        let walked = whole.filter { $0.accountIndex == account }.map(\.orderID)
                        if linked != walked {
                            Issue.record("seed \(seed), step \(step), account \(account) \(side): \(linked) != \(walked)")
                            return
                        }
                        // What a cancel copies, after what the list already holds: the
                        // same orders in the same order, with their prices and quantities.
                        var copied = ScratchList<RestingOrder>()
                        copied.append(
                            RestingOrder(
                                orderID: 0, accountIndex: 99, side: side, priceUnits: 1_000, openQuantityUnits: 1,
                                hasClientOrderID: false))
                        books.bySymbol[0].appendOrders(side, endingAt: lasts.last(account, 0, side), to: &copied)
                        let expected =
                            [(0, 1_000, 1)]
                            + whole.filter { $0.accountIndex == account }.map {
                                (Int($0.orderID), Int($0.priceUnits), Int($0.openQuantityUnits))
                            }
                        let got = copied.map { (Int($0.orderID), Int($0.priceUnits), Int($0.openQuantityUnits)) }
                        if !got.elementsEqual(expected, by: ==) {
                            Issue.record("seed \(seed), step \(step), account \(account) \(side): copied \(got) != \(expected)")
                            return
                        }
                    }
                }
                if let violation = lasts.violation(books, Self.symbols) {
                    Issue.record("seed \(seed), step \(step): \(violation)")
                    return
                }
            }
        }
        // Both sorts ran: an account's few orders sorted in place, and more than 32.
        #expect(most > 32, "seed \(seed): at most \(most) orders of one account on a side")
    }

    /// `meetsBest` decides whether an order walks the book at all (issue 12, seventeenth
    /// steps): a limit order meets the other side's best order when its price is within the
    /// limit, inclusive; a market order meets any; an empty side meets none.
    @Test func anOrderMeetsTheBestOrderOnlyWithinItsLimit() {
        var books = Self.books()
        var lasts = AccountLasts()
        for id: OrderID in 1...3 { books.takeOrderID(id) }
        lasts.rest(&books, Self.order(1, account: 0, .sell, price: 110, quantity: 5), symbol: 0, clientOrderID: .none)
        lasts.rest(&books, Self.order(2, account: 0, .sell, price: 120, quantity: 5), symbol: 0, clientOrderID: .none)
        lasts.rest(&books, Self.order(3, account: 1, .buy, price: 100, quantity: 5), symbol: 0, clientOrderID: .none)
        func order(_ side: Side, _ type: OrderType = .limit, price: Int64, symbol: SymbolID = 0) -> PlaceOrder {
            PlaceOrder(
                account: 9, symbol: symbol, side: side, type: type, timeInForce: type == .market ? .ioc : .gtc,
                priceUnits: type == .market ? 0 : price, quantityUnits: 1)
        }
        #expect(!books.meetsBest(order(.buy, price: 109)))
        #expect(books.meetsBest(order(.buy, price: 110)) && books.meetsBest(order(.buy, price: 1_000)))
        #expect(!books.meetsBest(order(.sell, price: 101)))
        #expect(books.meetsBest(order(.sell, price: 100)) && books.meetsBest(order(.sell, price: 1)))
        #expect(books.meetsBest(order(.buy, .market, price: 0)) && books.meetsBest(order(.sell, .market, price: 0)))
        // Symbol 1's book is empty on both sides.
        #expect(!books.meetsBest(order(.buy, .market, price: 0, symbol: 1)) && !books.meetsBest(order(.sell, price: 1, symbol: 1)))
        // The best ask gone, the next one decides.
        _ = lasts.removeResting(&books, 1)
        #expect(!books.meetsBest(order(.buy, price: 119)) && books.meetsBest(order(.buy, price: 120)))
    }

    @Test func fillsLeaveOrCloseAnOrder() throws {
        var books = Self.books()
        var lasts = AccountLasts()
        books.takeOrderID(1)
        let maker = Self.order(1, account: 3, .sell, price: 100, quantity: 10, client: true)
        lasts.rest(&books, maker, symbol: 0, clientOrderID: ClientOrderID(9))
        #expect(books.orderLocations[1] != nil)
        let closedEarly = lasts.fill(&books, 1, by: 4).closed
        #expect(!closedEarly)
        #expect(books.openOrder(1)?.order.openQuantityUnits == 6)
        #expect(books.restingClientOrderIDs[1] == ClientOrderID(9))
        let (filled, closed) = lasts.fill(&books, 1, by: 6)
        #expect(filled.openQuantityUnits == 6)
        #expect(closed)
        #expect(books.openOrder(1) == nil)
        #expect(books.restingClientOrderIDs[1] == nil)
        #expect(books.bySymbol[0].orderCount == 0)
        #expect(lasts.violation(books, Self.symbols) == nil)
    }

    @Test func conditionalOrdersByIdAndSymbol() {
        var books = Self.books()
        var lasts = AccountLasts()
        func conditional(_ id: OrderID, symbol: SymbolID) -> ConditionalOrder {
            ConditionalOrder(
                orderID: id, accountIndex: 0,
                order: PlaceOrder(
                    account: 1, symbol: symbol, side: .sell, type: .stopMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 1),
                joinedTrailingExtremeUnits: 0)
        }
        for id: OrderID in 1...4 { books.takeOrderID(id) }
        books.addConditional(conditional(1, symbol: 1))
        books.addConditional(conditional(2, symbol: 0))
        books.addConditional(conditional(4, symbol: 1))
        #expect(books.conditionalBySymbol[1].map(\.orderID) == [1, 4])
        #expect(books.isOpen(4) && !books.isOpen(3))
        #expect(lasts.violation(books, Self.symbols) == nil)
        #expect(books.removeConditional(4).orderID == 4)
        #expect(books.conditionalBySymbol[1].map(\.orderID) == [1])
        #expect(books.conditionalBySymbol[1].position(of: 1) == books.conditionalBySymbol[1].startIndex)
        #expect(books.conditionalBySymbol[1].position(of: 4) == nil && books.waitingConditional(1)?.orderID == 1)

        var swapped = books
        swapped.addConditional(conditional(5, symbol: 1))
        let first = swapped.conditionalBySymbol[1].startIndex
        swapped.conditionalBySymbol[1].swapAt(first, swapped.conditionalBySymbol[1].index(after: first))
        #expect(lasts.violation(swapped, Self.symbols) == "conditional orders of ETHUSDT are not in id order at 1")
        var lost = books
        lost.conditionalLocations[1] = 0
        #expect(lasts.violation(lost, Self.symbols) == "conditional order 1 is not where its location says")
    }

    @Test func consistencyNamesTheOrderOutOfPlace() {
        var books = Self.books()
        var lasts = AccountLasts()
        for id: OrderID in 1...2 { books.takeOrderID(id) }
        lasts.rest(&books, Self.order(1, account: 0, .buy, price: 100, quantity: 5), symbol: 1, clientOrderID: .none)
        lasts.rest(&books, Self.order(2, account: 0, .buy, price: 99, quantity: 5), symbol: 1, clientOrderID: .none)
        var moved = books
        moved.orderLocations[2] = OrderLocation(symbol: 0, slot: 1)
        #expect(lasts.violation(moved, Self.symbols) == "resting order 2 of ETHUSDT is not where its location says")
        var extra = books
        extra.orderLocations[7] = OrderLocation(symbol: 1, slot: 0)
        #expect(lasts.violation(extra, Self.symbols) == "2 orders in the books, 3 located")
        var ahead = books
        ahead.nextOrderID = 2
        #expect(lasts.violation(ahead, Self.symbols) == "resting order 2 is at or past the next id 2")
        var unnamed = books
        unnamed.restingClientOrderIDs[1] = ClientOrderID(5)
        #expect(lasts.violation(unnamed, Self.symbols) == "resting order 1's client order id is not recorded as it says")
    }
}

@Suite struct LedgerRoomTests {
    static func ledger() -> LedgerRoom {
        var ledger = LedgerRoom()
        ledger.listAsset()
        ledger.listAsset()
        ledger.listSymbol()
        return ledger
    }

    @Test func accountsOpenInOrderOfFirstSight() {
        var ledger = Self.ledger()
        #expect(ledger.open(900) == 0)
        #expect(ledger.open(7) == 1)
        #expect(ledger.open(900) == 0)
        #expect(ledger.accounts.map(\.id) == [900, 7])
        #expect(ledger.accountIndexByID[7] == 1)
    }

    @Test func everyEntryMustBalance() {
        var ledger = Self.ledger()
        let user = ledger.open(5)
        ledger.credit(.user(user), asset: 1, amountMinor: 250)
        ledger.credit(.system(.external), asset: 1, amountMinor: -250)
        #expect(ledger.entryViolation(sequence: 3) == nil)
        #expect(ledger.accounts[user].balance(1) == 250)
        #expect(ledger.systemBalance(.external, asset: 1) == -250)
        // A credit without its other side.
        var unpaired = ledger
        unpaired.credit(.user(user), asset: 1, amountMinor: 1)
        #expect(unpaired.entryViolation(sequence: 4) == "entry 4 does not balance in asset 1")
        // Position cost not mirrored by PnL clearing.
        var unmirrored = ledger
        unmirrored.positionCostTotalMinor[0] = 10
        #expect(unmirrored.entryViolation(sequence: 5) == "entry 5: PnL clearing does not mirror open positions in asset 0")
    }

    @Test func openInterestAndHolders() {
        var ledger = Self.ledger()
        let long = ledger.open(1)
        let short = ledger.open(2)
        ledger.moveOpenInterest(0, from: 0, to: 5)
        #expect(ledger.entryViolation(sequence: 9) == "entry 9: open interest of symbol 0 is not long = short")
        ledger.moveOpenInterest(0, from: 0, to: -5)
        #expect(ledger.entryViolation(sequence: 9) == nil)
        #expect(ledger.openInterest[0].longUnits == 5 && ledger.openInterest[0].shortUnits == 5)

        var longPosition = Position()
        longPosition.sizeQuantityUnits = 5
        var shortPosition = Position()
        shortPosition.sizeQuantityUnits = -5
        ledger.noteHolding(long, symbol: 0, longPosition)
        ledger.noteHolding(short, symbol: 0, shortPosition)
        // Closing a long (selling) meets the shorts; closing a short meets the rest.
        #expect(ledger.firstHolder(0, atOrAfter: 0, meeting: .sell) == short)
        #expect(ledger.firstHolder(0, atOrAfter: 0, meeting: .buy) == long)
        #expect(ledger.firstHolder(0, atOrAfter: long + 1, meeting: .buy) == nil)
        // A closed position that still owes a settlement stays a holder, not a short.
        var owing = Position()
        owing.fundingFrozen = true
        owing.fundingFrozenSizeQuantityUnits = -5
        ledger.noteHolding(short, symbol: 0, owing)
        #expect(ledger.holders[0].contains(short) && !ledger.shortHolders[0].contains(short))
        ledger.noteHolding(short, symbol: 0, Position())
        #expect(!ledger.holders[0].contains(short))
    }

    /// A trade's postings made in one change of each balance (`postTrade`, issue 12,
    /// sixteenth steps) leave every balance, every account's assets and the entry's net
    /// where the postings made one by one leave them (`Event.forEachPosting`'s order: the
    /// maker's PnL, its fee, then the taker's), over random trades with zeros, losses,
    /// rebates and accounts that meet the asset for the first time. A trade's two sides
    /// move open interest in one change as they do one after the other.
    @Test func aTradesPostingsInOneChangeEndWhereThePostingsOneByOneDo() {
        var random = SeededRandom(seed: 12)
        var once = Self.ledger()
        for id in 1...6 as ClosedRange<UInt64> { _ = once.open(id) }
        var oneByOne = once
        func amount() -> Int64 {
            switch random.next() % 4 {
            case 0: 0
            case 1: Int64(random.next() % 1_000_000_000) - 500_000_000
            case 2: Int64(random.next() % 100) - 20
            default: Int64(bitPattern: random.next()) >> 16
            }
        }
        for _ in 0..<2_000 {
            let asset = AssetID(random.next() % 2)
            let maker = Int(random.next() % 6)
            let taker = (maker + 1 + Int(random.next() % 5)) % 6
            let sides = [(maker, amount(), amount() / 64), (taker, amount(), amount() / 64)]
            once.postTrade(asset: asset, maker: sides[0], taker: sides[1])
            for (index, pnl, fee) in sides {
                if pnl != 0 {
                    oneByOne.credit(.user(index), asset: asset, amountMinor: pnl)
                    oneByOne.credit(.system(.pnlClearing), asset: asset, amountMinor: -pnl)
                }
                if fee != 0 {
                    oneByOne.credit(.user(index), asset: asset, amountMinor: -fee)
                    oneByOne.credit(.system(.fees), asset: asset, amountMinor: fee)
                }
            }
            let sizes = (0..<4).map { _ in Int64(random.next() % 201) - 100 }
            once.moveOpenInterest(0, (sizes[0], sizes[1]), (sizes[2], sizes[3]))
            oneByOne.moveOpenInterest(0, from: sizes[0], to: sizes[1])
            oneByOne.moveOpenInterest(0, from: sizes[2], to: sizes[3])
        }
        #expect(once.accounts == oneByOne.accounts)
        #expect(once.accounts.map(\.balanceCount) == oneByOne.accounts.map(\.balanceCount))
        #expect(once.systemBalancesMinor == oneByOne.systemBalancesMinor)
        #expect(once.entryNetMinor == oneByOne.entryNetMinor)
        #expect(once.openInterest == oneByOne.openInterest)
        #expect(once.unbalancedOpenInterest == oneByOne.unbalancedOpenInterest)
        // The trades moved money: the comparison is not between two untouched ledgers.
        #expect(once.systemBalance(.fees, asset: 0) != 0 && once.systemBalance(.pnlClearing, asset: 1) != 0)
        #expect(once.accounts.allSatisfy { $0.balanceCount == 2 })
    }
}

@Suite struct IdempotencyRoomTests {
    static let second: Int64 = 1_000_000_000

    static func transfer(_ id: TransferID) -> TransferRecord {
        TransferRecord(sequence: id, kind: .deposit, transfer: Transfer(transferID: id, account: 1, asset: 0, amountMinor: 1))
    }

    @Test func transfersLeaveTheWindowByTimeThenByCount() {
        var room = IdempotencyRoom()
        room.window = IdempotencyWindow(transferSeconds: 10, clientOrderSeconds: 10, maxRecords: 2)
        let books = BookRoom()
        room.rememberTransfer(Self.transfer(1), timeNanos: 0)
        room.rememberTransfer(Self.transfer(2), timeNanos: 5 * Self.second)
        room.expire(now: 10 * Self.second, budget: .max, bounded: false, books: books)
        #expect(room.transfer(1) != nil)
        room.expire(now: 10 * Self.second + 1, budget: .max, bounded: false, books: books)
        #expect(room.transfer(1) == nil && room.transfer(2)?.sequence == 2)
        // Beyond the maximum the oldest goes, whatever its age; at most `budget` a call.
        room.rememberTransfer(Self.transfer(3), timeNanos: 11 * Self.second)
        room.rememberTransfer(Self.transfer(4), timeNanos: 11 * Self.second)
        room.rememberTransfer(Self.transfer(5), timeNanos: 11 * Self.second)
        room.expire(now: 11 * Self.second, budget: 1, bounded: false, books: books)
        #expect(room.transfer(2) == nil && room.transfer(3) != nil)
        room.expire(now: 11 * Self.second, budget: 1, bounded: false, books: books)
        #expect(room.transfer(3) == nil && room.transfer(4) != nil && room.transfer(5) != nil)
        #expect(room.consistencyViolation() == nil)
    }

    /// `dueCheckNanos` lets an entry skip both queues (issue 12). Over random appends (in
    /// time order and not), expiries with small budgets, bounded and not, and new windows,
    /// the room that skips forgets exactly what a room that looks at its queues before
    /// every entry forgets, and the time it keeps is never after a record is due.
    @Test func theDueTimeKeptHidesNoRecordThatIsDue() {
        var random = SeededRandom(seed: 12)
        var books = BookRoom()
        books.listSymbol()
        var lasts = AccountLasts()
        // Order ids 1 … 4 rest (their client ids stay while open), the others never do.
        for id: OrderID in 1...4 {
            books.takeOrderID(id)
            lasts.rest(
                &books, BookRoomTests.order(id, account: 0, .buy, price: 1 + Int64(id), quantity: 1, client: true), symbol: 0,
                clientOrderID: ClientOrderID(id))
        }
        var room = IdempotencyRoom()
        room.window = IdempotencyWindow(transferSeconds: 3, clientOrderSeconds: 2, maxRecords: 12)
        var reference = room
        var now: Int64 = 0
        var skipped = 0
        var due = 0
        for step in 0..<5_000 {
            now += Int64.random(in: -Self.second / 4...Self.second, using: &random)
            switch Int.random(in: 0..<10, using: &random) {
            case 0...2:
                let record = Self.transfer(TransferID(step + 1))
                room.rememberTransfer(record, timeNanos: now)
                reference.rememberTransfer(record, timeNanos: now)
            case 3...5:
                let key = ClientOrderKey(accountIndex: 0, clientOrderID: ClientOrderID(UInt64(step + 1)))
                let orderID = OrderID.random(in: 1...1_000, using: &random)
                room.rememberClientOrder(key, orderID: orderID, timeNanos: now)
                reference.rememberClientOrder(key, orderID: orderID, timeNanos: now)
            case 6:
                if Int.random(in: 0..<40, using: &random) == 0 {
                    let window = IdempotencyWindow(
                        transferSeconds: Int64.random(in: 1...4, using: &random),
                        clientOrderSeconds: Int64.random(in: 1...4, using: &random),
                        maxRecords: Int64.random(in: 4...16, using: &random))
                    room.window = window
                    reference.window = window
                }
            default:
                let budget = Int.random(in: 1...3, using: &random)
                let bounded = Bool.random(using: &random)
                if now < room.dueCheckNanos {
                    skipped += 1
                    #expect(!room.hasDue(now: now), "step \(step): a record is due at \(now) before \(room.dueCheckNanos)")
                }
                if room.hasDue(now: now) { due += 1 }
                room.expire(now: now, budget: budget, bounded: bounded, books: books)
                reference.dueCheckNanos = .min
                reference.expire(now: now, budget: budget, bounded: bounded, books: books)
            }
            #expect(room.dueCheckNanos <= room.nextDueNanos(), "step \(step): kept \(room.dueCheckNanos), due \(room.nextDueNanos())")
            #expect(room.transferQueue == reference.transferQueue && room.clientOrderQueue == reference.clientOrderQueue, "step \(step)")
        }
        #expect(room.consistencyViolation() == nil)
        // Both ways were taken (skipped, and records forgotten), and the rooms still
        // remember ids: the walk was not empty.
        #expect(skipped > 100 && due > 100, "skipped \(skipped), due \(due)")
        #expect(room.clientOrderQueue.count + room.transferQueue.count > 0)
    }

    @Test func aClientOrderIDStaysWhileItsOrderIsOpen() {
        var room = IdempotencyRoom()
        room.window = IdempotencyWindow(transferSeconds: 10, clientOrderSeconds: 10, maxRecords: 100)
        var books = BookRoom()
        var lasts = AccountLasts()
        books.listSymbol()
        for id: OrderID in 1...2 { books.takeOrderID(id) }
        lasts.rest(&books, BookRoomTests.order(1, account: 0, .buy, price: 1, quantity: 1, client: true), symbol: 0, clientOrderID: 11)
        let open = ClientOrderKey(accountIndex: 0, clientOrderID: 11)
        let closed = ClientOrderKey(accountIndex: 0, clientOrderID: 12)
        room.rememberClientOrder(open, orderID: 1, timeNanos: 0)
        room.rememberClientOrder(closed, orderID: 2, timeNanos: 0)
        room.expire(now: 20 * Self.second, budget: .max, bounded: false, books: books)
        #expect(room.orderID(open) == 1)
        #expect(room.orderID(closed) == nil)
        // Re-queued at the time it was looked at: it stays until the window passes again.
        #expect(room.clientOrderQueue.first?.timeNanos == 20 * Self.second)
        _ = lasts.removeResting(&books, 1)
        room.expire(now: 30 * Self.second, budget: .max, bounded: false, books: books)
        #expect(room.orderID(open) == 1)
        room.expire(now: 30 * Self.second + 1, budget: .max, bounded: false, books: books)
        #expect(room.orderID(open) == nil)
        #expect(room.consistencyViolation() == nil)

        var broken = room
        broken.rememberTransfer(Self.transfer(8), timeNanos: 0)
        broken.transferQueue.removeFirst()
        #expect(broken.consistencyViolation() == "idempotency queues (0, 0) differ from their tables")
    }
}

@Suite struct FundingRoomTests {
    static let hour: Int64 = 3_600 * 1_000_000_000

    @Test func scheduleFollowsListingsAndSettlements() {
        var funding = FundingRoom()
        funding.listSymbol(timeNanos: 90 * 60 * 1_000_000_000, intervalSeconds: 8 * 3_600)
        funding.listSymbol(timeNanos: 0, intervalSeconds: 0)
        funding.listSymbol(timeNanos: 5 * Self.hour, intervalSeconds: 3_600)
        #expect(funding.bySymbol.map(\.nextFundingTimeNanos) == [8 * Self.hour, 0, 6 * Self.hour])
        #expect(funding.earliestFundingDueNanos == 6 * Self.hour)
        #expect(funding.nextFundingTimeNanos == 6 * Self.hour)

        // Under the bounded rules a settlement opens: its symbol leaves the schedule.
        funding.settled(
            2, rateE8: 10_000, markPriceUnits: 500, timeNanos: 6 * Self.hour, intervalSeconds: 3_600, bounded: true,
            fundSizeQuantityUnits: -3)
        #expect(funding.bySymbol[2].fundingEpoch == 1)
        #expect(funding.bySymbol[2].fundingSettlement?.fundSizeQuantityUnits == -3)
        #expect(funding.bySymbol[2].nextFundingTimeNanos == 7 * Self.hour)
        #expect(funding.fundingSettlementsOpen == 1 && funding.earliestFundingDueNanos == 8 * Self.hour)

        var position = Position()
        position.sizeQuantityUnits = 2
        #expect(funding.owes(position, symbol: 2))
        position.fundingEpoch = 1
        #expect(!funding.owes(position, symbol: 2))
        #expect(!funding.owes(Position(), symbol: 2))
        #expect(funding.consistencyViolation(bounded: true, accountCount: 0, BookRoomTests.symbols + BookRoomTests.symbols) == nil)

        funding.completed(2, positions: 0)
        #expect(funding.fundingSettlementsOpen == 0 && funding.earliestFundingDueNanos == 7 * Self.hour)
        var stale = funding
        stale.earliestFundingDueNanos = 1
        #expect(
            stale.consistencyViolation(bounded: true, accountCount: 0, BookRoomTests.symbols + BookRoomTests.symbols)
                == "the funding schedule says 1 with 0 settlements open; the symbols say \(7 * Self.hour) with 0")
    }

    @Test func theOraclesRateWinsOverThePremium() throws {
        let spec = BookRoomTests.symbols[0]
        var funding = FundingRoom()
        funding.listSymbol(timeNanos: 0, intervalSeconds: 8 * 3_600)
        funding.bySymbol[0].premiumSampleSumE8 = 3 * 20_000
        funding.bySymbol[0].premiumSampleCount = 3
        #expect(
            funding.rateE8(0, spec)
                == FundingRoom.premiumFundingRateE8(
                    premiumSumE8: 60_000, samples: 3, interestE8: spec.fundingInterestRateE8, clampE8: spec.fundingClampRateE8,
                    capE8: spec.fundingCapRateE8))
        funding.bySymbol[0].fundingRateOverrideE8 = -7
        #expect(funding.rateE8(0, spec) == -7)
        funding.settled(
            0, rateE8: -7, markPriceUnits: 1, timeNanos: 8 * Self.hour, intervalSeconds: 8 * 3_600, bounded: false, fundSizeQuantityUnits: 0
        )
        #expect(funding.bySymbol[0].fundingRateOverrideE8 == nil && funding.bySymbol[0].premiumSampleCount == 0)
        #expect(funding.bySymbol[0].lastFundingRateE8 == -7 && funding.bySymbol[0].fundingSettlement == nil)
    }
}

@Suite struct RiskRoomTests {
    @Test func deleveragingsShrinkAndTakeTheirRankingsAlong() {
        var risk = RiskRoom()
        risk.deleveragingContinues(
            Deleveraging(accountIndex: 4, symbol: 0, side: .sell, bankruptcyPriceUnits: 90, remainingQuantityUnits: 10))
        risk.deleveragingContinues(
            Deleveraging(accountIndex: 6, symbol: 1, side: .buy, bankruptcyPriceUnits: 20, remainingQuantityUnits: 3))
        risk.adlRankings.append(AdlRanking(symbol: 0, side: .sell))
        risk.adlRankings.append(AdlRanking(symbol: 1, side: .buy))
        #expect(risk.adlRankingIndex(symbol: 1, side: .buy) == 1)
        #expect(risk.adlRankingIndex(symbol: 1, side: .sell) == nil)

        risk.deleveraged(4, 0, 4)
        #expect(risk.deleveragings.first?.remainingQuantityUnits == 6)
        // Another account's fill in the symbol changes nothing.
        risk.deleveraged(5, 0, 6)
        #expect(risk.deleveragings.count == 2)
        risk.deleveraged(4, 0, 6)
        #expect(risk.deleveragings.map(\.accountIndex) == [6])
        #expect(risk.adlRankings.map(\.symbol) == [1])
        // A continuation with nothing left ends it.
        risk.deleveragingContinues(
            Deleveraging(accountIndex: 6, symbol: 1, side: .buy, bankruptcyPriceUnits: 20, remainingQuantityUnits: 0))
        #expect(risk.deleveragings.isEmpty && risk.adlRankings.isEmpty)
    }
}

/// The accounts' position slots beside a books room tested alone: the coordinator's part
/// of the account links, each account's last resting order on a side of a symbol
/// (`PositionTable.Slot.lastBidSlot`), passed to the room and set from its answers as
/// `ExchangeState+Apply` does.
struct AccountLasts {
    var positions: [UInt32: PositionTable] = [:]

    func last(_ account: UInt32, _ symbol: SymbolID, _ side: Side) -> Int32 {
        positions[account]?.lastOrderSlot(symbol, side) ?? OrderBook.none
    }

    mutating func set(_ account: UInt32, _ symbol: SymbolID, _ side: Side, _ last: Int32) {
        guard last != OrderBook.unchanged else { return }
        positions[account, default: PositionTable()].setLastOrderSlot(symbol, side, last)
    }

    mutating func rest(_ books: inout BookRoom, _ order: RestingOrder, symbol: SymbolID, clientOrderID: ClientOrderID) {
        let slot = books.rest(
            order, symbol: symbol, clientOrderID: clientOrderID, accountLast: last(order.accountIndex, symbol, order.side))
        set(order.accountIndex, symbol, order.side, slot)
    }

    mutating func removeResting(_ books: inout BookRoom, _ orderID: OrderID) -> (
        symbol: SymbolID, order: RestingOrder, clientOrderID: ClientOrderID
    ) {
        let removed = books.removeResting(orderID)
        set(removed.order.accountIndex, removed.symbol, removed.order.side, removed.accountLast)
        return (removed.symbol, removed.order, removed.clientOrderID)
    }

    mutating func fill(_ books: inout BookRoom, _ orderID: OrderID, by quantity: Int64) -> (order: RestingOrder, closed: Bool) {
        let symbol = books.orderLocations[orderID]!.symbol
        let filled = books.fill(orderID, by: quantity)
        set(filled.order.accountIndex, symbol, filled.order.side, filled.accountLast)
        return (filled.order, filled.closed)
    }

    func orders(_ books: BookRoom, symbol: SymbolID, _ side: Side, of account: UInt32) -> [RestingOrder] {
        books.bySymbol[Int(symbol)].orders(side, endingAt: last(account, symbol, side))
    }

    /// The room's consistency check with these lasts.
    func violation(_ books: BookRoom, _ symbols: ContiguousArray<SymbolSpec>) -> String? {
        var named = [Int](repeating: 0, count: books.bySymbol.count)
        for table in positions.values { table.countLastOrders(into: &named) }
        return books.consistencyViolation(symbols, lastOf: last, lastsNamed: named)
    }
}
