//! Rolling back an applied run: the memberships it removed or changed come back, the ones it added go, groups
//! it created are deleted and groups it pruned are recreated — all in one transaction that is itself a recorded
//! run (and so can be rolled back in turn).
//!
//! A run can only be rolled back while no later applied run touched the same groups or symbols: undoing it under
//! a later change would silently lose that change. The refusal names the later runs to roll back first.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Action, GroupBefore};
use super::{Counts, GroupReport, LoadError, LoadReport};
use crate::domain::{GroupKind, RunKind, RunStatus, Ticker};
use crate::store::{
    GroupChange, GroupMember, GroupWrite, MemberRow, NewRun, RunDetails, RunOutcome, RunRow, Store, StoredGroup,
    SymbolField, SymbolRow, SymbolsChange, Tx,
};

/// What a run's `details` say it touched.
#[derive(Default)]
struct Touched {
    groups: Vec<(GroupKind, String, Action, GroupBefore)>,
    symbols_fields: Vec<SymbolField>,
    symbols_added: Vec<String>,
    symbols_before: Vec<SymbolRow>,
}

fn touched(run: &RunRow) -> Result<Touched, LoadError> {
    let details = run.details.as_ref().ok_or_else(|| {
        LoadError::Refused(format!("run {} has no usable change record; it cannot be rolled back", run.id))
    })?;
    let symbols = details.symbols.clone().unwrap_or_default();
    Ok(Touched {
        groups: details.groups.iter().map(|g| (g.kind, g.name.clone(), g.action, g.before.clone())).collect(),
        symbols_fields: symbols.fields,
        symbols_added: symbols.added,
        symbols_before: symbols.before,
    })
}

/// Rolls back an applied run.
pub async fn rollback(store: &Store, run_id: i64) -> Result<LoadReport, LoadError> {
    // Hold the write lock while checking and reading, so nothing changes underneath the rollback.
    store.begin_write().await?.commit_after(async |tx: &mut Tx| rollback_locked(store, tx, run_id).await).await
}

async fn rollback_locked(store: &Store, tx: &mut Tx, run_id: i64) -> Result<LoadReport, LoadError> {
    let run = store.run(run_id).await?.ok_or_else(|| LoadError::Refused(format!("there is no run {run_id}")))?;
    if let Some(by) = run.rolled_back_by {
        return Err(LoadError::Refused(format!("run {run_id} was already rolled back by run {by}")));
    }
    if run.kind == RunKind::Organize {
        return Err(LoadError::Refused(format!(
            "run {run_id} is an organize run: cache rows are rebuilt from the groups, so run organize again \
             (after rolling back the load that changed the groups)"
        )));
    }
    if run.kind == RunKind::Import {
        return Err(LoadError::Refused(format!(
            "run {run_id} is an import: restore the export taken before it with `universe import FILE`"
        )));
    }
    if run.kind == RunKind::SymbolsRefresh {
        return Err(LoadError::Refused(format!(
            "run {run_id} refreshed symbol metadata from Massive: run `universe symbols refresh` again to update it"
        )));
    }
    if run.kind == RunKind::Bars {
        return Err(LoadError::Refused(format!(
            "run {run_id} loaded OHLCV bars: bar loads are idempotent upserts, not rolled back; load the range again \
             to replace them"
        )));
    }
    if run.kind == RunKind::Events {
        return Err(LoadError::Refused(format!(
            "run {run_id} loaded an index's dated history: load the history files you want instead (only the \
             intervals that differ are rewritten)"
        )));
    }
    if run.kind == RunKind::Sync {
        return Err(LoadError::Refused(format!(
            "run {run_id} is a daily sync: its changes are in `universe sync log`; sync again from a corrected list \
             (a symbol listed again is reactivated; group memberships come back with the next load of its groups)"
        )));
    }
    if !run.status.applied() {
        return Err(LoadError::Refused(format!(
            "run {run_id} is {} and wrote no changes; only applied runs can be rolled back",
            run.status
        )));
    }
    let env = run.environment;
    let mine = touched(&run)?;
    let my_groups: BTreeSet<(GroupKind, &str)> = mine.groups.iter().map(|(k, n, _, _)| (*k, n.as_str())).collect();
    let my_symbols = !mine.symbols_fields.is_empty() || !mine.symbols_added.is_empty();
    let mut blockers = Vec::new();
    for later in store.later_applied_runs(run_id, env).await? {
        // A rollback of a later load cancels that load out; neither blocks. (A rollback of a rollback re-applies
        // a load, so it counts like one.)
        if let Some(undone) = later.rollback_of
            && undone > run_id
            && store.run(undone).await?.is_some_and(|u| u.kind != RunKind::Rollback)
        {
            continue;
        }
        let theirs = touched(&later)?;
        let overlap = theirs.groups.iter().any(|(k, n, _, _)| my_groups.contains(&(*k, n.as_str())))
            || (my_symbols && (!theirs.symbols_fields.is_empty() || !theirs.symbols_added.is_empty()));
        if overlap {
            blockers.push(later.id);
        }
    }
    if !blockers.is_empty() {
        blockers.reverse();
        let ids: Vec<String> = blockers.iter().map(i64::to_string).collect();
        return Err(LoadError::Refused(format!(
            "later run(s) {} changed the same data after run {run_id}; roll those back first, newest first",
            ids.join(", ")
        )));
    }

    let started_at = crate::store::now();
    let source = format!("run {run_id}");
    let new_run = NewRun {
        kind: RunKind::Rollback,
        source: &source,
        mode: "full",
        environment: env,
        checksum: None,
        validated: false,
        rollback_of: Some(run_id),
        started_at,
    };
    // Current groups of the kinds the run touched.
    let mut current: BTreeMap<(GroupKind, String), StoredGroup> = BTreeMap::new();
    for kind in mine.groups.iter().map(|g| g.0).collect::<BTreeSet<_>>() {
        for g in store.groups_with_members(env, kind).await? {
            current.insert((kind, g.name.to_string()), g);
        }
    }
    // Each touched group goes back to its members just before the run, as history records them.
    let mut targets = Vec::new();
    for (kind, name, _action, before) in &mine.groups {
        let wanted = store.group_members_before_run(env, *kind, name, run_id).await?;
        targets.push((*kind, name, before, wanted));
    }

    let now = crate::store::now();
    let rb_id = tx.insert_run(&new_run).await?;
    let mut reports = Vec::new();
    let mut totals = Counts::default();
    let mut details_groups = Vec::new();
    let empty = BTreeMap::new();
    for (kind, name, before, wanted) in &targets {
        let cur = current.get(&(*kind, name.to_string()));
        let have = cur.map_or(&empty, |g| &g.members);
        let now_before = GroupBefore {
            existed: cur.is_some(),
            description: cur.and_then(|g| g.description.clone()),
            metadata: cur.and_then(|g| g.metadata.clone()),
            liquidity_filter: cur.and_then(|g| g.liquidity_filter.clone()),
        };
        let mut counts = Counts::default();
        let action = if before.existed {
            let removed: Vec<&str> = have.keys().filter(|t| !wanted.contains_key(*t)).map(Ticker::as_str).collect();
            let mut rows = Vec::new();
            for (t, m) in wanted.iter() {
                match have.get(t) {
                    Some(h) if h == m => counts.unchanged += 1,
                    Some(_) => counts.changed += 1,
                    None => counts.added += 1,
                }
                if have.get(t) != Some(m) {
                    rows.push(MemberRow { symbol: t.clone(), weight: m.weight, metadata: m.metadata.clone() });
                }
            }
            counts.removed = removed.len();
            let mut closing = removed.clone();
            closing.extend(rows.iter().filter(|r| have.contains_key(&r.symbol)).map(|r| r.symbol.as_str()));
            let write = GroupWrite {
                env,
                kind: *kind,
                name,
                description: before.description.as_deref(),
                metadata: before.metadata.as_ref(),
                liquidity_filter: before.liquidity_filter.as_ref(),
            };
            let id = tx.upsert_group(&write, now.naive_utc()).await?;
            let rows = GroupMember::rows(id, name, &rows);
            tx.delete_members(&GroupMember::symbols(id, name, &removed)).await?;
            tx.close_history(env, *kind, &GroupMember::symbols(id, name, &closing), now, rb_id).await?;
            tx.upsert_members(&rows, now.naive_utc()).await?;
            tx.open_history(env, *kind, &rows, now, rb_id).await?;
            if cur.is_some() { Action::Updated } else { Action::Created }
        } else {
            // The run created the group: it goes, with its members' intervals closed.
            let all: Vec<&str> = have.keys().map(Ticker::as_str).collect();
            counts.removed = all.len();
            let id = cur.map_or(0, |g| g.id);
            tx.close_history(env, *kind, &GroupMember::symbols(id, name, &all), now, rb_id).await?;
            if let Some(g) = cur {
                tx.delete_group(g.id).await?;
            }
            Action::Pruned
        };
        totals.add(&counts);
        details_groups.push(GroupChange {
            kind: *kind,
            name: name.to_string(),
            action,
            before: now_before,
            counts: counts.clone(),
        });
        reports.push(GroupReport {
            kind: kind.to_string(),
            name: name.to_string(),
            action,
            counts,
            diff: Default::default(),
        });
    }
    let mut symbols_details = None;
    if my_symbols {
        let added: Vec<&str> = mine.symbols_added.iter().map(String::as_str).collect();
        // What the rollback overwrites, so it can itself be undone.
        let cur = store.symbols().await?;
        let replaced: Vec<&SymbolRow> = mine
            .symbols_before
            .iter()
            .map(|r| &r.symbol)
            .chain(&mine.symbols_added)
            .filter_map(|s| cur.get(s))
            .collect();
        tx.delete_symbols(&added).await?;
        tx.upsert_symbols(&mine.symbols_before, &mine.symbols_fields, now.naive_utc()).await?;
        let counts = Counts { removed: added.len(), changed: mine.symbols_before.len(), ..Counts::default() };
        totals.add(&counts);
        reports.push(GroupReport {
            kind: "SYMBOLS".into(),
            name: "symbols".into(),
            action: Action::Updated,
            counts,
            diff: Default::default(),
        });
        // Undoing this rollback re-writes every field of the rows it replaced or deleted.
        symbols_details = Some(SymbolsChange {
            fields: SymbolField::ALL.to_vec(),
            added: Vec::new(),
            before: replaced.into_iter().cloned().collect(),
        });
    }
    let mut outcome: RunOutcome = totals.outcome(RunStatus::Applied);
    outcome.details = Some(RunDetails { symbols: symbols_details, ..RunDetails::groups(details_groups) });
    tx.finish_run(rb_id, &outcome).await?;
    tx.mark_rolled_back(run_id, rb_id).await?;
    Ok(LoadReport {
        run_id: rb_id,
        kind: "rollback".into(),
        mode: "full".into(),
        status: RunStatus::Applied,
        environment: env,
        groups: reports,
        totals,
        skipped_rows: Vec::new(),
        notes: vec![format!("rolled back run {run_id} ({} from {})", run.kind, run.source)],
        quality: Vec::new(),
    })
}
