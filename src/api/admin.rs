//! `/admin/cache/*` (X-API-Key): statistics, refresh and warm-up, in TickStock's response shapes. Also the
//! [`AdminKey`] extractor every admin or mutating route takes.

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, Problem};
use crate::cache::CacheStats;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats)).routes(routes!(refresh)).routes(routes!(warm))
}

/// Proof that the request carried the configured `X-API-Key`. With no key configured, admin routes answer 403:
/// disabled, never open.
pub struct AdminKey;

/// Compares in time that depends only on the lengths, not on where the first difference is.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    // Digests first: equal lengths whatever was sent, so the time taken says nothing of the secret's length.
    use sha2::{Digest, Sha512};
    let (x, y) = (Sha512::digest(a), Sha512::digest(b));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

/// Wrong keys accepted per minute and client address (a burst of this many, then one every six seconds): past
/// that the address waits, and its keys are not even compared meanwhile — guessing is no faster than this, while
/// a client with the right key elsewhere is not locked out. A request without a key guesses nothing.
const WRONG_KEYS_PER_MINUTE: u32 = 10;

/// The wrong-key budget of each client address, and the addresses told to wait (until when).
pub(crate) struct KeyGuard {
    limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    waiting: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, Instant>>,
}

impl KeyGuard {
    pub(crate) fn new() -> KeyGuard {
        let quota = governor::Quota::per_minute(std::num::NonZeroU32::new(WRONG_KEYS_PER_MINUTE).expect("non-zero"));
        KeyGuard { limiter: governor::RateLimiter::keyed(quota), waiting: Default::default() }
    }

    /// How long an address still has to wait, if it must.
    fn wait_of(&self, ip: std::net::IpAddr) -> Option<std::time::Duration> {
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = *waiting.get(&ip)?;
        let now = Instant::now();
        if until > now {
            return Some(until - now);
        }
        waiting.remove(&ip);
        None
    }

    /// Counts a wrong key; when the address's budget is spent, how long it must wait.
    fn failed(&self, ip: std::net::IpAddr) -> Option<std::time::Duration> {
        let not_until = self.limiter.check_key(&ip).err()?;
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        waiting.insert(ip, Instant::now() + wait);
        Some(wait)
    }
}

fn too_many(wait: std::time::Duration) -> ApiError {
    ApiError::TooManyAttempts(format!(
        "too many wrong X-API-Key values from this address: try again in {} s",
        wait.as_secs().max(1)
    ))
}

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.api_key else { return Err(ApiError::AdminDisabled) };
        let Some(given) = parts.headers.get("x-api-key") else { return Err(ApiError::Unauthorized) };
        // Without the connection's address (a router used without `serve`), one budget for everyone.
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        if let Some(wait) = state.key_guard.wait_of(ip) {
            return Err(too_many(wait));
        }
        if same_secret(given.as_bytes(), expected.as_bytes()) {
            return Ok(AdminKey);
        }
        tracing::info!(%ip, "a wrong X-API-Key was refused");
        Err(state.key_guard.failed(ip).map_or(ApiError::Unauthorized, too_many))
    }
}

/// `{success, stats}`
#[derive(Serialize, ToSchema)]
pub(super) struct StatsResponse {
    success: bool,
    stats: CacheStats,
}

/// Cache statistics (TickStock's shape).
#[utoipa::path(get, path = "/admin/cache/stats", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = StatsResponse),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn stats(_key: AdminKey, State(state): State<AppState>) -> Json<StatsResponse> {
    Json(StatsResponse { success: true, stats: state.cache.stats() })
}

/// Optional body of a refresh.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshRequest {
    /// `all` (default), `etf`, `sector`, `theme` or `universe`. The snapshot is rebuilt whole whatever the type:
    /// it is one consistent version, never patched in parts.
    cache_type: Option<String>,
    /// Accepted for TickStock compatibility; echoed in the message.
    key: Option<String>,
    /// Also serialise every memoisable response of the new snapshot.
    #[serde(default)]
    warm: bool,
}

/// `{success, message, warmed, version}`
#[derive(Serialize, ToSchema)]
pub(super) struct RefreshResponse {
    success: bool,
    message: String,
    warmed: bool,
    /// Data version of the new snapshot.
    version: i64,
    /// Milliseconds the rebuild took.
    elapsed_ms: f64,
}

/// Rebuilds the snapshot from the store now and swaps it in; readers are never blocked.
#[utoipa::path(post, path = "/admin/cache/refresh", tag = "admin", security(("api_key" = [])),
    request_body(content = Option<RefreshRequest>, content_type = "application/json"),
    responses((status = 200, body = RefreshResponse),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn refresh(
    _key: AdminKey,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<RefreshResponse>, ApiError> {
    let req: RefreshRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("request body: {e}")))?
    };
    let cache_type = req.cache_type.as_deref().unwrap_or("all").to_ascii_lowercase();
    if !["all", "etf", "sector", "theme", "universe"].contains(&cache_type.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "unknown cache_type {cache_type:?}: use all, etf, sector, theme or universe"
        )));
    }
    let started = Instant::now();
    let snap = state.cache.refresh().await.map_err(|e| {
        tracing::error!(error = %e, "cache refresh: cannot rebuild the cache from the store");
        ApiError::Unavailable("cannot rebuild the cache from the store; the server log has the details".into())
    })?;
    if req.warm {
        super::relationships::warm(&snap);
    }
    Ok(Json(RefreshResponse {
        success: true,
        message: format!("Cache refreshed: {cache_type}/{}", req.key.as_deref().unwrap_or("all")),
        warmed: req.warm,
        version: snap.version,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    }))
}

/// `{success, message, elapsed_seconds, stats}`
#[derive(Serialize, ToSchema)]
pub(super) struct WarmResponse {
    success: bool,
    message: String,
    elapsed_seconds: f64,
    /// Responses serialised.
    responses: usize,
    stats: CacheStats,
}

/// Serialises every ETF, sector, theme and universe response of the current snapshot ahead of use.
#[utoipa::path(post, path = "/admin/cache/warm", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = WarmResponse),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn warm(_key: AdminKey, State(state): State<AppState>) -> Json<WarmResponse> {
    let started = Instant::now();
    let snap = state.cache.snapshot();
    let responses = super::relationships::warm(&snap);
    Json(WarmResponse {
        success: true,
        message: "Cache warmed successfully".into(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        responses,
        stats: state.cache.stats(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_whole() {
        assert!(super::same_secret(b"abc", b"abc"));
        assert!(!super::same_secret(b"abc", b"abd"));
        assert!(!super::same_secret(b"abc", b"abcd"));
        assert!(!super::same_secret(b"", b"x"));
    }
}
