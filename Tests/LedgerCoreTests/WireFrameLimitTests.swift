import Foundation
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

/// The wire protocol's frames of every version, as bytes in Fixtures/wire-v1-v2.txt: each
/// decodes to its frame and encodes back to the same bytes, for ever.
@Suite struct WireFixtureTests {
    static let frames: [(String, WireFrame)] = [
        ("hello v1", .hello(requestID: 1, token: "gateway-secret", version: 1)),
        ("hello v2", .hello(requestID: 2, token: "lt_abc", version: 2)),
        ("welcome trader", .welcome(requestID: 1, role: .trader)),
        ("welcome read-only (v2)", .welcome(requestID: 2, role: .readOnly)),
        ("stateQuery", .stateQuery(requestID: 3)),
        ("error busy (v1)", .error(requestID: 4, code: .busy, message: "token slow is over its 10 requests a second; retry after 100 ms")),
        ("busy (v2)", .busy(requestID: 5, retryAfterMilliseconds: 100, message: "token slow is over its 10 requests a second")),
        ("state", .state(requestID: 6, sequence: 300, stateHash: Array(0..<32))),
    ]

    static var fixturePath: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures/wire-v1-v2.txt").path
    }

    @Test func everyFrameOfTheFixtureDecodesAndEncodesBack() throws {
        let lines = try String(contentsOfFile: Self.fixturePath, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == Self.frames.count)
        for (line, (name, frame)) in zip(lines, Self.frames) {
            let parts = line.split(separator: "\t")
            #expect(parts.count == 2 && parts[0] == name, "\(line)")
            let hex = Array(parts[1].utf8)
            let bytes = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
            #expect(try WireFrame.decode(body: Array(bytes.dropFirst(4))) == frame, "\(name)")
            var writer = ByteWriter()
            frame.encode(to: &writer)
            #expect(writer.bytes == bytes, "\(name) encodes differently")
        }
        // A version this library does not speak is refused, naming the field and byte.
        var writer = ByteWriter()
        WireFrame.hello(requestID: 1, token: "x", version: 3).encode(to: &writer)
        #expect(throws: CodecError.outOfRange(field: "protocol version", offset: 9)) {
            try WireFrame.decode(body: Array(writer.bytes.dropFirst(4)))
        }
        writer = ByteWriter()
        WireFrame.busy(requestID: 1, retryAfterMilliseconds: WireFrame.retryAfterMillisecondsMax + 1, message: "").encode(to: &writer)
        #expect(throws: CodecError.outOfRange(field: "retry after", offset: 9)) {
            try WireFrame.decode(body: Array(writer.bytes.dropFirst(4)))
        }
    }
}
