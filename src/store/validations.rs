//! Stored validation runs (`validation_runs`): what each `validate` found, with the two figures alerts compare
//! (the unknown-sector share and the integrity: the share of checks that pass), whether its alerts were delivered,
//! and the slot of a scheduled run (unique: one row per interval however many replicas schedule it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, on_pool};
use crate::domain::Environment;

/// One check as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field holds
pub struct StoredCheck {
    pub id: String,
    pub title: String,
    /// `PASS`, `WARN` or `FAIL`.
    pub level: String,
    pub detail: String,
    pub count: usize,
    /// The first offending items.
    pub items: Vec<String>,
}

/// A validation run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ValidationRow {
    /// Its id.
    pub id: i64,
    /// When it ran.
    pub checked_at: DateTime<Utc>,
    /// The worst verdict: `PASS`, `WARN` or `FAIL`.
    pub result: String,
    /// Percent of classified stocks in `unknown` (none when no sector is loaded).
    pub unknown_share: Option<f64>,
    /// Percent of checks that pass.
    pub integrity: f64,
    /// Every check.
    #[sqlx(json)]
    pub checks: Vec<StoredCheck>,
    /// It ran with a webhook and its alerts were delivered (or it had none): later alerting runs compare with it.
    pub delivered: bool,
    /// A scheduled run's interval.
    pub slot: Option<String>,
}

/// A validation run to store.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the fields of [`ValidationRow`]
pub struct NewValidation<'a> {
    pub environment: Environment,
    pub checked_at: DateTime<Utc>,
    pub result: &'a str,
    pub unknown_share: Option<f64>,
    pub integrity: f64,
    pub checks: &'a [StoredCheck],
    pub delivered: bool,
    pub slot: Option<&'a str>,
}

const COLUMNS: &str = "id, checked_at, result, unknown_share, integrity, checks, delivered, slot";

impl Store {
    /// Stores a validation run; `None` when its slot is already taken (another replica ran this interval's).
    pub async fn record_validation(&self, v: &NewValidation<'_>) -> Result<Option<i64>, StoreError> {
        let sql = "INSERT INTO validation_runs \
                   (environment, checked_at, result, unknown_share, integrity, checks, delivered, slot) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (slot) DO NOTHING RETURNING id";
        Ok(on_pool!(self, p => sqlx::query_scalar::<_, i64>(sql)
            .bind(v.environment.as_str())
            .bind(v.checked_at)
            .bind(v.result)
            .bind(v.unknown_share)
            .bind(v.integrity)
            .bind(sqlx::types::Json(v.checks))
            .bind(v.delivered)
            .bind(v.slot)
            .fetch_optional(p)
            .await?))
    }

    /// Marks a run's alerts delivered.
    pub async fn validation_delivered(&self, id: i64) -> Result<(), StoreError> {
        let sql = "UPDATE validation_runs SET delivered = TRUE WHERE id = $1";
        on_pool!(self, p => sqlx::query(sql).bind(id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// The latest runs of an environment, newest first; with `delivered`, only those whose alerts went out.
    pub async fn validations(
        &self,
        env: Environment,
        delivered: bool,
        limit: i64,
    ) -> Result<Vec<ValidationRow>, StoreError> {
        let filter = if delivered { "AND delivered" } else { "" };
        let sql =
            format!("SELECT {COLUMNS} FROM validation_runs WHERE environment = $1 {filter} ORDER BY id DESC LIMIT $2");
        Ok(on_pool!(self, p => sqlx::query_as::<_, ValidationRow>(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str()).bind(limit).fetch_all(p).await?))
    }
}
