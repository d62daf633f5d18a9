//! `Timeframe`: the five bar sizes TickStock stores, each with its table, time column and Massive timespan.
//!
//! TickStock speaks three vocabularies for the same five sizes (jobs: `1min hour day week month`; its analysis
//! API: `1min hourly daily weekly monthly`; its old CLI: `minute day`). All of them parse here, once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A bar size with its own OHLCV table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Timeframe {
    /// One-minute bars → `ohlcv_1min` (UTC instants).
    Minute,
    /// Hourly bars → `ohlcv_hourly` (UTC instants).
    Hour,
    /// Daily bars → `ohlcv_daily` (New York trading dates).
    Day,
    /// Weekly bars → `ohlcv_weekly` (the Monday that starts the week).
    Week,
    /// Monthly bars → `ohlcv_monthly` (the first of the month).
    Month,
}

/// Not one of the five timeframes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe {0:?}: use 1min, hour, day, week or month")]
pub struct TimeframeError(pub String);

impl Timeframe {
    /// All five, smallest first.
    pub const ALL: [Timeframe; 5] =
        [Timeframe::Minute, Timeframe::Hour, Timeframe::Day, Timeframe::Week, Timeframe::Month];

    /// The job-protocol name (`1min`, `hour`, `day`, `week`, `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Minute => "1min",
            Timeframe::Hour => "hour",
            Timeframe::Day => "day",
            Timeframe::Week => "week",
            Timeframe::Month => "month",
        }
    }

    /// TickStock's table for this timeframe.
    pub fn table(self) -> &'static str {
        match self {
            Timeframe::Minute => "ohlcv_1min",
            Timeframe::Hour => "ohlcv_hourly",
            Timeframe::Day => "ohlcv_daily",
            Timeframe::Week => "ohlcv_weekly",
            Timeframe::Month => "ohlcv_monthly",
        }
    }

    /// The table's time column.
    pub fn time_column(self) -> &'static str {
        match self {
            Timeframe::Minute | Timeframe::Hour => "timestamp",
            Timeframe::Day => "date",
            Timeframe::Week => "week_start",
            Timeframe::Month => "month_start",
        }
    }

    /// Massive's `timespan` path segment (multiplier 1).
    pub fn massive_timespan(self) -> &'static str {
        match self {
            Timeframe::Minute => "minute",
            Timeframe::Hour => "hour",
            Timeframe::Day => "day",
            Timeframe::Week => "week",
            Timeframe::Month => "month",
        }
    }

    /// Whether bars are stamped with an instant (minute, hour) rather than a calendar date.
    pub fn is_intraday(self) -> bool {
        matches!(self, Timeframe::Minute | Timeframe::Hour)
    }

    /// Parses a comma-separated list (`1min,day`), keeping the first occurrence of each, in order.
    pub fn parse_list(raw: &str) -> Result<Vec<Timeframe>, TimeframeError> {
        let mut out = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let tf: Timeframe = part.parse()?;
            if !out.contains(&tf) {
                out.push(tf);
            }
        }
        if out.is_empty() {
            return Err(TimeframeError(raw.to_string()));
        }
        Ok(out)
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "1min" | "1m" | "minute" | "min" => Timeframe::Minute,
            "hour" | "hourly" | "1h" | "60min" => Timeframe::Hour,
            "day" | "daily" | "1d" => Timeframe::Day,
            "week" | "weekly" | "1w" => Timeframe::Week,
            "month" | "monthly" | "1mo" => Timeframe::Month,
            _ => return Err(TimeframeError(s.to_string())),
        })
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Timeframe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Timeframe;

    #[test]
    fn every_vocabulary_parses() {
        for (raw, tf) in [
            ("1min", Timeframe::Minute),
            ("hourly", Timeframe::Hour),
            ("DAILY", Timeframe::Day),
            ("week", Timeframe::Week),
            ("monthly", Timeframe::Month),
        ] {
            assert_eq!(raw.parse::<Timeframe>().unwrap(), tf);
        }
        assert!("5min".parse::<Timeframe>().is_err());
        assert_eq!(Timeframe::parse_list("day, 1min,day").unwrap(), vec![Timeframe::Day, Timeframe::Minute]);
        assert!(Timeframe::parse_list(" , ").is_err());
    }
}
