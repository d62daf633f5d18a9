//! The daily sync (`universe sync`): one atomic, idempotent run that keeps the stored symbols true to the day's
//! listing. Built so far: the **reference refresh** (new tickers inserted; changed names, types and exchanges
//! updated) and **delistings** (a stored active symbol the list no longer has, or marks inactive, becomes
//! `active = false` with the date and leaves every group, its history intervals closed), with a safety stop when
//! a list would deactivate more than 5 % of the active symbols. Every change is a `sync_changes_log` row tied to
//! the run's `load_runs` row, all in one transaction under the writers' lock. **Market caps** are the last daily
//! close × shares outstanding where both are known (else the stored cap stays); a cap crossing a band
//! ([`BANDS`]) is logged as a move. A delisted symbol listed again is
//! made active again (its memberships come back with the next load of its groups).

mod plan;
mod steps;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rules::SyncRules;
use super::themes::ThemeRule;
use crate::domain::{Environment, GroupKind, GroupName, RunKind, RunStatus};
use crate::load::{Input, Problem};
use crate::organize::definitions::Thresholds;
use crate::organize::{Definitions, OrganizeReport, OrganizeRequest};
use crate::store::{
    Action, Counts, GroupBefore, GroupChange, GroupMember, NewRun, Reader, RunDetails, RunOutcome, Store, StoreError,
    SymbolField, SymbolMembership, SymbolRow, SymbolsChange, SyncChange, Tx,
};
use plan::*;
use steps::*;

/// Which steps a sync runs (TickStock's modes). Every mode ends with the cache rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum SyncMode {
    /// Every step: reference refresh, delistings, market caps, IPOs, themes.
    #[default]
    Full,
    /// Delistings only (the list is still read to know what is listed).
    Delistings,
    /// Market caps only: last daily close × shares outstanding.
    MarketCap,
    /// New listings: the reference refresh (which inserts them), then IPO assignment.
    Ipos,
    /// Rule-based themes only (no list is read).
    Themes,
}

impl SyncMode {
    /// The name recorded in `load_runs.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Delistings => "delistings",
            SyncMode::MarketCap => "market_cap",
            SyncMode::Ipos => "ipos",
            SyncMode::Themes => "themes",
        }
    }

    /// Parses TickStock's mode names (`full`, `market_cap`, `ipos`, `themes`, `delistings`).
    pub fn parse(s: &str) -> Option<SyncMode> {
        [SyncMode::Full, SyncMode::Delistings, SyncMode::MarketCap, SyncMode::Ipos, SyncMode::Themes]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    /// The steps this mode runs, in order.
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            SyncMode::Full => &["reference", "delistings", "market_cap", "ipos", "themes", "cache"],
            SyncMode::Delistings => &["delistings", "cache"],
            SyncMode::MarketCap => &["market_cap", "cache"],
            SyncMode::Ipos => &["reference", "ipos", "cache"],
            SyncMode::Themes => &["themes", "cache"],
        }
    }

    fn has(self, step: &str) -> bool {
        self.steps().contains(&step)
    }
}

/// New symbols a day may bring without being a backfill, whatever the store's size.
const BACKFILL_FLOOR: f64 = 50.0;

/// The share of active symbols a sync may deactivate before it refuses (a truncated or failed list).
pub const MAX_DELISTED_SHARE: f64 = 0.05;

/// The market-cap band of a cap (`None` below the smallest), by the organize definitions' thresholds (the
/// seeds' by default: mega ≥ 200 B, large 10–200 B, mid 2–10 B, small 300 M–2 B, micro 50–300 M).
pub fn band(t: &Thresholds, cap: i64) -> Option<&'static str> {
    let bands = [
        ("mega_cap", t.mega),
        ("large_cap", t.large),
        ("mid_cap", t.mid),
        ("small_cap", t.small),
        ("micro_cap", t.micro),
    ];
    bands.into_iter().find(|(_, floor)| cap as f64 >= *floor).map(|(name, _)| name)
}

/// Where the day's list of active tickers comes from.
#[derive(Clone)]
pub enum ListSource {
    /// A folder with `tickers.csv`: symbol, and any of name, type, exchange, active, list_date, market_cap,
    /// shares_outstanding.
    Dir(PathBuf),
    /// Massive's reference tickers (every page of the active US stocks and funds).
    Massive(Box<crate::market::MassiveClient>),
    /// A list already in memory (the bundled sample's next day), in the `tickers.csv` format.
    Input(Input),
}

impl std::fmt::Debug for ListSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListSource::Dir(d) => write!(f, "Dir({})", d.display()),
            ListSource::Massive(_) => f.write_str("Massive"),
            ListSource::Input(i) => write!(f, "Input({})", i.name),
        }
    }
}

/// A sync to run.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The environment whose groups delisted symbols leave.
    pub environment: Environment,
    /// The day's list.
    pub source: ListSource,
    /// The steps.
    pub mode: SyncMode,
    /// Deactivate even more than [`MAX_DELISTED_SHARE`] of the active symbols.
    pub force: bool,
    /// Report the changes; write only the run record.
    pub dry_run: bool,
    /// When the sync runs (the delisting date).
    pub at: DateTime<Utc>,
    /// What the cache rebuild builds (the organize definitions; their thresholds are the bands).
    pub definitions: Definitions,
    /// Where IPOs go.
    pub rules: SyncRules,
}

impl SyncRequest {
    /// A sync of a mode from a source, now, with the shipped definitions and rules, not forced, not a dry run.
    pub fn new(environment: Environment, source: ListSource, mode: SyncMode) -> SyncRequest {
        SyncRequest {
            environment,
            source,
            mode,
            force: false,
            dry_run: false,
            at: crate::store::now(),
            definitions: crate::organize::shipped_definitions(),
            rules: super::rules::shipped(),
        }
    }
}

/// What a sync did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The `load_runs` id.
    pub run_id: i64,
    /// `applied`, `dry_run` or `skipped` (nothing changed).
    pub status: RunStatus,
    /// The steps run.
    pub steps: Vec<&'static str>,
    /// Tickers in the list.
    pub listed: usize,
    /// Symbols inserted.
    pub added: usize,
    /// Symbols whose name, type or exchange changed.
    pub updated: usize,
    /// Inactive symbols listed again, made active.
    pub relisted: usize,
    /// Symbols deactivated.
    pub delisted: usize,
    /// Symbols whose market cap was recomputed to a new value.
    pub market_caps: usize,
    /// Memberships closed because their symbol was delisted.
    pub memberships_closed: usize,
    /// Recent IPOs assigned to universes.
    pub ipos: usize,
    /// Memberships of rule-based themes added or removed.
    pub theme_changes: usize,
    /// The cache rebuild's rows per action (`added`, `changed`, `removed`, `unchanged`), and its run.
    pub cache: BTreeMap<String, usize>,
    /// The organize run of the cache rebuild (in the same transaction).
    pub cache_run_id: Option<i64>,
    /// The universes (groups as `KIND:name`, cache rows by key) the sync changed.
    pub universes_updated: Vec<String>,
    /// The session whose grouped-daily bars the sync fetched first (its closes were missing), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes_fetched: Option<chrono::NaiveDate>,
    /// Every change, as logged.
    pub changes: Vec<SyncChange>,
}

/// Why a sync wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The list is invalid.
    #[error("{} problem(s) in the ticker list; nothing was changed", .0.len())]
    Invalid(Vec<Problem>),
    /// The list would deactivate too many symbols.
    #[error(
        "refusing to deactivate {delisted} of {active} active symbols ({:.1} %, over the {:.0} % safety limit): \
         the list looks truncated; check it, or pass --force",
        *delisted as f64 * 100.0 / *active as f64, MAX_DELISTED_SHARE * 100.0
    )]
    TooManyDelistings {
        /// Symbols the list would deactivate.
        delisted: usize,
        /// Active symbols stored.
        active: usize,
    },
    /// The list could not be read from the API (nothing was changed).
    #[error("reading the ticker list from Massive: {0}")]
    Massive(#[from] crate::market::MassiveError),
    /// Storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cache rebuild failed; the transaction was rolled back.
    #[error("the cache rebuild failed: {0}")]
    Organize(String),
}

impl From<crate::organize::OrganizeError> for SyncError {
    fn from(e: crate::organize::OrganizeError) -> Self {
        match e {
            crate::organize::OrganizeError::Store(e) => SyncError::Store(e),
            other => SyncError::Organize(other.to_string()),
        }
    }
}

/// Reads the day's list.
async fn read_list(source: &ListSource) -> Result<crate::load::ParsedSymbols, SyncError> {
    match source {
        ListSource::Dir(dir) => {
            let path = dir.join("tickers.csv");
            let input =
                Input::read(&path, crate::load::DEFAULT_MAX_INPUT_BYTES).map_err(|p| SyncError::Invalid(vec![p]))?;
            parse_list(&input)
        }
        ListSource::Input(input) => parse_list(input),
        ListSource::Massive(client) => {
            let records = client.tickers(&[("market", "stocks"), ("active", "true")]).await?;
            let rows = records
                .iter()
                .filter_map(super::market_symbol)
                .map(|m| SymbolRow {
                    symbol: m.symbol,
                    name: m.name,
                    kind: m.kind,
                    exchange: m.exchange,
                    list_date: m.list_date,
                    active: m.active.or(Some(true)),
                    ..SymbolRow::default()
                })
                .collect();
            let fields = vec![SymbolField::Name, SymbolField::Type, SymbolField::Exchange, SymbolField::Active];
            Ok(crate::load::ParsedSymbols { rows, fields, notes: Vec::new() })
        }
    }
}

/// Parses a list in the `tickers.csv` format.
fn parse_list(input: &Input) -> Result<crate::load::ParsedSymbols, SyncError> {
    let mut problems = Vec::new();
    let parsed = crate::load::parse_symbols(std::slice::from_ref(input), &mut problems);
    if problems.is_empty() { Ok(parsed) } else { Err(SyncError::Invalid(problems)) }
}

/// Runs a sync: read the list, plan against the stored symbols under the writers' lock, and apply every step and
/// the cache rebuild in one transaction. A dry run does exactly the same, then rolls back and records the run
/// only, so what it prints is what a real run would do (cache rows included).
pub async fn run(store: &Store, req: &SyncRequest) -> Result<SyncReport, SyncError> {
    run_observed(store, req, &|_| {}).await
}

/// Called as each step starts (the job's progress: which step, of [`SyncMode::steps`]).
pub type OnStep<'a> = &'a (dyn Fn(&'static str) + Send + Sync);

/// [`run`], telling `on_step` as each step starts (reading the list is the step `list`).
pub async fn run_observed(store: &Store, req: &SyncRequest, on_step: OnStep<'_>) -> Result<SyncReport, SyncError> {
    on_step("list");
    let list = if req.mode.has("reference") || req.mode.has("delistings") || req.mode.has("market_cap") {
        read_list(&req.source).await?
    } else {
        crate::load::ParsedSymbols::default()
    };
    let source = match &req.source {
        ListSource::Dir(dir) => dir.join("tickers.csv").display().to_string(),
        ListSource::Massive(_) => "Massive reference tickers (market=stocks, active=true)".to_string(),
        ListSource::Input(input) => input.name.clone(),
    };
    let run = NewRun {
        kind: RunKind::Sync,
        source: &source,
        mode: req.mode.as_str(),
        environment: req.environment,
        checksum: None,
        validated: true,
        rollback_of: None,
        started_at: crate::store::now(),
    };
    let closes_fetched = match &req.source {
        ListSource::Massive(client) if req.mode.has("market_cap") && !req.dry_run => {
            fetch_missing_closes(store, client, req.at).await
        }
        _ => None,
    };
    let mut tx = store.begin_write().await?;
    let result = sync_in(&mut tx, req, &list, &run, on_step).await.map(|(mut report, outcome)| {
        report.closes_fetched = closes_fetched;
        (report, outcome)
    });
    let result = match result {
        Ok((report, _)) if !req.dry_run => match tx.commit().await {
            Ok(()) => Ok(report),
            Err(e) => Err(e.into()),
        },
        Ok((mut report, outcome)) => {
            Tx::release(Some(tx)).await;
            report.run_id = store.record_run(&run, &RunOutcome { status: RunStatus::DryRun, ..outcome }).await?;
            report.status = RunStatus::DryRun;
            report.cache_run_id = None;
            Ok(report)
        }
        Err(e) => {
            Tx::release(Some(tx)).await;
            Err(e)
        }
    };
    if let Err(e @ (SyncError::TooManyDelistings { .. } | SyncError::Store(_) | SyncError::Organize(_))) = &result {
        let outcome = RunOutcome::failed(e.to_string());
        if let Err(rec) = store.record_run(&run, &outcome).await {
            tracing::warn!(error = %rec, "could not record the failed sync");
        }
    }
    result
}

/// When the last completed session has no daily bars stored, fetches that one grouped-daily day (every US stock,
/// one request) for the active symbols, so market caps use its closes. A bar load of its own (bars are data, not
/// the sync's changes); a failure is logged and the sync goes on with the closes it has.
async fn fetch_missing_closes(
    store: &Store,
    client: &crate::market::MassiveClient,
    at: DateTime<Utc>,
) -> Option<chrono::NaiveDate> {
    struct Quiet;
    impl crate::bars::load::LoadObserver for Quiet {}
    let day = crate::bars::calendar::last_completed_session(at);
    match store.daily_bars_on(day).await {
        Ok(0) => {}
        Ok(_) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "could not check the last session's closes");
            return None;
        }
    }
    let symbols: Vec<crate::domain::Ticker> = match store.symbols().await {
        Ok(rows) => rows
            .into_values()
            .filter(|r| r.active != Some(false))
            .filter_map(|r| crate::domain::Ticker::parse(&r.symbol).ok())
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the symbols to fetch closes for");
            return None;
        }
    };
    let mut request = crate::bars::LoadRequest::new(
        symbols,
        vec![crate::domain::Timeframe::Day],
        crate::bars::RangeSpec::Dates { from: day, to: Some(day) },
        crate::bars::Strategy::Grouped,
        format!("sync: closes of {day}"),
    );
    request.now = at;
    let source = crate::bars::BarSource::Massive(Box::new(client.clone()));
    match crate::bars::load_bars(store, &source, &request, &Quiet).await {
        Ok(summary) => {
            tracing::info!(%day, run_id = summary.run_id, "fetched the last session's grouped-daily bars");
            Some(day)
        }
        Err(e) => {
            tracing::warn!(%day, error = %e, "could not fetch the last session's closes; using the stored ones");
            None
        }
    }
}

/// Every step of a sync inside the caller's transaction; the caller commits, or rolls back a dry run.
async fn sync_in(
    tx: &mut Tx,
    req: &SyncRequest,
    list: &crate::load::ParsedSymbols,
    run: &NewRun<'_>,
    on_step: OnStep<'_>,
) -> Result<(SyncReport, RunOutcome), SyncError> {
    let stored: BTreeMap<String, SymbolRow> = Reader::Tx(tx).symbols().await?.into_iter().collect();
    let mut plan = Plan::default();
    if req.mode.has("reference") {
        on_step("reference");
        plan_reference(&mut plan, list, &stored);
    }
    if req.mode.has("delistings") {
        on_step("delistings");
        plan_delistings(&mut plan, list, &stored);
    }
    if req.mode.has("market_cap") {
        on_step("market_cap");
        let closes = tx.last_closes().await?;
        plan_market_caps(&mut plan, list, &stored, &closes, &req.definitions.thresholds);
    }
    // The share is of the symbols the list speaks for: those of its types (a list of stocks and funds says nothing
    // of the indices or bare rows stored beside them).
    let types: HashSet<&str> = list.rows.iter().filter_map(|r| r.kind.as_deref()).collect();
    let active = stored
        .values()
        .filter(|r| r.active != Some(false) && r.kind.as_deref().is_some_and(|k| types.contains(k)))
        .count();
    if !req.force && plan.delisted.len() as f64 > active as f64 * MAX_DELISTED_SHARE {
        return Err(SyncError::TooManyDelistings { delisted: plan.delisted.len(), active });
    }
    let gone: Vec<&str> = plan.delisted.iter().chain(&plan.gone_before).map(String::as_str).collect();
    let memberships = tx.memberships_of(req.environment, &gone).await?;
    plan.changes.extend(memberships.iter().map(|m| SyncChange {
        universe: Some(format!("{}:{}", m.kind, m.group)),
        ..change("delisting", &m.symbol, "removed", "delisted".into())
    }));
    let run_id = tx.insert_run(run).await?;
    apply(tx, req, &list.fields, &plan, &memberships, run_id).await?;
    failpoint_after_apply().await;
    let mut groups_written: Vec<GroupChange> = details_groups(&memberships);
    let mut ipos = 0;
    if req.mode.has("ipos") {
        on_step("ipos");
        let mut added: HashSet<&str> =
            plan.new_rows.iter().map(|r| r.symbol.as_str()).chain(plan.first_seen.iter().map(String::as_str)).collect();
        // First seen counts as a listing only on a day of ordinary change: the first sync of a store, or a list
        // that brings in more than 5 % of it (and over 50 symbols) at once — a backfill — describes long-listed
        // stocks, not IPOs; then only a listing date inside the look-back makes one.
        if active == 0 || added.len() as f64 > (active as f64 * MAX_DELISTED_SHARE).max(BACKFILL_FLOOR) {
            tracing::info!(
                new = added.len(),
                active,
                "a backfill, not a day of listings: only recent listing dates count as IPOs"
            );
            added.clear();
        }
        ipos = assign_ipos(tx, req, &added, run_id, &mut plan.changes, &mut groups_written).await?;
    }
    let mut theme_changes = 0;
    if req.mode.has("themes") {
        on_step("themes");
        theme_changes = rebalance_themes(tx, req, run_id, &mut plan.changes, &mut groups_written).await?;
    }
    let organize = OrganizeRequest {
        definitions: req.definitions.clone(),
        preserve: false,
        dry_run: false,
        environment: req.environment,
        force: false,
    };
    on_step("cache");
    let cache = crate::organize::run_in(tx, None, &organize).await?;
    let mut universes: std::collections::BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.change_type.as_str(), "market_cap" | "ipo_band" | "cache"))
        .filter_map(|c| c.universe.clone())
        .collect();
    universes.extend(cache_rows_changed(&cache));
    plan.changes.extend(cache_changes(&cache));
    tx.insert_sync_changes(run_id, &plan.changes, req.at.naive_utc()).await?;
    let wrote = !plan.changes.is_empty() || !plan.caps.is_empty() || cache.status == RunStatus::Applied;
    let status = if wrote { RunStatus::Applied } else { RunStatus::Skipped };
    let outcome = RunOutcome {
        added: (plan.added + ipos) as i64,
        changed: (plan.updated + plan.market_caps + theme_changes) as i64,
        removed: (plan.delisted.len() + memberships.len()) as i64,
        details: Some(details(&plan, groups_written)),
        ..RunOutcome::new(status)
    };
    tx.finish_run(run_id, &outcome).await?;
    let report = SyncReport {
        run_id,
        status,
        steps: req.mode.steps().to_vec(),
        listed: list.rows.len(),
        added: plan.added,
        updated: plan.updated,
        relisted: plan.relisted.len(),
        delisted: plan.delisted.len(),
        market_caps: plan.market_caps,
        memberships_closed: memberships.len(),
        ipos,
        theme_changes,
        cache: cache.totals.clone(),
        cache_run_id: Some(cache.run_id),
        universes_updated: universes.into_iter().collect(),
        closes_fetched: None,
        changes: plan.changes,
    };
    Ok((report, outcome))
}

/// A test's failpoint: with `UNIVERSE_FAILPOINT_SYNC_APPLIED=PATH` set, the sync creates PATH once its symbol
/// writes are done (inside its transaction) and waits there to be killed, so a test can kill it mid-transaction.
async fn failpoint_after_apply() {
    if let Some(path) = std::env::var_os("UNIVERSE_FAILPOINT_SYNC_APPLIED") {
        let _ = std::fs::write(&path, b"applied");
        std::future::pending::<()>().await;
    }
}

/// The symbol writes of a sync: symbols, deactivations, closed memberships and their history.
async fn apply(
    tx: &mut Tx,
    req: &SyncRequest,
    fields: &[SymbolField],
    plan: &Plan,
    memberships: &[SymbolMembership],
    run_id: i64,
) -> Result<(), StoreError> {
    let now = req.at;
    let mut new_fields = fields.to_vec();
    if !new_fields.contains(&SymbolField::Active) {
        new_fields.push(SymbolField::Active);
    }
    tx.upsert_symbols(&plan.new_rows, &new_fields, now.naive_utc()).await?;
    tx.upsert_symbols(&plan.updated_rows, &REFERENCE_FIELDS, now.naive_utc()).await?;
    let delisted: Vec<&str> = plan.delisted.iter().map(String::as_str).collect();
    tx.set_active(&delisted, false, now).await?;
    let relisted: Vec<&str> = plan.relisted.iter().map(String::as_str).collect();
    tx.set_active(&relisted, true, now).await?;
    tx.upsert_symbols(&plan.caps, &[SymbolField::MarketCap, SymbolField::SharesOutstanding], now.naive_utc()).await?;
    let mut by_kind: BTreeMap<GroupKind, Vec<GroupMember<'_>>> = BTreeMap::new();
    for m in memberships {
        by_kind.entry(m.kind).or_default().push(GroupMember::symbol(m.group_id, &m.group, &m.symbol));
    }
    for (kind, rows) in &by_kind {
        tx.delete_members(rows).await?;
        tx.close_history(req.environment, *kind, rows, now, run_id).await?;
    }
    Ok(())
}

/// Why a sync failed, as told outside the process: the database's own words stay in the log.
pub fn public_reason(e: &SyncError) -> String {
    match e {
        SyncError::Store(_) => "the database failed during the sync; nothing was changed (see the log)".into(),
        other => other.to_string(),
    }
}
