//! `symbol_aliases`: every ticker a security has had (FB, then META), with the days it held each, keyed by the
//! security's composite FIGI, so a lookup by any of its names finds the one security.

use chrono::NaiveDate;
use serde::Serialize;

use super::{Store, StoreError, Tx, on_conn, on_pool};

/// One ticker of a security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Alias {
    /// The security (its composite FIGI).
    pub security_id: String,
    /// The ticker.
    pub symbol: String,
    /// First day under this ticker, when known.
    pub valid_from: Option<NaiveDate>,
    /// The day it changed to the next ticker (`None`: the current one).
    pub valid_to: Option<NaiveDate>,
    /// The security's name.
    pub name: Option<String>,
    /// Where it came from (`massive ticker events`).
    pub source: String,
}

impl Tx {
    /// Replaces a security's tickers.
    pub async fn replace_aliases(&mut self, security_id: &str, rows: &[Alias]) -> Result<(), StoreError> {
        on_conn!(self, c => {
            sqlx::query("DELETE FROM symbol_aliases WHERE security_id = $1").bind(security_id).execute(&mut *c).await?;
        });
        for a in rows {
            on_conn!(self, c => {
                sqlx::query(
                    "INSERT INTO symbol_aliases (security_id, symbol, valid_from, valid_to, name, source) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&a.security_id)
                .bind(&a.symbol)
                .bind(a.valid_from)
                .bind(a.valid_to)
                .bind(&a.name)
                .bind(&a.source)
                .execute(&mut *c)
                .await?;
            });
        }
        self.touch_everything();
        Ok(())
    }
}

impl Tx {
    /// Every ticker of every security, for the relationship snapshot.
    pub async fn snapshot_aliases(&mut self) -> Result<Vec<Alias>, StoreError> {
        Ok(on_conn!(self, c => sqlx::query_as(
            "SELECT security_id, symbol, valid_from, valid_to, name, source FROM symbol_aliases \
             ORDER BY security_id, valid_from IS NOT NULL, valid_from",
        )
        .fetch_all(&mut *c)
        .await?))
    }
}

impl Store {
    /// Every ticker of every security, ordered by security and start (an unknown start first, on both backends).
    pub async fn aliases(&self) -> Result<Vec<Alias>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT security_id, symbol, valid_from, valid_to, name, source FROM symbol_aliases \
             ORDER BY security_id, valid_from IS NOT NULL, valid_from",
        )
        .fetch_all(p)
        .await?))
    }
}
