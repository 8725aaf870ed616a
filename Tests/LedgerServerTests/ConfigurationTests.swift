import Foundation
import Journal
import LedgerCore
import LedgerDigest
import Testing

@testable import LedgerServer

/// ledgerd's settings: defaults, then the TOML file, then LEDGERD_* variables, then flags;
/// every refusal names the key, the line or the range.
@Suite struct ConfigurationTests {
    func refusal(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func layersApplyInOrderAndLaterWins() throws {
        let toml = """
            data_dir = "/srv/ledger"   # a comment
            [tcp]
            port = 7_401
            host = "0.0.0.0"
            [journal]
            fsync = "interval"
            fsync_interval_ms = 7
            lz4_acceleration = 1
            [auth]
            tokens_file = "/etc/t.toml"
            rate_per_second = 500
            """
        let environment = ["LEDGERD_TCP_PORT": "7402", "LEDGERD_PROJECTOR_URL": "postgresql://x", "HOME": "/root"]
        let settings = try DaemonConfig.layered(
            toml: toml, environment: environment, flags: [("tcp.port", .integer(7403)), ("log_level", .string("debug"))])
        #expect(settings.dataDirectory == "/srv/ledger")  // the file
        #expect(settings.tcpHost == "0.0.0.0")
        #expect(settings.tcpPort == 7403)  // flag over environment over file
        #expect(settings.projectorURL == "postgresql://x")  // environment
        #expect(settings.fsync == .interval(milliseconds: 7))
        #expect(settings.lz4Acceleration == 1)
        #expect(settings.tokensFile == "/etc/t.toml")
        #expect(settings.tokenDefaults.ratePerSecond == 500 && settings.tokenDefaults.burst == 500)
        #expect(settings.logLevel == .debug)
        // Untouched keys keep their defaults.
        #expect(settings.httpPort == 7480 && settings.queueCapacity == 262_144 && settings.verifyEntries)
        // The environment alone, over the defaults.
        let fromEnvironment = try DaemonConfig.layered(toml: nil, environment: ["LEDGERD_HTTP_PORT": "9000"], flags: [])
        #expect(fromEnvironment.httpPort == 9000 && fromEnvironment.tcpPort == 7400)
    }

    /// The start-up summary names every setting there is, and no secret.
    @Test func theSummaryCoversEveryKeyAndRedactsPasswords() throws {
        var settings = DaemonConfig()
        try settings.set("projector.url", .string("postgresql://ledger:hunter2@db:5432/ledger?password=hunter2&sslmode=require"))
        try settings.set("journal.fsync", .string("interval"))
        let summary = settings.summary
        for key in DaemonConfig.keys { #expect(summary[key] != nil, "the summary lacks \(key)") }
        #expect(summary.keys.allSatisfy { DaemonConfig.keys.contains($0) }, "\(summary.keys.sorted())")
        #expect(summary["projector.url"] == "postgresql://ledger:***@db:5432/ledger?password=***&sslmode=require")
        #expect(!summary.values.contains { $0.contains("hunter2") })
        #expect(DaemonConfig.redacted(url: "postgresql://127.0.0.1/x") == "postgresql://127.0.0.1/x")
    }

    @Test func theShippedConfigurationParses() throws {
        let text = try String(contentsOfFile: "deploy/ledgerd.toml", encoding: .utf8)
        let settings = try DaemonConfig.layered(toml: text, environment: [:], flags: [])
        #expect(settings.tokensFile == "/etc/ledgerd/tokens.toml")
        #expect(settings.segmentBytes == 67_108_864)
        #expect(settings.lz4Acceleration == JournalWriter.Options.lz4AccelerationDefault)
        #expect(settings.streamPort == 7481 && settings.streamBufferMessages == 200_000 && settings.history.tradesMax == 500_000)
    }

    @Test func everyBadSettingIsRefusedByName() {
        let cases: [(String, String)] = [
            ("[tcp]\nportt = 1\n", "unknown setting tcp.portt"),
            ("[stream]\nbuffer_messages = 10\n", "stream.buffer_messages must be an integer in 1000...100000000"),
            ("[stream]\nclients_max = 0\n", "stream.clients_max must be an integer in 1...65536"),
            ("[history]\norders_max = -1\n", "history.orders_max must be an integer in 0...100000000"),
            ("[tcp]\nport = 70000\n", "tcp.port must be an integer in 0...65535"),
            ("[tcp]\nlisten_backlog = 0\n", "tcp.listen_backlog must be an integer in 1...65535"),
            ("[http]\nlisten_backlog = 65536\n", "http.listen_backlog must be an integer in 1...65535"),
            ("[projector]\nniceness = 20\n", "projector.niceness must be an integer in 0...19"),
            ("[projector]\nschema = \"Public\"\n", "projector.schema must be 1…40 characters of [a-z0-9_]"),
            ("[projector]\nschema = \"\"\n", "projector.schema must be 1…40 characters of [a-z0-9_]"),
            ("[projector]\nschema = \"a;drop\"\n", "projector.schema must be 1…40 characters of [a-z0-9_]"),
            ("[tcp]\nport = \"7400\"\n", "tcp.port must be an integer in 0...65535"),
            ("[journal]\nfsync = \"sometimes\"\n", "journal.fsync must be batch, interval or none"),
            ("[journal]\nverify_entries = 1\n", "journal.verify_entries must be true or false"),
            ("[journal]\nsegment_bytes = 1.5\n", "journal.segment_bytes: a floating-point number is not a value of any setting"),
            ("[journal]\nlz4_acceleration = 0\n", "journal.lz4_acceleration must be an integer in 1...65537"),
            ("[journal]\nlz4_acceleration = 65538\n", "journal.lz4_acceleration must be an integer in 1...65537"),
            ("[journal]\nlz4_acceleration = \"fast\"\n", "journal.lz4_acceleration must be an integer in 1...65537"),
            ("[a]\n[a.b]\nc = 1\n", "a.b: tables nest one level only"),
            ("[tokens]\n\"secret\" = \"admin\"\n", "[tokens] is no longer read"),
            ("[auth]\nrate_per_second = 0\n", "auth.rate_per_second must be an integer in 1...100000000"),
            ("[tcp]\nport = 1\nport = 2\n", "config line 3"),
            ("data_dir = \n", "config line 1"),
            // toml++ 3.4.0 aborts the process on these (FuzzConfig; upstream #294, #301):
            // TOMLGuard refuses them first, with the line.
            ("[{", "config line 1: a key must be bare (A-Z a-z 0-9 _ -) or quoted"),
            ("a = 1\n[&\n", "config line 2: a key must be bare"),
            ("[[[1]]]", "config line 1: a key must be bare"),
            ("d=[}", "config line 1: unsupported value }"),
            ("[tcp]\nport = [\n1,\n2 3]\n", "config line 4: expected , or ] in an array"),
            ("x = \"\"\"\nmulti\n\"\"\"\n", "config line 1: multi-line strings are not used by ledgerd's files"),
            ("x = { a = 1 }\n", "config line 1: inline tables are not used by ledgerd's files"),
            ("x = 0x1F\n", "config line 1: unsupported value 0x1F"),
            ("x = \"a\\qb\"\n", "config line 1: an unknown escape in a string"),
            // TOMLKit's table iterator traps on a key with a NUL (FuzzConfig): refused in
            // any string, in both escapes, with the line.
            ("[t]\n\"a\\u0000b\" = 1\n", "config line 2: a NUL (\\u0000) in a string"),
            ("a.\"\\U00000000\" = 1\n", "config line 1: a NUL (\\u0000) in a string"),
            ("[t.\"\\u0000\"]\n", "config line 1: a NUL (\\u0000) in a string"),
            ("x = \"\\u0000\"\n", "config line 1: a NUL (\\u0000) in a string"),
        ]
        for (text, expected) in cases {
            var settings = DaemonConfig()
            let message = refusal { try settings.apply(toml: text) }
            #expect(message.contains(expected), "\(text.debugDescription): \(message)")
        }
        // The input FuzzConfig found (a [tokens] key with a NUL, line 24), read as the
        // target reads it: refused by the configuration and by the token file alike.
        let found = try! Data(contentsOf: URL(fileURLWithPath: "Fixtures/fuzz/regressions/FuzzConfig-nul-key"))
        let text = String(decoding: found, as: UTF8.self)
        var fromFound = DaemonConfig()
        #expect(refusal { try fromFound.apply(toml: text) } == "config line 24: a NUL (\\u0000) in a string")
        #expect(
            refusal { _ = try TokenFile.parse(text, defaults: TokenFileTests.defaults) }.contains("line 24: a NUL (\\u0000) in a string"))
        var settings = DaemonConfig()
        #expect(refusal { try settings.apply(environment: ["LEDGERD_TOKENS": "a:admin"]) }.contains("LEDGERD_TOKENS is no longer read"))
        #expect(refusal { try settings.apply(environment: ["LEDGERD_TCP_PORT": "-1"]) } == "tcp.port must be an integer in 0...65535")
    }
}

/// The token file, the account sets, the rate limiter and the token book.
@Suite struct TokenFileTests {
    static let digest = String(repeating: "ab", count: 32)
    static let defaults = TokenFile.Defaults(ratePerSecond: 1_000, burst: 2_000)

    @Test func theVersionOneFixtureReadsForever() throws {
        let grants = try TokenFile.read(path: "Fixtures/tokens-v1.toml", defaults: Self.defaults)
        #expect(grants.map(\.name) == ["gateway-eu-1", "alice", "oracle-1", "ops", "support"])
        #expect(grants.map(\.role) == [.trader, .trader, .oracle, .admin, .readOnly])
        #expect(grants[0].accounts == .all)
        #expect(grants[1].accounts.description == "1-2,100-199,500")
        #expect(grants[1].ratePerSecond == 50 && grants[1].burst == 10)
        #expect(grants[2].ratePerSecond == 1_000 && grants[2].burst == 2_000)  // the defaults
        #expect(grants[3].ratePerSecond == 300 && grants[3].burst == 300)  // a rate alone: a second's worth
        // The fixture's secrets are written beside their digests in its comments.
        #expect(grants[1].digest == SHA256.hash(Array("alice-secret".utf8)))
    }

    @Test func everyBadEntryIsRefusedNamingIt() {
        let entry = { (body: String) in "[[token]]\nname = \"t1\"\nsha256 = \"\(Self.digest)\"\n" + body }
        let cases: [(String, String)] = [
            (entry("role = \"boss\"\n"), "token 1 (t1): role must be trader, oracle, admin or read-only"),
            (entry("role = \"trader\"\n"), "token 1 (t1): a trader token needs accounts"),
            (entry("role = \"admin\"\naccounts = \"*\"\n"), "token 1 (t1): accounts are for trader tokens only"),
            (entry("role = \"trader\"\naccounts = [\"9-3\"]\n"), "account range \"9-3\" must be \"low-high\""),
            (entry("role = \"trader\"\naccounts = [-1]\n"), "account -1 is outside"),
            (entry("role = \"trader\"\naccounts = [1.5]\n"), "accounts must hold ids"),
            (entry("role = \"admin\"\nrate_per_second = 0\n"), "rate_per_second must be an integer in 1 ... 100000000"),
            (entry("role = \"admin\"\nsecret = \"x\"\n"), "token 1 (t1): unknown key secret"),
            ("[[token]]\nname = \"t1\"\nsha256 = \"abc\"\nrole = \"admin\"\n", "sha256 must be 64 hex digits"),
            ("[[token]]\nname = \"a b\"\nsha256 = \"\(Self.digest)\"\nrole = \"admin\"\n", "token 1 (a b): name must be"),
            (entry("role = \"admin\"\n") + entry("role = \"oracle\"\n"), "token 2: the name t1 is used twice"),
            (
                entry("role = \"admin\"\n") + "[[token]]\nname = \"t2\"\nsha256 = \"\(Self.digest)\"\nrole = \"admin\"\n",
                "token 2 (t2): the same sha256 as another token"
            ),
            ("[token]\nname = \"x\"\n", "token must be an array of tables"),
            ("tokens = 1\n", "unknown key tokens"),
            ("[[token]]\nname = \"x\n", "line 2"),
        ]
        for (text, expected) in cases {
            let message: String
            do {
                _ = try TokenFile.parse(text, defaults: Self.defaults)
                message = "accepted"
            } catch {
                message = error.description
            }
            #expect(message.contains(expected), "\(text.debugDescription): \(message)")
        }
    }

    /// What the guard lets through, toml++ reads; arrays may span lines and nest.
    @Test func theSubsetTheFilesUsePassesTheGuard() throws {
        let text = #"""
            # [not a header
            [ "quoted key" ] # comment
            x = [
              [1, 2],   # a comment in an array
              [ [3] ],
            ]
            y = "a \"string\" with \\ escapes \u00e9 and # no comment"
            z = 'literal \ string'
            n = [-1_000, +2, 0, 3.5, 6e-3, true, false]
            [[ array . of . tables ]]
            a.b = "dotted"
            """#
        try TOMLGuard.check(text)
        #expect(try DaemonConfig.flatten(toml: "[tcp]\nport = 7_400\n")["tcp.port"] == .integer(7_400))
        #expect(throws: TOMLGuard.Refusal.self) { try TOMLGuard.check(text + "\n[ [x] ]\n") }
    }

    /// Seeded random sets against a brute-force membership test.
    @Test func accountSetsMergeAndMatchBruteForce() throws {
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<300 {
            let ranges = (0..<Int.random(in: 0...12, using: &generator)).map { _ -> ClosedRange<UInt64> in
                let low = UInt64.random(in: 0...200, using: &generator)
                return low...(low + UInt64.random(in: 0...20, using: &generator))
            }
            let set = try AccountSet(ranges)
            for account in UInt64(0)...230 {
                #expect(set.contains(account) == ranges.contains { $0.contains(account) }, "\(ranges) \(account)")
            }
            for (a, b) in zip(set.ranges, set.ranges.dropFirst()) { #expect(a.upperBound + 1 < b.lowerBound, "\(set.ranges)") }
        }
        #expect(try AccountSet([1...1, 2...2, 3...7]).description == "1-7")
        #expect(try AccountSet([Limits.idMax...Limits.idMax, 0...0]).contains(Limits.idMax))
        #expect(AccountSet.all.contains(Limits.idMax) && !AccountSet.none.contains(0))
        let tooMany = (0..<UInt64(AccountSet.rangesMax + 1)).map { ($0 * 2)...($0 * 2) }
        #expect(throws: TokenFile.Invalid.self) { try AccountSet(tooMany) }
    }

    /// `ledgerd token add --accounts 1-1000,5000` (single ids were refused as ranges before).
    @Test func theAccountsFlagTakesIdsRangesAndAStar() throws {
        #expect(try TokenFile.accounts(flag: "1-1000,5000").description == "1-1000,5000")
        #expect(try TokenFile.accounts(flag: "7").description == "7")
        #expect(try TokenFile.accounts(flag: "*") == .all)
        #expect(throws: TokenFile.Invalid.self) { try TokenFile.accounts(flag: "9-3") }
        #expect(throws: TokenFile.Invalid.self) { try TokenFile.accounts(flag: "1,,2") }
        #expect(throws: TokenFile.Invalid.self) { try TokenFile.accounts(flag: "9223372036854775808") }
    }

    @Test func theRateLimiterAdmitsTheBurstThenTheRate() {
        let limiter = RateLimiter(ratePerSecond: 10, burst: 5)
        let start: Int64 = 1_000_000_000
        for _ in 0..<5 { #expect(limiter.admit(nowNanos: start) == nil) }
        // The sixth waits one interval (100 ms); later requests are admitted one an interval.
        #expect(limiter.admit(nowNanos: start) == 100_000_000)
        #expect(limiter.admit(nowNanos: start + 40_000_000) == 60_000_000)
        #expect(limiter.admit(nowNanos: start + 100_000_000) == nil)
        #expect(limiter.admit(nowNanos: start + 100_000_000) == 100_000_000)
        // After a quiet second the whole burst is back.
        for _ in 0..<5 { #expect(limiter.admit(nowNanos: start + 2_000_000_000) == nil) }
        #expect(limiter.admit(nowNanos: start + 2_000_000_000) != nil)
    }

    func grant(_ name: String, _ role: Role, accounts: AccountSet = .none, secret: String? = nil, rate: Int64 = 100) -> TokenGrant {
        TokenGrant(
            name: name, digest: SHA256.hash(Array((secret ?? name).utf8)), role: role, accounts: accounts, ratePerSecond: rate,
            burst: rate)
    }

    @Test func theBookAuthenticatesRefreshesAndRevokes() throws {
        let alice = grant("alice", .trader, accounts: try AccountSet([1...2]))
        let book = TokenBook(grants: [alice, grant("ops", .admin)])
        let principal = try #require(book.authenticate(secret: Array("alice".utf8)))
        #expect(principal.grant == alice)
        #expect(book.authenticate(secret: Array("alicf".utf8)) == nil)
        #expect(book.authenticate(secret: Array("".utf8)) == nil)
        // A reload that keeps alice (same digest and limits) keeps her limiter.
        book.install([alice, grant("oracle", .oracle)])
        let refreshed = try #require(book.refresh(principal))
        #expect(refreshed !== principal && refreshed.limiter === principal.limiter)
        // A changed account set applies on the next refresh; a removed token is revoked.
        book.install([grant("alice", .trader, accounts: try AccountSet([7...7]))])
        #expect(book.refresh(refreshed)?.grant.accounts.description == "7")
        book.install([grant("ops", .admin)])
        #expect(book.refresh(refreshed) == nil)
        #expect(book.authenticate(secret: Array("alice".utf8)) == nil)
        #expect(TokenBook.constantTimeEqual([1, 2, 3], [1, 2, 3]) && !TokenBook.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!TokenBook.constantTimeEqual([1, 2], [1, 2, 3]))
    }

    @Test func refusalsNameTheTokenAndTheReason() throws {
        let alice = TokenBook.standalone(grant("alice", .trader, accounts: try AccountSet([1...2])))
        let oracle = TokenBook.standalone(grant("feed", .oracle))
        let reader = TokenBook.standalone(grant("support", .readOnly))
        let admin = TokenBook.standalone(grant("ops", .admin))
        let order = Command.cancelOrder(CancelOrder(account: 2, orderID: 1))
        let foreign = Command.cancelOrder(CancelOrder(account: 3, orderID: 1))
        #expect(alice.refusal(for: order) == nil)
        #expect(alice.refusal(for: foreign) == "token alice may not act for account 3")
        #expect(alice.refusal(for: .setMarkPrice(symbol: 0, priceUnits: 1)) == "token alice has the trader role; this needs oracle")
        #expect(oracle.refusal(for: .setMarkPrice(symbol: 0, priceUnits: 1)) == nil)
        #expect(oracle.refusal(for: order) == "token feed has the oracle role; this needs trader")
        #expect(reader.refusal(for: order) == "token support is read-only")
        #expect(admin.refusal(for: foreign) == nil)
        #expect(admin.refusal(for: .tick) == "no token may send this command")
        #expect(alice.refusal(toRead: 2) == nil && alice.refusal(toRead: 3) == "token alice may not read account 3")
        #expect(reader.refusal(toRead: 3) == nil && admin.refusal(toRead: 3) == nil)
        #expect(oracle.refusal(toRead: 1) == "token feed has the oracle role, which reads no account")
    }

    @Test func addedEntriesReadBackAndRemovalKeepsTheRest() throws {
        let grants = [
            grant("a", .trader, accounts: try AccountSet([1...5, 9...9])), grant("b", .readOnly),
            grant("c", .trader, accounts: .all),
        ]
        var text = "# tokens\n"
        for grant in grants { text += TokenFile.entryText(grant, explicitRate: true) + "\n" }
        #expect(try TokenFile.parse(text, defaults: Self.defaults) == grants)
        let without = try #require(TokenFile.removing(name: "b", from: text))
        #expect(try TokenFile.parse(without, defaults: Self.defaults).map(\.name) == ["a", "c"])
        #expect(without.hasPrefix("# tokens\n"))
        #expect(TokenFile.removing(name: "zzz", from: text) == nil)
        let secret = TokenFile.newSecret()
        #expect(secret.hasPrefix("lt_") && secret.utf8.count == 46 && secret != TokenFile.newSecret())
    }
}

/// A deterministic generator for seeded property tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
