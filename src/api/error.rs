//! The one HTTP error type, rendered as `application/problem+json` (RFC 9457) in one place. Internal errors are
//! logged here, once, and never leaked to the client. [`problems`] makes every other error response (axum's own
//! plain-text rejections: 413, 405, 415) a problem document too, and serves TickStock-shaped routes' errors as
//! `application/json`, which TickStock's JS checks for before reading the `error` member.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;
use crate::universes::ResolveError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The thing named does not exist (the detail names it).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (the detail says what and why).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well formed but cannot be answered as asked (a day before a group's history begins).
    #[error("{0}")]
    Unprocessable(String),
    /// The request body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Too many wrong keys from this client address: it must wait (the detail says how long).
    #[error("{0}")]
    TooManyAttempts(String),
    /// The request (its body) did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// No or a wrong `X-API-Key`.
    #[error("this endpoint requires a valid X-API-Key header")]
    Unauthorized,
    /// Admin endpoints are off because no key is configured.
    #[error("admin endpoints are disabled: no API key is configured (set UNIVERSE_API_KEY or --api-key)")]
    AdminDisabled,
    /// A dependency (the store) is not reachable.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged, reported as 500 without details.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status code says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// The same text under the name TickStock's JS reads (`errorData.error`); an RFC 9457 extension member.
    pub error: String,
}

/// A problem document response.
fn problem_response(status: StatusCode, detail: String) -> Response {
    let problem = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        error: detail.clone(),
        detail,
    };
    let mut response = (status, axum::Json(problem)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

const PROBLEM_JSON: &str = "application/problem+json";

/// Routes TickStock's own pages call: their errors go out as `application/json` (the app's JS parses an error
/// body only when its content type contains that string).
fn tickstock_shaped(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/api/stock-groups"
}

/// Makes every error response a problem document (see the module docs).
pub async fn problems(req: Request, next: Next) -> Response {
    let tickstock = tickstock_shaped(req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // The console's pages answer their errors as HTML pages, for a person.
    if response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html")) {
        return response;
    }
    let is_problem =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    let mut response = if is_problem {
        response
    } else {
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text).trim().to_string();
        let detail = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
        let mut rewritten = problem_response(status, detail);
        for (name, value) in &parts.headers {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rewritten.headers_mut().insert(name.clone(), value.clone());
            }
        }
        rewritten
    };
    if tickstock {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::AdminDisabled => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                "internal error; the server log has the details".to_string()
            }
            ApiError::Unavailable(d) => {
                tracing::warn!(detail = %d, "dependency unavailable");
                d.clone()
            }
            other => other.to_string(),
        };
        let mut response = problem_response(status, detail);
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey header=\"X-API-Key\""));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Unknown(_) => ApiError::NotFound(e.to_string()),
            ResolveError::Key(_)
            | ResolveError::Expr(_)
            | ResolveError::Ambiguous { .. }
            | ResolveError::NotAUnion(_)
            | ResolveError::BadCacheValue { .. } => ApiError::BadRequest(e.to_string()),
            ResolveError::CacheHasNoHistory(_) | ResolveError::BeforeHistory { .. } => {
                ApiError::Unprocessable(e.to_string())
            }
            ResolveError::Store(s) => s.into(),
        }
    }
}

macro_rules! bad_request_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge(e.body_text())
                } else {
                    ApiError::BadRequest(e.body_text())
                }
            }
        }
    )*};
}
bad_request_from!(
    axum::extract::rejection::QueryRejection,
    axum::extract::rejection::PathRejection,
    axum::extract::rejection::JsonRejection
);
