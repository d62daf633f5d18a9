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

/// A validation run's results, stored over its claim.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the fields of [`ValidationRow`]
pub struct NewValidation<'a> {
    pub checked_at: DateTime<Utc>,
    pub result: &'a str,
    pub unknown_share: Option<f64>,
    pub integrity: f64,
    pub checks: &'a [StoredCheck],
    pub delivered: bool,
}

/// The `result` of a run claimed whose checks are not stored yet (never shown, never compared with).
const RUNNING: &str = "RUNNING";

const COLUMNS: &str = "id, checked_at, result, unknown_share, integrity, checks, delivered, slot";

impl Store {
    /// Claims a validation run before its checks: `None` when its slot is already taken (another replica runs
    /// this interval's). `options` names the thresholds it runs with.
    pub async fn claim_validation(
        &self,
        env: Environment,
        options: &str,
        slot: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "INSERT INTO validation_runs \
                   (environment, checked_at, result, integrity, checks, delivered, slot, options) \
                   VALUES ($1, $2, $3, 0, '[]', FALSE, $4, $5) ON CONFLICT (slot) DO NOTHING RETURNING id";
        Ok(on_pool!(self, p => sqlx::query_scalar::<_, i64>(sql)
            .bind(env.as_str())
            .bind(at)
            .bind(RUNNING)
            .bind(slot)
            .bind(options)
            .fetch_optional(p)
            .await?))
    }

    /// Stores a claimed run's results.
    pub async fn finish_validation(&self, id: i64, v: &NewValidation<'_>) -> Result<(), StoreError> {
        let sql = "UPDATE validation_runs SET checked_at = $2, result = $3, unknown_share = $4, integrity = $5, \
                   checks = $6, delivered = $7 WHERE id = $1";
        on_pool!(self, p => sqlx::query(sql)
            .bind(id)
            .bind(v.checked_at)
            .bind(v.result)
            .bind(v.unknown_share)
            .bind(v.integrity)
            .bind(sqlx::types::Json(v.checks))
            .bind(v.delivered)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Marks a run's alerts delivered.
    pub async fn validation_delivered(&self, id: i64) -> Result<(), StoreError> {
        let sql = "UPDATE validation_runs SET delivered = TRUE WHERE id = $1";
        on_pool!(self, p => sqlx::query(sql).bind(id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// The latest finished runs of an environment, newest first.
    pub async fn validations(&self, env: Environment, limit: i64) -> Result<Vec<ValidationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM validation_runs WHERE environment = $1 AND result <> $2 ORDER BY id DESC LIMIT $3"
        );
        Ok(on_pool!(self, p => sqlx::query_as::<_, ValidationRow>(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str()).bind(RUNNING).bind(limit).fetch_all(p).await?))
    }

    /// What an alerting run compares with: the latest run with the same thresholds whose alerts went out.
    pub async fn validation_base(&self, env: Environment, options: &str) -> Result<Option<ValidationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM validation_runs WHERE environment = $1 AND delivered AND options = $2 \
             ORDER BY id DESC LIMIT 1"
        );
        Ok(on_pool!(self, p => sqlx::query_as::<_, ValidationRow>(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str()).bind(options).fetch_optional(p).await?))
    }
}
