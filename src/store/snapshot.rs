//! What the relationship cache is built from, read in one consistent transaction, and the data version that
//! tells serving processes when to rebuild it.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;

use super::{Backend, Conn, Store, StoreError, Tx, on_conn, on_pool};
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

/// One group's memberships as SQLite's JSON document carries them: tickers borrowed from the text (no string is
/// allocated for a ticker the snapshot already knows) and weights in basis points (the stored `numeric(5,4)`
/// fraction × 10,000: integers cost less to render and parse than decimals).
#[derive(serde::Deserialize)]
struct MembersJson<'a> {
    #[serde(borrow)]
    symbols: Vec<std::borrow::Cow<'a, str>>,
    weights: Vec<Option<i64>>,
}

/// The industry a sector membership records: group id, symbol, industry.
pub type SnapshotIndustry = (i32, String, String);

/// A symbol's metadata: symbol, name, type, exchange, sector, industry, market cap.
pub type SnapshotSymbol =
    (String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>);

/// A `stock_universe` / `etf_universe` row: type, name, key, and as JSON text either the value or, where
/// organize recorded it for the value now stored, the value's ticker list.
pub type SnapshotCacheRow = (String, String, String, String);

/// What a transaction changed of what the relationship cache holds. Writers record it as they go
/// ([`Tx::touch_groups`] and friends); [`Tx::bump_data_version`] stores it beside the new version, so a serving
/// process that holds the previous version re-reads only these parts.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Touched {
    /// `definition_groups` ids whose memberships changed, or that were inserted or deleted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<i32>,
    /// `definition_groups` ids whose row only was updated (a full-mode reload restamps every group it is given):
    /// a reader re-reads the row and keeps the members it has.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub group_rows: BTreeSet<i32>,
    /// Tickers whose `symbols` row was inserted, updated or deleted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub symbols: BTreeSet<String>,
    /// `stock_universe` / `etf_universe` rows or their ticker lists changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache_rows: bool,
    /// `membership_history` changed (intervals opened, closed, loaded or deleted): the snapshot's history part
    /// is read again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
    /// Something changed that was not itemised (an import replacing an environment): read everything again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub everything: bool,
}

/// A history interval as the snapshot reads it: group type, group name, symbol, weight (a fraction), start, end
/// (`None`: open).
pub type SnapshotInterval =
    (String, String, String, Option<f64>, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>);

/// More changed symbols than this in one version are recorded as "everything" (a full symbols refresh): the
/// log stays small and a full rebuild is as quick as the itemised re-read by then.
const MAX_ITEMISED_SYMBOLS: usize = 20_000;

/// Versions kept in `universe_data_changes`: a replica further behind than this rebuilds in full.
const CHANGES_KEPT: i64 = 1000;

impl Touched {
    /// Whether nothing was touched.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.group_rows.is_empty()
            && self.symbols.is_empty()
            && !self.cache_rows
            && !self.history
            && !self.everything
    }

    /// Adds another version's changes.
    pub fn merge(&mut self, other: Touched) {
        self.groups.extend(other.groups);
        self.group_rows.extend(other.group_rows);
        self.symbols.extend(other.symbols);
        self.cache_rows |= other.cache_rows;
        self.history |= other.history;
        self.everything |= other.everything;
    }
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
}

impl Tx {
    /// Records that groups (by `definition_groups.id`) changed: memberships, or the group itself came or went.
    pub(crate) fn touch_groups(&mut self, ids: impl IntoIterator<Item = i32>) {
        self.touched.groups.extend(ids);
    }

    /// Records that a group's row (not its memberships) was written.
    pub(crate) fn touch_group_row(&mut self, id: i32) {
        self.touched.group_rows.insert(id);
    }

    /// Records that `symbols` rows changed.
    pub(crate) fn touch_symbols<'a>(&mut self, tickers: impl IntoIterator<Item = &'a str>) {
        if !self.touched.everything {
            self.touched.symbols.extend(tickers.into_iter().map(str::to_string));
        }
    }

    /// Records that universe cache rows changed.
    pub(crate) fn touch_cache_rows(&mut self) {
        self.touched.cache_rows = true;
    }

    /// Records that `membership_history` rows changed.
    pub(crate) fn touch_history(&mut self) {
        self.touched.history = true;
    }

    /// Records a change too wide to itemise.
    pub(crate) fn touch_everything(&mut self) {
        self.touched = Touched { everything: true, ..Touched::default() };
    }

    /// The data version as this transaction sees it.
    pub async fn data_version(&mut self) -> Result<i64, StoreError> {
        let v: i64 = on_conn!(self, c => sqlx::query_scalar("SELECT version FROM universe_data_version WHERE id = 1")
            .fetch_one(&mut *c)
            .await?);
        Ok(v)
    }

    /// What the versions after `from` up to `to` changed, merged; `None` when any of them is missing from the log
    /// (written by an older build, or pruned) or changed everything: the reader must rebuild in full.
    pub async fn changes_between(&mut self, from: i64, to: i64) -> Result<Option<Touched>, StoreError> {
        if to < from || to - from > CHANGES_KEPT {
            return Ok(None);
        }
        let rows: Vec<(i64, String)> = on_conn!(self, c => sqlx::query_as(
            "SELECT version, touched FROM universe_data_changes WHERE version > $1 AND version <= $2 ORDER BY version")
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await?);
        if rows.len() as i64 != to - from {
            return Ok(None);
        }
        let mut all = Touched::default();
        for (version, text) in rows {
            match serde_json::from_str::<Touched>(&text) {
                Ok(t) => all.merge(t),
                Err(e) => {
                    // Unreadable (hand-edited, or written by a newer build): a full rebuild is always correct,
                    // and failing here would keep every refresh failing until the row is pruned.
                    tracing::warn!(version, error = %e, "unreadable universe_data_changes row; rebuilding in full");
                    return Ok(None);
                }
            }
        }
        Ok((!all.everything).then_some(all))
    }

    /// `symbols` rows: all of them, or those of some tickers (absent ones have no row).
    pub async fn snapshot_symbols(&mut self, only: Option<&[&str]>) -> Result<Vec<SnapshotSymbol>, StoreError> {
        const COLUMNS: &str = "symbol, name, type, exchange, sector, industry, market_cap";
        let Some(only) = only else { return self.rows(COLUMNS, "symbols", None).await };
        let list = serde_json::to_string(only).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let from = format!("symbols WHERE symbol IN ({})", self.backend().json_list_values("$1"));
        self.rows(COLUMNS, &from, Some(&list)).await
    }

    /// Group rows of an environment (all, or some ids), ordered by type and name.
    pub async fn snapshot_groups(
        &mut self,
        env: Environment,
        only: Option<&[i32]>,
    ) -> Result<Vec<SnapshotGroup>, StoreError> {
        let sql = format!(
            "SELECT id, name, type, description, created_at, updated_at FROM definition_groups \
             WHERE environment = $1{} ORDER BY type, name",
            id_filter("id", only)
        );
        let groups = on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str())
            .fetch_all(&mut *c)
            .await?);
        Ok(groups)
    }

    /// Streams the memberships of an environment's groups (all, or some ids) to `each` as (group id, tickers,
    /// weights in basis points), one group at a time: one aggregated row per group on either backend (arrays on
    /// PostgreSQL, a JSON document on SQLite, whose rows decode slowly through sqlx), so only one group's rows
    /// are held at once. Industries come from [`Tx::snapshot_industries`].
    pub async fn snapshot_members(
        &mut self,
        env: Environment,
        only: Option<&[i32]>,
        mut each: impl FnMut(i32, &[&str], &[Option<i64>]),
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        // Exact for TickStock's numeric(5,4) column (and for REAL holding 4-decimal values); a float8 column
        // with more decimals could differ between backends only at an exact half basis point.
        const BPS: &str = "CAST(round(m.weight * 10000) AS INTEGER)";
        let from = format!(
            "FROM group_memberships m WHERE m.group_id IN (SELECT id FROM definition_groups WHERE environment = $1{}) \
             GROUP BY m.group_id",
            id_filter("id", only)
        );
        match &mut self.conn {
            Conn::Sqlite(t) => {
                let sql = format!(
                    "SELECT m.group_id, json_object('symbols', json_group_array(m.symbol), \
                     'weights', json_group_array({BPS})) {from}"
                );
                let mut rows =
                    sqlx::query_as::<_, (i32, String)>(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch(&mut **t);
                while let Some((group_id, text)) = rows.try_next().await? {
                    let members: MembersJson<'_> = serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("memberships of group {group_id}: {e}")))?;
                    let symbols: Vec<&str> = members.symbols.iter().map(|s| &**s).collect();
                    each(group_id, &symbols, &members.weights);
                }
            }
            Conn::Postgres(t) => {
                // The symbols joined into one text per group (not a text[]: an allocation per member to decode).
                let sql = format!(
                    "SELECT m.group_id, {}, array_agg(CAST({BPS} AS BIGINT)) {from}",
                    Backend::Postgres.list_agg("m.symbol")
                );
                type Row = (i32, String, Vec<Option<i64>>);
                let mut rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch(&mut **t);
                while let Some((group_id, symbols, weights)) = rows.try_next().await? {
                    let symbols: Vec<&str> = super::split_list(&symbols).collect();
                    each(group_id, &symbols, &weights);
                }
            }
        }
        Ok(())
    }

    /// The industries the sector memberships of an environment record (all sector groups, or some ids).
    pub async fn snapshot_industries(
        &mut self,
        env: Environment,
        only: Option<&[i32]>,
    ) -> Result<Vec<SnapshotIndustry>, StoreError> {
        let industry = self.backend().json_field("m.metadata", "industry");
        let from = format!(
            "group_memberships m WHERE m.group_id IN (SELECT id FROM definition_groups WHERE environment = $1 \
             AND type = 'SECTOR'{}) AND {industry} IS NOT NULL",
            id_filter("id", only)
        );
        self.rows(&format!("m.group_id, m.symbol, {industry}"), &from, Some(env.as_str())).await
    }

    /// The environment's `stock_universe` / `etf_universe` rows. A row's ticker list comes from
    /// `universe_cache_symbols` when organize wrote it for the value now stored (same size and updated_at), else
    /// from the value itself: the detailed values are MBs of JSON that PostgreSQL must render as text, the lists a
    /// fraction of that.
    pub async fn snapshot_cache_rows(&mut self, env: Environment) -> Result<Vec<SnapshotCacheRow>, StoreError> {
        let value = self.backend().json_text("c.value");
        let sql = format!(
            "SELECT c.type, c.name, c.key, COALESCE(s.symbols, {value}) FROM cache_entries c \
             LEFT JOIN universe_cache_symbols s ON {current} \
             WHERE c.environment = $1 AND c.type IN ('stock_universe', 'etf_universe') ORDER BY c.type, c.key, c.name",
            current = super::cache::list_is_current(self.backend()),
        );
        let rows = on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str())
            .fetch_all(&mut *c)
            .await?);
        Ok(rows)
    }

    /// Every membership interval of an environment (group type, group name, symbol, start, end), for the snapshot's
    /// history part, ordered by group, symbol and start.
    pub async fn snapshot_history(&mut self, env: Environment) -> Result<Vec<SnapshotInterval>, StoreError> {
        Ok(on_conn!(self, c => sqlx::query_as(
            "SELECT group_type, group_name, symbol, CAST(weight AS DOUBLE PRECISION), valid_from, valid_to \
             FROM membership_history \
             WHERE environment = $1 ORDER BY group_type, group_name, symbol, valid_from",
        )
        .bind(env.as_str())
        .fetch_all(&mut *c)
        .await?))
    }

    /// `SELECT columns FROM from` (with `$1` bound to `param` when given), decoded as tuples. SQLite returns the
    /// rows as one JSON array — sqlx decodes SQLite rows one at a time through a worker thread, a JSON document
    /// costs one parse — PostgreSQL as plain rows, which decode fast there.
    async fn rows<T>(&mut self, columns: &str, from: &str, param: Option<&str>) -> Result<Vec<T>, StoreError>
    where
        T: DeserializeOwned + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        match &mut self.conn {
            Conn::Sqlite(t) => {
                let sql = format!("SELECT json_group_array(json_array({columns})) FROM {from}");
                let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(param).fetch_one(&mut **t).await?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("rows of {from}: {e}")))
            }
            Conn::Postgres(t) => {
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

    /// Moves the data version on, inside the writing transaction, records what the transaction touched beside it
    /// (`universe_data_changes`, pruned to the last [`CHANGES_KEPT`] versions), and on PostgreSQL queues the
    /// notification (delivered to listeners only if and when the transaction commits). Returns the new version.
    pub async fn bump_data_version(&mut self, run_id: Option<i64>) -> Result<i64, StoreError> {
        let version: i64 = on_conn!(self, c => sqlx::query_scalar(
            "UPDATE universe_data_version SET version = version + 1, run_id = $1, changed_at = $2 \
             WHERE id = 1 RETURNING version")
            .bind(run_id)
            .bind(super::now().naive_utc())
            .fetch_one(&mut *c)
            .await?);
        let mut touched = std::mem::take(&mut self.touched);
        if touched.symbols.len() > MAX_ITEMISED_SYMBOLS {
            touched = Touched { everything: true, ..Touched::default() };
        }
        let text = serde_json::to_string(&touched).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_conn!(self, c => {
            sqlx::query("INSERT INTO universe_data_changes (version, touched) VALUES ($1, $2)")
                .bind(version)
                .bind(text)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM universe_data_changes WHERE version <= $1")
                .bind(version - CHANGES_KEPT)
                .execute(&mut *c)
                .await?;
        });
        if let Conn::Postgres(t) = &mut self.conn {
            let payload = serde_json::json!({ "version": version, "run_id": run_id }).to_string();
            sqlx::query("SELECT pg_notify($1, $2)").bind(UPDATED_CHANNEL).bind(payload).execute(&mut **t).await?;
        }
        Ok(version)
    }
}

/// ` AND column IN (ids…)` when only some ids are wanted (integers, written inline).
fn id_filter(column: &str, only: Option<&[i32]>) -> String {
    match only {
        None => String::new(),
        Some([]) => " AND 1 = 0".to_string(),
        Some(ids) => {
            let list = ids.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
            format!(" AND {column} IN ({list})")
        }
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
