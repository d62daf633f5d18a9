//! TickStock's own shapes, so its web app can call us unchanged: `GET /api/stock-groups` and the universe
//! dropdown's `GET /admin/historical-data/universes` (tickstock-compat.md §4.2–4.3). Unlike TickStock, types
//! are upper-cased and validated on both routes (an unknown type is a 400, not an empty list).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::AdminKey;
use super::{ApiError, AppState, Problem};
use crate::cache::{Group, Snapshot};
use crate::domain::GroupKind;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stock_groups)).routes(routes!(historical_universes))
}

/// Parses `types=ETF,sector` (upper-cased, validated); `default` when absent or blank.
fn parse_types(raw: Option<&str>, default: &[GroupKind]) -> Result<Vec<GroupKind>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(default.to_vec()) };
    let mut kinds = Vec::new();
    for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let kind = GroupKind::parse(t).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown group type {t:?} in types: use ETF, SECTOR, THEME, UNIVERSE, SEGMENT or CUSTOM"
            ))
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// Python's `datetime.isoformat()` of a naive timestamp, as TickStock returns them.
fn iso(t: Option<NaiveDateTime>) -> Option<String> {
    t.map(|t| {
        if t.and_utc().timestamp_subsec_micros() == 0 {
            t.format("%Y-%m-%dT%H:%M:%S").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        }
    })
}

/// Groups of the kinds, ordered by type then name.
/// A group's description, or `TYPE: name` when it has none (NULL or empty), as TickStock's
/// `description or f"{type}: {name}"`.
fn description_of(g: &Group) -> String {
    match g.description.as_deref() {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => format!("{}: {}", g.kind, g.name),
    }
}

fn groups_of<'a>(snap: &'a Snapshot, kinds: &[GroupKind]) -> Vec<&'a Group> {
    let mut groups: Vec<&Group> = snap.groups().filter(|g| kinds.contains(&g.kind)).collect();
    groups.sort_by(|a, b| a.kind.as_str().cmp(b.kind.as_str()).then_with(|| a.name.cmp(&b.name)));
    groups
}

/// `?types=&search=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StockGroupsQuery {
    /// Comma-separated group types (default ETF,SECTOR,THEME,UNIVERSE).
    types: Option<String>,
    /// Case-insensitive substring of the name, description or type.
    search: Option<String>,
}

/// A row of `/api/stock-groups`.
#[derive(Serialize, ToSchema)]
pub(super) struct StockGroup {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    /// The stored description, or `TYPE: name` when there is none (as TickStock's query falls back).
    description: String,
    member_count: usize,
    environment: &'static str,
    created_at: Option<String>,
    updated_at: Option<String>,
    /// Always null (TickStock's placeholder).
    avg_market_cap: Option<f64>,
    /// Always null (TickStock's placeholder).
    ytd_performance: Option<f64>,
    /// Always null (TickStock's placeholder).
    volatility: Option<f64>,
}

/// `/api/stock-groups` response.
#[derive(Serialize, ToSchema)]
pub(super) struct StockGroups {
    groups: Vec<StockGroup>,
    total_count: usize,
    types: Vec<&'static str>,
    environment: &'static str,
}

/// TickStock's group browser: groups of some types, optionally filtered by a search string.
#[utoipa::path(get, path = "/api/stock-groups", tag = "tickstock", params(StockGroupsQuery),
    responses((status = 200, body = StockGroups),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn stock_groups(
    State(state): State<AppState>,
    query: Result<Query<StockGroupsQuery>, QueryRejection>,
) -> Result<Json<StockGroups>, ApiError> {
    let Query(q) = query?;
    let kinds =
        parse_types(q.types.as_deref(), &[GroupKind::Etf, GroupKind::Sector, GroupKind::Theme, GroupKind::Universe])?;
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
    let snap = state.cache.snapshot();
    let env = snap.environment.as_str();
    let groups: Vec<StockGroup> = groups_of(&snap, &kinds)
        .into_iter()
        .filter(|g| {
            search.as_deref().is_none_or(|s| {
                g.name.to_lowercase().contains(s)
                    || g.description.as_deref().is_some_and(|d| d.to_lowercase().contains(s))
                    || g.kind.as_str().to_lowercase().contains(s)
            })
        })
        .map(|g| StockGroup {
            name: g.name.to_string(),
            kind: g.kind.as_str(),
            description: description_of(g),
            member_count: g.members.len(),
            environment: env,
            created_at: iso(g.created_at),
            updated_at: iso(g.updated_at),
            avg_market_cap: None,
            ytd_performance: None,
            volatility: None,
        })
        .collect();
    Ok(Json(StockGroups {
        total_count: groups.len(),
        groups,
        types: kinds.iter().map(|k| k.as_str()).collect(),
        environment: env,
    }))
}

/// `?types=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UniversesQuery {
    /// Comma-separated group types (default UNIVERSE,ETF).
    types: Option<String>,
}

/// A row of the universe dropdown.
#[derive(Serialize, ToSchema)]
pub(super) struct AvailableUniverse {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    /// The stored description, or `TYPE: name` when there is none.
    description: String,
    member_count: usize,
    environment: &'static str,
    created_at: Option<String>,
    updated_at: Option<String>,
}

/// `/admin/historical-data/universes` response.
#[derive(Serialize, ToSchema)]
pub(super) struct AvailableUniverses {
    universes: Vec<AvailableUniverse>,
    total_count: usize,
    types: Vec<&'static str>,
}

/// The universes TickStock's historical-data page offers in its dropdown (X-API-Key).
#[utoipa::path(get, path = "/admin/historical-data/universes", tag = "tickstock", params(UniversesQuery),
    security(("api_key" = [])),
    responses((status = 200, body = AvailableUniverses),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn historical_universes(
    _key: AdminKey,
    State(state): State<AppState>,
    query: Result<Query<UniversesQuery>, QueryRejection>,
) -> Result<Json<AvailableUniverses>, ApiError> {
    let Query(q) = query?;
    let kinds = parse_types(q.types.as_deref(), &[GroupKind::Universe, GroupKind::Etf])?;
    let snap = state.cache.snapshot();
    let env = snap.environment.as_str();
    let universes: Vec<AvailableUniverse> = groups_of(&snap, &kinds)
        .into_iter()
        .map(|g| AvailableUniverse {
            name: g.name.to_string(),
            kind: g.kind.as_str(),
            description: description_of(g),
            member_count: g.members.len(),
            environment: env,
            created_at: iso(g.created_at),
            updated_at: iso(g.updated_at),
        })
        .collect();
    Ok(Json(AvailableUniverses {
        total_count: universes.len(),
        universes,
        types: kinds.iter().map(|k| k.as_str()).collect(),
    }))
}
