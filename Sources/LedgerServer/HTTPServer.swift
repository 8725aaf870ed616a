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
}

/// The HTTP/JSON API (docs/API.md): Binance USDⓈ-M conventions, decimals as strings,
/// bearer tokens with roles. Writes go through the sequencer and answer once durable;
/// reads run on the engine thread and answer once everything before them is durable.
final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: HTTPAPI
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private static let bodyBytesMax = 64 * 1024

    init(api: HTTPAPI) {
        self.api = api
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes <= Self.bodyBytesMax { body.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            let bodyBytes = body.readableBytesView.map { $0 }
            let channel = context.channel
            let keepAlive = head.isKeepAlive
            api.handle(head: head, body: bodyBytes) { answer in
                channel.eventLoop.execute {
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: answer.contentType)
                    headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    channel.write(
                        HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers)),
                        promise: nil)
                    channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: answer.body))), promise: nil)
                    let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                    if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
                }
            }
        }
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
    package static func bind(host: String, port: Int, group: EventLoopGroup, api: HTTPAPI) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(api: api))
                }
            }
            .bind(host: host, port: port).get()
    }
}
