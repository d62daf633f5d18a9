//! One immutable version of the relationship graph, with forward and reverse indexes: every lookup is a hash
//! probe into data that never changes after it is built.
//!
//! A snapshot is made of shared parts — one `Arc` per group, one per symbol, one for the ticker index and one for
//! the cache universes — so the version after a small change ([`super::build`]) re-reads and re-indexes only the
//! groups and symbols that change touched and shares every other part with the previous version. Ids are slots:
//! stable from one incremental version to the next (a removed group or symbol leaves an unreachable slot until
//! the next full build), so a part that did not change never needs rewriting.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::domain::{CacheKind, Environment, GroupKind, KeyPart, Picked, Ticker, UniverseKey, Weight, pick_named};
use crate::universes::ResolveError;

pub use super::history::{GroupHistory, HistoryChange, HistoryIndex, HistoryInterval, changes_in, end_of};

/// Index of a symbol in a snapshot (stable across incremental versions).
pub type SymbolId = u32;
/// Index of a group in a snapshot (stable across incremental versions).
pub type GroupId = u32;

/// A symbol with what the `symbols` table says of it and every group it belongs to.
#[derive(Debug, Clone)]
pub struct Symbol {
    /// Canonical ticker.
    pub ticker: Box<str>,
    /// Company or fund name.
    pub name: Option<Box<str>>,
    /// `symbols.type` (CS, ETF, …).
    pub kind: Option<Box<str>>,
    /// Primary exchange.
    pub exchange: Option<Box<str>>,
    /// Market capitalisation in dollars.
    pub market_cap: Option<i64>,
    /// Industry: the sector membership's, else the `symbols` row's.
    pub industry: Option<Box<str>>,
    /// `symbols.sector`, used when the stock is in no SECTOR group.
    pub sector_text: Option<Box<str>>,
    /// The SECTOR group it is in (a stock has exactly one; of several, the first by name).
    pub sector: Option<GroupId>,
    /// Every group it belongs to, with its weight there, ordered by kind then group name.
    pub memberships: Box<[(GroupId, Option<Weight>)]>,
    /// The `symbols` row's own industry (a sector membership's industry wins over it).
    pub(super) row_industry: Option<Box<str>>,
    /// Hash of the `symbols` row; `None` when there is no row (a member known only by its ticker).
    pub(super) row_hash: Option<u64>,
}

impl Symbol {
    /// A symbol known only by its ticker (a member with no `symbols` row).
    pub(super) fn bare(ticker: Box<str>) -> Symbol {
        Symbol {
            ticker,
            name: None,
            kind: None,
            exchange: None,
            market_cap: None,
            industry: None,
            sector_text: None,
            sector: None,
            memberships: Box::new([]),
            row_industry: None,
            row_hash: None,
        }
    }

    /// Whether the snapshot holds anything on it: a `symbols` row or a membership. A slot whose symbol lost both
    /// is unreachable (not in the ticker index) until the next full build drops it.
    pub fn is_live(&self) -> bool {
        self.row_hash.is_some() || !self.memberships.is_empty()
    }
}

/// A member of a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member {
    /// The symbol.
    pub symbol: SymbolId,
    /// Its weight (ETF holdings).
    pub weight: Option<Weight>,
}

/// Serialised responses memoised for one snapshot only (they carry its version): every snapshot starts with
/// empty ones, so nothing stale survives a refresh. Filled by the API on first use (or by a warm-up).
#[derive(Debug, Default)]
pub struct Memo {
    /// The default (unpaginated) response for this group's members.
    pub members: OnceLock<Bytes>,
    /// The universe-symbols response for this group or cache row as a one-part key.
    pub symbols: OnceLock<Bytes>,
    /// This group's members as of a day, as a JSON array with its length, per span of its history between two
    /// changes (every day of a span has the same members). Bounded: cleared when it holds [`AS_OF_MEMO_SPANS`].
    pub as_of: std::sync::Mutex<HashMap<usize, (Bytes, usize)>>,
}

/// Spans of one group's history whose `as_of` answer is kept at most (the S&P 500's 21 years have about 700).
pub const AS_OF_MEMO_SPANS: usize = 2048;

/// A `definition_groups` row with its members.
#[derive(Debug)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct Group {
    /// Its slot in the snapshot.
    pub id: GroupId,
    pub kind: GroupKind,
    /// Name as stored.
    pub name: Box<str>,
    /// Description as stored.
    pub description: Option<Box<str>>,
    pub created_at: Option<NaiveDateTime>,
    /// Last changed.
    pub updated_at: Option<NaiveDateTime>,
    /// Members, heaviest first, then by ticker (shared with the next version when only the row changes).
    pub members: Arc<[Member]>,
    /// Members ordered by ticker.
    pub sorted: Arc<[SymbolId]>,
    /// The industry each sector membership records, by symbol id (sorted; empty for other kinds).
    pub(super) industries: Arc<[(SymbolId, Box<str>)]>,
    /// Hash of the members and their industries.
    pub(super) members_hash: u64,
    /// Hash of the row and its members, for the entity tag.
    pub(super) hash: u64,
}

impl Group {
    /// The entity-tag hash of a row with its members' hash.
    pub(super) fn row_hash(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(
            &(&self.name, self.kind.as_str(), &self.description, self.created_at, self.updated_at, self.members_hash),
            &mut h,
        );
        std::hash::Hasher::finish(&h)
    }

    /// The industry this (sector) group's membership records for a symbol.
    pub(super) fn industry_of(&self, symbol: SymbolId) -> Option<&str> {
        self.industries.binary_search_by_key(&symbol, |(s, _)| *s).ok().map(|i| &*self.industries[i].1)
    }
}

/// A `cache_entries` universe row (`stock_universe` / `etf_universe`).
#[derive(Debug)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct CacheUniverse {
    /// Its position in the snapshot's list.
    pub id: u32,
    pub kind: CacheKind,
    /// `name` column.
    pub name: Box<str>,
    /// `key` column as stored.
    pub key: Box<str>,
    /// Tickers, sorted and distinct; `None` when the value is not a symbol list.
    pub symbols: Option<Box<[Box<str>]>>,
    /// Hash of the row, for the entity tag.
    pub(super) hash: u64,
}

/// The cache universe rows with their key index, shared by every version until a change touches them.
#[derive(Debug, Default)]
pub(super) struct CacheRows {
    pub(super) rows: Vec<CacheUniverse>,
    /// (type, lower-case key) → rows.
    pub(super) by_key: HashMap<(CacheKind, Box<str>), Vec<u32>>,
}

/// Group lookups by name, rebuilt with every version (a few thousand entries).
#[derive(Debug, Default)]
pub(super) struct GroupIndex {
    /// Live groups ordered by type then name.
    pub(super) order: Vec<GroupId>,
    /// Exact name → group, one map per kind (indexed like [`GroupKind::ALL`]).
    pub(super) by_name: [HashMap<Box<str>, GroupId>; 6],
    /// Lower-case name → groups of any kind (the universe-key grammar's case-insensitive match).
    pub(super) by_lower_name: HashMap<Box<str>, Vec<GroupId>>,
    /// `definition_groups.id` → slot.
    pub(super) by_db_id: HashMap<i32, GroupId>,
}

/// One immutable version of the relationship graph.
#[derive(Debug)]
pub struct Snapshot {
    /// The store's data version this was read at.
    pub version: i64,
    /// Entity tag of every response served from it: the version plus a hash of the content, so replicas agree
    /// and an out-of-band edit picked up by a periodic refresh still changes it.
    pub etag: String,
    /// Environment it holds.
    pub environment: Environment,
    /// When it was built.
    pub built_at: DateTime<Utc>,
    /// When the last full build it descends from was made: the maximum-age rebuild counts from this, so edits
    /// made behind the tool's back are picked up however often incremental refreshes come.
    pub full_built_at: DateTime<Utc>,
    /// Time to read the rows.
    pub read_time: Duration,
    /// Time to index them.
    pub index_time: Duration,
    /// Heap bytes the snapshot references (shared parts included), counted from the sizes of its allocations.
    pub approx_bytes: usize,
    /// Whether it was built from the previous version and the change log (else read in full).
    pub incremental: bool,
    /// Groups and symbols re-read for it: (groups, symbols).
    pub reread: (usize, usize),
    pub(super) symbols: Vec<Arc<Symbol>>,
    pub(super) groups: Vec<Option<Arc<Group>>>,
    pub(super) by_ticker: Arc<HashMap<Box<str>, SymbolId>>,
    pub(super) index: GroupIndex,
    pub(super) cache: Arc<CacheRows>,
    /// Membership intervals, for questions about the past (shared until the history changes).
    pub(super) history: Arc<HistoryIndex>,
    /// Every ticker each security has had (read on full builds; alias changes force one).
    pub(super) aliases: Arc<Vec<crate::store::Alias>>,
    pub(super) memos: Box<[Memo]>,
    pub(super) cache_memos: Box<[Memo]>,
}

pub(super) fn kind_slot(kind: GroupKind) -> usize {
    GroupKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// What a universe key resolves to in a snapshot.
#[derive(Debug)]
pub enum Resolved<'a> {
    /// One group.
    Group(&'a Group),
    /// One `cache_entries` row (several rows sharing a key are returned as a union).
    Cache(&'a CacheUniverse),
    /// A union of several parts: the canonical key and the sorted, distinct tickers.
    Union(String, Vec<&'a str>),
}

impl Snapshot {
    /// Every live group, ordered by type then name.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.index.order.iter().map(|id| self.group(*id))
    }

    /// Every live symbol (a `symbols` row or a membership), in slot order.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.symbols.iter().map(|s| &**s).filter(|s| s.is_live())
    }

    /// Every `cache_entries` universe row, ordered by type, key and name.
    pub fn cache_universes(&self) -> &[CacheUniverse] {
        &self.cache.rows
    }

    /// The content in a fixed textual form that does not depend on slot ids or on how the snapshot was built:
    /// two snapshots that serve the same answers give the same text (the incremental-refresh property test
    /// compares them).
    pub fn canonical(&self) -> String {
        use std::fmt::Write;
        let mut out = format!("version {} etag {} counts {:?}\n", self.version, self.etag, self.counts());
        let ticker = |id: &SymbolId| &*self.symbol(*id).ticker;
        for g in self.groups() {
            let members: Vec<String> =
                g.members.iter().map(|m| format!("{}={:?}", ticker(&m.symbol), m.weight)).collect();
            let sorted: Vec<&str> = g.sorted.iter().map(ticker).collect();
            let industries: Vec<String> =
                g.sorted.iter().filter_map(|id| g.industry_of(*id).map(|i| format!("{}={i}", ticker(id)))).collect();
            let _ = writeln!(
                out,
                "group {} {:?} {:?} {:?} {:?} members {members:?} sorted {sorted:?} industries {industries:?}",
                g.kind, g.name, g.description, g.created_at, g.updated_at
            );
        }
        let mut symbols: Vec<&Symbol> = self.symbols().collect();
        symbols.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        for s in symbols {
            let groups: Vec<String> = s
                .memberships
                .iter()
                .map(|(g, w)| format!("{}:{}={w:?}", self.group(*g).kind, self.group(*g).name))
                .collect();
            let _ = writeln!(
                out,
                "symbol {} {:?} {:?} {:?} {:?} industry {:?} sector {:?}/{:?} in {groups:?}",
                s.ticker,
                s.name,
                s.kind,
                s.exchange,
                s.market_cap,
                s.industry,
                self.sector_of(s).map(|g| &g.name),
                s.sector_text,
            );
        }
        for c in self.cache_universes() {
            let _ = writeln!(out, "cache {} {:?} {:?} {:?}", c.kind.as_str(), c.name, c.key, c.symbols);
        }
        out
    }

    /// This snapshot's memoised responses for a group.
    pub fn memo(&self, g: &Group) -> &Memo {
        &self.memos[g.id as usize]
    }

    /// This snapshot's memoised responses for a cache universe row.
    pub fn cache_memo(&self, c: &CacheUniverse) -> &Memo {
        &self.cache_memos[c.id as usize]
    }

    /// A symbol by ticker: exact, else upper-cased, else in canonical share-class form (`brk-b` → `BRK.B`).
    pub fn symbol_id(&self, raw: &str) -> Option<SymbolId> {
        if let Some(&id) = self.by_ticker.get(raw) {
            return Some(id);
        }
        let mut buf = [0u8; 32];
        if raw.len() <= buf.len() && raw.is_ascii() {
            let upper = &mut buf[..raw.len()];
            upper.copy_from_slice(raw.as_bytes());
            upper.make_ascii_uppercase();
            if let Some(&id) = std::str::from_utf8(upper).ok().and_then(|u| self.by_ticker.get(u)) {
                return Some(id);
            }
        }
        Ticker::parse(raw).ok().and_then(|t| self.by_ticker.get(t.as_str()).copied())
    }

    /// A symbol.
    pub fn symbol(&self, id: SymbolId) -> &Symbol {
        &self.symbols[id as usize]
    }

    /// A group.
    pub fn group(&self, id: GroupId) -> &Group {
        self.groups[id as usize].as_deref().expect("indexes name live groups only")
    }

    /// A group of a kind by name: exact, else case-insensitively when that picks one (ETF tickers also in
    /// canonical share-class form).
    pub fn group_named(&self, kind: GroupKind, raw: &str) -> Option<&Group> {
        let map = &self.index.by_name[kind_slot(kind)];
        if let Some(&id) = map.get(raw) {
            return Some(self.group(id));
        }
        let lower = raw.to_ascii_lowercase();
        let same_kind: Vec<GroupId> = self
            .index
            .by_lower_name
            .get(lower.as_str())
            .map(|ids| ids.iter().copied().filter(|id| self.group(*id).kind == kind).collect())
            .unwrap_or_default();
        if let [one] = same_kind.as_slice() {
            return Some(self.group(*one));
        }
        if kind == GroupKind::Etf
            && let Ok(t) = Ticker::parse(raw)
        {
            return map.get(t.as_str()).map(|id| self.group(*id));
        }
        None
    }

    /// Groups of a kind, ordered by name.
    pub fn groups_of(&self, kind: GroupKind) -> impl Iterator<Item = &Group> {
        self.groups().filter(move |g| g.kind == kind)
    }

    /// The sector group a symbol is in.
    pub fn sector_of(&self, s: &Symbol) -> Option<&Group> {
        s.sector.map(|g| self.group(g))
    }

    /// Groups of a kind that a symbol belongs to, with its weight in each.
    pub fn memberships_of<'a>(
        &'a self,
        s: &'a Symbol,
        kind: GroupKind,
    ) -> impl Iterator<Item = (&'a Group, Option<Weight>)> + 'a {
        s.memberships.iter().map(|(g, w)| (self.group(*g), *w)).filter(move |(g, _)| g.kind == kind)
    }

    /// The tickers of the security a ticker names (any of its names, case-insensitive; the security holding it
    /// now first, else the last to have held it), oldest first; empty when none is recorded.
    pub fn aliases_of(&self, ticker: &str) -> Vec<&crate::store::Alias> {
        let named: Vec<&crate::store::Alias> =
            self.aliases.iter().filter(|a| a.symbol.eq_ignore_ascii_case(ticker)).collect();
        let hit = named.iter().find(|a| a.valid_to.is_none()).or_else(|| named.iter().max_by_key(|a| a.valid_to));
        let Some(hit) = hit else { return Vec::new() };
        self.aliases.iter().filter(|a| a.security_id == hit.security_id).collect()
    }

    /// The tickers of the security that holds `ticker` now; empty when no recorded security does (the ticker
    /// may have been reused: IR was Trane's until 2020-02-29 and is Ingersoll Rand's since).
    pub fn aliases_now(&self, ticker: &str) -> Vec<&crate::store::Alias> {
        let hit = self.aliases.iter().find(|a| a.symbol.eq_ignore_ascii_case(ticker) && a.valid_to.is_none());
        let Some(hit) = hit else { return Vec::new() };
        self.aliases.iter().filter(|a| a.security_id == hit.security_id).collect()
    }

    /// The membership history of every group.
    pub fn history(&self) -> &HistoryIndex {
        &self.history
    }

    /// A group's history, or the error for a day asked before it (it has none, or it starts later).
    /// Which span of a group's history a day falls in (the changes up to the end of the day): days of one span
    /// have the same members. Errors before the history starts, as [`Snapshot::members_on`].
    pub fn as_of_span(&self, g: &Group, day: chrono::NaiveDate) -> Result<usize, ResolveError> {
        let h = self.history_from(g, day)?;
        let at = end_of(day);
        Ok(h.changes.partition_point(|c| *c <= at))
    }

    fn history_from(&self, g: &Group, day: chrono::NaiveDate) -> Result<&GroupHistory, ResolveError> {
        match self.history.of(g.kind, &g.name) {
            Some(h) if h.start.date_naive() <= day => Ok(h),
            h => Err(ResolveError::BeforeHistory {
                part: format!("{} {}", g.kind, g.name),
                day,
                start: h
                    .map_or_else(|| "its first load (it has none)".to_string(), |h| h.start.date_naive().to_string()),
            }),
        }
    }

    /// A group's members at the end of a day (`--as-of` semantics), from its history, sorted and distinct.
    pub fn members_on(&self, g: &Group, day: chrono::NaiveDate) -> Result<Vec<&str>, ResolveError> {
        Ok(self.intervals_on(g, day)?.into_iter().map(|i| &*i.symbol).collect())
    }

    /// A group's intervals open at the end of a day, one per symbol, by ticker.
    pub fn intervals_on(&self, g: &Group, day: chrono::NaiveDate) -> Result<Vec<&HistoryInterval>, ResolveError> {
        let h = self.history_from(g, day)?;
        let at = end_of(day).timestamp();
        let mut out: Vec<&HistoryInterval> = Vec::with_capacity(h.intervals.len() / 2);
        for (i, &(from, to)) in h.intervals.iter().zip(h.bounds.iter()) {
            // Sorted by symbol: a symbol's second open interval (two groups' rows) is next to its first.
            if from <= at && to > at && out.last().is_none_or(|l| l.symbol != i.symbol) {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// The groups a symbol was in at the end of a day, with its weight there, among the groups whose history
    /// reaches back that far (ordered by kind, then name).
    pub fn groups_of_symbol_on(&self, ticker: &str, day: chrono::NaiveDate) -> Vec<(&Group, Option<f64>)> {
        let at = end_of(day);
        let mut out = Vec::new();
        for kind in GroupKind::ALL {
            for (name, h) in &self.history.groups[kind_slot(kind)] {
                if h.start.date_naive() > day {
                    continue;
                }
                let open = |i: &&HistoryInterval| &*i.symbol == ticker && i.from <= at && i.to.is_none_or(|t| t > at);
                if let (Some(i), Some(g)) = (h.intervals.iter().find(open), self.group_named(kind, name)) {
                    out.push((g, i.weight));
                }
            }
        }
        out.sort_by(|a, b| (a.0.kind.as_str(), &a.0.name).cmp(&(b.0.kind.as_str(), &b.0.name)));
        out
    }

    /// The changes of a group's membership between two days (both included), in date order, then removals before
    /// additions, then by ticker.
    pub fn history_changes(
        &self,
        g: &Group,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<HistoryChange>, ResolveError> {
        let h = self.history_from(g, from)?;
        Ok(changes_in(&h.intervals, h.start, from, to))
    }

    /// Resolves a universe expression (see [`crate::domain::UniverseExpr`]) to its sorted, distinct symbols; a
    /// part read on a day answers from its history.
    pub fn resolve_expr(&self, expr: &crate::domain::UniverseExpr) -> Result<Vec<&str>, ResolveError> {
        let leaf = |part: &KeyPart, day: Option<chrono::NaiveDate>| -> Result<Vec<&str>, ResolveError> {
            let key = UniverseKey::parse(&part.to_string())?;
            let r = self.resolve(&key)?;
            match (day, &r) {
                (None, r) => Ok(self.tickers(r)),
                (Some(d), Resolved::Group(g)) => self.members_on(g, d),
                (Some(_), _) => Err(ResolveError::CacheHasNoHistory(part.to_string())),
            }
        };
        let leaves = expr.leaves();
        // One operand (`sp500` as of a day, the common question): its members as they are, sorted and distinct.
        fn one_operand(e: &crate::domain::UniverseExpr) -> bool {
            match e {
                crate::domain::UniverseExpr::Part(_) => true,
                crate::domain::UniverseExpr::At(inner, _) => one_operand(inner),
                _ => false,
            }
        }
        if let ([(part, day)], true) = (leaves.as_slice(), one_operand(expr)) {
            // Sorted and distinct already: the index keeps intervals in byte order on both backends.
            return leaf(part, *day);
        }
        let mut sets: HashMap<(String, Option<chrono::NaiveDate>), std::collections::BTreeSet<&str>> = HashMap::new();
        for (part, day) in &leaves {
            sets.insert((part.to_string(), *day), leaf(part, *day)?.into_iter().collect());
        }
        Ok(expr.eval(&|p, d| sets.get(&(p.to_string(), d)).cloned().unwrap_or_default()).into_iter().collect())
    }

    /// Resolves a universe key (design.md §5), with the same rules as [`crate::universes::resolve`]: unknown and
    /// ambiguous parts are errors naming them.
    pub fn resolve(&self, key: &UniverseKey) -> Result<Resolved<'_>, ResolveError> {
        let mut picked: Vec<Resolved<'_>> = Vec::with_capacity(key.parts().len());
        for part in key.parts() {
            match part {
                KeyPart::Cache(kind, cache_key) => {
                    let rows = self
                        .cache
                        .by_key
                        .get(&(*kind, cache_key.to_ascii_lowercase().into_boxed_str()))
                        .ok_or_else(|| ResolveError::Unknown(part.to_string()))?;
                    for &r in rows {
                        let row = &self.cache.rows[r as usize];
                        if row.symbols.is_none() {
                            return Err(ResolveError::BadCacheValue {
                                kind: kind.as_str().to_string(),
                                key: row.key.to_string(),
                            });
                        }
                        picked.push(Resolved::Cache(row));
                    }
                }
                KeyPart::Group(name) => {
                    let ids =
                        self.index.by_lower_name.get(name.to_ascii_lowercase().as_str()).map_or(&[][..], Vec::as_slice);
                    match pick_named(name, ids, |id| &self.group(*id).name) {
                        Picked::None => return Err(ResolveError::Unknown(name.clone())),
                        Picked::One(id) => picked.push(Resolved::Group(self.group(*id))),
                        Picked::Many(many) => {
                            let many = many.into_iter().map(|id| self.group(*id)).map(|g| (g.kind, &*g.name));
                            return Err(ResolveError::ambiguous(name, many));
                        }
                    }
                }
            }
        }
        if picked.len() == 1 {
            return Ok(picked.pop().expect("one part"));
        }
        let mut all: Vec<&str> = Vec::new();
        let mut names: Vec<String> = Vec::with_capacity(picked.len());
        for p in &picked {
            match p {
                Resolved::Group(g) => {
                    names.push(g.name.to_string());
                    all.extend(g.sorted.iter().map(|id| &*self.symbol(*id).ticker));
                }
                Resolved::Cache(c) => {
                    names.push(format!("{}:{}", c.kind.as_str(), c.key));
                    all.extend(c.symbols.iter().flatten().map(|t| &**t));
                }
                Resolved::Union(..) => {}
            }
        }
        all.sort_unstable();
        all.dedup();
        names.dedup();
        Ok(Resolved::Union(names.join(":"), all))
    }

    /// The tickers a resolved key names, sorted and distinct.
    pub fn tickers<'a>(&'a self, r: &Resolved<'a>) -> Vec<&'a str> {
        match r {
            Resolved::Group(g) => g.sorted.iter().map(|id| &*self.symbol(*id).ticker).collect(),
            Resolved::Cache(c) => c.symbols.iter().flatten().map(|t| &**t).collect(),
            Resolved::Union(_, all) => all.clone(),
        }
    }

    /// Counts for stats: symbols, memberships, groups per kind, cache universes.
    pub fn counts(&self) -> SnapshotCounts {
        let mut per_kind = [0usize; 6];
        for g in self.groups() {
            per_kind[kind_slot(g.kind)] += 1;
        }
        SnapshotCounts {
            symbols: self.by_ticker.len(),
            memberships: self.groups().map(|g| g.members.len()).sum(),
            universes: per_kind[kind_slot(GroupKind::Universe)],
            etfs: per_kind[kind_slot(GroupKind::Etf)],
            sectors: per_kind[kind_slot(GroupKind::Sector)],
            themes: per_kind[kind_slot(GroupKind::Theme)],
            other_groups: per_kind[kind_slot(GroupKind::Segment)] + per_kind[kind_slot(GroupKind::Custom)],
            cache_universes: self.cache.rows.len(),
        }
    }
}

/// Entry counts of a snapshot.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct SnapshotCounts {
    /// Symbols (from `symbols` or any group).
    pub symbols: usize,
    /// Group memberships.
    pub memberships: usize,
    /// UNIVERSE groups.
    pub universes: usize,
    /// ETF groups.
    pub etfs: usize,
    /// SECTOR groups.
    pub sectors: usize,
    /// THEME groups.
    pub themes: usize,
    /// SEGMENT and CUSTOM groups.
    pub other_groups: usize,
    /// `stock_universe` / `etf_universe` rows.
    pub cache_universes: usize,
}
