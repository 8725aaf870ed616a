/// Why a command changed nothing. The numeric code is stable: it is journaled, sent over
/// the binary protocol and shown by the HTTP API as `code`, with `name` as `reason`.
public enum RejectReason: UInt16, Sendable, Hashable, CaseIterable {
    case unknownAsset = 10
    case unknownSymbol = 11
    case unknownAccount = 12
    case unknownOrder = 13
    /// An amount that is zero, negative, or beyond the asset's bounds.
    case invalidAmount = 20
    /// The resulting balance would leave ±2^62 minor units.
    case balanceLimit = 21
    /// Zero, negative or above the symbol's maximum; or a price on a market order.
    case invalidPrice = 22
    /// More precision than the tick size allows.
    case priceNotOnTick = 23
    case invalidQuantity = 24
    /// More precision than the lot size allows.
    case quantityNotOnLot = 25
    case notionalTooSmall = 26
    case invalidLeverage = 27
    /// A limit price outside the symbol's band around the mark price.
    case priceOutsideBand = 29
    /// A listing with an id that is not the next one, bad scales or bad terms.
    case invalidListing = 28
    case insufficientBalance = 30
    case insufficientMargin = 31
    /// The position plus open orders would exceed what the symbol allows (docs/RULES.md).
    case positionLimit = 32
    /// The leverage is above what the bracket of the position's notional allows.
    case leverageAboveBracket = 33
    /// The margin mode can change only with no position and no open orders in the symbol.
    case marginModeLocked = 34
    /// Isolated margin can be adjusted only on an open isolated position.
    case notIsolated = 35
    /// A funding rate or premium sample beyond the symbol's cap, or funding not enabled.
    case invalidRate = 36
    /// A reduce-only order that would open or increase a position.
    case reduceOnlyRejected = 37
    /// A stop, take-profit or trailing activation price already reached at placement.
    case wouldTriggerImmediately = 38
    /// An amendment that changes nothing.
    case nothingToAmend = 39
    case duplicateClientOrderID = 40
    case duplicateTransferID = 41
    /// The symbol has no mark price yet, so margin cannot be computed.
    case noMarkPrice = 42
    /// The entry stands in for one that could not be read back (`Command.entryExcised`).
    case entryExcised = 43
    /// The world limits were set already (they are set once, at genesis).
    case worldLimitsSet = 44
    /// A deposit would open an account beyond `WorldLimits.accountsMax`.
    case accountLimit = 45
    /// The books hold `WorldLimits.restingOrdersMax` orders: an order that could rest is refused.
    case orderLimit = 46
    /// `WorldLimits.conditionalOrdersMax` conditional orders wait already.
    case conditionalOrderLimit = 47
    /// The account holds positions or orders in `WorldLimits.positionsPerAccountMax` symbols.
    case positionCountLimit = 48
    /// A tick or funding settlement with nothing to do, or a system command under the
    /// rules of a journal written before the bounded rules.
    case noSystemWork = 49
    /// The account owes funding in a settlement in progress; a withdrawal waits for it
    /// (the sequencer settles it first: `Command.settleFunding`).
    case fundingInProgress = 50
    /// The account has `Limits.restingOrdersPerAccountSymbolMax` resting orders (an order
    /// that could rest) or `Limits.conditionalOrdersPerAccountSymbolMax` conditional orders
    /// in the symbol (bounded rules).
    case accountOrderLimit = 51

    /// The name the HTTP API and the docs use.
    public var name: String {
        switch self {
        case .unknownAsset: "UNKNOWN_ASSET"
        case .unknownSymbol: "UNKNOWN_SYMBOL"
        case .unknownAccount: "UNKNOWN_ACCOUNT"
        case .unknownOrder: "UNKNOWN_ORDER"
        case .invalidAmount: "INVALID_AMOUNT"
        case .balanceLimit: "BALANCE_LIMIT"
        case .invalidPrice: "INVALID_PRICE"
        case .priceNotOnTick: "PRICE_NOT_ON_TICK"
        case .invalidQuantity: "INVALID_QUANTITY"
        case .quantityNotOnLot: "QUANTITY_NOT_ON_LOT"
        case .notionalTooSmall: "NOTIONAL_TOO_SMALL"
        case .invalidLeverage: "INVALID_LEVERAGE"
        case .priceOutsideBand: "PRICE_OUTSIDE_BAND"
        case .leverageAboveBracket: "LEVERAGE_ABOVE_BRACKET"
        case .marginModeLocked: "MARGIN_MODE_LOCKED"
        case .notIsolated: "NOT_ISOLATED"
        case .invalidRate: "INVALID_RATE"
        case .reduceOnlyRejected: "REDUCE_ONLY_REJECTED"
        case .wouldTriggerImmediately: "WOULD_TRIGGER_IMMEDIATELY"
        case .nothingToAmend: "NOTHING_TO_AMEND"
        case .invalidListing: "INVALID_LISTING"
        case .insufficientBalance: "INSUFFICIENT_BALANCE"
        case .insufficientMargin: "INSUFFICIENT_MARGIN"
        case .positionLimit: "POSITION_LIMIT"
        case .duplicateClientOrderID: "DUPLICATE_CLIENT_ORDER_ID"
        case .duplicateTransferID: "DUPLICATE_TRANSFER_ID"
        case .noMarkPrice: "NO_MARK_PRICE"
        case .entryExcised: "ENTRY_EXCISED"
        case .worldLimitsSet: "WORLD_LIMITS_SET"
        case .accountLimit: "ACCOUNT_LIMIT"
        case .orderLimit: "ORDER_LIMIT"
        case .conditionalOrderLimit: "CONDITIONAL_ORDER_LIMIT"
        case .positionCountLimit: "POSITION_COUNT_LIMIT"
        case .noSystemWork: "NO_SYSTEM_WORK"
        case .fundingInProgress: "FUNDING_IN_PROGRESS"
        case .accountOrderLimit: "ACCOUNT_ORDER_LIMIT"
        }
    }
}

/// Why the unfilled part of an order left without resting.
public enum ExpiryReason: UInt8, Sendable, Hashable, CaseIterable {
    /// IOC or market: the rest of the quantity found no counterpart.
    case immediateOrCancel = 0
    /// FOK: the book could not fill all of it at once.
    case fillOrKill = 1
    /// GTX: it would have taken liquidity.
    case postOnly = 2
    /// It would have traded with an order of the same account (self-trade prevention).
    case selfTrade = 3
    /// Bounded rules: it met `Limits.makersPerOrderMax` resting orders and would still have
    /// traded (so that its entry and reply stay bounded).
    case matchLimit = 4
}

/// So that lookups can return `Result<_, RejectReason>`.
extension RejectReason: Error {}
