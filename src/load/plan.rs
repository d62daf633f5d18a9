//! The diff between what the input says and what is stored, per group — computed before anything is written,
//! printed by dry-run, and applied by [`super::apply`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::Mode;
use super::parsed::{GroupInput, Parsed};
use crate::domain::{GroupKind, GroupName, Ticker};
use crate::store::{MemberRow, StoredGroup, StoredMember};

pub use crate::store::{Action, GroupBefore};

/// The planned change to one group.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupPlan {
    pub kind: GroupKind,
    pub name: GroupName,
    /// What happens.
    pub action: Action,
    /// Stored id, when the group exists.
    pub id: Option<i32>,
    /// The group row before the run.
    pub before: GroupBefore,
    /// The group row to write (`None`: leave the row as it is).
    pub write: Option<(String, Value)>,
    /// Memberships to insert.
    pub add: Vec<MemberRow>,
    /// Memberships to delete.
    pub remove: Vec<Ticker>,
    /// Memberships whose weight or metadata change: (new row, old payload).
    pub change: Vec<(MemberRow, StoredMember)>,
    /// Memberships left as they are.
    pub unchanged: usize,
    /// Input rows skipped (non-equity lines).
    pub skipped: usize,
}

impl GroupPlan {
    /// Whether applying this plan writes anything.
    pub fn writes(&self) -> bool {
        self.action != Action::Unchanged
    }
}

fn before_of(g: Option<&StoredGroup>) -> GroupBefore {
    GroupBefore {
        existed: g.is_some(),
        description: g.and_then(|g| g.description.clone()),
        metadata: g.and_then(|g| g.metadata.clone()),
        liquidity_filter: g.and_then(|g| g.liquidity_filter.clone()),
    }
}

/// Merges the input's metadata keys over the stored metadata, so keys written by others survive.
fn merged_metadata(stored: Option<&Value>, input: &Map<String, Value>) -> Value {
    let mut m = match stored {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    for (k, v) in input {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

/// The diff of one input group against its stored state. With `merge` (a sectors file without `--prune`: per-stock
/// facts, not the full list of each sector), stored members absent from the input stay; [`plan`] later removes
/// only those the input moved to another group.
fn diff_group(input: &GroupInput, stored: Option<&StoredGroup>, merge: bool) -> GroupPlan {
    let empty = BTreeMap::new();
    let current = stored.map_or(&empty, |g| &g.members);
    let mut plan = GroupPlan {
        kind: input.kind,
        name: input.name.clone(),
        action: if stored.is_some() { Action::Updated } else { Action::Created },
        id: stored.map(|g| g.id),
        before: before_of(stored),
        write: Some((
            input.description.clone(),
            merged_metadata(stored.and_then(|g| g.metadata.as_ref()), &input.metadata),
        )),
        add: Vec::new(),
        remove: Vec::new(),
        change: Vec::new(),
        unchanged: 0,
        skipped: input.skipped.len(),
    };
    for (ticker, m) in &input.members {
        let row = MemberRow { symbol: ticker.clone(), weight: m.weight, metadata: m.metadata.clone() };
        match current.get(ticker) {
            None => plan.add.push(row),
            Some(old) if old.weight == m.weight && old.metadata == m.metadata => plan.unchanged += 1,
            Some(old) => plan.change.push((row, old.clone())),
        }
    }
    let absent = current.keys().filter(|t| !input.members.contains_key(*t)).cloned();
    if merge {
        plan.unchanged += absent.count();
    } else {
        plan.remove = absent.collect();
    }
    plan
}

/// Whether an incremental load finds every input group stored with the same checksum (then members need not be
/// read at all).
pub fn all_unchanged(stored: &[StoredGroup], parsed: &Parsed, mode: Mode, prune: bool) -> bool {
    mode == Mode::Incremental
        && !prune
        && parsed.groups.iter().all(|input| stored.iter().any(|g| g.name == input.name && same_checksum(g, input)))
}

/// Whether the stored group was loaded from the same bytes as the input's.
pub fn same_checksum(g: &StoredGroup, input: &GroupInput) -> bool {
    g.metadata.as_ref().and_then(|m| m.get("checksum")).and_then(Value::as_str) == Some(input.checksum.as_str())
}

/// The group row of a sector some stocks left: its description as stored, its metadata with `stock_count` and
/// `industries` of the members that stay (so the group never claims stocks it no longer has).
fn evicted_metadata(g: &StoredGroup, evict: &[Ticker]) -> (String, Value) {
    let staying: Vec<&crate::store::StoredMember> =
        g.members.iter().filter(|(t, _)| !evict.contains(t)).map(|(_, m)| m).collect();
    let mut meta = match &g.metadata {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    meta.insert("stock_count".into(), Value::from(staying.len()));
    let industries: BTreeSet<&str> =
        staying.iter().filter_map(|m| m.metadata.as_ref()?.get("industry")?.as_str()).collect();
    meta.insert("industries".into(), Value::Array(industries.into_iter().map(Value::from).collect()));
    (g.description.clone().unwrap_or_default(), Value::Object(meta))
}

/// Plans a load of groups of one kind against the stored groups of that kind.
pub fn plan(stored: &[StoredGroup], parsed: &Parsed, mode: Mode, prune: bool) -> Vec<GroupPlan> {
    let by_name: BTreeMap<&GroupName, &StoredGroup> = stored.iter().map(|g| (&g.name, g)).collect();
    let merge = parsed.exclusive && !prune;
    let mut plans: Vec<GroupPlan> = Vec::new();
    for input in &parsed.groups {
        let existing = by_name.get(&input.name).copied();
        let unchanged_file = mode == Mode::Incremental && existing.is_some_and(|g| same_checksum(g, input));
        if unchanged_file {
            let g = existing.expect("checked above");
            plans.push(GroupPlan {
                kind: input.kind,
                name: input.name.clone(),
                action: Action::Unchanged,
                id: Some(g.id),
                before: before_of(Some(g)),
                write: None,
                add: Vec::new(),
                remove: Vec::new(),
                change: Vec::new(),
                unchanged: g.member_count,
                skipped: input.skipped.len(),
            });
        } else {
            plans.push(diff_group(input, existing, merge));
        }
    }
    let input_names: BTreeSet<&GroupName> = parsed.groups.iter().map(|g| &g.name).collect();
    // Exclusive kinds: a symbol loaded into one group leaves every other group of the kind.
    let loaded: BTreeSet<&Ticker> = if parsed.exclusive {
        plans
            .iter()
            .filter(|p| p.writes())
            .flat_map(|p| {
                parsed.groups.iter().find(|g| g.name == p.name).map(|g| g.members.keys()).into_iter().flatten()
            })
            .collect()
    } else {
        BTreeSet::new()
    };
    if merge {
        // A stock the input moved into another of its groups leaves this one; the others stay.
        for (p, input) in plans.iter_mut().zip(&parsed.groups) {
            let Some(g) = by_name.get(&input.name) else { continue };
            if !p.writes() {
                continue;
            }
            p.remove =
                g.members.keys().filter(|t| !input.members.contains_key(*t) && loaded.contains(t)).cloned().collect();
            p.unchanged -= p.remove.len();
            let count = input.members.len() + p.unchanged - (input.members.len() - p.add.len() - p.change.len());
            if let Some((_, Value::Object(meta))) = &mut p.write {
                meta.insert("stock_count".into(), Value::from(count));
                let industries: BTreeSet<&str> = g
                    .members
                    .iter()
                    .filter(|(t, _)| !p.remove.contains(t) && !input.members.contains_key(*t))
                    .map(|(_, m)| &m.metadata)
                    .chain(input.members.values().map(|m| &m.metadata))
                    .filter_map(|m| m.as_ref()?.get("industry")?.as_str())
                    .collect();
                let industries: Vec<Value> = industries.into_iter().map(Value::from).collect();
                meta.insert("industries".into(), Value::Array(industries));
            }
        }
    }
    for g in stored.iter().filter(|g| !input_names.contains(&g.name)) {
        if prune {
            plans.push(GroupPlan {
                kind: g.kind,
                name: g.name.clone(),
                action: Action::Pruned,
                id: Some(g.id),
                before: before_of(Some(g)),
                write: None,
                add: Vec::new(),
                remove: g.members.keys().cloned().collect(),
                change: Vec::new(),
                unchanged: 0,
                skipped: 0,
            });
            continue;
        }
        let evict: Vec<Ticker> = g.members.keys().filter(|t| loaded.contains(t)).cloned().collect();
        if !evict.is_empty() {
            plans.push(GroupPlan {
                kind: g.kind,
                name: g.name.clone(),
                action: Action::Evicted,
                id: Some(g.id),
                before: before_of(Some(g)),
                write: parsed.exclusive.then(|| evicted_metadata(g, &evict)),
                unchanged: g.members.len() - evict.len(),
                remove: evict,
                add: Vec::new(),
                change: Vec::new(),
                skipped: 0,
            });
        }
    }
    plans
}
