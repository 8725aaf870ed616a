import Foundation
import Journal
import LedgerCore

/// The rows one transaction writes (docs/FORMATS.md, "Read models"): append-only rows
/// as PostgreSQL's binary COPY, mutable rows (accounts, balances, positions, orders,
/// liquidations, candles) collapsed per batch to one row per key and upserted once.
struct ProjectionBatch: OrderLifecycleObserver {
    let firstSequence: SequenceNumber
    private(set) var lastSequence: SequenceNumber = 0
    /// The journal time of the last entry added (the projector's lag in seconds).
    private(set) var lastTimeNanos: Int64 = 0
    private(set) var entryCount = 0
    /// The UTC days (since 1970) the batch's entries fall on: their partitions must exist.
    private(set) var days: Set<Int64> = []

    private var trades = BinaryCopy(columns: Columns.trades.count)
    private var postings = BinaryCopy(columns: Columns.postings.count)
    private var markPrices = BinaryCopy(columns: Columns.markPrices.count)
    private var fundingPayments = BinaryCopy(columns: Columns.fundingPayments.count)
    private var adlFills = BinaryCopy(columns: Columns.adlFills.count)
    private var insuranceHistory = BinaryCopy(columns: Columns.insuranceHistory.count)
    private var orderEvents = BinaryCopy(columns: Columns.orderEvents.count)
    private var accounts = BinaryCopy(columns: Columns.accounts.count)
    /// Rendered by `finish` from the replica's state after the batch.
    private var balances = BinaryCopy(columns: Columns.balances.count)
    private var positions = BinaryCopy(columns: Columns.positions.count)
    private var newOrders = BinaryCopy(columns: Columns.orders.count)
    private var changedOrders = BinaryCopy(columns: Columns.orders.count)
    private var liquidationCopy = BinaryCopy(columns: Columns.liquidations.count)
    private var candleCopy = BinaryCopy(columns: Columns.candles.count)
    /// A snapshot's state (`seed`): every order in it is new to the read models.
    private var isSeed = false

    /// Keys touched in the batch; their final values are written once.
    /// With the last entry that changed each (`updated_sequence`: the same whatever the
    /// batches).
    private var touchedBalances: [BalanceKey: SequenceNumber] = [:]
    private var touchedPositions: [PositionKey: PositionSums] = [:]
    private var touchedOrders: [OrderID: OrderRecord] = [:]
    private var liquidations: [OrderID: LiquidationRow] = [:]
    private var candles: [CandleKey: Candle] = [:]
    private var candleOrder: [CandleKey] = []

    /// The entry being added: its order events wait for the entry's end to know their
    /// order's symbol.
    private var entryOrderEvents: [OrderEvent] = []
    private var acceptedUntraded: Set<OrderID> = []
    /// Names as UTF-8, by id (symbols and assets are only ever added).
    private var symbolNames: [[UInt8]] = []
    private var assetNames: [[UInt8]] = []
    private var insuranceFund: [Int64] = []

    struct BalanceKey: Hashable {
        var account: AccountID
        var asset: AssetID
    }

    struct PositionKey: Hashable {
        var account: AccountID
        var symbol: SymbolID
    }

    /// What a batch adds to a position's running sums, and the last entry that changed it.
    struct PositionSums {
        var realizedMinor: Int64 = 0
        var feesMinor: Int64 = 0
        var sequence: SequenceNumber = 0
    }

    struct CandleKey: Hashable {
        var symbol: SymbolID
        /// Minutes since 1970.
        var minute: Int64
    }

    struct Candle {
        var open: Int64
        var high: Int64
        var low: Int64
        var close: Int64
        var volume: Int128 = 0
        var quoteVolume: Int128 = 0
        var count: Int64 = 0
        var firstTradeID: TradeID
        var lastTradeID: TradeID
    }

    /// One liquidated position, as the `liquidations` table shows it; a row for a later
    /// entry's fills of an earlier liquidation carries only what they add.
    struct LiquidationRow {
        var sequence: SequenceNumber
        var timeNanos: Int64
        var orderID: OrderID
        var account: AccountID
        var symbol: SymbolID
        var side: Side
        var bankruptcyPriceUnits: Int64
        var quantityUnits: Int64
        var filledUnits: Int64 = 0
        var feeMinor: Int64 = 0
        /// Fee included.
        var surplusMinor: Int64 = 0
        var takenOverUnits: Int64 = 0
        var deleveragedUnits: Int64 = 0
    }

    /// The columns of each COPY, in the order the batch writes their fields.
    enum Columns {
        static let trades = [
            "trade_id", "sequence", "time", "symbol", "maker_order_id", "taker_order_id", "maker_account", "taker_account", "taker_side",
            "price", "quantity", "maker_fee", "taker_fee", "maker_realized_pnl", "taker_realized_pnl",
        ]
        static let postings = [
            "sequence", "line", "time", "from_account", "from_system", "to_account", "to_system", "asset", "amount", "kind", "reference",
        ]
        static let markPrices = ["symbol", "sequence", "time", "mark_price"]
        static let fundingPayments = [
            "sequence", "line", "time", "symbol", "account_id", "insurance_fund", "funding_rate", "mark_price", "amount",
        ]
        static let adlFills = [
            "sequence", "line", "time", "liquidated_account_id", "counterparty_account_id", "symbol", "price", "quantity",
            "counterparty_realized_pnl",
        ]
        static let insuranceHistory = ["sequence", "line", "time", "asset", "amount", "balance", "kind"]
        static let orderEvents = ["order_id", "sequence", "line", "time", "kind", "price", "quantity", "trade_id", "reason"]
        static let accounts = ["account_id", "first_sequence"]
        static let balances = ["account_id", "asset", "wallet", "updated_sequence"]
        static let positions = [
            "account_id", "symbol", "size", "entry_cost", "entry_price", "leverage", "realized_pnl", "fees_paid", "updated_sequence",
        ]
        /// Every column of `orders`, in the table's order (its staging table is `LIKE orders`).
        static let orders = [
            "order_id", "account_id", "client_order_id", "symbol", "side", "type", "time_in_force", "price", "quantity", "filled_quantity",
            "status", "created_sequence", "updated_sequence", "working_type", "self_trade_prevention", "reduce_only", "close_position",
            "stop_price", "activation_price", "callback_rate", "open_quantity", "cum_quote", "triggered", "amended", "auto_close", "time",
            "update_time",
        ]
        static let liquidations = [
            "sequence", "order_id", "time", "account_id", "symbol", "side", "bankruptcy_price", "quantity", "filled_quantity",
            "liquidation_fee", "surplus", "taken_over_quantity", "deleveraged_quantity",
        ]
        static let candles = [
            "symbol", "open_time", "open", "high", "low", "close", "volume", "quote_volume", "trade_count", "first_trade_id",
            "last_trade_id",
        ]
    }

    init(firstSequence: SequenceNumber) {
        self.firstSequence = firstSequence
    }

    /// Every row the batch writes, counted (the projector's rows/s).
    var rowCount: Int {
        trades.count + postings.count + markPrices.count + fundingPayments.count + adlFills.count + insuranceHistory.count
            + orderEvents.count + accounts.count + touchedBalances.count + touchedPositions.count + touchedOrders.count
            + liquidations.count + candles.count
    }

    private mutating func symbolName(_ id: SymbolID, _ replica: borrowing ExchangeState) -> [UInt8] {
        if Int(id) >= symbolNames.count { symbolNames = replica.symbols.map { Array($0.name.utf8) } }
        return symbolNames[Int(id)]
    }

    /// The assets' names by id, as UTF-8, with any asset listed since the last call.
    private mutating func assetNameTable(_ replica: borrowing ExchangeState) -> [[UInt8]] {
        if assetNames.count < replica.assets.count { assetNames = replica.assets.map { Array($0.name.utf8) } }
        return assetNames
    }

    /// Adds one entry's rows and applies it to the replica; `orders` reduces its order
    /// events (the projector keeps it from batch to batch).
    mutating func add(
        entry: JournalEntryLike, payload: EntryPayload, replica: inout ExchangeState, orders lifecycle: inout OrderLifecycle
    ) {
        let sequence = entry.sequence
        let nanos = entry.timeNanos
        days.insert(nanos >= 0 ? nanos / 86_400_000_000_000 : (nanos + 1) / 86_400_000_000_000 - 1)
        var line = 0
        var eventLine = 0
        // The insurance fund's balance per asset, carried through the postings (every
        // change to it is one); read from the replica when the batch starts or an asset is
        // listed.
        if insuranceFund.count != replica.assets.count {
            insuranceFund = replica.assets.indices.map { replica.systemBalance(.insuranceFund, asset: AssetID($0)) }
        }
        // What the postings need of the replica, taken out of it: a closure that captured
        // `replica` itself would copy the whole state for every posting.
        let assetList = replica.assets
        let symbolList = replica.symbols
        let names = assetNameTable(replica)
        // The terms of the settlements this entry starts; a tick that only pays takes them
        // from the settlement in progress (bounded rules).
        var funding: [SymbolID: (rate: Int64, mark: Int64)] = [:]
        func terms(_ symbol: SymbolID, _ replica: borrowing ExchangeState) -> (rate: Int64, mark: Int64) {
            if let started = funding[symbol] { return started }
            guard let settlement = replica.funding.bySymbol[Int(symbol)].fundingSettlement else { return (0, 0) }
            return (settlement.rateE8, settlement.markPriceUnits)
        }
        let reference: UInt64? =
            switch payload.command {
            case .deposit(let transfer), .withdraw(let transfer): transfer.transferID
            default: nil
            }
        for event in payload.events {
            eventLine += 1
            event.forEachPosting(settleAsset: { symbolList[Int($0)].settleAsset }) { posting in
                let scale = Int(assetList[Int(posting.asset)].scale)
                let assetName = names[Int(posting.asset)]
                postings.beginRow()
                postings.int8(sequence)
                postings.int4(line)
                postings.timestamp(nanos: nanos)
                func party(_ side: LedgerAccount) {
                    switch side {
                    case .user(let id):
                        postings.int8(id)
                        postings.null()
                        touchedBalances[BalanceKey(account: id, asset: posting.asset)] = sequence
                    case .system(let system):
                        postings.null()
                        postings.text(system.name)
                    }
                }
                party(posting.from)
                party(posting.to)
                postings.text(assetName)
                postings.numeric(posting.amountMinor, scale: scale)
                postings.text(posting.kind.apiName)
                switch event {
                case .trade(let trade): postings.int8(trade.tradeID)
                case .deposited, .withdrawn: postings.int8(reference)
                default: postings.null()
                }
                func fundMoved(_ sign: Int64) {
                    insuranceFund[Int(posting.asset)] += sign * posting.amountMinor
                    insuranceHistory.beginRow()
                    insuranceHistory.int8(sequence)
                    insuranceHistory.int4(line)
                    insuranceHistory.timestamp(nanos: nanos)
                    insuranceHistory.text(assetName)
                    insuranceHistory.numeric(sign * posting.amountMinor, scale: scale)
                    insuranceHistory.numeric(insuranceFund[Int(posting.asset)], scale: scale)
                    insuranceHistory.text(posting.kind.apiName)
                }
                if posting.from == .system(.insuranceFund) { fundMoved(-1) }
                if posting.to == .system(.insuranceFund) { fundMoved(1) }
                line += 1
            }
            switch event {
            case .deposited(let account, _, _) where replica.account(account) == nil:
                accounts.beginRow()
                accounts.int8(account)
                accounts.int8(sequence)
            case .trade(let trade):
                addTrade(trade, sequence: sequence, nanos: nanos, replica: replica)
                touchPosition(trade.makerAccount, trade.symbol, sequence, realized: trade.makerRealizedPnlMinor, fee: trade.makerFeeMinor)
                touchPosition(trade.takerAccount, trade.symbol, sequence, realized: trade.takerRealizedPnlMinor, fee: trade.takerFeeMinor)
            case .leverageSet(let account, let symbol, _), .marginModeSet(let account, let symbol, _),
                .isolatedMarginAdjusted(let account, let symbol, _):
                touchPosition(account, symbol, sequence)
            case .markPriceSet(let symbol, let price):
                markPrices.beginRow()
                markPrices.text(symbolName(symbol, replica))
                markPrices.int8(sequence)
                markPrices.timestamp(nanos: nanos)
                markPrices.numeric(price, scale: Int(replica.symbols[Int(symbol)].priceScale))
            case .fundingSettled(let symbol, let rate, let mark):
                funding[symbol] = (rate, mark)
            case .fundingPaid(let account, let symbol, let amount):
                addFunding(sequence, eventLine, nanos, symbol, account, amount, terms(symbol, replica), replica)
            case .fundFundingPaid(let symbol, let amount):
                addFunding(sequence, eventLine, nanos, symbol, nil, amount, terms(symbol, replica), replica)
            case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
                liquidations[id] = LiquidationRow(
                    sequence: sequence, timeNanos: nanos, orderID: id, account: account, symbol: symbol, side: side,
                    bankruptcyPriceUnits: price, quantityUnits: quantity)
            case .liquidationSettled(let account, let symbol, let filled, let fee, let surplus):
                if let id = liquidations.first(where: {
                    $0.value.account == account && $0.value.symbol == symbol && $0.value.sequence == sequence
                })?.key {
                    liquidations[id]?.filledUnits = filled
                    liquidations[id]?.feeMinor = fee
                    liquidations[id]?.surplusMinor = fee + surplus
                }
            case .insuranceTakeover(let account, let symbol, _, _, _, let pnl, _):
                touchPosition(account, symbol, sequence, realized: pnl)
            case .autoDeleveraged(let account, let counterparty, let symbol, _, let price, let quantity, let pnl, let otherPnl):
                touchPosition(account, symbol, sequence, realized: pnl)
                touchPosition(counterparty, symbol, sequence, realized: otherPnl)
                let spec = replica.symbols[Int(symbol)]
                adlFills.beginRow()
                adlFills.int8(sequence)
                adlFills.int4(eventLine)
                adlFills.timestamp(nanos: nanos)
                adlFills.int8(account)
                adlFills.int8(counterparty)
                adlFills.text(symbolName(symbol, replica))
                adlFills.numeric(price, scale: Int(spec.priceScale))
                adlFills.numeric(quantity, scale: Int(spec.quantityScale))
                adlFills.numeric(otherPnl, scale: Int(replica.assets[Int(spec.settleAsset)].scale))
            default:
                break
            }
        }
        replica.apply(payload.events, of: payload.command, sequence: sequence, timeNanos: nanos)
        assert(
            insuranceFund.count != replica.assets.count
                || insuranceFund == replica.assets.indices.map { replica.systemBalance(.insuranceFund, asset: AssetID($0)) },
            "the insurance fund moved other than by a posting at \(sequence)")

        // Orders: the shared reducer, then each order the entry touched at its state after it.
        entryOrderEvents.removeAll(keepingCapacity: true)
        lifecycle.record(payload.command, payload.events[...], sequence: sequence, timeNanos: nanos, state: replica, observer: &self)
        // `order_events` leaves out what other rows say: fills (in `trades`; the view
        // `order_history` has both) and the RESTED of an order that went into the book as
        // it came (its NEW says so).
        acceptedUntraded.removeAll(keepingCapacity: true)
        for event in entryOrderEvents {
            if let record = lifecycle.open[event.orderID] { touchedOrders[event.orderID] = record }
            guard let record = touchedOrders[event.orderID] else { continue }
            if event.kind == .takeover || event.kind == .adl { addLiquidationFill(event, record) }
            switch event.kind {
            case .new: acceptedUntraded.insert(event.orderID)
            case .trade:
                acceptedUntraded.remove(event.orderID)
                continue
            case .rested where acceptedUntraded.contains(event.orderID): continue
            default: break
            }
            let spec = replica.symbols[Int(record.symbol)]
            orderEvents.beginRow()
            orderEvents.int8(event.orderID)
            orderEvents.int8(sequence)
            orderEvents.int4(event.line)
            orderEvents.timestamp(nanos: nanos)
            orderEvents.text(event.kind.rawValue)
            orderEvents.numeric(event.priceUnits == 0 ? nil : event.priceUnits, scale: Int(spec.priceScale))
            orderEvents.numeric(event.quantityUnits == 0 ? nil : event.quantityUnits, scale: Int(spec.quantityScale))
            orderEvents.int8(event.tradeID == 0 ? nil : event.tradeID)
            orderEvents.text(event.reason)
        }
        lastSequence = sequence
        lastTimeNanos = nanos
        entryCount += 1
    }

    /// The read models of `state` (a snapshot's) as one batch: every account, its balances
    /// and positions, and the open orders (their earlier history is not in a snapshot:
    /// realized PnL and fees start at 0, orders have no time). Its checkpoint is the
    /// snapshot's sequence.
    mutating func seed(from state: borrowing ExchangeState, orders lifecycle: inout OrderLifecycle) {
        for account in state.accounts {
            accounts.beginRow()
            accounts.int8(account.id)
            accounts.int8(UInt64(0))
            for asset in state.assets where account.balance(asset.id) != 0 {
                touchedBalances[BalanceKey(account: account.id, asset: asset.id)] = state.lastSequence
            }
            for spec in state.symbols where account.position(spec.id) != Position() {
                touchedPositions[PositionKey(account: account.id, symbol: spec.id)] = PositionSums(sequence: state.lastSequence)
            }
        }
        for record in OrderLifecycle.records(openIn: state) {
            lifecycle.seed(record)
            touchedOrders[record.orderID] = record
        }
        lastSequence = state.lastSequence
        entryCount = 0
        isSeed = true
    }

    private mutating func touchPosition(
        _ account: AccountID, _ symbol: SymbolID, _ sequence: SequenceNumber, realized: Int64 = 0, fee: Int64 = 0
    ) {
        let key = PositionKey(account: account, symbol: symbol)
        var sums = touchedPositions[key] ?? PositionSums()
        sums.realizedMinor += realized
        sums.feesMinor += fee
        sums.sequence = sequence
        touchedPositions[key] = sums
    }

    // MARK: OrderLifecycleObserver

    mutating func orderOpened(_ record: OrderRecord) { touchedOrders[record.orderID] = record }

    mutating func orderClosed(_ record: OrderRecord) { touchedOrders[record.orderID] = record }

    mutating func orderEvent(_ event: OrderEvent) { entryOrderEvents.append(event) }

    /// A later entry's takeover or ADL fills of an earlier liquidation order: its row and
    /// the liquidation's quantities.
    mutating func liquidationExtended(_ record: OrderRecord) {
        touchedOrders[record.orderID] = record
    }

    /// A takeover or an ADL fill of a liquidation order: in its own entry's row, or (a
    /// deleveraging in steps) in a row that only adds to the one already written.
    private mutating func addLiquidationFill(_ event: OrderEvent, _ record: OrderRecord) {
        var row =
            liquidations[record.orderID]
            ?? LiquidationRow(
                sequence: record.sequence, timeNanos: record.timeNanos, orderID: record.orderID, account: record.account,
                symbol: record.symbol, side: record.side, bankruptcyPriceUnits: record.priceUnits, quantityUnits: 0)
        if event.kind == .takeover { row.takenOverUnits += event.quantityUnits } else { row.deleveragedUnits += event.quantityUnits }
        liquidations[record.orderID] = row
    }

    private mutating func addFunding(
        _ sequence: SequenceNumber, _ line: Int, _ nanos: Int64, _ symbol: SymbolID, _ account: AccountID?, _ amount: Int64,
        _ funding: (rate: Int64, mark: Int64), _ replica: borrowing ExchangeState
    ) {
        let spec = replica.symbols[Int(symbol)]
        fundingPayments.beginRow()
        fundingPayments.int8(sequence)
        fundingPayments.int4(line)
        fundingPayments.timestamp(nanos: nanos)
        fundingPayments.text(symbolName(symbol, replica))
        fundingPayments.int8(account)
        fundingPayments.bool(account == nil)
        fundingPayments.numeric(funding.rate, scale: 8)
        fundingPayments.numeric(funding.mark, scale: Int(spec.priceScale))
        // Positive: paid by the position, as in the event.
        fundingPayments.numeric(amount, scale: Int(replica.assets[Int(spec.settleAsset)].scale))
    }

    private mutating func addTrade(_ trade: Trade, sequence: SequenceNumber, nanos: Int64, replica: borrowing ExchangeState) {
        let spec = replica.symbols[Int(trade.symbol)]
        let money = Int(replica.assets[Int(spec.settleAsset)].scale)
        trades.beginRow()
        trades.int8(trade.tradeID)
        trades.int8(sequence)
        trades.timestamp(nanos: nanos)
        trades.text(symbolName(trade.symbol, replica))
        trades.int8(trade.makerOrderID)
        trades.int8(trade.takerOrderID)
        trades.int8(trade.makerAccount)
        trades.int8(trade.takerAccount)
        trades.text(trade.takerSide.apiName)
        trades.numeric(trade.priceUnits, scale: Int(spec.priceScale))
        trades.numeric(trade.quantityUnits, scale: Int(spec.quantityScale))
        trades.numeric(trade.makerFeeMinor, scale: money)
        trades.numeric(trade.takerFeeMinor, scale: money)
        trades.numeric(trade.makerRealizedPnlMinor, scale: money)
        trades.numeric(trade.takerRealizedPnlMinor, scale: money)

        let key = CandleKey(symbol: trade.symbol, minute: nanos >= 0 ? nanos / 60_000_000_000 : (nanos + 1) / 60_000_000_000 - 1)
        var candle =
            candles[key]
            ?? {
                candleOrder.append(key)
                return Candle(
                    open: trade.priceUnits, high: trade.priceUnits, low: trade.priceUnits, close: trade.priceUnits,
                    firstTradeID: trade.tradeID, lastTradeID: trade.tradeID)
            }()
        candle.high = max(candle.high, trade.priceUnits)
        candle.low = min(candle.low, trade.priceUnits)
        candle.close = trade.priceUnits
        candle.volume += Int128(trade.quantityUnits)
        candle.quoteVolume += Int128(trade.priceUnits) * Int128(trade.quantityUnits)
        candle.count += 1
        candle.lastTradeID = trade.tradeID
        candles[key] = candle
    }

    /// Renders the mutable rows from the replica's final state and writes the batch.

    /// Renders the mutable rows from the replica's state after the batch's last entry;
    /// then the batch holds everything `write` sends.
    mutating func finish(replica: borrowing ExchangeState) {
        balances = balanceRows(replica)
        positions = positionRows(replica)
        (newOrders, changedOrders) = orderRows(replica)
        liquidationCopy = liquidationRows(replica)
        candleCopy = candleRows(replica)
    }

    /// Sends the batch: COPY of the append-only rows and of the orders it created, the
    /// rest through staging tables and one upsert (or update) per table.
    func write(to connection: PostgresConnection) throws(PostgresError) {
        try writeLedger(to: connection)
        try writeOrders(to: connection)
    }

    /// The ledger lane: trades, postings, the other time series, accounts, balances,
    /// positions and candles.
    func writeLedger(to connection: PostgresConnection) throws(PostgresError) {
        try connection.copy(into: "trades", columns: Columns.trades, rows: trades)
        try connection.copy(into: "postings", columns: Columns.postings, rows: postings)
        try connection.copy(into: "mark_prices", columns: Columns.markPrices, rows: markPrices)
        try connection.copy(into: "funding_payments", columns: Columns.fundingPayments, rows: fundingPayments)
        try connection.copy(into: "adl_fills", columns: Columns.adlFills, rows: adlFills)
        try connection.copy(into: "insurance_fund_history", columns: Columns.insuranceHistory, rows: insuranceHistory)
        try connection.copy(into: "stage_accounts", columns: Columns.accounts, rows: accounts)
        try connection.copy(into: "stage_balances", columns: Columns.balances, rows: balances)
        try connection.copy(into: "stage_positions", columns: Columns.positions, rows: positions)
        try connection.copy(into: "stage_candles", columns: Columns.candles, rows: candleCopy)
        try connection.execute(Self.ledgerUpserts)
    }

    /// The orders lane: order events, orders and liquidations. It touches no table of the
    /// ledger lane, so the two can go on two connections at once (a rebuild's lanes).
    func writeOrders(to connection: PostgresConnection) throws(PostgresError) {
        try connection.copy(into: "order_events", columns: Columns.orderEvents, rows: orderEvents)
        try connection.copy(into: "orders", columns: Columns.orders, rows: newOrders)
        try connection.copy(into: "stage_orders", columns: Columns.orders, rows: changedOrders)
        try connection.copy(into: "stage_liquidations", columns: Columns.liquidations, rows: liquidationCopy)
        try connection.execute(Self.orderUpserts)
    }

    static let ledgerUpserts = """
        INSERT INTO accounts SELECT * FROM stage_accounts ON CONFLICT (account_id) DO NOTHING;
        INSERT INTO balances SELECT * FROM stage_balances ON CONFLICT (account_id, asset)
            DO UPDATE SET wallet = EXCLUDED.wallet, updated_sequence = EXCLUDED.updated_sequence;
        INSERT INTO positions SELECT * FROM stage_positions ON CONFLICT (account_id, symbol)
            DO UPDATE SET size = EXCLUDED.size, entry_cost = EXCLUDED.entry_cost, entry_price = EXCLUDED.entry_price,
                leverage = EXCLUDED.leverage, realized_pnl = positions.realized_pnl + EXCLUDED.realized_pnl,
                fees_paid = positions.fees_paid + EXCLUDED.fees_paid, updated_sequence = EXCLUDED.updated_sequence;
        INSERT INTO candles_1m SELECT * FROM stage_candles ON CONFLICT (symbol, open_time)
            DO UPDATE SET high = greatest(candles_1m.high, EXCLUDED.high), low = least(candles_1m.low, EXCLUDED.low),
                close = EXCLUDED.close, volume = candles_1m.volume + EXCLUDED.volume,
                quote_volume = candles_1m.quote_volume + EXCLUDED.quote_volume,
                trade_count = candles_1m.trade_count + EXCLUDED.trade_count, last_trade_id = EXCLUDED.last_trade_id;
        """

    static let orderUpserts = """
        UPDATE orders o SET price = s.price, quantity = s.quantity, filled_quantity = s.filled_quantity, status = s.status,
                updated_sequence = s.updated_sequence, open_quantity = s.open_quantity, cum_quote = s.cum_quote,
                triggered = s.triggered, amended = s.amended, update_time = s.update_time
            FROM stage_orders s WHERE o.order_id = s.order_id;
        INSERT INTO liquidations SELECT * FROM stage_liquidations ON CONFLICT (order_id)
            DO UPDATE SET taken_over_quantity = liquidations.taken_over_quantity + EXCLUDED.taken_over_quantity,
                deleveraged_quantity = liquidations.deleveraged_quantity + EXCLUDED.deleveraged_quantity;
        """

    private func balanceRows(_ replica: borrowing ExchangeState) -> BinaryCopy {
        var rows = BinaryCopy(columns: Columns.balances.count)
        for (key, sequence) in touchedBalances.sorted(by: { ($0.key.account, $0.key.asset) < ($1.key.account, $1.key.asset) }) {
            guard let account = replica.account(key.account) else { continue }
            let asset = replica.assets[Int(key.asset)]
            rows.beginRow()
            rows.int8(key.account)
            rows.text(asset.name)
            rows.numeric(account.balance(key.asset), scale: Int(asset.scale))
            rows.int8(sequence)
        }
        return rows
    }

    private func positionRows(_ replica: borrowing ExchangeState) -> BinaryCopy {
        var rows = BinaryCopy(columns: Columns.positions.count)
        for (key, sums) in touchedPositions.sorted(by: { ($0.key.account, $0.key.symbol) < ($1.key.account, $1.key.symbol) }) {
            guard let account = replica.account(key.account) else { continue }
            let spec = replica.symbols[Int(key.symbol)]
            let money = Int(replica.assets[Int(spec.settleAsset)].scale)
            let position = account.position(key.symbol)
            rows.beginRow()
            rows.int8(key.account)
            rows.text(spec.name)
            rows.numeric(position.sizeQuantityUnits, scale: Int(spec.quantityScale))
            rows.numeric(position.costMinor, scale: money)
            if position.sizeQuantityUnits == 0 {
                rows.null()
            } else {
                let finer = Int128(100_000_000)
                let price =
                    Int128(position.costMinor) * finer
                    / (Int128(position.sizeQuantityUnits) * Int128(replica.markets[Int(key.symbol)].notionalFactor))
                rows.numeric(price, scale: Int(spec.priceScale) + 8)
            }
            rows.int4(Int(position.leverage == 0 ? spec.defaultLeverage : position.leverage))
            rows.numeric(sums.realizedMinor, scale: money)
            rows.numeric(sums.feesMinor, scale: money)
            rows.int8(sums.sequence)
        }
        return rows
    }

    /// The orders the batch created (COPY into `orders`) and those it changed that were
    /// there before (through `stage_orders`).
    private func orderRows(_ replica: borrowing ExchangeState) -> (created: BinaryCopy, changed: BinaryCopy) {
        var created = BinaryCopy(columns: Columns.orders.count)
        var changed = BinaryCopy(columns: Columns.orders.count)
        for (_, record) in touchedOrders.sorted(by: { $0.key < $1.key }) {
            let spec = replica.symbols[Int(record.symbol)]
            let priceScale = Int(spec.priceScale)
            let quantityScale = Int(spec.quantityScale)
            let isNew = isSeed || record.sequence >= firstSequence
            func rendered(_ rows: inout BinaryCopy) {
                rows.beginRow()
                rows.int8(record.orderID)
                rows.int8(record.account)
                rows.text(record.clientOrderID.isNone ? nil : record.clientOrderID.text)
                rows.text(spec.name)
                rows.text(record.side.apiName)
                rows.text(record.type.apiName)
                rows.text(record.timeInForce.apiName)
                rows.numeric(record.type.hasLimitPrice ? record.priceUnits : nil, scale: priceScale)
                rows.numeric(record.originalQuantityUnits, scale: quantityScale)
                rows.numeric(record.executedQuantityUnits, scale: quantityScale)
                rows.text(record.status.rawValue)
                rows.int8(record.sequence)
                rows.int8(record.updateSequence)
                rows.text(record.workingType.apiName)
                rows.text(record.selfTradePrevention.apiName)
                rows.bool(record.reduceOnly)
                rows.bool(record.closePosition)
                rows.numeric(
                    record.type.isConditional && record.type != .trailingStopMarket ? record.stopPriceUnits : nil, scale: priceScale)
                rows.numeric(record.type == .trailingStopMarket ? record.activationPriceUnits : nil, scale: priceScale)
                // The callback rate in percent, as the API gives it.
                rows.numeric(record.type == .trailingStopMarket ? record.callbackRateE8 : nil, scale: 6)
                rows.numeric(record.openQuantityUnits, scale: quantityScale)
                rows.numeric(record.executedPriceQuantity, scale: priceScale + quantityScale)
                rows.bool(record.triggered)
                rows.bool(record.amended)
                rows.text(record.autoClose?.rawValue)
                if record.sequence == 0 { rows.null() } else { rows.timestamp(nanos: record.timeNanos) }
                if record.updateSequence == 0 { rows.null() } else { rows.timestamp(nanos: record.updateNanos) }
            }
            if isNew { rendered(&created) } else { rendered(&changed) }
        }
        return (created, changed)
    }

    private func liquidationRows(_ replica: borrowing ExchangeState) -> BinaryCopy {
        var rows = BinaryCopy(columns: Columns.liquidations.count)
        for (_, row) in liquidations.sorted(by: { $0.key < $1.key }) {
            let spec = replica.symbols[Int(row.symbol)]
            let money = Int(replica.assets[Int(spec.settleAsset)].scale)
            let quantity = Int(spec.quantityScale)
            rows.beginRow()
            rows.int8(row.sequence)
            rows.int8(row.orderID)
            rows.timestamp(nanos: row.timeNanos)
            rows.int8(row.account)
            rows.text(spec.name)
            rows.text(row.side.apiName)
            rows.numeric(row.bankruptcyPriceUnits, scale: Int(spec.priceScale))
            for (value, scale) in [
                (row.quantityUnits, quantity), (row.filledUnits, quantity), (row.feeMinor, money), (row.surplusMinor, money),
                (row.takenOverUnits, quantity), (row.deleveragedUnits, quantity),
            ] {
                rows.numeric(value, scale: scale)
            }
        }
        return rows
    }

    private func candleRows(_ replica: borrowing ExchangeState) -> BinaryCopy {
        var rows = BinaryCopy(columns: Columns.candles.count)
        for key in candleOrder {
            guard let candle = candles[key] else { continue }
            let spec = replica.symbols[Int(key.symbol)]
            let priceScale = Int(spec.priceScale)
            rows.beginRow()
            rows.text(spec.name)
            rows.timestamp(nanos: key.minute * 60_000_000_000)
            rows.numeric(candle.open, scale: priceScale)
            rows.numeric(candle.high, scale: priceScale)
            rows.numeric(candle.low, scale: priceScale)
            rows.numeric(candle.close, scale: priceScale)
            rows.numeric(candle.volume, scale: Int(spec.quantityScale))
            rows.numeric(candle.quoteVolume, scale: priceScale + Int(spec.quantityScale))
            rows.int8(candle.count)
            rows.int8(candle.firstTradeID)
            rows.int8(candle.lastTradeID)
        }
        return rows
    }
}

/// What the batch needs of a journal entry.
protocol JournalEntryLike {
    var sequence: SequenceNumber { get }
    var timeNanos: Int64 { get }
}

extension JournalEntry: JournalEntryLike {}
