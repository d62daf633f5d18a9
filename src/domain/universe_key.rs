//! Universe keys (design.md §5): `nasdaq100:SPY:etf_universe:etf_core`, parsed once into its parts.
//!
//! Parts joined by `:` form a union. A part is a group name of any kind, or `stock_universe` / `etf_universe`
//! followed by the key of a `cache_entries` row. Parsing checks the grammar only; whether each part names
//! something is the resolver's business (the store's or the relationship cache's).

use std::fmt;

/// The two `cache_entries` types that hold universes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CacheKind {
    /// `stock_universe`
    Stock,
    /// `etf_universe`
    Etf,
}

impl CacheKind {
    /// The stored `cache_entries.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Stock => "stock_universe",
            CacheKind::Etf => "etf_universe",
        }
    }

    /// Parses a `cache_entries.type` (case-insensitive).
    pub fn parse(s: &str) -> Option<CacheKind> {
        if s.eq_ignore_ascii_case("stock_universe") {
            Some(CacheKind::Stock)
        } else if s.eq_ignore_ascii_case("etf_universe") {
            Some(CacheKind::Etf)
        } else {
            None
        }
    }
}

/// One part of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// A group name, as written (matched case-insensitively where unambiguous).
    Group(String),
    /// A `cache_entries` universe row: its type and key, as written.
    Cache(CacheKind, String),
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Group(name) => f.write_str(name),
            KeyPart::Cache(kind, key) => write!(f, "{}:{key}", kind.as_str()),
        }
    }
}

/// Why a key does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UniverseKeyError {
    /// No part at all.
    #[error("empty universe key")]
    Empty,
    /// `stock_universe` or `etf_universe` with no key after it.
    #[error("{0} must be followed by a key, as in {0}:KEY")]
    MissingCacheKey(&'static str),
}

/// A parsed universe key: its parts in order, blanks dropped and each part trimmed (as TickStock does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniverseKey {
    parts: Vec<KeyPart>,
}

impl UniverseKey {
    /// Parses `a:b:stock_universe:c`.
    pub fn parse(raw: &str) -> Result<UniverseKey, UniverseKeyError> {
        let mut words = raw.split(':').map(str::trim).filter(|p| !p.is_empty());
        let mut parts = Vec::new();
        while let Some(word) = words.next() {
            match CacheKind::parse(word) {
                Some(kind) => {
                    let key = words.next().ok_or(UniverseKeyError::MissingCacheKey(kind.as_str()))?;
                    parts.push(KeyPart::Cache(kind, key.to_string()));
                }
                None => parts.push(KeyPart::Group(word.to_string())),
            }
        }
        if parts.is_empty() {
            return Err(UniverseKeyError::Empty);
        }
        Ok(UniverseKey { parts })
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[KeyPart] {
        &self.parts
    }
}

impl fmt::Display for UniverseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Picks the group a part names among the groups whose name matches it case-insensitively: the exact-case
/// matches if there are any, else all of them. One left is the answer; none is unknown; several is ambiguous.
pub fn pick_named<'a, T>(part: &str, candidates: &'a [T], name: impl Fn(&'a T) -> &'a str) -> Picked<'a, T> {
    let exact: Vec<&T> = candidates.iter().filter(|c| name(c) == part).collect();
    let pick: Vec<&T> = if exact.is_empty() { candidates.iter().collect() } else { exact };
    match pick.as_slice() {
        [] => Picked::None,
        [one] => Picked::One(one),
        _ => Picked::Many(pick),
    }
}

/// What [`pick_named`] found.
#[derive(Debug)]
pub enum Picked<'a, T> {
    /// No group has that name.
    None,
    /// Exactly one.
    One(&'a T),
    /// Several kinds share the name in that case.
    Many(Vec<&'a T>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_cache_rows() {
        let k = UniverseKey::parse(" nasdaq100 : SPY::ETF_universe:etf_core ").unwrap();
        assert_eq!(
            k.parts(),
            &[
                KeyPart::Group("nasdaq100".into()),
                KeyPart::Group("SPY".into()),
                KeyPart::Cache(CacheKind::Etf, "etf_core".into())
            ]
        );
        assert_eq!(k.to_string(), "nasdaq100:SPY:etf_universe:etf_core");
        assert_eq!(UniverseKey::parse(" : "), Err(UniverseKeyError::Empty));
        assert_eq!(
            UniverseKey::parse("dow30:stock_universe"),
            Err(UniverseKeyError::MissingCacheKey("stock_universe"))
        );
    }

    #[test]
    fn exact_case_wins() {
        let c = ["XLK".to_string(), "xlk".to_string()];
        assert!(matches!(pick_named("xlk", &c, |s| s), Picked::One(s) if s == "xlk"));
        assert!(matches!(pick_named("Xlk", &c, |s| s), Picked::Many(v) if v.len() == 2));
        assert!(matches!(pick_named("Xlk", &c[..0], |s| s), Picked::None));
    }
}
