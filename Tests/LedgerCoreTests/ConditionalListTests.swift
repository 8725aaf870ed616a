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
            trailingExtremeUnits: 0)
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
