//! `/api/universes`: every group and `cache_entries` universe with its size, any universe key or expression (the
//! design.md §5 grammar and the algebra) resolved to its symbols, now or as of a day, and a group's membership
//! changes over a range — all from the in-memory snapshot, which holds the membership history.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, Problem, conditional, to_bytes};
use crate::cache::{Resolved, Snapshot};
use crate::domain::{GroupKind, UniverseKey};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(symbols)).routes(routes!(history))
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

/// `?as_of=YYYY-MM-DD`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct AsOfQuery {
    /// Members at the end of this day, from the groups' membership history.
    #[param(value_type = Option<String>)]
    as_of: Option<chrono::NaiveDate>,
}

/// Whether a key uses the algebra (anything beyond a `:`-joined union of parts).
fn is_expression(raw: &str) -> bool {
    raw.contains(['|', '&', '-', '(', ')', '@'])
}

/// Resolves a universe key or expression to its sorted, distinct symbols. A key is a group name,
/// `stock_universe:KEY` / `etf_universe:KEY`, or a `:`-joined union of them; an expression adds `a|b` (union),
/// `a&b` (intersection), `a-b` (difference), parentheses and `NAME@YYYY-MM-DD` (a group as of a day, from its
/// history; `&` binds tighter, the others left to right). `?as_of=` reads the whole expression on that day. An
/// unknown part is a 404 naming it, never an empty list; a day before a group's history starts (or a cache row
/// asked for a day: those have no history) is a 422 saying where history starts.
#[utoipa::path(get, path = "/api/universes/{key}/symbols", tag = "universes",
    params(("key" = String, Path, description = "Universe key or expression, e.g. nasdaq100, SPY:dow30, \
        stock_universe:index_dow30, sp500&information_technology, (nasdaq100|dow30)-SPY, sp500@2008-09-12 - sp500"),
        AsOfQuery),
    responses((status = 200, body = UniverseSymbols), (status = 304, description = "Not modified"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn symbols(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<AsOfQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(raw) = path?;
    let Query(q) = query?;
    if q.as_of.is_some() || is_expression(&raw) {
        let mut expr = crate::domain::UniverseExpr::parse(&raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if let Some(day) = q.as_of {
            expr = crate::domain::UniverseExpr::At(Box::new(expr), day);
        }
        let text = match q.as_of {
            Some(day) => format!("{raw}@{day}"),
            None => raw.clone(),
        };
        let snap = state.cache.snapshot();
        if let Some(body) = one_group_as_of(&snap, &expr, &text)? {
            state.cache.record_lookup(true);
            return Ok(conditional(&headers, &snap, || body));
        }
        let resolved = snap.resolve_expr(&expr);
        state.cache.record_lookup(resolved.is_ok());
        let symbols = resolved?;
        return Ok(conditional(&headers, &snap, || {
            to_bytes(&UniverseSymbols { key: &text, count: symbols.len(), symbols, version: snap.version })
        }));
    }
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

/// One group as of a day (`sp500?as_of=…`, `sp500@…`), the common question: its members are memoised per span of
/// its history (every day between two changes has the same members), so a day asked before answers at once.
/// `None` for any other expression.
fn one_group_as_of(
    snap: &Snapshot,
    expr: &crate::domain::UniverseExpr,
    text: &str,
) -> Result<Option<bytes::Bytes>, ApiError> {
    use crate::domain::UniverseExpr;
    let (mut e, mut day) = (expr, None);
    while let UniverseExpr::At(inner, d) = e {
        // The innermost date wins, as the expression's evaluation has it.
        (e, day) = (inner.as_ref(), Some(*d));
    }
    let (UniverseExpr::Part(part), Some(day)) = (e, day) else { return Ok(None) };
    let key = UniverseKey::parse(&part.to_string()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Resolved::Group(g) = snap.resolve(&key)? else { return Ok(None) };
    let span = snap.as_of_span(g, day)?;
    let memo = &snap.memo(g).as_of;
    let cached = memo.lock().expect("memo lock").get(&span).cloned();
    let (array, count) = match cached {
        Some(hit) => hit,
        None => {
            let members = snap.members_on(g, day)?;
            let array = bytes::Bytes::from(serde_json::to_vec(&members).expect("strings serialise"));
            let mut map = memo.lock().expect("memo lock");
            if map.len() >= crate::cache::AS_OF_MEMO_SPANS {
                map.clear();
            }
            map.insert(span, (array.clone(), members.len()));
            (array, members.len())
        }
    };
    // The body `UniverseSymbols` serialises to, around the memoised array.
    let mut out = Vec::with_capacity(array.len() + text.len() + 64);
    out.extend_from_slice(b"{\"key\":");
    serde_json::to_writer(&mut out, text).expect("a string serialises");
    out.extend_from_slice(b",\"symbols\":");
    out.extend_from_slice(&array);
    out.extend_from_slice(format!(",\"count\":{count},\"version\":{}}}", snap.version).as_bytes());
    Ok(Some(bytes::Bytes::from(out)))
}

/// `?from=&to=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct RangeQuery {
    /// First day (default: where the history starts).
    #[param(value_type = Option<String>)]
    from: Option<chrono::NaiveDate>,
    /// Last day (default: today).
    #[param(value_type = Option<String>)]
    to: Option<chrono::NaiveDate>,
}

/// A group's membership changes in a range.
#[derive(Serialize, ToSchema)]
pub(super) struct UniverseHistory {
    /// The group, as stored.
    key: String,
    /// `UNIVERSE`, `ETF`, …
    #[serde(rename = "type")]
    kind: &'static str,
    /// Where its history starts.
    history_start: chrono::NaiveDate,
    /// The range.
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    /// Additions and removals, in date order.
    changes: Vec<crate::cache::HistoryChange>,
    /// Their number.
    count: usize,
    /// Snapshot data version.
    version: i64,
}

/// The additions and removals of a group's membership between two days, from its history (the snapshot holds it).
/// A cache row has no history (422); a range starting before the group's history is a 422 saying where it starts.
#[utoipa::path(get, path = "/api/universes/{key}/history", tag = "universes",
    params(("key" = String, Path, description = "A group name (sp500, SPY, information_technology)"), RangeQuery),
    responses((status = 200, body = UniverseHistory),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn history(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<UniverseHistory>, ApiError> {
    let Path(raw) = path?;
    let Query(q) = query?;
    let key = UniverseKey::parse(&raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let snap = state.cache.snapshot();
    let g = match snap.resolve(&key)? {
        Resolved::Group(g) => g,
        _ => return Err(crate::universes::ResolveError::CacheHasNoHistory(raw).into()),
    };
    let start = snap.history().of(g.kind, &g.name).map(|h| h.start.date_naive());
    let from = q.from.or(start).unwrap_or_else(|| chrono::Utc::now().date_naive());
    let to = q.to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    if to < from {
        return Err(ApiError::BadRequest(format!("to ({to}) is before from ({from})")));
    }
    let changes = snap.history_changes(g, from, to)?;
    Ok(Json(UniverseHistory {
        key: g.name.to_string(),
        kind: g.kind.as_str(),
        history_start: start.unwrap_or(from),
        from,
        to,
        count: changes.len(),
        changes,
        version: snap.version,
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
