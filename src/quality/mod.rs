//! Data quality: the integrity checks of `universe validate`, and the structural subset every load runs inside
//! its own transaction before committing.
//!
//! Each check is PASS, WARN or FAIL with the offending items (the first [`MAX_ITEMS`] and a count). Structural
//! checks are the ones a load can break — groups it left empty, invalid tickers, names that differ only by case,
//! memberships without history — and a FAIL among them rolls the load back. Coverage, orphans and staleness are
//! information: they never stop a load (a first load into an empty database must succeed).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{Duration, NaiveDateTime, Utc};
use serde::Serialize;

use crate::domain::{Environment, Ticker};
use crate::store::{GroupKey, Store, StoreError, Tx};
use crate::universes::cache_value_symbols;

/// How many offending items a check lists.
pub const MAX_ITEMS: usize = 20;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Fine.
    Pass,
    /// Worth a look; not an integrity breach.
    Warn,
    /// Broken.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier (`multi_sector`).
    pub id: &'static str,
    /// What is checked.
    pub title: &'static str,
    /// Verdict.
    pub level: Level,
    /// One line for humans (`3 of 517 stocks`).
    pub detail: String,
    /// How many items offend.
    pub count: usize,
    /// The first offending items.
    pub items: Vec<String>,
}

/// Thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Largest acceptable share of classified stocks in `unknown` (0.135 = 13.5 %).
    pub unknown_max: f64,
    /// Rows not updated for more days than this are stale.
    pub stale_days: i64,
    /// WARN counts as FAIL.
    pub strict: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { unknown_max: 0.135, stale_days: 30, strict: false }
    }
}

/// All checks.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// Environment checked.
    pub environment: Environment,
    /// Checks in order.
    pub checks: Vec<Check>,
    /// Whether WARN counted as FAIL.
    pub strict: bool,
}

impl Validation {
    /// The worst verdict, with WARN promoted under `--strict`.
    pub fn worst(&self) -> Level {
        let worst = self.checks.iter().map(|c| c.level).max().unwrap_or(Level::Pass);
        if self.strict && worst == Level::Warn { Level::Fail } else { worst }
    }
}

fn check(id: &'static str, title: &'static str, level_if_any: Level, items: Vec<String>, detail: String) -> Check {
    let count = items.len();
    Check { id, title, level: if count == 0 { Level::Pass } else { level_if_any }, detail, count, items }
}

fn in_scope(scope: Option<&BTreeSet<GroupKey>>, kind: &str, name: &str) -> bool {
    scope.is_none_or(|s| s.contains(&(kind.to_string(), name.to_string())))
}

/// The checks a load can break, limited to the groups in `scope` (all groups when `None`).
async fn structural_checks(
    tx: &mut Tx,
    env: Environment,
    scope: Option<&BTreeSet<GroupKey>>,
) -> Result<Vec<Check>, StoreError> {
    let empty = tx.empty_groups(env).await?;
    let mut empty_by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (kind, name) in &empty {
        if in_scope(scope, kind, name) {
            empty_by_kind.entry(kind.as_str()).or_default().push(name.clone());
        }
    }
    let mut take = |k: &str| empty_by_kind.remove(k).unwrap_or_default();
    let etf = take("ETF");
    let themes = take("THEME");
    let universes = take("UNIVERSE");
    let n = |v: &Vec<String>, what: &str| format!("{} {what}", v.len());
    let mut out = vec![
        check("etf_empty", "ETF groups with no holdings", Level::Fail, etf.clone(), n(&etf, "empty ETF groups")),
        check("theme_empty", "Themes with no members", Level::Fail, themes.clone(), n(&themes, "empty themes")),
        check(
            "universe_empty",
            "Universes with no members",
            Level::Fail,
            universes.clone(),
            n(&universes, "empty universes"),
        ),
    ];

    let memberships = tx.memberships(env).await?;
    let mut invalid: BTreeSet<String> = BTreeSet::new();
    for (kind, name, symbol) in &memberships {
        if in_scope(scope, kind, name) && Ticker::parse(symbol).map(|t| t.as_str() != symbol).unwrap_or(true) {
            invalid.insert(format!("{symbol} (in {kind} {name})"));
        }
    }
    if scope.is_none() {
        for s in tx.symbol_keys().await? {
            if Ticker::parse(&s).map(|t| t.as_str() != s).unwrap_or(true) {
                invalid.insert(format!("{s} (in symbols)"));
            }
        }
    }
    let invalid: Vec<String> = invalid.into_iter().collect();
    out.push(check(
        "invalid_tickers",
        "Stored tickers that are not canonical",
        Level::Fail,
        invalid.clone(),
        n(&invalid, "invalid tickers"),
    ));

    let groups = tx.group_rows(env).await?;
    let mut by_lower: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (kind, name, _) in &groups {
        by_lower.entry((kind.clone(), name.to_lowercase())).or_default().push(name.clone());
    }
    let dups: Vec<String> = by_lower
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .filter(|((kind, _), names)| names.iter().any(|nm| in_scope(scope, kind, nm)))
        .map(|((kind, _), names)| format!("{kind} {}", names.join(" / ")))
        .collect();
    out.push(check(
        "case_duplicates",
        "Group names that differ only by case",
        Level::Fail,
        dups.clone(),
        n(&dups, "sets of names"),
    ));

    let no_history: Vec<String> = tx
        .memberships_without_history(env)
        .await?
        .into_iter()
        .filter(|(k, g, _)| in_scope(scope, k, g))
        .map(|(k, g, s)| format!("{k} {g}: {s}"))
        .collect();
    out.push(check(
        "history",
        "Memberships without a history interval",
        Level::Fail,
        no_history.clone(),
        n(&no_history, "memberships"),
    ));
    Ok(out)
}

/// Structural checks for the groups a load touches, run inside the load's transaction (items not truncated).
pub async fn structural(tx: &mut Tx, env: Environment, touched: &BTreeSet<GroupKey>) -> Result<Vec<Check>, StoreError> {
    structural_checks(tx, env, Some(touched)).await
}

/// The FAIL items in `after` that were not already in `before`: what a load broke, as opposed to what it found.
pub fn newly_broken(before: &[Check], after: &[Check]) -> Vec<Check> {
    after
        .iter()
        .filter(|c| c.level == Level::Fail)
        .filter_map(|c| {
            let old: HashSet<&String> = before.iter().filter(|b| b.id == c.id).flat_map(|b| &b.items).collect();
            let new: Vec<String> = c.items.iter().filter(|i| !old.contains(i)).cloned().collect();
            (!new.is_empty()).then(|| Check { count: new.len(), items: new, ..c.clone() })
        })
        .collect()
}

/// Cuts every check's items to [`MAX_ITEMS`] (the count keeps the total).
fn truncate(mut checks: Vec<Check>) -> Vec<Check> {
    for c in &mut checks {
        c.items.truncate(MAX_ITEMS);
    }
    checks
}

/// Every check, over one consistent snapshot.
pub async fn validate(store: &Store, env: Environment, opts: Options) -> Result<Validation, StoreError> {
    let mut tx = store.begin_read().await?;
    let result = all_checks(&mut tx, env, opts).await;
    Tx::release(Some(tx)).await;
    Ok(Validation { environment: env, checks: truncate(result?), strict: opts.strict })
}

async fn all_checks(tx: &mut Tx, env: Environment, opts: Options) -> Result<Vec<Check>, StoreError> {
    let mut out = structural_checks(tx, env, None).await?;

    // Sectors: one per stock, and coverage.
    let sectors = tx.sector_memberships(env).await?;
    let mut per_symbol: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (sym, sector) in &sectors {
        per_symbol.entry(sym.as_str()).or_default().push(sector.as_str());
    }
    let multi: Vec<String> =
        per_symbol.iter().filter(|(_, s)| s.len() > 1).map(|(sym, s)| format!("{sym}: {}", s.join(", "))).collect();
    let total = per_symbol.len();
    out.push(check(
        "multi_sector",
        "Stocks in more than one sector",
        Level::Fail,
        multi.clone(),
        format!("{} of {total} classified stocks", multi.len()),
    ));
    let unknown: Vec<String> =
        per_symbol.iter().filter(|(_, s)| s.contains(&"unknown")).map(|(sym, _)| (*sym).to_string()).collect();
    let share = if total == 0 { 0.0 } else { unknown.len() as f64 / total as f64 };
    let coverage = Check {
        id: "sector_coverage",
        title: "Share of classified stocks in `unknown`",
        level: if total == 0 || share > opts.unknown_max { Level::Warn } else { Level::Pass },
        detail: if total == 0 {
            "no sector classification loaded".to_string()
        } else {
            format!(
                "{} of {total} stocks unknown ({:.2} %, threshold {:.2} %); coverage {:.2} %",
                unknown.len(),
                share * 100.0,
                opts.unknown_max * 100.0,
                (1.0 - share) * 100.0
            )
        },
        count: unknown.len(),
        items: unknown,
    };
    out.push(coverage);

    let orphans = tx.orphans(env).await?;
    let detail = format!("{} index/ETF members with no sector", orphans.len());
    out.push(check("orphans", "Index and ETF members with no sector", Level::Warn, orphans, detail));

    let symbols: HashSet<String> = tx.symbol_keys().await?.into_iter().collect();
    let members: BTreeSet<String> = tx.memberships(env).await?.into_iter().map(|(_, _, s)| s).collect();
    let absent: Vec<String> = members.iter().filter(|s| !symbols.contains(*s)).cloned().collect();
    let detail = format!("{} of {} member symbols have no row in symbols", absent.len(), members.len());
    out.push(check("unknown_symbols", "Members absent from `symbols`", Level::Warn, absent, detail));

    // cache_entries universe rows: parse, non-empty, count agrees with the group they were built from.
    let built_from = organize_sources(tx, env).await?;
    let group_counts: BTreeMap<(String, String), usize> = {
        let mut m = BTreeMap::new();
        for (k, g, _) in tx.memberships(env).await? {
            *m.entry((k, g)).or_insert(0) += 1;
        }
        m
    };
    let cache_rows = tx.cache_universe_rows(env).await?;
    let mut bad = Vec::new();
    for (kind, name, key, value, _) in &cache_rows {
        let label = format!("{kind}:{key} ({name})");
        let parsed: Option<serde_json::Value> = serde_json::from_str(value).ok();
        match parsed.as_ref().and_then(cache_value_symbols) {
            None => bad.push(format!("{label}: value is not a symbol list")),
            Some(list) if list.is_empty() => bad.push(format!("{label}: empty")),
            Some(list) => {
                if let Some(count) = parsed.as_ref().and_then(|v| v.get("count")).and_then(serde_json::Value::as_u64)
                    && count as usize != list.len()
                {
                    bad.push(format!("{label}: count {count} but {} symbols", list.len()));
                }
                if let Some(source) = built_from.get(&(kind.clone(), key.clone()))
                    && let Some(n) = group_counts.get(source)
                    && *n != list.len()
                {
                    bad.push(format!("{label}: {} symbols but {} {} has {n}", list.len(), source.0, source.1));
                }
            }
        }
    }
    let detail = format!("{} of {} universe rows", bad.len(), cache_rows.len());
    out.push(check(
        "cache_universes",
        "cache_entries universe rows that are unusable or disagree",
        Level::Fail,
        bad,
        detail,
    ));

    let cutoff = Utc::now().naive_utc() - Duration::days(opts.stale_days);
    let stale_at = |t: &Option<NaiveDateTime>| t.is_none_or(|t| t < cutoff);
    let mut stale: Vec<String> =
        tx.group_rows(env).await?.into_iter().filter(|r| stale_at(&r.2)).map(|(k, n, _)| format!("{k} {n}")).collect();
    stale.extend(cache_rows.iter().filter(|r| stale_at(&r.4)).map(|(k, _, key, _, _)| format!("{k}:{key}")));
    let detail = format!("{} rows not updated in {} days", stale.len(), opts.stale_days);
    out.push(check("stale", "Rows not updated recently", Level::Warn, stale, detail));
    Ok(out)
}

/// Which group each `cache_entries` universe row was built from, per the last organize run.
async fn organize_sources(
    tx: &mut Tx,
    env: Environment,
) -> Result<BTreeMap<(String, String), (String, String)>, StoreError> {
    let mut out = BTreeMap::new();
    let Some(details) = tx.last_organize_details(env).await? else { return Ok(out) };
    for row in details.get("rows").and_then(serde_json::Value::as_array).into_iter().flatten() {
        let s = |k: &str| row.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        if let (Some(t), Some(key), Some(gt), Some(gn)) = (s("type"), s("key"), s("group_type"), s("group_name")) {
            out.insert((t, key), (gt, gn));
        }
    }
    Ok(out)
}
