-- This database's identity: a random id made once, when the migration runs. Job stream entries carry it, so a
-- worker connected to another database by mistake never takes this one's jobs.
CREATE TABLE IF NOT EXISTS universe_instance (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO universe_instance (id)
SELECT lower(hex(randomblob(16)))
WHERE NOT EXISTS (SELECT 1 FROM universe_instance);
