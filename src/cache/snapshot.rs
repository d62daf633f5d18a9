//! One immutable version of the relationship graph, with forward and reverse indexes: every lookup is a hash
//! probe into data that never changes after it is built.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::domain::{CacheKind, Environment, GroupKind, KeyPart, Picked, Ticker, UniverseKey, Weight, pick_named};
use crate::store::SnapshotRows;
use crate::universes::{ResolveError, cache_text_symbols};

/// Index of a symbol in [`Snapshot::symbols`].
pub type SymbolId = u32;
/// Index of a group in [`Snapshot::groups`].
pub type GroupId = u32;

/// A symbol with what the `symbols` table says of it and every group it belongs to.
#[derive(Debug)]
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
    /// The SECTOR group it is in (a stock has exactly one).
    pub sector: Option<GroupId>,
    /// Every group it belongs to, with its weight there, ordered by kind then group name.
    pub memberships: Box<[(GroupId, Option<Weight>)]>,
}

impl Symbol {
    /// A symbol known only by its ticker (a member with no `symbols` row).
    fn bare(ticker: Box<str>) -> Symbol {
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
        }
    }
}

/// A member of a group.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// The symbol.
    pub symbol: SymbolId,
    /// Its weight (ETF holdings).
    pub weight: Option<Weight>,
}

/// Serialised responses memoised for this snapshot only: a new snapshot starts empty, so nothing stale survives
/// a refresh. Filled by the API on first use (or by a warm-up).
#[derive(Debug, Default)]
pub struct Memo {
    /// The default (unpaginated) response for this group's members.
    pub members: OnceLock<Bytes>,
    /// The universe-symbols response for this group or cache row as a one-part key.
    pub symbols: OnceLock<Bytes>,
}

/// A `definition_groups` row with its members.
#[derive(Debug)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct Group {
    pub kind: GroupKind,
    /// Name as stored.
    pub name: Box<str>,
    /// Description as stored.
    pub description: Option<Box<str>>,
    pub created_at: Option<NaiveDateTime>,
    /// Last changed.
    pub updated_at: Option<NaiveDateTime>,
    /// Members, heaviest first, then by ticker.
    pub members: Box<[Member]>,
    /// Members ordered by ticker.
    pub sorted: Box<[SymbolId]>,
    /// Memoised responses.
    pub memo: Memo,
}

/// A `cache_entries` universe row (`stock_universe` / `etf_universe`).
#[derive(Debug)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct CacheUniverse {
    pub kind: CacheKind,
    /// `name` column.
    pub name: Box<str>,
    /// `key` column as stored.
    pub key: Box<str>,
    /// Tickers, sorted and distinct; `None` when the value is not a symbol list.
    pub symbols: Option<Box<[Box<str>]>>,
    /// Memoised responses.
    pub memo: Memo,
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
    /// Time to read the rows.
    pub read_time: Duration,
    /// Time to index them.
    pub index_time: Duration,
    /// Approximate heap size in bytes.
    pub approx_bytes: usize,
    /// Every symbol that is in the `symbols` table or any group.
    pub symbols: Vec<Symbol>,
    /// Every group.
    pub groups: Vec<Group>,
    /// Every `cache_entries` universe row.
    pub cache_universes: Vec<CacheUniverse>,
    by_ticker: HashMap<Box<str>, SymbolId>,
    /// Exact name → group, one map per kind (indexed like [`GroupKind::ALL`]).
    by_name: [HashMap<Box<str>, GroupId>; 6],
    /// Lower-case name → groups of any kind (the universe-key grammar's case-insensitive match).
    by_lower_name: HashMap<Box<str>, Vec<GroupId>>,
    /// (type, lower-case key) → cache rows.
    by_cache_key: HashMap<(CacheKind, Box<str>), Vec<u32>>,
}

fn kind_slot(kind: GroupKind) -> usize {
    GroupKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

fn boxed(s: Option<String>) -> Option<Box<str>> {
    s.map(String::into_boxed_str)
}

/// Heap bytes of an optional boxed string.
fn str_bytes(s: &Option<Box<str>>) -> usize {
    s.as_ref().map_or(0, |s| s.len())
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
    /// Indexes the rows read by [`crate::store::Store::snapshot_rows`].
    pub fn build(rows: SnapshotRows, environment: Environment, read_time: Duration) -> Snapshot {
        let started = std::time::Instant::now();
        let mut hasher = DefaultHasher::new();
        let SnapshotRows { version, groups: group_rows, members, symbols: symbol_rows, cache_rows } = rows;

        let mut symbols: Vec<Symbol> = Vec::with_capacity(symbol_rows.len() + 64);
        let mut by_ticker: HashMap<Box<str>, SymbolId> = HashMap::with_capacity(symbol_rows.len() + 64);
        for (ticker, name, kind, exchange, sector, industry, market_cap) in symbol_rows {
            (&ticker, &name, &kind, &exchange, &sector, &industry, market_cap).hash(&mut hasher);
            let ticker = ticker.into_boxed_str();
            by_ticker.insert(ticker.clone(), symbols.len() as SymbolId);
            symbols.push(Symbol {
                name: boxed(name),
                kind: boxed(kind),
                exchange: boxed(exchange),
                market_cap,
                industry: boxed(industry),
                sector_text: boxed(sector),
                ..Symbol::bare(ticker)
            });
        }

        let mut groups: Vec<Group> = Vec::with_capacity(group_rows.len());
        let mut by_id: HashMap<i32, GroupId> = HashMap::with_capacity(group_rows.len());
        for g in group_rows {
            (&g.name, &g.kind, &g.description, g.created_at, g.updated_at).hash(&mut hasher);
            let Some(kind) = GroupKind::parse(&g.kind) else { continue };
            by_id.insert(g.id, groups.len() as GroupId);
            groups.push(Group {
                kind,
                name: g.name.into_boxed_str(),
                description: boxed(g.description),
                created_at: g.created_at,
                updated_at: g.updated_at,
                members: Box::new([]),
                sorted: Box::new([]),
                memo: Memo::default(),
            });
        }

        let mut group_members: Vec<Vec<Member>> = vec![Vec::new(); groups.len()];
        let mut symbol_groups: Vec<Vec<(GroupId, Option<Weight>)>> = Vec::new();
        for (gid, ticker, weight, industry) in members {
            let Some(&g) = by_id.get(&gid) else { continue };
            (&ticker, weight.map(f64::to_bits), &industry, g).hash(&mut hasher);
            let id = match by_ticker.get(ticker.as_str()) {
                Some(&id) => id,
                None => {
                    let id = symbols.len() as SymbolId;
                    let ticker = ticker.into_boxed_str();
                    by_ticker.insert(ticker.clone(), id);
                    symbols.push(Symbol::bare(ticker));
                    id
                }
            };
            let weight = weight.map(Weight::from_fraction);
            group_members[g as usize].push(Member { symbol: id, weight });
            if symbol_groups.len() < symbols.len() {
                symbol_groups.resize_with(symbols.len(), Vec::new);
            }
            symbol_groups[id as usize].push((g, weight));
            if groups[g as usize].kind == GroupKind::Sector {
                let s = &mut symbols[id as usize];
                if s.sector.is_none() {
                    s.sector = Some(g);
                    if industry.is_some() {
                        s.industry = boxed(industry);
                    }
                }
            }
        }
        symbol_groups.resize_with(symbols.len(), Vec::new);
        for (g, mut list) in groups.iter_mut().zip(group_members) {
            list.sort_by(|a, b| {
                b.weight
                    .cmp(&a.weight)
                    .then_with(|| symbols[a.symbol as usize].ticker.cmp(&symbols[b.symbol as usize].ticker))
            });
            let mut sorted: Vec<SymbolId> = list.iter().map(|m| m.symbol).collect();
            sorted.sort_by(|a, b| symbols[*a as usize].ticker.cmp(&symbols[*b as usize].ticker));
            g.members = list.into_boxed_slice();
            g.sorted = sorted.into_boxed_slice();
        }
        for (s, mut list) in symbols.iter_mut().zip(symbol_groups) {
            list.sort_by(|a, b| {
                let (ga, gb) = (&groups[a.0 as usize], &groups[b.0 as usize]);
                kind_slot(ga.kind).cmp(&kind_slot(gb.kind)).then_with(|| ga.name.cmp(&gb.name))
            });
            s.memberships = list.into_boxed_slice();
        }

        let mut by_name: [HashMap<Box<str>, GroupId>; 6] = Default::default();
        let mut by_lower_name: HashMap<Box<str>, Vec<GroupId>> = HashMap::with_capacity(groups.len());
        for (i, g) in groups.iter().enumerate() {
            by_name[kind_slot(g.kind)].insert(g.name.clone(), i as GroupId);
            by_lower_name.entry(g.name.to_ascii_lowercase().into_boxed_str()).or_default().push(i as GroupId);
        }

        let mut cache_universes = Vec::with_capacity(cache_rows.len());
        let mut by_cache_key: HashMap<(CacheKind, Box<str>), Vec<u32>> = HashMap::new();
        for (kind, name, key, value) in cache_rows {
            (&kind, &name, &key, &value).hash(&mut hasher);
            let Some(kind) = CacheKind::parse(&kind) else { continue };
            let symbols = cache_text_symbols(&value).map(|c| {
                let mut v: Vec<Box<str>> = c.symbols.into_iter().map(String::into_boxed_str).collect();
                v.sort_unstable();
                v.dedup();
                v.into_boxed_slice()
            });
            by_cache_key
                .entry((kind, key.to_ascii_lowercase().into_boxed_str()))
                .or_default()
                .push(cache_universes.len() as u32);
            cache_universes.push(CacheUniverse {
                kind,
                name: name.into_boxed_str(),
                key: key.into_boxed_str(),
                symbols,
                memo: Memo::default(),
            });
        }

        let mut snapshot = Snapshot {
            version,
            etag: format!("\"{version}-{:016x}\"", hasher.finish()),
            environment,
            built_at: Utc::now(),
            read_time,
            index_time: Duration::ZERO,
            approx_bytes: 0,
            symbols,
            groups,
            cache_universes,
            by_ticker,
            by_name,
            by_lower_name,
            by_cache_key,
        };
        snapshot.approx_bytes = snapshot.heap_estimate();
        snapshot.index_time = started.elapsed();
        snapshot
    }

    /// Approximate heap use: strings, slices and hash tables (a table slot is counted as key + value + 1 byte
    /// of control, at its capacity).
    fn heap_estimate(&self) -> usize {
        use std::mem::size_of;
        let slot = |k: usize, v: usize| k + v + 1;
        let symbols: usize = self
            .symbols
            .iter()
            .map(|s| {
                s.ticker.len()
                    + str_bytes(&s.name)
                    + str_bytes(&s.kind)
                    + str_bytes(&s.exchange)
                    + str_bytes(&s.industry)
                    + str_bytes(&s.sector_text)
                    + s.memberships.len() * size_of::<(GroupId, Option<Weight>)>()
                    + s.ticker.len() // the index key
            })
            .sum::<usize>()
            + self.symbols.capacity() * size_of::<Symbol>()
            + self.by_ticker.capacity() * slot(size_of::<Box<str>>(), size_of::<SymbolId>());
        let groups: usize = self
            .groups
            .iter()
            .map(|g| {
                2 * g.name.len()
                    + str_bytes(&g.description)
                    + g.members.len() * (size_of::<Member>() + size_of::<SymbolId>())
            })
            .sum::<usize>()
            + self.groups.capacity() * size_of::<Group>()
            + self
                .by_name
                .iter()
                .map(|m| m.capacity() * slot(size_of::<Box<str>>(), size_of::<GroupId>()))
                .sum::<usize>()
            + self.by_lower_name.capacity() * slot(size_of::<Box<str>>(), size_of::<Vec<GroupId>>());
        let cache: usize = self
            .cache_universes
            .iter()
            .map(|c| {
                c.name.len()
                    + 2 * c.key.len()
                    + c.symbols.as_ref().map_or(0, |s| s.iter().map(|t| t.len() + size_of::<Box<str>>()).sum())
            })
            .sum::<usize>()
            + self.cache_universes.capacity() * size_of::<CacheUniverse>()
            + self.by_cache_key.capacity() * slot(size_of::<(CacheKind, Box<str>)>(), size_of::<Vec<u32>>());
        symbols + groups + cache
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
        &self.groups[id as usize]
    }

    /// A group of a kind by name: exact, else case-insensitively when that picks one (ETF tickers also in
    /// canonical share-class form).
    pub fn group_named(&self, kind: GroupKind, raw: &str) -> Option<&Group> {
        let map = &self.by_name[kind_slot(kind)];
        if let Some(&id) = map.get(raw) {
            return Some(self.group(id));
        }
        let lower = raw.to_ascii_lowercase();
        let same_kind: Vec<GroupId> = self
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
        self.groups.iter().filter(move |g| g.kind == kind)
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

    /// Resolves a universe key (design.md §5), with the same rules as [`crate::universes::resolve`]: unknown and
    /// ambiguous parts are errors naming them.
    pub fn resolve(&self, key: &UniverseKey) -> Result<Resolved<'_>, ResolveError> {
        let mut picked: Vec<Resolved<'_>> = Vec::with_capacity(key.parts().len());
        for part in key.parts() {
            match part {
                KeyPart::Cache(kind, cache_key) => {
                    let rows = self
                        .by_cache_key
                        .get(&(*kind, cache_key.to_ascii_lowercase().into_boxed_str()))
                        .ok_or_else(|| ResolveError::Unknown(part.to_string()))?;
                    for &r in rows {
                        let row = &self.cache_universes[r as usize];
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
                    let ids = self.by_lower_name.get(name.to_ascii_lowercase().as_str()).map_or(&[][..], Vec::as_slice);
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
    pub fn tickers<'a>(&'a self, r: &'a Resolved<'a>) -> Vec<&'a str> {
        match r {
            Resolved::Group(g) => g.sorted.iter().map(|id| &*self.symbol(*id).ticker).collect(),
            Resolved::Cache(c) => c.symbols.iter().flatten().map(|t| &**t).collect(),
            Resolved::Union(_, all) => all.clone(),
        }
    }

    /// Counts for stats: symbols, memberships, groups per kind, cache universes.
    pub fn counts(&self) -> SnapshotCounts {
        let mut per_kind = [0usize; 6];
        for g in &self.groups {
            per_kind[kind_slot(g.kind)] += 1;
        }
        SnapshotCounts {
            symbols: self.symbols.len(),
            memberships: self.groups.iter().map(|g| g.members.len()).sum(),
            universes: per_kind[kind_slot(GroupKind::Universe)],
            etfs: per_kind[kind_slot(GroupKind::Etf)],
            sectors: per_kind[kind_slot(GroupKind::Sector)],
            themes: per_kind[kind_slot(GroupKind::Theme)],
            other_groups: per_kind[kind_slot(GroupKind::Segment)] + per_kind[kind_slot(GroupKind::Custom)],
            cache_universes: self.cache_universes.len(),
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
