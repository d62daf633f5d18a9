-- Organize's inputs change counter. `universe organize` records, with each run, a fingerprint of everything it
-- reads (symbols, groups, memberships, the cache rows and their ticker lists); when the next run finds the same
-- fingerprint and the same definitions it reports the previous result instead of rebuilding every row. On
-- PostgreSQL the fingerprint comes from the rows' transaction ids (`xmin`), which every writer sets, TickStock's
-- scripts included, so nothing is added to TickStock's tables there. SQLite has no such column; this file is ours
-- alone, so triggers count every insert, update and delete of those tables into one row. The counter only ever
-- grows: a change is never missed, and an unrelated one costs one full rebuild.
CREATE TABLE IF NOT EXISTS universe_input_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    changes INTEGER NOT NULL
);
INSERT INTO universe_input_changes (id, changes) VALUES (1, 0) ON CONFLICT DO NOTHING;

CREATE TRIGGER IF NOT EXISTS universe_input_symbols_insert AFTER INSERT ON symbols
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_symbols_update AFTER UPDATE ON symbols
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_symbols_delete AFTER DELETE ON symbols
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_definition_groups_insert AFTER INSERT ON definition_groups
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_definition_groups_update AFTER UPDATE ON definition_groups
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_definition_groups_delete AFTER DELETE ON definition_groups
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_group_memberships_insert AFTER INSERT ON group_memberships
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_group_memberships_update AFTER UPDATE ON group_memberships
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_group_memberships_delete AFTER DELETE ON group_memberships
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_cache_entries_insert AFTER INSERT ON cache_entries
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_cache_entries_update AFTER UPDATE ON cache_entries
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_cache_entries_delete AFTER DELETE ON cache_entries
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_universe_cache_symbols_insert AFTER INSERT ON universe_cache_symbols
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_universe_cache_symbols_update AFTER UPDATE ON universe_cache_symbols
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS universe_input_universe_cache_symbols_delete AFTER DELETE ON universe_cache_symbols
BEGIN UPDATE universe_input_changes SET changes = changes + 1 WHERE id = 1; END;
