//! `universe enrich sectors --from-sic`: sectors for stocks that have none (or only `unknown`) from the SIC code
//! Massive reports for them (`symbols.sic_code`, written by `symbols refresh`), mapped by [`Sector::from_sic`].
//!
//! Precedence: a classification file and sector-ETF holdings outrank SIC codes, so a stock already in a named
//! sector is never moved. SIC only fills gaps. The change goes through the sectors loader (one transaction,
//! membership history, a `load_runs` row that can be rolled back, `--dry-run`), with the membership metadata
//! `{industry, source: "sic", sic_code}`; coverage is reported before and after.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Input;
use super::parsed::{GroupInput, MemberInput, Parsed};
use super::{LoadError, LoadKind, LoadReport, LoadRequest, Mode, apply};
use crate::domain::{Environment, GroupKind, GroupName, Sector, Ticker};
use crate::store::{NewRun, Store};

/// Fund types that a SIC code (of the sponsor) says nothing about.
const FUND_TYPES: [&str; 4] = ["ETF", "ETN", "FUND", "ETV"];

/// Sector coverage of the stocks this service knows (group members and symbols with a SIC code, funds aside).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Coverage {
    /// Stocks counted.
    pub stocks: usize,
    /// Of those, in a named sector (not `unknown`, not missing).
    pub classified: usize,
    /// `classified / stocks` in percent.
    pub percent: f64,
}

impl Coverage {
    fn of(stocks: usize, classified: usize) -> Coverage {
        let percent = if stocks == 0 { 0.0 } else { classified as f64 * 100.0 / stocks as f64 };
        Coverage { stocks, classified, percent: (percent * 100.0).round() / 100.0 }
    }
}

/// One stock given a sector from its SIC code or a classification file.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SicAssignment {
    pub symbol: String,
    /// SIC code (SIC source).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sic_code: String,
    /// `sic`, or the classification file's name.
    pub source: String,
    /// The file's sector label, as written (file source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Sector key.
    pub sector: &'static str,
    /// Industry (the SIC description, title-cased).
    pub industry: Option<String>,
}

/// One source's share of an enrichment.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SourceCoverage {
    /// `sic`, or the file's name.
    pub source: String,
    /// Stocks it classified (none an earlier source had).
    pub assigned: usize,
    /// Coverage after it.
    pub after: Coverage,
}

/// What the enrichment did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct EnrichReport {
    pub before: Coverage,
    /// After (as planned, for a dry run).
    pub after: Coverage,
    /// Stocks classified (from their SIC code, or the file).
    pub assigned: Vec<SicAssignment>,
    /// Unclassified stocks whose SIC code (or file label) maps to no sector.
    pub unmapped: Vec<String>,
    /// File source: each label and the sector it maps to, with how many stocks it classified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<(String, &'static str, usize)>,
    /// Each source in order (`sic`, or each file, the first to know a stock winning): how many stocks it
    /// classified and the coverage once it has.
    pub sources: Vec<SourceCoverage>,
    /// The sectors load that applied it (absent when there was nothing to do).
    pub load: Option<LoadReport>,
}

fn title_case(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            let lower = w.to_lowercase();
            let mut c = lower.chars();
            c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stocks coverage counts that have no sector (or only `unknown`), sorted: those `enrich sectors --from-sic
/// --unknown` fetches SIC codes for.
pub async fn unclassified_stocks(store: &Store, env: Environment) -> Result<Vec<String>, crate::store::StoreError> {
    let groups = store.groups_with_members(env, GroupKind::Sector).await?;
    let sic = store.sic_codes().await?;
    let mut named: BTreeSet<String> = BTreeSet::new();
    let mut stocks: BTreeSet<String> = BTreeSet::new();
    for g in &groups {
        for t in g.members.keys() {
            stocks.insert(t.to_string());
            if g.name.as_str() != Sector::Unknown.key() {
                named.insert(t.to_string());
            }
        }
    }
    stocks.extend(store.index_and_etf_members(env).await?);
    let is_fund = |k: &Option<String>| k.as_deref().is_some_and(|k| FUND_TYPES.contains(&k));
    stocks.extend(sic.iter().filter(|r| !is_fund(&r.kind)).map(|r| r.symbol.clone()));
    Ok(stocks.difference(&named).cloned().collect())
}

/// Classifies unclassified stocks by SIC code. `mode` is `Full` or `DryRun`.
pub async fn enrich_from_sic(store: &Store, env: Environment, mode: Mode) -> Result<EnrichReport, LoadError> {
    enrich_sectors(store, env, mode, &[]).await
}

/// A classification file's rows: ticker → (sector label, industry). Columns `symbol` (or `ticker`), `sector`,
/// optionally `industry` (FinanceDatabase's tables, Yahoo/Morningstar vocabulary, or GICS names).
fn classification(input: &Input) -> Result<BTreeMap<String, (String, Option<String>)>, LoadError> {
    let bad = |p: super::Problem| LoadError::Invalid { problems: vec![p], run_id: None };
    let text = input.text().map_err(bad)?;
    let is_header = |c: &[String]| c.iter().any(|h| h.eq_ignore_ascii_case("sector"));
    let t = super::input::Table::read(input, text, is_header)
        .map_err(bad)?
        .ok_or_else(|| bad(super::Problem::file(&input.name, "no header line with symbol and sector columns")))?;
    let (Some(sym), Some(sec)) = (t.col(&["symbol", "ticker"]), t.col(&["sector", "gics_sector", "GICS Sector"]))
    else {
        return Err(bad(super::Problem::at(&input.name, t.header_line, None, "needs symbol and sector columns")));
    };
    let ind = t.col(&["industry", "gics_sub_industry", "GICS Sub-Industry"]);
    let mut out = BTreeMap::new();
    for row in &t.rows {
        let (symbol, sector) = (row.get(sym).trim(), row.get(sec).trim());
        if symbol.is_empty() || sector.is_empty() {
            continue;
        }
        // FinanceDatabase writes class shares with '-' (BRK-B): the canonical ticker is the one we store.
        let Ok(t) = Ticker::parse(symbol) else { continue };
        let industry = ind.map(|i| row.get(i).trim().to_string()).filter(|i| !i.is_empty());
        out.entry(t.to_string()).or_insert((sector.to_string(), industry));
    }
    Ok(out)
}

/// Classifies unclassified stocks from classification files (in order: the first that knows a stock wins) or,
/// with none, their SIC codes: only stocks with no sector or in `unknown` are touched, never one a file or sector
/// ETF already placed. One run, whatever the number of files.
pub async fn enrich_sectors(
    store: &Store,
    env: Environment,
    mode: Mode,
    files: &[Input],
) -> Result<EnrichReport, LoadError> {
    let groups = store.groups_with_members(env, GroupKind::Sector).await?;
    let sic = store.sic_codes().await?;
    let mut sector_of: BTreeMap<String, &str> = BTreeMap::new();
    for g in &groups {
        for t in g.members.keys() {
            sector_of.insert(t.to_string(), g.name.as_str());
        }
    }
    let is_fund = |k: &Option<String>| k.as_deref().is_some_and(|k| FUND_TYPES.contains(&k));
    let mut stocks: BTreeSet<String> = sector_of.keys().cloned().collect();
    let orphans = store.index_and_etf_members(env).await?;
    stocks.extend(orphans);
    stocks.extend(sic.iter().filter(|r| !is_fund(&r.kind)).map(|r| r.symbol.clone()));
    let named = |s: &str| sector_of.get(s).is_some_and(|g| *g != Sector::Unknown.key());
    let classified = stocks.iter().filter(|s| named(s)).count();
    let before = Coverage::of(stocks.len(), classified);

    let mut assigned = Vec::new();
    let mut unmapped = Vec::new();
    let mut mapping: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut sources = Vec::new();
    if files.is_empty() {
        for r in sic.iter().filter(|r| !is_fund(&r.kind) && !named(&r.symbol)) {
            match Sector::from_sic(&r.sic_code) {
                Some(sector) if sector != Sector::Unknown => assigned.push(SicAssignment {
                    symbol: r.symbol.clone(),
                    sic_code: r.sic_code.clone(),
                    source: "sic".into(),
                    label: None,
                    sector: sector.key(),
                    industry: r.sic_description.as_deref().map(title_case),
                }),
                _ => unmapped.push(format!("{} (SIC {})", r.symbol, r.sic_code)),
            }
        }
        sources.push(SourceCoverage {
            source: "sic".into(),
            assigned: assigned.len(),
            after: Coverage::of(stocks.len(), classified + assigned.len()),
        });
    }
    let mut placed: BTreeSet<String> = BTreeSet::new();
    // A label no sector matches, until a later file places the stock.
    let mut unmapped_by_files: BTreeMap<String, String> = BTreeMap::new();
    for input in files {
        let rows = classification(input)?;
        let before = assigned.len();
        for symbol in stocks.iter().filter(|s| !named(s) && !placed.contains(*s)) {
            let Some((label, industry)) = rows.get(symbol) else { continue };
            match Sector::from_label(label) {
                Some(sector) if sector != Sector::Unknown => {
                    unmapped_by_files.remove(symbol);
                    *mapping.entry((label.clone(), sector.key())).or_default() += 1;
                    assigned.push(SicAssignment {
                        symbol: symbol.clone(),
                        sic_code: String::new(),
                        source: input.name.clone(),
                        label: Some(label.clone()),
                        sector: sector.key(),
                        industry: industry.clone(),
                    });
                }
                _ => {
                    unmapped_by_files.entry(symbol.clone()).or_insert_with(|| format!("{symbol} ({label:?})"));
                }
            }
        }
        placed.extend(assigned[before..].iter().map(|a| a.symbol.clone()));
        sources.push(SourceCoverage {
            source: input.name.clone(),
            assigned: assigned.len() - before,
            after: Coverage::of(stocks.len(), classified + assigned.len()),
        });
    }
    unmapped.extend(unmapped_by_files.into_values());
    let mapping: Vec<(String, &'static str, usize)> = mapping.into_iter().map(|((l, k), n)| (l, k, n)).collect();
    let after = Coverage::of(stocks.len(), classified + assigned.len());
    if assigned.is_empty() {
        return Ok(EnrichReport { before, after, assigned, unmapped, mapping, sources, load: None });
    }

    // Each target sector is loaded with its current members plus the new ones; the sectors kind is exclusive,
    // so the new members leave `unknown` in the same transaction.
    let mut parsed = Parsed { exclusive: true, ..Parsed::default() };
    let mut targets: BTreeMap<&str, Vec<&SicAssignment>> = BTreeMap::new();
    for a in &assigned {
        targets.entry(a.sector).or_default().push(a);
    }
    for (key, adds) in targets {
        let sector = Sector::from_key(key).expect("a sector key");
        let existing = groups.iter().find(|g| g.name.as_str() == key);
        let mut members: BTreeMap<Ticker, MemberInput> = existing
            .map(|g| {
                g.members
                    .iter()
                    .map(|(t, m)| (t.clone(), MemberInput { weight: m.weight, metadata: m.metadata.clone() }))
                    .collect()
            })
            .unwrap_or_default();
        for a in adds {
            let Ok(t) = Ticker::parse(&a.symbol) else { continue };
            let mut meta = Map::new();
            if let Some(i) = &a.industry {
                meta.insert("industry".into(), Value::from(i.as_str()));
            }
            if a.sic_code.is_empty() {
                meta.insert("source".into(), json!(a.source));
            } else {
                meta.insert("source".into(), json!("sic"));
                meta.insert("sic_code".into(), Value::from(a.sic_code.as_str()));
            }
            members.insert(t, MemberInput { weight: None, metadata: Some(Value::Object(meta)) });
        }
        let checksum = existing
            .and_then(|g| g.metadata.as_ref()?.get("checksum")?.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut metadata = Map::new();
        metadata.insert("stock_count".into(), Value::from(members.len()));
        parsed.groups.push(GroupInput {
            kind: GroupKind::Sector,
            name: GroupName::parse(GroupKind::Sector, key).expect("sector keys are valid names"),
            description: sector.description().to_string(),
            metadata,
            members,
            skipped: Vec::new(),
            checksum,
        });
    }
    let source_name = if files.is_empty() {
        "SIC codes (symbols.sic_code)".to_string()
    } else {
        files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    parsed.notes.push(format!("{} stocks classified from {source_name}", assigned.len()));
    let mut req = LoadRequest::new(LoadKind::Sectors, Vec::new(), env);
    req.mode = mode;
    let run = NewRun {
        kind: LoadKind::Sectors.run_kind(),
        source: &source_name,
        mode: mode.as_str(),
        environment: env,
        checksum: None,
        validated: true,
        rollback_of: None,
        started_at: crate::store::now(),
    };
    let source = super::parsed::GroupSource::whole(parsed);
    let load = apply::load_groups(store, &req, super::GroupLoad::Sectors, &run, source).await?;
    Ok(EnrichReport { before, after, assigned, unmapped, mapping, sources, load: Some(load) })
}
