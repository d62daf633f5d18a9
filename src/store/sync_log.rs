//! The daily sync's writes and its change log: `sync_changes_log` (TickStock's table, plus our `run_id`),
//! symbols deactivated as delisted, and the memberships of given symbols.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError, Tx, on_conn, on_pool};
use crate::domain::{Environment, GroupKind};

/// One change a sync made (or, in a dry run, would make).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncChange {
    /// What kind of change: `reference`, `delisting`, …
    pub change_type: String,
    /// The universe or group it concerns (`ETF:SPY`), if any.
    pub universe: Option<String>,
    /// The symbol it concerns, if any.
    pub symbol: Option<String>,
    /// `added`, `updated`, `deactivated`, `removed`, …
    pub action: String,
    /// Why, in words.
    pub reason: String,
    /// Details (the values before and after).
    pub metadata: Option<Value>,
}

/// A stored change, with when and by which run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SyncChangeRow {
    pub id: i32,
    pub change_type: String,
    pub universe: Option<String>,
    pub symbol: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub metadata: Option<Json<Value>>,
    pub created_at: Option<NaiveDateTime>,
    pub run_id: Option<i64>,
}

/// A membership of a symbol: the group's id, kind and name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SymbolMembership {
    pub group_id: i32,
    pub kind: GroupKind,
    pub group: String,
    pub symbol: String,
}

impl Tx {
    /// Appends changes to `sync_changes_log`, tied to a run.
    pub async fn insert_sync_changes(
        &mut self,
        run_id: i64,
        changes: &[SyncChange],
        at: NaiveDateTime,
    ) -> Result<(), StoreError> {
        for c in changes {
            on_conn!(self, conn => {
                sqlx::query(
                    "INSERT INTO sync_changes_log (change_type, universe, symbol, action, reason, metadata, created_at, run_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&c.change_type)
                .bind(c.universe.as_deref())
                .bind(c.symbol.as_deref())
                .bind(&c.action)
                .bind(&c.reason)
                .bind(c.metadata.as_ref().map(Json))
                .bind(at)
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            });
        }
        Ok(())
    }

    /// Marks symbols inactive, delisted at `at` (the rows stay: history and bars keep their symbol), or active
    /// again (listed again: the delisting date is cleared).
    pub async fn set_active(&mut self, symbols: &[&str], active: bool, at: DateTime<Utc>) -> Result<(), StoreError> {
        if symbols.is_empty() {
            return Ok(());
        }
        self.touch_symbols(symbols.iter().copied());
        let list = serde_json::to_string(symbols).expect("symbols serialize");
        let sql = format!(
            "UPDATE symbols SET active = $1, delisted_utc = $2, last_updated = $3 WHERE symbol IN ({})",
            self.backend().json_list_values("$4")
        );
        let delisted = (!active).then_some(at);
        on_conn!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(active)
                .bind(delisted)
                .bind(at.naive_utc())
                .bind(list)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// The last daily close of every symbol with bars.
    pub async fn last_closes(&mut self) -> Result<std::collections::HashMap<String, f64>, StoreError> {
        let rows: Vec<(String, f64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT d.symbol, CAST(d.close AS DOUBLE PRECISION) FROM ohlcv_daily d \
             JOIN (SELECT symbol, MAX(date) AS date FROM ohlcv_daily GROUP BY symbol) l \
             ON l.symbol = d.symbol AND l.date = d.date",
        )
        .fetch_all(&mut *c)
        .await?);
        Ok(rows.into_iter().collect())
    }

    /// Every membership of these symbols in an environment.
    pub async fn memberships_of(
        &mut self,
        env: Environment,
        symbols: &[&str],
    ) -> Result<Vec<SymbolMembership>, StoreError> {
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(symbols).expect("symbols serialize");
        let sql = format!(
            "SELECT g.id, g.type, g.name, m.symbol FROM group_memberships m JOIN definition_groups g ON g.id = m.group_id \
             WHERE g.environment = $1 AND m.symbol IN ({}) ORDER BY g.type, g.name, m.symbol",
            self.backend().json_list_values("$2")
        );
        let rows: Vec<(i32, String, String, String)> = on_conn!(self, c =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(list).fetch_all(&mut *c).await?);
        rows.into_iter()
            .map(|(group_id, kind, group, symbol)| {
                let kind = GroupKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("group {group} has an unknown type {kind:?}")))?;
                Ok(SymbolMembership { group_id, kind, group, symbol })
            })
            .collect()
    }
}

impl Store {
    /// The change log, newest first: since a day, of one symbol, at most `limit` rows.
    pub async fn sync_changes(
        &self,
        since: Option<NaiveDate>,
        symbol: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SyncChangeRow>, StoreError> {
        let since = since.and_then(|d| d.and_hms_opt(0, 0, 0));
        let rows = on_pool!(self, p => sqlx::query_as(
            "SELECT id, change_type, universe, symbol, action, reason, metadata, created_at, run_id \
             FROM sync_changes_log WHERE ($1 IS NULL OR created_at >= $1) AND ($2 IS NULL OR symbol = $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(since)
        .bind(symbol)
        .bind(limit)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }
}
