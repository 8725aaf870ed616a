import LedgerCore

extension OrderRecord {
    /// An `orders` row read back (`SELECT` of `ProjectionBatch.Columns.orders`, as text):
    /// the projector's open orders after a reconnect. Nil when a value does not parse.
    init?(databaseRow row: [String?], catalog state: borrowing ExchangeState) {
        guard row.count == ProjectionBatch.Columns.orders.count else { return nil }
        var column: [String: String?] = [:]
        for (name, value) in zip(ProjectionBatch.Columns.orders, row) { column[name] = value }
        func text(_ name: String) -> String? { column[name] ?? nil }
        guard let name = text("symbol"), let symbol = state.symbols.firstIndex(where: { $0.name == name }) else { return nil }
        let spec = state.symbols[symbol]
        let priceScale = Int(spec.priceScale)
        let quantityScale = Int(spec.quantityScale)
        func units(_ name: String, _ scale: Int) -> Int64? {
            guard let value = text(name) else { return 0 }
            return try? DecimalText.parse(value, scale: scale)
        }
        guard let id = text("order_id").flatMap(OrderID.init), let account = text("account_id").flatMap(AccountID.init),
            let side = text("side").flatMap(Side.init(apiName:)), let type = text("type").flatMap(OrderType.init(apiName:)),
            let timeInForce = text("time_in_force").flatMap(TimeInForce.init(apiName:)),
            let workingType = text("working_type").flatMap(WorkingType.init(apiName:)),
            let prevention = text("self_trade_prevention").flatMap(SelfTradePrevention.init(apiName:)),
            let price = units("price", priceScale), let stop = units("stop_price", priceScale),
            let activation = units("activation_price", priceScale), let callback = units("callback_rate", 6),
            let quantity = units("quantity", quantityScale), let filled = units("filled_quantity", quantityScale),
            let open = units("open_quantity", quantityScale), let status = text("status").flatMap(OrderStatus.init(rawValue:)),
            let created = text("created_sequence").flatMap(SequenceNumber.init),
            let updated = text("updated_sequence").flatMap(SequenceNumber.init),
            let quote = Self.units128(text("cum_quote") ?? "0", scale: priceScale + quantityScale)
        else { return nil }
        self.init(
            orderID: id, account: account, symbol: SymbolID(symbol), side: side, type: type, timeInForce: timeInForce,
            workingType: workingType, selfTradePrevention: prevention, reduceOnly: text("reduce_only") == "t",
            closePosition: text("close_position") == "t",
            clientOrderID: text("client_order_id").flatMap { ClientOrderID(text: $0) } ?? .none,
            priceUnits: price, stopPriceUnits: stop, callbackRateE8: callback, activationPriceUnits: activation,
            originalQuantityUnits: quantity, timeNanos: Self.nanos(text("time")), sequence: created)
        executedQuantityUnits = filled
        executedPriceQuantity = quote
        openQuantityUnits = open
        self.status = status
        isOpen = status == .new || status == .partiallyFilled
        triggered = text("triggered") == "t"
        amended = text("amended") == "t"
        autoClose = text("auto_close").flatMap(AutoClose.init(rawValue:))
        updateNanos = Self.nanos(text("update_time"))
        updateSequence = updated
    }

    /// A numeric's text at `scale` as a 128-bit integer (Σ price × quantity may pass 64 bits).
    static func units128(_ text: String, scale: Int) -> Int128? {
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= scale, (whole + fraction).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        guard let value = Int128(String(whole + fraction + String(repeating: "0", count: scale - fraction.count))) else { return nil }
        return negative ? -value : value
    }

    /// A timestamptz's text (`SET TimeZone` is UTC for the projector's session: `…+00`)
    /// back to nanoseconds since 1970; 0 for NULL or a text it cannot read.
    static func nanos(_ text: String?) -> Int64 {
        guard let text else { return 0 }
        // "2026-12-05 03:07:09.123456+00"
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 22, let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return 0 }
        var micros: Int64 = 0
        var index = 19
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                micros = micros * 10 + Int64(bytes[index] - 0x30)
                digits += 1
                index += 1
            }
            while digits < 6 {
                micros *= 10
                digits += 1
            }
        }
        // Days since 1970 from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return ((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000_000 + micros) * 1_000
    }
}
