import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

extension ParsableCommand {
    /// Parses and runs the command with the project's exit codes (DESIGN.md "Tools"): 0
    /// ok, 1 a finding, 2 bad usage. ArgumentParser's own code for bad usage is 64.
    public static func mainWithProjectExitCodes(_ arguments: [String]? = nil) {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exitWithProjectCode(error)
        }
    }

    /// Exits for `error`: bad usage (a validation failure) is 2 with its message; anything
    /// else as ArgumentParser would.
    static func exitWithProjectCode(_ error: Error) -> Never {
        let code = exitCode(for: error)
        if code == .validationFailure {
            let message = fullMessage(for: error)
            let text = Array((message.isEmpty ? "bad usage" : message).utf8) + [0x0A]
            _ = text.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            Glibc.exit(2)
        }
        exit(withError: error)
    }
}

extension AsyncParsableCommand {
    /// `mainWithProjectExitCodes` for an async command (ledgerd): bad usage exits 2, which
    /// its unit lists in RestartPreventExitStatus, like a bad configuration.
    public static func asyncMainWithProjectExitCodes(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exitWithProjectCode(error)
        }
    }
}
