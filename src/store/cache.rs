//! `cache_entries`: TickStock's JSON cache rows (the universe rows are built by `organize`).

use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError, on_pool};
use crate::domain::Environment;

impl Store {
    /// Values of the rows of a type with a key (case-insensitive), with their names.
    pub async fn cache_values(
        &self,
        env: Environment,
        kind: &str,
        key: &str,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let rows: Vec<(String, Json<Value>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT name, value FROM cache_entries WHERE environment = $1 AND type = $2 AND LOWER(key) = LOWER($3) \
             ORDER BY name",
        )
        .bind(env.as_str())
        .bind(kind)
        .bind(key)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(n, v)| (n, v.0)).collect())
    }
}
