/// Integer arithmetic with one documented rounding rule per use (docs/RULES.md).
///
/// Every amount in the engine is an `Int64` in the minor units of its asset, price units
/// or quantity units of its symbol. Products are taken in `Int128` and narrowed with a
/// check; divisions say which way they round.
public enum FixedPoint {
    /// Rates (fees, funding) are integers scaled by 10^8: 0.02% is 20_000.
    public static let rateScale: Int64 = 100_000_000

    /// `a × b`, exact. A product of two `Int64` always fits `Int128`: one widening
    /// multiply, where `Int128`'s `*` checks the product for an overflow it cannot have
    /// (a few dozen instructions; issue 12, fifteenth steps).
    @inlinable @inline(__always)
    public static func product(_ a: Int64, _ b: Int64) -> Int128 {
        let (high, low) = a.multipliedFullWidth(by: b)
        return Int128(high) << 64 | Int128(low)
    }

    /// `a × b × c`, exact (it traps if the product does not fit `Int128`): in 64 bits when
    /// each step fits, as most do.
    @inlinable @inline(__always)
    public static func product(_ a: Int64, _ b: Int64, _ c: Int64) -> Int128 {
        let (partial, partialOverflow) = a.multipliedReportingOverflow(by: b)
        let (whole, overflow) = partial.multipliedReportingOverflow(by: c)
        if !partialOverflow && !overflow { return Int128(whole) }
        return product(a, b) * Int128(c)
    }

    /// `a × b`, exact (it traps if the product does not fit `Int128`): one widening multiply
    /// when `a` fits 64 bits.
    @inlinable @inline(__always)
    public static func product(_ a: Int128, _ b: Int64) -> Int128 {
        if let a64 = Int64(exactly: a) { return product(a64, b) }
        return a * Int128(b)
    }

    /// `a / b` rounded toward +∞. `b` must be positive.
    @inlinable
    public static func divideRoundingUp(_ a: Int128, _ b: Int128) -> Int128 {
        precondition(b > 0, "divisor must be positive")
        // Most operands fit 64 bits, where the division is a machine instruction instead
        // of a call to the 128-bit routine; the result is the same (b ≥ 2 keeps q + 1 in
        // range).
        if let a64 = Int64(exactly: a), let b64 = Int64(exactly: b) {
            let (q, r) = a64.quotientAndRemainder(dividingBy: b64)
            return Int128(r > 0 ? q + 1 : q)
        }
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r > 0 ? q + 1 : q
    }

    /// `a / b` rounded toward −∞. `b` must be positive.
    @inlinable
    public static func divideRoundingDown(_ a: Int128, _ b: Int128) -> Int128 {
        precondition(b > 0, "divisor must be positive")
        if let a64 = Int64(exactly: a), let b64 = Int64(exactly: b) {
            let (q, r) = a64.quotientAndRemainder(dividingBy: b64)
            return Int128(r < 0 ? q - 1 : q)
        }
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? q - 1 : q
    }

    /// A fee or other charge of `rateE8` on `notional`, rounded toward +∞: the user pays the
    /// larger amount, or receives the smaller rebate when the rate is negative.
    @inlinable
    public static func charge(notional: Int64, rateE8: Int64) -> Int64 {
        let fee = divideByRateScaleRoundingUp(product(notional, rateE8))
        return Int64(fee)  // |rate| ≤ 1 keeps |fee| ≤ |notional|
    }

    /// `a / rateScale` rounded toward +∞: a product with a rate (a fee, a maintenance
    /// margin) brought back to minor units. The same as `divideRoundingUp(a, rateScale)`;
    /// in 64 bits the divisor is a constant, so the quotient is a multiply and shifts
    /// instead of a divide instruction (tens of cycles, on every fee and every
    /// maintenance margin).
    @inlinable @inline(__always)
    public static func divideByRateScaleRoundingUp(_ a: Int128) -> Int128 {
        if let a64 = Int64(exactly: a) {
            let quotient = a64 / rateScale
            return Int128(a64 - quotient * rateScale > 0 ? quotient + 1 : quotient)
        }
        return divideRoundingUp(a, Int128(rateScale))
    }

    /// 10^exponent for 0 ≤ exponent ≤ 18.
    @inlinable
    public static func powerOfTen(_ exponent: Int) -> Int64 {
        precondition(exponent >= 0 && exponent <= 18, "10^\(exponent) does not fit Int64")
        var value: Int64 = 1
        for _ in 0..<exponent { value &*= 10 }
        return value
    }
}
