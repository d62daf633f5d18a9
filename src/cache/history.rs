//! The membership history the snapshot holds, for `as_of`: every group's intervals (by symbol, with integer
//! bounds for the scan and the instants the membership changed), the changes in a range, and the end of a day.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::snapshot::kind_slot;
use crate::domain::GroupKind;

/// One membership interval in the snapshot's history: the ticker, its first instant, and the instant it ended
/// (exclusive; `None` while open).
#[derive(Debug, Clone)]
pub struct HistoryInterval {
    /// Ticker.
    pub symbol: Box<str>,
    /// Weight then, as a fraction (ETF holdings).
    pub weight: Option<f64>,
    /// Start.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// One group's history: where it starts and its intervals, by symbol then start.
#[derive(Debug)]
pub struct GroupHistory {
    /// The earliest interval's start: days before it cannot be answered.
    pub start: DateTime<Utc>,
    /// The intervals, by symbol (byte order, whatever the database's collation) then start.
    pub intervals: Box<[HistoryInterval]>,
    /// Every instant the membership changed, sorted and distinct: the days between two of them have the same
    /// members, so an answer is memoised per span ([`Snapshot::as_of_span`]).
    pub changes: Box<[DateTime<Utc>]>,
    /// Each interval's bounds as Unix seconds (open: `i64::MAX`), beside `intervals`: the `as_of` scan compares
    /// two integers per interval.
    pub(super) bounds: Box<[(i64, i64)]>,
}

/// Every group's membership intervals, shared by every version until a change touches the history.
#[derive(Debug, Default)]
pub struct HistoryIndex {
    /// Exact group name → history, one map per kind (indexed like [`GroupKind::ALL`]).
    pub(super) groups: [HashMap<Box<str>, GroupHistory>; 6],
}

impl HistoryIndex {
    /// Builds the index from rows ordered by group, symbol and start.
    pub(super) fn from_rows(rows: Vec<crate::store::SnapshotInterval>) -> HistoryIndex {
        let mut lists: [HashMap<Box<str>, Vec<HistoryInterval>>; 6] = Default::default();
        for (kind, name, symbol, weight, from, to) in rows {
            let Some(kind) = GroupKind::parse(&kind) else { continue };
            lists[kind_slot(kind)].entry(name.into_boxed_str()).or_default().push(HistoryInterval {
                symbol: symbol.into_boxed_str(),
                weight,
                from,
                to,
            });
        }
        let groups = lists.map(|m| {
            m.into_iter()
                .filter_map(|(name, mut v)| {
                    let start = v.iter().map(|i| i.from).min()?;
                    v.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()).then(a.from.cmp(&b.from)));
                    let mut changes: Vec<DateTime<Utc>> =
                        v.iter().flat_map(|i| [Some(i.from), i.to]).flatten().collect();
                    changes.sort_unstable();
                    changes.dedup();
                    let bounds =
                        v.iter().map(|i| (i.from.timestamp(), i.to.map_or(i64::MAX, |t| t.timestamp()))).collect();
                    let (intervals, changes) = (v.into_boxed_slice(), changes.into_boxed_slice());
                    Some((name, GroupHistory { start, intervals, changes, bounds }))
                })
                .collect()
        });
        HistoryIndex { groups }
    }

    /// One group's history.
    pub fn of(&self, kind: GroupKind, name: &str) -> Option<&GroupHistory> {
        self.groups[kind_slot(kind)].get(name)
    }

    /// Intervals held.
    pub fn len(&self) -> usize {
        self.groups.iter().flat_map(|m| m.values()).map(|h| h.intervals.len()).sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes, for the snapshot's size.
    pub(super) fn heap_bytes(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|m| m.iter())
            .map(|(name, h)| {
                name.len()
                    + std::mem::size_of::<GroupHistory>()
                    + h.intervals.iter().map(|i| std::mem::size_of::<HistoryInterval>() + i.symbol.len()).sum::<usize>()
                    + h.changes.len() * std::mem::size_of::<DateTime<Utc>>()
                    + h.bounds.len() * std::mem::size_of::<(i64, i64)>()
            })
            .sum()
    }
}

/// The additions and removals among a group's intervals between two days (both included), in date order, then
/// removals before additions, then by ticker. An interval that starts when the history starts is the first
/// roster, not an addition.
pub fn changes_in(
    intervals: &[HistoryInterval],
    start: DateTime<Utc>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Vec<HistoryChange> {
    let within = |t: DateTime<Utc>| (from..=to).contains(&t.date_naive());
    let mut out = Vec::new();
    for i in intervals {
        if within(i.from) && i.from > start {
            out.push(HistoryChange { date: i.from.date_naive(), action: "added", symbol: i.symbol.to_string() });
        }
        if let Some(t) = i.to.filter(|t| within(*t)) {
            out.push(HistoryChange { date: t.date_naive(), action: "removed", symbol: i.symbol.to_string() });
        }
    }
    out.sort_by(|a, b| (a.date, a.action != "removed", &a.symbol).cmp(&(b.date, b.action != "removed", &b.symbol)));
    out
}

/// The end of a day (`--as-of DATE` reads the membership at 23:59:59 UTC that day).
pub fn end_of(day: chrono::NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(23, 59, 59).expect("a valid time").and_utc()
}

/// One change in a group's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct HistoryChange {
    /// The day it took effect.
    pub date: chrono::NaiveDate,
    /// `added` or `removed`.
    pub action: &'static str,
    /// The ticker.
    pub symbol: String,
}
