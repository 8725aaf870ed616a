import LedgerCore
import Testing

@testable import LedgerServer

/// The engine's request queue: requests move in and out in order, what does not fit is
/// left to the caller (answered BUSY), and requests still queued when it goes are released.
@Suite struct RequestQueueTests {
    final class Sink: ReplySink, @unchecked Sendable {
        func deliver(_ replies: ReplyList) {}
    }

    static func deposit(_ id: UInt64, _ sink: Sink) -> EngineRequest {
        EngineRequest(
            requestID: id, kind: .command(.deposit(Transfer(transferID: id, account: 1, asset: 0, amountMinor: Int64(id)))), sink: sink)
    }

    @Test func requestsLeaveInTheOrderTheyCame() {
        let queue = RequestQueue(capacity: 5)
        let sink = Sink()
        var first = (1...3).map { Self.deposit($0, sink) }
        #expect(queue.append(moving: &first) == 3)
        // Room for two of these three: the third is the caller's to refuse, left whole.
        var second = (4...6).map { Self.deposit($0, sink) }
        #expect(queue.append(moving: &second) == 2)
        #expect(queue.count == 5)
        // The queued requests' commands were moved out (a state query left in their place),
        // their ids and sinks kept; the one refused is as it came.
        #expect(second.map(\.requestID) == [4, 5, 6] && second.allSatisfy { $0.sink === sink })
        for request in second.prefix(2) {
            guard case .stateQuery = request.kind else {
                Issue.record("request \(request.requestID) kept \(request.kind)")
                continue
            }
        }
        guard case .command(.deposit(let refused)) = second[2].kind, refused.transferID == 6 else {
            Issue.record("the refused request holds \(second[2].kind)")
            return
        }
        var seen: [UInt64] = []
        while queue.hasNext {
            let (requestID, taken, kind) = queue.takeNext()
            guard case .command(.deposit(let transfer)) = kind else {
                Issue.record("request \(requestID) came out as \(kind)")
                continue
            }
            #expect(transfer.transferID == requestID && taken === sink)
            seen.append(requestID)
        }
        #expect(seen == [1, 2, 3, 4, 5])
        queue.clear()
        var third = [Self.deposit(7, sink)]
        #expect(queue.isEmpty && queue.append(moving: &third) == 1)
        #expect(queue.peekKind(0) { if case .command(.deposit(let transfer)) = $0 { transfer.transferID } else { 0 } } == 7)
    }

    @Test func aQueueGoneReleasesWhatItStillHolds() {
        weak var released: Sink?
        weak var kept: Sink?
        do {
            let first = Sink()
            let second = Sink()
            released = second
            kept = first
            let queue = RequestQueue(capacity: 4)
            var requests = [Self.deposit(1, first), Self.deposit(2, second)]
            #expect(queue.append(moving: &requests) == 2)
            requests.removeAll()
            let (_, taken, _) = queue.takeNext()
            // The taken request's sink lives on with whoever took it; the queued one goes
            // with the queue.
            withExtendedLifetime(queue) {}
            #expect(taken === first)
            withExtendedLifetime(taken) {}
        }
        #expect(released == nil, "a request still queued was not released with its queue")
        #expect(kept == nil, "a request taken out was released twice or never")
    }
}
