//! Operations: `/health` (the process is up), `/ready` (store reachable and snapshot loaded), `/metrics`
//! (Prometheus), and the benchmark's static ceiling routes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, Problem, json_bytes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(metrics))
}

/// `{status}`
#[derive(Serialize, ToSchema)]
pub(super) struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `{status, version, store_version}`
#[derive(Serialize, ToSchema)]
pub(super) struct Ready {
    status: &'static str,
    /// Data version of the snapshot being served.
    version: i64,
    /// The store's current data version (newer than `version` while a refresh is due).
    store_version: i64,
}

/// The store answers and a snapshot is loaded; 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses((status = 200, body = Ready),
              (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let store_version = state.cache.store().data_version().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready: the store is not reachable");
        ApiError::Unavailable("the store is not reachable".into())
    })?;
    Ok(Json(Ready { status: "ready", version: state.cache.snapshot().version, store_version }))
}

/// Prometheus metrics: requests and latency per route, cache lookups, refreshes, snapshot version and age.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let s = state.cache.stats();
    metrics::gauge!("universe_cache_snapshot_age_seconds").set(s.age_seconds);
    metrics::gauge!("universe_cache_lookups").set(s.lookups as f64);
    metrics::gauge!("universe_cache_not_found").set(s.not_found as f64);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], state.metrics.render())
        .into_response()
}

/// The ETF and universe key the HTTP benchmark reads.
pub const BENCH_ETF: &str = "SPY";
/// See [`BENCH_ETF`].
pub const BENCH_UNIVERSE: &str = "sp500";

/// `/bench/static/etf` and `/bench/static/universe`: the bytes and headers of SPY's holdings and sp500's
/// symbols as the API serves them now, returned by handlers that do nothing else — the ceiling of the HTTP
/// benchmark, behind the same middleware.
pub(super) fn bench_router(state: &AppState) -> Router<AppState> {
    let snap = state.cache.snapshot();
    let etag = HeaderValue::from_str(&snap.etag).ok();
    let etf = snap
        .group_named(crate::domain::GroupKind::Etf, BENCH_ETF)
        .map(|g| super::relationships::holdings_body(&snap, g, &Default::default()))
        .unwrap_or_default();
    let universe = super::universes::symbols_body(&snap, BENCH_UNIVERSE).unwrap_or_default();
    let (e1, e2) = (etag.clone(), etag);
    Router::new()
        .route("/bench/static/etf", get(move || std::future::ready(json_bytes(etf.clone(), e1.clone()))))
        .route("/bench/static/universe", get(move || std::future::ready(json_bytes(universe.clone(), e2.clone()))))
}
