//! Evaluating the rules: from one snapshot of symbols and groups to the `cache_entries` rows to write.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::definitions::{Definitions, IndustryLeaders, RowDef, Rule, Shape};
use crate::domain::{GroupKind, Sector, Ticker};
use crate::store::{StoredGroup, SymbolRow};

/// Everything the rules read, loaded once.
pub struct Snapshot {
    /// Symbol metadata by ticker.
    pub symbols: HashMap<String, SymbolRow>,
    /// Groups of every kind, with members.
    pub groups: Vec<StoredGroup>,
}

/// A row to write.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct BuiltRow {
    pub kind: String,
    pub name: String,
    pub key: String,
    pub value: Value,
    /// Symbols in it.
    pub count: usize,
    /// The group it mirrors, when it is one group's members (validate compares the counts).
    pub source: Option<(String, String)>,
}

/// Stock facts the detailed shape shows.
struct Facts<'a> {
    sector_of: HashMap<&'a str, (Sector, Option<&'a str>)>,
    /// Active common stocks with a market cap, largest first.
    ranked: Vec<&'a SymbolRow>,
}

fn facts(snap: &Snapshot) -> Facts<'_> {
    let mut sector_of = HashMap::new();
    for g in snap.groups.iter().filter(|g| g.kind == GroupKind::Sector) {
        let sector = Sector::from_key(g.name.as_str()).unwrap_or(Sector::Unknown);
        for (t, m) in &g.members {
            let industry = m.metadata.as_ref().and_then(|v| v.get("industry")).and_then(Value::as_str);
            sector_of.insert(t.as_str(), (sector, industry));
        }
    }
    let mut ranked: Vec<&SymbolRow> = snap
        .symbols
        .values()
        .filter(|s| s.kind.as_deref() == Some("CS") && s.active != Some(false) && s.market_cap.is_some())
        .collect();
    ranked.sort_by(|a, b| b.market_cap.cmp(&a.market_cap).then_with(|| a.symbol.cmp(&b.symbol)));
    Facts { sector_of, ranked }
}

/// Industry label → key (`Semiconductors & Semiconductor Equipment` → `semiconductors_and_semiconductor_equipment`).
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().replace('&', " and ").chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn group<'a>(snap: &'a Snapshot, spec: &str) -> Option<&'a StoredGroup> {
    let (kind, name) = spec.split_once(':')?;
    let kind = GroupKind::parse(kind)?;
    snap.groups.iter().find(|g| g.kind == kind && g.name.as_str() == name)
}

/// Symbols a set rule selects, sorted; `None` for the rules that expand into several rows.
fn select(rule: &Rule, snap: &Snapshot, f: &Facts<'_>, defs: &Definitions, notes: &mut Vec<String>) -> Vec<String> {
    match rule {
        Rule::Group(spec) => match group(snap, spec) {
            Some(g) => g.members.keys().map(|t| t.as_str().to_string()).collect(),
            None => {
                notes.push(format!("group {spec} does not exist"));
                Vec::new()
            }
        },
        Rule::List(items) => {
            // A listed symbol stored as inactive (delisted) is left out; one not stored at all stays (a list may
            // name funds nobody loaded).
            let delisted = |t: &str| snap.symbols.get(t).is_some_and(|r| r.active == Some(false));
            let set: BTreeSet<String> = items
                .iter()
                .filter_map(|t| Ticker::parse(t).ok())
                .map(|t| t.to_string())
                .filter(|t| !delisted(t))
                .collect();
            set.into_iter().collect()
        }
        Rule::Union(rules) => {
            let set: BTreeSet<String> = rules.iter().flat_map(|r| select(r, snap, f, defs, notes)).collect();
            set.into_iter().collect()
        }
        Rule::MarketCap(b) => {
            let (lo, hi) = defs.thresholds.range(*b);
            f.ranked
                .iter()
                .filter(|s| s.market_cap.is_some_and(|c| (c as f64) >= lo && (c as f64) < hi))
                .map(|s| s.symbol.clone())
                .collect()
        }
        Rule::Top(n) => f.ranked.iter().take(*n).map(|s| s.symbol.clone()).collect(),
        Rule::TopEtfs(n) => {
            let mut etfs: Vec<&SymbolRow> =
                snap.symbols.values().filter(|s| s.kind.as_deref() == Some("ETF") && s.active != Some(false)).collect();
            etfs.sort_by(|a, b| b.market_cap.cmp(&a.market_cap).then_with(|| a.symbol.cmp(&b.symbol)));
            etfs.into_iter().take(*n).map(|s| s.symbol.clone()).collect()
        }
        Rule::All(t) => {
            let mut set: BTreeSet<String> = snap
                .symbols
                .values()
                .filter(|s| s.kind.as_deref() == Some(t.as_str()) && s.active != Some(false))
                .map(|s| s.symbol.clone())
                .collect();
            if t == "ETF" {
                set.extend(snap.groups.iter().filter(|g| g.kind == GroupKind::Etf).map(|g| g.name.to_string()));
            }
            set.into_iter().collect()
        }
        Rule::Industry(m) => {
            let words: Vec<String> = m.contains.iter().map(|w| crate::domain::fold(w)).collect();
            f.ranked
                .iter()
                .filter(|s| {
                    let industry = f.sector_of.get(s.symbol.as_str()).and_then(|x| x.1).or(s.industry.as_deref());
                    industry.map(crate::domain::fold).is_some_and(|i| words.iter().any(|w| i.contains(w.as_str())))
                })
                .take(m.top)
                .map(|s| s.symbol.clone())
                .collect()
        }
        Rule::EtfName(n) => {
            let lower = |v: &[String]| v.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>();
            let (include, exclude) = (lower(&n.include), lower(&n.exclude));
            let mut set: Vec<String> = snap
                .symbols
                .values()
                .filter(|s| s.kind.as_deref() == Some("ETF") && s.active != Some(false))
                .filter(|s| {
                    let name = s.name.as_deref().unwrap_or_default().to_lowercase();
                    include.iter().any(|w| name.contains(w.as_str()))
                        && !exclude.iter().any(|w| name.contains(w.as_str()))
                })
                .map(|s| s.symbol.clone())
                .collect();
            set.sort();
            set
        }
        Rule::SectorLeaders(_) | Rule::IndustryLeaders(_) | Rule::EachGroup(_) | Rule::Stats => Vec::new(),
    }
}

fn value_of(def: &RowDef, symbols: &[String], snap: &Snapshot, f: &Facts<'_>) -> Value {
    if def.shape == Shape::List {
        return json!(symbols);
    }
    let entries: Vec<Value> = symbols
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let s = snap.symbols.get(t);
            let (sector, industry) = f.sector_of.get(t.as_str()).copied().unwrap_or((Sector::Unknown, None));
            let industry = industry.or_else(|| s.and_then(|s| s.industry.as_deref())).unwrap_or("Unknown");
            let exchange = s.and_then(|s| s.exchange.as_deref()).unwrap_or("Unknown");
            let market_cap = s.and_then(|s| s.market_cap).map(|c| c as f64);
            if def.kind == "etf_universe" {
                // `ticker` as the complete rows have it, `symbol` as the category `_detailed` rows do.
                json!({ "name": s.and_then(|s| s.name.as_deref()), "rank": i + 1, "ticker": t, "symbol": t,
                        "etf_type": null, "issuer": null, "exchange": exchange, "market_cap": market_cap })
            } else {
                json!({ "name": s.and_then(|s| s.name.as_deref()), "rank": i + 1, "sector": sector.display_name(),
                        "ticker": t, "exchange": exchange, "industry": industry, "market_cap": market_cap,
                        "market": s.and_then(|s| s.market.as_deref()).unwrap_or("stocks") })
            }
        })
        .collect();
    let list_key = if def.kind == "etf_universe" { "etfs" } else { "stocks" };
    json!({ "count": entries.len(), list_key: entries })
}

fn stats(snap: &Snapshot, f: &Facts<'_>) -> (Value, usize) {
    let stocks: Vec<&SymbolRow> =
        snap.symbols.values().filter(|s| s.kind.as_deref() == Some("CS") && s.active != Some(false)).collect();
    let exchanges: BTreeSet<&str> = stocks.iter().filter_map(|s| s.exchange.as_deref()).collect();
    let markets: BTreeSet<&str> = stocks.iter().filter_map(|s| s.market.as_deref()).collect();
    // fold from +0.0: an empty f64 `sum()` is -0.0, which PostgreSQL's jsonb would store as 0.
    let total: f64 = f.ranked.iter().filter_map(|s| s.market_cap).fold(0.0, |a, c| a + c as f64);
    let average = if f.ranked.is_empty() { 0.0 } else { total / f.ranked.len() as f64 };
    let value = json!({ "overview": {
        "total_stocks": stocks.len(), "unique_exchanges": exchanges.len(), "unique_markets": markets.len(),
        "total_market_cap": total, "average_market_cap": average,
        "last_updated": chrono::Utc::now().naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "note": format!("{} of {} active common stocks have a market cap", f.ranked.len(), stocks.len()),
    }});
    (value, stocks.len())
}

/// Builds every row the definitions describe. Rows whose selection is empty are left out (and noted).
pub fn build(defs: &Definitions, snap: &Snapshot, notes: &mut Vec<String>) -> Vec<BuiltRow> {
    let f = facts(snap);
    // (definition, name, key, symbols, source group); `None` symbols means the stats row.
    type Pending<'d> = (&'d RowDef, String, String, Option<Vec<String>>, Option<(String, String)>);
    let mut pending: Vec<Pending<'_>> = Vec::new();
    for def in &defs.rows {
        match &def.rule {
            Rule::Stats => pending.push((def, def.name.clone(), def.key.clone(), None, None)),
            Rule::SectorLeaders(n) => {
                let mut by_sector: BTreeMap<Sector, Vec<String>> = BTreeMap::new();
                for s in &f.ranked {
                    if let Some((sector, _)) = f.sector_of.get(s.symbol.as_str())
                        && *sector != Sector::Unknown
                    {
                        let list = by_sector.entry(*sector).or_default();
                        if list.len() < *n {
                            list.push(s.symbol.clone());
                        }
                    }
                }
                for (sector, symbols) in by_sector {
                    pending.push((
                        def,
                        def.name.replace("{sector}", sector.key()).replace("{sector_tickstock}", sector.leader_key()),
                        def.key.replace("{sector}", sector.key()).replace("{sector_tickstock}", sector.leader_key()),
                        Some(symbols),
                        None,
                    ));
                }
            }
            Rule::IndustryLeaders(IndustryLeaders { top, min_stocks, max_industries }) => {
                let mut by_industry: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for s in &f.ranked {
                    let industry = f.sector_of.get(s.symbol.as_str()).and_then(|x| x.1).or(s.industry.as_deref());
                    if let Some(i) = industry {
                        by_industry.entry(i).or_default().push(s.symbol.clone());
                    }
                }
                let mut industries: Vec<(&str, Vec<String>)> =
                    by_industry.into_iter().filter(|(_, v)| v.len() >= *min_stocks).collect();
                industries.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
                for (industry, mut symbols) in industries.into_iter().take(*max_industries) {
                    symbols.truncate(*top);
                    let key = def.key.replace("{industry}", &slug(industry));
                    pending.push((def, def.name.replace("{industry}", industry), key, Some(symbols), None));
                }
            }
            Rule::EachGroup(kind) => {
                let kind = GroupKind::parse(kind).expect("checked when parsed");
                for g in snap.groups.iter().filter(|g| g.kind == kind) {
                    let description = g.description.clone().unwrap_or_else(|| g.name.to_string());
                    let name = def.name.replace("{name}", g.name.as_str()).replace("{description}", &description);
                    let key = def.key.replace("{name}", g.name.as_str());
                    let symbols = g.members.keys().map(|t| t.to_string()).collect();
                    pending.push((def, name, key, Some(symbols), Some((kind.to_string(), g.name.to_string()))));
                }
            }
            rule => {
                let symbols = select(rule, snap, &f, defs, notes);
                let source = match rule {
                    Rule::Group(spec) => spec.split_once(':').map(|(k, n)| (k.to_string(), n.to_string())),
                    _ => None,
                };
                pending.push((def, def.name.clone(), def.key.clone(), Some(symbols), source));
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (def, name, key, symbols, source) in pending {
        // Two definitions may yield one row (an explicit `banks` row and an industry named Banks): the first wins.
        if !seen.insert((def.kind.clone(), name.clone(), key.clone())) {
            notes.push(format!(
                "{}:{name}:{key} (line {}) left out: an earlier row has the same key",
                def.kind, def.line
            ));
            continue;
        }
        let (value, count) = match symbols {
            None => stats(snap, &f),
            Some(s) if s.is_empty() => {
                notes.push(format!("{}:{key} left out: no symbols (line {})", def.kind, def.line));
                continue;
            }
            Some(s) => (value_of(def, &s, snap, &f), s.len()),
        };
        out.push(BuiltRow { kind: def.kind.clone(), name, key, value, count, source });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn industry_keys() {
        assert_eq!(
            super::slug("Semiconductors & Semiconductor Equipment"),
            "semiconductors_and_semiconductor_equipment"
        );
        assert_eq!(super::slug("REIT - Mortgage"), "reit_mortgage");
    }
}
