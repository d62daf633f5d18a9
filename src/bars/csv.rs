//! Bars from CSV files: `universe bars import` and the local bar source read through here.
//!
//! Columns are found by header name, case-insensitively, in any order: the symbol (`symbol`, `ticker` or
//! `Name` — the last is the shared S&P 500 file's), the time (`date`, `timestamp`, `time`, `datetime`,
//! `week_start`, `month_start`), `open`, `high`, `low`, `close`, `volume`. A file without a symbol column takes
//! its symbol from the file name (`AAPL.csv`). Times: `YYYY-MM-DD`, RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC),
//! or Unix milliseconds.
//!
//! A row with a missing price or volume is *rejected*: counted and reported with its line number, the rest of
//! the file still loads (the shared file has 11 such rows). A value that is present but wrong — a ticker,
//! number or time that does not parse — is an *error*: the whole file is refused, naming file, line and field.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{Bar, BarTime, date_key, new_york_date};
use crate::domain::{Ticker, Timeframe};

/// A row left out because a value is missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// Which values are missing.
    pub reason: String,
}

/// What a file held.
#[derive(Debug, Default)]
pub struct CsvBars {
    /// Good rows, in file order.
    pub bars: Vec<Bar>,
    /// Rows left out, with their lines.
    pub rejected: Vec<Rejected>,
    /// Data rows read (good + rejected).
    pub rows: u64,
}

/// A file that cannot be imported; nothing from it is written.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub enum CsvBarsError {
    /// Cannot open or read.
    #[error("{file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    /// The header lacks a needed column.
    #[error("{file}, line 1: {why}")]
    Header {
        file: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A value that does not parse.
    #[error("{file}, line {line}, field {field}: {why} (value {value:?})")]
    Field {
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        field: String,
        /// The raw value.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// Broken CSV (bad quoting, invalid UTF-8).
    #[error("{file}, line {line}: {source}")]
    Csv {
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Parser error.
        source: csv::Error,
    },
}

/// Column positions of one file.
struct Columns {
    symbol: Option<usize>,
    time: usize,
    values: [usize; 5],
    names: Vec<String>,
}

const VALUE_NAMES: [&str; 5] = ["open", "high", "low", "close", "volume"];
const TIME_NAMES: [&str; 6] = ["date", "timestamp", "time", "datetime", "week_start", "month_start"];
const SYMBOL_NAMES: [&str; 3] = ["symbol", "ticker", "name"];

impl Columns {
    fn find(header: &csv::StringRecord, file: &Path, needs_symbol: bool) -> Result<Columns, CsvBarsError> {
        let names: Vec<String> =
            header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()).collect();
        let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
        let missing = |what: &str| CsvBarsError::Header {
            file: file.to_path_buf(),
            why: format!("no {what} column (found: {})", names.join(", ")),
        };
        let symbol = find(&SYMBOL_NAMES);
        if needs_symbol && symbol.is_none() {
            return Err(missing("symbol (symbol, ticker or Name)"));
        }
        let time = find(&TIME_NAMES).ok_or_else(|| missing("date or timestamp"))?;
        let mut values = [0; 5];
        for (slot, name) in values.iter_mut().zip(VALUE_NAMES) {
            *slot = find(&[name]).ok_or_else(|| missing(name))?;
        }
        Ok(Columns { symbol, time, values, names })
    }
}

/// `YYYY-MM-DD` without chrono's general parser (the common case, a million times per big file).
fn fast_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Parses a time cell for a timeframe.
fn parse_time(tf: Timeframe, raw: &str) -> Result<BarTime, String> {
    let raw = raw.trim();
    let instant = || -> Option<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Some(t.with_timezone(&Utc));
        }
        for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(raw, fmt) {
                return Some(t.and_utc());
            }
        }
        raw.parse::<i64>().ok().and_then(DateTime::from_timestamp_millis)
    };
    if tf.is_intraday() {
        return instant().map(BarTime::At).ok_or_else(|| {
            "not a timestamp (use RFC 3339, YYYY-MM-DD HH:MM:SS in UTC, or Unix milliseconds)".to_string()
        });
    }
    let date = match fast_date(raw).or_else(|| raw.parse::<NaiveDate>().ok()) {
        Some(d) => d,
        None => new_york_date(instant().ok_or_else(|| "not a date (use YYYY-MM-DD)".to_string())?),
    };
    Ok(BarTime::Date(date_key(tf, date)))
}

/// Reads a bar file. `symbol` names the file's symbol when it has no symbol column.
pub fn read_bars(path: &Path, tf: Timeframe, symbol: Option<&Ticker>) -> Result<CsvBars, CsvBarsError> {
    let file = std::fs::File::open(path).map_err(|source| CsvBarsError::Io { file: path.to_path_buf(), source })?;
    parse_bars(path, std::io::BufReader::with_capacity(1 << 20, file), tf, symbol)
}

/// Parses bar CSV from a reader; `path` names it in messages.
pub fn parse_bars(
    path: &Path,
    input: impl std::io::Read,
    tf: Timeframe,
    symbol: Option<&Ticker>,
) -> Result<CsvBars, CsvBarsError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(input);
    let header =
        reader.headers().map_err(|source| CsvBarsError::Csv { file: path.to_path_buf(), line: 1, source })?.clone();
    let cols = Columns::find(&header, path, symbol.is_none())?;
    let mut out = CsvBars::default();
    let mut record = csv::StringRecord::new();
    let mut last_symbol: Option<(String, Ticker)> = None;
    loop {
        let more = reader.read_record(&mut record).map_err(|source| {
            let line = source.position().map_or(0, |p| p.line());
            CsvBarsError::Csv { file: path.to_path_buf(), line, source }
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        out.rows += 1;
        let field_err = |col: usize, why: String| CsvBarsError::Field {
            file: path.to_path_buf(),
            line,
            field: cols.names.get(col).cloned().unwrap_or_default(),
            value: record.get(col).unwrap_or("").to_string(),
            why,
        };
        let cell = |col: usize| record.get(col).unwrap_or("");
        let missing: Vec<&str> =
            cols.values.iter().zip(VALUE_NAMES).filter(|(c, _)| cell(**c).is_empty()).map(|(_, n)| n).collect();
        if !missing.is_empty() {
            out.rejected.push(Rejected { line, reason: format!("missing {}", missing.join(", ")) });
            continue;
        }
        let ticker = match cols.symbol {
            Some(c) => {
                let raw = cell(c);
                match &last_symbol {
                    Some((r, t)) if r == raw => t.clone(),
                    _ => {
                        let t = Ticker::parse(raw).map_err(|e| field_err(c, e.to_string()))?;
                        last_symbol = Some((raw.to_string(), t.clone()));
                        t
                    }
                }
            }
            None => symbol.expect("checked when finding columns").clone(),
        };
        let time = parse_time(tf, cell(cols.time)).map_err(|why| field_err(cols.time, why))?;
        let mut v = [0f64; 5];
        for (slot, &col) in v.iter_mut().zip(&cols.values) {
            let x: f64 = cell(col).parse().map_err(|_| field_err(col, "not a number".to_string()))?;
            if !x.is_finite() || x < 0.0 {
                return Err(field_err(col, "must be a finite, non-negative number".to_string()));
            }
            *slot = x;
        }
        out.bars.push(Bar { symbol: ticker, time, open: v[0], high: v[1], low: v[2], close: v[3], volume: v[4] });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn shared_file_format_with_rejected_rows() {
        let f = file(
            "date,open,high,low,close,volume,Name\n2013-02-08,15.07,15.12,14.63,14.75,8407500,AAL\n2017-07-26,,,,69.0842,3,BHF\n",
        );
        let got = read_bars(f.path(), Timeframe::Day, None).unwrap();
        assert_eq!(got.rows, 2);
        assert_eq!(got.bars.len(), 1);
        assert_eq!(got.bars[0].symbol.as_str(), "AAL");
        assert_eq!(got.rejected, vec![Rejected { line: 3, reason: "missing open, high, low".into() }]);
    }

    #[test]
    fn bad_values_name_line_and_field() {
        let f = file(
            "symbol,timestamp,open,high,low,close,volume\nAAPL,2024-03-11T13:30:00Z,1,2,0.5,1.5,100\nAAPL,yesterday,1,2,0.5,1.5,100\n",
        );
        let err = read_bars(f.path(), Timeframe::Minute, None).unwrap_err().to_string();
        assert!(err.contains("line 3, field timestamp") && err.contains("\"yesterday\""), "{err}");
        let f = file("symbol,date,open,high,low,close,volume\nAAPL,2024-03-11,1,x,0.5,1.5,100\n");
        let err = read_bars(f.path(), Timeframe::Day, None).unwrap_err().to_string();
        assert!(err.contains("line 2, field high: not a number"), "{err}");
        let f = file("date,open,high,low,close\n2024-03-11,1,2,0.5,1.5\n");
        let err = read_bars(f.path(), Timeframe::Day, Some(&Ticker::parse("AAPL").unwrap())).unwrap_err().to_string();
        assert!(err.contains("line 1: no volume column"), "{err}");
    }

    #[test]
    fn per_symbol_files_and_weekly_keys() {
        let f = file("Date,Open,High,Low,Close,Volume\n2024-03-13,1,2,0.5,1.5,100\n");
        let got = read_bars(f.path(), Timeframe::Week, Some(&Ticker::parse("msft").unwrap())).unwrap();
        assert_eq!(got.bars[0].symbol.as_str(), "MSFT");
        assert_eq!(got.bars[0].time, BarTime::Date("2024-03-11".parse().unwrap()));
    }
}
