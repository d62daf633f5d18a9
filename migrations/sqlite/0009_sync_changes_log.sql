-- TickStock's daily-sync change log (compat §1.6): one row per change a sync made (a symbol listed or delisted, a
-- membership closed, …), tied to its `load_runs` row by `run_id` (ours), so "why did XYZ leave mid_cap on
-- Tuesday?" is one query.
CREATE TABLE IF NOT EXISTS sync_changes_log (
    id          INTEGER PRIMARY KEY,
    change_type TEXT NOT NULL,
    universe    TEXT,
    symbol      TEXT,
    action      TEXT NOT NULL,
    reason      TEXT,
    metadata    TEXT,
    created_at  TEXT DEFAULT CURRENT_TIMESTAMP,
    run_id      INTEGER
);
CREATE INDEX idx_sync_changes_log_symbol ON sync_changes_log (symbol, created_at);
CREATE INDEX idx_sync_changes_log_created ON sync_changes_log (created_at);
