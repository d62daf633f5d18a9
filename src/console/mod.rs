//! The operator's console (issue #18): server-rendered admin pages served by `universe serve`, over the same
//! snapshot, store and loaders as the CLI and the API. Off unless an admin key is configured (as the admin API
//! is); every page needs a login with that key, which starts a signed session cookie ([`session`]), and every
//! state-changing form carries the session's CSRF token. Failed logins are rate-limited. htmx is vendored and
//! served from the binary with a long cache lifetime; nothing is fetched from a network.

mod cache;
mod dashboard;
mod jobs;
mod pages;
pub(crate) mod session;
mod sync;
mod universes;
mod uploads;

pub(crate) use uploads::{UPLOAD_BODY_LIMIT, UPLOAD_PATHS};

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use axum_extra::extract::cookie::SignedCookieJar;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use crate::api::AppState;
use session::Session;

pub(crate) use dashboard::DASHBOARD;
/// htmx, vendored (`assets/`), named by version so a new one is a new URL and the old can be cached for a year.
const HTMX_PATH: &str = "/assets/htmx-2.0.11.min.js";
/// The console's stylesheet.
const CSS_PATH: &str = "/assets/console-2.css";
/// The console's own few lines of script (live job progress).
pub(crate) const JS_PATH: &str = "/assets/console-2.js";
const JS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/console-2.js"));
const HTMX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/htmx-2.0.11.min.js"));
const CSS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/console-2.css"));

/// Login attempts per minute and client address: a burst of five, then one every twelve seconds. Checked before
/// the key is compared, so guessing is no faster for an address over its budget, while another address (the
/// operator's) is not locked out.
const LOGINS_PER_MINUTE: u32 = 5;

/// The login limiter, by client address.
type LoginLimiter = DefaultKeyedRateLimiter<std::net::IpAddr>;

/// The console's routes, merged into the API's router when an admin key is configured.
pub(crate) fn router() -> Router<AppState> {
    let limiter: Arc<LoginLimiter> =
        Arc::new(RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(LOGINS_PER_MINUTE).expect("non-zero"))));
    Router::new()
        .route("/", get(|| async { Redirect::to(DASHBOARD) }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .merge(dashboard::router())
        .route(universes::SEARCH, get(universes::search))
        .route(universes::GROUP, get(universes::group))
        .route(universes::KEY, get(universes::key))
        .route(universes::STOCK, get(universes::stock))
        .route(HTMX_PATH, get(|| async { asset(HTMX, "text/javascript; charset=utf-8") }))
        .route(CSS_PATH, get(|| async { asset(CSS.as_bytes(), "text/css; charset=utf-8") }))
        .merge(uploads::router())
        .merge(jobs::router())
        .merge(cache::router())
        .merge(sync::router())
        // The framework's own refusals (a query or form that does not parse) as pages, not JSON.
        .layer(axum::middleware::map_response(refusals_as_pages))
        .route(JS_PATH, get(|| async { asset(JS.as_bytes(), "text/javascript; charset=utf-8") }))
        .layer(Extension(limiter))
}

/// A client error that is not a page already (axum's rejection of a query, form or upload it cannot read: plain
/// text) becomes one, saying why; everything else passes.
async fn refusals_as_pages(response: Response) -> Response {
    let status = response.status();
    let html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !status.is_client_error() || html {
        return response;
    }
    let why = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let why = String::from_utf8_lossy(&why);
    let title = status.canonical_reason().unwrap_or("Refused");
    pages::refusal(status, title, if why.trim().is_empty() { title } else { why.trim() })
}

/// A static asset, cacheable for a year (its URL changes with its content).
fn asset(bytes: &'static [u8], content_type: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
    ];
    (headers, bytes).into_response()
}

/// `?next=` on the login page.
#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    if state.api_key().is_none() {
        return pages::console_off();
    }
    pages::ok(pages::login(&session::local_path(q.next.as_deref()), None))
}

/// The login form.
#[derive(Deserialize)]
struct LoginForm {
    key: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<LoginLimiter>>,
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    jar: SignedCookieJar,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(key) = state.api_key() else { return pages::console_off() };
    let next = session::local_path(form.next.as_deref());
    // Without the connection's address (a router used without `serve`), one budget for everyone.
    let ip = peer.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |Extension(c)| c.0.ip());
    if limiter.check_key(&ip).is_err() {
        tracing::warn!(%ip, "console: login attempts over the limit");
        return pages::refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            &format!(
                "More than {LOGINS_PER_MINUTE} login attempts in a minute from this address: wait a moment and try again."
            ),
        );
    }
    if !crate::api::same_secret(key.as_bytes(), form.key.as_bytes()) {
        tracing::info!(%ip, "console: a login with a wrong key was refused");
        // The form again, with the reason (a 200: the page itself is fine; no session was started).
        return pages::ok(pages::login(&next, Some("That is not the admin key.")));
    }
    let jar = session::start(jar, &headers);
    (jar, Redirect::to(&next)).into_response()
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

/// The answer to a state-changing post whose token is not the session's.
pub(super) fn csrf_refused() -> Response {
    pages::refusal(
        StatusCode::FORBIDDEN,
        "Refused",
        "The form's security token is missing or stale: reload the page and try again.",
    )
}

async fn logout(session: Session, jar: SignedCookieJar, Form(f): Form<CsrfForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return csrf_refused();
    }
    (session::end(jar), Redirect::to("/login")).into_response()
}
