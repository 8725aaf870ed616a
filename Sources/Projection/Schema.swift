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
        (4, migration4),
    ]

    /// The read models' time series partitioned by day (their parents; a day's partitions
    /// come from `ledger_day_partitions`).
    public static let partitionedTables = ["trades", "postings", "mark_prices", "funding_payments", "order_events"]

    /// The indexes the read models' queries need and the projector does not
    /// (docs/QUERIES.md): `ledger-replay project` drops them for its bulk load and builds
    /// them once at its end. Append-only series are found by time through BRIN indexes,
    /// which cost next to nothing to keep, and by account through one-column B-trees (their
    /// duplicates deduplicated) within the day partitions a time range keeps: cheaper to
    /// keep than B-trees on (account, time) (docs/BENCHMARKS.md, "Projector").
    public static let secondaryIndexes: [(name: String, definition: String)] = [
        ("orders_account", "orders (account_id)"),
        ("trades_time", "trades USING brin (time, sequence)"),
        ("trades_maker_account", "trades (maker_account)"),
        ("trades_taker_account", "trades (taker_account)"),
        ("postings_from_account", "postings (from_account) WHERE from_account IS NOT NULL"),
        ("postings_to_account", "postings (to_account) WHERE to_account IS NOT NULL"),
        ("mark_prices_symbol_time", "mark_prices (symbol, time)"),
        ("funding_payments_account", "funding_payments (account_id, time)"),
        ("order_events_sequence", "order_events USING brin (sequence)"),
    ]

    /// Issue 11: orders with every term and an `order_events` history; one ledger row per
    /// posting (`postings`; `ledger_entries` becomes a view with the old two rows each);
    /// trades, postings, mark prices, funding payments and order events partitioned by
    /// day; 1-minute candles. Rows already projected move into the new tables.
    static let migration4 = """
        ALTER TABLE orders
            ADD COLUMN working_type text NOT NULL DEFAULT 'CONTRACT_PRICE',
            ADD COLUMN self_trade_prevention text NOT NULL DEFAULT 'EXPIRE_TAKER',
            ADD COLUMN reduce_only boolean NOT NULL DEFAULT false,
            ADD COLUMN close_position boolean NOT NULL DEFAULT false,
            ADD COLUMN stop_price numeric,
            ADD COLUMN activation_price numeric,
            ADD COLUMN callback_rate numeric,
            ADD COLUMN open_quantity numeric,
            ADD COLUMN cum_quote numeric,
            ADD COLUMN triggered boolean NOT NULL DEFAULT false,
            ADD COLUMN amended boolean NOT NULL DEFAULT false,
            ADD COLUMN auto_close text,
            ADD COLUMN time timestamptz,
            ADD COLUMN update_time timestamptz;
        UPDATE orders SET open_quantity = CASE WHEN status IN ('NEW', 'PARTIALLY_FILLED') THEN quantity - filled_quantity ELSE 0 END;
        ALTER TABLE orders ALTER COLUMN open_quantity SET NOT NULL;
        DROP INDEX orders_account;
        -- Room in each page for a row's next version: its updates stay on the page (HOT)
        -- and touch no index (balances and positions change every batch).
        ALTER TABLE orders SET (fillfactor = 80);
        ALTER TABLE balances SET (fillfactor = 50);
        ALTER TABLE positions SET (fillfactor = 50);

        ALTER TABLE trades RENAME TO trades_v3;
        ALTER TABLE mark_prices RENAME TO mark_prices_v3;
        ALTER TABLE funding_payments RENAME TO funding_payments_v3;
        CREATE TABLE trades (LIKE trades_v3) PARTITION BY RANGE (time);
        CREATE TABLE mark_prices (LIKE mark_prices_v3) PARTITION BY RANGE (time);
        CREATE TABLE funding_payments (LIKE funding_payments_v3) PARTITION BY RANGE (time);
        CREATE TABLE postings (
            sequence bigint NOT NULL,
            line int NOT NULL,
            time timestamptz NOT NULL,
            from_account bigint,
            from_system text,
            to_account bigint,
            to_system text,
            asset text NOT NULL,
            amount numeric NOT NULL CHECK (amount > 0),
            kind text NOT NULL,
            reference bigint,
            CHECK ((from_account IS NULL) <> (from_system IS NULL)),
            CHECK ((to_account IS NULL) <> (to_system IS NULL))
        ) PARTITION BY RANGE (time);
        CREATE TABLE order_events (
            order_id bigint NOT NULL,
            sequence bigint NOT NULL,
            line int NOT NULL,
            time timestamptz NOT NULL,
            kind text NOT NULL,
            price numeric,
            quantity numeric,
            trade_id bigint,
            reason text
        ) PARTITION BY RANGE (time);

        CREATE FUNCTION ledger_day_partitions(day date) RETURNS void LANGUAGE plpgsql AS $f$
        DECLARE
            parent text;
        BEGIN
            FOREACH parent IN ARRAY ARRAY['trades', 'postings', 'mark_prices', 'funding_payments', 'order_events'] LOOP
                EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    parent || '_' || to_char(day, 'YYYYMMDD'), parent,
                    day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
            END LOOP;
        END
        $f$;

        DO $d$
        DECLARE
            day date;
        BEGIN
            FOR day IN
                SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM trades_v3
                UNION SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM ledger_entries
                UNION SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM mark_prices_v3
                UNION SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM funding_payments_v3
            LOOP
                PERFORM ledger_day_partitions(day);
            END LOOP;
        END
        $d$;
        INSERT INTO trades SELECT * FROM trades_v3;
        INSERT INTO mark_prices SELECT * FROM mark_prices_v3;
        INSERT INTO funding_payments SELECT * FROM funding_payments_v3;
        -- Each posting was two rows: the payer's (line 2p, negative) and the payee's (2p + 1).
        INSERT INTO postings
            SELECT f.sequence, f.line / 2, f.time, f.account_id, f.system_account, t.account_id, t.system_account, f.asset,
                t.amount, f.kind, f.reference
            FROM ledger_entries f JOIN ledger_entries t ON t.sequence = f.sequence AND t.line = f.line + 1
            WHERE f.line % 2 = 0;
        DROP TABLE trades_v3, mark_prices_v3, funding_payments_v3, ledger_entries;

        \(secondaryIndexes.map { "CREATE INDEX \($0.name) ON \($0.definition);" }.joined(separator: "\n"))

        -- The ledger as rows per account: each posting is the payer's row (negative) and
        -- the payee's (positive), as migrations 1-3 stored it.
        CREATE VIEW ledger_entries AS
            SELECT sequence, line * 2 AS line, time, from_account AS account_id, from_system AS system_account, asset,
                -amount AS amount, kind, reference
            FROM postings
            UNION ALL
            SELECT sequence, line * 2 + 1, time, to_account, to_system, asset, amount, kind, reference
            FROM postings;

        -- Everything that happened to an order: its events and its fills.
        CREATE VIEW order_history AS
            SELECT order_id, sequence, line, time, kind, price, quantity, trade_id, reason FROM order_events
            UNION ALL
            SELECT maker_order_id, sequence, NULL, time, 'TRADE', price, quantity, trade_id, NULL FROM trades
            UNION ALL
            SELECT taker_order_id, sequence, NULL, time, 'TRADE', price, quantity, trade_id, NULL FROM trades;

        CREATE TABLE candles_1m (
            symbol text NOT NULL,
            open_time timestamptz NOT NULL,
            open numeric NOT NULL,
            high numeric NOT NULL,
            low numeric NOT NULL,
            close numeric NOT NULL,
            volume numeric NOT NULL,
            quote_volume numeric NOT NULL,
            trade_count bigint NOT NULL,
            first_trade_id bigint NOT NULL,
            last_trade_id bigint NOT NULL,
            PRIMARY KEY (symbol, open_time)
        );
        INSERT INTO candles_1m
            SELECT symbol, date_trunc('minute', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', (array_agg(price ORDER BY trade_id))[1], max(price), min(price),
                (array_agg(price ORDER BY trade_id DESC))[1], sum(quantity), sum(price * quantity), count(*), min(trade_id),
                max(trade_id)
            FROM trades GROUP BY 1, 2;
        """

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
