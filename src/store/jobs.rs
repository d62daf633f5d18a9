//! The `jobs` and `job_tasks` tables: job history in both modes, and the queue itself in embedded mode.
//!
//! A worker claims a job with a lease it renews while it works. A job whose lease ran out (its worker died) is
//! claimed again by the next worker, which skips the tasks recorded in `job_tasks`; progress counts and those task
//! rows commit together, so a resumed job is never counted twice.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError, on_pool};
use crate::domain::JobStatus;

/// A job as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct JobRow {
    /// Job id (TickStock's uuid, or ours).
    pub id: String,
    /// `csv_universe_load`, …
    pub job_type: String,
    /// The parsed job ([`crate::jobs::JobSpec`] as JSON).
    #[serde(skip)]
    #[sqlx(json)]
    pub spec: Value,
    /// Where it stands.
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    /// Last message.
    pub message: Option<String>,
    /// Progress counts.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub counts: JobProgress,
    /// Failed tasks with reasons.
    #[sqlx(json(nullable))]
    pub failures: Option<Value>,
    /// What the job produced beyond its counts (a cache sync's summary).
    #[sqlx(json(nullable))]
    pub result: Option<Value>,
    /// Times a worker started it.
    pub attempts: i32,
    /// Cancellation asked for.
    pub cancel_requested: bool,
    /// Worker holding it.
    pub worker: Option<String>,
    /// Lease end; past it, another worker may take the job over.
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// First started.
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A finished task, recorded with the progress that counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRecord {
    /// Symbol or grouped day.
    pub what: String,
    /// Timeframe name.
    pub timeframe: String,
    /// Bars written.
    pub bars: i64,
    /// Failure reason.
    pub error: Option<String>,
}

/// A job's progress counts, as stored and as TickStock's status hash reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow)]
pub struct JobProgress {
    /// Percent of tasks done, 0–100.
    pub progress: i32,
    /// Symbols in the job.
    pub total_symbols: i32,
    /// Symbols whose every task is done.
    pub processed_symbols: i32,
    /// Symbols with a failed task.
    pub failed_symbols: i32,
    /// Symbol being loaded.
    pub current_symbol: Option<String>,
    /// Symbol × timeframe tasks (grouped-daily days count as tasks).
    pub tasks_total: i32,
    /// Tasks done.
    pub tasks_done: i32,
    /// Bars written.
    pub bars_loaded: i64,
}

const JOB_COLUMNS: &str = "id, job_type, spec, status, progress, message, total_symbols, processed_symbols, \
     failed_symbols, current_symbol, tasks_total, tasks_done, bars_loaded, failures, result, attempts, cancel_requested, \
     worker, lease_until, created_at, started_at, completed_at, updated_at";

impl Store {
    /// Records a new job (status `queued`, or `failed` with a message for one that cannot run). Returns false
    /// when a job with this id already exists: submissions are de-duplicated by id.
    pub async fn insert_job(
        &self,
        id: &str,
        job_type: &str,
        spec: &Value,
        status: JobStatus,
        message: &str,
        total_symbols: i32,
    ) -> Result<bool, StoreError> {
        let now = super::now();
        let completed = status.is_final().then_some(now);
        let done = on_pool!(self, p => sqlx::query(
            "INSERT INTO jobs (id, job_type, spec, status, message, total_symbols, created_at, updated_at, completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(job_type)
        .bind(Json(spec))
        .bind(status.as_str())
        .bind(message)
        .bind(total_symbols)
        .bind(now)
        .bind(completed)
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        Ok(on_pool!(self, p => sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?))
    }

    /// Jobs, newest first, optionally of one status.
    pub async fn jobs(&self, status: Option<JobStatus>, limit: i64) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id LIMIT $2"
        );
        Ok(on_pool!(self, p => sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
            .bind(status.map(JobStatus::as_str)).bind(limit).fetch_all(p).await?))
    }

    /// Jobs of one type, newest first, a page at a time, with how many there are in all.
    pub async fn jobs_of_type(
        &self,
        job_type: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobRow>, i64), StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE job_type = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
        );
        let rows = on_pool!(self, p => sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
            .bind(job_type).bind(limit).bind(offset).fetch_all(p).await?);
        let total: i64 = on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE job_type = $1")
            .bind(job_type).fetch_one(p).await?);
        Ok((rows, total))
    }

    /// The tasks a job has finished.
    pub async fn job_tasks(&self, id: &str) -> Result<Vec<TaskRecord>, StoreError> {
        let rows: Vec<(String, String, i64, Option<String>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT what, timeframe, bars, error FROM job_tasks WHERE job_id = $1 ORDER BY what, timeframe",
        )
        .bind(id)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(what, timeframe, bars, error)| TaskRecord { what, timeframe, bars, error }).collect())
    }

    /// Takes the oldest job that is queued, or running under an expired lease (its worker died), for `worker`
    /// until `lease`. Jobs whose worker died `max_attempts` times end `failed` instead.
    pub async fn claim_job(
        &self,
        worker: &str,
        lease: std::time::Duration,
        max_attempts: i32,
    ) -> Result<Option<JobRow>, StoreError> {
        self.claim(None, worker, lease, max_attempts).await
    }

    /// Takes one job by id, if it is queued or its lease has run out (Redis mode: the stream delivered it).
    pub async fn claim_job_by_id(
        &self,
        id: &str,
        worker: &str,
        lease: std::time::Duration,
        max_attempts: i32,
    ) -> Result<Option<JobRow>, StoreError> {
        self.claim(Some(id), worker, lease, max_attempts).await
    }

    async fn claim(
        &self,
        id: Option<&str>,
        worker: &str,
        lease: std::time::Duration,
        max_attempts: i32,
    ) -> Result<Option<JobRow>, StoreError> {
        let now = super::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET status = 'failed', completed_at = $1, updated_at = $1, worker = NULL, \
             message = 'gave up: the worker running this job stopped ' || attempts || ' times' \
             WHERE ($3 IS NULL OR id = $3) AND status IN ('running', 'cancelling') AND lease_until < $1 \
             AND attempts >= $2",
        )
        .bind(now)
        .bind(max_attempts)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        let lock = self.backend().skip_locked();
        let sql = format!(
            "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelling' ELSE 'running' END, worker = $1, \
             lease_until = $2, attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE ($4 IS NULL OR id = $4) AND (status = 'queued' \
                OR (status IN ('running', 'cancelling') AND lease_until < $3)) ORDER BY created_at, id LIMIT 1 {lock}) \
             RETURNING {JOB_COLUMNS}"
        );
        let row = on_pool!(self, p => sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
            .bind(worker).bind(until).bind(now).bind(id).fetch_optional(p).await?);
        Ok(row)
    }

    /// Ids of jobs queued before `before` (Redis mode re-offers them to the stream, in case the process that
    /// recorded one died before handing it over).
    pub async fn queued_job_ids(&self, before: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT id FROM jobs WHERE status = 'queued' AND created_at < $1 ORDER BY created_at LIMIT 100",
        )
        .bind(before)
        .fetch_all(p)
        .await?))
    }

    /// Stores progress and newly finished tasks together, and renews the lease. Returns `None` when the job is no
    /// longer this worker's (its lease expired and another worker took it), else whether cancellation was asked.
    pub async fn save_job_progress(
        &self,
        id: &str,
        worker: &str,
        progress: &JobProgress,
        message: &str,
        tasks: &[TaskRecord],
        lease: std::time::Duration,
    ) -> Result<Option<bool>, StoreError> {
        let now = super::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let mut tx = self.begin().await?;
        let cancel: Option<bool> = super::on_conn!(&mut tx, c => {
            let cancel: Option<bool> = sqlx::query_scalar(
                "UPDATE jobs SET progress = $3, message = $4, total_symbols = $5, processed_symbols = $6, \
                 failed_symbols = $7, current_symbol = $8, tasks_total = $9, tasks_done = $10, bars_loaded = $11, \
                 lease_until = $12, updated_at = $13 \
                 WHERE id = $1 AND worker = $2 AND status IN ('running', 'cancelling') RETURNING cancel_requested",
            )
            .bind(id)
            .bind(worker)
            .bind(progress.progress)
            .bind(message)
            .bind(progress.total_symbols)
            .bind(progress.processed_symbols)
            .bind(progress.failed_symbols)
            .bind(progress.current_symbol.as_deref())
            .bind(progress.tasks_total)
            .bind(progress.tasks_done)
            .bind(progress.bars_loaded)
            .bind(until)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?;
            if cancel.is_some() {
                for t in tasks {
                    sqlx::query(
                        "INSERT INTO job_tasks (job_id, what, timeframe, bars, error) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (job_id, what, timeframe) DO UPDATE SET bars = excluded.bars, error = excluded.error",
                    )
                    .bind(id)
                    .bind(&t.what)
                    .bind(&t.timeframe)
                    .bind(t.bars)
                    .bind(t.error.as_deref())
                    .execute(&mut *c)
                    .await?;
                }
            }
            cancel
        });
        tx.commit().await?;
        Ok(cancel)
    }

    /// Ends a job this worker holds.
    pub async fn finish_job(
        &self,
        id: &str,
        worker: &str,
        status: JobStatus,
        message: &str,
        failures: &Value,
        result: Option<&Value>,
    ) -> Result<bool, StoreError> {
        let now = super::now();
        let done = on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET status = $3, message = $4, failures = $5, completed_at = $6, updated_at = $6, result = $7, \
             current_symbol = NULL, lease_until = NULL, \
             progress = CASE WHEN $3 IN ('completed', 'completed_with_errors') THEN 100 ELSE progress END \
             WHERE id = $1 AND worker = $2 AND status IN ('running', 'cancelling')",
        )
        .bind(id)
        .bind(worker)
        .bind(status.as_str())
        .bind(message)
        .bind(Json(failures))
        .bind(now)
        .bind(result.map(Json))
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Asks a job to stop: a queued job is cancelled at once; a running one is flagged and its worker stops at
    /// the next task boundary. Returns the job as it now stands (`None` if unknown).
    pub async fn cancel_job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        let now = super::now();
        on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET cancel_requested = TRUE, updated_at = $2, \
             status = CASE WHEN status = 'queued' THEN 'cancelled' WHEN status = 'running' THEN 'cancelling' ELSE status END, \
             completed_at = CASE WHEN status = 'queued' THEN $2 ELSE completed_at END, \
             message = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE message END \
             WHERE id = $1 AND status IN ('queued', 'running', 'cancelling')",
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        self.job(id).await
    }
}
