-- The reference data's version: one row, bumped in the same transaction as every applied load, organize,
-- rollback and import (which also NOTIFY "tickstock:universe:updated", delivered at commit). Serving replicas
-- rebuild their snapshot when it moves; they poll it too, because a notification can be missed.
CREATE TABLE IF NOT EXISTS universe_data_version (
    id         integer PRIMARY KEY CHECK (id = 1),
    version    bigint NOT NULL,
    run_id     bigint,
    changed_at timestamp NOT NULL
);
INSERT INTO universe_data_version (id, version, changed_at) VALUES (1, 1, now()) ON CONFLICT DO NOTHING;
