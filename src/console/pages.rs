//! The console's HTML, written with maud: every interpolated value is escaped by the template (a group or file
//! named `<script>` renders as text); the scripts are the vendored htmx and the console's own few lines.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Session;
use super::{CSS_PATH, DASHBOARD, HTMX_PATH, JS_PATH};

/// A page as a response: never cached (it shows data and carries the session's token), scripts and styles from
/// this server only, never framed.
pub(super) fn respond(status: StatusCode, page: Markup) -> Response {
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (status, headers, Html(page.into_string())).into_response()
}

/// A page with status 200.
pub(super) fn ok(page: Markup) -> Response {
    respond(StatusCode::OK, page)
}

/// The navigation: (path, label).
const NAV: [(&str, &str); 7] = [
    (DASHBOARD, "Dashboard"),
    (super::universes::SEARCH, "Universes"),
    (super::uploads::UPLOADS, "Uploads"),
    (super::uploads::RUNS, "Runs"),
    (super::jobs::HISTORICAL, "Historical data"),
    (super::cache::CACHE, "Cache"),
    (super::sync::SYNC, "Sync"),
];

/// A whole page: head (stylesheet, htmx), the navigation of a logged-in operator, the body.
pub(super) fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · TickStock Universe" }
                // No icon to fetch (a request for /favicon.ico would only be a 404).
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(CSS_PATH);
                // htmx injects no inline style (the policy allows none).
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
                script src=(HTMX_PATH) defer {}
                script src=(JS_PATH) defer {}
            }
            body {
                header {
                    strong { "TickStock Universe" }
                    @if let Some(s) = session {
                        nav { @for (href, label) in NAV { a href=(href) { (label) } } }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The login page, with a message after a refused attempt.
pub(super) fn login(next: &str, message: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            h1 { "Log in" }
            p { "The admin key is the one `serve` was started with (" code { "--api-key" } " / " code { "UNIVERSE_API_KEY" } ")." }
            @if let Some(m) = message { p.error role="alert" { (m) } }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label { "Admin key " input type="password" name="key" autocomplete="current-password" autofocus required; }
                button type="submit" { "Log in" }
            }
        },
    )
}

/// The answer when no admin key is configured: the console is off, as the admin API is.
pub(crate) fn console_off() -> Response {
    let page = layout(
        "Console off",
        None,
        html! {
            h1 { "The console is off" }
            p { "No admin key is configured. Start " code { "universe serve --api-key KEY" } " to use it." }
        },
    );
    respond(StatusCode::NOT_FOUND, page)
}

/// A refusal page (403, 429, …) with its reason.
pub(super) fn refusal(status: StatusCode, title: &str, why: &str) -> Response {
    respond(status, layout(title, None, html! { h1 { (title) } p.error role="alert" { (why) } }))
}

/// The page when the database fails under an action: logged once here, the cause never shown.
pub(super) fn unavailable(doing: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, doing, "console: the database failed");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
        &format!("The database failed while {doing}; nothing was changed. Try again in a moment."),
    )
}

/// A file to download, never cached, named `file_name` (kept to letters, digits, `-`, `_` and `.`).
pub(super) fn download(file_name: &str, content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let safe: String =
        file_name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (headers, body.into()).into_response()
}
