//! Building a [`Snapshot`]: in full, or from the previous snapshot and what the change log says the versions
//! since touched. Both are the same code — a full build is an incremental one from an empty snapshot with
//! everything touched — so the two cannot drift apart (a property test checks they agree).
//!
//! Rows arrive a group at a time ([`crate::store::Tx::snapshot_members`]) and are turned into compact parts as
//! they come: ticker strings become symbol ids at once, so no more than one group's rows is held at a time.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::mem::size_of;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::snapshot::{CacheRows, GroupIndex, kind_slot};
use super::{CacheUniverse, Group, GroupId, Member, Memo, Snapshot, Symbol, SymbolId};
use crate::domain::{CacheKind, Environment, GroupKind, Weight};
use crate::store::{SnapshotCacheRow, SnapshotGroup, SnapshotIndustry, SnapshotSymbol};
use crate::universes::cache_text_symbols;

/// A group being re-read: its row, and its members as they arrive.
struct Draft {
    group: Group,
    members: Vec<Member>,
    industries: Vec<(SymbolId, Box<str>)>,
}

/// Collects re-read rows on top of a previous snapshot's parts, then indexes what changed.
pub(super) struct Builder {
    full: bool,
    /// The full build the result descends from (`None`: this one).
    full_built_at: Option<chrono::DateTime<Utc>>,
    symbols: Vec<Arc<Symbol>>,
    by_ticker: Arc<HashMap<Box<str>, SymbolId>>,
    groups: Vec<Option<Arc<Group>>>,
    by_db_id: HashMap<i32, GroupId>,
    cache: Arc<CacheRows>,
    /// Group slots re-read (replaced, added or removed).
    changed: Vec<bool>,
    drafts: HashMap<GroupId, Draft>,
    /// Symbols whose row or memberships may have changed.
    dirty: Vec<bool>,
    reread: (usize, usize),
    history: Arc<super::snapshot::HistoryIndex>,
    aliases: Arc<Vec<crate::store::Alias>>,
}

fn opt(s: Option<String>) -> Option<Box<str>> {
    s.map(String::into_boxed_str)
}

impl Builder {
    /// Starts a full build.
    pub(super) fn full() -> Builder {
        Builder {
            full: true,
            full_built_at: None,
            symbols: Vec::new(),
            by_ticker: Arc::default(),
            groups: Vec::new(),
            by_db_id: HashMap::new(),
            cache: Arc::default(),
            changed: Vec::new(),
            drafts: HashMap::new(),
            dirty: Vec::new(),
            reread: (0, 0),
            history: Arc::default(),
            aliases: Arc::default(),
        }
    }

    /// Starts from a previous snapshot, sharing all its parts.
    pub(super) fn on(prev: &Snapshot) -> Builder {
        Builder {
            full: false,
            full_built_at: Some(prev.full_built_at),
            symbols: prev.symbols.clone(),
            by_ticker: prev.by_ticker.clone(),
            groups: prev.groups.clone(),
            by_db_id: prev.index.by_db_id.clone(),
            cache: prev.cache.clone(),
            changed: vec![false; prev.groups.len()],
            drafts: HashMap::new(),
            dirty: vec![false; prev.symbols.len()],
            reread: (0, 0),
            history: prev.history.clone(),
            aliases: prev.aliases.clone(),
        }
    }

    /// The securities' tickers, read again (full builds).
    pub(super) fn aliases(&mut self, rows: Vec<crate::store::Alias>) {
        self.aliases = Arc::new(rows);
    }

    /// The history read again (a full build, or a version that changed it).
    pub(super) fn history(&mut self, rows: Vec<crate::store::SnapshotInterval>) {
        self.history = Arc::new(super::snapshot::HistoryIndex::from_rows(rows));
    }

    /// The symbol of a ticker, added bare when unknown.
    fn intern(&mut self, ticker: &str) -> SymbolId {
        if let Some(&id) = self.by_ticker.get(ticker) {
            return id;
        }
        let id = self.symbols.len() as SymbolId;
        let ticker: Box<str> = ticker.into();
        Arc::make_mut(&mut self.by_ticker).insert(ticker.clone(), id);
        self.symbols.push(Arc::new(Symbol::bare(ticker)));
        self.dirty.push(true);
        id
    }

    /// `symbols` rows re-read: `rows` are those that exist of `touched` (every row, on a full build).
    pub(super) fn symbol_rows(&mut self, rows: Vec<SnapshotSymbol>, touched: &[&str]) {
        self.reread.1 += rows.len().max(touched.len());
        let mut seen: Vec<SymbolId> = Vec::with_capacity(rows.len());
        for (ticker, name, kind, exchange, sector, industry, market_cap) in rows {
            let mut h = DefaultHasher::new();
            (&ticker, &name, &kind, &exchange, &sector, &industry, market_cap).hash(&mut h);
            let id = self.intern(&ticker);
            seen.push(id);
            self.dirty[id as usize] = true;
            let s = Arc::make_mut(&mut self.symbols[id as usize]);
            s.name = opt(name);
            s.kind = opt(kind);
            s.exchange = opt(exchange);
            s.market_cap = market_cap;
            s.sector_text = opt(sector);
            s.row_industry = opt(industry);
            s.row_hash = Some(h.finish());
        }
        seen.sort_unstable();
        for t in touched {
            let Some(&id) = self.by_ticker.get(*t) else { continue };
            if seen.binary_search(&id).is_err() {
                // The row is gone; the memberships stay.
                self.dirty[id as usize] = true;
                let s = Arc::make_mut(&mut self.symbols[id as usize]);
                *s = Symbol { memberships: std::mem::take(&mut s.memberships), ..Symbol::bare(s.ticker.clone()) };
            }
        }
    }

    /// Group rows re-read: `rows` are those of the environment that exist of `touched` (every row, on a full
    /// build). A touched id with no row was deleted.
    pub(super) fn group_rows(&mut self, rows: Vec<SnapshotGroup>, touched: &[i32]) {
        self.reread.0 += rows.len().max(touched.len());
        let mut present: Vec<i32> = Vec::with_capacity(rows.len());
        for g in rows {
            let Some(kind) = GroupKind::parse(&g.kind) else { continue };
            present.push(g.id);
            let slot = match self.by_db_id.get(&g.id) {
                Some(&slot) => slot,
                None => {
                    let slot = self.groups.len() as GroupId;
                    self.groups.push(None);
                    self.changed.push(false);
                    self.by_db_id.insert(g.id, slot);
                    slot
                }
            };
            self.mark_changed(slot);
            let group = Group {
                id: slot,
                kind,
                name: g.name.into_boxed_str(),
                description: opt(g.description),
                created_at: g.created_at,
                updated_at: g.updated_at,
                members: Arc::new([]),
                sorted: Arc::new([]),
                industries: Arc::new([]),
                members_hash: 0,
                hash: 0,
            };
            self.drafts.insert(slot, Draft { group, members: Vec::new(), industries: Vec::new() });
        }
        present.sort_unstable();
        for id in touched {
            if present.binary_search(id).is_ok() {
                continue;
            }
            if let Some(slot) = self.by_db_id.remove(id) {
                self.mark_changed(slot);
                self.groups[slot as usize] = None;
            }
        }
    }

    /// Group rows re-read whose memberships did not change (`touched` ids): each keeps the members it has and
    /// takes the new row. Returns the ids that need a full re-read instead: new groups, deleted ones, and any
    /// whose name or type differs from what the snapshot holds (its members' membership order would change).
    pub(super) fn group_row_updates(&mut self, rows: Vec<SnapshotGroup>, touched: &[i32]) -> Vec<i32> {
        self.reread.0 += rows.len();
        let mut full: Vec<i32> = Vec::new();
        let mut present: Vec<i32> = Vec::with_capacity(rows.len());
        for g in rows {
            present.push(g.id);
            let old = self.by_db_id.get(&g.id).and_then(|slot| self.groups[*slot as usize].clone());
            let kind = GroupKind::parse(&g.kind);
            match old {
                Some(old) if Some(old.kind) == kind && *old.name == *g.name => {
                    let mut group = Group {
                        id: old.id,
                        kind: old.kind,
                        name: old.name.clone(),
                        description: opt(g.description),
                        created_at: g.created_at,
                        updated_at: g.updated_at,
                        members: old.members.clone(),
                        sorted: old.sorted.clone(),
                        industries: old.industries.clone(),
                        members_hash: old.members_hash,
                        hash: 0,
                    };
                    group.hash = group.row_hash();
                    self.groups[old.id as usize] = Some(Arc::new(group));
                }
                _ => full.push(g.id),
            }
        }
        present.sort_unstable();
        full.extend(touched.iter().filter(|id| present.binary_search(id).is_err()));
        full
    }

    /// Marks a group slot re-read; its previous members must recompute their memberships.
    fn mark_changed(&mut self, slot: GroupId) {
        self.changed[slot as usize] = true;
        if let Some(old) = &self.groups[slot as usize] {
            for m in old.members.iter() {
                self.dirty[m.symbol as usize] = true;
            }
        }
    }

    /// One re-read group's memberships.
    pub(super) fn members(&mut self, group_id: i32, symbols: &[&str], weights: &[Option<i64>]) {
        let Some(&slot) = self.by_db_id.get(&group_id) else { return };
        let Some(mut draft) = self.drafts.remove(&slot) else { return };
        draft.members.reserve(symbols.len());
        let mut weights = weights.iter();
        for ticker in symbols {
            let weight = weights.next().copied().flatten().map(Weight::from_basis_points);
            let id = self.intern(ticker);
            self.dirty[id as usize] = true;
            draft.members.push(Member { symbol: id, weight });
        }
        self.drafts.insert(slot, draft);
    }

    /// The industries re-read sector groups record for their members.
    pub(super) fn industries(&mut self, rows: Vec<SnapshotIndustry>) {
        for (group_id, ticker, industry) in rows {
            let Some(&slot) = self.by_db_id.get(&group_id) else { continue };
            let Some(&id) = self.by_ticker.get(ticker.as_str()) else { continue };
            if let Some(draft) = self.drafts.get_mut(&slot)
                && draft.group.kind == GroupKind::Sector
            {
                draft.industries.push((id, industry.into_boxed_str()));
            }
        }
    }

    /// The environment's cache universe rows, re-read whole.
    pub(super) fn cache_rows(&mut self, rows: Vec<SnapshotCacheRow>) {
        let mut cache = CacheRows::default();
        for (kind, name, key, value) in rows {
            let Some(kind) = CacheKind::parse(&kind) else { continue };
            let symbols = cache_text_symbols(&value).map(|c| {
                let mut v: Vec<Box<str>> = c.symbols.into_iter().map(String::into_boxed_str).collect();
                v.sort_unstable();
                v.dedup();
                v.into_boxed_slice()
            });
            // What is served, not the text it came from (a value or organize's ticker list of it).
            let mut h = DefaultHasher::new();
            (kind, &name, &key, &symbols).hash(&mut h);
            let id = cache.rows.len() as u32;
            cache.by_key.entry((kind, key.to_ascii_lowercase().into_boxed_str())).or_default().push(id);
            cache.rows.push(CacheUniverse {
                id,
                kind,
                name: name.into_boxed_str(),
                key: key.into_boxed_str(),
                symbols,
                hash: h.finish(),
            });
        }
        self.cache = Arc::new(cache);
    }

    /// Indexes what changed and assembles the snapshot.
    pub(super) fn finish(mut self, version: i64, environment: Environment, read_time: Duration) -> Snapshot {
        let index_started = Instant::now();
        // Ticker order as ranks, so sorting a million members compares integers (full builds only; an
        // incremental one sorts a few groups by ticker directly).
        let ranks: Option<Vec<u32>> = self.full.then(|| {
            let mut ids: Vec<SymbolId> = (0..self.symbols.len() as SymbolId).collect();
            ids.sort_unstable_by(|a, b| self.symbols[*a as usize].ticker.cmp(&self.symbols[*b as usize].ticker));
            let mut ranks = vec![0u32; ids.len()];
            for (rank, id) in ids.into_iter().enumerate() {
                ranks[id as usize] = rank as u32;
            }
            ranks
        });
        // The membership entries of the re-read groups, by symbol, each list allocated at its final size (a full
        // build makes a million of them: no growth, no copies left behind in the allocator).
        let mut sizes = vec![0u32; self.symbols.len()];
        for d in self.drafts.values() {
            for m in &d.members {
                sizes[m.symbol as usize] += 1;
            }
        }
        let mut added: Vec<Vec<(GroupId, Option<Weight>)>> =
            sizes.iter().map(|n| Vec::with_capacity(*n as usize)).collect();
        for (slot, d) in &self.drafts {
            for m in &d.members {
                added[m.symbol as usize].push((*slot, m.weight));
            }
        }
        let symbols = &self.symbols;
        let by_ticker_order = |a: &SymbolId, b: &SymbolId| match &ranks {
            Some(r) => r[*a as usize].cmp(&r[*b as usize]),
            None => symbols[*a as usize].ticker.cmp(&symbols[*b as usize].ticker),
        };
        for (slot, draft) in self.drafts.drain() {
            let Draft { mut group, mut members, mut industries } = draft;
            members
                .sort_unstable_by(|a, b| b.weight.cmp(&a.weight).then_with(|| by_ticker_order(&a.symbol, &b.symbol)));
            let mut sorted: Vec<SymbolId> = members.iter().map(|m| m.symbol).collect();
            sorted.sort_unstable_by(&by_ticker_order);
            industries.sort_unstable_by_key(|(id, _)| *id);
            let mut h = DefaultHasher::new();
            for m in &members {
                (&symbols[m.symbol as usize].ticker, m.weight).hash(&mut h);
            }
            group.members = Arc::from(members);
            group.sorted = Arc::from(sorted);
            group.industries = Arc::from(industries);
            // Industries in ticker order: slot ids differ between builds, tickers do not.
            for id in group.sorted.iter() {
                if let Some(industry) = group.industry_of(*id) {
                    (&symbols[*id as usize].ticker, industry).hash(&mut h);
                }
            }
            group.members_hash = h.finish();
            group.hash = group.row_hash();
            self.groups[slot as usize] = Some(Arc::new(group));
        }

        // Memberships of every symbol a change reached: the entries of groups not re-read, plus the new ones.
        let groups = &self.groups;
        let by_kind_and_name = |a: &(GroupId, Option<Weight>), b: &(GroupId, Option<Weight>)| {
            let key = |id: GroupId| groups[id as usize].as_deref().map(|g| (kind_slot(g.kind), &*g.name));
            key(a.0).cmp(&key(b.0))
        };
        let mut gone: Vec<Box<str>> = Vec::new();
        for (id, new) in added.into_iter().enumerate() {
            if !self.dirty[id] {
                continue;
            }
            let old = &self.symbols[id];
            let kept = old.memberships.iter().copied().filter(|(g, _)| !self.changed[*g as usize]);
            let mut list: Vec<(GroupId, Option<Weight>)> = if old.memberships.is_empty() {
                new
            } else {
                let mut list = Vec::with_capacity(old.memberships.len() + new.len());
                list.extend(kept);
                list.extend(new);
                list
            };
            list.sort_unstable_by(by_kind_and_name);
            let sector = list
                .iter()
                .map(|(g, _)| groups[*g as usize].as_deref().expect("live"))
                .find(|g| g.kind == GroupKind::Sector);
            let industry = sector.and_then(|g| g.industry_of(id as SymbolId)).map(Box::from);
            let s = Arc::make_mut(&mut self.symbols[id]);
            s.sector = sector.map(|g| g.id);
            s.industry = industry.or_else(|| s.row_industry.clone());
            s.memberships = list.into_boxed_slice();
            if !s.is_live() {
                gone.push(s.ticker.clone());
            }
        }
        if !gone.is_empty() {
            let map = Arc::make_mut(&mut self.by_ticker);
            for t in gone {
                map.remove(&t);
            }
        }

        let now = Utc::now();
        let index = group_index(&self.groups, self.by_db_id);
        let mut content: u64 = 0;
        for s in self.symbols.iter().filter(|s| s.is_live()) {
            content = content.wrapping_add(s.row_hash.unwrap_or(0));
        }
        for id in &index.order {
            content = content.wrapping_add(self.groups[*id as usize].as_ref().map_or(0, |g| g.hash));
        }
        for c in &self.cache.rows {
            content = content.wrapping_add(c.hash);
        }
        let mut snapshot = Snapshot {
            version,
            etag: format!("\"{version}-{content:016x}\""),
            environment,
            built_at: now,
            full_built_at: self.full_built_at.unwrap_or(now),
            read_time,
            index_time: Duration::ZERO,
            approx_bytes: 0,
            incremental: !self.full,
            reread: self.reread,
            memos: (0..self.groups.len()).map(|_| Memo::default()).collect(),
            cache_memos: (0..self.cache.rows.len()).map(|_| Memo::default()).collect(),
            symbols: self.symbols,
            groups: self.groups,
            by_ticker: self.by_ticker,
            index,
            cache: self.cache,
            history: self.history,
            aliases: self.aliases,
        };
        snapshot.approx_bytes = heap_bytes(&snapshot);
        snapshot.index_time = index_started.elapsed();
        snapshot
    }
}

/// The name indexes over the live groups, ordered by type then name (byte order, on either backend).
fn group_index(groups: &[Option<Arc<Group>>], by_db_id: HashMap<i32, GroupId>) -> GroupIndex {
    let mut order: Vec<GroupId> = groups.iter().flatten().map(|g| g.id).collect();
    let get = |id: &GroupId| groups[*id as usize].as_deref().expect("live");
    order.sort_unstable_by(|a, b| {
        let (a, b) = (get(a), get(b));
        (a.kind.as_str(), &*a.name).cmp(&(b.kind.as_str(), &*b.name))
    });
    let mut index = GroupIndex { by_db_id, ..GroupIndex::default() };
    index.by_lower_name.reserve(order.len());
    for id in &order {
        let g = get(id);
        index.by_name[kind_slot(g.kind)].insert(g.name.clone(), *id);
        index.by_lower_name.entry(g.name.to_ascii_lowercase().into_boxed_str()).or_default().push(*id);
    }
    index.order = order;
    index
}

/// Heap bytes of a hash table with `capacity` (hashbrown: a power-of-two bucket count holding 7/8 of it, one
/// control byte per bucket plus a group's worth).
fn table_bytes<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets =
        if capacity < 8 { (capacity + 1).next_power_of_two() } else { (capacity * 8 / 7).next_power_of_two() };
    buckets * (size_of::<K>() + size_of::<V>()) + buckets + 16
}

fn str_bytes(s: &Option<Box<str>>) -> usize {
    s.as_ref().map_or(0, |s| s.len())
}

/// What an `Arc` allocation adds to its value: the two counts.
const ARC: usize = 2 * size_of::<usize>();

/// Heap bytes the snapshot references, from the sizes of its allocations (shared parts included).
fn heap_bytes(s: &Snapshot) -> usize {
    let symbols: usize = s
        .symbols
        .iter()
        .map(|s| {
            ARC + size_of::<Symbol>()
                + s.ticker.len()
                + str_bytes(&s.name)
                + str_bytes(&s.kind)
                + str_bytes(&s.exchange)
                + str_bytes(&s.industry)
                + str_bytes(&s.row_industry)
                + str_bytes(&s.sector_text)
                + s.memberships.len() * size_of::<(GroupId, Option<Weight>)>()
        })
        .sum::<usize>()
        + s.symbols.capacity() * size_of::<Arc<Symbol>>();
    let by_ticker = ARC
        + table_bytes::<Box<str>, SymbolId>(s.by_ticker.capacity())
        + s.by_ticker.keys().map(|k| k.len()).sum::<usize>();
    let groups: usize = s
        .groups
        .iter()
        .flatten()
        .map(|g| {
            ARC + size_of::<Group>()
                + g.name.len()
                + str_bytes(&g.description)
                + 3 * ARC
                + g.members.len() * size_of::<Member>()
                + g.sorted.len() * size_of::<SymbolId>()
                + g.industries.iter().map(|(_, i)| size_of::<(SymbolId, Box<str>)>() + i.len()).sum::<usize>()
        })
        .sum::<usize>()
        + s.groups.capacity() * size_of::<Option<Arc<Group>>>();
    let index = &s.index;
    let names = index.order.capacity() * size_of::<GroupId>()
        + index
            .by_name
            .iter()
            .map(|m| table_bytes::<Box<str>, GroupId>(m.capacity()) + m.keys().map(|k| k.len()).sum::<usize>())
            .sum::<usize>()
        + table_bytes::<Box<str>, Vec<GroupId>>(index.by_lower_name.capacity())
        + index.by_lower_name.iter().map(|(k, v)| k.len() + v.capacity() * size_of::<GroupId>()).sum::<usize>()
        + table_bytes::<i32, GroupId>(index.by_db_id.capacity());
    let cache = ARC
        + s.cache.rows.capacity() * size_of::<CacheUniverse>()
        + s.cache
            .rows
            .iter()
            .map(|c| {
                c.name.len()
                    + c.key.len()
                    + c.symbols.as_ref().map_or(0, |s| s.iter().map(|t| t.len() + size_of::<Box<str>>()).sum())
            })
            .sum::<usize>()
        + table_bytes::<(CacheKind, Box<str>), Vec<u32>>(s.cache.by_key.capacity())
        + s.cache.by_key.iter().map(|((_, k), v)| k.len() + v.capacity() * size_of::<u32>()).sum::<usize>();
    let memos = (s.memos.len() + s.cache_memos.len()) * size_of::<Memo>();
    symbols + by_ticker + groups + names + cache + memos + s.history.heap_bytes()
}
