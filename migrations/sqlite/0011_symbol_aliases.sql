-- Security identity across ticker changes (FB → META): every ticker a security has had, with the days it held it,
-- keyed by its composite FIGI (Massive's ticker events), so a lookup by any of its names finds the one security.
CREATE TABLE IF NOT EXISTS symbol_aliases (
    security_id TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    valid_from  TEXT,
    valid_to    TEXT,
    name        TEXT,
    source      TEXT NOT NULL,
    PRIMARY KEY (security_id, symbol)
);
CREATE INDEX IF NOT EXISTS idx_symbol_aliases_symbol ON symbol_aliases (symbol);
