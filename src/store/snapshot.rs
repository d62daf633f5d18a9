//! What the relationship cache is built from, read in one consistent transaction, and the data version that
//! tells serving processes when to rebuild it.

use chrono::NaiveDateTime;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;

use super::{Store, StoreError, Tx, on_conn, on_pool};
use crate::domain::Environment;

/// The PostgreSQL `NOTIFY` channel (TickStock's event name) that carries each new data version.
pub const UPDATED_CHANNEL: &str = "tickstock:universe:updated";

/// A group row.
#[derive(Debug, Clone, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SnapshotGroup {
    /// `definition_groups.id`.
    pub id: i32,
    /// Name as stored.
    pub name: String,
    /// Type as stored.
    #[sqlx(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    pub created_at: Option<NaiveDateTime>,
    /// Last changed.
    pub updated_at: Option<NaiveDateTime>,
}

/// A membership: group id, symbol, weight as a fraction, and the industry a sector membership records.
pub type SnapshotMember = (i32, String, Option<f64>, Option<String>);

/// A symbol's metadata: symbol, name, type, exchange, sector, industry, market cap.
pub type SnapshotSymbol =
    (String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>);

/// Everything the cache holds, as of one data version.
#[derive(Debug, Default, Clone)]
pub struct SnapshotRows {
    /// The data version these rows belong to.
    pub version: i64,
    /// Groups of the environment.
    pub groups: Vec<SnapshotGroup>,
    /// Their memberships.
    pub members: Vec<SnapshotMember>,
    /// The `symbols` table.
    pub symbols: Vec<SnapshotSymbol>,
    /// `stock_universe` / `etf_universe` rows: type, name, key, and as JSON text either the value or, where
    /// organize recorded it for the value now stored, the value's ticker list.
    pub cache_rows: Vec<(String, String, String, String)>,
}

impl Store {
    /// On PostgreSQL, starts a task that sends on `notified` whenever a new data version is announced on
    /// [`UPDATED_CHANNEL`] (and after each reconnect, when one may have been missed); `None` on SQLite, where
    /// only polling tells.
    pub fn listen_for_updates(&self, notified: tokio::sync::mpsc::Sender<()>) -> Option<tokio::task::JoinHandle<()>> {
        match self {
            Store::Postgres(pool) => Some(tokio::spawn(listen(pool.clone(), notified))),
            Store::Sqlite(_) => None,
        }
    }

    /// The current data version.
    pub async fn data_version(&self) -> Result<i64, StoreError> {
        let v: i64 = on_pool!(self, p => sqlx::query_scalar("SELECT version FROM universe_data_version WHERE id = 1")
            .fetch_one(p)
            .await?);
        Ok(v)
    }

    /// This database's identity: the id its migration made, and on PostgreSQL the database's name too (a database
    /// copied from a template keeps the id). Job stream entries carry it.
    pub async fn database_id(&self) -> Result<String, StoreError> {
        let id: String = match self {
            Store::Sqlite(p) => sqlx::query_scalar("SELECT id FROM universe_instance LIMIT 1").fetch_one(p).await?,
            Store::Postgres(p) => {
                sqlx::query_scalar("SELECT id || ':' || current_database() FROM universe_instance LIMIT 1")
                    .fetch_one(p)
                    .await?
            }
        };
        Ok(id)
    }

    /// Reads the whole relationship graph of an environment in one read transaction, so groups, memberships,
    /// symbols, cache rows and the version all belong to the same committed state.
    pub async fn snapshot_rows(&self, env: Environment) -> Result<SnapshotRows, StoreError> {
        let mut tx = self.begin_read().await?;
        let version: i64 = on_conn!(&mut tx, c => sqlx::query_scalar(
            "SELECT version FROM universe_data_version WHERE id = 1").fetch_one(&mut *c).await?);
        let groups: Vec<SnapshotGroup> = on_conn!(&mut tx, c => sqlx::query_as(
            "SELECT id, name, type, description, created_at, updated_at FROM definition_groups \
             WHERE environment = $1 ORDER BY type, name")
            .bind(env.as_str())
            .fetch_all(&mut *c)
            .await?);
        let industry = tx.backend().json_field("m.metadata", "industry");
        let members = tx
            .rows(
                &format!("m.group_id, m.symbol, CAST(m.weight AS DOUBLE PRECISION), {industry}"),
                "group_memberships m JOIN definition_groups g ON g.id = m.group_id WHERE g.environment = $1",
                Some(env.as_str()),
            )
            .await?;
        let symbols = tx.rows("symbol, name, type, exchange, sector, industry, market_cap", "symbols", None).await?;
        // A universe row's ticker list comes from `universe_cache_symbols` when organize wrote it for the value
        // now stored (same size and updated_at), else from the value itself: the detailed values are MBs of JSON
        // that PostgreSQL must render as text, the lists a fraction of that.
        let value = tx.backend().json_text("c.value");
        let sql = format!(
            "SELECT c.type, c.name, c.key, COALESCE(s.symbols, {value}) FROM cache_entries c \
             LEFT JOIN universe_cache_symbols s ON {current} \
             WHERE c.environment = $1 AND c.type IN ('stock_universe', 'etf_universe') ORDER BY c.type, c.key, c.name",
            current = super::cache::list_is_current(tx.backend()),
        );
        let cache_rows = on_conn!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str())
            .fetch_all(&mut *c)
            .await?);
        tx.rollback().await?;
        Ok(SnapshotRows { version, groups, members, symbols, cache_rows })
    }
}

impl Tx {
    /// `SELECT columns FROM from` (with `$1` bound to `param` when given), decoded as tuples. SQLite returns the
    /// rows as one JSON array — sqlx decodes SQLite rows one at a time through a worker thread, a JSON document
    /// costs one parse — PostgreSQL as plain rows, which decode fast there.
    async fn rows<T>(&mut self, columns: &str, from: &str, param: Option<&str>) -> Result<Vec<T>, StoreError>
    where
        T: DeserializeOwned + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Tx::Sqlite(t) => {
                let sql = format!("SELECT json_group_array(json_array({columns})) FROM {from}");
                let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(param).fetch_one(&mut **t).await?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("rows of {from}: {e}")))
            }
            Tx::Postgres(t) => {
                let sql = format!("SELECT {columns} FROM {from}");
                let q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                let q = match param {
                    Some(p) => q.bind(p),
                    None => q,
                };
                Ok(q.fetch_all(&mut **t).await?)
            }
        }
    }

    /// Moves the data version on, inside the writing transaction, and on PostgreSQL queues the notification
    /// (delivered to listeners only if and when the transaction commits). Returns the new version.
    pub async fn bump_data_version(&mut self, run_id: i64) -> Result<i64, StoreError> {
        let version: i64 = on_conn!(self, c => sqlx::query_scalar(
            "UPDATE universe_data_version SET version = version + 1, run_id = $1, changed_at = $2 \
             WHERE id = 1 RETURNING version")
            .bind(run_id)
            .bind(super::now().naive_utc())
            .fetch_one(&mut *c)
            .await?);
        if let Tx::Postgres(t) = self {
            let payload = serde_json::json!({ "version": version, "run_id": run_id }).to_string();
            sqlx::query("SELECT pg_notify($1, $2)").bind(UPDATED_CHANNEL).bind(payload).execute(&mut **t).await?;
        }
        Ok(version)
    }
}

/// Forwards PostgreSQL notifications on [`UPDATED_CHANNEL`]. On a lost connection sqlx reconnects
/// and re-listens; anything sent meanwhile is caught by polling, which the reconnect also triggers.
async fn listen(pool: sqlx::PgPool, notified: tokio::sync::mpsc::Sender<()>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the notification listener; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(UPDATED_CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying in 1 s");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        // Catch up on anything committed before LISTEN took effect.
        let _ = notified.try_send(());
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    tracing::debug!(payload = n.payload(), "data version notification");
                    let _ = notified.try_send(());
                }
                Ok(None) => {
                    // The connection was lost and sqlx reconnected: poll in case we missed something.
                    let _ = notified.try_send(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notification listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}
