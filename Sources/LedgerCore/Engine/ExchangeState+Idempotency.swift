/// Bounded idempotency (docs/RULES.md, "Idempotency"): transfer ids and client order ids
/// are remembered for a window of journal time and up to a number of records, oldest
/// forgotten first; a client order id is kept while its order is open. The windows move
/// at the start of every entry, executed or applied alike, so a replay forgets exactly
/// what the original run forgot; the queues are part of the snapshot.
extension ExchangeState {
    /// Forgets what has left the windows by `now` (the entry's journal time).
    /// Under the bounded rules at most `Limits.idempotencyExpiriesPerEntryMax` records of
    /// each kind are looked at per entry; the rest wait for the next entries.
    @inline(__always)
    mutating func expireIdempotency(now: Int64) {
        // Checked here first: the call with the books beside the room copied the room
        // (545 bytes) out of the state and back on every entry. Most entries stop at the
        // one comparison (`IdempotencyRoom.dueCheckNanos`).
        guard now >= idempotency.dueCheckNanos else { return }
        idempotency.expire(
            now: now, budget: isBounded ? Limits.idempotencyExpiriesPerEntryMax : Int.max, bounded: isBounded, books: books)
    }

    mutating func executeSetIdempotencyWindow(
        _ window: IdempotencyWindow, _ command: Command, _ sequence: SequenceNumber, _ events: inout [Event]
    ) {
        guard window.isValid else { return events.append(.rejected(.invalidAmount, detail: 0)) }
        emit(.idempotencyWindowSet(window), command, sequence, &events)
    }
}

extension ExchangeState {
    /// A copy whose remembered ids are in key order and count as recorded at `time`: a v1
    /// snapshot keeps neither their times nor their order, so tests compare it with a
    /// replay this way.
    func withIdempotencyTimes(_ time: Int64) -> ExchangeState {
        var copy = self
        copy.idempotency.clientOrderQueue = FIFO()
        let keys = idempotency.clientOrderQueue.elements.map(\.key)
        for key in keys.sorted(by: { ($0.accountIndex, $0.clientOrderID) < ($1.accountIndex, $1.clientOrderID) }) {
            copy.idempotency.clientOrderQueue.append(IdempotencyRecord(timeNanos: time, key: key))
        }
        copy.idempotency.transferQueue = FIFO()
        // (The queue holds every remembered id once: the table itself is never iterated.)
        for id in idempotency.transferQueue.elements.map(\.key).sorted() {
            copy.idempotency.transferQueue.append(IdempotencyRecord(timeNanos: time, key: id))
        }
        copy.idempotency.dueCheckNanos = .min
        return copy
    }
}

/// How long, and how many, transfer ids and client order ids are remembered.
public struct IdempotencyWindow: Sendable, Hashable {
    public var transferSeconds: Int64
    public var clientOrderSeconds: Int64
    /// Per kind (transfers, client order ids).
    public var maxRecords: Int64

    /// 1 s … 366 days each, 1 … `Limits.idempotencyRecordsMax` records.
    public var isValid: Bool {
        transferSeconds >= 1 && transferSeconds <= 366 * 86_400 && clientOrderSeconds >= 1 && clientOrderSeconds <= 366 * 86_400
            && maxRecords >= 1 && maxRecords <= Limits.idempotencyRecordsMax
    }

    public init(transferSeconds: Int64, clientOrderSeconds: Int64, maxRecords: Int64) {
        self.transferSeconds = transferSeconds
        self.clientOrderSeconds = clientOrderSeconds
        self.maxRecords = maxRecords
    }

    /// Transfers for 7 days, client order ids for 24 hours after their order closed, at
    /// most 1,000,000 of each.
    public static let standard = IdempotencyWindow(transferSeconds: 7 * 86_400, clientOrderSeconds: 86_400, maxRecords: 1_000_000)
}

/// One remembered id and when it was recorded (journal time).
struct IdempotencyRecord<Key: Hashable & Sendable>: Sendable, Hashable {
    var timeNanos: Int64
    var key: Key
}

/// A FIFO in pages of `pageSize` records: O(1) at both ends, and no operation costs more
/// than one page. A FIFO over one array with a moving head grew by copying every record
/// into an array twice the size (16.8 ms in the deposit that remembered the 1,061,683rd
/// transfer id) and compacted by moving every record left (docs/BENCHMARKS.md, "Growth in
/// bounded steps"); here a full last page gets a new one after it, and an emptied first
/// page goes (the list of pages moves, a word a page).
struct FIFO<Element: Sendable & Hashable>: Sendable, Hashable {
    static var pageSize: Int { 4_096 }
    private var pages: ContiguousArray<ContiguousArray<Element>> = []
    /// The first record's place in the first page.
    private var head = 0
    private(set) var count = 0

    var first: Element? { count > 0 ? pages[0][head] : nil }
    /// The records, oldest first.
    var elements: Elements { Elements(pages: pages, head: head) }

    mutating func append(_ element: Element) {
        if pages.isEmpty || pages[pages.count - 1].count == Self.pageSize {
            var page = ContiguousArray<Element>()
            page.reserveCapacity(Self.pageSize)
            pages.append(page)
        }
        pages[pages.count - 1].append(element)
        count += 1
    }

    mutating func removeFirst() {
        precondition(count > 0, "removeFirst of an empty FIFO")
        head += 1
        count -= 1
        guard head == pages[0].count else { return }
        if pages.count == 1 {
            pages[0].removeAll(keepingCapacity: true)
        } else {
            pages.removeFirst()
        }
        head = 0
    }

    /// Equal when the records are, in order (however they are split into pages).
    static func == (left: FIFO, right: FIFO) -> Bool {
        left.count == right.count && left.elements.elementsEqual(right.elements)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for element in elements { hasher.combine(element) }
    }

    struct Elements: Sequence {
        let pages: ContiguousArray<ContiguousArray<Element>>
        let head: Int

        func makeIterator() -> Iterator { Iterator(pages: pages, index: head) }

        struct Iterator: IteratorProtocol {
            let pages: ContiguousArray<ContiguousArray<Element>>
            var page = 0
            var index: Int

            init(pages: ContiguousArray<ContiguousArray<Element>>, index: Int) {
                self.pages = pages
                self.index = index
            }

            mutating func next() -> Element? {
                while page < pages.count {
                    if index < pages[page].count {
                        defer { index += 1 }
                        return pages[page][index]
                    }
                    page += 1
                    index = 0
                }
                return nil
            }
        }
    }
}
