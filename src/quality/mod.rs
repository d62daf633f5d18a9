//! Data quality: the integrity checks of `universe validate`, and the structural subset every load runs inside
//! its own transaction before committing.
//!
//! Each check is PASS, WARN or FAIL with the offending items (the first [`MAX_ITEMS`] and a count). Structural
//! checks are the ones a load can break — groups it left empty, invalid tickers, names that differ only by case,
//! memberships without history — and a FAIL among them rolls the load back. Coverage, orphans and staleness are
//! information: they never stop a load (a first load into an empty database must succeed).

pub mod alerts;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Duration, Utc};
use serde::Serialize;

use crate::domain::{Environment, Ticker};
use crate::store::{BuiltRecord, GroupKey, GroupList, Store, StoreError, Tx};
use crate::universes::{CacheSymbols, cache_text_symbols};

/// How many offending items a check lists.
pub const MAX_ITEMS: usize = 20;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub enum Level {
    Pass,
    /// Worth a look; not an integrity breach.
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct Check {
    /// Stable identifier (`multi_sector`).
    pub id: &'static str,
    /// What is checked.
    pub title: &'static str,
    pub level: Level,
    /// One line for humans (`3 of 517 stocks`).
    pub detail: String,
    /// How many items offend.
    pub count: usize,
    /// The first offending items.
    pub items: Vec<String>,
    /// The measure behind the verdict, where there is one: the unknown-sector share in percent
    /// (`sector_coverage`), which alerts compare between runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
}

/// Thresholds of the checks that are a judgement rather than a fact (what counts as too unknown, too stale).
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
    Check { id, title, level: if count == 0 { Level::Pass } else { level_if_any }, detail, count, items, share: None }
}

fn in_scope(scope: Option<&BTreeSet<GroupKey>>, kind: &str, name: &str) -> bool {
    scope.is_none_or(|s| s.contains(&(kind.to_string(), name.to_string())))
}

/// What the checks read: every group with its members, and the open history intervals per group.
struct Snapshot {
    groups: Vec<GroupList>,
    /// Per group, its open intervals' symbols joined by the list separator (split one group at a time: a
    /// million small strings held at once were most of a market-scale load's peak memory).
    open_history: HashMap<(String, String), String>,
}

/// The most groups whose rows the structural checks read by name; more read the whole kind.
pub const SCOPED_READ_MAX: usize = 100;

/// The checks' reads; with a `scope`, members and history of those groups only (and every group's name, for the
/// case-duplicate check), so checking one changed fund costs one fund's rows, not the kind's.
async fn snapshot(
    tx: &mut Tx,
    env: Environment,
    kind: Option<&str>,
    scope: Option<&BTreeSet<GroupKey>>,
) -> Result<Snapshot, StoreError> {
    // A large scope reads the whole kind and filters here: PostgreSQL, with no statistics yet for rows the load
    // itself wrote, plans a name list of thousands as a scan per name (measured: minutes at market scale).
    let scope = scope.filter(|s| s.len() <= SCOPED_READ_MAX);
    let names: Option<Vec<&str>> = scope.map(|s| s.iter().map(|(_, n)| n.as_str()).collect());
    let mut groups = tx.group_lists(env, kind, names.as_deref()).await?;
    if scope.is_some() {
        let listed: HashSet<GroupKey> = groups.iter().map(|g| (g.kind.clone(), g.name.clone())).collect();
        let others = tx.group_keys(env, kind).await?.into_iter().filter(|k| !listed.contains(k));
        groups.extend(others.map(|(kind, name)| GroupList { kind, name, updated_at: None, symbols: Vec::new() }));
        groups.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    }
    let open_history = tx
        .open_history_lists(env, kind, names.as_deref())
        .await?
        .into_iter()
        .map(|(k, n, symbols)| ((k, n), symbols))
        .collect();
    Ok(Snapshot { groups, open_history })
}

/// The checks a load can break, limited to the groups in `scope` (all groups when `None`).
fn structural_checks(snap: &Snapshot, scope: Option<&BTreeSet<GroupKey>>, symbols: &[String]) -> Vec<Check> {
    let scoped = || snap.groups.iter().filter(|g| in_scope(scope, &g.kind, &g.name));
    let empty = |kind: &str| -> Vec<String> {
        scoped().filter(|g| g.kind == kind && g.symbols.is_empty()).map(|g| g.name.clone()).collect()
    };
    let n = |v: &Vec<String>, what: &str| format!("{} {what}", v.len());
    let (etf, themes, universes) = (empty("ETF"), empty("THEME"), empty("UNIVERSE"));
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

    let canonical = |s: &str| Ticker::parse(s).is_ok_and(|t| t.as_str() == s);
    let mut invalid: BTreeSet<String> = BTreeSet::new();
    for g in scoped() {
        invalid.extend(g.symbols.iter().filter(|s| !canonical(s)).map(|s| format!("{s} (in {} {})", g.kind, g.name)));
    }
    invalid.extend(symbols.iter().filter(|s| !canonical(s)).map(|s| format!("{s} (in symbols)")));
    let invalid: Vec<String> = invalid.into_iter().collect();
    out.push(check(
        "invalid_tickers",
        "Stored tickers that are not canonical",
        Level::Fail,
        invalid.clone(),
        n(&invalid, "invalid tickers"),
    ));

    let mut by_lower: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for g in &snap.groups {
        by_lower.entry((g.kind.as_str(), g.name.to_lowercase())).or_default().push(&g.name);
    }
    let dups: Vec<String> = by_lower
        .into_iter()
        .filter(|((kind, _), names)| names.len() > 1 && names.iter().any(|nm| in_scope(scope, kind, nm)))
        .map(|((kind, _), names)| format!("{kind} {}", names.join(" / ")))
        .collect();
    out.push(check(
        "case_duplicates",
        "Group names that differ only by case",
        Level::Fail,
        dups.clone(),
        n(&dups, "sets of names"),
    ));

    let mut no_history = Vec::new();
    for g in scoped() {
        let joined = snap.open_history.get(&(g.kind.clone(), g.name.clone()));
        let open: HashSet<&str> = joined.map(|j| crate::store::split_list(j).collect()).unwrap_or_default();
        no_history.extend(
            g.symbols.iter().filter(|s| !open.contains(s.as_str())).map(|s| format!("{} {}: {s}", g.kind, g.name)),
        );
    }
    no_history.sort();
    out.push(check(
        "history",
        "Memberships without a history interval",
        Level::Fail,
        no_history.clone(),
        n(&no_history, "memberships"),
    ));
    out
}

/// Structural checks for the groups a load touches (all of one kind), run inside the load's transaction (items
/// not truncated).
pub async fn structural(
    tx: &mut Tx,
    env: Environment,
    kind: &str,
    touched: &BTreeSet<GroupKey>,
) -> Result<Vec<Check>, StoreError> {
    Ok(structural_checks(&snapshot(tx, env, Some(kind), Some(touched)).await?, Some(touched), &[]))
}

/// What is reported after a load, as information: sector coverage, orphans and staleness of the groups.
pub async fn after_load(store: &Store, env: Environment, opts: Options) -> Result<Vec<Check>, StoreError> {
    // Sectors in full, the other groups' distinct members and every group's stamp: a market-scale load reads
    // twelve thousand symbols here, not its million memberships.
    let mut tx = store.begin_read().await?;
    let read = async {
        let mut groups = tx.group_lists(env, Some("SECTOR"), None).await?;
        let members = tx.distinct_members(env, &["ETF", "UNIVERSE"]).await?;
        groups.push(GroupList { kind: "ETF".into(), name: String::new(), updated_at: None, symbols: members });
        Ok::<_, StoreError>((groups, tx.group_stamps(env).await?))
    }
    .await;
    Tx::release(Some(tx)).await;
    let (groups, stamps) = read?;
    let (_, coverage, orphans) = sector_checks(&groups, opts);
    Ok(truncate(vec![coverage, orphans, stale_groups(&stamps, opts)]))
}

/// Groups not updated within the staleness window.
fn stale_groups(groups: &[GroupList], opts: Options) -> Check {
    let cutoff = Utc::now().naive_utc() - Duration::days(opts.stale_days);
    let stale: Vec<String> = groups
        .iter()
        .filter(|g| g.updated_at.is_none_or(|t| t < cutoff))
        .map(|g| format!("{} {}", g.kind, g.name))
        .collect();
    let detail = format!("{} rows not updated in {} days", stale.len(), opts.stale_days);
    check("stale", "Rows not updated recently", Level::Warn, stale, detail)
}

/// Multi-sector, coverage and orphan checks from the group lists.
fn sector_checks(groups: &[GroupList], opts: Options) -> (Check, Check, Check) {
    let mut per_symbol: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.kind == "SECTOR") {
        for s in &g.symbols {
            per_symbol.entry(s.as_str()).or_default().push(g.name.as_str());
        }
    }
    let multi: Vec<String> =
        per_symbol.iter().filter(|(_, s)| s.len() > 1).map(|(sym, s)| format!("{sym}: {}", s.join(", "))).collect();
    let total = per_symbol.len();
    let detail = format!("{} of {total} classified stocks", multi.len());
    let multi = check("multi_sector", "Stocks in more than one sector", Level::Fail, multi, detail);
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
        share: (total > 0).then_some(share * 100.0),
    };
    let orphans: BTreeSet<&str> = groups
        .iter()
        .filter(|g| g.kind == "ETF" || g.kind == "UNIVERSE")
        .flat_map(|g| g.symbols.iter().map(String::as_str))
        .filter(|s| !per_symbol.contains_key(s))
        .collect();
    let orphans: Vec<String> = orphans.into_iter().map(str::to_string).collect();
    let detail = format!("{} index/ETF members with no sector", orphans.len());
    (multi, coverage, check("orphans", "Index and ETF members with no sector", Level::Warn, orphans, detail))
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
    // cache_entries universe rows: a row organize wrote and nobody has touched since (same size and updated_at as
    // recorded) is known to hold the list it built. Only other rows are read — several MB at most — and parsed on
    // another thread while the remaining reads run.
    let fingerprints = tx.cache_fingerprints(env, &UNIVERSE_TYPES).await?;
    let recorded = organize_records(tx, env).await?;
    let trusted: Vec<Option<usize>> = fingerprints
        .iter()
        .map(|f| {
            let r = recorded.get(&(f.kind.clone(), f.name.clone(), f.key.clone()))?;
            (r.size == Some(f.size) && r.updated_at == f.updated_at).then_some(r.count)
        })
        .collect();
    let parsing = if trusted.iter().any(Option::is_none) {
        let rows = tx.cache_universe_rows(env).await?;
        Some(tokio::task::spawn_blocking(move || {
            rows.into_iter()
                .map(|(k, n, key, value, _)| ((k, n, key), cache_text_symbols(&value)))
                .collect::<HashMap<(String, String, String), Option<CacheSymbols>>>()
        }))
    } else {
        None
    };
    let snap = snapshot(tx, env, None, None).await?;
    let symbol_keys = tx.symbol_keys().await?;
    let mut out = structural_checks(&snap, None, &symbol_keys);

    let (multi, coverage, orphans) = sector_checks(&snap.groups, opts);
    out.extend([multi, coverage, orphans]);

    let known: HashSet<&str> = symbol_keys.iter().map(String::as_str).collect();
    let members: BTreeSet<&str> = snap.groups.iter().flat_map(|g| g.symbols.iter().map(String::as_str)).collect();
    let absent: Vec<String> = members.iter().filter(|s| !known.contains(*s)).map(|s| (*s).to_string()).collect();
    let detail = format!("{} of {} member symbols have no row in symbols", absent.len(), members.len());
    out.push(check("unknown_symbols", "Members absent from `symbols`", Level::Warn, absent, detail));

    // cache_entries universe rows: parse, non-empty, count agrees with the group they were built from.
    let group_counts: HashMap<(&str, &str), usize> =
        snap.groups.iter().map(|g| ((g.kind.as_str(), g.name.as_str()), g.symbols.len())).collect();
    let mut parsed = match parsing {
        Some(p) => p.await.map_err(|e| StoreError::Corrupt(format!("parsing cache values: {e}")))?,
        None => HashMap::new(),
    };
    let mut bad = Vec::new();
    for (f, trusted) in fingerprints.iter().zip(&trusted) {
        let id = (f.kind.clone(), f.name.clone(), f.key.clone());
        let label = format!("{}:{} ({})", f.kind, f.key, f.name);
        let (own_count, len) = match trusted {
            Some(n) => (None, *n),
            None => match parsed.remove(&id).flatten() {
                None => {
                    bad.push(format!("{label}: value is not a symbol list"));
                    continue;
                }
                Some(CacheSymbols { count, symbols }) => (count, symbols.len()),
            },
        };
        if len == 0 {
            bad.push(format!("{label}: empty"));
            continue;
        }
        if let Some(count) = own_count
            && count as usize != len
        {
            bad.push(format!("{label}: count {count} but {len} symbols"));
        }
        if let Some((gt, gn)) = recorded.get(&id).and_then(|r| r.group_type.as_ref().zip(r.group_name.as_ref()))
            && let Some(n) = group_counts.get(&(gt.as_str(), gn.as_str()))
            && *n != len
        {
            bad.push(format!("{label}: {len} symbols but {gt} {gn} has {n}"));
        }
    }
    let detail = format!("{} of {} universe rows", bad.len(), fingerprints.len());
    out.push(check(
        "cache_universes",
        "cache_entries universe rows that are unusable or disagree",
        Level::Fail,
        bad,
        detail,
    ));

    let mut stale = stale_groups(&snap.groups, opts);
    let cutoff = Utc::now().naive_utc() - Duration::days(opts.stale_days);
    stale.items.extend(
        fingerprints
            .iter()
            .filter(|f| f.updated_at.is_none_or(|t| t < cutoff))
            .map(|f| format!("{}:{}", f.kind, f.key)),
    );
    stale.count = stale.items.len();
    stale.level = if stale.count == 0 { Level::Pass } else { Level::Warn };
    stale.detail = format!("{} rows not updated in {} days", stale.count, opts.stale_days);
    out.push(stale);
    Ok(out)
}

/// The `cache_entries` row types validate checks.
const UNIVERSE_TYPES: [&str; 2] = ["stock_universe", "etf_universe"];

/// Rows of the last applied organize run, by (type, name, key).
async fn organize_records(
    tx: &mut Tx,
    env: Environment,
) -> Result<HashMap<(String, String, String), BuiltRecord>, StoreError> {
    let rows = tx.last_organize_details(env).await?.map(|d| d.rows).unwrap_or_default();
    Ok(rows.into_iter().map(|r| ((r.kind.clone(), r.name.clone(), r.key.clone()), r)).collect())
}
