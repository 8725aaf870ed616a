import CLibpq

/// What went wrong talking to PostgreSQL.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) {
        self.message = message
    }
    public var description: String { message }
}

/// One libpq connection. Not thread-safe: one thread owns it.
public final class PostgresConnection {
    private let connection: OpaquePointer

    public init(url: String) throws(PostgresError) {
        guard let connection = PQconnectdb(url) else { throw PostgresError(message: "out of memory") }
        self.connection = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            // deinit runs for a class whose init throws after setting every property:
            // it calls PQfinish, so this path must not.
            throw PostgresError(message: "connect: " + String(cString: PQerrorMessage(connection)).trimmingNewlines)
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit {
        PQfinish(connection)
    }

    public var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Runs statements; returns the rows of the last one, as text (nil for NULL).
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> [[String?]] {
        guard let result = PQexec(connection, sql) else { throw error("exec") }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK:
            var rows: [[String?]] = []
            for row in 0..<PQntuples(result) {
                rows.append(
                    (0..<PQnfields(result)).map { column in
                        PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                    })
            }
            return rows
        default:
            throw PostgresError(message: String(cString: PQresultErrorMessage(result)).trimmingNewlines)
        }
    }

    /// The number of rows the statement changed.
    public func executeCount(_ sql: String) throws(PostgresError) -> Int {
        guard let result = PQexec(connection, sql) else { throw error("exec") }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            throw PostgresError(message: String(cString: PQresultErrorMessage(result)).trimmingNewlines)
        }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// COPY ... FROM STDIN; `data` holds the rows in `format` (text: tab-separated, one a
    /// line; binary: `BinaryCopy`'s stream).
    public func copy(into table: String, columns: [String], data: [UInt8], format: String = "text") throws(PostgresError) {
        try copy(into: table, columns: columns, chunks: [data], format: format)
    }

    /// COPY ... FROM STDIN of `chunks`, sent one after another (one stream).
    public func copy(into table: String, columns: [String], chunks: [[UInt8]], format: String = "text") throws(PostgresError) {
        if chunks.allSatisfy(\.isEmpty) { return }
        guard let start = PQexec(connection, "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN (FORMAT \(format))") else {
            throw error("copy")
        }
        let status = PQresultStatus(start)
        PQclear(start)
        guard status == PGRES_COPY_IN else { throw error("copy \(table)") }
        for data in chunks where !data.isEmpty {
            let sent = data.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
            }
            guard sent == 1 else { throw error("copy \(table)") }
        }
        guard PQputCopyEnd(connection, nil) == 1 else { throw error("copy \(table)") }
        var failure: PostgresError?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) != PGRES_COMMAND_OK {
                failure = PostgresError(message: "copy \(table): " + String(cString: PQresultErrorMessage(result)).trimmingNewlines)
            }
            PQclear(result)
        }
        if let failure { throw failure }
    }

    private func error(_ operation: String) -> PostgresError {
        PostgresError(message: "\(operation): " + String(cString: PQerrorMessage(connection)).trimmingNewlines)
    }
}

extension String {
    var trimmingNewlines: String {
        var text = Substring(self)
        while text.last == "\n" { text.removeLast() }
        return String(text)
    }
}

extension PostgresConnection {
    /// `"name"`, with quotes doubled: an identifier from configuration in SQL text.
    public static func quote(identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `'text'`, with quotes doubled (standard_conforming_strings, PostgreSQL's default).
    public static func quote(literal: String) -> String {
        "'" + literal.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
