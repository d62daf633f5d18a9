-- What a finished job produced, for jobs whose outcome is more than counts (a cache sync's report summary: its
-- run, changes per step, universes updated). NULL for bar loads, whose counts are in the columns.
ALTER TABLE jobs ADD COLUMN result TEXT;
