//! The historical-data page (`/admin/historical-data`, TickStock's seed 004 form): start a bar load for a universe
//! or a list of symbols (years, timeframes) as a real job — the same checks and hand-over as `POST /api/jobs` —
//! then watch Active Jobs move without a reload (the page's few lines of script follow one Server-Sent Events
//! stream of every active job — progress, status, and a live log — one connection however many jobs run, as a
//! browser opens at most six per server), cancel them, and read the job history with its failures.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::pages::{self, layout};
use super::session::Session;
use super::universes::query;
use crate::api::AppState;
use crate::domain::{GroupKind, Timeframe};
use crate::store::JobRow;

/// The page.
pub(super) const HISTORICAL: &str = "/admin/historical-data";
/// Where the form posts.
const SUBMIT: &str = "/admin/historical-data/jobs";
/// Where a cancel button posts.
const CANCEL: &str = "/admin/historical-data/cancel";
/// The live stream of the page's active jobs (`?ids=a,b`).
const EVENTS: &str = "/admin/historical-data/events";
/// Jobs one stream follows at most.
const STREAM_JOBS: usize = 100;
/// How often the stream looks at its jobs.
const STREAM_TICK: std::time::Duration = std::time::Duration::from_millis(250);
/// Jobs listed in the history.
const HISTORY: i64 = 50;
/// Failures listed per job.
const FAILURES_SHOWN: usize = 10;

pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(HISTORICAL, get(page))
        .route(SUBMIT, post(submit))
        .route(CANCEL, post(cancel))
        .route(EVENTS, get(events))
}

/// `?ids=`
#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    ids: String,
}

/// A `job` event (the job's state, as `/api/jobs/{id}/events` sends it) whenever one of the jobs changes; the
/// stream ends when all have ended.
async fn events(
    _session: Session,
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let ids: Vec<String> = q.ids.split(',').filter(|s| !s.is_empty()).take(STREAM_JOBS).map(str::to_string).collect();
    // Per job: the last change sent, and whether it ended; then whether the final `end` event went out.
    let seen: Vec<(Option<chrono::DateTime<chrono::Utc>>, bool)> = vec![(None, false); ids.len()];
    let stream = futures_util::stream::unfold((state, ids, seen, false), |(state, ids, mut seen, done)| async move {
        loop {
            if done {
                return None;
            }
            // Every job ended (or vanished): say so, so the page stops listening rather than reconnect.
            if seen.iter().all(|(_, ended)| *ended) {
                return Some((Ok(Event::default().event("end").data("")), (state, ids, seen, true)));
            }
            for (i, id) in ids.iter().enumerate() {
                if seen[i].1 {
                    continue;
                }
                match state.cache.store().job(id).await {
                    Ok(Some(job)) if seen[i].0 != Some(job.updated_at) => {
                        seen[i] = (Some(job.updated_at), job.status.is_final());
                        let event = Event::default().event("job").data(crate::api::job_json(job));
                        return Some((Ok(event), (state, ids, seen, false)));
                    }
                    Ok(Some(_)) => {}
                    // Gone: its part of the stream ends. The store down for now: try again next tick.
                    Ok(None) => seen[i].1 = true,
                    Err(e) => tracing::debug!(error = %e, "console: job stream cannot read the store"),
                }
            }
            tokio::time::sleep(STREAM_TICK).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `?flash=&job=`
#[derive(Deserialize)]
struct PageQuery {
    flash: Option<String>,
    job: Option<String>,
}

async fn page(session: Session, State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let jobs = match state.cache.store().jobs(None, HISTORY).await {
        Ok(j) => j,
        Err(e) => return pages::unavailable("reading the jobs", &e),
    };
    let flash = match (q.flash.as_deref(), q.job.as_deref()) {
        (Some("submitted"), Some(id)) => Some(format!("Job {id} submitted.")),
        (Some("cancelled"), Some(id)) => Some(format!("Cancellation of job {id} asked.")),
        _ => None,
    };
    pages::ok(layout("Historical data", Some(&session), body(&session, &state, &jobs, flash.as_deref(), None)))
}

fn body(session: &Session, state: &AppState, jobs: &[JobRow], flash: Option<&str>, error: Option<&str>) -> Markup {
    let snap = state.cache.snapshot();
    let (active, done): (Vec<&JobRow>, Vec<&JobRow>) = jobs.iter().partition(|j| !j.status.is_final());
    let groups = |kind| snap.groups_of(kind).map(|g| g.name.to_string()).collect::<Vec<_>>();
    let (universes, etfs) = (groups(GroupKind::Universe), groups(GroupKind::Etf));
    let cache: Vec<String> = snap.cache_universes().iter().map(|c| format!("{}:{}", c.kind.as_str(), c.key)).collect();
    html! {
        h1 { "Historical data" }
        @if let Some(f) = flash { p.flash role="status" { (f) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        section {
            h2 { "Load bars" }
            form.load method="post" action=(SUBMIT) {
                input type="hidden" name="csrf" value=(session.csrf);
                fieldset {
                    legend { "Load type" }
                    label { input type="radio" name="load_type" value="universe" checked; " Universe" }
                    label { input type="radio" name="load_type" value="symbols"; " Symbols" }
                }
                label { "Universe "
                    select name="universe_key" {
                        optgroup label="Universes" { @for u in &universes { option value=(u) { (u) } } }
                        optgroup label="ETFs" { @for u in &etfs { option value=(u) { (u) } } }
                        @if !cache.is_empty() { optgroup label="cache_entries" { @for u in &cache { option value=(u) { (u) } } } }
                    }
                }
                label { "Symbols " input type="text" name="symbols" placeholder="AAPL, MSFT, NVDA" size="30"; }
                label { "Years " input type="number" name="years" value="1" min="0.01" max="100" step="any" size="4"; }
                fieldset {
                    legend { "Timeframes" }
                    @for tf in Timeframe::ALL {
                        label { input type="checkbox" name="timeframes" value=(tf.as_str()) checked[tf == Timeframe::Day]; " " (tf.as_str()) }
                    }
                }
                button type="submit" { "Start load" }
            }
        }
        (active_jobs(session, "Active jobs", "No job is queued or running.", &active))
        section {
            h2 { "Job history" }
            @if done.is_empty() { p { "No job has finished yet." } } @else {
                table.history {
                    tr { th { "Job" } th { "Type" } th { "Status" } th.num { "Symbols" } th.num { "Failed" } th.num { "Bars" } th { "Finished" } th { "Message" } }
                    @for j in &done {
                        tr {
                            td { code { (j.id) } } td { (j.job_type) } td.status { (j.status.as_str()) }
                            td.num { (j.counts.processed_symbols) "/" (j.counts.total_symbols) } td.num { (j.counts.failed_symbols) }
                            td.num { (j.counts.bars_loaded) }
                            td.when { (j.completed_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()) }
                            td { (j.message.as_deref().unwrap_or("")) (failures(j)) }
                        }
                    }
                }
            }
        }
    }
}

/// The active jobs, each with its Cancel button, and the live log the page's script fills from their events.
pub(super) fn active_jobs(session: &Session, title: &str, none: &str, active: &[&JobRow]) -> Markup {
    html! {
        section {
            h2 { (title) }
            @if active.is_empty() { p.none { (none) } }
            table.active {
                tr { th { "Job" } th { "Status" } th { "Progress" } th.num { "Done" } th.num { "Bars" } th { "Message" } th {} }
                @for j in active { (job_row(session, j)) }
            }
            h3 { "Live log" }
            ol.log id="log" aria-live="polite" {}
        }
    }
}

/// An active job's row: the script updates its status, progress, counts and message from the job's events.
fn job_row(session: &Session, j: &JobRow) -> Markup {
    let c = &j.counts;
    html! {
        tr data-job=(j.id) {
            td { code { (j.id) } br; small { (j.job_type) } }
            td.status { (j.status.as_str()) }
            td { progress max="100" value=(c.progress) {} " " span.pct { (c.progress) " %" } }
            td.num.symbols { (c.processed_symbols) "/" (c.total_symbols) }
            td.num.bars { (c.bars_loaded) }
            td.message { (j.message.as_deref().unwrap_or("")) }
            td {
                form.cancel method="post" action=(CANCEL) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="id" value=(j.id);
                    button type="submit" { "Cancel" }
                }
            }
        }
    }
}

/// A finished job's failed tasks (the first few, and how many more).
fn failures(j: &JobRow) -> Markup {
    let list = j.failures.as_ref().and_then(|f| f.as_array()).cloned().unwrap_or_default();
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    html! {
        @if !list.is_empty() {
            ul.failures {
                @for f in list.iter().take(FAILURES_SHOWN) { li { (text(f, "what")) " " (text(f, "timeframe")) ": " (text(f, "reason")) } }
                @if list.len() > FAILURES_SHOWN { li { "… and " (list.len() - FAILURES_SHOWN) " more" } }
            }
        }
    }
}

/// The form, as pairs (the timeframes repeat).
fn pairs(body: &Bytes) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

async fn submit(session: Session, State(state): State<AppState>, body: Bytes) -> Response {
    let form = pairs(&body);
    if !session.accepts(field(&form, "csrf")) {
        return super::csrf_refused();
    }
    let target = if field(&form, "load_type") == "symbols" {
        let list: Vec<String> = field(&form, "symbols")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Err(list)
    } else {
        Ok(field(&form, "universe_key").trim().to_string())
    };
    let timeframes: Vec<String> = form.iter().filter(|(k, _)| k == "timeframes").map(|(_, v)| v.clone()).collect();
    let years = match field(&form, "years").trim() {
        "" => None,
        y => match y.parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                return refused(&session, &state, StatusCode::BAD_REQUEST, &format!("years: {y:?} is not a number"))
                    .await;
            }
        },
    };
    if timeframes.is_empty() {
        return refused(&session, &state, StatusCode::BAD_REQUEST, "timeframes: choose at least one").await;
    }
    match crate::api::submit_from_console(&state, target, timeframes, years).await {
        Ok(s) => {
            tracing::info!(job_id = %s.job_id, symbols = s.symbol_count, "console: job submitted");
            let q = query(&[("flash", "submitted"), ("job", &s.job_id)]);
            Redirect::to(&format!("{HISTORICAL}?{q}")).into_response()
        }
        Err(e) => refused(&session, &state, e.status(), &e.to_string()).await,
    }
}

/// The page again with the reason a submission was refused (nothing was queued).
async fn refused(session: &Session, state: &AppState, status: StatusCode, why: &str) -> Response {
    let jobs = state.cache.store().jobs(None, HISTORY).await.unwrap_or_default();
    let body = body(session, state, &jobs, None, Some(&format!("Not submitted: {why}")));
    pages::respond(status, layout("Historical data", Some(session), body))
}

/// The cancel button's form.
#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

async fn cancel(session: Session, State(state): State<AppState>, axum::Form(f): axum::Form<CancelForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return super::csrf_refused();
    }
    match crate::api::cancel_job(&state, &f.id).await {
        Ok(Some(job)) => {
            tracing::info!(job_id = %job.id, status = job.status.as_str(), "console: job cancellation asked");
            let q = query(&[("flash", "cancelled"), ("job", &job.id)]);
            Redirect::to(&format!("{HISTORICAL}?{q}")).into_response()
        }
        Ok(None) => pages::refusal(StatusCode::NOT_FOUND, "No such job", &format!("There is no job {:?}.", f.id)),
        Err(e) => pages::unavailable("cancelling the job", &e),
    }
}
