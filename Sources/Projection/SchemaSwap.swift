/// Swapping a rebuilt copy of the read models in for the live ones (`ledger-replay
/// project --swap`; docs/OPERATIONS.md, "Rebuilding the read models").
public enum SchemaSwap {
    /// What a swap did.
    public struct Result: Sendable {
        /// The name the old live schema has now (kept for the operator to drop).
        public var retired: String
        /// The live projector's checkpoint when the swap locked it, and the rebuilt one's.
        public var liveCheckpoint: SequenceNumberText
        public var rebuiltCheckpoint: SequenceNumberText
    }
    public typealias SequenceNumberText = String

    /// True when `schema` exists.
    public static func exists(_ schema: String, url: String) throws(PostgresError) -> Bool {
        let connection = try PostgresConnection(url: url)
        return try connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = \(PostgresConnection.quote(literal: schema))").count == 1
    }

    /// Drops `schema` and everything in it (a rebuild's leftovers).
    public static func drop(_ schema: String, url: String) throws(PostgresError) {
        try PostgresConnection(url: url).execute("DROP SCHEMA IF EXISTS \(PostgresConnection.quote(identifier: schema)) CASCADE")
    }

    /// In one transaction: locks the live checkpoint (the live projector's next commit
    /// waits), runs `finish` (the rebuild catches up to the journal's end meanwhile),
    /// gives the rebuilt schema the read privileges the live one grants, and renames
    /// `live` to `live_retired_<suffix>` and `rebuilt` to `live`. A query sees the old
    /// schema or the new one, never a half-built one. The live projector's next commit
    /// goes to the new schema: where its checkpoint is the one the live projector had, it
    /// simply continues; elsewhere the commit's checkpoint guard fails, and the projector
    /// reconnects and continues from the new checkpoint.
    public static func swap(
        url: String, live: String, rebuilt: String, suffix: String, finish: () throws -> Void
    ) throws -> Result {
        let connection = try PostgresConnection(url: url)
        let liveName = PostgresConnection.quote(identifier: live)
        let rebuiltName = PostgresConnection.quote(identifier: rebuilt)
        let retired = "\(live)_retired_\(suffix)"
        try connection.execute("BEGIN")
        do {
            try connection.execute("LOCK TABLE \(liveName).projector_checkpoint IN ACCESS EXCLUSIVE MODE")
            let liveCheckpoint = try connection.execute("SELECT sequence FROM \(liveName).projector_checkpoint").first?.first ?? nil
            try finish()
            let rebuiltCheckpoint = try connection.execute("SELECT sequence FROM \(rebuiltName).projector_checkpoint").first?.first ?? nil
            // Readers of the live schema's trades (its tables are granted alike) may read the
            // rebuilt one.
            let readers = try connection.execute(
                """
                SELECT DISTINCT grantee FROM information_schema.role_table_grants
                WHERE table_schema = \(PostgresConnection.quote(literal: live)) AND table_name = 'trades' AND privilege_type = 'SELECT'
                    AND grantee <> current_user
                """)
            for reader in readers.compactMap({ $0.first ?? nil }) {
                let role = reader == "PUBLIC" ? "PUBLIC" : PostgresConnection.quote(identifier: reader)
                try connection.execute("GRANT USAGE ON SCHEMA \(rebuiltName) TO \(role)")
                try connection.execute("GRANT SELECT ON ALL TABLES IN SCHEMA \(rebuiltName) TO \(role)")
            }
            try connection.execute("ALTER SCHEMA \(liveName) RENAME TO \(PostgresConnection.quote(identifier: retired))")
            try connection.execute("ALTER SCHEMA \(rebuiltName) RENAME TO \(liveName)")
            try connection.execute("COMMIT")
            return Result(retired: retired, liveCheckpoint: liveCheckpoint ?? "0", rebuiltCheckpoint: rebuiltCheckpoint ?? "0")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
