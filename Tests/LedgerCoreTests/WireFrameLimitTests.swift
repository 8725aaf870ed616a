import LedgerCore
import Testing

/// Requests are at most 4,096 bytes; replies at most `WireFrame.replyBytesMax`, which an
/// entry's events always fit (docs/FORMATS.md, "Wire protocol").
@Suite struct WireFrameLimitTests {
    static func body(_ frame: WireFrame) -> [UInt8] {
        var writer = ByteWriter()
        frame.encode(to: &writer)
        return Array(writer.bytes.dropFirst(4))
    }

    @Test func aReplyLargerThanARequestDecodesUpToItsLimit() throws {
        // 3,000 cancellations: about 20 KiB, past 4,096 and within an entry's 64 KiB.
        let events = (0..<3_000).map { Event.orderCancelled(OrderID(1 << 40 + $0), quantityUnits: 1 << 40) }
        let reply = WireFrame.committed(requestID: 9, sequence: 77, events: events)
        let body = Self.body(reply)
        #expect(body.count > WireFrame.frameBytesMax && body.count <= WireFrame.replyBytesMax)
        #expect(try WireFrame.decode(body: body) == reply)
        // The largest entry's events fit a reply.
        #expect(WireFrame.replyBytesMax >= Limits.entryPayloadBytesMax + 29)
    }

    @Test func requestsStayWithin4096BytesAndRepliesWithinTheirLimit() {
        // A command frame of 4,097 bytes: refused by its length before anything else.
        var request = Self.body(.stateQuery(requestID: 1))
        request += [UInt8](repeating: 0, count: WireFrame.frameBytesMax + 1 - request.count)
        #expect(throws: CodecError.outOfRange(field: "frame length", offset: 0)) { try WireFrame.decode(body: request) }
        // A reply one byte over its limit.
        var reply = Self.body(.state(requestID: 1, sequence: 1, stateHash: [UInt8](repeating: 0, count: 32)))
        reply += [UInt8](repeating: 0, count: WireFrame.replyBytesMax + 1 - reply.count)
        #expect(throws: CodecError.outOfRange(field: "frame length", offset: 0)) { try WireFrame.decode(body: reply) }
    }
}
