-- OHLCV bars in TickStock's five tables (compat §1.5), and the symbol columns `symbols refresh` writes.
--
-- Safe on an existing TickStock database: tables are created only if missing and columns added only if missing.
-- Our new tables carry no foreign key to symbols (a per-row check would slow bulk upserts); the ingest inserts a
-- symbols row for every ticker it writes bars for, so a TickStock database that has the foreign key accepts the
-- same writes.

CREATE TABLE IF NOT EXISTS ohlcv_1min (
    symbol      VARCHAR(20)   NOT NULL,
    "timestamp" TIMESTAMPTZ   NOT NULL,
    open        NUMERIC(10, 4) NOT NULL,
    high        NUMERIC(10, 4) NOT NULL,
    low         NUMERIC(10, 4) NOT NULL,
    close       NUMERIC(10, 4) NOT NULL,
    volume      BIGINT         NOT NULL,
    PRIMARY KEY (symbol, "timestamp")
);

CREATE TABLE IF NOT EXISTS ohlcv_hourly (
    symbol      VARCHAR(20)   NOT NULL,
    "timestamp" TIMESTAMPTZ   NOT NULL,
    open        NUMERIC(10, 4),
    high        NUMERIC(10, 4),
    low         NUMERIC(10, 4),
    close       NUMERIC(10, 4),
    volume      BIGINT,
    PRIMARY KEY (symbol, "timestamp")
);

CREATE TABLE IF NOT EXISTS ohlcv_daily (
    symbol     VARCHAR(20)    NOT NULL,
    date       DATE           NOT NULL,
    open       NUMERIC(10, 4) NOT NULL,
    high       NUMERIC(10, 4) NOT NULL,
    low        NUMERIC(10, 4) NOT NULL,
    close      NUMERIC(10, 4) NOT NULL,
    volume     BIGINT         NOT NULL,
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (symbol, date)
);

CREATE TABLE IF NOT EXISTS ohlcv_weekly (
    symbol     VARCHAR(20) NOT NULL,
    week_start DATE        NOT NULL,
    open       NUMERIC(10, 4),
    high       NUMERIC(10, 4),
    low        NUMERIC(10, 4),
    close      NUMERIC(10, 4),
    volume     BIGINT,
    PRIMARY KEY (symbol, week_start)
);

CREATE TABLE IF NOT EXISTS ohlcv_monthly (
    symbol      VARCHAR(20) NOT NULL,
    month_start DATE        NOT NULL,
    open        NUMERIC(10, 4),
    high        NUMERIC(10, 4),
    low         NUMERIC(10, 4),
    close       NUMERIC(10, 4),
    volume      BIGINT,
    PRIMARY KEY (symbol, month_start)
);

-- Columns `symbols refresh` writes, for symbols tables older than TickStock's SIC and reference migrations.
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS locale VARCHAR(10);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS currency_name VARCHAR(10);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS last_updated_utc TIMESTAMPTZ;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS weighted_shares_outstanding BIGINT;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS sic_code VARCHAR(10);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS sic_description TEXT;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS total_employees INT;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS sic_updated_at TIMESTAMP;
-- Ours: TickStock has no delisting column (compat §1.4); Massive's delisted_utc is kept here, next to active.
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS delisted_utc TIMESTAMPTZ;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS share_class_shares_outstanding BIGINT;
