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

/// The items of a list aggregated by the store (as [`Tx::open_history_lists`] returns them).
pub fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(SEP).filter(|s| !s.is_empty())
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

/// A list of names as the JSON array parameter of `IN (…)`; `None` for no filter.
fn names_param(names: Option<&[&str]>) -> Option<String> {
    names.map(|n| serde_json::to_string(n).expect("names serialize"))
}

impl Tx {
    /// `AND column IN (the names in $3)`, or `AND $3 IS NULL` when every name is wanted (one condition `$3 IS
    /// NULL OR …` would keep SQLite from using the index).
    fn names_filter(&self, column: &str, names: Option<&[&str]>) -> String {
        match names {
            Some(_) => format!("AND {column} IN ({})", self.backend().json_list_values("$3")),
            None => "AND $3 IS NULL".to_string(),
        }
    }

    fn agg(&self, column: &str) -> String {
        self.backend().list_agg(column)
    }

    /// Every group (of one kind, or all; of some names, or all) with its members, empty groups included.
    pub async fn group_lists(
        &mut self,
        env: Environment,
        kind: Option<&str>,
        names: Option<&[&str]>,
    ) -> Result<Vec<GroupList>, StoreError> {
        let sql = format!(
            "SELECT g.type, g.name, g.updated_at, {} FROM definition_groups g \
             LEFT JOIN group_memberships m ON m.group_id = g.id WHERE g.environment = $1 AND ($2 IS NULL OR g.type = $2) \
             {} GROUP BY g.id, g.type, g.name, g.updated_at ORDER BY g.type, g.name",
            self.agg("m.symbol"),
            self.names_filter("g.name", names)
        );
        let names = names_param(names);
        let rows: Vec<(String, String, Option<NaiveDateTime>, Option<String>)> = on_conn!(self, c =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(kind).bind(&names).fetch_all(&mut *c).await?);
        Ok(rows
            .into_iter()
            .map(|(kind, name, updated_at, list)| GroupList { kind, name, updated_at, symbols: split(list) })
            .collect())
    }

    /// Symbols with an open history interval, per group (of one kind, or all; of some names, or all), joined
    /// (see [`split_list`]).
    pub async fn open_history_lists(
        &mut self,
        env: Environment,
        kind: Option<&str>,
        names: Option<&[&str]>,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let sql = format!(
            "SELECT group_type, group_name, {} FROM membership_history WHERE environment = $1 AND valid_to IS NULL \
             AND ($2 IS NULL OR group_type = $2) {} GROUP BY group_type, group_name",
            self.agg("symbol"),
            self.names_filter("group_name", names)
        );
        let names = names_param(names);
        let rows: Vec<(String, String, Option<String>)> = on_conn!(self, c =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(kind).bind(&names).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(|(k, n, l)| (k, n, l.unwrap_or_default())).collect())
    }

    /// Every group's (type, name) (of one kind, or all).
    pub async fn group_keys(&mut self, env: Environment, kind: Option<&str>) -> Result<Vec<GroupKey>, StoreError> {
        let rows = on_conn!(self, c => sqlx::query_as(
            "SELECT type, name FROM definition_groups WHERE environment = $1 AND ($2 IS NULL OR type = $2)",
        )
        .bind(env.as_str())
        .bind(kind)
        .fetch_all(&mut *c)
        .await?);
        Ok(rows)
    }

    /// Every group with its `updated_at` and no members.
    pub async fn group_stamps(&mut self, env: Environment) -> Result<Vec<GroupList>, StoreError> {
        let rows: Vec<(String, String, Option<NaiveDateTime>)> = on_conn!(self, c => sqlx::query_as(
            "SELECT type, name, updated_at FROM definition_groups WHERE environment = $1 ORDER BY type, name",
        )
        .bind(env.as_str())
        .fetch_all(&mut *c)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(kind, name, updated_at)| GroupList { kind, name, updated_at, symbols: Vec::new() })
            .collect())
    }

    /// The distinct member symbols of groups of some kinds.
    pub async fn distinct_members(&mut self, env: Environment, kinds: &[&str]) -> Result<Vec<String>, StoreError> {
        let kinds = serde_json::to_string(kinds).expect("kinds serialize");
        let sql = format!(
            "SELECT DISTINCT m.symbol FROM group_memberships m JOIN definition_groups g ON g.id = m.group_id \
             WHERE g.environment = $1 AND g.type IN ({})",
            self.backend().json_list_values("$2")
        );
        let rows = on_conn!(self, c =>
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(kinds).fetch_all(&mut *c).await?);
        Ok(rows)
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
