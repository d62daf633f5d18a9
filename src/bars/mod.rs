//! OHLCV bars: the bar type, how a vendor timestamp becomes a table key, the trading calendar, the bar sources
//! (Massive or a folder of CSV files), CSV import, and the loader that runs symbol × timeframe tasks.
//!
//! Time rules (the existing tool got these wrong): daily bars are dated in America/New_York — Massive stamps a
//! day bar at 00:00 New York time, which is 04:00 or 05:00 UTC depending on DST, so a UTC date is right only by
//! luck; weekly bars are keyed by the Monday that starts the week and monthly bars by the first of the month;
//! minute and hourly bars keep their UTC instants.

pub mod calendar;
pub mod csv;
pub mod import;
pub mod load;
pub mod source;

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

use crate::domain::{Ticker, Timeframe};

pub use crate::domain::{Bar, BarTime, new_york_date};
pub use load::{
    LoadObserver, LoadRequest, LoadSummary, PointInTime, PointInTimeNote, RangeSpec, Strategy, TaskFailure, load_bars,
};
pub use source::{BarSource, LocalBars, SourceError};

/// The Monday that starts the week of `d`. Massive stamps weekly bars on the Sunday that opens the week, so a
/// Sunday belongs to the Monday after it.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    if d.weekday() == Weekday::Sun {
        return d + Duration::days(1);
    }
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The first day of the month of `d`.
pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("every month has a first day")
}

/// Normalises a calendar date to the key of a date-keyed timeframe.
pub fn date_key(tf: Timeframe, d: NaiveDate) -> NaiveDate {
    match tf {
        Timeframe::Week => week_start(d),
        Timeframe::Month => month_start(d),
        _ => d,
    }
}

/// Converts a Massive bar timestamp (Unix milliseconds, start of the bar window) to the timeframe's key.
/// `None` if the value is outside chrono's range (a garbage timestamp).
pub fn time_from_millis(tf: Timeframe, millis: i64) -> Option<BarTime> {
    let at = Utc.timestamp_millis_opt(millis).single()?;
    Some(if tf.is_intraday() { BarTime::At(at) } else { BarTime::Date(date_key(tf, new_york_date(at))) })
}

/// Builds weekly or monthly bars from daily ones (open of the first day, close of the last, extreme high and
/// low, summed volume): how a folder with only daily files still serves every date-keyed timeframe. Input in any
/// order; output sorted by symbol and period.
pub fn aggregate_daily(daily: &[Bar], tf: Timeframe) -> Vec<Bar> {
    let mut sorted: Vec<&Bar> = daily.iter().collect();
    sorted.sort_by(|a, b| (&a.symbol, a.time).cmp(&(&b.symbol, b.time)));
    let mut out: BTreeMap<(Ticker, NaiveDate), Bar> = BTreeMap::new();
    for bar in sorted {
        let BarTime::Date(d) = bar.time else { continue };
        let key = date_key(tf, d);
        out.entry((bar.symbol.clone(), key))
            .and_modify(|agg| {
                agg.high = agg.high.max(bar.high);
                agg.low = agg.low.min(bar.low);
                agg.close = bar.close;
                agg.volume += bar.volume;
            })
            .or_insert_with(|| Bar { time: BarTime::Date(key), ..bar.clone() });
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn daily_bars_are_new_york_dates_across_both_dst_switches() {
        // Massive's own recording: 2005-04-01 05:00 UTC (EST) and 2005-04-04 04:00 UTC (EDT, after the switch).
        assert_eq!(time_from_millis(Timeframe::Day, 1_112_331_600_000), Some(BarTime::Date(d("2005-04-01"))));
        assert_eq!(time_from_millis(Timeframe::Day, 1_112_587_200_000), Some(BarTime::Date(d("2005-04-04"))));
        // Spring forward 2024-03-10: Friday 03-08 at 05:00 UTC, Monday 03-11 at 04:00 UTC.
        let ms = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        assert_eq!(time_from_millis(Timeframe::Day, ms("2024-03-08T05:00:00Z")), Some(BarTime::Date(d("2024-03-08"))));
        assert_eq!(time_from_millis(Timeframe::Day, ms("2024-03-11T04:00:00Z")), Some(BarTime::Date(d("2024-03-11"))));
        // Fall back 2024-11-03: Friday 11-01 at 04:00 UTC, Monday 11-04 at 05:00 UTC.
        assert_eq!(time_from_millis(Timeframe::Day, ms("2024-11-01T04:00:00Z")), Some(BarTime::Date(d("2024-11-01"))));
        assert_eq!(time_from_millis(Timeframe::Day, ms("2024-11-04T05:00:00Z")), Some(BarTime::Date(d("2024-11-04"))));
        // A UTC date would have been wrong for a bar stamped late in the New York evening.
        assert_eq!(time_from_millis(Timeframe::Day, ms("2024-11-05T02:00:00Z")), Some(BarTime::Date(d("2024-11-04"))));
        // Minute bars keep the instant.
        let at = DateTime::parse_from_rfc3339("2024-03-11T13:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(time_from_millis(Timeframe::Minute, at.timestamp_millis()), Some(BarTime::At(at)));
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // Massive's weekly bar for the week of Monday 2024-03-11 is stamped Sunday 2024-03-10 00:00 New York.
        let ms = DateTime::parse_from_rfc3339("2024-03-10T05:00:00Z").unwrap().timestamp_millis();
        assert_eq!(time_from_millis(Timeframe::Week, ms), Some(BarTime::Date(d("2024-03-11"))));
        assert_eq!(week_start(d("2024-03-15")), d("2024-03-11"));
        assert_eq!(week_start(d("2024-03-11")), d("2024-03-11"));
        assert_eq!(month_start(d("2024-02-29")), d("2024-02-01"));
    }

    #[test]
    fn daily_bars_aggregate_to_weeks() {
        let t = Ticker::parse("AAPL").unwrap();
        let bar = |day: &str, o: f64, h: f64, l: f64, c: f64, v: f64| Bar {
            symbol: t.clone(),
            time: BarTime::Date(d(day)),
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
        };
        let daily = vec![
            bar("2024-03-13", 11.0, 14.0, 9.0, 12.0, 5.0),
            bar("2024-03-11", 10.0, 12.0, 8.0, 11.0, 3.0),
            bar("2024-03-18", 1.0, 1.0, 1.0, 1.0, 1.0),
        ];
        let weeks = aggregate_daily(&daily, Timeframe::Week);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0], bar("2024-03-11", 10.0, 14.0, 8.0, 12.0, 8.0));
    }
}
