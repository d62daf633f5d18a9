//! The relationships dashboard (`/admin/relationships`, TickStock's admin page): counts, the snapshot's version,
//! age and hit rate, recent activity (the last load per source, the last organize, sync and job), the data-quality
//! alerts of the latest stored validation with links to what they name, sector coverage over time as a chart;
//! quick actions (refresh the cache, run validate) and the relationship report to download as HTML, Markdown or
//! JSON (`relationship_breakdown_YYYYMMDD.<ext>`, as the seeds name their reports).

use std::sync::Mutex;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::pages::{self, layout};
use super::session::Session;
use super::universes::{group_href, stock_href};
use super::uploads::run_href;
use super::{CsrfForm, csrf_refused};
use crate::api::AppState;
use crate::cache::Snapshot;
use crate::domain::{GroupKind, RunKind};
use crate::quality::alerts::Outcome;
use crate::store::{JobRow, RunRow, ValidationRow};

/// The dashboard's path (TickStock's relationships admin page).
pub(crate) const DASHBOARD: &str = "/admin/relationships";
const REFRESH: &str = "/admin/console/refresh";
const VALIDATE: &str = "/admin/console/validate";
/// The report, `.html`, `.md` or `.json`.
const REPORT: &str = "/admin/relationships/report";

/// Runs read for the recent activity.
const RUNS_READ: i64 = 200;
/// Sources listed with their last load.
const SOURCES_SHOWN: usize = 8;
/// Days of the sector coverage chart (the latest days the classification changed).
const COVERAGE_DAYS: usize = 30;
/// Items of an alert linked at most.
const ALERT_ITEMS: usize = 10;

pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(DASHBOARD, get(dashboard))
        .route(REFRESH, post(refresh))
        .route(VALIDATE, post(validate))
        .route(&format!("{REPORT}/{{file}}"), get(report))
}

/// `?flash=` after an action.
#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
}

/// What the database gives the dashboard.
struct Stored {
    runs: Vec<RunRow>,
    jobs: Vec<JobRow>,
    validations: Vec<ValidationRow>,
}

async fn stored(state: &AppState) -> Result<Stored, crate::store::StoreError> {
    let store = state.cache.store();
    Ok(Stored {
        runs: store.runs(RUNS_READ).await?,
        jobs: store.jobs(None, 5).await?,
        validations: store.validations(state.cache.environment(), 2).await?,
    })
}

async fn dashboard(session: Session, State(state): State<AppState>, Query(q): Query<FlashQuery>) -> Response {
    let snap = state.cache.snapshot();
    let stats = state.cache.stats();
    let stored = match stored(&state).await {
        Ok(s) => s,
        Err(e) => return pages::unavailable("reading the runs, jobs and validations", &e),
    };
    let flash = match q.flash.as_deref() {
        Some("refreshed") => Some(format!("Cache refreshed: version {}.", snap.version)),
        Some("validated") => Some("Validation done: its result is below.".to_string()),
        _ => None,
    };
    let c = snap.counts();
    let counts = [
        ("ETFs", c.etfs),
        ("Stocks and other symbols", c.symbols),
        ("Sectors", c.sectors),
        ("Themes", c.themes),
        ("Universes", c.universes),
        ("Cache universes (cache_entries)", c.cache_universes),
        ("Memberships", c.memberships),
    ];
    let coverage = coverage_chart(&snap);
    let body = html! {
        h1 { "Relationships dashboard" }
        @if let Some(f) = &flash { p.flash role="status" { (f) } }
        div.columns {
            section {
                h2 { "Counts" }
                table.counts { @for (label, n) in counts { tr { th { (label) } td.num { (n) } } } }
            }
            section {
                h2 { "Snapshot" }
                p {
                    "Version " strong.version { (snap.version) } ", built " (snap.built_at.format("%Y-%m-%d %H:%M:%S UTC"))
                    " (" (format!("{:.0}", stats.age_seconds)) " s ago). Cache hit rate "
                    (format!("{:.1} %", stats.hit_rate)) " over " (stats.lookups) " lookups."
                }
                div.actions {
                    form method="post" action=(REFRESH) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Refresh cache" }
                    }
                    form method="post" action=(VALIDATE) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Run validate" }
                    }
                }
                p.downloads { "Report: "
                    @for (ext, label) in [("html", "HTML"), ("md", "Markdown"), ("json", "JSON")] {
                        a href=(format!("{REPORT}/{}", report_name(ext))) download { (label) } " "
                    }
                }
            }
        }
        (alerts(&snap, &stored.validations))
        section {
            h2 { "Sector coverage over time" }
            @match coverage { Some(svg) => div.chart { (svg) }, None => p { "No sector history yet." } }
        }
        (activity(&stored.runs, &stored.jobs))
    };
    pages::ok(layout("Dashboard", Some(&session), body))
}

/// The latest validation's checks that did not pass, what changed since the one before, and links to the items.
fn alerts(snap: &Snapshot, validations: &[ValidationRow]) -> Markup {
    let Some(latest) = validations.first() else {
        return html! { section.alerts { h2 { "Data-quality alerts" } p { "No validation has run yet: " em { "Run validate" } " above." } } };
    };
    let changes =
        crate::quality::alerts::compare(validations.get(1), latest.unknown_share, latest.integrity, &latest.checks);
    let flagged: Vec<_> = latest.checks.iter().filter(|c| c.level != "PASS").collect();
    html! {
        section.alerts {
            h2 { "Data-quality alerts" }
            p { "Validated " (latest.checked_at.format("%Y-%m-%d %H:%M UTC")) ": " strong class=(latest.result.to_lowercase()) { (latest.result) }
                ", " (format!("{:.0} %", latest.integrity)) " of checks pass"
                @if let Some(s) = latest.unknown_share { ", " (format!("{s:.2} %")) " of classified stocks in unknown" } "." }
            @if !changes.is_empty() {
                ul.changes { @for c in &changes { li { (c) } } }
            }
            @if flagged.is_empty() { p { "Every check passes." } } @else {
                table.alerts {
                    tr { th { "Level" } th { "Check" } th { "Detail" } th { "Items" } }
                    @for c in flagged {
                        tr class=(c.level.to_lowercase()) {
                            td.level { (c.level) } td { (c.title) } td { (c.detail) }
                            td { @for (i, item) in c.items.iter().take(ALERT_ITEMS).enumerate() { @if i > 0 { ", " } (item_link(snap, item)) }
                                 @if c.count > ALERT_ITEMS.min(c.items.len()) { " … " (c.count - ALERT_ITEMS.min(c.items.len())) " more" } }
                        }
                    }
                }
            }
        }
    }
}

/// An alert's item as a link: a symbol's page, or a group's (`TYPE name` or a name), else the text.
fn item_link(snap: &Snapshot, item: &str) -> Markup {
    if let Some(id) = snap.symbol_id(item) {
        return html! { a href=(stock_href(&snap.symbol(id).ticker)) { (item) } };
    }
    let (kind, name) = item.split_once(' ').map_or((None, item), |(k, n)| (GroupKind::parse(k), n));
    let group = match kind {
        Some(k) => snap.group_named(k, name),
        None => GroupKind::ALL.into_iter().find_map(|k| snap.group_named(k, name)),
    };
    match group {
        Some(g) => html! { a href=(group_href(g.kind, &g.name)) { (item) } },
        None => html! { (item) },
    }
}

/// The last load per kind and source, the last organize and sync, the latest jobs.
fn activity(runs: &[RunRow], jobs: &[JobRow]) -> Markup {
    let loads: Vec<&RunRow> = {
        let mut seen = std::collections::HashSet::new();
        runs.iter()
            .filter(|r| !matches!(r.kind, RunKind::Organize | RunKind::Sync))
            .filter(|r| seen.insert((r.kind, r.source.as_str())))
            .take(SOURCES_SHOWN)
            .collect()
    };
    let last = |kind: RunKind| runs.iter().find(|r| r.kind == kind);
    let when = |r: &RunRow| r.finished_at.unwrap_or(r.started_at).format("%Y-%m-%d %H:%M UTC").to_string();
    html! {
        section {
            h2 { "Recent activity" }
            table.activity {
                tr { th { "What" } th { "Run" } th { "Status" } th { "When" } }
                @for (label, r) in [("Last organize", last(RunKind::Organize)), ("Last sync", last(RunKind::Sync))] {
                    tr { th { (label) } @match r {
                        Some(r) => { td { a href=(run_href(r.id)) { "#" (r.id) } } td { (r.status.as_str()) } td.when { (when(r)) } },
                        None => { td colspan="3" { "none yet" } },
                    } }
                }
            }
            h3 { "Last load per source" }
            @if loads.is_empty() { p { "No load has run yet." } } @else {
                table.runs {
                    tr { th { "Run" } th { "Kind" } th { "Source" } th { "Status" } th.num { "Added" } th.num { "Removed" } th { "When" } }
                    @for r in &loads {
                        tr {
                            td.num { a href=(run_href(r.id)) { (r.id) } } td { (r.kind.as_str()) } td.source { (r.source) }
                            td { (r.status.as_str()) } td.num { (r.added) } td.num { (r.removed) } td.when { (when(r)) }
                        }
                    }
                }
            }
            h3 { "Recent jobs" }
            @if jobs.is_empty() { p { "No job yet." } } @else {
                table.jobs {
                    tr { th { "Job" } th { "Type" } th { "Status" } th { "Message" } }
                    @for j in jobs {
                        tr { td { code { (j.id) } } td { (j.job_type) } td { (j.status.as_str()) } td { (j.message.as_deref().unwrap_or("")) } }
                    }
                }
            }
        }
    }
}

/// The chart of one snapshot, kept until the next (the dashboard's most expensive part; a few ms at peer scale),
/// keyed by the snapshot itself (its address, build instant and tag: servers of one process each have theirs).
static COVERAGE: Mutex<Option<(String, Option<String>)>> = Mutex::new(None);

/// Sector coverage at the end of the latest days the classification changed, from the snapshot's history.
fn coverage_chart(snap: &Snapshot) -> Option<PreEscaped<String>> {
    let mut memo = COVERAGE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key =
        format!("{:p} {} {}", std::ptr::from_ref(snap), snap.built_at.timestamp_nanos_opt().unwrap_or(0), snap.etag);
    if let Some((k, svg)) = memo.as_ref()
        && *k == key
    {
        return svg.clone().map(PreEscaped);
    }
    let histories: Vec<(&str, &crate::cache::GroupHistory)> = snap
        .groups_of(GroupKind::Sector)
        .filter_map(|g| snap.history().of(GroupKind::Sector, &g.name).map(|h| (&*g.name, h)))
        .collect();
    let mut days: Vec<chrono::NaiveDate> =
        histories.iter().flat_map(|(_, h)| h.changes.iter().map(|t| t.date_naive())).collect();
    days.sort_unstable();
    days.dedup();
    let days = &days[days.len().saturating_sub(COVERAGE_DAYS)..];
    let svg = (!days.is_empty()).then(|| {
        let points: Vec<(String, f64)> = days
            .iter()
            .map(|d| {
                let intervals = histories
                    .iter()
                    .flat_map(|(name, h)| h.intervals.iter().map(move |i| (*name, &*i.symbol, i.from, i.to)));
                let p = crate::report::coverage_on(*d, intervals);
                (d.format("%m-%d").to_string(), p.coverage)
            })
            .collect();
        crate::report::line_chart("sector coverage over time", &points)
    });
    *memo = Some((key, svg.clone()));
    svg.map(PreEscaped)
}

async fn refresh(session: Session, State(state): State<AppState>, Form(f): Form<CsrfForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return csrf_refused();
    }
    match state.cache.refresh().await {
        Ok(_) => Redirect::to(&format!("{DASHBOARD}?flash=refreshed")).into_response(),
        Err(e) => pages::unavailable("refreshing the cache (the previous snapshot keeps serving)", &e),
    }
}

/// Runs the checks and stores the result (no webhook: alerts are pushed by `validate --alert-webhook` and by the
/// scheduled validation, which compare with the last run they delivered).
async fn validate(session: Session, State(state): State<AppState>, Form(f): Form<CsrfForm>) -> Response {
    if !session.accepts(&f.csrf) {
        return csrf_refused();
    }
    let env = state.cache.environment();
    let opts = crate::quality::Options::default();
    match crate::quality::alerts::validate_and_alert(state.cache.store(), env, opts, None, None).await {
        Ok(Some(Outcome { not_stored: Some(why), .. })) => pages::unavailable("storing the validation", &why),
        Ok(_) => Redirect::to(&format!("{DASHBOARD}?flash=validated")).into_response(),
        Err(e) => pages::unavailable("validating", &e),
    }
}

/// `relationship_breakdown_YYYYMMDD.<ext>`, today (UTC).
fn report_name(ext: &str) -> String {
    format!("relationship_breakdown_{}.{ext}", chrono::Utc::now().format("%Y%m%d"))
}

/// The relationship report with detail, as a download.
async fn report(_session: Session, State(state): State<AppState>, Path(file): Path<String>) -> Response {
    use crate::report::Format;
    let (format, content_type) = match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => (Format::Html, "text/html; charset=utf-8"),
        Some("md") => (Format::Markdown, "text/markdown; charset=utf-8"),
        Some("json") => (Format::Json, "application/json"),
        _ => {
            return pages::refusal(StatusCode::NOT_FOUND, "No such report", "The report comes as .html, .md or .json.");
        }
    };
    let report = match crate::report::gather(state.cache.store(), state.cache.environment(), true).await {
        Ok(r) => r,
        Err(e) => return pages::unavailable("gathering the report", &e),
    };
    let name = report_name(file.rsplit_once('.').map_or("txt", |(_, e)| e));
    pages::download(&name, content_type, crate::report::render(&report, format))
}
