import Foundation
import Journal
import LedgerCore
import Snapshots

/// Tails the durable journal and writes the read models into PostgreSQL (DESIGN.md
/// "Projection"). Each batch of whole blocks is one transaction that also advances
/// `projector_checkpoint`, guarded by the sequence it started from, so a crash or a lost
/// connection anywhere projects every entry exactly once. PostgreSQL being down never
/// blocks the daemon: the projector retries with backoff and reports its lag.
///
/// It keeps its own replica of the state (snapshot + journal, applied as events) to know
/// positions and balances after each batch; mutable rows are written once per batch with
/// their final values, append-only rows by COPY.
public final class Projector: @unchecked Sendable {
    public struct Options: Sendable {
        public var url: String
        public var journalDirectory: String
        public var snapshotDirectory: String?
        /// Whole blocks are added to a batch until it holds at least this many entries.
        public var batchEntries: Int
        public var backoffMaxMillis: Int
        /// The PostgreSQL schema the read models live in (created when missing).
        public var schema: String
        /// The nice value of the daemon's projector threads (the loop and the batch builder).
        public var niceness: Int32

        public init(
            url: String, journalDirectory: String, snapshotDirectory: String?, batchEntries: Int = 20_000, backoffMaxMillis: Int = 2_000,
            schema: String = "public", niceness: Int32 = 10
        ) {
            self.url = url
            self.journalDirectory = journalDirectory
            self.snapshotDirectory = snapshotDirectory
            self.batchEntries = batchEntries
            self.backoffMaxMillis = backoffMaxMillis
            self.schema = schema
            self.niceness = niceness
        }
    }

    private let options: Options
    private let durableSequence: @Sendable () -> SequenceNumber
    private let log: @Sendable (_ level: String, _ message: String) -> Void
    private let statusLock = NSLock()
    private var _projectedSequence: SequenceNumber = 0
    private var _projectedTimeNanos: Int64 = 0
    private var _lastError: String?
    private var _stopRequested = false
    private var _finished = false

    private var connection: PostgresConnection?
    /// A rebuild's second lane (`catchUp(lanes: 2)`): the orders' tables on a connection
    /// of their own, so that two PostgreSQL backends share the load.
    private var ordersLane: PostgresConnection?
    private let laneQueue = DispatchQueue(label: "ledger-projector-lane")
    private var replica = ExchangeState()
    private var reader: JournalReader?
    private var orders = OrderLifecycle()
    /// Batches built (the replica is past them) and not known to be committed, in order.
    private var pending: [ProjectionBatch] = []
    /// Builds the next batch while the current one commits.
    private let builder = DispatchQueue(label: "ledger-projector-builder")
    /// Days whose partitions this connection made sure of.
    private var partitionedDays: Set<Int64> = []
    private var _rowsWritten = 0

    public init(
        options: Options, durableSequence: @escaping @Sendable () -> SequenceNumber,
        log: @escaping @Sendable (_ level: String, _ message: String) -> Void
    ) {
        self.options = options
        self.durableSequence = durableSequence
        self.log = log
    }

    /// The last sequence committed to PostgreSQL.
    public var projectedSequence: SequenceNumber { statusLock.withLock { _projectedSequence } }
    /// The journal time of the last entry projected in this run (0 before the first batch).
    public var projectedTimeNanos: Int64 { statusLock.withLock { _projectedTimeNanos } }
    public var lastError: String? { statusLock.withLock { _lastError } }
    /// Rows written by this projector's committed batches.
    public var rowsWritten: Int { statusLock.withLock { _rowsWritten } }

    /// True for the daemon's projector (`start`), false for `catchUp` (a tool at full speed).
    private var isLive = false

    public func start() {
        isLive = true
        let thread = Thread { [self] in run() }
        thread.name = "ledger-projector"
        thread.start()
    }

    /// Asks the loop to stop after the batch in hand and waits for it.
    public func stop() {
        statusLock.withLock { _stopRequested = true }
        while !statusLock.withLock({ _finished }) { usleep(2_000) }
    }

    private var stopRequested: Bool { statusLock.withLock { _stopRequested } }

    /// What `catchUp` did.
    public struct CatchUp: Sendable {
        /// The checkpoint it started from and the one it reached.
        public var fromSequence: SequenceNumber
        public var checkpoint: SequenceNumber
        public var entries: Int
        public var rows: Int
        /// The snapshot the read models start from when they were empty and one was asked for.
        public var snapshot: String?
    }

    /// Projects on the calling thread every entry of the journal after the schema's
    /// checkpoint, through `limit` or the journal's last whole block, and returns; any
    /// error is thrown, not retried (`ledger-replay project`). With `fromSnapshot` and
    /// empty read models, they start from the newest valid snapshot: its accounts,
    /// balances, positions and open orders, then the journal after it.
    ///
    /// With `lanes: 2` each batch's orders, order events and liquidations go on a second
    /// connection at the same time as the ledger's tables on the first. The second lane
    /// commits a batch just before the first commits it with the checkpoint, so the schema
    /// is whole once this returns; if it throws, a batch may be half in and the schema is
    /// to be dropped, not projected on (it is fit for a rebuild into a fresh schema, never
    /// for the live one).
    public func catchUp(
        through limit: SequenceNumber = .max, fromSnapshot: Bool = false, deferIndexes: Bool = false, lanes: Int = 1,
        progress: (SequenceNumber, Int, Int) -> Void = { _, _, _ in }
    ) throws -> CatchUp {
        precondition((1...2).contains(lanes), "a projector has one or two lanes")
        if connection == nil { try connect() }
        if lanes == 2 {
            if ordersLane == nil { ordersLane = try Self.openWithStaging(url: options.url, schema: options.schema) }
        } else {
            ordersLane = nil
        }
        var result = CatchUp(fromSequence: projectedSequence, checkpoint: projectedSequence, entries: 0, rows: 0)
        // A bulk load builds each index once, at its end, instead of row by row.
        if deferIndexes, let connection {
            for index in Schema.secondaryIndexes { try connection.execute("DROP INDEX IF EXISTS \(index.name)") }
        }
        if fromSnapshot, result.fromSequence == 0, let directory = options.snapshotDirectory {
            let found = try Recovery.newestSnapshot(
                journalDirectory: options.journalDirectory, snapshotDirectory: directory, atOrBefore: limit)
            if let loaded = found.loaded {
                replica = loaded.state
                orders = OrderLifecycle()
                var batch = ProjectionBatch(firstSequence: 1)
                batch.seed(from: replica, orders: &orders)
                batch.finish(replica: replica)
                try commit(batch)
                reader = JournalReader(directory: options.journalDirectory, from: replica.lastSequence + 1)
                result.snapshot = loaded.info.name
                result.rows += batch.rowCount
            }
        }
        _ = try drain(limit: limit) { batch in
            result.entries += batch.entryCount
            result.rows += batch.rowCount
            progress(batch.lastSequence, result.entries, result.rows)
            return true
        }
        if deferIndexes, let connection { try buildIndexes(connection) }
        result.checkpoint = projectedSequence
        return result
    }

    /// Builds the secondary indexes a bulk load dropped, the B-trees of `trades` and the
    /// orders' tables on the second lane at the same time as the rest on the first, each
    /// session with room to sort in memory.
    private func buildIndexes(_ connection: PostgresConnection) throws {
        @Sendable func build(_ indexes: ArraySlice<(name: String, definition: String)>, on connection: PostgresConnection)
            throws(PostgresError)
        {
            try connection.execute("SET maintenance_work_mem TO '256MB'")
            for index in indexes { try connection.execute("CREATE INDEX IF NOT EXISTS \(index.name) ON \(index.definition)") }
            try connection.execute("RESET maintenance_work_mem")
        }
        let all = Schema.secondaryIndexes
        guard ordersLane != nil else { return try build(all[...], on: connection) }
        let second = all.filter {
            $0.definition.hasPrefix("orders") || $0.definition.hasPrefix("order_events")
                || $0.name.hasPrefix("trades_") && !$0.definition.contains("brin")
        }
        let first = all.filter { index in !second.contains { $0.name == index.name } }
        try alongside({ () throws(PostgresError) in try build(first[...], on: connection) }) { lane throws(PostgresError) in
            try build(second[...], on: lane)
        }
    }

    /// Runs `onLane` on the orders lane's connection while `here` runs on the calling
    /// thread, waits for both, and throws the first error of the two (this side's first).
    private func alongside(
        _ here: () throws(PostgresError) -> Void, onLane work: @escaping @Sendable (PostgresConnection) throws(PostgresError) -> Void
    ) throws(PostgresError) {
        guard let laneConnection = ordersLane else { preconditionFailure("no orders lane") }
        nonisolated(unsafe) let lane = laneConnection
        let group = DispatchGroup()
        nonisolated(unsafe) var outcome: Result<Void, PostgresError> = .success(())
        group.enter()
        laneQueue.async {
            outcome = Result { () throws(PostgresError) in try work(lane) }
            group.leave()
        }
        do {
            try here()
        } catch {
            group.wait()
            throw error
        }
        group.wait()
        try outcome.get()
    }

    private func run() {
        // Background work: on a machine with few cores the engine, the writer and ingress
        // come first and the read models lag instead (`projector.niceness`). Linux keeps a
        // nice value per thread; 0 names the calling one (man 2 setpriority).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, options.niceness)
        var backoffMillis = 50
        while !stopRequested {
            do {
                if connection == nil { try connect() }
                let committed = try drain(limit: .max) { _ in !self.stopRequested }
                if committed == 0 { usleep(2_000) } else { backoffMillis = 50 }
            } catch {
                statusLock.withLock { _lastError = "\(error)" }
                log("warning", "projector: \(error); retrying in \(backoffMillis) ms")
                connection = nil
                usleep(UInt32(backoffMillis) * 1_000)
                backoffMillis = min(backoffMillis * 2, options.backoffMaxMillis)
            }
        }
        statusLock.withLock { _finished = true }
    }

    /// Commits the pending batches, then builds and commits batches through `limit` until
    /// none is left or `proceed` says stop; the next batch is built (journal read, replica
    /// advanced, rows rendered) while the one before it commits. On an error every batch
    /// built and not committed stays pending for the reconnect. Returns how many batches
    /// it committed.
    private func drain(limit: SequenceNumber, _ proceed: (ProjectionBatch) -> Bool) throws -> Int {
        var committed = 0
        while let first = pending.first {
            try commit(first)
            pending.removeFirst()
            committed += 1
            guard proceed(first) else { return committed }
        }
        guard var next = try nextBatch(limit: limit) else { return committed }
        while true {
            pending.append(next)
            let group = DispatchGroup()
            nonisolated(unsafe) var built: Result<ProjectionBatch?, any Error> = .success(nil)
            group.enter()
            builder.async {
                if self.isLive { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, self.options.niceness) }
                built = Result { try self.nextBatch(limit: limit) }
                group.leave()
            }
            do {
                try commit(next)
            } catch {
                group.wait()
                if case .success(let batch?) = built { pending.append(batch) }
                throw error
            }
            pending.removeFirst()
            committed += 1
            group.wait()
            let keepGoing = proceed(next)
            guard let following = try built.get() else { return committed }
            guard keepGoing else {
                pending.append(following)
                return committed
            }
            next = following
        }
    }

    /// Connects, migrates, and lines the replica up with the checkpoint.
    private func connect() throws {
        let connection = try Self.openWithStaging(url: options.url, schema: options.schema)
        partitionedDays = []
        let checkpoint = try Self.checkpoint(connection)
        // A batch that did commit (its acknowledgement was lost) is done; pending batches
        // that do not follow the checkpoint (a swap, a restored database) are dropped and
        // the replica is rebuilt at it.
        if let index = pending.firstIndex(where: { $0.lastSequence == checkpoint }) { pending.removeFirst(index + 1) }
        if let first = pending.first, first.firstSequence != checkpoint + 1 { pending = [] }
        if pending.isEmpty && replica.lastSequence != checkpoint {
            try rebuildReplica(through: checkpoint, connection: connection)
        }
        reader = JournalReader(directory: options.journalDirectory, from: replica.lastSequence + 1)
        self.connection = connection
        statusLock.withLock {
            _projectedSequence = checkpoint
            _lastError = nil
        }
        log("info", "projector connected at checkpoint \(checkpoint) (schema \(options.schema))")
    }

    /// A session on the read models' schema, migrated. Its commits need not wait for the
    /// WAL flush (`synchronous_commit = off`): a batch lost in a server crash is lost with
    /// its checkpoint, and projected again.
    static func open(url: String, schema: String) throws -> PostgresConnection {
        let connection = try PostgresConnection(url: url)
        let quoted = PostgresConnection.quote(identifier: schema)
        try connection.execute("CREATE SCHEMA IF NOT EXISTS \(quoted)")
        try connection.execute("SET search_path TO \(quoted); SET synchronous_commit TO off; SET TimeZone TO 'UTC'")
        try Schema.migrate(connection)
        return connection
    }

    static let stagingTables = [
        ("stage_balances", "balances"), ("stage_positions", "positions"), ("stage_orders", "orders"), ("stage_accounts", "accounts"),
        ("stage_liquidations", "liquidations"), ("stage_candles", "candles_1m"),
    ]

    /// A session with the staging tables of the upserts (the projector's, and a rebuild's
    /// second lane).
    static func openWithStaging(url: String, schema: String) throws -> PostgresConnection {
        let connection = try open(url: url, schema: schema)
        for (table, like) in stagingTables {
            try connection.execute("CREATE TEMP TABLE IF NOT EXISTS \(table) (LIKE \(like)) ON COMMIT DELETE ROWS")
        }
        return connection
    }

    private static func checkpoint(_ connection: PostgresConnection) throws -> SequenceNumber {
        let rows = try connection.execute("SELECT sequence FROM projector_checkpoint WHERE id = 1")
        return rows.first?.first.flatMap { $0.flatMap(SequenceNumber.init) } ?? 0
    }

    private func rebuildReplica(through checkpoint: SequenceNumber, connection: PostgresConnection) throws {
        let restored = try Recovery.restore(
            journalDirectory: options.journalDirectory, snapshotDirectory: options.snapshotDirectory, through: checkpoint)
        guard restored.state.lastSequence == checkpoint else {
            throw PostgresError(message: "the read models are at \(checkpoint) but the journal ends at \(restored.state.lastSequence)")
        }
        replica = restored.state
        orders = OrderLifecycle()
        // Open orders, and the liquidation orders whose deleveraging goes on in steps.
        var condition = "status IN ('NEW', 'PARTIALLY_FILLED')"
        for deleveraging in replica.risk.deleveragings where Int(deleveraging.accountIndex) < replica.accounts.count {
            let account = replica.accounts[Int(deleveraging.accountIndex)].id
            let symbol = PostgresConnection.quote(literal: replica.symbols[Int(deleveraging.symbol)].name)
            condition +=
                " OR order_id = (SELECT max(order_id) FROM orders WHERE auto_close = 'LIQUIDATION' AND account_id = \(account) AND symbol = \(symbol))"
        }
        for row in try connection.execute("SELECT \(ProjectionBatch.Columns.orders.joined(separator: ", ")) FROM orders WHERE \(condition)")
        {
            guard let record = OrderRecord(databaseRow: row, catalog: replica) else {
                throw PostgresError(message: "orders: a row the projector cannot read back: \(row)")
            }
            orders.seed(record)
        }
    }

    /// Reads whole durable blocks and turns them into rows, advancing the replica.
    private func nextBatch(limit: SequenceNumber = .max) throws -> ProjectionBatch? {
        guard let reader else { return nil }
        let durable = min(durableSequence(), limit)
        guard replica.lastSequence < durable else { return nil }
        var batch = ProjectionBatch(firstSequence: replica.lastSequence + 1)
        while batch.entryCount < options.batchEntries, let block = try reader.nextBlock(upTo: durable) {
            for entry in block.entries {
                let payload = try entry.decodePayload()
                batch.add(entry: entry, payload: payload, replica: &replica, orders: &orders)
            }
        }
        guard batch.entryCount > 0 else { return nil }
        batch.finish(replica: replica)
        return batch
    }

    private func commit(_ batch: ProjectionBatch) throws {
        guard let connection else { throw PostgresError(message: "not connected") }
        // Partitions first, in their own transactions: their lock on the parent is not
        // held for the batch's length.
        for day in batch.days.sorted() where !partitionedDays.contains(day) {
            try connection.execute(
                "SELECT ledger_day_partitions(DATE '1970-01-01' + \(day)), ledger_day_partitions(DATE '1970-01-01' + \(day + 1))")
            partitionedDays.insert(day)
        }
        try connection.execute("BEGIN")
        do {
            if ordersLane == nil {
                try batch.write(to: connection)
            } else {
                // The orders lane runs beside the ledger lane and commits first.
                try alongside({ () throws(PostgresError) in try batch.writeLedger(to: connection) }) { lane throws(PostgresError) in
                    try lane.execute("BEGIN")
                    do throws(PostgresError) {
                        try batch.writeOrders(to: lane)
                        try lane.execute("COMMIT")
                    } catch {
                        _ = try? lane.execute("ROLLBACK")
                        throw error
                    }
                }
            }
            let moved = try connection.executeCount(
                "UPDATE projector_checkpoint SET sequence = \(batch.lastSequence), updated_at = now() WHERE id = 1 AND sequence = \(batch.firstSequence - 1)"
            )
            guard moved == 1 else {
                throw PostgresError(
                    message: "the read models' checkpoint is not at \(batch.firstSequence - 1) (swapped or restored?): reconnecting")
            }
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
        statusLock.withLock {
            _projectedSequence = batch.lastSequence
            _projectedTimeNanos = batch.lastTimeNanos
            _rowsWritten += batch.rowCount
        }
    }
}
