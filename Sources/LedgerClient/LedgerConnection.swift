import LedgerCore

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking client of ledgerd's TCP protocol, for tools and tests. One thread may send
/// while another receives; neither call is otherwise thread-safe.
public final class LedgerConnection: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case connect(String, Int32)
        case io(String, Int32)
        case closed
        case protocolError(String)
        case refused(WireError, String)

        public var description: String {
            switch self {
            case .connect(let address, let code): "cannot connect to \(address): \(String(cString: strerror(code)))"
            case .io(let operation, let code): "\(operation) failed: \(String(cString: strerror(code)))"
            case .closed: "the server closed the connection"
            case .protocolError(let reason): "protocol error: \(reason)"
            case .refused(let code, let message): "\(code.name): \(message)"
            }
        }
    }

    /// -1 once closed by a failed `init` (whose throw still runs `deinit`: closing twice
    /// would close whatever descriptor another thread got that number for).
    private var fd: Int32
    // The receiving side's fields (one thread receives; another may send, touching none of
    // them) are unchecked for exclusivity: the run-time checks, which see only overlapping
    // accesses within one thread, were a few percent of the load generator's samples.
    @exclusivity(unchecked) private var readBuffer: [UInt8] = []
    @exclusivity(unchecked) private var readOffset = 0
    /// What `recv` writes into, kept: a fresh zeroed 64 KiB array for each `recv` was an
    /// allocation and a `memset` a read (the load generator's receiving threads).
    @exclusivity(unchecked) private var chunk = [UInt8](repeating: 0, count: 65_536)

    /// Connects to an IPv4 address.
    /// `receiveBufferBytes`: the socket's receive buffer (SO_RCVBUF, set before connecting;
    /// tests use a small one to be a client whose socket fills at once).
    public init(host: String, port: Int, receiveBufferBytes: Int? = nil) throws(Failure) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket", errno) }
        if var bytes = receiveBufferBytes.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            close(fd)
            fd = -1
            throw .connect("\(host):\(port)", EINVAL)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            fd = -1
            throw .connect("\(host):\(port)", code)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        readBuffer.reserveCapacity(1 << 16)
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Closes both directions (a blocked `receive` returns `.closed`).
    public func shutdownBoth() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Sends `hello` and waits for the welcome.
    @discardableResult
    public func hello(token: String) throws(Failure) -> Role {
        var writer = ByteWriter()
        WireFrame.hello(requestID: 0, token: token).encode(to: &writer)
        try sendRaw(writer.bytes)
        switch try receive() {
        case .welcome(_, let role): return role
        case .error(_, let code, let message): throw .refused(code, message)
        case .busy(_, let retryAfter, let message): throw .refused(.busy, "\(message) (retry after \(retryAfter) ms)")
        default: throw .protocolError("expected a welcome")
        }
    }

    /// Writes already-encoded frames.
    public func sendRaw(_ bytes: [UInt8]) throws(Failure) {
        var done = 0
        while done < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + done, raw.count - done, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw errno == EPIPE || errno == ECONNRESET ? .closed : .io("send", errno)
            }
            done += sent
        }
    }

    public func send(_ frames: [WireFrame]) throws(Failure) {
        var writer = ByteWriter(capacity: frames.count * 32)
        for frame in frames { frame.encode(to: &writer) }
        try sendRaw(writer.bytes)
    }

    /// Blocks until a whole frame arrives. The frame is decoded where it lies in the
    /// connection's input, with what follows it there (`WireFrame.decode(_:body:)`): no copy
    /// of its body, and its varints near its end take the 8-byte path.
    public func receive() throws(Failure) -> WireFrame {
        let body = try nextBody()
        do {
            return try WireFrame.decode(readBuffer[...], body: body)
        } catch {
            throw .protocolError("undecodable frame: \(error)")
        }
    }

    /// The next frame, with a committed reply's events appended to `events` instead of an
    /// array of their own (`WireFrame.decode(_:body:appendingEventsTo:)`): for a reader
    /// that keeps one buffer for them.
    public func receive(appendingEventsTo events: inout [Event]) throws(Failure) -> WireFrame {
        let body = try nextBody()
        do {
            return try WireFrame.decode(readBuffer[...], body: body, appendingEventsTo: &events)
        } catch {
            throw .protocolError("undecodable frame: \(error)")
        }
    }

    /// The next frame's body, undecoded.
    public func receiveBody() throws(Failure) -> [UInt8] {
        Array(readBuffer[try nextBody()])
    }

    /// Buffers the next whole frame and steps past it; returns where its body lies in
    /// `readBuffer` (valid until the next read).
    private func nextBody() throws(Failure) -> Range<Int> {
        try fill(4)
        let length = WireFrame.bodyLength(prefixAt: readOffset, in: readBuffer)
        guard length >= WireFrame.frameBytesMin, length <= WireFrame.replyBytesMax else {
            throw .protocolError("frame length \(length)")
        }
        try fill(4 + length)
        let body = readOffset + 4..<readOffset + 4 + length
        readOffset += 4 + length
        return body
    }

    /// Ensures `count` unread bytes are buffered.
    private func fill(_ count: Int) throws(Failure) {
        while readBuffer.count - readOffset < count {
            if readOffset > 0 {
                readBuffer.removeFirst(readOffset)
                readOffset = 0
            }
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 {
                if errno == EINTR { continue }
                throw errno == ECONNRESET ? .closed : .io("recv", errno)
            }
            if got == 0 { throw .closed }
            readBuffer.append(contentsOf: chunk[0..<got])
        }
    }

    /// Whatever bytes arrive next (for speaking HTTP in tests); `.closed` at the end.
    public func receiveRawChunk() throws(Failure) -> [UInt8] {
        if readOffset < readBuffer.count {
            defer {
                readBuffer.removeAll(keepingCapacity: true)
                readOffset = 0
            }
            return Array(readBuffer[readOffset...])
        }
        try fill(1)
        return try receiveRawChunk()
    }

    /// Sends one request and waits for its reply (no other requests may be in flight).
    public func call(_ frame: WireFrame) throws(Failure) -> WireFrame {
        try send([frame])
        let reply = try receive()
        guard reply.requestID == frame.requestID else { throw .protocolError("reply for another request") }
        return reply
    }
}
