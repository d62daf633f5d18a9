-- The ticker list of each universe row organize wrote to cache_entries, as a JSON array, with the fingerprint
-- (updated_at and stored size) of the value it was taken from. The relationship cache reads these lists instead
-- of the multi-MB detailed values; a row whose fingerprint no longer matches (changed by another writer) is read
-- and parsed from cache_entries as before. Our own table: TickStock never reads it.
CREATE TABLE IF NOT EXISTS universe_cache_symbols (
    environment TEXT NOT NULL,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL,
    key         TEXT NOT NULL,
    updated_at  timestamp,
    size        BIGINT,
    symbols     TEXT NOT NULL,
    PRIMARY KEY (environment, type, name, key)
);
