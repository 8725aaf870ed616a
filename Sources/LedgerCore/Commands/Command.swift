/// Everything that can change the ledger. The sequencer stamps each command with a
/// sequence number and a time; `ExchangeState.execute` turns it into events.
public enum Command: Sendable, Hashable {
    /// Admin: list an asset. Its id must be the next free one.
    case listAsset(Asset)
    /// Admin: list a symbol. Its id must be the next free one. Boxed (`indirect`): a
    /// listing is rare and large, and inline it would make every command as large as it,
    /// so every command copied on the hot path would cost more.
    indirect case listSymbol(SymbolSpec)
    /// Credit an account from outside (idempotent by transfer id).
    case deposit(Transfer)
    /// Debit an account to outside (idempotent by transfer id).
    case withdraw(Transfer)
    case setLeverage(account: AccountID, symbol: SymbolID, leverage: UInt16)
    case placeOrder(PlaceOrder)
    case cancelOrder(CancelOrder)
    /// Oracle: the mark price of a symbol, in price units.
    case setMarkPrice(symbol: SymbolID, priceUnits: Int64)
    /// Oracle: the index (spot) price of a symbol, in price units.
    case setIndexPrice(symbol: SymbolID, priceUnits: Int64)
    /// Oracle: the funding rate of the coming settlement (wins over premium samples).
    case setFundingRate(symbol: SymbolID, rateE8: Int64)
    /// Oracle: one premium-index sample, (impact price − index) / index in 10^-8.
    case addPremiumSample(symbol: SymbolID, premiumE8: Int64)
    /// Cross (false) or isolated (true); only with no position and no open orders there.
    case setMarginMode(account: AccountID, symbol: SymbolID, isolated: Bool)
    /// Moves margin into (positive) or out of (negative) an isolated position.
    case adjustIsolatedMargin(account: AccountID, symbol: SymbolID, amountMinor: Int64)
    /// Admin: money from outside into the insurance fund (idempotent by transfer id; the
    /// transfer's account must be 0).
    case depositInsuranceFund(Transfer)
    /// Changes a resting limit order's price and quantity (priority kept only when the
    /// quantity shrinks at the same price).
    case amendOrder(AmendOrder)
    /// Cancels every open and conditional order of the account in the symbol.
    case cancelAllOrders(account: AccountID, symbol: SymbolID)
    /// Admin: how long and how many transfer and client order ids are remembered.
    case setIdempotencyWindow(IdempotencyWindow)
    /// Stands in for a journal entry that could not be read back, written only by
    /// `ledger-replay excise` (docs/OPERATIONS.md): the SHA-256 of the original payload,
    /// kept for forensics. It changes nothing. Ingress never accepts it.
    case entryExcised(originalPayloadSHA256: [UInt8])
    /// System: adopts the bounded rules and the limits of the world (docs/RULES.md,
    /// "Limits of the world"). Written by ledgerd as the first entry of a new journal (or
    /// the first entry of its first start on a journal written before the bounded rules);
    /// valid once. Ingress never accepts it.
    case setWorldLimits(WorldLimits)
    /// System: a timer and continuation entry. It starts the funding settlements that are
    /// due at its time and carries on the engine's own work in progress by one bounded
    /// step (docs/RULES.md, "Work in bounded steps"). Written by ledgerd's sequencer only.
    case tick
    /// System: settles what `account` owes or is owed in the funding settlements in
    /// progress; the sequencer writes it just before that account's withdrawal.
    case settleFunding(account: AccountID)

    /// Which role may send this command (docs/API.md).
    public var role: Role {
        switch self {
        case .listAsset, .listSymbol, .deposit, .withdraw, .depositInsuranceFund, .setIdempotencyWindow, .entryExcised, .setWorldLimits,
            .tick, .settleFunding:
            .admin
        case .setMarkPrice, .setIndexPrice, .setFundingRate, .addPremiumSample: .oracle
        case .setLeverage, .placeOrder, .cancelOrder, .setMarginMode, .adjustIsolatedMargin, .amendOrder, .cancelAllOrders: .trader
        }
    }
}

extension Command {
    /// The command's type as the dump and the metrics name it (`PLACE_ORDER`), and its
    /// index in `typeNames` (a counter per type without hashing on the engine's path).
    public var typeIndex: Int {
        switch self {
        case .listAsset: 0
        case .listSymbol: 1
        case .deposit: 2
        case .withdraw: 3
        case .setLeverage: 4
        case .placeOrder: 5
        case .cancelOrder: 6
        case .setMarkPrice: 7
        case .setIndexPrice: 8
        case .setFundingRate: 9
        case .addPremiumSample: 10
        case .setMarginMode: 11
        case .adjustIsolatedMargin: 12
        case .depositInsuranceFund: 13
        case .amendOrder: 14
        case .cancelAllOrders: 15
        case .setIdempotencyWindow: 16
        case .entryExcised: 17
        case .setWorldLimits: 18
        case .tick: 19
        case .settleFunding: 20
        }
    }

    public static let typeNames = [
        "LIST_ASSET", "LIST_SYMBOL", "DEPOSIT", "WITHDRAW", "SET_LEVERAGE", "PLACE_ORDER", "CANCEL_ORDER", "SET_MARK_PRICE",
        "SET_INDEX_PRICE", "SET_FUNDING_RATE", "ADD_PREMIUM_SAMPLE", "SET_MARGIN_MODE", "ADJUST_ISOLATED_MARGIN",
        "DEPOSIT_INSURANCE_FUND", "AMEND_ORDER", "CANCEL_ALL_ORDERS", "SET_IDEMPOTENCY_WINDOW", "ENTRY_EXCISED",
        "SET_WORLD_LIMITS", "TICK", "SETTLE_FUNDING",
    ]

    public var typeName: String { Self.typeNames[typeIndex] }
}

extension Command {
    /// Written only by ledgerd itself or by `ledger-replay excise`, never accepted from a
    /// gateway, whatever its role.
    public var isSystemOnly: Bool {
        switch self {
        case .entryExcised, .setWorldLimits, .tick, .settleFunding: true
        default: false
        }
    }
}

/// Who may send a command. An admin may send anything; a read-only token sends none
/// (docs/OPERATIONS.md, "Tokens and roles"). Wire protocol version 2 added `readOnly`.
public enum Role: UInt8, Sendable, Hashable, CaseIterable {
    case trader = 1
    case oracle = 2
    case admin = 3
    case readOnly = 4

    /// The name in token files, logs and the API.
    public var name: String {
        switch self {
        case .trader: "trader"
        case .oracle: "oracle"
        case .admin: "admin"
        case .readOnly: "read-only"
        }
    }

    public init?(name: String) {
        guard let role = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = role
    }
}

extension Command {
    /// The account a trader command acts for, which a trader token must hold; nil for a
    /// command no trader may send.
    public var actingAccount: AccountID? {
        switch self {
        case .setLeverage(let account, _, _), .setMarginMode(let account, _, _), .adjustIsolatedMargin(let account, _, _),
            .cancelAllOrders(let account, _):
            account
        case .placeOrder(let order): order.account
        case .cancelOrder(let cancel): cancel.account
        case .amendOrder(let amend): amend.account
        default: nil
        }
    }
}

/// A deposit or withdrawal.
public struct Transfer: Sendable, Hashable {
    public var transferID: TransferID
    public var account: AccountID
    public var asset: AssetID
    /// Minor units of the asset; must be positive.
    public var amountMinor: Int64

    public init(transferID: TransferID, account: AccountID, asset: AssetID, amountMinor: Int64) {
        self.transferID = transferID
        self.account = account
        self.asset = asset
        self.amountMinor = amountMinor
    }
}

/// How an order is priced, and whether it waits for a trigger.
public enum OrderType: UInt8, Sendable, Hashable, CaseIterable {
    case limit = 0
    /// Takes liquidity at any price; what does not fill at once expires.
    case market = 1
    /// Conditional: when the working price reaches the stop price (rising for a buy,
    /// falling for a sell), a market order (or a limit order at `priceUnits`).
    case stopMarket = 2
    case stopLimit = 3
    /// Conditional: as a stop, but on the other side (falling for a buy, rising for a sell).
    case takeProfitMarket = 4
    case takeProfitLimit = 5
    /// Conditional: a market order when the working price comes back by the callback rate
    /// from its best level since activation.
    case trailingStopMarket = 6

    /// Waits in the conditional list until its trigger.
    @inlinable public var isConditional: Bool { rawValue >= 2 }
    /// Carries a limit price (when it reaches the book). A switch, inlined: the `==`s were
    /// a call on every order's checks (issue 12).
    @inlinable public var hasLimitPrice: Bool {
        switch self {
        case .limit, .stopLimit, .takeProfitLimit: true
        case .market, .stopMarket, .takeProfitMarket, .trailingStopMarket: false
        }
    }
}

/// Which price a conditional order watches (Binance's `workingType`).
public enum WorkingType: UInt8, Sendable, Hashable, CaseIterable {
    /// The last trade price (Binance's CONTRACT_PRICE, its default).
    case contractPrice = 0
    case markPrice = 1
}

/// What happens when a taker meets a resting order of its own account; the taker's mode
/// decides.
public enum SelfTradePrevention: UInt8, Sendable, Hashable, CaseIterable {
    /// The taker's rest expires; the resting order stays.
    case expireTaker = 0
    /// The resting order expires; the taker goes on.
    case expireMaker = 1
    /// Both expire.
    case expireBoth = 2
}

/// How long an order may live.
public enum TimeInForce: UInt8, Sendable, Hashable, CaseIterable {
    /// Good till cancelled: the unfilled rest goes into the book.
    case gtc = 0
    /// Immediate or cancel: the unfilled rest expires.
    case ioc = 1
    /// Fill or kill: all at once, or nothing (the order expires).
    case fok = 2
    /// Good till crossing (post-only): expires instead of taking liquidity.
    case gtx = 3
}

/// A new order.
public struct PlaceOrder: Sendable, Hashable {
    public var account: AccountID
    public var symbol: SymbolID
    public var side: Side
    public var type: OrderType
    public var timeInForce: TimeInForce
    /// Limit price in price units; 0 for market orders.
    public var priceUnits: Int64
    public var quantityUnits: Int64
    /// 0 when the gateway gives none.
    public var clientOrderID: ClientOrderID
    /// The trigger of a conditional order (0 for others and for trailing stops).
    public var stopPriceUnits: Int64
    public var workingType: WorkingType
    /// Only ever reduces the position (docs/RULES.md, "Reduce-only").
    public var reduceOnly: Bool
    /// A stop or take-profit market order that closes the whole position at its trigger
    /// (quantity 0).
    public var closePosition: Bool
    public var selfTradePrevention: SelfTradePrevention
    /// Trailing stops: the callback rate (0.1% … 10%) and an optional activation price.
    public var callbackRateE8: Int64
    public var activationPriceUnits: Int64

    public init(
        account: AccountID, symbol: SymbolID, side: Side, type: OrderType, timeInForce: TimeInForce,
        priceUnits: Int64, quantityUnits: Int64, clientOrderID: ClientOrderID = 0, stopPriceUnits: Int64 = 0,
        workingType: WorkingType = .contractPrice, reduceOnly: Bool = false, closePosition: Bool = false,
        selfTradePrevention: SelfTradePrevention = .expireTaker, callbackRateE8: Int64 = 0, activationPriceUnits: Int64 = 0
    ) {
        self.account = account
        self.symbol = symbol
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.priceUnits = priceUnits
        self.quantityUnits = quantityUnits
        self.clientOrderID = clientOrderID
        self.stopPriceUnits = stopPriceUnits
        self.workingType = workingType
        self.reduceOnly = reduceOnly
        self.closePosition = closePosition
        self.selfTradePrevention = selfTradePrevention
        self.callbackRateE8 = callbackRateE8
        self.activationPriceUnits = activationPriceUnits
    }

    /// True when the order uses none of the rule book's order terms, so it is written in
    /// the spine's layout (command tag 6).
    public var isPlain: Bool {
        !type.isConditional && stopPriceUnits == 0 && workingType == .contractPrice && !reduceOnly && !closePosition
            && selfTradePrevention == .expireTaker && callbackRateE8 == 0 && activationPriceUnits == 0
    }
}

extension PlaceOrder {
    /// True when a resting order at `makerPriceUnits` is within this order's limit (a
    /// market order has none).
    @inline(__always)
    func crosses(makerPriceUnits: Int64) -> Bool {
        if type == .market { return true }
        return side == .buy ? makerPriceUnits <= priceUnits : makerPriceUnits >= priceUnits
    }
}

/// Cancels one open order, named by the engine's id or by the client's.
public struct CancelOrder: Sendable, Hashable {
    public var account: AccountID
    /// 0 when the order is named by `clientOrderID`.
    public var orderID: OrderID
    public var clientOrderID: ClientOrderID

    public init(account: AccountID, orderID: OrderID = 0, clientOrderID: ClientOrderID = 0) {
        self.account = account
        self.orderID = orderID
        self.clientOrderID = clientOrderID
    }
}

/// A new price and quantity for a resting order, named by the engine's id or the client's.
public struct AmendOrder: Sendable, Hashable {
    public var account: AccountID
    /// 0 when the order is named by `clientOrderID`.
    public var orderID: OrderID
    public var clientOrderID: ClientOrderID
    public var priceUnits: Int64
    /// The new open quantity.
    public var quantityUnits: Int64

    public init(account: AccountID, orderID: OrderID = 0, clientOrderID: ClientOrderID = 0, priceUnits: Int64, quantityUnits: Int64) {
        self.account = account
        self.orderID = orderID
        self.clientOrderID = clientOrderID
        self.priceUnits = priceUnits
        self.quantityUnits = quantityUnits
    }
}

extension Command {
    /// `commands[index] == self`. The order path's commands are compared by their
    /// payloads, matched where the element lies: `==` on two commands copied the element
    /// through its cases first and destroyed the copy after (the derived comparison takes
    /// the pair as a tuple), ~140 instructions a command in the writer's check.
    public func isSame(as commands: UnsafeBufferPointer<Command>, _ index: Int) -> Bool {
        switch self {
        case .placeOrder(let order):
            guard case .placeOrder(let other) = commands[index] else { return false }
            return order == other
        case .cancelOrder(let cancel):
            guard case .cancelOrder(let other) = commands[index] else { return false }
            return cancel == other
        default:
            return commands[index] == self
        }
    }
}
