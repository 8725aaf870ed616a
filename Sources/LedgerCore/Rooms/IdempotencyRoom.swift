/// The idempotency room (docs/ARCHITECTURE.md, docs/RULES.md "Idempotency"): the
/// transfer ids and client order ids remembered, in the window of journal time and the
/// number of records the ledger keeps, oldest first.
///
/// It reads one thing outside itself: whether an order is still open (`BookRoom`), since
/// a client order id is kept while its order is.
public struct IdempotencyRoom: Sendable {
    /// How long, and how many, ids are remembered.
    public internal(set) var window = IdempotencyWindow.standard {
        didSet { dueCheckNanos = .min }
    }
    /// Transfer ids are chosen by clients: full hash, no runs.
    var transfers = IDTable<TransferRecord>(
        filler: TransferRecord(sequence: 0, kind: .deposit, transfer: Transfer(transferID: 0, account: 0, asset: 0, amountMinor: 0)))
    var clientOrders = HashTable<ClientOrderKey, OrderID>(filler: 0)
    /// The queues of remembered ids, oldest first (part of the snapshot).
    var transferQueue = FIFO<IdempotencyRecord<TransferID>>()
    var clientOrderQueue = FIFO<IdempotencyRecord<ClientOrderKey>>()
    /// Open orders (resting or waiting for their trigger) with a client order id: the
    /// records of `clientOrderQueue` that cannot be forgotten (derived, not encoded).
    var openClientOrders = 0
    /// Before this journal time no record can be due (`hasDue` is false), so that most
    /// entries look at neither queue: one comparison instead of both queues' oldest records
    /// and windows (~35 instructions an entry, issue 12). Derived, never encoded or
    /// compared: `.min` sends the next entry to the queues (`expire`), which set it again
    /// (`nextDueNanos`). Every change here keeps it at or before the true time: an append
    /// to an empty queue brings it forward, an append past the maximum count makes it
    /// `.min`, a new window makes it `.min`; code outside the room that changes a queue
    /// sets it to `.min` itself.
    var dueCheckNanos: Int64 = .min

    public init() {}

    /// A room that remembers ids for `window` (a standalone room, as `RoomBench` drives one;
    /// the engine's changes its window by `idempotencyWindowSet`).
    public init(window: IdempotencyWindow) {
        self.window = window
    }

    /// The record of a completed transfer.
    public func transfer(_ id: TransferID) -> TransferRecord? {
        transfers[id]
    }

    /// The id of the order an account placed under a client order id, open or not.
    @inline(__always)
    func orderID(_ key: ClientOrderKey) -> OrderID? {
        clientOrders[key]
    }

    /// Remembers a completed transfer, recorded at `timeNanos`.
    public mutating func rememberTransfer(_ record: TransferRecord, timeNanos: Int64) {
        transfers[record.transfer.transferID] = record
        transferQueue.append(IdempotencyRecord(timeNanos: timeNanos, key: record.transfer.transferID))
        noteAppended(count: transferQueue.count, timeNanos: timeNanos, seconds: window.transferSeconds)
    }

    /// Remembers the order an account placed under a client order id, at `timeNanos`.
    mutating func rememberClientOrder(_ key: ClientOrderKey, orderID: OrderID, timeNanos: Int64) {
        clientOrders[key] = orderID
        clientOrderQueue.append(IdempotencyRecord(timeNanos: timeNanos, key: key))
        noteAppended(count: clientOrderQueue.count, timeNanos: timeNanos, seconds: window.clientOrderSeconds)
    }

    /// Keeps `dueCheckNanos` at or before the true time after an append: the record is
    /// the oldest when its queue was empty, and a count past the maximum is due at once.
    /// (Records are appended in journal order, so an append to a queue that held one
    /// leaves its oldest record, and its time, as they were.)
    @inline(__always)
    private mutating func noteAppended(count: Int, timeNanos: Int64, seconds: Int64) {
        if count > Int(window.maxRecords) {
            dueCheckNanos = .min
        } else if count == 1 {
            dueCheckNanos = min(dueCheckNanos, Self.dueNanos(recordedAt: timeNanos, seconds: seconds))
        }
    }

    /// The first journal time at which a record made at `timeNanos` has left a window of
    /// `seconds`: `timeNanos < now − seconds × 10^9` holds from `timeNanos + seconds ×
    /// 10^9 + 1` on (`.max` past the largest time).
    static func dueNanos(recordedAt timeNanos: Int64, seconds: Int64) -> Int64 {
        let (due, overflow) = timeNanos.addingReportingOverflow(seconds * 1_000_000_000 + 1)
        return overflow ? .max : due
    }

    /// The earliest time a record will be due as things stand: `.min` when a queue is past
    /// the maximum count (due now), `.max` when both are empty.
    func nextDueNanos() -> Int64 {
        if transferQueue.count > Int(window.maxRecords) || clientOrderQueue.count > Int(window.maxRecords) { return .min }
        var due = Int64.max
        if let first = transferQueue.first { due = min(due, Self.dueNanos(recordedAt: first.timeNanos, seconds: window.transferSeconds)) }
        if let first = clientOrderQueue.first {
            due = min(due, Self.dueNanos(recordedAt: first.timeNanos, seconds: window.clientOrderSeconds))
        }
        return due
    }

    /// Forgets what has left the windows by `now` (the entry's journal time). At most
    /// `budget` records of each kind are looked at; the rest wait for the next entries.
    /// An id whose order is still open (`books`) goes to the back with the current time.
    /// Under the bounded rules (`bounded`) the ids of open orders do not count toward the
    /// maximum: with more open orders than the maximum, every entry would re-queue `budget`
    /// of them, forever (docs/RULES.md, "Idempotency").
    @inline(__always)
    public mutating func expire(now: Int64, budget: Int, bounded: Bool, books: borrowing BookRoom) {
        guard now >= dueCheckNanos else { return }
        if hasDue(now: now) { forget(now: now, budget: budget, bounded: bounded, books: books) }
        dueCheckNanos = nextDueNanos()
    }

    /// True when `expire` has work at `now`: the oldest record of a kind has left its
    /// window. Most entries forget nothing: two comparisons a queue, inline. (Open orders'
    /// ids are counted here, so this is true whenever `forget` would find work.)
    @inline(__always)
    func hasDue(now: Int64) -> Bool {
        if let first = transferQueue.first, transferIsDue(first, now: now) { return true }
        if let first = clientOrderQueue.first, clientOrderIsDue(first, now: now, unforgettable: 0) { return true }
        return false
    }

    /// The oldest transfer id has left the window by `now`, by time or by count.
    @inline(__always)
    private func transferIsDue(_ record: IdempotencyRecord<TransferID>, now: Int64) -> Bool {
        record.timeNanos < now - window.transferSeconds * 1_000_000_000 || transferQueue.count > Int(window.maxRecords)
    }

    /// The oldest client order id has left the window by `now`, by time or by count (the
    /// `unforgettable` ids of open orders not counted).
    @inline(__always)
    private func clientOrderIsDue(_ record: IdempotencyRecord<ClientOrderKey>, now: Int64, unforgettable: Int) -> Bool {
        record.timeNanos < now - window.clientOrderSeconds * 1_000_000_000
            || clientOrderQueue.count - unforgettable > Int(window.maxRecords)
    }

    private mutating func forget(now: Int64, budget: Int, bounded: Bool, books: borrowing BookRoom) {
        var forgotten = 0
        while forgotten < budget, let first = transferQueue.first, transferIsDue(first, now: now) {
            forgotten += 1
            transferQueue.removeFirst()
            transfers.removeValue(forKey: first.key)
        }
        // Each record is looked at once per entry at most.
        var looked = 0
        let total = min(clientOrderQueue.count, budget)
        let unforgettable = bounded ? openClientOrders : 0
        while looked < total, let first = clientOrderQueue.first, clientOrderIsDue(first, now: now, unforgettable: unforgettable) {
            looked += 1
            clientOrderQueue.removeFirst()
            if books.isOpen(clientOrders[first.key]!) {
                clientOrderQueue.append(IdempotencyRecord(timeNanos: now, key: first.key))
            } else {
                clientOrders.removeValue(forKey: first.key)
            }
        }
    }

    /// The first way the queues and the tables disagree, or nil.
    public func consistencyViolation() -> String? {
        if clientOrderQueue.count != clientOrders.count || transferQueue.count != transfers.count {
            return "idempotency queues (\(clientOrderQueue.count), \(transferQueue.count)) differ from their tables"
        }
        return nil
    }
}
