-- This database's identity: a random id made once, when the migration runs. Job stream entries carry it (with
-- the database's name), so a worker connected to another database by mistake never takes this one's jobs.
CREATE TABLE IF NOT EXISTS universe_instance (
    id         VARCHAR(64) PRIMARY KEY,
    created_at TIMESTAMP NOT NULL DEFAULT now()
);
INSERT INTO universe_instance (id)
SELECT md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text)
WHERE NOT EXISTS (SELECT 1 FROM universe_instance);
