//! Storage on two backends behind one interface.
//!
//! [`Store`] holds a typed pool for SQLite (the embedded default) or PostgreSQL (production), chosen by URL
//! scheme. The SQL is shared: both backends accept `$n` placeholders, `ON CONFLICT … DO UPDATE`, `RETURNING`
//! and multi-row `VALUES`, and every timestamp is bound from Rust rather than taken from the database clock. The
//! [`on_pool!`] and [`on_conn!`] macros expand one query body for each backend, so a query is written once and
//! type-checked twice; where the dialects differ the body asks [`Backend`] for the fragment (`dialect.rs` lists
//! every difference).
//!
//! Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`), embedded in the binary.

mod aliases;
mod bars;
mod cache;
mod details;
mod dialect;
mod groups;
mod jobs;
mod quality;
mod runs;
mod snapshot;
mod symbols;
mod sync_log;
mod transfer;
mod validations;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use aliases::Alias;
pub use bars::dedupe_bars;
pub use cache::{CacheFingerprint, CacheRow};
pub use details::{
    Action, BuiltRecord, Counts, DetailsError, GroupBefore, GroupChange, KeptRecord, OrganizeRecord, RunDetails,
    SymbolsChange,
};
pub use groups::{
    GroupMember, GroupSummary, GroupWrite, HistoryRow, MemberDetail, MemberRow, StoredGroup, StoredMember,
};
pub use jobs::{JobProgress, JobRow, TaskRecord};
pub use quality::{GroupKey, GroupList, split_list};
pub use runs::{NewRun, RunOutcome, RunRow};
pub use snapshot::{
    SnapshotCacheRow, SnapshotGroup, SnapshotIndustry, SnapshotInterval, SnapshotSymbol, Touched, UPDATED_CHANNEL,
};
pub use symbols::{MarketSymbol, SicRow, SymbolField, SymbolRow};
pub use sync_log::{SymbolMembership, SyncChange, SyncChangeRow};
pub use transfer::HistoryInterval;
pub use validations::{NewValidation, StoredCheck, ValidationRow};

/// PostgreSQL advisory lock key held by every reference-data writer ("univ" in ASCII).
const WRITE_LOCK_KEY: i64 = 0x756e_6976;

/// Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters.
pub(crate) const BATCH_ROWS: usize = 1000;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded file: zero set-up, one writer at a time.
    Sqlite,
    /// The server TickStock shares: many processes, TLS, `LISTEN`/`NOTIFY`.
    Postgres,
}

/// A connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Store {
    /// `sqlite://path` (WAL, created if missing).
    Sqlite(SqlitePool),
    /// `postgres://…` / `postgresql://…`.
    Postgres(PgPool),
}

/// An open transaction on either backend, and what it has changed of the relationship graph so far (recorded
/// beside the data version it commits, so serving processes re-read only that). Dropped without [`Tx::commit`],
/// it rolls back.
pub struct Tx {
    conn: Conn,
    touched: Touched,
}

/// The connection of a [`Tx`].
pub(crate) enum Conn {
    /// SQLite transaction.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl From<Conn> for Tx {
    fn from(conn: Conn) -> Tx {
        Tx { conn, touched: Touched::default() }
    }
}

/// Storage failures, with the database URL never included (it may carry a password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL's scheme is neither sqlite nor postgres.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// Could not reach or open the database.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL with any password replaced by `***`.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// Stored data we cannot interpret (a row written by something else).
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
}

/// Expands `$body` once per backend with `$pool` bound to the typed pool.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
/// Expands `$body` once per backend with `$conn` bound to the transaction's connection (`&mut Connection`).
macro_rules! on_conn {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut ($tx).conn {
            $crate::store::Conn::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Conn::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
/// Where a read runs: on the pool (any idle connection), or inside a transaction — a writer reads the state it
/// diffs against under its lock, on its own connection, instead of making the pool open another (with TLS, a
/// handshake and a server process each).
pub enum Reader<'a> {
    /// Any pooled connection.
    Pool(&'a Store),
    /// The transaction's connection.
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Store> for Reader<'a> {
    fn from(store: &'a Store) -> Self {
        Reader::Pool(store)
    }
}

impl<'a> From<&'a mut Tx> for Reader<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Reader::Tx(tx)
    }
}

/// Expands `$body` once per backend and place with `$e` bound to an executor: the typed pool, or the
/// transaction's connection. `$body` uses `$e` once.
macro_rules! on_reader {
    ($reader:expr, $e:ident => $body:expr) => {
        match $reader {
            $crate::store::Reader::Pool($crate::store::Store::Sqlite($e)) => $body,
            $crate::store::Reader::Pool($crate::store::Store::Postgres($e)) => $body,
            $crate::store::Reader::Tx($crate::store::Tx { conn: $crate::store::Conn::Sqlite(t), .. }) => {
                let $e = &mut **t;
                $body
            }
            $crate::store::Reader::Tx($crate::store::Tx { conn: $crate::store::Conn::Postgres(t), .. }) => {
                let $e = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use dialect::push_in_list;
pub(crate) use {on_conn, on_pool, on_reader};

/// The current time at microsecond precision — PostgreSQL's — so a timestamp reads back the same from either
/// backend (and exports compare equal across them).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Replaces the password in a URL with `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, _password)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

impl Store {
    /// Opens a pool for the URL (`sqlite://universe.db`, `sqlite::memory:`, `postgres://…`). A SQLite file is
    /// created if missing and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let connect_err = |source| StoreError::Connect { url: redact_url(url), source };
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                // No memory map: each pooled connection would map the whole file, and a server that reads a
                // 243 MB market-scale database showed 4 × its size as resident (measured: RSS 881 MB mapped
                // against 186 MB without, same rebuild times; organize at peer scale unchanged).
                .pragma("mmap_size", "0");
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(connect_err)?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(connect_err)?.application_name("universe");
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Connects and brings the schema up to date. When the latest migration is already applied (one query) the
    /// full migration run — table check, lock, checksum comparison — is skipped; `universe db migrate` always
    /// does it.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        if !store.schema_is_current().await {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Whether the newest embedded migration has been applied successfully.
    async fn schema_is_current(&self) -> bool {
        let migrator = match self {
            Store::Sqlite(_) => &SQLITE_MIGRATOR,
            Store::Postgres(_) => &POSTGRES_MIGRATOR,
        };
        let Some(latest) = migrator.iter().map(|m| m.version).max() else { return true };
        let sql = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";
        // The connection goes back to the pool before this returns: a connection dropped is only returned by a
        // task after a round trip, and the command's first transaction, begun at once, would open a second
        // connection (another TLS handshake and server process) instead of reusing this one.
        let applied: Result<Option<i64>, sqlx::Error> = on_pool!(self, p => async {
            let mut conn = p.acquire().await?;
            let applied = sqlx::query_scalar(sql).fetch_one(&mut *conn).await;
            conn.return_to_pool().await;
            applied
        }
        .await);
        matches!(applied, Ok(Some(v)) if v == latest)
    }

    /// Applies pending migrations (idempotent; safe on an existing TickStock PostgreSQL database).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(p) => SQLITE_MIGRATOR.run(p).await?,
            Store::Postgres(p) => POSTGRES_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Store::Sqlite(p) => {
                // BEGIN IMMEDIATE takes the write lock up front, so two loads serialise instead of failing
                // with SQLITE_BUSY when the first one upgrades its read lock.
                Conn::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?).into()
            }
            Store::Postgres(p) => Conn::Postgres(p.begin().await?).into(),
        })
    }

    /// Starts a transaction that writes reference data, serialised with every other such writer (in any process):
    /// SQLite's write lock (`BEGIN IMMEDIATE`), or a transaction-scoped advisory lock on PostgreSQL. Read the state
    /// a change is computed from *after* this returns, so two concurrent loads never diff against the same state.
    pub async fn begin_write(&self) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        if let Conn::Postgres(t) = &mut tx.conn {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK_KEY).execute(&mut **t).await?;
        }
        Ok(tx)
    }

    /// Closes the pool, waiting for connections to finish (flushes the SQLite WAL on the last close).
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }

    /// Counts rows of a table (for tests and the demo summary). `table` must be one of ours.
    pub async fn count_rows(&self, table: &str) -> Result<i64, StoreError> {
        const TABLES: [&str; 8] = [
            "definition_groups",
            "group_memberships",
            "cache_entries",
            "symbols",
            "load_runs",
            "membership_history",
            "universe_data_version",
            "universe_cache_symbols",
        ];
        let table = TABLES
            .iter()
            .find(|t| **t == table)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown table {table}")))?;
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = on_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(p).await?);
        Ok(n)
    }
}

impl Tx {
    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Rolls back now. Dropping a transaction only queues its rollback, which on PostgreSQL can keep the write
    /// lock held until the pooled connection is next used; writers release explicitly.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.conn {
            Conn::Sqlite(t) => t.rollback().await?,
            Conn::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// Rolls back an optional transaction, logging (not returning) a failure: for error paths that already have an
    /// error to report.
    pub async fn release(tx: Option<Tx>) {
        if let Some(tx) = tx
            && let Err(e) = tx.rollback().await
        {
            tracing::warn!(error = %e, "rollback failed");
        }
    }

    /// Runs `work` in the transaction, then commits; on any error rolls back explicitly (releasing the lock)
    /// and returns the error.
    pub async fn commit_after<T, E: From<StoreError>>(
        mut self,
        work: impl AsyncFnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match work(&mut self).await {
            Ok(v) => {
                self.commit().await?;
                Ok(v)
            }
            Err(e) => {
                Tx::release(Some(self)).await;
                Err(e)
            }
        }
    }

    /// Commits; the writers' lock (if held) is released with it. A transaction that changed what the
    /// relationship cache holds without moving the data version (bars adding bare symbols, organize restoring
    /// ticker lists) moves it now, with what it touched: no change ever commits unannounced.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if !self.touched.is_empty() {
            self.bump_data_version(None).await?;
        }
        match self.conn {
            Conn::Sqlite(t) => t.commit().await?,
            Conn::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite://universe.db"), "sqlite://universe.db");
    }
}
