//! Universe keys: resolving `nasdaq100:SPY:etf_universe:etf_core` to a sorted, de-duplicated symbol list.
//!
//! Grammar (TickStock's, design.md §5): parts joined by `:` form a union. A part is a group name of any kind
//! (`nasdaq100`, `SPY`, `information_technology`, `crypto_miners`), matched case-insensitively where that is
//! unambiguous; `stock_universe` or `etf_universe` followed by a key names a `cache_entries` row. An unknown part
//! is an error naming it — never a silent empty list, which is the bug TickStock's resolver has.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::domain::{Environment, GroupKind};
use crate::store::{Store, StoreError};

/// Why a key does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No part at all.
    #[error("empty universe key")]
    Empty,
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
    /// `stock_universe` or `etf_universe` with no key after it.
    #[error("{0} must be followed by a key, as in {0}:KEY")]
    MissingCacheKey(String),
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

/// Symbols in a `cache_entries` value: a JSON array of tickers, `{symbols:[…]}`, `{stocks:[{ticker}]}` or
/// `{etfs:[{symbol}|"T"]}` — the shapes TickStock readers accept.
pub fn cache_value_symbols(v: &Value) -> Option<Vec<String>> {
    let item = |x: &Value| -> Option<String> {
        match x {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("ticker").or_else(|| o.get("symbol")).and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    };
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) => ["symbols", "stocks", "etfs"].iter().find_map(|k| o.get(*k)?.as_array())?,
        _ => return None,
    };
    list.iter().map(item).collect()
}

/// Resolves a universe key.
pub async fn resolve(store: &Store, env: Environment, key: &str) -> Result<Vec<String>, ResolveError> {
    let parts: Vec<&str> = key.split(':').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err(ResolveError::Empty);
    }
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        let lower = part.to_ascii_lowercase();
        if lower == "stock_universe" || lower == "etf_universe" {
            let cache_key = *parts.get(i + 1).ok_or_else(|| ResolveError::MissingCacheKey(lower.clone()))?;
            let rows = store.cache_values(env, &lower, cache_key).await?;
            if rows.is_empty() {
                return Err(ResolveError::Unknown(format!("{lower}:{cache_key}")));
            }
            for (_, v) in rows {
                let syms = cache_value_symbols(&v)
                    .ok_or_else(|| ResolveError::BadCacheValue { kind: lower.clone(), key: cache_key.to_string() })?;
                out.extend(syms);
            }
            i += 2;
            continue;
        }
        let found = store.find_groups_named(env, part).await?;
        let exact: Vec<&(GroupKind, String)> = found.iter().filter(|(_, n)| n == part).collect();
        let pick: Vec<&(GroupKind, String)> = if exact.is_empty() { found.iter().collect() } else { exact };
        match pick.as_slice() {
            [] => return Err(ResolveError::Unknown(part.to_string())),
            [(kind, name)] => out.extend(store.group_symbols(env, *kind, name).await?),
            many => {
                return Err(ResolveError::Ambiguous {
                    part: part.to_string(),
                    candidates: many.iter().map(|(k, n)| format!("{k} {n}")).collect(),
                });
            }
        }
        i += 1;
    }
    Ok(out.into_iter().collect())
}
