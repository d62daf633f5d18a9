//! The console's login session: a signed cookie (HMAC with a key derived from the admin key by PBKDF2, so every
//! replica sharing the key accepts it and changing the key ends every session) holding its expiry and the
//! session's CSRF token. HttpOnly, SameSite=Strict, Secure behind TLS. No server-side state: logging out deletes
//! the cookie in the browser, but a copy taken before stays valid until it expires ([`SESSION_SECS`]); changing
//! the admin key ends every session at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, Key, SameSite, SignedCookieJar};
use sha2::Sha512;

use crate::api::AppState;

/// The session cookie's name.
pub(super) const COOKIE: &str = "universe_session";

/// How long a login lasts.
pub(super) const SESSION_SECS: i64 = 8 * 3600;

/// A logged-in operator: the token every state-changing form carries.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The CSRF token of this session (random, 128 bits, hex).
    pub csrf: String,
}

impl Session {
    /// Whether a submitted token is this session's (compared in constant time).
    pub(super) fn accepts(&self, token: &str) -> bool {
        crate::api::same_secret(self.csrf.as_bytes(), token.as_bytes())
    }
}

/// PBKDF2 rounds for the cookie key: a leaked cookie tests an admin-key guess only at this cost each.
const KEY_ROUNDS: u32 = 100_000;

/// The cookie-signing key: PBKDF2-HMAC-SHA512 of the admin key under a fixed salt (the same on every replica).
/// Computed once per server ([`AppState::console_key`]).
pub(crate) fn signing_key(api_key: &str) -> Key {
    let mut out = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(api_key.as_bytes(), b"universe console session v1", KEY_ROUNDS, &mut out);
    Key::from(&out)
}

/// The key `SignedCookieJar` extracts with. The console is only routed with an admin key; without one a random
/// key makes sure no cookie could pass.
impl axum::extract::FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.console_key().unwrap_or_else(Key::generate)
    }
}

/// A new random CSRF token.
fn token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the request reached us over TLS (directly or through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The cookie that starts a session now: a browser-session cookie whose value carries its own expiry, enforced
/// here (a copied cookie stops working after [`SESSION_SECS`]).
pub(super) fn start(jar: SignedCookieJar, headers: &HeaderMap) -> SignedCookieJar {
    let expires = chrono::Utc::now().timestamp() + SESSION_SECS;
    let cookie = Cookie::build((COOKIE, format!("{expires}.{}", token())))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(headers))
        .build();
    jar.add(cookie)
}

/// The jar with the session removed.
pub(super) fn end(jar: SignedCookieJar) -> SignedCookieJar {
    jar.remove(Cookie::build(COOKIE).path("/").build())
}

/// The session a jar holds, if it is valid and not expired.
pub(super) fn of(jar: &SignedCookieJar) -> Option<Session> {
    let value = jar.get(COOKIE)?;
    let (expires, csrf) = value.value().split_once('.')?;
    let expires: i64 = expires.parse().ok()?;
    (expires > chrono::Utc::now().timestamp() && csrf.len() == 32).then(|| Session { csrf: csrf.to_string() })
}

/// Whether a request carries a valid session (the HTTP layer lets such a request send a file to an upload path).
pub(crate) fn logged_in(headers: &HeaderMap, state: &AppState) -> bool {
    headers.contains_key(header::COOKIE)
        && state.console_key().is_some_and(|key| of(&SignedCookieJar::from_headers(headers, key)).is_some())
}

/// Where an operator without a session is sent.
pub(crate) struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        let next: String = url_escape(&self.0);
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

/// A path as a query value (the few characters a path can hold that a query cannot).
fn url_escape(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '/' | '-' | '_' | '.' | '~' => c.to_string(),
            c => c.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
        })
        .collect()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(key) = state.console_key() else {
            return Err(super::pages::console_off());
        };
        let jar = SignedCookieJar::from_headers(&parts.headers, key);
        match of(&jar) {
            Some(s) => Ok(s),
            None => {
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
                // A form post whose session ran out goes back to the page, not to the post.
                let next = if parts.method == axum::http::Method::GET { path } else { referer_path(&parts.headers) };
                Err(ToLogin(next).into_response())
            }
        }
    }
}

/// The path of the page a request came from, else the dashboard; the login page makes it local
/// ([`local_path`]) before it is ever used.
fn referer_path(headers: &HeaderMap) -> String {
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| super::DASHBOARD.to_string())
}

/// A `next` parameter made safe: a local path only (never `//host`, a scheme, a backslash, nor a control
/// character, which browsers drop while parsing: `/\t/evil` would become `//evil`), else the dashboard.
pub(super) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(|c| c.is_control()) =>
        {
            p.to_string()
        }
        _ => super::DASHBOARD.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/admin/relationships?x=1")), "/admin/relationships?x=1");
        for bad in ["//evil.example/", "https://evil.example/", "\\\\evil", "admin", "/\t/evil.example", "/\n/x"] {
            assert_eq!(local_path(Some(bad)), super::super::DASHBOARD, "{bad}");
        }
        assert_eq!(local_path(None), super::super::DASHBOARD);
    }

    #[test]
    fn tokens_compare_whole() {
        let s = Session { csrf: "ab".repeat(16) };
        assert!(s.accepts(&"ab".repeat(16)));
        assert!(!s.accepts(&"ab".repeat(15)));
        assert!(!s.accepts(""));
        assert_ne!(token(), token());
    }
}
