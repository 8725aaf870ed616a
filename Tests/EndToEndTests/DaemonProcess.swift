import Foundation
import LedgerClient
import LedgerCore
import LedgerDigest
import LedgerTestSupport

/// The built executables: next to the test bundle, or in $LEDGER_BIN_DIR.
let binDirectory: String = {
    if let given = ProcessInfo.processInfo.environment["LEDGER_BIN_DIR"] { return given }
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
}()

/// The next port `freePort` tries: below Linux's ephemeral range (32768–60999), so that no
/// client socket of this process is ever given it and no connect can self-connect to it,
/// and never handed out twice in one test run. (A port from bind(0) is an ephemeral one:
/// a client socket could later get the same number, and a connect to a port nobody listens
/// on yet can then reach another test's daemon.)
nonisolated(unsafe) private var nextPort = 20_000 + Int(getpid() % 400) * 20
private let portLock = NSLock()

/// A loopback port nobody listens on, outside the ephemeral range, unique in this process.
func freePort() -> Int {
    portLock.withLock {
        while true {
            let port = nextPort
            nextPort = nextPort >= 32_000 ? 20_000 : nextPort + 1
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
    }
}

/// Serializes the spawning of long-lived children through Foundation's `Process`.
let processLock = NSLock()

/// Runs a program to completion and returns its exit code and output. Uses posix_spawn
/// and waitpid on its own pid rather than Foundation's `Process`, which on Linux has
/// reported a wrong exit status when several children were spawned and reaped at once
/// (seen as `--help` failing after 30 s while suites ran in parallel).
@discardableResult
func runTool(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    try runProgram(binDirectory + "/" + name, arguments)
}

/// Runs any program to completion (as `runTool`).
@discardableResult
func runProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    TestProcess.prepared
    let base = NSTemporaryDirectory() + "ledger-tool-" + UUID().uuidString
    let outPath = base + ".out"
    let errPath = base + ".err"
    defer {
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
    let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let error = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return (exitStatus, output, error)
}

/// The tests' tokens: secrets here, only their SHA-256 in the daemon's token file.
enum TestTokens {
    struct Token {
        var name: String
        var secret: String
        var role: String
        var accounts: String?
        var extra = ""
    }

    static let admin = Token(name: "admin", secret: "test-admin", role: "admin")
    /// A gateway token: every account.
    static let trader = Token(name: "gateway", secret: "test-trader", role: "trader", accounts: "\"*\"")
    static let oracle = Token(name: "oracle", secret: "test-oracle", role: "oracle")
    static let reader = Token(name: "support", secret: "test-reader", role: "read-only")
    /// A trader that holds accounts 1, 2 and 100 ... 199 only.
    static let alice = Token(name: "alice", secret: "test-alice", role: "trader", accounts: "[1, 2, \"100-199\"]")
    /// Ten requests a second, five at once.
    static let slow = Token(name: "slow", secret: "test-slow", role: "admin", extra: "rate_per_second = 10\nburst = 5\n")

    static let standard = [admin, trader, oracle, reader, alice, slow]

    static func file(_ tokens: [Token]) -> String {
        tokens.map { token in
            var text = "[[token]]\nname = \"\(token.name)\"\nsha256 = \"\(hexString(SHA256.hash(Array(token.secret.utf8))))\"\n"
            text += "role = \"\(token.role)\"\n"
            if let accounts = token.accounts { text += "accounts = \(accounts)\n" }
            return text + token.extra
        }.joined(separator: "\n")
    }
}

/// A real `ledgerd` on free loopback ports with its own data directory.
final class DaemonProcess: @unchecked Sendable {
    static let adminToken = TestTokens.admin.secret
    static let traderToken = TestTokens.trader.secret
    let dataDirectory: String
    let tcpPort: Int
    let httpPort: Int
    let streamPort: Int
    let extraArguments: [String]
    /// Variables added to the daemon's environment (NOTIFY_SOCKET, WATCHDOG_USEC, …).
    var environment: [String: String] = [:]
    private var process: Process?
    private(set) var logPath: String
    private var generation = 0

    init(dataDirectory: String? = nil, extraArguments: [String] = [], tokens: [TestTokens.Token] = TestTokens.standard) {
        TestProcess.prepared
        self.dataDirectory = dataDirectory ?? (NSTemporaryDirectory() + "ledger-e2e-" + UUID().uuidString)
        tcpPort = freePort()
        httpPort = freePort()
        streamPort = freePort()
        self.extraArguments = extraArguments
        logPath = self.dataDirectory + ".log0"
        if !FileManager.default.fileExists(atPath: tokensFile) { writeTokens(tokens) }
        FileManager.default.createFile(atPath: adminTokenFile, contents: Data((Self.adminToken + "\n").utf8))
    }

    /// The daemon's token file (beside the data directory; SIGHUP re-reads it).
    var tokensFile: String { dataDirectory + ".tokens.toml" }
    /// The admin secret in a file of its own, for `ledger-load --token-file`.
    var adminTokenFile: String { dataDirectory + ".admin.token" }

    func writeTokens(_ tokens: [TestTokens.Token]) {
        FileManager.default.createFile(atPath: tokensFile, contents: Data(TestTokens.file(tokens).utf8))
    }

    /// SIGHUP: the daemon re-reads its token file.
    func reload() {
        if let pid { Foundation.kill(pid, SIGHUP) }
    }

    var journalDirectory: String { dataDirectory + "/journal" }
    /// The running daemon's pid.
    var pid: Int32? { process.map { $0.processIdentifier } }

    /// Spawns the daemon and returns at once.
    func launch() throws {
        generation += 1
        logPath = dataDirectory + ".log\(generation)"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binDirectory + "/ledgerd")
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.arguments =
            [
                "--data-dir", dataDirectory, "--tcp-port", String(tcpPort), "--http-port", String(httpPort),
                "--stream-port", String(streamPort), "--tokens-file", tokensFile,
            ] + extraArguments
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardOutput = log
        process.standardError = log
        try processLock.withLock { try process.run() }
        self.process = process
    }

    /// Starts the daemon and waits until it answers on TCP; throws if it exits first.
    func start() throws {
        try launch()
        guard let process else { return }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning { throw StartFailure(status: process.terminationStatus, log: log_()) }
            if let connection = try? LedgerConnection(host: "127.0.0.1", port: tcpPort) {
                connection.shutdownBoth()
                return
            }
            usleep(20_000)
        }
        throw StartFailure(status: -1, log: log_())
    }

    struct StartFailure: Error, CustomStringConvertible {
        var status: Int32
        var log: String
        var description: String { "ledgerd did not start (status \(status)):\n\(log)" }
    }

    func log_() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Starts and expects a failure; returns the exit status and log.
    func startExpectingFailure() throws -> (status: Int32, log: String) {
        do {
            try start()
        } catch let failure as StartFailure {
            return (failure.status, failure.log)
        }
        kill()
        throw StartFailure(status: 0, log: "ledgerd started but should not have:\n" + log_())
    }

    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits for the daemon to exit on its own; SIGKILL after `seconds`.
    func waitForExit(seconds: Double) -> Int32 {
        guard let process else { return -1 }
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGTERM, then the exit status.
    @discardableResult
    func terminate() -> Int32 {
        guard let process else { return -1 }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func connect(token: String = adminToken) throws -> LedgerConnection {
        let connection = try LedgerConnection(host: "127.0.0.1", port: tcpPort)
        try connection.hello(token: token)
        return connection
    }

    /// One HTTP request with curl-like simplicity (URLSession is heavy on Linux).
    func http(
        _ method: String, _ path: String, body: String? = nil, token: String? = adminToken, contentType: String = "application/json"
    ) throws -> (status: Int, body: String, headers: String) {
        let connection = try LedgerConnection(host: "127.0.0.1", port: httpPort)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        if let body { request += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        try connection.sendRaw(Array(request.utf8))
        var response: [UInt8] = []
        while let chunk = try? connection.receiveRawChunk() { response += chunk }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "0") ?? 0
        let parts = text.components(separatedBy: "\r\n\r\n")
        return (status, parts.dropFirst().joined(separator: "\r\n\r\n"), parts.first ?? "")
    }

    func cleanup() {
        kill()
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try? FileManager.default.removeItem(atPath: tokensFile)
        try? FileManager.default.removeItem(atPath: adminTokenFile)
        for index in 0...generation { try? FileManager.default.removeItem(atPath: dataDirectory + ".log\(index)") }
    }

    /// The sequence and state hash the daemon reports.
    /// The value of an unlabelled metric on `/metrics`, if the daemon reports it.
    func metric(_ name: String) throws -> Int? {
        Self.metric(name, in: try http("GET", "/metrics", token: nil).body)
    }

    /// The value of an unlabelled metric in a `/metrics` body.
    static func metric(_ name: String, in body: String) -> Int? {
        body.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }.map { Int($0) }
    }

    func stateHash() throws -> (sequence: SequenceNumber, hash: String) {
        let connection = try connect()
        guard case .state(_, let sequence, let hash) = try connection.call(.stateQuery(requestID: 1)) else {
            throw LedgerConnection.Failure.protocolError("no state reply")
        }
        return (sequence, hexString(hash))
    }
}

/// The exchange the end-to-end tests list: USDT and BTCUSDT (tick 0.1, lot 0.001), as
/// `ledger-load --setup` does, and a mark price of 50,000.0.
enum E2EExchange {
    static let genesis: [Command] = Array(DemoExchange.listings.prefix(2)) + [.setMarkPrice(symbol: 0, priceUnits: 500_000)]

    /// Runs commands one after another; returns each reply.
    @discardableResult
    static func run(_ commands: [Command], on connection: LedgerConnection, firstID: UInt64 = 1_000_000) throws -> [WireFrame] {
        try connection.send(commands.enumerated().map { .command(requestID: firstID + UInt64($0.offset), $0.element) })
        return try commands.map { _ in try connection.receive() }
    }
}
