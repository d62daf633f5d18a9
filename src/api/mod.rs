//! The HTTP API (`universe serve`): JSON over axum, served from the relationship cache.
//!
//! One router per resource (`relationships`, `universes`, `stock_groups` for TickStock's shapes, `admin`,
//! `ops`), merged here with the OpenAPI document (`/api/openapi.json`) and its docs page (`/api/docs/`, assets
//! compiled into the binary), request metrics, a body-size limit and the problem+json fallback.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests bind port 0 and stop the server at will.

mod admin;
mod cache_sync;
mod error;
mod http;
mod jobs;
mod ops;
mod relationships;
mod stock_groups;
mod universes;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub(crate) use admin::same_secret;
pub use error::{ApiError, Problem};
pub use http::HttpLimits;
pub(crate) use jobs::{cancel_job, hand_over, job_json, submit_from_console};
pub use ops::{BENCH_ETF, BENCH_UNIVERSE};

use crate::cache::{RelationshipCache, Snapshot, WatchOptions};

/// Largest request body accepted (the admin endpoints take small JSON documents).
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the server runs (no `Debug`: it holds the API key).
#[derive(Clone)]
pub struct ServeOptions {
    /// Key required in `X-API-Key` by admin and mutating endpoints; `None` disables them.
    pub api_key: Option<String>,
    /// Cache refresh policy.
    pub watch: WatchOptions,
    /// Also serve `/bench/static`: the same bytes as SPY's holdings from a handler that does nothing, the ceiling
    /// the HTTP benchmark compares against.
    pub bench_routes: bool,
    /// Data-load jobs: where submissions go and whether this process runs a worker.
    pub jobs: JobsOptions,
    /// Connection limits: header and body timeouts, concurrent connections.
    pub limits: HttpLimits,
    /// Scheduled validation: where its alerts go and how often it runs.
    pub alerts: Option<(crate::quality::alerts::Webhook, std::time::Duration)>,
}

/// How the server handles data-load jobs.
#[derive(Clone, Default)]
pub struct JobsOptions {
    /// Production mode: submissions are handed to this Redis stream (workers run elsewhere).
    pub bus: Option<crate::jobs::redis::RedisBus>,
    /// Embedded mode: run a worker in this process with this bar source.
    pub worker: Option<crate::bars::BarSource>,
    /// Folder of legacy universe CSV files.
    pub csv_dir: Option<std::path::PathBuf>,
    /// Where the in-process worker's cache syncs read the day's list and their rules.
    pub sync: crate::jobs::sync_job::SyncSettings,
    /// The daily sync this process schedules for its in-process worker, if any.
    pub schedule: Option<crate::sync::schedule::Schedule>,
}

/// What the jobs routes need.
#[derive(Clone)]
pub(crate) struct JobsContext {
    environment: crate::domain::Environment,
    csv_dir: Option<std::path::PathBuf>,
    bus: Option<crate::jobs::redis::RedisBus>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The relationship cache.
    pub cache: Arc<RelationshipCache>,
    /// The admin key.
    api_key: Option<Arc<str>>,
    /// The Prometheus exposition.
    metrics: PrometheusHandle,
    /// Jobs routes' context.
    jobs: JobsContext,
    /// The console's cookie-signing key, derived from the admin key on first use (a slow derivation, once).
    console_key: Arc<OnceLock<axum_extra::extract::cookie::Key>>,
    /// Wrong `X-API-Key`s counted per client address.
    key_guard: Arc<admin::KeyGuard>,
}

impl AppState {
    /// State over a loaded cache.
    pub fn new(cache: Arc<RelationshipCache>, api_key: Option<String>) -> AppState {
        let jobs = JobsContext { environment: cache.environment(), csv_dir: None, bus: None };
        AppState {
            cache,
            api_key: api_key.filter(|k| !k.is_empty()).map(Arc::from),
            metrics: metrics_handle(),
            jobs,
            console_key: Arc::default(),
            key_guard: Arc::new(admin::KeyGuard::new()),
        }
    }

    /// The admin key, when one is configured (the console's login compares against it).
    pub(crate) fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// The console's cookie-signing key (none without an admin key: the console is off).
    pub(crate) fn console_key(&self) -> Option<axum_extra::extract::cookie::Key> {
        let api_key = self.api_key()?;
        Some(self.console_key.get_or_init(|| crate::console::session::signing_key(api_key)).clone())
    }

    /// Sends job submissions to a Redis stream (production mode) and reads legacy CSV universes from a folder.
    pub fn with_jobs(mut self, bus: Option<crate::jobs::redis::RedisBus>, csv_dir: Option<std::path::PathBuf>) -> Self {
        self.jobs.bus = bus;
        self.jobs.csv_dir = csv_dir;
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TickStock Universe",
        description = "Reference data of the TickStock platform: symbols, index universes, ETF holdings, sectors, \
                       industries and themes, served from an in-memory snapshot. Errors are application/problem+json; \
                       JSON responses carry the snapshot's ETag and honour If-None-Match."
    ),
    tags(
        (name = "relationships", description = "ETF holdings, stock info, sector and theme members"),
        (name = "universes", description = "Universe keys and their symbols"),
        (name = "tickstock", description = "Shapes TickStock's web app calls unchanged"),
        (name = "admin", description = "Cache administration (X-API-Key)"),
        (name = "jobs", description = "Data-load jobs: submit (X-API-Key), status, history, cancel, live events"),
        (name = "cache-sync", description = "TickStock's daily cache sync: trigger, status, history, statistics (X-API-Key)"),
        (name = "ops", description = "Health, readiness, metrics"),
    ),
    modifiers(&ApiKeyScheme)
)]
struct ApiDoc;

/// Declares the `X-API-Key` security scheme.
struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// The OpenAPI document and the router, built together from the handlers' annotations.
fn parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(relationships::router())
        .merge(universes::router())
        .merge(stock_groups::router())
        .merge(admin::router())
        .merge(jobs::router())
        .merge(cache_sync::router())
        .merge(ops::router())
        .split_for_parts()
}

/// The OpenAPI document (as served at `/api/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

/// The whole application.
pub fn app(state: AppState, bench_routes: bool) -> Router {
    app_with(state, bench_routes, HttpLimits::default().body_timeout)
}

/// [`app`] with a request-body timeout.
fn app_with(state: AppState, bench_routes: bool, body_timeout: std::time::Duration) -> Router {
    let (mut router, api) = parts();
    if bench_routes {
        router = router.merge(ops::bench_router(&state));
    }
    // The operator's console, only with an admin key (as the admin API): without one, `/` stays a 404.
    if state.api_key().is_some() {
        router = router.merge(crate::console::router());
    }
    router
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", api))
        .fallback(|| async { ApiError::NotFound("no such route; the API is described at /api/openapi.json".into()) })
        // Outermost last: the body deadline's 408 and 413 pass through `problems` (TickStock's content type).
        .layer(middleware::from_fn_with_state((body_timeout, state.clone()), http::read_body_in_time))
        .layer(middleware::from_fn(error::problems))
        .layer(middleware::from_fn(track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Loads the cache, keeps it fresh and serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: crate::store::Store,
    environment: crate::domain::Environment,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let cache = RelationshipCache::load(store, environment).await.context("building the relationship cache")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let watcher = tokio::spawn(crate::cache::watch(cache.clone(), options.watch, {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.changed().await;
        }
    }));
    // Embedded mode: this process also runs the jobs worker, stopped with the server.
    let worker = match (&options.jobs.worker, &options.jobs.bus) {
        (Some(source), None) => {
            let mut wo = crate::jobs::WorkerOptions::new(environment);
            wo.csv_dir = options.jobs.csv_dir.clone();
            wo.sync = options.jobs.sync.clone();
            let worker = crate::jobs::Worker::new(cache.store().clone(), source.clone(), wo);
            let mut rx = stop_rx.clone();
            let schedule = options.jobs.schedule.clone().map(|schedule| {
                let mut rx = stop_rx.clone();
                tokio::spawn(crate::sync::schedule::run(cache.store().clone(), schedule, None, async move {
                    let _ = rx.changed().await;
                }))
            });
            Some((
                tokio::spawn(async move {
                    worker
                        .run(async move {
                            let _ = rx.changed().await;
                        })
                        .await;
                }),
                schedule,
            ))
        }
        _ => None,
    };
    let alerts = options.alerts.clone().map(|(hook, every)| {
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::quality::alerts::schedule(cache.store().clone(), environment, hook, every, async move {
            let _ = rx.changed().await;
        }))
    });
    let state = AppState::new(cache, options.api_key).with_jobs(options.jobs.bus.clone(), options.jobs.csv_dir.clone());
    let app = app_with(state, options.bench_routes, options.limits.body_timeout);
    let result = http::serve_connections(listener, app, options.limits, async move {
        shutdown.await;
        drop(stop_tx);
    })
    .await;
    let _ = watcher.await;
    if let Some(a) = alerts {
        let _ = a.await;
    }
    if let Some((w, schedule)) = worker {
        let _ = w.await;
        if let Some(s) = schedule {
            let _ = s.await;
        }
    }
    result.context("serving HTTP")
}

/// The process's Prometheus recorder, installed on first use (the recorder is global).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            const BUCKETS: [f64; 12] =
                [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
            let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).expect("non-empty buckets");
            match builder.install_recorder() {
                Ok(handle) => handle,
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder is already installed; /metrics will be empty");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// Counts requests and times them per route (the matched pattern, not the raw path, so label sets stay bounded).
async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route).record(elapsed);
    response
}

/// Whether the request's `If-None-Match` already names this snapshot.
fn fresh(headers: &HeaderMap, snapshot: &Snapshot) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == snapshot.etag))
}

/// A JSON response carrying the snapshot's ETag, or 304 when the client already has this version.
fn conditional(headers: &HeaderMap, snapshot: &Snapshot, body: impl FnOnce() -> Bytes) -> Response {
    let etag = HeaderValue::from_str(&snapshot.etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    if fresh(headers, snapshot) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    json_bytes(body(), Some(etag))
}

/// Pre-serialised JSON with an optional ETag.
fn json_bytes(body: Bytes, etag: Option<HeaderValue>) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(etag) = etag {
        h.insert(header::ETAG, etag);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    r
}

/// Serialises a response body.
fn to_bytes(value: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("response types serialise"))
}
