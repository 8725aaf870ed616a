import LedgerClient
import LedgerDigest
import Testing

@testable import LedgerCore

/// Positions are kept per account only for the symbols it touched (issue "Exchange
/// scale": indexed by symbol id, one order in symbol 99 cost 100 positions), and state
/// encoding 4 writes them sparse; encodings 1–3 still read and write the dense layout.
@Suite struct PositionTableTests {
    /// Account 7 rests an order in ETHUSDT (symbol 1) only; account 8 holds BTCUSDT and
    /// ETHUSDT positions.
    static func world() -> EngineHarness {
        var engine = EngineHarness()
        engine.run(.setMarkPrice(symbol: 0, priceUnits: 500_000))
        engine.run(.setMarkPrice(symbol: 1, priceUnits: 300_000))
        for account: AccountID in [7, 8, 9] { engine.deposit(account, 10_000_000_000) }
        engine.limit(7, .buy, price: 290_000, quantity: 5, symbol: 1)
        engine.limit(9, .sell, price: 500_000, quantity: 123)
        engine.market(8, .buy, quantity: 123)
        engine.limit(9, .sell, price: 300_000, quantity: 678, symbol: 1)
        engine.market(8, .buy, quantity: 678, symbol: 1)
        return engine
    }

    @Test func anAccountKeepsOnlyTheSymbolsItTouched() throws {
        let engine = Self.world()
        let seven = engine.state.ledger.accounts[Int(engine.state.ledger.accountIndexByID[7]!)]
        #expect(seven.positions.slots.map(\.symbol) == [1])
        #expect(seven.positions.orderCounts(1) == (1, 0))
        #expect(seven.positions.span == 2)  // the dense layouts wrote symbols 0 and 1
        #expect(seven.position(0) == Position())
        #expect(seven.position(1).openBuyQuantityUnits == 5)
        let eight = engine.state.ledger.accounts[Int(engine.state.ledger.accountIndexByID[8]!)]
        #expect(eight.positions.slots.map(\.symbol) == [0, 1])
        #expect(eight.position(0).sizeQuantityUnits == 123)
        #expect(eight.position(1).sizeQuantityUnits == 678)
        #expect(engine.state.invariantViolation() == nil)
    }

    /// Every layout reads back to the same state, and writes the same bytes again.
    @Test func everyLayoutRoundTrips() throws {
        let engine = Self.world()
        for version: UInt8 in [3, 4] {
            var writer = ByteWriter()
            engine.state.encodeCanonical(to: &writer, version: version)
            var reader = ByteReader(writer.bytes)
            let decoded = try ExchangeState.decodeCanonical(
                from: &reader, version: version, sequence: engine.state.lastSequence, timeNanos: engine.state.lastTimeNanos)
            try reader.expectEnd()
            var again = ByteWriter()
            decoded.encodeCanonical(to: &again, version: version)
            #expect(again.bytes == writer.bytes, "version \(version)")
            #expect(decoded.stateHash() == engine.state.stateHash())
        }
        // Version 4 is smaller: account 7 writes one position, not two.
        var dense = ByteWriter()
        engine.state.encodeCanonical(to: &dense, version: 3)
        var sparse = ByteWriter()
        engine.state.encodeCanonical(to: &sparse, version: 4)
        #expect(sparse.bytes.count < dense.bytes.count)
    }

    /// Account 8's two positions in the v4 bytes: the offset of their count and each slot's bytes.
    static func slots(in bytes: [UInt8], of state: ExchangeState) throws -> (count: Int, first: [UInt8], second: [UInt8]) {
        let eight = state.ledger.accounts[Int(state.ledger.accountIndexByID[8]!)]
        var first = ByteWriter()
        first.varint(0)
        ExchangeState.encode(eight.position(0), version: 4, to: &first)
        var second = ByteWriter()
        second.varint(1)
        ExchangeState.encode(eight.position(1), version: 4, to: &second)
        let pattern = [2] + first.bytes + second.bytes
        let found = try #require(
            bytes.indices.first { bytes[$0...].starts(with: pattern) }, "account 8's positions are not in the bytes")
        #expect(!bytes[(found + 1)...].indices.contains { bytes[$0...].starts(with: pattern) }, "the pattern is not unique")
        return (found, first.bytes, second.bytes)
    }

    @Test func encoding4RefusesPositionsOutOfOrderOrEmpty() throws {
        let engine = Self.world()
        var writer = ByteWriter()
        engine.state.encodeCanonical(to: &writer, version: 4)
        let bytes = writer.bytes
        let (count, first, second) = try Self.slots(in: bytes, of: engine.state)
        let after = count + 1 + first.count + second.count
        func decode(_ variant: [UInt8]) -> CodecError? {
            var reader = ByteReader(variant)
            do {
                _ = try ExchangeState.decodeCanonical(from: &reader, version: 4, sequence: 1, timeNanos: 0)
                return nil
            } catch {
                return error
            }
        }
        #expect(decode(bytes) == nil)
        // The two slots swapped: symbol 1 before symbol 0.
        let swapped = Array(bytes[..<count]) + [2] + second + first + Array(bytes[after...])
        #expect(decode(swapped) == .outOfRange(field: "position symbol", offset: count + 1 + second.count))
        // Symbol 0 twice.
        let twice = Array(bytes[..<count]) + [2] + first + first + Array(bytes[after...])
        #expect(decode(twice) == .outOfRange(field: "position symbol", offset: count + 1 + first.count))
        // The second slot written as an empty position.
        var empty = ByteWriter()
        empty.varint(1)
        ExchangeState.encode(Position(), version: 4, to: &empty)
        let blank = Array(bytes[..<count]) + [2] + first + empty.bytes + Array(bytes[after...])
        #expect(decode(blank) == .outOfRange(field: "position", offset: count + 1 + first.count + 1))
        // A symbol the state does not list.
        var unknown = ByteWriter()
        unknown.varint(2)
        let stranger = Array(bytes[..<count]) + [2] + first + unknown.bytes + Array(second.dropFirst()) + Array(bytes[after...])
        #expect(decode(stranger) == .outOfRange(field: "position symbol", offset: count + 1 + first.count))
    }

    /// The invariant sweep walks each account's table once; it still finds what breaks.
    @Test func theSweepFindsBrokenTotalsHoldersAndOpenInterest() throws {
        let engine = Self.world()
        #expect(engine.state.invariantViolation() == nil)
        let seven = Int(engine.state.ledger.accountIndexByID[7]!)
        let eight = Int(engine.state.ledger.accountIndexByID[8]!)

        var totals = engine.state
        totals.ledger.accounts[seven].positions[1].openBuyQuantityUnits += 1
        #expect(totals.invariantViolation() == "open-order totals of account 7 in ETHUSDT differ from the book")

        // Account 7's order in ETHUSDT with its table emptied: the book holds an order of an
        // account without a position there.
        var orphan = engine.state
        orphan.ledger.accounts[seven].positions = PositionTable()
        #expect(orphan.invariantViolation() == "open-order totals of account 7 in ETHUSDT differ from the book")

        var counted = engine.state
        counted.ledger.accounts[seven].positions.countOrders(1, resting: 1)
        #expect(counted.invariantViolation() == "order counts of account 7 in ETHUSDT differ from the books")

        var holders = engine.state
        holders.ledger.holders[0].insert(seven)
        #expect(holders.invariantViolation() == "holder count of BTCUSDT is off")
        var missing = engine.state
        missing.ledger.holders[1].remove(eight)
        #expect(missing.invariantViolation() == "holders of ETHUSDT differ at account 8")

        var interest = engine.state
        interest.ledger.accounts[eight].positions[0].sizeQuantityUnits += 1
        interest.ledger.holders[0].insert(eight)
        #expect(interest.invariantViolation()?.hasPrefix("open interest of BTCUSDT: long 124 ≠ short 123") == true)
    }

    /// A symbol's conditional orders stay in id order, which their removal's binary search
    /// needs; the sweep (and so a snapshot's decoder) refuses a list out of order.
    @Test func conditionalOrdersStayInIdOrder() throws {
        var engine = Self.world()
        for stop: Int64 in [450_000, 440_000, 430_000] {
            engine.run(
                .placeOrder(
                    PlaceOrder(
                        account: 8, symbol: 0, side: .sell, type: .stopMarket, timeInForce: .gtc, priceUnits: 0, quantityUnits: 1,
                        stopPriceUnits: stop, workingType: .markPrice)))
        }
        let ids = engine.state.books.conditionalBySymbol[0].map(\.orderID)
        #expect(ids.count == 3 && ids == ids.sorted())
        // The middle one is cancelled (found by binary search); the others stay in order.
        engine.run(.cancelOrder(CancelOrder(account: 8, orderID: ids[1], clientOrderID: 0)))
        #expect(engine.state.books.conditionalBySymbol[0].map(\.orderID) == [ids[0], ids[2]])
        #expect(engine.state.invariantViolation() == nil)
        var swapped = engine.state
        let first = swapped.books.conditionalBySymbol[0].startIndex
        swapped.books.conditionalBySymbol[0].swapAt(first, swapped.books.conditionalBySymbol[0].index(after: first))
        #expect(swapped.invariantViolation() == "conditional orders of BTCUSDT are not in id order at \(ids[0])")
    }
    /// The first slot lives inside the account and the rest in an array: whatever order
    /// the symbols come in (lower than the inline one, between, above), the table agrees
    /// with a sorted model after every change: the same symbols in order, the same
    /// positions and counts, and `span` one past the highest symbol touched.
    @Test func theInlineFirstSlotKeepsSymbolOrder() {
        var random = SeededRandom(seed: 41)
        for round in 0..<400 {
            var table = PositionTable()
            var model: [SymbolID: (size: Int64, resting: Int)] = [:]
            let touches = 1 + Int(random.next() % 8)
            for step in 0..<touches * 3 {
                let symbol = SymbolID(random.next() % UInt64(Limits.symbolsMax))
                switch random.next() % 3 {
                case 0:
                    table[Int(symbol)].sizeQuantityUnits += Int64(step + 1)
                    model[symbol, default: (0, 0)].size += Int64(step + 1)
                case 1:
                    table.countOrders(symbol, resting: 1)
                    model[symbol, default: (0, 0)].resting += 1
                default:
                    #expect(table[Int(symbol)] == Position() || model[symbol] != nil, "round \(round)")
                }
                let symbols = model.keys.sorted()
                guard table.slots.map(\.symbol) == symbols else {
                    Issue.record("round \(round) step \(step): slots \(table.slots.map(\.symbol)), model \(symbols)")
                    return
                }
                #expect(table.count == symbols.count)
                #expect(table.span == (symbols.last.map { $0 + 1 } ?? 0))
                for symbol in symbols {
                    #expect(table[Int(symbol)].sizeQuantityUnits == model[symbol]!.size, "round \(round) symbol \(symbol)")
                    #expect(table.orderCounts(symbol).resting == model[symbol]!.resting, "round \(round) symbol \(symbol)")
                    #expect(table.slot(symbol)?.symbol == symbol)
                }
                let absent = SymbolID(random.next() % UInt64(Limits.symbolsMax))
                if model[absent] == nil { #expect(table.slot(absent) == nil && table.orderCounts(absent) == (0, 0)) }
            }
        }
    }
}
