//! Symbol metadata files: `symbol` plus any of name, type, exchange, market, market_cap, sector, industry,
//! list_date, active (or delisted), cik, composite_figi, share_class_figi. Only the columns present are written,
//! so a file with names alone never blanks market caps loaded from elsewhere.

use chrono::NaiveDate;

use super::input::{Input, Problem, Table};
use super::parsed::{SeenTickers, ticker_cell};
use crate::store::{SymbolField, SymbolRow};

/// Header spellings per field.
const COLUMNS: [(SymbolField, &[&str]); 13] = [
    (SymbolField::Name, &["name", "security", "long_name", "company", "company name", "description"]),
    (SymbolField::Type, &["type", "security_type"]),
    (SymbolField::Exchange, &["exchange", "primary_exchange"]),
    (SymbolField::Market, &["market"]),
    (SymbolField::MarketCap, &["market_cap", "market cap", "marketcap"]),
    (SymbolField::Sector, &["sector", "GICS Sector"]),
    (SymbolField::Industry, &["industry", "GICS Sub-Industry"]),
    (SymbolField::ListDate, &["list_date", "listing_date", "ipo_date"]),
    (SymbolField::Active, &["active", "delisted"]),
    (SymbolField::Cik, &["cik"]),
    (SymbolField::CompositeFigi, &["composite_figi"]),
    (SymbolField::ShareClassFigi, &["share_class_figi", "shareclass_figi"]),
    (SymbolField::SharesOutstanding, &["shares_outstanding", "weighted_shares_outstanding"]),
];

/// Symbol rows read from files, and which fields they carry.
#[derive(Debug, Default)]
pub struct ParsedSymbols {
    /// Rows in input order.
    pub rows: Vec<SymbolRow>,
    /// Fields present in every file of the load (only these are written).
    pub fields: Vec<SymbolField>,
    /// Notes for the output.
    pub notes: Vec<String>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// The largest market cap stored: TickStock's column is `BIGINT`, and no company is worth more than this
/// ($1,000 trillion) — a bigger number is a unit mistake (cents, thousands) or a broken cell.
const MAX_MARKET_CAP: f64 = 1e15;

/// A market cap in dollars: `1234567`, `1,234,567`, `$1.2e9`.
fn parse_market_cap(cell: &str) -> Result<i64, String> {
    let v: f64 = cell
        .replace([',', '$'], "")
        .trim()
        .parse()
        .map_err(|_| format!("market cap {cell:?} is not a number of dollars"))?;
    if v.is_nan() || v.is_infinite() {
        Err(format!("market cap {cell:?} is not a number"))
    } else if v < 0.0 {
        Err(format!("market cap {cell} is negative"))
    } else if v > MAX_MARKET_CAP {
        Err(format!("market cap {cell} is out of range (at most {MAX_MARKET_CAP:e} dollars)"))
    } else {
        Ok(v.round() as i64)
    }
}

/// Parses symbol metadata files.
pub fn parse(inputs: &[Input], problems: &mut Vec<Problem>) -> ParsedSymbols {
    let mut out = ParsedSymbols::default();
    let mut seen = SeenTickers::default();
    let mut fields_per_file: Vec<Vec<SymbolField>> = Vec::new();
    let mut buckets = 0usize;
    for input in inputs {
        let Some(text) = input.text().map_err(|p| problems.push(p)).ok() else {
            continue;
        };
        let is_header = |cells: &[String]| {
            cells.iter().any(|c| c.eq_ignore_ascii_case("symbol") || c.eq_ignore_ascii_case("ticker"))
        };
        let table = match Table::read(input, text, is_header) {
            Ok(Some(t)) => t,
            Ok(None) => {
                problems.push(Problem::file(&input.name, "unknown format: expected a header with a symbol column"));
                continue;
            }
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let sym = table.col(&["symbol", "ticker"]).expect("header has a symbol column");
        let cols: Vec<(SymbolField, usize)> =
            COLUMNS.iter().filter_map(|(f, names)| table.col(names).map(|c| (*f, c))).collect();
        if cols.is_empty() {
            problems.push(Problem::file(
                &input.name,
                "no metadata columns besides the symbol (expected name, type, exchange, market_cap, …)",
            ));
            continue;
        }
        fields_per_file.push(cols.iter().map(|c| c.0).collect());
        out.notes.extend(table.notes(&input.name));
        for row in &table.rows {
            let Some(ticker) = ticker_cell(row.get(sym), (&input.name, row.line, table.name(sym)), problems) else {
                continue;
            };
            if let Err(where_) = seen.first_time(&ticker, &input.name, row.line) {
                problems.push(Problem::at(
                    &input.name,
                    row.line,
                    Some(table.name(sym)),
                    format!("duplicate ticker {ticker} (already on {where_})"),
                ));
                continue;
            }
            let mut r = SymbolRow { symbol: ticker.to_string(), ..SymbolRow::default() };
            for (field, c) in &cols {
                let cell = row.get(*c);
                let text = (!cell.is_empty()).then(|| cell.to_string());
                let bad = |why: String| Problem::at(&input.name, row.line, Some(table.name(*c)), why);
                if let Some(reason) = field.too_long(cell) {
                    problems.push(bad(reason));
                    continue;
                }
                match field {
                    SymbolField::Name => r.name = text,
                    SymbolField::Type => {
                        let t = cell.to_ascii_uppercase();
                        if !t.is_empty() && (t.len() > 10 || !t.chars().all(|c| c.is_ascii_alphanumeric())) {
                            problems.push(bad(format!("type {cell:?} is not a type code such as CS, ETF, ADRC, PFD")));
                        }
                        r.kind = (!t.is_empty()).then_some(t);
                    }
                    SymbolField::Exchange => r.exchange = text,
                    SymbolField::Market => r.market = text,
                    SymbolField::MarketCap => {
                        if cell.is_empty() {
                        } else if cell.to_ascii_lowercase().ends_with(" cap") {
                            // FinanceDatabase gives a size bucket ("Large Cap"), not a number.
                            buckets += 1;
                        } else {
                            match parse_market_cap(cell) {
                                Ok(v) => r.market_cap = Some(v),
                                Err(why) => problems.push(bad(why)),
                            }
                        }
                    }
                    SymbolField::Sector => r.sector = text,
                    SymbolField::Industry => r.industry = text,
                    SymbolField::ListDate => {
                        if !cell.is_empty() {
                            match NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
                                Ok(d) => r.list_date = Some(d),
                                Err(_) => problems.push(bad(format!("date {cell:?} is not YYYY-MM-DD"))),
                            }
                        }
                    }
                    SymbolField::Active => {
                        let inverted = table.name(*c).eq_ignore_ascii_case("delisted");
                        if !cell.is_empty() {
                            match parse_bool(cell) {
                                Some(b) => r.active = Some(b != inverted),
                                None => problems.push(bad(format!("{cell:?} is not true or false"))),
                            }
                        }
                    }
                    SymbolField::Cik => r.cik = text,
                    SymbolField::CompositeFigi => r.composite_figi = text,
                    SymbolField::ShareClassFigi => r.share_class_figi = text,
                    SymbolField::SharesOutstanding => {
                        if !cell.is_empty() {
                            match cell.replace(',', "").trim().parse::<i64>() {
                                Ok(v) if v >= 0 => r.shares_outstanding = Some(v),
                                _ => problems.push(bad(format!("shares outstanding {cell:?} is not a whole number"))),
                            }
                        }
                    }
                }
            }
            out.rows.push(r);
        }
    }
    // Write only the fields every file has, so one file's missing column never blanks another's values.
    out.fields = SymbolField::ALL
        .into_iter()
        .filter(|f| !fields_per_file.is_empty() && fields_per_file.iter().all(|ff| ff.contains(f)))
        .collect();
    if fields_per_file.len() > 1 {
        out.notes.push(format!(
            "fields common to all files: {}",
            out.fields.iter().map(|f| f.column()).collect::<Vec<_>>().join(", ")
        ));
    }
    if buckets > 0 {
        out.notes.push(format!("{buckets} market caps given as size buckets (e.g. \"Large Cap\") were not stored"));
    }
    out.notes.push(format!("{} symbols", out.rows.len()));
    out
}
