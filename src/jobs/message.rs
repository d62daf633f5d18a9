//! TickStock's job messages (compat §2.1), parsed once into a [`JobSpec`]: which symbols (or which universe, or
//! which legacy CSV file), which timeframes, how many years. Anything the worker cannot run is a
//! [`MessageError`] naming the field, so the job ends `failed` with that message instead of vanishing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bars::PointInTime;
use crate::domain::{Ticker, Timeframe};

/// Largest message accepted (a Russell 3000 symbol list is about 25 kB).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The job types TickStock publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// The admin UI's universe load (symbols, else universe key, else legacy CSV file).
    CsvUniverseLoad,
    /// Symbols × one timespan.
    HistoricalLoad,
    /// Symbols × several timeframes.
    MultiTimeframeLoad,
    /// A named universe with its default history (ETF 1 year, SP500 and NASDAQ100 2 years).
    UniverseSeed,
}

impl JobType {
    /// The protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::CsvUniverseLoad => "csv_universe_load",
            JobType::HistoricalLoad => "historical_load",
            JobType::MultiTimeframeLoad => "multi_timeframe_load",
            JobType::UniverseSeed => "universe_seed",
        }
    }
}

/// What a job loads bars for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// These symbols.
    Symbols(Vec<Ticker>),
    /// The symbols of a universe key, resolved from the database when the job runs.
    UniverseKey(String),
    /// A legacy universe CSV file (`sp_500.csv`) in the configured folder.
    CsvFile(String),
}

/// A job the worker can run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct JobSpec {
    /// TickStock's id (a uuid4 string).
    pub job_id: String,
    pub job_type: JobType,
    /// What to load.
    pub target: Target,
    /// Timeframes, in order.
    pub timeframes: Vec<Timeframe>,
    /// Years of history (fractional allowed).
    pub years: f64,
    /// Who asked.
    pub requested_by: Option<String>,
    /// A survivorship-free load of a universe with history (our extension: `point_in_time: true`, `from`, `to`,
    /// `warmup_days`). Absent in TickStock's messages and in jobs stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTime>,
}

/// Why a message cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub enum MessageError {
    /// Over [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON, or not an object.
    #[error("message is not a JSON object: {0}")]
    NotJson(String),
    /// A required field is absent or empty.
    #[error("field {0} is missing")]
    Missing(&'static str),
    /// A field has the wrong type or value.
    #[error("field {field}: {why}")]
    Invalid {
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// The id of a message, if it has one (to report a failure on its status key).
pub fn job_id_of(raw: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(raw).ok()?;
    Some(v.get("job_id")?.as_str()?.to_string()).filter(|s| !s.is_empty())
}

fn invalid(field: &'static str, why: impl Into<String>) -> MessageError {
    MessageError::Invalid { field, why: why.into() }
}

fn symbols_of(v: &Value) -> Result<Vec<Ticker>, MessageError> {
    let Some(list) = v.get("symbols").filter(|s| !s.is_null()) else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| invalid("symbols", "must be a list of tickers"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let raw = s.as_str().ok_or_else(|| invalid("symbols", format!("item {i} is not a string")))?;
        out.push(Ticker::parse(raw).map_err(|e| invalid("symbols", format!("item {i}: {e}")))?);
    }
    Ok(out)
}

fn timeframes_of(v: &Value, default: &[Timeframe]) -> Result<Vec<Timeframe>, MessageError> {
    let Some(list) = v.get("timeframes").filter(|t| !t.is_null()) else { return Ok(default.to_vec()) };
    let list = list.as_array().ok_or_else(|| invalid("timeframes", "must be a list such as [\"day\"]"))?;
    let mut out = Vec::new();
    for t in list {
        let raw = t.as_str().ok_or_else(|| invalid("timeframes", "items must be strings"))?;
        let tf: Timeframe =
            raw.parse().map_err(|e: crate::domain::TimeframeError| invalid("timeframes", e.to_string()))?;
        if !out.contains(&tf) {
            out.push(tf);
        }
    }
    if out.is_empty() {
        return Err(MessageError::Missing("timeframes"));
    }
    Ok(out)
}

fn years_of(v: &Value, default: f64) -> Result<f64, MessageError> {
    let years = match v.get("years") {
        None | Some(Value::Null) => default,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        // TickStock's form posts send numbers as strings.
        Some(Value::String(s)) => s.trim().parse().map_err(|_| invalid("years", format!("{s:?} is not a number")))?,
        Some(other) => return Err(invalid("years", format!("{other} is not a number"))),
    };
    if !(years > 0.0 && years <= 100.0) {
        return Err(invalid("years", format!("{years} is outside 0..100")));
    }
    Ok(years)
}

fn date_of(v: &Value, field: &'static str) -> Result<Option<chrono::NaiveDate>, MessageError> {
    let Some(raw) = v.get(field).filter(|d| !d.is_null()) else { return Ok(None) };
    let s = raw.as_str().ok_or_else(|| invalid(field, "must be a date such as \"2008-01-01\""))?;
    s.trim().parse().map(Some).map_err(|_| invalid(field, format!("{s:?} is not a date (YYYY-MM-DD)")))
}

/// Our extension: `point_in_time: true` with `to` (default: today in New York), `from` (default: `years` before
/// `to`) and `warmup_days`; the range is fixed here, when the job is submitted.
fn point_in_time_of(v: &Value, years: f64) -> Result<Option<PointInTime>, MessageError> {
    match v.get("point_in_time") {
        None | Some(Value::Null | Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => {}
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => {}
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => return Ok(None),
        Some(other) => return Err(invalid("point_in_time", format!("{other} is not true or false"))),
    }
    let warmup_days = match v.get("warmup_days") {
        None | Some(Value::Null) => 0,
        Some(w) => w
            .as_i64()
            .or_else(|| w.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| invalid("warmup_days", format!("{w} is not a whole number of days")))?,
    };
    PointInTime::for_job(date_of(v, "from")?, date_of(v, "to")?, years, warmup_days)
        .map(Some)
        .map_err(|(field, why)| invalid(field, why))
}

fn text<'a>(v: &'a Value, field: &'static str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The universe key a legacy `universe_type` names.
fn universe_type_key(t: &str) -> Option<&'static str> {
    Some(match t.to_ascii_uppercase().replace(['_', '-'], "").as_str() {
        "SP500" => "sp500",
        "NASDAQ100" => "nasdaq100",
        "DOW30" => "dow30",
        "RUSSELL3000" => "russell3000",
        // A row organize keeps (the seed tree's "All ETFs"); `etf_core` is not in its definitions.
        "ETF" => "etf_universe:master_all_etfs",
        _ => return None,
    })
}

/// Parses a message from the wire.
pub fn parse(raw: &[u8]) -> Result<JobSpec, MessageError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::TooLarge(raw.len()));
    }
    let v: Value = serde_json::from_slice(raw).map_err(|e| MessageError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(MessageError::NotJson("a JSON value that is not an object".into()));
    }
    let job_id = text(&v, "job_id").ok_or(MessageError::Missing("job_id"))?.to_string();
    if job_id.len() > 128 {
        return Err(invalid("job_id", "longer than 128 characters"));
    }
    // TickStock's trigger-load omits job_type for historical and multi-timeframe loads (compat §2.1).
    let job_type = match text(&v, "job_type") {
        Some("csv_universe_load") => JobType::CsvUniverseLoad,
        Some("historical_load") => JobType::HistoricalLoad,
        Some("multi_timeframe_load") => JobType::MultiTimeframeLoad,
        Some("universe_seed") => JobType::UniverseSeed,
        Some(other) => return Err(invalid("job_type", format!("unknown job type {other:?}"))),
        None if v.get("timeframes").is_some() => JobType::MultiTimeframeLoad,
        None if v.get("symbols").is_some() => JobType::HistoricalLoad,
        None => return Err(MessageError::Missing("job_type")),
    };
    let requested_by = text(&v, "requested_by").map(str::to_string);
    let symbols = symbols_of(&v)?;
    let spec = |target, timeframes, years| JobSpec {
        job_id: job_id.clone(),
        job_type,
        target,
        timeframes,
        years,
        requested_by: requested_by.clone(),
        point_in_time: None,
    };
    let mut spec = match job_type {
        JobType::CsvUniverseLoad => {
            let target = if !symbols.is_empty() {
                Target::Symbols(symbols)
            } else if let Some(key) = text(&v, "universe_key").or_else(|| text(&v, "source")) {
                Target::UniverseKey(key.to_string())
            } else if let Some(file) = text(&v, "csv_file") {
                Target::CsvFile(file.to_string())
            } else {
                return Err(MessageError::Missing("symbols, universe_key or csv_file"));
            };
            spec(target, timeframes_of(&v, &[Timeframe::Day])?, years_of(&v, 1.0)?)
        }
        JobType::HistoricalLoad => {
            if symbols.is_empty() {
                return Err(MessageError::Missing("symbols"));
            }
            let tf = match text(&v, "timespan") {
                Some(t) => t.parse().map_err(|e: crate::domain::TimeframeError| invalid("timespan", e.to_string()))?,
                None => Timeframe::Day,
            };
            spec(Target::Symbols(symbols), vec![tf], years_of(&v, 1.0)?)
        }
        JobType::MultiTimeframeLoad => {
            if symbols.is_empty() {
                return Err(MessageError::Missing("symbols"));
            }
            spec(Target::Symbols(symbols), timeframes_of(&v, &[Timeframe::Hour, Timeframe::Day])?, years_of(&v, 1.0)?)
        }
        JobType::UniverseSeed => {
            let t = text(&v, "universe_type").ok_or(MessageError::Missing("universe_type"))?;
            let key =
                universe_type_key(t).ok_or_else(|| invalid("universe_type", format!("unknown universe type {t:?}")))?;
            let default_years = if key.starts_with("etf_universe") { 1.0 } else { 2.0 };
            spec(
                Target::UniverseKey(key.to_string()),
                timeframes_of(&v, &[Timeframe::Day])?,
                years_of(&v, default_years)?,
            )
        }
    };
    spec.point_in_time = point_in_time_of(&v, spec.years)?;
    if spec.point_in_time.is_some() && !matches!(spec.target, Target::UniverseKey(_)) {
        return Err(invalid("point_in_time", "needs a universe_key (a group with history), not a symbol list"));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message TickStockAppV2's trigger-universe-load publishes, field for field (compat §2.1).
    const APP_MESSAGE: &str = r#"{"job_id": "5b0c8f0e-2a1d-4c53-9a57-0e1f6f3b7a11", "job_type": "csv_universe_load",
        "source": "dow30", "universe_key": "dow30", "symbols": ["AAPL", "MSFT"], "timeframes": ["day", "week"],
        "years": 0.25, "run_analysis_after_import": false, "requested_by": "admin",
        "timestamp": "2026-11-21T09:00:00.123456"}"#;

    /// A point-in-time range is fixed when the job is submitted: `to` defaults to today (New York), `from` to
    /// `years` before it; a future start, a start after the end and a bad warm-up are refused, naming the field.
    #[test]
    fn point_in_time_range_is_fixed_at_submission() {
        let today = crate::bars::calendar::today_new_york(chrono::Utc::now());
        let m =
            br#"{"job_id":"p","job_type":"csv_universe_load","universe_key":"sp500","point_in_time":true,"years":1}"#;
        let pit = parse(m).unwrap().point_in_time.unwrap();
        assert_eq!(pit.to, Some(today));
        assert_eq!(pit.from, today - chrono::Duration::days(365));
        let bad = |body: &str| parse(body.as_bytes()).unwrap_err().to_string();
        let base = r#""job_id":"p","job_type":"csv_universe_load","universe_key":"sp500","point_in_time":true"#;
        assert!(bad(&format!(r#"{{{base},"from":"2999-01-01"}}"#)).starts_with("field from"));
        assert!(bad(&format!(r#"{{{base},"from":"2010-01-02","to":"2009-01-02"}}"#)).starts_with("field to"));
        assert!(bad(&format!(r#"{{{base},"warmup_days":-1}}"#)).starts_with("field warmup_days"));
    }

    #[test]
    fn the_apps_message_parses() {
        let s = parse(APP_MESSAGE.as_bytes()).unwrap();
        assert_eq!(s.job_type, JobType::CsvUniverseLoad);
        assert_eq!(s.target, Target::Symbols(vec![Ticker::parse("AAPL").unwrap(), Ticker::parse("MSFT").unwrap()]));
        assert_eq!(s.timeframes, [Timeframe::Day, Timeframe::Week]);
        assert_eq!(s.years, 0.25);
        assert_eq!(s.requested_by.as_deref(), Some("admin"));
    }

    #[test]
    fn other_shapes_and_defaults() {
        let s =
            parse(br#"{"job_id":"a","job_type":"csv_universe_load","universe_key":"nasdaq100:dow30","symbols":[]}"#)
                .unwrap();
        assert_eq!(
            (s.target, s.timeframes, s.years),
            (Target::UniverseKey("nasdaq100:dow30".into()), vec![Timeframe::Day], 1.0)
        );
        let s =
            parse(br#"{"job_id":"b","requested_by":"x","symbols":["aapl"],"years":"2","timespan":"hour"}"#).unwrap();
        assert_eq!((s.job_type, s.timeframes, s.years), (JobType::HistoricalLoad, vec![Timeframe::Hour], 2.0));
        let s =
            parse(br#"{"job_id":"c","symbols":["AAPL"],"timeframes":null,"job_type":"multi_timeframe_load"}"#).unwrap();
        assert_eq!(s.timeframes, [Timeframe::Hour, Timeframe::Day]);
        let s = parse(br#"{"job_id":"d","job_type":"universe_seed","universe_type":"SP500"}"#).unwrap();
        assert_eq!((s.target, s.years), (Target::UniverseKey("sp500".into()), 2.0));
        let s =
            parse(br#"{"job_id":"e","job_type":"csv_universe_load","csv_file":"sp_500.csv","universe_type":"sp_500"}"#)
                .unwrap();
        assert_eq!(s.target, Target::CsvFile("sp_500.csv".into()));
    }

    #[test]
    fn bad_messages_name_the_problem() {
        let err = |raw: &str| parse(raw.as_bytes()).unwrap_err().to_string();
        assert!(err("not json").starts_with("message is not a JSON object"));
        assert_eq!(err(r#"{"job_type":"csv_universe_load"}"#), "field job_id is missing");
        assert_eq!(
            err(r#"{"job_id":"x","job_type":"csv_universe_load","symbols":["AAPL"],"timeframes":["5min"]}"#),
            "field timeframes: unknown timeframe \"5min\": use 1min, hour, day, week or month"
        );
        assert!(err(r#"{"job_id":"x","job_type":"teleport"}"#).contains("unknown job type \"teleport\""));
        assert!(
            err(r#"{"job_id":"x","job_type":"historical_load","symbols":["A$B"]}"#)
                .starts_with("field symbols: item 0")
        );
        assert_eq!(
            err(r#"{"job_id":"x","job_type":"csv_universe_load"}"#),
            "field symbols, universe_key or csv_file is missing"
        );
        assert!(err(r#"{"job_id":"x","job_type":"historical_load","symbols":["A"],"years":-1}"#).contains("outside"));
        let big = format!(r#"{{"job_id":"x","pad":"{}"}}"#, "a".repeat(MAX_MESSAGE_BYTES));
        assert!(err(&big).contains("over the"));
        assert_eq!(job_id_of(br#"{"job_id":"abc","job_type":"nope"}"#).as_deref(), Some("abc"));
    }
}
