import Foundation
import LedgerCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// A finished HTTP answer.
struct HTTPAnswer: Sendable {
    var status: HTTPResponseStatus
    var body: String
    var contentType = "application/json"
    var retryAfterMilliseconds: UInt64?
}

/// The HTTP/JSON API (docs/API.md): Binance USDⓈ-M conventions, decimals as strings,
/// bearer tokens with roles. Writes go through the sequencer and answer once durable;
/// reads run on the engine thread and answer once everything before them is durable.
///
/// Connection limits (docs/OPERATIONS.md): between requests a connection is pending in
/// the listener's gate (the oldest is closed when too many wait) and has a deadline: the
/// idle timeout until a request's first byte, then the header timeout until its last. A
/// whole request is admitted within the in-flight limit, else answered 429 BUSY.
final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Timeouts {
        var header: TimeAmount
        var idle: TimeAmount
    }

    private let api: HTTPAPI
    private let gate: ConnectionGate
    private let timeouts: Timeouts
    // Event-loop confined.
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var bodyTooLarge = false
    private var receiving = false
    private var processing = false
    private var deadline: Scheduled<Void>?
    private static let bodyBytesMax = 64 * 1024

    init(api: HTTPAPI, gate: ConnectionGate, timeouts: Timeouts) {
        self.api = api
        self.gate = gate
        self.timeouts = timeouts
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        gate.arrive(ObjectIdentifier(self)) { channel.close(promise: nil) }?()
        setDeadline(timeouts.idle, context.eventLoop, channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        gate.leave(ObjectIdentifier(self))
        deadline?.cancel()
        context.fireChannelInactive()
    }

    /// Bytes of a request arrived (`HTTPBytesWatcher`, before the HTTP decoder): the first
    /// ones start the header timeout.
    func bytesArrived(_ context: ChannelHandlerContext) {
        guard !receiving, !processing else { return }
        receiving = true
        setDeadline(timeouts.header, context.eventLoop, context.channel)
    }

    private func setDeadline(_ timeout: TimeAmount, _ loop: EventLoop, _ channel: Channel) {
        deadline?.cancel()
        deadline = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
            bodyTooLarge = false
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes <= Self.bodyBytesMax {
                body.writeBuffer(&chunk)
            } else {
                bodyTooLarge = true
            }
        case .end:
            guard let head else { return }
            self.head = nil
            deadline?.cancel()
            deadline = nil
            receiving = false
            processing = true
            let channel = context.channel
            let keepAlive = head.isKeepAlive
            let send: @Sendable (HTTPAnswer) -> Void = { [self] answer in
                channel.eventLoop.execute { self.respond(answer, head: head, keepAlive: keepAlive, channel: channel) }
            }
            if bodyTooLarge {
                return send(HTTPAPI.Failure(.badRequest, "the body is larger than \(Self.bodyBytesMax) bytes").answer)
            }
            guard gate.admit(ObjectIdentifier(self)) else {
                return send(HTTPAPI.Failure(.busy, "\(gate.admittedMax) HTTP requests are in flight", retryAfterMilliseconds: 100).answer)
            }
            api.handle(head: head, body: body.readableBytesView.map { $0 }, send: send)
        }
    }

    /// Writes the answer; then the connection waits for its next request (idle timeout).
    private func respond(_ answer: HTTPAnswer, head: HTTPRequestHead, keepAlive: Bool, channel: Channel) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
        if answer.status == .tooManyRequests {
            // Whole seconds, rounded up; the body's retryAfterMs is finer.
            headers.add(name: "Retry-After", value: String(max(1, ((answer.retryAfterMilliseconds ?? 1_000) + 999) / 1_000)))
        }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        channel.write(
            HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers)), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: answer.body))), promise: nil)
        let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
        processing = false
        gate.release(ObjectIdentifier(self)) { channel.close(promise: nil) }?()
        setDeadline(timeouts.idle, channel.eventLoop, channel)
    }
}

/// Tells the HTTP handler that request bytes arrived, before the decoder has a head: what
/// starts the header timeout (a slow sender never completes a head).
final class HTTPBytesWatcher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let handler: HTTPHandler

    init(handler: HTTPHandler) {
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handler.bytesArrived(context)
        context.fireChannelRead(data)
    }
}

/// A reply sink for one HTTP request.
final class HTTPReply: ReplySink, @unchecked Sendable {
    private let render: @Sendable (Response) -> HTTPAnswer
    private let send: @Sendable (HTTPAnswer) -> Void

    init(render: @escaping @Sendable (Response) -> HTTPAnswer, send: @escaping @Sendable (HTTPAnswer) -> Void) {
        self.render = render
        self.send = send
    }

    func deliver(_ replies: [(requestID: UInt64, response: Response)]) {
        for reply in replies { send(render(reply.response)) }
    }
}

package enum HTTPServer {
    package static func bind(host: String, port: Int, group: EventLoopGroup, api: HTTPAPI, config: DaemonConfig) async throws -> Channel {
        let gate = ConnectionGate(admittedMax: config.httpInFlightMax, pendingMax: config.httpConnectionsMax)
        let timeouts = HTTPHandler.Timeouts(
            header: .milliseconds(config.httpHeaderTimeoutMilliseconds), idle: .milliseconds(config.httpIdleTimeoutMilliseconds))
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = HTTPHandler(api: api, gate: gate, timeouts: timeouts)
                    try channel.pipeline.syncOperations.addHandler(HTTPBytesWatcher(handler: handler))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: host, port: port).get()
    }
}
