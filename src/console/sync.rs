//! The sync page (`/admin/sync`): trigger the daily cache sync (a mode; a dry run first, to see what it would
//! change; force past the delisting safety limit) as a `cache_sync` job for the workers, follow it live as the
//! historical-data page follows loads, and read past syncs with their results and the change log
//! (`sync_changes_log`: delistings, IPOs, universe and theme changes, with their reasons).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::jobs::active_jobs;
use super::pages::{self, layout};
use super::session::Session;
use super::universes::{query, stock_href};
use super::uploads::run_href;
use crate::api::AppState;
use crate::jobs::sync_job::{self, CACHE_SYNC};
use crate::sync::daily::SyncMode;

/// The page.
pub(super) const SYNC: &str = "/admin/sync";
/// Where the form posts.
const TRIGGER: &str = "/admin/sync/trigger";
/// Past syncs listed.
const HISTORY: i64 = 20;
/// Change-log rows listed.
const CHANGES: i64 = 200;

const MODES: [SyncMode; 5] =
    [SyncMode::Full, SyncMode::Delistings, SyncMode::MarketCap, SyncMode::Ipos, SyncMode::Themes];

pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new().route(SYNC, get(page)).route(TRIGGER, post(trigger))
}

/// `?flash=&job=`
#[derive(Deserialize)]
struct PageQuery {
    job: Option<String>,
}

async fn page(session: Session, State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let store = state.cache.store();
    let read = async {
        Ok::<_, crate::store::StoreError>((
            store.jobs_of_type(CACHE_SYNC, HISTORY, 0).await?,
            store.sync_changes(None, None, CHANGES).await?,
        ))
    };
    let ((syncs, total), changes) = match read.await {
        Ok(r) => r,
        Err(e) => return pages::unavailable("reading the syncs", &e),
    };
    let (active, done): (Vec<_>, Vec<_>) = syncs.iter().partition(|j| !j.status.is_final());
    let result = |j: &crate::store::JobRow, key: &str| j.result.as_ref().and_then(|r| r.get(key)).cloned();
    let body = html! {
        h1 { "Daily sync" }
        @if let Some(id) = &q.job { p.flash role="status" { "Sync " (id) " queued." } }
        section {
            h2 { "Run a sync" }
            p { "The workers run it: the day's list (a folder or Massive), delistings, market caps, IPOs, themes, then the \
                 cache rows. A dry run reports every change and writes only its run record." }
            form.sync method="post" action=(TRIGGER) {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Mode " select name="mode" { @for m in MODES { option value=(m.as_str()) { (m.as_str()) } } } }
                label { input type="checkbox" name="dry_run" value="1" checked; " Dry run" }
                label { input type="checkbox" name="force" value="1"; " Force (past the 5 % delisting limit)" }
                button type="submit" { "Start sync" }
            }
        }
        (active_jobs(&session, "Active syncs", "No sync is queued or running.", &active))
        section {
            h2 { "Past syncs" } p.muted { (total) " in all; the latest " (done.len()) " here." }
            table.history {
                tr { th { "Job" } th { "Status" } th { "Run" } th.num { "Changes" } th { "Finished" } th { "Message" } }
                @for j in &done {
                    tr {
                        td { code { (j.id) } } td.status { (j.status.as_str()) }
                        td { @if let Some(id) = result(j, "run_id").and_then(|v| v.as_i64()) { a href=(run_href(id)) { "#" (id) } " " (result(j, "status").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) } }
                        td.num { (result(j, "total_changes").map(|v| v.to_string()).unwrap_or_default()) }
                        td.when { (j.completed_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()) }
                        td { (j.message.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        section {
            h2 { "Change log" }
            @if changes.is_empty() { p { "No change recorded yet." } } @else {
                table.changelog {
                    tr { th { "When" } th { "Type" } th { "Universe" } th { "Symbol" } th { "Action" } th { "Reason" } th { "Run" } }
                    @for c in &changes {
                        tr {
                            td.when { (c.created_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()) }
                            td { (c.change_type) } td { (c.universe.as_deref().unwrap_or("")) }
                            td { @if let Some(s) = &c.symbol { a href=(stock_href(s)) { (s) } } }
                            td { (c.action) } td { (c.reason.as_deref().unwrap_or("")) }
                            td { @if let Some(id) = c.run_id { a href=(run_href(id)) { "#" (id) } } }
                        }
                    }
                }
            }
        }
    };
    pages::ok(layout("Sync", Some(&session), body))
}

/// The form.
#[derive(Deserialize)]
struct TriggerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    dry_run: Option<String>,
    force: Option<String>,
}

async fn trigger(session: Session, State(state): State<AppState>, axum::Form(f): axum::Form<TriggerForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return super::csrf_refused();
    }
    let Some(mode) = SyncMode::parse(&f.mode) else {
        return pages::refusal(
            StatusCode::BAD_REQUEST,
            "Not started",
            &format!("mode {:?}: expected full, delistings, market_cap, ipos or themes", f.mode),
        );
    };
    let store = state.cache.store();
    let force = f.force.is_some();
    let submitted = if f.dry_run.is_some() {
        sync_job::submit_dry_run(store, mode, force, "console").await
    } else {
        sync_job::submit(store, mode, force, "console").await
    };
    match submitted {
        Ok(s) => {
            crate::api::hand_over(&state, &s.job_id).await;
            tracing::info!(job_id = %s.job_id, mode = mode.as_str(), dry_run = f.dry_run.is_some(), "console: sync queued");
            Redirect::to(&format!("{SYNC}?{}", query(&[("job", &s.job_id)]))).into_response()
        }
        Err(e) => pages::unavailable("queueing the sync", &e),
    }
}
