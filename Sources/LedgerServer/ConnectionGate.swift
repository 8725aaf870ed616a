import Foundation

/// Caps the connections of one listener (docs/OPERATIONS.md, "Connection limits"), so that
/// connections that never authenticate or never finish a request cannot take the
/// descriptors and the memory meant for gateways.
///
/// A connection arrives *pending* (TCP: before its hello; HTTP: between requests). It is
/// *admitted* once it proves useful (TCP: a valid hello; HTTP: a whole request), within
/// `admittedMax`. When `pendingMax` pending connections exist, a new one pushes the oldest
/// pending one out: a flood of idle connections only ever evicts its own kind, and a
/// gateway that says hello within a round trip gets in. Thread-safe.
final class ConnectionGate: @unchecked Sendable {
    let admittedMax: Int
    let pendingMax: Int
    private let lock = NSLock()
    private var pending: [ObjectIdentifier: (arrival: UInt64, close: @Sendable () -> Void)] = [:]
    private var admitted: Set<ObjectIdentifier> = []
    private var arrivals: UInt64 = 0
    private var _evicted: UInt64 = 0
    private var _refused: UInt64 = 0

    init(admittedMax: Int, pendingMax: Int) {
        precondition(admittedMax >= 1 && pendingMax >= 1)
        self.admittedMax = admittedMax
        self.pendingMax = pendingMax
    }

    /// A new connection, pending. Returns the close of the oldest pending connection when
    /// the pending pool was full (call it outside any lock of yours).
    ///
    /// Complexity: O(pendingMax) when the pool is full, else O(1).
    func arrive(_ id: ObjectIdentifier, close: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? {
        lock.withLock {
            arrivals += 1
            var victim: (@Sendable () -> Void)?
            if pending.count >= pendingMax, let oldest = pending.min(by: { $0.value.arrival < $1.value.arrival }) {
                pending.removeValue(forKey: oldest.key)
                victim = oldest.value.close
                _evicted += 1
            }
            pending[id] = (arrivals, close)
            return victim
        }
    }

    /// Pending → admitted; false (and the connection stays pending) when `admittedMax`
    /// connections are admitted already.
    func admit(_ id: ObjectIdentifier) -> Bool {
        lock.withLock {
            if admitted.contains(id) { return true }
            guard admitted.count < admittedMax else {
                _refused += 1
                return false
            }
            pending.removeValue(forKey: id)
            admitted.insert(id)
            return true
        }
    }

    /// Admitted → pending again, as the newest (HTTP, after a response).
    func release(_ id: ObjectIdentifier, close: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? {
        lock.withLock { _ = admitted.remove(id) }
        return arrive(id, close: close)
    }

    /// The connection is gone.
    func leave(_ id: ObjectIdentifier) {
        lock.withLock {
            pending.removeValue(forKey: id)
            admitted.remove(id)
        }
    }

    /// For metrics: (pending, admitted, evicted so far, refused so far).
    var counts: (pending: Int, admitted: Int, evicted: UInt64, refused: UInt64) {
        lock.withLock { (pending.count, admitted.count, _evicted, _refused) }
    }
}
