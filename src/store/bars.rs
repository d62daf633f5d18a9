//! The five OHLCV tables: bulk, idempotent upserts and reads.
//!
//! PostgreSQL: `COPY` (text format) into a per-connection temporary staging table, then one
//! `INSERT … SELECT … ON CONFLICT DO UPDATE`, in one transaction. SQLite: prepared multi-row
//! `INSERT … ON CONFLICT DO UPDATE` statements in one transaction. No row-by-row round trips on either. A row
//! that is already stored with the same values is left alone (no new row version, no WAL traffic), so loading
//! the same range twice is cheap and changes nothing.

use std::fmt::Write as _;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::{Conn, Store, StoreError, Tx, on_pool};
use crate::domain::{Bar, BarTime};
use crate::domain::{Ticker, Timeframe};

/// Rows per SQLite statement (7 parameters each: well under SQLite's 32,766 limit).
const SQLITE_BATCH: usize = 2000;

/// Sorts bars by key and keeps the last of any duplicates (a statement may not touch one key twice). Returns how
/// many were dropped.
pub fn dedupe_bars(bars: &mut Vec<Bar>) -> usize {
    let before = bars.len();
    // Stable sort: among equal keys the later input stays later, and dedup keeps the earlier of a run, so
    // reverse first to keep the last occurrence.
    bars.reverse();
    bars.sort_by(|a, b| (&a.symbol, a.time).cmp(&(&b.symbol, b.time)));
    bars.dedup_by(|a, b| a.symbol == b.symbol && a.time == b.time);
    before - bars.len()
}

fn value_columns(tf: Timeframe) -> String {
    format!("symbol, \"{}\", open, high, low, close, volume", tf.time_column())
}

fn update_clause(tf: Timeframe, distinct: &str) -> String {
    let table = tf.table();
    format!(
        "ON CONFLICT (symbol, \"{time}\") DO UPDATE SET open = excluded.open, high = excluded.high, \
         low = excluded.low, close = excluded.close, volume = excluded.volume WHERE {distinct}",
        time = tf.time_column(),
        distinct = distinct.replace("{t}", table),
    )
}

impl Store {
    /// Upserts bars of one timeframe in one transaction; returns the rows inserted or changed. Also makes sure
    /// every symbol has a `symbols` row (TickStock's tables reference it). Input in any order, duplicates allowed
    /// (the last wins).
    pub async fn upsert_bars(&self, tf: Timeframe, bars: Vec<Bar>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = tx.upsert_bars(tf, bars).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Bars stored for a timeframe (and symbol), ordered by symbol and time.
    pub async fn bars(&self, tf: Timeframe, symbol: Option<&str>) -> Result<Vec<Bar>, StoreError> {
        let time = tf.time_column();
        let cast = self.backend().float_cast();
        let sql = format!(
            "SELECT symbol, \"{time}\" AS t, open{cast} AS o, high{cast} AS h, low{cast} AS l, close{cast} AS c, \
             volume FROM {table} WHERE ($1 IS NULL OR symbol = $1) ORDER BY symbol, \"{time}\"",
            table = tf.table()
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let map = |symbol: String, time: BarTime, o: f64, h: f64, l: f64, c: f64, v: i64| -> Result<Bar, StoreError> {
            let symbol = Ticker::parse(&symbol).map_err(|e| StoreError::Corrupt(format!("{}: {e}", tf.table())))?;
            Ok(Bar { symbol, time, open: o, high: h, low: l, close: c, volume: v as f64 })
        };
        if tf.is_intraday() {
            type Row = (String, DateTime<Utc>, f64, f64, f64, f64, i64);
            let rows: Vec<Row> = on_pool!(self, p => sqlx::query_as(sql).bind(symbol).fetch_all(p).await?);
            rows.into_iter().map(|(s, t, o, h, l, c, v)| map(s, BarTime::At(t), o, h, l, c, v)).collect()
        } else {
            type Row = (String, NaiveDate, f64, f64, f64, f64, i64);
            let rows: Vec<Row> = on_pool!(self, p => sqlx::query_as(sql).bind(symbol).fetch_all(p).await?);
            rows.into_iter().map(|(s, t, o, h, l, c, v)| map(s, BarTime::Date(t), o, h, l, c, v)).collect()
        }
    }

    /// Daily bars stored for one session.
    pub async fn daily_bars_on(&self, day: chrono::NaiveDate) -> Result<i64, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM ohlcv_daily WHERE date = $1")
            .bind(day).fetch_one(p).await?))
    }

    /// Rows in a timeframe's table.
    pub async fn count_bars(&self, tf: Timeframe) -> Result<i64, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", tf.table()));
        Ok(on_pool!(self, p => sqlx::query_scalar(sql).fetch_one(p).await?))
    }
}

impl Tx {
    /// [`Store::upsert_bars`] inside a caller's transaction.
    pub async fn upsert_bars(&mut self, tf: Timeframe, mut bars: Vec<Bar>) -> Result<u64, StoreError> {
        if bars.is_empty() {
            return Ok(0);
        }
        dedupe_bars(&mut bars);
        let created = super::now();
        let (n, new_symbols) = match &mut self.conn {
            Conn::Postgres(t) => upsert_postgres(t, tf, &bars, created).await?,
            Conn::Sqlite(t) => upsert_sqlite(t, tf, &bars, created).await?,
        };
        // A new ticker gets a bare `symbols` row, which the relationship cache holds.
        self.touch_symbols(new_symbols.iter().map(String::as_str));
        Ok(n)
    }
}

/// Formats a price for COPY: shortest round-trip text, which `numeric(10,4)` rounds.
fn push_number(buf: &mut String, x: f64) {
    let _ = write!(buf, "{x}");
}

/// Every batch goes through `COPY` into a staging table, then one upsert. (Until sqlx's `TCP_NODELAY` fix was
/// patched in, batches under 3,000 rows went as bound arrays in 150-row statements to dodge a ~40 ms delayed-ACK
/// stall per `COPY`; with the fix, re-measured 2026-11-30 with `bars import` against this machine's PostgreSQL
/// (TLS negotiated / `sslmode=disable`, hyperfine means of 10): 252 rows `COPY` 19.7 / 13.0 ms against arrays
/// 21.8 / 14.5 ms; 2,500 rows 30.3 / 25.6 ms against 34.3 / 37.1 ms. `COPY` wins at every size, so it is the
/// one path.)
async fn upsert_postgres(
    conn: &mut sqlx::PgConnection,
    tf: Timeframe,
    bars: &[Bar],
    created: DateTime<Utc>,
) -> Result<(u64, Vec<String>), StoreError> {
    upsert_postgres_copy(conn, tf, bars, created).await
}

/// The upsert's `WHERE`: only rows whose values differ are rewritten.
const PG_CHANGED: &str = "({t}.open, {t}.high, {t}.low, {t}.close, {t}.volume) IS DISTINCT FROM \
     (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume)";

/// Returns the rows written and the tickers that got a new `symbols` row.
async fn upsert_postgres_copy(
    conn: &mut sqlx::PgConnection,
    tf: Timeframe,
    bars: &[Bar],
    created: DateTime<Utc>,
) -> Result<(u64, Vec<String>), StoreError> {
    let table = tf.table();
    let stage = format!("stage_{table}");
    // Once per connection: a temporary table shaped like the target, emptied at every commit.
    let create = format!(
        "SET LOCAL client_min_messages = warning; \
         CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut *conn).await?;
    let columns = value_columns(tf);
    let copy_sql = format!("COPY {stage} ({columns}) FROM STDIN");
    let mut copy = conn.copy_in_raw(&copy_sql).await?;
    let mut buf = String::with_capacity(1 << 20);
    for bar in bars {
        buf.push_str(bar.symbol.as_str());
        buf.push('\t');
        match bar.time {
            BarTime::Date(d) => {
                let _ = write!(buf, "{d}");
            }
            BarTime::At(t) => {
                let _ = write!(buf, "{}", t.format("%Y-%m-%d %H:%M:%S%.f+00"));
            }
        }
        for x in [bar.open, bar.high, bar.low, bar.close] {
            buf.push('\t');
            push_number(&mut buf, x);
        }
        let _ = writeln!(buf, "\t{}", bar.volume.round() as i64);
        if buf.len() > (1 << 20) - 256 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await?;
    let time = tf.time_column();
    let new_symbols: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "INSERT INTO symbols (symbol) SELECT DISTINCT symbol FROM {stage} ON CONFLICT (symbol) DO NOTHING \
         RETURNING symbol"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let (extra_col, extra_val) = if tf == Timeframe::Day { (", created_at", ", $1") } else { ("", "") };
    let upsert = format!(
        "INSERT INTO {table} ({columns}{extra_col}) SELECT symbol, \"{time}\", open, high, low, close, volume{extra_val} \
         FROM {stage} {}",
        update_clause(tf, PG_CHANGED)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(upsert));
    if tf == Timeframe::Day {
        q = q.bind(created);
    }
    let done = q.execute(&mut *conn).await?;
    // Empty the stage now, so a later batch in this transaction starts clean.
    sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {stage}"))).execute(&mut *conn).await?;
    Ok((done.rows_affected(), new_symbols))
}

/// SQLite statements use anonymous `?` placeholders: SQLite looks a numbered parameter's name up by a linear
/// scan, which made binding a 16,000-parameter statement quadratic (1.1 s per 2,000 rows, measured).
async fn upsert_sqlite(
    conn: &mut sqlx::SqliteConnection,
    tf: Timeframe,
    bars: &[Bar],
    created: DateTime<Utc>,
) -> Result<(u64, Vec<String>), StoreError> {
    let table = tf.table();
    // Symbols first (distinct, in key order since bars are sorted).
    let mut symbols: Vec<&str> = bars.iter().map(|b| b.symbol.as_str()).collect();
    symbols.dedup();
    let mut new_symbols: Vec<String> = Vec::new();
    for chunk in symbols.chunks(SQLITE_BATCH) {
        let mut sql = String::from("INSERT INTO symbols (symbol) VALUES ");
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?)" } else { ",(?)" });
        }
        sql.push_str(" ON CONFLICT (symbol) DO NOTHING RETURNING symbol");
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            q = q.bind(*s);
        }
        new_symbols.extend(q.fetch_all(&mut *conn).await?);
    }
    let daily = tf == Timeframe::Day;
    let per_row = if daily { 8 } else { 7 };
    let columns = value_columns(tf);
    let extra_col = if daily { ", created_at" } else { "" };
    let conflict = update_clause(
        tf,
        "{t}.open IS NOT excluded.open OR {t}.high IS NOT excluded.high OR {t}.low IS NOT excluded.low \
         OR {t}.close IS NOT excluded.close OR {t}.volume IS NOT excluded.volume",
    );
    let statement = |rows: usize| {
        let mut sql = format!("INSERT INTO {table} ({columns}{extra_col}) VALUES ");
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ",(" });
            for c in 0..per_row {
                sql.push_str(if c == 0 { "?" } else { ",?" });
            }
            sql.push(')');
        }
        let _ = write!(sql, " {conflict}");
        sql
    };
    // Text values are bound as shared `Arc<str>`s: sqlx binds those without a copy, where a `&str` or a date
    // would be formatted and allocated again for every row. Bars arrive sorted by symbol, and dates repeat
    // across symbols: both are formatted once.
    let created: Arc<str> = Arc::from(created.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    let mut dates: HashMap<NaiveDate, Arc<str>> = HashMap::new();
    let mut symbol: (&str, Arc<str>) = ("", Arc::from(""));
    let full = statement(SQLITE_BATCH);
    let mut changed = 0;
    for chunk in bars.chunks(SQLITE_BATCH) {
        let sql = if chunk.len() == SQLITE_BATCH { full.clone() } else { statement(chunk.len()) };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bar in chunk {
            let time: Arc<str> = match bar.time {
                BarTime::At(t) => Arc::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
                BarTime::Date(d) => {
                    dates.entry(d).or_insert_with(|| Arc::from(d.format("%Y-%m-%d").to_string())).clone()
                }
            };
            if symbol.0 != bar.symbol.as_str() {
                symbol = (bar.symbol.as_str(), Arc::from(bar.symbol.as_str()));
            }
            q = q
                .bind(symbol.1.clone())
                .bind(time)
                .bind(bar.open)
                .bind(bar.high)
                .bind(bar.low)
                .bind(bar.close)
                .bind(bar.volume.round() as i64);
            if daily {
                q = q.bind(created.clone());
            }
        }
        changed += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok((changed, new_symbols))
}
