//! The sync's plan: what the day's list changes among the stored symbols — new and changed reference rows,
//! delistings and relistings, market caps and their band moves — computed before anything is written.

use super::*;

/// The planned changes.
#[derive(Default)]
pub(super) struct Plan {
    /// New symbols (every field the list has).
    pub(super) new_rows: Vec<SymbolRow>,
    /// Stored symbols whose name, type or exchange change (those fields only).
    pub(super) updated_rows: Vec<SymbolRow>,
    pub(super) delisted: Vec<String>,
    /// Stored inactive symbols the list has again.
    pub(super) relisted: Vec<String>,
    /// Stored rows without a type (bars created them) that the list now describes: first seen as listings.
    pub(super) first_seen: Vec<String>,
    /// Symbols inactive before this sync and still not listed: any membership left in this environment closes.
    pub(super) gone_before: Vec<String>,
    /// New market caps (and shares outstanding).
    pub(super) caps: Vec<SymbolRow>,
    pub(super) changes: Vec<SyncChange>,
    pub(super) added: usize,
    pub(super) updated: usize,
    pub(super) market_caps: usize,
}

pub(super) fn change(change_type: &str, symbol: &str, action: &str, reason: String) -> SyncChange {
    SyncChange {
        change_type: change_type.into(),
        universe: None,
        symbol: Some(symbol.into()),
        action: action.into(),
        reason,
        metadata: None,
    }
}

/// The reference refresh: listed tickers the table lacks, and stored ones whose name, type or exchange differ. A
/// value the list leaves blank never erases a stored one.
pub(super) fn plan_reference(plan: &mut Plan, list: &crate::load::ParsedSymbols, stored: &BTreeMap<String, SymbolRow>) {
    for row in list.rows.iter().filter(|r| r.active != Some(false)) {
        match stored.get(&row.symbol) {
            None => {
                plan.added += 1;
                plan.new_rows.push(SymbolRow { active: Some(true), ..row.clone() });
                plan.changes.push(change("reference", &row.symbol, "added", "new in the list".into()));
            }
            Some(old) => {
                if old.kind.is_none() && row.kind.is_some() {
                    plan.first_seen.push(row.symbol.clone());
                }
                if old.active == Some(false) {
                    plan.relisted.push(row.symbol.clone());
                    plan.changes.push(change("reference", &row.symbol, "reactivated", "listed again".into()));
                }
                let merged = SymbolRow {
                    name: row.name.clone().or_else(|| old.name.clone()),
                    kind: row.kind.clone().or_else(|| old.kind.clone()),
                    exchange: row.exchange.clone().or_else(|| old.exchange.clone()),
                    ..old.clone()
                };
                let differs: Vec<SymbolField> =
                    REFERENCE_FIELDS.into_iter().filter(|f| !f.same(old, &merged)).collect();
                if differs.is_empty() {
                    continue;
                }
                let before = json!({"name": old.name, "type": old.kind, "exchange": old.exchange});
                let after = json!({"name": merged.name, "type": merged.kind, "exchange": merged.exchange});
                let what: Vec<&str> = differs.iter().map(|f| f.column()).collect();
                plan.updated += 1;
                plan.updated_rows.push(merged);
                plan.changes.push(SyncChange {
                    metadata: Some(json!({"before": before, "after": after})),
                    ..change("reference", &row.symbol, "updated", format!("{} changed", what.join(", ")))
                });
            }
        }
    }
}

/// The fields the reference refresh compares and updates.
pub(super) const REFERENCE_FIELDS: [SymbolField; 3] = [SymbolField::Name, SymbolField::Type, SymbolField::Exchange];

/// Delistings: stored active symbols of the list's types that it no longer has, or marks inactive.
pub(super) fn plan_delistings(
    plan: &mut Plan,
    list: &crate::load::ParsedSymbols,
    stored: &BTreeMap<String, SymbolRow>,
) {
    let listed: HashSet<&str> =
        list.rows.iter().filter(|r| r.active != Some(false)).map(|r| r.symbol.as_str()).collect();
    let marked_inactive: HashSet<&str> =
        list.rows.iter().filter(|r| r.active == Some(false)).map(|r| r.symbol.as_str()).collect();
    // A list of stocks and funds says nothing of the indices, warrants or bare rows (bars create them untyped)
    // stored beside them: only stored symbols of a type the list has are its to delist; a list without types
    // delists nothing.
    let types: HashSet<&str> = list.rows.iter().filter_map(|r| r.kind.as_deref()).collect();
    let covered = |row: &SymbolRow| row.kind.as_deref().is_some_and(|k| types.contains(k));
    for (symbol, row) in stored {
        let active = row.active != Some(false);
        if !covered(row) || listed.contains(symbol.as_str()) {
            continue;
        }
        if !active {
            // Delisted before (by a sync of another environment, say): its memberships here still go.
            plan.gone_before.push(symbol.clone());
            continue;
        }
        let reason =
            if marked_inactive.contains(symbol.as_str()) { "marked inactive in the list" } else { "no longer listed" };
        plan.delisted.push(symbol.clone());
        plan.changes.push(change("delisting", symbol, "deactivated", reason.into()));
    }
}

pub(super) fn billions(cap: Option<i64>) -> String {
    cap.map_or_else(|| "unknown".into(), |c| format!("{:.2} B", c as f64 / 1e9))
}

/// Market caps: the last daily close × shares outstanding (the list's, else the stored), for the symbols that stay
/// active; a cap that crosses a band is logged as a move.
pub(super) fn plan_market_caps(
    plan: &mut Plan,
    list: &crate::load::ParsedSymbols,
    stored: &BTreeMap<String, SymbolRow>,
    closes: &std::collections::HashMap<String, f64>,
    thresholds: &Thresholds,
) {
    let delisted: HashSet<&str> = plan.delisted.iter().map(String::as_str).collect();
    let listed: BTreeMap<&str, &SymbolRow> =
        list.rows.iter().filter(|r| r.active != Some(false)).map(|r| (r.symbol.as_str(), r)).collect();
    // Symbols stored, or added by this sync's reference step (a market-cap-only sync adds none).
    let added: HashSet<&str> = plan.new_rows.iter().map(|r| r.symbol.as_str()).collect();
    let mut symbols: Vec<&str> =
        listed.keys().copied().filter(|s| stored.contains_key(*s) || added.contains(s)).collect();
    symbols.extend(
        stored
            .iter()
            .filter(|(s, r)| r.active != Some(false) && !listed.contains_key(s.as_str()))
            .map(|(s, _)| s.as_str()),
    );
    for symbol in symbols.into_iter().filter(|s| !delisted.contains(s)) {
        let old = stored.get(symbol);
        let shares = listed.get(symbol).and_then(|r| r.shares_outstanding).or(old.and_then(|r| r.shares_outstanding));
        // A symbol this sync adds starts from the list's cap.
        let old_cap = old.map_or_else(|| listed.get(symbol).and_then(|r| r.market_cap), |r| r.market_cap);
        let new_cap = match (closes.get(symbol), shares) {
            (Some(close), Some(shares)) => Some((close * shares as f64).round() as i64),
            _ => old_cap,
        };
        let old_shares =
            old.map_or_else(|| listed.get(symbol).and_then(|r| r.shares_outstanding), |r| r.shares_outstanding);
        if new_cap == old_cap && shares == old_shares {
            continue;
        }
        plan.caps.push(SymbolRow {
            symbol: symbol.to_string(),
            market_cap: new_cap,
            shares_outstanding: shares,
            ..SymbolRow::default()
        });
        if new_cap == old_cap {
            continue;
        }
        plan.market_caps += 1;
        let (from, to) = (old_cap.and_then(|c| band(thresholds, c)), new_cap.and_then(|c| band(thresholds, c)));
        if from != to {
            plan.changes.push(SyncChange {
                universe: Some(to.unwrap_or("none").to_string()),
                metadata: Some(json!({"from": from, "to": to, "market_cap_before": old_cap, "market_cap": new_cap})),
                ..change(
                    "market_cap",
                    symbol,
                    "moved",
                    format!(
                        "{} → {} ({} → {})",
                        from.unwrap_or("none"),
                        to.unwrap_or("none"),
                        billions(old_cap),
                        billions(new_cap)
                    ),
                )
            });
        }
    }
}
