import AllocCount
import CMatcher
import Foundation
import LedgerClient
import LedgerCore

// The engine beside a pure matcher (issue 12), in one process and one run:
//
//     swift build -c release --product MatcherBench
//     .build/release/MatcherBench contest [PASSES] [MESSAGES]   (defaults 20, 36000)
//     .build/release/MatcherBench book [PASSES]                 (default 3)
//     .build/release/MatcherBench kinds [PASSES] [COUNT]        (defaults 20, 10000)
//
// `contest`: a seeded feed shaped as a matching contest's: one symbol, 10 traders, half
// limit orders over 48 ticks (sizes 100 … 100,000 lots, mean ~1,100), half cancels by
// order id of an earlier order picked at random (most of them already filled).
// `book`: Liquibook's growing book: 1,000,000 alternating limit orders of 10 traders, buys
// over 10 ticks and sells over 10 overlapping by 6, sizes 100 … 1,000, no cancels; ns an
// order at 30,000 / 300,000 / 1,000,000.
// `kinds`: each kind of the contest's messages on its own, COUNT of each (default 10,000),
// fastest of PASSES: a cancel of an order that is not there (the least an entry costs), a
// limit order that rests without crossing, the cancel of a resting order, a limit order
// filled by one maker. KIND=prefix runs one kind alone (for a profiler), with its set-up.
//
// Each feed goes through `ExchangeState.execute` (the whole ledger: margin, fees,
// positions, the journal's events), through the engine's books room alone (`RoomRun`: the
// same books and fills, no ledger) and through CMatcher (price-time, no accounts, the
// engine's self-trade prevention), passes alternating; the fastest pass of each counts
// (the machine is shared: what another process takes only adds). All three must agree on
// every count — trades, traded quantity, cancels that found an order, self-trade expiries
// — or the run stops: a ratio between matchers that disagree would mean nothing.

struct Message {
    var isCancel: Bool
    var trader: UInt32
    var buy: Bool
    var tick: Int32
    var quantity: UInt32
    /// Cancels: the index (among the feed's orders) of the order it names.
    var target: Int
}

struct Counts: Equatable, CustomStringConvertible {
    var trades = 0
    var tradedQuantity: Int64 = 0
    var cancelled = 0
    var selfTradeExpiries = 0
    var description: String {
        "trades \(trades), traded quantity \(tradedQuantity), cancels that found an order \(cancelled), self-trade expiries \(selfTradeExpiries)"
    }
}

func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// The contest-shaped feed.
func contestFeed(messages: Int, seed: UInt64) -> [Message] {
    var random = SeededRandom(seed: seed)
    var feed: [Message] = []
    feed.reserveCapacity(messages)
    var orders: [UInt32] = []  // trader of each order so far
    while feed.count < messages {
        if !orders.isEmpty && random.next() % 2 == 0 {
            let target = Int(random.next() % UInt64(orders.count))
            feed.append(Message(isCancel: true, trader: orders[target], buy: false, tick: 0, quantity: 0, target: target))
        } else {
            let trader = UInt32(random.next() % 10)
            let buy = random.next() % 2 == 0
            // Buys over ticks 0 ..< 32, sells over 16 ..< 48: they cross over 16.
            let tick = Int32(random.next() % 32) + (buy ? 0 : 16)
            // Mostly 100 … 1,600 lots; one in 200 from 1,600 to 100,000.
            let quantity =
                random.next() % 200 == 0 ? UInt32(1_600 + random.next() % 98_401) : UInt32(100 + random.next() % 1_501)
            feed.append(Message(isCancel: false, trader: trader, buy: buy, tick: tick, quantity: quantity, target: orders.count))
            orders.append(trader)
        }
    }
    return feed
}

/// Liquibook's growing book.
func growingBook(orders: Int, seed: UInt64) -> [Message] {
    var random = SeededRandom(seed: seed)
    return (0..<orders).map { index in
        let buy = index % 2 == 0
        // Buys over ticks 0 ..< 10, sells over 4 ..< 14: they overlap by 6.
        let tick = Int32(random.next() % 10) + (buy ? 0 : 4)
        return Message(
            isCancel: false, trader: UInt32(index % 10), buy: buy, tick: tick, quantity: UInt32(100 + random.next() % 901),
            target: index)
    }
}

/// The engine's world: USDT, one symbol with room for the whole feed, ten funded traders.
struct EngineRun {
    static let basePrice: Int64 = 499_976
    var state = ExchangeState()
    var sequence: SequenceNumber = 0
    var events: [Event] = []
    var orderIDs: [OrderID] = []
    var counts = Counts()

    init(orders: Int) {
        guard case .listSymbol(var spec) = DemoExchange.listings[2] else { preconditionFailure("listings moved") }
        spec.id = 0
        spec.maxPositionQuantityUnits = 1_000_000_000
        spec.maxQuantityUnits = 1_000_000
        run(DemoExchange.listings[0])
        run(.listSymbol(spec))
        for account in 1...10 as ClosedRange<UInt64> {
            run(.deposit(Transfer(transferID: account, account: account, asset: 0, amountMinor: 1 << 55)))
        }
        run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        state.prepareToExecute()
        orderIDs = Array(repeating: 0, count: orders)
        events.reserveCapacity(2 * Self.eventsKept)
        counts = Counts()
    }

    /// A limit order of 100 lots, GTC, `tick` ticks above the base price.
    static func place(_ trader: UInt64, _ side: Side, _ tick: Int64) -> Command {
        .placeOrder(
            PlaceOrder(
                account: trader, symbol: 0, side: side, type: .limit, timeInForce: .gtc, priceUnits: basePrice + tick,
                quantityUnits: 100))
    }

    /// Events kept before the list is emptied. Every caller of the engine empties its
    /// events once a batch or a block (the sequencer's batch, the audit's block), not once
    /// a command: `removeAll(keepingCapacity:)` is ~65 instructions, which were the harness's
    /// and counted as the engine's.
    static let eventsKept = 256

    /// Executes `command`; returns where its events start in `events`.
    @inline(__always)
    @discardableResult
    mutating func run(_ command: Command) -> Int {
        if events.count >= Self.eventsKept { events.removeAll(keepingCapacity: true) }
        let first = events.count
        sequence += 1
        state.execute(command, sequence: sequence, timeNanos: 1_780_000_000_000_000_000 + Int64(sequence) * 1_000, into: &events)
        return first
    }

    /// Executes `feed[range]`; the events are counted after each command.
    mutating func execute(_ feed: [Message], _ range: Range<Int>) {
        var orderIndex = feed[range.lowerBound].target
        for index in range {
            let message = feed[index]
            let first: Int
            if message.isCancel {
                first = run(.cancelOrder(CancelOrder(account: AccountID(message.trader + 1), orderID: orderIDs[message.target])))
            } else {
                first = run(
                    .placeOrder(
                        PlaceOrder(
                            account: AccountID(message.trader + 1), symbol: 0, side: message.buy ? .buy : .sell, type: .limit,
                            timeInForce: .gtc, priceUnits: Self.basePrice + Int64(message.tick),
                            quantityUnits: Int64(message.quantity))))
                orderIndex = message.target
            }
            for position in first..<events.count {
                switch events[position] {
                case .orderAccepted(let id): orderIDs[orderIndex] = id
                case .trade(let trade):
                    counts.trades += 1
                    counts.tradedQuantity += trade.quantityUnits
                case .orderCancelled: counts.cancelled += 1
                case .orderExpired(_, _, .selfTrade): counts.selfTradeExpiries += 1
                case .rejected(let reason, _) where reason != .unknownOrder: preconditionFailure("refused: \(reason)")
                default: break
                }
            }
        }
    }
}

/// The same feed through the books room alone (`BookRoom`, docs/ARCHITECTURE.md): the
/// engine's books, order ids and fills, with the matching loop written here (price-time,
/// the engine's self-trade prevention) and no accounts, margin, events or journal. What the
/// engine costs beyond this is the ledger around the book. The accounts' last orders on
/// each side, which the engine keeps in their position slots, are kept here by trader.
struct RoomRun {
    var books = BookRoom()
    var orderIDs: [OrderID]
    var counts = Counts()
    var lasts: [Int32] = []

    /// Where `trader`'s last order on `side` is kept.
    mutating func lastIndex(_ trader: UInt32, _ side: Side) -> Int {
        let index = Int(trader) * 2 + (side == .buy ? 0 : 1)
        while lasts.count <= index { lasts.append(OrderBook.none) }
        return index
    }

    mutating func setLast(_ trader: UInt32, _ side: Side, _ last: Int32) {
        if last != OrderBook.unchanged { lasts[lastIndex(trader, side)] = last }
    }

    init(orders: Int) {
        books.listSymbol()
        orderIDs = Array(repeating: 0, count: orders)
    }

    mutating func execute(_ feed: [Message], _ range: Range<Int>) {
        for index in range {
            let message = feed[index]
            if message.isCancel {
                let id = orderIDs[message.target]
                if books.isOpen(id) {
                    let removed = books.removeResting(id)
                    setLast(removed.order.accountIndex, removed.order.side, removed.accountLast)
                    counts.cancelled += 1
                }
                continue
            }
            let id = books.nextOrderID
            books.takeOrderID(id)
            orderIDs[message.target] = id
            let side: Side = message.buy ? .buy : .sell
            let price = EngineRun.basePrice + Int64(message.tick)
            var remaining = Int64(message.quantity)
            while remaining > 0, let maker = books.peekBest(0, side.opposite) {
                if message.buy ? maker.priceUnits > price : maker.priceUnits < price { break }
                if maker.accountIndex == message.trader {
                    // Expire the taker: its remainder neither trades nor rests.
                    counts.selfTradeExpiries += 1
                    remaining = 0
                    break
                }
                let quantity = min(remaining, maker.openQuantityUnits)
                books.takeTradeID(books.nextTradeID)
                let filled = books.fill(maker.orderID, by: quantity)
                setLast(maker.accountIndex, maker.side, filled.accountLast)
                counts.trades += 1
                counts.tradedQuantity += quantity
                remaining -= quantity
            }
            if remaining > 0 {
                let last = lastIndex(message.trader, side)
                lasts[last] = books.rest(
                    RestingOrder(
                        orderID: id, accountIndex: message.trader, side: side, priceUnits: price, openQuantityUnits: remaining,
                        hasClientOrderID: false),
                    symbol: 0, clientOrderID: .none, accountLast: lasts[last])
            }
        }
    }
}

/// The same feed through CMatcher.
struct CRun {
    let book: OpaquePointer
    init(orders: Int) { book = cm_create(0, 63, UInt32(orders))! }

    func execute(_ feed: [Message], _ range: Range<Int>) {
        for index in range {
            let message = feed[index]
            if message.isCancel {
                _ = cm_cancel(book, UInt32(message.target))
            } else {
                _ = cm_limit(book, UInt32(message.target), message.trader, message.buy ? 0 : 1, message.tick, message.quantity)
            }
        }
    }

    var counts: Counts {
        let totals = cm_get_totals(book)
        return Counts(
            trades: Int(totals.trades), tradedQuantity: Int64(totals.traded_quantity), cancelled: Int(totals.cancelled),
            selfTradeExpiries: Int(totals.self_trade_expiries))
    }

    func destroy() { cm_destroy(book) }
}

/// Runs `feed` through the three `passes` times, alternating; per stretch (the ranges of
/// `stops`), the fastest ns a message of each.
func compare(_ feed: [Message], stops: [Int], passes: Int) -> (
    engine: [Double], room: [Double], matcher: [Double], allocations: [Double], counts: Counts
) {
    let orders = feed.filter { !$0.isCancel }.count
    var engineBest = Array(repeating: Double.infinity, count: stops.count)
    var roomBest = engineBest
    var matcherBest = engineBest
    var allocationsLeast = engineBest
    var agreed: Counts?
    for _ in 0..<passes {
        var engine = EngineRun(orders: orders)
        var start = 0
        for (index, stop) in stops.enumerated() {
            let allocationsBefore = ac_allocations()
            let began = nanos()
            engine.execute(feed, start..<stop)
            engineBest[index] = min(engineBest[index], Double(nanos() - began) / Double(stop - start))
            allocationsLeast[index] = min(
                allocationsLeast[index], Double(ac_allocations() - allocationsBefore) * 1_000 / Double(stop - start))
            start = stop
        }
        var room = RoomRun(orders: orders)
        start = 0
        // MATCHERBENCH_NO_ROOM=1 leaves the room's pass out (engine and CMatcher only, as
        // before the rooms), to compare the engine with binaries that had no room pass.
        for (index, stop) in stops.enumerated() where !skipRoom {
            let began = nanos()
            room.execute(feed, start..<stop)
            roomBest[index] = min(roomBest[index], Double(nanos() - began) / Double(stop - start))
            start = stop
        }
        let matcher = CRun(orders: orders)
        start = 0
        for (index, stop) in stops.enumerated() {
            let began = nanos()
            matcher.execute(feed, start..<stop)
            matcherBest[index] = min(matcherBest[index], Double(nanos() - began) / Double(stop - start))
            start = stop
        }
        let counts = matcher.counts
        matcher.destroy()
        guard engine.counts == counts, skipRoom || room.counts == counts else {
            print(
                "the engine, the books room and CMatcher disagree:\n  engine:   \(engine.counts)\n  room:     \(room.counts)\n"
                    + "  CMatcher: \(counts)")
            exit(1)
        }
        agreed = counts
    }
    return (engineBest, roomBest, matcherBest, allocationsLeast, agreed!)
}

// The kinds of `kinds`, each a function of its own (not inlined) so that a profiler can
// count what is inside one: `valgrind --tool=callgrind --toggle-collect='*kindFills*'`
// (Benchmarks/scripts/kinds-instructions.sh). Each checks that every message did what its
// kind says.

/// Cancels of order ids that were never given: each refused as an unknown order.
@inline(never)
func kindUnknownCancels(_ engine: inout EngineRun, _ count: Int) {
    for index in 0..<count {
        engine.run(.cancelOrder(CancelOrder(account: 1, orderID: OrderID(1 << 40 + index))))
        guard case .rejected(.unknownOrder, _) = engine.events.last else { preconditionFailure("not refused") }
    }
}

/// Buys of the ten traders over 16 ticks, with nothing to cross: each rests.
@inline(never)
func kindRests(_ engine: inout EngineRun, _ count: Int, into rested: inout [OrderID]) {
    for index in 0..<count {
        let first = engine.run(EngineRun.place(UInt64(1 + index % 10), .buy, Int64(index % 16)))
        guard case .orderAccepted(let id) = engine.events[first], case .orderRested = engine.events.last else {
            preconditionFailure("did not rest: \(engine.events[first...])")
        }
        rested.append(id)
    }
}

/// Cancels of the resting orders `rested`, in the order they rested.
@inline(never)
func kindRestingCancels(_ engine: inout EngineRun, _ rested: [OrderID]) {
    for (index, id) in rested.enumerated() {
        engine.run(.cancelOrder(CancelOrder(account: UInt64(1 + index % 10), orderID: id)))
        guard case .orderCancelled = engine.events.last else { preconditionFailure("not cancelled: \(engine.events.last!)") }
    }
}

/// Buys of trader 2 against as many sells of trader 1 at one price: one trade each.
@inline(never)
func kindFills(_ engine: inout EngineRun, _ count: Int) {
    var trades = 0
    for _ in 0..<count {
        let first = engine.run(EngineRun.place(2, .buy, 40))
        for position in first..<engine.events.count { if case .trade = engine.events[position] { trades += 1 } }
    }
    precondition(trades == count, "\(trades) trades for \(count) takers")
}

let skipRoom = ProcessInfo.processInfo.environment["MATCHERBENCH_NO_ROOM"] == "1"

func format(_ value: Double) -> String { String(format: value < 100 ? "%.1f" : "%.0f", value) }

let arguments = CommandLine.arguments
switch arguments.count > 1 ? arguments[1] : "" {
case "contest":
    let passes = arguments.count > 2 ? Int(arguments[2])! : 20
    let messages = arguments.count > 3 ? Int(arguments[3])! : 36_000
    let feed = contestFeed(messages: messages, seed: 12)
    let result = compare(feed, stops: [feed.count], passes: passes)
    let cancels = feed.filter(\.isCancel).count
    print(
        "contest feed: \(feed.count) messages (\(feed.count - cancels) orders, \(cancels) cancels), fastest of \(passes) passes: "
            + "engine \(format(result.engine[0])) ns a message, CMatcher \(format(result.matcher[0])) ns: "
            + "ratio \(String(format: "%.1f", result.engine[0] / result.matcher[0])); "
            + "engine heap allocations \(format(result.allocations[0])) per 1,000 messages"
            + (skipRoom
                ? ""
                : "; books room alone \(format(result.room[0])) ns: ratio \(String(format: "%.1f", result.room[0] / result.matcher[0]))"))
    print(
        "agreed: \(result.counts); mean order \(feed.filter { !$0.isCancel }.map { Int($0.quantity) }.reduce(0, +) / (feed.count - cancels)) lots"
    )
case "book":
    let passes = arguments.count > 2 ? Int(arguments[2])! : 3
    let feed = growingBook(orders: 1_000_000, seed: 5)
    let stops = [30_000, 300_000, 1_000_000]
    let result = compare(feed, stops: stops, passes: passes)
    var line = "growing book, ns an order (fastest of \(passes) passes):"
    for (index, stop) in stops.enumerated() {
        let from = index == 0 ? 1 : stops[index - 1] + 1
        line +=
            " orders \(from) … \(stop): engine \(format(result.engine[index])), CMatcher \(format(result.matcher[index])), ratio \(String(format: "%.1f", result.engine[index] / result.matcher[index])), \(skipRoom ? "" : "books room \(format(result.room[index])), ")allocations \(format(result.allocations[index])) per 1,000;"
    }
    print(line)
    print("agreed: \(result.counts)")
case "kinds":
    let passes = arguments.count > 2 ? Int(arguments[2])! : 20
    let count = arguments.count > 3 ? Int(arguments[3])! : 10_000
    let only = ProcessInfo.processInfo.environment["KIND"]
    let names = ["cancel, unknown order", "order that rests", "cancel of a resting order", "order filled by one maker"]
    func selected(_ kind: Int) -> Bool { only.map { names[kind].hasPrefix($0) } ?? true }
    var best: [String: Double] = [:]
    for _ in 0..<passes {
        var engine = EngineRun(orders: 1)
        /// Runs `body` for kind `kind` (or, when only another kind is selected and this one
        /// is not its set-up, nothing), timed.
        func timed(_ kind: Int, setUpFor later: Int? = nil, _ body: (inout EngineRun) -> Void) {
            guard selected(kind) || later.map(selected) == true else { return }
            let began = nanos()
            body(&engine)
            best[names[kind]] = min(best[names[kind]] ?? .infinity, Double(nanos() - began) / Double(count))
        }
        timed(0) { kindUnknownCancels(&$0, count) }
        var rested: [OrderID] = []
        rested.reserveCapacity(count)
        timed(1, setUpFor: 2) { kindRests(&$0, count, into: &rested) }
        timed(2) { kindRestingCancels(&$0, rested) }
        // The makers (not timed) of the fills.
        if selected(3) { for _ in 0..<count { engine.run(EngineRun.place(1, .sell, 40)) } }
        timed(3) { kindFills(&$0, count) }
    }
    for name in names where best[name] != nil { print("\(name): \(format(best[name]!)) ns") }
default:
    print("usage: MatcherBench contest [PASSES] [MESSAGES] | book [PASSES] | kinds [PASSES] [COUNT]")
    exit(2)
}
