#if canImport(Glibc)
    import Glibc
#endif

/// Process-wide settings every test that talks to sockets, pipes or child processes needs.
///
/// A write to a socket or pipe whose reader has gone raises SIGPIPE, and its default action
/// kills the whole test binary (CI saw `exited with unexpected signal code 13`). Our own
/// client sends with MSG_NOSIGNAL, but Foundation's Process, libpq and the test harness write
/// to descriptors we do not control, so the test process ignores SIGPIPE and lets such writes
/// fail with EPIPE instead. Touching `TestProcess.prepared` does this once.
public enum TestProcess {
    public static let prepared: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()
}
