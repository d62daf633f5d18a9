-- Foundation schema for PostgreSQL.
--
-- Safe on an existing TickStock database: every table is created only if missing, missing columns are added,
-- nothing is dropped or rewritten. The one deliberate change to TickStock's DDL is widening
-- definition_groups_type_check to accept UNIVERSE, which all TickStock code writes although the shipped check
-- omits it (added NOT VALID so rows already present are never re-checked).

-- TickStock: definition_groups (Sprint 59 shape).
CREATE TABLE IF NOT EXISTS definition_groups (
    id               SERIAL PRIMARY KEY,
    name             VARCHAR(100) NOT NULL,
    type             VARCHAR(50)  NOT NULL,
    description      TEXT,
    metadata         JSONB,
    liquidity_filter JSONB,
    environment      VARCHAR(10)  NOT NULL DEFAULT 'DEFAULT'
                     CHECK (environment IN ('DEFAULT', 'TEST', 'UAT', 'PROD')),
    created_at       TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_update      TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
-- The README variant of TickStock's DDL lacks these two columns.
ALTER TABLE definition_groups ADD COLUMN IF NOT EXISTS liquidity_filter JSONB;
ALTER TABLE definition_groups ADD COLUMN IF NOT EXISTS last_update TIMESTAMP DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE definition_groups DROP CONSTRAINT IF EXISTS definition_groups_type_check;
ALTER TABLE definition_groups ADD CONSTRAINT definition_groups_type_check
    CHECK (type IN ('ETF', 'THEME', 'SECTOR', 'SEGMENT', 'CUSTOM', 'UNIVERSE')) NOT VALID;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'unique_group') THEN
        ALTER TABLE definition_groups ADD CONSTRAINT unique_group UNIQUE (name, type, environment);
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS idx_definition_groups_type ON definition_groups (type);
CREATE INDEX IF NOT EXISTS idx_definition_groups_environment ON definition_groups (environment);
CREATE INDEX IF NOT EXISTS idx_definition_groups_name ON definition_groups (name);
CREATE INDEX IF NOT EXISTS idx_definition_groups_type_env ON definition_groups (type, environment);

-- TickStock: group_memberships. weight is a fraction (0.0650 = 6.5 %).
CREATE TABLE IF NOT EXISTS group_memberships (
    id         SERIAL PRIMARY KEY,
    group_id   INT NOT NULL REFERENCES definition_groups (id) ON DELETE CASCADE,
    symbol     VARCHAR(50) NOT NULL,
    weight     NUMERIC(5, 4),
    metadata   JSONB,
    added_at   TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'unique_membership') THEN
        ALTER TABLE group_memberships ADD CONSTRAINT unique_membership UNIQUE (group_id, symbol);
    END IF;
END $$;
-- TickStock also indexes (group_id) and (symbol) alone; both are prefixes of the unique key and of this index,
-- so a new database skips them (an existing one keeps them). Fewer indexes, faster bulk loads.
CREATE INDEX IF NOT EXISTS idx_group_memberships_symbol_group ON group_memberships (symbol, group_id);

-- TickStock: cache_entries (canonical shape A).
CREATE TABLE IF NOT EXISTS cache_entries (
    id          SERIAL PRIMARY KEY,
    type        VARCHAR(50)  NOT NULL,
    name        VARCHAR(100) NOT NULL,
    key         VARCHAR(100) NOT NULL,
    value       JSONB        NOT NULL,
    environment VARCHAR(10)  NOT NULL DEFAULT 'DEFAULT',
    created_at  TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP
);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'unique_cache_entry') THEN
        ALTER TABLE cache_entries ADD CONSTRAINT unique_cache_entry UNIQUE (type, name, key, environment);
    END IF;
END $$;

-- Universe values are JSON up to a few hundred kB each, written and read whole: storing them uncompressed
-- (EXTERNAL) makes organize's writes and every read cheaper. A catalog-only change: no rewrite, no data touched;
-- it applies to values written from now on.
ALTER TABLE cache_entries ALTER COLUMN value SET STORAGE EXTERNAL;

-- TickStock: symbols (base, SIC and ETF blocks).
CREATE TABLE IF NOT EXISTS symbols (
    symbol                      VARCHAR(20) PRIMARY KEY,
    name                        VARCHAR(100),
    exchange                    VARCHAR(20),
    market                      VARCHAR(20),
    locale                      VARCHAR(10),
    currency_name               VARCHAR(10),
    currency_symbol             VARCHAR(5),
    type                        VARCHAR(20),
    active                      BOOLEAN DEFAULT TRUE,
    cik                         VARCHAR(20),
    composite_figi              VARCHAR(50),
    share_class_figi            VARCHAR(50),
    last_updated                TIMESTAMP,
    last_updated_utc            TIMESTAMPTZ,
    market_cap                  BIGINT,
    weighted_shares_outstanding BIGINT,
    sic_code                    VARCHAR(10),
    sic_description             TEXT,
    sector                      VARCHAR(50),
    industry                    VARCHAR(100),
    country                     VARCHAR(5) DEFAULT 'US',
    total_employees             INT,
    list_date                   DATE,
    sic_updated_at              TIMESTAMP,
    etf_type                    VARCHAR(50),
    aum_millions                NUMERIC(12, 2),
    expense_ratio               NUMERIC(5, 4),
    underlying_index            VARCHAR(100),
    correlation_reference       VARCHAR(10),
    fmv_supported               BOOLEAN,
    creation_unit_size          INT,
    dividend_frequency          VARCHAR(20),
    inception_date              DATE,
    net_assets                  BIGINT,
    primary_exchange            VARCHAR(20),
    issuer                      VARCHAR(100),
    average_spread              NUMERIC(8, 6),
    daily_volume_avg            BIGINT,
    premium_discount_avg        NUMERIC(6, 4),
    tracking_error              NUMERIC(8, 6)
);
-- Columns this service writes, for older symbols tables.
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS name VARCHAR(100);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS exchange VARCHAR(20);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS market VARCHAR(20);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS type VARCHAR(20);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS active BOOLEAN DEFAULT TRUE;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS cik VARCHAR(20);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS composite_figi VARCHAR(50);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS share_class_figi VARCHAR(50);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS last_updated TIMESTAMP;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS market_cap BIGINT;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS sector VARCHAR(50);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS industry VARCHAR(100);
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS list_date DATE;

-- Ours: one row per load / rollback run, successful or not.
CREATE TABLE IF NOT EXISTS load_runs (
    id             BIGSERIAL PRIMARY KEY,
    kind           VARCHAR(32)  NOT NULL,
    source         TEXT         NOT NULL,
    mode           VARCHAR(16)  NOT NULL,
    environment    VARCHAR(10)  NOT NULL,
    checksum       VARCHAR(64),
    status         VARCHAR(16)  NOT NULL,
    added          BIGINT NOT NULL DEFAULT 0,
    removed        BIGINT NOT NULL DEFAULT 0,
    changed        BIGINT NOT NULL DEFAULT 0,
    unchanged      BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    validated      BOOLEAN NOT NULL DEFAULT TRUE,
    error          TEXT,
    details        JSONB,
    rollback_of    BIGINT REFERENCES load_runs (id),
    rolled_back_by BIGINT REFERENCES load_runs (id),
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS idx_load_runs_started ON load_runs (started_at DESC);

-- Ours: one interval per membership state, for point-in-time queries, audit and rollback.
CREATE TABLE IF NOT EXISTS membership_history (
    id            BIGSERIAL PRIMARY KEY,
    environment   VARCHAR(10)  NOT NULL,
    group_type    VARCHAR(50)  NOT NULL,
    group_name    VARCHAR(100) NOT NULL,
    symbol        VARCHAR(50)  NOT NULL,
    weight        NUMERIC(5, 4),
    metadata      JSONB,
    valid_from    TIMESTAMPTZ NOT NULL,
    valid_to      TIMESTAMPTZ,
    -- Run ids without foreign keys: history and its run are written in one transaction, and a per-row
    -- foreign-key trigger would double the cost of a bulk load.
    opened_by_run BIGINT,
    closed_by_run BIGINT
);
-- One index, on open intervals only: it serves closing them (every load) and the validate check, and stays small
-- as history grows; reads of closed intervals (rollback, --as-of) scan one group's rows.
CREATE INDEX IF NOT EXISTS idx_membership_history_open
    ON membership_history (environment, group_type, group_name, symbol) WHERE valid_to IS NULL;

-- Memberships that predate this service get an open interval from the time they were added.
INSERT INTO membership_history (environment, group_type, group_name, symbol, weight, metadata, valid_from)
SELECT g.environment, g.type, g.name, m.symbol, m.weight, m.metadata,
       COALESCE(m.added_at, g.created_at, CURRENT_TIMESTAMP) AT TIME ZONE 'UTC'
FROM group_memberships m
JOIN definition_groups g ON g.id = m.group_id;
