/// The TCP protocol between gateways and `ledgerd`, versions 1 and 2 (docs/FORMATS.md,
/// "Wire protocol"). Version 2 adds the read-only role in `welcome` and the `busy` reply
/// with its retry hint; a server answers each connection in the version of its hello. Every frame: u32 little-endian length of what follows (9 ... 4,096), u8
/// type, u64 little-endian request id, body. A connection starts with `hello`; then any
/// number of requests may be in flight, and each gets exactly one reply with its id, in
/// the order the requests were sent.
public enum WireFrame: Sendable, Hashable {
    /// The version this library speaks (and `hello` sends unless told otherwise).
    public static let protocolVersion: UInt64 = 2
    /// Versions a server accepts in `hello`.
    public static let protocolVersions: ClosedRange<UInt64> = 1...2
    /// A request frame (client → server) at most.
    public static let frameBytesMax = 4_096
    /// A reply frame (server → client) at most: a committed reply carries its entry's
    /// events, which are part of an entry of at most `Limits.entryPayloadBytesMax` bytes,
    /// so every reply fits by construction (type, id, sequence and count take ≤ 29 bytes).
    public static let replyBytesMax = Limits.entryPayloadBytesMax + 64
    /// Type byte + request id.
    public static let frameBytesMin = 9
    /// The longest retry hint a `busy` reply carries: one hour.
    public static let retryAfterMillisecondsMax: UInt64 = 3_600_000

    // Client → server.
    case hello(requestID: UInt64, token: String, version: UInt64 = WireFrame.protocolVersion)
    case command(requestID: UInt64, Command)
    /// The sequence and state hash as of the last durable entry.
    case stateQuery(requestID: UInt64)

    // Server → client.
    case welcome(requestID: UInt64, role: Role)
    /// The command's entry is durable at `sequence`; these are its events (a rejection is
    /// a `.rejected` event).
    case committed(requestID: UInt64, sequence: SequenceNumber, events: [Event])
    /// The request was not journaled; `code` is a `WireError`.
    case error(requestID: UInt64, code: WireError, message: String)
    case state(requestID: UInt64, sequence: SequenceNumber, stateHash: [UInt8])
    /// Version 2: the request was refused for load (code BUSY, not journaled); retry after
    /// `retryAfterMilliseconds`. A version-1 connection gets an `error` BUSY instead, with
    /// the hint in its message.
    case busy(requestID: UInt64, retryAfterMilliseconds: UInt64, message: String)

    public var requestID: UInt64 {
        switch self {
        case .hello(let id, _, _), .command(let id, _), .stateQuery(let id), .welcome(let id, _),
            .committed(let id, _, _), .error(let id, _, _), .state(let id, _, _), .busy(let id, _, _):
            id
        }
    }

    /// Appends the whole frame, length prefix included.
    public func encode(to writer: inout ByteWriter) {
        let lengthAt = writer.bytes.count
        writer.fixed32(0)
        let start = writer.bytes.count
        switch self {
        case .hello(let id, let token, let version):
            writer.u8(0x01)
            writer.fixed64(id)
            writer.varint(version)
            writer.string(token)
        case .command(let id, let command):
            writer.u8(0x02)
            writer.fixed64(id)
            command.encode(to: &writer)
        case .stateQuery(let id):
            writer.u8(0x03)
            writer.fixed64(id)
        case .welcome(let id, let role):
            writer.u8(0x81)
            writer.fixed64(id)
            writer.u8(role.rawValue)
        case .committed(let id, let sequence, let events):
            writer.u8(0x82)
            writer.fixed64(id)
            Self.encodeCommittedBody(sequence: sequence, events: events, to: &writer)
        case .error(let id, let code, let message):
            writer.u8(0x83)
            writer.fixed64(id)
            writer.varint(UInt64(code.rawValue))
            writer.string(Self.truncated(message, bytesMax: Limits.errorMessageBytesMax))
        case .state(let id, let sequence, let hash):
            writer.u8(0x84)
            writer.fixed64(id)
            writer.varint(sequence)
            writer.raw(hash)
        case .busy(let id, let retryAfter, let message):
            writer.u8(0x85)
            writer.fixed64(id)
            writer.varint(retryAfter)
            writer.string(Self.truncated(message, bytesMax: Limits.errorMessageBytesMax))
        }
        Self.patchLength(at: lengthAt, start: start, in: &writer)
    }

    /// A whole `committed` frame for events in any collection (the daemon's replies point
    /// into a shared buffer).
    public static func encodeCommitted(
        requestID: UInt64, sequence: SequenceNumber, events: some Collection<Event>, to writer: inout ByteWriter
    ) {
        let lengthAt = writer.bytes.count
        writer.fixed32(0)
        let start = writer.bytes.count
        writer.u8(0x82)
        writer.fixed64(requestID)
        encodeCommittedBody(sequence: sequence, events: events, to: &writer)
        patchLength(at: lengthAt, start: start, in: &writer)
    }

    /// A whole `committed` frame whose events are already encoded: `encodedEvents` is their
    /// count and the events, as a journal entry's payload ends (`EntryPayload.encode`
    /// returns where that part begins). The daemon's writer copies them from the block it
    /// has just made durable instead of encoding every event again.
    ///
    /// The header (length, type, request id, sequence) is staged, its length known
    /// beforehand: field by field, then the length patched in, it took four appends and a
    /// patch, ~600 instructions a reply on the writer's thread (docs/BENCHMARKS.md,
    /// "twenty-third steps"). Its fixed-width fields are stored whole, and events of at most
    /// `committedStagedEventBytesMax` bytes are staged behind it, so that most replies are
    /// one append (a byte at a time and two appends were ~400 instructions a reply,
    /// "twenty-sixth steps").
    public static func encodeCommitted(
        requestID: UInt64, sequence: SequenceNumber, encodedEvents: ArraySlice<UInt8>, to writer: inout ByteWriter
    ) {
        // The sequence's varint takes one byte for each started 7 bits (one for 0).
        let sequenceBytes = max((64 - sequence.leadingZeroBitCount + 6) / 7, 1)
        let length = UInt32(1 + 8 + sequenceBytes + encodedEvents.count)
        let eventsStaged = encodedEvents.count <= committedStagedEventBytesMax
        writer.staged(maxBytes: committedHeaderBytesMax + committedStagedEventBytesMax) { cursor in
            cursor.fixed32(length)
            cursor.u8(0x82)
            cursor.fixed64(requestID)
            cursor.varint(sequence)
            if eventsStaged { cursor.raw(encodedEvents) }
        }
        if !eventsStaged { writer.raw(encodedEvents) }
    }

    /// A committed frame's header at its longest: length, type, request id, a 10-byte
    /// sequence.
    static let committedHeaderBytesMax = 4 + 1 + 8 + 10
    /// Encoded events up to this size are staged with their frame's header (on the stack).
    static let committedStagedEventBytesMax = 512

    static func encodeCommittedBody(sequence: SequenceNumber, events: some Collection<Event>, to writer: inout ByteWriter) {
        writer.varint(sequence)
        writer.varint(UInt64(events.count))
        for event in events { event.encode(to: &writer) }
    }

    static func patchLength(at lengthAt: Int, start: Int, in writer: inout ByteWriter) {
        let length = UInt32(writer.bytes.count - start)
        withUnsafeBytes(of: length.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { writer.bytes[lengthAt + index] = byte }
        }
    }

    /// The body length a frame's 4-byte little-endian prefix at `offset` gives (the caller
    /// checks that four bytes are there, and the length's range).
    @inlinable
    public static func bodyLength(prefixAt offset: Int, in bytes: [UInt8]) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    /// Decodes one frame body (what follows the length prefix).
    public static func decode(body: [UInt8]) throws(CodecError) -> WireFrame {
        try decode(body: body[...])
    }

    /// Decodes one frame body where it lies, in a slice of a larger buffer (a connection's
    /// input); offsets in errors count from the body's first byte.
    public static func decode(body: ArraySlice<UInt8>) throws(CodecError) -> WireFrame {
        try decode(body, body: body.startIndex..<body.endIndex)
    }

    /// Decodes the frame body at `range` of `bytes` (a connection's input, with the frames
    /// that follow it), where it lies; offsets in errors count from the body's first byte.
    /// The same frame as `decode(body: bytes[range])`, the same error for the same bytes: the
    /// bytes after the body are never read as its fields, but with them the varints near its
    /// end take the 8-byte path (`ByteReader.init(_:payload:)`). A request's fields are a few
    /// dozen bytes, so most of them were within eight bytes of its end, where each varint
    /// went to the byte-checked loop (a fifth of the ingress thread's instructions;
    /// docs/BENCHMARKS.md, "twenty-third steps").
    public static func decode(_ bytes: ArraySlice<UInt8>, body range: Range<Int>) throws(CodecError) -> WireFrame {
        var noBuffer: [Event]? = nil
        return try decode(bytes, body: range, buffer: &noBuffer)
    }

    /// A command frame's request id and command, decoded where they lie and handed to
    /// `take`; false when the body is too short to be a frame or is another type
    /// (`decode(_:body:)` then reads it). For a command frame, the same checks and the same
    /// error for the same bytes as `decode(_:body:)`. The command is handed over on its own,
    /// to be moved into the engine's request: matched out of a decoded `WireFrame`, it was
    /// copied (a call through its cases) and the frame destroyed, ~190 of the ingress
    /// thread's instructions a request (docs/BENCHMARKS.md, "twenty-sixth steps"). (It is
    /// not returned: out of an optional it was copied again, and a tuple of it and the id
    /// in an optional went through the runtime's generic tuple witnesses.)
    public static func decodeCommand(
        _ bytes: ArraySlice<UInt8>, body range: Range<Int>, _ take: (_ requestID: UInt64, _ command: consuming Command) -> Void
    ) throws(CodecError) -> Bool {
        precondition(range.lowerBound >= bytes.startIndex && range.upperBound <= bytes.endIndex, "the body lies outside the bytes")
        guard range.count >= frameBytesMin, bytes[range.lowerBound] == 0x02 else { return false }
        guard range.count <= frameBytesMax else { throw .outOfRange(field: "frame length", offset: 0) }
        var reader = ByteReader(bytes, payload: range)
        _ = try reader.u8()
        let requestID = try reader.fixed64()
        let command = try Command.decode(from: &reader)
        try reader.expectEnd()
        take(requestID, command)
        return true
    }

    /// `decode(_:body:)` for a reader that keeps one buffer of events: a committed reply's
    /// events are appended to `events`, and the frame returned holds none of its own
    /// (`committed(requestID:sequence:events: [])`). An array of events built for every
    /// reply cost the load generator an allocation and its release a reply, and its growth
    /// as the events were added (docs/BENCHMARKS.md, "twenty-fourth steps"). After an
    /// error, `events` may hold some of the frame's events after its own.
    public static func decode(
        _ bytes: ArraySlice<UInt8>, body range: Range<Int>, appendingEventsTo events: inout [Event]
    ) throws(CodecError) -> WireFrame {
        var buffer: [Event]? = events
        events = []
        defer { events = buffer ?? [] }
        return try decode(bytes, body: range, buffer: &buffer)
    }

    /// The body of both decodes, inlined into each: with a `buffer`, a committed reply's
    /// events are appended there; without one (nil), they go into the frame. (A wrapper that
    /// took the events out of the frame afterwards, or an empty buffer passed for none, cost
    /// each of the server's requests 20–52 instructions: the match copied the frame's
    /// `Command`, the empty buffer was released.)
    @inline(__always)
    private static func decode(
        _ bytes: ArraySlice<UInt8>, body range: Range<Int>, buffer: inout [Event]?
    ) throws(CodecError) -> WireFrame {
        precondition(range.lowerBound >= bytes.startIndex && range.upperBound <= bytes.endIndex, "the body lies outside the bytes")
        // Requests (types below 0x80) to 4,096 bytes; replies to `replyBytesMax`.
        guard range.count >= frameBytesMin, range.count <= (bytes[range.lowerBound] >= 0x80 ? replyBytesMax : frameBytesMax) else {
            throw .outOfRange(field: "frame length", offset: 0)
        }
        var reader = ByteReader(bytes, payload: range)
        let type = try reader.u8()
        let id = try reader.fixed64()
        let frame: WireFrame
        switch type {
        case 0x01:
            let versionOffset = reader.offset
            let version = try reader.varint()
            guard protocolVersions.contains(version) else { throw .outOfRange(field: "protocol version", offset: versionOffset) }
            frame = .hello(requestID: id, token: try reader.string(maxBytes: Limits.tokenBytesMax), version: version)
        case 0x02: frame = .command(requestID: id, try Command.decode(from: &reader))
        case 0x03: frame = .stateQuery(requestID: id)
        case 0x81:
            let roleOffset = reader.offset
            guard let role = Role(rawValue: try reader.u8()) else { throw .outOfRange(field: "role", offset: roleOffset) }
            frame = .welcome(requestID: id, role: role)
        case 0x82:
            let sequence = try reader.varint()
            let countOffset = reader.offset
            let count = try reader.varint()
            guard count <= UInt64(reader.remaining / 2) else { throw .outOfRange(field: "event count", offset: countOffset) }
            if buffer != nil {
                for _ in 0..<count { buffer?.append(try Event.decode(from: &reader)) }
                frame = .committed(requestID: id, sequence: sequence, events: [])
            } else {
                var events: [Event] = []
                for _ in 0..<count { events.append(try Event.decode(from: &reader)) }
                frame = .committed(requestID: id, sequence: sequence, events: events)
            }
        case 0x83:
            let codeOffset = reader.offset
            guard let code = WireError(rawValue: try reader.varint(as: UInt16.self, field: "error code")) else {
                throw .outOfRange(field: "error code", offset: codeOffset)
            }
            frame = .error(requestID: id, code: code, message: try reader.string(maxBytes: Limits.errorMessageBytesMax))
        case 0x84:
            let sequence = try reader.varint()
            frame = .state(requestID: id, sequence: sequence, stateHash: Array(try reader.raw(count: 32)))
        case 0x85:
            let retryOffset = reader.offset
            let retryAfter = try reader.varint()
            guard retryAfter <= Self.retryAfterMillisecondsMax else { throw .outOfRange(field: "retry after", offset: retryOffset) }
            frame = .busy(
                requestID: id, retryAfterMilliseconds: retryAfter, message: try reader.string(maxBytes: Limits.errorMessageBytesMax))
        default:
            throw .unknownTag(name: "frame type", tag: UInt64(type), offset: 0)
        }
        try reader.expectEnd()
        return frame
    }

    /// `text` cut to at most `bytesMax` bytes at a character boundary.
    static func truncated(_ text: String, bytesMax: Int) -> String {
        if text.utf8.count <= bytesMax { return text }
        var result = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > bytesMax { break }
            result.append(character)
            bytes += size
        }
        return result
    }

    /// Reads the request id of a frame body that may not decode, so an error reply can
    /// still name it (0 when even that is missing).
    public static func requestID(ofBody body: [UInt8]) -> UInt64 {
        requestID(ofBody: body[...])
    }

    /// The same, for a body in a slice.
    public static func requestID(ofBody body: ArraySlice<UInt8>) -> UInt64 {
        guard body.count >= frameBytesMin else { return 0 }
        var reader = ByteReader(body[(body.startIndex + 1)..<(body.startIndex + 9)])
        return (try? reader.fixed64()) ?? 0
    }
}

/// Why a request was answered without a journal entry. Codes are stable.
public enum WireError: UInt16, Sendable, Hashable, CaseIterable {
    /// The frame or body could not be decoded.
    case malformed = 1
    /// No valid hello yet, or an unknown token.
    case unauthorized = 2
    /// The token's role may not send this command.
    case forbidden = 3
    /// The queue is full; retry later.
    case busy = 4
    /// A decimal with more places than the asset or symbol allows (HTTP).
    case tooMuchPrecision = 5
    case notFound = 6
    /// Shutting down or unhealthy.
    case unavailable = 7
    /// A required field is missing or has the wrong form (HTTP).
    case badRequest = 8
    /// A field outside its domain (docs/FORMATS.md, "Field domains"): an id above
    /// 2^63 − 1, a name that is not 1 ... 16 bytes of printable ASCII, a bracket count
    /// outside 1 ... 16. The message names the field, the value and the domain.
    case outOfRange = 9

    public var name: String {
        switch self {
        case .malformed: "MALFORMED"
        case .unauthorized: "UNAUTHORIZED"
        case .forbidden: "FORBIDDEN"
        case .busy: "BUSY"
        case .tooMuchPrecision: "TOO_MUCH_PRECISION"
        case .notFound: "NOT_FOUND"
        case .unavailable: "UNAVAILABLE"
        case .badRequest: "BAD_REQUEST"
        case .outOfRange: "OUT_OF_RANGE"
        }
    }
}
