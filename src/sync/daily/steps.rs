//! The sync's steps on groups and its records: IPOs assigned to universes, rule themes rebalanced, the cache
//! rows the rebuild changed as change-log lines, and the run's change details (the groups a delisting closed).

use super::*;

/// The cache rebuild's row changes as change-log lines (a universe row's symbol count before and after).
pub(super) fn cache_changes(cache: &OrganizeReport) -> Vec<SyncChange> {
    use crate::organize::RowAction;
    let count = |n: Option<usize>| n.map_or_else(|| "none".to_string(), |n| n.to_string());
    cache
        .rows
        .iter()
        .filter(|r| matches!(r.action, RowAction::Added | RowAction::Changed | RowAction::Removed))
        .map(|r| SyncChange {
            change_type: "cache".into(),
            universe: Some(r.key.clone()),
            symbol: None,
            action: serde_json::to_value(r.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            reason: format!("{} {}: {} → {} symbols", r.kind, r.name, count(r.before), count(r.after)),
            metadata: None,
        })
        .collect()
}

/// The cache rows the rebuild added, changed or removed, by key.
pub(super) fn cache_rows_changed(cache: &OrganizeReport) -> impl Iterator<Item = String> + '_ {
    use crate::organize::RowAction;
    cache
        .rows
        .iter()
        .filter(|r| matches!(r.action, RowAction::Added | RowAction::Changed | RowAction::Removed))
        .map(|r| r.key.clone())
}

/// IPO assignment: active symbols of the rules' types, new in this sync or listed within the look-back, that no
/// UNIVERSE group holds, join the groups their sector's rule names (else the fallback by cap); their band is
/// logged. Returns how many symbols were assigned.
pub(super) async fn assign_ipos(
    tx: &mut Tx,
    req: &SyncRequest,
    added: &HashSet<&str>,
    run_id: i64,
    changes: &mut Vec<SyncChange>,
    groups_written: &mut Vec<GroupChange>,
) -> Result<usize, StoreError> {
    let rules = &req.rules.ipo;
    let symbols = Reader::Tx(tx).symbols().await?;
    let mut universes = Reader::Tx(tx).groups_of_kind(req.environment, GroupKind::Universe).await?;
    Reader::Tx(tx).load_members(&mut universes).await?;
    let held: HashSet<&str> = universes.iter().flat_map(|g| g.members.keys().map(|t| t.as_str())).collect();
    let since = req.at.date_naive() - chrono::Duration::days(rules.lookback_days);
    let mut candidates: Vec<&SymbolRow> = symbols
        .values()
        .filter(|r| r.active != Some(false) && !held.contains(r.symbol.as_str()))
        .filter(|r| r.kind.as_deref().is_some_and(|k| rules.types.iter().any(|t| t == k)))
        .filter(|r| added.contains(r.symbol.as_str()) || r.list_date.is_some_and(|d| d >= since))
        .collect();
    candidates.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let mut by_group: BTreeMap<&GroupName, Vec<&str>> = BTreeMap::new();
    for r in &candidates {
        let (groups, why) = rules.groups_for(r.sector.as_deref(), r.market_cap);
        for g in groups {
            by_group.entry(g).or_default().push(&r.symbol);
            changes.push(SyncChange {
                universe: Some(format!("UNIVERSE:{g}")),
                metadata: Some(json!({"sector": r.sector, "market_cap": r.market_cap, "list_date": r.list_date})),
                ..change("ipo", &r.symbol, "assigned", why.clone())
            });
        }
        if let Some(b) = r.market_cap.and_then(|c| band(&req.definitions.thresholds, c)) {
            changes.push(SyncChange {
                universe: Some(b.to_string()),
                ..change("ipo_band", &r.symbol, "assigned", format!("IPO, market cap {}", billions(r.market_cap)))
            });
        }
    }
    let ids: BTreeMap<&str, i32> = universes.iter().map(|g| (g.name.as_str(), g.id)).collect();
    let now = req.at;
    let metadata = json!({"data_source": "daily_sync", "rules": req.rules.source});
    for (group, members) in &by_group {
        let (id, existed) = match ids.get(group.as_str()) {
            Some(id) => (*id, true),
            None => {
                let write = crate::store::GroupWrite {
                    env: req.environment,
                    kind: GroupKind::Universe,
                    name: group.as_str(),
                    description: Some("Recent IPOs assigned by the daily sync"),
                    metadata: Some(&metadata),
                    liquidity_filter: None,
                };
                (tx.upsert_group(&write, now.naive_utc()).await?, false)
            }
        };
        let rows = GroupMember::symbols(id, group.as_str(), members);
        tx.insert_members(&rows, now.naive_utc()).await?;
        tx.open_history(req.environment, GroupKind::Universe, &rows, now, run_id).await?;
        groups_written.push(GroupChange {
            kind: GroupKind::Universe,
            name: group.to_string(),
            action: if existed { Action::Updated } else { Action::Created },
            before: GroupBefore { existed, description: None, metadata: None, liquidity_filter: None },
            counts: Counts { added: members.len(), ..Counts::default() },
        });
    }
    Ok(candidates.len())
}

/// Theme rebalancing: every THEME group carrying a rule gets the members the rule selects now; hand-made themes
/// are left alone. Returns the memberships added and removed.
pub(super) async fn rebalance_themes(
    tx: &mut Tx,
    req: &SyncRequest,
    run_id: i64,
    changes: &mut Vec<SyncChange>,
    groups_written: &mut Vec<GroupChange>,
) -> Result<usize, StoreError> {
    let symbols = Reader::Tx(tx).symbols().await?;
    let mut themes = Reader::Tx(tx).groups_of_kind(req.environment, GroupKind::Theme).await?;
    themes.retain(|g| g.metadata.as_ref().is_some_and(|m| m.get("rule").is_some()));
    Reader::Tx(tx).load_members(&mut themes).await?;
    let mut total = 0;
    for g in &themes {
        let rule = g.metadata.as_ref().and_then(|m| m.get("rule")).cloned().map(serde_json::from_value::<ThemeRule>);
        let Some(Ok(rule)) = rule else {
            tracing::warn!(theme = %g.name, "unreadable theme rule; the theme is left as it is");
            continue;
        };
        let want = rule.members(&symbols);
        let have: std::collections::BTreeSet<String> = g.members.keys().map(|t| t.as_str().to_string()).collect();
        let added: Vec<&str> = want.difference(&have).map(String::as_str).collect();
        let removed: Vec<&str> = have.difference(&want).map(String::as_str).collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        let universe = format!("THEME:{}", g.name);
        for (list, action) in [(&added, "added"), (&removed, "removed")] {
            changes.extend(list.iter().map(|s| SyncChange {
                universe: Some(universe.clone()),
                ..change("theme", s, action, "theme rule re-evaluated".into())
            }));
        }
        let (add_rows, remove_rows) = (
            GroupMember::symbols(g.id, g.name.as_str(), &added),
            GroupMember::symbols(g.id, g.name.as_str(), &removed),
        );
        tx.delete_members(&remove_rows).await?;
        tx.close_history(req.environment, GroupKind::Theme, &remove_rows, req.at, run_id).await?;
        tx.insert_members(&add_rows, req.at.naive_utc()).await?;
        tx.open_history(req.environment, GroupKind::Theme, &add_rows, req.at, run_id).await?;
        total += added.len() + removed.len();
        groups_written.push(GroupChange {
            kind: GroupKind::Theme,
            name: g.name.to_string(),
            action: Action::Updated,
            before: GroupBefore { existed: true, description: None, metadata: None, liquidity_filter: None },
            counts: Counts { added: added.len(), removed: removed.len(), ..Counts::default() },
        });
    }
    Ok(total)
}

/// The groups whose memberships a delisting closed.
pub(super) fn details_groups(memberships: &[SymbolMembership]) -> Vec<GroupChange> {
    let mut closed: BTreeMap<(GroupKind, &str), usize> = BTreeMap::new();
    for m in memberships {
        *closed.entry((m.kind, m.group.as_str())).or_default() += 1;
    }
    closed
        .into_iter()
        .map(|((kind, name), removed)| GroupChange {
            kind,
            name: name.to_string(),
            action: Action::Updated,
            before: GroupBefore { existed: true, description: None, metadata: None, liquidity_filter: None },
            counts: Counts { removed, ..Counts::default() },
        })
        .collect()
}

/// The run's change record: the groups it changed and the symbols it wrote, so a rollback of an earlier load sees
/// what overlaps (a sync itself is not rolled back: `universe sync log` says what it did).
pub(super) fn details(plan: &Plan, groups: Vec<GroupChange>) -> RunDetails {
    let symbols = SymbolsChange {
        fields: vec![
            SymbolField::Name,
            SymbolField::Type,
            SymbolField::Exchange,
            SymbolField::Active,
            SymbolField::MarketCap,
            SymbolField::SharesOutstanding,
        ],
        added: plan.new_rows.iter().map(|r| r.symbol.clone()).collect(),
        // Not the rows as they were: a sync is not rolled back, and ten thousand rows a day would weigh on the
        // run table. The fields say it wrote symbols, which is what a rollback's overlap check needs.
        before: Vec::new(),
    };
    RunDetails { groups, symbols: Some(symbols), ..RunDetails::default() }
}
