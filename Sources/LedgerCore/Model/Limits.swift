/// Bounds on everything the engine keeps and every field it reads (TigerBeetle's "put a
/// limit on everything"). Each maximum says why it has its value; docs/FORMATS.md
/// ("Field domains") lists the domain of every field in one table.
public enum Limits {
    public static let assetsMax = 64
    /// One journal entry's payload (command and events) at most: what a journal block is
    /// sized for and, through `WireFrame.replyBytesMax`, what a reply can carry.
    public static let entryPayloadBytesMax = 64 << 10
    public static let symbolsMax = 256
    /// Asset and symbol names: 1 ... 16 bytes of printable ASCII (0x21 ... 0x7E), the
    /// shape every exchange's tickers have. The codec refuses any other name both ways.
    public static let nameBytesMax = 16
    /// Every 64-bit id a gateway gives or the engine assigns (accounts, orders, trades,
    /// transfers, client order ids): at most 2^63 − 1, so it fits PostgreSQL's `bigint`,
    /// Swift's `Int` and every JSON reader of signed 64-bit integers. The codec refuses a
    /// larger one both ways; ingress refuses it before anything is journaled.
    public static let idMax: UInt64 = UInt64(Int64.max)
    /// A bearer token in a TCP hello: at most 256 bytes.
    public static let tokenBytesMax = 256
    /// The message of an error frame: at most 512 bytes, cut at a character boundary.
    public static let errorMessageBytesMax = 512
    /// Balances stay within ±2^62 so that sums of two never overflow.
    public static let balanceMagnitudeMax: Int64 = 1 << 62
    public static let leverageMax: UInt16 = 125
    /// |fee rate| ≤ 1% (10^6 in units of 10^-8).
    public static let feeRateE8Max: Int64 = 1_000_000
    /// Maintenance-margin brackets per symbol (and at least one).
    public static let bracketsMax = 16
    /// Rule-book rates (price band, funding, liquidation fee) are at most 10%.
    public static let ruleRateE8Max: Int64 = 10_000_000
    /// Trailing stops' callback rate: 0.1% … 10%.
    public static let callbackRateE8Min: Int64 = 100_000
    public static let callbackRateE8Max: Int64 = 10_000_000
    /// Remembered transfer ids (and, separately, client order ids) at most.
    public static let idempotencyRecordsMax: Int64 = 10_000_000
    /// Premium samples kept per symbol between two settlements (one a second for a day).
    public static let premiumSamplesMax: Int64 = 86_400

    // Work per entry under the bounded rules (docs/RULES.md, "Work in bounded steps").
    // A tick's funding step is at most 256 payments of at most 23 bytes (5.9 KiB) plus
    // one progress event, and takes about 0.1-0.3 ms here: what a user command may wait
    // behind it.
    /// Funding payments one entry makes at most.
    public static let fundingPaymentsPerEntryMax = 256
    /// Holders one entry looks at per symbol at most, paid or not (those settled early or
    /// opened since the settlement started are passed over).
    public static let fundingHoldersScannedPerEntryMax = 1_024
    /// Resting orders one incoming order meets at most (trades, and makers expired by
    /// self-trade prevention): 32 trades of at most 110 bytes each keep the reply of any
    /// order within a 4,096-byte frame. What would trade beyond expires (MATCH_LIMIT).
    public static let makersPerOrderMax = 32
    /// Accounts one entry liquidates at most (each with what its liquidation sets off).
    public static let liquidationsPerEntryMax = 16
    /// No further liquidation starts in an entry that holds this many events.
    public static let liquidationEventsPerEntrySoftMax = 256
    /// A liquidation's ADL takes no further counterparty once its entry holds this many
    /// events; what is left continues in the next ticks (`deleveragingContinues`). Each
    /// counterparty adds at most 112 events (its fill and the cancellation of its orders
    /// in the symbol), so ADL stops by ~1,140 events (~17 KiB of one-lot fills; ≤ 70 KiB).
    public static let deleveragingEventsPerEntrySoftMax = 1_024
    /// Opposing positions one entry scores for ADL at most (a margin health each, 60–70 ns
    /// here at 10^5 holders: ≤ 0.3 ms). A ranking of a side that holds more is built in
    /// bounded steps over ticks (`adlRankingAdvanced`) and kept while its deleveragings wait.
    public static let adlScoresPerEntryMax = 4_096
    /// Conditional orders one entry triggers at most (each with what it sets off).
    public static let triggersPerEntryMax = 16
    /// Resting orders one account may have in one symbol, and conditional orders waiting
    /// (Binance's MAX_NUM_ORDERS and MAX_NUM_ALGO_ORDERS filters): what a cancel-all or a
    /// liquidation cancels in one entry, so its reply of at most 110 cancellations of at
    /// most 19 bytes (2.1 KiB) fits a 4,096-byte frame. ACCOUNT_ORDER_LIMIT beyond.
    public static let restingOrdersPerAccountSymbolMax = 100
    public static let conditionalOrdersPerAccountSymbolMax = 10
    /// Of an account's resting orders in one symbol, reduce-only ones at most: a fill that
    /// shrinks a position cancels or reduces at most this many of them, so an order that
    /// meets 32 makers carries at most 33 × 10 such events (≤ 6.3 KiB) besides its trades.
    public static let reduceOnlyOrdersPerAccountSymbolMax = 10
    /// Remembered ids one entry forgets at most, per kind (the rest go in later entries:
    /// an id may be remembered a little longer, never shorter).
    public static let idempotencyExpiriesPerEntryMax = 1_024

    /// True for a name in the names' domain (`nameBytesMax`).
    @inlinable
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= nameBytesMax && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
