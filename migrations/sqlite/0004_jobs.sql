-- Data-load jobs: the history in both modes, and the queue itself in embedded mode (no Redis).
CREATE TABLE IF NOT EXISTS jobs (
    id                TEXT PRIMARY KEY,
    job_type          TEXT  NOT NULL,
    spec              TEXT        NOT NULL,
    status            TEXT  NOT NULL,
    progress          INTEGER          NOT NULL DEFAULT 0,
    message           TEXT,
    total_symbols     INTEGER          NOT NULL DEFAULT 0,
    processed_symbols INTEGER          NOT NULL DEFAULT 0,
    failed_symbols    INTEGER          NOT NULL DEFAULT 0,
    current_symbol    TEXT,
    tasks_total       INTEGER          NOT NULL DEFAULT 0,
    tasks_done        INTEGER          NOT NULL DEFAULT 0,
    bars_loaded       INTEGER       NOT NULL DEFAULT 0,
    failures          TEXT,
    attempts          INTEGER          NOT NULL DEFAULT 0,
    cancel_requested  BOOLEAN      NOT NULL DEFAULT FALSE,
    worker            TEXT,
    lease_until       TEXT,
    created_at        TEXT  NOT NULL,
    started_at        TEXT,
    completed_at      TEXT,
    updated_at        TEXT  NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_jobs_status_created ON jobs (status, created_at);

-- Symbol × timeframe tasks a job has finished, committed with the job's counts: a resumed job skips them.
CREATE TABLE IF NOT EXISTS job_tasks (
    job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    what      TEXT  NOT NULL,
    timeframe TEXT   NOT NULL,
    bars      INTEGER       NOT NULL,
    error     TEXT,
    PRIMARY KEY (job_id, what, timeframe)
);
