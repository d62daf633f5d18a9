//! `Weight`: a holding's share of a fund, stored as TickStock does — a fraction (0.0652 = 6.52 %).
//!
//! Issuers publish weights as `6.52`, `6.52%` or `0.0652`. The unit is decided once per file
//! ([`WeightUnit::detect`]), never row by row, so a 0.5 % position in a percent file is not mistaken for 50 %.
//! TickStock's column is `numeric(5,4)`, so weights are quantised to 0.0001 (one basis point) at parse time;
//! both backends then store and compare exactly the same value.

use std::fmt;

use serde::{Serialize, Serializer};

/// Scale of the stored fraction: 10,000 units = 100 %.
const SCALE: f64 = 10_000.0;

/// A weight in basis points of the fund (0..=10,000).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Weight(u32);

/// How a file writes its weights.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightUnit {
    /// `6.52` or `6.52%` means 6.52 %.
    Percent,
    /// `0.0652` means 6.52 %.
    Fraction,
}

/// A weight cell read but not yet interpreted: its number and whether it carried a `%` sign.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawWeight {
    /// The number as written.
    pub value: f64,
    /// Whether the cell had a trailing `%`.
    pub percent_sign: bool,
}

/// Why a weight cell is rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    /// Not a number.
    #[error("weight {0:?} is not a number")]
    NotANumber(String),
    /// Below zero.
    #[error("weight {0} is negative")]
    Negative(String),
    /// Above the whole fund.
    #[error("weight {0} is over 100 %")]
    OverHundred(String),
}

impl RawWeight {
    /// Reads a cell such as `6.52`, ` 6.52 % `, `0.0652`, `1,234.5`. An empty cell or `-` is `None`.
    pub fn parse(cell: &str) -> Result<Option<RawWeight>, WeightError> {
        let s = cell.trim();
        if s.is_empty() || s == "-" || s == "--" {
            return Ok(None);
        }
        let (num, percent_sign) = match s.strip_suffix('%') {
            Some(rest) => (rest.trim(), true),
            None => (s, false),
        };
        let cleaned: String = num.chars().filter(|c| *c != ',').collect();
        let value: f64 = cleaned.parse().map_err(|_| WeightError::NotANumber(cell.to_string()))?;
        if !value.is_finite() {
            return Err(WeightError::NotANumber(cell.to_string()));
        }
        Ok(Some(RawWeight { value, percent_sign }))
    }
}

impl WeightUnit {
    /// Decides a file's unit from its header and all its weight cells: a `%` in the header or in any value means
    /// percent; otherwise weights summing to more than 1.5 (a full fund sums to about 100) mean percent, and
    /// weights summing to at most 1.5 (about 1) mean fractions.
    pub fn detect(header_has_percent: bool, values: impl IntoIterator<Item = RawWeight>) -> WeightUnit {
        if header_has_percent {
            return WeightUnit::Percent;
        }
        let mut sum = 0.0;
        for v in values {
            if v.percent_sign {
                return WeightUnit::Percent;
            }
            sum += v.value;
        }
        if sum > 1.5 { WeightUnit::Percent } else { WeightUnit::Fraction }
    }
}

impl Weight {
    /// Interprets a raw cell in the file's unit, checking the range 0..=100 %.
    pub fn from_raw(raw: RawWeight, unit: WeightUnit) -> Result<Weight, WeightError> {
        let fraction = match unit {
            WeightUnit::Percent => raw.value / 100.0,
            WeightUnit::Fraction => raw.value,
        };
        let shown = || match unit {
            WeightUnit::Percent => format!("{}%", raw.value),
            WeightUnit::Fraction => format!("{} (= {}%)", raw.value, raw.value * 100.0),
        };
        if fraction < 0.0 {
            return Err(WeightError::Negative(shown()));
        }
        // Allow rounding noise right at 100 %.
        if fraction > 1.0 + 1e-9 {
            return Err(WeightError::OverHundred(shown()));
        }
        Ok(Weight((fraction * SCALE).round() as u32))
    }

    /// The fraction stored in `group_memberships.weight`.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / SCALE
    }

    /// Rebuilds a weight from a stored fraction.
    pub fn from_fraction(f: f64) -> Weight {
        Weight((f * SCALE).round().clamp(0.0, SCALE) as u32)
    }

    /// Rebuilds a weight from basis points (the stored fraction × 10,000).
    pub fn from_basis_points(units: i64) -> Weight {
        Weight(units.clamp(0, SCALE as i64) as u32)
    }

    /// Percent, for display.
    pub fn percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}%", self.percent())
    }
}

impl Serialize for Weight {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.fraction())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(s: &str) -> RawWeight {
        RawWeight::parse(s).unwrap().unwrap()
    }

    #[test]
    fn three_spellings_one_weight() {
        let pct = Weight::from_raw(raw("6.52"), WeightUnit::Percent).unwrap();
        let sign = Weight::from_raw(raw("6.52%"), WeightUnit::Percent).unwrap();
        let frac = Weight::from_raw(raw("0.0652"), WeightUnit::Fraction).unwrap();
        assert_eq!(pct, sign);
        assert_eq!(pct, frac);
        assert_eq!(pct.fraction(), 0.0652);
    }

    #[test]
    fn unit_is_decided_once_per_file() {
        // A percent file whose first row is small must not turn fractional row by row.
        let cells = [raw("0.5"), raw("60"), raw("39.5")];
        assert_eq!(WeightUnit::detect(false, cells), WeightUnit::Percent);
        let cells = [raw("0.005"), raw("0.6"), raw("0.395")];
        assert_eq!(WeightUnit::detect(false, cells), WeightUnit::Fraction);
        assert_eq!(WeightUnit::detect(false, [raw("0.5%")]), WeightUnit::Percent);
        assert_eq!(WeightUnit::detect(true, [raw("0.5")]), WeightUnit::Percent);
    }

    #[test]
    fn out_of_range_and_garbage() {
        assert!(matches!(Weight::from_raw(raw("-1"), WeightUnit::Percent), Err(WeightError::Negative(_))));
        assert!(matches!(Weight::from_raw(raw("100.5"), WeightUnit::Percent), Err(WeightError::OverHundred(_))));
        assert!(matches!(Weight::from_raw(raw("1.2"), WeightUnit::Fraction), Err(WeightError::OverHundred(_))));
        assert!(matches!(RawWeight::parse("abc"), Err(WeightError::NotANumber(_))));
        assert!(matches!(RawWeight::parse("NaN"), Err(WeightError::NotANumber(_))));
        assert_eq!(RawWeight::parse(" ").unwrap(), None);
        assert_eq!(RawWeight::parse("-").unwrap(), None);
        assert_eq!(raw("1,234.5").value, 1234.5);
    }

    proptest! {
        /// Percent and fraction spellings of the same basis-point weight agree exactly.
        #[test]
        fn percent_and_fraction_agree(bp in 0u32..=10_000) {
            let pct = format!("{}", f64::from(bp) / 100.0);
            let frac = format!("{}", f64::from(bp) / 10_000.0);
            let a = Weight::from_raw(raw(&pct), WeightUnit::Percent).unwrap();
            let b = Weight::from_raw(raw(&format!("{pct}%")), WeightUnit::Percent).unwrap();
            let c = Weight::from_raw(raw(&frac), WeightUnit::Fraction).unwrap();
            prop_assert_eq!(a, b);
            prop_assert_eq!(a, c);
            prop_assert_eq!(Weight::from_fraction(a.fraction()), a);
        }

        /// Any number either parses into the range or is rejected; never a weight outside 0..=100 %.
        #[test]
        fn never_out_of_range(v in -1000.0f64..1000.0, pct in any::<bool>()) {
            let unit = if pct { WeightUnit::Percent } else { WeightUnit::Fraction };
            if let Ok(w) = Weight::from_raw(RawWeight { value: v, percent_sign: false }, unit) {
                prop_assert!((0.0..=1.0).contains(&w.fraction()));
            }
        }
    }
}
