//! Reads and writes for export and import: whole-environment history, and replacing an environment's data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::QueryBuilder;
use sqlx::types::Json;

use super::{BATCH_ROWS, Store, StoreError, Tx, on_conn, on_pool};
use crate::domain::Environment;

/// A history interval as exported. Run ids are left out: they point at `load_runs`, which is an audit log of this
/// database, not data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct HistoryInterval {
    /// Group type.
    pub group_type: String,
    /// Group name.
    pub group_name: String,
    pub symbol: String,
    /// Weight as a fraction.
    pub weight: Option<f64>,
    /// Membership metadata.
    #[sqlx(json(nullable))]
    pub metadata: Option<Value>,
    pub valid_from: DateTime<Utc>,
    /// End (`None`: still open).
    pub valid_to: Option<DateTime<Utc>>,
}

impl Store {
    /// Every history interval of an environment, ordered by group, symbol and start.
    pub async fn history(&self, env: Environment) -> Result<Vec<HistoryInterval>, StoreError> {
        let rows = on_pool!(self, p => sqlx::query_as(
            "SELECT group_type, group_name, symbol, CAST(weight AS DOUBLE PRECISION) AS weight, metadata, valid_from, valid_to \
             FROM membership_history WHERE environment = $1 ORDER BY group_type, group_name, symbol, valid_from, id",
        )
        .bind(env.as_str())
        .fetch_all(p)
        .await?);
        Ok(rows)
    }
}

impl Tx {
    /// Deletes an environment's groups (memberships go with them) and history.
    pub async fn delete_environment_groups(&mut self, env: Environment) -> Result<(), StoreError> {
        self.touch_everything();
        for sql in [
            "DELETE FROM definition_groups WHERE environment = $1",
            "DELETE FROM membership_history WHERE environment = $1",
        ] {
            on_conn!(self, c => {
                sqlx::query(sql).bind(env.as_str()).execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Inserts history intervals as given (no run ids), in batches.
    pub async fn insert_history(&mut self, env: Environment, rows: &[HistoryInterval]) -> Result<(), StoreError> {
        self.touch_history();
        for chunk in rows.chunks(BATCH_ROWS) {
            on_conn!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO membership_history \
                     (environment, group_type, group_name, symbol, weight, metadata, valid_from, valid_to) ",
                );
                qb.push_values(chunk, |mut b, h| {
                    b.push_bind(env.as_str())
                        .push_bind(h.group_type.as_str())
                        .push_bind(h.group_name.as_str())
                        .push_bind(h.symbol.as_str())
                        .push_bind(h.weight)
                        .push_bind(h.metadata.as_ref().map(Json))
                        .push_bind(h.valid_from)
                        .push_bind(h.valid_to);
                });
                qb.build().execute(&mut *c).await?;
            });
        }
        Ok(())
    }
}
