import Foundation
import Journal
import LedgerCore
import Testing

@testable import Projection

/// The read models against what the daemon reports and what the journal holds.
struct ReadModelComparison {
    /// The daemon whose views the read models must equal (`compareOrders`, `compareAccounts`).
    var daemon: DaemonProcess!
    let journalDirectory: String
    let database: PostgresConnection
    /// (name, price scale, quantity scale) of each listed symbol.
    let symbols: [(name: String, priceScale: Int, quantityScale: Int)]

    func value(_ sql: String) throws -> String {
        try database.execute(sql).first?.first.flatMap { $0 } ?? "NULL"
    }

    /// Waits (by condition, at most `seconds`) until the projector's checkpoint reaches `sequence`.
    func waitForCheckpoint(_ sequence: SequenceNumber, seconds: Double = 180) throws {
        let deadline = Date().addingTimeInterval(seconds)
        // Until the projector has made its schema the table does not exist: on a loaded
        // machine the first look can come before that (a run of the test command failed on
        // it), so a failed query counts as "not yet" until the deadline; the check after
        // the loop runs the query for real.
        while (SequenceNumber((try? value("SELECT sequence FROM projector_checkpoint")) ?? "") ?? 0) < sequence, Date() < deadline {
            usleep(50_000)
        }
        #expect((SequenceNumber(try value("SELECT sequence FROM projector_checkpoint")) ?? 0) >= sequence)
    }

    static func units(_ text: String?, _ scale: Int) -> Int128? {
        guard let text else { return 0 }
        return OrderRecord.units128(text, scale: scale)
    }

    /// Every order of every account, field by field: `GET /v1/allOrders` (paged) against
    /// the `orders` rows. Returns how many orders were compared.
    @discardableResult
    func compareOrders(accounts: [AccountID]) throws -> Int {
        var compared = 0
        var mismatches: [String] = []
        for account in accounts {
            for symbol in symbols {
                var daemonOrders: [Int: [String: Any]] = [:]
                var from = 0
                while true {
                    let page = try daemon.http(
                        "GET", "/v1/allOrders?account=\(account)&symbol=\(symbol.name)&limit=1000&orderId=\(from)")
                    #expect(page.status == 200, "\(page.body)")
                    let orders = try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [[String: Any]] ?? []
                    for order in orders { daemonOrders[order["orderId"] as? Int ?? -1] = order }
                    guard orders.count == 1_000, let last = orders.last?["orderId"] as? Int else { break }
                    from = last + 1
                }
                let rows = try database.execute(
                    """
                    SELECT order_id, coalesce(client_order_id, ''), status, type, time_in_force, side, price, quantity, filled_quantity,
                        cum_quote, stop_price, working_type, self_trade_prevention, reduce_only, close_position, activation_price,
                        callback_rate, floor(extract(epoch FROM time) * 1000)::bigint, floor(extract(epoch FROM update_time) * 1000)::bigint,
                        coalesce(auto_close, '')
                    FROM orders WHERE account_id = \(account) AND symbol = '\(symbol.name)'
                    """)
                let databaseIDs = Set(rows.compactMap { $0[0].flatMap(Int.init) })
                if databaseIDs != Set(daemonOrders.keys) {
                    mismatches.append(
                        "account \(account) \(symbol.name): ids only in PostgreSQL \(databaseIDs.subtracting(daemonOrders.keys).sorted().prefix(5)), only in the daemon \(Set(daemonOrders.keys).subtracting(databaseIDs).sorted().prefix(5))"
                    )
                }
                let (p, q) = (symbol.priceScale, symbol.quantityScale)
                for row in rows {
                    guard let id = row[0].flatMap(Int.init), let order = daemonOrders[id] else { continue }
                    compared += 1
                    func same(_ field: String, _ column: Int, scale: Int? = nil, flag: Bool = false) {
                        let ours = row[column]
                        let theirs: String? =
                            if flag { (order[field] as? Bool).map { $0 ? "t" : "f" } } else {
                                switch order[field] {
                                case let text as String: text
                                case let number as Int: String(number)
                                default: nil
                                }
                            }
                        let equal =
                            if let scale { Self.units(ours, scale) == Self.units(theirs ?? "0", scale) } else { ours == (theirs ?? "") }
                        if !equal { mismatches.append("order \(id) \(field): PostgreSQL \(ours ?? "NULL"), daemon \(theirs ?? "absent")") }
                    }
                    same("clientOrderId", 1)
                    same("status", 2)
                    same("type", 3)
                    same("timeInForce", 4)
                    same("side", 5)
                    same("price", 6, scale: p)
                    same("origQty", 7, scale: q)
                    same("executedQty", 8, scale: q)
                    same("cumQuote", 9, scale: p + q)
                    same("stopPrice", 10, scale: p)
                    same("workingType", 11)
                    same("selfTradePreventionMode", 12)
                    same("reduceOnly", 13, flag: true)
                    same("closePosition", 14, flag: true)
                    if order["activatePrice"] != nil {
                        same("activatePrice", 15, scale: p)
                        same("priceRate", 16, scale: 6)
                    }
                    same("time", 17)
                    same("updateTime", 18)
                    if order["autoCloseType"] != nil {
                        same("autoCloseType", 19)
                    } else if row[19] != "" {
                        mismatches.append("order \(id): auto_close \(row[19] ?? "") in PostgreSQL only")
                    }
                }
            }
        }
        let agree = mismatches.isEmpty
        #expect(agree, "\(mismatches.count) differences, first: \(Array(mismatches.prefix(8)))")
        return compared
    }

    /// Balances and positions against `GET /v1/account`.
    func compareAccounts(_ accounts: [AccountID]) throws {
        var mismatches: [String] = []
        for account in accounts {
            let view = try daemon.http("GET", "/v1/account?account=\(account)")
            let object = try JSONSerialization.jsonObject(with: Data(view.body.utf8)) as? [String: Any] ?? [:]
            for asset in object["assets"] as? [[String: Any]] ?? [] {
                let name = asset["asset"] as? String ?? "?"
                let wallet = try value("SELECT wallet FROM balances WHERE account_id = \(account) AND asset = '\(name)'")
                if Self.units(wallet, 6) != Self.units(asset["walletBalance"] as? String, 6) {
                    mismatches.append("account \(account) \(name): wallet \(wallet), daemon \(asset["walletBalance"] ?? "?")")
                }
            }
            for position in object["positions"] as? [[String: Any]] ?? [] {
                let symbol = position["symbol"] as? String ?? "?"
                let size = try value("SELECT size FROM positions WHERE account_id = \(account) AND symbol = '\(symbol)'")
                if size != position["positionAmt"] as? String {
                    mismatches.append("account \(account) \(symbol): size \(size), daemon \(position["positionAmt"] ?? "?")")
                }
            }
        }
        let agree = mismatches.isEmpty
        #expect(agree, "\(mismatches.count) differences, first: \(Array(mismatches.prefix(8)))")
    }

    /// Counts and sums against the journal through `sequence`, and the read models'
    /// internal identities: the ledger sums to zero, each balance is its postings, the
    /// candles are the trades, each trade is two fills in `order_history`.
    func compareWithJournal(through sequence: SequenceNumber, orderEventsAfter eventsFrom: SequenceNumber = 0) throws {
        var trades = 0
        var tradedUnits: [String: Int64] = [:]
        var postings = 0
        var accepted = Set<OrderID>()
        var acceptedWithEvents = 0
        let names = symbols.map(\.name)
        var liquidationOrders = Set<OrderID>()
        var liquidatedUnits: Int64 = 0
        try JournalReader(directory: journalDirectory).forEach(upTo: sequence) { entry in
            let payload = try entry.decodePayload()
            for event in payload.events {
                switch event {
                case .trade(let trade):
                    trades += 1
                    tradedUnits[names[Int(trade.symbol)], default: 0] += trade.quantityUnits
                    if liquidationOrders.contains(trade.takerOrderID) { liquidatedUnits += trade.quantityUnits }
                case .insuranceTakeover(_, _, _, _, let quantity, _, _), .autoDeleveraged(_, _, _, _, _, let quantity, _, _):
                    liquidatedUnits += quantity
                case .orderAccepted(let id), .conditionalOrderPlaced(let id):
                    if accepted.insert(id).inserted && entry.sequence > eventsFrom { acceptedWithEvents += 1 }
                case .liquidationOrderPlaced(let id, _, _, _, _, _):
                    if accepted.insert(id).inserted && entry.sequence > eventsFrom { acceptedWithEvents += 1 }
                    liquidationOrders.insert(id)
                default: break
                }
                event.forEachPosting(settleAsset: { _ in 0 }) { _ in postings += 1 }
            }
        }
        #expect(try value("SELECT count(*) FROM trades") == String(trades))
        #expect(try value("SELECT count(DISTINCT trade_id) FROM trades") == String(trades))
        for symbol in symbols {
            #expect(
                try value("SELECT coalesce(sum(quantity), 0) FROM trades WHERE symbol = '\(symbol.name)'")
                    == DecimalText.format(tradedUnits[symbol.name] ?? 0, scale: tradedUnits[symbol.name] == nil ? 0 : symbol.quantityScale))
        }
        #expect(try value("SELECT count(*) FROM postings") == String(postings))
        #expect(try value("SELECT count(*) FROM ledger_entries") == String(2 * postings))
        #expect(try value("SELECT coalesce(sum(amount), 0) = 0 FROM ledger_entries") == "t")
        let orderRows = try value("SELECT count(*) FROM orders")
        #expect(orderRows == String(accepted.count), "orders: \(orderRows) rows, \(accepted.count) accepted in the journal")
        #expect(try value("SELECT count(*) FROM order_events WHERE kind = 'NEW'") == String(acceptedWithEvents))
        #expect(try value("SELECT count(*) FROM order_history WHERE kind = 'TRADE'") == String(2 * trades))
        #expect(
            try value(
                "SELECT count(*) FROM balances b WHERE wallet <> (SELECT coalesce(sum(amount), 0) FROM ledger_entries e WHERE e.account_id = b.account_id AND e.asset = b.asset)"
            ) == "0")
        // Candles recomputed from the trades in SQL, both ways.
        let recomputed = """
            SELECT symbol, date_trunc('minute', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS open_time,
                (array_agg(price ORDER BY trade_id))[1] AS open, max(price) AS high, min(price) AS low,
                (array_agg(price ORDER BY trade_id DESC))[1] AS close, sum(quantity) AS volume, sum(price * quantity) AS quote_volume,
                count(*) AS trade_count, min(trade_id) AS first_trade_id, max(trade_id) AS last_trade_id
            FROM trades GROUP BY 1, 2
            """
        #expect(try value("SELECT count(*) FROM (SELECT * FROM candles_1m EXCEPT \(recomputed)) x") == "0")
        #expect(try value("SELECT count(*) FROM (\(recomputed) EXCEPT SELECT * FROM candles_1m) x") == "0")
        #expect(try value("SELECT coalesce(sum(trade_count), 0) FROM candles_1m") == String(trades))
        // What closed liquidated positions (their orders' fills, takeovers and ADL, in later
        // entries too) is what the liquidation orders and the liquidations rows say.
        let quantityScale = symbols.first?.quantityScale ?? 3
        let closed = DecimalText.format(liquidatedUnits, scale: quantityScale)
        #expect(
            try value("SELECT coalesce(sum(filled_quantity), 0) FROM orders WHERE auto_close = 'LIQUIDATION'")
                == (liquidatedUnits == 0 ? "0" : closed))
        #expect(
            try value("SELECT coalesce(sum(filled_quantity + taken_over_quantity + deleveraged_quantity), 0) FROM liquidations")
                == (liquidatedUnits == 0 ? "0" : closed))
    }

    /// Every table of schema `left` holds exactly the rows of schema `right`.
    func compareSchemas(_ left: String, _ right: String) throws {
        for table in [
            "accounts", "balances", "positions", "orders", "order_events", "trades", "postings", "mark_prices", "funding_payments",
            "liquidations", "adl_fills", "insurance_fund_history", "candles_1m", "projector_checkpoint",
        ] {
            let columns = table == "projector_checkpoint" ? "id, sequence" : "*"
            for (a, b) in [(left, right), (right, left)] {
                let extra = try value(
                    "SELECT count(*) FROM (SELECT \(columns) FROM \(a).\(table) EXCEPT ALL SELECT \(columns) FROM \(b).\(table)) x")
                #expect(extra == "0", "\(table): \(extra) rows in \(a) and not in \(b)")
            }
        }
    }
}
