import LedgerClient
import Testing

@testable import LedgerCore

/// A symbol's conditional orders in pages (`ConditionalList`) against an array: the same
/// orders in the same order after every append and removal, each found by its id, and no
/// more pages than the bound its merging keeps.
@Suite struct ConditionalListTests {
    static func conditional(_ id: OrderID) -> ConditionalOrder {
        ConditionalOrder(
            orderID: id, accountIndex: UInt32(id % 7),
            order: PlaceOrder(
                account: 1, symbol: 0, side: .sell, type: .stopMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 1,
                stopPriceUnits: Int64(id)),
            joinedTrailingExtremeUnits: 0)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func pagesKeepTheOrderOfAnArray(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var list = ConditionalList()
        var reference: [ConditionalOrder] = []
        var nextID: OrderID = 1
        var mostPages = 0
        for step in 0..<30_000 {
            // Phases that grow to ~3,000 orders and shrink to a few, removing from anywhere.
            let target = step / 5_000 % 2 == 0 ? 3_000 : 5
            if reference.isEmpty || Int.random(in: 0..<(2 * target), using: &random) >= reference.count {
                // Ids with gaps, as other orders take ids between.
                nextID += OrderID.random(in: 1...3, using: &random)
                list.append(Self.conditional(nextID))
                reference.append(Self.conditional(nextID))
            } else {
                let victim = reference.remove(at: Int.random(in: 0..<reference.count, using: &random)).orderID
                guard let position = list.position(of: victim) else {
                    Issue.record("seed \(seed), step \(step): order \(victim) not found")
                    return
                }
                #expect(list.remove(at: position).orderID == victim)
                #expect(list.position(of: victim) == nil)
            }
            mostPages = max(mostPages, list.pageCount)
            // The bound on pages: no two neighbours are both under a quarter full (the
            // second to fall under would have joined the first), so two pages hold at
            // least a quarter page between them.
            let bound = 8 * list.count / ConditionalList.pageSize + 2
            if list.count != reference.count || list.pageCount > bound {
                Issue.record("seed \(seed), step \(step): \(list.count) orders in \(list.pageCount) pages, the array \(reference.count)")
                return
            }
            if step % 997 == 0 {
                #expect(list.map(\.orderID) == reference.map(\.orderID), "seed \(seed), step \(step)")
                #expect(Array(list.reversed()).map(\.orderID) == reference.reversed().map(\.orderID))
                if let probe = reference.randomElement(using: &random) {
                    #expect(list.position(of: probe.orderID).map { list[$0] } == probe)
                    #expect(list.position(of: probe.orderID + 1_000_000) == nil)
                }
            }
        }
        #expect(list.map(\.orderID) == reference.map(\.orderID))
        #expect(mostPages >= 5, "the pages were exercised: at most \(mostPages)")
    }
}

/// Each account's chain of conditional orders per symbol (`BookRoom.accountChains`) against
/// a filter of the symbol's list, over random orders and removals; and the sweep's message
/// for a broken chain.
@Suite struct AccountChainTests {
    @Test(arguments: [1, 2] as [UInt64])
    func chainsHoldEachAccountsOrdersInIdOrder(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var books = BookRoomTests.books()
        var waiting: [OrderID] = []
        for step in 0..<6_000 {
            if waiting.isEmpty || Int.random(in: 0..<400, using: &random) >= waiting.count {
                let id = books.nextOrderID
                books.takeOrderID(id)
                let symbol = SymbolID.random(in: 0...1, using: &random)
                var order = ConditionalListTests.conditional(id)
                order.accountIndex = UInt32.random(in: 0..<12, using: &random)
                order.order.symbol = symbol
                books.addConditional(order)
                waiting.append(id)
            } else {
                let id = waiting.remove(at: Int.random(in: 0..<waiting.count, using: &random))
                _ = books.removeConditional(id)
            }
            let account = UInt32.random(in: 0..<12, using: &random)
            let symbol = SymbolID.random(in: 0...1, using: &random)
            let expected = books.conditionalBySymbol[Int(symbol)].filter { $0.accountIndex == account }.map(\.orderID)
            let chained = books.conditionalOrderIDs(ofAccountIndex: account, symbol: symbol)
            if chained != expected {
                Issue.record("seed \(seed), step \(step): account \(account) chains \(chained), the list has \(expected)")
                return
            }
            if step % 500 == 0, let violation = AccountLasts().violation(books, BookRoomTests.symbols) {
                Issue.record("seed \(seed), step \(step): \(violation)")
                return
            }
        }
        #expect(AccountLasts().violation(books, BookRoomTests.symbols) == nil)
    }

    @Test func theSweepNamesABrokenChain() {
        var books = BookRoomTests.books()
        for id: OrderID in 1...3 {
            books.takeOrderID(id)
            books.addConditional(ConditionalListTests.conditional(id))  // accounts 1, 2, 3 (id % 7)
        }
        books.takeOrderID(4)
        var fourth = ConditionalListTests.conditional(4)
        fourth.accountIndex = 1
        books.addConditional(fourth)
        #expect(books.conditionalOrderIDs(ofAccountIndex: 1, symbol: 0) == [1, 4])
        #expect(AccountLasts().violation(books, BookRoomTests.symbols) == nil)
        var broken = books
        let first = broken.conditionalBySymbol[0].startIndex
        broken.conditionalBySymbol[0][first].nextOfAccount = 0
        #expect(AccountLasts().violation(broken, BookRoomTests.symbols) == "conditional order 1's chain skips 4")
        _ = books.removeConditional(1)
        #expect(books.conditionalOrderIDs(ofAccountIndex: 1, symbol: 0) == [4])
        #expect(AccountLasts().violation(books, BookRoomTests.symbols) == nil)
    }
}
