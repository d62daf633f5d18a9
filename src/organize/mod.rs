//! `universe organize`: builds TickStock's `cache_entries` universe rows from the relational groups and symbol
//! metadata, as a definitions file describes them.
//!
//! Only rows of the managed types (`stock_universe`, `etf_universe`, `stock_stats`) are written, and rows of the
//! obsolete `stock_etf_combo` type are removed; every other type (`app_settings`, `cache_config`, …) is never
//! touched. Replace mode (the default) makes the managed rows exactly the definitions' output; `--preserve` only
//! inserts and updates. Either way the change is one transaction under the writers' lock, so readers see the old
//! rows or the new ones — never a mix, never an empty table — and two runs at once are serialised.

pub mod build;
pub mod definitions;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::domain::{Environment, GroupKind, RunKind, RunStatus};
use crate::load::Problem;
use crate::store::{
    BuiltRecord, KeptRecord, NewRun, OrganizeRecord, Reader, RunDetails, RunOutcome, Store, StoreError, Tx,
};
use crate::universes::cache_value_symbols;
pub use definitions::{Definitions, MANAGED_TYPES, OBSOLETE_TYPE};

/// The default definitions (`data/organize.toml`).
pub const DEFAULT_DEFINITIONS: (&str, &[u8]) =
    ("data/organize.toml", include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/organize.toml")));

/// The definitions in a file, or the shipped ones (`None`).
pub fn definitions_from(path: Option<&std::path::Path>, max_bytes: u64) -> Result<Definitions, Vec<Problem>> {
    let input = match path {
        Some(p) => crate::load::Input::read(p, max_bytes).map_err(|p| vec![p])?,
        None => crate::load::Input::from_bytes(DEFAULT_DEFINITIONS.0, DEFAULT_DEFINITIONS.1),
    };
    definitions::parse(&input)
}

/// The shipped definitions (tested to parse).
pub fn shipped_definitions() -> Definitions {
    definitions_from(None, 0).expect("the shipped organize definitions parse (tested)")
}

/// What happens to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    /// New row.
    Added,
    /// Value changes.
    Changed,
    /// Same value.
    Unchanged,
    /// No longer defined (replace mode), or of the obsolete type.
    Removed,
    /// Stored but not defined; kept because of `--preserve`.
    Kept,
}

/// One row's line in the report.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct RowChange {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub key: String,
    /// What happens.
    pub action: RowAction,
    /// Symbols before (`None`: no row, or not a symbol list).
    pub before: Option<usize>,
    /// Symbols after.
    pub after: Option<usize>,
}

/// The result of an organize run.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct OrganizeReport {
    /// The `load_runs` id.
    pub run_id: i64,
    /// `replace` or `preserve`.
    pub mode: &'static str,
    /// `applied`, `dry_run` or `skipped` (nothing to change).
    pub status: RunStatus,
    pub environment: Environment,
    /// Every row, in order.
    pub rows: Vec<RowChange>,
    /// Counts per action.
    pub totals: BTreeMap<String, usize>,
    /// Notes (rows left out because empty, missing groups).
    pub notes: Vec<String>,
    /// The run whose result this one reports, nothing organize reads having changed since (nothing was built).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<i64>,
}

/// Why organize did not run.
#[derive(Debug, thiserror::Error)]
pub enum OrganizeError {
    /// The definitions file is invalid.
    #[error("{} problem(s) in the definitions file; nothing was written", .0.len())]
    Definitions(Vec<Problem>),
    /// The data changed since the preview the run was asked to match ([`run_at_version`]).
    #[error("the data changed since the preview (version {previewed}, now {now}); nothing was written: preview again")]
    Changed {
        /// The version the preview was computed at.
        previewed: i64,
        /// The version found under the writers' lock.
        now: i64,
    },
    /// Storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An organize run.
#[derive(Debug, Clone)]
pub struct OrganizeRequest {
    /// What to build.
    pub definitions: Definitions,
    /// Only insert and update; remove nothing.
    pub preserve: bool,
    /// Print the diff; write only the run record.
    pub dry_run: bool,
    /// Environment of the rows.
    pub environment: Environment,
    /// Build and compare every row even when the inputs are unchanged since the last run.
    pub force: bool,
}

/// Values are the same when they differ at most in the stats row's `last_updated` stamp, so an organize run over
/// unchanged data changes nothing.
fn same_value(stored: &Value, built: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.get_mut("overview").and_then(Value::as_object_mut) {
            o.remove("last_updated");
        }
        v
    };
    stored == built || strip(stored) == strip(built)
}

fn count(v: Option<&Value>) -> Option<usize> {
    v.and_then(cache_value_symbols).map(|s| s.len())
}

/// Builds the rows and applies the difference (or, with `dry_run`, only reports it).
///
/// When the inputs have not changed since the last run with the same definitions and mode (see
/// [`Tx::organize_inputs`]), nothing is built: the run reports that run's rows as unchanged and records itself as
/// `skipped`. `force` (and a dry run) always builds and compares every row.
#[tracing::instrument(skip_all, fields(preserve = req.preserve, dry_run = req.dry_run))]
pub async fn run(store: &Store, req: &OrganizeRequest) -> Result<OrganizeReport, OrganizeError> {
    if req.dry_run {
        let inputs = Inputs::read_pool(store, req.environment).await?;
        let planned = plan(inputs, req);
        let mut report = planned.report;
        report.run_id = store.record_run(&new_run(req), &outcome_of(&report, planned.details)).await?;
        return Ok(report);
    }
    let tx = store.begin_write().await?;
    tx.commit_after(async |tx: &mut Tx| run_in(tx, Some(store), req).await).await
}

/// [`run`] (not a dry run) only while the store's data version is still `previewed` (the version a dry run was
/// computed at), checked under the writers' lock: otherwise [`OrganizeError::Changed`] and nothing written.
pub async fn run_at_version(
    store: &Store,
    req: &OrganizeRequest,
    previewed: i64,
) -> Result<OrganizeReport, OrganizeError> {
    let tx = store.begin_write().await?;
    tx.commit_after(async |tx: &mut Tx| {
        let now = tx.data_version().await?;
        if now != previewed {
            return Err(OrganizeError::Changed { previewed, now });
        }
        run_in(tx, Some(store), req).await
    })
    .await
}

/// The run's `load_runs` record.
fn new_run(req: &OrganizeRequest) -> NewRun<'_> {
    NewRun {
        kind: RunKind::Organize,
        source: &req.definitions.source,
        mode: if req.dry_run { "dry-run" } else { mode_of(req) },
        environment: req.environment,
        checksum: Some(&req.definitions.checksum),
        validated: false,
        rollback_of: None,
        started_at: crate::store::now(),
    }
}

fn mode_of(req: &OrganizeRequest) -> &'static str {
    if req.preserve { "preserve" } else { "replace" }
}

/// The run's outcome from its report (counts per action) and record.
fn outcome_of(report: &OrganizeReport, details: OrganizeRecord) -> RunOutcome {
    let total = |action: &str| report.totals.get(action).copied().unwrap_or(0) as i64;
    RunOutcome {
        added: total("added"),
        removed: total("removed"),
        changed: total("changed"),
        unchanged: total("unchanged"),
        details: Some(RunDetails { organize: Some(details), ..RunDetails::default() }),
        ..RunOutcome::new(report.status)
    }
}

/// Organizes inside a write transaction the caller holds (the writers' lock taken) and will commit: a plain
/// organize run, or the daily sync's cache rebuild, so its symbol changes and the rows built from them commit
/// together. The run is recorded in the transaction. `pool`: read the inputs through the pool, concurrently —
/// only when the transaction has written nothing yet (else it must read its own writes: pass `None`).
pub async fn run_in(tx: &mut Tx, pool: Option<&Store>, req: &OrganizeRequest) -> Result<OrganizeReport, OrganizeError> {
    let new_run = new_run(req);
    if !req.force
        && let Some(previous) = unchanged_since(tx, req, mode_of(req)).await?
    {
        let (mut report, outcome) = replay(req, previous);
        report.run_id = tx.insert_run(&new_run).await?;
        tx.finish_run(report.run_id, &outcome).await?;
        return Ok(report);
    }
    // Building: nobody may write what the build reads until the run commits, or the fingerprint recorded at the
    // end would vouch for a change the build never saw.
    tx.lock_organize_inputs().await?;
    let inputs = match pool {
        Some(store) => Inputs::read_pool(store, req.environment).await?,
        None => Inputs::read(&mut Reader::Tx(tx), req.environment).await?,
    };
    let Planned { mut report, upserts, removals, details, lists } = plan(inputs, req);
    let mut outcome = outcome_of(&report, details);
    let run_id = tx.insert_run(&new_run).await?;
    report.run_id = run_id;
    if report.status == RunStatus::Applied {
        let removals: Vec<(&str, &str, &str)> =
            removals.iter().map(|(t, n, k)| (t.as_str(), n.as_str(), k.as_str())).collect();
        tx.delete_cache_rows(req.environment, &removals).await?;
        let rows: Vec<(&str, &str, &str, &Value)> =
            upserts.iter().map(|r| (r.kind.as_str(), r.name.as_str(), r.key.as_str(), &r.value)).collect();
        tx.upsert_cache_rows(req.environment, &rows, crate::store::now().naive_utc()).await?;
        tx.replace_cache_symbols(req.environment, &lists).await?;
        // Fingerprint every row as it now stands, so validate can trust rows nobody has touched since.
        let fingerprints = tx.cache_fingerprints(req.environment, &["stock_universe", "etf_universe"]).await?;
        record_fingerprints(record_of(&mut outcome), &fingerprints);
    } else {
        // Nothing to change, but the cache's ticker lists may be missing (a database just upgraded, rows written
        // by an import) or stale. They change no answer, only the snapshot's speed.
        tx.restore_cache_symbols(req.environment, &lists).await?;
    }
    record_inputs(tx, req, &mut outcome).await?;
    tx.finish_run(run_id, &outcome).await?;
    Ok(report)
}

/// What organize reads: the groups with their members, the symbols, the managed rows as stored.
struct Inputs {
    groups: Vec<crate::store::StoredGroup>,
    symbols: std::collections::HashMap<String, crate::store::SymbolRow>,
    current: Vec<(String, String, String, String)>,
}

/// The kinds of groups organize reads.
const GROUP_KINDS: [GroupKind; 4] = [GroupKind::Universe, GroupKind::Etf, GroupKind::Sector, GroupKind::Theme];

impl Inputs {
    /// Independent reads of committed state, run at once on separate pool connections (the writers' lock, held
    /// by the caller, keeps it from changing meanwhile).
    async fn read_pool(store: &Store, env: Environment) -> Result<Inputs, StoreError> {
        let groups = async {
            let mut groups = Vec::new();
            for kind in GROUP_KINDS {
                groups.extend(store.groups_with_members(env, kind).await?);
            }
            Ok::<_, StoreError>(groups)
        };
        let types = read_types();
        let (groups, symbols, current) = tokio::try_join!(groups, store.symbols(), store.cache_rows_text(env, &types))?;
        Ok(Inputs { groups, symbols, current })
    }

    /// The same reads, one after the other on one connection (a transaction's, seeing its own writes).
    async fn read(reader: &mut Reader<'_>, env: Environment) -> Result<Inputs, StoreError> {
        let mut groups = Vec::new();
        for kind in GROUP_KINDS {
            let mut of_kind = reader.groups_of_kind(env, kind).await?;
            reader.load_members(&mut of_kind).await?;
            groups.extend(of_kind);
        }
        let symbols = reader.symbols().await?;
        let current = reader.cache_rows_text(env, &read_types()).await?;
        Ok(Inputs { groups, symbols, current })
    }
}

/// The row types organize reads and writes: the managed ones and the obsolete one it removes.
fn read_types() -> Vec<&'static str> {
    let mut types = MANAGED_TYPES.to_vec();
    types.push(OBSOLETE_TYPE);
    types
}

/// The record of the last run with these definitions and mode, if the inputs are exactly as that run left them.
async fn unchanged_since(
    tx: &mut Tx,
    req: &OrganizeRequest,
    mode: &str,
) -> Result<Option<(i64, OrganizeRecord)>, StoreError> {
    let inputs = inputs_fingerprint(tx, req).await?;
    let previous = tx.last_organize_result(req.environment, &req.definitions.checksum, mode).await?;
    Ok(previous.filter(|(_, d)| d.inputs.as_deref() == Some(inputs.as_str())))
}

/// What a run's result depends on besides the definitions and the mode: the stored inputs' fingerprint, and the
/// code that builds the rows (an upgrade that builds them differently must not replay an older run's result).
async fn inputs_fingerprint(tx: &mut Tx, req: &OrganizeRequest) -> Result<String, StoreError> {
    static CODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let code = CODE.get_or_init(|| {
        let source = [include_str!("build.rs"), include_str!("definitions.rs"), include_str!("mod.rs")].concat();
        format!("{} {:x}", env!("CARGO_PKG_VERSION"), md5::compute(source))
    });
    Ok(format!("{code} {}", tx.organize_inputs(req.environment, &read_types()).await?))
}

/// The organize part of a run's details.
fn record_of(outcome: &mut RunOutcome) -> Option<&mut OrganizeRecord> {
    outcome.details.as_mut().and_then(|d| d.organize.as_mut())
}

/// Stores the inputs' fingerprint as this run leaves them (its own writes included) in the run's details.
async fn record_inputs(tx: &mut Tx, req: &OrganizeRequest, outcome: &mut RunOutcome) -> Result<(), StoreError> {
    let inputs = inputs_fingerprint(tx, req).await?;
    if let Some(r) = record_of(outcome) {
        r.inputs = Some(inputs);
    }
    Ok(())
}

/// A skipped run's report and outcome from the record of the run whose inputs are unchanged: every row it built
/// is unchanged, and the rows it kept (preserve mode) are kept still.
fn replay(req: &OrganizeRequest, (since, previous): (i64, OrganizeRecord)) -> (OrganizeReport, RunOutcome) {
    let built = previous.rows.iter().map(|r| RowChange {
        kind: r.kind.clone(),
        name: r.name.clone(),
        key: r.key.clone(),
        action: RowAction::Unchanged,
        before: Some(r.count),
        after: Some(r.count),
    });
    let kept = previous.kept.iter().map(|r| RowChange {
        kind: r.kind.clone(),
        name: r.name.clone(),
        key: r.key.clone(),
        action: RowAction::Kept,
        before: r.before,
        after: None,
    });
    let rows: Vec<RowChange> = built.chain(kept).collect();
    let report = OrganizeReport {
        run_id: 0,
        mode: if req.preserve { "preserve" } else { "replace" },
        status: RunStatus::Skipped,
        environment: req.environment,
        totals: totals(&rows),
        rows,
        notes: previous.notes.clone(),
        unchanged_since: Some(since),
    };
    let outcome = RunOutcome {
        unchanged: report.totals.get("unchanged").copied().unwrap_or(0) as i64,
        details: Some(RunDetails { organize: Some(previous), ..RunDetails::default() }),
        ..RunOutcome::new(RunStatus::Skipped)
    };
    (report, outcome)
}

/// Counts per action, by the action's name.
fn totals(rows: &[RowChange]) -> BTreeMap<String, usize> {
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        let label =
            serde_json::to_value(r.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        *totals.entry(label).or_default() += 1;
    }
    totals
}

/// Adds each row's fingerprint (`size`, `updated_at`) to the run's record.
fn record_fingerprints(record: Option<&mut OrganizeRecord>, fingerprints: &[crate::store::CacheFingerprint]) {
    let Some(record) = record else { return };
    let by_key: BTreeMap<(&str, &str, &str), &crate::store::CacheFingerprint> =
        fingerprints.iter().map(|f| ((f.kind.as_str(), f.name.as_str(), f.key.as_str()), f)).collect();
    for row in &mut record.rows {
        if let Some(f) = by_key.get(&(row.kind.as_str(), row.name.as_str(), row.key.as_str())) {
            row.size = Some(f.size);
            row.updated_at = f.updated_at;
        }
    }
}

/// A planned run: the report, the rows to write, the rows to remove, the run details, and every built universe
/// row's ticker list as JSON (type, name, key, list) for `universe_cache_symbols`.
struct Planned {
    report: OrganizeReport,
    upserts: Vec<build::BuiltRow>,
    removals: Vec<(String, String, String)>,
    details: OrganizeRecord,
    lists: Vec<[String; 4]>,
}

fn plan(inputs: Inputs, req: &OrganizeRequest) -> Planned {
    let Inputs { groups, symbols, current } = inputs;
    let snapshot = build::Snapshot { symbols, groups };
    let mut notes = Vec::new();
    let built = build::build(&req.definitions, &snapshot, &mut notes);
    let mut current_by_key: BTreeMap<(String, String, String), String> =
        current.into_iter().map(|(t, n, k, v)| ((t, n, k), v)).collect();

    let mut rows = Vec::new();
    let mut upserts = Vec::new();
    // Every built row and the group it mirrors (validate compares their counts).
    let mut built_details = Vec::new();
    let mut lists = Vec::new();
    for b in built {
        let universe_row = matches!(b.kind.as_str(), "stock_universe" | "etf_universe");
        if let Some(mut symbols) = crate::universes::cache_value_symbols(&b.value).filter(|_| universe_row) {
            symbols.sort_unstable();
            symbols.dedup();
            let list = serde_json::to_string(&symbols).unwrap_or_default();
            lists.push([b.kind.clone(), b.name.clone(), b.key.clone(), list]);
        }
        built_details.push(BuiltRecord {
            kind: b.kind.clone(),
            name: b.name.clone(),
            key: b.key.clone(),
            count: b.count,
            group_type: b.source.as_ref().map(|(t, _)| t.clone()),
            group_name: b.source.as_ref().map(|(_, n)| n.clone()),
            size: None,
            updated_at: None,
        });
        let id = (b.kind.clone(), b.name.clone(), b.key.clone());
        // The stored text is compared with our own serialisation first (SQLite keeps exactly what we wrote);
        // only a mismatch is parsed and compared as JSON.
        let stored = current_by_key.remove(&id);
        let parsed = |t: &String| serde_json::from_str::<Value>(t).ok();
        let (action, before) = match &stored {
            None => (RowAction::Added, None),
            Some(t) if *t == serde_json::to_string(&b.value).unwrap_or_default() => {
                (RowAction::Unchanged, Some(b.count))
            }
            Some(t) => match parsed(t) {
                Some(v) if same_value(&v, &b.value) => (RowAction::Unchanged, Some(b.count)),
                v => (RowAction::Changed, count(v.as_ref())),
            },
        };
        rows.push(RowChange {
            kind: b.kind.clone(),
            name: b.name.clone(),
            key: b.key.clone(),
            action,
            before,
            after: Some(b.count),
        });
        if action != RowAction::Unchanged {
            upserts.push(b);
        }
    }
    // What is stored but not built (every stock_etf_combo row among them) goes in replace mode.
    let mut removals = Vec::new();
    for ((t, n, k), v) in current_by_key {
        let remove = !req.preserve;
        rows.push(RowChange {
            kind: t.clone(),
            name: n.clone(),
            key: k.clone(),
            action: if remove { RowAction::Removed } else { RowAction::Kept },
            before: count(serde_json::from_str::<Value>(&v).ok().as_ref()),
            after: None,
        });
        if remove {
            removals.push((t, n, k));
        }
    }
    let totals = totals(&rows);
    let writes = !upserts.is_empty() || !removals.is_empty();
    let status = if req.dry_run {
        RunStatus::DryRun
    } else if writes {
        RunStatus::Applied
    } else {
        RunStatus::Skipped
    };
    // What a later run with unchanged inputs reports without building: the rows, those kept, the notes.
    let kept: Vec<KeptRecord> = rows
        .iter()
        .filter(|r| r.action == RowAction::Kept)
        .map(|r| KeptRecord { kind: r.kind.clone(), name: r.name.clone(), key: r.key.clone(), before: r.before })
        .collect();
    let details = OrganizeRecord { rows: built_details, kept, notes: notes.clone(), inputs: None };
    let report = OrganizeReport {
        run_id: 0,
        mode: if req.preserve { "preserve" } else { "replace" },
        status,
        environment: req.environment,
        rows,
        totals,
        notes,
        unchanged_since: None,
    };
    Planned { report, upserts, removals, details, lists }
}
