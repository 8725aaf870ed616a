import LedgerCore
import Testing

@testable import LedgerServer

/// A batch's replies name their sinks by place: each sink is kept once, in the order of its
/// first reply, however the connections' replies interleave, and a response or a
/// follower's work is found again at the place its reply names.
@Suite struct SequencerBatchTests {
    final class Sink: ReplySink, @unchecked Sendable {
        func deliver(_ replies: ReplyList) {}
    }

    @Test func repliesNameTheirOwnSinkAndPayload() {
        let batch = Sequencer.Batch()
        let (a, b, c) = (Sink(), Sink(), Sink())
        // Runs and returns: a, a, b, a, c, b, c.
        let order: [(Sink, UInt64)] = [(a, 1), (a, 2), (b, 3), (a, 4), (c, 5), (b, 6), (c, 7)]
        for (sink, id) in order {
            switch id % 3 {
            case 0: batch.reply(sink, id, response: .error(.badRequest, "request \(id)"))
            case 1: batch.reply(sink, id, .committed(sequence: id * 10, timeNanos: Int64(id), events: 0..<Int(id), eventBytes: 1..<2))
            default: batch.reply(sink, id, work: .stateHash)
            }
        }
        #expect(batch.sinks.count == 3)
        #expect(batch.sinks[0] === a && batch.sinks[1] === b && batch.sinks[2] === c)
        #expect(batch.replies.map(\.requestID) == order.map(\.1))
        for (place, (sink, id)) in order.enumerated() {
            let reply = batch.replies[place]
            #expect(batch.sinks[reply.sink] === sink, "reply \(id) names sink \(reply.sink)")
            switch reply.pending {
            case .response(let index):
                guard case .error(.badRequest, let message) = batch.responses[index] else {
                    Issue.record("reply \(id) names response \(batch.responses[index])")
                    continue
                }
                #expect(message == "request \(id)" && id % 3 == 0)
            case .committed(let sequence, let time, let events, _):
                #expect(sequence == id * 10 && time == Int64(id) && events == 0..<Int(id) && id % 3 == 1)
            case .follower(let index):
                #expect(index < batch.followerWork.count && id % 3 == 2)
            }
        }
        #expect(batch.responses.count == 2 && batch.followerWork.count == 2)
        batch.reset()
        #expect(batch.sinks.isEmpty && batch.replies.isEmpty && batch.responses.isEmpty && batch.followerWork.isEmpty)
        // After the reset a sink seen before is placed anew, first.
        batch.reply(c, 8, response: .error(.busy, "full"))
        #expect(batch.sinks.count == 1 && batch.sinks[0] === c && batch.replies[0].sink == 0)
    }

    @Test func aResetReleasesTheBatchsSinks() {
        let batch = Sequencer.Batch()
        weak var released: Sink?
        do {
            let sink = Sink()
            released = sink
            for id in UInt64(1)...3 { batch.reply(sink, id, response: .error(.badRequest, "x")) }
        }
        #expect(released != nil)
        batch.reset()
        #expect(released == nil)
    }

    @Test func aListsResponsesAreFoundByTheirPlace() {
        var list = ReplyList(events: [.orderAccepted(7)], bytes: [1, 2, 3], capacity: 3)
        list.append(1, response: .error(.unavailable, "first"))
        list.append(2, .committed(sequence: 5, timeNanos: 6, events: 0..<1, encodedEvents: 1..<3))
        list.append(3, response: .state(sequence: 9, stateHash: [4]))
        #expect(list.count == 3 && list.responses.count == 2)
        guard case (1, .error(.unavailable, "first")) = list.response(at: 0) else {
            Issue.record("\(list.response(at: 0))")
            return
        }
        guard case (2, .committed(5, 6, let events, let bytes?)) = list.response(at: 1) else {
            Issue.record("\(list.response(at: 1))")
            return
        }
        #expect(Array(events) == [.orderAccepted(7)] && Array(bytes) == [2, 3])
        guard case (3, .state(9, let hash)) = list.response(at: 2) else {
            Issue.record("\(list.response(at: 2))")
            return
        }
        #expect(hash == [4])
        let made = ReplyList([(requestID: 4, response: .error(.busy, "a")), (requestID: 5, response: .error(.busy, "b"))])
        guard case (5, .error(.busy, "b")) = made.response(at: 1) else {
            Issue.record("\(made.response(at: 1))")
            return
        }
    }
}
