//! Applying a plan: one transaction holding the run row, every membership change and its history interval.

use std::collections::BTreeSet;

use indicatif::{ProgressBar, ProgressStyle};

use super::parsed::Parsed;
use super::plan::{self, Action, GroupPlan};
use super::symbols::ParsedSymbols;
use super::{Counts, GroupLoad, GroupReport, LoadError, LoadReport, LoadRequest, Mode};
use crate::domain::{GroupKind, RunStatus};
use crate::quality;
use crate::store::GroupKey;
use crate::store::GroupWrite;
use crate::store::{
    GroupChange, MemberRow, NewRun, Reader, RunDetails, RunOutcome, Store, StoreError, SymbolField, SymbolRow,
    SymbolsChange, Tx,
};

/// Rows above which a progress bar is worth drawing.
const PROGRESS_THRESHOLD: u64 = 5_000;

fn counts_of(p: &GroupPlan) -> Counts {
    Counts {
        added: p.add.len(),
        removed: p.remove.len(),
        changed: p.change.len(),
        unchanged: p.unchanged,
        skipped: p.skipped,
    }
}

/// The run's `details`: per group, the counts and the row as it was, for reports and rollback.
fn details(plans: &[GroupPlan]) -> RunDetails {
    RunDetails::groups(
        plans
            .iter()
            .filter(|p| p.writes())
            .map(|p| GroupChange {
                kind: p.kind,
                name: p.name.to_string(),
                action: p.action,
                before: p.before.clone(),
                counts: counts_of(p),
            })
            .collect(),
    )
}

fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled || total < PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} rows") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A planned run: its report and outcome (status decided) and what applying it writes.
struct Planned {
    report: LoadReport,
    outcome: RunOutcome,
    writes: Writes,
}

enum Writes {
    Groups(GroupKind, Vec<GroupPlan>),
    Symbols { rows: Vec<SymbolRow>, fields: Vec<SymbolField> },
}

/// Loads groups: plan, then record (dry-run, nothing to do) or apply.
pub(super) async fn load_groups(
    store: &Store,
    req: &LoadRequest,
    load: GroupLoad,
    run: &NewRun<'_>,
    parsed: Parsed,
) -> Result<LoadReport, LoadError> {
    // Writers take the lock before reading the state they diff against.
    let mut tx = if req.mode == Mode::DryRun { None } else { Some(store.begin_write().await?) };
    let reader = match tx.as_mut() {
        Some(tx) => Reader::Tx(tx),
        None => Reader::Pool(store),
    };
    let planned = plan_groups(reader, req, load.group_kind(), parsed).await;
    execute(store, req, run, tx, planned).await
}

/// Loads symbol metadata: only rows that are new or differ in a provided field are written.
pub(super) async fn load_symbols(
    store: &Store,
    req: &LoadRequest,
    run: &NewRun<'_>,
    parsed: ParsedSymbols,
) -> Result<LoadReport, LoadError> {
    let tx = if req.mode == Mode::DryRun { None } else { Some(store.begin_write().await?) };
    let planned = plan_symbols(store, req, run, parsed).await;
    execute(store, req, run, tx, planned).await
}

/// Records a run that writes nothing (releasing the lock first), or applies it in the locked transaction.
async fn execute(
    store: &Store,
    req: &LoadRequest,
    run: &NewRun<'_>,
    tx: Option<Tx>,
    planned: Result<Planned, StoreError>,
) -> Result<LoadReport, LoadError> {
    let Planned { mut report, outcome, writes } = match planned {
        Ok(p) => p,
        Err(e) => {
            Tx::release(tx).await;
            return Err(e.into());
        }
    };
    let tx = match tx {
        Some(tx) if report.status.applied() => tx,
        Some(tx) => {
            report.run_id = tx.record(run, &outcome).await?;
            return Ok(report);
        }
        None => {
            report.run_id = store.record_run(run, &outcome).await?;
            return Ok(report);
        }
    };
    report.run_id = tx
        .commit_after(async |tx: &mut Tx| -> Result<i64, LoadError> {
            let run_id = tx.insert_run(run).await?;
            match &writes {
                Writes::Groups(kind, plans) => {
                    // What the load touches (deleted groups excepted), checked before and after the writes.
                    let touched: BTreeSet<GroupKey> = plans
                        .iter()
                        .filter(|p| p.writes() && p.action != Action::Pruned)
                        .map(|p| (p.kind.to_string(), p.name.to_string()))
                        .collect();
                    let kind = kind.as_str();
                    // A run that creates no group and changes no membership cannot break a structural check.
                    let can_break = plans.iter().any(|p| {
                        p.action == Action::Created || !p.add.is_empty() || !p.remove.is_empty() || !p.change.is_empty()
                    });
                    let before = if req.validate && can_break {
                        Some(quality::structural(tx, req.environment, kind, &touched).await?)
                    } else {
                        None
                    };
                    let total_rows: usize = plans.iter().map(|p| p.add.len() + p.remove.len() + p.change.len()).sum();
                    let bar = progress_bar(req.progress, total_rows as u64);
                    for p in plans {
                        bar.set_message(p.name.to_string());
                        apply_plan(tx, p, req, run_id).await?;
                        bar.inc((p.add.len() + p.remove.len() + p.change.len()) as u64);
                    }
                    bar.finish_and_clear();
                    if let Some(before) = before {
                        let after = quality::structural(tx, req.environment, kind, &touched).await?;
                        let broken = quality::newly_broken(&before, &after);
                        if !broken.is_empty() {
                            return Err(LoadError::BreaksValidation(broken));
                        }
                    }
                }
                Writes::Symbols { rows, fields } => {
                    tx.upsert_symbols(rows, fields, crate::store::now().naive_utc()).await?
                }
            }
            tx.finish_run(run_id, &outcome).await?;
            Ok(run_id)
        })
        .await?;
    let t = &report.totals;
    tracing::info!(run.id = report.run_id, added = t.added, removed = t.removed, changed = t.changed, "load applied");
    Ok(report)
}

fn status_of(mode: Mode, writes: bool) -> RunStatus {
    match (mode, writes) {
        (Mode::DryRun, _) => RunStatus::DryRun,
        (_, false) => RunStatus::Skipped,
        _ => RunStatus::Applied,
    }
}

/// Reads the stored groups and plans the change; the report's status says what will happen.
async fn plan_groups(
    mut reader: Reader<'_>,
    req: &LoadRequest,
    kind: GroupKind,
    parsed: Parsed,
) -> Result<Planned, StoreError> {
    let mut stored = reader.groups_of_kind(req.environment, kind).await?;
    if !plan::all_unchanged(&stored, &parsed, req.mode, req.prune) {
        reader.load_members(req.environment, kind, &mut stored).await?;
    }
    let plans = plan::plan(&stored, &parsed, req.mode, req.prune);
    let groups: Vec<GroupReport> = plans
        .iter()
        .map(|p| GroupReport {
            kind: p.kind.to_string(),
            name: p.name.to_string(),
            action: p.action,
            counts: counts_of(p),
        })
        .collect();
    let mut totals = Counts::default();
    for g in &groups {
        totals.add(&g.counts);
    }
    let status = status_of(req.mode, plans.iter().any(GroupPlan::writes));
    let mut outcome = totals.outcome(status);
    outcome.details = Some(details(&plans));
    let report = LoadReport {
        run_id: 0,
        kind: req.kind.as_str().into(),
        mode: req.mode.as_str().into(),
        status,
        environment: req.environment,
        groups,
        totals,
        skipped_rows: parsed.groups.iter().flat_map(|g| g.skipped.iter().cloned()).collect(),
        notes: parsed.notes,
        quality: Vec::new(),
    };
    Ok(Planned { report, outcome, writes: Writes::Groups(kind, plans) })
}

async fn apply_plan(tx: &mut Tx, p: &GroupPlan, req: &LoadRequest, run_id: i64) -> Result<(), StoreError> {
    let now = crate::store::now();
    let env = req.environment;
    let removed: Vec<&str> = p.remove.iter().map(|t| t.as_str()).collect();
    match p.action {
        Action::Unchanged => return Ok(()),
        Action::Pruned => {
            tx.close_history(env, p.kind, p.name.as_str(), &removed, now, run_id).await?;
            tx.delete_group(p.id.expect("a pruned group exists")).await?;
            return Ok(());
        }
        Action::Created | Action::Updated | Action::Evicted => {}
    }
    let id = match &p.write {
        Some((description, metadata)) => {
            let write = GroupWrite {
                env,
                kind: p.kind,
                name: p.name.as_str(),
                description: Some(description),
                metadata: Some(metadata),
                liquidity_filter: None,
            };
            tx.upsert_group(&write, now.naive_utc()).await?
        }
        None => p.id.expect("a group left unwritten exists"),
    };
    let mut closing = removed.clone();
    closing.extend(p.change.iter().map(|(r, _)| r.symbol.as_str()));
    let changed: Vec<MemberRow> = p.change.iter().map(|(r, _)| r.clone()).collect();
    tx.delete_members(id, &removed).await?;
    tx.close_history(env, p.kind, p.name.as_str(), &closing, now, run_id).await?;
    tx.insert_members(id, &p.add, now.naive_utc()).await?;
    tx.upsert_members(id, &changed, now.naive_utc()).await?;
    let opening: Vec<MemberRow> = p.add.iter().cloned().chain(changed).collect();
    tx.open_history(env, p.kind, p.name.as_str(), &opening, now, run_id).await?;
    Ok(())
}

/// Diffs symbol rows against the store: only new rows and rows differing in a provided field are written.
async fn plan_symbols(
    store: &Store,
    req: &LoadRequest,
    run: &NewRun<'_>,
    parsed: ParsedSymbols,
) -> Result<Planned, StoreError> {
    let current = store.symbols().await?;
    let mut counts = Counts::default();
    let mut writes: Vec<SymbolRow> = Vec::new();
    let mut added: Vec<&str> = Vec::new();
    let mut before: Vec<&SymbolRow> = Vec::new();
    for row in &parsed.rows {
        match current.get(&row.symbol) {
            None => {
                counts.added += 1;
                added.push(&row.symbol);
                writes.push(row.clone());
            }
            Some(old) if parsed.fields.iter().all(|f| f.same(old, row)) => counts.unchanged += 1,
            Some(old) => {
                counts.changed += 1;
                before.push(old);
                writes.push(row.clone());
            }
        }
    }
    let last = store.last_applied_checksum(run.kind, req.environment).await?;
    let unchanged_file = req.mode == Mode::Incremental && last.as_deref() == run.checksum;
    let status = status_of(req.mode, !unchanged_file && !writes.is_empty());
    if unchanged_file {
        counts = Counts { unchanged: parsed.rows.len(), ..Counts::default() };
    }
    let mut outcome = counts.outcome(status);
    outcome.details = Some(RunDetails {
        symbols: Some(SymbolsChange {
            fields: parsed.fields.clone(),
            added: added.iter().map(|s| s.to_string()).collect(),
            before: before.into_iter().cloned().collect(),
        }),
        ..RunDetails::default()
    });
    let report = LoadReport {
        run_id: 0,
        kind: req.kind.as_str().into(),
        mode: req.mode.as_str().into(),
        status,
        environment: req.environment,
        groups: vec![GroupReport {
            kind: "SYMBOLS".into(),
            name: "symbols".into(),
            action: Action::Updated,
            counts: counts.clone(),
        }],
        totals: counts,
        skipped_rows: Vec::new(),
        notes: parsed.notes,
        quality: Vec::new(),
    };
    Ok(Planned { report, outcome, writes: Writes::Symbols { rows: writes, fields: parsed.fields } })
}
