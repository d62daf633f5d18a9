-- OHLCV bars in TickStock's five tables (compat §1.5), and the symbol columns `symbols refresh` writes.
-- WITHOUT ROWID: each table is one B-tree keyed on (symbol, time), so an upsert touches one index, not two.
-- Dates are 'YYYY-MM-DD' text and instants RFC 3339 text in UTC, as sqlx binds them.

CREATE TABLE ohlcv_1min (
    symbol      TEXT    NOT NULL,
    "timestamp" TEXT    NOT NULL,
    open        REAL    NOT NULL,
    high        REAL    NOT NULL,
    low         REAL    NOT NULL,
    close       REAL    NOT NULL,
    volume      INTEGER NOT NULL,
    PRIMARY KEY (symbol, "timestamp")
) WITHOUT ROWID;

CREATE TABLE ohlcv_hourly (
    symbol      TEXT NOT NULL,
    "timestamp" TEXT NOT NULL,
    open        REAL,
    high        REAL,
    low         REAL,
    close       REAL,
    volume      INTEGER,
    PRIMARY KEY (symbol, "timestamp")
) WITHOUT ROWID;

CREATE TABLE ohlcv_daily (
    symbol     TEXT    NOT NULL,
    date       TEXT    NOT NULL,
    open       REAL    NOT NULL,
    high       REAL    NOT NULL,
    low        REAL    NOT NULL,
    close      REAL    NOT NULL,
    volume     INTEGER NOT NULL,
    created_at TEXT,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;

CREATE TABLE ohlcv_weekly (
    symbol     TEXT NOT NULL,
    week_start TEXT NOT NULL,
    open       REAL,
    high       REAL,
    low        REAL,
    close      REAL,
    volume     INTEGER,
    PRIMARY KEY (symbol, week_start)
) WITHOUT ROWID;

CREATE TABLE ohlcv_monthly (
    symbol      TEXT NOT NULL,
    month_start TEXT NOT NULL,
    open        REAL,
    high        REAL,
    low         REAL,
    close       REAL,
    volume      INTEGER,
    PRIMARY KEY (symbol, month_start)
) WITHOUT ROWID;

ALTER TABLE symbols ADD COLUMN delisted_utc TEXT;
ALTER TABLE symbols ADD COLUMN share_class_shares_outstanding INTEGER;
