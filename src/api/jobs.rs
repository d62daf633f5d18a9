//! `/api/jobs`: submit data-load jobs, read their status and history, cancel them, and follow one live (Server-Sent
//! Events); plus TickStock's `POST /admin/historical-data/trigger-universe-load` shape. Submissions go to the
//! `jobs` table and, in production mode, straight into the Redis stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::AdminKey;
use super::{ApiError, AppState, Problem};
use crate::domain::JobStatus;
use crate::domain::{Ticker, Timeframe};
use crate::jobs::{self, JobSpec, JobType, SubmitError, Target};
use crate::store::JobRow;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit, list))
        .routes(routes!(status))
        .routes(routes!(cancel))
        .routes(routes!(events))
        .routes(routes!(trigger_universe_load))
}

/// A job submission: a universe key or symbols, timeframes, years; optionally point in time.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitRequest {
    /// Universe key (`dow30`, `nasdaq100:SPY`).
    universe_key: Option<String>,
    /// Symbols (instead of a key).
    symbols: Option<Vec<String>>,
    /// `1min`, `hour`, `day`, `week`, `month` (default `["day"]`).
    timeframes: Option<Vec<String>>,
    /// Years of history (default 1; fractional allowed).
    years: Option<f64>,
    /// Survivorship-free: every symbol that was a member of `universe_key` at any time from `from` to `to`, each
    /// for the days it was a member (plus `warmup_days` before).
    #[serde(default)]
    point_in_time: bool,
    /// With `point_in_time`: first date (default: `years` before `to`).
    from: Option<chrono::NaiveDate>,
    /// With `point_in_time`: last date (default: today, in New York; fixed when the job is submitted).
    to: Option<chrono::NaiveDate>,
    /// With `point_in_time`: days of bars before each membership starts.
    warmup_days: Option<i64>,
}

/// `202 {job_id, symbol_count}`
#[derive(Serialize, ToSchema)]
pub(super) struct SubmitResponse {
    /// The job's id.
    job_id: String,
    /// Symbols it loads.
    symbol_count: usize,
}

/// A job's state.
#[derive(Serialize, ToSchema)]
pub(super) struct JobView {
    /// The id it was submitted with (TickStock's `job_id`; the key of its Redis status hash).
    job_id: String,
    /// `csv_universe_load`, `historical_load`, … as submitted.
    job_type: String,
    /// queued, running, cancelling, completed, completed_with_errors, failed, cancelled.
    #[schema(value_type = String)]
    status: JobStatus,
    /// Percent of tasks done.
    progress: i32,
    /// Last message.
    message: Option<String>,
    /// Symbols the job loads (its universe resolved when it was submitted).
    total_symbols: i32,
    /// Symbols done.
    processed_symbols: i32,
    /// Symbols with a failed task.
    failed_symbols: i32,
    /// Symbol being loaded.
    current_symbol: Option<String>,
    /// Symbol × timeframe tasks in all (progress is tasks done over this).
    tasks_total: i32,
    /// Tasks done.
    tasks_done: i32,
    /// Bars written.
    ohlcv_records_loaded: i64,
    /// Failed tasks with reasons.
    failures: Value,
    /// Worker starts (more than 1 after a crash recovery).
    attempts: i32,
    /// When it was submitted.
    created_at: DateTime<Utc>,
    /// When a worker first took it (unset while queued).
    started_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    completed_at: Option<DateTime<Utc>>,
}

impl From<JobRow> for JobView {
    fn from(j: JobRow) -> JobView {
        let c = j.counts;
        JobView {
            job_id: j.id,
            job_type: j.job_type,
            status: j.status,
            progress: c.progress,
            message: j.message,
            total_symbols: c.total_symbols,
            processed_symbols: c.processed_symbols,
            failed_symbols: c.failed_symbols,
            current_symbol: c.current_symbol,
            tasks_total: c.tasks_total,
            tasks_done: c.tasks_done,
            ohlcv_records_loaded: c.bars_loaded,
            failures: j.failures.unwrap_or_else(|| Value::Array(Vec::new())),
            attempts: j.attempts,
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
        }
    }
}

/// A job list.
#[derive(Serialize, ToSchema)]
pub(super) struct JobList {
    /// Newest first.
    jobs: Vec<JobView>,
    /// Their number.
    total_count: usize,
}

fn spec_of(req: &SubmitRequest, job_type: JobType) -> Result<JobSpec, ApiError> {
    let target = match (&req.universe_key, &req.symbols) {
        (Some(k), _) if !k.trim().is_empty() => Target::UniverseKey(k.trim().to_string()),
        (_, Some(list)) if !list.is_empty() => Target::Symbols(
            list.iter()
                .map(|s| Ticker::parse(s).map_err(|e| ApiError::BadRequest(format!("symbols: {e}"))))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(ApiError::BadRequest("give universe_key or a non-empty symbols list".into())),
    };
    let timeframes = match &req.timeframes {
        None => vec![Timeframe::Day],
        Some(list) if list.is_empty() => return Err(ApiError::BadRequest("timeframes must not be empty".into())),
        Some(list) => {
            Timeframe::parse_list(&list.join(",")).map_err(|e| ApiError::BadRequest(format!("timeframes: {e}")))?
        }
    };
    let years = req.years.unwrap_or(1.0);
    if !(years > 0.0 && years <= 100.0) {
        return Err(ApiError::BadRequest(format!("years must be between 0 and 100, got {years}")));
    }
    let point_in_time = if req.point_in_time {
        if !matches!(target, Target::UniverseKey(_)) {
            return Err(ApiError::BadRequest("point_in_time needs a universe_key (a group with history)".into()));
        }
        let pit = crate::bars::PointInTime::for_job(req.from, req.to, years, req.warmup_days.unwrap_or(0))
            .map_err(|(field, why)| ApiError::BadRequest(format!("{field}: {why}")))?;
        Some(pit)
    } else {
        None
    };
    Ok(JobSpec {
        job_id: jobs::new_job_id(),
        job_type,
        target,
        timeframes,
        years,
        requested_by: Some("api".into()),
        point_in_time,
    })
}

/// Records a job and hands it to the workers. `trigger` (the universe key, and whether analysis follows) writes
/// the `submitted` status hash TickStock's route writes, before any worker can take the job.
async fn enqueue(state: &AppState, spec: JobSpec, trigger: Option<(&str, bool)>) -> Result<jobs::Submitted, ApiError> {
    let store = state.cache.store();
    let submitted = jobs::submit(store, state.jobs.environment, spec, state.jobs.csv_dir.as_deref()).await.map_err(
        |e| match e {
            e @ SubmitError::UnknownUniverse(_) => ApiError::NotFound(e.to_string()),
            SubmitError::Invalid(m) => ApiError::BadRequest(m),
            SubmitError::Store(e) => {
                tracing::error!(error = %e, "job submission: the database is unavailable");
                ApiError::Unavailable("the job store is unavailable; the server log has the details".into())
            }
        },
    )?;
    if let (Some(bus), Some((key, analysis))) = (&state.jobs.bus, trigger)
        && submitted.created
        && let Err(e) = bus.write_submitted(&submitted.job_id, submitted.symbol_count, key, analysis).await
    {
        tracing::warn!(job_id = %submitted.job_id, error = %e, "Redis unavailable: no submitted status hash");
    }
    hand_over(state, &submitted.job_id).await;
    Ok(submitted)
}

/// In production mode, offers a recorded job to the workers' Redis stream. A failure is logged only: the job is
/// in the database, and the workers' sweep offers it to the stream once Redis is back.
pub(crate) async fn hand_over(state: &AppState, job_id: &str) {
    if let Some(bus) = &state.jobs.bus
        && let Err(e) = bus.hand_over(job_id).await
    {
        tracing::error!(job_id, error = %e, "Redis unavailable: job recorded, hand-over pending");
    }
}

/// A submission from the console's historical-data form: the same checks and hand-over as `POST /api/jobs`.
pub(crate) async fn submit_from_console(
    state: &AppState,
    target: Result<String, Vec<String>>,
    timeframes: Vec<String>,
    years: Option<f64>,
) -> Result<jobs::Submitted, ApiError> {
    let (universe_key, symbols) = match target {
        Ok(key) => (Some(key), None),
        Err(list) => (None, Some(list)),
    };
    let req = SubmitRequest { universe_key, symbols, timeframes: Some(timeframes), years, ..Default::default() };
    let mut spec = spec_of(&req, JobType::MultiTimeframeLoad)?;
    spec.requested_by = Some("console".into());
    enqueue(state, spec, None).await
}

/// A job's state as the `job` events of `/api/jobs/{id}/events` carry it (the console's stream sends the same).
pub(crate) fn job_json(job: JobRow) -> String {
    serde_json::to_string(&JobView::from(job)).unwrap_or_default()
}

/// Cancels a job (a queued one at once, a running one at its next task boundary) and, in production mode,
/// updates its Redis status hash. `None`: no such job.
pub(crate) async fn cancel_job(state: &AppState, id: &str) -> Result<Option<JobRow>, crate::store::StoreError> {
    let job = state.cache.store().cancel_job(id).await?;
    if let (Some(bus), Some(job)) = (&state.jobs.bus, &job) {
        let _ = bus.write_status(&job.id, &crate::jobs::redis::StatusView::of(job).fields()).await;
    }
    Ok(job)
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    json.map(|Json(v)| v).map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))
}

/// Queues a data-load job.
#[utoipa::path(post, path = "/api/jobs", tag = "jobs", security(("api_key" = [])), request_body = SubmitRequest,
    responses((status = 202, body = SubmitResponse),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn submit(
    _key: AdminKey,
    State(state): State<AppState>,
    json: Result<Json<SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    let req = body(json)?;
    let submitted = enqueue(&state, spec_of(&req, JobType::MultiTimeframeLoad)?, None).await?;
    Ok((StatusCode::ACCEPTED, Json(SubmitResponse { job_id: submitted.job_id, symbol_count: submitted.symbol_count })))
}

/// `?status=&limit=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Only this status.
    #[param(value_type = Option<String>)]
    status: Option<JobStatus>,
    /// At most this many (default 50, at most 1000).
    limit: Option<i64>,
}

/// Jobs, newest first.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = JobList), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and 1000, got {limit}")));
    }
    let rows = state.cache.store().jobs(q.status, limit).await.map_err(|e| ApiError::Internal(e.into()))?;
    let jobs: Vec<JobView> = rows.into_iter().map(JobView::from).collect();
    Ok(Json(JobList { total_count: jobs.len(), jobs }))
}

async fn job_or_404(state: &AppState, id: &str) -> Result<JobRow, ApiError> {
    state
        .cache
        .store()
        .job(id)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .ok_or_else(|| ApiError::NotFound(format!("no job {id:?}")))
}

/// One job.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn status(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Path(id) = path?;
    Ok(Json(job_or_404(&state, &id).await?.into()))
}

/// Cancels a job: a queued one at once, a running one at its next task boundary.
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", tag = "jobs", security(("api_key" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn cancel(
    _key: AdminKey,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Path(id) = path?;
    let job = cancel_job(&state, &id).await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(job.ok_or_else(|| ApiError::NotFound(format!("no job {id:?}")))?.into()))
}

/// Live progress as Server-Sent Events: a `job` event with the job's state whenever it changes, until it ends.
#[utoipa::path(get, path = "/api/jobs/{id}/events", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "text/event-stream of `job` events (JobView)", content_type = "text/event-stream"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn events(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Path(id) = path?;
    job_or_404(&state, &id).await?;
    let stream =
        futures_util::stream::unfold((state, id, None::<DateTime<Utc>>, false), |(state, id, last, done)| async move {
            if done {
                return None;
            }
            loop {
                let job = match state.cache.store().job(&id).await {
                    Ok(Some(j)) => j,
                    _ => return None,
                };
                if last != Some(job.updated_at) {
                    let ended = job.status.is_final();
                    let updated = job.updated_at;
                    let data = job_json(job);
                    return Some((Ok(Event::default().event("job").data(data)), (state, id, Some(updated), ended)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// TickStock's `{universe_key, timeframes, years, run_analysis_after_import}`.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct TriggerRequest {
    /// Universe key (required).
    universe_key: Option<String>,
    /// Timeframes (default `["day"]`).
    timeframes: Option<Vec<String>>,
    /// Years (default 1): a number, or a string holding one (the app's form sends either).
    #[serde(default, deserialize_with = "number_or_string")]
    #[schema(value_type = Option<f64>)]
    years: Option<f64>,
    /// Recorded in the job metadata hash for the analysis that follows; not acted on here.
    run_analysis_after_import: Option<bool>,
}

/// A number given as a JSON number or as a string (`1`, `"1.5"`), as Python's `float()` takes it.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(f64),
        Text(String),
    }
    match Option::<Either>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Number(n)) => Ok(Some(n)),
        Some(Either::Text(t)) => {
            t.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("years {t:?} is not a number")))
        }
    }
}

/// TickStock's response shape.
#[derive(Serialize, ToSchema)]
pub(super) struct TriggerResponse {
    /// Job id.
    job_id: String,
    /// Symbols the key resolved to.
    symbol_count: usize,
    /// The key.
    universe_key: String,
    /// Bar sizes to load (`day`, `week`, …).
    timeframes: Vec<String>,
    /// How many years back from today.
    years: f64,
    /// `Job submitted: Loading N symbols`, as the app's route says.
    message: String,
}

/// TickStock's universe-load trigger (compat §4.2), for its admin page to call unchanged.
#[utoipa::path(post, path = "/admin/historical-data/trigger-universe-load", tag = "tickstock", security(("api_key" = [])),
    request_body = TriggerRequest,
    responses((status = 200, body = TriggerResponse), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn trigger_universe_load(
    _key: AdminKey,
    State(state): State<AppState>,
    json: Result<Json<TriggerRequest>, JsonRejection>,
) -> Result<Json<TriggerResponse>, ApiError> {
    let t = body(json)?;
    let key = t
        .universe_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("universe_key is required".into()))?;
    let req = SubmitRequest {
        universe_key: Some(key.clone()),
        symbols: None,
        timeframes: t.timeframes.clone(),
        years: t.years,
        ..SubmitRequest::default()
    };
    let spec = spec_of(&req, JobType::CsvUniverseLoad)?;
    let timeframes = spec.timeframes.iter().map(|t| t.to_string()).collect();
    let years = spec.years;
    let submitted = enqueue(&state, spec, Some((&key, t.run_analysis_after_import.unwrap_or(false)))).await?;
    Ok(Json(TriggerResponse {
        message: format!("Job submitted: Loading {} symbols", submitted.symbol_count),
        job_id: submitted.job_id,
        symbol_count: submitted.symbol_count,
        universe_key: key,
        timeframes,
        years,
    }))
}
