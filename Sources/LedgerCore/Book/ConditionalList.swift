/// One symbol's waiting conditional orders in id order, in pages of at most `pageSize`:
/// taking one out moves the rest of its page, not the rest of the list.
///
/// Orders join at the end (their ids are handed out in increasing order) and leave from
/// anywhere (cancelled or triggered). In one array, a removal moved every later order: with
/// 10^5 orders waiting, 0.11 ms a cancel or trigger (docs/BENCHMARKS.md, "Stop orders at
/// the size of a venue"). A removal here is a binary search over the pages' first ids, one
/// within the page, and a move of at most `pageSize` orders; a page left nearly empty joins
/// a neighbour (a move of the pages' references, a few thousand at 10^6 orders).
public struct ConditionalList: Sendable, MutableCollection, BidirectionalCollection {
    /// Orders a page holds at most (~60 KiB).
    static let pageSize = 512

    public struct Index: Comparable, Sendable {
        fileprivate var page: Int
        fileprivate var offset: Int
        public static func < (left: Index, right: Index) -> Bool {
            (left.page, left.offset) < (right.page, right.offset)
        }
    }

    /// Non-empty pages, each in id order, every id of a page below every id of the next.
    private var pages: [[ConditionalOrder]] = []
    public private(set) var count = 0

    public init() {}

    public var startIndex: Index { Index(page: 0, offset: 0) }
    public var endIndex: Index { Index(page: pages.count, offset: 0) }
    public var isEmpty: Bool { count == 0 }

    public func index(after index: Index) -> Index {
        index.offset + 1 < pages[index.page].count
            ? Index(page: index.page, offset: index.offset + 1) : Index(page: index.page + 1, offset: 0)
    }

    public func index(before index: Index) -> Index {
        index.offset > 0
            ? Index(page: index.page, offset: index.offset - 1) : Index(page: index.page - 1, offset: pages[index.page - 1].count - 1)
    }

    public subscript(index: Index) -> ConditionalOrder {
        get { pages[index.page][index.offset] }
        set { pages[index.page][index.offset] = newValue }
    }

    /// Adds an order at the end (the caller keeps the ids increasing, or the sweep says
    /// otherwise).
    mutating func append(_ order: ConditionalOrder) {
        if pages.isEmpty || pages[pages.count - 1].count == Self.pageSize {
            var page: [ConditionalOrder] = []
            page.reserveCapacity(Self.pageSize)
            pages.append(page)
        }
        pages[pages.count - 1].append(order)
        count += 1
    }

    /// Where the order `orderID` is, or nil: a binary search of the pages, then of the page.
    func position(of orderID: OrderID) -> Index? {
        var (low, high) = (0, pages.count)
        while low < high {
            let middle = (low + high) / 2
            if pages[middle][pages[middle].count - 1].orderID < orderID { low = middle + 1 } else { high = middle }
        }
        guard low < pages.count else { return nil }
        var (first, last) = (0, pages[low].count)
        while first < last {
            let middle = (first + last) / 2
            if pages[low][middle].orderID < orderID { first = middle + 1 } else { last = middle }
        }
        return first < pages[low].count && pages[low][first].orderID == orderID ? Index(page: low, offset: first) : nil
    }

    /// Takes the order at `index` out. A page left with fewer than a quarter of
    /// `pageSize` joins a neighbour that has room: no two neighbouring pages are then both
    /// under a quarter full, so there are at most 8 × count / `pageSize` + 1 pages.
    @discardableResult
    mutating func remove(at index: Index) -> ConditionalOrder {
        let page = index.page
        let order = pages[page].remove(at: index.offset)
        count -= 1
        if pages[page].isEmpty {
            pages.remove(at: page)
        } else if pages[page].count < Self.pageSize / 4 {
            if page + 1 < pages.count, pages[page].count + pages[page + 1].count <= Self.pageSize {
                pages[page].append(contentsOf: pages[page + 1])
                pages.remove(at: page + 1)
            } else if page > 0, pages[page - 1].count + pages[page].count <= Self.pageSize {
                pages[page - 1].append(contentsOf: pages[page])
                pages.remove(at: page)
            }
        }
        return order
    }

    /// How many pages hold the orders (for tests of the bound above).
    var pageCount: Int { pages.count }
}
