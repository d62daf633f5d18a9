//! The daily sync's rules file (`data/sync.toml`, or `--rules FILE`): where a recent IPO goes. Parsed once at the
//! edge into checked group names, every problem naming the file and line.

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{GroupKind, GroupName};
use crate::load::{Input, Problem};

/// The shipped rules (`data/sync.toml`).
pub const DEFAULT_RULES: (&str, &[u8]) =
    ("data/sync.toml", include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sync.toml")));

/// The sync's rules.
#[derive(Debug, Clone)]
pub struct SyncRules {
    /// Where the rules came from (for the run's record).
    pub source: String,
    /// IPO assignment.
    pub ipo: IpoRules,
}

/// Which symbols count as recent IPOs, and which UNIVERSE groups they join.
#[derive(Debug, Clone)]
pub struct IpoRules {
    /// A symbol listed within this many days of the sync (or new in its list) is a candidate.
    pub lookback_days: i64,
    /// Symbol types considered (`CS`, …).
    pub types: Vec<String>,
    /// Sector rules, first match wins.
    pub sector: Vec<SectorRule>,
    /// Where a candidate no sector rule matched goes.
    pub fallback: Fallback,
}

/// Symbols whose sector contains `contains` (ignoring case, spaces and `_`) join `universes`.
#[derive(Debug, Clone)]
pub struct SectorRule {
    /// Normalised: lower case, no spaces or `_`.
    pub contains: String,
    /// UNIVERSE groups.
    pub universes: Vec<GroupName>,
}

/// The groups for a candidate no sector rule matched, by market cap.
#[derive(Debug, Clone)]
pub struct Fallback {
    /// At or above this cap, `large`; below it or unknown, `small`.
    pub min_market_cap: f64,
    /// The group for the larger ones.
    pub large: GroupName,
    /// The group for the rest.
    pub small: GroupName,
}

pub use crate::domain::fold as normalise;

impl IpoRules {
    /// The groups a candidate joins: its sector's rule, else the fallback by cap.
    pub fn groups_for(&self, sector: Option<&str>, market_cap: Option<i64>) -> (Vec<&GroupName>, String) {
        if let Some(sector) = sector {
            let s = normalise(sector);
            if let Some(rule) = self.sector.iter().find(|r| s.contains(&r.contains)) {
                return (rule.universes.iter().collect(), format!("IPO, sector {sector}"));
            }
        }
        let large = market_cap.is_some_and(|c| c as f64 >= self.fallback.min_market_cap);
        let cap = match market_cap {
            None => "market cap unknown".to_string(),
            Some(_) => {
                format!("market cap {} {:.1} B", if large { "≥" } else { "<" }, self.fallback.min_market_cap / 1e9)
            }
        };
        let why = format!("IPO, no sector rule{}; {cap}", sector.map(|s| format!(" for {s}")).unwrap_or_default());
        (vec![if large { &self.fallback.large } else { &self.fallback.small }], why)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    ipo: RawIpo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIpo {
    lookback_days: Spanned<i64>,
    types: Vec<String>,
    #[serde(default)]
    sector: Vec<RawSector>,
    fallback: RawFallback,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSector {
    contains: Spanned<String>,
    universes: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFallback {
    min_market_cap: f64,
    large: Spanned<String>,
    small: Spanned<String>,
}

fn line_of(text: &str, offset: usize) -> u64 {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() as u64 + 1
}

/// Parses a rules file, reporting every problem with its line.
pub fn parse(input: &Input) -> Result<SyncRules, Vec<Problem>> {
    let text = input.text().map_err(|p| vec![p])?;
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        vec![Problem::at(&input.name, line, None, e.message().to_string())]
    })?;
    let mut problems = Vec::new();
    let mut group = |field: &str, raw: &Spanned<String>| match GroupName::parse(GroupKind::Universe, raw.get_ref()) {
        Ok(g) => Some(g),
        Err(e) => {
            problems.push(Problem::at(&input.name, line_of(text, raw.span().start), Some(field), e.to_string()));
            None
        }
    };
    let mut sector = Vec::new();
    for rule in &file.ipo.sector {
        let universes: Vec<GroupName> = rule.universes.iter().filter_map(|u| group("universes", u)).collect();
        sector.push(SectorRule { contains: normalise(rule.contains.get_ref()), universes });
    }
    let large = group("large", &file.ipo.fallback.large);
    let small = group("small", &file.ipo.fallback.small);
    for rule in &file.ipo.sector {
        if normalise(rule.contains.get_ref()).is_empty() || rule.universes.is_empty() {
            problems.push(Problem::at(
                &input.name,
                line_of(text, rule.contains.span().start),
                Some("contains"),
                "a sector rule needs a non-empty `contains` and at least one universe",
            ));
        }
    }
    if !(0..=3650).contains(file.ipo.lookback_days.get_ref()) {
        problems.push(Problem::at(
            &input.name,
            line_of(text, file.ipo.lookback_days.span().start),
            Some("lookback_days"),
            "expected 0 to 3650 days",
        ));
    }
    match (large, small) {
        (Some(large), Some(small)) if problems.is_empty() => Ok(SyncRules {
            source: input.name.clone(),
            ipo: IpoRules {
                lookback_days: *file.ipo.lookback_days.get_ref(),
                types: file.ipo.types,
                sector,
                fallback: Fallback { min_market_cap: file.ipo.fallback.min_market_cap, large, small },
            },
        }),
        _ => Err(problems),
    }
}

/// The rules in a file, or the shipped ones (`None`).
pub fn from(path: Option<&std::path::Path>, max_bytes: u64) -> Result<SyncRules, Vec<Problem>> {
    let input = match path {
        Some(p) => Input::read(p, max_bytes).map_err(|p| vec![p])?,
        None => Input::from_bytes(DEFAULT_RULES.0, DEFAULT_RULES.1),
    };
    parse(&input)
}

/// The shipped rules.
pub fn shipped() -> SyncRules {
    from(None, 0).expect("the shipped sync rules parse (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_match_tickstock() {
        let rules = shipped();
        let names = |s: Option<&str>, cap| {
            rules.ipo.groups_for(s, cap).0.iter().map(|g| g.as_str().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names(Some("Information Technology"), None), ["tech_growth", "high_growth"]);
        assert_eq!(names(Some("Health Care"), None), ["defensive_growth", "large_cap"]);
        assert_eq!(names(Some("Consumer Staples"), None), ["consumer_focused"]);
        assert_eq!(names(Some("Materials"), Some(2_000_000_000)), ["general_market"]);
        assert_eq!(names(None, Some(5)), ["small_cap_general"]);
        assert_eq!(names(None, None), ["small_cap_general"]);
    }

    #[test]
    fn bad_rules_name_line_and_field() {
        let text = "[ipo]\nlookback_days = 30\ntypes = [\"CS\"]\n[[ipo.sector]]\ncontains = \"tech\"\nuniverses = [\"bad name!\"]\n[ipo.fallback]\nmin_market_cap = 1e9\nlarge = \"a\"\nsmall = \"b\"\n";
        let problems = parse(&Input::from_bytes("r.toml", text)).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].line, problems[0].field.as_deref()), (Some(6), Some("universes")));
        let problems = parse(&Input::from_bytes("r.toml", "[ipo]\nlookback_days = 30\n")).unwrap_err();
        assert!(problems[0].reason.contains("missing field"), "{problems:?}");
    }
}
