/// The read models' schema, versioned: each migration runs once, in order, inside a
/// transaction that records it in `schema_migrations` (docs/OPERATIONS.md, "Read models").
/// Money and quantities are `numeric` decimals in the asset's or symbol's units, written
/// exactly from the engine's integers.
public enum Schema {
    public static let migrations: [(version: Int, sql: String)] = [
        (
            1,
            """
            CREATE TABLE accounts (
                account_id bigint PRIMARY KEY,
                first_sequence bigint NOT NULL
            );
            CREATE TABLE balances (
                account_id bigint NOT NULL,
                asset text NOT NULL,
                wallet numeric NOT NULL,
                updated_sequence bigint NOT NULL,
                PRIMARY KEY (account_id, asset)
            );
            CREATE TABLE positions (
                account_id bigint NOT NULL,
                symbol text NOT NULL,
                size numeric NOT NULL,
                entry_cost numeric NOT NULL,
                entry_price numeric,
                leverage int NOT NULL,
                realized_pnl numeric NOT NULL DEFAULT 0,
                fees_paid numeric NOT NULL DEFAULT 0,
                updated_sequence bigint NOT NULL,
                PRIMARY KEY (account_id, symbol)
            );
            CREATE TABLE orders (
                order_id bigint PRIMARY KEY,
                account_id bigint NOT NULL,
                client_order_id bigint,
                symbol text NOT NULL,
                side text NOT NULL,
                type text NOT NULL,
                time_in_force text NOT NULL,
                price numeric,
                quantity numeric NOT NULL,
                filled_quantity numeric NOT NULL,
                status text NOT NULL,
                created_sequence bigint NOT NULL,
                updated_sequence bigint NOT NULL
            );
            CREATE INDEX orders_account ON orders (account_id, status);
            CREATE TABLE trades (
                trade_id bigint PRIMARY KEY,
                sequence bigint NOT NULL,
                time timestamptz NOT NULL,
                symbol text NOT NULL,
                maker_order_id bigint NOT NULL,
                taker_order_id bigint NOT NULL,
                maker_account bigint NOT NULL,
                taker_account bigint NOT NULL,
                taker_side text NOT NULL,
                price numeric NOT NULL,
                quantity numeric NOT NULL,
                maker_fee numeric NOT NULL,
                taker_fee numeric NOT NULL,
                maker_realized_pnl numeric NOT NULL,
                taker_realized_pnl numeric NOT NULL
            );
            CREATE INDEX trades_time ON trades (symbol, time);
            CREATE TABLE ledger_entries (
                sequence bigint NOT NULL,
                line int NOT NULL,
                time timestamptz NOT NULL,
                account_id bigint,
                system_account text,
                asset text NOT NULL,
                amount numeric NOT NULL,
                kind text NOT NULL,
                reference bigint,
                PRIMARY KEY (sequence, line),
                CHECK ((account_id IS NULL) <> (system_account IS NULL))
            );
            CREATE INDEX ledger_entries_account ON ledger_entries (account_id, sequence);
            CREATE TABLE projector_checkpoint (
                id int PRIMARY KEY CHECK (id = 1),
                sequence bigint NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            INSERT INTO projector_checkpoint (id, sequence) VALUES (1, 0);
            """
        ),
        (
            2,
            """
            CREATE TABLE mark_prices (
                symbol text NOT NULL,
                sequence bigint NOT NULL,
                time timestamptz NOT NULL,
                mark_price numeric NOT NULL,
                PRIMARY KEY (symbol, sequence)
            );
            CREATE TABLE funding_payments (
                sequence bigint NOT NULL,
                line int NOT NULL,
                time timestamptz NOT NULL,
                symbol text NOT NULL,
                account_id bigint,
                insurance_fund boolean NOT NULL,
                funding_rate numeric NOT NULL,
                mark_price numeric NOT NULL,
                amount numeric NOT NULL,
                PRIMARY KEY (sequence, line)
            );
            CREATE INDEX funding_payments_account ON funding_payments (account_id, sequence);
            CREATE TABLE liquidations (
                sequence bigint NOT NULL,
                order_id bigint NOT NULL,
                time timestamptz NOT NULL,
                account_id bigint NOT NULL,
                symbol text NOT NULL,
                side text NOT NULL,
                bankruptcy_price numeric NOT NULL,
                quantity numeric NOT NULL,
                filled_quantity numeric NOT NULL,
                liquidation_fee numeric NOT NULL,
                surplus numeric NOT NULL,
                taken_over_quantity numeric NOT NULL,
                deleveraged_quantity numeric NOT NULL,
                PRIMARY KEY (order_id)
            );
            CREATE INDEX liquidations_account ON liquidations (account_id, sequence);
            CREATE TABLE adl_fills (
                sequence bigint NOT NULL,
                line int NOT NULL,
                time timestamptz NOT NULL,
                liquidated_account_id bigint NOT NULL,
                counterparty_account_id bigint NOT NULL,
                symbol text NOT NULL,
                price numeric NOT NULL,
                quantity numeric NOT NULL,
                counterparty_realized_pnl numeric NOT NULL,
                PRIMARY KEY (sequence, line)
            );
            CREATE TABLE insurance_fund_history (
                sequence bigint NOT NULL,
                line int NOT NULL,
                time timestamptz NOT NULL,
                asset text NOT NULL,
                amount numeric NOT NULL,
                balance numeric NOT NULL,
                kind text NOT NULL,
                PRIMARY KEY (sequence, line)
            );
            """
        ),
        (
            3,
            // Issue 10: client order ids are text, as Binance's `newClientOrderId` is;
            // the numeric ids of earlier journals become their decimal text.
            """
            ALTER TABLE orders ALTER COLUMN client_order_id TYPE text USING client_order_id::text;
            """
        ),
    ]

    /// Applies the migrations not yet applied; returns the schema version.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection) throws(PostgresError) -> Int {
        try connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        let applied = Set(try connection.execute("SELECT version FROM schema_migrations").compactMap { $0[0].flatMap(Int.init) })
        for migration in migrations where !applied.contains(migration.version) {
            try connection.execute("BEGIN")
            do {
                try connection.execute(migration.sql)
                try connection.execute("INSERT INTO schema_migrations (version) VALUES (\(migration.version))")
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
        return migrations.map(\.version).max() ?? 0
    }
}
