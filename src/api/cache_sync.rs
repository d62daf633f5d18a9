//! `/api/processing/cache-sync/*` (X-API-Key): TickStock's cache-sync API as its pipeline offered it — trigger a
//! sync (queued as a `cache_sync` job for the workers), follow it, list past runs, and the statistics its admin
//! page shows. Shapes as in TickStock's Sprint 36 integration document; job status values mapped onto its
//! `pending` / `running` / `completed` / `failed`.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::AdminKey;
use super::{ApiError, AppState, Problem};
use crate::domain::JobStatus;
use crate::jobs::sync_job::{self, CACHE_SYNC, SyncJobSpec};
use crate::store::JobRow;
use crate::sync::daily::SyncMode;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trigger))
        .routes(routes!(status))
        .routes(routes!(history))
        .routes(routes!(stats))
}

/// `{mode, force}`
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerRequest {
    /// `full` (default), `market_cap`, `themes`, `ipos` or `delistings`.
    mode: Option<String>,
    /// Apply even when more than 5 % of the active symbols would be delisted.
    force: Option<bool>,
}

/// `202 {success, job_id, mode, message}`
#[derive(Serialize, ToSchema)]
pub(super) struct TriggerResponse {
    success: bool,
    job_id: String,
    mode: String,
    message: String,
}

fn internal(e: crate::store::StoreError) -> ApiError {
    ApiError::Internal(e.into())
}

/// Queues a sync for the workers.
#[utoipa::path(post, path = "/api/processing/cache-sync/trigger", tag = "cache-sync", security(("api_key" = [])),
    request_body = TriggerRequest,
    responses((status = 202, body = TriggerResponse),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn trigger(
    _key: AdminKey,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<TriggerResponse>), ApiError> {
    // TickStock always sends a JSON body; an empty one means the defaults.
    let req: TriggerRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("request body: {e}")))?
    };
    let raw = req.mode.as_deref().unwrap_or("full");
    let mode = SyncMode::parse(raw).ok_or_else(|| {
        ApiError::BadRequest(format!("mode {raw:?}: expected full, market_cap, themes, ipos or delistings"))
    })?;
    let store = state.cache.store();
    let submitted = sync_job::submit(store, mode, req.force.unwrap_or(false), "api").await.map_err(|e| {
        tracing::error!(error = %e, "cache sync trigger: the database is unavailable");
        ApiError::Unavailable("the job store is unavailable; the server log has the details".into())
    })?;
    super::jobs::hand_over(&state, &submitted.job_id).await;
    let message = format!("Cache synchronization ({}) started", mode.as_str());
    let body = TriggerResponse { success: true, job_id: submitted.job_id, mode: mode.as_str().into(), message };
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// What every view of a sync job says.
#[derive(Serialize, ToSchema)]
pub(super) struct SyncSummary {
    job_id: String,
    mode: String,
    /// `pending`, `running`, `completed` or `failed` (a cancelled sync is `failed`, saying so).
    status: &'static str,
    created_at: DateTime<Utc>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
    duration_seconds: Option<f64>,
    /// `api`, `scheduler`, `cli`.
    triggered_by: String,
}

/// A sync job as TickStock's page reads it.
#[derive(Serialize, ToSchema)]
pub(super) struct SyncStatus {
    #[serde(flatten)]
    summary: SyncSummary,
    /// Why it failed.
    error_details: Option<String>,
    /// While running: `{current_task, tasks_done, tasks_total, percent, message}`.
    progress: Option<Value>,
    /// When completed: the run's summary (run id, counts per step, universes updated, total changes).
    result: Option<Value>,
    /// The last message.
    message: Option<String>,
}

/// One line of the history.
#[derive(Serialize, ToSchema)]
pub(super) struct SyncHistoryItem {
    #[serde(flatten)]
    summary: SyncSummary,
    has_errors: bool,
}

fn tickstock_status(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Queued => "pending",
        JobStatus::Running | JobStatus::Cancelling => "running",
        JobStatus::Completed | JobStatus::CompletedWithErrors => "completed",
        JobStatus::Failed | JobStatus::Cancelled => "failed",
    }
}

fn duration(j: &JobRow) -> Option<f64> {
    let (from, to) = (j.started_at?, j.completed_at?);
    Some(((to - from).num_milliseconds() as f64 / 1000.0 * 1000.0).round() / 1000.0)
}

impl From<&JobRow> for SyncSummary {
    fn from(j: &JobRow) -> SyncSummary {
        let (mode, triggered_by) = match serde_json::from_value::<SyncJobSpec>(j.spec.clone()) {
            Ok(s) => (s.mode.as_str().into(), s.triggered_by),
            Err(_) => ("unknown".into(), "unknown".into()),
        };
        SyncSummary {
            job_id: j.id.clone(),
            mode,
            status: tickstock_status(j.status),
            created_at: j.created_at,
            start_time: j.started_at,
            end_time: j.completed_at,
            duration_seconds: duration(j),
            triggered_by,
        }
    }
}

impl From<JobRow> for SyncStatus {
    fn from(j: JobRow) -> SyncStatus {
        let running = matches!(j.status, JobStatus::Running | JobStatus::Cancelling);
        let progress = running.then(|| {
            serde_json::json!({
                "current_task": j.counts.current_symbol,
                "tasks_done": j.counts.tasks_done,
                "tasks_total": j.counts.tasks_total,
                "percent": j.counts.progress,
                "message": j.message,
            })
        });
        let error_details = match j.status {
            JobStatus::Failed => j.message.clone(),
            JobStatus::Cancelled => Some(format!("cancelled: {}", j.message.clone().unwrap_or_default())),
            _ => None,
        };
        SyncStatus { summary: SyncSummary::from(&j), error_details, progress, result: j.result, message: j.message }
    }
}

/// One sync job.
#[utoipa::path(get, path = "/api/processing/cache-sync/status/{job_id}", tag = "cache-sync",
    security(("api_key" = [])), params(("job_id" = String, Path, description = "The id the trigger returned")),
    responses((status = 200, body = SyncStatus), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn status(
    _key: AdminKey,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<SyncStatus>, ApiError> {
    let Path(id) = path?;
    let job = state.cache.store().job(&id).await.map_err(internal)?;
    match job {
        Some(j) if j.job_type == CACHE_SYNC => Ok(Json(j.into())),
        _ => Err(ApiError::NotFound(format!("no cache sync job {id:?}"))),
    }
}

/// `?limit=&offset=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    /// At most this many (default 10, at most 1000).
    limit: Option<i64>,
    /// Skip this many, newest first (default 0).
    offset: Option<i64>,
}

/// `{jobs, total, limit, offset}`
#[derive(Serialize, ToSchema)]
pub(super) struct SyncHistory {
    jobs: Vec<SyncHistoryItem>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// Past and current syncs, newest first.
#[utoipa::path(get, path = "/api/processing/cache-sync/history", tag = "cache-sync", security(("api_key" = [])),
    params(HistoryQuery),
    responses((status = 200, body = SyncHistory), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn history(
    _key: AdminKey,
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<SyncHistory>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (limit, offset) = (q.limit.unwrap_or(10), q.offset.unwrap_or(0));
    if !(1..=1000).contains(&limit) || offset < 0 {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and 1000 and offset at least 0, got limit {limit}, offset {offset}"
        )));
    }
    let (rows, total) = state.cache.store().jobs_of_type(CACHE_SYNC, limit, offset).await.map_err(internal)?;
    let jobs = rows
        .into_iter()
        .map(|j| SyncHistoryItem {
            summary: SyncSummary::from(&j),
            has_errors: matches!(j.status, JobStatus::Failed | JobStatus::Cancelled),
        })
        .collect();
    Ok(Json(SyncHistory { jobs, total, limit, offset }))
}

/// A universe row's size.
#[derive(Serialize, ToSchema)]
pub(super) struct UniverseStat {
    /// The row's key (`mega_cap`, `index_sp500`).
    universe: String,
    /// Its category (`market_cap`, `Indexes`, …: the row's name column).
    #[serde(rename = "type")]
    kind: String,
    symbol_count: usize,
    last_updated: Option<chrono::NaiveDateTime>,
}

/// The last seven days of syncs.
#[derive(Serialize, ToSchema)]
pub(super) struct JobStatistics {
    total_jobs_7d: usize,
    successful_jobs_7d: usize,
    failed_jobs_7d: usize,
    avg_duration_seconds: Option<f64>,
}

/// `{universes, job_statistics}`
#[derive(Serialize, ToSchema)]
pub(super) struct SyncStats {
    universes: Vec<UniverseStat>,
    job_statistics: JobStatistics,
}

/// The universe rows the sync maintains, and the last week's runs.
#[utoipa::path(get, path = "/api/processing/cache-sync/stats", tag = "cache-sync", security(("api_key" = [])),
    responses((status = 200, body = SyncStats), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn stats(_key: AdminKey, State(state): State<AppState>) -> Result<Json<SyncStats>, ApiError> {
    let store = state.cache.store();
    let env = state.cache.environment();
    let kinds = ["stock_universe", "etf_universe"];
    let rows = store.cache_rows(env, &kinds).await.map_err(internal)?;
    let stamps = store.cache_fingerprints(env, &kinds).await.map_err(internal)?;
    let universes = rows
        .into_iter()
        .map(|(t, name, key, value)| UniverseStat {
            symbol_count: value.as_ref().and_then(crate::universes::cache_value_symbols).map_or(0, |s| s.len()),
            last_updated: stamps
                .iter()
                .find(|f| f.kind == t && f.name == name && f.key == key)
                .and_then(|f| f.updated_at),
            universe: key,
            kind: name,
        })
        .collect();
    let since = Utc::now() - chrono::Duration::days(7);
    let (recent, _) = store.jobs_of_type(CACHE_SYNC, 10_000, 0).await.map_err(internal)?;
    let recent: Vec<&JobRow> = recent.iter().filter(|j| j.created_at >= since).collect();
    let durations: Vec<f64> = recent.iter().filter_map(|j| duration(j)).collect();
    let job_statistics = JobStatistics {
        total_jobs_7d: recent.len(),
        successful_jobs_7d: recent.iter().filter(|j| tickstock_status(j.status) == "completed").count(),
        failed_jobs_7d: recent.iter().filter(|j| tickstock_status(j.status) == "failed").count(),
        avg_duration_seconds: (!durations.is_empty())
            .then(|| (durations.iter().sum::<f64>() / durations.len() as f64 * 1000.0).round() / 1000.0),
    };
    Ok(Json(SyncStats { universes, job_statistics }))
}
