/// The canonical encoding of the state (docs/FORMATS.md, "State"): the body of a snapshot
/// and the input of the state hash. Everything is written in a defined order (creation
/// order, book priority, sorted keys), never in a `Dictionary`'s order, so two processes
/// with the same state write the same bytes.
///
/// The sequence number and time of the last entry are not part of it: the state hash
/// describes the books, so a rejected command leaves it unchanged.
extension ExchangeState {
    /// The version of the layout below; a snapshot records it. Versions 1 (the spine) and 2
    /// (the rule book) are still decoded: the fields they lack take their defaults.
    /// Version 3 adds the bounded rules: funding settlements in progress, each position's
    /// funding epoch and size at a settlement's start, and the world limits.
    /// Version 4 writes each account's positions sparse (symbol, position), only those that
    /// differ from an empty one, instead of one per symbol up to the highest it touched.
    /// Version 5 adds the ADL rankings in steps. Version 6 (issue 10) writes client order
    /// ids as text, as Binance's `newClientOrderId` is; versions 2 … 5 write them as numbers
    /// and so describe only a state whose client ids are all numeric.
    public static let encodingVersion: UInt8 = 6

    /// Whether a client order id of the state is text (not numeric): such a state has no
    /// encoding before version 6.
    public var hasTextClientOrderIDs: Bool {
        idempotency.clientOrderQueue.elements.contains { !$0.key.clientOrderID.isNumeric }
            || books.conditionalBySymbol.contains { list in list.contains { !$0.order.clientOrderID.isNumeric } }
            || books.bySymbol.contains { book in
                Side.allCases.contains { side in book.orders(side).contains { !clientOrderID(of: $0).isNumeric } }
            }
    }

    /// Writes the state in the layout of `version` (2 … 6; version 1 is only read).
    /// Version 2 exists for the fixtures' hashes, and only describes a state that uses
    /// none of version 3's fields.
    public func encodeCanonical(to writer: inout ByteWriter, version: UInt8 = encodingVersion) {
        encodeCanonical(to: &writer, version: version) { _ in }
    }

    /// Hands the canonical encoding to `consume` in pieces of about `chunkBytes`, in order,
    /// so that a hash or a compressor can read a large state without one buffer holding
    /// all of it. The pieces are valid during the call only.
    public func withCanonicalChunks(
        version: UInt8 = encodingVersion, chunkBytes: Int = 1 << 20, _ consume: (UnsafeRawBufferPointer) -> Void
    ) {
        var writer = ByteWriter(capacity: chunkBytes + 4096)
        encodeCanonical(to: &writer, version: version) { full in
            guard full.bytes.count >= chunkBytes else { return }
            full.bytes.withUnsafeBytes(consume)
            full.reset()
        }
        writer.bytes.withUnsafeBytes(consume)
    }

    /// `drain` is offered the writer after each order and account, and may empty it.
    private func encodeCanonical(to writer: inout ByteWriter, version: UInt8, drain: (inout ByteWriter) -> Void) {
        precondition((2...6).contains(version), "state encoding \(version) is read only")
        func clientOrderID(_ id: ClientOrderID) {
            if version >= 6 {
                writer.clientOrderID(id)
            } else {
                precondition(id.isNumeric, "state encoding \(version) has no text client order ids")
                writer.varint(id.number ?? 0)
            }
        }
        writer.varint(UInt64(assets.count))
        for asset in assets {
            Command.listAsset(asset).encode(to: &writer)
        }
        writer.varint(UInt64(symbols.count))
        for spec in symbols {
            spec.encode(to: &writer)
            spec.encodeRuleBookTerms(to: &writer)
        }
        for (symbol, market) in markets.enumerated() {
            let symbolFunding = funding.bySymbol[symbol]
            writer.zigzag(market.markPriceUnits)
            writer.zigzag(market.lastPriceUnits)
            writer.zigzag(market.indexPriceUnits)
            writer.zigzag(symbolFunding.nextFundingTimeNanos)
            writer.u8(symbolFunding.fundingRateOverrideE8 == nil ? 0 : 1)
            writer.zigzag(symbolFunding.fundingRateOverrideE8 ?? 0)
            writer.zigzag(symbolFunding.premiumSampleSumE8)
            writer.zigzag(symbolFunding.premiumSampleCount)
            writer.zigzag(symbolFunding.lastFundingRateE8)
            if version >= 3 {
                writer.varint(UInt64(symbolFunding.fundingEpoch))
                if let settlement = symbolFunding.fundingSettlement {
                    writer.u8(1)
                    writer.zigzag(settlement.rateE8)
                    writer.zigzag(settlement.markPriceUnits)
                    writer.varint(UInt64(settlement.cursorAccountIndex))
                    writer.zigzag(settlement.fundSizeQuantityUnits)
                    writer.varint(settlement.positionsSettled)
                } else {
                    writer.u8(0)
                }
            }
            for side in Side.allCases {
                let orders = books.bySymbol[symbol].orders(side)
                writer.varint(UInt64(orders.count))
                for order in orders {
                    writer.varint(order.orderID)
                    writer.varint(UInt64(order.accountIndex))
                    writer.zigzag(order.priceUnits)
                    writer.zigzag(order.openQuantityUnits)
                    clientOrderID(self.clientOrderID(of: order))
                    writer.u8(order.reduceOnly ? 1 : 0)
                    drain(&writer)
                }
            }
            writer.varint(UInt64(books.conditionalBySymbol[symbol].count))
            for conditional in books.conditionalBySymbol[symbol] {
                writer.varint(conditional.orderID)
                writer.varint(UInt64(conditional.accountIndex))
                Command.placeOrder(conditional.order).encode(to: &writer)
                writer.zigzag(books.trailingExtremeUnits(of: conditional))
                drain(&writer)
            }
        }
        writer.varint(UInt64(ledger.accounts.count))
        for account in ledger.accounts {
            writer.varint(account.id)
            writer.varint(UInt64(account.balanceCount))
            for asset in 0..<account.balanceCount { writer.zigzag(account.balance(asset)) }
            if version >= 4 {
                // Sparse: the positions that differ from an empty one, by symbol.
                let written = account.positions.slots.filter { $0.position != Position() }
                writer.varint(UInt64(written.count))
                for slot in written {
                    writer.varint(UInt64(slot.symbol))
                    Self.encode(slot.position, version: version, to: &writer)
                }
            } else {
                // Dense, indexed by symbol up to the highest symbol the account touched.
                writer.varint(UInt64(account.positions.span))
                for symbol in 0..<Int(account.positions.span) {
                    Self.encode(account.positions[symbol], version: version, to: &writer)
                }
            }
            drain(&writer)
        }
        for balance in ledger.systemBalancesMinor { writer.zigzag(balance) }
        for position in ledger.insurancePositions {
            writer.zigzag(position.sizeQuantityUnits)
            writer.zigzag(position.costMinor)
        }
        // Remembered ids in the order they will be forgotten (v1: sorted, without times).
        idempotency.window.encode(to: &writer)
        writer.varint(UInt64(idempotency.clientOrderQueue.count))
        for record in idempotency.clientOrderQueue.elements {
            writer.zigzag(record.timeNanos)
            writer.varint(UInt64(record.key.accountIndex))
            clientOrderID(record.key.clientOrderID)
            writer.varint(idempotency.clientOrders[record.key]!)
        }
        writer.varint(UInt64(idempotency.transferQueue.count))
        for queued in idempotency.transferQueue.elements {
            let record = idempotency.transfers[queued.key]!
            writer.zigzag(queued.timeNanos)
            writer.varint(record.sequence)
            writer.u8(record.kind.rawValue)
            record.transfer.encode(to: &writer)
        }
        writer.varint(books.nextOrderID)
        writer.varint(books.nextTradeID)
        if version >= 3 {
            if let limits = worldLimits {
                writer.u8(1)
                limits.encode(to: &writer)
            } else {
                writer.u8(0)
            }
        }
        if version >= 4 {
            // Liquidations whose ADL continues in ticks, in the order they stopped.
            writer.varint(UInt64(risk.deleveragings.count))
            for record in risk.deleveragings {
                writer.varint(UInt64(record.accountIndex))
                writer.varint(UInt64(record.symbol))
                writer.u8(record.side.rawValue)
                writer.zigzag(record.bankruptcyPriceUnits)
                writer.zigzag(record.remainingQuantityUnits)
            }
        } else {
            precondition(risk.deleveragings.isEmpty, "state encoding \(version) has no deleveragings")
        }
        if version >= 5 {
            // ADL rankings in bounded steps, in the order they started; each one's scored
            // positions best first.
            writer.varint(UInt64(risk.adlRankings.count))
            for ranking in risk.adlRankings {
                writer.varint(UInt64(ranking.symbol))
                writer.u8(ranking.side.rawValue)
                writer.varint(UInt64(ranking.cursorAccountIndex))
                writer.u8(ranking.isComplete ? 1 : 0)
                let ordered = ranking.ordered
                writer.varint(UInt64(ordered.count))
                for rank in ordered {
                    writer.varint(UInt64(rank.accountIndex))
                    writer.zigzag(Int64(truncatingIfNeeded: rank.score >> 64))
                    writer.varint(UInt64(truncatingIfNeeded: rank.score))
                }
            }
        } else {
            precondition(risk.adlRankings.isEmpty, "state encoding \(version) has no ADL rankings")
        }
    }

    /// One position's fields (the same in every layout since version 3).
    static func encode(_ position: Position, version: UInt8, to writer: inout ByteWriter) {
        writer.zigzag(position.sizeQuantityUnits)
        writer.zigzag(position.costMinor)
        writer.varint(UInt64(position.leverage))
        writer.zigzag(position.openBuyQuantityUnits)
        writer.zigzag(position.openBuyNotionalMinor)
        writer.zigzag(position.openSellQuantityUnits)
        writer.zigzag(position.openSellNotionalMinor)
        writer.u8(position.isIsolated ? 1 : 0)
        writer.zigzag(position.isolatedMarginMinor)
        if version >= 3 {
            writer.varint(UInt64(position.fundingEpoch))
            writer.u8(position.fundingFrozen ? 1 : 0)
            writer.zigzag(position.fundingFrozenSizeQuantityUnits)
        }
    }

    /// Rebuilds a state from its canonical encoding, as of entry `sequence` at `timeNanos`.
    /// Derived indexes (id tables, order slots, totals) are recomputed; the invariants are
    /// checked before the state is returned.
    public static func decodeCanonical(
        from reader: inout ByteReader, version: UInt8 = encodingVersion, sequence: SequenceNumber, timeNanos: Int64
    ) throws(CodecError) -> ExchangeState {
        guard (1...6).contains(version) else { throw .outOfRange(field: "state encoding version", offset: reader.offset) }
        var state = ExchangeState()
        state.entryTimeNanos = timeNanos
        func flag(_ field: String) throws(CodecError) -> Bool {
            let offset = reader.offset
            let value = try reader.u8()
            guard value <= 1 else { throw .outOfRange(field: field, offset: offset) }
            return value == 1
        }
        // Every number is read within its range, so nothing computed from a decoded state
        // can overflow (the snapshot fuzzer fed this decoder orders and positions of 2^63).
        let magnitude = Limits.balanceMagnitudeMax
        func value(_ field: String, _ range: ClosedRange<Int64>) throws(CodecError) -> Int64 {
            let offset = reader.offset
            let value = try reader.zigzag()
            guard range.contains(value) else { throw .outOfRange(field: field, offset: offset) }
            return value
        }
        func add(_ value: Int64, to total: inout Int64, _ field: String) throws(CodecError) {
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, abs(sum) <= magnitude else { throw .outOfRange(field: field, offset: reader.offset) }
            total = sum
        }
        func count(_ field: String, max: Int) throws(CodecError) -> Int {
            let offset = reader.offset
            let value = try reader.varint()
            guard value <= UInt64(max) else { throw .outOfRange(field: field, offset: offset) }
            return Int(value)
        }
        for _ in 0..<(try count("asset count", max: Limits.assetsMax)) {
            let offset = reader.offset
            guard case .listAsset(let asset) = try Command.decode(from: &reader), Int(asset.id) == state.assets.count,
                asset.scale <= 18, !state.assets.contains(where: { $0.name == asset.name })
            else {
                throw .outOfRange(field: "asset", offset: offset)
            }
            state.apply(.assetListed(asset.id), of: .listAsset(asset), sequence: 0)
        }
        for _ in 0..<(try count("symbol count", max: Limits.symbolsMax)) {
            let offset = reader.offset
            var spec = try SymbolSpec.decode(from: &reader)
            if version >= 2 { try spec.decodeRuleBookTerms(from: &reader) }
            guard Int(spec.id) == state.symbols.count, listingIsValid(spec, in: state) else {
                throw .outOfRange(field: "symbol", offset: offset)
            }
            state.apply(.symbolListed(spec.id), of: .listSymbol(spec), sequence: 0)
        }
        func clientOrderID() throws(CodecError) -> ClientOrderID {
            version >= 6 ? try reader.clientOrderID() : try reader.numericClientOrderID()
        }
        var restingOrders: [(SymbolID, RestingOrder, ClientOrderID)] = []
        for symbol in state.markets.indices {
            let spec = state.symbols[symbol]
            state.markets[symbol].markPriceUnits = try value("mark price", 0...spec.maxPriceUnits)
            state.markets[symbol].lastPriceUnits = try value("last price", 0...spec.maxPriceUnits)
            if version >= 2 {
                state.markets[symbol].indexPriceUnits = try value("index price", 0...magnitude)
                state.funding.bySymbol[symbol].nextFundingTimeNanos = try value("next funding time", 0...magnitude)
                let hasOverride = try flag("funding override")
                let overrideOffset = reader.offset
                let override = try value("funding override", -FixedPoint.rateScale...FixedPoint.rateScale)
                // No override is written as 0: one state, one encoding.
                guard hasOverride || override == 0 else { throw .outOfRange(field: "funding override", offset: overrideOffset) }
                state.funding.bySymbol[symbol].fundingRateOverrideE8 = hasOverride ? override : nil
                state.funding.bySymbol[symbol].premiumSampleSumE8 = try value("premium sum", -magnitude...magnitude)
                state.funding.bySymbol[symbol].premiumSampleCount = try value("premium count", 0...Limits.premiumSamplesMax)
                state.funding.bySymbol[symbol].lastFundingRateE8 = try value(
                    "last funding rate", -FixedPoint.rateScale...FixedPoint.rateScale)
            }
            if version >= 3 {
                state.funding.bySymbol[symbol].fundingEpoch = try reader.varint(as: UInt32.self, field: "funding epoch")
                if try flag("funding settlement") {
                    state.funding.bySymbol[symbol].fundingSettlement = FundingSettlement(
                        rateE8: try value("settlement rate", -FixedPoint.rateScale...FixedPoint.rateScale),
                        markPriceUnits: try value("settlement mark price", 1...spec.maxPriceUnits),
                        cursorAccountIndex: try reader.varint(as: UInt32.self, field: "settlement cursor"),
                        fundSizeQuantityUnits: try value("settlement fund size", -magnitude...magnitude),
                        positionsSettled: try reader.varint())
                }
            }
            for side in Side.allCases {
                for _ in 0..<(try count("order count", max: reader.remaining)) {
                    var order = RestingOrder(
                        orderID: try reader.id(field: "order id"), accountIndex: try reader.varint(as: UInt32.self, field: "account"),
                        side: side, priceUnits: try value("order price", 1...spec.maxPriceUnits),
                        openQuantityUnits: try value("order quantity", 1...spec.maxPositionQuantityUnits),
                        hasClientOrderID: false)
                    let client = try clientOrderID()
                    order.hasClientOrderID = !client.isNone
                    if version >= 2 { order.reduceOnly = try flag("reduce-only") }
                    restingOrders.append((SymbolID(symbol), order, client))
                }
            }
            if version >= 2 {
                for _ in 0..<(try count("conditional order count", max: reader.remaining)) {
                    let id = try reader.id(field: "order id")
                    let accountIndex = try reader.varint(as: UInt32.self, field: "account")
                    let offset = reader.offset
                    guard case .placeOrder(let order) = try Command.decode(from: &reader), order.type.isConditional,
                        Int(order.symbol) == symbol, state.books.conditionalLocations[id] == nil
                    else { throw .outOfRange(field: "conditional order", offset: offset) }
                    let extremeOffset = reader.offset
                    let extreme = try value("trailing extreme", 0...spec.maxPriceUnits)
                    let working = state.workingPriceUnits(symbol: SymbolID(symbol), order.workingType)
                    guard Self.trailingExtremeProblem(order, extremeUnits: extreme, workingPriceUnits: working) == nil else {
                        throw .outOfRange(field: "trailing extreme", offset: extremeOffset)
                    }
                    state.books.appendConditional(
                        ConditionalOrder(orderID: id, accountIndex: accountIndex, order: order, joinedTrailingExtremeUnits: extreme))
                }
            }
        }
        // A snapshot's trailing stops join in id order, not by extreme: their groups are put
        // in order here, in recovery, not at the first price that moves them.
        state.books.sortTrailingStops()
        let accountCount = try count("account count", max: reader.remaining)
        for _ in 0..<accountCount {
            var account = Account(id: try reader.id(field: "account"))
            for _ in 0..<(try count("balance count", max: Limits.assetsMax)) {
                account.appendBalance(try value("balance", -magnitude...magnitude))
            }
            // Versions 1–3: dense, by symbol. Version 4: (symbol, position) of the positions
            // that differ from an empty one, in increasing symbol order.
            let positionCount = try count("position count", max: Limits.symbolsMax)
            guard positionCount <= state.symbols.count else { throw .outOfRange(field: "position count", offset: reader.offset) }
            var nextSymbol = 0
            for _ in 0..<positionCount {
                if version >= 4 {
                    let symbolOffset = reader.offset
                    let symbol = try reader.varint()
                    guard symbol >= UInt64(nextSymbol), symbol < UInt64(state.symbols.count) else {
                        throw .outOfRange(field: "position symbol", offset: symbolOffset)
                    }
                    nextSymbol = Int(symbol)
                }
                let symbol = nextSymbol
                nextSymbol += 1
                let most = state.symbols[symbol].maxPositionQuantityUnits
                let positionOffset = reader.offset
                var position = Position()
                position.sizeQuantityUnits = try value("position size", -most...most)
                position.costMinor = try value("position cost", -magnitude...magnitude)
                let leverageOffset = reader.offset
                position.leverage = try reader.varint(as: UInt16.self, field: "leverage")
                guard position.leverage <= Limits.leverageMax else { throw .outOfRange(field: "leverage", offset: leverageOffset) }
                position.openBuyQuantityUnits = try value("open buy quantity", 0...magnitude)
                position.openBuyNotionalMinor = try value("open buy notional", 0...magnitude)
                position.openSellQuantityUnits = try value("open sell quantity", 0...magnitude)
                position.openSellNotionalMinor = try value("open sell notional", 0...magnitude)
                if version >= 2 {
                    position.isIsolated = try flag("margin mode")
                    position.isolatedMarginMinor = try value("isolated margin", 0...magnitude)
                }
                if version >= 3 {
                    position.fundingEpoch = try reader.varint(as: UInt32.self, field: "funding epoch")
                    position.fundingFrozen = try flag("funding frozen")
                    let frozenOffset = reader.offset
                    position.fundingFrozenSizeQuantityUnits = try value("funding size", -most...most)
                    // Not frozen is written as 0: one state, one encoding.
                    guard position.fundingFrozen || position.fundingFrozenSizeQuantityUnits == 0 else {
                        throw .outOfRange(field: "funding size", offset: frozenOffset)
                    }
                }
                if position != Position() {
                    account.positions[symbol] = position
                } else if version >= 4 {
                    // Written only when it differs from an empty position: one state, one encoding.
                    throw .outOfRange(field: "position", offset: positionOffset)
                }
            }
            if version < 4 { account.positions.extendSpan(to: UInt16(positionCount)) }
            guard account.balanceCount <= state.assets.count, state.ledger.accountIndexByID[account.id] == nil
            else { throw .outOfRange(field: "account", offset: reader.offset) }
            state.ledger.accountIndexByID[account.id] = UInt32(state.ledger.accounts.count)
            for (index, position) in account.positions.entries {
                if position.sizeQuantityUnits != 0 || position.fundingFrozen {
                    state.ledger.holders[index].insert(state.ledger.accounts.count)
                }
                if position.sizeQuantityUnits < 0 { state.ledger.shortHolders[index].insert(state.ledger.accounts.count) }
                try add(
                    position.costMinor, to: &state.ledger.positionCostTotalMinor[Int(state.symbols[index].settleAsset)],
                    "position cost total")
                try add(max(0, position.sizeQuantityUnits), to: &state.ledger.openInterest[index].longUnits, "open interest")
                try add(max(0, -position.sizeQuantityUnits), to: &state.ledger.openInterest[index].shortUnits, "open interest")
            }
            state.ledger.accounts.append(account)
        }
        // v1 kept three system accounts per asset (external, fees, PnL clearing).
        let systemCount = version >= 2 ? SystemAccount.allCases.count : 3
        for asset in state.assets.indices {
            for system in 0..<systemCount {
                state.ledger.systemBalancesMinor[asset * SystemAccount.allCases.count + system] = try reader.zigzag()
            }
        }
        if version >= 2 {
            for symbol in state.ledger.insurancePositions.indices {
                let size = try value("insurance fund position", -magnitude...magnitude)
                state.ledger.insurancePositions[symbol].sizeQuantityUnits = size
                state.ledger.insurancePositions[symbol].costMinor = try value("insurance fund cost", -magnitude...magnitude)
                try add(
                    state.ledger.insurancePositions[symbol].costMinor,
                    to: &state.ledger.positionCostTotalMinor[Int(state.symbols[symbol].settleAsset)],
                    "position cost total")
                try add(max(0, size), to: &state.ledger.openInterest[symbol].longUnits, "open interest")
                try add(max(0, -size), to: &state.ledger.openInterest[symbol].shortUnits, "open interest")
            }
        }
        for (symbol, order, client) in restingOrders {
            guard Int(order.accountIndex) < state.ledger.accounts.count, order.priceUnits > 0, order.openQuantityUnits > 0,
                state.books.orderLocations[order.orderID] == nil
            else { throw .outOfRange(field: "resting order", offset: reader.offset) }
            let account = Int(order.accountIndex)
            let last = state.books.rest(
                order, symbol: symbol, clientOrderID: client,
                accountLast: state.ledger.accounts[account].positions.peekLastOrderSlot(symbol, order.side))
            state.ledger.accounts[account].positions.countOrders(symbol, resting: 1, reduceOnly: order.reduceOnly)
            state.ledger.accounts[account].positions.setLastOrderSlot(symbol, order.side, last)
            if order.hasClientOrderID { state.idempotency.openClientOrders += 1 }
        }
        for symbol in state.markets.indices {
            for conditional in state.books.conditionalBySymbol[symbol] {
                guard Int(conditional.accountIndex) < state.ledger.accounts.count else {
                    throw .outOfRange(field: "conditional order account", offset: reader.offset)
                }
                if conditional.order.clientOrderID != 0 { state.idempotency.openClientOrders += 1 }
                state.ledger.accounts[Int(conditional.accountIndex)].positions.countOrders(SymbolID(symbol), conditional: 1)
            }
        }
        // v1 kept ids sorted and without times: they count as recorded at the snapshot.
        if version >= 2 {
            let offset = reader.offset
            state.idempotency.window = try IdempotencyWindow.decode(from: &reader)
            guard state.idempotency.window.isValid else { throw .outOfRange(field: "idempotency window", offset: offset) }
        }
        for _ in 0..<(try count("client order count", max: reader.remaining)) {
            let time = version >= 2 ? try reader.zigzag() : timeNanos
            let key = ClientOrderKey(
                accountIndex: try reader.varint(as: UInt32.self, field: "account"), clientOrderID: try clientOrderID())
            guard Int(key.accountIndex) < state.ledger.accounts.count, !key.clientOrderID.isNone, state.idempotency.clientOrders[key] == nil
            else {
                throw .outOfRange(field: "client order id", offset: reader.offset)
            }
            state.idempotency.rememberClientOrder(key, orderID: try reader.id(field: "order id"), timeNanos: time)
        }
        for _ in 0..<(try count("transfer count", max: reader.remaining)) {
            let time = version >= 2 ? try reader.zigzag() : timeNanos
            let sequence = try reader.id(field: "transfer sequence")
            let kindOffset = reader.offset
            guard let kind = TransferKind(rawValue: try reader.u8()) else { throw .outOfRange(field: "transfer kind", offset: kindOffset) }
            let transfer = try Transfer.decode(from: &reader)
            guard state.idempotency.transfers[transfer.transferID] == nil else {
                throw .outOfRange(field: "transfer id", offset: reader.offset)
            }
            state.idempotency.rememberTransfer(TransferRecord(sequence: sequence, kind: kind, transfer: transfer), timeNanos: time)
        }
        state.books.nextOrderID = try reader.id(field: "next order id")
        state.books.nextTradeID = try reader.id(field: "next trade id")
        if version >= 3, try flag("world limits") {
            state.worldLimits = try WorldLimits.decode(from: &reader, validating: true)
            if let limits = state.worldLimits { state.ledger.reserveAccounts(limits.accountsMax) }
        }
        if version >= 4 {
            for _ in 0..<(try count("deleveraging count", max: Limits.symbolsMax * 64)) {
                let offset = reader.offset
                let accountIndex = try reader.varint(as: UInt32.self, field: "deleveraging account")
                let symbol = try reader.varint(as: SymbolID.self, field: "deleveraging symbol")
                let side = try reader.side()
                let price = try reader.zigzag()
                let remaining = try reader.zigzag()
                guard state.isBounded, Int(accountIndex) < state.ledger.accounts.count, Int(symbol) < state.symbols.count, price > 0,
                    price <= state.symbols[Int(symbol)].maxPriceUnits * 4, remaining > 0,
                    !state.risk.deleveragings.contains(where: { $0.accountIndex == accountIndex && $0.symbol == symbol })
                else { throw .outOfRange(field: "deleveraging", offset: offset) }
                state.risk.deleveragings.append(
                    Deleveraging(
                        accountIndex: accountIndex, symbol: symbol, side: side, bankruptcyPriceUnits: price,
                        remainingQuantityUnits: remaining))
            }
        }
        if version >= 5 {
            for _ in 0..<(try count("ADL ranking count", max: Limits.symbolsMax * 2)) {
                let offset = reader.offset
                let symbol = try reader.varint(as: SymbolID.self, field: "ADL ranking symbol")
                let side = try reader.side()
                let cursor = try reader.varint(as: UInt32.self, field: "ADL ranking cursor")
                let complete = try flag("ADL ranking complete")
                // A side waiting for a ranking has a deleveraging; one ranking a side.
                guard state.isBounded, Int(symbol) < state.symbols.count, Int(cursor) <= state.ledger.accounts.count,
                    state.risk.deleveragings.contains(where: { $0.symbol == symbol && $0.side == side }),
                    !state.risk.adlRankings.contains(where: { $0.symbol == symbol && $0.side == side })
                else { throw .outOfRange(field: "ADL ranking", offset: offset) }
                var ranks: [AdlRanking.Rank] = []
                var seen = Set<UInt32>()
                for _ in 0..<(try count("ADL ranking positions", max: state.ledger.accounts.count)) {
                    let rankOffset = reader.offset
                    let accountIndex = try reader.varint(as: UInt32.self, field: "ADL ranking account")
                    let high = try reader.zigzag()
                    let low = try reader.varint()
                    let rank = AdlRanking.Rank(score: Int128(high) << 64 | Int128(low), accountIndex: accountIndex)
                    // Best first, each account once: strictly in rank order.
                    guard Int(accountIndex) < state.ledger.accounts.count, ranks.last.map({ $0.precedes(rank) }) ?? true,
                        seen.insert(accountIndex).inserted
                    else { throw .outOfRange(field: "ADL ranking position", offset: rankOffset) }
                    ranks.append(rank)
                }
                state.risk.adlRankings.append(
                    AdlRanking(symbol: symbol, side: side, cursorAccountIndex: cursor, isComplete: complete, ranks: ranks))
            }
        }
        state.lastSequence = sequence
        state.lastTimeNanos = timeNanos
        state.funding.refreshSchedule()
        if let problem = state.invariantViolation() {
            throw .outOfRange(field: "state (\(problem))", offset: reader.offset)
        }
        return state
    }
}
