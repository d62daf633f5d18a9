//! `Ticker`: a stock or fund symbol in one canonical form.
//!
//! Vendors spell share classes and preferred series differently (`BRK.B`, `BRK-B`, `BRK/B`, `BRK B`; Yahoo's
//! `AAIC-PB` and FinanceDatabase's `AAIC^B` for the same preferred series B). We parse every spelling once, at the
//! edge, into Massive's dotted form (`BRK.B`, `AAIC.PB`), so a symbol can never be stored twice under two names.

use std::fmt;

use serde::{Serialize, Serializer};

/// Longest canonical ticker we accept. TickStock's `symbols.symbol` is `varchar(20)`; real tickers with class
/// and series suffixes stay well under 15.
pub const MAX_TICKER_LEN: usize = 15;
/// Longest base symbol (before the first class separator).
const MAX_BASE_LEN: usize = 6;
/// Longest class/series part after a separator.
const MAX_PART_LEN: usize = 5;

/// A canonical ticker: upper-case ASCII letters and digits, with share-class parts joined by `.`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Ticker(String);

/// Why a raw string is not a ticker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickerError {
    /// Blank after trimming.
    #[error("empty ticker")]
    Empty,
    /// A character that no vendor uses in a symbol.
    #[error("invalid ticker {raw:?}: character {ch:?} is not a letter, digit or class separator (. - / ^ space)")]
    BadChar {
        /// The input as given.
        raw: String,
        /// The offending character.
        ch: char,
    },
    /// Structure is wrong: empty part, part too long, too many parts.
    #[error("invalid ticker {raw:?}: {why}")]
    Malformed {
        /// The input as given.
        raw: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Ticker {
    /// Parses and canonicalises a raw ticker: trims, upper-cases, and joins class parts with `.`.
    /// A `^` marks a preferred series (`AAIC^B` → `AAIC.PB`; a trailing `^` → `.P`).
    pub fn parse(raw: &str) -> Result<Self, TickerError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TickerError::Empty);
        }
        let malformed = |why| TickerError::Malformed { raw: raw.to_string(), why };
        let mut parts: Vec<String> = vec![String::new()];
        let mut preferred_next = false;
        let mut chars = trimmed.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' => {
                    let part = parts.last_mut().expect("parts is never empty");
                    if preferred_next && part.is_empty() {
                        part.push('P');
                        preferred_next = false;
                    }
                    part.push(c.to_ascii_uppercase());
                }
                '.' | '-' | '/' | ' ' | '^' => {
                    if parts.last().is_some_and(|p| p.is_empty()) {
                        // A run of spaces counts as one separator; any other doubled separator is an error.
                        if c == ' ' && parts.len() > 1 {
                            continue;
                        }
                        return Err(malformed("empty part between separators"));
                    }
                    if c == ' ' {
                        while chars.peek() == Some(&' ') {
                            chars.next();
                        }
                    }
                    parts.push(String::new());
                    preferred_next = c == '^';
                }
                other => {
                    return Err(TickerError::BadChar { raw: raw.to_string(), ch: other });
                }
            }
        }
        if parts.last().is_some_and(|p| p.is_empty()) {
            if preferred_next {
                parts.pop();
                parts.push("P".to_string());
            } else {
                return Err(malformed("ends with a separator"));
            }
        }
        if parts[0].len() > MAX_BASE_LEN {
            return Err(malformed("base symbol longer than 6 characters"));
        }
        if parts.len() > 4 {
            return Err(malformed("more than three class parts"));
        }
        if parts[1..].iter().any(|p| p.len() > MAX_PART_LEN) {
            return Err(malformed("class part longer than 5 characters"));
        }
        let canonical = parts.join(".");
        if canonical.len() > MAX_TICKER_LEN {
            return Err(malformed("longer than 15 characters"));
        }
        Ok(Ticker(canonical))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a string already in canonical form (read back from our own store).
    pub(crate) fn from_stored(s: String) -> Self {
        Ticker(s)
    }
}

impl fmt::Display for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Ticker {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Ticker {
    /// Parses (canonicalises) like [`Ticker::parse`]: a stored job or document never smuggles in a bad symbol.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ticker::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Ticker {
    type Err = TickerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ticker::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> String {
        Ticker::parse(s).unwrap().0
    }

    #[test]
    fn share_classes_have_one_form() {
        for raw in ["BRK.B", "BRK-B", "BRK/B", "BRK B", "brk.b", " brk-b "] {
            assert_eq!(t(raw), "BRK.B", "{raw}");
        }
    }

    #[test]
    fn preferred_series_have_one_form() {
        assert_eq!(t("AAIC^B"), "AAIC.PB");
        assert_eq!(t("AAIC-PB"), "AAIC.PB");
        assert_eq!(t("XYZ^"), "XYZ.P");
        assert_eq!(t("UMH PR-A"), "UMH.PR.A");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Ticker::parse("  "), Err(TickerError::Empty));
        assert!(matches!(Ticker::parse("AB*C"), Err(TickerError::BadChar { ch: '*', .. })));
        assert!(Ticker::parse("BRK..B").is_err());
        assert!(Ticker::parse("-BRK").is_err());
        assert!(Ticker::parse("BRK-").is_err());
        assert!(Ticker::parse("TOOLONGX").is_err());
        assert!(Ticker::parse("The content contained herein").is_err());
    }

    proptest! {
        /// Canonical form is a fixed point: parsing it again gives the same ticker.
        #[test]
        fn canonical_is_idempotent(raw in "[A-Za-z0-9]{1,6}([.\\-/ ^][A-Za-z0-9]{1,3}){0,2}") {
            if let Ok(first) = Ticker::parse(&raw) {
                prop_assert_eq!(Ticker::parse(first.as_str()).unwrap(), first);
            }
        }

        /// Every class separator gives the same ticker.
        #[test]
        fn separators_are_equivalent(base in "[A-Z]{1,5}", class in "[A-Z]{1,2}") {
            let dotted = Ticker::parse(&format!("{base}.{class}")).unwrap();
            for sep in ["-", "/", " "] {
                prop_assert_eq!(&Ticker::parse(&format!("{base}{sep}{class}")).unwrap(), &dotted);
            }
            prop_assert_eq!(Ticker::parse(&dotted.as_str().to_lowercase()).unwrap(), dotted);
        }

        /// Whatever the input, a parsed ticker is upper-case alphanumerics and dots, within the length bound.
        #[test]
        fn parsed_tickers_are_clean(raw in "\\PC{0,20}") {
            if let Ok(tk) = Ticker::parse(&raw) {
                prop_assert!(tk.as_str().len() <= MAX_TICKER_LEN);
                prop_assert!(tk.as_str().chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.'));
                prop_assert!(!tk.as_str().starts_with('.') && !tk.as_str().ends_with('.'));
            }
        }
    }
}
