-- Every validation (the CLI's, the console's, the scheduled one): the dashboard shows the latest one's alerts, and
-- an alert webhook compares a run with the last alerting one whose alerts were delivered. `slot` names a scheduled run's
-- interval: one row per slot, claimed before the checks run, so with many workers exactly one validates and alerts per
-- interval. `options` are the thresholds it ran with: alerts compare only runs made with the same. A run is
-- `RUNNING` from its claim until its checks are stored.
CREATE TABLE IF NOT EXISTS validation_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    environment   TEXT    NOT NULL,
    checked_at    TEXT    NOT NULL,
    result        TEXT    NOT NULL,
    unknown_share REAL,
    integrity     REAL    NOT NULL,
    checks        TEXT    NOT NULL,
    delivered     BOOLEAN NOT NULL,
    slot          TEXT UNIQUE,
    options       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_validation_runs_env ON validation_runs (environment, id);
