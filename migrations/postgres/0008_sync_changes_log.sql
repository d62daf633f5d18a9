-- TickStock's daily-sync change log (compat §1.6; its legacy synchronizer created it on demand with these
-- columns). `run_id` is ours: the `load_runs` row of the sync that made the change.
CREATE TABLE IF NOT EXISTS sync_changes_log (
    id          SERIAL PRIMARY KEY,
    change_type VARCHAR(50) NOT NULL,
    universe    VARCHAR(100),
    symbol      VARCHAR(20),
    action      VARCHAR(20) NOT NULL,
    reason      TEXT,
    metadata    JSONB,
    created_at  TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE sync_changes_log ADD COLUMN IF NOT EXISTS run_id BIGINT;
CREATE INDEX IF NOT EXISTS idx_sync_changes_log_symbol ON sync_changes_log (symbol, created_at);
CREATE INDEX IF NOT EXISTS idx_sync_changes_log_created ON sync_changes_log (created_at);
