import LedgerCore

/// A channel of the live stream (docs/API.md, "Live stream"): public per symbol, or one
/// account's own.
enum StreamChannel: Hashable, Sendable {
    case trades(SymbolID)
    case depth(SymbolID)
    case markPrice(SymbolID)
    case funding(SymbolID)
    case liquidations(SymbolID)
    case account(AccountID)

    static let kinds = ["trade", "depth", "markPrice", "funding", "forceOrder"]

    /// `BTCUSDT@trade`, `BTCUSDT@depth`, `BTCUSDT@markPrice`, `BTCUSDT@funding`,
    /// `BTCUSDT@forceOrder`, `account@7`.
    func name<Symbols: RandomAccessCollection<SymbolSpec>>(_ symbols: Symbols) -> String where Symbols.Index == Int {
        func symbol(_ id: SymbolID) -> String { Int(id) < symbols.count ? symbols[Int(id)].name : "\(id)" }
        switch self {
        case .trades(let id): return symbol(id) + "@trade"
        case .depth(let id): return symbol(id) + "@depth"
        case .markPrice(let id): return symbol(id) + "@markPrice"
        case .funding(let id): return symbol(id) + "@funding"
        case .liquidations(let id): return symbol(id) + "@forceOrder"
        case .account(let id): return "account@\(id)"
        }
    }

    /// A channel by its name, or why there is none.
    static func parse(_ name: String, symbols: [SymbolSpec]) -> Result<StreamChannel, HTTPFailure> {
        let parts = name.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(HTTPFailure(.badRequest, "stream \(name) is not NAME@KIND")) }
        if parts[0] == "account" {
            guard let id = UInt64(parts[1]), id <= Limits.idMax else {
                return .failure(HTTPFailure(.outOfRange, "account \(parts[1]) is outside its domain 0 ... 2^63 - 1"))
            }
            return .success(.account(id))
        }
        guard let spec = symbols.first(where: { $0.name == parts[0] }) else {
            return .failure(HTTPFailure(.notFound, "unknown symbol \(parts[0])"))
        }
        switch parts[1] {
        case "trade": return .success(.trades(spec.id))
        case "depth": return .success(.depth(spec.id))
        case "markPrice": return .success(.markPrice(spec.id))
        case "funding": return .success(.funding(spec.id))
        case "forceOrder": return .success(.liquidations(spec.id))
        default:
            return .failure(HTTPFailure(.badRequest, "stream kind \(parts[1]) is not one of \(kinds.joined(separator: ", ")), account"))
        }
    }
}

/// One message of the stream: a JSON object naming its stream and the journal sequence
/// of the entry it comes from.
struct StreamMessage: Sendable {
    var sequence: SequenceNumber
    var channel: StreamChannel
    var text: String
}

/// Turns durable entries into stream messages, on the state follower's thread: each entry
/// gives, per channel it touches, the facts of that entry (Binance's event names where
/// Binance has the event).
struct StreamFeed {
    /// A price level of a book.
    struct Level: Hashable {
        var symbol: SymbolID
        var side: Side
        var priceUnits: Int64
    }

    /// The sequence of each symbol's last depth update (Binance's `pu`).
    private var lastDepthSequence: [SymbolID: SequenceNumber] = [:]

    /// The levels of the resting orders an entry's events name, as `state` holds them;
    /// called before and after the entry is applied, so that a level an order left and a
    /// level it joined are both reported.
    static func touchedLevels(_ events: ArraySlice<Event>, state: borrowing ExchangeState, into levels: inout Set<Level>) {
        func add(_ id: OrderID) {
            if let (symbol, order) = state.openOrder(id) {
                levels.insert(Level(symbol: symbol, side: order.side, priceUnits: order.priceUnits))
            }
        }
        for event in events {
            switch event {
            case .trade(let trade): add(trade.makerOrderID)
            case .orderRested(let id, _), .orderCancelled(let id, _), .orderExpired(let id, _, _), .restingOrderExpired(let id, _, _),
                .orderReduced(let id, _), .orderAmended(let id, _, _):
                add(id)
            default: break
            }
        }
    }

    static func milliseconds(_ nanos: Int64) -> Int { Int(nanos / 1_000_000) }

    /// The messages of one entry, after the follower applied it to `state` and recorded it
    /// in `history`; `touched` from `touchedLevels` before and after.
    mutating func messages(
        _ command: Command, _ events: ArraySlice<Event>, sequence: SequenceNumber, timeNanos: Int64, touched: Set<Level>,
        state: borrowing ExchangeState, history: borrowing RecentHistory, wants: (StreamChannel) -> Bool = { _ in true },
        into messages: inout [StreamMessage]
    ) {
        let time = Self.milliseconds(timeNanos)
        let symbols = state.symbols
        func emit(_ channel: StreamChannel, _ event: String, _ fields: @autoclosure () -> [String: Any]) {
            guard wants(channel) else { return }
            var object = fields()
            object["stream"] = channel.name(symbols)
            object["e"] = event
            object["E"] = time
            object["sequence"] = Int(sequence)
            messages.append(StreamMessage(sequence: sequence, channel: channel, text: StreamJSON.text(object)))
        }
        // The hot messages (every trade and every book change of a watched symbol) are
        // written straight into their text; the rest go through a dictionary.
        func emitLine(_ channel: StreamChannel, _ event: String, _ fields: (inout JSONLine) -> Void) {
            guard wants(channel) else { return }
            var line = JSONLine()
            line.string("stream", channel.name(symbols))
            line.string("e", event)
            line.int("E", time)
            line.int("sequence", Int(sequence))
            fields(&line)
            messages.append(StreamMessage(sequence: sequence, channel: channel, text: line.finished))
        }
        func price(_ symbol: SymbolID, _ units: Int64) -> String { DecimalText.format(units, scale: Int(symbols[Int(symbol)].priceScale)) }
        func quantity(_ symbol: SymbolID, _ units: Int64) -> String {
            DecimalText.format(units, scale: Int(symbols[Int(symbol)].quantityScale))
        }
        var accounts: [AccountID: String] = [:]  // touched account → the reason of its update
        var orders: [OrderID: String] = [:]  // touched order → its last execution type
        var fills: [AccountID: [[String: Any]]] = [:]
        var orderOrder: [OrderID] = []
        func touch(_ id: OrderID, _ execution: String) {
            if orders[id] == nil { orderOrder.append(id) }
            orders[id] = execution
        }
        for event in events {
            switch event {
            case .trade(let trade):
                let symbol = trade.symbol
                emitLine(.trades(symbol), "trade") { line in
                    line.string("s", symbols[Int(symbol)].name)
                    line.int("t", Int(trade.tradeID))
                    line.string("p", price(symbol, trade.priceUnits))
                    line.string("q", quantity(symbol, trade.quantityUnits))
                    line.int("T", time)
                    line.bool("m", trade.takerSide == .sell)
                }
                // The accounts' own channels only when watched: this runs for every trade.
                for (account, isMaker) in [(trade.makerAccount, true), (trade.takerAccount, false)] where wants(.account(account)) {
                    touch(isMaker ? trade.makerOrderID : trade.takerOrderID, "TRADE")
                    let settle = state.assets[Int(symbols[Int(symbol)].settleAsset)]
                    accounts[account] = "ORDER"
                    fills[account, default: []].append([
                        "t": Int(trade.tradeID), "s": symbols[Int(symbol)].name,
                        "i": Int(isMaker ? trade.makerOrderID : trade.takerOrderID), "p": price(symbol, trade.priceUnits),
                        "q": quantity(symbol, trade.quantityUnits), "m": isMaker,
                        "n": DecimalText.format(isMaker ? trade.makerFeeMinor : trade.takerFeeMinor, scale: Int(settle.scale)),
                        "rp": DecimalText.format(
                            isMaker ? trade.makerRealizedPnlMinor : trade.takerRealizedPnlMinor, scale: Int(settle.scale)),
                    ])
                }
            case .orderAccepted(let id), .conditionalOrderPlaced(let id): touch(id, "NEW")
            case .orderRested(let id, _): touch(id, orders[id] ?? "NEW")
            case .orderCancelled(let id, _), .conditionalOrderCancelled(let id): touch(id, "CANCELED")
            case .orderExpired(let id, _, _), .restingOrderExpired(let id, _, _), .triggeredOrderRejected(let id, _): touch(id, "EXPIRED")
            case .orderReduced(let id, _), .orderAmended(let id, _, _): touch(id, "AMENDMENT")
            case .conditionalOrderTriggered(let id, _): touch(id, "TRIGGERED")
            case .markPriceSet(let symbol, let units), .indexPriceSet(let symbol, let units):
                _ = units
                let market = state.markets[Int(symbol)]
                emit(
                    .markPrice(symbol), "markPriceUpdate",
                    [
                        "s": symbols[Int(symbol)].name, "p": price(symbol, market.markPriceUnits),
                        "i": price(symbol, market.indexPriceUnits),
                    ])
            case .fundingRateSet(let symbol, let rate):
                var fields: [String: Any] = ["s": symbols[Int(symbol)].name, "r": DecimalText.format(rate, scale: 8)]
                if symbols[Int(symbol)].fundingIntervalSeconds > 0 {
                    fields["T"] = Self.milliseconds(
                        ExchangeState.nextFundingTime(after: timeNanos, intervalSeconds: symbols[Int(symbol)].fundingIntervalSeconds))
                }
                emit(.funding(symbol), "fundingRate", fields)
            case .fundingSettled(let symbol, let rate, let mark):
                emit(
                    .funding(symbol), "fundingSettled",
                    ["s": symbols[Int(symbol)].name, "r": DecimalText.format(rate, scale: 8), "p": price(symbol, mark)])
            case .fundingSettlementCompleted(let symbol, let positions):
                emit(.funding(symbol), "fundingSettlementCompleted", ["s": symbols[Int(symbol)].name, "n": Int(positions)])
            case .fundingPaid(let account, _, _):
                accounts[account] = "FUNDING_FEE"
            case .liquidationOrderPlaced(let id, let account, let symbol, let side, let bankruptcy, let amount):
                emit(
                    .liquidations(symbol), "forceOrder",
                    [
                        "o": [
                            "s": symbols[Int(symbol)].name, "S": side == .buy ? "BUY" : "SELL", "o": "LIMIT", "f": "IOC",
                            "q": quantity(symbol, amount), "p": price(symbol, bankruptcy), "i": Int(id),
                        ] as [String: Any]
                    ])
                accounts[account] = "LIQUIDATION"
                touch(id, "NEW")
            case .insuranceTakeover(let account, let symbol, let side, let units, let amount, _, _):
                emit(
                    .liquidations(symbol), "insuranceTakeover",
                    [
                        "s": symbols[Int(symbol)].name, "S": side == .buy ? "BUY" : "SELL", "p": price(symbol, units),
                        "q": quantity(symbol, amount),
                    ])
                accounts[account] = "LIQUIDATION"
            case .autoDeleveraged(let account, let counterparty, let symbol, let side, let units, let amount, _, _):
                emit(
                    .liquidations(symbol), "adl",
                    [
                        "s": symbols[Int(symbol)].name, "S": side == .buy ? "BUY" : "SELL", "p": price(symbol, units),
                        "q": quantity(symbol, amount),
                    ])
                accounts[account] = "LIQUIDATION"
                accounts[counterparty] = "ADL"
            case .liquidationTriggered(let account, _, _, _, _), .liquidationSettled(let account, _, _, _, _),
                .badDebtCovered(let account, _, _):
                accounts[account] = "LIQUIDATION"
            case .deposited(let account, _, _): accounts[account] = "DEPOSIT"
            case .withdrawn(let account, _, _): accounts[account] = "WITHDRAW"
            case .isolatedMarginAdjusted(let account, _, _), .marginModeSet(let account, _, _), .leverageSet(let account, _, _):
                accounts[account] = "MARGIN_TYPE_CHANGE"
            default: break
            }
        }
        // Depth: each touched level's quantity after the entry (0: gone), per symbol.
        var bySymbol: [SymbolID: [Level]] = [:]
        for level in touched { bySymbol[level.symbol, default: []].append(level) }
        for symbol in bySymbol.keys.sorted() where wants(.depth(symbol)) {
            let book = state.books.bySymbol[Int(symbol)]
            let levels = bySymbol[symbol]!.sorted { ($0.side.rawValue, $0.priceUnits) < ($1.side.rawValue, $1.priceUnits) }
            func side(_ side: Side) -> String {
                var text = "["
                for level in levels where level.side == side {
                    if text.utf8.count > 1 { text += "," }
                    text +=
                        "[\"" + price(symbol, level.priceUnits) + "\",\""
                        + quantity(symbol, book.quantity(side, atPrice: level.priceUnits)) + "\"]"
                }
                return text + "]"
            }
            emitLine(.depth(symbol), "depthUpdate") { line in
                line.string("s", symbols[Int(symbol)].name)
                line.int("U", Int(sequence))
                line.int("u", Int(sequence))
                line.int("pu", Int(lastDepthSequence[symbol] ?? 0))
                line.raw("b", side(.buy))
                line.raw("a", side(.sell))
            }
            lastDepthSequence[symbol] = sequence
        }
        // The accounts' own channels: their orders, fills, balances and positions.
        for id in orderOrder {
            guard let record = history.order(id), Int(record.symbol) < symbols.count, wants(.account(record.account)) else { continue }
            accounts[record.account] = accounts[record.account] ?? "ORDER"
            var object = HistoryViews.order(record, state)
            object["x"] = orders[id]
            emit(.account(record.account), "ORDER_TRADE_UPDATE", ["o": object])
        }
        for account in accounts.keys.sorted() where wants(.account(account)) {
            guard let index = state.accountIndex(of: account) else { continue }
            var balances: [[String: Any]] = []
            for asset in state.assets where state.accounts[index].balance(asset.id) != 0 {
                balances.append([
                    "a": asset.name, "wb": DecimalText.format(state.accounts[index].balance(asset.id), scale: Int(asset.scale)),
                ])
            }
            var positions: [[String: Any]] = []
            for spec in state.symbols {
                let position = state.accounts[index].position(spec.id)
                if position == Position() { continue }
                positions.append(Views.positionObject(state, account, spec))
            }
            var fields: [String: Any] = ["m": accounts[account]!, "B": balances, "P": positions]
            if let mine = fills[account] { fields["fills"] = mine }
            emit(.account(account), "ACCOUNT_UPDATE", fields)
        }
    }
}

/// JSON text of the values the stream renders (strings, integers, booleans, arrays and
/// objects of them), written directly: Foundation's JSONSerialization bridges every value
/// to an NSObject on Linux, several times slower, and the follower renders every watched
/// entry. Keys are sorted, as `JSON.text` sorts them.
enum StreamJSON {
    static func text(_ value: Any) -> String {
        var output = ""
        output.reserveCapacity(256)
        write(value, to: &output)
        return output
    }

    static func write(_ value: Any, to output: inout String) {
        switch value {
        case let text as String: string(text, to: &output)
        case let number as Int: output += String(number)
        case let flag as Bool: output += flag ? "true" : "false"
        case let object as [String: Any]:
            output += "{"
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { output += "," }
                string(key, to: &output)
                output += ":"
                write(object[key]!, to: &output)
            }
            output += "}"
        case let array as [Any]:
            output += "["
            for (index, element) in array.enumerated() {
                if index > 0 { output += "," }
                write(element, to: &output)
            }
            output += "]"
        default:
            output += "null"
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    static func string(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

/// One JSON object written as it is built, keys in the order given.
struct JSONLine {
    private var text = "{"

    init() { text.reserveCapacity(192) }

    private mutating func key(_ key: String) {
        if text.utf8.count > 1 { text += "," }
        text += "\"" + key + "\":"
    }

    mutating func string(_ key: String, _ value: String) {
        self.key(key)
        StreamJSON.string(value, to: &text)
    }

    mutating func int(_ key: String, _ value: Int) {
        self.key(key)
        text += String(value)
    }

    mutating func bool(_ key: String, _ value: Bool) {
        self.key(key)
        text += value ? "true" : "false"
    }

    /// A value already JSON.
    mutating func raw(_ key: String, _ json: String) {
        self.key(key)
        text += json
    }

    var finished: String { text + "}" }
}
