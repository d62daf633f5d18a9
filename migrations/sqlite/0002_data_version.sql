-- The reference data's version: one row, bumped in the same transaction as every applied load, organize,
-- rollback and import. Serving processes compare it with their snapshot's to know when to rebuild.
CREATE TABLE IF NOT EXISTS universe_data_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    BIGINT NOT NULL,
    run_id     BIGINT,
    changed_at TIMESTAMP NOT NULL
);
INSERT INTO universe_data_version (id, version, changed_at) VALUES (1, 1, CURRENT_TIMESTAMP) ON CONFLICT DO NOTHING;
