-- Data-load jobs: the history in both modes, and the queue itself in embedded mode (no Redis).
CREATE TABLE IF NOT EXISTS jobs (
    id                VARCHAR(128) PRIMARY KEY,
    job_type          VARCHAR(32)  NOT NULL,
    spec              JSONB        NOT NULL,
    status            VARCHAR(32)  NOT NULL,
    progress          INT          NOT NULL DEFAULT 0,
    message           TEXT,
    total_symbols     INT          NOT NULL DEFAULT 0,
    processed_symbols INT          NOT NULL DEFAULT 0,
    failed_symbols    INT          NOT NULL DEFAULT 0,
    current_symbol    VARCHAR(20),
    tasks_total       INT          NOT NULL DEFAULT 0,
    tasks_done        INT          NOT NULL DEFAULT 0,
    bars_loaded       BIGINT       NOT NULL DEFAULT 0,
    failures          JSONB,
    attempts          INT          NOT NULL DEFAULT 0,
    cancel_requested  BOOLEAN      NOT NULL DEFAULT FALSE,
    worker            VARCHAR(128),
    lease_until       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ  NOT NULL,
    started_at        TIMESTAMPTZ,
    completed_at      TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ  NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_jobs_status_created ON jobs (status, created_at);

-- Symbol × timeframe tasks a job has finished, committed with the job's counts: a resumed job skips them.
CREATE TABLE IF NOT EXISTS job_tasks (
    job_id    VARCHAR(128) NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    what      VARCHAR(32)  NOT NULL,
    timeframe VARCHAR(8)   NOT NULL,
    bars      BIGINT       NOT NULL,
    error     TEXT,
    PRIMARY KEY (job_id, what, timeframe)
);
