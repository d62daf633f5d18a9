//! Group kinds, group names and environments: the key of `definition_groups` is (name, type, environment).

use std::fmt;

use serde::Serialize;

use super::Ticker;

/// `definition_groups.type`. TickStock's code uses UNIVERSE although its shipped CHECK omitted it; our
/// migration widens that check.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
#[value(rename_all = "UPPERCASE")]
pub enum GroupKind {
    /// An exchange-traded fund; members are its holdings, with weights.
    Etf,
    /// A sector (`information_technology`, …, `unknown`); a stock is in exactly one.
    Sector,
    /// A theme (`crypto_miners`, …).
    Theme,
    /// An index universe (`sp500`, `nasdaq100`, `dow30`, `russell3000`, …).
    Universe,
    /// TickStock's SEGMENT type, accepted when read.
    Segment,
    /// TickStock's CUSTOM type, accepted when read.
    Custom,
}

impl GroupKind {
    /// All kinds, in display order.
    pub const ALL: [GroupKind; 6] = [
        GroupKind::Universe,
        GroupKind::Etf,
        GroupKind::Sector,
        GroupKind::Theme,
        GroupKind::Segment,
        GroupKind::Custom,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Etf => "ETF",
            GroupKind::Sector => "SECTOR",
            GroupKind::Theme => "THEME",
            GroupKind::Universe => "UNIVERSE",
            GroupKind::Segment => "SEGMENT",
            GroupKind::Custom => "CUSTOM",
        }
    }

    /// Parses the stored text (case-insensitive).
    pub fn parse(s: &str) -> Option<GroupKind> {
        GroupKind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group's name: an upper-case ticker for ETFs, a lower snake-case key for everything else
/// (`nasdaq100`, `information_technology`, `crypto_miners`), as TickStock stores them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(transparent)]
pub struct GroupName(String);

/// Why a group name is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {raw:?}: {why}")]
pub struct GroupNameError {
    /// The kind the name was meant for.
    pub kind: GroupKind,
    /// The input as given.
    pub raw: String,
    /// What is wrong.
    pub why: String,
}

impl GroupName {
    /// Parses a name for a kind: ETF names are tickers (canonicalised); others are lower-cased and must be
    /// `[a-z0-9_]`, 1–100 characters (spaces and dashes become `_`).
    pub fn parse(kind: GroupKind, raw: &str) -> Result<GroupName, GroupNameError> {
        let err = |why: String| GroupNameError { kind, raw: raw.to_string(), why };
        if kind == GroupKind::Etf {
            return Ticker::parse(raw).map(|t| GroupName(t.as_str().to_string())).map_err(|e| err(e.to_string()));
        }
        let key: String =
            raw.trim().chars().map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() }).collect();
        if key.is_empty() {
            return Err(err("empty name".into()));
        }
        if key.len() > 100 {
            return Err(err("longer than 100 characters".into()));
        }
        if let Some(c) = key.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
            return Err(err(format!("character {c:?} is not allowed (use letters, digits and _)")));
        }
        Ok(GroupName(key))
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a name read back from the store.
    pub(crate) fn from_stored(s: String) -> Self {
        GroupName(s)
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// TickStock's `environment` column: every group and cache row belongs to one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
#[value(rename_all = "UPPERCASE")]
pub enum Environment {
    /// What TickStock's runtime always reads.
    #[default]
    Default,
    /// Test data.
    Test,
    /// User acceptance.
    Uat,
    /// Production rows, kept apart from `DEFAULT` (which TickStock's runtime reads).
    Prod,
}

impl Environment {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Default => "DEFAULT",
            Environment::Test => "TEST",
            Environment::Uat => "UAT",
            Environment::Prod => "PROD",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = super::UnknownValue;
    /// The stored text (`DEFAULT`, `TEST`, `UAT`, `PROD`), as `as_str` writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Environment::Default, Environment::Test, Environment::Uat, Environment::Prod]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| super::UnknownValue { what: "environment", value: s.to_string() })
    }
}

impl TryFrom<String> for Environment {
    type Error = super::UnknownValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_tickstock_case() {
        assert_eq!(GroupName::parse(GroupKind::Etf, "spy").unwrap().as_str(), "SPY");
        assert_eq!(GroupName::parse(GroupKind::Universe, "NASDAQ100").unwrap().as_str(), "nasdaq100");
        assert_eq!(GroupName::parse(GroupKind::Theme, "Crypto Miners").unwrap().as_str(), "crypto_miners");
        assert!(GroupName::parse(GroupKind::Universe, "s&p").is_err());
        assert!(GroupName::parse(GroupKind::Universe, "").is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in GroupKind::ALL {
            assert_eq!(GroupKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(GroupKind::parse("etf"), Some(GroupKind::Etf));
    }
}
