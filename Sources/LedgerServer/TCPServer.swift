import Foundation
import LedgerCore
import NIOCore
import NIOPosix

/// One gateway connection: authenticates with `hello`, then forwards commands to the
/// sequencer, many in flight, and writes each reply when its entry is durable.
final class GatewayConnection: ChannelInboundHandler, ReplySink, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let sequencer: Sequencer
    private let tokens: TokenBook
    private let inFlightMax: Int
    private let accepting: @Sendable () -> Bool
    private let channel: Channel
    private let registry: ConnectionRegistry
    private let gate: ConnectionGate
    private let helloTimeout: TimeAmount
    // Event-loop confined. The fields a request touches are unchecked for exclusivity: each
    // access to a class's stored property was checked at run time (swift_beginAccess, with
    // its thread-local access set), about a tenth of the network thread's samples under
    // load. Such checks catch only overlapping accesses within one thread, and the event
    // loop's code makes none. (`deliver`, on the writer's thread, reads `version`, set at
    // the hello before any of the connection's requests reaches the engine, and hops onto
    // the loop for the rest.)
    private var writesPending = 0
    private var flushWaiters: [EventLoopPromise<Void>] = []
    /// Shutdown has half-closed the output: input is read and dropped until the peer closes.
    @exclusivity(unchecked) private var isFinishing = false
    private var closeWaiters: [EventLoopPromise<Void>] = []
    @exclusivity(unchecked) private var principal: Principal?
    /// The protocol version of the hello (1 until one arrives).
    @exclusivity(unchecked) private var version: UInt64 = 1
    /// Input not yet split into frames: the connection splits the byte stream itself and
    /// decodes each frame body where it lies here (issue 12: a decoder handler in front
    /// of it made an array and a boxed message of every frame; docs/BENCHMARKS.md,
    /// "Frames split in the connection"). At most one read plus a partial frame
    /// (4 + `WireFrame.frameBytesMax` bytes).
    @exclusivity(unchecked) private var inbox: [UInt8] = []
    /// A frame length outside 9 ... 4,096 was read: it cannot be resynchronised, so the
    /// rest of the input is dropped while the error is written and the connection closes.
    @exclusivity(unchecked) private var inputRefused = false
    @exclusivity(unchecked) private var pending: [EngineRequest] = []
    /// When each request in the engine arrived (monotonic ns), in order: the latency
    /// histogram's start; only kept while metrics are on.
    @exclusivity(unchecked) private var arrivals = CircularBuffer<Int64>(initialCapacity: 64)
    /// When the read being handled arrived (monotonic ns): the arrival of each of its
    /// frames, for the rate limiter and the latency histogram. Read once a read, not twice
    /// a request (the clock was a tenth of the network thread's time at full rate).
    @exclusivity(unchecked) private var readNanos: Int64 = 0
    /// Its replies' durations, added to the metric a delivery at a time (event loop only).
    @exclusivity(unchecked) private var durations = RequestDurations.Tally()
    @exclusivity(unchecked) private var inFlight = 0
    @exclusivity(unchecked) private var immediate = ByteWriter(capacity: 256)
    /// Requests handed to the engine, and replies of the engine written, since the start:
    /// an immediate answer (an error, BUSY) to a request sent after others still in the
    /// engine waits until their replies are written, so that replies keep request order.
    @exclusivity(unchecked) private var enqueuedTotal = 0
    @exclusivity(unchecked) private var answeredTotal = 0
    /// Immediate answers waiting for the engine's replies before them: written once
    /// `answeredTotal` reaches `after`.
    @exclusivity(unchecked) private var deferred: [(after: Int, bytes: [UInt8])] = []
    @exclusivity(unchecked) private var deferredHead = 0
    /// Set when a reply must be the last (a refused hello): close once it is written.
    @exclusivity(unchecked) private var closeAfterReplies = false

    init(
        channel: Channel, registry: ConnectionRegistry, gate: ConnectionGate, helloTimeout: TimeAmount, sequencer: Sequencer,
        tokens: TokenBook, inFlightMax: Int, accepting: @escaping @Sendable () -> Bool
    ) {
        self.channel = channel
        self.registry = registry
        self.gate = gate
        self.helloTimeout = helloTimeout
        self.sequencer = sequencer
        self.tokens = tokens
        self.inFlightMax = inFlightMax
        self.accepting = accepting
    }

    func channelActive(context: ChannelHandlerContext) {
        registry.add(self)
        // Pending until its hello; the oldest pending connection makes room when too many
        // wait, and none waits longer than the hello timeout.
        let channel = context.channel
        gate.arrive(ObjectIdentifier(self)) { channel.close(promise: nil) }?()
        context.eventLoop.scheduleTask(in: helloTimeout) { [self] in
            if principal == nil { channel.close(promise: nil) }
        }
        context.fireChannelActive()
    }

    /// An authenticated connection that sent nothing for the idle timeout and waits for
    /// nothing is closed (IdleStateHandler, `tcp.idle_timeout_ms`).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, inFlight == 0, pending.isEmpty, !isFinishing {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.remove(self)
        gate.leave(ObjectIdentifier(self))
        writesPending = 0
        releaseFlushWaiters()
        let waiters = closeWaiters
        closeWaiters = []
        for waiter in waiters { waiter.succeed() }
        context.fireChannelInactive()
    }

    /// Ends the connection once shutdown has written its last reply: half-closes the output
    /// (the peer reads every reply, then the end of the stream), then reads and drops input
    /// until the peer closes its side or `timeout` passes, and closes. Closing outright while
    /// requests sit unread in the socket would make the kernel reset the connection and
    /// throw away replies still in its send queue.
    func finish(timeout: TimeAmount) -> EventLoopFuture<Void> {
        channel.eventLoop.flatSubmit {
            guard self.channel.isActive else { return self.channel.eventLoop.makeSucceededVoidFuture() }
            let promise = self.channel.eventLoop.makePromise(of: Void.self)
            self.closeWaiters.append(promise)
            self.isFinishing = true
            self.channel.close(mode: .output, promise: nil)
            let channel = self.channel
            channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            return promise.futureResult
        }
    }

    /// Succeeds once every reply delivered so far has been written to the socket (or the
    /// connection closed), or after `timeout`: what shutdown waits for.
    func flushed(timeout: TimeAmount) -> EventLoopFuture<Void> {
        channel.eventLoop.flatSubmit {
            if self.writesPending == 0 { return self.channel.eventLoop.makeSucceededVoidFuture() }
            let promise = self.channel.eventLoop.makePromise(of: Void.self)
            self.flushWaiters.append(promise)
            self.channel.eventLoop.scheduleTask(in: timeout) { promise.succeed() }
            return promise.futureResult
        }
    }

    private func releaseFlushWaiters() {
        let waiters = flushWaiters
        flushWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Closing (a refused hello, a revoked token): the rest of the input is not read.
        if isFinishing || closeAfterReplies || inputRefused { return }
        let buffer = unwrapInboundIn(data)
        readNanos = RateLimiter.monotonicNanos()
        inbox.append(contentsOf: buffer.readableBytesView)
        var start = 0
        while inbox.count - start >= 4, !(isFinishing || closeAfterReplies) {
            let length = WireFrame.bodyLength(prefixAt: start, in: inbox)
            guard length >= WireFrame.frameBytesMin, length <= WireFrame.frameBytesMax else {
                return refuseFrameLength(context: context)
            }
            guard inbox.count - start - 4 >= length else { break }
            handle(body: (start + 4)..<(start + 4 + length))
            start += 4 + length
        }
        if start == inbox.count {
            inbox.removeAll(keepingCapacity: true)
        } else if start > 0 {
            inbox.removeSubrange(0..<start)
        }
    }

    /// A frame length out of range: MALFORMED, then the connection closes.
    private func refuseFrameLength(context: ChannelHandlerContext) {
        inputRefused = true
        inbox = []
        var writer = ByteWriter()
        WireFrame.error(requestID: 0, code: .malformed, message: "frame length out of range").encode(to: &writer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: writer.bytes))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// One frame body, at `body` in `inbox` (read where it lies, with the frames after it).
    private func handle(body: Range<Int>) {
        let frame: WireFrame
        do {
            // Commands, nearly every frame, are decoded on their own (`decodeCommand`).
            // (The command's ownership written out: inferred, the closure copied it.)
            if try WireFrame.decodeCommand(
                inbox[...], body: body, { (id, command: consuming Command) in handleCommand(id, consume command) })
            {
                return
            }
            frame = try WireFrame.decode(inbox[...], body: body)
        } catch {
            // A field outside its domain is answered as such; anything else is malformed.
            let code: WireError = if case .outOfDomain = error { .outOfRange } else { .malformed }
            return reply(.error(requestID: WireFrame.requestID(ofBody: inbox[body]), code: code, message: "\(error)"))
        }
        switch frame {
        case .hello(let id, let token, let helloVersion):
            guard principal == nil else { return reply(.error(requestID: id, code: .badRequest, message: "hello was already said")) }
            guard let granted = tokens.authenticate(secret: token.utf8) else {
                return reply(.error(requestID: id, code: .unauthorized, message: "unknown token"))
            }
            guard granted.role != .readOnly || helloVersion >= 2 else {
                return reply(.error(requestID: id, code: .forbidden, message: "a read-only token needs protocol version 2"))
            }
            guard gate.admit(ObjectIdentifier(self)) else {
                version = helloVersion
                busy(id, retryAfterMilliseconds: 1_000, "\(gate.admittedMax) gateway connections are open")
                closeAfterReplies = true
                return
            }
            principal = granted
            version = helloVersion
            reply(.welcome(requestID: id, role: granted.role))
        case .command(let id, let command):
            handleCommand(id, command)
        case .stateQuery(let id):
            guard let current = authorized(id) else { return }
            enqueue(EngineRequest(requestID: id, kind: .stateQuery, sink: self), current)
        case .welcome(let id, _), .committed(let id, _, _), .error(let id, _, _), .state(let id, _, _), .busy(let id, _, _):
            reply(.error(requestID: id, code: .malformed, message: "server frames are not requests"))
        }
    }

    private func handleCommand(_ id: UInt64, _ command: consuming Command) {
        guard let current = authorized(id) else { return }
        if let refusal = current.refusal(for: command) {
            return reply(.error(requestID: id, code: .forbidden, message: refusal))
        }
        enqueue(EngineRequest(requestID: id, kind: .command(consume command), sink: self), current)
    }

    /// The connection's token as the token file now has it; after a reload took it away,
    /// UNAUTHORIZED and the connection closes once its replies are written.
    private func authorized(_ id: UInt64) -> Principal? {
        guard let principal else {
            reply(.error(requestID: id, code: .unauthorized, message: "send hello first"))
            return nil
        }
        guard let current = tokens.refresh(principal) else {
            reply(.error(requestID: id, code: .unauthorized, message: "token \(principal.grant.name) was revoked"))
            closeAfterReplies = true
            return nil
        }
        self.principal = current
        return current
    }

    private func enqueue(_ request: EngineRequest, _ principal: Principal) {
        guard accepting() else {
            return reply(.error(requestID: request.requestID, code: .unavailable, message: "shutting down"))
        }
        guard inFlight + pending.count < inFlightMax else {
            // Each reply that leaves makes room; a millisecond is a group commit or two.
            return busy(request.requestID, retryAfterMilliseconds: 1, "\(inFlightMax) requests are in flight on this connection")
        }
        if let wait = principal.limiter.admit(nowNanos: readNanos) {
            return busy(
                request.requestID, retryAfterMilliseconds: UInt64((wait + 999_999) / 1_000_000),
                "token \(principal.grant.name) is over its \(principal.grant.ratePerSecond) requests a second")
        }
        pending.append(request)
        enqueuedTotal += 1
        if LedgerMetrics.current != nil { arrivals.append(readNanos) }
    }

    /// BUSY with a retry hint: the `busy` frame in protocol version 2, an error frame
    /// naming the wait in version 1.
    private func busy(_ id: UInt64, retryAfterMilliseconds: UInt64, _ message: String) {
        let wait = min(retryAfterMilliseconds, WireFrame.retryAfterMillisecondsMax)
        if version >= 2 {
            reply(.busy(requestID: id, retryAfterMilliseconds: wait, message: message))
        } else {
            reply(.error(requestID: id, code: .busy, message: "\(message); retry after \(wait) ms"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if isFinishing { return context.fireChannelReadComplete() }
        if !pending.isEmpty {
            inFlight += pending.count
            // Submitted, then emptied: emptied first, while a copy still shared its buffer,
            // `removeAll(keepingCapacity:)` allocated a new one for every read.
            sequencer.submit(moving: &pending)
            pending.removeAll(keepingCapacity: true)
        }
        if !immediate.bytes.isEmpty {
            let written = context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: immediate.bytes)))
            immediate.reset()
            closeIfDone(after: written)
        }
        context.fireChannelReadComplete()
    }

    /// With `closeAfterReplies`: closes once every reply owed has been written.
    private func closeIfDone(after written: EventLoopFuture<Void>) {
        guard closeAfterReplies, answeredTotal == enqueuedTotal, deferredHead == deferred.count else { return }
        let channel = self.channel
        written.whenComplete { _ in channel.close(promise: nil) }
    }

    /// An answer that needs no journal entry: written with the read's other output, or,
    /// when requests before it are still in the engine, right after their replies.
    private func reply(_ frame: WireFrame) {
        if answeredTotal == enqueuedTotal {
            frame.encode(to: &immediate)
        } else {
            var writer = ByteWriter(capacity: 64)
            frame.encode(to: &writer)
            deferred.append((enqueuedTotal, writer.bytes))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Called by the writer thread: encodes the replies and writes them on the loop.
    func deliver(_ replies: ReplyList) {
        var writer = ByteWriter(capacity: replies.count * 48)
        var ends: [Int] = []
        ends.reserveCapacity(replies.count)
        replies.encodeFrames(protocolVersion: version, to: &writer, ends: &ends)
        let bytes = writer.bytes
        let count = replies.count
        let replyEnds = ends
        channel.eventLoop.execute {
            self.inFlight -= count
            if let metrics = LedgerMetrics.current, self.arrivals.count >= count {
                let now = RateLimiter.monotonicNanos()
                for _ in 0..<count { self.durations.add(now - self.arrivals.removeFirst()) }
                metrics.requests.merge(&self.durations, .tcp)
            }
            var buffer: ByteBuffer
            if self.deferredHead == self.deferred.count {
                self.answeredTotal += count
                buffer = ByteBuffer(bytes: bytes)
            } else {
                // Splice the waiting immediate answers in after the replies before them.
                buffer = ByteBuffer()
                buffer.reserveCapacity(bytes.count + 64)
                var start = 0
                for end in replyEnds {
                    self.answeredTotal += 1
                    while self.deferredHead < self.deferred.count && self.deferred[self.deferredHead].after <= self.answeredTotal {
                        buffer.writeBytes(bytes[start..<end])
                        start = end
                        buffer.writeBytes(self.deferred[self.deferredHead].bytes)
                        self.deferredHead += 1
                    }
                }
                buffer.writeBytes(bytes[start...])
                if self.deferredHead == self.deferred.count {
                    self.deferred.removeAll(keepingCapacity: true)
                    self.deferredHead = 0
                }
            }
            self.writesPending += 1
            let written = self.channel.writeAndFlush(buffer)
            written.whenComplete { _ in
                self.writesPending -= 1
                if self.writesPending == 0 { self.releaseFlushWaiters() }
            }
            self.closeIfDone(after: written)
        }
    }
}

package enum TCPServer {
    package static func bind(
        host: String, port: Int, group: EventLoopGroup, sequencer: Sequencer, config: DaemonConfig, tokens: TokenBook,
        registry: ConnectionRegistry, accepting: @escaping @Sendable () -> Bool
    ) async throws -> Channel {
        let inFlightMax = config.connectionInFlightMax
        let gate = ConnectionGate(admittedMax: config.tcpConnectionsMax, pendingMax: config.tcpPendingConnectionsMax)
        let helloTimeout = TimeAmount.milliseconds(config.tcpHelloTimeoutMilliseconds)
        let idleTimeout = config.tcpIdleTimeoutMilliseconds > 0 ? TimeAmount.milliseconds(config.tcpIdleTimeoutMilliseconds) : nil
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(config.tcpListenBacklog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 64)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let idleTimeout {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        GatewayConnection(
                            channel: channel, registry: registry, gate: gate, helloTimeout: helloTimeout, sequencer: sequencer,
                            tokens: tokens, inFlightMax: inFlightMax, accepting: accepting))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// The open gateway connections, so that shutdown can wait for their replies to leave.
package final class ConnectionRegistry: @unchecked Sendable {
    package init() {}

    private let lock = NSLock()
    private var connections: [ObjectIdentifier: GatewayConnection] = [:]

    func add(_ connection: GatewayConnection) {
        lock.withLock { connections[ObjectIdentifier(connection)] = connection }
    }

    func remove(_ connection: GatewayConnection) {
        _ = lock.withLock { connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    var all: [GatewayConnection] { lock.withLock { Array(connections.values) } }

    package var count: Int { lock.withLock { connections.count } }

    /// Waits until every reply delivered so far has reached its socket (at most `timeout`
    /// a connection).
    package func flushAll(timeout: TimeAmount) async {
        for connection in all { try? await connection.flushed(timeout: timeout).get() }
    }

    /// Ends every connection gracefully (`GatewayConnection.finish`), all at once.
    package func finishAll(timeout: TimeAmount) async {
        let finishing = all.map { $0.finish(timeout: timeout) }
        for connection in finishing { try? await connection.get() }
    }
}
