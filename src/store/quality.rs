//! The reads behind `universe validate`, run inside a transaction so they see one consistent state — a read
//! transaction for the command, or a load's own write transaction for its structural checks.
//!
//! Lists come back aggregated per group (`GROUP_CONCAT` / `string_agg`), so validating tens of thousands of
//! memberships transfers tens of rows; the checks themselves run in Rust.

use chrono::NaiveDateTime;
use sqlx::types::Json;

use super::{Conn, OrganizeRecord, Store, StoreError, Tx, on_conn};
use crate::domain::Environment;

/// (type, name) of a group.
pub type GroupKey = (String, String);

/// A group, its last change, and its member symbols.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupList {
    pub kind: String,
    pub name: String,
    /// `updated_at`.
    pub updated_at: Option<NaiveDateTime>,
    /// Member symbols as stored.
    pub symbols: Vec<String>,
}

/// Separator for aggregated lists: ASCII unit separator, which no stored symbol contains.
const SEP: char = '\u{1f}';

fn split(list: Option<String>) -> Vec<String> {
    list.map(|l| l.split(SEP).map(str::to_string).collect()).unwrap_or_default()
}

impl Store {
    /// Starts a read-only transaction over one consistent snapshot (no write lock).
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Store::Sqlite(p) => Conn::Sqlite(p.begin().await?),
            Store::Postgres(p) => {
                let mut t = p.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *t).await?;
                Conn::Postgres(t)
            }
        }
        .into())
    }
}

impl Tx {
    fn agg(&self, column: &str) -> String {
        self.backend().list_agg(column)
    }

    /// Every group (of one kind, or all) with its members, empty groups included.
    pub async fn group_lists(&mut self, env: Environment, kind: Option<&str>) -> Result<Vec<GroupList>, StoreError> {
        let sql = format!(
            "SELECT g.type, g.name, g.updated_at, {} FROM definition_groups g \
             LEFT JOIN group_memberships m ON m.group_id = g.id WHERE g.environment = $1 AND ($2 IS NULL OR g.type = $2) \
             GROUP BY g.id, g.type, g.name, g.updated_at ORDER BY g.type, g.name",
            self.agg("m.symbol")
        );
        let rows: Vec<(String, String, Option<NaiveDateTime>, Option<String>)> = on_conn!(self, c =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(kind).fetch_all(&mut *c).await?);
        Ok(rows
            .into_iter()
            .map(|(kind, name, updated_at, list)| GroupList { kind, name, updated_at, symbols: split(list) })
            .collect())
    }

    /// Symbols with an open history interval, per group (of one kind, or all).
    pub async fn open_history_lists(
        &mut self,
        env: Environment,
        kind: Option<&str>,
    ) -> Result<Vec<(String, String, Vec<String>)>, StoreError> {
        let sql = format!(
            "SELECT group_type, group_name, {} FROM membership_history WHERE environment = $1 AND valid_to IS NULL \
             AND ($2 IS NULL OR group_type = $2) GROUP BY group_type, group_name",
            self.agg("symbol")
        );
        let rows: Vec<(String, String, Option<String>)> = on_conn!(self, c =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(kind).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(|(k, n, l)| (k, n, split(l))).collect())
    }

    /// Every symbol in the `symbols` table.
    pub async fn symbol_keys(&mut self) -> Result<Vec<String>, StoreError> {
        let sql = format!("SELECT {} FROM symbols", self.agg("symbol"));
        let list: Option<String> =
            on_conn!(self, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *c).await?);
        Ok(split(list))
    }

    /// `cache_entries` universe rows: (type, name, key, value text, updated_at). The value comes back as text so a
    /// row that does not parse can be reported rather than failing the query.
    pub async fn cache_universe_rows(
        &mut self,
        env: Environment,
    ) -> Result<Vec<(String, String, String, String, Option<NaiveDateTime>)>, StoreError> {
        let value = self.backend().json_text("value");
        let sql = format!(
            "SELECT type, name, key, {value}, updated_at FROM cache_entries \
             WHERE environment = $1 AND type IN ('stock_universe', 'etf_universe') ORDER BY type, key, name"
        );
        let rows =
            on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// The details of the last applied organize run (which group each cache row was built from).
    pub async fn last_organize_details(&mut self, env: Environment) -> Result<Option<OrganizeRecord>, StoreError> {
        let row: Option<Option<Json<serde_json::Value>>> = on_conn!(self, c => sqlx::query_scalar(
            "SELECT details FROM load_runs WHERE kind = 'organize' AND environment = $1 AND status = 'applied' \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(env.as_str())
        .fetch_optional(&mut *c)
        .await?);
        // Details that do not parse vouch for nothing: validate then reads every row.
        Ok(row.flatten().and_then(|j| serde_json::from_value(j.0).ok()))
    }
}
