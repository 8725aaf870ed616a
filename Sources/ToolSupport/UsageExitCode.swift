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
}
