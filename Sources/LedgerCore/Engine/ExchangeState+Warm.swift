/// Warming the cache for the commands about to execute (docs/BENCHMARKS.md, "The usual
/// mix at a million accounts").
///
/// At a million accounts nearly every command's first reads miss the cache: the account
/// id's entry in `accountIndexByID`, the account (with its risk-index word), its position table,
/// and for a cancel the order's location and its slot in the book. Executed one command
/// after another those misses are paid one at a time, each a few hundred cycles. Read
/// ahead for a group of commands, stage by stage, they are independent of one another and
/// the processor has many of them in flight at once; the commands then execute on warm
/// lines. Warming reads and changes nothing: skipping it, or warming the wrong commands,
/// changes no outcome, only the time.
extension ExchangeState {
    /// Commands warmed together: enough to keep the processor's outstanding misses busy.
    public static let warmGroup = 8
    /// Makers warmed for an order: the first resting orders it would meet.
    static let warmMakers = 3
    /// Slots warmed of each account a command touches, after the inline one.
    static let warmSlotsMax = 8
    /// The fewest accounts at which the sequencer warms. Below, the state's hot lines stay
    /// in the caches and warming is only work: `ScaleProfile world N` (its mix warmed and
    /// not, in one run; docs/BENCHMARKS.md, "The follower's open orders, the writer's
    /// replies") measured warming at +108 ns a command at 3,000 accounts, −23 at 10,000,
    /// −46 at 30,000 and −144 at 100,000 on this machine (1 MiB of L2 a core, 32 MiB of L3).
    public static let warmAccountsMin = 16_384

    /// Whether warming pays for this world (`warmAccountsMin`).
    public var warmsAhead: Bool { ledger.accounts.count >= Self.warmAccountsMin }

    /// Reads what executing `commands` (at most `warmGroup` of them, in order) will read
    /// first. Returns a value made of those reads (so that no read can be dropped); callers
    /// ignore it.
    @inline(never)
    public func warm(_ commands: ArraySlice<Command>) -> UInt64 {
        precondition(commands.count <= Self.warmGroup, "warm at most \(Self.warmGroup) commands at a time")
        return withUnsafeTemporaryAllocation(of: WarmItem.self, capacity: Self.warmGroup) { items in
            var sink: UInt64 = 0
            var count = 0
            var nextOrderID = self.books.nextOrderID
            // Stage 0: what each command names; for an order, the id it will take and the
            // makers it would meet first, whose accounts its fills read: from the head of
            // the opposite best level, or from where the group's orders before it leave
            // that side (a cursor a book side: with flow on a few symbols, several orders of
            // a group cross the same book, and each predicted from the head warmed the
            // makers the first one takes; issue 12, twentieth steps). Nothing here should
            // miss: a miss in this loop is paid alone, each command's far from the next
            // one's. (Each command is read where it lies, through `warmTarget`: `for
            // command in commands` and a `switch` over the element copied the command and
            // destroyed the copy through its value witnesses, the box of `listSymbol`
            // making both outlined calls, ~70 instructions a command.)
            withUnsafeTemporaryAllocation(of: MakerCursor.self, capacity: Self.warmGroup) { cursors in
                var cursorCount = 0
                for position in commands.indices {
                    var item = WarmItem()
                    let target = commands[position].warmTarget
                    item.accountID = target.account
                    item.orderID = target.orderID
                    if let order = target.placed {
                        item.symbol = order.symbol
                        // The entry its id takes only if it can rest (a market, IOC or FOK order
                        // never does).
                        if order.type != .market && (order.timeInForce == .gtc || order.timeInForce == .gtx) {
                            item.newOrderID = nextOrderID
                        }
                        nextOrderID &+= 1
                        if Int(order.symbol) < markets.count {
                            // (The book read in place: a copy would retain its arrays.)
                            let symbol = Int(order.symbol)
                            let bookSide = order.side.opposite
                            var cursor = 0
                            while cursor < cursorCount && (cursors[cursor].symbol != symbol || cursors[cursor].side != bookSide) {
                                cursor += 1
                            }
                            let known = cursor < cursorCount
                            var maker = known ? cursors[cursor].slot : books.bySymbol[symbol].bestSlot(bookSide)
                            // Of the first maker, what the orders before this one take.
                            var taken = known ? cursors[cursor].taken : 0
                            var met: Int64 = 0
                            var place = 0
                            // Only the makers it would meet: a passive order meets none, and
                            // each line warmed in vain takes a place among the misses in flight.
                            while let slot = maker, met < order.quantityUnits, place < Self.warmMakers {
                                let resting = books.bySymbol[symbol][slot]
                                guard order.crosses(makerPriceUnits: resting.priceUnits) else { break }
                                item.makers[place] = Int(resting.accountIndex)
                                item.makerOrders[place] = Int(resting.orderID)
                                place += 1
                                let left = resting.openQuantityUnits - taken
                                let takes = min(left, order.quantityUnits - met)
                                met += takes
                                if takes < left {
                                    taken += takes
                                    break
                                }
                                taken = 0
                                maker = books.bySymbol[symbol].slotAfter(slot)
                            }
                            if met > 0 {
                                let cursorNow = MakerCursor(symbol: symbol, side: bookSide, slot: maker, taken: taken)
                                if known {
                                    cursors[cursor] = cursorNow
                                } else {
                                    cursors.initializeElement(at: cursorCount, to: cursorNow)
                                    cursorCount += 1
                                }
                            }
                        }
                    }
                    items.initializeElement(at: count, to: item)
                    count += 1
                }
                cursors.baseAddress!.deinitialize(count: cursorCount)
            }
            // Stage 1a: the ids' home entries in their tables (the makers' orders' too: a
            // fill looks its maker up, and removes it when filled; and the entry a new
            // order's id will take if it rests), alone, in a loop of a few instructions a
            // read, so that all of them are in flight at once: with a whole lookup between
            // two reads the processor's window fills with instructions waiting on the
            // first, and only two or three misses overlap. The homes are arithmetic only.
            // At most warmMakers + 2 homes a command: its account, and either the order it
            // names or its own new id and its makers' orders.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.warmGroup * (Self.warmMakers + 2)) { homes in
                var accountHomes = 0
                for index in 0..<count where items[index].accountID != 0 {
                    homes[accountHomes] = ledger.accountIndexByID.homeIndex(items[index].accountID)
                    accountHomes += 1
                }
                var orderHomes = accountHomes
                for index in 0..<count {
                    if items[index].orderID != 0 {
                        homes[orderHomes] = books.orderLocations.homeIndex(items[index].orderID)
                        orderHomes += 1
                    }
                    if items[index].newOrderID != 0 {
                        homes[orderHomes] = books.orderLocations.homeIndex(items[index].newOrderID)
                        orderHomes += 1
                    }
                    for place in 0..<Self.warmMakers where items[index].makerOrders[place] >= 0 {
                        homes[orderHomes] = books.orderLocations.homeIndex(UInt64(items[index].makerOrders[place]))
                        orderHomes += 1
                    }
                }
                for place in 0..<accountHomes { sink &+= ledger.accountIndexByID.keyAt(homes[place]) }
                for place in accountHomes..<orderHomes { sink &+= books.orderLocations.wordAt(homes[place]) }
            }
            // Stage 1b: the lookups whose results the next stages need, on warm lines (the
            // makers' entries need none: their homes are read).
            for index in 0..<count {
                if items[index].accountID != 0, let found = ledger.accountIndexByID[items[index].accountID] {
                    items[index].accountIndex = Int(found)
                }
                if items[index].orderID != 0, let location = books.orderLocations[items[index].orderID] {
                    // (A cancel names no symbol: its order's is the one whose slot it reads.)
                    items[index].orderSymbol = Int(location.symbol)
                    items[index].orderSlot = location.slot
                }
            }
            // Stage 2: the accounts (120 bytes, up to three lines: a word near each end and
            // one in the middle, in the inline first slot), then, for an order that meets makers, their
            // words in the symbol's holder set (a fill reads them), and the slots in the
            // books of the orders to cancel; each kind in its own tight loop, as in stage 1a.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.warmGroup * (Self.warmMakers + 1)) { touched in
                var accountsTouched = 0
                for index in 0..<count {
                    if items[index].accountIndex >= 0 {
                        touched[accountsTouched] = items[index].accountIndex
                        accountsTouched += 1
                    }
                    for place in 0..<Self.warmMakers where items[index].makers[place] >= 0 {
                        touched[accountsTouched] = items[index].makers[place]
                        accountsTouched += 1
                    }
                }
                for place in 0..<accountsTouched {
                    sink &+= ledger.accounts[touched[place]].warmLines
                }
            }
            for index in 0..<count where items[index].makers[0] >= 0 {
                // Holder words only for an order that meets makers: only a fill reads them.
                // (The set read in place: a copy would retain its words.)
                let symbol = Int(items[index].symbol)
                if items[index].accountIndex >= 0, ledger.holders[symbol].contains(items[index].accountIndex) { sink &+= 1 }
                for place in 0..<Self.warmMakers where items[index].makers[place] >= 0 {
                    if ledger.holders[symbol].contains(items[index].makers[place]) { sink &+= 1 }
                }
            }
            for index in 0..<count where items[index].orderSymbol >= 0 {
                sink &+= UInt64(books.bySymbol[items[index].orderSymbol][items[index].orderSlot].accountIndex)
            }
            // Stage 3: each account's slots after the inline one, both ends of each (a slot
            // spans two cache lines; the margin check and the danger marks walk them all,
            // not only the command's symbol's: issue 12, twentieth steps), and the makers';
            // the neighbours in its level of an order to cancel (unlinking it rewrites their
            // links). (A tight loop over the tables' headers first, as in stages 1a and 2,
            // measured no better.)
            func readSlots(_ account: Int) -> UInt64 {
                ledger.accounts[account].positions.tailLines(max: Self.warmSlotsMax)
            }
            for index in 0..<count {
                if items[index].orderSymbol >= 0 {
                    let order = books.bySymbol[items[index].orderSymbol][items[index].orderSlot]
                    if order.previousSlot >= 0 {
                        sink &+= UInt64(bitPattern: Int64(books.bySymbol[items[index].orderSymbol][order.previousSlot].nextSlot))
                    }
                    if order.nextSlot >= 0 {
                        sink &+= UInt64(bitPattern: Int64(books.bySymbol[items[index].orderSymbol][order.nextSlot].previousSlot))
                    }
                }
                if items[index].accountIndex >= 0 { sink &+= readSlots(items[index].accountIndex) }
                for place in 0..<Self.warmMakers where items[index].makers[place] >= 0 {
                    sink &+= readSlots(items[index].makers[place])
                }
            }
            items.baseAddress!.deinitialize(count: count)
            return sink
        }
    }
}

/// What `warm` learns of one command, stage by stage (−1: none).
private struct WarmItem {
    var accountID: AccountID = 0
    var orderID: OrderID = 0
    /// The id a new order takes if it can rest (0: not an order, or one that cannot rest).
    var newOrderID: OrderID = 0
    /// The symbol of the order it places (its makers' holder words are read there).
    var symbol: SymbolID = 0
    var accountIndex = -1
    /// The accounts of the first `ExchangeState.warmMakers` orders the order would meet.
    var makers = FixedMakers()
    /// Their order ids.
    var makerOrders = FixedMakers()
    var orderSymbol = -1
    var orderSlot: Int32 = 0
}

/// Where the orders of a warmed group before this one leave a book side they cross
/// (`ExchangeState.warm`, stage 0): the maker slot met next and what of it they take.
private struct MakerCursor {
    var symbol: Int
    var side: Side
    var slot: Int32?
    var taken: Int64
}

/// Three account indexes or order ids (−1: none), without an array's allocation.
private struct FixedMakers {
    var values: (Int, Int, Int) = (-1, -1, -1)

    subscript(place: Int) -> Int {
        get {
            switch place {
            case 0: values.0
            case 1: values.1
            default: values.2
            }
        }
        set {
            switch place {
            case 0: values.0 = newValue
            case 1: values.1 = newValue
            default: values.2 = newValue
            }
        }
    }
}

extension Command {
    /// What `ExchangeState.warm` reads of a command: the account it names, the order it
    /// names (cancel, amend), and the order it places. A getter, so that a command in an
    /// array is read in place (borrowed) rather than copied out. (A symbol named without an
    /// order is not read: warming reads all of an account's slots, not one symbol's.)
    @inline(__always)
    fileprivate var warmTarget: (account: AccountID, orderID: OrderID, placed: PlaceOrder?) {
        switch self {
        case .placeOrder(let order): (order.account, 0, order)
        case .cancelOrder(let cancel): (cancel.account, cancel.orderID, nil)
        case .amendOrder(let amend): (amend.account, amend.orderID, nil)
        case .deposit(let transfer), .withdraw(let transfer): (transfer.account, 0, nil)
        case .cancelAllOrders(let account, _), .setLeverage(let account, _, _), .setMarginMode(let account, _, _),
            .adjustIsolatedMargin(let account, _, _), .settleFunding(let account):
            (account, 0, nil)
        default: (0, 0, nil)
        }
    }
}
