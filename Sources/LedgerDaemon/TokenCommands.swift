import ArgumentParser
import Foundation
import LedgerCore
import LedgerDigest
import LedgerServer
import ToolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `ledgerd token …`: the token file (docs/OPERATIONS.md, "Tokens and roles"). The file
/// holds SHA-256 digests only; `add` prints the new secret once, on stdout, and nowhere
/// else. A running ledgerd sees a change after `systemctl reload ledgerd` (SIGHUP).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage the token file (digests, roles, accounts).",
        subcommands: [Add.self, Remove.self, List.self, Hash.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token: appends its digest to the file and prints its secret (once).")

        @Option(help: "The token file (created 0600 if missing).") var file: String
        @Option(help: "A name for logs and messages: 1-64 of A-Z a-z 0-9 . _ -") var name: String
        @Option(help: "trader, oracle, admin or read-only.") var role: String
        @Option(help: "Traders only: ids and ranges, e.g. 1-1000,5000, or * for every account.") var accounts: String?
        @Option(name: .customLong("rate"), help: "Requests a second (default: auth.rate_per_second).") var ratePerSecond: Int64?
        @Option(help: "Requests at once above the rate (default: the rate).") var burst: Int64?

        func run() throws {
            guard TokenFile.isValidName(name) else { throw ValidationError("--name must be 1-64 of A-Z a-z 0-9 . _ -") }
            guard let role = Role(name: role) else { throw ValidationError("--role must be trader, oracle, admin or read-only") }
            let existing = ToolIO.exists(file) ? try String(contentsOfFile: file, encoding: .utf8) : ""
            let defaults = TokenFile.Defaults(ratePerSecond: 1, burst: 1)
            let grants: [TokenGrant]
            do {
                grants = try TokenFile.parse(existing, defaults: defaults)
            } catch {
                throw ValidationError("\(file): \(error.description)")
            }
            guard !grants.contains(where: { $0.name == name }) else { throw ValidationError("\(file) already has a token named \(name)") }
            let secret = TokenFile.newSecret()
            let accountSet: AccountSet
            switch (role, accounts) {
            case (.trader, nil): throw ValidationError("a trader token needs --accounts (ids, ranges, or *)")
            case (.trader, let given?):
                do {
                    accountSet = try TokenFile.accounts(flag: given)
                } catch {
                    throw ValidationError("--accounts: \(error.description)")
                }
            case (_, nil): accountSet = .none
            case (_, _?): throw ValidationError("--accounts is for trader tokens only")
            }
            for value in [ratePerSecond, burst].compactMap({ $0 }) where value < 1 || value > TokenFile.ratePerSecondMax {
                throw ValidationError("--rate and --burst must be 1 ... \(TokenFile.ratePerSecondMax)")
            }
            let rate = ratePerSecond ?? 1
            let grant = TokenGrant(
                name: name, digest: SHA256.hash(Array(secret.utf8)), role: role, accounts: accountSet, ratePerSecond: rate,
                burst: burst ?? rate)
            var entry = TokenFile.entryText(grant, explicitRate: false)
            if let ratePerSecond { entry += "rate_per_second = \(ratePerSecond)\n" }
            if let burst { entry += "burst = \(burst)\n" }
            let prefix = existing.isEmpty ? "# ledgerd tokens: SHA-256 digests only (docs/OPERATIONS.md, \"Tokens and roles\").\n" : ""
            let separator = existing.isEmpty || existing.hasSuffix("\n\n") ? "" : (existing.hasSuffix("\n") ? "\n" : "\n\n")
            try Self.write(existing + separator + prefix + entry, to: file)
            print(secret)
        }

        /// Written whole to a temporary file, synced, renamed over the old one: a reload
        /// never reads half a file.
        static func write(_ text: String, to path: String) throws {
            let temporary = path + ".tmp-\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ValidationError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd)
            close(fd)
            guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
                unlink(temporary)
                throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a token by name (rotation: add the new one first).")

        @Option(help: "The token file.") var file: String
        @Option(help: "The token's name.") var name: String

        func run() throws {
            let text = try String(contentsOfFile: ToolIO.existingFile(file, "token file"), encoding: .utf8)
            guard let remaining = TokenFile.removing(name: name, from: text) else {
                throw ValidationError("\(file) has no token named \(name)")
            }
            do {
                _ = try TokenFile.parse(remaining, defaults: .init(ratePerSecond: 1, burst: 1))
            } catch {
                throw ValidationError("\(file) would not parse without \(name): \(error.description); edit it by hand")
            }
            try Add.write(remaining, to: file)
            print("removed \(name); `systemctl reload ledgerd` (SIGHUP) revokes it in the running daemon")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens: names, roles, accounts, limits (no digests).")

        @Option(help: "The token file.") var file: String
        @Flag(help: "JSON lines.") var json = false

        func run() throws {
            let text = try String(contentsOfFile: ToolIO.existingFile(file, "token file"), encoding: .utf8)
            let grants: [TokenGrant]
            do {
                grants = try TokenFile.parse(text, defaults: .init(ratePerSecond: 1, burst: 1))
            } catch {
                throw ValidationError("\(file): \(error.description)")
            }
            for grant in grants {
                let accounts = grant.role == .trader ? grant.accounts.description : ""
                if json {
                    ToolIO.printJSON(["name": grant.name, "role": grant.role.name, "accounts": accounts])
                } else {
                    print("\(grant.name)\t\(grant.role.name)\t\(accounts)")
                }
            }
        }
    }

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the SHA-256 of a secret read from stdin (for secrets made elsewhere).")

        func run() throws {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw ValidationError("no secret on stdin") }
            print(TokenFile.hex(SHA256.hash(Array(line.utf8))))
        }
    }
}
