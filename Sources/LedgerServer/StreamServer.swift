import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Journal
import LedgerCore
import Logging
import NIOCore
import NIOWebSocket
import Snapshots

/// The live stream (docs/API.md, "Live stream"): WebSocket on its own port
/// (`stream.port`), `GET /v1/stream?streams=BTCUSDT@trade,account@7&from=SEQ` with the
/// token in `Authorization: Bearer …`. Durable events only, each message with its journal
/// sequence; `from` resumes after a disconnect, from memory while it holds the channels'
/// messages and from the journal otherwise.
package final class StreamServer: Sendable {
    package struct Settings: Sendable {
        package var clientsMax = 1_024
        package var channelsPerClientMax = 64
        /// Readers replaying from the journal at once; another waits its turn.
        package var journalReplaysMax = 2
        package var journalDirectory = ""
        package var snapshotDirectory = ""
        package init() {}
    }

    let hub: StreamHub
    let tokens: TokenBook
    let api: HTTPAPI
    let settings: Settings
    let logger: Logger
    private let replays: ReplaySlots

    package init(hub: StreamHub, tokens: TokenBook, api: HTTPAPI, settings: Settings, logger: Logger) {
        self.hub = hub
        self.tokens = tokens
        self.api = api
        self.settings = settings
        self.logger = logger
        replays = ReplaySlots(count: settings.journalReplaysMax)
    }

    struct Subscription: Sendable {
        var channels: Set<StreamChannel>
        var from: SequenceNumber?
        var principal: Principal
    }

    /// What a stream request asks for, or why it is refused (the same answer with and
    /// without the upgrade).
    func subscription(_ request: HTTPRequest) -> Result<Subscription, HTTPFailure> {
        guard let catalog = api.attachedCatalog else {
            return .failure(HTTPFailure(.unavailable, "recovering: the journal is being replayed"))
        }
        guard let header = request.headerFields[.authorization], header.hasPrefix("Bearer "),
            let principal = tokens.authenticate(secret: header.utf8.dropFirst("Bearer ".utf8.count))
        else { return .failure(HTTPFailure(.unauthorized, "a stream needs a token: Authorization: Bearer <token>")) }
        guard request.path?.split(separator: "?").first == "/v1/stream" else {
            return .failure(HTTPFailure(.notFound, "no stream at \(request.path ?? "")"))
        }
        var streams: String?
        var from: SequenceNumber?
        var unknown: [String] = []
        let query = request.path.flatMap { $0.split(separator: "?", maxSplits: 1).dropFirst().first } ?? ""
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let value = parts.count == 2 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
            switch parts[0] {
            case "streams": streams = value
            case "from":
                guard let sequence = UInt64(value), sequence >= 1, sequence <= Limits.idMax else {
                    return .failure(HTTPFailure(.outOfRange, "from \(value) is outside its domain 1 ... 2^63 - 1"))
                }
                from = sequence
            default: unknown.append(parts[0])
            }
        }
        if !unknown.isEmpty { return .failure(HTTPFailure(.badRequest, "unknown parameters: \(unknown.joined(separator: ", "))")) }
        guard let streams, !streams.isEmpty else { return .failure(HTTPFailure(.badRequest, "missing streams")) }
        var channels = Set<StreamChannel>()
        for name in streams.split(separator: ",") {
            switch StreamChannel.parse(String(name), symbols: catalog.symbols) {
            case .failure(let failure): return .failure(failure)
            case .success(let channel):
                if case .account(let account) = channel, let refusal = principal.refusal(toRead: account) {
                    return .failure(HTTPFailure(.forbidden, refusal))
                }
                channels.insert(channel)
            }
        }
        guard channels.count <= settings.channelsPerClientMax else {
            return .failure(HTTPFailure(.badRequest, "at most \(settings.channelsPerClientMax) streams a connection"))
        }
        guard hub.clientCount < settings.clientsMax else {
            return .failure(HTTPFailure(.busy, "\(settings.clientsMax) stream clients are connected", retryAfterMilliseconds: 1_000))
        }
        return .success(Subscription(channels: channels, from: from, principal: principal))
    }

    /// The stream's listener: Hummingbird with the WebSocket upgrade. A request that is
    /// refused, or not an upgrade, gets the API's JSON error.
    package func application(
        host: String, port: Int, eventLoopGroup: any EventLoopGroup, onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router(context: LedgerRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.get("/v1/stream") { [self] request, _ -> Response in
            var head = HTTPRequest(method: .get, scheme: nil, authority: nil, path: request.uri.description)
            head.headerFields = request.headers
            switch subscription(head) {
            case .failure(let failure): throw failure
            case .success: throw HTTPFailure(.badRequest, "a stream is a WebSocket: send Upgrade: websocket", status: .upgradeRequired)
            }
        }
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 16))) { [self] request, channel, _ in
                switch subscription(request) {
                case .success(let subscription):
                    // A fixed send buffer (no autotuning to megabytes): a client that does not
                    // read holds this much of the kernel's memory, and the ring's cursor shows
                    // its lag at once.
                    _ = try? await channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: Self.socketSendBufferBytes).get()
                    return .upgrade([:]) { [self] inbound, outbound, _ in
                        await serve(subscription, inbound: inbound, outbound: outbound, channel: channel)
                    }
                case .failure(let failure):
                    // Refused in WebSocket terms: a close frame whose code is 4000 + the
                    // HTTP status, whose reason is the API's message (at most 123 bytes).
                    return .upgrade([:]) { _, outbound, _ in
                        let code = WebSocketErrorCode(codeNumber: 4_000 + Int(failure.status.code))
                        try? await outbound.close(code, reason: Self.closeReason(failure.message))
                    }
                }
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "ledgerd-stream"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            eventLoopGroupProvider: .shared(eventLoopGroup), logger: logger)
    }

    /// Each stream connection's socket send buffer (SO_SNDBUF).
    static let socketSendBufferBytes: SocketOptionValue = 256 << 10

    /// A close frame's reason: at most 123 bytes of UTF-8, cut at a character.
    static func closeReason(_ text: String) -> String {
        var reason = ""
        for character in text {
            if reason.utf8.count + String(character).utf8.count > 123 { break }
            reason.append(character)
        }
        return reason
    }

    /// One reader: its channels watched while it is connected, resumed from `from`, then
    /// live until it leaves, is cut or its token is revoked.
    func serve(_ subscription: Subscription, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel)
        async
    {
        hub.watch(subscription.channels)
        defer { hub.unwatch(subscription.channels) }
        // Not yet reading the ring (a resume may read the journal first, for as long as it
        // takes): no cursor to cut it by until it has one.
        let reader = hub.register(cursor: Int.max) { [logger] reason in
            logger.notice("stream client cut off", metadata: ["reason": "\(reason)"])
            channel.close(promise: nil)
        }
        defer { hub.unregister(reader) }
        await withTaskGroup(of: Void.self) { group in
            // The client sends nothing we need; its closing ends the stream.
            group.addTask {
                do { for try await _ in inbound {} } catch {}
            }
            group.addTask { [self] in
                do {
                    if let reason = try await send(subscription, reader: reader, outbound: outbound) {
                        try await outbound.close(.policyViolation, reason: Self.closeReason(reason))
                    }
                } catch let failure as HTTPFailure {
                    // A resume the journal cannot serve: said as the refusals are.
                    let code = WebSocketErrorCode(codeNumber: 4_000 + Int(failure.status.code))
                    try? await outbound.close(code, reason: Self.closeReason(failure.message))
                } catch is CancellationError {
                } catch {
                    try? await outbound.close(.unexpectedServerError, reason: Self.closeReason("\(error)"))
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Sends until cancelled; returns the reason to close with.
    private func send(_ subscription: Subscription, reader: Int, outbound: WebSocketOutboundWriter) async throws -> String? {
        let channels = subscription.channels
        var cursor = hub.window.end
        if var next = subscription.from {
            var replayer: StreamReplayer?
            resuming: while true {
                try Task.checkCancellation()
                switch hub.resume(from: next, channels: channels) {
                case .memory(let position):
                    cursor = position
                    break resuming
                case .notReady:
                    try await Task.sleep(for: .milliseconds(5))
                case .journal(let through):
                    guard await replays.acquire() else { return "shutting down" }
                    logger.info("stream resumes from the journal", metadata: ["from": "\(next)", "through": "\(through)"])
                    hub.countJournalReplay()
                    defer { replays.release() }
                    if replayer == nil {
                        let start = next
                        replayer = try await onThread("ledger-stream-replay") { [settings, hub] in
                            Result {
                                try StreamReplayer(
                                    from: start, channels: channels, journalDirectory: settings.journalDirectory,
                                    snapshotDirectory: settings.snapshotDirectory, limits: hub.replayHistoryLimits)
                            }
                        }.get()
                    }
                    while next <= through {
                        let (messages, after) = try await onThread("ledger-stream-replay") { [replayer] in
                            Result { try replayer!.messages(through: through, entriesMax: 4_096) }
                        }.get()
                        for message in messages { try await outbound.write(.text(message.text)) }
                        next = after
                    }
                }
            }
        }
        guard hub.advance(reader, to: cursor) else { return "slow consumer" }
        var generation = tokens.generation
        while !Task.isCancelled {
            if tokens.generation != generation {
                generation = tokens.generation
                guard tokens.principal(digest: subscription.principal.grant.digest) != nil else {
                    return "token \(subscription.principal.grant.name) was revoked"
                }
            }
            switch hub.read(from: cursor, channels: channels, limit: 1_024) {
            case .cut(let reason):
                return reason
            case .messages(let messages, let next):
                // (A `from` beyond the last entry: the entries before it are not asked for.)
                for message in messages where message.sequence >= (subscription.from ?? 0) {
                    try await outbound.write(.text(message.text))
                }
                cursor = next
                guard hub.advance(reader, to: cursor) else { return "slow consumer" }
                if messages.isEmpty { await hub.wait(beyond: cursor) }
            }
        }
        return nil
    }
}

/// At most `count` journal replays at once.
final class ReplaySlots: @unchecked Sendable {
    private let lock = NSLock()
    private var free: Int
    private var waiting: [CheckedContinuation<Bool, Never>] = []

    init(count: Int) { free = count }

    func acquire() async -> Bool {
        await withCheckedContinuation { continuation in
            let granted = lock.withLock {
                if free > 0 {
                    free -= 1
                    return true
                }
                waiting.append(continuation)
                return false
            }
            if granted { continuation.resume(returning: true) }
        }
    }

    func release() {
        let next: CheckedContinuation<Bool, Never>? = lock.withLock {
            if waiting.isEmpty {
                free += 1
                return nil
            }
            return waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}

/// The stream's messages of past entries, from the journal: the state before the first
/// one (a snapshot and the journal after it), then entry after entry through the same
/// feed as the follower's.
final class StreamReplayer: @unchecked Sendable {
    let channels: Set<StreamChannel>
    private var state: ExchangeState
    private var history: RecentHistory
    private var feed = StreamFeed()
    private let reader: JournalReader
    /// Entries read from the journal and not yet rendered, and the next to render.
    private var pending: ArraySlice<JournalEntry> = []
    private var next: SequenceNumber

    init(
        from sequence: SequenceNumber, channels: Set<StreamChannel>, journalDirectory: String, snapshotDirectory: String,
        limits: HistoryLimits
    ) throws {
        self.channels = channels
        let (restored, _) = try Recovery.restore(
            journalDirectory: journalDirectory, snapshotDirectory: snapshotDirectory, through: sequence - 1)
        guard restored.lastSequence == sequence - 1 else {
            throw HTTPFailure(.notFound, "the journal has no entry \(sequence - 1) to resume after")
        }
        state = restored
        history = RecentHistory(limits: limits, startingAfter: restored.lastSequence)
        history.seed(from: restored)
        reader = JournalReader(directory: journalDirectory, from: sequence)
        next = sequence
    }

    /// The messages of the next entries through `last` (at most `entriesMax`), and the
    /// sequence after them. The journal is read a block at a time: entries of a block
    /// beyond `last` wait for the next call.
    func messages(through last: SequenceNumber, entriesMax: Int) throws -> ([StreamMessage], SequenceNumber) {
        var messages: [StreamMessage] = []
        var processed = 0
        var touched = Set<StreamFeed.Level>()
        while processed < entriesMax && next <= last {
            if pending.isEmpty {
                guard let block = try reader.nextBlock() else { break }
                pending = block.entries.filter { $0.sequence >= next }[...]
                if pending.isEmpty { continue }
            }
            let entry = pending.removeFirst()
            let payload = try entry.decodePayload()
            let events = payload.events[...]
            touched.removeAll(keepingCapacity: true)
            StreamFeed.touchedLevels(events, state: state, into: &touched)
            state.apply(events, of: payload.command, sequence: entry.sequence, timeNanos: entry.timeNanos)
            history.record(payload.command, events, sequence: entry.sequence, timeNanos: entry.timeNanos, state: state)
            history.indexClosedOrders()
            StreamFeed.touchedLevels(events, state: state, into: &touched)
            feed.messages(
                payload.command, events, sequence: entry.sequence, timeNanos: entry.timeNanos, touched: touched, state: state,
                history: history, wants: { self.channels.contains($0) }, into: &messages)
            next = entry.sequence + 1
            processed += 1
        }
        return (messages, next)
    }
}

/// Runs blocking work (recovery reads and replays the whole journal) on a thread of its
/// own, not on one of the few threads Swift concurrency shares with HTTP.
package func onThread<T: Sendable>(_ name: String, _ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = name
        thread.start()
    }
}
