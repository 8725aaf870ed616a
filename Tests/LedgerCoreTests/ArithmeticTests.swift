import LedgerDigest
import Testing

@testable import LedgerCore

@Suite struct ArithmeticTests {
    @Test func divisionRoundsAsDocumented() {
        #expect(FixedPoint.divideRoundingUp(7, 2) == 4)
        #expect(FixedPoint.divideRoundingUp(-7, 2) == -3)
        #expect(FixedPoint.divideRoundingUp(6, 2) == 3)
        #expect(FixedPoint.divideRoundingDown(7, 2) == 3)
        #expect(FixedPoint.divideRoundingDown(-7, 2) == -4)
    }

    /// The 64-bit fast path gives what 128-bit division gives, on both sides of the 64-bit
    /// edge and for every sign, with divisors from 1 to beyond 64 bits; so does the
    /// division by the rate scale.
    @Test func divisionIsTheSameInsideAndBeyondSixtyFourBits() {
        func reference(_ a: Int128, _ b: Int128) -> (up: Int128, down: Int128) {
            let (q, r) = a.quotientAndRemainder(dividingBy: b)
            return (r > 0 ? q + 1 : q, r < 0 ? q - 1 : q)
        }
        let edges: [Int128] = [
            0, 1, 2, 3, 7, 99_999_999, 100_000_000, 100_000_001, Int128(Int64.max) - 1, Int128(Int64.max), Int128(Int64.max) + 1,
            Int128(Int64.max) * 3, Int128(Int64.min) + 1, Int128(Int64.min), Int128(Int64.min) - 1, Int128.max, Int128.min + 1,
        ]
        var dividends = edges.flatMap { [$0, -$0] }.filter { $0 != Int128.min }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let bits = Int.random(in: 1...126, using: &random)
            let magnitude = Int128(UInt64.random(in: 0...UInt64.max, using: &random)) << (bits > 64 ? bits - 64 : 0)
            dividends.append((magnitude >> (bits > 64 ? 0 : 64 - bits)) * (Bool.random(using: &random) ? 1 : -1))
        }
        let divisors: [Int128] = [1, 2, 3, 10, 100_000_000, 999_999_937, Int128(Int64.max), Int128(Int64.max) + 1, Int128.max]
        var mismatches: [String] = []
        for a in dividends {
            for b in divisors {
                let expected = reference(a, b)
                let up = FixedPoint.divideRoundingUp(a, b)
                let down = FixedPoint.divideRoundingDown(a, b)
                if up != expected.up || down != expected.down { mismatches.append("\(a) / \(b): \(up), \(down), expected \(expected)") }
            }
            // The division by the rate scale, whose 64-bit path divides by a constant.
            let byRateScale = FixedPoint.divideByRateScaleRoundingUp(a)
            let expected = reference(a, Int128(FixedPoint.rateScale)).up
            if byRateScale != expected { mismatches.append("\(a) / rate scale: \(byRateScale), expected \(expected)") }
        }
        let none = mismatches.isEmpty
        #expect(none, "\(mismatches.count) mismatches, first: \(mismatches.prefix(3))")
    }

    /// The products taken in 64 bits when they fit, or by one widening multiply, equal
    /// `Int128`'s own at every edge of `Int64` and at random widths (issue 12, fifteenth
    /// steps): two operands always fit, three fall back to `Int128` past 64 bits.
    @Test func productsAreTheSameInsideAndBeyondSixtyFourBits() {
        let edges: [Int64] = [
            0, 1, 2, 3, 10, 99_999_999, 100_000_000, 3_037_000_499, 3_037_000_500, 4_294_967_295, 4_294_967_296,
            Int64(Int32.max), Int64.max / 2, Int64.max / 2 + 1, Int64.max - 1, Int64.max,
        ]
        var operands = edges.flatMap { [$0, -$0] } + [Int64.min, Int64.min + 1]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            // Random widths, so that products land on both sides of 64 bits.
            let bits = Int.random(in: 1...63, using: &random)
            let magnitude = Int64.random(in: 0...Int64.max, using: &random) >> (63 - bits)
            operands.append(Bool.random(using: &random) ? magnitude : -magnitude)
        }
        var mismatches: [String] = []
        for a in operands {
            for b in operands {
                let expected = Int128(a) * Int128(b)
                if FixedPoint.product(a, b) != expected { mismatches.append("\(a) × \(b): \(FixedPoint.product(a, b))") }
                // Int128 × Int64: a wide first operand, and a narrow one taken again by `b`.
                let wide = expected.multipliedReportingOverflow(by: 3)
                if !wide.overflow && FixedPoint.product(expected, 3) != wide.partialValue { mismatches.append("\(expected) × 3") }
                let again = expected.multipliedReportingOverflow(by: Int128(b))
                if !again.overflow && FixedPoint.product(expected, b) != again.partialValue {
                    mismatches.append("\(expected) × \(b) (Int128 × Int64)")
                }
                // Three operands, where the whole product fits Int128 (the engine's ranges
                // keep it there; beyond it `Int128`'s own multiply traps, as before).
                for c: Int64 in [1, -1, 2, 10_000, 100_000_000] {
                    let whole = expected.multipliedReportingOverflow(by: Int128(c))
                    guard !whole.overflow else { continue }
                    if FixedPoint.product(a, b, c) != whole.partialValue { mismatches.append("\(a) × \(b) × \(c)") }
                }
            }
        }
        let none = mismatches.isEmpty
        #expect(none, "\(mismatches.count) mismatches, first: \(mismatches.prefix(3))")
    }

    @Test func feesRoundAgainstTheUser() {
        // 0.05% of 1,000.000001 USDT = 0.5000000005 → 0.500001 charged.
        #expect(FixedPoint.charge(notional: 1_000_000_001, rateE8: 50_000) == 500_001)
        // A −0.01% rebate on the same notional: 0.1000000001 → 0.100000 paid out (toward +∞).
        #expect(FixedPoint.charge(notional: 1_000_000_001, rateE8: -10_000) == -100_000)
    }

    @Test(
        arguments: [
            // size, cost, side, qty, price, factor → size, cost, realized
            (0, 0, Side.buy, 10, 500, 100, 10, 500_000, 0),  // open long
            (10, 500_000, .buy, 10, 600, 100, 20, 1_100_000, 0),  // increase
            (20, 1_100_000, .sell, 5, 700, 100, 15, 825_000, 75_000),  // reduce: cost 275,000 removed
            (15, 825_000, .sell, 15, 400, 100, 0, 0, -225_000),  // close at a loss
            (-10, -500_000, .buy, 25, 450, 100, 15, 675_000, 50_000),  // short flips long
            (3, 100, .sell, 1, 30, 1, 2, 66, -4),  // cost 100/3 removed rounds up to 34
            (-3, -100, .buy, 1, 30, 1, -2, -67, 3),  // short: −33.3 removed rounds up to −33
        ] as [(Int64, Int64, Side, Int64, Int64, Int64, Int64, Int64, Int64)])
    func positionAfterFill(
        _ size: Int64, _ cost: Int64, _ side: Side, _ quantity: Int64, _ price: Int64, _ factor: Int64,
        _ expectedSize: Int64, _ expectedCost: Int64, _ expectedRealized: Int64
    ) {
        let after = Position.afterFill(
            sizeQuantityUnits: size, costMinor: cost, side: side, quantityUnits: quantity, priceUnits: price,
            notionalFactor: factor)
        #expect(after.sizeQuantityUnits == expectedSize)
        #expect(after.costMinor == expectedCost)
        #expect(after.realizedPnlMinor == expectedRealized)
    }

    @Test func sha256MatchesPublishedVectors() {
        #expect(hexString(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hexString(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hexString(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's, fed in uneven pieces through both update paths.
        var hasher = SHA256()
        var fed = 0
        var piece = 1
        while fed < 1_000_000 {
            let count = min(piece, 1_000_000 - fed)
            if piece % 2 == 0 {
                hasher.update([UInt8](repeating: 0x61, count: count))
            } else {
                hasher.update(repeatElement(UInt8(0x61), count: count))
            }
            fed += count
            piece = piece * 3 % 1_009 + 1
        }
        #expect(hexString(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
