-- What each data version changed of the relationship graph: the groups (by id), the symbols rows and whether the
-- universe cache rows changed, as JSON, written by the transaction that moves the version on. A serving process
-- holding version N re-reads only what versions N+1.. touched; a version missing here (older builds, pruned) or
-- marked "everything" makes it rebuild in full. The last 1,000 versions are kept.
CREATE TABLE IF NOT EXISTS universe_data_changes (
    version INTEGER PRIMARY KEY,
    touched TEXT NOT NULL
);
