//! The `symbols` table: the metadata columns this service reads and writes (TickStock owns the rest).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;

use super::{BATCH_ROWS, Conn, Reader, Store, StoreError, Tx, on_conn, push_in_list};

/// A symbol's metadata as far as this service manages it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SymbolRow {
    /// Ticker (primary key).
    pub symbol: String,
    /// Company or fund name.
    pub name: Option<String>,
    /// Massive type code: CS, ETF, ADRC, PFD, …
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Listing exchange (MIC or short name).
    pub exchange: Option<String>,
    /// Market (`stocks`, …).
    pub market: Option<String>,
    /// Market capitalisation in dollars.
    pub market_cap: Option<i64>,
    /// Sector label as given (TickStock keeps its own vocabulary here).
    pub sector: Option<String>,
    /// Industry label.
    pub industry: Option<String>,
    /// First listing date.
    pub list_date: Option<NaiveDate>,
    /// Actively traded.
    pub active: Option<bool>,
    /// SEC CIK.
    pub cik: Option<String>,
    /// Composite FIGI.
    pub composite_figi: Option<String>,
    /// Share-class FIGI.
    pub share_class_figi: Option<String>,
    /// Shares outstanding, all classes (`weighted_shares_outstanding`): a market cap is a close times this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares_outstanding: Option<i64>,
}

/// A column of [`SymbolRow`] that an input file may provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SymbolField {
    /// `name`
    Name,
    /// `type`
    Type,
    /// `exchange`
    Exchange,
    /// `market`
    Market,
    /// `market_cap`
    MarketCap,
    /// `sector`
    Sector,
    /// `industry`
    Industry,
    /// `list_date`
    ListDate,
    /// `active`
    Active,
    /// `cik`
    Cik,
    /// `composite_figi`
    CompositeFigi,
    /// `share_class_figi`
    ShareClassFigi,
    /// `weighted_shares_outstanding`
    SharesOutstanding,
}

impl SymbolField {
    /// Every field.
    pub const ALL: [SymbolField; 13] = [
        SymbolField::Name,
        SymbolField::Type,
        SymbolField::Exchange,
        SymbolField::Market,
        SymbolField::MarketCap,
        SymbolField::Sector,
        SymbolField::Industry,
        SymbolField::ListDate,
        SymbolField::Active,
        SymbolField::Cik,
        SymbolField::CompositeFigi,
        SymbolField::ShareClassFigi,
        SymbolField::SharesOutstanding,
    ];

    /// Column name.
    pub fn column(self) -> &'static str {
        match self {
            SymbolField::Name => "name",
            SymbolField::Type => "type",
            SymbolField::Exchange => "exchange",
            SymbolField::Market => "market",
            SymbolField::MarketCap => "market_cap",
            SymbolField::Sector => "sector",
            SymbolField::Industry => "industry",
            SymbolField::ListDate => "list_date",
            SymbolField::Active => "active",
            SymbolField::Cik => "cik",
            SymbolField::CompositeFigi => "composite_figi",
            SymbolField::ShareClassFigi => "share_class_figi",
            SymbolField::SharesOutstanding => "weighted_shares_outstanding",
        }
    }

    /// The column's length limit in characters (PostgreSQL's `VARCHAR(n)` in TickStock's `symbols` table; SQLite
    /// keeps any length, so every loader checks this one limit and both backends refuse the same values).
    /// `None` for columns that are not text.
    pub fn max_len(self) -> Option<usize> {
        match self {
            SymbolField::Name | SymbolField::Industry => Some(100),
            SymbolField::Sector | SymbolField::CompositeFigi | SymbolField::ShareClassFigi => Some(50),
            SymbolField::Type | SymbolField::Exchange | SymbolField::Market | SymbolField::Cik => Some(20),
            SymbolField::MarketCap | SymbolField::ListDate | SymbolField::Active | SymbolField::SharesOutstanding => {
                None
            }
        }
    }

    /// Why `value` does not fit this column, if it does not.
    pub fn too_long(self, value: &str) -> Option<String> {
        let max = self.max_len()?;
        let len = value.chars().count();
        (len > max).then(|| format!("{len} characters; symbols.{} holds at most {max}", self.column()))
    }

    /// This field's text in a row, if it is a text field.
    pub fn text(self, row: &SymbolRow) -> Option<&str> {
        match self {
            SymbolField::Name => row.name.as_deref(),
            SymbolField::Type => row.kind.as_deref(),
            SymbolField::Exchange => row.exchange.as_deref(),
            SymbolField::Market => row.market.as_deref(),
            SymbolField::Sector => row.sector.as_deref(),
            SymbolField::Industry => row.industry.as_deref(),
            SymbolField::Cik => row.cik.as_deref(),
            SymbolField::CompositeFigi => row.composite_figi.as_deref(),
            SymbolField::ShareClassFigi => row.share_class_figi.as_deref(),
            SymbolField::MarketCap | SymbolField::ListDate | SymbolField::Active | SymbolField::SharesOutstanding => {
                None
            }
        }
    }

    /// Whether two rows agree on this field.
    pub fn same(self, a: &SymbolRow, b: &SymbolRow) -> bool {
        match self {
            SymbolField::Name => a.name == b.name,
            SymbolField::Type => a.kind == b.kind,
            SymbolField::Exchange => a.exchange == b.exchange,
            SymbolField::Market => a.market == b.market,
            SymbolField::MarketCap => a.market_cap == b.market_cap,
            SymbolField::SharesOutstanding => a.shares_outstanding == b.shares_outstanding,
            SymbolField::Sector => a.sector == b.sector,
            SymbolField::Industry => a.industry == b.industry,
            SymbolField::ListDate => a.list_date == b.list_date,
            SymbolField::Active => a.active == b.active,
            SymbolField::Cik => a.cik == b.cik,
            SymbolField::CompositeFigi => a.composite_figi == b.composite_figi,
            SymbolField::ShareClassFigi => a.share_class_figi == b.share_class_figi,
        }
    }
}

/// SQLite's `symbols` rows as one JSON array: sqlx decodes SQLite rows one at a time through a worker thread
/// (microseconds each), so one document is far cheaper there.
const SQLITE_SYMBOLS_JSON: &str = "SELECT json_group_array(json_object('symbol', symbol, 'name', name, 'type', type, \
     'exchange', exchange, 'market', market, 'market_cap', market_cap, 'sector', sector, 'industry', industry, \
     'list_date', list_date, 'active', json(CASE WHEN active IS NULL THEN 'null' WHEN active THEN 'true' ELSE \
     'false' END), 'cik', cik, 'composite_figi', composite_figi, 'share_class_figi', share_class_figi, \
     'shares_outstanding', weighted_shares_outstanding)) FROM symbols";
/// PostgreSQL rows decode fast, and building JSON server-side is not.
const POSTGRES_SYMBOLS: &str = "SELECT symbol, name, type, exchange, market, market_cap, sector, industry, list_date, \
     active, cik, composite_figi, share_class_figi, weighted_shares_outstanding AS shares_outstanding FROM symbols";

impl Store {
    /// Every symbol row, by symbol.
    pub async fn symbols(&self) -> Result<HashMap<String, SymbolRow>, StoreError> {
        Reader::Pool(self).symbols().await
    }
}

impl Reader<'_> {
    /// Every symbol row, by symbol, on the pool or inside a transaction (seeing its own writes).
    pub async fn symbols(&mut self) -> Result<HashMap<String, SymbolRow>, StoreError> {
        let sqlite_rows = |text: String| -> Result<Vec<SymbolRow>, StoreError> {
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("symbols rows: {e}")))
        };
        let rows: Vec<SymbolRow> = match self {
            Reader::Pool(Store::Sqlite(p)) => sqlite_rows(sqlx::query_scalar(SQLITE_SYMBOLS_JSON).fetch_one(p).await?)?,
            Reader::Tx(Tx { conn: Conn::Sqlite(t), .. }) => {
                sqlite_rows(sqlx::query_scalar(SQLITE_SYMBOLS_JSON).fetch_one(&mut **t).await?)?
            }
            Reader::Pool(Store::Postgres(p)) => sqlx::query_as(POSTGRES_SYMBOLS).fetch_all(p).await?,
            Reader::Tx(Tx { conn: Conn::Postgres(t), .. }) => {
                sqlx::query_as(POSTGRES_SYMBOLS).fetch_all(&mut **t).await?
            }
        };
        Ok(rows.into_iter().map(|r| (r.symbol.clone(), r)).collect())
    }
}

impl Tx {
    /// Inserts symbols or updates the given fields of existing ones, in multi-row batches.
    pub async fn upsert_symbols(
        &mut self,
        rows: &[SymbolRow],
        fields: &[SymbolField],
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        self.touch_symbols(rows.iter().map(|r| r.symbol.as_str()));
        for chunk in rows.chunks(BATCH_ROWS) {
            on_conn!(self, c => {
                let mut qb = QueryBuilder::new("INSERT INTO symbols (symbol, last_updated");
                for f in fields {
                    qb.push(", ").push(f.column());
                }
                qb.push(") ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.symbol.as_str()).push_bind(now);
                    for f in fields {
                        match f {
                            SymbolField::Name => b.push_bind(r.name.as_deref()),
                            SymbolField::Type => b.push_bind(r.kind.as_deref()),
                            SymbolField::Exchange => b.push_bind(r.exchange.as_deref()),
                            SymbolField::Market => b.push_bind(r.market.as_deref()),
                            SymbolField::MarketCap => b.push_bind(r.market_cap),
                            SymbolField::Sector => b.push_bind(r.sector.as_deref()),
                            SymbolField::Industry => b.push_bind(r.industry.as_deref()),
                            SymbolField::ListDate => b.push_bind(r.list_date),
                            SymbolField::Active => b.push_bind(r.active),
                            SymbolField::Cik => b.push_bind(r.cik.as_deref()),
                            SymbolField::CompositeFigi => b.push_bind(r.composite_figi.as_deref()),
                            SymbolField::ShareClassFigi => b.push_bind(r.share_class_figi.as_deref()),
                            SymbolField::SharesOutstanding => b.push_bind(r.shares_outstanding),
                        };
                    }
                });
                qb.push(" ON CONFLICT (symbol) DO UPDATE SET last_updated = excluded.last_updated");
                for f in fields {
                    qb.push(format!(", {0} = excluded.{0}", f.column()));
                }
                qb.build().execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Deletes symbols (rollback of a load that added them).
    pub async fn delete_symbols(&mut self, symbols: &[&str]) -> Result<(), StoreError> {
        self.touch_symbols(symbols.iter().copied());
        for chunk in symbols.chunks(BATCH_ROWS) {
            on_conn!(self, c => {
                let mut qb = QueryBuilder::new("DELETE FROM symbols WHERE symbol");
                push_in_list(&mut qb, chunk);
                qb.build().execute(&mut *c).await?;
            });
        }
        Ok(())
    }
}

/// Symbol metadata from the market API (`symbols refresh`). `None` leaves the stored value alone: the list
/// endpoint lacks the overview's SIC and size fields, and a list walk must not erase them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct MarketSymbol {
    pub symbol: String,
    pub name: Option<String>,
    /// Type code.
    pub kind: Option<String>,
    /// Primary exchange (MIC).
    pub exchange: Option<String>,
    pub market: Option<String>,
    pub locale: Option<String>,
    pub currency_name: Option<String>,
    /// Still traded.
    pub active: Option<bool>,
    /// SEC CIK.
    pub cik: Option<String>,
    /// Composite FIGI.
    pub composite_figi: Option<String>,
    /// Share-class FIGI.
    pub share_class_figi: Option<String>,
    /// Massive's last change.
    pub last_updated_utc: Option<chrono::DateTime<chrono::Utc>>,
    /// Listing date.
    pub list_date: Option<NaiveDate>,
    /// Delisting time.
    pub delisted_utc: Option<chrono::DateTime<chrono::Utc>>,
    /// Market cap, dollars.
    pub market_cap: Option<i64>,
    /// Shares of this class.
    pub share_class_shares_outstanding: Option<i64>,
    /// All classes, in this class's terms.
    pub weighted_shares_outstanding: Option<i64>,
    /// SIC code.
    pub sic_code: Option<String>,
    /// SIC description.
    pub sic_description: Option<String>,
    pub total_employees: Option<i32>,
}

impl Tx {
    /// Inserts or updates symbols from the market API; returns rows written. Only non-null values overwrite.
    pub async fn upsert_market_symbols(
        &mut self,
        rows: &[MarketSymbol],
        now: NaiveDateTime,
    ) -> Result<u64, StoreError> {
        self.touch_symbols(rows.iter().map(|r| r.symbol.as_str()));
        const COLUMNS: [&str; 19] = [
            "name",
            "type",
            "exchange",
            "market",
            "locale",
            "currency_name",
            "active",
            "cik",
            "composite_figi",
            "share_class_figi",
            "last_updated_utc",
            "list_date",
            "delisted_utc",
            "market_cap",
            "share_class_shares_outstanding",
            "weighted_shares_outstanding",
            "sic_code",
            "sic_description",
            "total_employees",
        ];
        let mut written = 0;
        for chunk in rows.chunks(BATCH_ROWS / 2) {
            written += on_conn!(self, c => {
                let mut qb = QueryBuilder::new("INSERT INTO symbols (symbol, last_updated, sic_updated_at, ");
                qb.push(COLUMNS.join(", ")).push(") ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.symbol.as_str())
                        .push_bind(now)
                        .push_bind(r.sic_code.as_ref().map(|_| now))
                        .push_bind(r.name.as_deref())
                        .push_bind(r.kind.as_deref())
                        .push_bind(r.exchange.as_deref())
                        .push_bind(r.market.as_deref())
                        .push_bind(r.locale.as_deref())
                        .push_bind(r.currency_name.as_deref())
                        .push_bind(r.active)
                        .push_bind(r.cik.as_deref())
                        .push_bind(r.composite_figi.as_deref())
                        .push_bind(r.share_class_figi.as_deref())
                        .push_bind(r.last_updated_utc)
                        .push_bind(r.list_date)
                        .push_bind(r.delisted_utc)
                        .push_bind(r.market_cap)
                        .push_bind(r.share_class_shares_outstanding)
                        .push_bind(r.weighted_shares_outstanding)
                        .push_bind(r.sic_code.as_deref())
                        .push_bind(r.sic_description.as_deref())
                        .push_bind(r.total_employees);
                });
                qb.push(" ON CONFLICT (symbol) DO UPDATE SET last_updated = excluded.last_updated, \
                          sic_updated_at = COALESCE(excluded.sic_updated_at, symbols.sic_updated_at)");
                for col in COLUMNS {
                    qb.push(format!(", {col} = COALESCE(excluded.{col}, symbols.{col})"));
                }
                qb.build().execute(&mut *c).await?.rows_affected()
            });
        }
        Ok(written)
    }
}

impl Store {
    /// Records an ETF's profile on its symbols row (created if missing, as an `ETF`): issuer, type, expense ratio,
    /// AUM in millions, benchmark and inception date (the expense ratio stored in percent, as TickStock's column). Fields the profile lacks keep their value.
    pub async fn set_etf_profile(
        &self,
        symbol: &str,
        p: &crate::market::types::EtfProfile,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.touch_symbols([symbol]);
        on_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO symbols (symbol, type, last_updated, issuer, etf_type, expense_ratio, aum_millions, \
                 underlying_index, inception_date) VALUES ($1, 'ETF', $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (symbol) DO UPDATE SET last_updated = excluded.last_updated, \
                 issuer = COALESCE(excluded.issuer, symbols.issuer), \
                 etf_type = COALESCE(excluded.etf_type, symbols.etf_type), \
                 expense_ratio = COALESCE(excluded.expense_ratio, symbols.expense_ratio), \
                 aum_millions = COALESCE(excluded.aum_millions, symbols.aum_millions), \
                 underlying_index = COALESCE(excluded.underlying_index, symbols.underlying_index), \
                 inception_date = COALESCE(excluded.inception_date, symbols.inception_date)",
            )
            .bind(symbol)
            .bind(now)
            .bind(p.issuer.as_deref().map(|s| clip(s, 100)))
            .bind(p.product_type.as_deref().map(|s| clip(s, 50)))
            .bind(p.expense_ratio_percent())
            .bind(p.aum.map(|a| (a / 1e4).round() / 100.0))
            .bind(p.primary_benchmark.as_deref().map(|s| clip(s, 100)))
            .bind(p.inception_date)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        tx.commit().await
    }
}

/// At most `n` characters of `s` (TickStock's columns are bounded).
fn clip(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// A symbol's SIC classification, for `enrich sectors --from-sic`.
#[derive(Debug, Clone, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SicRow {
    pub symbol: String,
    /// SIC code.
    pub sic_code: String,
    /// SIC description (the industry label).
    pub sic_description: Option<String>,
    /// Type code (funds are never classified by SIC).
    #[sqlx(rename = "type")]
    pub kind: Option<String>,
}

impl Store {
    /// Symbols with a SIC code.
    pub async fn sic_codes(&self) -> Result<Vec<SicRow>, StoreError> {
        let rows = super::on_pool!(self, p => sqlx::query_as::<_, SicRow>(
            "SELECT symbol, sic_code, sic_description, type FROM symbols WHERE sic_code IS NOT NULL AND sic_code <> '' \
             ORDER BY symbol",
        )
        .fetch_all(p)
        .await?);
        Ok(rows)
    }
}
