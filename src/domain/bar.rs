//! One OHLCV bar and the time that keys it: the values every bar source produces and the store writes. They live
//! here, below both, so the store depends on the domain and not on the loader.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::New_York;
use serde::Serialize;

use super::Ticker;

/// When a bar happened, in the form its table keys it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum BarTime {
    /// Minute and hourly bars: the UTC instant the bar window starts.
    At(DateTime<Utc>),
    /// Daily (trading date), weekly (Monday) and monthly (first of month) bars.
    Date(NaiveDate),
}

impl BarTime {
    /// The New York calendar date the bar falls on.
    pub fn new_york_date(self) -> NaiveDate {
        match self {
            BarTime::Date(d) => d,
            BarTime::At(t) => new_york_date(t),
        }
    }
}

/// One bar of one symbol.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct Bar {
    /// Canonical ticker.
    pub symbol: Ticker,
    /// Table key.
    pub time: BarTime,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Volume; Massive reports it as a float (fractional for some instruments). Stored rounded, as TickStock's
    /// `volume bigint` requires.
    pub volume: f64,
}

/// The New York calendar date of an instant.
pub fn new_york_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&New_York).date_naive()
}
