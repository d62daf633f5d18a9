//! `/api/relationships/...`: ETF holdings, stock info, sector stocks, theme members and cache stats, each a hash
//! probe into the current snapshot. Unpaginated answers are serialised once per snapshot and reused.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, Problem, conditional, to_bytes};
use crate::cache::{CacheStats, Group, Snapshot, Symbol};
use crate::domain::GroupKind;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(etf_holdings))
        .routes(routes!(stock_info))
        .routes(routes!(sector_stocks))
        .routes(routes!(theme_members))
        .routes(routes!(stats))
}

/// Pagination of a member list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Page {
    /// At most this many rows (1 or more; all when absent).
    limit: Option<usize>,
    /// Skip this many rows first (default 0).
    offset: Option<usize>,
    /// The members at the end of this day (YYYY-MM-DD), from the group's membership history.
    #[param(value_type = Option<String>)]
    as_of: Option<chrono::NaiveDate>,
}

impl Page {
    fn is_default(&self) -> bool {
        self.limit.is_none() && self.offset.unwrap_or(0) == 0 && self.as_of.is_none()
    }

    fn check(query: Result<Query<Page>, QueryRejection>) -> Result<Page, ApiError> {
        let Query(page) = query?;
        if page.limit == Some(0) {
            return Err(ApiError::BadRequest("limit must be at least 1".into()));
        }
        Ok(page)
    }

    fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.unwrap_or(0).min(items.len());
        let end = self.limit.map_or(items.len(), |l| start.saturating_add(l).min(items.len()));
        &items[start..end]
    }
}

/// A response body: memoised in `slot` for the default page, built each time otherwise.
fn paged(
    headers: &HeaderMap,
    snap: &Snapshot,
    page: &Page,
    slot: &OnceLock<Bytes>,
    build: impl Fn(&Page) -> Bytes,
) -> Response {
    conditional(
        headers,
        snap,
        || if page.is_default() { slot.get_or_init(|| build(page)).clone() } else { build(page) },
    )
}

/// Looks a group up, counting the lookup; 404 names what was asked for.
fn find<'a>(
    state: &AppState,
    snap: &'a Snapshot,
    kind: GroupKind,
    key: &str,
    what: &str,
) -> Result<&'a Group, ApiError> {
    let found = snap.group_named(kind, key);
    state.cache.record_lookup(found.is_some());
    found.ok_or_else(|| ApiError::NotFound(format!("unknown {what} {key:?}")))
}

fn sector_key<'a>(snap: &'a Snapshot, s: &'a Symbol) -> Option<&'a str> {
    snap.sector_of(s).map(|g| &*g.name).or(s.sector_text.as_deref())
}

/// One ETF holding.
#[derive(Serialize, ToSchema)]
pub(super) struct Holding<'a> {
    /// The held ticker.
    symbol: &'a str,
    /// Company name.
    name: Option<&'a str>,
    /// Weight in the fund as a fraction (0.0652 = 6.52 %).
    weight: Option<f64>,
    /// Sector key.
    sector: Option<&'a str>,
}

/// An ETF's holdings, heaviest first.
#[derive(Serialize, ToSchema)]
pub(super) struct Holdings<'a> {
    /// The ETF as stored.
    etf: &'a str,
    /// Its description.
    name: Option<&'a str>,
    /// Snapshot data version.
    version: i64,
    /// Holdings in all.
    total: usize,
    /// First row returned.
    offset: usize,
    /// Rows returned.
    count: usize,
    /// The rows.
    holdings: Vec<Holding<'a>>,
}

/// An ETF's holdings with weights and sectors, heaviest first.
#[utoipa::path(get, path = "/api/relationships/etf/{symbol}/holdings", tag = "relationships",
    params(("symbol" = String, Path, description = "ETF ticker (case-insensitive)"), Page),
    responses((status = 200, body = Holdings), (status = 304, description = "Not modified"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn etf_holdings(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Page>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(symbol) = path?;
    let page = Page::check(query)?;
    let snap = state.cache.snapshot();
    let etf = find(&state, &snap, GroupKind::Etf, &symbol, "ETF")?;
    if let Some(day) = page.as_of {
        let mut rows: Vec<(&str, Option<f64>)> =
            snap.intervals_on(etf, day)?.into_iter().map(|i| (&*i.symbol, i.weight)).collect();
        rows.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal).then(a.0.cmp(b.0)));
        let shown = page.slice(&rows);
        let body = to_bytes(&Holdings {
            etf: &etf.name,
            name: etf.description.as_deref(),
            version: snap.version,
            total: rows.len(),
            offset: page.offset.unwrap_or(0),
            count: shown.len(),
            holdings: shown
                .iter()
                .map(|(t, w)| {
                    let s = snap.symbol_id(t).map(|id| snap.symbol(id));
                    Holding {
                        symbol: t,
                        name: s.and_then(|s| s.name.as_deref()),
                        weight: *w,
                        sector: s.and_then(|s| sector_key(&snap, s)),
                    }
                })
                .collect(),
        });
        return Ok(conditional(&headers, &snap, || body.clone()));
    }
    Ok(paged(&headers, &snap, &page, &snap.memo(etf).members, |page| holdings_body(&snap, etf, page)))
}

/// The holdings response of an ETF.
pub(super) fn holdings_body(snap: &Snapshot, etf: &Group, page: &Page) -> Bytes {
    let rows = page.slice(&etf.members);
    to_bytes(&Holdings {
        etf: &etf.name,
        name: etf.description.as_deref(),
        version: snap.version,
        total: etf.members.len(),
        offset: page.offset.unwrap_or(0),
        count: rows.len(),
        holdings: rows
            .iter()
            .map(|m| {
                let s = snap.symbol(m.symbol);
                Holding {
                    symbol: &s.ticker,
                    name: s.name.as_deref(),
                    weight: m.weight.map(|w| w.fraction()),
                    sector: sector_key(snap, s),
                }
            })
            .collect(),
    })
}

/// A group a stock belongs to.
#[derive(Serialize, ToSchema)]
pub(super) struct Membership<'a> {
    /// Group name (the ETF ticker, theme key, universe key).
    key: &'a str,
    /// Its description.
    name: Option<&'a str>,
    /// The stock's weight in it (ETFs).
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<f64>,
}

/// Everything known about a stock.
#[derive(Serialize, ToSchema)]
pub(super) struct StockInfo<'a> {
    /// Canonical ticker.
    symbol: &'a str,
    /// Company name.
    name: Option<&'a str>,
    /// `symbols.type`.
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    /// Primary exchange.
    exchange: Option<&'a str>,
    /// Market cap in dollars.
    market_cap: Option<i64>,
    /// Sector key (`unknown` when unclassified).
    sector: &'a str,
    /// Sector name.
    sector_name: Option<&'a str>,
    /// Industry (`Unknown` when unclassified).
    industry: &'a str,
    /// ETFs holding it, heaviest weight first.
    etfs: Vec<Membership<'a>>,
    /// Themes it belongs to.
    themes: Vec<Membership<'a>>,
    /// Index universes.
    universes: Vec<Membership<'a>>,
    /// Every ticker of this security with the days it held it (FB until 2022-06-09, then META), when recorded
    /// (`universe symbols events`). Asking by an old ticker answers for the security under its current one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<&'a crate::store::Alias>,
    /// Snapshot data version.
    version: i64,
}

fn memberships<'a>(snap: &'a Snapshot, s: &'a Symbol, kind: GroupKind) -> Vec<Membership<'a>> {
    snap.memberships_of(s, kind)
        .map(|(g, w)| Membership { key: &g.name, name: g.description.as_deref(), weight: w.map(|w| w.fraction()) })
        .collect()
}

/// `?as_of=YYYY-MM-DD`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AsOf {
    /// The groups the stock was in at the end of this day, among those whose membership history reaches back
    /// that far.
    #[param(value_type = Option<String>)]
    as_of: Option<chrono::NaiveDate>,
}

/// A stock's name, type, sector, industry, ETFs (with weights), themes and universes — now, or as of a day.
#[utoipa::path(get, path = "/api/relationships/stock/{symbol}/info", tag = "relationships",
    params(("symbol" = String, Path, description = "Ticker (case-insensitive; BRK-B and BRK.B are the same)"), AsOf),
    responses((status = 200, body = StockInfo), (status = 304, description = "Not modified"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn stock_info(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<AsOf>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(symbol) = path?;
    let Query(q) = query?;
    let snap = state.cache.snapshot();
    // An old ticker of a security (FB) answers for the security under its current one (META).
    let current =
        |t: &str| snap.aliases_of(t).into_iter().find(|a| a.valid_to.is_none()).and_then(|a| snap.symbol_id(&a.symbol));
    let id = snap.symbol_id(&symbol).or_else(|| current(&symbol));
    // A ticker of the past with no row now (LEH): with a day, its groups then, from the history.
    let Some(id) = id else {
        let canonical = crate::domain::Ticker::parse(&symbol).map(|t| t.to_string()).unwrap_or(symbol.clone());
        let past = q.as_of.map(|day| snap.groups_of_symbol_on(&canonical, day)).unwrap_or_default();
        state.cache.record_lookup(!past.is_empty());
        if past.is_empty() {
            return Err(ApiError::NotFound(format!("unknown symbol {symbol:?}")));
        }
        let of_kind = |kind: GroupKind| -> Vec<Membership<'_>> {
            past.iter()
                .filter(|(g, _)| g.kind == kind)
                .map(|(g, w)| Membership { key: &g.name, name: g.description.as_deref(), weight: *w })
                .collect()
        };
        let body = to_bytes(&StockInfo {
            symbol: &canonical,
            name: None,
            kind: None,
            exchange: None,
            market_cap: None,
            sector: "unknown",
            sector_name: None,
            industry: "Unknown",
            etfs: of_kind(GroupKind::Etf),
            themes: of_kind(GroupKind::Theme),
            universes: of_kind(GroupKind::Universe),
            aliases: Vec::new(),
            version: snap.version,
        });
        return Ok(conditional(&headers, &snap, || body.clone()));
    };
    state.cache.record_lookup(true);
    let s = snap.symbol(id);
    let aliases = snap.aliases_now(&s.ticker);
    // The history knows the security by the ticker it had that day (FB before 2022-06-11).
    let ticker_on = |day: chrono::NaiveDate| -> &str {
        aliases
            .iter()
            .find(|a| a.valid_from.is_none_or(|f| f <= day) && a.valid_to.is_none_or(|t| t > day))
            .map_or(&*s.ticker, |a| a.symbol.as_str())
    };
    let dated = q.as_of.map(|day| snap.groups_of_symbol_on(ticker_on(day), day));
    Ok(conditional(&headers, &snap, || {
        let sector = snap.sector_of(s);
        let of_kind = |kind: GroupKind| -> Vec<Membership<'_>> {
            match &dated {
                None => memberships(&snap, s, kind),
                Some(groups) => groups
                    .iter()
                    .filter(|(g, _)| g.kind == kind)
                    .map(|(g, w)| Membership { key: &g.name, name: g.description.as_deref(), weight: *w })
                    .collect(),
            }
        };
        let mut etfs = of_kind(GroupKind::Etf);
        etfs.sort_by(|a, b| {
            b.weight.partial_cmp(&a.weight).unwrap_or(std::cmp::Ordering::Equal).then(a.key.cmp(b.key))
        });
        to_bytes(&StockInfo {
            symbol: &s.ticker,
            name: s.name.as_deref(),
            kind: s.kind.as_deref(),
            exchange: s.exchange.as_deref(),
            market_cap: s.market_cap,
            sector: sector_key(&snap, s).unwrap_or("unknown"),
            sector_name: sector.and_then(|g| g.description.as_deref()),
            industry: s.industry.as_deref().unwrap_or("Unknown"),
            etfs,
            themes: of_kind(GroupKind::Theme),
            universes: of_kind(GroupKind::Universe),
            aliases: aliases.clone(),
            version: snap.version,
        })
    }))
}

/// A member of a sector or theme.
#[derive(Serialize, ToSchema)]
pub(super) struct GroupMember<'a> {
    /// The member's ticker.
    symbol: &'a str,
    /// Company name.
    name: Option<&'a str>,
    /// Sector key.
    sector: Option<&'a str>,
    /// Industry within the sector, from the sector classification.
    industry: Option<&'a str>,
    /// Market cap in dollars.
    market_cap: Option<i64>,
}

/// The members of a sector or theme, by ticker.
#[derive(Serialize, ToSchema)]
pub(super) struct GroupMembers<'a> {
    /// Sector or theme key as stored.
    key: &'a str,
    /// Its name.
    name: Option<&'a str>,
    /// Snapshot data version.
    version: i64,
    /// Members in all.
    total: usize,
    /// First row returned.
    offset: usize,
    /// Rows returned.
    count: usize,
    /// The rows.
    members: Vec<GroupMember<'a>>,
}

fn group_members(
    state: &AppState,
    headers: &HeaderMap,
    kind: GroupKind,
    key: &str,
    page: &Page,
    what: &str,
) -> Result<Response, ApiError> {
    let snap = state.cache.snapshot();
    let g = find(state, &snap, kind, key, what)?;
    if let Some(day) = page.as_of {
        // Members of the past may be long gone from the symbols (LEH): listed by ticker all the same.
        let tickers = snap.members_on(g, day)?;
        let rows = page.slice(&tickers);
        let body = to_bytes(&GroupMembers {
            key: &g.name,
            name: g.description.as_deref(),
            version: snap.version,
            total: tickers.len(),
            offset: page.offset.unwrap_or(0),
            count: rows.len(),
            members: rows
                .iter()
                .map(|t| match snap.symbol_id(t).map(|id| snap.symbol(id)) {
                    Some(s) => member_of(&snap, s),
                    None => GroupMember { symbol: t, name: None, sector: None, industry: None, market_cap: None },
                })
                .collect(),
        });
        return Ok(conditional(headers, &snap, || body.clone()));
    }
    Ok(paged(headers, &snap, page, &snap.memo(g).members, |page| members_body(&snap, g, page)))
}

/// One member's row.
fn member_of<'a>(snap: &'a Snapshot, s: &'a Symbol) -> GroupMember<'a> {
    GroupMember {
        symbol: &s.ticker,
        name: s.name.as_deref(),
        sector: sector_key(snap, s),
        industry: s.industry.as_deref(),
        market_cap: s.market_cap,
    }
}

/// The members response of a sector or theme.
pub(super) fn members_body(snap: &Snapshot, g: &Group, page: &Page) -> Bytes {
    let rows = page.slice(&g.sorted);
    to_bytes(&GroupMembers {
        key: &g.name,
        name: g.description.as_deref(),
        version: snap.version,
        total: g.sorted.len(),
        offset: page.offset.unwrap_or(0),
        count: rows.len(),
        members: rows.iter().map(|id| member_of(snap, snap.symbol(*id))).collect(),
    })
}

/// Serialises every memoisable response of a snapshot ahead of the first request (those not done yet); returns
/// how many the snapshot now holds.
pub(super) fn warm(snap: &Snapshot) -> usize {
    let all = Page::default();
    let mut n = 0;
    for g in snap.groups() {
        let build: fn(&Snapshot, &Group, &Page) -> Bytes = match g.kind {
            GroupKind::Etf => holdings_body,
            GroupKind::Sector | GroupKind::Theme => members_body,
            _ => continue,
        };
        snap.memo(g).members.get_or_init(|| build(snap, g, &all));
        n += 1;
    }
    n + super::universes::warm(snap)
}

/// The stocks of a sector (`information_technology`, …), by ticker.
#[utoipa::path(get, path = "/api/relationships/sector/{key}/stocks", tag = "relationships",
    params(("key" = String, Path, description = "Sector key (case-insensitive)"), Page),
    responses((status = 200, body = GroupMembers), (status = 304, description = "Not modified"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn sector_stocks(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Page>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(key) = path?;
    group_members(&state, &headers, GroupKind::Sector, &key, &Page::check(query)?, "sector")
}

/// The members of a theme, by ticker.
#[utoipa::path(get, path = "/api/relationships/theme/{key}/members", tag = "relationships",
    params(("key" = String, Path, description = "Theme key (case-insensitive)"), Page),
    responses((status = 200, body = GroupMembers), (status = 304, description = "Not modified"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn theme_members(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Page>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(key) = path?;
    group_members(&state, &headers, GroupKind::Theme, &key, &Page::check(query)?, "theme")
}

/// Cache statistics: lookups, misses, refreshes, snapshot version, age, entry counts and memory.
#[utoipa::path(get, path = "/api/relationships/stats", tag = "relationships",
    responses((status = 200, body = CacheStats)))]
async fn stats(State(state): State<AppState>) -> Json<CacheStats> {
    Json(state.cache.stats())
}
