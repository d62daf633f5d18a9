//! `/api/universes`: every group and `cache_entries` universe with its size, and any universe key (the full
//! design.md §5 grammar) resolved to its symbols.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, Problem, conditional, to_bytes};
use crate::cache::{Resolved, Snapshot};
use crate::domain::{GroupKind, UniverseKey};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(symbols))
}

/// A universe that a key can name.
#[derive(Serialize, ToSchema)]
pub(super) struct UniverseEntry<'a> {
    /// The key that names it (`nasdaq100`, `SPY`, `stock_universe:index_dow30`).
    key: String,
    /// `group` (a `definition_groups` row) or `cache` (a `cache_entries` row).
    source: &'static str,
    /// Group type (`UNIVERSE`, `ETF`, …) or cache type (`stock_universe`, `etf_universe`).
    #[serde(rename = "type")]
    kind: &'a str,
    /// Group description, or the cache row's name.
    name: Option<&'a str>,
    /// Number of symbols.
    member_count: usize,
}

/// Every universe.
#[derive(Serialize, ToSchema)]
pub(super) struct UniverseList<'a> {
    /// Groups by type then name, then cache rows by type then key.
    universes: Vec<UniverseEntry<'a>>,
    /// Their number.
    total_count: usize,
    /// Snapshot data version.
    version: i64,
}

/// Every group (all types) and `cache_entries` universe, with member counts.
#[utoipa::path(get, path = "/api/universes", tag = "universes",
    responses((status = 200, body = UniverseList), (status = 304, description = "Not modified")))]
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let snap = state.cache.snapshot();
    conditional(&headers, &snap, || {
        let mut universes: Vec<UniverseEntry> =
            Vec::with_capacity(snap.groups().count() + snap.cache_universes().len());
        for kind in GroupKind::ALL {
            universes.extend(snap.groups_of(kind).map(|g| UniverseEntry {
                key: g.name.to_string(),
                source: "group",
                kind: kind.as_str(),
                name: g.description.as_deref(),
                member_count: g.members.len(),
            }));
        }
        universes.extend(snap.cache_universes().iter().filter(|c| c.symbols.is_some()).map(|c| UniverseEntry {
            key: format!("{}:{}", c.kind.as_str(), c.key),
            source: "cache",
            kind: c.kind.as_str(),
            name: Some(&c.name),
            member_count: c.symbols.as_ref().map_or(0, |s| s.len()),
        }));
        to_bytes(&UniverseList { total_count: universes.len(), universes, version: snap.version })
    })
}

/// The symbols a key names.
#[derive(Serialize, ToSchema)]
pub(super) struct UniverseSymbols<'a> {
    /// The key with each part as stored (`nasdaq100:SPY`).
    key: &'a str,
    /// Sorted, distinct tickers.
    symbols: Vec<&'a str>,
    /// Their number.
    count: usize,
    /// Snapshot data version.
    version: i64,
}

fn body(snap: &Snapshot, key: &str, r: &Resolved<'_>) -> bytes::Bytes {
    let symbols = snap.tickers(r);
    to_bytes(&UniverseSymbols { key, count: symbols.len(), symbols, version: snap.version })
}

/// Resolves a universe key — a group name, `stock_universe:KEY` / `etf_universe:KEY`, or a `:`-joined union of
/// them — to its sorted, distinct symbols. An unknown part is a 404 naming it, never an empty list.
#[utoipa::path(get, path = "/api/universes/{key}/symbols", tag = "universes",
    params(("key" = String, Path, description = "Universe key, e.g. nasdaq100, SPY:dow30, stock_universe:index_dow30")),
    responses((status = 200, body = UniverseSymbols), (status = 304, description = "Not modified"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn symbols(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(raw) = path?;
    let key = UniverseKey::parse(&raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let snap = state.cache.snapshot();
    let resolved = snap.resolve(&key);
    state.cache.record_lookup(resolved.is_ok());
    let resolved = resolved?;
    Ok(conditional(&headers, &snap, || match &resolved {
        Resolved::Group(g) => snap.memo(g).symbols.get_or_init(|| body(&snap, &g.name, &resolved)).clone(),
        Resolved::Cache(c) => snap
            .cache_memo(c)
            .symbols
            .get_or_init(|| body(&snap, &format!("{}:{}", c.kind.as_str(), c.key), &resolved))
            .clone(),
        Resolved::Union(canonical, _) => body(&snap, canonical, &resolved),
    }))
}

/// Serialises the one-part key response of every group and cache universe not done yet; returns how many the
/// snapshot now holds.
pub(super) fn warm(snap: &Snapshot) -> usize {
    let mut n = 0;
    for g in snap.groups() {
        snap.memo(g).symbols.get_or_init(|| body(snap, &g.name, &Resolved::Group(g)));
        n += 1;
    }
    for c in snap.cache_universes().iter().filter(|c| c.symbols.is_some()) {
        snap.cache_memo(c)
            .symbols
            .get_or_init(|| body(snap, &format!("{}:{}", c.kind.as_str(), c.key), &Resolved::Cache(c)));
        n += 1;
    }
    n
}

/// The response for a key, as `/api/universes/{key}/symbols` serves it (the benchmark's static copy).
pub(super) fn symbols_body(snap: &Snapshot, key: &str) -> Option<bytes::Bytes> {
    let key = UniverseKey::parse(key).ok()?;
    let r = snap.resolve(&key).ok()?;
    let canonical = match &r {
        Resolved::Group(g) => g.name.to_string(),
        Resolved::Cache(c) => format!("{}:{}", c.kind.as_str(), c.key),
        Resolved::Union(k, _) => k.clone(),
    };
    Some(body(snap, &canonical, &r))
}
