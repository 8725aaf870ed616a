import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import LedgerCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import ServiceLifecycle

/// Connection limits for HTTP (docs/OPERATIONS.md, "Connection limits"), around
/// Hummingbird's HTTP/1.1 channel: between requests a connection is pending in the
/// listener's gate (the oldest is closed when too many wait) and has a deadline — the idle
/// timeout until a request's first byte, then the header timeout until its last.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Timeouts {
        var header: TimeAmount
        var idle: TimeAmount
    }

    private let gate: ConnectionGate
    private let timeouts: Timeouts
    // Event-loop confined.
    private var receiving = false
    private var processing = false
    private var deadline: Scheduled<Void>?

    init(gate: ConnectionGate, timeouts: Timeouts) {
        self.gate = gate
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arrive(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arrive(context)
        context.fireChannelActive()
    }

    private var arrived = false

    private func arrive(_ context: ChannelHandlerContext) {
        guard !arrived else { return }
        arrived = true
        let channel = context.channel
        gate.arrive(ObjectIdentifier(self)) { channel.close(promise: nil) }?()
        setDeadline(timeouts.idle, context.eventLoop, channel)
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

    private func setDeadline(_ timeout: TimeAmount, _ loop: any EventLoop, _ channel: any Channel) {
        deadline?.cancel()
        deadline = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            // A whole request: no deadline while it is answered; out of the pending pool.
            deadline?.cancel()
            deadline = nil
            receiving = false
            processing = true
            _ = gate.admit(ObjectIdentifier(self))
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            processing = false
            let channel = context.channel
            gate.release(ObjectIdentifier(self)) { channel.close(promise: nil) }?()
            setDeadline(timeouts.idle, context.eventLoop, channel)
        }
        context.write(data, promise: promise)
    }
}

/// Tells the guard that request bytes arrived, before the decoder has a head: what starts
/// the header timeout (a slow sender never completes a head).
final class HTTPBytesWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let guardHandler: HTTPConnectionGuard

    init(guardHandler: HTTPConnectionGuard) {
        self.guardHandler = guardHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guardHandler.bytesArrived(context)
        context.fireChannelRead(data)
    }
}

/// Hummingbird's HTTP/1.1 channel with the connection guard: the same pipeline as
/// `HTTP1Channel`, with the byte watcher before the decoder and the guard after the codec.
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let gate: ConnectionGate
    let timeouts: HTTPConnectionGuard.Timeouts

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let guardHandler = HTTPConnectionGuard(gate: gate, timeouts: timeouts)
            try channel.pipeline.syncOperations.addHandler(HTTPBytesWatcher(guardHandler: guardHandler))
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandler(guardHandler)
            try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

/// The HTTP listener as a service (swift-service-lifecycle): Hummingbird's server with the
/// API's router and the connection guard.
package enum HTTPServer {
    package static func application(
        api: HTTPAPI, config: DaemonConfig, status: DaemonStatus, eventLoopGroup: any EventLoopGroup, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        // Admission of whole requests is the API's own in-flight limit; the gate keeps the
        // pool of connections between requests.
        let gate = ConnectionGate(admittedMax: Int.max, pendingMax: config.httpConnectionsMax)
        status.httpConnections = {
            let counts = gate.counts
            return counts.pending + counts.admitted
        }
        let timeouts = HTTPConnectionGuard.Timeouts(
            header: .milliseconds(config.httpHeaderTimeoutMilliseconds), idle: .milliseconds(config.httpIdleTimeoutMilliseconds))
        return Application(
            router: api.router(),
            server: HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, gate: gate, timeouts: timeouts) },
            configuration: .init(
                address: .hostname(config.httpHost, port: config.httpPort), serverName: "ledgerd", backlog: config.httpListenBacklog),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            eventLoopGroupProvider: .shared(eventLoopGroup), logger: logger)
    }
}
