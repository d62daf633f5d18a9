//! Applying a plan: one transaction holding the run row, every membership change and its history interval.

use std::collections::{BTreeSet, HashMap, HashSet};

use indicatif::{ProgressBar, ProgressStyle};

use super::input::Input;
use super::parsed::{GroupInput, GroupSource, Parsed};
use super::plan::{self, Action, GroupPlan};
use super::symbols::ParsedSymbols;
use super::{Counts, GroupLoad, GroupReport, LoadError, LoadReport, LoadRequest, MemberDiff, Mode};
use crate::domain::{Environment, GroupKind, RunStatus};
use crate::quality;
use crate::store::{
    GroupChange, GroupKey, GroupMember, GroupWrite, NewRun, Reader, RunDetails, RunOutcome, Store, StoreError,
    StoredGroup, SymbolField, SymbolRow, SymbolsChange, Tx,
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

fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled || total < PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} input rows") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Loads groups: plan and apply a chunk of groups at a time in the writers' transaction, or (dry-run) plan them
/// against the pool; then record the run.
pub(super) async fn load_groups(
    store: &Store,
    req: &LoadRequest,
    load: GroupLoad,
    run: &NewRun<'_>,
    source: GroupSource<'_>,
) -> Result<LoadReport, LoadError> {
    let kind = load.group_kind();
    let rows: usize = source.parsed.groups.iter().map(|g| g.members.len()).sum::<usize>()
        + source.per_file.as_ref().map_or(0, |f| f.members.iter().sum());
    let bar = progress_bar(req.progress, rows as u64);
    let (run_id, acc) = if req.mode == Mode::DryRun {
        let mut acc = Accumulated::new(bar.clone());
        acc.diffs = true;
        walk(Target::Pool(store), req, kind, &source, &mut acc).await?;
        let run_id = store.record_run(run, &acc.outcome(req.mode)).await?;
        (run_id, acc)
    } else {
        // Writers take the lock before reading the state they diff against.
        let tx = store.begin_write().await?;
        tx.commit_after(async |tx: &mut Tx| -> Result<(i64, Accumulated), LoadError> {
            still_at(tx, req).await?;
            let run_id = tx.insert_run(run).await?;
            let mut acc = Accumulated::new(bar.clone());
            walk(Target::Tx(tx, run_id), req, kind, &source, &mut acc).await?;
            check_after(tx, req, kind, &acc).await?;
            tx.finish_run(run_id, &acc.outcome(req.mode)).await?;
            Ok((run_id, acc))
        })
        .await?
    };
    bar.finish_and_clear();
    let status = acc.status(req.mode);
    if status.applied() {
        let t = &acc.totals;
        if t.added + t.removed + t.changed >= ANALYZE_ROWS {
            store.analyze_memberships().await;
        }
        tracing::info!(run.id = run_id, added = t.added, removed = t.removed, changed = t.changed, "load applied");
    }
    let parsed = &source.parsed;
    Ok(LoadReport {
        run_id,
        kind: req.kind.as_str().into(),
        mode: req.mode.as_str().into(),
        status,
        environment: req.environment,
        groups: acc.groups,
        totals: acc.totals,
        skipped_rows: parsed.groups.iter().flat_map(|g| g.skipped.iter().cloned()).collect(),
        notes: parsed.notes.clone(),
        quality: Vec::new(),
    })
}

/// Where a group load reads the stored state: the pool (dry-run), or the writers' transaction it applies in.
enum Target<'a> {
    Pool(&'a Store),
    Tx(&'a mut Tx, i64),
}

/// What a group load has planned (and applied) so far.
struct Accumulated {
    groups: Vec<GroupReport>,
    totals: Counts,
    changes: Vec<GroupChange>,
    writes: bool,
    /// The structural checks of each chunk's groups before its writes, when validating.
    before: Vec<quality::Check>,
    /// The groups written so far (deleted ones excepted): what the checks after the load look at.
    touched: BTreeSet<GroupKey>,
    /// When the checks before the writes are taken.
    checks: Checks,
    /// Counts input rows planned.
    bar: ProgressBar,
    /// Keep a sample of each group's added, removed and changed members (a dry run's preview).
    diffs: bool,
}

impl Accumulated {
    fn new(bar: ProgressBar) -> Accumulated {
        Accumulated {
            groups: Vec::new(),
            totals: Counts::default(),
            changes: Vec::new(),
            writes: false,
            before: Vec::new(),
            touched: BTreeSet::new(),
            checks: Checks::PerChunk,
            bar,
            diffs: false,
        }
    }

    fn add(&mut self, plans: &[GroupPlan]) {
        for p in plans {
            let counts = counts_of(p);
            self.bar.set_message(p.name.to_string());
            self.bar.inc((counts.added + counts.changed + counts.unchanged) as u64);
            self.totals.add(&counts);
            if p.writes() {
                self.writes = true;
                self.changes.push(GroupChange {
                    kind: p.kind,
                    name: p.name.to_string(),
                    action: p.action,
                    before: p.before.clone(),
                    counts: counts.clone(),
                });
            }
            self.groups.push(GroupReport {
                kind: p.kind.to_string(),
                name: p.name.to_string(),
                action: p.action,
                counts,
                diff: if self.diffs { MemberDiff::of(p) } else { MemberDiff::default() },
            });
        }
    }

    fn status(&self, mode: Mode) -> RunStatus {
        status_of(mode, self.writes)
    }

    fn outcome(&self, mode: Mode) -> RunOutcome {
        let mut outcome = self.totals.outcome(self.status(mode));
        outcome.details = Some(RunDetails::groups(self.changes.clone()));
        outcome
    }
}

/// When a load takes the structural checks it must not break.
enum Checks {
    /// Before each chunk's writes, of the groups it writes: a load that changes a few groups reads a few groups.
    PerChunk,
    /// Once, before the first write, of every group the load may write (these): a load of more groups than the
    /// checks read by name (`quality::SCOPED_READ_MAX`) reads the kind once rather than once per chunk.
    AllPending(BTreeSet<GroupKey>),
    /// Taken (`AllPending` done).
    AllTaken,
}

/// Rows written above which a load refreshes PostgreSQL's statistics of the membership tables: until autovacuum
/// gets to them (if it runs at all), the planner takes a freshly loaded million rows for an empty table and
/// scans them all to close one interval (measured: 2.3 s instead of milliseconds).
const ANALYZE_ROWS: usize = 10_000;

/// Members read per chunk of a file-at-a-time load: a few tens of thousands of rows held at once, whatever the
/// size of the input.
const CHUNK_MEMBERS: usize = 50_000;

/// Plans every group of the source against the stored state, a chunk at a time, applying each chunk when the
/// target is a transaction; then the groups `--prune` deletes.
async fn walk(
    mut target: Target<'_>,
    req: &LoadRequest,
    kind: GroupKind,
    source: &GroupSource<'_>,
    acc: &mut Accumulated,
) -> Result<(), LoadError> {
    let env = req.environment;
    let mut stored = reader(&mut target).groups_of_kind(env, kind).await?;
    let Some(per_file) = &source.per_file else {
        // The whole input at once: sectors move stocks between groups, themes check names across files.
        let parsed = &source.parsed;
        if !plan::all_unchanged(&stored, parsed, req.mode, req.prune) {
            reader(&mut target).load_members(&mut stored).await?;
        }
        let plans = plan::plan(&stored, parsed, req.mode, req.prune);
        return apply_chunk(&mut target, req, &plans, acc).await;
    };
    let by_name: HashMap<&str, &StoredGroup> = stored.iter().map(|g| (g.name.as_str(), g)).collect();
    let unchanged = |g: &GroupInput| {
        req.mode == Mode::Incremental && by_name.get(g.name.as_str()).is_some_and(|s| plan::same_checksum(s, g))
    };
    let writers = source.parsed.groups.iter().filter(|g| !unchanged(g)).count()
        + if req.prune { stored.len().saturating_sub(source.parsed.groups.len()) } else { 0 };
    if writers > quality::SCOPED_READ_MAX {
        acc.checks =
            Checks::AllPending(source.parsed.groups.iter().map(|g| (g.kind.to_string(), g.name.to_string())).collect());
    }
    let mut start = 0;
    while start < source.parsed.groups.len() {
        let mut end = start;
        let mut members = 0;
        while end < source.parsed.groups.len() && (end == start || members < CHUNK_MEMBERS) {
            members += per_file.members[end];
            end += 1;
        }
        let summaries = &source.parsed.groups[start..end];
        // Files whose group is unchanged need not be read again.
        let files: Vec<Input> = (start..end)
            .filter(|&i| !unchanged(&source.parsed.groups[i]))
            .map(|i| per_file.inputs[per_file.files[i]].clone())
            .collect();
        let mut problems = Vec::new();
        let mut reparsed = (per_file.parse)(&files, &mut problems);
        if !problems.is_empty() {
            return Err(LoadError::Invalid { problems, run_id: None });
        }
        let mut chunk = Parsed::default();
        for (i, s) in (start..end).zip(summaries) {
            if unchanged(s) {
                chunk.groups.push(s.clone());
                continue;
            }
            // Never plan from the member-less summary: that would remove every stored member.
            let Some(at) = reparsed.groups.iter().position(|g| g.name == s.name) else {
                let file = &per_file.inputs[per_file.files[i]].name;
                return Err(LoadError::Refused(format!(
                    "{file} no longer reads as {} {}; nothing was loaded (run the load again)",
                    s.kind, s.name
                )));
            };
            chunk.groups.push(reparsed.groups.swap_remove(at));
        }
        let mut chunk_stored: Vec<StoredGroup> =
            chunk.groups.iter().filter_map(|g| by_name.get(g.name.as_str()).map(|s| (*s).clone())).collect();
        let mut with_members: Vec<StoredGroup> = Vec::new();
        chunk_stored.retain_mut(|s| {
            let read = s.member_count > 0 && !chunk.groups.iter().any(|g| g.name == s.name && unchanged(g));
            if read {
                with_members.push(std::mem::replace(s, s.clone()));
            }
            !read
        });
        reader(&mut target).load_members(&mut with_members).await?;
        chunk_stored.extend(with_members);
        let plans = plan::plan(&chunk_stored, &chunk, req.mode, false);
        apply_chunk(&mut target, req, &plans, acc).await?;
        start = end;
    }
    if req.prune {
        let names: HashSet<&str> = source.parsed.groups.iter().map(|g| g.name.as_str()).collect();
        let mut absent: Vec<StoredGroup> =
            stored.iter().filter(|g| !names.contains(g.name.as_str())).cloned().collect();
        reader(&mut target).load_members(&mut absent).await?;
        let plans = plan::plan(&absent, &Parsed::default(), req.mode, true);
        apply_chunk(&mut target, req, &plans, acc).await?;
    }
    Ok(())
}

fn reader<'a>(target: &'a mut Target<'_>) -> Reader<'a> {
    match target {
        Target::Pool(s) => Reader::Pool(s),
        Target::Tx(tx, _) => Reader::Tx(tx),
    }
}

/// Records a chunk's plans and, in a transaction, applies them, first taking the structural checks of the groups
/// it writes.
async fn apply_chunk(
    target: &mut Target<'_>,
    req: &LoadRequest,
    plans: &[GroupPlan],
    acc: &mut Accumulated,
) -> Result<(), LoadError> {
    acc.add(plans);
    let Target::Tx(tx, run_id) = target else { return Ok(()) };
    // A chunk that creates no group and changes no membership cannot break a structural check.
    let can_break = plans
        .iter()
        .any(|p| p.action == Action::Created || !p.add.is_empty() || !p.remove.is_empty() || !p.change.is_empty());
    if req.validate && can_break {
        let mut touched: BTreeSet<GroupKey> = plans
            .iter()
            .filter(|p| p.writes() && p.action != Action::Pruned)
            .map(|p| (p.kind.to_string(), p.name.to_string()))
            .collect();
        let kind = plans.first().map_or("", |p| p.kind.as_str());
        match std::mem::replace(&mut acc.checks, Checks::AllTaken) {
            Checks::PerChunk => {
                acc.checks = Checks::PerChunk;
                acc.before.extend(quality::structural(tx, req.environment, kind, &touched).await?);
            }
            Checks::AllPending(all) => {
                touched.extend(all);
                acc.before = quality::structural(tx, req.environment, kind, &touched).await?;
            }
            Checks::AllTaken => {}
        }
        acc.touched.extend(touched);
    }
    write_plans(tx, plans, req.environment, *run_id, req.effective_at).await?;
    Ok(())
}

/// The structural checks after the load's writes, over the groups it wrote: a check the load newly broke rolls
/// it back.
async fn check_after(tx: &mut Tx, req: &LoadRequest, kind: GroupKind, acc: &Accumulated) -> Result<(), LoadError> {
    if acc.touched.is_empty() {
        return Ok(());
    }
    let after = quality::structural(tx, req.environment, kind.as_str(), &acc.touched).await?;
    let broken = quality::newly_broken(&acc.before, &after);
    if broken.is_empty() { Ok(()) } else { Err(LoadError::BreaksValidation(broken)) }
}

/// Writes a chunk's plans: the group rows one by one, then every membership change of the chunk in a handful of
/// statements (deletes, history closes, inserts, updates, history opens — in that order).
async fn write_plans(
    tx: &mut Tx,
    plans: &[GroupPlan],
    env: Environment,
    run_id: i64,
    effective_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), StoreError> {
    let now = crate::store::now();
    // History opens and closes when the memberships took effect (an ETF's holdings date), else now.
    let history_at = effective_at.map_or(now, |t| t.min(now));
    let Some(kind) = plans.first().map(|p| p.kind) else { return Ok(()) };
    let mut ids = Vec::with_capacity(plans.len());
    for p in plans {
        let id = match (p.action, &p.write) {
            (Action::Unchanged, _) => 0,
            (Action::Pruned, _) => {
                let id = p.id.expect("a pruned group exists");
                tx.delete_group(id).await?;
                id
            }
            (_, Some((description, metadata))) => {
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
            (_, None) => p.id.expect("a group left unwritten exists"),
        };
        ids.push(id);
    }
    let mut removed = Vec::new();
    let mut closing = Vec::new();
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (p, &id) in plans.iter().zip(&ids) {
        let name = p.name.as_str();
        let gone = p.remove.iter().map(|t| GroupMember::symbol(id, name, t.as_str()));
        closing.extend(gone.clone());
        if p.action != Action::Pruned {
            removed.extend(gone);
        }
        closing.extend(p.change.iter().map(|(r, _)| GroupMember::symbol(id, name, r.symbol.as_str())));
        added.extend(p.add.iter().map(|r| GroupMember::row(id, name, r)));
        changed.extend(p.change.iter().map(|(r, _)| GroupMember::row(id, name, r)));
    }
    let now_naive = now.naive_utc();
    tx.delete_members(&removed).await?;
    tx.close_history(env, kind, &closing, history_at, run_id).await?;
    tx.insert_members(&added, now_naive).await?;
    tx.upsert_members(&changed, now_naive).await?;
    added.extend(changed);
    tx.open_history(env, kind, &added, history_at, run_id).await?;
    Ok(())
}

/// A planned symbols load: its report and outcome (status decided) and the rows to write.
struct Planned {
    report: LoadReport,
    outcome: RunOutcome,
    rows: Vec<SymbolRow>,
    fields: Vec<SymbolField>,
}

/// Loads symbol metadata: only rows that are new or differ in a provided field are written.
pub(super) async fn load_symbols(
    store: &Store,
    req: &LoadRequest,
    run: &NewRun<'_>,
    parsed: ParsedSymbols,
) -> Result<LoadReport, LoadError> {
    // Writers take the lock before reading the state they diff against.
    let mut tx = if req.mode == Mode::DryRun { None } else { Some(store.begin_write().await?) };
    if let Some(t) = tx.as_mut()
        && let Err(e) = still_at(t, req).await
    {
        Tx::release(tx).await;
        return Err(e);
    }
    let Planned { mut report, outcome, rows, fields } = match plan_symbols(store, req, run, parsed).await {
        Ok(p) => p,
        Err(e) => {
            Tx::release(tx).await;
            return Err(e.into());
        }
    };
    report.run_id = match tx {
        Some(tx) if report.status.applied() => {
            tx.commit_after(async |tx: &mut Tx| -> Result<i64, StoreError> {
                let run_id = tx.insert_run(run).await?;
                tx.upsert_symbols(&rows, &fields, crate::store::now().naive_utc()).await?;
                tx.finish_run(run_id, &outcome).await?;
                Ok(run_id)
            })
            .await?
        }
        Some(tx) => tx.record(run, &outcome).await?,
        None => store.record_run(run, &outcome).await?,
    };
    Ok(report)
}

/// Fails when the store moved past the version the request was previewed at (checked under the writers' lock).
async fn still_at(tx: &mut Tx, req: &LoadRequest) -> Result<(), LoadError> {
    let Some(previewed) = req.expect_version else { return Ok(()) };
    let now = tx.data_version().await?;
    if now == previewed { Ok(()) } else { Err(LoadError::Changed { previewed, now }) }
}

fn status_of(mode: Mode, writes: bool) -> RunStatus {
    match (mode, writes) {
        (Mode::DryRun, _) => RunStatus::DryRun,
        (_, false) => RunStatus::Skipped,
        _ => RunStatus::Applied,
    }
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
            diff: MemberDiff::default(),
        }],
        totals: counts,
        skipped_rows: Vec::new(),
        notes: parsed.notes,
        quality: Vec::new(),
    };
    Ok(Planned { report, outcome, rows: writes, fields: parsed.fields })
}
