//! `universe report`: the relationship breakdown TickStock's `generate_report.py` printed, made correct — top-10
//! holdings by weight, a bidirectional-integrity figure that is actually computed, JSON that always serialises —
//! plus what operators ask next: load activity over time, sector coverage over time, the last load per source.
//!
//! [`gather`] reads everything in one snapshot into a [`Report`]; [`render`] turns it into console text,
//! Markdown, JSON or one self-contained HTML file with inline SVG charts.

mod render;
pub(crate) use render::{bar_chart, line_chart};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{Environment, GroupKind, RunStatus, Sector};
use crate::store::{RunRow, Store, StoreError, Tx};
pub use render::{Format, render};

/// Sector coverage is flagged when more stocks than this sit in `unknown` (TickStock's rule).
pub const UNKNOWN_FLAG: usize = 500;

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct Report {
    /// When it was generated (UTC).
    pub generated_at: DateTime<Utc>,
    pub environment: Environment,
    pub summary: Summary,
    /// Stocks per sector, largest first (top 15).
    pub sector_distribution: Vec<SectorShare>,
    /// Members per theme, largest first: the seeds' theme-coverage figure.
    pub theme_coverage: Vec<ThemeShare>,
    /// Quality figures, in percent.
    pub data_quality: DataQuality,
    /// Load activity per day, most recent last.
    pub activity: Vec<DayActivity>,
    /// The last run of each kind and source.
    pub last_loads: Vec<LastLoad>,
    /// Per-ETF detail (`--detail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etfs: Option<Vec<EtfDetail>>,
    /// Per-universe detail (`--detail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub universes: Option<Vec<UniverseDetail>>,
    /// Sector coverage after each day's loads, from membership history (`--detail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage_over_time: Option<Vec<CoveragePoint>>,
}

/// Counts, as TickStock's report named them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// ETF groups.
    pub total_etfs: usize,
    /// Distinct symbols over all groups.
    pub total_unique_symbols: usize,
    /// SECTOR groups.
    pub total_sectors: usize,
    /// THEME groups.
    pub total_themes: usize,
    /// UNIVERSE groups.
    pub total_universes: usize,
    /// All memberships.
    pub total_relationships: usize,
    /// ETF → stock.
    pub etf_relationships: usize,
    /// Stock → sector.
    pub sector_relationships: usize,
    /// Stock → theme.
    pub theme_relationships: usize,
    /// Stock → universe.
    pub universe_relationships: usize,
}

/// One sector's share.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SectorShare {
    /// Sector key.
    pub sector: String,
    /// Distinct stocks.
    pub stock_count: usize,
    /// Percent of all classified stocks.
    pub percentage: f64,
}

/// Quality figures in percent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataQuality {
    /// ETF groups that have holdings.
    pub etf_coverage: f64,
    /// Classified stocks not in `unknown`.
    pub sector_coverage: f64,
    /// Stocks in `unknown`.
    pub unknown_stocks: usize,
    /// Index/ETF members whose reverse lookup works: a `symbols` row and exactly one sector.
    pub bidirectional_integrity: f64,
    /// Index/ETF members whose reverse lookup fails.
    pub orphans: usize,
    /// Classified stocks that are in at least one theme.
    pub theme_coverage: f64,
}

/// One theme's reach: its members and their share of the classified stocks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThemeShare {
    /// Theme key.
    pub theme: String,
    /// Members.
    pub member_count: usize,
    /// Its classified members, in percent of all classified stocks.
    pub percentage: f64,
}

/// Load activity on one day.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct DayActivity {
    /// Day (UTC).
    pub day: NaiveDate,
    /// Runs that applied changes.
    pub applied: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Memberships (or rows) added.
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
}

/// The last run of a kind and source.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct LastLoad {
    pub kind: String,
    pub source: String,
    /// Run id.
    pub run_id: i64,
    /// How it ended.
    pub status: RunStatus,
    /// Finished (or started, for runs that did not finish).
    pub at: DateTime<Utc>,
}

/// One ETF.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct EtfDetail {
    pub symbol: String,
    pub description: Option<String>,
    /// `total_holdings` the group's metadata claims.
    pub metadata_count: Option<u64>,
    /// Memberships actually stored.
    pub actual_count: usize,
    /// Ten largest holdings by weight (then by symbol), with weights as fractions.
    pub top_10: Vec<(String, Option<f64>)>,
}

/// One universe.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct UniverseDetail {
    pub name: String,
    pub description: Option<String>,
    pub member_count: usize,
}

/// Sector coverage at the end of a day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CoveragePoint {
    /// Day (UTC).
    pub day: NaiveDate,
    /// Classified stocks.
    pub classified: usize,
    /// Percent not in `unknown`.
    pub coverage: f64,
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 10_000.0 / whole as f64).round() / 100.0 }
}

/// Gathers a report. `detail` adds per-ETF and per-universe detail and coverage over time.
pub async fn gather(store: &Store, env: Environment, detail: bool) -> Result<Report, StoreError> {
    // One snapshot of every group's members (aggregated per group) and of the symbol keys.
    let mut tx = store.begin_read().await?;
    let read = async { Ok::<_, StoreError>((tx.group_lists(env, None, None).await?, tx.symbol_keys().await?)) }.await;
    Tx::release(Some(tx)).await;
    let (groups, symbol_keys) = read?;
    let of = |k: GroupKind| groups.iter().filter(move |g| g.kind == k.as_str());
    let rel = |k: GroupKind| of(k).map(|g| g.symbols.len()).sum::<usize>();
    let symbols: BTreeSet<&str> = groups.iter().flat_map(|g| g.symbols.iter().map(String::as_str)).collect();
    let summary = Summary {
        total_etfs: of(GroupKind::Etf).count(),
        total_unique_symbols: symbols.len(),
        total_sectors: of(GroupKind::Sector).count(),
        total_themes: of(GroupKind::Theme).count(),
        total_universes: of(GroupKind::Universe).count(),
        total_relationships: groups.iter().map(|g| g.symbols.len()).sum(),
        etf_relationships: rel(GroupKind::Etf),
        sector_relationships: rel(GroupKind::Sector),
        theme_relationships: rel(GroupKind::Theme),
        universe_relationships: rel(GroupKind::Universe),
    };

    // Sectors: distinct stocks per sector; a stock's sectors (for the reverse lookup).
    let mut sectors_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut distribution: Vec<(String, usize)> = Vec::new();
    for g in of(GroupKind::Sector) {
        distribution.push((g.name.clone(), g.symbols.len()));
        for t in &g.symbols {
            *sectors_of.entry(t.as_str()).or_default() += 1;
        }
    }
    let classified = sectors_of.len();
    distribution.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let sector_distribution = distribution
        .into_iter()
        .take(15)
        .map(|(sector, n)| SectorShare { percentage: pct(n, classified), sector, stock_count: n })
        .collect();
    let unknown = of(GroupKind::Sector).find(|g| g.name == Sector::Unknown.key()).map_or(0, |g| g.symbols.len());

    let known_symbols: HashSet<&str> = symbol_keys.iter().map(String::as_str).collect();
    let members: BTreeSet<&str> =
        of(GroupKind::Etf).chain(of(GroupKind::Universe)).flat_map(|g| g.symbols.iter().map(String::as_str)).collect();
    let resolved = members.iter().filter(|s| known_symbols.contains(**s) && sectors_of.get(**s) == Some(&1)).count();
    let etfs_nonempty = of(GroupKind::Etf).filter(|g| !g.symbols.is_empty()).count();
    let themed: HashSet<&str> = of(GroupKind::Theme).flat_map(|g| g.symbols.iter().map(String::as_str)).collect();
    let mut theme_coverage: Vec<ThemeShare> = of(GroupKind::Theme)
        .map(|g| ThemeShare {
            theme: g.name.clone(),
            member_count: g.symbols.len(),
            percentage: pct(g.symbols.iter().filter(|s| sectors_of.contains_key(s.as_str())).count(), classified),
        })
        .collect();
    theme_coverage.sort_by(|a, b| b.member_count.cmp(&a.member_count).then_with(|| a.theme.cmp(&b.theme)));
    let data_quality = DataQuality {
        etf_coverage: pct(etfs_nonempty, summary.total_etfs),
        sector_coverage: pct(classified - unknown.min(classified), classified),
        unknown_stocks: unknown,
        bidirectional_integrity: pct(resolved, members.len()),
        orphans: members.len() - resolved,
        theme_coverage: pct(sectors_of.keys().filter(|s| themed.contains(**s)).count(), classified),
    };

    let runs = store.runs(10_000).await?;
    let (activity, last_loads) = activity(&runs);

    let (etfs, universes, coverage_over_time) = if detail {
        let etfs = store
            .groups_with_members(env, GroupKind::Etf)
            .await?
            .into_iter()
            .map(|g| {
                let mut top: Vec<(String, Option<f64>)> =
                    g.members.iter().map(|(t, m)| (t.to_string(), m.weight.map(|w| w.fraction()))).collect();
                top.sort_by(|a, b| {
                    let (wa, wb) = (a.1.unwrap_or(-1.0), b.1.unwrap_or(-1.0));
                    wb.partial_cmp(&wa).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0))
                });
                top.truncate(10);
                EtfDetail {
                    symbol: g.name.to_string(),
                    metadata_count: g
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("total_holdings"))
                        .and_then(serde_json::Value::as_u64),
                    description: g.description,
                    actual_count: g.members.len(),
                    top_10: top,
                }
            })
            .collect();
        let universes = store
            .group_summaries(env, &[GroupKind::Universe])
            .await?
            .into_iter()
            .map(|g| UniverseDetail { name: g.name, description: g.description, member_count: g.member_count as usize })
            .collect();
        (Some(etfs), Some(universes), Some(coverage_over_time(store, env, &activity).await?))
    } else {
        (None, None, None)
    };
    Ok(Report {
        generated_at: crate::store::now(),
        environment: env,
        summary,
        sector_distribution,
        theme_coverage,
        data_quality,
        activity,
        last_loads,
        etfs,
        universes,
        coverage_over_time,
    })
}

/// Runs per day, and the last run of each kind and source.
fn activity(runs: &[RunRow]) -> (Vec<DayActivity>, Vec<LastLoad>) {
    let mut days: BTreeMap<NaiveDate, DayActivity> = BTreeMap::new();
    let mut last: BTreeMap<(String, String), LastLoad> = BTreeMap::new();
    for r in runs {
        let at = r.finished_at.unwrap_or(r.started_at);
        let day = days.entry(at.date_naive()).or_insert(DayActivity {
            day: at.date_naive(),
            applied: 0,
            failed: 0,
            added: 0,
            removed: 0,
            changed: 0,
        });
        match r.status {
            RunStatus::Applied | RunStatus::RolledBack => {
                day.applied += 1;
                day.added += r.added;
                day.removed += r.removed;
                day.changed += r.changed;
            }
            RunStatus::Failed => day.failed += 1,
            _ => {}
        }
        last.entry((r.kind.to_string(), r.source.clone())).or_insert_with(|| LastLoad {
            kind: r.kind.to_string(),
            source: r.source.clone(),
            run_id: r.id,
            status: r.status,
            at,
        });
    }
    let mut last: Vec<LastLoad> = last.into_values().collect();
    last.sort_by_key(|l| std::cmp::Reverse(l.run_id));
    (days.into_values().collect(), last)
}

/// Sector coverage at the end of each day with activity, from membership history.
async fn coverage_over_time(
    store: &Store,
    env: Environment,
    days: &[DayActivity],
) -> Result<Vec<CoveragePoint>, StoreError> {
    let history: Vec<_> = store.history(env).await?.into_iter().filter(|h| h.group_type == "SECTOR").collect();
    let intervals = || history.iter().map(|h| (h.group_name.as_str(), h.symbol.as_str(), h.valid_from, h.valid_to));
    Ok(days.iter().map(|d| coverage_on(d.day, intervals())).collect())
}

/// Sector coverage at the end of a day, from sector membership intervals (sector, symbol, start, end exclusive):
/// the stocks in some sector then, and the share of them in a sector other than `unknown`.
pub fn coverage_on<'a>(
    day: NaiveDate,
    intervals: impl Iterator<Item = (&'a str, &'a str, DateTime<Utc>, Option<DateTime<Utc>>)>,
) -> CoveragePoint {
    let end = day.and_hms_opt(23, 59, 59).expect("valid time").and_utc();
    let mut classified: HashMap<&str, bool> = HashMap::new();
    for (sector, symbol, from, to) in intervals {
        if from <= end && to.is_none_or(|t| t > end) {
            *classified.entry(symbol).or_insert(false) |= sector != Sector::Unknown.key();
        }
    }
    let known = classified.values().filter(|k| **k).count();
    CoveragePoint { day, classified: classified.len(), coverage: pct(known, classified.len()) }
}
