import Journal
import LedgerCore

/// An order as the `orders` table shows it.
struct OrderRow {
    var orderID: OrderID
    var account: AccountID
    var clientOrderID: ClientOrderID
    var symbol: SymbolID
    var side: Side
    var type: OrderType
    var timeInForce: TimeInForce
    var priceUnits: Int64
    var quantityUnits: Int64
    var filledUnits: Int64 = 0
    var status = "NEW"
    var createdSequence: SequenceNumber
    var updatedSequence: SequenceNumber

    var isOpen: Bool { status == "NEW" || status == "PARTIALLY_FILLED" }

    init(orderID: OrderID, order: PlaceOrder, sequence: SequenceNumber) {
        self.orderID = orderID
        account = order.account
        clientOrderID = order.clientOrderID
        symbol = order.symbol
        side = order.side
        type = order.type
        timeInForce = order.timeInForce
        priceUnits = order.priceUnits
        quantityUnits = order.quantityUnits
        createdSequence = sequence
        updatedSequence = sequence
    }

    /// From `SELECT order_id, account_id, client_order_id, symbol, side, type,
    /// time_in_force, price, quantity, filled_quantity, status, created_sequence`.
    init?(databaseRow row: [String?], catalog state: ExchangeState) {
        guard row.count == 12, let id = row[0].flatMap(OrderID.init), let account = row[1].flatMap(AccountID.init),
            let spec = state.symbols.first(where: { $0.name == row[3] }),
            let quantity = try? DecimalText.parse(row[8] ?? "", scale: Int(spec.quantityScale)),
            let filled = try? DecimalText.parse(row[9] ?? "", scale: Int(spec.quantityScale)),
            let created = row[11].flatMap(SequenceNumber.init)
        else { return nil }
        orderID = id
        self.account = account
        clientOrderID = row[2].flatMap { ClientOrderID(text: $0) } ?? .none
        symbol = spec.id
        side = row[4] == "BUY" ? .buy : .sell
        type = row[5] == "MARKET" ? .market : .limit
        timeInForce = TimeInForce.allCases.first { "\($0)".uppercased() == row[6] } ?? .gtc
        priceUnits = row[7].flatMap { try? DecimalText.parse($0, scale: Int(spec.priceScale)) } ?? 0
        quantityUnits = quantity
        filledUnits = filled
        status = row[10] ?? "NEW"
        createdSequence = created
        updatedSequence = created
    }
}

/// One liquidated position, as the `liquidations` table shows it.
struct LiquidationRow {
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

/// The rows one transaction writes.
struct ProjectionBatch {
    let firstSequence: SequenceNumber
    private(set) var lastSequence: SequenceNumber = 0
    /// The journal time of the last entry added (the projector's lag in seconds).
    private(set) var lastTimeNanos: Int64 = 0
    private(set) var entryCount = 0
    private var trades = CopyRows()
    private var ledgerEntries = CopyRows()
    private var accounts = CopyRows()
    private var balances = CopyRows()
    private var positions = CopyRows()
    private var orders = CopyRows()
    private var markPrices = CopyRows()
    private var fundingPayments = CopyRows()
    private var liquidations = CopyRows()
    private var adlFills = CopyRows()
    private var insuranceHistory = CopyRows()
    /// Keys touched in the batch; their final values are written once.
    private var touchedBalances: Set<BalanceKey> = []
    private var touchedPositions: [PositionKey: (realizedMinor: Int64, feesMinor: Int64)] = [:]
    private var touchedOrders: [OrderID: OrderRow] = [:]

    struct BalanceKey: Hashable {
        var account: AccountID
        var asset: AssetID
    }

    struct PositionKey: Hashable {
        var account: AccountID
        var symbol: SymbolID
    }

    init(firstSequence: SequenceNumber) {
        self.firstSequence = firstSequence
    }

    /// Adds one entry's rows and applies it to the replica.
    mutating func add(entry: JournalEntryLike, payload: EntryPayload, replica: inout ExchangeState, openOrders: inout [OrderID: OrderRow]) {
        let sequence = entry.sequence
        let time = Timestamp.text(nanos: entry.timeNanos)
        var line = 0
        var ordersTouched: [OrderID] = []
        var eventLine = 0
        // The insurance fund's balance per asset, carried through the entry's postings.
        var fund = replica.assets.indices.map { replica.systemBalance(.insuranceFund, asset: AssetID($0)) }
        // The terms of the settlements this entry starts; a tick that only pays takes them
        // from the settlement in progress (bounded rules).
        var funding: [SymbolID: (rate: Int64, mark: Int64)] = [:]
        func terms(_ symbol: SymbolID) -> (rate: Int64, mark: Int64) {
            if let started = funding[symbol] { return started }
            guard let settlement = replica.markets[Int(symbol)].fundingSettlement else { return (0, 0) }
            return (settlement.rateE8, settlement.markPriceUnits)
        }
        var liquidation: LiquidationRow?
        func flushLiquidation() {
            guard let row = liquidation else { return }
            let spec = replica.symbols[Int(row.symbol)]
            let money = Int(replica.assets[Int(spec.settleAsset)].scale)
            let quantity = Int(spec.quantityScale)
            liquidations.field(sequence)
            liquidations.field(row.orderID)
            liquidations.field(time)
            liquidations.field(row.account)
            liquidations.field(spec.name)
            liquidations.field(row.side == .buy ? "BUY" : "SELL")
            liquidations.field(DecimalText.format(row.bankruptcyPriceUnits, scale: Int(spec.priceScale)))
            for (value, scale) in [
                (row.quantityUnits, quantity), (row.filledUnits, quantity), (row.feeMinor, money), (row.surplusMinor, money),
                (row.takenOverUnits, quantity), (row.deleveragedUnits, quantity),
            ] {
                liquidations.field(DecimalText.format(value, scale: scale))
            }
            liquidations.endRow()
            liquidation = nil
        }
        for event in payload.events {
            eventLine += 1
            event.forEachPosting(settleAsset: { replica.symbols[Int($0)].settleAsset }) { posting in
                let scale = Int(replica.assets[Int(posting.asset)].scale)
                let reference: UInt64? =
                    switch event {
                    case .trade(let trade): trade.tradeID
                    case .deposited, .withdrawn:
                        if case .deposit(let transfer) = payload.command {
                            transfer.transferID
                        } else if case .withdraw(let transfer) = payload.command {
                            transfer.transferID
                        } else {
                            nil
                        }
                    default: nil
                    }
                for (account, sign) in [(posting.from, Int64(-1)), (posting.to, Int64(1))] {
                    ledgerEntries.field(sequence)
                    ledgerEntries.field(Int64(line))
                    ledgerEntries.field(time)
                    switch account {
                    case .user(let id):
                        ledgerEntries.field(id)
                        ledgerEntries.field(nil)
                        touchedBalances.insert(BalanceKey(account: id, asset: posting.asset))
                    case .system(let system):
                        ledgerEntries.field(nil)
                        ledgerEntries.field(system.name)
                        if system == .insuranceFund {
                            fund[Int(posting.asset)] += sign * posting.amountMinor
                            insuranceHistory.field(sequence)
                            insuranceHistory.field(Int64(line))
                            insuranceHistory.field(time)
                            insuranceHistory.field(replica.assets[Int(posting.asset)].name)
                            insuranceHistory.field(DecimalText.format(sign * posting.amountMinor, scale: scale))
                            insuranceHistory.field(DecimalText.format(fund[Int(posting.asset)], scale: scale))
                            insuranceHistory.field(Self.kindName(posting.kind))
                            insuranceHistory.endRow()
                        }
                    }
                    ledgerEntries.field(replica.assets[Int(posting.asset)].name)
                    ledgerEntries.field(DecimalText.format(sign * posting.amountMinor, scale: scale))
                    ledgerEntries.field(Self.kindName(posting.kind))
                    ledgerEntries.field(reference.map { String($0) })
                    ledgerEntries.endRow()
                    line += 1
                }
            }
            switch event {
            case .deposited(let account, _, _) where replica.account(account) == nil:
                accounts.field(account)
                accounts.field(sequence)
                accounts.endRow()
            case .orderAccepted(let id):
                if case .placeOrder(let order) = payload.command {
                    touchedOrders[id] = OrderRow(orderID: id, order: order, sequence: sequence)
                    ordersTouched.append(id)
                }
            case .trade(let trade):
                addTrade(trade, sequence: sequence, time: time, replica: replica)
                for (orderID, account, fee, pnl) in [
                    (trade.makerOrderID, trade.makerAccount, trade.makerFeeMinor, trade.makerRealizedPnlMinor),
                    (trade.takerOrderID, trade.takerAccount, trade.takerFeeMinor, trade.takerRealizedPnlMinor),
                ] {
                    let key = PositionKey(account: account, symbol: trade.symbol)
                    let sums = touchedPositions[key] ?? (0, 0)
                    touchedPositions[key] = (sums.realizedMinor + pnl, sums.feesMinor + fee)
                    if var row = touchedOrders[orderID] ?? openOrders[orderID] {
                        row.filledUnits += trade.quantityUnits
                        row.status = row.filledUnits == row.quantityUnits ? "FILLED" : "PARTIALLY_FILLED"
                        row.updatedSequence = sequence
                        touchedOrders[orderID] = row
                        ordersTouched.append(orderID)
                    }
                }
            case .orderRested(let id, _):
                touchedOrders[id]?.updatedSequence = sequence
            case .orderExpired(let id, _, _):
                touchedOrders[id]?.status = "EXPIRED"
            case .orderCancelled(let id, _):
                if var row = touchedOrders[id] ?? openOrders[id] {
                    row.status = "CANCELED"
                    row.updatedSequence = sequence
                    touchedOrders[id] = row
                    ordersTouched.append(id)
                }
            case .leverageSet(let account, let symbol, _), .marginModeSet(let account, let symbol, _),
                .isolatedMarginAdjusted(let account, let symbol, _):
                let key = PositionKey(account: account, symbol: symbol)
                if touchedPositions[key] == nil { touchedPositions[key] = (0, 0) }
            case .markPriceSet(let symbol, let price):
                markPrices.field(replica.symbols[Int(symbol)].name)
                markPrices.field(sequence)
                markPrices.field(time)
                markPrices.field(DecimalText.format(price, scale: Int(replica.symbols[Int(symbol)].priceScale)))
                markPrices.endRow()
            case .fundingSettled(let symbol, let rate, let mark):
                funding[symbol] = (rate, mark)
            case .fundingPaid(let account, let symbol, let amount):
                addFunding(sequence, eventLine, time, symbol, account, amount, terms(symbol), replica)
            case .fundFundingPaid(let symbol, let amount):
                addFunding(sequence, eventLine, time, symbol, nil, amount, terms(symbol), replica)
            case .liquidationOrderPlaced(let id, let account, let symbol, let side, let price, let quantity):
                flushLiquidation()
                liquidation = LiquidationRow(
                    orderID: id, account: account, symbol: symbol, side: side, bankruptcyPriceUnits: price, quantityUnits: quantity)
            case .liquidationSettled(_, _, let filled, let fee, let surplus):
                liquidation?.filledUnits = filled
                liquidation?.feeMinor = fee
                liquidation?.surplusMinor = fee + surplus
            case .insuranceTakeover(let account, let symbol, _, _, let quantity, let pnl, _):
                liquidation?.takenOverUnits += quantity
                let key = PositionKey(account: account, symbol: symbol)
                touchedPositions[key] = ((touchedPositions[key]?.realizedMinor ?? 0) + pnl, touchedPositions[key]?.feesMinor ?? 0)
            case .autoDeleveraged(let account, let counterparty, let symbol, _, let price, let quantity, let pnl, let otherPnl):
                liquidation?.deleveragedUnits += quantity
                for (who, realized) in [(account, pnl), (counterparty, otherPnl)] {
                    let key = PositionKey(account: who, symbol: symbol)
                    touchedPositions[key] = ((touchedPositions[key]?.realizedMinor ?? 0) + realized, touchedPositions[key]?.feesMinor ?? 0)
                }
                let spec = replica.symbols[Int(symbol)]
                adlFills.field(sequence)
                adlFills.field(Int64(eventLine))
                adlFills.field(time)
                adlFills.field(account)
                adlFills.field(counterparty)
                adlFills.field(spec.name)
                adlFills.field(DecimalText.format(price, scale: Int(spec.priceScale)))
                adlFills.field(DecimalText.format(quantity, scale: Int(spec.quantityScale)))
                adlFills.field(DecimalText.format(otherPnl, scale: Int(replica.assets[Int(spec.settleAsset)].scale)))
                adlFills.endRow()
            case .restingOrderExpired(let id, _, _):
                if var row = touchedOrders[id] ?? openOrders[id] {
                    row.status = "EXPIRED"
                    row.updatedSequence = sequence
                    touchedOrders[id] = row
                    ordersTouched.append(id)
                }
            case .conditionalOrderCancelled(let id):
                if var row = touchedOrders[id] ?? openOrders[id] {
                    row.status = "CANCELED"
                    row.updatedSequence = sequence
                    touchedOrders[id] = row
                    ordersTouched.append(id)
                }
            default:
                break
            }
        }
        flushLiquidation()
        replica.apply(payload.events, of: payload.command, sequence: sequence, timeNanos: entry.timeNanos)
        for id in ordersTouched {
            guard let row = touchedOrders[id] else { continue }
            if row.isOpen { openOrders[id] = row } else { openOrders.removeValue(forKey: id) }
        }
        lastSequence = sequence
        lastTimeNanos = entry.timeNanos
        entryCount += 1
    }

    private mutating func addFunding(
        _ sequence: SequenceNumber, _ line: Int, _ time: String, _ symbol: SymbolID, _ account: AccountID?, _ amount: Int64,
        _ funding: (rate: Int64, mark: Int64), _ replica: ExchangeState
    ) {
        let spec = replica.symbols[Int(symbol)]
        fundingPayments.field(sequence)
        fundingPayments.field(Int64(line))
        fundingPayments.field(time)
        fundingPayments.field(spec.name)
        fundingPayments.field(account.map { String($0) })
        fundingPayments.field(account == nil ? "true" : "false")
        fundingPayments.field(DecimalText.format(funding.rate, scale: 8))
        fundingPayments.field(DecimalText.format(funding.mark, scale: Int(spec.priceScale)))
        // Positive: paid by the position, as in the event.
        fundingPayments.field(DecimalText.format(amount, scale: Int(replica.assets[Int(spec.settleAsset)].scale)))
        fundingPayments.endRow()
    }

    private mutating func addTrade(_ trade: Trade, sequence: SequenceNumber, time: String, replica: ExchangeState) {
        let spec = replica.symbols[Int(trade.symbol)]
        let money = Int(replica.assets[Int(spec.settleAsset)].scale)
        trades.field(trade.tradeID)
        trades.field(sequence)
        trades.field(time)
        trades.field(spec.name)
        trades.field(trade.makerOrderID)
        trades.field(trade.takerOrderID)
        trades.field(trade.makerAccount)
        trades.field(trade.takerAccount)
        trades.field(trade.takerSide == .buy ? "BUY" : "SELL")
        trades.field(DecimalText.format(trade.priceUnits, scale: Int(spec.priceScale)))
        trades.field(DecimalText.format(trade.quantityUnits, scale: Int(spec.quantityScale)))
        for value in [trade.makerFeeMinor, trade.takerFeeMinor, trade.makerRealizedPnlMinor, trade.takerRealizedPnlMinor] {
            trades.field(DecimalText.format(value, scale: money))
        }
        trades.endRow()
    }

    /// Renders the mutable rows from the replica's final state.
    mutating func finish(replica: ExchangeState) {
        for key in touchedBalances.sorted(by: { ($0.account, $0.asset) < ($1.account, $1.asset) }) {
            guard let account = replica.account(key.account) else { continue }
            let asset = replica.assets[Int(key.asset)]
            balances.field(key.account)
            balances.field(asset.name)
            balances.field(DecimalText.format(account.balance(key.asset), scale: Int(asset.scale)))
            balances.field(lastSequence)
            balances.endRow()
        }
        for (key, sums) in touchedPositions.sorted(by: { ($0.key.account, $0.key.symbol) < ($1.key.account, $1.key.symbol) }) {
            guard let account = replica.account(key.account) else { continue }
            let spec = replica.symbols[Int(key.symbol)]
            let money = Int(replica.assets[Int(spec.settleAsset)].scale)
            let position = account.position(key.symbol)
            positions.field(key.account)
            positions.field(spec.name)
            positions.field(DecimalText.format(position.sizeQuantityUnits, scale: Int(spec.quantityScale)))
            positions.field(DecimalText.format(position.costMinor, scale: money))
            if position.sizeQuantityUnits == 0 {
                positions.field(nil)
            } else {
                let finer = Int128(100_000_000)
                let price =
                    Int128(position.costMinor) * finer
                    / (Int128(position.sizeQuantityUnits) * Int128(replica.markets[Int(key.symbol)].notionalFactor))
                positions.field(DecimalText.format(price, scale: Int(spec.priceScale) + 8))
            }
            positions.field(Int64(position.leverage == 0 ? spec.defaultLeverage : position.leverage))
            positions.field(DecimalText.format(sums.realizedMinor, scale: money))
            positions.field(DecimalText.format(sums.feesMinor, scale: money))
            positions.field(lastSequence)
            positions.endRow()
        }
        for (_, row) in touchedOrders.sorted(by: { $0.key < $1.key }) {
            let spec = replica.symbols[Int(row.symbol)]
            orders.field(row.orderID)
            orders.field(row.account)
            orders.field(row.clientOrderID.isNone ? nil : row.clientOrderID.text)
            orders.field(spec.name)
            orders.field(row.side == .buy ? "BUY" : "SELL")
            orders.field(row.type == .limit ? "LIMIT" : "MARKET")
            orders.field("\(row.timeInForce)".uppercased())
            orders.field(row.type == .limit ? DecimalText.format(row.priceUnits, scale: Int(spec.priceScale)) : nil)
            orders.field(DecimalText.format(row.quantityUnits, scale: Int(spec.quantityScale)))
            orders.field(DecimalText.format(row.filledUnits, scale: Int(spec.quantityScale)))
            orders.field(row.status)
            orders.field(row.createdSequence)
            orders.field(row.updatedSequence)
            orders.endRow()
        }
    }

    func write(to connection: PostgresConnection) throws(PostgresError) {
        // Append-only tables take their rows directly; the mutable ones go through staging
        // tables and are upserted below.
        let copies: [(table: String, columns: [String], rows: CopyRows)] = [
            (
                "trades",
                [
                    "trade_id", "sequence", "time", "symbol", "maker_order_id", "taker_order_id", "maker_account", "taker_account",
                    "taker_side", "price", "quantity", "maker_fee", "taker_fee", "maker_realized_pnl", "taker_realized_pnl",
                ], trades
            ),
            (
                "ledger_entries", ["sequence", "line", "time", "account_id", "system_account", "asset", "amount", "kind", "reference"],
                ledgerEntries
            ),
            ("mark_prices", ["symbol", "sequence", "time", "mark_price"], markPrices),
            (
                "funding_payments",
                ["sequence", "line", "time", "symbol", "account_id", "insurance_fund", "funding_rate", "mark_price", "amount"],
                fundingPayments
            ),
            (
                "liquidations",
                [
                    "sequence", "order_id", "time", "account_id", "symbol", "side", "bankruptcy_price", "quantity", "filled_quantity",
                    "liquidation_fee", "surplus", "taken_over_quantity", "deleveraged_quantity",
                ], liquidations
            ),
            (
                "adl_fills",
                [
                    "sequence", "line", "time", "liquidated_account_id", "counterparty_account_id", "symbol", "price", "quantity",
                    "counterparty_realized_pnl",
                ], adlFills
            ),
            ("insurance_fund_history", ["sequence", "line", "time", "asset", "amount", "balance", "kind"], insuranceHistory),
            ("stage_accounts", ["account_id", "first_sequence"], accounts),
            ("stage_balances", ["account_id", "asset", "wallet", "updated_sequence"], balances),
            (
                "stage_positions",
                ["account_id", "symbol", "size", "entry_cost", "entry_price", "leverage", "realized_pnl", "fees_paid", "updated_sequence"],
                positions
            ),
            (
                "stage_orders",
                [
                    "order_id", "account_id", "client_order_id", "symbol", "side", "type", "time_in_force", "price", "quantity",
                    "filled_quantity", "status", "created_sequence", "updated_sequence",
                ], orders
            ),
        ]
        for copy in copies {
            try connection.copy(into: copy.table, columns: copy.columns, data: copy.rows.bytes)
        }
        try connection.execute(
            """
            INSERT INTO accounts SELECT * FROM stage_accounts ON CONFLICT (account_id) DO NOTHING;
            INSERT INTO balances SELECT * FROM stage_balances ON CONFLICT (account_id, asset)
                DO UPDATE SET wallet = EXCLUDED.wallet, updated_sequence = EXCLUDED.updated_sequence;
            INSERT INTO positions SELECT * FROM stage_positions ON CONFLICT (account_id, symbol)
                DO UPDATE SET size = EXCLUDED.size, entry_cost = EXCLUDED.entry_cost, entry_price = EXCLUDED.entry_price,
                    leverage = EXCLUDED.leverage, realized_pnl = positions.realized_pnl + EXCLUDED.realized_pnl,
                    fees_paid = positions.fees_paid + EXCLUDED.fees_paid, updated_sequence = EXCLUDED.updated_sequence;
            INSERT INTO orders SELECT * FROM stage_orders ON CONFLICT (order_id)
                DO UPDATE SET filled_quantity = EXCLUDED.filled_quantity, status = EXCLUDED.status,
                    updated_sequence = EXCLUDED.updated_sequence;
            """)
    }

    static func kindName(_ kind: PostingKind) -> String {
        switch kind {
        case .deposit: "deposit"
        case .withdrawal: "withdrawal"
        case .fee: "fee"
        case .realizedPnl: "realized_pnl"
        case .funding: "funding"
        case .insuranceDeposit: "insurance_deposit"
        case .liquidationFee: "liquidation_fee"
        case .liquidationSurplus: "liquidation_surplus"
        case .badDebt: "bad_debt"
        }
    }
}

/// What the batch needs of a journal entry.
protocol JournalEntryLike {
    var sequence: SequenceNumber { get }
    var timeNanos: Int64 { get }
}

/// UTC timestamps for PostgreSQL, from nanoseconds since 1970, to the microsecond.
enum Timestamp {
    static func text(nanos: Int64) -> String {
        let micros = nanos / 1_000
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 {
            fraction += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let micro = String(fraction)
        return
            "\(year)-\(two(month))-\(two(day)) \(two(rest / 3_600)):\(two(rest / 60 % 60)):\(two(rest % 60)).\(String(repeating: "0", count: 6 - micro.count))\(micro)+00"
    }
}
extension JournalEntry: JournalEntryLike {}
