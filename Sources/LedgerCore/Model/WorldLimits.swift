/// The size of the world a ledger accepts, set once at genesis by `Command.setWorldLimits`
/// (docs/RULES.md, "Limits of the world"). Adopting them also switches the engine to the
/// bounded rules: work that grows with the number of holders runs in bounded system
/// entries (`Command.tick`). A ledger whose journal never set them (written before they
/// existed) keeps the rules it was written under, so its history re-executes unchanged.
///
/// Each maximum is checked where the world would grow, and reaching it is a rejection
/// with a reason code, never a crash.
public struct WorldLimits: Sendable, Hashable {
    /// Accounts (a deposit to a new account id beyond it: ACCOUNT_LIMIT).
    public var accountsMax: Int64
    /// Resting orders in all books together (an order that could rest: ORDER_LIMIT).
    public var restingOrdersMax: Int64
    /// Conditional orders waiting for their trigger (CONDITIONAL_ORDER_LIMIT).
    public var conditionalOrdersMax: Int64
    /// Symbols one account may hold a position or orders in (POSITION_COUNT_LIMIT).
    public var positionsPerAccountMax: Int64

    public init(accountsMax: Int64, restingOrdersMax: Int64, conditionalOrdersMax: Int64, positionsPerAccountMax: Int64) {
        self.accountsMax = accountsMax
        self.restingOrdersMax = restingOrdersMax
        self.conditionalOrdersMax = conditionalOrdersMax
        self.positionsPerAccountMax = positionsPerAccountMax
    }

    /// A venue of 10^6 accounts, 10^6 resting orders and 100 symbols with room to grow:
    /// 4,000,000 accounts, 4,000,000 resting orders, 1,000,000 conditional orders, 64
    /// symbols per account.
    public static let standard = WorldLimits(
        accountsMax: 4_000_000, restingOrdersMax: 4_000_000, conditionalOrdersMax: 1_000_000, positionsPerAccountMax: 64)

    /// The ceilings a genesis may choose up to: what the engine's dense indexes address
    /// (UInt32 account indexes and order slots) with room to spare.
    public static let ceiling = WorldLimits(
        accountsMax: 1 << 30, restingOrdersMax: 1 << 30, conditionalOrdersMax: 1 << 26, positionsPerAccountMax: Int64(Limits.symbolsMax))

    /// Every maximum is at least 1 and at most its ceiling.
    public var isValid: Bool {
        (1...Self.ceiling.accountsMax).contains(accountsMax) && (1...Self.ceiling.restingOrdersMax).contains(restingOrdersMax)
            && (1...Self.ceiling.conditionalOrdersMax).contains(conditionalOrdersMax)
            && (1...Self.ceiling.positionsPerAccountMax).contains(positionsPerAccountMax)
    }

    /// Four zigzag integers (any value encodes; the decoder refuses what is not valid).
    func encode(to writer: inout some ByteSink) {
        writer.zigzag(accountsMax)
        writer.zigzag(restingOrdersMax)
        writer.zigzag(conditionalOrdersMax)
        writer.zigzag(positionsPerAccountMax)
    }

    /// Reads four integers. A command's are checked by `Command.domainViolation` (so the
    /// refusal names the field); an event's and a snapshot's here (`validating`).
    static func decode(from reader: inout ByteReader, validating: Bool) throws(CodecError) -> WorldLimits {
        let offset = reader.offset
        let limits = WorldLimits(
            accountsMax: try reader.zigzag(), restingOrdersMax: try reader.zigzag(), conditionalOrdersMax: try reader.zigzag(),
            positionsPerAccountMax: try reader.zigzag())
        guard !validating || limits.isValid else { throw .outOfRange(field: "world limits", offset: offset) }
        return limits
    }
}
