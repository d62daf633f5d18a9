//! Reference data synced from the market API: `universe symbols refresh` (reference tickers and ticker
//! overviews → `symbols`).
//!
//! Three scopes: named symbols get the full overview (SIC code, market cap, listing date, shares outstanding;
//! one request each); the default walks the active-tickers list (about a page per 1,000 tickers) and updates
//! the symbols already stored; `--all` also inserts every listed stock and fund the table lacks. Values the API
//! leaves out never erase stored ones. The writes and their `load_runs` row commit together.

pub mod daily;
pub mod events;
pub mod rules;
pub mod schedule;
pub mod themes;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{Environment, RunKind, RunStatus, Ticker};
use crate::market::{MassiveClient, MassiveError, TickerRecord};
use crate::store::{MarketSymbol, NewRun, RunOutcome, Store, StoreError, SymbolField};

/// Which symbols to refresh.
#[derive(Debug, Clone)]
pub enum Scope {
    /// These, from the overview endpoint.
    Symbols(Vec<Ticker>),
    /// Those already stored, from the active list.
    Stored,
    /// Every active stock and fund in the list.
    All,
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// `load_runs` id.
    pub run_id: i64,
    /// Records received from the API.
    pub received: usize,
    /// Rows inserted or updated.
    pub written: u64,
    /// Of those, symbols the table did not have.
    pub inserted: usize,
    /// Asked-for or stored symbols the API does not know (or no longer lists as active).
    pub not_found: Vec<String>,
    /// Requests sent.
    pub requests: u64,
}

/// Why a refresh wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The API failed.
    #[error(transparent)]
    Massive(#[from] MassiveError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn date(raw: Option<&str>) -> Option<NaiveDate> {
    raw.and_then(|s| s.get(..10)).and_then(|s| s.parse().ok())
}

fn instant(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// `text` cut to at most `max` characters.
fn fit(text: &Option<String>, max: usize) -> Option<String> {
    text.as_ref().map(|t| t.chars().take(max).collect())
}

/// A reference record as a `symbols` row; `None` for tickers that are not ours to store (test symbols, tickers
/// that do not parse).
pub fn market_symbol(r: &TickerRecord) -> Option<MarketSymbol> {
    if r.is_test {
        return None;
    }
    let symbol = Ticker::parse(&r.ticker).ok()?.to_string();
    let whole = |x: Option<f64>| x.filter(|v| v.is_finite() && v.abs() < 9e18).map(|v| v.round() as i64);
    // The API's text is cut to the column's length (PostgreSQL's VARCHAR limits), never refused: one long name
    // must not fail a refresh of ten thousand symbols.
    let fit = |x: &Option<String>, field: SymbolField| fit(x, field.max_len().unwrap_or(usize::MAX));
    Some(MarketSymbol {
        symbol,
        name: fit(&r.name, SymbolField::Name),
        kind: fit(&r.kind, SymbolField::Type),
        exchange: fit(&r.primary_exchange, SymbolField::Exchange),
        market: fit(&r.market, SymbolField::Market),
        locale: self::fit(&r.locale, 10),
        currency_name: self::fit(&r.currency_name, 10),
        active: r.active,
        cik: fit(&r.cik, SymbolField::Cik),
        composite_figi: fit(&r.composite_figi, SymbolField::CompositeFigi),
        share_class_figi: fit(&r.share_class_figi, SymbolField::ShareClassFigi),
        last_updated_utc: instant(r.last_updated_utc.as_deref()),
        list_date: date(r.list_date.as_deref()),
        delisted_utc: instant(r.delisted_utc.as_deref()),
        market_cap: whole(r.market_cap),
        share_class_shares_outstanding: whole(r.share_class_shares_outstanding),
        weighted_shares_outstanding: whole(r.weighted_shares_outstanding),
        sic_code: self::fit(&r.sic_code, 10),
        sic_description: r.sic_description.clone(),
        total_employees: whole(r.total_employees).and_then(|v| i32::try_from(v).ok()),
    })
}

/// Refreshes `symbols` from Massive.
pub async fn refresh_symbols(
    store: &Store,
    client: &MassiveClient,
    scope: &Scope,
) -> Result<RefreshReport, RefreshError> {
    let started_at = crate::store::now();
    let requests_before = client.requests_sent();
    let stored = store.symbols().await?;
    let mut not_found = Vec::new();
    let records: Vec<MarketSymbol> = match scope {
        Scope::Symbols(list) => {
            let mut out = Vec::new();
            for t in list {
                match client.ticker_overview(t.as_str()).await? {
                    Some(r) => out.extend(market_symbol(&r)),
                    None => not_found.push(t.to_string()),
                }
            }
            out
        }
        Scope::Stored | Scope::All => {
            let list = client.tickers(&[("market", "stocks"), ("active", "true")]).await?;
            let rows: Vec<MarketSymbol> = list.iter().filter_map(market_symbol).collect();
            if matches!(scope, Scope::Stored) {
                let listed: std::collections::HashSet<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
                not_found = stored.keys().filter(|s| !listed.contains(s.as_str())).cloned().collect();
                not_found.sort();
                rows.into_iter().filter(|r| stored.contains_key(&r.symbol)).collect()
            } else {
                rows
            }
        }
    };
    let inserted = records.iter().filter(|r| !stored.contains_key(&r.symbol)).count();
    let source = match scope {
        Scope::Symbols(list) => {
            format!("massive overview: {}", list.iter().map(Ticker::as_str).collect::<Vec<_>>().join(","))
        }
        Scope::Stored => "massive tickers list (stored symbols)".to_string(),
        Scope::All => "massive tickers list (all active)".to_string(),
    };
    let run = NewRun {
        kind: RunKind::SymbolsRefresh,
        source: &source,
        mode: "full",
        environment: Environment::Default,
        checksum: None,
        validated: false,
        rollback_of: None,
        started_at,
    };
    let mut tx = store.begin().await?;
    let written = tx.upsert_market_symbols(&records, started_at.naive_utc()).await?;
    let run_id = tx.insert_run(&run).await?;
    // Details name no groups and no symbol fields from a file: a refresh never blocks the rollback of a load.
    let details =
        serde_json::json!({ "refresh": { "received": records.len(), "inserted": inserted, "not_found": &not_found } });
    let outcome = RunOutcome {
        added: inserted as i64,
        changed: written as i64 - inserted as i64,
        rejected: not_found.len() as i64,
        details: Some(crate::store::RunDetails::summary(&details)),
        ..RunOutcome::new(if written > 0 { RunStatus::Applied } else { RunStatus::Skipped })
    };
    tx.finish_run(run_id, &outcome).await?;
    tx.commit().await?;
    Ok(RefreshReport {
        run_id,
        received: records.len(),
        written,
        inserted,
        not_found,
        requests: client.requests_sent() - requests_before,
    })
}
