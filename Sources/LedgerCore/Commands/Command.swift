/// Everything that can change the ledger. The sequencer stamps each command with a
/// sequence number and a time; `ExchangeState.execute` turns it into events.
public enum Command: Sendable, Hashable {
    /// Admin: list an asset. Its id must be the next free one.
    case listAsset(Asset)
    /// Admin: list a symbol. Its id must be the next free one.
    case listSymbol(SymbolSpec)
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

    /// Which role may send this command (docs/API.md).
    public var role: Role {
        switch self {
        case .listAsset, .listSymbol, .deposit, .withdraw, .depositInsuranceFund: .admin
        case .setMarkPrice, .setIndexPrice, .setFundingRate, .addPremiumSample: .oracle
        case .setLeverage, .placeOrder, .cancelOrder, .setMarginMode, .adjustIsolatedMargin: .trader
        }
    }
}

/// Who may send a command. An admin may send anything.
public enum Role: UInt8, Sendable, Hashable {
    case trader = 1
    case oracle = 2
    case admin = 3
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

/// How an order is priced.
public enum OrderType: UInt8, Sendable, Hashable, CaseIterable {
    case limit = 0
    /// Takes liquidity at any price; what does not fill at once expires.
    case market = 1
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

    public init(
        account: AccountID, symbol: SymbolID, side: Side, type: OrderType, timeInForce: TimeInForce,
        priceUnits: Int64, quantityUnits: Int64, clientOrderID: ClientOrderID = 0
    ) {
        self.account = account
        self.symbol = symbol
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.priceUnits = priceUnits
        self.quantityUnits = quantityUnits
        self.clientOrderID = clientOrderID
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
