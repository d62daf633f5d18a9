//! Universe keys: resolving `nasdaq100:SPY:etf_universe:etf_core` to a sorted, de-duplicated symbol list.
//!
//! Grammar (TickStock's, design.md §5): parts joined by `:` form a union. A part is a group name of any kind
//! (`nasdaq100`, `SPY`, `information_technology`, `crypto_miners`), matched case-insensitively where that is
//! unambiguous; `stock_universe` or `etf_universe` followed by a key names a `cache_entries` row. An unknown part
//! is an error naming it — never a silent empty list, which is the bug TickStock's resolver has.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::domain::{Environment, GroupKind, KeyPart, Picked, UniverseExpr, UniverseKeyError, pick_named};
use crate::store::{Store, StoreError};

/// Why a key does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The key does not parse.
    #[error(transparent)]
    Key(#[from] UniverseKeyError),
    /// The expression does not parse.
    #[error(transparent)]
    Expr(#[from] crate::domain::UniverseExprError),
    /// A `cache_entries` row asked for a day: those rows have no history.
    #[error("{0} is a cache_entries universe row, which has no history: ask a group (sp500, SPY, …) for a past day")]
    CacheHasNoHistory(String),
    /// A day before a group's history begins.
    #[error("{part} has no history before {start} (asked for {day}); load its history with `universe load events`")]
    BeforeHistory {
        /// The part.
        part: String,
        /// The day asked.
        day: chrono::NaiveDate,
        /// Where its history starts (the day asked when it has none).
        start: String,
    },
    /// A point-in-time selection over an expression other than a union of groups.
    #[error(
        "{0}: a point-in-time load takes a group or a union of groups (a:b, a|b); intersections, differences \
             and @DATE have no meaning over a range of days"
    )]
    NotAUnion(String),
    /// A part names nothing.
    #[error("unknown universe key part {0:?}: no group or cache_entries universe has that name")]
    Unknown(String),
    /// A part names groups of several kinds.
    #[error("ambiguous universe key part {part:?}: it names {}; use the exact case of one of them", .candidates.join(", "))]
    Ambiguous {
        /// The part.
        part: String,
        /// `TYPE name` of each match.
        candidates: Vec<String>,
    },
    /// A cache row whose value is not a list of symbols.
    #[error("cache_entries row {kind}:{key} does not hold a symbol list")]
    BadCacheValue {
        /// Row type.
        kind: String,
        /// Row key.
        key: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ResolveError {
    /// The error for a group part that matched several groups.
    pub fn ambiguous<'a>(part: &str, many: impl IntoIterator<Item = (GroupKind, &'a str)>) -> ResolveError {
        ResolveError::Ambiguous {
            part: part.to_string(),
            candidates: many.into_iter().map(|(k, n)| format!("{k} {n}")).collect(),
        }
    }
}

/// The symbols of a `cache_entries` universe value, in any shape TickStock readers accept: a JSON array of
/// tickers, `{symbols:[…]}`, `{count, stocks:[{ticker, …}]}` or `{etfs:[{symbol}|"T"]}`. Deserialised as a stream
/// that keeps only the tickers and `count` (detailed rows carry thousands of entries we do not need to build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSymbols {
    /// The value's own `count`, when it has one.
    pub count: Option<u64>,
    /// The tickers, in order.
    pub symbols: Vec<String>,
}

/// One entry of a list: a ticker string, or an object with `ticker` or `symbol`.
struct Item(String);

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a ticker or an object with a ticker")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Item, E> {
                Ok(Item(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut found = None;
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if (k == "ticker" || (k == "symbol" && found.is_none())) && found.is_none() {
                        found = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                found.map(Item).ok_or_else(|| serde::de::Error::missing_field("ticker"))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for CacheSymbols {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CacheSymbols;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of tickers, or an object with symbols, stocks, etfs or value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<CacheSymbols, A::Error> {
                let mut symbols = Vec::new();
                while let Some(Item(t)) = seq.next_element()? {
                    symbols.push(t);
                }
                Ok(CacheSymbols { count: None, symbols })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CacheSymbols, A::Error> {
                let (mut count, mut symbols) = (None, None);
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match k.as_ref() {
                        "count" => count = map.next_value::<Option<u64>>()?,
                        "symbols" | "stocks" | "etfs" | "value" if symbols.is_none() => {
                            let items: Vec<Item> = map.next_value()?;
                            symbols = Some(items.into_iter().map(|i| i.0).collect());
                        }
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let symbols = symbols.ok_or_else(|| serde::de::Error::missing_field("symbols"))?;
                Ok(CacheSymbols { count, symbols })
            }
        }
        d.deserialize_any(V)
    }
}

/// Symbols in a parsed `cache_entries` value (see [`CacheSymbols`]); `None` when it holds no symbol list.
pub fn cache_value_symbols(v: &Value) -> Option<Vec<String>> {
    <CacheSymbols as serde::Deserialize>::deserialize(v).ok().map(|c| c.symbols)
}

/// Symbols and count of a `cache_entries` value given as JSON text; `None` when it is not a symbol list.
pub fn cache_text_symbols(text: &str) -> Option<CacheSymbols> {
    serde_json::from_str(text).ok()
}

/// Resolves a universe expression against the store (the CLI's and the jobs' path; the server resolves plain keys
/// against its snapshot): `a:b`, `a|b`, `a&b`, `a-b`, parentheses and `@DATE` (see [`UniverseExpr`]). A part read
/// on a day answers from the group's membership history.
pub async fn resolve(store: &Store, env: Environment, key: &str) -> Result<Vec<String>, ResolveError> {
    resolve_on(store, env, key, None).await
}

/// [`resolve`], the whole expression read as of a day when `day` is given.
pub async fn resolve_on(
    store: &Store,
    env: Environment,
    key: &str,
    day: Option<chrono::NaiveDate>,
) -> Result<Vec<String>, ResolveError> {
    let mut expr = UniverseExpr::parse(key)?;
    if let Some(day) = day {
        expr = UniverseExpr::At(Box::new(expr), day);
    }
    let mut sets: std::collections::HashMap<(String, Option<chrono::NaiveDate>), BTreeSet<String>> =
        std::collections::HashMap::new();
    for (part, day) in expr.leaves() {
        let members = resolve_part(store, env, &part, day).await?;
        sets.insert((part.to_string(), day), members);
    }
    let out = expr.eval(&|p, d| sets.get(&(p.to_string(), d)).cloned().unwrap_or_default());
    Ok(out.into_iter().collect())
}

/// One part's members, today or on a day (the end of that day, from the membership history).
async fn resolve_part(
    store: &Store,
    env: Environment,
    part: &KeyPart,
    day: Option<chrono::NaiveDate>,
) -> Result<BTreeSet<String>, ResolveError> {
    match part {
        KeyPart::Cache(kind, cache_key) => {
            if day.is_some() {
                return Err(ResolveError::CacheHasNoHistory(part.to_string()));
            }
            let rows = store.cache_values(env, kind.as_str(), cache_key).await?;
            if rows.is_empty() {
                return Err(ResolveError::Unknown(part.to_string()));
            }
            let mut out = BTreeSet::new();
            for (_, v) in rows {
                let syms = cache_value_symbols(&v).ok_or_else(|| ResolveError::BadCacheValue {
                    kind: kind.as_str().to_string(),
                    key: cache_key.clone(),
                })?;
                out.extend(syms);
            }
            Ok(out)
        }
        KeyPart::Group(name) => {
            let found = store.find_groups_named(env, name).await?;
            let (kind, exact) = match pick_named(name, &found, |(_, n)| n) {
                Picked::None => return Err(ResolveError::Unknown(name.clone())),
                Picked::One((kind, exact)) => (*kind, exact),
                Picked::Many(many) => {
                    return Err(ResolveError::ambiguous(name, many.iter().map(|(k, n)| (*k, n.as_str()))));
                }
            };
            match day {
                None => Ok(store.group_symbols(env, kind, exact).await?.into_iter().collect()),
                Some(day) => group_members_on(store, env, kind, exact, day).await,
            }
        }
    }
}

/// The error for a day before a group's history (it has none, or it starts later), if so.
fn before_history(
    kind: GroupKind,
    name: &str,
    day: chrono::NaiveDate,
    start: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), ResolveError> {
    match start {
        Some(s) if s.date_naive() <= day => Ok(()),
        start => Err(ResolveError::BeforeHistory {
            part: format!("{kind} {name}"),
            day,
            start: start.map_or_else(|| "its first load (it has none)".to_string(), |s| s.date_naive().to_string()),
        }),
    }
}

/// A group's members at the end of a day, from its membership history; a day before the history starts is an
/// error saying where it starts (never a silently empty list).
pub async fn group_members_on(
    store: &Store,
    env: Environment,
    kind: GroupKind,
    name: &str,
    day: chrono::NaiveDate,
) -> Result<BTreeSet<String>, ResolveError> {
    before_history(kind, name, day, store.history_start(env, kind, name).await?)?;
    let at = day.and_hms_opt(23, 59, 59).expect("a valid time").and_utc();
    Ok(store.group_symbols_as_of(env, kind, name, at).await?.into_iter().collect())
}

/// A group's additions and removals between two days, from its membership history, with where it starts.
pub async fn group_changes(
    store: &Store,
    env: Environment,
    kind: GroupKind,
    name: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<(chrono::NaiveDate, Vec<crate::cache::HistoryChange>), ResolveError> {
    let rows = crate::store::Reader::Pool(store).history_of(env, kind, name).await?;
    let start = rows.iter().map(|r| r.valid_from).min();
    before_history(kind, name, from, start)?;
    let start = start.expect("checked above");
    let intervals: Vec<crate::cache::HistoryInterval> = rows
        .into_iter()
        .map(|r| crate::cache::HistoryInterval {
            symbol: r.symbol.into_boxed_str(),
            weight: None,
            from: r.valid_from,
            to: r.valid_to,
        })
        .collect();
    Ok((start.date_naive(), crate::cache::changes_in(&intervals, start, from, to)))
}

/// Every symbol that was a member of the key's groups at any time between two days, with the days it was
/// (its windows, both ends included, clipped to the range; `warmup_days` more before each window starts, for
/// indicators that need history). For survivorship-free bar loads: the key is a group or a `:` / `|` union of
/// groups, each with history back to `from`.
pub async fn members_between(
    store: &Store,
    env: Environment,
    key: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    warmup_days: i64,
) -> Result<std::collections::HashMap<crate::domain::Ticker, Vec<(chrono::NaiveDate, chrono::NaiveDate)>>, ResolveError>
{
    let expr = crate::domain::UniverseExpr::parse(key)?;
    fn union_only(e: &crate::domain::UniverseExpr) -> bool {
        use crate::domain::UniverseExpr::*;
        match e {
            Part(_) => true,
            Union(a, b) => union_only(a) && union_only(b),
            Inter(..) | Diff(..) | At(..) => false,
        }
    }
    if !union_only(&expr) {
        return Err(ResolveError::NotAUnion(key.to_string()));
    }
    let mut out: std::collections::HashMap<crate::domain::Ticker, Vec<(chrono::NaiveDate, chrono::NaiveDate)>> =
        std::collections::HashMap::new();
    for (part, _) in expr.leaves() {
        let part = &part;
        let KeyPart::Group(name) = part else { return Err(ResolveError::CacheHasNoHistory(part.to_string())) };
        let found = store.find_groups_named(env, name).await?;
        let (kind, exact) = match pick_named(name, &found, |(_, n)| n) {
            Picked::None => return Err(ResolveError::Unknown(name.clone())),
            Picked::One((kind, exact)) => (*kind, exact.clone()),
            Picked::Many(many) => {
                return Err(ResolveError::ambiguous(name, many.iter().map(|(k, n)| (*k, n.as_str()))));
            }
        };
        let rows = crate::store::Reader::Pool(store).history_of(env, kind, &exact).await?;
        before_history(kind, &exact, from, rows.iter().map(|r| r.valid_from).min())?;
        for r in rows {
            // An interval ending at midnight of day D was last a member on D - 1.
            let first = r.valid_from.date_naive().max(from);
            let last = r.valid_to.map_or(to, |t| (t - chrono::Duration::seconds(1)).date_naive()).min(to);
            if first > last {
                continue;
            }
            if let Ok(t) = crate::domain::Ticker::parse(&r.symbol) {
                out.entry(t).or_default().push((first - chrono::Duration::days(warmup_days.max(0)), last));
            }
        }
    }
    for windows in out.values_mut() {
        windows.sort();
        // Overlapping or touching windows (two groups, a warm-up reaching back) become one.
        let mut merged: Vec<(chrono::NaiveDate, chrono::NaiveDate)> = Vec::new();
        for w in windows.drain(..) {
            match merged.last_mut() {
                Some(m) if w.0 <= m.1 + chrono::Duration::days(1) => m.1 = m.1.max(w.1),
                _ => merged.push(w),
            }
        }
        *windows = merged;
    }
    Ok(out)
}
