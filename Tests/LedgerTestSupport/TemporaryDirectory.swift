import Foundation

/// A fresh directory under the system's temporary directory, removed by `cleanup()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "test") {
        TestProcess.prepared
        path = NSTemporaryDirectory() + "ledger-test-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
