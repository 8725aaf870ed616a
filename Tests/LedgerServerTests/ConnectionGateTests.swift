import Foundation
import Testing

@testable import LedgerServer

/// The connection caps' bookkeeping (docs/OPERATIONS.md, "Connection limits").
@Suite struct ConnectionGateTests {
    final class Closed: @unchecked Sendable {
        let lock = NSLock()
        var names: [Int] = []
        func add(_ name: Int) { lock.withLock { names.append(name) } }
    }

    final class Connection {}

    @Test func aFullPendingPoolEvictsItsOldestAndAdmittedOnesAreSafe() {
        let gate = ConnectionGate(admittedMax: 2, pendingMax: 3)
        let closed = Closed()
        let connections = (0..<8).map { _ in Connection() }
        func arrive(_ index: Int) { gate.arrive(ObjectIdentifier(connections[index])) { closed.add(index) }?() }
        for index in 0..<3 { arrive(index) }
        #expect(closed.names.isEmpty)
        // 0 authenticates: admitted, no longer evictable.
        #expect(gate.admit(ObjectIdentifier(connections[0])))
        arrive(3)  // pending: 1, 2, 3
        arrive(4)  // full: the oldest pending (1) goes
        #expect(closed.names == [1])
        arrive(5)
        #expect(closed.names == [1, 2])
        #expect(gate.admit(ObjectIdentifier(connections[3])))
        // Two admitted: a third is refused and stays pending.
        #expect(!gate.admit(ObjectIdentifier(connections[4])))
        #expect(gate.counts.admitted == 2 && gate.counts.refused == 1)
        // Back to pending as the newest (HTTP after a response): evicted last.
        gate.release(ObjectIdentifier(connections[0])) { closed.add(0) }?()
        arrive(6)
        #expect(closed.names == [1, 2, 4])
        gate.leave(ObjectIdentifier(connections[5]))
        arrive(7)
        #expect(closed.names == [1, 2, 4])
        #expect(gate.counts.pending == 3 && gate.counts.evicted == 3)
    }
}
