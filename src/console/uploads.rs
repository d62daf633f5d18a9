//! Uploads and the audit trail: a file of a kind (holdings, universes, sectors, themes, symbols) is first loaded
//! as a dry run — the page shows the diff (added, removed, changed and skipped rows) or every problem with its
//! line and field, and nothing is written but the dry run's record — then applied only on confirmation, through
//! the same loader, gates and run records as `universe load`. The runs page lists load runs with their details
//! and rolls one back after a confirmation, showing a refusal in the CLI's words.
//!
//! The confirmation carries the file back (base64 in the form) with a signature over it and its kind, fund, name
//! and file name (HMAC with the session key): no server-side state, so any replica can apply it, and what is
//! applied is exactly what was previewed.

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use maud::{Markup, html};
use serde::Deserialize;

use super::pages::{self, layout};
use super::session::Session;
use super::universes::{group_href, query};
use crate::api::AppState;
use crate::domain::RunKind;
use crate::load::{Input, LoadError, LoadKind, LoadReport, LoadRequest, Mode};
use crate::store::RunRow;

/// The upload form.
pub(super) const UPLOADS: &str = "/admin/uploads";
/// Where the form posts: the dry run.
const PREVIEW: &str = "/admin/uploads/preview";
/// Where the confirmation posts.
const APPLY: &str = "/admin/uploads/apply";
/// The runs list and one run (`?id=`).
pub(super) const RUNS: &str = "/admin/runs";
/// A rollback: its confirmation (GET) and the act (POST).
const ROLLBACK: &str = "/admin/runs/rollback";

/// The largest file the console takes (larger loads belong to the CLI, which streams them).
pub(super) const MAX_UPLOAD: usize = 16 * 1024 * 1024;
/// The request size allowed on the upload routes: the file, base64 in the confirmation (URL-safe, so the form
/// encoding adds nothing), and the form around it.
pub(crate) const UPLOAD_BODY_LIMIT: usize = MAX_UPLOAD / 3 * 4 + 64 * 1024;
/// The paths whose requests carry files (the HTTP layer lets a logged-in operator's bodies there be larger).
pub(crate) const UPLOAD_PATHS: [&str; 2] = [PREVIEW, APPLY];

/// The confirmation's encoding of the file: URL-safe, so a form post carries it unescaped.
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Runs listed.
const RUNS_LISTED: i64 = 100;

/// The kinds a file can be, as the CLI names them, with what each is.
const KINDS: [(LoadKind, &str, &str); 5] = [
    (LoadKind::Holdings, "holdings", "ETF holdings (one fund per file)"),
    (LoadKind::Universes, "universes", "index universe members (one universe per file)"),
    (LoadKind::Sectors, "sectors", "sector classifications"),
    (LoadKind::Themes, "themes", "theme definitions"),
    (LoadKind::Symbols, "symbols", "symbol metadata"),
];

fn kind_of(s: &str) -> Option<LoadKind> {
    KINDS.iter().find(|(_, k, _)| *k == s).map(|(k, _, _)| *k)
}

pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(UPLOADS, get(form))
        .route(PREVIEW, post(preview))
        .route(APPLY, post(apply))
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
        .route(RUNS, get(runs))
        .route(ROLLBACK, get(confirm_rollback).post(rollback))
}

async fn form(session: Session) -> Response {
    pages::ok(layout("Uploads", Some(&session), upload_form(&session, &Upload::default())))
}

/// The form, filled with what was sent before (a refused upload is corrected, not typed again; the file excepted:
/// browsers never prefill one).
fn upload_form(session: &Session, sent: &Upload) -> Markup {
    let kind = sent.kind.as_str();
    html! {
        h1 { "Upload a file" }
        section {
            p { "The file is first loaded as a dry run: you see what it would change, then apply it or not. \
                 Files up to " (MAX_UPLOAD / 1024 / 1024) " MB; load larger ones with " code { "universe load" } "." }
            form.upload method="post" action=(PREVIEW) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Kind "
                    select name="kind" required {
                        @for (_, k, what) in KINDS { option value=(k) selected[k == kind] { (k) " — " (what) } }
                    }
                }
                label { "File " input type="file" name="file" required; }
                label { "ETF (holdings; else from the file) " input type="text" name="etf" size="8" value=(sent.etf); }
                label { "Universe name (else from the file name) " input type="text" name="name" size="16" value=(sent.name); }
                button type="submit" { "Preview" }
            }
        }
    }
}

/// What the upload form and the confirmation carry.
#[derive(Default, Deserialize)]
struct Upload {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    etf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    file_name: String,
    /// The file (base64) in the confirmation.
    #[serde(default)]
    content: String,
    /// The store's data version the preview was computed at: the apply refuses to run past it.
    #[serde(default)]
    version: i64,
    /// The signature of what was previewed ([`Upload::signature`]).
    #[serde(default)]
    signature: String,
}

impl Upload {
    /// HMAC-SHA256, under the session key, of the kind, fund, name, file name and the file's SHA-256: the
    /// confirmation applies only what was previewed.
    fn signature(&self, state: &AppState, bytes: &[u8]) -> String {
        use hmac::Mac;
        use sha2::Digest;
        let key = state.console_key().map(|k| k.signing().to_vec()).unwrap_or_default();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        for part in [&self.kind, &self.etf, &self.name, &self.file_name, &self.version.to_string()] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac.update(&sha2::Sha256::digest(bytes));
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn request(&self, kind: LoadKind, bytes: Vec<u8>, state: &AppState, mode: Mode) -> LoadRequest {
        let mut req =
            LoadRequest::new(kind, vec![Input::from_bytes(self.file_name.clone(), bytes)], state.cache.environment());
        req.mode = mode;
        req.etf = Some(self.etf.trim().to_string()).filter(|s| !s.is_empty());
        req.name = Some(self.name.trim().to_string()).filter(|s| !s.is_empty());
        req
    }
}

/// A page saying what is wrong with the request itself (no load ran).
fn bad_request(session: &Session, why: &str) -> Response {
    let body = html! { h1 { "Upload refused" } p.error role="alert" { (why) } p { a href=(UPLOADS) { "Back to the upload form" } } };
    pages::respond(StatusCode::BAD_REQUEST, layout("Upload refused", Some(session), body))
}

async fn preview(session: Session, State(state): State<AppState>, mut multipart: Multipart) -> Response {
    let mut up = Upload::default();
    let mut bytes = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad_request(&session, &format!("The upload could not be read: {}", e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            up.file_name = field.file_name().unwrap_or("upload").to_string();
            match field.bytes().await {
                Ok(b) => bytes = b.to_vec(),
                Err(e) => return bad_request(&session, &format!("The file could not be read: {}", e.body_text())),
            }
            continue;
        }
        let text = field.text().await.unwrap_or_default();
        match name.as_str() {
            "csrf" => up.csrf = text,
            "kind" => up.kind = text,
            "etf" => up.etf = text,
            "name" => up.name = text,
            _ => {}
        }
    }
    if !session.accepts(&up.csrf) {
        return super::csrf_refused();
    }
    let Some(kind) = kind_of(&up.kind) else { return bad_request(&session, &format!("Unknown kind {:?}.", up.kind)) };
    if up.file_name.is_empty() {
        return bad_request(&session, "Choose a file to upload.");
    }
    if bytes.len() > MAX_UPLOAD {
        return bad_request(
            &session,
            &format!("The file is over {} MB: load it with `universe load`.", MAX_UPLOAD >> 20),
        );
    }
    dry_run(&session, &state, up, kind, bytes, None).await
}

/// Runs the dry run and shows its diff with the confirmation, which carries the data version it was computed at
/// (`notice`: why the operator sees a preview again).
async fn dry_run(
    session: &Session,
    state: &AppState,
    mut up: Upload,
    kind: LoadKind,
    bytes: Vec<u8>,
    notice: Option<String>,
) -> Response {
    // Read before the diff: a change landing in between makes the apply preview again (never the reverse).
    up.version = match state.cache.store().data_version().await {
        Ok(v) => v,
        Err(e) => return pages::unavailable("reading the data version", &e),
    };
    up.signature = up.signature(state, &bytes);
    up.content = B64.encode(&bytes);
    let req = up.request(kind, bytes, state, Mode::DryRun);
    match crate::load::run(state.cache.store(), &req).await {
        Ok(report) => {
            let status = if notice.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
            pages::respond(status, preview_page(session, &up, &report, notice.as_deref()))
        }
        Err(e) => load_failed(session, &up, e),
    }
}

/// The dry run's diff and the confirmation.
fn preview_page(session: &Session, up: &Upload, r: &LoadReport, notice: Option<&str>) -> Markup {
    let t = &r.totals;
    // As the loader decides: a group it does not find unchanged is written (its row at least); symbol metadata
    // only when a row changes.
    let writes = r.groups.iter().any(|g| match g.kind.as_str() {
        "SYMBOLS" => g.counts.added + g.counts.changed > 0,
        _ => g.action != crate::load::Action::Unchanged,
    });
    let body = html! {
        h1 { "Preview: " (up.kind) " from " code { (up.file_name) } }
        @if let Some(n) = notice { p.error.changed role="alert" { (n) } }
        section.preview {
            p { "Dry run " a href=(run_href(r.run_id)) { "#" (r.run_id) } ": nothing was written but its record." }
            table.totals {
                tr { th { "Added" } th { "Removed" } th { "Changed" } th { "Unchanged" } th { "Skipped rows" } }
                tr { td.num.added { (t.added) } td.num.removed { (t.removed) } td.num.changed { (t.changed) } td.num { (t.unchanged) } td.num { (t.skipped) } }
            }
            @for n in &r.notes { p.note { (n) } }
        }
        section {
            h2 { "Groups" }
            table.groups {
                tr { th { "Type" } th { "Group" } th { "Action" } th.num { "Added" } th.num { "Removed" } th.num { "Changed" } th.num { "Unchanged" } }
                @for g in &r.groups {
                    tr {
                        td { (g.kind) } td { (g.name) } td { (action_str(g.action)) }
                        td.num { (g.counts.added) } td.num { (g.counts.removed) } td.num { (g.counts.changed) } td.num { (g.counts.unchanged) }
                    }
                    @if !g.diff.is_empty() {
                        tr.diff { td colspan="7" {
                            (ticker_list("Added", "added", &g.diff.added, g.counts.added))
                            (ticker_list("Removed", "removed", &g.diff.removed, g.counts.removed))
                            (ticker_list("Changed", "changed", &g.diff.changed, g.counts.changed))
                        } }
                    }
                }
            }
        }
        @if !r.skipped_rows.is_empty() {
            section {
                h2 { "Skipped rows" }
                table.skipped {
                    tr { th { "Line" } th { "Ticker" } th { "Why" } }
                    @for s in &r.skipped_rows { tr { td.num { (s.line) } td { (s.ticker) } td { (s.reason) } } }
                }
            }
        }
        section {
            @if writes {
                form.apply method="post" action=(APPLY) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="kind" value=(up.kind);
                    input type="hidden" name="etf" value=(up.etf);
                    input type="hidden" name="name" value=(up.name);
                    input type="hidden" name="file_name" value=(up.file_name);
                    input type="hidden" name="version" value=(up.version);
                    input type="hidden" name="signature" value=(up.signature);
                    input type="hidden" name="content" value=(up.content);
                    button type="submit" { "Apply this change" }
                    " " a href=(UPLOADS) { "Cancel" }
                }
            } @else {
                p { "Nothing to apply: the store already holds this file's content. " a href=(UPLOADS) { "Upload another" } }
            }
        }
    };
    layout("Preview", Some(session), body)
}

fn ticker_list(label: &str, class: &str, tickers: &[String], total: usize) -> Markup {
    html! {
        @if !tickers.is_empty() {
            p class=(class) {
                strong { (label) ": " }
                (tickers.join(", "))
                @if total > tickers.len() { " … and " (total - tickers.len()) " more" }
            }
        }
    }
}

fn action_str(a: crate::load::Action) -> String {
    serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A load that did not apply: every problem with its file, line and field; a refusal; or a storage failure.
fn load_failed(session: &Session, up: &Upload, e: LoadError) -> Response {
    let (status, body) = match e {
        LoadError::Invalid { problems, run_id } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                h1 { "The file has " (problems.len()) " problem" @if problems.len() != 1 { "s" } }
                p.error role="alert" { "Nothing was loaded."
                    @if let Some(id) = run_id { " The failed attempt is recorded as run " a href=(run_href(id)) { "#" (id) } "." } }
                section {
                    table.problems {
                        tr { th { "File" } th { "Line" } th { "Field" } th { "Reason" } }
                        @for p in &problems {
                            tr { td { (p.file) } td.num.line { (p.line.map(|l| l.to_string()).unwrap_or_default()) } td { (p.field.as_deref().unwrap_or("")) } td { (p.reason) } }
                        }
                    }
                }
                (upload_form(session, up))
            },
        ),
        LoadError::BreaksValidation(_) | LoadError::Refused(_) | LoadError::Changed { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! { h1 { "Not loaded" } p.error role="alert" { (e.to_string()) } (upload_form(session, up)) },
        ),
        LoadError::Store(e) => {
            tracing::error!(error = %e, "console: a load failed on the database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                html! { h1 { "Not loaded" } p.error role="alert" { "The database failed during the load; nothing was applied. Try again in a moment." } },
            )
        }
    };
    pages::respond(status, layout("Upload", Some(session), body))
}

async fn apply(session: Session, State(state): State<AppState>, axum::Form(up): axum::Form<Upload>) -> Response {
    if !session.accepts(&up.csrf) {
        return super::csrf_refused();
    }
    let Some(kind) = kind_of(&up.kind) else { return bad_request(&session, &format!("Unknown kind {:?}.", up.kind)) };
    let Ok(bytes) = B64.decode(up.content.as_bytes()) else {
        return bad_request(&session, "The confirmation does not carry the previewed file: upload it again.");
    };
    if !crate::api::same_secret(up.signature(&state, &bytes).as_bytes(), up.signature.as_bytes()) {
        return bad_request(
            &session,
            "This is not the upload previewed (the file or its settings changed): upload it again.",
        );
    }
    let mut req = up.request(kind, bytes, &state, Mode::Full);
    req.expect_version = Some(up.version);
    match crate::load::run(state.cache.store(), &req).await {
        Ok(report) => {
            if let Err(e) = state.cache.refresh().await {
                tracing::warn!(error = %e, "console: the cache could not refresh after a load; the watcher will");
            }
            tracing::info!(run.id = report.run_id, kind = up.kind, file = up.file_name, "console: upload applied");
            Redirect::to(&format!("{}&flash=applied", run_href(report.run_id))).into_response()
        }
        // Someone changed the data since the preview: what was confirmed is not what would apply. Show the diff
        // now, with a fresh confirmation.
        Err(e @ LoadError::Changed { .. }) => {
            let bytes = req.inputs.into_iter().next().map(|i| i.bytes).unwrap_or_default();
            let notice = format!("Not applied: {e}. This is the diff now; apply it if it is still what you want.");
            dry_run(&session, &state, up, kind, bytes, Some(notice)).await
        }
        Err(e) => load_failed(&session, &up, e),
    }
}

/// The link to a run's page.
pub(super) fn run_href(id: i64) -> String {
    format!("{RUNS}?id={id}")
}

/// `?id=&flash=`
#[derive(Deserialize)]
struct RunQuery {
    id: Option<i64>,
    flash: Option<String>,
}

fn db_unavailable(e: &crate::store::StoreError) -> Response {
    pages::unavailable("reading or writing the runs", e)
}

async fn runs(session: Session, State(state): State<AppState>, Query(q): Query<RunQuery>) -> Response {
    let store = state.cache.store();
    let Some(id) = q.id else {
        return match store.runs(RUNS_LISTED).await {
            Ok(runs) => {
                pages::ok(layout("Runs", Some(&session), html! { h1 { "Load runs" } section { (runs_table(&runs)) } }))
            }
            Err(e) => db_unavailable(&e),
        };
    };
    let run = match store.run(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return pages::refusal(StatusCode::NOT_FOUND, "No such run", &format!("There is no run {id}.")),
        Err(e) => return db_unavailable(&e),
    };
    let flash = match q.flash.as_deref() {
        Some("applied") => Some(format!("Applied as run {id}.")),
        Some("rolled_back") => {
            Some(format!("Rolled back: run {id} undid run {}.", run.rollback_of.unwrap_or_default()))
        }
        _ => None,
    };
    let body = html! {
        h1 { "Run " (run.id) }
        @if let Some(f) = flash { p.flash role="status" { (f) } }
        section { (runs_table(std::slice::from_ref(&run))) }
        @if let Some(e) = &run.error { section { h2 { "Error" } pre.error { (e) } } }
        @if let Some(groups) = run.details.as_ref().map(|d| &d.groups).filter(|g| !g.is_empty()) {
            section {
                h2 { "Groups" }
                table.groups {
                    tr { th { "Type" } th { "Group" } th { "Action" } th.num { "Added" } th.num { "Removed" } th.num { "Changed" } th.num { "Unchanged" } }
                    @for g in groups {
                        tr {
                            td { (g.kind.as_str()) } td { a href=(group_href(g.kind, &g.name)) { (g.name) } } td { (action_str(g.action)) }
                            td.num { (g.counts.added) } td.num { (g.counts.removed) } td.num { (g.counts.changed) } td.num { (g.counts.unchanged) }
                        }
                    }
                }
            }
        }
        @if run.status.applied() && run.rolled_back_by.is_none() && !matches!(run.kind, RunKind::Organize) {
            section { a.button href=(format!("{ROLLBACK}?{}", query(&[("id", &run.id.to_string())]))) { "Roll back…" } }
        }
    };
    pages::ok(layout(&format!("Run {id}"), Some(&session), body))
}

fn runs_table(runs: &[RunRow]) -> Markup {
    html! {
        @if runs.is_empty() { p { "No load has run yet." } } @else {
            table.runs {
                tr { th { "Run" } th { "Kind" } th { "Source" } th { "Mode" } th { "Status" } th.num { "Added" } th.num { "Removed" } th.num { "Changed" } th { "Started" } th { "Rollback" } }
                @for r in runs {
                    tr {
                        td.num { a href=(run_href(r.id)) { (r.id) } } td { (r.kind.as_str()) } td.source { (r.source) }
                        td { (r.mode) } td.status { (r.status.as_str()) } td.num { (r.added) } td.num { (r.removed) } td.num { (r.changed) }
                        td.when { (r.started_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                        td {
                            @if let Some(by) = r.rolled_back_by { "undone by " a href=(run_href(by)) { "#" (by) } }
                            @if let Some(of) = r.rollback_of { "undoes " a href=(run_href(of)) { "#" (of) } }
                        }
                    }
                }
            }
        }
    }
}

/// `?id=` / the rollback form.
#[derive(Deserialize)]
struct RollbackForm {
    id: i64,
    #[serde(default)]
    csrf: String,
}

/// The confirmation: what the rollback will undo.
async fn confirm_rollback(session: Session, State(state): State<AppState>, Query(f): Query<RollbackForm>) -> Response {
    let run = match state.cache.store().run(f.id).await {
        Ok(Some(r)) => r,
        Ok(None) => return pages::refusal(StatusCode::NOT_FOUND, "No such run", &format!("There is no run {}.", f.id)),
        Err(e) => return db_unavailable(&e),
    };
    let body = html! {
        h1 { "Roll back run " (run.id) "?" }
        section {
            p { "Run " (run.id) " (" (run.kind.as_str()) " from " code { (run.source) } ") added " (run.added) ", removed "
                (run.removed) " and changed " (run.changed) " rows. Rolling it back removes what it added, restores what it \
                removed or changed, and is itself recorded as a run (which can be rolled back in turn)." }
            form.rollback method="post" action=(ROLLBACK) {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="id" value=(run.id);
                button type="submit" { "Roll back run " (run.id) }
                " " a href=(run_href(run.id)) { "Cancel" }
            }
        }
    };
    pages::ok(layout("Roll back", Some(&session), body))
}

async fn rollback(
    session: Session,
    State(state): State<AppState>,
    axum::Form(f): axum::Form<RollbackForm>,
) -> Response {
    if !session.accepts(&f.csrf) {
        return super::csrf_refused();
    }
    match crate::load::rollback(state.cache.store(), f.id).await {
        Ok(report) => {
            if let Err(e) = state.cache.refresh().await {
                tracing::warn!(error = %e, "console: the cache could not refresh after a rollback; the watcher will");
            }
            Redirect::to(&format!("{}&flash=rolled_back", run_href(report.run_id))).into_response()
        }
        Err(LoadError::Store(e)) => db_unavailable(&e),
        Err(_) if matches!(state.cache.store().run(f.id).await, Ok(None)) => {
            pages::refusal(StatusCode::NOT_FOUND, "No such run", &format!("There is no run {}.", f.id))
        }
        // The CLI's words: which later runs to roll back first, why this kind is not rolled back, …
        Err(e) => pages::respond(
            StatusCode::CONFLICT,
            layout(
                "Rollback refused",
                Some(&session),
                html! { h1 { "Rollback refused" } p.error role="alert" { (e.to_string()) } p { a href=(run_href(f.id)) { "Back to run " (f.id) } } },
            ),
        ),
    }
}
