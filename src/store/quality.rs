//! The queries behind `universe validate`, run inside a transaction so they see one consistent state — a read
//! transaction for the command, or a load's own write transaction for its structural checks.

use chrono::NaiveDateTime;
use serde_json::Value;
use sqlx::types::Json;

use super::{Backend, Store, StoreError, Tx, on_conn};
use crate::domain::Environment;

/// (type, name) of a group.
pub type GroupKey = (String, String);

impl Store {
    /// Starts a read-only transaction over one consistent snapshot (no write lock).
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Store::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Store::Postgres(p) => {
                let mut t = p.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *t).await?;
                Tx::Postgres(t)
            }
        })
    }
}

const MEMBERS: &str = "group_memberships m JOIN definition_groups g ON g.id = m.group_id";

impl Tx {
    /// Groups with no members.
    pub async fn empty_groups(&mut self, env: Environment) -> Result<Vec<GroupKey>, StoreError> {
        let rows = on_conn!(self, c => sqlx::query_as(
            "SELECT g.type, g.name FROM definition_groups g WHERE g.environment = $1 \
             AND NOT EXISTS (SELECT 1 FROM group_memberships m WHERE m.group_id = g.id) ORDER BY g.type, g.name",
        )
        .bind(env.as_str())
        .fetch_all(&mut *c)
        .await?);
        Ok(rows)
    }

    /// Members of index and ETF groups that are in no sector.
    pub async fn orphans(&mut self, env: Environment) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT m.symbol FROM {MEMBERS} WHERE g.environment = $1 AND g.type IN ('ETF', 'UNIVERSE') \
             AND NOT EXISTS (SELECT 1 FROM group_memberships sm JOIN definition_groups sg ON sg.id = sm.group_id \
                             WHERE sg.environment = $1 AND sg.type = 'SECTOR' AND sm.symbol = m.symbol) \
             ORDER BY m.symbol"
        );
        let rows = on_conn!(self, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// (symbol, sector) for every sector membership, ordered by symbol.
    pub async fn sector_memberships(&mut self, env: Environment) -> Result<Vec<(String, String)>, StoreError> {
        let sql = format!(
            "SELECT m.symbol, g.name FROM {MEMBERS} WHERE g.environment = $1 AND g.type = 'SECTOR' \
             ORDER BY m.symbol, g.name"
        );
        let rows =
            on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// Every (type, name, symbol) membership.
    pub async fn memberships(&mut self, env: Environment) -> Result<Vec<(String, String, String)>, StoreError> {
        let sql = format!("SELECT g.type, g.name, m.symbol FROM {MEMBERS} WHERE g.environment = $1");
        let rows =
            on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// Every symbol in the `symbols` table.
    pub async fn symbol_keys(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = on_conn!(self, c => sqlx::query_scalar("SELECT symbol FROM symbols").fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// All groups with their last change.
    pub async fn group_rows(
        &mut self,
        env: Environment,
    ) -> Result<Vec<(String, String, Option<NaiveDateTime>)>, StoreError> {
        let rows = on_conn!(self, c => sqlx::query_as(
            "SELECT type, name, updated_at FROM definition_groups WHERE environment = $1 ORDER BY type, name",
        )
        .bind(env.as_str())
        .fetch_all(&mut *c)
        .await?);
        Ok(rows)
    }

    /// Memberships with no open history interval.
    pub async fn memberships_without_history(
        &mut self,
        env: Environment,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let sql = format!(
            "SELECT g.type, g.name, m.symbol FROM {MEMBERS} WHERE g.environment = $1 AND NOT EXISTS \
             (SELECT 1 FROM membership_history h WHERE h.environment = g.environment AND h.group_type = g.type \
              AND h.group_name = g.name AND h.symbol = m.symbol AND h.valid_to IS NULL) ORDER BY 1, 2, 3"
        );
        let rows =
            on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// `cache_entries` universe rows: (type, name, key, value text, updated_at). The value comes back as text so a
    /// row that does not parse can be reported rather than failing the query.
    pub async fn cache_universe_rows(
        &mut self,
        env: Environment,
    ) -> Result<Vec<(String, String, String, String, Option<NaiveDateTime>)>, StoreError> {
        let value = match self.backend() {
            Backend::Postgres => "value::text",
            Backend::Sqlite => "value",
        };
        let sql = format!(
            "SELECT type, name, key, {value}, updated_at FROM cache_entries \
             WHERE environment = $1 AND type IN ('stock_universe', 'etf_universe') ORDER BY type, key, name"
        );
        let rows =
            on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).fetch_all(&mut *c).await?);
        Ok(rows)
    }

    /// The details of the last applied organize run (which group each cache row was built from).
    pub async fn last_organize_details(&mut self, env: Environment) -> Result<Option<Value>, StoreError> {
        let row: Option<Option<Json<Value>>> = on_conn!(self, c => sqlx::query_scalar(
            "SELECT details FROM load_runs WHERE kind = 'organize' AND environment = $1 AND status = 'applied' \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(env.as_str())
        .fetch_optional(&mut *c)
        .await?);
        Ok(row.flatten().map(|j| j.0))
    }
}
