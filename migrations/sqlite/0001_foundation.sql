-- Foundation schema for the embedded SQLite store: the TickStock tables with the same names, columns and unique
-- keys as on PostgreSQL (JSON as TEXT, timestamps as ISO TEXT, numerics as REAL), plus our own tables.

CREATE TABLE definition_groups (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    type             TEXT NOT NULL CHECK (type IN ('ETF', 'THEME', 'SECTOR', 'SEGMENT', 'CUSTOM', 'UNIVERSE')),
    description      TEXT,
    metadata         TEXT,
    liquidity_filter TEXT,
    environment      TEXT NOT NULL DEFAULT 'DEFAULT' CHECK (environment IN ('DEFAULT', 'TEST', 'UAT', 'PROD')),
    created_at       TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at       TEXT DEFAULT CURRENT_TIMESTAMP,
    last_update      TEXT DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT unique_group UNIQUE (name, type, environment)
);
CREATE INDEX idx_definition_groups_type_env ON definition_groups (type, environment);
CREATE INDEX idx_definition_groups_name ON definition_groups (name);

CREATE TABLE group_memberships (
    id         INTEGER PRIMARY KEY,
    group_id   INTEGER NOT NULL REFERENCES definition_groups (id) ON DELETE CASCADE,
    symbol     TEXT NOT NULL,
    weight     REAL,
    metadata   TEXT,
    added_at   TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT unique_membership UNIQUE (group_id, symbol)
);
CREATE INDEX idx_group_memberships_symbol_group ON group_memberships (symbol, group_id);

CREATE TABLE cache_entries (
    id          INTEGER PRIMARY KEY,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    environment TEXT NOT NULL DEFAULT 'DEFAULT',
    created_at  TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at  TEXT,
    CONSTRAINT unique_cache_entry UNIQUE (type, name, key, environment)
);

CREATE TABLE symbols (
    symbol                      TEXT PRIMARY KEY,
    name                        TEXT,
    exchange                    TEXT,
    market                      TEXT,
    locale                      TEXT,
    currency_name               TEXT,
    currency_symbol             TEXT,
    type                        TEXT,
    active                      BOOLEAN DEFAULT TRUE,
    cik                         TEXT,
    composite_figi              TEXT,
    share_class_figi            TEXT,
    last_updated                TEXT,
    last_updated_utc            TEXT,
    market_cap                  INTEGER,
    weighted_shares_outstanding INTEGER,
    sic_code                    TEXT,
    sic_description             TEXT,
    sector                      TEXT,
    industry                    TEXT,
    country                     TEXT DEFAULT 'US',
    total_employees             INTEGER,
    list_date                   TEXT,
    sic_updated_at              TEXT,
    etf_type                    TEXT,
    aum_millions                REAL,
    expense_ratio               REAL,
    underlying_index            TEXT,
    correlation_reference       TEXT,
    fmv_supported               BOOLEAN,
    creation_unit_size          INTEGER,
    dividend_frequency          TEXT,
    inception_date              TEXT,
    net_assets                  INTEGER,
    primary_exchange            TEXT,
    issuer                      TEXT,
    average_spread              REAL,
    daily_volume_avg            INTEGER,
    premium_discount_avg        REAL,
    tracking_error              REAL
);

CREATE TABLE load_runs (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL,
    source         TEXT NOT NULL,
    mode           TEXT NOT NULL,
    environment    TEXT NOT NULL,
    checksum       TEXT,
    status         TEXT NOT NULL,
    added          INTEGER NOT NULL DEFAULT 0,
    removed        INTEGER NOT NULL DEFAULT 0,
    changed        INTEGER NOT NULL DEFAULT 0,
    unchanged      INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    validated      BOOLEAN NOT NULL DEFAULT TRUE,
    error          TEXT,
    details        TEXT,
    rollback_of    INTEGER REFERENCES load_runs (id),
    rolled_back_by INTEGER REFERENCES load_runs (id),
    started_at     TEXT NOT NULL,
    finished_at    TEXT
);
CREATE INDEX idx_load_runs_started ON load_runs (started_at DESC);

CREATE TABLE membership_history (
    id            INTEGER PRIMARY KEY,
    environment   TEXT NOT NULL,
    group_type    TEXT NOT NULL,
    group_name    TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    weight        REAL,
    metadata      TEXT,
    valid_from    TEXT NOT NULL,
    valid_to      TEXT,
    -- Written in the same transaction as their run; no foreign keys, to keep bulk loads cheap.
    opened_by_run INTEGER,
    closed_by_run INTEGER
);
-- Open intervals only: closing them (every load) and the validate check; small as history grows.
CREATE INDEX idx_membership_history_open ON membership_history (environment, group_type, group_name, symbol)
    WHERE valid_to IS NULL;
