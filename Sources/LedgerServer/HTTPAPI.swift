import Foundation
import HTTPTypes
import Hummingbird
import LedgerCore
import NIOCore
import Projection

/// An answer that never reached the journal, as HTTP: the protocol's code and reason in a
/// JSON body (docs/API.md, "Errors"), and the HTTP status that goes with it.
package struct HTTPFailure: Error, HTTPResponseError, CustomStringConvertible {
    package var code: WireError
    package var status: HTTPResponse.Status
    package var message: String
    /// With BUSY: when to retry (`Retry-After` in whole seconds, `retryAfterMs` in the body).
    package var retryAfterMilliseconds: UInt64?

    package init(_ code: WireError, _ message: String, retryAfterMilliseconds: UInt64? = nil, status: HTTPResponse.Status? = nil) {
        self.code = code
        self.message = message
        // BUSY always says when to retry; the engine's queue drains within a group commit.
        self.retryAfterMilliseconds = retryAfterMilliseconds ?? (code == .busy ? 1 : nil)
        self.status =
            status
            ?? {
                switch code {
                case .unauthorized: .unauthorized
                case .forbidden: .forbidden
                case .busy: .tooManyRequests
                case .notFound: .notFound
                case .unavailable: .serviceUnavailable
                case .malformed, .tooMuchPrecision, .badRequest, .outOfRange: .badRequest
                }
            }()
    }

    package var description: String { "\(code.name): \(message)" }

    var body: String {
        var object: [String: Any] = ["code": Int(code.rawValue), "reason": code.name, "message": message]
        if let retryAfterMilliseconds { object["retryAfterMs"] = Int(retryAfterMilliseconds) }
        return JSON.text(object)
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .tooManyRequests {
            // Whole seconds, rounded up; the body's retryAfterMs is finer.
            headers[.retryAfter] = String(max(1, ((retryAfterMilliseconds ?? 1_000) + 999) / 1_000))
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The request context: who sent it, once authenticated.
package struct LedgerRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    package var principal: Principal?

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// Every error leaves as the API's JSON: ours as they are, Hummingbird's own (no route:
/// 404; a body over the limit: 413) in the same form, anything else as a 500 that names it.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = LedgerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as HTTPFailure {
            return failure.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                return HTTPFailure(.notFound, "no endpoint \(request.method) \(request.uri.path)").response
            case .contentTooLarge:
                return HTTPFailure(.badRequest, "the body is larger than its limit", status: .contentTooLarge).response
            default:
                return HTTPFailure(.badRequest, error.body ?? "\(error.status)", status: error.status).response
            }
        } catch let error as NIOTooManyBytesError {
            return HTTPFailure(
                .badRequest, "the body is larger than \(error.maxBytes.map(String.init) ?? "its limit") bytes", status: .contentTooLarge
            ).response
        } catch {
            return HTTPFailure(.unavailable, "internal error: \(error)", status: .internalServerError).response
        }
    }
}

/// One endpoint: its method and path, the role it needs (nil: any token), and how its
/// parameters become an engine request.
struct Endpoint: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var role: Role?
    var decode: @Sendable (RequestParameters, Principal, ExchangeCatalog) throws -> EngineRequest.Kind
}

/// The HTTP/JSON API on Hummingbird (docs/API.md): routes, authentication, rate limits,
/// request decoding and rendering. Writes go through the sequencer and answer once
/// durable; reads run on the state follower once everything before them is durable.
package final class HTTPAPI: @unchecked Sendable {
    private let tokens: TokenBook
    private let status: DaemonStatus
    private let bodyBytesMax: Int
    private let inFlightMax: Int
    /// `POST /debug/stall` exists (LEDGERD_DEBUG_HOOKS=1; tests only).
    private let debugHooks: Bool
    private let lock = NSLock()
    /// nil until recovery is done: until then only health and metrics answer.
    private var sequencer: Sequencer?
    private var catalog = ExchangeCatalog(ExchangeState())
    private var inFlight = 0

    /// Serves from process start; `attach` hands it the engine once recovered.
    package init(tokens: TokenBook, status: DaemonStatus, bodyBytesMax: Int, inFlightMax: Int, debugHooks: Bool = false) {
        self.tokens = tokens
        self.status = status
        self.bodyBytesMax = bodyBytesMax
        self.inFlightMax = inFlightMax
        self.debugHooks = debugHooks
    }

    package func attach(_ sequencer: Sequencer) {
        lock.withLock {
            self.sequencer = sequencer
            catalog = sequencer.initialCatalog
        }
    }

    package func updateCatalog(_ catalog: ExchangeCatalog) {
        lock.withLock { self.catalog = catalog }
    }

    private var current: (sequencer: Sequencer?, catalog: ExchangeCatalog) { lock.withLock { (sequencer, catalog) } }

    /// The catalog once recovered (nil before).
    var attachedCatalog: ExchangeCatalog? { lock.withLock { sequencer == nil ? nil : catalog } }

    package func router() -> Router<LedgerRequestContext> {
        let router = Router(context: LedgerRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        // Live while the process runs, recovery included (a liveness probe must not restart
        // a daemon that is only replaying its journal); ready once recovered and healthy.
        router.get("/health/live") { [self] _, _ in Self.json(.ok, JSON.text(["status": "live", "phase": status.phase])) }
        router.get("/health/ready") { [self] _, _ in
            let ready = status.ready && (current.sequencer?.isHealthy ?? false)
            return Self.json(
                ready ? .ok : .serviceUnavailable, JSON.text(["status": ready ? "ready" : "not ready", "phase": status.phase]))
        }
        router.get("/metrics") { [self] _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(
                status: .ok, headers: headers,
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: Metrics.render(sequencer: current.sequencer, status: status, tokens: tokens, httpInFlight: inFlightNow))))
        }
        if debugHooks {
            router.post("/debug/stall") { [self] request, _ in
                guard let principal = authenticate(request), principal.role == .admin else {
                    throw HTTPFailure(.forbidden, "the debug hooks need an admin token")
                }
                let milliseconds = Int(request.uri.queryParameters["milliseconds"].map(String.init) ?? "") ?? 0
                guard (1...60_000).contains(milliseconds), let sequencer = current.sequencer else {
                    throw HTTPFailure(.badRequest, "milliseconds must be 1 ... 60000, once recovered")
                }
                sequencer.debugStall(milliseconds: milliseconds)
                return Self.json(.ok, JSON.text(["stalled": milliseconds]))
            }
        }
        for endpoint in Self.endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method) { [self] request, context in
                try await serve(endpoint, request, context)
            }
        }
        return router
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// Authenticates, limits, decodes, submits and waits for the answer.
    private func serve(_ endpoint: Endpoint, _ request: Request, _ context: LedgerRequestContext) async throws -> Response {
        let arrived = RateLimiter.monotonicNanos()
        defer { LedgerMetrics.current?.requests.record(RateLimiter.monotonicNanos() - arrived, .http) }
        guard let principal = authenticate(request) else { throw HTTPFailure(.unauthorized, "missing or unknown bearer token") }
        if let wait = principal.limiter.admit(nowNanos: RateLimiter.monotonicNanos()) {
            throw HTTPFailure(
                .busy, "token \(principal.grant.name) is over its \(principal.grant.ratePerSecond) requests a second",
                retryAfterMilliseconds: UInt64((wait + 999_999) / 1_000_000))
        }
        try Self.authorize(endpoint, principal)
        guard enter() else { throw HTTPFailure(.busy, "\(inFlightMax) HTTP requests are in flight", retryAfterMilliseconds: 100) }
        defer { leave() }
        var request = request
        let body = try await request.collectBody(upTo: bodyBytesMax)
        let parameters = try RequestParameters.parse(
            query: request.uri.query, contentType: request.headers[.contentType], body: Array(body.readableBytesView))
        let (attached, catalog) = current
        guard let sequencer = attached else {
            throw HTTPFailure(.unavailable, "recovering: the journal is being replayed (\(status.phase))")
        }
        let kind = try Self.decode(endpoint, parameters, principal, catalog)
        guard status.accepting else { throw HTTPFailure(.unavailable, "shutting down") }
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<Response, Never>) in
            let command: Command? = if case .command(let submitted) = kind { submitted } else { nil }
            let sink = HTTPReply { response in
                continuation.resume(returning: Self.render(response, catalog: catalog, command: command))
            }
            sequencer.submit([EngineRequest(requestID: 0, kind: kind, sink: sink)])
        }
        return answer
    }

    private func authenticate(_ request: Request) -> Principal? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return tokens.authenticate(secret: header.utf8.dropFirst("Bearer ".utf8.count))
    }

    private func enter() -> Bool {
        lock.withLock {
            guard inFlight < inFlightMax else { return false }
            inFlight += 1
            return true
        }
    }

    private func leave() {
        lock.withLock { inFlight -= 1 }
    }

    private var inFlightNow: Int { lock.withLock { inFlight } }

    /// The role check, before any field is read (a token without the endpoint's role gets
    /// 403 whatever else is wrong), then the decoding, then the command's own check (a
    /// trader only for its accounts; docs/OPERATIONS.md, "Tokens and roles").
    static func authorize(_ endpoint: Endpoint, _ principal: Principal) throws(HTTPFailure) {
        if let needed = endpoint.role, principal.role != .admin, principal.role != needed {
            throw HTTPFailure(
                .forbidden, "token \(principal.grant.name) has the \(principal.role.name) role; this endpoint needs \(needed.name)")
        }
    }

    static func decode(
        _ endpoint: Endpoint, _ parameters: RequestParameters, _ principal: Principal, _ catalog: ExchangeCatalog
    ) throws -> EngineRequest.Kind {
        try authorize(endpoint, principal)
        let kind = try endpoint.decode(parameters, principal, catalog)
        if case .command(let command) = kind, let refusal = principal.refusal(for: command) { throw HTTPFailure(.forbidden, refusal) }
        return kind
    }

    /// What a request decodes to, for tests and the fuzzer: the command it would submit, a
    /// read, or the error code it would answer.
    package enum Decoded: Sendable, Hashable {
        case command(Command)
        case read
        case refused(code: UInt16, status: Int)
    }

    /// Decodes a request exactly as the router does, without a sequencer: route, fields,
    /// decimals, names, ids, roles.
    package static func decode(
        method: String, uri: String, contentType: String? = nil, body: [UInt8], principal: Principal, catalog: ExchangeCatalog
    ) -> Decoded {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        let query = uri.contains("?") ? String(uri[uri.index(after: uri.firstIndex(of: "?")!)...]) : nil
        do {
            guard let endpoint = endpoints.first(where: { $0.method.rawValue == method && $0.path == path }) else {
                throw HTTPFailure(.notFound, "no endpoint \(method) \(path)")
            }
            try authorize(endpoint, principal)
            let parameters = try RequestParameters.parse(query: query, contentType: contentType, body: body)
            switch try decode(endpoint, parameters, principal, catalog) {
            case .command(let command): return .command(command)
            case .stateQuery, .read: return .read
            }
        } catch let failure as HTTPFailure {
            return .refused(code: failure.code.rawValue, status: failure.status.code)
        } catch {
            return .refused(code: WireError.badRequest.rawValue, status: 400)
        }
    }

    /// Renders what the engine answered.
    /// `command` is what was submitted (for the text of a rejection, and the settlement a
    /// funding rate applies to).
    static func render(_ response: EngineResponse, catalog: ExchangeCatalog, command: Command? = nil) -> Response {
        switch response {
        case .error(let code, let message):
            return HTTPFailure(code, message).response
        case .view(let text):
            return json(.ok, text)
        case .state(let sequence, let hash):
            return json(.ok, JSON.text(["sequence": Int(sequence), "stateHash": hexString(hash)]))
        case .committed(let sequence, let time, let events, _):
            // Binance's transactTime: the entry's journal time, ms since 1970.
            let transactTime = Int(time / 1_000_000)
            if case .rejected(let reason, let detail)? = events.last {
                var message = "rejected: \(reason.name.lowercased().replacingOccurrences(of: "_", with: " "))"
                // Which field makes a listing invalid: the engine's own rule, run on the
                // catalog the request was decoded against (the journal keeps detail 0).
                if reason == .invalidListing, case .listSymbol(let spec)? = command,
                    let problem = ExchangeState.listingProblem(spec, assets: catalog.assets, symbols: catalog.symbols)
                {
                    message += ": " + problem
                }
                var body: [String: Any] = [
                    "code": Int(reason.rawValue), "reason": reason.name, "sequence": Int(sequence), "transactTime": transactTime,
                    "message": message,
                ]
                if detail != 0 { body["detail"] = Int(detail) }
                return json(.badRequest, JSON.text(body))
            }
            var body: [String: Any] = [
                "sequence": Int(sequence), "transactTime": transactTime, "events": events.map { Views.event($0, catalog) },
            ]
            // Funding settled at this entry's time comes first; the command's own events follow.
            let own = events.drop { if case .fundingSettled = $0 { true } else if case .fundingPaid = $0 { true } else { false } }
            if case .orderAccepted(let id)? = own.first {
                body["orderId"] = Int(id)
                var executed: Int64 = 0
                var symbol: SymbolID?
                var status = "FILLED"
                for event in own {
                    switch event {
                    case .trade(let trade):
                        executed += trade.quantityUnits
                        symbol = trade.symbol
                    case .orderRested: status = executed > 0 ? "PARTIALLY_FILLED" : "NEW"
                    case .orderExpired: status = "EXPIRED"
                    default: break
                    }
                }
                body["status"] = status
                body["updateTime"] = transactTime
                // A decimal in the symbol's quantity scale ("0" with no trade).
                body["executedQty"] =
                    symbol.map { DecimalText.format(executed, scale: Int(catalog.symbols[Int($0)].quantityScale)) } ?? "0"
            }
            if case .transferReplayed(let original)? = own.first { body["originalSequence"] = Int(original) }
            // The settlement a funding rate applies to: the next funding time after the
            // entry (a settlement due at it ran first, as its own entry).
            if case .fundingRateSet(let symbol, _)? = own.first, Int(symbol) < catalog.symbols.count,
                catalog.symbols[Int(symbol)].fundingIntervalSeconds > 0
            {
                body["fundingTime"] =
                    Int(
                        ExchangeState.nextFundingTime(after: time, intervalSeconds: catalog.symbols[Int(symbol)].fundingIntervalSeconds)
                            / 1_000_000)
            }
            return json(.ok, JSON.text(body))
        }
    }
}

/// A reply sink for one HTTP request: renders inside `deliver` (events are valid only
/// there) and hands the answer on.
final class HTTPReply: ReplySink, @unchecked Sendable {
    private let answer: @Sendable (EngineResponse) -> Void

    init(_ answer: @escaping @Sendable (EngineResponse) -> Void) {
        self.answer = answer
    }

    func deliver(_ replies: ReplyList) {
        for index in 0..<replies.count { answer(replies.response(at: index).response) }
    }
}

/// JSON text with sorted keys.
enum JSON {
    static func text(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What the daemon is doing, for health and ingress.
package final class DaemonStatus: @unchecked Sendable {
    package init() {}

    private let lock = NSLock()
    private var _projector: Projector?
    package var projector: Projector? {
        get { lock.withLock { _projector } }
        set { lock.withLock { _projector = newValue } }
    }
    private var _ready = false
    private var _accepting = false
    private var _phase = "starting"
    private var _tcpConnections: (@Sendable () -> Int)?
    private var _httpConnections: (@Sendable () -> Int)?
    private var _streamClients: (@Sendable () -> (Int, Int, Int))?
    /// Stream clients connected, cut off so far, and journal replays so far, for /metrics.
    package var streamClients: (@Sendable () -> (Int, Int, Int))? {
        get { lock.withLock { _streamClients } }
        set { lock.withLock { _streamClients = newValue } }
    }
    /// Open TCP and HTTP connections, for /metrics.
    package var tcpConnections: (@Sendable () -> Int)? {
        get { lock.withLock { _tcpConnections } }
        set { lock.withLock { _tcpConnections = newValue } }
    }
    package var httpConnections: (@Sendable () -> Int)? {
        get { lock.withLock { _httpConnections } }
        set { lock.withLock { _httpConnections = newValue } }
    }
    private var _snapshotDirectory: String?
    /// Where snapshots are, for the snapshot age in /metrics.
    package var snapshotDirectory: String? {
        get { lock.withLock { _snapshotDirectory } }
        set { lock.withLock { _snapshotDirectory = newValue } }
    }
    /// What the daemon is doing, for health: starting, recovering (with the sequence
    /// replayed), serving, stopping.
    package var phase: String {
        get { lock.withLock { _phase } }
        set { lock.withLock { _phase = newValue } }
    }
    package var ready: Bool {
        get { lock.withLock { _ready } }
        set { lock.withLock { _ready = newValue } }
    }
    package var accepting: Bool {
        get { lock.withLock { _accepting } }
        set { lock.withLock { _accepting = newValue } }
    }
}
