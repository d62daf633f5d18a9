//! Rule-based themes: a THEME group whose definition carries a `rule` (sectors, industries, a market-cap floor,
//! explicit includes and excludes) has its members computed from the symbols — when it is loaded, and again by
//! every daily sync (theme rebalancing). Hand-made themes (a `members` list and no rule) are never touched.
//!
//! ```toml
//! [[theme]]
//! key = "semiconductors"
//! name = "Semiconductors"
//! rule = { industries = ["semiconductor"], min_market_cap = 2e9, include = ["ASML"], exclude = ["INTC"] }
//! ```

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::rules::normalise;
use crate::store::SymbolRow;

/// Which symbols a rule-based theme holds. Sectors and industries match when the symbol's contains one of the
/// given words (ignoring case, spaces and `_`); every condition given must hold; `include` adds listed symbols
/// whatever the conditions, `exclude` removes them. Only active symbols of `types` count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeRule {
    /// Sector words (any matches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<String>,
    /// Industry words (any matches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub industries: Vec<String>,
    /// Market cap floor in dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_market_cap: Option<f64>,
    /// Symbol types (default: common stock and ADRs).
    #[serde(default = "default_types")]
    pub types: Vec<String>,
    /// Always members (when stored and active).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Never members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

fn default_types() -> Vec<String> {
    vec!["CS".into(), "ADRC".into()]
}

impl ThemeRule {
    /// Why the rule cannot select anything, if so.
    pub fn problem(&self) -> Option<&'static str> {
        (self.sectors.is_empty() && self.industries.is_empty() && self.include.is_empty())
            .then_some("a theme rule needs sectors, industries or include")
    }

    /// The members the rule selects from the symbols, sorted.
    pub fn members(&self, symbols: &HashMap<String, SymbolRow>) -> BTreeSet<String> {
        let words = |list: &[String]| list.iter().map(|w| normalise(w)).collect::<Vec<_>>();
        let (sectors, industries) = (words(&self.sectors), words(&self.industries));
        let matches = |value: Option<&str>, words: &[String]| {
            words.is_empty() || value.map(normalise).is_some_and(|v| words.iter().any(|w| v.contains(w)))
        };
        let exclude: BTreeSet<&str> = self.exclude.iter().map(String::as_str).collect();
        let by_condition = (!sectors.is_empty() || !industries.is_empty()).then_some(()).into_iter().flat_map(|_| {
            symbols.values().filter(|r| {
                r.kind.as_deref().is_some_and(|k| self.types.iter().any(|t| t == k))
                    && matches(r.sector.as_deref(), &sectors)
                    && matches(r.industry.as_deref(), &industries)
                    && self.min_market_cap.is_none_or(|floor| r.market_cap.is_some_and(|c| c as f64 >= floor))
            })
        });
        let included = self.include.iter().filter_map(|s| symbols.get(s));
        by_condition
            .chain(included)
            .filter(|r| r.active != Some(false) && !exclude.contains(r.symbol.as_str()))
            .map(|r| r.symbol.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(symbol: &str, kind: &str, industry: &str, cap: i64, active: bool) -> (String, SymbolRow) {
        let r = SymbolRow {
            symbol: symbol.into(),
            kind: Some(kind.into()),
            sector: Some("Information Technology".into()),
            industry: Some(industry.into()),
            market_cap: Some(cap),
            active: Some(active),
            ..SymbolRow::default()
        };
        (symbol.into(), r)
    }

    #[test]
    fn conditions_includes_and_excludes() {
        let symbols: HashMap<String, SymbolRow> = [
            row("NVDA", "CS", "Semiconductors", 4_000_000_000_000, true),
            row("INTC", "CS", "Semiconductors", 100_000_000_000, true),
            row("TINY", "CS", "Semiconductor Equipment", 100_000_000, true),
            row("GONE", "CS", "Semiconductors", 9_000_000_000, false),
            row("SMH", "ETF", "Semiconductors", 9_000_000_000, true),
            row("MSFT", "CS", "Software", 3_000_000_000_000, true),
        ]
        .into_iter()
        .collect();
        let rule = ThemeRule {
            industries: vec!["semiconductor".into()],
            min_market_cap: Some(2e9),
            include: vec!["MSFT".into(), "NOPE".into()],
            exclude: vec!["INTC".into()],
            ..ThemeRule { types: default_types(), ..ThemeRule::default() }
        };
        let got: Vec<String> = rule.members(&symbols).into_iter().collect();
        assert_eq!(got, ["MSFT", "NVDA"]);
        assert!(ThemeRule::default().problem().is_some());
    }
}
