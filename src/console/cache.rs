//! The cache page: the snapshot's figures, and `organize` — TickStock's `cache_entries` universe rows rebuilt
//! from the groups with the shipped definitions — in replace or append (`--preserve`) mode, first as a dry run
//! showing each row's action and member counts before and after, then applied on confirmation through the same
//! run as `universe organize`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::pages::{self, layout};
use super::session::Session;
use super::uploads::run_href;
use crate::api::AppState;
use crate::organize::{OrganizeError, OrganizeReport, OrganizeRequest, RowAction};

/// The page.
pub(super) const CACHE: &str = "/admin/cache";
/// The dry run.
const PREVIEW: &str = "/admin/cache/organize/preview";
/// The confirmation.
const APPLY: &str = "/admin/cache/organize/apply";

pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new().route(CACHE, get(page)).route(PREVIEW, post(preview)).route(APPLY, post(apply))
}

/// `?flash=&run=`
#[derive(Deserialize)]
struct PageQuery {
    flash: Option<String>,
    run: Option<i64>,
}

async fn page(session: Session, State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let s = state.cache.stats();
    let e = &s.entries;
    let flash = match (q.flash.as_deref(), q.run) {
        (Some("organized"), Some(id)) => {
            Some(html! { "Organize applied as run " a href=(run_href(id)) { "#" (id) } "." })
        }
        (Some("unchanged"), _) => Some(html! { "Nothing to change: the cache rows already match the definitions." }),
        _ => None,
    };
    let body = html! {
        h1 { "Cache" }
        @if let Some(f) = flash { p.flash role="status" { (f) } }
        section {
            h2 { "Snapshot" }
            table.facts.stats {
                tr { th { "Version" } td.num { (s.version) } }
                tr { th { "Built" } td { (s.built_at) " (" (format!("{:.0}", s.age_seconds)) " s ago, " @if s.incremental { "incremental" } @else { "full" } ")" } }
                tr { th { "Lookups" } td.num { (s.lookups) } }
                tr { th { "Hit rate" } td.num { (format!("{:.2} %", s.hit_rate)) } }
                tr { th { "Refreshes" } td.num { (s.refreshes) " (" (s.refresh_failures) " failed)" } }
                tr { th { "Last refresh" } td.num { (s.last_refresh_ms) " ms" } }
                tr { th { "Snapshot memory" } td.num { (format!("{:.1} MB", s.approx_bytes as f64 / 1e6)) } }
                tr { th { "Symbols" } td.num { (e.symbols) } }
                tr { th { "Memberships" } td.num { (e.memberships) } }
                tr { th { "cache_entries universes" } td.num { (e.cache_universes) } }
            }
        }
        section {
            h2 { "Organize the cache universes" }
            p { "Builds TickStock's " code { "cache_entries" } " universe rows from the groups with the shipped definitions. \
                 Replace makes the managed rows exactly the definitions' output; append only inserts and updates (" code { "--preserve" } "). \
                 You see the change before it is written." }
            (organize_form(&session, PREVIEW, "replace", "Preview", None))
        }
    };
    pages::ok(layout("Cache", Some(&session), body))
}

fn organize_form(session: &Session, action: &str, mode: &str, button: &str, version: Option<i64>) -> Markup {
    let apply = action == APPLY;
    html! {
        form.organize method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            @if let Some(v) = version { input type="hidden" name="version" value=(v); }
            @if apply { input type="hidden" name="mode" value=(mode); } @else {
                fieldset {
                    legend { "Mode" }
                    label { input type="radio" name="mode" value="replace" checked[mode == "replace"]; " Replace" }
                    label { input type="radio" name="mode" value="append" checked[mode == "append"]; " Append (preserve)" }
                }
            }
            button type="submit" { (button) }
            @if apply { " " a href=(CACHE) { "Cancel" } }
        }
    }
}

/// The forms' fields.
#[derive(Deserialize)]
struct OrganizeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    /// The data version the preview was computed at (the confirmation applies only at it).
    version: Option<i64>,
}

impl OrganizeForm {
    fn request(&self, state: &AppState, dry_run: bool) -> OrganizeRequest {
        OrganizeRequest {
            definitions: crate::organize::shipped_definitions(),
            preserve: self.mode == "append",
            dry_run,
            environment: state.cache.environment(),
            force: false,
        }
    }

    fn mode(&self) -> &'static str {
        if self.mode == "append" { "append" } else { "replace" }
    }
}

fn failed(e: OrganizeError) -> Response {
    tracing::error!(error = %e, "console: organize failed");
    pages::refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "Organize failed",
        &format!("Nothing was written: {e}. The server log has the details."),
    )
}

async fn preview(session: Session, State(state): State<AppState>, axum::Form(f): axum::Form<OrganizeForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return super::csrf_refused();
    }
    dry_run(&session, &state, &f, None).await
}

/// The dry run and its confirmation, which carries the data version it was computed at (`notice`: why the
/// operator sees a preview again).
async fn dry_run(session: &Session, state: &AppState, f: &OrganizeForm, notice: Option<String>) -> Response {
    // Read before the build: a change landing in between makes the apply preview again (never the reverse).
    let version = match state.cache.store().data_version().await {
        Ok(v) => v,
        Err(e) => return pages::unavailable("reading the data version", &e),
    };
    match crate::organize::run(state.cache.store(), &f.request(state, true)).await {
        Ok(r) => {
            let status = if notice.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
            let page = preview_page(session, f.mode(), &r, version, notice.as_deref());
            pages::respond(status, layout("Organize preview", Some(session), page))
        }
        Err(e) => failed(e),
    }
}

fn action_str(a: RowAction) -> &'static str {
    match a {
        RowAction::Added => "added",
        RowAction::Changed => "changed",
        RowAction::Unchanged => "unchanged",
        RowAction::Removed => "removed",
        RowAction::Kept => "kept",
    }
}

fn preview_page(session: &Session, mode: &str, r: &OrganizeReport, version: i64, notice: Option<&str>) -> Markup {
    let count = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    let writes = r.rows.iter().any(|c| matches!(c.action, RowAction::Added | RowAction::Changed | RowAction::Removed));
    let mut rows: Vec<_> = r.rows.iter().collect();
    // What changes first.
    rows.sort_by_key(|c| matches!(c.action, RowAction::Unchanged | RowAction::Kept));
    html! {
        h1 { "Organize preview (" (mode) ")" }
        @if let Some(n) = notice { p.error.changed role="alert" { (n) } }
        section {
            p { "Dry run " a href=(run_href(r.run_id)) { "#" (r.run_id) } ": nothing was written but its record." }
            table.totals {
                tr { @for (k, _) in &r.totals { th { (k) } } }
                tr { @for (_, v) in &r.totals { td.num { (v) } } }
            }
            @for n in &r.notes { p.note { (n) } }
            @if writes { (organize_form(session, APPLY, mode, "Apply this change", Some(version))) } @else { p { "Nothing to change. " a href=(CACHE) { "Back" } } }
        }
        section {
            table.rows {
                tr { th { "Type" } th { "Name" } th { "Key" } th { "Action" } th.num { "Members before" } th.num { "Members after" } }
                @for c in rows {
                    tr class=(action_str(c.action)) {
                        td { (c.kind) } td { (c.name) } td { (c.key) } td.action { (action_str(c.action)) }
                        td.num { (count(c.before)) } td.num { (count(c.after)) }
                    }
                }
            }
        }
    }
}

async fn apply(session: Session, State(state): State<AppState>, axum::Form(f): axum::Form<OrganizeForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return super::csrf_refused();
    }
    let Some(version) = f.version else {
        return pages::refusal(
            StatusCode::BAD_REQUEST,
            "Not applied",
            "The confirmation lacks its preview: preview again.",
        );
    };
    match crate::organize::run_at_version(state.cache.store(), &f.request(&state, false), version).await {
        // The groups changed since the preview: show the change as it is now, to confirm again.
        Err(e @ OrganizeError::Changed { .. }) => {
            let notice = format!("Not applied: {e}. This is the change now; apply it if it is still what you want.");
            dry_run(&session, &state, &f, Some(notice)).await
        }
        Ok(r) => {
            if let Err(e) = state.cache.refresh().await {
                tracing::warn!(error = %e, "console: the cache could not refresh after organize; the watcher will");
            }
            tracing::info!(run.id = r.run_id, mode = f.mode(), "console: organize applied");
            let to = if r.status.applied() {
                format!("{CACHE}?flash=organized&run={}", r.run_id)
            } else {
                format!("{CACHE}?flash=unchanged")
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => failed(e),
    }
}
